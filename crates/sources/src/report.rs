//! Field reports as JSON → events. The schema is documented in
//! `crates/sources/FIELD_REPORTS.md`; in short, one report is an object:
//!
//! ```json
//! {
//!   "id": "KE-2024-0193",                     // unique within the organisation (required)
//!   "organisation": "Embassy in Nairobi",     // reporter organisation (required)
//!   "reporter": "duty officer",               // optional
//!   "time": "2024-05-02T09:30:00+03:00",      // RFC 3339 (required)
//!   "point": {"lat": -1.2864, "lon": 36.8172},// optional
//!   "place": "内罗毕",                         // optional: resolved with GeoNames when no point
//!   "country": "KE",                          // optional ISO 3166-1 alpha-2 or alpha-3
//!   "category_hint": "security/kidnapping",   // optional: category or category/subtype
//!   "severity_hint": 4,                        // optional 1..5
//!   "lang": "zh",                              // optional: zh or en (detected when absent)
//!   "text": "…",                               // what happened (required)
//!   "attachments": [{"ref": "https://…/photo.jpg", "media_type": "image/jpeg", "sha256": "…"}]
//! }
//! ```
//!
//! A file (or stdin, or an API body later) holds one report, an array of
//! reports, or `{"reports": [...]}`. Unknown fields are an error naming them
//! (a typo must not silently lose data). Attachments are kept by reference
//! (in `links`), never fetched.
//!
//! Mapping: `EventId("report", "<organisation>/<id>")`; time → `occurred_at`
//! and `reported_at`; the point (city precision) or the place resolved
//! through the shipped GeoNames table (city precision, the reason names the
//! match), country from the field, else reverse-geocoded; classification
//! from the reporter's hint when given (confidence 0.7: a person on the
//! spot, not yet corroborated), else from the text rules; severity from
//! the hint, else the text rules, else 2. A report with neither a hint nor
//! a rule match is quarantined asking for a `category_hint`.

use crate::json::{self, Item};
use crate::record::{Builder, LineCounter, clip, squash};
use crate::{Batch, geo};
use chrono::{DateTime, Utc};
use farguard_classify::classify_text;
use farguard_model::{
    Category, CountryCode, Event, EventId, GeoPrecision, Location, Point, Severity, Subtype,
};
use serde::Deserialize;

/// The `source` of every field-report event and quarantine record.
pub const SOURCE: &str = "report";

