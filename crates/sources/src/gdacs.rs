//! GDACS RSS feeds (`rss.xml`, `rss_24h.xml`, `rss_7d.xml`) → events, one
//! per `<item>`, reading the `gdacs:`, `geo:` and `georss:` namespaces.
//!
//! Mapping: `EventId("gdacs", "<eventtype><eventid>/<episodeid>")` — GDACS
//! re-issues an event as new episodes while it unfolds (a cyclone moves, an
//! alert is raised); each episode is its own report, and the same episode in
//! the 24-hour and 7-day feeds is a duplicate. `gdacs:fromdate` →
//! `occurred_at`, `pubDate` → `reported_at`; `geo:Point` (or `georss:point`)
//! → the point, precise as the hazard allows (an earthquake or volcano is a
//! place, a cyclone or flood a region, a drought a country); country from
//! `gdacs:iso3`, else the country name, else reverse-geocoded; event type and
//! alert level → `farguard_classify::gdacs`; severity text, population,
//! vulnerability, bounding box and any `georss:polygon` go into the reason.
//!
//! An item with no event type, id, date or point is quarantined with its
//! line and exact bytes; a truncated feed keeps the items before the cut.

use crate::record::{Builder, LineCounter, clip, squash};
use crate::xml::{self, Node};
use crate::{Batch, geo};
use chrono::{DateTime, Utc};
use farguard_classify::gdacs;
use farguard_model::{CountryCode, Event, EventId, GeoPrecision, Location, Point, Subtype};

/// The `source` of every GDACS event and quarantine record.
pub const SOURCE: &str = "gdacs";

/// Whether `head` looks like a GDACS feed.
pub fn looks_like(head: &[u8]) -> bool {
    let h = String::from_utf8_lossy(head);
    h.contains("<rss") && h.contains("gdacs")
}

/// Parses a GDACS RSS feed. Never fails and never panics.
pub fn parse_gdacs(name: &str, bytes: &[u8]) -> Batch {
    let mut out = Builder::new(SOURCE, name);
    let mut lines = LineCounter::new(bytes);
    let Some(text) = crate::text_or_reject(&mut out, bytes) else {
        return out.finish();
    };
    let (doc, err) = xml::parse(text);
    let channel = xml::root(&doc)
        .filter(|r| r.name.eq_ignore_ascii_case("rss"))
        .and_then(|r| r.child("channel"));
    let Some(channel) = channel else {
        let why = err.as_ref().map_or(String::new(), |e| {
            format!(" ({} at byte {})", e.reason, e.offset)
        });
        out.reject(
            0,
            format!("not an RSS feed: no <rss><channel>{why}; pass a GDACS rss.xml, rss_24h.xml or rss_7d.xml"),
            bytes,
        );
        return out.finish();
    };
    for (n, item) in channel.all("item").enumerate() {
        let raw = text.get(item.start..item.end).unwrap_or_default();
        let line = lines.at(item.start);
        let place = format!("line {line} (item {})", n + 1);
        let result = if item.complete {
            event(item, raw)
        } else {
            Err(format!(
                "the item is cut off: {}",
                err.as_ref()
                    .map_or("the feed ends inside it".to_string(), |e| e.reason.clone())
            ))
        };
        out.record(line, &place, raw.as_bytes(), result);
    }
    if let Some(e) = err.filter(|e| {
        // Damage inside an item was reported with that item.
        !channel
            .all("item")
            .any(|i| !i.complete && i.start <= e.offset)
    }) {
        let line = lines.at(e.offset);
        out.reject(
            line,
            format!(
                "line {line}: the XML is damaged here ({}); the items before it were read",
                e.reason
            ),
            bytes.get(e.offset..).unwrap_or_default(),
        );
    }
    out.finish()
}

fn rfc2822(s: &str, what: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc2822(s.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("{what} {s:?} is not an RFC 2822 date"))
}

