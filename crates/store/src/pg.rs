//! PostgreSQL engine: the scale-out store, same schema and semantics as SQLite.
//!
//! Bulk writes (events, quarantine, assessments) go as multi-row
//! `INSERT … ON CONFLICT` statements of up to [`MAX_ROWS`] rows, prepared
//! once per connection and chunk size, so a batch costs one round trip per
//! chunk; the affected-row count is the number of rows accepted. Registry
//! upserts go one row per statement (registries are small) and learn whether
//! the row was new from a snapshot of the key taken by the same statement.
//! Migrations hold an advisory lock so concurrent openers apply them once.

use crate::error::describe;
use crate::migrations::{self, MIGRATIONS, POSTGRES_LEDGER};
use crate::row::{self, Cell, Conflict, Dialect, Reader, Table, Val};
use crate::{InsertCounts, QuarantineRow, Result, RunRecord, Store, StoreError, UpsertCounts};
use chrono::{DateTime, Utc};
use farguard_model::{
    Assessment, Dependency, Event, EventId, ItineraryLeg, Organisation, Person, Quarantined, Site,
};
use postgres::types::ToSql;
use postgres::{Client, GenericClient, NoTls, Statement};
use std::collections::HashMap;
use std::fmt;

const D: Dialect = Dialect::Postgres;

/// Rows per multi-row insert; with 24 event columns that is 24,000 bind
/// parameters, well under PostgreSQL's 65,535.
const MAX_ROWS: usize = 1000;

/// Key for `pg_advisory_xact_lock` while migrating ("farguard" in ASCII).
const MIGRATION_LOCK: i64 = 0x6661_7267_7561_7264;

/// A farguard database on a PostgreSQL server.
pub struct PgStore {
    pub(crate) client: Client,
    target: String,
    schema: Option<String>,
    /// Prepared bulk inserts by (table, rows, conflict); full chunks only, so bounded.
    bulk: HashMap<(&'static str, usize, Conflict), Statement>,
    /// Inside a unit of work (`UnitStore`): method transactions become savepoints.
    pub(crate) unit: bool,
    /// Statements prepared on this connection by SQL text (notify, audit):
    /// a statement is parsed once per connection, not once per call.
    pub(crate) prepared: Prepared,
}

/// Statements prepared on one connection, by SQL text. Bounded: the SQL
/// texts are the store's own, a few dozen; a full cache starts over.
#[derive(Default)]
pub(crate) struct Prepared(HashMap<String, Statement>);

impl Prepared {
    const MAX: usize = 256;

    /// The statement for `sql`, prepared with `prepare` the first time.
    pub(crate) fn get(
        &mut self,
        sql: &str,
        prepare: impl FnOnce(&str) -> Result<Statement, postgres::Error>,
    ) -> Result<Statement, postgres::Error> {
        if let Some(s) = self.0.get(sql) {
            return Ok(s.clone());
        }
        let s = prepare(sql)?;
        if self.0.len() >= Self::MAX {
            self.0.clear();
        }
        self.0.insert(sql.to_string(), s.clone());
        Ok(s)
    }
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("target", &self.target)
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects (without TLS) and applies pending migrations. With `schema`,
    /// creates that schema if needed and works inside it (one per test, or
    /// one per tenant); otherwise the server's `search_path` decides.
    pub fn connect(url: &str, schema: Option<&str>) -> Result<Self> {
        let target = redact(url);
        let fail = |reason: String| StoreError::Open {
            target: target.clone(),
            reason,
        };
        let mut client = Client::connect(url, NoTls).map_err(|e| fail(describe(&e)))?;
        if let Some(s) = schema {
            let q = quote_ident(s);
            client
                .batch_execute(&format!(
                    "CREATE SCHEMA IF NOT EXISTS {q}; SET search_path TO {q}"
                ))
                .map_err(|e| fail(format!("cannot use schema {s:?}: {}", describe(&e))))?;
        }
        let mut store = Self {
            client,
            target: target.clone(),
            schema: schema.map(str::to_string),
            bulk: HashMap::new(),
            unit: false,
            prepared: Prepared::default(),
        };
        store.migrate().map_err(|e| match e {
            StoreError::Open { .. } => e,
            other => fail(describe(&other)),
        })?;
        Ok(store)
    }

