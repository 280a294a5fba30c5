//! The audit log: every write, hash-chained so that an altered, removed or
//! reordered entry is detected.
//!
//! Entry `n` stores `hash_n = SHA-256(hash_{n-1} ‖ seq ‖ at ‖ actor ‖ action ‖
//! target ‖ before ‖ after)` with every field length-prefixed (so no two
//! different entries encode the same bytes) and `hash_0` the all-zero string.
//! Appending reads the head and inserts the next entry in one transaction
//! that holds the write lock (SQLite `BEGIN IMMEDIATE`, a PostgreSQL advisory
//! lock), so concurrent writers cannot fork the chain. [`verify`] recomputes
//! the chain; cutting entries off the *end* leaves a valid shorter chain,
//! which is why [`AuditVerdict::head`] exists: anchor it outside the database
//! (print it, mail it) and pass it back as `expect_head`.

use crate::{PgStore, Result, SqliteStore, StoreError};
use chrono::{DateTime, Utc};
use rusqlite::OptionalExtension;
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Key for the PostgreSQL advisory lock held while appending ("fgaudit").
const APPEND_LOCK: i64 = 0x0066_6761_7564_6974;

/// What is being recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub at: DateTime<Utc>,
    /// Who: `user:<id>`, `cli:<os user>`, `anonymous`.
    pub actor: String,
    /// What: `user.create`, `site.upsert`, `token.create`…
    pub action: String,
    /// The object written (`site:PORT-1`, `user:ab12…`).
    pub target: String,
    /// JSON of the object before the write (`None` when it is new).
    pub before: Option<String>,
    /// JSON of the object after the write (`None` when it was removed).
    pub after: Option<String>,
}

/// A stored entry with its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub seq: i64,
    pub record: AuditRecord,
    pub prev_hash: String,
    pub hash: String,
}

/// The outcome of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditVerdict {
    pub entries: u64,
    /// Hash of the last entry (or [`GENESIS`] for an empty log).
    pub head: String,
    /// Every problem found, in chain order; empty when the log is intact.
    pub problems: Vec<AuditProblem>,
}

/// One break in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditProblem {
    pub seq: i64,
    /// `missing`, `altered`, `reordered` or `truncated`.
    pub kind: &'static str,
    pub detail: String,
}

/// Appending and reading the audit log.
pub trait AuditStore {
    /// Appends one entry at the head of the chain and returns it.
    fn append_audit(&mut self, record: &AuditRecord) -> Result<AuditEntry>;
    /// Entries with `seq > after`, oldest first, at most `limit`.
    fn audit_entries(&mut self, after: i64, limit: u32) -> Result<Vec<AuditEntry>>;
    /// The newest `limit` entries, newest first.
    fn audit_recent(&mut self, limit: u32) -> Result<Vec<AuditEntry>>;
}

/// The chain hash of one entry.
pub fn entry_hash(prev_hash: &str, seq: i64, r: &AuditRecord) -> String {
    let mut h = Sha256::new();
    let mut field = |b: &[u8]| {
        h.update((b.len() as u64).to_be_bytes());
        h.update(b);
    };
    field(prev_hash.as_bytes());
    field(&seq.to_be_bytes());
    field(&r.at.timestamp_micros().to_be_bytes());
    field(r.actor.as_bytes());
    field(r.action.as_bytes());
    field(r.target.as_bytes());
    for v in [&r.before, &r.after] {
        match v {
            None => field(&[0]),
            Some(s) => {
                field(&[1]);
                field(s.as_bytes());
            }
        }
    }
    hex(&h.finalize())
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(D[usize::from(b >> 4)]));
        s.push(char::from(D[usize::from(b & 15)]));
    }
    s
}

