//! Versioned schema migrations, one list for both engines.
//!
//! Each migration carries the same logical change in both SQL dialects, so a
//! version number means the same tables and columns everywhere. Migrations are
//! append-only: never edit one that has shipped, add the next number.
//!
//! Column conventions (both engines, same names):
//! - times: SQLite `INTEGER` Unix microseconds, PostgreSQL `TIMESTAMPTZ`
//!   (both hold exactly microseconds, so both engines read back the same value);
//! - floats: `REAL` / `DOUBLE PRECISION` (an `f32` widens exactly to `f64`);
//! - integers: `INTEGER` / `BIGINT`;
//! - codes (category, subtype, kinds, precision, trend): their text code;
//! - string lists and polygon rings: JSON text (`["a","b"]`, `[[lon,lat],...]`);
//! - level: its rank 0..=4; severity: 1..=5.
//!
//! Registry tables carry no foreign keys on purpose: imports arrive from
//! several files in any order, and the registry import reports dangling
//! references per row instead of the store failing a whole batch.

/// One schema change in both dialects.
#[derive(Debug)]
pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

/// The table that records which migrations ran (same shape in both engines).
pub(crate) const SQLITE_LEDGER: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at INTEGER NOT NULL
) STRICT;";

pub(crate) const POSTGRES_LEDGER: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
);";

/// All migrations, in order. Versions are 1, 2, 3… without gaps.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "events, quarantine, registry, assessments, runs",
        sqlite: r#"
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    source_id TEXT NOT NULL,
    occurred_at INTEGER NOT NULL,
    reported_at INTEGER NOT NULL,
    lat REAL,
    lon REAL,
    geo_precision TEXT,
    location_country TEXT,
    admin1 TEXT,
    place TEXT,
    country TEXT,
    category TEXT NOT NULL,
    subtype TEXT NOT NULL,
    severity INTEGER NOT NULL,
    confidence REAL NOT NULL,
    title TEXT NOT NULL,
    actors TEXT NOT NULL,
    links TEXT NOT NULL,
    fatalities INTEGER,
    goldstein REAL,
    tone REAL,
    mentions INTEGER,
    reason TEXT NOT NULL,
    raw TEXT NOT NULL,
    UNIQUE (source, source_id)
) STRICT;
CREATE INDEX events_occurred_at ON events (occurred_at);

CREATE TABLE quarantine (
    id INTEGER PRIMARY KEY,
    quarantined_at INTEGER NOT NULL,
    source TEXT NOT NULL,
    file TEXT NOT NULL,
    line INTEGER NOT NULL,
    reason TEXT NOT NULL,
    raw BLOB NOT NULL,
    raw_sha256 BLOB NOT NULL,
    UNIQUE (source, file, line, raw_sha256)
) STRICT;

CREATE TABLE orgs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    country TEXT
) STRICT;

CREATE TABLE sites (
    id TEXT PRIMARY KEY,
    org TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    lat REAL NOT NULL,
    lon REAL NOT NULL,
    polygon TEXT,
    country TEXT NOT NULL,
    sector TEXT,
    value_usd REAL,
    headcount INTEGER NOT NULL,
    status TEXT NOT NULL
) STRICT;

CREATE TABLE people (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    nationality TEXT,
    org TEXT,
    email TEXT,
    phone TEXT,
    language TEXT NOT NULL,
    needs TEXT NOT NULL,
    consent TEXT,
    site TEXT
) STRICT;

CREATE TABLE legs (
    id TEXT PRIMARY KEY,
    person TEXT NOT NULL,
    lat REAL NOT NULL,
    lon REAL NOT NULL,
    country TEXT NOT NULL,
    place TEXT NOT NULL,
    from_at INTEGER NOT NULL,
    to_at INTEGER NOT NULL
) STRICT;
CREATE INDEX legs_person ON legs (person);
CREATE INDEX legs_from_at ON legs (from_at);

CREATE TABLE dependencies (
    site TEXT NOT NULL,
    on_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    criticality REAL NOT NULL,
    PRIMARY KEY (site, on_id)
) STRICT;

CREATE TABLE assessments (
    area TEXT NOT NULL,
    category TEXT NOT NULL,
    at INTEGER NOT NULL,
    score REAL NOT NULL,
    level INTEGER NOT NULL,
    trend TEXT NOT NULL,
    guideline TEXT NOT NULL,
    explanation TEXT NOT NULL,
    PRIMARY KEY (area, category, at)
) STRICT;

CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    file TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    records_read INTEGER NOT NULL,
    accepted INTEGER NOT NULL,
    duplicates INTEGER NOT NULL,
    quarantined INTEGER NOT NULL
) STRICT;
CREATE INDEX runs_started_at ON runs (started_at);
"#,
        postgres: r#"
CREATE TABLE events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source TEXT NOT NULL,
    source_id TEXT NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL,
    reported_at TIMESTAMPTZ NOT NULL,
    lat DOUBLE PRECISION,
    lon DOUBLE PRECISION,
    geo_precision TEXT,
    location_country TEXT,
    admin1 TEXT,
    place TEXT,
    country TEXT,
    category TEXT NOT NULL,
    subtype TEXT NOT NULL,
    severity BIGINT NOT NULL,
    confidence DOUBLE PRECISION NOT NULL,
    title TEXT NOT NULL,
    actors TEXT NOT NULL,
    links TEXT NOT NULL,
    fatalities BIGINT,
    goldstein DOUBLE PRECISION,
    tone DOUBLE PRECISION,
    mentions BIGINT,
    reason TEXT NOT NULL,
    raw TEXT NOT NULL,
    UNIQUE (source, source_id)
);
CREATE INDEX events_occurred_at ON events (occurred_at, id);

