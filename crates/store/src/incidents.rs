//! Incidents of the respond stage: the incident row, its task-force members,
//! its tasks and its append-only timeline, in both engines.
//!
//! An incident is saved whole (`save_incident`): the incident row, members
//! and tasks are upserted on their keys, and timeline entries are numbered
//! by position and only ever appended (`ON CONFLICT DO NOTHING`), so a
//! stored entry is never rewritten by a later save. Rows that no longer
//! parse are `StoreError::Corrupt` naming table and column, never a panic.

use crate::row::Cell;
use crate::{PgStore, Result, SqliteStore, StoreError};
use chrono::{DateTime, Utc};
use farguard_model::{
    Area, Category, CommandLevel, Incident, IncidentStatus, Level, Member, Task, TaskStatus,
    TimelineEntry,
};
use std::collections::HashMap;

/// Which incidents to list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IncidentQuery {
    /// Only incidents not closed or reviewed.
    pub open_only: bool,
    /// `Some(true)` drills only, `Some(false)` real incidents only.
    pub exercise: Option<bool>,
}

/// Storage of response incidents.
pub trait IncidentStore {
    /// Saves the incident whole; the timeline is append-only.
    fn save_incident(&mut self, inc: &Incident) -> Result<()>;
    fn incident(&mut self, id: &str) -> Result<Option<Incident>>;
    /// Matching incidents, newest first (ties by id).
    fn incidents(&mut self, q: &IncidentQuery) -> Result<Vec<Incident>>;
}

pub(crate) const SQLITE_SCHEMA: &str = r#"
CREATE TABLE incidents (
    id TEXT PRIMARY KEY,
    plan TEXT NOT NULL,
    plan_version TEXT NOT NULL,
    title TEXT NOT NULL,
    area TEXT NOT NULL,
    category TEXT NOT NULL,
    level INTEGER NOT NULL,
    peak_level INTEGER NOT NULL,
    command TEXT NOT NULL,
    lead_agency TEXT NOT NULL,
    status TEXT NOT NULL,
    exercise INTEGER NOT NULL,
    opened_at INTEGER NOT NULL,
    window_end INTEGER NOT NULL,
    activated_at INTEGER,
    calm_since INTEGER,
    closed_at INTEGER,
    updated_at INTEGER NOT NULL,
    reason TEXT NOT NULL
) STRICT;
CREATE INDEX incidents_plan_area ON incidents (plan, area);
CREATE INDEX incidents_status ON incidents (status);

CREATE TABLE incident_members (
    incident TEXT NOT NULL,
    role TEXT NOT NULL,
    org TEXT NOT NULL,
    joined_at INTEGER NOT NULL,
    level INTEGER NOT NULL,
    pos INTEGER NOT NULL,
    PRIMARY KEY (incident, role)
) STRICT;

CREATE TABLE incident_tasks (
    incident TEXT NOT NULL,
    id TEXT NOT NULL,
    title TEXT NOT NULL,
    owner_role TEXT NOT NULL,
    org TEXT NOT NULL,
    after_ids TEXT NOT NULL,
    checklist TEXT NOT NULL,
    resources TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    due_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    acked_at INTEGER,
    acked_by TEXT,
    done_at INTEGER,
    done_by TEXT,
    escalations INTEGER NOT NULL,
    pos INTEGER NOT NULL,
    PRIMARY KEY (incident, id)
) STRICT;
CREATE INDEX incident_tasks_due_at ON incident_tasks (due_at);

CREATE TABLE incident_timeline (
    incident TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (incident, seq)
) STRICT;
"#;

