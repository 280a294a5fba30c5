//! SQLite engine: one file in WAL mode, the embedded default.
//!
//! Writes run in `BEGIN IMMEDIATE` transactions (so a second writer waits on
//! the busy timeout instead of failing on lock upgrade) through cached
//! prepared statements; `synchronous=NORMAL` is the WAL setting that keeps
//! every committed transaction across a process crash and fsyncs only at
//! checkpoints. Times are stored as Unix microseconds.

use crate::error::describe;
use crate::migrations::{self, MIGRATIONS, SQLITE_LEDGER};
use crate::row::{self, Cell, Conflict, Dialect, Reader, Table, Val};
use crate::{InsertCounts, QuarantineRow, Result, RunRecord, Store, StoreError, UpsertCounts};
use chrono::{DateTime, Utc};
use farguard_model::{
    Assessment, Dependency, Event, EventId, ItineraryLeg, Organisation, Person, Quarantined, Site,
};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params_from_iter};
use std::fmt;
use std::path::Path;
use std::time::Duration;

const D: Dialect = Dialect::Sqlite;

/// Page size of a new database file. Event rows are ~1 KB (the raw record
/// is kept): 4 KiB pages hold three or four and leave a tenth unused, 16 KiB
/// pages sixteen, so the file (written twice, to the WAL and at checkpoint)
/// is smaller and the B-trees shallower. An existing file keeps its size.
const PAGE_SIZE: i64 = 16_384;

/// Page cache per connection, in KiB (negative = KiB for SQLite).
const CACHE_KIB: i64 = -65536;

/// How long a statement waits for another connection's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A farguard database in one SQLite file.
pub struct SqliteStore {
    pub(crate) conn: Connection,
    target: String,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.target)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if missing) the database file and applies pending
    /// migrations. `:memory:` gives a private in-memory database.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let target = path.as_ref().display().to_string();
        let fail = |reason: String| StoreError::Open {
            target: target.clone(),
            reason,
        };
        let conn = Connection::open(path.as_ref()).map_err(|e| fail(e.to_string()))?;
        configure(&conn).map_err(|e| fail(e.to_string()))?;
        let mut store = Self {
            conn,
            target: target.clone(),
        };
        store.migrate().map_err(|e| match e {
            StoreError::Open { .. } => e,
            other => fail(describe(&other)),
        })?;
        Ok(store)
    }

    fn migrate(&mut self) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(SQLITE_LEDGER)?;
        let current: i64 = tx.query_row(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )?;
        if current > migrations::latest() {
            return Err(StoreError::Open {
                target: self.target.clone(),
                reason: format!(
                    "schema version {current} is newer than this farguard understands ({}); \
                     use a newer farguard",
                    migrations::latest()
                ),
            });
        }
        let now = Utc::now().timestamp_micros();
        for m in MIGRATIONS.iter().filter(|m| m.version > current) {
            tx.execute_batch(m.sqlite).map_err(|e| StoreError::Open {
                target: self.target.clone(),
                reason: format!("migration {} ({}) failed: {e}", m.version, m.name),
            })?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
                rusqlite::params![m.version, m.name, now],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Runs `sql` and decodes every row with `read`.
    fn rows<T>(
        &self,
        table: &'static Table,
        sql: &str,
        params: &[Val<'_>],
        read: fn(&Reader<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let mut rows = stmt.query(params_from_iter(params.iter()))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(read(&Reader::new(r, table))?);
        }
        Ok(out)
    }

    fn all<T>(&self, table: &'static Table, read: fn(&Reader<'_>) -> Result<T>) -> Result<Vec<T>> {
        let order: Vec<String> = table.conflict.iter().map(|c| D.bytewise(c)).collect();
        let sql = format!("{} ORDER BY {}", table.select(), order.join(", "));
        self.rows(table, &sql, &[], read)
    }

    /// Inserts or updates each item, telling new, changed and identical rows
    /// apart. Later items with the same key see earlier ones (last wins).
    fn upsert<T>(
        &mut self,
        table: &'static Table,
        items: &[T],
        vals: fn(&T) -> Result<Vec<Val<'_>>>,
    ) -> Result<UpsertCounts> {
        let exists_sql = format!("SELECT 1 FROM {} WHERE {}", table.name, table.key_filter(D));
        let upsert_sql = table.insert(D, 1, Conflict::UpdateIfChanged);
        let keys = table.key_positions();
        let mut counts = UpsertCounts::default();
        let tx = crate::unit::sqlite_write(&mut self.conn)?;
        {
            let mut exists = tx.prepare_cached(&exists_sql)?;
            let mut upsert = tx.prepare_cached(&upsert_sql)?;
            for item in items {
                let v = vals(item)?;
                let existed = exists
                    .query_row(params_from_iter(keys.iter().map(|&i| &v[i])), |_| Ok(()))
                    .optional()?
                    .is_some();
                let changed = upsert.execute(params_from_iter(v.iter()))?;
                match (existed, changed) {
                    (false, _) => counts.inserted += 1,
                    (true, 0) => counts.unchanged += 1,
                    (true, _) => counts.updated += 1,
                }
            }
        }
        tx.commit()?;
        Ok(counts)
    }
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Only takes effect on a new, empty file: before WAL mode and tables.
    conn.pragma_update(None, "page_size", PAGE_SIZE)?;
    // Returns the mode now in force: `wal`, or `memory` for `:memory:`.
    let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // 64 MiB of page cache (the default is 2 MiB): bulk ingests touch the
    // two event indexes all over, and a small cache re-reads their pages.
    conn.pragma_update(None, "cache_size", CACHE_KIB)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Savepoint journals (every store call inside a unit, every job of the
    // server's writer) stay in memory instead of spilling to a temporary
    // file created, written and deleted per transaction.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Plans never depend on bound values (there are no ANALYZE samples to
    // use them with): otherwise SQLite marks join statements to be prepared
    // again whenever their bindings are cleared, which the statement cache
    // does on every return, and each cached join was parsed anew per call.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

impl rusqlite::ToSql for Val<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        let v = match self {
            Val::Int(None) | Val::Real(None) | Val::Text(None) => ValueRef::Null,
            Val::Int(Some(i)) => ValueRef::Integer(*i),
            Val::Real(Some(f)) => ValueRef::Real(*f),
            Val::Text(Some(s)) => ValueRef::Text(s.as_bytes()),
            Val::Blob(b) => ValueRef::Blob(b),
            Val::Time(t) => ValueRef::Integer(t.timestamp_micros()),
        };
        Ok(ToSqlOutput::Borrowed(v))
    }
}

