//! ACLED CSV exports → events, in both schemas ACLED has published: the
//! current lower-case one (31 columns: `event_id_cnty`, `sub_event_type`,
//! `iso3`, `timestamp`…) and the older upper-case one (25 columns:
//! `EVENT_ID_CNTY`, `ALLY_ACTOR_1`…, no sub-event type). Columns are found
//! by name in the header (any case), so column order does not matter.
//!
//! Quoted notes run over several lines; the quarantine record keeps the
//! record's exact bytes and its first line. Dates are read in every form
//! the exports show: `9-May-20` (re-saved by a spreadsheet), `01-January-2015`,
//! `2020-05-09`, `09 May 2020`.
//!
//! Mapping: `EventId("acled", event_id_cnty)`; event_date → `occurred_at`
//! (midnight UTC); `timestamp` (Unix seconds, when present) → `reported_at`,
//! else the event date; latitude/longitude → point, ACLED geo_precision 1–2
//! (the town, or a town nearby) → city precision, 3 (a region) → admin-1;
//! country from `iso3`, else the country name, else reverse-geocoded from
//! the point; admin1 name, location → place; actors and associated actors;
//! fatalities; event and sub-event type → `farguard_classify::acled`.

use crate::record::{Builder, clip, squash};
use crate::{Batch, geo};
use chrono::{DateTime, NaiveDate, Utc};
use farguard_classify::acled;
use farguard_model::{CountryCode, Event, EventId, GeoPrecision, Location, Point};

/// The `source` of every ACLED event and quarantine record.
pub const SOURCE: &str = "acled";

/// Column positions, found by name in the header.
#[derive(Debug, Default)]
struct Columns {
    width: usize,
    id: Option<usize>,
    date: Option<usize>,
    event_type: Option<usize>,
    sub_event_type: Option<usize>,
    actor1: Option<usize>,
    assoc1: Option<usize>,
    actor2: Option<usize>,
    assoc2: Option<usize>,
    country: Option<usize>,
    iso3: Option<usize>,
    admin1: Option<usize>,
    location: Option<usize>,
    lat: Option<usize>,
    lon: Option<usize>,
    precision: Option<usize>,
    source: Option<usize>,
    notes: Option<usize>,
    fatalities: Option<usize>,
    timestamp: Option<usize>,
}

impl Columns {
    fn from_header(h: &[String]) -> Self {
        let find = |names: &[&str]| {
            h.iter()
                .position(|c| names.iter().any(|n| c.trim().eq_ignore_ascii_case(n)))
        };
        Self {
            width: h.len(),
            id: find(&["event_id_cnty"]),
            date: find(&["event_date"]),
            event_type: find(&["event_type"]),
            sub_event_type: find(&["sub_event_type"]),
            actor1: find(&["actor1"]),
            assoc1: find(&["assoc_actor_1", "ally_actor_1"]),
            actor2: find(&["actor2"]),
            assoc2: find(&["assoc_actor_2", "ally_actor_2"]),
            country: find(&["country"]),
            iso3: find(&["iso3"]),
            admin1: find(&["admin1"]),
            location: find(&["location"]),
            lat: find(&["latitude"]),
            lon: find(&["longitude"]),
            precision: find(&["geo_precision"]),
            source: find(&["source"]),
            notes: find(&["notes"]),
            fatalities: find(&["fatalities"]),
            timestamp: find(&["timestamp"]),
        }
    }
    /// The columns a file must have to be read as ACLED.
    fn missing(&self) -> Vec<&'static str> {
        let need = [
            ("event_id_cnty", self.id),
            ("event_date", self.date),
            ("event_type", self.event_type),
            ("latitude", self.lat),
            ("longitude", self.lon),
        ];
        need.iter()
            .filter(|(_, c)| c.is_none())
            .map(|(n, _)| *n)
            .collect()
    }
}

/// Whether a first line looks like an ACLED header.
pub fn looks_like(head: &[u8]) -> bool {
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let l = String::from_utf8_lossy(line).to_ascii_lowercase();
    l.contains("event_id_cnty") && l.contains("event_date") && l.contains(',')
}

/// Parses an ACLED CSV export. Never fails and never panics: a file without
/// the ACLED header becomes one quarantine record at line 0 naming the
/// missing columns; bad records are quarantined one by one.
pub fn parse_acled(name: &str, bytes: &[u8]) -> Batch {
    let mut out = Builder::new(SOURCE, name);
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text);
    let mut rec = csv::ByteRecord::new();
    let header = match rdr.read_byte_record(&mut rec) {
        Ok(true) => rec
            .iter()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect::<Vec<_>>(),
        Ok(false) => return out.finish(),
        Err(e) => {
            out.reject(
                0,
                format!("line 1: the header cannot be read as CSV: {e}"),
                text,
            );
            return out.finish();
        }
    };
    let cols = Columns::from_header(&header);
    let missing = cols.missing();
    if !missing.is_empty() {
        out.reject(
            0,
            format!(
                "line 1: not an ACLED export: the header lacks {}; pass an ACLED CSV export with its header line",
                missing.join(", ")
            ),
            text,
        );
        return out.finish();
    }
    loop {
        let start = rdr.position().byte() as usize;
        let line = rdr.position().line();
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {
                let end = rdr.position().byte() as usize;
                let raw = trim_eol(text.get(start..end).unwrap_or_default());
                if rec.len() == 1 && rec.get(0).is_some_and(|f| f.is_empty()) {
                    continue; // blank line
                }
                let place = format!("line {line}");
                out.record(line, &place, raw, record(&cols, &rec, raw));
            }
            Err(e) => {
                // A CSV error (e.g. bad quoting) is this record's, not the file's.
                let end = rdr.position().byte() as usize;
                let raw = text.get(start..end.max(start)).unwrap_or_default();
                out.reject(line, format!("line {line}: not valid CSV: {e}"), raw);
                if end <= start {
                    break;
                }
            }
        }
    }
    out.finish()
}