pub(crate) const POSTGRES_SCHEMA: &str = r#"
CREATE TABLE incidents (
    id TEXT PRIMARY KEY,
    plan TEXT NOT NULL,
    plan_version TEXT NOT NULL,
    title TEXT NOT NULL,
    area TEXT NOT NULL,
    category TEXT NOT NULL,
    level BIGINT NOT NULL,
    peak_level BIGINT NOT NULL,
    command TEXT NOT NULL,
    lead_agency TEXT NOT NULL,
    status TEXT NOT NULL,
    exercise BIGINT NOT NULL,
    opened_at TIMESTAMPTZ NOT NULL,
    window_end TIMESTAMPTZ NOT NULL,
    activated_at TIMESTAMPTZ,
    calm_since TIMESTAMPTZ,
    closed_at TIMESTAMPTZ,
    updated_at TIMESTAMPTZ NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX incidents_plan_area ON incidents (plan, area);
CREATE INDEX incidents_status ON incidents (status);

CREATE TABLE incident_members (
    incident TEXT NOT NULL,
    role TEXT NOT NULL,
    org TEXT NOT NULL,
    joined_at TIMESTAMPTZ NOT NULL,
    level BIGINT NOT NULL,
    pos BIGINT NOT NULL,
    PRIMARY KEY (incident, role)
);

CREATE TABLE incident_tasks (
    incident TEXT NOT NULL,
    id TEXT NOT NULL,
    title TEXT NOT NULL,
    owner_role TEXT NOT NULL,
    org TEXT NOT NULL,
    after_ids TEXT NOT NULL,
    checklist TEXT NOT NULL,
    resources TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    due_at TIMESTAMPTZ NOT NULL,
    status TEXT NOT NULL,
    acked_at TIMESTAMPTZ,
    acked_by TEXT,
    done_at TIMESTAMPTZ,
    done_by TEXT,
    escalations BIGINT NOT NULL,
    pos BIGINT NOT NULL,
    PRIMARY KEY (incident, id)
);
CREATE INDEX incident_tasks_due_at ON incident_tasks (due_at);

CREATE TABLE incident_timeline (
    incident TEXT NOT NULL,
    seq BIGINT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (incident, seq)
);
"#;

// --- the codec: one parameter type, one reader, both engines -------------

/// A bound value. Times are truncated to microseconds like every other table.
#[derive(Debug, Clone)]
enum P {
    Text(Option<String>),
    Int(i64),
    Time(Option<DateTime<Utc>>),
}

fn t(s: &str) -> P {
    P::Text(Some(s.to_string()))
}
fn time(v: DateTime<Utc>) -> P {
    P::Time(Some(crate::row::micros(v)))
}
fn opt_time(v: Option<DateTime<Utc>>) -> P {
    P::Time(v.map(crate::row::micros))
}

fn unstorable(table: &'static str, field: &'static str, reason: impl Into<String>) -> StoreError {
    StoreError::Unstorable {
        table,
        field,
        reason: reason.into(),
    }
}

fn json(table: &'static str, field: &'static str, v: &[String]) -> Result<P> {
    serde_json::to_string(v)
        .map(|s| P::Text(Some(s)))
        .map_err(|e| unstorable(table, field, e.to_string()))
}

/// PostgreSQL text cannot hold U+0000; refuse it in both engines.
fn no_nul(table: &'static str, cols: &[&'static str], vals: &[P]) -> Result<()> {
    for (c, v) in cols.iter().zip(vals) {
        if let P::Text(Some(s)) = v
            && s.contains('\0')
        {
            return Err(unstorable(
                table,
                c,
                "text contains a NUL character, which PostgreSQL cannot store",
            ));
        }
    }
    Ok(())
}

const INC_COLS: &[&str] = &[
    "id",
    "plan",
    "plan_version",
    "title",
    "area",
    "category",
    "level",
    "peak_level",
    "command",
    "lead_agency",
    "status",
    "exercise",
    "opened_at",
    "window_end",
    "activated_at",
    "calm_since",
    "closed_at",
    "updated_at",
    "reason",
];
const MEMBER_COLS: &[&str] = &["incident", "role", "org", "joined_at", "level", "pos"];
const TASK_COLS: &[&str] = &[
    "incident",
    "id",
    "title",
    "owner_role",
    "org",
    "after_ids",
    "checklist",
    "resources",
    "created_at",
    "due_at",
    "status",
    "acked_at",
    "acked_by",
    "done_at",
    "done_by",
    "escalations",
    "pos",
];
const TIMELINE_COLS: &[&str] = &["incident", "seq", "at", "actor", "kind", "text"];

