//! The store's own row types, shared by both engines: each table's columns,
//! how a domain value becomes a row of [`Val`]s, and how a row read back
//! becomes a domain value again.
//!
//! Decoding goes through the model's validating constructors (`Point::new`,
//! `Polygon::new`, `CountryCode::parse`…), so a row that no longer validates
//! is reported as [`StoreError::Corrupt`] naming its table and column instead
//! of being trusted or panicking. Engines only move [`Val`]s in and read cells
//! out through [`Cell`]; they never see a domain type's fields.

use crate::{Result, RunRecord, StoreError};
use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use farguard_model::{
    Area, Assessment, Category, CountryCode, Dependency, DependencyKind, Event, EventId,
    GeoPrecision, Geometry, ItineraryLeg, Lat, Level, Location, Lon, OrgKind, Organisation, Person,
    Point, Polygon, Quarantined, Severity, Site, SiteKind, Subtype, Trend,
};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::fmt::{Display, Write as _};

/// One column value on its way into the database.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val<'a> {
    Int(Option<i64>),
    Real(Option<f64>),
    Text(Option<Cow<'a, str>>),
    Blob(Cow<'a, [u8]>),
    /// Already truncated to whole microseconds (see [`micros`]).
    Time(DateTime<Utc>),
}

fn text(s: &str) -> Val<'_> {
    Val::Text(Some(Cow::Borrowed(s)))
}

fn opt_text(s: Option<&str>) -> Val<'_> {
    Val::Text(s.map(Cow::Borrowed))
}

fn owned(s: String) -> Val<'static> {
    Val::Text(Some(Cow::Owned(s)))
}

/// Both engines hold microseconds; truncating before writing makes them
/// agree on every value (PostgreSQL would otherwise round toward its epoch).
pub(crate) fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

/// The smallest whole microsecond at or after `t`: stored times are whole
/// microseconds, so `stored >= t` ⇔ `stored >= ceil(t)` and likewise for `<`.
pub(crate) fn ceil_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    let floor = micros(t);
    if floor < t {
        floor + TimeDelta::microseconds(1)
    } else {
        floor
    }
}

fn int_u64(table: &'static str, field: &'static str, v: u64) -> Result<Val<'static>> {
    i64::try_from(v)
        .map(|v| Val::Int(Some(v)))
        .map_err(|_| StoreError::Unstorable {
            table,
            field,
            reason: format!("{v} is larger than {}", i64::MAX),
        })
}

fn json_err(
    table: &'static str,
    field: &'static str,
) -> impl FnOnce(serde_json::Error) -> StoreError {
    move |e| StoreError::Unstorable {
        table,
        field,
        reason: e.to_string(),
    }
}

fn json_list(table: &'static str, field: &'static str, v: &[String]) -> Result<Val<'static>> {
    serde_json::to_string(v)
        .map(owned)
        .map_err(json_err(table, field))
}

/// PostgreSQL text cannot hold U+0000; refusing it in both engines keeps
/// them alike (the source stage should quarantine such records).
fn no_nul<'a>(table: &Table, vals: Vec<Val<'a>>) -> Result<Vec<Val<'a>>> {
    for (i, v) in vals.iter().enumerate() {
        if let Val::Text(Some(s)) = v
            && s.contains('\0')
        {
            return Err(nul_error(table, i));
        }
    }
    Ok(vals)
}

fn nul_error(table: &Table, col: usize) -> StoreError {
    StoreError::Unstorable {
        table: table.name,
        field: table.cols.get(col).copied().unwrap_or("?"),
        reason: "text contains a NUL character, which PostgreSQL cannot store".into(),
    }
}

/// What a write does when the row's key already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Conflict {
    /// Keep the stored row.
    Nothing,
    /// Overwrite every non-key column.
    Update,
    /// Overwrite only when some column differs, so "changed rows" counts real updates.
    UpdateIfChanged,
}

