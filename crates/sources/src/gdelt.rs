//! GDELT event files → events: the 2.0 export (`*.export.CSV`, 61 columns,
//! every 15 minutes) and 1.0 daily and historical files (58 and 57 columns),
//! plain or zipped as GDELT publishes them.
//!
//! One line is one record. A line with the wrong number of fields, invalid
//! UTF-8, a field that does not parse (naming the column, e.g.
//! `ActionGeo_Lat`) or no CAMEO code is quarantined with its line number and
//! raw bytes; the rest of the file goes on. `read_*` also rejects the whole
//! file when it cannot be read, is a broken zip, or has no line of the
//! expected width (it is not a GDELT file of that version).
//!
//! Mapping, per line: `EventId("gdelt", GLOBALEVENTID)` — 1.0 and 2.0 ids
//! share one sequence, so both versions use the source `gdelt`; SQLDATE →
//! `occurred_at` (midnight UTC); DATEADDED → `reported_at`; the ActionGeo
//! columns → `location` (no coordinates → `None`; the FIPS 10-4 country code
//! converted to ISO, unknown codes leaving the country empty; an ADM1 code
//! that is only the country, or ends in `00` — GDELT's "general" — is no
//! admin1; a row with no geo type, found in the 1.0 backfile, gets no
//! location at 0,0 and otherwise the coarsest precision its codes support); CAMEO code, Goldstein and counts → the [`CameoClassifier`]; the
//! line itself → `raw`.
//!
//! Speed: fields are `&str` slices of the line (no per-field allocation), the
//! CAMEO and FIPS tables are binary-searched or indexed, numbers and dates are
//! parsed without intermediate strings; the allocations left are the ones
//! `Event` owns.

mod columns;
mod fips;

use crate::scan;
use crate::unpack::{MAX_UNZIPPED_BYTES, unpack};
use crate::{Batch, SourceError};
use chrono::{DateTime, Utc};
use columns::*;
use farguard_classify::{CameoClassifier, CameoInput, cameo};
use farguard_model::{
    Classifier, Event, EventId, GeoPrecision, Lat, Location, Lon, Point, Quarantined,
};
use std::path::Path;

/// The `source` of every GDELT event and quarantine record.
pub const SOURCE: &str = "gdelt";

/// Reads a GDELT 2.0 event export (`*.export.CSV` or `*.export.CSV.zip`).
///
/// Whole-file problems are errors naming the file; bad lines are quarantined.
pub fn read_gdelt_v2(path: &Path) -> Result<Batch, SourceError> {
    read(path, Version::V2)
}

/// Reads a GDELT 1.0 event file: a daily file (58 columns, with SOURCEURL) or
/// the historical backfile (57 columns); lines of both widths may be mixed.
pub fn read_gdelt_v1(path: &Path) -> Result<Batch, SourceError> {
    read(path, Version::V1)
}

/// Parses the bytes of a GDELT 2.0 export (plain or zipped). Never fails and
/// never panics: an input that cannot be unpacked becomes one quarantine
/// record at line 0, and bad lines are quarantined one by one.
pub fn parse_gdelt_v2(name: &str, bytes: &[u8]) -> Batch {
    parse(name, bytes, Version::V2)
}

/// Parses the bytes of a GDELT 1.0 event file, as [`parse_gdelt_v2`] does.
pub fn parse_gdelt_v1(name: &str, bytes: &[u8]) -> Batch {
    parse(name, bytes, Version::V1)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V1,
    V2,
}

impl Version {
    fn layout(self, fields: usize) -> Option<&'static Layout> {
        match (self, fields) {
            (Version::V2, 61) => Some(&V2),
            (Version::V1, 58) => Some(&V1_DAILY),
            (Version::V1, 57) => Some(&V1_HISTORICAL),
            _ => None,
        }
    }
    fn widths(self) -> &'static str {
        match self {
            Version::V2 => "61",
            Version::V1 => "57 or 58",
        }
    }
    fn expected_file(self) -> &'static str {
        match self {
            Version::V2 => "; pass a GDELT 2.0 *.export.CSV or *.export.CSV.zip",
            Version::V1 => "; pass a GDELT 1.0 daily *.export.CSV(.zip) or a backfile year",
        }
    }
    fn format(self) -> &'static str {
        match self {
            Version::V2 => "GDELT 2.0 event export",
            Version::V1 => "GDELT 1.0 event",
        }
    }
}

/// What the parser learned about the input as a whole.
#[derive(Debug, Default)]
struct Shape {
    /// Lines that had a known number of fields.
    laid_out: u64,
    /// The first record's line number and field count (`None` when it was
    /// not UTF-8).
    first: Option<(u64, Option<usize>)>,
}

