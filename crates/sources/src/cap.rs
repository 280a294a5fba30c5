//! CAP alerts → events: OASIS CAP 1.2 and 1.1 `<alert>` documents (with or
//! without a namespace prefix, signed or not), and Atom index feeds whose
//! entries carry `cap:` fields (the NWS national index).
//!
//! One alert is one event. Its info blocks (one per language, or per
//! audience) are read together: the English block (else the first) gives
//! the text and classification, severity is the highest of all blocks, and
//! the reason lists the languages. Areas: the centroid of all polygons
//! (vertex mean) or the centre of a circle gives the point (a circle of
//! radius 0 is a place; a polygon or circle with extent is an admin-1-sized
//! area); geocodes are named in the reason; the country is reverse-geocoded
//! from the point, or is the United States for FIPS6/UGC geocodes (US-only
//! code systems). An XML digital signature is kept untouched in `raw` (the
//! whole alert's bytes) and noted in the reason; it is not verified here.
//!
//! Mapping: `EventId("cap", "<sender>,<identifier>")` (CAP's own reference
//! form: identifiers are unique per sender); the `EventTime` parameter
//! (USGS), else onset, else effective, else sent → `occurred_at`; sent → `reported_at`. Atom entries: the entry id →
//! source id, `cap:effective` → `occurred_at`, `updated`/`published` →
//! `reported_at`. Status other than Actual (Exercise, System, Test, Draft)
//! is quarantined as "not an actual alert".

use crate::record::{Builder, LineCounter, clip, squash};
use crate::xml::{self, Node};
use crate::{Batch, geo};
use chrono::{DateTime, Utc};
use farguard_classify::cap::{self, CapInput};
use farguard_model::{CountryCode, Event, EventId, GeoPrecision, Location, Point};

/// The `source` of every CAP event and quarantine record.
pub const SOURCE: &str = "cap";

/// Whether `head` looks like a CAP alert or a CAP Atom index.
pub fn looks_like(head: &[u8]) -> bool {
    let h = String::from_utf8_lossy(head);
    h.contains("urn:oasis:names:tc:emergency:cap:")
}

/// Parses a CAP alert or a CAP Atom index. Never fails and never panics.
pub fn parse_cap(name: &str, bytes: &[u8]) -> Batch {
    let mut out = Builder::new(SOURCE, name);
    let mut lines = LineCounter::new(bytes);
    let Some(text) = crate::text_or_reject(&mut out, bytes) else {
        return out.finish();
    };
    let (doc, err) = xml::parse(text);
    let Some(root) = xml::root(&doc) else {
        let why = err.map_or("no element".to_string(), |e| {
            format!("{} at byte {}", e.reason, e.offset)
        });
        out.reject(0, format!("not a CAP document: {why}"), bytes);
        return out.finish();
    };
    let root_err = |out: &mut Builder<'_>, lines: &mut LineCounter<'_>, e: &xml::XmlError| {
        let line = lines.at(e.offset);
        out.reject(
            line,
            format!(
                "line {line}: the XML is damaged here ({}); what came before it was read",
                e.reason
            ),
            bytes.get(e.offset..).unwrap_or_default(),
        );
    };
    match root.name.to_ascii_lowercase().as_str() {
        "alert" => {
            if root.complete && root.children.is_empty() {
                // NWS serves an empty <alert/> as "no active alerts".
                return out.finish();
            }
            let raw = text.get(root.start..root.end).unwrap_or_default();
            let line = lines.at(root.start);
            let result = if root.complete {
                alert(root, raw)
            } else {
                Err(format!(
                    "the alert is cut off ({})",
                    err.as_ref()
                        .map_or("truncated".to_string(), |e| e.reason.clone())
                ))
            };
            out.record(
                line,
                &format!("line {line} (alert)"),
                raw.as_bytes(),
                result,
            );
        }
        "feed" => {
            for (n, entry) in root.all("entry").enumerate() {
                let raw = text.get(entry.start..entry.end).unwrap_or_default();
                let line = lines.at(entry.start);
                let result = if entry.complete {
                    atom_entry(entry, raw)
                } else {
                    Err("the entry is cut off: the feed ends inside it".into())
                };
                out.record(
                    line,
                    &format!("line {line} (entry {})", n + 1),
                    raw.as_bytes(),
                    result,
                );
            }
            if let Some(e) = err.filter(|_| root.all("entry").all(|x| x.complete)) {
                root_err(&mut out, &mut lines, &e);
            }
        }
        other => {
            out.reject(
                0,
                format!("not a CAP document: the root element is <{other}>, expected <alert> (CAP 1.1/1.2) or an Atom <feed> of CAP entries"),
                bytes,
            );
        }
    }
    out.finish()
}