/// SQL dialect differences the generated statements care about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    fn param(self, n: usize) -> String {
        match self {
            Dialect::Sqlite => format!("?{n}"),
            Dialect::Postgres => format!("${n}"),
        }
    }
    fn distinct(self) -> &'static str {
        match self {
            Dialect::Sqlite => "IS NOT",
            Dialect::Postgres => "IS DISTINCT FROM",
        }
    }
    /// Byte-order sorting for a text column, the same in both engines (and
    /// the same as Rust's `String` order), whatever the database locale.
    pub fn bytewise(self, col: &str) -> String {
        match self {
            Dialect::Sqlite => col.to_string(),
            Dialect::Postgres => format!("{col} COLLATE \"C\""),
        }
    }
}

/// A table as the codec sees it: its writable columns in bind order, the
/// unique key writes conflict on, and read-only columns selected after them.
#[derive(Debug)]
pub(crate) struct Table {
    pub name: &'static str,
    pub cols: &'static [&'static str],
    pub conflict: &'static [&'static str],
    pub read_extra: &'static [&'static str],
}

impl Table {
    /// `SELECT <cols>[, <read_extra>] FROM <name>`.
    pub fn select(&self) -> String {
        let mut s = String::from("SELECT ");
        s.push_str(&self.cols.join(", "));
        for c in self.read_extra {
            s.push_str(", ");
            s.push_str(c);
        }
        s.push_str(" FROM ");
        s.push_str(self.name);
        s
    }

    /// A `rows`-row `INSERT … ON CONFLICT` with numbered parameters.
    pub fn insert(&self, d: Dialect, rows: usize, on: Conflict) -> String {
        let n = self.cols.len();
        let mut s = format!(
            "INSERT INTO {} ({}) VALUES ",
            self.name,
            self.cols.join(", ")
        );
        for r in 0..rows {
            s.push_str(if r == 0 { "(" } else { ", (" });
            for c in 0..n {
                if c > 0 {
                    s.push_str(", ");
                }
                s.push_str(&d.param(r * n + c + 1));
            }
            s.push(')');
        }
        let _ = write!(s, " ON CONFLICT ({}) DO ", self.conflict.join(", "));
        let rest: Vec<&str> = self
            .cols
            .iter()
            .copied()
            .filter(|c| !self.conflict.contains(c))
            .collect();
        if on == Conflict::Nothing || rest.is_empty() {
            s.push_str("NOTHING");
            return s;
        }
        s.push_str("UPDATE SET ");
        let sets: Vec<String> = rest.iter().map(|c| format!("{c} = excluded.{c}")).collect();
        s.push_str(&sets.join(", "));
        if on == Conflict::UpdateIfChanged {
            let old: Vec<String> = rest.iter().map(|c| format!("{}.{c}", self.name)).collect();
            let new: Vec<String> = rest.iter().map(|c| format!("excluded.{c}")).collect();
            let _ = write!(
                s,
                " WHERE ({}) {} ({})",
                old.join(", "),
                d.distinct(),
                new.join(", ")
            );
        }
        s
    }

    /// Positions in `cols` of the conflict key, in key order.
    pub fn key_positions(&self) -> Vec<usize> {
        self.conflict
            .iter()
            .filter_map(|k| self.cols.iter().position(|c| c == k))
            .collect()
    }

    /// `<k1> = <p1> AND <k2> = <p2>` with parameters numbered from 1.
    pub fn key_filter(&self, d: Dialect) -> String {
        let parts: Vec<String> = self
            .conflict
            .iter()
            .enumerate()
            .map(|(i, k)| format!("{k} = {}", d.param(i + 1)))
            .collect();
        parts.join(" AND ")
    }
}

pub(crate) const EVENTS: Table = Table {
    name: "events",
    cols: &[
        "source",
        "source_id",
        "occurred_at",
        "reported_at",
        "lat",
        "lon",
        "geo_precision",
        "location_country",
        "admin1",
        "place",
        "country",
        "category",
        "subtype",
        "severity",
        "confidence",
        "title",
        "actors",
        "links",
        "fatalities",
        "goldstein",
        "tone",
        "mentions",
        "reason",
        "raw",
    ],
    conflict: &["source", "source_id"],
    read_extra: &[],
};

