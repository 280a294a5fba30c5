//! Persisted daily risk aggregates: one row per area × category × day with
//! what grading reads (counts, severity points, fatalities, Goldstein and
//! tone sums, the day's top contributions), kept up to date as events are
//! stored, so grading reads days, not events.
//!
//! How events are folded in. The store keeps a watermark: the id of the
//! last event folded. [`RiskStore::fold_new_events`] takes the write lock
//! (SQLite `BEGIN IMMEDIATE`; PostgreSQL `LOCK TABLE events IN SHARE ROW
//! EXCLUSIVE MODE`, which waits for every open insert to commit and keeps
//! new ones out until the fold commits, so no event id below the watermark
//! can appear later), reads the events after the watermark in id order,
//! asks the caller's [`RiskFolder`] which cells and report keys they touch,
//! loads exactly those rows, hands everything to the folder and writes back
//! what it returns — then moves the watermark, all in one transaction.
//! Re-ingesting a file adds no event, so it folds nothing: the aggregates
//! count each stored event once, whatever is re-read. A crash between an
//! insert and its fold costs nothing: the next fold picks the events up.
//!
//! An ingest that has just stored a batch, every event of it new, says so
//! ([`RiskStore::fold_stored_events`]): when those events are exactly what
//! lies after the watermark, SQLite folds them as given instead of reading
//! them back (reading back cost as much as the rest of the fold); anything
//! else — and PostgreSQL, whose concurrent inserts may interleave ids —
//! reads the new events back as above.
//!
//! The aggregation rules live in the caller (the grade stage); the store
//! only knows the rows. The rows depend on the rules (minimum severity,
//! weights, area kinds, sites): the folder names them in a `spec` string,
//! and a fold under a different spec empties the rows and folds every
//! stored event again.
//!
//! Report votes ("one report, one vote") are kept per area × category ×
//! day × report key, so events of one report stored in different batches
//! still count once.

use crate::row::{self, Reader, Table};
use crate::{PgStore, Result, SqliteStore, StoreError};
use chrono::Utc;
use farguard_model::Event;
use rusqlite::OptionalExtension;
use std::collections::{BTreeMap, BTreeSet};

/// One area × category × day aggregate as stored.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RiskDay {
    /// The area in its text form (`IN`, `IN/Bihar`, `h3:85…`, `site:ID`).
    pub area: String,
    /// `country`, `admin1`, `h3` or `site`.
    pub area_kind: String,
    pub category: String,
    /// Days since 1970-01-01 (UTC).
    pub day: i32,
    pub events: i64,
    pub below: i64,
    pub reports: i64,
    pub points: f64,
    pub fatalities: i64,
    pub gold_sum: f64,
    pub gold_n: i64,
    pub tone_sum: f64,
    pub tone_n: i64,
    /// The day's top contributions (JSON text written by the grade stage).
    pub top: String,
}

/// The best points one report gave one area × category × day.
#[derive(Debug, Clone, PartialEq)]
pub struct RiskVote {
    pub area: String,
    pub category: String,
    pub day: i32,
    /// The report key (a 64-bit hash, stored as its two's-complement i64).
    pub report: i64,
    pub points: f64,
}

/// One area × category × day and a report key an event touches.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RiskTouch {
    pub area: String,
    pub category: String,
    pub day: i32,
    pub report: i64,
}

/// What a folder returns for one chunk of events: the full new rows of the
/// days it changed, the votes it changed, and events added per day.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RiskWrite {
    pub days: Vec<RiskDay>,
    pub votes: Vec<RiskVote>,
    pub coverage: Vec<(i32, i64)>,
}

