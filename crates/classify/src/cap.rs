//! CAP (Common Alerting Protocol 1.1/1.2) info blocks → the farguard
//! taxonomy: the CAP `category` and `event` text pick the subtype, CAP
//! `severity` sets severity and `certainty` the confidence.
//! `MAPPINGS.md` has the tables.
//!
//! CAP `event` is free text ("Flash Flood Watch", "terremoto"), so within a
//! category a short keyword list (English, French, Spanish: the languages of
//! the North American feeds) picks the subtype; the first keyword found in
//! the order of `KEYWORDS` wins, and the reason names it.

use farguard_model::{Classification, Severity, Subtype};

/// One CAP `<info>` block as the classifier needs it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CapInput<'a> {
    /// Every `<category>` of the block (Geo, Met, Safety, Security, Rescue,
    /// Fire, Health, Env, Transport, Infra, CBRNE, Other).
    pub categories: &'a [&'a str],
    pub event: &'a str,
    /// Extreme, Severe, Moderate, Minor, Unknown.
    pub severity: &'a str,
    /// Observed, Likely, Possible, Unlikely, Unknown.
    pub certainty: &'a str,
    /// Alert, Update, Cancel, Ack, Error.
    pub msg_type: &'a str,
}

use Subtype as S;

/// Event-text keywords (lower-case substrings) → subtype, most specific first.
const KEYWORDS: &[(&str, Subtype)] = &[
    ("tsunami", S::Tsunami),
    ("earthquake", S::Earthquake),
    ("terremoto", S::Earthquake),
    ("séisme", S::Earthquake),
    ("seisme", S::Earthquake),
    ("volcan", S::Volcano),
    ("ashfall", S::Volcano),
    ("hurricane", S::Cyclone),
    ("typhoon", S::Cyclone),
    ("cyclone", S::Cyclone),
    ("tropical storm", S::Cyclone),
    ("ouragan", S::Cyclone),
    ("huracán", S::Cyclone),
    ("flood", S::Flood),
    ("inondation", S::Flood),
    ("inundación", S::Flood),
    ("storm surge", S::Flood),
    ("bushfire", S::Wildfire),
    ("wildfire", S::Wildfire),
    ("forest fire", S::Wildfire),
    ("grass fire", S::Wildfire),
    ("red flag", S::Wildfire),
    ("fire weather", S::Wildfire),
    ("drought", S::Drought),
    ("sécheresse", S::Drought),
    ("amber", S::Kidnapping),
    ("abduct", S::Kidnapping),
    ("kidnap", S::Kidnapping),
    ("enlèvement", S::Kidnapping),
    ("terror", S::Terrorism),
    ("shooter", S::ViolentAttack),
    ("bomb", S::Bombing),
    ("explosi", S::Bombing),
    ("civil unrest", S::Riot),
    ("civil danger", S::OtherSecurity),
    ("epidemic", S::Epidemic),
    ("outbreak", S::Epidemic),
    ("pandemic", S::Epidemic),
    ("disease", S::Epidemic),
    ("air quality", S::OtherHealth),
    ("qualité de l'air", S::OtherHealth),
    ("heat", S::OtherHealth),
    ("chaleur", S::OtherHealth),
];

/// The subtype a CAP category gives when no keyword decides.
fn by_category(category: &str) -> Option<Subtype> {
    Some(match category.trim().to_ascii_lowercase().as_str() {
        "geo" | "met" | "env" => S::OtherNatural,
        "fire" => S::Wildfire,
        "health" => S::OtherHealth,
        "safety" | "security" | "rescue" | "cbrne" | "infra" | "transport" | "other" => {
            S::OtherSecurity
        }
        _ => return None,
    })
}

/// CAP severity → farguard severity: Extreme 5, Severe 4, Moderate 3,
/// Minor 2; Unknown (or anything else) 2, and the reason says so.
pub fn severity(cap: &str) -> (Severity, bool) {
    match cap.trim().to_ascii_lowercase().as_str() {
        "extreme" => (Severity::EXTREME, true),
        "severe" => (Severity::SEVERE, true),
        "moderate" => (Severity::MODERATE, true),
        "minor" => (Severity::MINOR, true),
        _ => (Severity::MINOR, false),
    }
}

/// CAP certainty → confidence: Observed 0.95, Likely (and 1.0's
/// "Very Likely") 0.8, Possible 0.5, Unlikely 0.2, Unknown 0.5.
pub fn confidence(certainty: &str) -> f32 {
    match certainty.trim().to_ascii_lowercase().as_str() {
        "observed" => 0.95,
        "likely" | "very likely" => 0.8,
        "unlikely" => 0.2,
        _ => 0.5,
    }
}

/// Classifies one info block. `None` when it has no known CAP category and
/// no keyword in its event text (the source quarantines it).
pub fn classify(i: &CapInput<'_>) -> Option<Classification> {
    let event = i.event.to_lowercase();
    let keyword = KEYWORDS.iter().find(|(k, _)| event.contains(k));
    let first_cat = i
        .categories
        .iter()
        .find_map(|c| by_category(c).map(|s| (c, s)));
    let (subtype, by) = match (keyword, first_cat) {
        (Some((k, s)), _) => (*s, format!("event {:?} (keyword {k:?})", i.event.trim())),
        (None, Some((c, s))) => (s, format!("category {}", c.trim())),
        (None, None) => return None,
    };
    let (mut sev, known) = severity(i.severity);
    let mut note = if known {
        format!("CAP severity {}", i.severity.trim())
    } else {
        format!("CAP severity {:?} read as Minor", i.severity.trim())
    };
    if i.msg_type.trim().eq_ignore_ascii_case("cancel") {
        sev = Severity::MINIMAL;
        note.push_str("; msgType Cancel lowers it to 1");
    }
    let category = subtype.category();
    Some(Classification {
        category,
        subtype,
        severity: sev,
        confidence: confidence(i.certainty),
        reason: format!(
            "CAP {by} → {}/{}; {note} → severity {}; certainty {} → confidence {}",
            category.code(),
            subtype.code(),
            sev.get(),
            if i.certainty.trim().is_empty() {
                "none"
            } else {
                i.certainty.trim()
            },
            confidence(i.certainty)
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(cats: &[&str], event: &str, sev: &str) -> Option<Classification> {
        classify(&CapInput {
            categories: cats,
            event,
            severity: sev,
            certainty: "Likely",
            msg_type: "Alert",
        })
    }

    #[test]
    fn keywords_beat_categories() {
        assert_eq!(
            c(&["Met"], "Flash Flood Watch", "Severe").unwrap().subtype,
            S::Flood
        );
        assert_eq!(
            c(&["Geo"], "terremoto", "Unknown").unwrap().subtype,
            S::Earthquake
        );
        assert_eq!(
            c(&["Rescue"], "Child Abduction Emergency", "Severe")
                .unwrap()
                .subtype,
            S::Kidnapping
        );
        assert_eq!(
            c(&["Met"], "High Wind Warning", "Severe").unwrap().subtype,
            S::OtherNatural
        );
        let x = c(&["Env"], "Air Quality Alert", "Moderate").unwrap();
        assert_eq!((x.subtype, x.severity.get()), (S::OtherHealth, 3));
        assert!(c(&["Nonsense"], "Something", "Severe").is_none());
    }
}