/// Walks the whole log and reports every break: a gap in the sequence
/// (`missing`), an entry whose content no longer matches its hash
/// (`altered`), an entry that does not follow its predecessor (`reordered`
/// — also what a removed entry looks like when the sequence was renumbered),
/// and with `expect_head` an anchored head no longer present (`truncated`).
pub fn verify(store: &mut dyn AuditStore, expect_head: Option<&str>) -> Result<AuditVerdict> {
    const PAGE: u32 = 1000;
    let mut problems = Vec::new();
    let mut prev_hash = GENESIS.to_string();
    let mut prev_seq = 0i64;
    let mut entries = 0u64;
    let mut seen_expected = expect_head.is_none_or(|h| h == GENESIS);
    loop {
        let page = store.audit_entries(prev_seq, PAGE)?;
        let Some(last) = page.last() else { break };
        let next_after = last.seq;
        for e in page {
            entries += 1;
            if e.seq != prev_seq + 1 {
                problems.push(AuditProblem {
                    seq: e.seq,
                    kind: "missing",
                    detail: format!(
                        "entries {}..{} are missing before entry {}",
                        prev_seq + 1,
                        e.seq - 1,
                        e.seq
                    ),
                });
            }
            let recomputed = entry_hash(&e.prev_hash, e.seq, &e.record);
            if recomputed != e.hash {
                problems.push(AuditProblem {
                    seq: e.seq,
                    kind: "altered",
                    detail: format!(
                        "entry {} ({} {} by {}) does not match its hash: its content was changed",
                        e.seq, e.record.action, e.record.target, e.record.actor
                    ),
                });
            }
            if e.prev_hash != prev_hash {
                problems.push(AuditProblem {
                    seq: e.seq,
                    kind: "reordered",
                    detail: format!(
                        "entry {} does not follow the entry before it (prev_hash {} but the previous entry's hash is {}): entries were removed, inserted or reordered",
                        e.seq,
                        short(&e.prev_hash),
                        short(&prev_hash)
                    ),
                });
            }
            if expect_head == Some(e.hash.as_str()) {
                seen_expected = true;
            }
            prev_hash = e.hash;
            prev_seq = e.seq;
        }
        prev_seq = next_after;
    }
    if !seen_expected {
        problems.push(AuditProblem {
            seq: prev_seq,
            kind: "truncated",
            detail: format!(
                "the anchored head {} is not in the log: entries after it were cut off or the log was rewritten",
                short(expect_head.unwrap_or_default())
            ),
        });
    }
    Ok(AuditVerdict {
        entries,
        head: prev_hash,
        problems,
    })
}

fn short(h: &str) -> &str {
    h.get(..12).unwrap_or(h)
}

fn check(r: &AuditRecord) -> Result<()> {
    for (field, v) in [
        ("actor", Some(&r.actor)),
        ("action", Some(&r.action)),
        ("target", Some(&r.target)),
        ("before", r.before.as_ref()),
        ("after", r.after.as_ref()),
    ] {
        if v.is_some_and(|s| s.contains('\0')) {
            return Err(StoreError::Unstorable {
                table: "audit_log",
                field,
                reason: "text contains a NUL character".into(),
            });
        }
    }
    Ok(())
}

const COLS: &str = "seq, at, actor, action, target, before, after, prev_hash, hash";

const INSERT_PG: &str = "INSERT INTO audit_log (seq, at, actor, action, target, before, after, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

// --- SQLite ---------------------------------------------------------------

type RawEntry = (
    i64,
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
);

fn sqlite_raw(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawEntry> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
    ))
}

fn sqlite_entry(e: RawEntry) -> Result<AuditEntry> {
    let at = DateTime::from_timestamp_micros(e.1).ok_or_else(|| StoreError::Corrupt {
        table: "audit_log",
        field: "at",
        reason: format!("{} µs is out of range", e.1),
    })?;
    Ok(AuditEntry {
        seq: e.0,
        record: AuditRecord {
            at,
            actor: e.2,
            action: e.3,
            target: e.4,
            before: e.5,
            after: e.6,
        },
        prev_hash: e.7,
        hash: e.8,
    })
}

impl AuditStore for SqliteStore {
    fn append_audit(&mut self, r: &AuditRecord) -> Result<AuditEntry> {
        check(r)?;
        let r = AuditRecord {
            at: crate::row::micros(r.at),
            ..r.clone()
        };
        let tx = crate::unit::sqlite_write(&mut self.conn)?;
        let head: Option<(i64, String)> = tx
            .prepare_cached("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")?
            .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        let (seq, prev_hash) = head.map_or((1, GENESIS.to_string()), |(s, h)| (s + 1, h));
        let hash = entry_hash(&prev_hash, seq, &r);
        tx.prepare_cached(&format!(
            "INSERT INTO audit_log ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
        ))?
        .execute(rusqlite::params![
            seq,
            r.at.timestamp_micros(),
            r.actor,
            r.action,
            r.target,
            r.before,
            r.after,
            prev_hash,
            hash
        ])?;
        tx.commit()?;
        Ok(AuditEntry {
            seq,
            record: r,
            prev_hash,
            hash,
        })
    }

