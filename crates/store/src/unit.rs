//! Units of work: several store calls that commit together or not at all.
//!
//! Design note. Every engine method runs its own transaction. To make a
//! write and its audit entry one transaction — or a batch of check-in
//! answers and their audit entries, committed at once by a writer that
//! groups them — a caller opens a unit ([`UnitStore::begin_unit`]). Until
//! it ends, each method's own transaction becomes a savepoint inside the
//! unit ([`sqlite_write`], [`pg_write`]): it still succeeds or rolls back as
//! a whole, and nothing is durable before [`UnitStore::commit_unit`].
//! [`atomically`] and [`in_savepoint`] are the safe ways in. SQLite begins a
//! unit with `BEGIN IMMEDIATE`, so the write lock is held for the whole unit
//! (keep units short); PostgreSQL with `BEGIN`. A method that begins its
//! transaction some other way cannot join a unit: on SQLite it fails
//! ("cannot start a transaction within a transaction"), so every write
//! path goes through these two helpers.

use crate::{PgStore, Result, SqliteStore, StoreError};
use postgres::types::ToSql;
use postgres::{Client, Row, Statement, ToStatement};
use rusqlite::{Connection, TransactionBehavior};

/// The savepoint name units use (nested savepoints of one name stack:
/// release and rollback act on the innermost).
const SAVEPOINT: &str = "fg_unit";
/// The savepoint an engine method's own transaction becomes inside a unit.
const INNER: &str = "fg_inner";

/// Grouping store calls into one transaction.
pub trait UnitStore {
    /// Begins a unit: every write until [`UnitStore::commit_unit`] or
    /// [`UnitStore::rollback_unit`] joins one transaction.
    fn begin_unit(&mut self) -> Result<()>;
    /// Begins a read-only unit: every call until [`UnitStore::commit_unit`]
    /// reads one snapshot, and no call takes the write lock (on SQLite a
    /// method whose own transaction would begin `IMMEDIATE` only sets a
    /// savepoint), so readers never queue behind the writer.
    fn begin_snapshot(&mut self) -> Result<()>;
    /// Makes everything written in the unit durable at once.
    fn commit_unit(&mut self) -> Result<()>;
    /// Discards everything written in the unit.
    fn rollback_unit(&mut self) -> Result<()>;
    /// Marks a point inside the unit to roll back to (they nest).
    fn savepoint(&mut self) -> Result<()>;
    /// Keeps what was written since the innermost savepoint and forgets it.
    fn release_savepoint(&mut self) -> Result<()>;
    /// Undoes what was written since the innermost savepoint and forgets it.
    fn rollback_savepoint(&mut self) -> Result<()>;
}

/// Runs `f` as one unit: committed when it returns `Ok`, rolled back when it
/// returns an error (that error is returned; a failed commit is returned as
/// the error and nothing of the unit is kept).
pub fn atomically<S, T, E>(store: &mut S, f: impl FnOnce(&mut S) -> Result<T, E>) -> Result<T, E>
where
    S: UnitStore + ?Sized,
    E: From<StoreError>,
{
    store.begin_unit()?;
    match f(store) {
        Ok(v) => match store.commit_unit() {
            Ok(()) => Ok(v),
            Err(e) => {
                let _ = store.rollback_unit();
                Err(e.into())
            }
        },
        Err(e) => {
            // A rollback that fails leaves nothing committed either: the
            // engine discards an unfinished transaction.
            let _ = store.rollback_unit();
            Err(e)
        }
    }
}

/// Runs `f` as a read-only unit ([`UnitStore::begin_snapshot`]): one
/// snapshot, no write lock. The unit ends rolled back, so nothing written
/// in it is ever kept (PostgreSQL refuses the write outright).
pub fn snapshot<S, T, E>(store: &mut S, f: impl FnOnce(&mut S) -> Result<T, E>) -> Result<T, E>
where
    S: UnitStore + ?Sized,
    E: From<StoreError>,
{
    store.begin_snapshot()?;
    let r = f(store);
    let ended = store.rollback_unit();
    let v = r?;
    ended?;
    Ok(v)
}

