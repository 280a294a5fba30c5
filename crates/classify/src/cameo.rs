//! CAMEO (GDELT) event codes → the farguard taxonomy, with a severity from the
//! code and the Goldstein scale and a confidence from how widely the event
//! was reported. `MAPPINGS.md` beside this crate is the readable table.
//!
//! How one event is classified:
//!
//! 1. **Code.** The most specific *known* CAMEO code wins: `EventCode`, then
//!    `EventBaseCode`, `EventRootCode`, then the first three and two digits of
//!    `EventCode`. When none is known but `QuadClass` is 1–4, a coarse
//!    quad-class rule applies at lower confidence; otherwise there is no
//!    classification (`None`) and the source quarantines the record.
//! 2. **Rule.** The longest prefix of that code in `RULES` gives category,
//!    subtype and a severity *floor* and *cap*. Every root code 01–20 has a
//!    rule, so every known code has one.
//! 3. **Severity.** The Goldstein score is banded ([`goldstein_band`]) and
//!    clamped into the rule's `[floor, cap]`; with no Goldstein score the
//!    floor is used. GDELT's Goldstein value is fixed per code, so the band
//!    mostly restates the code's intensity on a common scale; floor and cap
//!    hold the judgement of what the code means for interests abroad (an
//!    arrest is not "severe" however hostile the act scores).
//! 4. **Confidence.** `1 − e^−(0.35·sources + 0.1·articles)`, times 0.9 when
//!    the full code was not known and 0.6 for a quad-class-only guess,
//!    clamped to `0.05..=0.95` (machine-coded events are never certain).

mod names;

use farguard_model::{Category, Classification, Classifier, Severity, Subtype};
use names::NAMES;
use std::fmt::Write as _;

/// One GDELT/CAMEO event as the classifier needs it. Codes are the strings
/// from the record (leading zeros matter: `"040"` is not `"40"`); numbers
/// that were empty in the record are `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CameoInput<'a> {
    /// Full CAMEO code, e.g. `"1823"` (GDELT `EventCode`).
    pub event_code: &'a str,
    /// Level-two code, e.g. `"182"` (GDELT `EventBaseCode`).
    pub base_code: &'a str,
    /// Root code, e.g. `"18"` (GDELT `EventRootCode`).
    pub root_code: &'a str,
    /// 1 verbal cooperation, 2 material cooperation, 3 verbal conflict,
    /// 4 material conflict.
    pub quad_class: Option<u8>,
    /// Goldstein scale, −10 (most conflictual) to +10.
    pub goldstein: Option<f32>,
    /// Mentions in the first 15-minute window. Carried for completeness; not
    /// used for confidence, since one article repeating an event mentions it
    /// again without corroborating it.
    pub num_mentions: Option<u32>,
    /// Distinct sources reporting the event.
    pub num_sources: Option<u32>,
    /// Distinct articles reporting the event.
    pub num_articles: Option<u32>,
}

/// The CAMEO code-table classifier. Stateless; `CameoClassifier.classify(&input)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CameoClassifier;

/// The CAMEO name of a code (`"145"` → `"protest violently, riot"`), or `None`
/// when the code is not in CAMEO.
pub fn name(code: &str) -> Option<&'static str> {
    lookup(code).map(|(_, n)| n)
}

/// The severity the Goldstein score alone suggests, before a rule's floor and
/// cap: above −2 → 1, to −5 → 2, to −7 → 3, to −9.5 → 4, below → 5 (each
/// bound inclusive on its severe side, so −5.0 → 3 and −9.5 → 5).
pub fn goldstein_band(g: f32) -> Severity {
    if g <= -9.5 {
        Severity::EXTREME
    } else if g <= -7.0 {
        Severity::SEVERE
    } else if g <= -5.0 {
        Severity::MODERATE
    } else if g <= -2.0 {
        Severity::MINOR
    } else {
        Severity::MINIMAL
    }
}

