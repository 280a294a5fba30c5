//! What the sources stage keeps besides events: the state of each polled
//! feed (so `watch` resumes after a restart without re-fetching or
//! re-ingesting), the clusters of events that report one hazard or one
//! incident, and single quarantine records (to show and retry them).
//!
//! Feed state is one row per feed name, replaced whole on save. Merge links
//! are one row per member event, keyed on (source, source id), so a re-run
//! is idempotent and a member that moves to a larger cluster is updated in
//! place. A retried quarantine record that now reads is deleted; one that
//! still fails stays.

use crate::row::{self, Reader};
use crate::{PgStore, QuarantineRow, Result, SqliteStore, StoreError};
use chrono::{DateTime, Utc};
use farguard_model::EventId;

/// Where polling a feed stands.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FeedState {
    pub name: String,
    pub url: String,
    /// The last `ETag` the server sent, for `If-None-Match`.
    pub etag: Option<String>,
    /// The last `Last-Modified`, for `If-Modified-Since`.
    pub last_modified: Option<String>,
    /// The last item taken from an index (GDELT's lastupdate.txt: the export URL).
    pub last_key: Option<String>,
    pub last_ok_at: Option<DateTime<Utc>>,
    /// Consecutive failures (drives the backoff).
    pub failures: u32,
    /// Not before this time.
    pub next_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// One member of a cluster of events that report the same hazard or incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeLink {
    /// The cluster, named by its earliest member.
    pub cluster: EventId,
    pub event: EventId,
    /// Why this member is in the cluster.
    pub reason: String,
}

/// Storage for the sources stage.
pub trait FeedStore {
    fn feed_state(&mut self, name: &str) -> Result<Option<FeedState>>;
    /// Replaces the feed's state.
    fn save_feed_state(&mut self, s: &FeedState) -> Result<()>;
    /// Stores links idempotently; returns how many rows were new or changed.
    fn save_merges(&mut self, links: &[MergeLink]) -> Result<u64>;
    /// Every link of every cluster, clusters newest first (by their first
    /// member's id order within), at most `limit` clusters.
    fn merges(&mut self, limit: u32) -> Result<Vec<MergeLink>>;
    /// One quarantine record by id.
    fn quarantine_row(&mut self, id: i64) -> Result<Option<QuarantineRow>>;
    /// Deletes a quarantine record (after it was retried and read); true if it existed.
    fn drop_quarantined(&mut self, id: i64) -> Result<bool>;
}

pub(crate) const SQLITE_SCHEMA: &str = r#"
CREATE TABLE feed_state (
    name TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    last_key TEXT,
    last_ok_at INTEGER,
    failures INTEGER NOT NULL,
    next_at INTEGER,
    last_error TEXT
) STRICT;

CREATE TABLE event_merges (
    source TEXT NOT NULL,
    source_id TEXT NOT NULL,
    cluster_source TEXT NOT NULL,
    cluster_source_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    merged_at INTEGER NOT NULL,
    PRIMARY KEY (source, source_id)
) STRICT;
CREATE INDEX event_merges_cluster ON event_merges (cluster_source, cluster_source_id);
"#;

pub(crate) const POSTGRES_SCHEMA: &str = r#"
CREATE TABLE feed_state (
    name TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    last_key TEXT,
    last_ok_at TIMESTAMPTZ,
    failures BIGINT NOT NULL,
    next_at TIMESTAMPTZ,
    last_error TEXT
);

CREATE TABLE event_merges (
    source TEXT NOT NULL,
    source_id TEXT NOT NULL,
    cluster_source TEXT NOT NULL,
    cluster_source_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    merged_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source, source_id)
);
CREATE INDEX event_merges_cluster ON event_merges (cluster_source, cluster_source_id);
"#;

const STATE_COLS: &str =
    "name, url, etag, last_modified, last_key, last_ok_at, failures, next_at, last_error";

fn no_nul(table: &'static str, field: &'static str, s: &str) -> Result<()> {
    if s.contains('\0') {
        return Err(StoreError::Unstorable {
            table,
            field,
            reason: "text holds a NUL character".into(),
        });
    }
    Ok(())
}

fn check_state(s: &FeedState) -> Result<()> {
    for (f, v) in [
        ("name", Some(&s.name)),
        ("url", Some(&s.url)),
        ("etag", s.etag.as_ref()),
        ("last_modified", s.last_modified.as_ref()),
        ("last_key", s.last_key.as_ref()),
        ("last_error", s.last_error.as_ref()),
    ] {
        if let Some(v) = v {
            no_nul("feed_state", f, v)?;
        }
    }
    Ok(())
}

fn check_link(l: &MergeLink) -> Result<()> {
    for (f, v) in [
        ("source_id", &l.event.source_id),
        ("cluster_source_id", &l.cluster.source_id),
        ("reason", &l.reason),
    ] {
        no_nul("event_merges", f, v)?;
    }
    Ok(())
}