/// Runs `f` inside a savepoint of the current unit: on an error only what
/// `f` wrote is undone and the unit carries on.
pub fn in_savepoint<S, T, E>(store: &mut S, f: impl FnOnce(&mut S) -> Result<T, E>) -> Result<T, E>
where
    S: UnitStore + ?Sized,
    E: From<StoreError>,
{
    store.savepoint()?;
    match f(store) {
        Ok(v) => {
            store.release_savepoint()?;
            Ok(v)
        }
        Err(e) => {
            store.rollback_savepoint()?;
            Err(e)
        }
    }
}

// --- SQLite -----------------------------------------------------------------

/// A method's write transaction: its own `BEGIN IMMEDIATE`, or a savepoint
/// inside the caller's unit. Derefs to the connection; ends like a
/// transaction (`commit`, or rolled back when dropped).
pub(crate) enum SqliteTx<'c> {
    Top(rusqlite::Transaction<'c>),
    Nested(rusqlite::Savepoint<'c>),
}

impl std::ops::Deref for SqliteTx<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        match self {
            SqliteTx::Top(t) => t,
            SqliteTx::Nested(s) => s,
        }
    }
}

impl SqliteTx<'_> {
    pub(crate) fn commit(self) -> rusqlite::Result<()> {
        match self {
            SqliteTx::Top(t) => t.commit(),
            SqliteTx::Nested(s) => s.commit(),
        }
    }
}

/// Begins a write on `conn`: a transaction of its own, or a savepoint when
/// the connection is already inside a unit.
pub(crate) fn sqlite_write(conn: &mut Connection) -> rusqlite::Result<SqliteTx<'_>> {
    if conn.is_autocommit() {
        Ok(SqliteTx::Top(conn.transaction_with_behavior(
            TransactionBehavior::Immediate,
        )?))
    } else {
        Ok(SqliteTx::Nested(conn.savepoint_with_name(INNER)?))
    }
}

impl UnitStore for SqliteStore {
    fn begin_unit(&mut self) -> Result<()> {
        if !self.conn.is_autocommit() {
            return Err(nested_unit());
        }
        Ok(self.conn.execute_batch("BEGIN IMMEDIATE")?)
    }
    fn begin_snapshot(&mut self) -> Result<()> {
        if !self.conn.is_autocommit() {
            return Err(nested_unit());
        }
        // Deferred: WAL readers take no lock and see the last commit.
        Ok(self.conn.execute_batch("BEGIN")?)
    }
    fn commit_unit(&mut self) -> Result<()> {
        Ok(self.conn.execute_batch("COMMIT")?)
    }
    fn rollback_unit(&mut self) -> Result<()> {
        if self.conn.is_autocommit() {
            return Ok(()); // SQLite already rolled it back (e.g. on a full disk)
        }
        Ok(self.conn.execute_batch("ROLLBACK")?)
    }
    fn savepoint(&mut self) -> Result<()> {
        Ok(self.conn.execute_batch(&format!("SAVEPOINT {SAVEPOINT}"))?)
    }
    fn release_savepoint(&mut self) -> Result<()> {
        Ok(self
            .conn
            .execute_batch(&format!("RELEASE SAVEPOINT {SAVEPOINT}"))?)
    }
    fn rollback_savepoint(&mut self) -> Result<()> {
        Ok(self.conn.execute_batch(&format!(
            "ROLLBACK TO SAVEPOINT {SAVEPOINT}; RELEASE SAVEPOINT {SAVEPOINT}"
        ))?)
    }
}

fn nested_unit() -> StoreError {
    StoreError::Unstorable {
        table: "(unit)",
        field: "begin",
        reason:
            "a unit of work is already open on this connection; units do not nest (use a savepoint)"
                .into(),
    }
}

// --- PostgreSQL -------------------------------------------------------------

/// A savepoint standing in for a method's transaction inside a unit; rolled
/// back when dropped unfinished.
pub(crate) struct PgSavepoint<'a> {
    client: &'a mut Client,
    open: bool,
}

impl Drop for PgSavepoint<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.client.batch_execute(&format!(
                "ROLLBACK TO SAVEPOINT {INNER}; RELEASE SAVEPOINT {INNER}"
            ));
        }
    }
}