/// Confidence in a machine-coded event from its corroboration (see the module
/// note); `factor` discounts a classification from an imprecise code.
pub fn report_confidence(sources: Option<u32>, articles: Option<u32>, factor: f32) -> f32 {
    let s = sources.unwrap_or(0) as f32;
    let a = articles.unwrap_or(0) as f32;
    let c = 1.0 - (-(0.35 * s + 0.1 * a)).exp();
    (c * factor).clamp(0.05, 0.95)
}

/// Category, subtype and severity bounds for every code starting with
/// `prefix` (the longest matching prefix wins).
#[derive(Debug, Clone, Copy)]
struct Rule {
    /// Read only by tests (against `MAPPINGS.md`); lookups use `key`.
    #[allow(dead_code)]
    prefix: &'static str,
    key: u32,
    category: Category,
    subtype: Subtype,
    floor: Severity,
    cap: Severity,
}

const fn rule(prefix: &'static str, subtype: Subtype, floor: u8, cap: u8) -> Rule {
    Rule {
        prefix,
        key: match key(prefix) {
            Some(k) => k,
            None => 0,
        },
        category: category_of(subtype),
        subtype,
        floor: sev(floor),
        cap: sev(cap),
    }
}

/// `Subtype::category` is not `const`; this mirrors it for the subtypes the
/// rules use, and `rules_agree_with_the_taxonomy` proves the two agree.
const fn category_of(s: Subtype) -> Category {
    match s {
        S::ArmedConflict
        | S::ViolentAttack
        | S::ViolenceAgainstCivilians
        | S::Bombing
        | S::Kidnapping
        | S::CyberAttack
        | S::MilitaryThreat
        | S::OtherSecurity => Category::Security,
        S::Sanctions | S::Expropriation | S::Detention | S::OtherLegal => Category::Legal,
        S::OtherEconomic => Category::Economic,
        _ => Category::Political,
    }
}

const fn sev(v: u8) -> Severity {
    match v {
        0 | 1 => Severity::MINIMAL,
        2 => Severity::MINOR,
        3 => Severity::MODERATE,
        4 => Severity::SEVERE,
        _ => Severity::EXTREME,
    }
}

use Subtype as S;

/// The mapping, in code order. Why each choice: `MAPPINGS.md`.
const RULES: &[Rule] = &[
    rule("01", S::Engagement, 1, 1),
    rule("02", S::Engagement, 1, 1),
    rule("03", S::Engagement, 1, 1),
    rule("04", S::Engagement, 1, 1),
    rule("05", S::Engagement, 1, 1),
    rule("06", S::Engagement, 1, 1),
    rule("07", S::Engagement, 1, 1),
    rule("08", S::Engagement, 1, 1),
    rule("09", S::DiplomaticTension, 1, 2),
    rule("091", S::OtherLegal, 1, 2),
    rule("10", S::DiplomaticTension, 1, 2),
    rule("11", S::DiplomaticTension, 1, 2),
    rule("115", S::OtherLegal, 2, 3),
    rule("116", S::OtherLegal, 2, 3),
    rule("12", S::DiplomaticTension, 1, 2),
    rule("13", S::DiplomaticTension, 2, 3),
    rule("138", S::MilitaryThreat, 2, 3),
    rule("1385", S::MilitaryThreat, 3, 4),
    rule("14", S::Protest, 2, 3),
    rule("142", S::Protest, 1, 2),
    rule("143", S::Strike, 2, 3),
    rule("145", S::Riot, 3, 4),
    rule("15", S::MilitaryThreat, 2, 3),
    rule("16", S::HostilePolicy, 2, 3),
    rule("161", S::HostilePolicy, 3, 4),
    rule("1621", S::OtherEconomic, 2, 3),
    rule("163", S::Sanctions, 3, 4),
    rule("17", S::HostilePolicy, 3, 4),
    rule("171", S::Expropriation, 3, 4),
    rule("1712", S::ViolentAttack, 3, 4),
    rule("172", S::Sanctions, 3, 4),
    rule("1721", S::HostilePolicy, 3, 4),
    rule("1722", S::HostilePolicy, 3, 4),
    rule("1723", S::GovernanceBreakdown, 3, 4),
    rule("1724", S::GovernanceBreakdown, 3, 4),
    rule("173", S::Detention, 2, 3),
    rule("174", S::Detention, 2, 3),
    rule("175", S::ViolenceAgainstCivilians, 3, 4),
    rule("176", S::CyberAttack, 3, 4),
    rule("18", S::ViolentAttack, 4, 5),
    rule("181", S::Kidnapping, 4, 5),
    rule("182", S::ViolentAttack, 3, 4),
    rule("1822", S::ViolenceAgainstCivilians, 4, 4),
    rule("183", S::Bombing, 4, 5),
    rule("184", S::ViolenceAgainstCivilians, 4, 4),
    rule("185", S::ViolentAttack, 4, 4),
    rule("186", S::ViolentAttack, 4, 5),
    rule("19", S::ArmedConflict, 4, 4),
    rule("194", S::ArmedConflict, 4, 5),
    rule("195", S::ArmedConflict, 4, 5),
    rule("20", S::ViolenceAgainstCivilians, 5, 5),
    rule("204", S::ArmedConflict, 5, 5),
];