pub(crate) const QUARANTINE: Table = Table {
    name: "quarantine",
    cols: &[
        "quarantined_at",
        "source",
        "file",
        "line",
        "reason",
        "raw",
        "raw_sha256",
    ],
    conflict: &["source", "file", "line", "raw_sha256"],
    read_extra: &["id"],
};

pub(crate) const ORGS: Table = Table {
    name: "orgs",
    cols: &["id", "name", "kind", "country"],
    conflict: &["id"],
    read_extra: &[],
};

pub(crate) const SITES: Table = Table {
    name: "sites",
    cols: &[
        "id",
        "org",
        "name",
        "kind",
        "lat",
        "lon",
        "polygon",
        "country",
        "sector",
        "value_usd",
        "headcount",
        "status",
    ],
    conflict: &["id"],
    read_extra: &[],
};

pub(crate) const PEOPLE: Table = Table {
    name: "people",
    cols: &[
        "id",
        "name",
        "nationality",
        "org",
        "email",
        "phone",
        "language",
        "needs",
        "consent",
        "site",
    ],
    conflict: &["id"],
    read_extra: &[],
};

pub(crate) const LEGS: Table = Table {
    name: "legs",
    cols: &[
        "id", "person", "lat", "lon", "country", "place", "from_at", "to_at",
    ],
    conflict: &["id"],
    read_extra: &[],
};

pub(crate) const DEPENDENCIES: Table = Table {
    name: "dependencies",
    cols: &["site", "on_id", "kind", "criticality"],
    conflict: &["site", "on_id"],
    read_extra: &[],
};

pub(crate) const ASSESSMENTS: Table = Table {
    name: "assessments",
    cols: &[
        "area",
        "category",
        "at",
        "score",
        "level",
        "trend",
        "guideline",
        "explanation",
    ],
    conflict: &["area", "category", "at"],
    read_extra: &[],
};

pub(crate) const RUNS: Table = Table {
    name: "runs",
    cols: &[
        "kind",
        "file",
        "started_at",
        "records_read",
        "accepted",
        "duplicates",
        "quarantined",
    ],
    // Runs are only appended; the identity column never conflicts.
    conflict: &["id"],
    read_extra: &[],
};

// --- reading ------------------------------------------------------------

/// Typed access to one cell of a result row; engines implement it for their
/// row type. Errors are plain text: [`Reader`] adds the table and column.
pub(crate) trait Cell {
    fn int(&self, i: usize) -> Result<Option<i64>, String>;
    fn real(&self, i: usize) -> Result<Option<f64>, String>;
    fn text(&self, i: usize) -> Result<Option<String>, String>;
    fn blob(&self, i: usize) -> Result<Option<Vec<u8>>, String>;
    fn time(&self, i: usize) -> Result<Option<DateTime<Utc>>, String>;
}

/// A row being decoded: every failure names the table and the column.
pub(crate) struct Reader<'r> {
    row: &'r dyn Cell,
    table: &'static Table,
}

impl<'r> Reader<'r> {
    pub fn new(row: &'r dyn Cell, table: &'static Table) -> Self {
        Self { row, table }
    }