fn read(path: &Path, version: Version) -> Result<Batch, SourceError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|cause| SourceError::Read {
        file: file.clone(),
        cause,
    })?;
    let text = unpack(&file, &bytes, MAX_UNZIPPED_BYTES)?;
    let (batch, shape) = parse_text(&file, &text, version);
    if batch.read > 0 && shape.laid_out == 0 {
        let mut detail = format!("no line has {} tab-separated fields", version.widths());
        match shape.first {
            Some((line, Some(n))) => {
                detail.push_str(&format!(" (line {line} has {n})"));
                match (version, n) {
                    (Version::V2, 57 | 58) => {
                        detail.push_str("; it looks like GDELT 1.0: ingest it as GDELT 1.0")
                    }
                    (Version::V1, 61) => {
                        detail.push_str("; it looks like GDELT 2.0: ingest it as GDELT 2.0")
                    }
                    _ => detail.push_str(version.expected_file()),
                }
            }
            first => {
                let line = first.map_or(1, |(l, _)| l);
                detail.push_str(&format!(" (line {line} is not UTF-8 text)"));
                detail.push_str(version.expected_file());
            }
        }
        return Err(SourceError::Format {
            file,
            format: version.format(),
            detail,
        });
    }
    Ok(batch)
}

fn parse(name: &str, bytes: &[u8], version: Version) -> Batch {
    match unpack(name, bytes, MAX_UNZIPPED_BYTES) {
        Ok(text) => parse_text(name, &text, version).0,
        Err(e) => Batch::rejected(SOURCE, name, bytes, e.to_string()),
    }
}

/// Parses the bytes of a GDELT 2.0 export as [`parse_gdelt_v2`] does, handing
/// `sink` one batch per `rows` records read (line numbers count from the
/// start of the input), so parsing and storing can overlap and memory stays
/// bounded. `sink` returns `false` to stop early. Every record read is in
/// exactly one batch; an empty input gives one empty batch.
pub fn parse_gdelt_v2_chunked(
    name: &str,
    bytes: &[u8],
    rows: usize,
    mut sink: impl FnMut(Batch) -> bool,
) {
    match unpack(name, bytes, MAX_UNZIPPED_BYTES) {
        Ok(text) => {
            let rows = rows.max(1);
            parse_chunks(name, &text, Version::V2, rows, rows, &mut |b, _| sink(b));
        }
        Err(e) => {
            sink(Batch::rejected(SOURCE, name, bytes, e.to_string()));
        }
    }
}

/// [`parse_gdelt_v2`] on a text already unpacked (a zip's content, whatever
/// the input was named: the name only labels quarantine records).
pub fn parse_gdelt_v2_text(name: &str, text: &[u8]) -> Batch {
    parse_text(name, text, Version::V2).0
}

/// [`parse_gdelt_v1`] on a text already unpacked.
pub fn parse_gdelt_v1_text(name: &str, text: &[u8]) -> Batch {
    parse_text(name, text, Version::V1).0
}

/// [`parse_gdelt_v2_chunked`] on a text already unpacked (a zip's content,
/// whatever the input was named), handing `sink` each batch with how many
/// bytes of `text` have been read by the end of it (for progress). The
/// first batch holds `first` records (small, so a consumer starts early),
/// each next one twice as many as the one before, up to `rows` (so the
/// parser keeps ahead of a consumer slower than it).
pub fn parse_gdelt_v2_text_chunked(
    name: &str,
    text: &[u8],
    first: usize,
    rows: usize,
    mut sink: impl FnMut(Batch, usize) -> bool,
) {
    parse_chunks(
        name,
        text,
        Version::V2,
        first.max(1),
        rows.max(1),
        &mut sink,
    );
}

fn parse_text(file: &str, text: &[u8], version: Version) -> (Batch, Shape) {
    let mut out = None;
    let shape = parse_chunks(file, text, version, usize::MAX, usize::MAX, &mut |b, _| {
        out = Some(b);
        true
    });
    (out.unwrap_or_default(), shape)
}