fn corrupt(field: &'static str, reason: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        table: "feed_state",
        field,
        reason: reason.to_string(),
    }
}

fn micros_to_time(us: Option<i64>, field: &'static str) -> Result<Option<DateTime<Utc>>> {
    us.map(|u| {
        DateTime::from_timestamp_micros(u)
            .ok_or_else(|| corrupt(field, format!("{u} is out of range")))
    })
    .transpose()
}

fn failures(n: i64) -> Result<u32> {
    u32::try_from(n).map_err(|_| corrupt("failures", format!("{n} is not a count")))
}

impl FeedStore for SqliteStore {
    fn feed_state(&mut self, name: &str) -> Result<Option<FeedState>> {
        let sql = format!("SELECT {STATE_COLS} FROM feed_state WHERE name = ?1");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query([name])?;
        let Some(r) = rows.next()? else {
            return Ok(None);
        };
        Ok(Some(FeedState {
            name: r.get(0)?,
            url: r.get(1)?,
            etag: r.get(2)?,
            last_modified: r.get(3)?,
            last_key: r.get(4)?,
            last_ok_at: micros_to_time(r.get(5)?, "last_ok_at")?,
            failures: failures(r.get(6)?)?,
            next_at: micros_to_time(r.get(7)?, "next_at")?,
            last_error: r.get(8)?,
        }))
    }

    fn save_feed_state(&mut self, s: &FeedState) -> Result<()> {
        check_state(s)?;
        let sql = format!(
            "INSERT INTO feed_state ({STATE_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
             ON CONFLICT (name) DO UPDATE SET url = excluded.url, etag = excluded.etag, \
             last_modified = excluded.last_modified, last_key = excluded.last_key, \
             last_ok_at = excluded.last_ok_at, failures = excluded.failures, \
             next_at = excluded.next_at, last_error = excluded.last_error"
        );
        self.conn.prepare_cached(&sql)?.execute(rusqlite::params![
            s.name,
            s.url,
            s.etag,
            s.last_modified,
            s.last_key,
            s.last_ok_at.map(|t| t.timestamp_micros()),
            i64::from(s.failures),
            s.next_at.map(|t| t.timestamp_micros()),
            s.last_error,
        ])?;
        Ok(())
    }