/// Quad-class rules for a record whose codes are all unknown.
fn quad_rule(q: u8) -> Option<(Rule, &'static str)> {
    Some(match q {
        1 => (rule("", S::Engagement, 1, 1), "verbal cooperation"),
        2 => (rule("", S::Engagement, 1, 1), "material cooperation"),
        3 => (rule("", S::DiplomaticTension, 1, 2), "verbal conflict"),
        4 => (rule("", S::OtherSecurity, 2, 4), "material conflict"),
        _ => return None,
    })
}

/// Numeric key of a CAMEO code: its digits as a number plus 10,000 × its
/// length, so `"020"` and `"20"` differ and keys sort by length, then code.
/// `None` for anything that is not 2–4 ASCII digits.
const fn key(code: &str) -> Option<u32> {
    let b = code.as_bytes();
    if b.len() < 2 || b.len() > 4 {
        return None;
    }
    let mut v = 0u32;
    let mut i = 0;
    while i < b.len() {
        let d = b[i];
        if !d.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (d - b'0') as u32;
        i += 1;
    }
    Some(v + 10_000 * b.len() as u32)
}

/// `NAMES`' keys, in the same order; integer comparisons make the binary
/// search several times faster than comparing strings.
const NAME_KEYS: [u32; NAMES.len()] = {
    let mut keys = [0; NAMES.len()];
    let mut i = 0;
    while i < NAMES.len() {
        keys[i] = match key(NAMES[i].0) {
            Some(k) => k,
            None => 0,
        };
        i += 1;
    }
    keys
};

/// Index in `NAMES` of a known code.
fn lookup_index(code: &str) -> Option<usize> {
    NAME_KEYS.binary_search(&key(code)?).ok()
}

fn lookup(code: &str) -> Option<(&'static str, &'static str)> {
    NAMES.get(lookup_index(code)?).copied()
}

/// Key of the first `n` bytes of `b` (`key` for a prefix, in a `const`).
const fn prefix_key(b: &[u8], n: usize) -> u32 {
    let mut v = 0u32;
    let mut i = 0;
    while i < n {
        v = v * 10 + (b[i] - b'0') as u32;
        i += 1;
    }
    v + 10_000 * n as u32
}

/// For each code in `NAMES`, the index in `RULES` of its longest matching
/// prefix (`usize::MAX` for none; `every_known_code_has_a_rule_under_its_root`
/// proves there is always one), worked out at compile time so classifying
/// is one binary search and one array read.
const RULE_OF_NAME: [usize; NAMES.len()] = {
    let mut out = [usize::MAX; NAMES.len()];
    let mut i = 0;
    while i < NAMES.len() {
        let b = NAMES[i].0.as_bytes();
        let mut n = b.len();
        while n >= 2 && out[i] == usize::MAX {
            let k = prefix_key(b, n);
            let mut r = 0;
            while r < RULES.len() {
                if RULES[r].key == k {
                    out[i] = r;
                    break;
                }
                r += 1;
            }
            n -= 1;
        }
        i += 1;
    }
    out
};