fn inc_vals(i: &Incident) -> Result<Vec<P>> {
    let v = vec![
        t(&i.id),
        t(&i.plan),
        t(&i.plan_version),
        t(&i.title),
        P::Text(Some(i.area.to_string())),
        t(i.category.code()),
        P::Int(i64::from(i.level.rank())),
        P::Int(i64::from(i.peak_level.rank())),
        t(i.command.code()),
        t(&i.lead_agency),
        t(i.status.code()),
        P::Int(i64::from(i.exercise)),
        time(i.opened_at),
        time(i.window_end),
        opt_time(i.activated_at),
        opt_time(i.calm_since),
        opt_time(i.closed_at),
        time(i.updated_at),
        t(&i.reason),
    ];
    no_nul("incidents", INC_COLS, &v)?;
    Ok(v)
}

fn member_vals(inc: &str, pos: usize, m: &Member) -> Result<Vec<P>> {
    let v = vec![
        t(inc),
        t(&m.role),
        t(&m.org),
        time(m.joined_at),
        P::Int(i64::from(m.level.rank())),
        P::Int(pos as i64),
    ];
    no_nul("incident_members", MEMBER_COLS, &v)?;
    Ok(v)
}

fn task_vals(inc: &str, pos: usize, k: &Task) -> Result<Vec<P>> {
    const T: &str = "incident_tasks";
    let v = vec![
        t(inc),
        t(&k.id),
        t(&k.title),
        t(&k.owner_role),
        t(&k.org),
        json(T, "after_ids", &k.after)?,
        json(T, "checklist", &k.checklist)?,
        json(T, "resources", &k.resources)?,
        time(k.created_at),
        time(k.due_at),
        t(k.status.code()),
        opt_time(k.acked_at),
        P::Text(k.acked_by.clone()),
        opt_time(k.done_at),
        P::Text(k.done_by.clone()),
        P::Int(i64::from(k.escalations)),
        P::Int(pos as i64),
    ];
    no_nul(T, TASK_COLS, &v)?;
    Ok(v)
}

fn timeline_vals(inc: &str, seq: usize, e: &TimelineEntry) -> Result<Vec<P>> {
    let v = vec![
        t(inc),
        P::Int(seq as i64),
        time(e.at),
        t(&e.actor),
        t(&e.kind),
        t(&e.text),
    ];
    no_nul("incident_timeline", TIMELINE_COLS, &v)?;
    Ok(v)
}

/// Reads cells of one row of `table`, naming the column on failure.
struct R<'a> {
    row: &'a dyn Cell,
    table: &'static str,
    cols: &'static [&'static str],
}

impl R<'_> {
    fn bad(&self, i: usize, reason: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            table: self.table,
            field: self.cols.get(i).copied().unwrap_or("?"),
            reason: reason.into(),
        }
    }
    fn need<T>(&self, i: usize, v: std::result::Result<Option<T>, String>) -> Result<T> {
        match v {
            Ok(Some(x)) => Ok(x),
            Ok(None) => Err(self.bad(i, "is NULL")),
            Err(e) => Err(self.bad(i, e)),
        }
    }
    fn text(&self, i: usize) -> Result<String> {
        self.need(i, self.row.text(i))
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>> {
        self.row.text(i).map_err(|e| self.bad(i, e))
    }
    fn int(&self, i: usize) -> Result<i64> {
        self.need(i, self.row.int(i))
    }
    fn time(&self, i: usize) -> Result<DateTime<Utc>> {
        self.need(i, self.row.time(i))
    }
    fn opt_time(&self, i: usize) -> Result<Option<DateTime<Utc>>> {
        self.row.time(i).map_err(|e| self.bad(i, e))
    }
    fn level(&self, i: usize) -> Result<Level> {
        let v = self.int(i)?;
        u8::try_from(v)
            .ok()
            .and_then(Level::from_rank)
            .ok_or_else(|| self.bad(i, format!("{v} is not a level rank 0..=4")))
    }
    fn parse<T, E: std::fmt::Display>(
        &self,
        i: usize,
        f: impl FnOnce(&str) -> std::result::Result<T, E>,
    ) -> Result<T> {
        let s = self.text(i)?;
        f(&s).map_err(|e| self.bad(i, e.to_string()))
    }
    fn list(&self, i: usize) -> Result<Vec<String>> {
        let s = self.text(i)?;
        serde_json::from_str(&s).map_err(|e| self.bad(i, e.to_string()))
    }
}