fn wrong_type(expected: &str, found: ValueRef<'_>) -> String {
    format!("expected {expected}, found {}", found.data_type())
}

impl Cell for rusqlite::Row<'_> {
    fn int(&self, i: usize) -> Result<Option<i64>, String> {
        match self.get_ref(i).map_err(|e| e.to_string())? {
            ValueRef::Null => Ok(None),
            ValueRef::Integer(v) => Ok(Some(v)),
            other => Err(wrong_type("an integer", other)),
        }
    }
    fn real(&self, i: usize) -> Result<Option<f64>, String> {
        match self.get_ref(i).map_err(|e| e.to_string())? {
            ValueRef::Null => Ok(None),
            ValueRef::Real(v) => Ok(Some(v)),
            other => Err(wrong_type("a real", other)),
        }
    }
    fn text(&self, i: usize) -> Result<Option<String>, String> {
        match self.get_ref(i).map_err(|e| e.to_string())? {
            ValueRef::Null => Ok(None),
            ValueRef::Text(b) => String::from_utf8(b.to_vec())
                .map(Some)
                .map_err(|_| "text is not valid UTF-8".to_string()),
            other => Err(wrong_type("text", other)),
        }
    }
    fn blob(&self, i: usize) -> Result<Option<Vec<u8>>, String> {
        match self.get_ref(i).map_err(|e| e.to_string())? {
            ValueRef::Null => Ok(None),
            ValueRef::Blob(b) => Ok(Some(b.to_vec())),
            other => Err(wrong_type("a blob", other)),
        }
    }
    fn time(&self, i: usize) -> Result<Option<DateTime<Utc>>, String> {
        match self.int(i)? {
            None => Ok(None),
            Some(us) => DateTime::from_timestamp_micros(us)
                .map(Some)
                .ok_or_else(|| format!("{us} microseconds is outside the supported time range")),
        }
    }
}

fn count(v: i64) -> u64 {
    // count(*) is never negative.
    u64::try_from(v).unwrap_or(0)
}

impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn schema_version(&mut self) -> Result<i64> {
        Ok(self.conn.query_row(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )?)
    }

    fn insert_events(&mut self, events: &[Event]) -> Result<InsertCounts> {
        // One row per statement. A multi-row INSERT that may abort half way
        // makes SQLite copy every page it touches into a statement journal
        // first (a temporary file) — on a fresh ingest that cost more than
        // the fewer statement steps saved. `changes()` counts only the rows
        // ON CONFLICT did not skip, so a duplicate is not accepted.
        let sql = row::EVENTS.insert(D, 1, Conflict::Nothing);
        let mut accepted = 0u64;
        let tx = crate::unit::sqlite_write(&mut self.conn)?;
        {
            let mut stmt = tx.prepare_cached(&sql)?;
            // Values are bound one by one straight from the event (SQLite
            // copies each as it is bound), so a row costs no allocation of
            // ours; the JSON lists reuse two buffers.
            let (mut actors, mut links) = (String::new(), String::new());
            for e in events {
                let vals = row::event_row(e, &mut actors, &mut links)?;
                for (c, v) in vals.iter().enumerate() {
                    stmt.raw_bind_parameter(c + 1, v)?;
                }
                accepted += stmt.raw_execute()? as u64;
            }
        }
        tx.commit()?;
        Ok(InsertCounts {
            accepted,
            duplicates: (events.len() as u64).saturating_sub(accepted),
        })
    }

    fn event(&mut self, id: &EventId) -> Result<Option<Event>> {
        let t = &row::EVENTS;
        let sql = format!("{} WHERE {}", t.select(), t.key_filter(D));
        Ok(self
            .rows(t, &sql, &row::event_key(id), row::read_event)?
            .pop())
    }

    fn events_between(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<Event>> {
        let t = &row::EVENTS;
        // The rowid rides in every index entry, so `ORDER BY occurred_at, id`
        // is a plain walk of events_occurred_at.
        let sql = format!(
            "{} WHERE occurred_at >= ?1 AND occurred_at < ?2 ORDER BY occurred_at, id",
            t.select()
        );
        let bounds = [
            Val::Time(row::ceil_micros(from)),
            Val::Time(row::ceil_micros(to)),
        ];
        self.rows(t, &sql, &bounds, row::read_event)
    }

    fn event_time_range(&mut self) -> Result<Option<(DateTime<Utc>, DateTime<Utc>)>> {
        // Two subqueries so each min/max is one index probe.
        let sql = "SELECT (SELECT min(occurred_at) FROM events), \
                   (SELECT max(occurred_at) FROM events)";
        let mut stmt = self.conn.prepare_cached(sql)?;
        let mut rows = stmt.query([])?;
        let Some(r) = rows.next()? else {
            return Ok(None);
        };
        let read = Reader::new(r, &row::EVENTS);
        let corrupt = |e: String| read.corrupt(2, e);
        match (r.time(0).map_err(corrupt)?, r.time(1).map_err(corrupt)?) {
            (Some(a), Some(b)) => Ok(Some((a, b))),
            _ => Ok(None),
        }
    }

    fn count_events(&mut self) -> Result<u64> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))?;
        Ok(count(n))
    }

    fn quarantine(&mut self, records: &[Quarantined]) -> Result<u64> {
        let sql = row::QUARANTINE.insert(D, 1, Conflict::Nothing);
        let now = Utc::now();
        let mut stored = 0u64;
        let tx = crate::unit::sqlite_write(&mut self.conn)?;
        {
            let mut stmt = tx.prepare_cached(&sql)?;
            for q in records {
                let v = row::quarantine_vals(q, now)?;
                stored += stmt.execute(params_from_iter(v.iter()))? as u64;
            }
        }
        tx.commit()?;
        Ok(stored)
    }

    fn quarantined(&mut self, limit: u32) -> Result<Vec<QuarantineRow>> {
        let t = &row::QUARANTINE;
        let sql = format!("{} ORDER BY id DESC LIMIT ?1", t.select());
        self.rows(
            t,
            &sql,
            &[Val::Int(Some(i64::from(limit)))],
            row::read_quarantine,
        )
    }

    fn upsert_orgs(&mut self, orgs: &[Organisation]) -> Result<UpsertCounts> {
        self.upsert(&row::ORGS, orgs, row::org_vals)
    }
    fn orgs(&mut self) -> Result<Vec<Organisation>> {
        self.all(&row::ORGS, row::read_org)
    }
    fn upsert_sites(&mut self, sites: &[Site]) -> Result<UpsertCounts> {
        self.upsert(&row::SITES, sites, row::site_vals)
    }
    fn sites(&mut self) -> Result<Vec<Site>> {
        self.all(&row::SITES, row::read_site)
    }
    fn site(&mut self, id: &str) -> Result<Option<Site>> {
        let t = &row::SITES;
        let sql = format!("{} WHERE id = ?1", t.select());
        Ok(self
            .rows(t, &sql, &[Val::Text(Some(id.into()))], row::read_site)?
            .pop())
    }
    fn upsert_people(&mut self, people: &[Person]) -> Result<UpsertCounts> {
        self.upsert(&row::PEOPLE, people, row::person_vals)
    }
    fn people(&mut self) -> Result<Vec<Person>> {
        self.all(&row::PEOPLE, row::read_person)
    }
    fn upsert_legs(&mut self, legs: &[ItineraryLeg]) -> Result<UpsertCounts> {
        self.upsert(&row::LEGS, legs, row::leg_vals)
    }
    fn legs(&mut self) -> Result<Vec<ItineraryLeg>> {
        self.all(&row::LEGS, row::read_leg)
    }
    fn upsert_dependencies(&mut self, deps: &[Dependency]) -> Result<UpsertCounts> {
        self.upsert(&row::DEPENDENCIES, deps, row::dependency_vals)
    }
    fn dependencies(&mut self) -> Result<Vec<Dependency>> {
        self.all(&row::DEPENDENCIES, row::read_dependency)
    }

    fn save_assessments(&mut self, rows: &[Assessment]) -> Result<()> {
        let sql = row::ASSESSMENTS.insert(D, 1, Conflict::Update);
        let tx = crate::unit::sqlite_write(&mut self.conn)?;
        {
            let mut stmt = tx.prepare_cached(&sql)?;
            for a in rows {
                let v = row::assessment_vals(a)?;
                stmt.execute(params_from_iter(v.iter()))?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn latest_assessments(&mut self) -> Result<Vec<Assessment>> {
        let t = &row::ASSESSMENTS;
        let sql = format!(
            "{} AS a WHERE a.at = (SELECT max(b.at) FROM assessments AS b \
             WHERE b.area = a.area AND b.category = a.category) ORDER BY a.area, a.category",
            t.select()
        );
        self.rows(t, &sql, &[], row::read_assessment)
    }

    fn record_run(&mut self, run: &RunRecord) -> Result<()> {
        let t = &row::RUNS;
        let params: Vec<String> = (1..=t.cols.len()).map(|i| format!("?{i}")).collect();
        let sql = format!(
            "INSERT INTO runs ({}) VALUES ({})",
            t.cols.join(", "),
            params.join(", ")
        );
        let v = row::run_vals(run)?;
        self.conn
            .prepare_cached(&sql)?
            .execute(params_from_iter(v.iter()))?;
        Ok(())
    }

    fn runs(&mut self, limit: u32) -> Result<Vec<RunRecord>> {
        let t = &row::RUNS;
        let sql = format!("{} ORDER BY started_at DESC, id DESC LIMIT ?1", t.select());
        self.rows(t, &sql, &[Val::Int(Some(i64::from(limit)))], row::read_run)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_between_walks_the_occurred_at_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("t.db")).unwrap();
        let sql = format!(
            "EXPLAIN QUERY PLAN {} WHERE occurred_at >= ?1 AND occurred_at < ?2 \
             ORDER BY occurred_at, id",
            row::EVENTS.select()
        );
        let mut stmt = store.conn.prepare(&sql).unwrap();
        let plan: Vec<String> = stmt
            .query_map([0i64, 1i64], |r| r.get::<_, String>(3))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        let plan = plan.join("\n");
        assert!(plan.contains("USING INDEX events_occurred_at"), "{plan}");
        assert!(
            !plan.contains("TEMP B-TREE"),
            "sorts instead of walking the index: {plan}"
        );
    }

    #[test]
    fn opens_in_wal_mode() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("t.db")).unwrap();
        let mode: String = store
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let fk: i64 = store
            .conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert_eq!(fk, 1);
    }

    #[test]
    fn refuses_a_database_from_a_newer_farguard() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = SqliteStore::open(&path).unwrap();
        store
            .conn
            .execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)",
                [],
            )
            .unwrap();
        drop(store);
        let err = SqliteStore::open(&path).unwrap_err().to_string();
        assert!(err.contains("schema version 999 is newer"), "{err}");
    }
}