    fn field(&self, i: usize) -> &'static str {
        let t = self.table;
        t.cols
            .get(i)
            .or_else(|| t.read_extra.get(i.saturating_sub(t.cols.len())))
            .copied()
            .unwrap_or("?")
    }

    pub fn corrupt(&self, i: usize, reason: impl Display) -> StoreError {
        StoreError::Corrupt {
            table: self.table.name,
            field: self.field(i),
            reason: reason.to_string(),
        }
    }

    fn need<T>(&self, i: usize, v: Result<Option<T>, String>) -> Result<T> {
        match v {
            Ok(Some(v)) => Ok(v),
            Ok(None) => Err(self.corrupt(i, "is NULL")),
            Err(e) => Err(self.corrupt(i, e)),
        }
    }
    fn maybe<T>(&self, i: usize, v: Result<Option<T>, String>) -> Result<Option<T>> {
        v.map_err(|e| self.corrupt(i, e))
    }

    pub fn int(&self, i: usize) -> Result<i64> {
        self.need(i, self.row.int(i))
    }
    pub fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        self.maybe(i, self.row.int(i))
    }
    pub fn real(&self, i: usize) -> Result<f64> {
        self.need(i, self.row.real(i))
    }
    pub fn opt_real(&self, i: usize) -> Result<Option<f64>> {
        self.maybe(i, self.row.real(i))
    }
    pub fn text(&self, i: usize) -> Result<String> {
        self.need(i, self.row.text(i))
    }
    pub fn opt_text(&self, i: usize) -> Result<Option<String>> {
        self.maybe(i, self.row.text(i))
    }
    pub fn blob(&self, i: usize) -> Result<Vec<u8>> {
        self.need(i, self.row.blob(i))
    }
    pub fn time(&self, i: usize) -> Result<DateTime<Utc>> {
        self.need(i, self.row.time(i))
    }

    /// A required text column through a validating parser.
    pub fn parse<T, E: Display>(
        &self,
        i: usize,
        f: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<T> {
        let s = self.text(i)?;
        f(&s).map_err(|e| self.corrupt(i, e))
    }
    /// An optional text column through a validating parser.
    pub fn opt_parse<T, E: Display>(
        &self,
        i: usize,
        f: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<Option<T>> {
        match self.opt_text(i)? {
            None => Ok(None),
            Some(s) => f(&s).map(Some).map_err(|e| self.corrupt(i, e)),
        }
    }
    /// A required integer that must fit `T`.
    pub fn int_as<T: TryFrom<i64>>(&self, i: usize) -> Result<T> {
        let v = self.int(i)?;
        T::try_from(v).map_err(|_| self.corrupt(i, format!("{v} is out of range")))
    }
    pub fn opt_int_as<T: TryFrom<i64>>(&self, i: usize) -> Result<Option<T>> {
        match self.opt_int(i)? {
            None => Ok(None),
            Some(v) => T::try_from(v)
                .map(Some)
                .map_err(|_| self.corrupt(i, format!("{v} is out of range"))),
        }
    }
    pub fn string_list(&self, i: usize) -> Result<Vec<String>> {
        self.parse(i, |s| serde_json::from_str::<Vec<String>>(s))
    }
    pub fn point(&self, lat: usize, lon: usize) -> Result<Point> {
        Ok(Point {
            lat: Lat::new(self.real(lat)?).map_err(|e| self.corrupt(lat, e))?,
            lon: Lon::new(self.real(lon)?).map_err(|e| self.corrupt(lon, e))?,
        })
    }
}

fn code<T>(parsed: Option<T>, what: &str) -> Result<T, String> {
    parsed.ok_or_else(|| format!("unknown {what} code"))
}

// --- events ---------------------------------------------------------------

pub(crate) fn event_vals(e: &Event) -> Result<Vec<Val<'_>>> {
    let t = EVENTS.name;
    let (actors, links) = (
        json_list(t, "actors", &e.actors)?,
        json_list(t, "links", &e.links)?,
    );
    no_nul(&EVENTS, event_cols(e, actors, links).into())
}

/// One event's row with no allocation of its own: the JSON lists are
/// written into `actors` and `links`, buffers the caller reuses row after
/// row (a bulk insert binds the row, which copies it, before the next one).
pub(crate) fn event_row<'a>(
    e: &'a Event,
    actors: &'a mut String,
    links: &'a mut String,
) -> Result<[Val<'a>; 24]> {
    json_list_into(actors, &e.actors);
    json_list_into(links, &e.links);
    let row = event_cols(e, text(actors), text(links));
    for (i, v) in row.iter().enumerate() {
        if let Val::Text(Some(s)) = v
            && has_nul(s)
        {
            return Err(nul_error(&EVENTS, i));
        }
    }
    Ok(row)
}