fn parse_chunks(
    file: &str,
    text: &[u8],
    version: Version,
    first: usize,
    rows: usize,
    sink: &mut dyn FnMut(Batch, usize) -> bool,
) -> Shape {
    // GDELT lines are 300–600 bytes.
    let capacity = (text.len() / 400).min(rows.max(first));
    let fresh = || Batch {
        events: Vec::with_capacity(capacity),
        ..Batch::default()
    };
    let mut batch = fresh();
    let mut sent = false;
    let mut limit = first.min(rows);
    let mut shape = Shape::default();
    let mut line_no = 0u64;
    // One validation of the whole text spares one per line; a text with a
    // bad byte somewhere is checked line by line.
    let whole = std::str::from_utf8(text).ok();
    let mut lines = scan::TabLines::new(text);
    let mut ends = [0u32; MAX_FIELDS];
    let mut dates = Dates::default();
    while let Some(cut) = lines.next_line(&mut ends) {
        line_no += 1;
        let raw = cut.line;
        if raw.is_empty() || (line_no == 1 && raw.starts_with(b"GLOBALEVENTID\t")) {
            continue;
        }
        batch.read += 1;
        let utf8 = match whole {
            // All ASCII and no NUL, in a text already known to be UTF-8.
            Some(w) if cut.plain => w.get(cut.start..cut.start + raw.len()).ok_or(()),
            _ => Err(()),
        };
        let line = match utf8 {
            Ok(line) => Ok(line),
            Err(()) => checked(raw),
        };
        if shape.first.is_none() {
            shape.first = Some((line_no, line.is_ok().then_some(cut.fields)));
        }
        let result = line.and_then(|line| {
            parse_line(
                &Fields { line, ends: &ends },
                cut.fields,
                version,
                &mut shape,
                &mut dates,
            )
        });
        match result {
            Ok(event) => batch.events.push(event),
            Err(why) => batch.quarantined.push(Quarantined {
                source: SOURCE.to_string(),
                file: file.to_string(),
                line: line_no,
                reason: format!("line {line_no}: {why}"),
                raw: raw.to_vec(),
            }),
        }
        if batch.read as usize >= limit {
            sent = true;
            limit = limit.saturating_mul(2).min(rows);
            let done = (cut.start + raw.len() + 1).min(text.len());
            if !sink(std::mem::replace(&mut batch, fresh()), done) {
                return shape;
            }
        }
    }
    if batch.read > 0 || !sent {
        sink(batch, text.len());
    }
    shape
}

/// The exact check for a line the scanner did not call plain: UTF-8, and
/// no NUL (valid UTF-8 that no database text column holds: refusing the
/// line here means the store never fails the whole batch).
fn checked(raw: &[u8]) -> Result<&str, String> {
    match std::str::from_utf8(raw) {
        Ok(line) => match scan::find(raw, 0) {
            Some(at) => Err(crate::record::nul_reason(at)),
            None => Ok(line),
        },
        Err(e) => Err(format!(
            "invalid UTF-8 at byte {} of the line",
            e.valid_up_to() + 1
        )),
    }
}

/// One line and where its fields end (as cut by [`scan::TabLines`]).
struct Fields<'a, 'e> {
    line: &'a str,
    ends: &'e [u32; MAX_FIELDS],
}

impl<'a> Fields<'a, '_> {
    #[inline]
    fn get(&self, col: usize) -> &'a str {
        scan::field(self.line, self.ends, col)
    }
}

/// The date of the previous line, per date column: a GDELT file has one
/// DATEADDED and a handful of SQLDATEs, so most lines reuse one.
#[derive(Debug, Default)]
struct LastDate<'a>(Option<(&'a str, DateTime<Utc>)>);

impl<'a> LastDate<'a> {
    fn get(&mut self, s: &'a str, col: &str) -> Result<DateTime<Utc>, String> {
        match self.0 {
            Some((prev, t)) if prev == s => Ok(t),
            _ => {
                let t = date(s, col)?;
                self.0 = Some((s, t));
                Ok(t)
            }
        }
    }
}

#[derive(Debug, Default)]
struct Dates<'a> {
    sql: LastDate<'a>,
    added: LastDate<'a>,
}