fn event(item: &Node, raw: &str) -> Result<Event, String> {
    let kind = item.text_of("eventtype");
    let eventid = item.text_of("eventid");
    if kind.is_empty() || eventid.is_empty() {
        return Err("gdacs:eventtype or gdacs:eventid is missing".into());
    }
    let episode = match item.text_of("episodeid") {
        "" => "0",
        e => e,
    };
    let class = gdacs::classify(kind, item.text_of("alertlevel")).ok_or_else(|| {
        format!("gdacs:eventtype {kind:?} is not a GDACS hazard code (EQ, TC, FL, VO, DR, WF, TS)")
    })?;
    let reported_at = match item.text_of("pubDate") {
        "" => None,
        d => Some(rfc2822(d, "pubDate")?),
    };
    let occurred_at = match item.text_of("fromdate") {
        "" => reported_at.ok_or("neither gdacs:fromdate nor pubDate is given")?,
        d => rfc2822(d, "gdacs:fromdate")?,
    };
    let reported_at = reported_at.unwrap_or(occurred_at);
    let (lat, lon) = point(item)?;
    let p = Point::new(lat, lon).map_err(|_| {
        format!("point {lat} {lon} is out of range: expected lat -90..90, lon -180..180")
    })?;
    let country = CountryCode::parse(item.text_of("iso3"))
        .ok()
        .or_else(|| CountryCode::from_name(item.text_of("country")))
        .or_else(|| geo::country_at(lat, lon));
    let precision = match class.subtype {
        Subtype::Earthquake | Subtype::Volcano => GeoPrecision::City,
        Subtype::Drought => GeoPrecision::Country,
        _ => GeoPrecision::Admin1,
    };
    let mut reason = class.reason;
    let sev = item.child("severity");
    if let Some(s) = sev.filter(|s| !s.text.trim().is_empty()) {
        reason.push_str(&format!("; {}", squash(&s.text)));
    }
    if let Some(pop) = item
        .child("population")
        .filter(|p| !p.text.trim().is_empty())
    {
        reason.push_str(&format!("; {}", squash(&pop.text)));
    }
    if let Some(v) = item.child("vulnerability") {
        let label = v.text.trim();
        let value = v.attr("value");
        if !label.is_empty() || !value.is_empty() {
            reason.push_str(&format!(
                "; vulnerability {}",
                if label.is_empty() { value } else { label }
            ));
        }
    }
    let bbox = item.text_of("bbox");
    if !bbox.is_empty() {
        reason.push_str(&format!(
            "; bbox (lon min, lon max, lat min, lat max) {bbox}"
        ));
    }
    let polygons = item.all("polygon").count();
    if polygons > 0 {
        reason.push_str(&format!("; {polygons} georss polygon(s) in the raw record"));
    }
    let place = match item.text_of("country") {
        "" => None,
        c => Some(c.to_string()),
    };
    let title = match item.text_of("title") {
        "" => format!("{kind} {}", item.text_of("eventname")),
        t => t.to_string(),
    };
    Ok(Event {
        id: EventId::new(
            SOURCE,
            format!("{}{eventid}/{episode}", kind.to_ascii_uppercase()),
        ),
        occurred_at,
        reported_at,
        location: Some(Location {
            point: p,
            precision,
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
        links: [item.text_of("link")]
            .into_iter()
            .filter(|l| !l.is_empty())
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

/// The item's point: `geo:Point` (lat, long children), else `georss:point`
/// ("lat lon").
fn point(item: &Node) -> Result<(f64, f64), String> {
    // `geo:Point` and `georss:point` differ only in case and prefix.
    if let Some(p) = item.children.iter().find(|c| c.name == "Point") {
        let (la, lo) = (p.text_of("lat"), p.text_of("long"));
        return match (la.parse::<f64>(), lo.parse::<f64>()) {
            (Ok(a), Ok(b)) => Ok((a, b)),
            _ => Err(format!(
                "geo:Point lat {la:?} / long {lo:?} are not numbers"
            )),
        };
    }
    let gp = item
        .children
        .iter()
        .find(|c| c.name == "point")
        .map_or("", |c| c.text.trim());
    let mut it = gp.split_whitespace().map(str::parse::<f64>);
    match (it.next(), it.next()) {
        (Some(Ok(a)), Some(Ok(b))) => Ok((a, b)),
        _ if gp.is_empty() => Err("no geo:Point or georss:point".into()),
        _ => Err(format!("georss:point {gp:?} is not \"lat lon\"")),
    }
}
