//! ACLED event types (current and pre-2019 schemas) → the farguard taxonomy,
//! with severity raised by reported fatalities. `MAPPINGS.md` has the table.
//!
//! ACLED is coded by people from reports, so confidence is high and fixed
//! (0.9); the sub-event type decides when present (current schema), the
//! event type otherwise (the 2015 schema has no sub-event type).

use farguard_model::{Category, Classification, Severity, Subtype};

/// Confidence given to every ACLED event: human-coded, source-cited.
pub const CONFIDENCE: f32 = 0.9;

use Subtype as S;

/// (event type or sub-event type, lower-case; subtype; base severity).
/// Sub-event types first: they are more specific.
const SUB_EVENTS: &[(&str, Subtype, u8)] = &[
    ("armed clash", S::ArmedConflict, 4),
    ("government regains territory", S::ArmedConflict, 4),
    ("non-state actor overtakes territory", S::ArmedConflict, 4),
    ("shelling/artillery/missile attack", S::Bombing, 4),
    ("air/drone strike", S::Bombing, 4),
    ("remote explosive/landmine/ied", S::Bombing, 4),
    ("suicide bomb", S::Terrorism, 5),
    ("grenade", S::Bombing, 3),
    ("chemical weapon", S::Bombing, 5),
    ("attack", S::ViolenceAgainstCivilians, 4),
    ("abduction/forced disappearance", S::Kidnapping, 4),
    ("sexual violence", S::ViolenceAgainstCivilians, 4),
    ("peaceful protest", S::Protest, 1),
    ("protest with intervention", S::Protest, 2),
    ("excessive force against protesters", S::Protest, 3),
    ("violent demonstration", S::Riot, 3),
    ("mob violence", S::Riot, 3),
    ("agreement", S::Engagement, 1),
    ("arrests", S::Detention, 2),
    ("change to group/activity", S::OtherSecurity, 1),
    ("disrupted weapons use", S::OtherSecurity, 2),
    ("headquarters or base established", S::MilitaryThreat, 2),
    ("looting/property destruction", S::Crime, 2),
    (
        "non-violent transfer of territory",
        S::GovernanceBreakdown,
        2,
    ),
    ("other", S::OtherSecurity, 1),
];

const EVENT_TYPES: &[(&str, Subtype, u8)] = &[
    // Current schema.
    ("battles", S::ArmedConflict, 4),
    ("explosions/remote violence", S::Bombing, 4),
    ("violence against civilians", S::ViolenceAgainstCivilians, 4),
    ("protests", S::Protest, 1),
    ("riots", S::Riot, 3),
    ("strategic developments", S::OtherSecurity, 1),
    // 2015 schema (ACLED before 2019).
    ("riots/protests", S::Protest, 2),
    ("battle-no change of territory", S::ArmedConflict, 4),
    ("battle-government regains territory", S::ArmedConflict, 4),
    (
        "battle-non-state actor overtakes territory",
        S::ArmedConflict,
        4,
    ),
    ("remote violence", S::Bombing, 4),
    ("strategic development", S::OtherSecurity, 1),
    (
        "non-violent transfer of territory",
        S::GovernanceBreakdown,
        2,
    ),
    ("headquarters or base established", S::MilitaryThreat, 2),
];

fn find(table: &[(&str, Subtype, u8)], key: &str) -> Option<(Subtype, u8)> {
    let k = key.trim();
    table
        .iter()
        .find(|(name, _, _)| name.eq_ignore_ascii_case(k))
        .map(|&(_, s, v)| (s, v))
}

/// The lowest severity `fatalities` deaths justify: 1+ → 3, 10+ → 4, 100+ → 5.
pub fn fatality_floor(fatalities: u32) -> u8 {
    match fatalities {
        0 => 1,
        1..=9 => 3,
        10..=99 => 4,
        _ => 5,
    }
}

/// Classifies one ACLED event. `sub_event_type` is empty in the 2015 schema.
/// `None` when neither type is an ACLED type (the source quarantines it).
pub fn classify(
    event_type: &str,
    sub_event_type: &str,
    fatalities: Option<u32>,
) -> Option<Classification> {
    let (by, (mut subtype, base)) = match find(SUB_EVENTS, sub_event_type) {
        Some(hit) => (format!("sub-event type {:?}", sub_event_type.trim()), hit),
        None => (
            format!("event type {:?}", event_type.trim()),
            find(EVENT_TYPES, event_type)?,
        ),
    };
    let deaths = fatalities.unwrap_or(0);
    // The 2015 "Riots/Protests" type does not tell the two apart: deaths do.
    let mut note = String::new();
    if subtype == S::Protest
        && deaths > 0
        && event_type.trim().eq_ignore_ascii_case("riots/protests")
    {
        subtype = S::Riot;
        note.push_str(", read as a riot because people died");
    }
    let floor = fatality_floor(deaths);
    let level = base.max(floor);
    let severity = Severity::new(level).unwrap_or(Severity::EXTREME);
    if floor > base {
        note.push_str(&format!(", raised from {base} by {deaths} fatalities"));
    }
    let category: Category = subtype.category();
    Some(Classification {
        category,
        subtype,
        severity,
        confidence: CONFIDENCE,
        reason: format!(
            "ACLED {by} → {}/{} severity {}{note}",
            category.code(),
            subtype.code(),
            severity.get()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_event_decides_and_fatalities_raise() {
        let c = classify(
            "Violence against civilians",
            "Abduction/forced disappearance",
            Some(0),
        )
        .unwrap();
        assert_eq!((c.subtype, c.severity.get()), (S::Kidnapping, 4));
        let c = classify("Protests", "Peaceful protest", Some(12)).unwrap();
        assert_eq!((c.subtype, c.severity.get()), (S::Protest, 4));
        assert!(
            c.reason.contains("raised from 1 by 12 fatalities"),
            "{}",
            c.reason
        );
    }

    #[test]
    fn old_schema_types_map() {
        let c = classify("Riots/Protests", "", Some(0)).unwrap();
        assert_eq!(c.subtype, S::Protest);
        let c = classify("Riots/Protests", "", Some(2)).unwrap();
        assert_eq!((c.subtype, c.severity.get()), (S::Riot, 3));
        let c = classify("Violence Against Civilians", "", None).unwrap();
        assert_eq!(c.subtype, S::ViolenceAgainstCivilians);
        let c = classify("Battle-No change of territory", "", Some(150)).unwrap();
        assert_eq!(c.severity.get(), 5);
        assert!(classify("Picnic", "", None).is_none());
    }
}