fn time(s: &str, what: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            format!("{what} {s:?} is not a CAP date-time (e.g. 2002-05-24T16:49:00-07:00)")
        })
}

/// "lat,lon" → (lat, lon).
fn pair(s: &str) -> Option<(f64, f64)> {
    let (a, b) = s.split_once(',')?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

/// What the areas of an alert say about where it is.
#[derive(Debug, Default)]
struct Areas {
    points: Vec<(f64, f64)>,
    extent: bool,
    circles: usize,
    polygons: usize,
    geocodes: Vec<String>,
    us_codes: bool,
    descs: Vec<String>,
}

impl Areas {
    fn read(
        &mut self,
        polygons: &[&str],
        circles: &[&str],
        geocode_names: &[(&str, &str)],
        desc: &str,
    ) -> Result<(), String> {
        for p in polygons.iter().filter(|p| !p.trim().is_empty()) {
            let pts: Vec<(f64, f64)> = p.split_whitespace().filter_map(pair).collect();
            if pts.len() < 3 {
                return Err(format!(
                    "polygon {:?} has fewer than 3 \"lat,lon\" pairs",
                    clip(p, 80)
                ));
            }
            let n = pts.len() as f64;
            let (la, lo) = pts.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
            self.points.push((la / n, lo / n));
            self.extent = true;
            self.polygons += 1;
        }
        for c in circles.iter().filter(|c| !c.trim().is_empty()) {
            let mut parts = c.split_whitespace();
            let centre = parts.next().and_then(pair);
            let radius = parts.next().and_then(|r| r.parse::<f64>().ok());
            match (centre, radius) {
                (Some(ll), Some(r)) if r >= 0.0 => {
                    self.points.push(ll);
                    self.extent |= r > 0.0;
                    self.circles += 1;
                }
                _ => return Err(format!("circle {c:?} is not \"lat,lon radius-km\"")),
            }
        }
        for (k, v) in geocode_names {
            if k.eq_ignore_ascii_case("FIPS6")
                || k.eq_ignore_ascii_case("UGC")
                || k.eq_ignore_ascii_case("SAME")
            {
                self.us_codes = true;
            }
            if self.geocodes.len() < 8 {
                self.geocodes.push(format!("{k} {v}"));
            }
        }
        if !desc.trim().is_empty() {
            self.descs.push(squash(desc));
        }
        Ok(())
    }

    fn location(&self) -> Result<(Option<Location>, Option<CountryCode>), String> {
        let place = self.descs.first().map(|d| clip(d, 200));
        let country_from_codes = if self.us_codes {
            CountryCode::parse("US").ok()
        } else {
            None
        };
        if self.points.is_empty() {
            return Ok((None, country_from_codes));
        }
        let n = self.points.len() as f64;
        let (la, lo) = self
            .points
            .iter()
            .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
        let point = Point::new(la / n, lo / n)
            .map_err(|_| format!("area point {}, {} is out of range", la / n, lo / n))?;
        // US-only code systems name the issuing country outright; a polygon
        // centroid near a border or at sea could say otherwise.
        let country = country_from_codes.or_else(|| geo::country_at(point.lat(), point.lon()));
        let precision = if self.extent {
            GeoPrecision::Admin1
        } else {
            GeoPrecision::City
        };
        Ok((
            Some(Location {
                point,
                precision,
                country,
                admin1: None,
                place,
            }),
            country,
        ))
    }

    fn describe(&self) -> String {
        let mut s = String::new();
        if self.polygons > 0 {
            s.push_str(&format!("; {} polygon(s)", self.polygons));
        }
        if self.circles > 0 {
            s.push_str(&format!("; {} circle(s)", self.circles));
        }
        if !self.geocodes.is_empty() {
            s.push_str(&format!("; geocodes {}", self.geocodes.join(", ")));
        }
        s
    }
}

fn not_actual(status: &str) -> Result<(), String> {
    if status.is_empty() || status.eq_ignore_ascii_case("actual") {
        Ok(())
    } else {
        Err(format!(
            "no risk signal: status {status:?} is not an actual alert (Exercise, System, Test and Draft are not events)"
        ))
    }
}

fn alert(a: &Node, raw: &str) -> Result<Event, String> {
    let identifier = a.text_of("identifier");
    let sender = a.text_of("sender");
    if identifier.is_empty() || sender.is_empty() {
        return Err("<identifier> or <sender> is missing: every CAP alert has both".into());
    }
    let sent = time(a.text_of("sent"), "<sent>")?;
    not_actual(a.text_of("status"))?;
    let msg_type = a.text_of("msgType");
    let infos: Vec<&Node> = a.all("info").collect();
    let lang = |i: &Node| match i.text_of("language") {
        "" => "en-US".to_string(), // CAP's default language
        l => l.to_string(),
    };
    let primary = infos
        .iter()
        .find(|i| lang(i).to_ascii_lowercase().starts_with("en"))
        .or(infos.first())
        .ok_or("no <info> block: an alert without info says nothing to act on")?;
    let mut best: Option<farguard_model::Classification> = None;
    for info in &infos {
        let cats: Vec<&str> = info.all("category").map(|c| c.text.trim()).collect();
        let c = cap::classify(&CapInput {
            categories: &cats,
            event: info.text_of("event"),
            severity: info.text_of("severity"),
            certainty: info.text_of("certainty"),
            msg_type,
        });
        let is_primary = std::ptr::eq(*info, *primary);
        best = match (best, c) {
            (None, c) => c,
            (Some(b), Some(c))
                if c.severity > b.severity || (is_primary && c.severity == b.severity) =>
            {
                Some(c)
            }
            (b, _) => b,
        };
    }
    let class = best.ok_or_else(|| {
        format!(
            "no CAP category or event keyword this version maps: category {:?}, event {:?}",
            primary.text_of("category"),
            primary.text_of("event")
        )
    })?;
    let mut areas = Areas::default();
    for area in primary.all("area") {
        let polys: Vec<&str> = area.all("polygon").map(|p| p.text.as_str()).collect();
        let circles: Vec<&str> = area.all("circle").map(|p| p.text.as_str()).collect();
        let codes: Vec<(&str, &str)> = area
            .all("geocode")
            .map(|g| (g.text_of("valueName"), g.text_of("value")))
            .collect();
        areas.read(&polys, &circles, &codes, area.text_of("areaDesc"))?;
    }
    let (location, country) = areas.location()?;
    // USGS and others give the hazard's own time as a parameter.
    let event_time = primary
        .all("parameter")
        .find(|p| p.text_of("valueName").eq_ignore_ascii_case("EventTime"))
        .map(|p| p.text_of("value"))
        .filter(|v| !v.is_empty());
    let occurred_at = match (
        event_time,
        primary.text_of("onset"),
        primary.text_of("effective"),
    ) {
        (Some(t), _, _) => time(t, "parameter EventTime")?,
        (None, "", "") => sent,
        (None, "", e) => time(e, "<effective>")?,
        (None, o, _) => time(o, "<onset>")?,
    };
    let langs: Vec<String> = infos.iter().map(|i| lang(i)).collect();
    let mut reason = class.reason;
    reason.push_str(&format!(
        "; msgType {}",
        if msg_type.is_empty() { "?" } else { msg_type }
    ));
    if infos.len() > 1 {
        reason.push_str(&format!(
            "; {} info blocks ({})",
            infos.len(),
            langs.join(", ")
        ));
    }
    reason.push_str(&areas.describe());
    if a.child("Signature").is_some() {
        reason.push_str("; XML digital signature present, kept in raw (not verified)");
    }
    let title = match (primary.text_of("headline"), primary.text_of("event")) {
        ("", e) => format!(
            "{e}{}",
            areas
                .descs
                .first()
                .map_or(String::new(), |d| format!(" — {d}"))
        ),
        (h, _) => h.to_string(),
    };
    let links = [primary.text_of("web")]
        .into_iter()
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    Ok(Event {
        id: EventId::new(SOURCE, format!("{sender},{identifier}")),
        occurred_at,
        reported_at: sent,
        location,
        country,
        category: class.category,
        subtype: class.subtype,
        severity: class.severity,
        confidence: class.confidence,
        title: clip(&squash(&title), 300),
        actors: [primary.text_of("senderName")]
            .into_iter()
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        links,
        fatalities: None,
        goldstein: None,
        tone: None,
        mentions: None,
        reason,
        raw: raw.to_string(),
    })
}

/// One entry of a CAP Atom index (NWS): `cap:`-prefixed fields on the entry.
fn atom_entry(e: &Node, raw: &str) -> Result<Event, String> {
    let id = e.text_of("id");
    if id.is_empty() {
        return Err("<id> is missing".into());
    }
    // Atom and CAP share no element names except these, and CAP's are prefixed.
    let cap_text = |name: &str| {
        e.children
            .iter()
            .find(|c| c.prefix == "cap" && c.name.eq_ignore_ascii_case(name))
            .map_or("", |c| c.text.trim())
    };
    not_actual(cap_text("status"))?;
    let cats: Vec<&str> = e
        .children
        .iter()
        .filter(|c| c.prefix == "cap" && c.name == "category")
        .map(|c| c.text.trim())
        .collect();
    let class = cap::classify(&CapInput {
        categories: &cats,
        event: cap_text("event"),
        severity: cap_text("severity"),
        certainty: cap_text("certainty"),
        msg_type: cap_text("msgType"),
    })
    .ok_or_else(|| {
        format!(
            "no CAP category or event keyword this version maps: event {:?}",
            cap_text("event")
        )
    })?;
    let reported = match (e.text_of("updated"), e.text_of("published")) {
        ("", "") => return Err("<updated> and <published> are missing".into()),
        ("", p) => time(p, "<published>")?,
        (u, _) => time(u, "<updated>")?,
    };
    let occurred_at = match cap_text("effective") {
        "" => reported,
        t => time(t, "cap:effective")?,
    };
    let mut areas = Areas::default();
    let polys: Vec<&str> = e
        .children
        .iter()
        .filter(|c| c.prefix == "cap" && c.name == "polygon")
        .map(|c| c.text.as_str())
        .collect();
    // NWS writes geocodes as alternating valueName/value children.
    let mut codes = Vec::new();
    for g in e
        .children
        .iter()
        .filter(|c| c.prefix == "cap" && c.name == "geocode")
    {
        let mut name = "";
        for c in &g.children {
            match c.name.as_str() {
                "valueName" => name = c.text.trim(),
                "value" => codes.push((name, c.text.trim())),
                _ => {}
            }
        }
    }
    areas.read(&polys, &[], &codes, cap_text("areaDesc"))?;
    let (location, country) = areas.location()?;
    let mut reason = class.reason;
    reason.push_str(&areas.describe());
    if let Some(x) = Some(cap_text("expires")).filter(|x| !x.is_empty()) {
        reason.push_str(&format!("; expires {x}"));
    }
    let title = match e.text_of("title") {
        "" => cap_text("event").to_string(),
        t => t.to_string(),
    };
    let links = e
        .all("link")
        .map(|l| l.attr("href"))
        .filter(|h| !h.is_empty())
        .map(str::to_string)
        .collect();
    Ok(Event {
        id: EventId::new(SOURCE, id),
        occurred_at,
        reported_at: reported,
        location,
        country,
        category: class.category,
        subtype: class.subtype,
        severity: class.severity,
        confidence: class.confidence,
        title: clip(&squash(&title), 300),
        actors: Vec::new(),
        links,
        fatalities: None,
        goldstein: None,
        tone: None,
        mentions: None,
        reason,
        raw: raw.to_string(),
    })
}
