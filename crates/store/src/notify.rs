//! The durable outbox and the check-in ledger: the store side of `notify`.
//!
//! Tables: `alerts` (one composed alert and its CAP document as issued),
//! `outbox` (one row per (alert, recipient, channel), unique on its
//! idempotency key), `outbox_history` (every try and its outcome),
//! `checkin_tokens` (credentials by SHA-256 only), `checkins` (one
//! accountability row per (scope, recipient)) and `checkin_answers` (every
//! answer recorded). Queueing an alert writes all of it in one transaction,
//! so an alert is either fully queued or not at all; every state change of
//! an outbox row commits together with its history line. Claims take a lease
//! (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so several runners share the work);
//! a row whose lease ended is claimed again and its history says so.
//!
//! The SQL is written once with `$n` parameters; SQLite runs it with `?n`.

use crate::row::{Cell, Reader, Table, Val, micros};
use crate::{PgStore, Result, SqliteStore, StoreError};
use chrono::{DateTime, Utc};
use farguard_model::{
    AlertRecord, CapStatus, ChannelKind, CheckinState, CheckinStatus, CheckinToken, Delivery,
    DeliveryAttempt, DeliveryState, Level, MsgType,
};
use std::borrow::Cow;

/// The migration's SQL, SQLite dialect (appended to the list as one version).
pub(crate) const SQLITE_SCHEMA: &str = r#"
CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    scope TEXT NOT NULL,
    incident TEXT,
    event TEXT,
    sent INTEGER NOT NULL,
    status TEXT NOT NULL,
    msg_type TEXT NOT NULL,
    level INTEGER NOT NULL,
    category TEXT NOT NULL,
    headline TEXT NOT NULL,
    recipients INTEGER NOT NULL,
    cap_xml TEXT NOT NULL,
    reason TEXT NOT NULL
) STRICT;
CREATE INDEX alerts_incident ON alerts (incident, sent);
CREATE INDEX alerts_scope ON alerts (scope);

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    alert TEXT NOT NULL,
    scope TEXT NOT NULL,
    recipient TEXT NOT NULL,
    channel TEXT NOT NULL,
    address TEXT NOT NULL,
    language TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_at INTEGER NOT NULL,
    lease_until INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    sent_at INTEGER
) STRICT;
CREATE INDEX outbox_due ON outbox (state, next_at);
CREATE INDEX outbox_recipient ON outbox (scope, recipient);
CREATE INDEX outbox_alert ON outbox (alert);

CREATE TABLE outbox_history (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    at INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL
) STRICT;
CREATE INDEX outbox_history_key ON outbox_history (key);