/// Whether `s` holds a NUL: a branch-free fold the compiler vectorises,
/// several times faster than a search on ~1 KB of text per row that has none.
fn has_nul(s: &str) -> bool {
    s.bytes().fold(false, |any, b| any | (b == 0))
}

/// The events row in `EVENTS.cols` order, with the JSON lists given.
fn event_cols<'a>(e: &'a Event, actors: Val<'a>, links: Val<'a>) -> [Val<'a>; 24] {
    let loc = e.location.as_ref();
    [
        text(&e.id.source),
        text(&e.id.source_id),
        Val::Time(micros(e.occurred_at)),
        Val::Time(micros(e.reported_at)),
        Val::Real(loc.map(|l| l.point.lat())),
        Val::Real(loc.map(|l| l.point.lon())),
        opt_text(loc.map(|l| l.precision.code())),
        opt_text(
            loc.and_then(|l| l.country.as_ref())
                .map(CountryCode::as_str),
        ),
        opt_text(loc.and_then(|l| l.admin1.as_deref())),
        opt_text(loc.and_then(|l| l.place.as_deref())),
        opt_text(e.country.as_ref().map(CountryCode::as_str)),
        text(e.category.code()),
        text(e.subtype.code()),
        Val::Int(Some(i64::from(e.severity.get()))),
        Val::Real(Some(f64::from(e.confidence))),
        text(&e.title),
        actors,
        links,
        Val::Int(e.fatalities.map(i64::from)),
        Val::Real(e.goldstein.map(f64::from)),
        Val::Real(e.tone.map(f64::from)),
        Val::Int(e.mentions.map(i64::from)),
        text(&e.reason),
        text(&e.raw),
    ]
}

/// `v` as a JSON array of strings, byte for byte what `serde_json` writes
/// (so rows are the same whichever path wrote them), into a reused buffer.
fn json_list_into(out: &mut String, v: &[String]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.clear();
    out.push('[');
    for (i, s) in v.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        // Most strings need no escape: one vectorised pass says so.
        if !s.bytes().fold(false, |any, b| {
            any | (b < 0x20) | (b == b'"') | (b == b'\\')
        }) {
            out.push_str(s);
            out.push('"');
            continue;
        }
        let mut from = 0;
        for (at, b) in s.bytes().enumerate() {
            let esc = match b {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0x08 => "\\b",
                0x0c => "\\f",
                0..0x20 => "",
                _ => continue,
            };
            out.push_str(s.get(from..at).unwrap_or_default());
            if esc.is_empty() {
                out.push_str("\\u00");
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 15)]));
            } else {
                out.push_str(esc);
            }
            from = at + 1;
        }
        out.push_str(s.get(from..).unwrap_or_default());
        out.push('"');
    }
    out.push(']');
}

pub(crate) fn event_key(id: &EventId) -> [Val<'_>; 2] {
    [text(&id.source), text(&id.source_id)]
}

pub(crate) fn read_event(r: &Reader<'_>) -> Result<Event> {
    let location = match (r.opt_real(4)?, r.opt_real(5)?) {
        (None, None) => None,
        (Some(_), Some(_)) => Some(Location {
            point: r.point(4, 5)?,
            precision: r.parse(6, |s| code(GeoPrecision::parse(s), "precision"))?,
            country: r.opt_parse(7, CountryCode::parse)?,
            admin1: r.opt_text(8)?,
            place: r.opt_text(9)?,
        }),
        (None, Some(_)) => return Err(r.corrupt(4, "is NULL while lon is set")),
        (Some(_), None) => return Err(r.corrupt(5, "is NULL while lat is set")),
    };
    let category = r.parse(11, Category::parse)?;
    Ok(Event {
        id: EventId::new(r.text(0)?, r.text(1)?),
        occurred_at: r.time(2)?,
        reported_at: r.time(3)?,
        location,
        country: r.opt_parse(10, CountryCode::parse)?,
        category,
        subtype: r.parse(12, |s| Subtype::parse_in(category, s))?,
        severity: {
            let v: u8 = r.int_as(13)?;
            Severity::new(v).map_err(|e| r.corrupt(13, e))?
        },
        confidence: r.real(14)? as f32,
        title: r.text(15)?,
        actors: r.string_list(16)?,
        links: r.string_list(17)?,
        fatalities: r.opt_int_as(18)?,
        goldstein: r.opt_real(19)?.map(|v| v as f32),
        tone: r.opt_real(20)?.map(|v| v as f32),
        mentions: r.opt_int_as(21)?,
        reason: r.text(22)?,
        raw: r.text(23)?,
    })
}

