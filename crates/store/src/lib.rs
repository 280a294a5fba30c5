//! Persistence for farguard: one [`Store`] trait, two engines.
//!
//! Design note. The embedded default is one SQLite file in WAL mode, so
//! farguard is useful on a laptop with no server; PostgreSQL is the scale-out
//! engine. Both implement the same trait and pass the same conformance suite
//! (`tests/conformance`). Only this crate knows SQL. Migrations are versioned
//! and applied on open. The trait is synchronous: the CLI calls it directly
//! and async callers wrap calls in `spawn_blocking`. Every event write is
//! idempotent on (source, source id); registry writes upsert on external id.
//!
//! Code map: `migrations` holds the schema, one numbered list in both SQL
//! dialects; `row` is the store's own row types (every domain value to and
//! from a row of column values, re-validated on the way out, so an edited row
//! is `StoreError::Corrupt`, never a panic); `sqlite` and `pg` only move those
//! rows. Times are kept to the microsecond in both engines.

mod audit;
mod error;
mod feeds;
mod incidents;
mod migrations;
mod notify;
mod pg;
mod risk;
mod row;
mod sqlite;
mod stamps;
mod unit;
mod users;

pub use audit::{
    AuditEntry, AuditProblem, AuditRecord, AuditStore, AuditVerdict, GENESIS as AUDIT_GENESIS,
    entry_hash as audit_entry_hash, verify as verify_audit,
};
pub use error::StoreError;
pub use feeds::{FeedState, FeedStore, MergeLink};
pub use incidents::{IncidentQuery, IncidentStore};
pub use notify::{NewAlert, NotifyStore, OutboxCount, QUEUE_CHUNK, QueueCounts};
pub use pg::PgStore;
pub use risk::{FoldOutcome, RiskDay, RiskFolder, RiskStore, RiskTouch, RiskVote, RiskWrite};
pub use sqlite::SqliteStore;
pub use stamps::{ChangeStamps, StampStore};
pub use unit::{UnitStore, atomically, in_savepoint, snapshot};
pub use users::{TokenRow, UserRow, UserStore};

use chrono::{DateTime, Utc};
use farguard_model::{
    Assessment, Dependency, Event, EventId, ItineraryLeg, Organisation, Person, Quarantined, Site,
};

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What an event insert did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InsertCounts {
    /// New (source, source id) pairs stored.
    pub accepted: u64,
    /// Already stored: nothing changed.
    pub duplicates: u64,
}

/// What a registry upsert did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpsertCounts {
    pub inserted: u64,
    /// The id existed and at least one field changed.
    pub updated: u64,
    /// The id existed with identical content.
    pub unchanged: u64,
}

/// A stored quarantine record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineRow {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub record: Quarantined,
}

/// One run of an import or ingest, kept for the audit of what was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    pub kind: String,
    pub file: String,
    pub started_at: DateTime<Utc>,
    pub read: u64,
    pub accepted: u64,
    pub duplicates: u64,
    pub quarantined: u64,
}

/// The storage contract every engine meets.
pub trait Store:
    Send
    + UserStore
    + AuditStore
    + IncidentStore
    + NotifyStore
    + FeedStore
    + UnitStore
    + StampStore
    + RiskStore
{
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// The schema version after migrations.
    fn schema_version(&mut self) -> Result<i64>;

    // --- events -------------------------------------------------------
    /// Stores events in one transaction, idempotent on (source, source id).
    fn insert_events(&mut self, events: &[Event]) -> Result<InsertCounts>;
    fn event(&mut self, id: &EventId) -> Result<Option<Event>>;
    /// Events whose `occurred_at` is in `[from, to)`, oldest first.
    fn events_between(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<Event>>;
    /// Oldest and newest `occurred_at`, or `None` when there are no events.
    fn event_time_range(&mut self) -> Result<Option<(DateTime<Utc>, DateTime<Utc>)>>;
    fn count_events(&mut self) -> Result<u64>;

    // --- quarantine ---------------------------------------------------
    /// Keeps rejected records; the same (source, file, line, raw) twice is kept once.
    fn quarantine(&mut self, records: &[Quarantined]) -> Result<u64>;
    /// Newest first.
    fn quarantined(&mut self, limit: u32) -> Result<Vec<QuarantineRow>>;

    // --- registry -----------------------------------------------------
    fn upsert_orgs(&mut self, orgs: &[Organisation]) -> Result<UpsertCounts>;
    fn orgs(&mut self) -> Result<Vec<Organisation>>;
    fn upsert_sites(&mut self, sites: &[Site]) -> Result<UpsertCounts>;
    fn sites(&mut self) -> Result<Vec<Site>>;
    fn site(&mut self, id: &str) -> Result<Option<Site>>;
    fn upsert_people(&mut self, people: &[Person]) -> Result<UpsertCounts>;
    fn people(&mut self) -> Result<Vec<Person>>;
    fn upsert_legs(&mut self, legs: &[ItineraryLeg]) -> Result<UpsertCounts>;
    fn legs(&mut self) -> Result<Vec<ItineraryLeg>>;
    /// Upserts on (site, on).
    fn upsert_dependencies(&mut self, deps: &[Dependency]) -> Result<UpsertCounts>;
    fn dependencies(&mut self) -> Result<Vec<Dependency>>;

    // --- assessments --------------------------------------------------
    /// Replaces the assessments stored for the same (area, category, at).
    fn save_assessments(&mut self, rows: &[Assessment]) -> Result<()>;
    /// For each (area, category), the assessment with the latest `at`.
    fn latest_assessments(&mut self) -> Result<Vec<Assessment>>;

    // --- runs ---------------------------------------------------------
    fn record_run(&mut self, run: &RunRecord) -> Result<()>;
    fn runs(&mut self, limit: u32) -> Result<Vec<RunRecord>>;
}

/// Opens a store from `--db`: a `postgres://` or `postgresql://` URL, or a
/// SQLite file path (created if missing). Migrations run on open.
pub fn open(target: &str) -> Result<Box<dyn Store>> {
    if target.starts_with("postgres://") || target.starts_with("postgresql://") {
        Ok(Box::new(PgStore::connect(target, None)?))
    } else {
        Ok(Box::new(SqliteStore::open(target)?))
    }
}