/// The aggregation rules, supplied by the caller of a fold.
pub trait RiskFolder {
    /// The rules in words; stored rows built under other rules are rebuilt.
    fn spec(&self) -> String;
    /// The cells and report keys these events count in. Events handed to
    /// a folder carry every field but the source record (`raw`) and the
    /// actors, which may be empty.
    fn touched(&mut self, events: &[Event]) -> Vec<RiskTouch>;
    /// Folds the events into the stored rows of the cells they touch (days
    /// and votes not stored yet are absent) and returns the rows to write,
    /// or why a stored row cannot be read (the fold then stores nothing).
    fn fold(
        &mut self,
        events: &[Event],
        days: Vec<RiskDay>,
        votes: Vec<RiskVote>,
    ) -> std::result::Result<RiskWrite, String>;
}

/// What a fold did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FoldOutcome {
    /// Events folded in.
    pub events: u64,
    /// Day rows written.
    pub days_written: u64,
    /// True when the stored rows were built under another spec and were
    /// rebuilt from every stored event.
    pub rebuilt: bool,
    /// The watermark after the fold (id of the last event folded).
    pub last_event: i64,
}

/// Storage of the persisted daily aggregates.
pub trait RiskStore {
    /// Folds every event stored since the last fold (or all of them, when
    /// the stored rows were built under another spec), `chunk` events at a
    /// time, in one transaction.
    fn fold_new_events(&mut self, folder: &mut dyn RiskFolder, chunk: usize)
    -> Result<FoldOutcome>;
    /// [`RiskStore::fold_new_events`], told that `stored` are events one
    /// `insert_events` just stored, every one of them accepted: when they
    /// are exactly the events after the watermark, in id order, they are
    /// folded as given rather than read back (with their `raw` and actors).
    /// Otherwise — events stored meanwhile by another writer, events left
    /// unfolded before them, some of them already stored — this is
    /// `fold_new_events`. The outcome is the same either way.
    fn fold_stored_events(
        &mut self,
        folder: &mut dyn RiskFolder,
        chunk: usize,
        stored: &[Event],
    ) -> Result<FoldOutcome> {
        let _ = stored;
        self.fold_new_events(folder, chunk)
    }
    /// The day rows with `from <= day < to`, of one area or of all.
    fn risk_days(&mut self, from: i32, to: i32, area: Option<&str>) -> Result<Vec<RiskDay>>;
    /// Events folded per day, for days with `from <= day < to`.
    fn risk_coverage(&mut self, from: i32, to: i32) -> Result<Vec<(i32, i64)>>;
    /// The watermark and the spec of the stored rows, if anything was folded.
    fn risk_state(&mut self) -> Result<Option<(i64, String)>>;
}

pub(crate) const SQLITE_SCHEMA: &str = r#"
CREATE TABLE risk_days (
    area TEXT NOT NULL,
    area_kind TEXT NOT NULL,
    category TEXT NOT NULL,
    day INTEGER NOT NULL,
    events INTEGER NOT NULL,
    below INTEGER NOT NULL,
    reports INTEGER NOT NULL,
    points REAL NOT NULL,
    fatalities INTEGER NOT NULL,
    gold_sum REAL NOT NULL,
    gold_n INTEGER NOT NULL,
    tone_sum REAL NOT NULL,
    tone_n INTEGER NOT NULL,
    top TEXT NOT NULL,
    PRIMARY KEY (area, category, day)
) STRICT;
CREATE INDEX risk_days_day ON risk_days (day);

CREATE TABLE risk_votes (
    area TEXT NOT NULL,
    category TEXT NOT NULL,
    day INTEGER NOT NULL,
    report INTEGER NOT NULL,
    points REAL NOT NULL,
    PRIMARY KEY (area, category, day, report)
) STRICT;

CREATE TABLE risk_coverage (
    day INTEGER PRIMARY KEY,
    events INTEGER NOT NULL
) STRICT;

CREATE TABLE risk_fold (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_event INTEGER NOT NULL,
    spec TEXT NOT NULL,
    folded_at INTEGER NOT NULL
) STRICT;
"#;