// --- quarantine -------------------------------------------------------------

pub(crate) fn quarantine_vals(q: &Quarantined, at: DateTime<Utc>) -> Result<Vec<Val<'_>>> {
    let sha = Sha256::digest(&q.raw);
    no_nul(
        &QUARANTINE,
        vec![
            Val::Time(micros(at)),
            text(&q.source),
            text(&q.file),
            int_u64(QUARANTINE.name, "line", q.line)?,
            text(&q.reason),
            Val::Blob(Cow::Borrowed(&q.raw)),
            Val::Blob(Cow::Owned(sha.as_slice().to_vec())),
        ],
    )
}

pub(crate) fn read_quarantine(r: &Reader<'_>) -> Result<crate::QuarantineRow> {
    Ok(crate::QuarantineRow {
        id: r.int(7)?,
        at: r.time(0)?,
        record: Quarantined {
            source: r.text(1)?,
            file: r.text(2)?,
            line: r.int_as(3)?,
            reason: r.text(4)?,
            raw: r.blob(5)?,
        },
    })
}

// --- registry -------------------------------------------------------------

pub(crate) fn org_vals(o: &Organisation) -> Result<Vec<Val<'_>>> {
    no_nul(
        &ORGS,
        vec![
            text(&o.id),
            text(&o.name),
            text(o.kind.code()),
            opt_text(o.country.as_ref().map(CountryCode::as_str)),
        ],
    )
}

pub(crate) fn read_org(r: &Reader<'_>) -> Result<Organisation> {
    Ok(Organisation {
        id: r.text(0)?,
        name: r.text(1)?,
        kind: r.parse(2, OrgKind::parse)?,
        country: r.opt_parse(3, CountryCode::parse)?,
    })
}

pub(crate) fn site_vals(s: &Site) -> Result<Vec<Val<'_>>> {
    let anchor = s.anchor();
    let ring = match &s.geometry {
        Geometry::Point(_) => Val::Text(None),
        Geometry::Polygon(p) => {
            let ring: Vec<[f64; 2]> = p.ring().iter().map(|q| [q.lon(), q.lat()]).collect();
            serde_json::to_string(&ring)
                .map(owned)
                .map_err(json_err(SITES.name, "polygon"))?
        }
    };
    no_nul(
        &SITES,
        vec![
            text(&s.id),
            text(&s.org),
            text(&s.name),
            text(s.kind.code()),
            Val::Real(Some(anchor.lat())),
            Val::Real(Some(anchor.lon())),
            ring,
            text(s.country.as_str()),
            opt_text(s.sector.as_deref()),
            Val::Real(s.value_usd),
            Val::Int(Some(i64::from(s.headcount))),
            text(&s.status),
        ],
    )
}

pub(crate) fn read_site(r: &Reader<'_>) -> Result<Site> {
    let geometry = match r.opt_text(6)? {
        None => Geometry::Point(r.point(4, 5)?),
        Some(json) => {
            let ring: Vec<[f64; 2]> = serde_json::from_str(&json).map_err(|e| r.corrupt(6, e))?;
            let points = ring
                .into_iter()
                .map(|[lon, lat]| Point::new(lat, lon))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| r.corrupt(6, e))?;
            Geometry::Polygon(Polygon::new(points).map_err(|e| r.corrupt(6, e))?)
        }
    };
    Ok(Site {
        id: r.text(0)?,
        org: r.text(1)?,
        name: r.text(2)?,
        kind: r.parse(3, SiteKind::parse)?,
        geometry,
        country: r.parse(7, CountryCode::parse)?,
        sector: r.opt_text(8)?,
        value_usd: r.opt_real(9)?,
        headcount: r.int_as(10)?,
        status: r.text(11)?,
    })
}