fn parse_line<'a>(
    f: &Fields<'a, '_>,
    n: usize,
    version: Version,
    shape: &mut Shape,
    dates: &mut Dates<'a>,
) -> Result<Event, String> {
    let Some(layout) = version.layout(n) else {
        return Err(format!(
            "expected {} tab-separated fields, found {n}",
            version.widths()
        ));
    };
    shape.laid_out += 1;

    let id = f.get(GLOBALEVENTID);
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) || id.len() > 19 {
        return Err(format!(
            "GLOBALEVENTID {id:?} is not a positive whole number"
        ));
    }
    let occurred_at = dates.sql.get(f.get(SQLDATE), "SQLDATE")?;
    let reported_at = dates.added.get(f.get(layout.date_added), "DATEADDED")?;

    let quad_class = number::<u8>(f.get(QUAD_CLASS), "QuadClass")?;
    if let Some(q) = quad_class.filter(|q| !(1..=4).contains(q)) {
        return Err(format!(
            "QuadClass \"{q}\" is out of range: expected 1 to 4"
        ));
    }
    let goldstein = ranged(f.get(GOLDSTEIN_SCALE), "GoldsteinScale", 10.0)?;
    let tone = ranged(f.get(AVG_TONE), "AvgTone", 100.0)?;
    let mentions = number::<u32>(f.get(NUM_MENTIONS), "NumMentions")?;
    let input = CameoInput {
        event_code: f.get(EVENT_CODE),
        base_code: f.get(EVENT_BASE_CODE),
        root_code: f.get(EVENT_ROOT_CODE),
        quad_class,
        goldstein,
        num_mentions: mentions,
        num_sources: number(f.get(NUM_SOURCES), "NumSources")?,
        num_articles: number(f.get(NUM_ARTICLES), "NumArticles")?,
    };
    let Some(class) = CameoClassifier.classify(&input) else {
        return Err(format!(
            "no CAMEO event code: EventCode {:?}, EventBaseCode {:?}, EventRootCode {:?}, QuadClass {:?}",
            input.event_code,
            input.base_code,
            input.root_code,
            f.get(QUAD_CLASS)
        ));
    };

    let country = fips::to_iso(f.get(layout.action_geo_country_code));
    let place = non_empty(f.get(layout.action_geo_full_name));
    let location = location(f, layout, country, place)?;

    let (actor1, actor2) = (f.get(ACTOR1_NAME), f.get(ACTOR2_NAME));
    let title = title(actor1, &input, actor2, place);
    let mut actors =
        Vec::with_capacity(usize::from(!actor1.is_empty()) + usize::from(!actor2.is_empty()));
    for a in [actor1, actor2] {
        if !a.is_empty() {
            actors.push(a.to_string());
        }
    }
    let links = layout
        .source_url
        .map(|c| f.get(c))
        .filter(|u| !u.is_empty())
        .map(|u| vec![u.to_string()])
        .unwrap_or_default();

    Ok(Event {
        id: EventId::new(SOURCE, id),
        occurred_at,
        reported_at,
        location,
        country,
        category: class.category,
        subtype: class.subtype,
        severity: class.severity,
        confidence: class.confidence,
        title,
        actors,
        links,
        fatalities: None,
        goldstein,
        tone,
        mentions,
        reason: class.reason,
        raw: f.line.to_string(),
    })
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

fn location(
    f: &Fields<'_, '_>,
    layout: &Layout,
    country: Option<farguard_model::CountryCode>,
    place: Option<&str>,
) -> Result<Option<Location>, String> {
    let (lat_s, lon_s) = (f.get(layout.action_geo_lat), f.get(layout.action_geo_long));
    if lat_s.is_empty() && lon_s.is_empty() {
        return Ok(None);
    }
    let lat = float64(lat_s, "ActionGeo_Lat")?.unwrap_or(f64::NAN);
    let lat = Lat::new(lat)
        .map_err(|_| format!("ActionGeo_Lat {lat_s:?} is out of range: expected -90 to 90"))?;
    let lon = float64(lon_s, "ActionGeo_Long")?.unwrap_or(f64::NAN);
    let lon = Lon::new(lon)
        .map_err(|_| format!("ActionGeo_Long {lon_s:?} is out of range: expected -180 to 180"))?;
    let adm1 = f.get(layout.action_geo_adm1_code);
    let admin1 = (adm1.len() > 2 && !adm1.ends_with("00")).then(|| adm1.to_string());
    let precision = match f.get(layout.action_geo_type) {
        "1" => GeoPrecision::Country,
        "2" | "5" => GeoPrecision::Admin1,
        "3" | "4" => GeoPrecision::City,
        // The 1.0 backfile has rows with no resolution: 0,0 there means "no
        // place"; real coordinates are trusted only as far as the codes go,
        // never as a point to measure distance from.
        "" | "0" if lat.get() == 0.0 && lon.get() == 0.0 => return Ok(None),
        "" | "0" if admin1.is_some() => GeoPrecision::Admin1,
        "" | "0" => GeoPrecision::Country,
        other => {
            return Err(format!(
                "ActionGeo_Type {other:?} is not a geographic resolution: expected 1 to 5"
            ));
        }
    };
    Ok(Some(Location {
        point: Point { lat, lon },
        precision,
        country,
        admin1,
        place: place.map(str::to_string),
    }))
}

