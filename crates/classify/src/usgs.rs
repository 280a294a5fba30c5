//! USGS earthquake feed events → natural/earthquake, severity from magnitude
//! and the PAGER alert level, confidence from the review status.
//! `MAPPINGS.md` has the table.

use farguard_model::{Category, Classification, Severity, Subtype};

/// One USGS feature as the classifier needs it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct UsgsInput<'a> {
    /// `properties.type`: `earthquake`, `quarry blast`, `explosion`, …
    pub kind: &'a str,
    pub magnitude: Option<f64>,
    /// PAGER alert: `green`, `yellow`, `orange`, `red`, or empty.
    pub alert: &'a str,
    /// `automatic` or `reviewed` (any case).
    pub status: &'a str,
    /// The tsunami flag (1 when a tsunami message was issued).
    pub tsunami: bool,
}

/// Severity from magnitude: below 4.0 → 1, below 5.5 → 2, below 6.5 → 3,
/// below 7.5 → 4, 7.5 and above → 5.
pub fn magnitude_band(m: f64) -> u8 {
    if m >= 7.5 {
        5
    } else if m >= 6.5 {
        4
    } else if m >= 5.5 {
        3
    } else if m >= 4.0 {
        2
    } else {
        1
    }
}

/// The floor a PAGER alert sets: yellow → 3, orange → 4, red → 5.
pub fn pager_floor(alert: &str) -> u8 {
    match alert.trim().to_ascii_lowercase().as_str() {
        "red" => 5,
        "orange" => 4,
        "yellow" => 3,
        _ => 1,
    }
}

/// Classifies one feature. `None` for seismic events that are not
/// earthquakes (quarry blasts, explosions, ice quakes): they are not a
/// natural hazard, and the source quarantines them as "no risk signal".
pub fn classify(i: &UsgsInput<'_>) -> Option<Classification> {
    let kind = i.kind.trim();
    if !(kind.is_empty() || kind.eq_ignore_ascii_case("earthquake")) {
        return None;
    }
    let band = i.magnitude.map_or(1, magnitude_band);
    let floor = pager_floor(i.alert);
    let mut level = band.max(floor);
    let mut why = match i.magnitude {
        Some(m) => format!("magnitude {m} → {band}"),
        None => "no magnitude → 1".to_string(),
    };
    if floor > band {
        why.push_str(&format!(", PAGER alert {} raises it to {floor}", i.alert));
    }
    if i.tsunami && level < 4 {
        level = 4;
        why.push_str(", tsunami flag raises it to 4");
    }
    let reviewed = i.status.trim().eq_ignore_ascii_case("reviewed");
    let confidence = if reviewed { 0.95 } else { 0.7 };
    let severity = Severity::new(level).unwrap_or(Severity::EXTREME);
    Some(Classification {
        category: Category::Natural,
        subtype: Subtype::Earthquake,
        severity,
        confidence,
        reason: format!(
            "USGS earthquake → natural/earthquake severity {}: {why}; {} solution",
            severity.get(),
            if reviewed { "reviewed" } else { "automatic" }
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magnitude_alert_and_tsunami_set_severity() {
        let q = |m, alert, tsunami| UsgsInput {
            kind: "earthquake",
            magnitude: Some(m),
            alert,
            status: "reviewed",
            tsunami,
        };
        assert_eq!(classify(&q(1.2, "", false)).unwrap().severity.get(), 1);
        assert_eq!(classify(&q(6.0, "", false)).unwrap().severity.get(), 3);
        assert_eq!(
            classify(&q(6.0, "orange", false)).unwrap().severity.get(),
            4
        );
        assert_eq!(classify(&q(5.0, "", true)).unwrap().severity.get(), 4);
        assert_eq!(classify(&q(7.9, "", false)).unwrap().severity.get(), 5);
        let blast = UsgsInput {
            kind: "quarry blast",
            ..q(2.0, "", false)
        };
        assert!(classify(&blast).is_none());
    }
}
