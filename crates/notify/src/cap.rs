//! CAP 1.2 out: one `<alert>` with one `<info>` block per language.
//!
//! Element order, enumerations and the `sent` pattern follow the OASIS
//! schema (`schema/CAP-v1.2.xsd`); the tests validate what this writes with
//! `xmllint --schema`. Areas are circles (`lat,lon radius_km`) or closed
//! polygons (`lat,lon lat,lon …`, first point repeated last).

use crate::NotifyError;
use crate::template::Lang;
use chrono::{DateTime, SecondsFormat, Utc};
use farguard_model::{CapStatus, Category, Level, MsgType, Point, Polygon};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Where the alert applies.
#[derive(Debug, Clone, PartialEq)]
pub struct CapArea {
    pub desc: String,
    /// (centre, radius in km).
    pub circles: Vec<(Point, f64)>,
    pub polygons: Vec<Polygon>,
}

/// One language's text.
#[derive(Debug, Clone, PartialEq)]
pub struct CapInfo {
    /// BCP 47 tag (`zh-CN`, `en-US`).
    pub language: String,
    pub event: String,
    pub headline: String,
    pub description: String,
    pub instruction: String,
    pub contact: String,
    pub sender_name: String,
}

/// Everything a CAP document says.
#[derive(Debug, Clone, PartialEq)]
pub struct CapAlert {
    pub identifier: String,
    pub sender: String,
    pub sent: DateTime<Utc>,
    pub status: CapStatus,
    pub msg_type: MsgType,
    /// Alerts this one updates or cancels: `sender,identifier,sent` each.
    pub references: Vec<String>,
    /// Who may see it (`scope` is `Restricted`: farguard addresses exposed
    /// people, not the general public).
    pub restriction: String,
    pub category: Category,
    pub level: Level,
    /// `Observed` for a reported event, `Likely` for a graded incident.
    pub observed: bool,
    pub expires: Option<DateTime<Utc>>,
    pub infos: Vec<CapInfo>,
    pub area: CapArea,
    /// farguard's own codes: the incident, the event.
    pub incidents: Vec<String>,
}

/// CAP's date-time form: `2019-10-24T14:30:00+00:00` (no fraction, no `Z`).
pub fn cap_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// The CAP `category` for a taxonomy category.
pub fn cap_category(c: Category) -> &'static str {
    match c {
        Category::Security => "Security",
        Category::Political => "Safety",
        Category::Natural => "Geo",
        Category::Health => "Health",
        _ => "Other",
    }
}