/// `"<Actor1Name> <CAMEO name> <Actor2Name> in <place>"`, leaving out what is
/// missing.
fn title(actor1: &str, input: &CameoInput<'_>, actor2: &str, place: Option<&str>) -> String {
    let verb = [input.event_code, input.base_code, input.root_code]
        .into_iter()
        .find_map(cameo::name)
        .unwrap_or("event");
    let mut t = String::with_capacity(
        actor1.len() + verb.len() + actor2.len() + place.map_or(0, str::len) + 6,
    );
    for part in [actor1, verb, actor2] {
        if !part.is_empty() {
            if !t.is_empty() {
                t.push(' ');
            }
            t.push_str(part);
        }
    }
    if let Some(p) = place {
        t.push_str(" in ");
        t.push_str(p);
    }
    t
}

/// An optional number: empty → `None`, unparsable → an error naming `col`.
fn number<T: std::str::FromStr>(s: &str, col: &str) -> Result<Option<T>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|_| format!("{col} {s:?} is not a number"))
}

/// A plain decimal (`-27.5667`, `3`): sign, digits as an integer, and how
/// many of them follow the point. `None` for anything else (exponents, a
/// `+`, `inf`, more than 18 digits), which `str::parse` then decides.
fn plain_decimal(s: &str) -> Option<(bool, u64, u32, u32)> {
    let b = s.as_bytes();
    let (neg, b) = match b {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, b),
    };
    let (int, frac) = match b.iter().position(|c| *c == b'.') {
        Some(p) => (b.get(..p)?, b.get(p + 1..)?),
        None => (b, &[][..]),
    };
    if int.is_empty() || (frac.is_empty() && int.len() < b.len()) || int.len() + frac.len() > 18 {
        return None;
    }
    let mut m = 0u64;
    for &c in int.iter().chain(frac) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        m = m * 10 + u64::from(d);
    }
    Some((neg, m, (int.len() + frac.len()) as u32, frac.len() as u32))
}

/// Exact powers of ten (every one up to 10²² is exact in `f64`).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// An optional `f64` column. A plain decimal of at most 15 digits is an
/// integer below 2⁵³ over an exact power of ten: one correctly rounded
/// division gives exactly what `str::parse` gives (Clinger's fast path),
/// several times faster; everything else goes through `str::parse`.
fn float64(s: &str, col: &str) -> Result<Option<f64>, String> {
    if let Some((neg, m, digits, frac)) = plain_decimal(s)
        && digits <= 15
        && let Some(p) = POW10.get(frac as usize)
    {
        let v = m as f64 / p;
        return Ok(Some(if neg { -v } else { v }));
    }
    number::<f64>(s, col)
}

/// An optional `f32` column, as [`float64`] does it: at most 7 digits (below
/// 2²⁴) over a power of ten up to 10¹⁰ (exact in `f32`) is one correctly
/// rounded `f32` division. A longer decimal (GDELT's AvgTone has 15 digits)
/// is rounded once to `f64` by the fast path and then to `f32`, which is the
/// correctly rounded `f32` unless the `f64` lies within an `f64` step of a
/// point halfway between two `f32`s — those, and values outside the normal
/// `f32` range, go through `str::parse`.
fn float32(s: &str, col: &str) -> Result<Option<f32>, String> {
    if let Some((neg, m, digits, frac)) = plain_decimal(s)
        && let Some(p) = POW10.get(frac as usize)
    {
        if digits <= 7 && frac <= 10 {
            let v = m as f32 / *p as f32;
            return Ok(Some(if neg { -v } else { v }));
        }
        if digits <= 15 {
            let v = m as f64 / p;
            // The 29 low mantissa bits are what rounding to f32 drops; a
            // halfway case is exactly the top one of them set.
            const DROPPED: u64 = (1 << 29) - 1;
            const HALF: u64 = 1 << 28;
            let low = v.to_bits() & DROPPED;
            if (v == 0.0 || (1e-30..1e30).contains(&v)) && low.abs_diff(HALF) > 1 {
                let v = v as f32;
                return Ok(Some(if neg { -v } else { v }));
            }
        }
    }
    number::<f32>(s, col)
}

/// An optional finite `f32` within `-limit..=limit`.
fn ranged(s: &str, col: &str, limit: f32) -> Result<Option<f32>, String> {
    match float32(s, col)? {
        Some(v) if !(v.is_finite() && (-limit..=limit).contains(&v)) => Err(format!(
            "{col} {s:?} is out of range: expected -{limit} to {limit}"
        )),
        v => Ok(v),
    }
}