pub(crate) const POSTGRES_SCHEMA: &str = r#"
CREATE TABLE risk_days (
    area TEXT NOT NULL,
    area_kind TEXT NOT NULL,
    category TEXT NOT NULL,
    day INTEGER NOT NULL,
    events BIGINT NOT NULL,
    below BIGINT NOT NULL,
    reports BIGINT NOT NULL,
    points DOUBLE PRECISION NOT NULL,
    fatalities BIGINT NOT NULL,
    gold_sum DOUBLE PRECISION NOT NULL,
    gold_n BIGINT NOT NULL,
    tone_sum DOUBLE PRECISION NOT NULL,
    tone_n BIGINT NOT NULL,
    top TEXT NOT NULL,
    PRIMARY KEY (area, category, day)
);
CREATE INDEX risk_days_day ON risk_days (day);

CREATE TABLE risk_votes (
    area TEXT NOT NULL,
    category TEXT NOT NULL,
    day INTEGER NOT NULL,
    report BIGINT NOT NULL,
    points DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (area, category, day, report)
);

CREATE TABLE risk_coverage (
    day INTEGER PRIMARY KEY,
    events BIGINT NOT NULL
);

CREATE TABLE risk_fold (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_event BIGINT NOT NULL,
    spec TEXT NOT NULL,
    folded_at TIMESTAMPTZ NOT NULL
);
"#;

const DAY_COLS: &str = "area, area_kind, category, day, events, below, reports, points, \
                        fatalities, gold_sum, gold_n, tone_sum, tone_n, top";

/// The events table read with its id after the event columns.
const EVENTS_WITH_ID: Table = Table {
    name: "events",
    cols: row::EVENTS.cols,
    conflict: row::EVENTS.conflict,
    read_extra: &["id"],
};

/// The events after a watermark, in id order, with what a fold reads: every
/// event column but the source record (`raw`, about a kilobyte a row) and
/// the actors, which aggregation never reads; they come back empty.
fn events_after_sql(param: fn(usize) -> String) -> String {
    let cols: Vec<&str> = EVENTS_WITH_ID
        .cols
        .iter()
        .map(|c| match *c {
            "raw" => "'' AS raw",
            "actors" => "'[]' AS actors",
            c => c,
        })
        .collect();
    format!(
        "SELECT {}, id FROM events WHERE id > {} ORDER BY id LIMIT {}",
        cols.join(", "),
        param(1),
        param(2)
    )
}

fn read_event_with_id(r: &Reader<'_>) -> Result<(i64, Event)> {
    Ok((r.int(EVENTS_WITH_ID.cols.len())?, row::read_event(r)?))
}

fn check_day(d: &RiskDay) -> Result<()> {
    for (f, v) in [
        ("area", &d.area),
        ("area_kind", &d.area_kind),
        ("category", &d.category),
        ("top", &d.top),
    ] {
        if v.contains('\0') {
            return Err(StoreError::Unstorable {
                table: "risk_days",
                field: f,
                reason: "text holds a NUL character".into(),
            });
        }
    }
    Ok(())
}

/// Distinct cells and the touches, in a stable order.
fn split_touches(touches: Vec<RiskTouch>) -> (Vec<(String, String, i32)>, Vec<RiskTouch>) {
    let touches: BTreeSet<RiskTouch> = touches.into_iter().collect();
    let cells: BTreeSet<(String, String, i32)> = touches
        .iter()
        .map(|t| (t.area.clone(), t.category.clone(), t.day))
        .collect();
    (cells.into_iter().collect(), touches.into_iter().collect())
}

fn sqlite_day(r: &rusqlite::Row<'_>) -> rusqlite::Result<RiskDay> {
    Ok(RiskDay {
        area: r.get(0)?,
        area_kind: r.get(1)?,
        category: r.get(2)?,
        day: r.get(3)?,
        events: r.get(4)?,
        below: r.get(5)?,
        reports: r.get(6)?,
        points: r.get(7)?,
        fatalities: r.get(8)?,
        gold_sum: r.get(9)?,
        gold_n: r.get(10)?,
        tone_sum: r.get(11)?,
        tone_n: r.get(12)?,
        top: r.get(13)?,
    })
}