fn read_incident(r: &R<'_>) -> Result<Incident> {
    Ok(Incident {
        id: r.text(0)?,
        plan: r.text(1)?,
        plan_version: r.text(2)?,
        title: r.text(3)?,
        area: r.parse(4, Area::parse)?,
        category: r.parse(5, Category::parse)?,
        level: r.level(6)?,
        peak_level: r.level(7)?,
        command: r.parse(8, CommandLevel::parse)?,
        lead_agency: r.text(9)?,
        status: r.parse(10, IncidentStatus::parse)?,
        exercise: r.int(11)? != 0,
        opened_at: r.time(12)?,
        window_end: r.time(13)?,
        activated_at: r.opt_time(14)?,
        calm_since: r.opt_time(15)?,
        closed_at: r.opt_time(16)?,
        updated_at: r.time(17)?,
        reason: r.text(18)?,
        members: Vec::new(),
        tasks: Vec::new(),
        timeline: Vec::new(),
    })
}

fn read_member(r: &R<'_>) -> Result<(String, Member)> {
    Ok((
        r.text(0)?,
        Member {
            role: r.text(1)?,
            org: r.text(2)?,
            joined_at: r.time(3)?,
            level: r.level(4)?,
        },
    ))
}

fn read_task(r: &R<'_>) -> Result<(String, Task)> {
    let esc = r.int(15)?;
    Ok((
        r.text(0)?,
        Task {
            id: r.text(1)?,
            title: r.text(2)?,
            owner_role: r.text(3)?,
            org: r.text(4)?,
            after: r.list(5)?,
            checklist: r.list(6)?,
            resources: r.list(7)?,
            created_at: r.time(8)?,
            due_at: r.time(9)?,
            status: r.parse(10, TaskStatus::parse)?,
            acked_at: r.opt_time(11)?,
            acked_by: r.opt_text(12)?,
            done_at: r.opt_time(13)?,
            done_by: r.opt_text(14)?,
            escalations: u8::try_from(esc)
                .map_err(|_| r.bad(15, format!("{esc} is not 0..=255")))?,
        },
    ))
}

fn read_timeline(r: &R<'_>) -> Result<(String, TimelineEntry)> {
    Ok((
        r.text(0)?,
        TimelineEntry {
            at: r.time(2)?,
            actor: r.text(3)?,
            kind: r.text(4)?,
            text: r.text(5)?,
        },
    ))
}

/// Attaches children (already in order) to their incidents.
fn assemble(
    mut incs: Vec<Incident>,
    members: Vec<(String, Member)>,
    tasks: Vec<(String, Task)>,
    timeline: Vec<(String, TimelineEntry)>,
) -> Vec<Incident> {
    let pos: HashMap<String, usize> = incs
        .iter()
        .enumerate()
        .map(|(i, x)| (x.id.clone(), i))
        .collect();
    for (id, m) in members {
        if let Some(&i) = pos.get(&id) {
            incs[i].members.push(m);
        }
    }
    for (id, k) in tasks {
        if let Some(&i) = pos.get(&id) {
            incs[i].tasks.push(k);
        }
    }
    for (id, e) in timeline {
        if let Some(&i) = pos.get(&id) {
            incs[i].timeline.push(e);
        }
    }
    incs
}

/// `WHERE` clause (no parameters) for a query, on the `incidents` table.
fn filter(q: &IncidentQuery) -> String {
    let mut parts: Vec<&str> = Vec::new();
    if q.open_only {
        parts.push("status NOT IN ('closed', 'reviewed')");
    }
    match q.exercise {
        Some(true) => parts.push("exercise = 1"),
        Some(false) => parts.push("exercise = 0"),
        None => {}
    }
    if parts.is_empty() {
        "1 = 1".into()
    } else {
        parts.join(" AND ")
    }
}

fn upsert_sql(table: &str, cols: &[&str], key: &[&str], param: fn(usize) -> String) -> String {
    let params: Vec<String> = (1..=cols.len()).map(param).collect();
    let sets: Vec<String> = cols
        .iter()
        .filter(|c| !key.contains(c))
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    format!(
        "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT ({}) DO UPDATE SET {}",
        cols.join(", "),
        params.join(", "),
        key.join(", "),
        sets.join(", ")
    )
}