/// `YYYYMMDD` (midnight UTC) or `YYYYMMDDHHMMSS`, worked out arithmetically
/// (days from the civil date, as in Hinnant's `days_from_civil`) after a
/// strict range check of every part.
fn date(s: &str, col: &str) -> Result<DateTime<Utc>, String> {
    let bad = || format!("{col} {s:?} is not a date: expected YYYYMMDD or YYYYMMDDHHMMSS");
    let b = s.as_bytes();
    if !(b.len() == 8 || b.len() == 14) || !b.iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    let num = |from: usize, to: usize| {
        b.get(from..to)
            .unwrap_or_default()
            .iter()
            .fold(0u32, |n, d| n * 10 + u32::from(d - b'0'))
    };
    let (y, m, d) = (num(0, 4), num(4, 6), num(6, 8));
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let month_days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(bad()),
    };
    if d == 0 || d > month_days {
        return Err(bad());
    }
    let (h, mi, sec) = if b.len() == 14 {
        (num(8, 10), num(10, 12), num(12, 14))
    } else {
        (0, 0, 0)
    };
    if h > 23 || mi > 59 || sec > 59 {
        return Err(bad());
    }
    // Days since 1970-01-01 of the proleptic Gregorian date.
    let (y, m) = (i64::from(y) - i64::from(m <= 2), i64::from(m));
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + i64::from(h * 3600 + mi * 60 + sec);
    DateTime::from_timestamp(secs, 0).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use farguard_model::{Category, Subtype};

    /// The real 2.0 export the project ships (GDELT, 2019-10-24 14:30 UTC).
    const EXPORT: &str = include_str!("../../../data/gdelt/20191024143000.export.CSV");

    /// Its line for GLOBALEVENTID 881990833: the EU consults, in Minsk.
    fn minsk() -> &'static str {
        EXPORT
            .lines()
            .find(|l| l.starts_with("881990833\t"))
            .unwrap()
    }

    fn one(line: &str) -> Result<Event, String> {
        let b = parse_gdelt_v2("t.CSV", line.as_bytes());
        assert_eq!(b.read, 1);
        match (
            b.events.into_iter().next(),
            b.quarantined.into_iter().next(),
        ) {
            (Some(e), None) => Ok(e),
            (None, Some(q)) => Err(q.reason),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_zipped_export_read_by_detection_is_unpacked_once() {
        use std::io::Write as _;
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        w.start_file("x.export.CSV", zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(EXPORT.as_bytes()).unwrap();
        let zipped = w.finish().unwrap().into_inner();
        let plain = parse_gdelt_v2("x.export.CSV", EXPORT.as_bytes());
        // Unpacked by detection, then parsed: its name still ends in .zip.
        let (f, b) = crate::parse_auto("x.export.CSV.zip", &zipped, None).unwrap();
        assert_eq!(f, crate::Format::GdeltV2);
        assert_eq!((b.read, b.events.len()), (2111, plain.events.len()));
        let (_, b) = crate::parse_auto("x.export.CSV.zip", &zipped, Some(f)).unwrap();
        assert_eq!(b.read, 2111);
    }

    #[test]
    fn text_chunks_are_the_whole_parse_and_say_how_far_they_read() {
        let whole = parse_gdelt_v2("x.CSV", EXPORT.as_bytes());
        let (mut events, mut quarantined, mut read, mut ends) = (vec![], vec![], 0, vec![]);
        // Named like a zip, as its unpacked content is: not unpacked again.
        parse_gdelt_v2_text_chunked("x.CSV.zip", EXPORT.as_bytes(), 100, 500, |b, done| {
            read += b.read;
            events.extend(b.events);
            quarantined.extend(b.quarantined);
            ends.push(done);
            true
        });
        assert_eq!(read, whole.read);
        assert_eq!(events.len(), whole.events.len());
        assert!(events == whole.events, "same events in the same order");
        assert_eq!(quarantined.len(), whole.quarantined.len());
        // 2,111 lines, 100, 200, 400, then 500 at a time: six batches, the
        // last (411) at the end.
        assert_eq!(ends.len(), 6, "{ends:?}");
        assert!(ends.windows(2).all(|w| w[0] < w[1]), "{ends:?}");
        assert_eq!(ends.last(), Some(&EXPORT.len()));
        let after = |n: usize| EXPORT.match_indices('\n').nth(n - 1).map(|(i, _)| i + 1);
        let firsts = [after(100), after(300), after(700), after(1200)];
        assert_eq!(
            ends[..4].iter().map(|e| Some(*e)).collect::<Vec<_>>(),
            firsts
        );
    }

    fn with_field(col: usize, value: &str) -> String {
        let mut f: Vec<&str> = minsk().split('\t').collect();
        f[col] = value;
        f.join("\t")
    }

    #[test]
    fn a_real_line_maps_field_by_field() {
        let e = one(minsk()).unwrap();
        assert_eq!(e.id.to_string(), "gdelt:881990833");
        assert_eq!(e.occurred_at.to_rfc3339(), "2018-10-24T00:00:00+00:00");
        assert_eq!(e.reported_at.to_rfc3339(), "2019-10-24T14:30:00+00:00");
        let l = e.location.as_ref().unwrap();
        assert_eq!((l.point.lat(), l.point.lon()), (53.9, 27.5667));
        assert_eq!(l.precision, GeoPrecision::City);
        assert_eq!(l.country.unwrap().as_str(), "BY");
        assert_eq!(l.admin1, None, "BO00 is GDELT's 'general', not a region");
        assert_eq!(
            l.place.as_deref(),
            Some("Minsk, Belarus (general), Belarus")
        );
        assert_eq!(e.country, l.country);
        assert_eq!(
            (e.category, e.subtype),
            (Category::Political, Subtype::Engagement)
        );
        assert_eq!(e.severity.get(), 1);
        assert_eq!(
            e.title,
            "consult THE EU in Minsk, Belarus (general), Belarus"
        );
        assert_eq!(e.actors, ["THE EU"]);
        assert_eq!(e.goldstein, Some(1.0));
        assert_eq!(e.mentions, Some(10));
        assert!(
            e.reason
                .starts_with("CAMEO 040 (consult) → political/engagement")
        );
        assert_eq!(e.raw, minsk());
        assert_eq!(e.links.len(), 1);
    }

    #[test]
    fn field_errors_name_the_column() {
        let cases = [
            (
                V2.action_geo_lat,
                "123",
                "ActionGeo_Lat \"123\" is out of range",
            ),
            (
                V2.action_geo_long,
                "east",
                "ActionGeo_Long \"east\" is not a number",
            ),
            (V2.action_geo_type, "9", "ActionGeo_Type \"9\""),
            (SQLDATE, "20181332", "SQLDATE \"20181332\" is not a date"),
            (V2.date_added, "2019", "DATEADDED \"2019\" is not a date"),
            (GLOBALEVENTID, "-5", "GLOBALEVENTID \"-5\""),
            (
                GOLDSTEIN_SCALE,
                "12",
                "GoldsteinScale \"12\" is out of range",
            ),
            (QUAD_CLASS, "7", "QuadClass \"7\" is out of range"),
            (NUM_ARTICLES, "many", "NumArticles \"many\" is not a number"),
        ];
        for (col, value, want) in cases {
            let e = one(&with_field(col, value)).unwrap_err();
            assert!(e.starts_with("line 1: ") && e.contains(want), "{e}");
        }
    }

    #[test]
    fn unknown_codes_are_quarantined_only_when_nothing_is_left() {
        let mut line = with_field(EVENT_CODE, "999");
        let e = one(&line).unwrap();
        assert!(e.reason.contains("unknown, read as 040"), "{}", e.reason);
        for col in [EVENT_BASE_CODE, EVENT_ROOT_CODE, QUAD_CLASS] {
            let mut f: Vec<&str> = line.split('\t').collect();
            f[col] = "";
            line = f.join("\t");
        }
        assert!(one(&line).unwrap_err().contains("no CAMEO event code"));
    }

    #[test]
    fn empty_geography_is_no_location() {
        let mut f: Vec<&str> = minsk().split('\t').collect();
        f[V2.action_geo_type..=V2.action_geo_long + 1].fill("");
        let e = one(&f.join("\t")).unwrap();
        assert_eq!((e.location, e.country), (None, None));
        assert_eq!(e.title, "consult THE EU");
    }

    #[test]
    fn missing_geo_type_is_never_a_point() {
        let e = one(&with_field(V2.action_geo_type, "")).unwrap();
        assert_eq!(e.location.unwrap().precision, GeoPrecision::Country);
        let mut f: Vec<&str> = minsk().split('\t').collect();
        f[V2.action_geo_type] = "0";
        f[V2.action_geo_adm1_code] = "BO04";
        let e = one(&f.join("\t")).unwrap();
        assert_eq!(e.location.unwrap().precision, GeoPrecision::Admin1);
        f[V2.action_geo_lat] = "0";
        f[V2.action_geo_long] = "0";
        let e = one(&f.join("\t")).unwrap();
        assert_eq!(e.location, None);
        assert_eq!(e.country.unwrap().as_str(), "BY");
    }

    #[test]
    fn unknown_fips_leaves_the_country_empty() {
        let e = one(&with_field(V2.action_geo_country_code, "QQ")).unwrap();
        assert!(e.location.is_some());
        assert_eq!(e.country, None);
    }

    #[test]
    fn fast_floats_are_exactly_what_std_parses() {
        let cases = [
            "0",
            "-0",
            "-0.0",
            "53.9",
            "27.5667",
            "-4.86421052631579",
            "1.0",
            "-10.0",
            "3.4",
            "0.1",
            "0.3",
            "-179.999999",
            "89.99999999999999",
            "123456789012345",
            "1234567.8",
            "0.000001234567",
            "1.",
            ".5",
            "+1.5",
            "1e3",
            "inf",
            "-",
            ".",
            "1.2.3",
            "12345678901234567890",
            "9007199254740993",
            "0.30000000000000004",
            "-4.86421052631579",
            "2.63157894736842",
            "-10.2564102564103",
            "0.0000000000000001",
            // An f32 halfway point (1 + 2^-24), written out in full, and
            // one f64 step either side of it.
            "1.000000059604644775390625",
            "1.0000000596046448",
            "1.0000000596046446",
            "16777217",
            "16777217.0",
        ];
        for s in cases {
            let want64 = s.parse::<f64>().ok();
            let got64 = float64(s, "X").ok().flatten();
            assert_eq!(got64.map(f64::to_bits), want64.map(f64::to_bits), "{s}");
            let want32 = s.parse::<f32>().ok();
            let got32 = float32(s, "X").ok().flatten();
            assert_eq!(got32.map(f32::to_bits), want32.map(f32::to_bits), "{s}");
        }
        // Every coordinate and score in the shipped export.
        for line in EXPORT.lines() {
            let f: Vec<&str> = line.split('\t').collect();
            for col in [V2.action_geo_lat, V2.action_geo_long, 40, 41, 48, 49] {
                let s = f[col];
                assert_eq!(
                    float64(s, "X").ok().flatten().map(f64::to_bits),
                    s.parse::<f64>().ok().map(f64::to_bits),
                    "{s}"
                );
            }
            for col in [GOLDSTEIN_SCALE, AVG_TONE] {
                let s = f[col];
                assert_eq!(
                    float32(s, "X").ok().flatten().map(f32::to_bits),
                    s.parse::<f32>().ok().map(f32::to_bits),
                    "{s}"
                );
            }
        }
    }

    #[test]
    fn dates_agree_with_chrono() {
        let days = [
            "19790101", "19700101", "19691231", "20000229", "19000228", "21000228", "20191024",
            "20241231", "16000229", "00010101", "00000229", "99991231",
        ];
        for d in days {
            let want = NaiveDate::parse_from_str(d, "%Y%m%d")
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap()
                .and_utc();
            assert_eq!(date(d, "X").unwrap(), want, "{d}");
            let t = format!("{d}235959");
            assert_eq!(
                date(&t, "X").unwrap(),
                want + chrono::TimeDelta::seconds(86_399)
            );
        }
        for bad in [
            "19001329", "19000229", "20230230", "20230431", "20230100", "00010229",
        ] {
            assert!(date(bad, "X").is_err(), "{bad}");
        }
    }

    #[test]
    fn dates_parse_strictly() {
        assert!(date("20191024143000", "X").is_ok());
        assert!(date("20190229", "X").is_err());
        assert!(date("20191024246000", "X").is_err());
        assert!(date("2019102414300", "X").is_err());
        assert!(date("2019-10-2", "X").is_err());
    }

    #[test]
    fn chunks_hold_every_record_once_with_its_line() {
        let mut text = EXPORT.as_bytes().to_vec();
        text.extend_from_slice(b"not\ta\tgdelt\tline\n");
        let whole = parse_gdelt_v2("x", &text);
        let mut parts = Vec::new();
        parse_gdelt_v2_chunked("x", &text, 500, |b| {
            parts.push(b);
            true
        });
        assert_eq!(parts.len(), whole.read.div_ceil(500) as usize);
        assert!(parts.iter().all(|b| b.read <= 500));
        let events: Vec<Event> = parts.iter().flat_map(|b| b.events.clone()).collect();
        let quarantined: Vec<Quarantined> =
            parts.iter().flat_map(|b| b.quarantined.clone()).collect();
        assert_eq!(events, whole.events);
        assert_eq!(quarantined, whole.quarantined);
        assert_eq!(quarantined[0].line, whole.read);
        let mut n = 0;
        parse_gdelt_v2_chunked("x", &text, 500, |_| {
            n += 1;
            false
        });
        assert_eq!(n, 1, "the sink can stop the parse");
        let mut empty = Vec::new();
        parse_gdelt_v2_chunked("x", b"", 500, |b| {
            empty.push(b);
            true
        });
        assert_eq!(empty, [Batch::default()]);
    }

    #[test]
    fn a_header_line_and_blank_lines_are_not_records() {
        let text = format!("GLOBALEVENTID\tSQLDATE\n\r\n{}\n\n", minsk());
        let b = parse_gdelt_v2("h.CSV", text.as_bytes());
        assert_eq!((b.read, b.events.len()), (1, 1));
    }
}
