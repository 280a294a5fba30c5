//! USGS earthquake GeoJSON summary feeds → events, in the old (API 1.0.x,
//! 2014: `nst`/`tsunami` often null) and new (1.8.x: numeric `tsunami`,
//! `nst`, `magType`…) property sets alike: only the properties both carry
//! are required, the rest are read when present.
//!
//! Mapping: `EventId("usgs", id)` (the network-prefixed id, e.g.
//! `nc72199065`; USGS keeps it across updates, so a re-published quake is a
//! duplicate); `time` (ms) → `occurred_at`, `updated` → `reported_at`;
//! geometry [lon, lat, depth] → a city-precision point; country
//! reverse-geocoded from the point (the feed has none; offshore quakes have
//! none); `place` → place; `title` → title; `url` → link; magnitude,
//! PAGER alert, status and tsunami flag → `farguard_classify::usgs`.
//!
//! A feature that is not an object, has no id, time or point, or has
//! coordinates out of range is quarantined with its line and exact bytes.
//! A cut-off file keeps every complete feature before the cut.

use crate::json::{self, Item};
use crate::record::{Builder, LineCounter, clip, squash};
use crate::{Batch, geo};
use chrono::{DateTime, Utc};
use farguard_classify::usgs::{self, UsgsInput};
use farguard_model::{Event, EventId, GeoPrecision, Location, Point};
use serde_json::Value;

/// The `source` of every USGS event and quarantine record.
pub const SOURCE: &str = "usgs";

/// Whether `head` looks like a USGS GeoJSON feed.
pub fn looks_like(head: &[u8]) -> bool {
    let h = String::from_utf8_lossy(head);
    h.contains("\"FeatureCollection\"")
        && (h.contains("earthquake.usgs.gov") || h.contains("\"mag\""))
}

/// Parses a USGS GeoJSON feed. Never fails and never panics.
pub fn parse_usgs(name: &str, bytes: &[u8]) -> Batch {
    let mut out = Builder::new(SOURCE, name);
    let mut lines = LineCounter::new(bytes);
    let text = match std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)) {
        Ok(t) => t,
        Err(e) => {
            out.reject(
                lines.at(e.valid_up_to()),
                format!(
                    "line {}: invalid UTF-8 (byte {}): GeoJSON must be UTF-8",
                    lines.at(e.valid_up_to()),
                    e.valid_up_to() + 1
                ),
                bytes,
            );
            return out.finish();
        }
    };
    let Some(start) = json::find_array(text, "features") else {
        out.reject(
            0,
            "not a GeoJSON FeatureCollection: no \"features\" array; pass a USGS earthquake feed (*.geojson)".into(),
            bytes,
        );
        return out.finish();
    };
    let (items, damage) = json::array_items(text, start);
    for Item { offset, raw } in items {
        let line = lines.at(offset);
        let place = format!("line {line} (feature {})", out.batch.read + 1);
        out.record(line, &place, raw.get().as_bytes(), feature(raw.get()));
    }
    if let Some(d) = damage {
        let line = lines.at(d.offset);
        out.reject(
            line,
            format!("line {line}: the features array is damaged here ({}); the features before it were read", d.reason),
            bytes.get(d.offset..).unwrap_or_default(),
        );
    }
    out.finish()
}

fn feature(raw: &str) -> Result<Event, String> {
    let v: Value = serde_json::from_str(raw).map_err(|e| format!("not JSON: {e}"))?;
    let p = v
        .pointer("/properties")
        .filter(|p| p.is_object())
        .ok_or("/properties is missing or not an object")?;
    let id = v
        .pointer("/id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or("/id is missing or not a string")?;
    let ms = |key: &str| -> Result<Option<DateTime<Utc>>, String> {
        match p.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(t) => t
                .as_i64()
                .and_then(DateTime::<Utc>::from_timestamp_millis)
                .map(Some)
                .ok_or_else(|| format!("/properties/{key} {t} is not a time in Unix milliseconds")),
        }
    };
    let occurred_at = ms("time")?.ok_or("/properties/time is missing")?;
    let reported_at = ms("updated")?.unwrap_or(occurred_at);
    let coords = v
        .pointer("/geometry/coordinates")
        .and_then(Value::as_array)
        .ok_or("/geometry/coordinates is missing: a USGS feature is a Point")?;
    let (lon, lat) = match (
        coords.first().and_then(Value::as_f64),
        coords.get(1).and_then(Value::as_f64),
    ) {
        (Some(x), Some(y)) => (x, y),
        _ => return Err("/geometry/coordinates must start with two numbers (lon, lat)".into()),
    };
    let point = Point::new(lat, lon).map_err(|_| {
        format!("/geometry/coordinates {lon}, {lat} is out of range: expected lon -180..180, lat -90..90")
    })?;
    let s = |key: &str| p.get(key).and_then(Value::as_str).unwrap_or("");
    let magnitude = match p.get("mag") {
        None | Some(Value::Null) => None,
        Some(m) => Some(
            m.as_f64()
                .ok_or_else(|| format!("/properties/mag {m} is not a number"))?,
        ),
    };
    let tsunami = p.get("tsunami").and_then(Value::as_i64).unwrap_or(0) == 1;
    let input = UsgsInput {
        kind: s("type"),
        magnitude,
        alert: s("alert"),
        status: s("status"),
        tsunami,
    };
    let class = usgs::classify(&input).ok_or_else(|| {
        format!(
            "no risk signal: a seismic event of type {:?}, not an earthquake",
            input.kind
        )
    })?;
    let country = geo::country_at(lat, lon);
    let place = (!s("place").is_empty()).then(|| squash(s("place")));
    let title = match s("title") {
        "" => format!(
            "M {} - {}",
            magnitude.map_or("?".into(), |m| format!("{m:.1}")),
            place.as_deref().unwrap_or("unknown place")
        ),
        t => t.to_string(),
    };
    let mut reason = class.reason;
    if let Some(d) = coords.get(2).and_then(Value::as_f64) {
        reason.push_str(&format!("; depth {d} km"));
    }
    Ok(Event {
        id: EventId::new(SOURCE, id),
        occurred_at,
        reported_at,
        location: Some(Location {
            point,
            precision: GeoPrecision::City,
            country,
            admin1: None,
            place,
        }),
        country,
        category: class.category,
        subtype: class.subtype,
        severity: class.severity,
        confidence: class.confidence,
        title: clip(&squash(&title), 300),
        actors: Vec::new(),
        links: [s("url")]
            .into_iter()
            .filter(|u| !u.is_empty())
            .map(str::to_string)
            .collect(),
        fatalities: None,
        goldstein: None,
        tone: None,
        mentions: None,
        reason,
        raw: raw.to_string(),
    })
}