/// One field report, as the schema above.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldReport {
    pub id: String,
    pub organisation: String,
    #[serde(default)]
    pub reporter: Option<String>,
    pub time: String,
    #[serde(default)]
    pub point: Option<LatLon>,
    #[serde(default)]
    pub place: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub category_hint: Option<String>,
    #[serde(default)]
    pub severity_hint: Option<u8>,
    #[serde(default)]
    pub lang: Option<String>,
    pub text: String,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatLon {
    pub lat: f64,
    pub lon: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attachment {
    #[serde(rename = "ref")]
    pub reference: String,
    #[serde(default)]
    pub media_type: Option<String>,
    #[serde(default)]
    pub sha256: Option<String>,
}

/// Whether `head` looks like field-report JSON.
pub fn looks_like(head: &[u8]) -> bool {
    let h = String::from_utf8_lossy(head);
    h.contains("\"organisation\"") || h.contains("\"reports\"")
}

/// Parses field reports (one object, an array, or `{"reports": [...]}`).
/// Never fails and never panics.
pub fn parse_reports(name: &str, bytes: &[u8]) -> Batch {
    let mut out = Builder::new(SOURCE, name);
    let mut lines = LineCounter::new(bytes);
    let Some(text) = crate::text_or_reject(&mut out, bytes) else {
        return out.finish();
    };
    let lead = text.len() - text.trim_start().len();
    let (items, damage) = match text.as_bytes().get(lead) {
        Some(b'[') => json::array_items(text, lead),
        Some(b'{') => match json::find_array(text, "reports") {
            Some(at) => json::array_items(text, at),
            None => {
                let line = lines.at(lead);
                out.record(
                    line,
                    &format!("line {line}"),
                    text.trim().as_bytes(),
                    report(text.trim()),
                );
                return out.finish();
            }
        },
        _ => {
            out.reject(
                0,
                "not field-report JSON: expected an object or an array of objects".into(),
                bytes,
            );
            return out.finish();
        }
    };
    for Item { offset, raw } in items {
        let line = lines.at(offset);
        let place = format!("line {line} (report {})", out.batch.read + 1);
        out.record(line, &place, raw.get().as_bytes(), report(raw.get()));
    }
    if let Some(d) = damage {
        let line = lines.at(d.offset);
        out.reject(
            line,
            format!("line {line}: the reports array is damaged here ({}); the reports before it were read", d.reason),
            bytes.get(d.offset..).unwrap_or_default(),
        );
    }
    out.finish()
}

/// The category and subtype a hint names (`security`, `security/kidnapping`,
/// `kidnapping`).
fn hint(h: &str) -> Result<(Category, Option<Subtype>), String> {
    let bad = || {
        format!(
            "category_hint {h:?} is not a category or category/subtype (e.g. security/kidnapping)"
        )
    };
    match h.split_once('/') {
        Some((c, s)) => {
            let cat = Category::parse(c).map_err(|_| bad())?;
            let sub = Subtype::parse_in(cat, s).map_err(|_| bad())?;
            Ok((cat, Some(sub)))
        }
        None => match Category::parse(h) {
            Ok(c) => Ok((c, None)),
            Err(_) => Subtype::parse(h)
                .map(|s| (s.category(), Some(s)))
                .map_err(|_| bad()),
        },
    }
}

/// The "other" subtype of a category, for a hint that names only the category.
fn other(c: Category) -> Subtype {
    match c {
        Category::Security => Subtype::OtherSecurity,
        Category::Political => Subtype::OtherPolitical,
        Category::Legal => Subtype::OtherLegal,
        Category::Economic => Subtype::OtherEconomic,
        Category::Reputation => Subtype::OtherReputation,
        Category::Natural => Subtype::OtherNatural,
        Category::Health => Subtype::OtherHealth,
    }
}

fn report(raw: &str) -> Result<Event, String> {
    let r: FieldReport = serde_json::from_str(raw)
        .map_err(|e| format!("does not match the field report schema: {e}"))?;
    if r.id.trim().is_empty() || r.organisation.trim().is_empty() {
        return Err("/id and /organisation must not be empty".into());
    }
    if r.text.trim().is_empty() {
        return Err("/text is empty: say what happened".into());
    }
    let time = DateTime::parse_from_rfc3339(r.time.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            format!(
                "/time {:?} is not an RFC 3339 time (e.g. 2024-05-02T09:30:00+03:00)",
                r.time
            )
        })?;
    let country_field = match r
        .country
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        Some(c) => Some(
            CountryCode::parse(c)
                .map_err(|_| format!("/country {c:?} is not an ISO 3166-1 code"))?,
        ),
        None => None,
    };
    let mut notes = Vec::new();
    let location = match (
        &r.point,
        r.place.as_deref().map(str::trim).filter(|p| !p.is_empty()),
    ) {
        (Some(p), place) => {
            let point = Point::new(p.lat, p.lon).map_err(|_| {
                format!(
                    "/point {}, {} is out of range: lat -90..90, lon -180..180",
                    p.lat, p.lon
                )
            })?;
            Some(Location {
                point,
                precision: GeoPrecision::City,
                country: country_field.or_else(|| geo::country_at(p.lat, p.lon)),
                admin1: None,
                place: place.map(str::to_string),
            })
        }
        (None, Some(name)) => match geo::place(name, country_field) {
            Some(found) => {
                notes.push(format!(
                    "place {name:?} resolved to GeoNames {} ({}, population {})",
                    found.geonameid, found.name, found.population
                ));
                Some(Location {
                    point: Point::new(found.lat, found.lon).map_err(|e| e.to_string())?,
                    precision: GeoPrecision::City,
                    country: found.country,
                    admin1: None,
                    place: Some(name.to_string()),
                })
            }
            None => {
                notes.push(format!(
                    "place {name:?} is not in the GeoNames table: no point"
                ));
                None
            }
        },
        (None, None) => None,
    };
    let country = country_field.or(location.as_ref().and_then(|l| l.country));
    let lang = r.lang.as_deref().map(str::trim).filter(|l| !l.is_empty());
    let rules = classify_text(&r.text, lang);
    let sev_hint = match r.severity_hint {
        Some(s) => Some(
            Severity::new(s).map_err(|_| format!("/severity_hint {s} is out of range: 1 to 5"))?,
        ),
        None => None,
    };
    let (category, subtype, severity, confidence, mut reason) = match r
        .category_hint
        .as_deref()
        .map(str::trim)
        .filter(|h| !h.is_empty())
    {
        Some(h) => {
            let (cat, sub) = hint(h)?;
            let sub = sub
                .or_else(|| {
                    rules
                        .as_ref()
                        .filter(|c| c.category == cat)
                        .map(|c| c.subtype)
                })
                .unwrap_or_else(|| other(cat));
            let sev = sev_hint
                .or_else(|| rules.as_ref().map(|c| c.severity))
                .unwrap_or(Severity::MINOR);
            let mut why = format!(
                "field report by {}: category_hint {h:?} → {}/{}",
                r.organisation.trim(),
                cat.code(),
                sub.code()
            );
            match (&r.severity_hint, &rules) {
                (Some(_), _) => why.push_str(&format!("; severity_hint {}", sev.get())),
                (None, Some(c)) => why.push_str(&format!(
                    "; severity {} from the text rules ({})",
                    sev.get(),
                    c.reason
                )),
                (None, None) => why.push_str("; no severity given, read as 2"),
            }
            (cat, sub, sev, 0.7, why)
        }
        None => {
            let c = rules.ok_or("no risk signal: the text rules found nothing; add a category_hint (e.g. security/kidnapping)")?;
            let sev = sev_hint.unwrap_or(c.severity);
            let why = format!("field report by {}: {}", r.organisation.trim(), c.reason);
            (c.category, c.subtype, sev, c.confidence.min(0.7), why)
        }
    };
    for n in notes {
        reason.push_str(&format!("; {n}"));
    }
    let title = clip(&squash(&r.text), 160);
    let mut actors = vec![r.organisation.trim().to_string()];
    actors.extend(
        r.reporter
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string),
    );
    Ok(Event {
        id: EventId::new(SOURCE, format!("{}/{}", r.organisation.trim(), r.id.trim())),
        occurred_at: time,
        reported_at: time,
        location,
        country,
        category,
        subtype,
        severity,
        confidence,
        title,
        actors,
        links: r.attachments.iter().map(|a| a.reference.clone()).collect(),
        fatalities: None,
        goldstein: None,
        tone: None,
        mentions: None,
        reason,
        raw: raw.to_string(),
    })
}