/// CAP (urgency, severity) for a level.
pub fn cap_urgency_severity(l: Level) -> (&'static str, &'static str) {
    match l {
        Level::I => ("Immediate", "Extreme"),
        Level::II => ("Immediate", "Severe"),
        Level::III => ("Expected", "Moderate"),
        Level::IV => ("Expected", "Minor"),
        Level::Normal => ("Unknown", "Unknown"),
    }
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            // XML 1.0 forbids most control characters even when escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

/// CAP forbids spaces, commas and `<`/`&` in identifiers.
fn check_identifier(field: &str, s: &str) -> Result<(), NotifyError> {
    if s.is_empty()
        || s.chars()
            .any(|c| c.is_whitespace() || matches!(c, ',' | '<' | '&'))
    {
        return Err(NotifyError::Cap(format!(
            "{field} {s:?} must be non-empty without spaces, commas, < or &"
        )));
    }
    Ok(())
}

/// Writes the CAP 1.2 document.
pub fn write(a: &CapAlert) -> Result<String, NotifyError> {
    check_identifier("identifier", &a.identifier)?;
    check_identifier("sender", &a.sender)?;
    if a.infos.is_empty() {
        return Err(NotifyError::Cap(
            "an alert needs at least one info block".into(),
        ));
    }
    if a.msg_type != MsgType::Alert && a.references.is_empty() {
        return Err(NotifyError::Cap(format!(
            "msgType {} must reference the alert it updates or cancels",
            a.msg_type
        )));
    }
    let mut x = String::with_capacity(2048);
    let _ = writeln!(x, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(x, r#"<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">"#);
    let _ = writeln!(x, "  <identifier>{}</identifier>", esc(&a.identifier));
    let _ = writeln!(x, "  <sender>{}</sender>", esc(&a.sender));
    let _ = writeln!(x, "  <sent>{}</sent>", cap_time(a.sent));
    let _ = writeln!(x, "  <status>{}</status>", a.status.code());
    let _ = writeln!(x, "  <msgType>{}</msgType>", a.msg_type.code());
    let _ = writeln!(x, "  <source>farguard</source>");
    let _ = writeln!(x, "  <scope>Restricted</scope>");
    let _ = writeln!(x, "  <restriction>{}</restriction>", esc(&a.restriction));
    if !a.references.is_empty() {
        let _ = writeln!(
            x,
            "  <references>{}</references>",
            esc(&a.references.join(" "))
        );
    }
    if !a.incidents.is_empty() {
        let _ = writeln!(
            x,
            "  <incidents>{}</incidents>",
            esc(&a.incidents.join(" "))
        );
    }
    let (urgency, severity) = cap_urgency_severity(a.level);
    let certainty = if a.observed { "Observed" } else { "Likely" };
    for i in &a.infos {
        x.push_str("  <info>\n");
        let _ = writeln!(x, "    <language>{}</language>", esc(&i.language));
        let _ = writeln!(x, "    <category>{}</category>", cap_category(a.category));
        let _ = writeln!(x, "    <event>{}</event>", esc(&i.event));
        let response = if a.msg_type == MsgType::Cancel {
            "AllClear"
        } else {
            "Prepare"
        };
        let _ = writeln!(x, "    <responseType>{response}</responseType>");
        let _ = writeln!(x, "    <urgency>{urgency}</urgency>");
        let _ = writeln!(x, "    <severity>{severity}</severity>");
        let _ = writeln!(x, "    <certainty>{certainty}</certainty>");
        let _ = writeln!(
            x,
            "    <eventCode>\n      <valueName>farguard:level</valueName>\n      <value>{}</value>\n    </eventCode>",
            a.level.code()
        );
        if let Some(e) = a.expires {
            let _ = writeln!(x, "    <expires>{}</expires>", cap_time(e));
        }
        let _ = writeln!(x, "    <senderName>{}</senderName>", esc(&i.sender_name));
        let _ = writeln!(x, "    <headline>{}</headline>", esc(&i.headline));
        let _ = writeln!(x, "    <description>{}</description>", esc(&i.description));
        let _ = writeln!(x, "    <instruction>{}</instruction>", esc(&i.instruction));
        let _ = writeln!(x, "    <contact>{}</contact>", esc(&i.contact));
        x.push_str("    <area>\n");
        let _ = writeln!(x, "      <areaDesc>{}</areaDesc>", esc(&a.area.desc));
        for p in &a.area.polygons {
            let mut ring: Vec<String> = p
                .ring()
                .iter()
                .map(|q| format!("{},{}", q.lat(), q.lon()))
                .collect();
            if ring.first() != ring.last()
                && let Some(f) = ring.first().cloned()
            {
                ring.push(f);
            }
            let _ = writeln!(x, "      <polygon>{}</polygon>", ring.join(" "));
        }
        for (c, km) in &a.area.circles {
            let _ = writeln!(x, "      <circle>{},{} {}</circle>", c.lat(), c.lon(), km);
        }
        x.push_str("    </area>\n  </info>\n");
    }
    x.push_str("</alert>\n");
    Ok(x)
}

/// What an issued farguard CAP document says that its update or
/// cancellation repeats: the sender, each language's event and headline,
/// and the area. Reads only what [`write`] writes.
#[derive(Debug, Clone, PartialEq)]
pub struct Issued {
    pub sender: String,
    pub headline: BTreeMap<Lang, String>,
    pub event: BTreeMap<Lang, String>,
    pub area: CapArea,
}

fn unesc(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Every text of element `tag` in `xml`, in order.
fn all<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = vec![];
    let mut rest = xml;
    while let Some(a) = rest.find(&open) {
        let after = &rest[a + open.len()..];
        let Some(b) = after.find(&close) else { break };
        out.push(&after[..b]);
        rest = &after[b + close.len()..];
    }
    out
}

fn first(xml: &str, tag: &str) -> Result<String, NotifyError> {
    all(xml, tag)
        .first()
        .map(|s| unesc(s))
        .ok_or_else(|| NotifyError::Cap(format!("the issued document has no <{tag}>")))
}

fn point(s: &str) -> Result<Point, NotifyError> {
    let bad = || NotifyError::Cap(format!("{s:?} is not a lat,lon point"));
    let (a, b) = s.split_once(',').ok_or_else(bad)?;
    let (lat, lon) = (
        a.trim().parse().map_err(|_| bad())?,
        b.trim().parse().map_err(|_| bad())?,
    );
    Point::new(lat, lon).map_err(|e| NotifyError::Cap(e.to_string()))
}

/// Reads an issued document back (see [`Issued`]).
pub fn read_issued(xml: &str) -> Result<Issued, NotifyError> {
    let mut headline = BTreeMap::new();
    let mut event = BTreeMap::new();
    let infos = all(xml, "info");
    for info in &infos {
        let l = match first(info, "language")?.as_str() {
            t if t.starts_with("zh") => Lang::Zh,
            _ => Lang::En,
        };
        headline.insert(l, first(info, "headline")?);
        event.insert(l, first(info, "event")?);
    }
    let Some(info) = infos.first() else {
        return Err(NotifyError::Cap("the issued document has no <info>".into()));
    };
    let mut circles = vec![];
    for c in all(info, "circle") {
        let (p, r) = c.trim().split_once(' ').ok_or_else(|| {
            NotifyError::Cap(format!("circle {c:?}: expected \"lat,lon radius\""))
        })?;
        let km: f64 = r
            .trim()
            .parse()
            .map_err(|_| NotifyError::Cap(format!("circle {c:?}: radius is not a number")))?;
        circles.push((point(p)?, km));
    }
    let mut polygons = vec![];
    for p in all(info, "polygon") {
        let ring = p
            .split_whitespace()
            .map(point)
            .collect::<Result<Vec<_>, _>>()?;
        polygons.push(Polygon::new(ring).map_err(|e| NotifyError::Cap(e.to_string()))?);
    }
    Ok(Issued {
        sender: first(xml, "sender")?,
        headline,
        event,
        area: CapArea {
            desc: first(info, "areaDesc")?,
            circles,
            polygons,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn sent_has_the_cap_form() {
        let t = Utc.with_ymd_and_hms(2019, 10, 24, 14, 30, 0).unwrap();
        assert_eq!(cap_time(t), "2019-10-24T14:30:00+00:00");
    }

    #[test]
    fn an_issued_document_reads_back() {
        let t = Utc.with_ymd_and_hms(2019, 10, 24, 14, 30, 0).unwrap();
        let info = |l: &str, h: &str| CapInfo {
            language: l.into(),
            event: format!("{h} event"),
            headline: h.into(),
            description: "d".into(),
            instruction: "i".into(),
            contact: "c".into(),
            sender_name: "s".into(),
        };
        let ring = [(1.0, 1.0), (1.0, 2.0), (2.0, 2.0), (1.0, 1.0)]
            .iter()
            .map(|(a, b)| Point::new(*a, *b).unwrap())
            .collect();
        let area = CapArea {
            desc: "Barcelona & port".into(),
            circles: vec![(Point::new(41.38, 2.18).unwrap(), 25.0)],
            polygons: vec![Polygon::new(ring).unwrap()],
        };
        let x = write(&CapAlert {
            identifier: "fg.x".into(),
            sender: "fg@x.example".into(),
            sent: t,
            status: CapStatus::Test,
            msg_type: MsgType::Alert,
            references: vec![],
            restriction: "r".into(),
            category: Category::Security,
            level: Level::II,
            observed: true,
            expires: None,
            infos: vec![info("zh-CN", "冲突 <1>"), info("en-US", "Clashes <1>")],
            area: area.clone(),
            incidents: vec![],
        })
        .unwrap();
        let r = read_issued(&x).unwrap();
        assert_eq!(r.sender, "fg@x.example");
        assert_eq!(r.headline[&Lang::Zh], "冲突 <1>");
        assert_eq!(r.event[&Lang::En], "Clashes <1> event");
        assert_eq!(r.area, area);
    }

    #[test]
    fn identifiers_refuse_spaces_and_updates_need_references() {
        assert!(check_identifier("identifier", "a b").is_err());
        assert!(check_identifier("identifier", "farguard-1").is_ok());
        let a = CapAlert {
            identifier: "x".into(),
            sender: "s".into(),
            sent: Utc.with_ymd_and_hms(2019, 10, 24, 14, 30, 0).unwrap(),
            status: CapStatus::Actual,
            msg_type: MsgType::Update,
            references: vec![],
            restriction: "r".into(),
            category: Category::Security,
            level: Level::II,
            observed: true,
            expires: None,
            infos: vec![],
            area: CapArea {
                desc: "d".into(),
                circles: vec![],
                polygons: vec![],
            },
            incidents: vec![],
        };
        assert!(write(&a).unwrap_err().to_string().contains("info"));
        let mut b = a.clone();
        b.infos.push(CapInfo {
            language: "en-US".into(),
            event: "e".into(),
            headline: "h".into(),
            description: "d".into(),
            instruction: "i".into(),
            contact: "c".into(),
            sender_name: "s".into(),
        });
        assert!(write(&b).unwrap_err().to_string().contains("reference"));
    }
}