    fn migrate(&mut self) -> Result<()> {
        let mut tx = self.client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
        tx.batch_execute(POSTGRES_LEDGER)?;
        let current: i64 = tx
            .query_one(
                "SELECT coalesce(max(version), 0)::bigint FROM schema_migrations",
                &[],
            )?
            .try_get(0)?;
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
        for m in MIGRATIONS.iter().filter(|m| m.version > current) {
            tx.batch_execute(m.postgres).map_err(|e| StoreError::Open {
                target: self.target.clone(),
                reason: format!(
                    "migration {} ({}) failed: {}",
                    m.version,
                    m.name,
                    describe(&e)
                ),
            })?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                &[&m.version, &m.name],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Runs `sql` and decodes every row with `read`.
    fn rows<T>(
        &mut self,
        table: &'static Table,
        sql: &str,
        params: &[Val<'_>],
        read: fn(&Reader<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        let p = params_of(params.iter());
        let rows = self.client.query(sql, &p)?;
        rows.iter().map(|r| read(&Reader::new(r, table))).collect()
    }

    fn all<T>(
        &mut self,
        table: &'static Table,
        read: fn(&Reader<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        let order: Vec<String> = table.conflict.iter().map(|c| D.bytewise(c)).collect();
        let sql = format!("{} ORDER BY {}", table.select(), order.join(", "));
        self.rows(table, &sql, &[], read)
    }

    /// Writes `rows` (already encoded) in chunks inside one transaction and
    /// returns how many rows the server reports as written.
    fn bulk(&mut self, table: &'static Table, rows: &[Vec<Val<'_>>], on: Conflict) -> Result<u64> {
        let Self {
            client, bulk, unit, ..
        } = self;
        let mut tx = crate::unit::pg_write(client, *unit)?;
        let mut written = 0;
        for chunk in rows.chunks(MAX_ROWS) {
            let stmt = match bulk.get(&(table.name, chunk.len(), on)) {
                Some(s) => s.clone(),
                None => {
                    let s = tx.prepare(&table.insert(D, chunk.len(), on))?;
                    if chunk.len() == MAX_ROWS {
                        bulk.insert((table.name, chunk.len(), on), s.clone());
                    }
                    s
                }
            };
            let p = params_of(chunk.iter().flatten());
            written += tx.execute(&stmt, &p)?;
        }
        tx.commit()?;
        Ok(written)
    }

    /// Inserts or updates each item in one statement per row. The `old` CTE
    /// reads the key in the statement's snapshot, before the write: no row
    /// returned means identical content, `false` new, `true` updated.
    fn upsert<T>(
        &mut self,
        table: &'static Table,
        items: &[T],
        vals: fn(&T) -> Result<Vec<Val<'_>>>,
    ) -> Result<UpsertCounts> {
        let sql = format!(
            "WITH old AS (SELECT 1 FROM {} WHERE {}) {} RETURNING EXISTS (SELECT 1 FROM old)",
            table.name,
            key_filter_at(table),
            table.insert(D, 1, Conflict::UpdateIfChanged)
        );
        let mut counts = UpsertCounts::default();
        let mut tx = crate::unit::pg_write(&mut self.client, self.unit)?;
        let stmt = tx.prepare(&sql)?;
        for item in items {
            let v = vals(item)?;
            let p = params_of(v.iter());
            match tx.query_opt(&stmt, &p)? {
                None => counts.unchanged += 1,
                Some(r) => {
                    if r.try_get::<_, bool>(0)? {
                        counts.updated += 1;
                    } else {
                        counts.inserted += 1;
                    }
                }
            }
        }
        tx.commit()?;
        Ok(counts)
    }
}

/// The key filter with parameters numbered as the key's positions in the
/// insert's column list, so the CTE and the insert share one parameter list.
fn key_filter_at(table: &Table) -> String {
    let parts: Vec<String> = table
        .conflict
        .iter()
        .zip(table.key_positions())
        .map(|(k, i)| format!("{k} = ${}", i + 1))
        .collect();
    parts.join(" AND ")
}

fn param<'v>(v: &'v Val<'_>) -> &'v (dyn ToSql + Sync) {
    match v {
        Val::Int(x) => x,
        Val::Real(x) => x,
        Val::Text(x) => x,
        Val::Blob(x) => x,
        Val::Time(x) => x,
    }
}

fn params_of<'v, 'a: 'v>(vals: impl Iterator<Item = &'v Val<'a>>) -> Vec<&'v (dyn ToSql + Sync)> {
    vals.map(param).collect()
}

/// `"name"`, with embedded quotes doubled.
fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// The connection string with any password replaced by `***`, for messages
/// and `Debug` (URL form `postgres://user:pw@host/db` and `password=` pairs).
fn redact(url: &str) -> String {
    let mut out = url.to_string();
    if let Some((scheme, rest)) = url.split_once("://") {
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if let Some((userinfo, host)) = authority.rsplit_once('@') {
            let user = userinfo.split(':').next().unwrap_or_default();
            let masked = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                user.to_string()
            };
            out = format!("{scheme}://{masked}@{host}{tail}");
        }
    }
    mask_password_pairs(&out)
}

fn mask_password_pairs(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("password=") {
        let (head, tail) = rest.split_at(i + "password=".len());
        out.push_str(head);
        out.push_str("***");
        let end = tail.find(['&', ' ']).unwrap_or(tail.len());
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

impl Cell for postgres::Row {
    fn int(&self, i: usize) -> Result<Option<i64>, String> {
        self.try_get(i).map_err(|e| describe(&e))
    }
    fn real(&self, i: usize) -> Result<Option<f64>, String> {
        self.try_get(i).map_err(|e| describe(&e))
    }
    fn text(&self, i: usize) -> Result<Option<String>, String> {
        self.try_get(i).map_err(|e| describe(&e))
    }
    fn blob(&self, i: usize) -> Result<Option<Vec<u8>>, String> {
        self.try_get(i).map_err(|e| describe(&e))
    }
    fn time(&self, i: usize) -> Result<Option<DateTime<Utc>>, String> {
        self.try_get(i).map_err(|e| describe(&e))
    }
}

fn count(v: i64) -> u64 {
    // count(*) is never negative.
    u64::try_from(v).unwrap_or(0)
}

fn query_i64(c: &mut impl GenericClient, sql: &str) -> Result<i64> {
    Ok(c.query_one(sql, &[])?.try_get(0)?)
}

impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn schema_version(&mut self) -> Result<i64> {
        query_i64(
            &mut self.client,
            "SELECT coalesce(max(version), 0)::bigint FROM schema_migrations",
        )
    }

    fn insert_events(&mut self, events: &[Event]) -> Result<InsertCounts> {
        let rows = events
            .iter()
            .map(row::event_vals)
            .collect::<Result<Vec<_>>>()?;
        let accepted = self.bulk(&row::EVENTS, &rows, Conflict::Nothing)?;
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
        let sql = format!(
            "{} WHERE occurred_at >= $1 AND occurred_at < $2 ORDER BY occurred_at, id",
            t.select()
        );
        let bounds = [
            Val::Time(row::ceil_micros(from)),
            Val::Time(row::ceil_micros(to)),
        ];
        self.rows(t, &sql, &bounds, row::read_event)
    }

    fn event_time_range(&mut self) -> Result<Option<(DateTime<Utc>, DateTime<Utc>)>> {
        let r = self.client.query_one(
            "SELECT (SELECT min(occurred_at) FROM events), (SELECT max(occurred_at) FROM events)",
            &[],
        )?;
        let read = Reader::new(&r, &row::EVENTS);
        let corrupt = |e: String| read.corrupt(2, e);
        match (
            Cell::time(&r, 0).map_err(corrupt)?,
            Cell::time(&r, 1).map_err(corrupt)?,
        ) {
            (Some(a), Some(b)) => Ok(Some((a, b))),
            _ => Ok(None),
        }
    }

    fn count_events(&mut self) -> Result<u64> {
        Ok(count(query_i64(
            &mut self.client,
            "SELECT count(*) FROM events",
        )?))
    }

    fn quarantine(&mut self, records: &[Quarantined]) -> Result<u64> {
        let now = Utc::now();
        let rows = records
            .iter()
            .map(|q| row::quarantine_vals(q, now))
            .collect::<Result<Vec<_>>>()?;
        self.bulk(&row::QUARANTINE, &rows, Conflict::Nothing)
    }

    fn quarantined(&mut self, limit: u32) -> Result<Vec<QuarantineRow>> {
        let t = &row::QUARANTINE;
        let sql = format!("{} ORDER BY id DESC LIMIT $1", t.select());
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
        let sql = format!("{} WHERE id = $1", t.select());
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
        let t = &row::ASSESSMENTS;
        let encoded = rows
            .iter()
            .map(row::assessment_vals)
            .collect::<Result<Vec<_>>>()?;
        // One multi-row DO UPDATE may not touch a key twice: keep the last.
        let encoded = row::last_per_key(t, encoded);
        self.bulk(t, &encoded, Conflict::Update)?;
        Ok(())
    }

    fn latest_assessments(&mut self) -> Result<Vec<Assessment>> {
        let t = &row::ASSESSMENTS;
        let sql = format!(
            "{} AS a WHERE a.at = (SELECT max(b.at) FROM assessments AS b \
             WHERE b.area = a.area AND b.category = a.category) ORDER BY {}, {}",
            t.select(),
            D.bytewise("a.area"),
            D.bytewise("a.category")
        );
        self.rows(t, &sql, &[], row::read_assessment)
    }

    fn record_run(&mut self, run: &RunRecord) -> Result<()> {
        let t = &row::RUNS;
        let params: Vec<String> = (1..=t.cols.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "INSERT INTO runs ({}) VALUES ({})",
            t.cols.join(", "),
            params.join(", ")
        );
        let v = row::run_vals(run)?;
        self.client.execute(&sql, &params_of(v.iter()))?;
        Ok(())
    }

    fn runs(&mut self, limit: u32) -> Result<Vec<RunRecord>> {
        let t = &row::RUNS;
        let sql = format!("{} ORDER BY started_at DESC, id DESC LIMIT $1", t.select());
        self.rows(t, &sql, &[Val::Int(Some(i64::from(limit)))], row::read_run)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact("postgres://farguard:s3cret@db.example:5432/fg?sslmode=disable"),
            "postgres://farguard:***@db.example:5432/fg?sslmode=disable"
        );
        assert_eq!(
            redact("postgres://postgres@127.0.0.1:5432/test"),
            "postgres://postgres@127.0.0.1:5432/test"
        );
        assert_eq!(
            redact("host=db user=fg password=s3cret dbname=x"),
            "host=db user=fg password=*** dbname=x"
        );
        assert_eq!(
            redact("postgresql:///fg?password=s3cret&user=me"),
            "postgresql:///fg?password=***&user=me"
        );
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("fg_test"), "\"fg_test\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