fn append_sql(table: &str, cols: &[&str], param: fn(usize) -> String) -> String {
    let params: Vec<String> = (1..=cols.len()).map(param).collect();
    format!(
        "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT DO NOTHING",
        cols.join(", "),
        params.join(", ")
    )
}

/// Every row of the incident encoded: (incident, members, tasks, timeline).
type Encoded = (Vec<P>, Vec<Vec<P>>, Vec<Vec<P>>, Vec<Vec<P>>);

fn encode(inc: &Incident) -> Result<Encoded> {
    Ok((
        inc_vals(inc)?,
        inc.members
            .iter()
            .enumerate()
            .map(|(i, m)| member_vals(&inc.id, i, m))
            .collect::<Result<_>>()?,
        inc.tasks
            .iter()
            .enumerate()
            .map(|(i, k)| task_vals(&inc.id, i, k))
            .collect::<Result<_>>()?,
        inc.timeline
            .iter()
            .enumerate()
            .map(|(i, e)| timeline_vals(&inc.id, i, e))
            .collect::<Result<_>>()?,
    ))
}

// --- SQLite ----------------------------------------------------------------

impl rusqlite::ToSql for P {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value};
        Ok(match self {
            P::Text(s) => match s {
                Some(s) => ToSqlOutput::Borrowed(rusqlite::types::ValueRef::Text(s.as_bytes())),
                None => ToSqlOutput::Owned(Value::Null),
            },
            P::Int(i) => ToSqlOutput::Owned(Value::Integer(*i)),
            P::Time(t) => match t {
                Some(t) => ToSqlOutput::Owned(Value::Integer(t.timestamp_micros())),
                None => ToSqlOutput::Owned(Value::Null),
            },
        })
    }
}

fn sq(n: usize) -> String {
    format!("?{n}")
}

fn sqlite_rows<T>(
    conn: &rusqlite::Connection,
    sql: &str,
    params: &[&dyn rusqlite::ToSql],
    table: &'static str,
    cols: &'static [&'static str],
    read: fn(&R<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(read(&R { row, table, cols })?);
    }
    Ok(out)
}