CREATE TABLE checkin_tokens (
    hash BLOB PRIMARY KEY,
    scope TEXT NOT NULL,
    recipient TEXT NOT NULL,
    kind TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;

CREATE TABLE checkins (
    scope TEXT NOT NULL,
    recipient TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    message TEXT,
    lat REAL,
    lon REAL,
    answered_at INTEGER,
    PRIMARY KEY (scope, recipient)
) STRICT;

CREATE TABLE checkin_answers (
    id INTEGER PRIMARY KEY,
    scope TEXT NOT NULL,
    recipient TEXT NOT NULL,
    at INTEGER NOT NULL,
    status TEXT NOT NULL,
    message TEXT,
    lat REAL,
    lon REAL
) STRICT;
CREATE INDEX checkin_answers_who ON checkin_answers (scope, recipient);
"#;

/// The same tables in PostgreSQL.
pub(crate) const POSTGRES_SCHEMA: &str = r#"
CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    scope TEXT NOT NULL,
    incident TEXT,
    event TEXT,
    sent TIMESTAMPTZ NOT NULL,
    status TEXT NOT NULL,
    msg_type TEXT NOT NULL,
    level BIGINT NOT NULL,
    category TEXT NOT NULL,
    headline TEXT NOT NULL,
    recipients BIGINT NOT NULL,
    cap_xml TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX alerts_incident ON alerts (incident, sent);
CREATE INDEX alerts_scope ON alerts (scope);

CREATE TABLE outbox (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    alert TEXT NOT NULL,
    scope TEXT NOT NULL,
    recipient TEXT NOT NULL,
    channel TEXT NOT NULL,
    address TEXT NOT NULL,
    language TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_at TIMESTAMPTZ NOT NULL,
    lease_until TIMESTAMPTZ,
    last_error TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    sent_at TIMESTAMPTZ
);
CREATE INDEX outbox_due ON outbox (state, next_at);
CREATE INDEX outbox_recipient ON outbox (scope, recipient);
CREATE INDEX outbox_alert ON outbox (alert);

CREATE TABLE outbox_history (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX outbox_history_key ON outbox_history (key);

CREATE TABLE checkin_tokens (
    hash BYTEA PRIMARY KEY,
    scope TEXT NOT NULL,
    recipient TEXT NOT NULL,
    kind TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE checkins (
    scope TEXT NOT NULL,
    recipient TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    message TEXT,
    lat DOUBLE PRECISION,
    lon DOUBLE PRECISION,
    answered_at TIMESTAMPTZ,
    PRIMARY KEY (scope, recipient)
);

CREATE TABLE checkin_answers (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    scope TEXT NOT NULL,
    recipient TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    status TEXT NOT NULL,
    message TEXT,
    lat DOUBLE PRECISION,
    lon DOUBLE PRECISION
);
CREATE INDEX checkin_answers_who ON checkin_answers (scope, recipient);
"#;

/// What queueing an alert did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueCounts {
    /// The alert record was new (false: it was already stored; nothing else changes).
    pub alert_new: bool,
    /// New outbox records ready to send.
    pub queued: u64,
    /// New outbox records dead at composition (unusable contact), with their reason.
    pub dead: u64,
    /// Records whose key was already in the outbox.
    pub duplicates: u64,
    pub tokens: u64,
    /// New accountability rows (existing ones keep their answers).
    pub people: u64,
}

/// Outbox rows per (channel, state).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxCount {
    pub channel: ChannelKind,
    pub state: DeliveryState,
    pub count: u64,
}

/// The outbox and the check-in ledger.
pub trait NotifyStore {
    /// Stores the alert, its deliveries, check-in credentials and initial
    /// accountability rows in one transaction. Idempotent: deliveries are
    /// unique on their key, accountability rows on (scope, recipient). A
    /// credential hash that already exists fails the whole call (regenerate
    /// and retry; at 50+ bits this is a once-in-millions event).
    fn queue_alert(
        &mut self,
        alert: &AlertRecord,
        deliveries: &[Delivery],
        tokens: &[CheckinToken],
        states: &[CheckinState],
    ) -> Result<QueueCounts>;
    fn alert(&mut self, id: &str) -> Result<Option<AlertRecord>>;
    /// Alerts, oldest first; only the incident's with `Some`.
    fn alerts(&mut self, incident: Option<&str>) -> Result<Vec<AlertRecord>>;

    /// Claims up to `limit` due rows (see `farguard_notify::outbox`).
    fn claim_deliveries(
        &mut self,
        now: DateTime<Utc>,
        limit: u32,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<Delivery>>;
    fn delivery_sent(
        &mut self,
        id: i64,
        attempts: u32,
        at: DateTime<Utc>,
        detail: &str,
    ) -> Result<()>;
    fn delivery_retry(
        &mut self,
        id: i64,
        attempts: u32,
        next_at: DateTime<Utc>,
        error: &str,
    ) -> Result<()>;
    fn delivery_dead(
        &mut self,
        id: i64,
        attempts: u32,
        at: DateTime<Utc>,
        error: &str,
    ) -> Result<()>;
    /// Earliest `next_at` of a pending row or lease end of a sending row.
    fn next_due(&mut self) -> Result<Option<DateTime<Utc>>>;
    /// Outbox rows by id; only one alert's with `Some`.
    fn deliveries(&mut self, alert: Option<&str>, limit: u32) -> Result<Vec<Delivery>>;
    fn delivery_history(&mut self, key: &str) -> Result<Vec<DeliveryAttempt>>;
    fn outbox_counts(&mut self, alert: Option<&str>) -> Result<Vec<OutboxCount>>;

    fn checkin_token(&mut self, hash: &[u8; 32]) -> Result<Option<CheckinToken>>;
    fn checkin_state(&mut self, scope: &str, recipient: &str) -> Result<Option<CheckinState>>;
    /// Stores a decided answer and appends it to the answer history.
    fn record_checkin(&mut self, state: &CheckinState) -> Result<()>;
    /// Everyone accountable in a scope, by recipient id, with `reached_at`.
    fn checkin_states(&mut self, scope: &str) -> Result<Vec<CheckinState>>;
}

// --- codec ----------------------------------------------------------------

static ALERTS: Table = Table {
    name: "alerts",
    cols: &[
        "id",
        "scope",
        "incident",
        "event",
        "sent",
        "status",
        "msg_type",
        "level",
        "category",
        "headline",
        "recipients",
        "cap_xml",
        "reason",
    ],
    conflict: &["id"],
    read_extra: &[],
};

static OUTBOX: Table = Table {
    name: "outbox",
    cols: &[
        "key",
        "alert",
        "scope",
        "recipient",
        "channel",
        "address",
        "language",
        "subject",
        "body",
        "state",
        "attempts",
        "next_at",
        "lease_until",
        "last_error",
        "created_at",
        "sent_at",
    ],
    conflict: &["key"],
    read_extra: &["id"],
};

static HISTORY: Table = Table {
    name: "outbox_history",
    cols: &["key", "at", "outcome", "detail"],
    conflict: &[],
    read_extra: &[],
};

static TOKENS: Table = Table {
    name: "checkin_tokens",
    cols: &[
        "hash",
        "scope",
        "recipient",
        "kind",
        "created_at",
        "expires_at",
    ],
    conflict: &["hash"],
    read_extra: &[],
};

static CHECKINS: Table = Table {
    name: "checkins",
    cols: &[
        "scope",
        "recipient",
        "name",
        "status",
        "message",
        "lat",
        "lon",
        "answered_at",
    ],
    conflict: &["scope", "recipient"],
    read_extra: &["reached_at"],
};

fn t(s: &str) -> Val<'_> {
    Val::Text(Some(Cow::Borrowed(s)))
}
fn ot(s: Option<&str>) -> Val<'_> {
    Val::Text(s.map(Cow::Borrowed))
}
fn i(v: i64) -> Val<'static> {
    Val::Int(Some(v))
}
fn tm(v: DateTime<Utc>) -> Val<'static> {
    Val::Time(micros(v))
}
fn otm(v: Option<DateTime<Utc>>) -> Val<'static> {
    match v {
        Some(v) => tm(v),
        // A NULL time binds as a NULL integer (SQLite) / typed NULL (PostgreSQL, see pg_param).
        None => Val::Int(None),
    }
}