CREATE TABLE quarantine (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    quarantined_at TIMESTAMPTZ NOT NULL,
    source TEXT NOT NULL,
    file TEXT NOT NULL,
    line BIGINT NOT NULL,
    reason TEXT NOT NULL,
    raw BYTEA NOT NULL,
    raw_sha256 BYTEA NOT NULL,
    UNIQUE (source, file, line, raw_sha256)
);

CREATE TABLE orgs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    country TEXT
);

CREATE TABLE sites (
    id TEXT PRIMARY KEY,
    org TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    lat DOUBLE PRECISION NOT NULL,
    lon DOUBLE PRECISION NOT NULL,
    polygon TEXT,
    country TEXT NOT NULL,
    sector TEXT,
    value_usd DOUBLE PRECISION,
    headcount BIGINT NOT NULL,
    status TEXT NOT NULL
);

CREATE TABLE people (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    nationality TEXT,
    org TEXT,
    email TEXT,
    phone TEXT,
    language TEXT NOT NULL,
    needs TEXT NOT NULL,
    consent TEXT,
    site TEXT
);

CREATE TABLE legs (
    id TEXT PRIMARY KEY,
    person TEXT NOT NULL,
    lat DOUBLE PRECISION NOT NULL,
    lon DOUBLE PRECISION NOT NULL,
    country TEXT NOT NULL,
    place TEXT NOT NULL,
    from_at TIMESTAMPTZ NOT NULL,
    to_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX legs_person ON legs (person);
CREATE INDEX legs_from_at ON legs (from_at);

CREATE TABLE dependencies (
    site TEXT NOT NULL,
    on_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    criticality DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (site, on_id)
);

CREATE TABLE assessments (
    area TEXT NOT NULL,
    category TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    level BIGINT NOT NULL,
    trend TEXT NOT NULL,
    guideline TEXT NOT NULL,
    explanation TEXT NOT NULL,
    PRIMARY KEY (area, category, at)
);

CREATE TABLE runs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind TEXT NOT NULL,
    file TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    records_read BIGINT NOT NULL,
    accepted BIGINT NOT NULL,
    duplicates BIGINT NOT NULL,
    quarantined BIGINT NOT NULL
);
CREATE INDEX runs_started_at ON runs (started_at);
"#,
    },
    Migration {
        version: 2,
        name: "users, api tokens and sessions, hash-chained audit log",
        sqlite: crate::users::SQLITE_SCHEMA,
        postgres: crate::users::POSTGRES_SCHEMA,
    },
    Migration {
        version: 3,
        name: "response incidents: members, tasks, timeline",
        sqlite: crate::incidents::SQLITE_SCHEMA,
        postgres: crate::incidents::POSTGRES_SCHEMA,
    },
    Migration {
        version: 4,
        name: "notify: alerts, durable outbox with history, check-in credentials and answers",
        sqlite: crate::notify::SQLITE_SCHEMA,
        postgres: crate::notify::POSTGRES_SCHEMA,
    },
    Migration {
        version: 5,
        name: "sources: feed polling state, cross-source event merges",
        sqlite: crate::feeds::SQLITE_SCHEMA,
        postgres: crate::feeds::POSTGRES_SCHEMA,
    },
    Migration {
        version: 6,
        name: "grade: persisted daily risk aggregates, report votes, coverage, fold watermark",
        sqlite: crate::risk::SQLITE_SCHEMA,
        postgres: crate::risk::POSTGRES_SCHEMA,
    },
    Migration {
        version: 7,
        name: "change stamps: registry, levels and incidents, bumped by triggers on every change",
        sqlite: crate::stamps::SQLITE_SCHEMA,
        postgres: crate::stamps::POSTGRES_SCHEMA,
    },
    Migration {
        version: 8,
        name: "notify: slim outbox (alert texts once per alert, per-recipient rows, alert check-in secrets, leases by runner)",
        sqlite: crate::notify::SLIM_SQLITE,
        postgres: crate::notify::SLIM_POSTGRES,
    },
];

/// The version a fully migrated database reports.
pub(crate) fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_contiguous_and_both_dialects_present() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1, "{}", m.name);
            assert!(!m.sqlite.trim().is_empty() && !m.postgres.trim().is_empty());
        }
        assert_eq!(latest(), MIGRATIONS.len() as i64);
    }

    #[test]
    fn dialects_create_the_same_tables_and_indexes() {
        // Same logical schema: every CREATE TABLE / CREATE INDEX name appears in both.
        fn objects(sql: &str) -> Vec<String> {
            let mut v: Vec<String> = sql
                .lines()
                .filter_map(|l| {
                    let l = l.trim();
                    l.strip_prefix("CREATE TABLE ")
                        .or_else(|| l.strip_prefix("CREATE INDEX "))
                        .and_then(|r| r.split_whitespace().next())
                        .map(str::to_string)
                })
                .collect();
            v.sort();
            v
        }
        for m in MIGRATIONS {
            assert_eq!(
                objects(m.sqlite),
                objects(m.postgres),
                "migration {}",
                m.version
            );
        }
    }
}