#[cfg(test)]
fn rule_for(code: &str) -> Option<&'static Rule> {
    (2..=code.len()).rev().find_map(|n| {
        let k = key(code.get(..n)?)?;
        RULES.iter().find(|r| r.key == k)
    })
}

/// The most specific known code among the record's codes (its index in
/// `NAMES`), and whether it is the full `EventCode`.
fn resolve(input: &CameoInput<'_>) -> Option<(usize, bool)> {
    let ev = input.event_code.trim();
    if let Some(i) = lookup_index(ev) {
        return Some((i, true));
    }
    let derived = [ev.get(..3), ev.get(..2)];
    [Some(input.base_code.trim()), Some(input.root_code.trim())]
        .into_iter()
        .chain(derived)
        .flatten()
        .find_map(lookup_index)
        .map(|i| (i, false))
}

impl Classifier<CameoInput<'_>> for CameoClassifier {
    fn classify(&self, input: &CameoInput<'_>) -> Option<Classification> {
        // The reason is built with `push_str` and integer digits, not
        // `write!` (formatting machinery was most of a GDELT row's cost), in
        // a per-thread scratch buffer, then copied out at its exact length:
        // a bulk ingest holds hundreds of thousands of reasons.
        SCRATCH.with_borrow_mut(|reason| {
            reason.clear();
            self.classify_into(input, reason)
                .map(|(rule, severity, confidence)| Classification {
                    category: rule.category,
                    subtype: rule.subtype,
                    severity,
                    confidence,
                    reason: reason.as_str().to_string(),
                })
        })
    }
}

thread_local! {
    static SCRATCH: std::cell::RefCell<String> =
        std::cell::RefCell::new(String::with_capacity(REASON_CAPACITY));
}

impl CameoClassifier {
    /// Classifies `input`, writing the reason into `reason`.
    fn classify_into(
        &self,
        input: &CameoInput<'_>,
        reason: &mut String,
    ) -> Option<(Rule, Severity, f32)> {
        let (rule, factor) = match resolve(input) {
            Some((i, exact)) => {
                let (code, name) = NAMES.get(i).copied()?;
                let rule = RULES.get(*RULE_OF_NAME.get(i)?)?;
                if exact {
                    reason.push_str("CAMEO ");
                } else {
                    let _ = write!(reason, "CAMEO {:?} unknown, read as ", input.event_code);
                }
                reason.push_str(code);
                reason.push_str(" (");
                reason.push_str(name);
                reason.push(')');
                (*rule, if exact { 1.0 } else { 0.9 })
            }
            None => {
                let (rule, label) = quad_rule(input.quad_class?)?;
                let _ = write!(
                    reason,
                    "CAMEO {:?} unknown, read by QuadClass {} ({label})",
                    input.event_code,
                    input.quad_class.unwrap_or_default()
                );
                (rule, 0.6)
            }
        };
        reason.push_str(" → ");
        reason.push_str(rule.category.code());
        reason.push('/');
        reason.push_str(rule.subtype.code());

        let goldstein = input
            .goldstein
            .filter(|g| g.is_finite() && (-10.0..=10.0).contains(g));
        let severity = match goldstein {
            Some(g) => {
                let band = goldstein_band(g);
                let s = band.max(rule.floor).min(rule.cap);
                reason.push_str("; Goldstein ");
                push_tenths(reason, g);
                reason.push_str(" → ");
                if s != band {
                    reason.push_str("band ");
                    push_uint(reason, u32::from(band.get()));
                    reason.push_str(if s > band {
                        ", raised to the code's floor: "
                    } else {
                        ", held to the code's cap: "
                    });
                }
                s
            }
            None => {
                reason.push_str("; no Goldstein score, the code's floor: ");
                rule.floor
            }
        };
        reason.push_str("severity ");
        push_uint(reason, u32::from(severity.get()));
        reason.push_str(" (");
        reason.push_str(severity.label());
        reason.push(')');

        let confidence = report_confidence(input.num_sources, input.num_articles, factor);
        let (s, a) = (
            input.num_sources.unwrap_or(0),
            input.num_articles.unwrap_or(0),
        );
        reason.push_str("; ");
        push_uint(reason, s);
        reason.push_str(if s == 1 { " source, " } else { " sources, " });
        push_uint(reason, a);
        reason.push_str(if a == 1 {
            " article → confidence 0."
        } else {
            " articles → confidence 0."
        });
        // confidence ≤ 0.95, so two decimals never round up to 1.00.
        let c = (confidence * 100.0).round() as u32;
        if c < 10 {
            reason.push('0');
        }
        push_uint(reason, c);
        Some((rule, severity, confidence))
    }
}