    fn save_merges(&mut self, links: &[MergeLink]) -> Result<u64> {
        for l in links {
            check_link(l)?;
        }
        let now = Utc::now().timestamp_micros();
        let tx = crate::unit::sqlite_write(&mut self.conn)?;
        let mut changed = 0u64;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO event_merges (source, source_id, cluster_source, cluster_source_id, reason, merged_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (source, source_id) DO UPDATE SET \
                 cluster_source = excluded.cluster_source, cluster_source_id = excluded.cluster_source_id, \
                 reason = excluded.reason, merged_at = excluded.merged_at \
                 WHERE event_merges.cluster_source <> excluded.cluster_source \
                 OR event_merges.cluster_source_id <> excluded.cluster_source_id \
                 OR event_merges.reason <> excluded.reason",
            )?;
            for l in links {
                changed += stmt.execute(rusqlite::params![
                    l.event.source,
                    l.event.source_id,
                    l.cluster.source,
                    l.cluster.source_id,
                    l.reason,
                    now
                ])? as u64;
            }
        }
        tx.commit()?;
        Ok(changed)
    }

    fn merges(&mut self, limit: u32) -> Result<Vec<MergeLink>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT m.cluster_source, m.cluster_source_id, m.source, m.source_id, m.reason FROM event_merges m \
             JOIN (SELECT cluster_source, cluster_source_id, max(merged_at) AS at FROM event_merges \
                   GROUP BY cluster_source, cluster_source_id \
                   ORDER BY at DESC, cluster_source, cluster_source_id LIMIT ?1) c \
             ON c.cluster_source = m.cluster_source AND c.cluster_source_id = m.cluster_source_id \
             ORDER BY c.at DESC, m.cluster_source, m.cluster_source_id, \
             (m.source = m.cluster_source AND m.source_id = m.cluster_source_id) DESC, m.source, m.source_id",
        )?;
        let rows = stmt.query_map([i64::from(limit)], |r| {
            Ok(MergeLink {
                cluster: EventId::new(r.get::<_, String>(0)?, r.get::<_, String>(1)?),
                event: EventId::new(r.get::<_, String>(2)?, r.get::<_, String>(3)?),
                reason: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn quarantine_row(&mut self, id: i64) -> Result<Option<QuarantineRow>> {
        let t = &row::QUARANTINE;
        let sql = format!("{} WHERE id = ?1", t.select());
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query([id])?;
        match rows.next()? {
            Some(r) => Ok(Some(row::read_quarantine(&Reader::new(r, t))?)),
            None => Ok(None),
        }
    }

    fn drop_quarantined(&mut self, id: i64) -> Result<bool> {
        Ok(self
            .conn
            .execute("DELETE FROM quarantine WHERE id = ?1", [id])?
            > 0)
    }
}

impl FeedStore for PgStore {
    fn feed_state(&mut self, name: &str) -> Result<Option<FeedState>> {
        let sql = format!("SELECT {STATE_COLS} FROM feed_state WHERE name = $1");
        let Some(r) = self.client.query_opt(&sql, &[&name])? else {
            return Ok(None);
        };
        Ok(Some(FeedState {
            name: r.try_get(0)?,
            url: r.try_get(1)?,
            etag: r.try_get(2)?,
            last_modified: r.try_get(3)?,
            last_key: r.try_get(4)?,
            last_ok_at: r.try_get(5)?,
            failures: failures(r.try_get(6)?)?,
            next_at: r.try_get(7)?,
            last_error: r.try_get(8)?,
        }))
    }

    fn save_feed_state(&mut self, s: &FeedState) -> Result<()> {
        check_state(s)?;
        let sql = format!(
            "INSERT INTO feed_state ({STATE_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (name) DO UPDATE SET url = excluded.url, etag = excluded.etag, \
             last_modified = excluded.last_modified, last_key = excluded.last_key, \
             last_ok_at = excluded.last_ok_at, failures = excluded.failures, \
             next_at = excluded.next_at, last_error = excluded.last_error"
        );
        let f = i64::from(s.failures);
        let (ok_at, next_at) = (s.last_ok_at.map(row::micros), s.next_at.map(row::micros));
        self.client.execute(
            &sql,
            &[
                &s.name,
                &s.url,
                &s.etag,
                &s.last_modified,
                &s.last_key,
                &ok_at,
                &f,
                &next_at,
                &s.last_error,
            ],
        )?;
        Ok(())
    }

    fn save_merges(&mut self, links: &[MergeLink]) -> Result<u64> {
        for l in links {
            check_link(l)?;
        }
        let now = row::micros(Utc::now());
        let mut tx = crate::unit::pg_write(&mut self.client, self.unit)?;
        let stmt = tx.prepare(
            "INSERT INTO event_merges (source, source_id, cluster_source, cluster_source_id, reason, merged_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (source, source_id) DO UPDATE SET \
             cluster_source = excluded.cluster_source, cluster_source_id = excluded.cluster_source_id, \
             reason = excluded.reason, merged_at = excluded.merged_at \
             WHERE event_merges.cluster_source <> excluded.cluster_source \
             OR event_merges.cluster_source_id <> excluded.cluster_source_id \
             OR event_merges.reason <> excluded.reason",
        )?;
        let mut changed = 0u64;
        for l in links {
            changed += tx.execute(
                &stmt,
                &[
                    &l.event.source,
                    &l.event.source_id,
                    &l.cluster.source,
                    &l.cluster.source_id,
                    &l.reason,
                    &now,
                ],
            )?;
        }
        tx.commit()?;
        Ok(changed)
    }

    fn merges(&mut self, limit: u32) -> Result<Vec<MergeLink>> {
        let rows = self.client.query(
            "SELECT m.cluster_source, m.cluster_source_id, m.source, m.source_id, m.reason FROM event_merges m \
             JOIN (SELECT cluster_source, cluster_source_id, max(merged_at) AS at FROM event_merges \
                   GROUP BY cluster_source, cluster_source_id \
                   ORDER BY at DESC, cluster_source COLLATE \"C\", cluster_source_id COLLATE \"C\" LIMIT $1) c \
             ON c.cluster_source = m.cluster_source AND c.cluster_source_id = m.cluster_source_id \
             ORDER BY c.at DESC, m.cluster_source COLLATE \"C\", m.cluster_source_id COLLATE \"C\", \
             (m.source = m.cluster_source AND m.source_id = m.cluster_source_id) DESC, \
             m.source COLLATE \"C\", m.source_id COLLATE \"C\"",
            &[&i64::from(limit)],
        )?;
        rows.iter()
            .map(|r| {
                Ok(MergeLink {
                    cluster: EventId::new(r.try_get::<_, String>(0)?, r.try_get::<_, String>(1)?),
                    event: EventId::new(r.try_get::<_, String>(2)?, r.try_get::<_, String>(3)?),
                    reason: r.try_get(4)?,
                })
            })
            .collect()
    }

    fn quarantine_row(&mut self, id: i64) -> Result<Option<QuarantineRow>> {
        let t = &row::QUARANTINE;
        let sql = format!("{} WHERE id = $1", t.select());
        match self.client.query_opt(&sql, &[&id])? {
            Some(r) => Ok(Some(row::read_quarantine(&Reader::new(&r, t))?)),
            None => Ok(None),
        }
    }

    fn drop_quarantined(&mut self, id: i64) -> Result<bool> {
        Ok(self
            .client
            .execute("DELETE FROM quarantine WHERE id = $1", &[&id])?
            > 0)
    }
}