fn trim_eol(b: &[u8]) -> &[u8] {
    let b = b.strip_suffix(b"\n").unwrap_or(b);
    b.strip_suffix(b"\r").unwrap_or(b)
}

fn record(c: &Columns, rec: &csv::ByteRecord, raw: &[u8]) -> Result<Event, String> {
    if rec.len() != c.width {
        return Err(format!(
            "expected {} comma-separated fields as in the header, found {}",
            c.width,
            rec.len()
        ));
    }
    let raw = std::str::from_utf8(raw).map_err(|e| {
        format!(
            "invalid UTF-8 at byte {} of the record",
            e.valid_up_to() + 1
        )
    })?;
    let get = |col: Option<usize>| -> &str {
        col.and_then(|i| rec.get(i))
            .and_then(|f| std::str::from_utf8(f).ok())
            .unwrap_or("")
            .trim()
    };
    let id = get(c.id);
    if id.is_empty() {
        return Err("event_id_cnty is empty".into());
    }
    let date_s = get(c.date);
    let day = date(date_s).ok_or_else(|| {
        format!("event_date {date_s:?} is not a date: expected e.g. 2020-05-09, 9-May-20 or 01-January-2015")
    })?;
    let occurred_at = day.and_time(chrono::NaiveTime::MIN).and_utc();
    let reported_at = match get(c.timestamp) {
        "" => occurred_at,
        ts => ts
            .parse::<i64>()
            .ok()
            .and_then(|s| DateTime::<Utc>::from_timestamp(s, 0))
            .ok_or_else(|| format!("timestamp {ts:?} is not Unix seconds"))?,
    };
    let fatalities = match get(c.fatalities) {
        "" => None,
        f => Some(
            f.parse::<u32>()
                .map_err(|_| format!("fatalities {f:?} is not a whole number"))?,
        ),
    };
    let (lat_s, lon_s) = (get(c.lat), get(c.lon));
    let lat: f64 = lat_s
        .parse()
        .map_err(|_| format!("latitude {lat_s:?} is not a number"))?;
    let lon: f64 = lon_s
        .parse()
        .map_err(|_| format!("longitude {lon_s:?} is not a number"))?;
    let point = Point::new(lat, lon).map_err(|_| {
        format!(
            "latitude/longitude {lat_s}, {lon_s} is out of range: expected -90..90 and -180..180"
        )
    })?;
    let precision = match get(c.precision) {
        "3" => GeoPrecision::Admin1,
        _ => GeoPrecision::City,
    };
    let (event_type, sub) = (get(c.event_type), get(c.sub_event_type));
    let class = acled::classify(event_type, sub, fatalities).ok_or_else(|| {
        format!("event_type {event_type:?} / sub_event_type {sub:?} is not an ACLED event type")
    })?;
    let country = CountryCode::parse(get(c.iso3))
        .ok()
        .or_else(|| CountryCode::from_name(get(c.country)))
        .or_else(|| geo::country_at(lat, lon));
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let location = Some(Location {
        point,
        precision,
        country,
        admin1: non_empty(get(c.admin1)),
        place: non_empty(get(c.location)),
    });
    let actors: Vec<String> = [c.actor1, c.assoc1, c.actor2, c.assoc2]
        .into_iter()
        .map(get)
        .filter(|a| !a.is_empty())
        .map(str::to_string)
        .collect();
    let what = if sub.is_empty() { event_type } else { sub };
    let mut title = what.to_string();
    match (get(c.actor1), get(c.actor2)) {
        ("", _) => {}
        (a, "") => title.push_str(&format!(": {a}")),
        (a, b) => title.push_str(&format!(": {a} / {b}")),
    }
    let where_ = [get(c.location), get(c.country)]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ");
    if !where_.is_empty() {
        title.push_str(&format!(" in {where_}"));
    }
    let mut reason = class.reason;
    if let Some(src) = non_empty(get(c.source)) {
        reason.push_str(&format!("; reported by {}", clip(&squash(&src), 120)));
    }
    let _ = c.notes; // the notes stay in `raw`, for the text classifier and audit
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
        title: clip(&squash(&title), 300),
        actors,
        links: Vec::new(),
        fatalities,
        goldstein: None,
        tone: None,
        mentions: None,
        reason,
        raw: raw.to_string(),
    })
}

/// An ACLED date in any of the forms its exports use.
fn date(s: &str) -> Option<NaiveDate> {
    const FORMATS: &[&str] = &[
        "%Y-%m-%d", "%d-%b-%y", "%d-%B-%Y", "%d-%b-%Y", "%d %B %Y", "%d %b %Y", "%d/%m/%Y",
    ];
    let s = s.trim();
    FORMATS
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(s, f).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_date_forms_parse() {
        assert_eq!(date("9-May-20"), NaiveDate::from_ymd_opt(2020, 5, 9));
        assert_eq!(date("01-January-2015"), NaiveDate::from_ymd_opt(2015, 1, 1));
        assert_eq!(date("2020-05-09"), NaiveDate::from_ymd_opt(2020, 5, 9));
        assert_eq!(date("31-Feb-20"), None);
    }
}