pub(crate) fn person_vals(p: &Person) -> Result<Vec<Val<'_>>> {
    no_nul(
        &PEOPLE,
        vec![
            text(&p.id),
            text(&p.name),
            opt_text(p.nationality.as_ref().map(CountryCode::as_str)),
            opt_text(p.org.as_deref()),
            opt_text(p.email.as_deref()),
            opt_text(p.phone.as_deref()),
            text(&p.language),
            json_list(PEOPLE.name, "needs", &p.needs)?,
            opt_text(p.consent.as_deref()),
            opt_text(p.site.as_deref()),
        ],
    )
}

pub(crate) fn read_person(r: &Reader<'_>) -> Result<Person> {
    Ok(Person {
        id: r.text(0)?,
        name: r.text(1)?,
        nationality: r.opt_parse(2, CountryCode::parse)?,
        org: r.opt_text(3)?,
        email: r.opt_text(4)?,
        phone: r.opt_text(5)?,
        language: r.text(6)?,
        needs: r.string_list(7)?,
        consent: r.opt_text(8)?,
        site: r.opt_text(9)?,
    })
}

pub(crate) fn leg_vals(l: &ItineraryLeg) -> Result<Vec<Val<'_>>> {
    no_nul(
        &LEGS,
        vec![
            text(&l.id),
            text(&l.person),
            Val::Real(Some(l.point.lat())),
            Val::Real(Some(l.point.lon())),
            text(l.country.as_str()),
            text(&l.place),
            Val::Time(micros(l.from)),
            Val::Time(micros(l.to)),
        ],
    )
}

pub(crate) fn read_leg(r: &Reader<'_>) -> Result<ItineraryLeg> {
    ItineraryLeg::new(
        r.text(0)?,
        r.text(1)?,
        r.point(2, 3)?,
        r.parse(4, CountryCode::parse)?,
        r.text(5)?,
        r.time(6)?,
        r.time(7)?,
    )
    .map_err(|e| r.corrupt(7, e))
}

pub(crate) fn dependency_vals(d: &Dependency) -> Result<Vec<Val<'_>>> {
    no_nul(
        &DEPENDENCIES,
        vec![
            text(&d.site),
            text(&d.on),
            text(d.kind.code()),
            Val::Real(Some(d.criticality)),
        ],
    )
}

pub(crate) fn read_dependency(r: &Reader<'_>) -> Result<Dependency> {
    Ok(Dependency {
        site: r.text(0)?,
        on: r.text(1)?,
        kind: r.parse(2, DependencyKind::parse)?,
        criticality: r.real(3)?,
    })
}

// --- assessments and runs ---------------------------------------------------

pub(crate) fn assessment_vals(a: &Assessment) -> Result<Vec<Val<'_>>> {
    no_nul(
        &ASSESSMENTS,
        vec![
            owned(a.area.to_string()),
            text(a.category.code()),
            Val::Time(micros(a.at)),
            Val::Real(Some(a.score)),
            Val::Int(Some(i64::from(a.level.rank()))),
            text(a.trend.code()),
            text(&a.guideline),
            text(&a.explanation),
        ],
    )
}

pub(crate) fn read_assessment(r: &Reader<'_>) -> Result<Assessment> {
    Ok(Assessment {
        area: r.parse(0, Area::parse)?,
        category: r.parse(1, Category::parse)?,
        at: r.time(2)?,
        score: r.real(3)?,
        level: {
            let rank: u8 = r.int_as(4)?;
            code(Level::from_rank(rank), "level").map_err(|e| r.corrupt(4, e))?
        },
        trend: r.parse(5, |s| code(Trend::parse(s), "trend"))?,
        guideline: r.text(6)?,
        explanation: r.text(7)?,
    })
}