fn nul_check(table: &'static Table, vals: &[Val<'_>]) -> Result<()> {
    for (n, v) in vals.iter().enumerate() {
        if let Val::Text(Some(s)) = v
            && s.contains('\0')
        {
            return Err(StoreError::Unstorable {
                table: table.name,
                field: table.cols.get(n).copied().unwrap_or("?"),
                reason: "text contains a NUL character, which PostgreSQL cannot store".into(),
            });
        }
    }
    Ok(())
}

fn alert_vals(a: &AlertRecord) -> Result<Vec<Val<'_>>> {
    let v = vec![
        t(&a.id),
        t(&a.scope),
        ot(a.incident.as_deref()),
        ot(a.event.as_deref()),
        tm(a.sent),
        t(a.status.code()),
        t(a.msg_type.code()),
        i(a.level as i64),
        t(&a.category),
        t(&a.headline),
        i(i64::try_from(a.recipients).unwrap_or(i64::MAX)),
        t(&a.cap_xml),
        t(&a.reason),
    ];
    nul_check(&ALERTS, &v)?;
    Ok(v)
}

fn read_alert(r: &Reader<'_>) -> Result<AlertRecord> {
    Ok(AlertRecord {
        id: r.text(0)?,
        scope: r.text(1)?,
        incident: r.opt_text(2)?,
        event: r.opt_text(3)?,
        sent: r.time(4)?,
        status: r.parse(5, CapStatus::parse)?,
        msg_type: r.parse(6, MsgType::parse)?,
        level: {
            let n: i64 = r.int(7)?;
            *Level::ALL
                .get(usize::try_from(n).unwrap_or(usize::MAX))
                .ok_or_else(|| r.corrupt(7, format!("{n} is not a level rank 0..=4")))?
        },
        category: r.text(8)?,
        headline: r.text(9)?,
        recipients: r.int_as(10)?,
        cap_xml: r.text(11)?,
        reason: r.text(12)?,
    })
}

fn delivery_vals(d: &Delivery) -> Result<Vec<Val<'_>>> {
    let v = vec![
        t(&d.key),
        t(&d.alert),
        t(&d.scope),
        t(&d.recipient),
        t(d.channel.code()),
        t(&d.address),
        t(&d.language),
        t(&d.subject),
        t(&d.body),
        t(d.state.code()),
        i(i64::from(d.attempts)),
        tm(d.next_at),
        otm(d.lease_until),
        ot(d.last_error.as_deref()),
        tm(d.created_at),
        otm(d.sent_at),
    ];
    nul_check(&OUTBOX, &v)?;
    Ok(v)
}