/// A method's write transaction on PostgreSQL: its own, or a savepoint in
/// the caller's unit. The methods are those of `postgres::Transaction`.
pub(crate) enum PgTx<'a> {
    Top(postgres::Transaction<'a>),
    Nested(PgSavepoint<'a>),
}

/// Begins a write on `client`: a transaction of its own, or a savepoint
/// when the store is inside a unit (`in_unit`).
pub(crate) fn pg_write(client: &mut Client, in_unit: bool) -> Result<PgTx<'_>, postgres::Error> {
    if in_unit {
        client.batch_execute(&format!("SAVEPOINT {INNER}"))?;
        Ok(PgTx::Nested(PgSavepoint { client, open: true }))
    } else {
        Ok(PgTx::Top(client.transaction()?))
    }
}

impl PgTx<'_> {
    pub(crate) fn commit(self) -> Result<(), postgres::Error> {
        match self {
            PgTx::Top(t) => t.commit(),
            PgTx::Nested(mut s) => {
                s.client
                    .batch_execute(&format!("RELEASE SAVEPOINT {INNER}"))?;
                s.open = false;
                Ok(())
            }
        }
    }
    pub(crate) fn prepare(&mut self, query: &str) -> Result<Statement, postgres::Error> {
        match self {
            PgTx::Top(t) => t.prepare(query),
            PgTx::Nested(s) => s.client.prepare(query),
        }
    }
    pub(crate) fn execute<T>(
        &mut self,
        query: &T,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, postgres::Error>
    where
        T: ?Sized + ToStatement,
    {
        match self {
            PgTx::Top(t) => t.execute(query, params),
            PgTx::Nested(s) => s.client.execute(query, params),
        }
    }
    pub(crate) fn query<T>(
        &mut self,
        query: &T,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, postgres::Error>
    where
        T: ?Sized + ToStatement,
    {
        match self {
            PgTx::Top(t) => t.query(query, params),
            PgTx::Nested(s) => s.client.query(query, params),
        }
    }
    pub(crate) fn query_opt<T>(
        &mut self,
        query: &T,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, postgres::Error>
    where
        T: ?Sized + ToStatement,
    {
        match self {
            PgTx::Top(t) => t.query_opt(query, params),
            PgTx::Nested(s) => s.client.query_opt(query, params),
        }
    }
}

impl UnitStore for PgStore {
    fn begin_unit(&mut self) -> Result<()> {
        if self.unit {
            return Err(nested_unit());
        }
        self.client.batch_execute("BEGIN")?;
        self.unit = true;
        Ok(())
    }
    fn begin_snapshot(&mut self) -> Result<()> {
        if self.unit {
            return Err(nested_unit());
        }
        self.client
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")?;
        self.unit = true;
        Ok(())
    }
    fn commit_unit(&mut self) -> Result<()> {
        // COMMIT of a failed transaction silently rolls back in PostgreSQL;
        // a statement first makes that an error the caller sees.
        let alive = self.client.batch_execute("SELECT 1");
        self.unit = false;
        if let Err(e) = alive {
            let _ = self.client.batch_execute("ROLLBACK");
            return Err(e.into());
        }
        Ok(self.client.batch_execute("COMMIT")?)
    }
    fn rollback_unit(&mut self) -> Result<()> {
        self.unit = false;
        Ok(self.client.batch_execute("ROLLBACK")?)
    }
    fn savepoint(&mut self) -> Result<()> {
        Ok(self
            .client
            .batch_execute(&format!("SAVEPOINT {SAVEPOINT}"))?)
    }
    fn release_savepoint(&mut self) -> Result<()> {
        Ok(self
            .client
            .batch_execute(&format!("RELEASE SAVEPOINT {SAVEPOINT}"))?)
    }
    fn rollback_savepoint(&mut self) -> Result<()> {
        Ok(self.client.batch_execute(&format!(
            "ROLLBACK TO SAVEPOINT {SAVEPOINT}; RELEASE SAVEPOINT {SAVEPOINT}"
        ))?)
    }
}