impl SqliteStore {
    fn load_incidents(
        &self,
        where_: &str,
        params: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<Incident>> {
        let c = &self.conn;
        let incs = sqlite_rows(
            c,
            &format!(
                "SELECT {} FROM incidents WHERE {where_} ORDER BY opened_at DESC, id",
                INC_COLS.join(", ")
            ),
            params,
            "incidents",
            INC_COLS,
            read_incident,
        )?;
        let sub = format!("incident IN (SELECT id FROM incidents WHERE {where_})");
        let members = sqlite_rows(
            c,
            &format!(
                "SELECT {} FROM incident_members WHERE {sub} ORDER BY incident, pos",
                MEMBER_COLS.join(", ")
            ),
            params,
            "incident_members",
            MEMBER_COLS,
            read_member,
        )?;
        let tasks = sqlite_rows(
            c,
            &format!(
                "SELECT {} FROM incident_tasks WHERE {sub} ORDER BY incident, pos",
                TASK_COLS.join(", ")
            ),
            params,
            "incident_tasks",
            TASK_COLS,
            read_task,
        )?;
        let timeline = sqlite_rows(
            c,
            &format!(
                "SELECT {} FROM incident_timeline WHERE {sub} ORDER BY incident, seq",
                TIMELINE_COLS.join(", ")
            ),
            params,
            "incident_timeline",
            TIMELINE_COLS,
            read_timeline,
        )?;
        Ok(assemble(incs, members, tasks, timeline))
    }
}

impl IncidentStore for SqliteStore {
    fn save_incident(&mut self, inc: &Incident) -> Result<()> {
        let (row, members, tasks, timeline) = encode(inc)?;
        let tx = crate::unit::sqlite_write(&mut self.conn)?;
        tx.prepare_cached(&upsert_sql("incidents", INC_COLS, &["id"], sq))?
            .execute(rusqlite::params_from_iter(row.iter()))?;
        {
            let mut m = tx.prepare_cached(&upsert_sql(
                "incident_members",
                MEMBER_COLS,
                &["incident", "role"],
                sq,
            ))?;
            for v in &members {
                m.execute(rusqlite::params_from_iter(v.iter()))?;
            }
            let mut k = tx.prepare_cached(&upsert_sql(
                "incident_tasks",
                TASK_COLS,
                &["incident", "id"],
                sq,
            ))?;
            for v in &tasks {
                k.execute(rusqlite::params_from_iter(v.iter()))?;
            }
            let mut e = tx.prepare_cached(&append_sql("incident_timeline", TIMELINE_COLS, sq))?;
            for v in &timeline {
                e.execute(rusqlite::params_from_iter(v.iter()))?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn incident(&mut self, id: &str) -> Result<Option<Incident>> {
        Ok(self.load_incidents("id = ?1", &[&id])?.pop())
    }

    fn incidents(&mut self, q: &IncidentQuery) -> Result<Vec<Incident>> {
        self.load_incidents(&filter(q), &[])
    }
}

// --- PostgreSQL ------------------------------------------------------------

fn pq(n: usize) -> String {
    format!("${n}")
}

fn pg_params(vals: &[P]) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
    vals.iter()
        .map(|v| -> &(dyn postgres::types::ToSql + Sync) {
            match v {
                P::Text(s) => s,
                P::Int(i) => i,
                P::Time(t) => t,
            }
        })
        .collect()
}

impl PgStore {
    fn pg_rows<T>(
        &mut self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
        table: &'static str,
        cols: &'static [&'static str],
        read: fn(&R<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        let rows = self.client.query(sql, params)?;
        rows.iter()
            .map(|row| read(&R { row, table, cols }))
            .collect()
    }

    fn load_incidents(
        &mut self,
        where_: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Incident>> {
        let incs = self.pg_rows(
            &format!(
                "SELECT {} FROM incidents WHERE {where_} ORDER BY opened_at DESC, id COLLATE \"C\"",
                INC_COLS.join(", ")
            ),
            params,
            "incidents",
            INC_COLS,
            read_incident,
        )?;
        let sub = format!("incident IN (SELECT id FROM incidents WHERE {where_})");
        let members = self.pg_rows(
            &format!(
                "SELECT {} FROM incident_members WHERE {sub} ORDER BY incident, pos",
                MEMBER_COLS.join(", ")
            ),
            params,
            "incident_members",
            MEMBER_COLS,
            read_member,
        )?;
        let tasks = self.pg_rows(
            &format!(
                "SELECT {} FROM incident_tasks WHERE {sub} ORDER BY incident, pos",
                TASK_COLS.join(", ")
            ),
            params,
            "incident_tasks",
            TASK_COLS,
            read_task,
        )?;
        let timeline = self.pg_rows(
            &format!(
                "SELECT {} FROM incident_timeline WHERE {sub} ORDER BY incident, seq",
                TIMELINE_COLS.join(", ")
            ),
            params,
            "incident_timeline",
            TIMELINE_COLS,
            read_timeline,
        )?;
        Ok(assemble(incs, members, tasks, timeline))
    }
}

impl IncidentStore for PgStore {
    fn save_incident(&mut self, inc: &Incident) -> Result<()> {
        let (row, members, tasks, timeline) = encode(inc)?;
        let mut tx = crate::unit::pg_write(&mut self.client, self.unit)?;
        tx.execute(
            &upsert_sql("incidents", INC_COLS, &["id"], pq),
            &pg_params(&row),
        )?;
        let m = tx.prepare(&upsert_sql(
            "incident_members",
            MEMBER_COLS,
            &["incident", "role"],
            pq,
        ))?;
        for v in &members {
            tx.execute(&m, &pg_params(v))?;
        }
        let k = tx.prepare(&upsert_sql(
            "incident_tasks",
            TASK_COLS,
            &["incident", "id"],
            pq,
        ))?;
        for v in &tasks {
            tx.execute(&k, &pg_params(v))?;
        }
        let e = tx.prepare(&append_sql("incident_timeline", TIMELINE_COLS, pq))?;
        for v in &timeline {
            tx.execute(&e, &pg_params(v))?;
        }
        tx.commit()?;
        Ok(())
    }

    fn incident(&mut self, id: &str) -> Result<Option<Incident>> {
        Ok(self.load_incidents("id = $1", &[&id])?.pop())
    }

    fn incidents(&mut self, q: &IncidentQuery) -> Result<Vec<Incident>> {
        self.load_incidents(&filter(q), &[])
    }
}
