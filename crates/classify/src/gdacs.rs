//! GDACS event types and alert levels → the farguard taxonomy.
//! `MAPPINGS.md` has the table.
//!
//! GDACS alert levels already weigh hazard against exposed population and
//! vulnerability (that is their purpose), so the level sets severity:
//! Green → 2, Orange → 4, Red → 5. Confidence is fixed at 0.85: the alert is
//! modelled, and refined as the event unfolds (episodes).

use farguard_model::{Category, Classification, Severity, Subtype};

/// GDACS `eventtype` code → subtype: EQ earthquake, TC tropical cyclone,
/// FL flood, VO volcano, DR drought, WF wildfire, TS tsunami.
pub fn subtype(event_type: &str) -> Option<Subtype> {
    Some(match event_type.trim().to_ascii_uppercase().as_str() {
        "EQ" => Subtype::Earthquake,
        "TC" => Subtype::Cyclone,
        "FL" => Subtype::Flood,
        "VO" => Subtype::Volcano,
        "DR" => Subtype::Drought,
        "WF" => Subtype::Wildfire,
        "TS" => Subtype::Tsunami,
        _ => return None,
    })
}

/// Alert level → severity: Green 2, Orange 4, Red 5.
pub fn alert_severity(level: &str) -> Option<Severity> {
    match level.trim().to_ascii_lowercase().as_str() {
        "green" => Some(Severity::MINOR),
        "orange" => Some(Severity::SEVERE),
        "red" => Some(Severity::EXTREME),
        _ => None,
    }
}

/// Classifies one GDACS item; `None` when the event type is not a GDACS
/// hazard code. An unknown alert level reads as Green and says so.
pub fn classify(event_type: &str, alert_level: &str) -> Option<Classification> {
    let subtype = subtype(event_type)?;
    let (severity, level_note) = match alert_severity(alert_level) {
        Some(s) => (s, format!("alert level {}", alert_level.trim())),
        None => (
            Severity::MINOR,
            format!(
                "alert level {:?} unknown, read as Green",
                alert_level.trim()
            ),
        ),
    };
    Some(Classification {
        category: Category::Natural,
        subtype,
        severity,
        confidence: 0.85,
        reason: format!(
            "GDACS {} → natural/{}; {level_note} → severity {}",
            event_type.trim().to_ascii_uppercase(),
            subtype.code(),
            severity.get()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_levels_map() {
        let c = classify("TC", "Orange").unwrap();
        assert_eq!((c.subtype, c.severity.get()), (Subtype::Cyclone, 4));
        let c = classify("eq", "weird").unwrap();
        assert_eq!(c.severity.get(), 2);
        assert!(c.reason.contains("unknown, read as Green"));
        assert!(classify("XX", "Red").is_none());
    }
}