pub(crate) fn run_vals(run: &RunRecord) -> Result<Vec<Val<'_>>> {
    let t = RUNS.name;
    no_nul(
        &RUNS,
        vec![
            text(&run.kind),
            text(&run.file),
            Val::Time(micros(run.started_at)),
            int_u64(t, "records_read", run.read)?,
            int_u64(t, "accepted", run.accepted)?,
            int_u64(t, "duplicates", run.duplicates)?,
            int_u64(t, "quarantined", run.quarantined)?,
        ],
    )
}

pub(crate) fn read_run(r: &Reader<'_>) -> Result<RunRecord> {
    Ok(RunRecord {
        kind: r.text(0)?,
        file: r.text(1)?,
        started_at: r.time(2)?,
        read: r.int_as(3)?,
        accepted: r.int_as(4)?,
        duplicates: r.int_as(5)?,
        quarantined: r.int_as(6)?,
    })
}

/// Keeps the last of rows sharing a conflict key, in first-seen order: a
/// multi-row `DO UPDATE` may not touch one row twice.
pub(crate) fn last_per_key<'a>(table: &Table, rows: Vec<Vec<Val<'a>>>) -> Vec<Vec<Val<'a>>> {
    let keys = table.key_positions();
    let mut out: Vec<Vec<Val<'a>>> = Vec::with_capacity(rows.len());
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for row in rows {
        let k = format!("{:?}", keys.iter().map(|&i| &row[i]).collect::<Vec<_>>());
        match index.get(&k) {
            Some(&at) => out[at] = row,
            None => {
                index.insert(k, out.len());
                out.push(row);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_sql_names_conflict_and_changed_columns() {
        let sql = ORGS.insert(Dialect::Sqlite, 1, Conflict::UpdateIfChanged);
        assert_eq!(
            sql,
            "INSERT INTO orgs (id, name, kind, country) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind, \
             country = excluded.country WHERE (orgs.name, orgs.kind, orgs.country) IS NOT \
             (excluded.name, excluded.kind, excluded.country)"
        );
        let sql = DEPENDENCIES.insert(Dialect::Postgres, 2, Conflict::Nothing);
        assert!(
            sql.contains("($5, $6, $7, $8) ON CONFLICT (site, on_id) DO NOTHING"),
            "{sql}"
        );
    }

    #[test]
    fn times_truncate_and_bounds_round_up_to_the_microsecond() {
        let t = DateTime::from_timestamp(1_571_927_400, 123_456_789).unwrap();
        assert_eq!(micros(t).timestamp_subsec_nanos(), 123_456_000);
        assert_eq!(ceil_micros(t).timestamp_subsec_nanos(), 123_457_000);
        let whole = DateTime::from_timestamp(1_571_927_400, 5_000).unwrap();
        assert_eq!(ceil_micros(whole), whole);
        // Before 1970 the sub-second part still truncates toward the past.
        let old = DateTime::from_timestamp(-1, 999_999_999).unwrap();
        assert_eq!(micros(old).timestamp_micros(), -1);
    }

    #[test]
    fn json_lists_are_written_as_serde_json_writes_them() {
        let all: String = (0u8..0x80).map(char::from).collect();
        let cases: Vec<Vec<String>> = vec![
            vec![],
            vec![String::new()],
            vec!["THE EU".into(), "中国 \"quoted\" \\ back/slash".into()],
            vec![all, "\u{7f}\u{2028}é".into()],
        ];
        let mut buf = String::from("left over");
        for v in cases {
            json_list_into(&mut buf, &v);
            assert_eq!(buf, serde_json::to_string(&v).unwrap());
        }
    }

    #[test]
    fn last_row_per_key_wins() {
        let row = |k: &'static str, v: i64| vec![text(k), Val::Int(Some(v))];
        let t = Table {
            name: "t",
            cols: &["k", "v"],
            conflict: &["k"],
            read_extra: &[],
        };
        let out = last_per_key(&t, vec![row("a", 1), row("b", 2), row("a", 3)]);
        assert_eq!(out, vec![row("a", 3), row("b", 2)]);
    }
}