    fn audit_entries(&mut self, after: i64, limit: u32) -> Result<Vec<AuditEntry>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLS} FROM audit_log WHERE seq > ?1 ORDER BY seq LIMIT ?2"
        ))?;
        let raw = stmt
            .query_map(rusqlite::params![after, i64::from(limit)], sqlite_raw)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        raw.into_iter().map(sqlite_entry).collect()
    }

    fn audit_recent(&mut self, limit: u32) -> Result<Vec<AuditEntry>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLS} FROM audit_log ORDER BY seq DESC LIMIT ?1"
        ))?;
        let raw = stmt
            .query_map([i64::from(limit)], sqlite_raw)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        raw.into_iter().map(sqlite_entry).collect()
    }
}

// --- PostgreSQL -----------------------------------------------------------

fn pg_entry(r: &postgres::Row) -> Result<AuditEntry> {
    Ok(AuditEntry {
        seq: r.try_get(0)?,
        record: AuditRecord {
            at: r.try_get(1)?,
            actor: r.try_get(2)?,
            action: r.try_get(3)?,
            target: r.try_get(4)?,
            before: r.try_get(5)?,
            after: r.try_get(6)?,
        },
        prev_hash: r.try_get(7)?,
        hash: r.try_get(8)?,
    })
}

impl AuditStore for PgStore {
    fn append_audit(&mut self, r: &AuditRecord) -> Result<AuditEntry> {
        check(r)?;
        let r = AuditRecord {
            at: crate::row::micros(r.at),
            ..r.clone()
        };
        let PgStore {
            client,
            unit,
            prepared,
            ..
        } = self;
        let mut tx = crate::unit::pg_write(client, *unit)?;
        // Prepared once per connection (three statements on every write).
        let mut stmt =
            |tx: &mut crate::unit::PgTx<'_>, sql: &str| prepared.get(sql, |q| tx.prepare(q));
        let lock = stmt(&mut tx, "SELECT pg_advisory_xact_lock($1)")?;
        let read_head = stmt(
            &mut tx,
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
        )?;
        let insert = stmt(&mut tx, INSERT_PG)?;
        tx.execute(&lock, &[&APPEND_LOCK])?;
        let head = tx.query_opt(&read_head, &[])?;
        let (seq, prev_hash) = match head {
            None => (1, GENESIS.to_string()),
            Some(row) => (row.try_get::<_, i64>(0)? + 1, row.try_get::<_, String>(1)?),
        };
        let hash = entry_hash(&prev_hash, seq, &r);
        tx.execute(
            &insert,
            &[
                &seq, &r.at, &r.actor, &r.action, &r.target, &r.before, &r.after, &prev_hash, &hash,
            ],
        )?;
        tx.commit()?;
        Ok(AuditEntry {
            seq,
            record: r,
            prev_hash,
            hash,
        })
    }

    fn audit_entries(&mut self, after: i64, limit: u32) -> Result<Vec<AuditEntry>> {
        self.client
            .query(
                &format!("SELECT {COLS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2"),
                &[&after, &i64::from(limit)],
            )?
            .iter()
            .map(pg_entry)
            .collect()
    }

    fn audit_recent(&mut self, limit: u32) -> Result<Vec<AuditEntry>> {
        self.client
            .query(
                &format!("SELECT {COLS} FROM audit_log ORDER BY seq DESC LIMIT $1"),
                &[&i64::from(limit)],
            )?
            .iter()
            .map(pg_entry)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(action: &str) -> AuditRecord {
        AuditRecord {
            at: DateTime::from_timestamp_micros(1_700_000_000_000_000).unwrap(),
            actor: "user:a".into(),
            action: action.into(),
            target: "site:x".into(),
            before: None,
            after: Some("{}".into()),
        }
    }

    #[test]
    fn length_prefixes_keep_fields_apart() {
        let mut a = rec("ab");
        a.target = "c".into();
        let mut b = rec("a");
        b.target = "bc".into();
        assert_ne!(entry_hash(GENESIS, 1, &a), entry_hash(GENESIS, 1, &b));
        let mut none = rec("x");
        none.after = None;
        let mut empty = rec("x");
        empty.after = Some(String::new());
        assert_ne!(
            entry_hash(GENESIS, 1, &none),
            entry_hash(GENESIS, 1, &empty)
        );
    }

    #[test]
    fn hex_is_lower_case_two_digits_a_byte() {
        assert_eq!(hex(&[0, 15, 255]), "000fff");
    }
}
