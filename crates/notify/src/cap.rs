//! CAP 1.2 out: one `<alert>` with one `<info>` block per language.
//!
//! Element order, enumerations and the `sent` pattern follow the OASIS
//! schema (`schema/CAP-v1.2.xsd`); the tests validate what this writes with
//! `xmllint --schema`. Areas are circles (`lat,lon radius_km`) or closed
//! polygons (`lat,lon lat,lon …`, first point repeated last).

use crate::NotifyError;
use chrono::{DateTime, SecondsFormat, Utc};
use farguard_model::{CapStatus, Category, Level, MsgType, Point, Polygon};
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