const OUTBOX_SELECT: &str = "SELECT key, alert, scope, recipient, channel, address, language, subject, body, state, attempts, next_at, lease_until, last_error, created_at, sent_at, id FROM outbox";

fn opt_time(r: &Reader<'_>, n: usize) -> Result<Option<DateTime<Utc>>> {
    // Reader has no opt_time: a NULL time reads as `is NULL` from `time`.
    match r.time(n) {
        Ok(t) => Ok(Some(t)),
        Err(StoreError::Corrupt { reason, .. }) if reason == "is NULL" => Ok(None),
        Err(e) => Err(e),
    }
}

fn read_delivery(r: &Reader<'_>) -> Result<Delivery> {
    Ok(Delivery {
        key: r.text(0)?,
        alert: r.text(1)?,
        scope: r.text(2)?,
        recipient: r.text(3)?,
        channel: r.parse(4, ChannelKind::parse)?,
        address: r.text(5)?,
        language: r.text(6)?,
        subject: r.text(7)?,
        body: r.text(8)?,
        state: r.parse(9, DeliveryState::parse)?,
        attempts: r.int_as(10)?,
        next_at: r.time(11)?,
        lease_until: opt_time(r, 12)?,
        last_error: r.opt_text(13)?,
        created_at: r.time(14)?,
        sent_at: opt_time(r, 15)?,
        id: r.int(16)?,
    })
}

fn read_history(r: &Reader<'_>) -> Result<DeliveryAttempt> {
    Ok(DeliveryAttempt {
        key: r.text(0)?,
        at: r.time(1)?,
        outcome: r.text(2)?,
        detail: r.text(3)?,
    })
}

fn read_token(r: &Reader<'_>) -> Result<CheckinToken> {
    let h = r.blob(0)?;
    Ok(CheckinToken {
        hash: h
            .as_slice()
            .try_into()
            .map_err(|_| r.corrupt(0, format!("{} bytes, expected 32", h.len())))?,
        scope: r.text(1)?,
        recipient: r.text(2)?,
        kind: r.text(3)?,
        created_at: r.time(4)?,
        expires_at: r.time(5)?,
    })
}

fn read_checkin(r: &Reader<'_>) -> Result<CheckinState> {
    let lat = r.opt_real(5)?;
    let lon = r.opt_real(6)?;
    Ok(CheckinState {
        scope: r.text(0)?,
        recipient: r.text(1)?,
        name: r.text(2)?,
        status: r.parse(3, CheckinStatus::parse)?,
        message: r.opt_text(4)?,
        location: lat.zip(lon),
        answered_at: opt_time(r, 7)?,
        reached_at: opt_time(r, 8)?,
    })
}

fn checkin_vals(s: &CheckinState) -> Result<Vec<Val<'_>>> {
    let v = vec![
        t(&s.scope),
        t(&s.recipient),
        t(&s.name),
        t(s.status.code()),
        ot(s.message.as_deref()),
        Val::Real(s.location.map(|l| l.0)),
        Val::Real(s.location.map(|l| l.1)),
        otm(s.answered_at),
    ];
    nul_check(&CHECKINS, &v)?;
    Ok(v)
}

// --- one transaction, either engine ----------------------------------------