/// Room in the scratch buffer for the longest common reason (an exact code
/// with the longest CAMEO name, a band note and five-digit counts).
const REASON_CAPACITY: usize = 256;

/// Writes `v` in decimal.
fn push_uint(out: &mut String, mut v: u32) {
    let mut buf = [0u8; 10];
    let mut i = buf.len();
    loop {
        i -= 1;
        if let Some(d) = buf.get_mut(i) {
            *d = b'0' + (v % 10) as u8;
        }
        v /= 10;
        if v == 0 || i == 0 {
            break;
        }
    }
    for d in buf.get(i..).unwrap_or_default() {
        out.push(char::from(*d));
    }
}

/// Writes `v` with one decimal (`-7.0`, `2.5`) by integer formatting, which
/// is several times cheaper than `{:.1}` on a float.
fn push_tenths(out: &mut String, v: f32) {
    let t = (v * 10.0).round() as i32;
    if t < 0 {
        out.push('-');
    }
    let t = t.unsigned_abs();
    push_uint(out, t / 10);
    out.push('.');
    push_uint(out, t % 10);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(code: &str, goldstein: f32) -> CameoInput<'_> {
        CameoInput {
            event_code: code,
            base_code: code.get(..3).unwrap_or(code),
            root_code: code.get(..2).unwrap_or(code),
            quad_class: None,
            goldstein: Some(goldstein),
            num_mentions: Some(3),
            num_sources: Some(1),
            num_articles: Some(3),
        }
    }

    /// Classifies `code` at `goldstein` and checks subtype and severity.
    fn check(code: &str, goldstein: f32, subtype: Subtype, severity: u8) {
        let c = CameoClassifier
            .classify(&input(code, goldstein))
            .unwrap_or_else(|| panic!("{code} did not classify"));
        assert_eq!(
            (c.subtype, c.severity.get()),
            (subtype, severity),
            "{code}: {}",
            c.reason
        );
        assert_eq!(c.category, subtype.category(), "{code}");
    }

    #[test]
    fn tables_are_sorted_for_binary_search() {
        assert!(NAME_KEYS.windows(2).all(|w| 0 < w[0] && w[0] < w[1]));
        assert!(RULES.windows(2).all(|w| w[0].prefix < w[1].prefix));
        assert!(RULES.iter().all(|r| r.key > 0));
        assert_eq!(key("020"), Some(30_020));
        assert_eq!(key("20"), Some(20_020));
        for bad in ["", "1", "12345", "1a", "-12", "٣٣"] {
            assert_eq!(key(bad), None, "{bad}");
        }
    }

    #[test]
    fn rules_agree_with_the_taxonomy() {
        for r in RULES {
            assert_eq!(r.category, r.subtype.category(), "{}", r.prefix);
            assert!(r.floor <= r.cap, "{}", r.prefix);
            assert!(
                lookup(r.prefix).is_some(),
                "rule for unknown code {}",
                r.prefix
            );
        }
        for q in 1..=4 {
            let (r, _) = quad_rule(q).unwrap();
            assert_eq!(r.category, r.subtype.category());
        }
    }

    #[test]
    fn mappings_md_matches_the_rules() {
        let doc = include_str!("../MAPPINGS.md");
        let rows: Vec<String> = doc
            .lines()
            .filter_map(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                let prefix = *cells.get(1)?;
                (!prefix.is_empty() && prefix.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| format!("{prefix} {} {} {}", cells[2], cells[3], cells[4]))
            })
            .collect();
        let want: Vec<String> = RULES
            .iter()
            .map(|r| {
                format!(
                    "{} {} {}/{} {}–{}",
                    r.prefix,
                    name(r.prefix).unwrap(),
                    r.category,
                    r.subtype,
                    r.floor.get(),
                    r.cap.get()
                )
            })
            .collect();
        assert_eq!(rows, want);
    }

    #[test]
    fn every_known_code_has_a_rule_under_its_root() {
        for (i, (code, _)) in NAMES.iter().enumerate() {
            let r = rule_for(code).unwrap();
            assert!(code.starts_with(r.prefix));
            assert_eq!(RULES[RULE_OF_NAME[i]].prefix, r.prefix, "{code}");
        }
        for root in 1..=20 {
            assert!(rule_for(&format!("{root:02}")).is_some());
        }
    }

    #[test]
    fn codes_map_as_documented() {
        check("040", 1.0, S::Engagement, 1);
        check("0874", 10.0, S::Engagement, 1);
        check("091", -2.5, S::OtherLegal, 2);
        check("1124", -5.5, S::DiplomaticTension, 2);
        check("1384", -6.0, S::MilitaryThreat, 3);
        check("141", -4.4, S::Protest, 2);
        check("1433", -6.0, S::Strike, 3);
        check("145", -6.5, S::Riot, 3);
        check("145", -7.0, S::Riot, 4);
        check("154", -6.5, S::MilitaryThreat, 3);
        check("163", -7.0, S::Sanctions, 4);
        check("1621", -6.5, S::OtherEconomic, 3);
        check("1711", -7.0, S::Expropriation, 4);
        check("172", -7.5, S::Sanctions, 4);
        check("1724", -8.0, S::GovernanceBreakdown, 4);
        check("173", -7.5, S::Detention, 3);
        check("175", -8.5, S::ViolenceAgainstCivilians, 4);
        check("176", -7.0, S::CyberAttack, 4);
        check("181", -8.5, S::Kidnapping, 4);
        check("1823", -10.0, S::ViolentAttack, 4);
        check("1831", -9.5, S::Bombing, 5);
        check("183", -9.0, S::Bombing, 4);
        check("186", -10.0, S::ViolentAttack, 5);
        check("193", -10.0, S::ArmedConflict, 4);
        check("194", -10.0, S::ArmedConflict, 5);
        check("1952", -9.0, S::ArmedConflict, 4);
        check("1952", -10.0, S::ArmedConflict, 5);
        check("202", -10.0, S::ViolenceAgainstCivilians, 5);
        check("2042", -10.0, S::ArmedConflict, 5);
    }

    #[test]
    fn reason_names_code_rule_and_numbers() {
        let c = CameoClassifier.classify(&input("145", -7.0)).unwrap();
        assert_eq!(
            c.reason,
            "CAMEO 145 (protest violently, riot) → political/riot; Goldstein -7.0 → \
             severity 4 (severe); 1 source, 3 articles → confidence 0.48"
        );
        let c = CameoClassifier.classify(&input("173", -7.5)).unwrap();
        assert!(
            c.reason
                .contains("Goldstein -7.5 → band 4, held to the code's cap: severity 3 (moderate)")
        );
    }

    #[test]
    fn missing_goldstein_uses_the_floor() {
        let mut i = input("1823", 0.0);
        i.goldstein = None;
        let c = CameoClassifier.classify(&i).unwrap();
        assert_eq!(c.severity, Severity::MODERATE);
        assert!(c.reason.contains("no Goldstein score"), "{}", c.reason);
        // An impossible score is treated as missing, not trusted.
        i.goldstein = Some(-55.0);
        assert_eq!(
            CameoClassifier.classify(&i).unwrap().severity,
            Severity::MODERATE
        );
    }

    #[test]
    fn unknown_full_code_falls_back_to_base_then_quad_class() {
        let i = CameoInput {
            event_code: "1889",
            base_code: "188",
            root_code: "18",
            goldstein: Some(-9.0),
            ..CameoInput::default()
        };
        let c = CameoClassifier.classify(&i).unwrap();
        assert_eq!(c.subtype, S::ViolentAttack);
        assert!(
            c.reason
                .starts_with("CAMEO \"1889\" unknown, read as 18 (assault)")
        );

        let i = CameoInput {
            event_code: "X",
            quad_class: Some(4),
            ..CameoInput::default()
        };
        let c = CameoClassifier.classify(&i).unwrap();
        assert_eq!((c.subtype, c.confidence), (S::OtherSecurity, 0.05));

        let none = CameoInput {
            event_code: "banana",
            quad_class: Some(7),
            ..CameoInput::default()
        };
        assert!(CameoClassifier.classify(&none).is_none());
    }

    #[test]
    fn confidence_grows_with_corroboration() {
        let c = |s, a| report_confidence(Some(s), Some(a), 1.0);
        assert!(c(1, 1) < c(1, 5) && c(1, 5) < c(3, 5) && c(3, 5) < c(10, 30));
        assert!((c(1, 1) - 0.362).abs() < 0.001);
        assert_eq!(c(50, 500), 0.95);
        assert_eq!(report_confidence(None, None, 1.0), 0.05);
    }

    #[test]
    fn integers_format_like_the_formatter() {
        for v in [0, 1, 9, 10, 99, 100, 12_345, u32::MAX] {
            let mut s = String::new();
            push_uint(&mut s, v);
            assert_eq!(s, v.to_string());
        }
    }

    #[test]
    fn reasons_fit_their_capacity_and_read_as_before() {
        for (code, _) in NAMES {
            let mut i = input(code, -9.0);
            i.num_sources = Some(99_999);
            i.num_articles = Some(99_999);
            let r = CameoClassifier.classify(&i).unwrap().reason;
            assert!(r.len() <= REASON_CAPACITY, "{code}: {} bytes", r.len());
        }
        let mut i = input("0874", 10.0);
        i.num_sources = Some(0);
        i.num_articles = Some(0);
        assert_eq!(
            CameoClassifier.classify(&i).unwrap().reason,
            "CAMEO 0874 (retreat or surrender militarily) → political/engagement; \
             Goldstein 10.0 → severity 1 (minimal); 0 sources, 0 articles → confidence 0.05"
        );
    }

    #[test]
    fn tenths_format_like_the_float_formatter() {
        for v in [
            -10.0f32, -7.0, -6.5, -0.04, -0.05, 0.0, 0.3, 2.5, 9.95, 10.0,
        ] {
            let mut s = String::new();
            push_tenths(&mut s, v);
            let want = format!("{:.1}", (v * 10.0).round() / 10.0);
            let want = if want == "-0.0" {
                "0.0".to_string()
            } else {
                want
            };
            assert_eq!(s, want, "{v}");
        }
    }

    #[test]
    fn goldstein_bands_are_inclusive_on_the_severe_side() {
        let b = |g| goldstein_band(g).get();
        assert_eq!(
            [
                b(10.0),
                b(-1.9),
                b(-2.0),
                b(-5.0),
                b(-7.0),
                b(-9.4),
                b(-9.5)
            ],
            [1, 1, 2, 3, 4, 4, 5]
        );
    }
}