fn pg_day(r: &postgres::Row) -> Result<RiskDay> {
    Ok(RiskDay {
        area: r.try_get(0)?,
        area_kind: r.try_get(1)?,
        category: r.try_get(2)?,
        day: r.try_get(3)?,
        events: r.try_get(4)?,
        below: r.try_get(5)?,
        reports: r.try_get(6)?,
        points: r.try_get(7)?,
        fatalities: r.try_get(8)?,
        gold_sum: r.try_get(9)?,
        gold_n: r.try_get(10)?,
        tone_sum: r.try_get(11)?,
        tone_n: r.try_get(12)?,
        top: r.try_get(13)?,
    })
}

/// `a, b` as `p.a, p.b`.
fn prefixed(p: &str, cols: &str) -> String {
    cols.split(", ")
        .map(|c| format!("{p}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn json_keys(e: serde_json::Error) -> StoreError {
    StoreError::Unstorable {
        table: "risk_days",
        field: "area",
        reason: format!("keys not writable as JSON: {e}"),
    }
}

/// Folded coverage per day, summed over a chunk's write.
fn coverage_sums(c: &[(i32, i64)]) -> BTreeMap<i32, i64> {
    let mut m = BTreeMap::new();
    for (d, n) in c {
        *m.entry(*d).or_default() += n;
    }
    m
}

/// The id of a stored event, by its key.
fn sqlite_event_id(tx: &rusqlite::Connection, e: &Event) -> Result<Option<i64>> {
    Ok(tx
        .prepare_cached("SELECT id FROM events WHERE source = ?1 AND source_id = ?2")?
        .query_row(rusqlite::params![e.id.source, e.id.source_id], |r| r.get(0))
        .optional()?)
}

/// The id of the first of `stored` when they are exactly the events after
/// `last`, in id order. One insert transaction gives the rows it adds
/// consecutive ids in the order it adds them (SQLite takes the largest id
/// plus one, and the write lock keeps other writers out meanwhile); so when
/// the first event after `last` is the first of `stored`, the last stored
/// event is the last of `stored`, and they are `stored.len()` ids apart,
/// the ids in between are the rest of `stored`, in order.
fn sqlite_given_start(
    tx: &rusqlite::Connection,
    last: i64,
    stored: &[Event],
) -> Result<Option<i64>> {
    let (Some(first), Some(final_)) = (stored.first(), stored.last()) else {
        return Ok(None);
    };
    let (lo, hi) = (sqlite_event_id(tx, first)?, sqlite_event_id(tx, final_)?);
    let (Some(lo), Some(hi)) = (lo, hi) else {
        return Ok(None);
    };
    let (next, max): (Option<i64>, Option<i64>) = tx.query_row(
        "SELECT (SELECT min(id) FROM events WHERE id > ?1), (SELECT max(id) FROM events)",
        [last],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let exact = next == Some(lo)
        && max == Some(hi)
        && hi.checked_sub(lo).and_then(|d| d.checked_add(1)) == Some(stored.len() as i64);
    Ok(exact.then_some(lo))
}

impl SqliteStore {
    fn fold(
        &mut self,
        folder: &mut dyn RiskFolder,
        chunk: usize,
        given: Option<&[Event]>,
    ) -> Result<FoldOutcome> {
        let spec = folder.spec();
        let size = chunk.max(1);
        let chunk = size as i64;
        let tx = crate::unit::sqlite_write(&mut self.conn)?;
        let state: Option<(i64, String)> = tx
            .query_row(
                "SELECT last_event, spec FROM risk_fold WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let mut out = FoldOutcome::default();
        let mut last = match state {
            Some((l, s)) if s == spec => l,
            Some(_) => {
                tx.execute_batch(
                    "DELETE FROM risk_days; DELETE FROM risk_votes; DELETE FROM risk_coverage;",
                )?;
                out.rebuilt = true;
                0
            }
            None => 0,
        };
        let events_sql = events_after_sql(|n| format!("?{n}"));
        // The events just stored, when they are all that is new: folded as
        // given, `size` at a time, their ids counted from the first's.
        let mut given = match given {
            Some(g) => sqlite_given_start(&tx, last, g)?.map(|lo| (g.chunks(size), lo)),
            None => None,
        };
        loop {
            let read: Vec<Event>;
            let (events, max_id): (&[Event], i64) = match &mut given {
                Some((passes, next)) => {
                    let Some(p) = passes.next() else {
                        break;
                    };
                    let max_id = *next + p.len() as i64 - 1;
                    *next = max_id + 1;
                    (p, max_id)
                }
                None => {
                    let batch: Vec<(i64, Event)> = {
                        let mut stmt = tx.prepare_cached(&events_sql)?;
                        let mut rows = stmt.query(rusqlite::params![last, chunk])?;
                        let mut v = Vec::new();
                        while let Some(r) = rows.next()? {
                            v.push(read_event_with_id(&Reader::new(r, &EVENTS_WITH_ID))?);
                        }
                        v
                    };
                    let Some(&(max_id, _)) = batch.last() else {
                        break;
                    };
                    read = batch.into_iter().map(|(_, e)| e).collect();
                    (&read, max_id)
                }
            };
            let (cells, touches) = split_touches(folder.touched(events));
            // The stored rows of every cell and vote the chunk touches, each
            // kind in one statement: the keys go in as one JSON array.
            let days = {
                let keys = serde_json::to_string(&cells).map_err(json_keys)?;
                let mut stmt = tx.prepare_cached(&format!(
                    "SELECT {} FROM json_each(?1) AS k CROSS JOIN risk_days AS d \
                     WHERE d.area = k.value ->> 0 AND d.category = k.value ->> 1 \
                     AND d.day = k.value ->> 2",
                    prefixed("d", DAY_COLS)
                ))?;
                stmt.query_map([keys], sqlite_day)?
                    .collect::<rusqlite::Result<Vec<_>>>()?
            };
            let votes = {
                let keys: Vec<(&str, &str, i32, i64)> = touches
                    .iter()
                    .map(|t| (t.area.as_str(), t.category.as_str(), t.day, t.report))
                    .collect();
                let keys = serde_json::to_string(&keys).map_err(json_keys)?;
                let mut stmt = tx.prepare_cached(
                    "SELECT v.area, v.category, v.day, v.report, v.points \
                     FROM json_each(?1) AS k CROSS JOIN risk_votes AS v \
                     WHERE v.area = k.value ->> 0 AND v.category = k.value ->> 1 \
                     AND v.day = k.value ->> 2 AND v.report = k.value ->> 3",
                )?;
                stmt.query_map([keys], |r| {
                    Ok(RiskVote {
                        area: r.get(0)?,
                        category: r.get(1)?,
                        day: r.get(2)?,
                        report: r.get(3)?,
                        points: r.get(4)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?
            };
            let w = folder
                .fold(events, days, votes)
                .map_err(|reason| StoreError::Corrupt {
                    table: "risk_days",
                    field: "area",
                    reason,
                })?;
            for d in &w.days {
                check_day(d)?;
            }
            {
                let mut stmt = tx.prepare_cached(&format!(
                    "INSERT INTO risk_days ({DAY_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) \
                     ON CONFLICT (area, category, day) DO UPDATE SET events = excluded.events, \
                     below = excluded.below, reports = excluded.reports, points = excluded.points, \
                     fatalities = excluded.fatalities, gold_sum = excluded.gold_sum, gold_n = excluded.gold_n, \
                     tone_sum = excluded.tone_sum, tone_n = excluded.tone_n, top = excluded.top"
                ))?;
                for d in &w.days {
                    stmt.execute(rusqlite::params![
                        d.area,
                        d.area_kind,
                        d.category,
                        d.day,
                        d.events,
                        d.below,
                        d.reports,
                        d.points,
                        d.fatalities,
                        d.gold_sum,
                        d.gold_n,
                        d.tone_sum,
                        d.tone_n,
                        d.top
                    ])?;
                }
            }
            {
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO risk_votes (area, category, day, report, points) VALUES (?1, ?2, ?3, ?4, ?5) \
                     ON CONFLICT (area, category, day, report) DO UPDATE SET points = excluded.points",
                )?;
                for v in &w.votes {
                    stmt.execute(rusqlite::params![
                        v.area, v.category, v.day, v.report, v.points
                    ])?;
                }
            }
            {
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO risk_coverage (day, events) VALUES (?1, ?2) \
                     ON CONFLICT (day) DO UPDATE SET events = risk_coverage.events + excluded.events",
                )?;
                for (d, n) in coverage_sums(&w.coverage) {
                    stmt.execute(rusqlite::params![d, n])?;
                }
            }
            out.events += events.len() as u64;
            out.days_written += w.days.len() as u64;
            last = max_id;
        }
        tx.execute(
            "INSERT INTO risk_fold (id, last_event, spec, folded_at) VALUES (1, ?1, ?2, ?3) \
             ON CONFLICT (id) DO UPDATE SET last_event = excluded.last_event, spec = excluded.spec, \
             folded_at = excluded.folded_at",
            rusqlite::params![last, spec, Utc::now().timestamp_micros()],
        )?;
        tx.commit()?;
        out.last_event = last;
        Ok(out)
    }
}

impl RiskStore for SqliteStore {
    fn fold_new_events(
        &mut self,
        folder: &mut dyn RiskFolder,
        chunk: usize,
    ) -> Result<FoldOutcome> {
        self.fold(folder, chunk, None)
    }

    fn fold_stored_events(
        &mut self,
        folder: &mut dyn RiskFolder,
        chunk: usize,
        stored: &[Event],
    ) -> Result<FoldOutcome> {
        self.fold(folder, chunk, Some(stored))
    }

    fn risk_days(&mut self, from: i32, to: i32, area: Option<&str>) -> Result<Vec<RiskDay>> {
        let (sql, filter) = match area {
            Some(a) => (
                format!(
                    "SELECT {DAY_COLS} FROM risk_days WHERE area = ?3 AND day >= ?1 AND day < ?2 \
                     ORDER BY area, category, day"
                ),
                Some(a),
            ),
            None => (
                format!(
                    "SELECT {DAY_COLS} FROM risk_days WHERE day >= ?1 AND day < ?2 \
                     ORDER BY area, category, day"
                ),
                None,
            ),
        };
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = match filter {
            Some(a) => stmt
                .query_map(rusqlite::params![from, to, a], sqlite_day)?
                .collect::<rusqlite::Result<Vec<_>>>()?,
            None => stmt
                .query_map(rusqlite::params![from, to], sqlite_day)?
                .collect::<rusqlite::Result<Vec<_>>>()?,
        };
        Ok(rows)
    }

    fn risk_coverage(&mut self, from: i32, to: i32) -> Result<Vec<(i32, i64)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT day, events FROM risk_coverage WHERE day >= ?1 AND day < ?2 ORDER BY day",
        )?;
        let rows = stmt
            .query_map(rusqlite::params![from, to], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn risk_state(&mut self) -> Result<Option<(i64, String)>> {
        Ok(self
            .conn
            .query_row(
                "SELECT last_event, spec FROM risk_fold WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }
}

impl RiskStore for PgStore {
    fn fold_new_events(
        &mut self,
        folder: &mut dyn RiskFolder,
        chunk: usize,
    ) -> Result<FoldOutcome> {
        let spec = folder.spec();
        let chunk = chunk.max(1) as i64;
        let mut tx = crate::unit::pg_write(&mut self.client, self.unit)?;
        // Waits for every open insert into events to commit and keeps new
        // ones (and other folds) out until this one commits: every id at or
        // below the new watermark is then committed and seen.
        tx.execute("LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE", &[])?;
        let state = tx
            .query_opt(
                "SELECT last_event, spec FROM risk_fold WHERE id = 1 FOR UPDATE",
                &[],
            )?
            .map(|r| -> Result<(i64, String)> { Ok((r.try_get(0)?, r.try_get(1)?)) })
            .transpose()?;
        let mut out = FoldOutcome::default();
        let mut last = match state {
            Some((l, s)) if s == spec => l,
            Some(_) => {
                for t in ["risk_days", "risk_votes", "risk_coverage"] {
                    tx.execute(&format!("DELETE FROM {t}"), &[])?;
                }
                out.rebuilt = true;
                0
            }
            None => 0,
        };
        let events_sql = events_after_sql(|n| format!("${n}"));
        let days_sql = format!(
            "SELECT {} FROM risk_days d JOIN unnest($1::text[], $2::text[], $3::int4[]) AS k(area, category, day) \
             ON d.area = k.area AND d.category = k.category AND d.day = k.day",
            prefixed("d", DAY_COLS)
        );
        loop {
            let rows = tx.query(&events_sql, &[&last, &chunk])?;
            let batch: Vec<(i64, Event)> = rows
                .iter()
                .map(|r| read_event_with_id(&Reader::new(r, &EVENTS_WITH_ID)))
                .collect::<Result<_>>()?;
            let Some(&(max_id, _)) = batch.last() else {
                break;
            };
            let events: Vec<Event> = batch.into_iter().map(|(_, e)| e).collect();
            let (cells, touches) = split_touches(folder.touched(&events));
            let (ca, cc, cd): (Vec<&str>, Vec<&str>, Vec<i32>) = (
                cells.iter().map(|c| c.0.as_str()).collect(),
                cells.iter().map(|c| c.1.as_str()).collect(),
                cells.iter().map(|c| c.2).collect(),
            );
            let days = tx
                .query(&days_sql, &[&ca, &cc, &cd])?
                .iter()
                .map(pg_day)
                .collect::<Result<Vec<_>>>()?;
            let (ta, tc, td, tr): (Vec<&str>, Vec<&str>, Vec<i32>, Vec<i64>) = (
                touches.iter().map(|t| t.area.as_str()).collect(),
                touches.iter().map(|t| t.category.as_str()).collect(),
                touches.iter().map(|t| t.day).collect(),
                touches.iter().map(|t| t.report).collect(),
            );
            let votes = tx
                .query(
                    "SELECT v.area, v.category, v.day, v.report, v.points FROM risk_votes v \
                     JOIN unnest($1::text[], $2::text[], $3::int4[], $4::int8[]) AS k(area, category, day, report) \
                     ON v.area = k.area AND v.category = k.category AND v.day = k.day AND v.report = k.report",
                    &[&ta, &tc, &td, &tr],
                )?
                .iter()
                .map(|r| {
                    Ok(RiskVote {
                        area: r.try_get(0)?,
                        category: r.try_get(1)?,
                        day: r.try_get(2)?,
                        report: r.try_get(3)?,
                        points: r.try_get(4)?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let w = folder
                .fold(&events, days, votes)
                .map_err(|reason| StoreError::Corrupt {
                    table: "risk_days",
                    field: "area",
                    reason,
                })?;
            for d in &w.days {
                check_day(d)?;
            }
            let col = |f: fn(&RiskDay) -> &str| -> Vec<&str> { w.days.iter().map(f).collect() };
            let int = |f: fn(&RiskDay) -> i64| -> Vec<i64> { w.days.iter().map(f).collect() };
            let real = |f: fn(&RiskDay) -> f64| -> Vec<f64> { w.days.iter().map(f).collect() };
            let (a, k, c, top) = (
                col(|d| &d.area),
                col(|d| &d.area_kind),
                col(|d| &d.category),
                col(|d| &d.top),
            );
            let day: Vec<i32> = w.days.iter().map(|d| d.day).collect();
            let (ev, be, re, fa, gn, tn) = (
                int(|d| d.events),
                int(|d| d.below),
                int(|d| d.reports),
                int(|d| d.fatalities),
                int(|d| d.gold_n),
                int(|d| d.tone_n),
            );
            let (po, gs, ts) = (
                real(|d| d.points),
                real(|d| d.gold_sum),
                real(|d| d.tone_sum),
            );
            tx.execute(
                &format!(
                    "INSERT INTO risk_days ({DAY_COLS}) SELECT * FROM unnest($1::text[], $2::text[], \
                     $3::text[], $4::int4[], $5::int8[], $6::int8[], $7::int8[], $8::float8[], \
                     $9::int8[], $10::float8[], $11::int8[], $12::float8[], $13::int8[], $14::text[]) \
                     ON CONFLICT (area, category, day) DO UPDATE SET events = excluded.events, \
                     below = excluded.below, reports = excluded.reports, points = excluded.points, \
                     fatalities = excluded.fatalities, gold_sum = excluded.gold_sum, gold_n = excluded.gold_n, \
                     tone_sum = excluded.tone_sum, tone_n = excluded.tone_n, top = excluded.top"
                ),
                &[
                    &a, &k, &c, &day, &ev, &be, &re, &po, &fa, &gs, &gn, &ts, &tn, &top,
                ],
            )?;
            let va: Vec<&str> = w.votes.iter().map(|v| v.area.as_str()).collect();
            let vc: Vec<&str> = w.votes.iter().map(|v| v.category.as_str()).collect();
            let vd: Vec<i32> = w.votes.iter().map(|v| v.day).collect();
            let vr: Vec<i64> = w.votes.iter().map(|v| v.report).collect();
            let vp: Vec<f64> = w.votes.iter().map(|v| v.points).collect();
            tx.execute(
                "INSERT INTO risk_votes (area, category, day, report, points) \
                 SELECT * FROM unnest($1::text[], $2::text[], $3::int4[], $4::int8[], $5::float8[]) \
                 ON CONFLICT (area, category, day, report) DO UPDATE SET points = excluded.points",
                &[&va, &vc, &vd, &vr, &vp],
            )?;
            let cov = coverage_sums(&w.coverage);
            let (cd, cn): (Vec<i32>, Vec<i64>) = (
                cov.keys().copied().collect(),
                cov.values().copied().collect(),
            );
            tx.execute(
                "INSERT INTO risk_coverage (day, events) SELECT * FROM unnest($1::int4[], $2::int8[]) \
                 ON CONFLICT (day) DO UPDATE SET events = risk_coverage.events + excluded.events",
                &[&cd, &cn],
            )?;
            out.events += events.len() as u64;
            out.days_written += w.days.len() as u64;
            last = max_id;
        }
        let now = row::micros(Utc::now());
        tx.execute(
            "INSERT INTO risk_fold (id, last_event, spec, folded_at) VALUES (1, $1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET last_event = excluded.last_event, spec = excluded.spec, \
             folded_at = excluded.folded_at",
            &[&last, &spec, &now],
        )?;
        tx.commit()?;
        out.last_event = last;
        Ok(out)
    }

    fn risk_days(&mut self, from: i32, to: i32, area: Option<&str>) -> Result<Vec<RiskDay>> {
        let order = "ORDER BY area COLLATE \"C\", category COLLATE \"C\", day";
        let rows = match area {
            Some(a) => self.client.query(
                &format!(
                    "SELECT {DAY_COLS} FROM risk_days WHERE area = $3 AND day >= $1 AND day < $2 {order}"
                ),
                &[&from, &to, &a],
            )?,
            None => self.client.query(
                &format!("SELECT {DAY_COLS} FROM risk_days WHERE day >= $1 AND day < $2 {order}"),
                &[&from, &to],
            )?,
        };
        rows.iter().map(pg_day).collect()
    }

    fn risk_coverage(&mut self, from: i32, to: i32) -> Result<Vec<(i32, i64)>> {
        let rows = self.client.query(
            "SELECT day, events FROM risk_coverage WHERE day >= $1 AND day < $2 ORDER BY day",
            &[&from, &to],
        )?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    fn risk_state(&mut self) -> Result<Option<(i64, String)>> {
        self.client
            .query_opt("SELECT last_event, spec FROM risk_fold WHERE id = 1", &[])?
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .transpose()
    }
}