/// A transaction on either engine: run SQL written with `$n` parameters.
pub(crate) trait Tx {
    const POSTGRES: bool;
    fn exec(&mut self, sql: &str, p: &[Val<'_>]) -> Result<u64>;
    fn rows<T>(
        &mut self,
        table: &'static Table,
        sql: &str,
        p: &[Val<'_>],
        read: fn(&Reader<'_>) -> Result<T>,
    ) -> Result<Vec<T>>;
}

impl Tx for crate::unit::SqliteTx<'_> {
    const POSTGRES: bool = false;
    fn exec(&mut self, sql: &str, p: &[Val<'_>]) -> Result<u64> {
        let sql = sql.replace('$', "?");
        Ok(self
            .prepare_cached(&sql)?
            .execute(rusqlite::params_from_iter(p.iter()))? as u64)
    }
    fn rows<T>(
        &mut self,
        table: &'static Table,
        sql: &str,
        p: &[Val<'_>],
        read: fn(&Reader<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        let sql = sql.replace('$', "?");
        let mut stmt = self.prepare_cached(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(p.iter()))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(read(&Reader::new(r as &dyn Cell, table))?);
        }
        Ok(out)
    }
}

/// A NULL `Val::Int` bound where PostgreSQL expects a timestamp must be a
/// typed NULL of that type.
fn pg_param<'v>(v: &'v Val<'_>) -> &'v (dyn postgres::types::ToSql + Sync) {
    match v {
        Val::Int(None) => &PgNull,
        Val::Int(x) => x,
        Val::Real(x) => x,
        Val::Text(x) => x,
        Val::Blob(x) => x,
        Val::Time(x) => x,
    }
}

/// An untyped NULL PostgreSQL accepts for any column type.
#[derive(Debug)]
struct PgNull;

impl postgres::types::ToSql for PgNull {
    fn to_sql(
        &self,
        _: &postgres::types::Type,
        _: &mut postgres::types::private::BytesMut,
    ) -> std::result::Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>>
    {
        Ok(postgres::types::IsNull::Yes)
    }
    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }
    postgres::types::to_sql_checked!();
}

impl Tx for crate::unit::PgTx<'_> {
    const POSTGRES: bool = true;
    fn exec(&mut self, sql: &str, p: &[Val<'_>]) -> Result<u64> {
        let params: Vec<_> = p.iter().map(pg_param).collect();
        Ok(self.execute(sql, &params)?)
    }
    fn rows<T>(
        &mut self,
        table: &'static Table,
        sql: &str,
        p: &[Val<'_>],
        read: fn(&Reader<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        let params: Vec<_> = p.iter().map(pg_param).collect();
        let rows = self.query(sql, &params)?;
        rows.iter()
            .map(|r| read(&Reader::new(r as &dyn Cell, table)))
            .collect()
    }
}

/// `INSERT … VALUES (…), (…) ON CONFLICT … DO NOTHING` in chunks; returns rows written.
fn insert_many<X: Tx>(
    x: &mut X,
    table: &'static Table,
    rows: &[Vec<Val<'_>>],
    conflict: &str,
) -> Result<u64> {
    const CHUNK: usize = 200;
    let n = table.cols.len();
    let mut written = 0;
    for chunk in rows.chunks(CHUNK) {
        let mut sql = format!(
            "INSERT INTO {} ({}) VALUES ",
            table.name,
            table.cols.join(", ")
        );
        for r in 0..chunk.len() {
            sql.push_str(if r == 0 { "(" } else { ", (" });
            for c in 0..n {
                if c > 0 {
                    sql.push_str(", ");
                }
                sql.push('$');
                sql.push_str(&(r * n + c + 1).to_string());
            }
            sql.push(')');
        }
        sql.push(' ');
        sql.push_str(conflict);
        let flat: Vec<Val<'_>> = chunk.iter().flatten().cloned().collect();
        written += x.exec(&sql, &flat)?;
    }
    Ok(written)
}

fn history<X: Tx>(
    x: &mut X,
    key: &str,
    at: DateTime<Utc>,
    outcome: &str,
    detail: &str,
) -> Result<()> {
    x.exec(
        "INSERT INTO outbox_history (key, at, outcome, detail) VALUES ($1, $2, $3, $4)",
        &[t(key), tm(at), t(outcome), t(detail)],
    )?;
    Ok(())
}

mod ops {
    use super::*;

    pub fn queue_alert<X: Tx>(
        x: &mut X,
        a: &AlertRecord,
        ds: &[Delivery],
        tokens: &[CheckinToken],
        states: &[CheckinState],
    ) -> Result<QueueCounts> {
        let mut c = QueueCounts {
            alert_new: insert_many(x, &ALERTS, &[alert_vals(a)?], "ON CONFLICT (id) DO NOTHING")?
                == 1,
            ..QueueCounts::default()
        };
        let rows = ds.iter().map(delivery_vals).collect::<Result<Vec<_>>>()?;
        let written = insert_many(x, &OUTBOX, &rows, "ON CONFLICT (key) DO NOTHING")?;
        c.duplicates = ds.len() as u64 - written;
        // Dead-at-composition rows carry their reason into the history.
        for d in ds.iter().filter(|d| d.state == DeliveryState::Dead) {
            let n = x.exec(
                "INSERT INTO outbox_history (key, at, outcome, detail) SELECT $1, $2, 'dead', $3 WHERE NOT EXISTS (SELECT 1 FROM outbox_history WHERE key = $1)",
                &[t(&d.key), tm(d.created_at), t(d.last_error.as_deref().unwrap_or("dead at composition"))],
            )?;
            c.dead += n;
        }
        c.queued = written - c.dead.min(written);
        let trows: Vec<Vec<Val<'_>>> = tokens
            .iter()
            .map(|k| {
                let v = vec![
                    Val::Blob(Cow::Borrowed(&k.hash[..])),
                    t(&k.scope),
                    t(&k.recipient),
                    t(&k.kind),
                    tm(k.created_at),
                    tm(k.expires_at),
                ];
                nul_check(&TOKENS, &v).map(|()| v)
            })
            .collect::<Result<_>>()?;
        c.tokens = insert_many(x, &TOKENS, &trows, "ON CONFLICT (hash) DO NOTHING")?;
        if c.tokens != tokens.len() as u64 {
            return Err(StoreError::Unstorable {
                table: "checkin_tokens",
                field: "hash",
                reason: format!(
                    "{} credential(s) collide with stored ones; compose again to draw new ones",
                    tokens.len() as u64 - c.tokens
                ),
            });
        }
        let srows = states
            .iter()
            .map(checkin_vals)
            .collect::<Result<Vec<_>>>()?;
        c.people = insert_many(
            x,
            &CHECKINS,
            &srows,
            "ON CONFLICT (scope, recipient) DO NOTHING",
        )?;
        Ok(c)
    }

    pub fn claim<X: Tx>(
        x: &mut X,
        now: DateTime<Utc>,
        limit: u32,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<Delivery>> {
        let lock = if X::POSTGRES {
            " FOR UPDATE SKIP LOCKED"
        } else {
            ""
        };
        let sql = format!(
            "{OUTBOX_SELECT} WHERE (state = 'pending' AND next_at <= $1) OR (state = 'sending' AND lease_until <= $1) ORDER BY next_at, id LIMIT $2{lock}"
        );
        let mut due = x.rows(
            &OUTBOX,
            &sql,
            &[tm(now), i(i64::from(limit))],
            read_delivery,
        )?;
        for d in &mut due {
            if d.state == DeliveryState::Sending {
                history(
                    x,
                    &d.key,
                    now,
                    "reclaimed",
                    &format!(
                        "lease ended at {} without an outcome (runner stopped); sending again with the same key",
                        d.lease_until.map(|l| l.to_rfc3339()).unwrap_or_default()
                    ),
                )?;
            }
            x.exec(
                "UPDATE outbox SET state = 'sending', lease_until = $2 WHERE id = $1",
                &[i(d.id), tm(lease_until)],
            )?;
            d.state = DeliveryState::Sending;
            d.lease_until = Some(micros(lease_until));
        }
        Ok(due)
    }

    pub fn mark<X: Tx>(
        x: &mut X,
        id: i64,
        state: DeliveryState,
        attempts: u32,
        at: DateTime<Utc>,
        detail: &str,
    ) -> Result<()> {
        let keys = x.rows(
            &OUTBOX,
            &format!("{OUTBOX_SELECT} WHERE id = $1"),
            &[i(id)],
            read_delivery,
        )?;
        let Some(d) = keys.first() else {
            return Err(StoreError::Unstorable {
                table: "outbox",
                field: "id",
                reason: format!("no outbox row {id}"),
            });
        };
        let (sql, outcome) = match state {
            DeliveryState::Sent => (
                "UPDATE outbox SET state = 'sent', attempts = $2, sent_at = $3, lease_until = NULL WHERE id = $1",
                "sent",
            ),
            DeliveryState::Pending => (
                "UPDATE outbox SET state = 'pending', attempts = $2, next_at = $3, lease_until = NULL, last_error = $4 WHERE id = $1",
                "retry",
            ),
            DeliveryState::Dead => (
                "UPDATE outbox SET state = 'dead', attempts = $2, lease_until = NULL, last_error = $3 WHERE id = $1",
                "dead",
            ),
            DeliveryState::Sending => {
                return Err(StoreError::Unstorable {
                    table: "outbox",
                    field: "state",
                    reason: "sending is set by a claim, not by a mark".into(),
                });
            }
        };
        let p = match state {
            DeliveryState::Sent => vec![i(id), i(i64::from(attempts)), tm(at)],
            DeliveryState::Pending => vec![i(id), i(i64::from(attempts)), tm(at), t(detail)],
            _ => vec![i(id), i(i64::from(attempts)), t(detail)],
        };
        x.exec(sql, &p)?;
        let detail = if state == DeliveryState::Pending {
            format!(
                "try {attempts} failed: {detail}; next try at {}",
                micros(at).to_rfc3339()
            )
        } else {
            format!("try {attempts}: {detail}")
        };
        history(x, &d.key, Utc::now(), outcome, &detail)
    }
}

macro_rules! notify_store {
    ($ty:ty, $begin:expr) => {
        impl NotifyStore for $ty {
            fn queue_alert(
                &mut self,
                alert: &AlertRecord,
                deliveries: &[Delivery],
                tokens: &[CheckinToken],
                states: &[CheckinState],
            ) -> Result<QueueCounts> {
                let mut tx = $begin(self)?;
                let c = ops::queue_alert(&mut tx, alert, deliveries, tokens, states)?;
                tx.commit()?;
                Ok(c)
            }
            fn alert(&mut self, id: &str) -> Result<Option<AlertRecord>> {
                let mut tx = $begin(self)?;
                let mut v = tx.rows(
                    &ALERTS,
                    "SELECT id, scope, incident, event, sent, status, msg_type, level, category, headline, recipients, cap_xml, reason FROM alerts WHERE id = $1",
                    &[t(id)],
                    read_alert,
                )?;
                tx.commit()?;
                Ok(v.pop())
            }
            fn alerts(&mut self, incident: Option<&str>) -> Result<Vec<AlertRecord>> {
                let mut tx = $begin(self)?;
                let base = "SELECT id, scope, incident, event, sent, status, msg_type, level, category, headline, recipients, cap_xml, reason FROM alerts";
                let v = match incident {
                    Some(inc) => tx.rows(&ALERTS, &format!("{base} WHERE incident = $1 ORDER BY sent, id"), &[t(inc)], read_alert)?,
                    None => tx.rows(&ALERTS, &format!("{base} ORDER BY sent, id"), &[], read_alert)?,
                };
                tx.commit()?;
                Ok(v)
            }
            fn claim_deliveries(
                &mut self,
                now: DateTime<Utc>,
                limit: u32,
                lease_until: DateTime<Utc>,
            ) -> Result<Vec<Delivery>> {
                let mut tx = $begin(self)?;
                let v = ops::claim(&mut tx, now, limit, lease_until)?;
                tx.commit()?;
                Ok(v)
            }
            fn delivery_sent(&mut self, id: i64, attempts: u32, at: DateTime<Utc>, detail: &str) -> Result<()> {
                let mut tx = $begin(self)?;
                ops::mark(&mut tx, id, DeliveryState::Sent, attempts, at, detail)?;
                Ok(tx.commit()?)
            }
            fn delivery_retry(&mut self, id: i64, attempts: u32, next_at: DateTime<Utc>, error: &str) -> Result<()> {
                let mut tx = $begin(self)?;
                ops::mark(&mut tx, id, DeliveryState::Pending, attempts, next_at, error)?;
                Ok(tx.commit()?)
            }
            fn delivery_dead(&mut self, id: i64, attempts: u32, at: DateTime<Utc>, error: &str) -> Result<()> {
                let mut tx = $begin(self)?;
                ops::mark(&mut tx, id, DeliveryState::Dead, attempts, at, error)?;
                Ok(tx.commit()?)
            }
            fn next_due(&mut self) -> Result<Option<DateTime<Utc>>> {
                let mut tx = $begin(self)?;
                let mut v = tx.rows(
                    &OUTBOX,
                    &format!("{OUTBOX_SELECT} WHERE state = 'pending' OR state = 'sending' ORDER BY CASE WHEN state = 'pending' THEN next_at ELSE lease_until END, id LIMIT 1"),
                    &[],
                    read_delivery,
                )?;
                tx.commit()?;
                Ok(v.pop().map(|d| match d.state {
                    DeliveryState::Sending => d.lease_until.unwrap_or(d.next_at),
                    _ => d.next_at,
                }))
            }
            fn deliveries(&mut self, alert: Option<&str>, limit: u32) -> Result<Vec<Delivery>> {
                let mut tx = $begin(self)?;
                let lim = i(i64::from(limit));
                let v = match alert {
                    Some(a) => tx.rows(&OUTBOX, &format!("{OUTBOX_SELECT} WHERE alert = $1 ORDER BY id LIMIT $2"), &[t(a), lim], read_delivery)?,
                    None => tx.rows(&OUTBOX, &format!("{OUTBOX_SELECT} ORDER BY id LIMIT $1"), &[lim], read_delivery)?,
                };
                tx.commit()?;
                Ok(v)
            }
            fn delivery_history(&mut self, key: &str) -> Result<Vec<DeliveryAttempt>> {
                let mut tx = $begin(self)?;
                let v = tx.rows(&HISTORY, "SELECT key, at, outcome, detail FROM outbox_history WHERE key = $1 ORDER BY id", &[t(key)], read_history)?;
                tx.commit()?;
                Ok(v)
            }
            fn outbox_counts(&mut self, alert: Option<&str>) -> Result<Vec<OutboxCount>> {
                static COUNTS: Table = Table { name: "outbox", cols: &["channel", "state", "count"], conflict: &[], read_extra: &[] };
                fn read(r: &Reader<'_>) -> Result<OutboxCount> {
                    Ok(OutboxCount {
                        channel: r.parse(0, ChannelKind::parse)?,
                        state: r.parse(1, DeliveryState::parse)?,
                        count: r.int_as(2)?,
                    })
                }
                let mut tx = $begin(self)?;
                let v = match alert {
                    Some(a) => tx.rows(&COUNTS, "SELECT channel, state, count(*) FROM outbox WHERE alert = $1 GROUP BY channel, state ORDER BY channel, state", &[t(a)], read)?,
                    None => tx.rows(&COUNTS, "SELECT channel, state, count(*) FROM outbox GROUP BY channel, state ORDER BY channel, state", &[], read)?,
                };
                tx.commit()?;
                Ok(v)
            }
            fn checkin_token(&mut self, hash: &[u8; 32]) -> Result<Option<CheckinToken>> {
                let mut tx = $begin(self)?;
                let mut v = tx.rows(
                    &TOKENS,
                    "SELECT hash, scope, recipient, kind, created_at, expires_at FROM checkin_tokens WHERE hash = $1",
                    &[Val::Blob(Cow::Borrowed(&hash[..]))],
                    read_token,
                )?;
                tx.commit()?;
                Ok(v.pop())
            }
            fn checkin_state(&mut self, scope: &str, recipient: &str) -> Result<Option<CheckinState>> {
                let mut tx = $begin(self)?;
                let mut v = tx.rows(&CHECKINS, &format!("{CHECKIN_SELECT} WHERE c.scope = $1 AND c.recipient = $2"), &[t(scope), t(recipient)], read_checkin)?;
                tx.commit()?;
                Ok(v.pop())
            }
            fn record_checkin(&mut self, s: &CheckinState) -> Result<()> {
                let vals = checkin_vals(s)?;
                let mut tx = $begin(self)?;
                let n = tx.exec(
                    "UPDATE checkins SET status = $4, message = $5, lat = $6, lon = $7, answered_at = $8 WHERE scope = $1 AND recipient = $2 AND name = $3",
                    &vals,
                )?;
                if n != 1 {
                    return Err(StoreError::Unstorable {
                        table: "checkins",
                        field: "recipient",
                        reason: format!("{} is not accountable in {}", s.recipient, s.scope),
                    });
                }
                tx.exec(
                    "INSERT INTO checkin_answers (scope, recipient, at, status, message, lat, lon) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    &[vals[0].clone(), vals[1].clone(), otm(s.answered_at.or(Some(Utc::now()))), vals[3].clone(), vals[4].clone(), vals[5].clone(), vals[6].clone()],
                )?;
                Ok(tx.commit()?)
            }
            fn checkin_states(&mut self, scope: &str) -> Result<Vec<CheckinState>> {
                let mut tx = $begin(self)?;
                let v = tx.rows(&CHECKINS, &format!("{CHECKIN_SELECT} WHERE c.scope = $1 ORDER BY c.recipient"), &[t(scope)], read_checkin)?;
                tx.commit()?;
                Ok(v)
            }
        }
    };
}

const CHECKIN_SELECT: &str = "SELECT c.scope, c.recipient, c.name, c.status, c.message, c.lat, c.lon, c.answered_at, (SELECT min(o.sent_at) FROM outbox o WHERE o.scope = c.scope AND o.recipient = c.recipient AND o.state = 'sent') FROM checkins c";

fn sqlite_begin(s: &mut SqliteStore) -> Result<crate::unit::SqliteTx<'_>> {
    Ok(crate::unit::sqlite_write(&mut s.conn)?)
}

fn pg_begin(s: &mut PgStore) -> Result<crate::unit::PgTx<'_>> {
    Ok(crate::unit::pg_write(&mut s.client, s.unit)?)
}

notify_store!(SqliteStore, sqlite_begin);
notify_store!(PgStore, pg_begin);
