//! Evaluating the text classifier against labelled text: ACLED notes with
//! ACLED's own event types as the labels. Pure bookkeeping — the caller reads
//! the file and feeds (label, prediction) pairs.
//!
//! ACLED labels one event with one event type; the classifier answers with a
//! farguard subtype. Both are put on ACLED's event-type level:
//!
//! | ACLED event type (2020 schema / 2015 schema) | group | farguard subtypes |
//! |---|---|---|
//! | Battles / Battle-* | `battles` | armed_conflict, military_threat |
//! | Explosions/Remote violence / Remote violence | `explosions` | bombing |
//! | Violence against civilians | `violence_against_civilians` | violence_against_civilians, kidnapping, violent_attack, terrorism |
//! | Protests | `protests` | protest, strike |
//! | Riots | `riots` | riot |
//! | Riots/Protests (2015 only) | `protests_riots` | protest, strike, riot |
//! | Strategic developments, Non-violent transfer of territory | not scored | — |
//!
//! "Strategic developments" are left out: ACLED's codebook defines them as
//! a residual class (arrests, agreements, looting, base moves) with no single
//! place in a risk taxonomy. Any other prediction (or none) counts as a miss
//! for the gold group and a false positive for none.

use farguard_model::{Category, Classification, Subtype};
use std::collections::BTreeMap;

/// The scored groups of the 2020 schema, in report order.
pub const GROUPS_2020: [&str; 5] = [
    "battles",
    "explosions",
    "violence_against_civilians",
    "protests",
    "riots",
];
/// The scored groups of the 2015 schema (protests and riots are one type there).
pub const GROUPS_2015: [&str; 4] = [
    "battles",
    "explosions",
    "violence_against_civilians",
    "protests_riots",
];

/// The scored group of an ACLED event type, or `None` when it is not scored.
pub fn acled_group(event_type: &str) -> Option<&'static str> {
    let t = event_type.trim().to_ascii_lowercase();
    Some(match t.as_str() {
        "battles" => "battles",
        t if t.starts_with("battle-") => "battles",
        "explosions/remote violence" | "remote violence" => "explosions",
        "violence against civilians" => "violence_against_civilians",
        "protests" => "protests",
        "riots" => "riots",
        "riots/protests" => "protests_riots",
        _ => return None,
    })
}

/// The group a prediction falls in, given whether the file merges protests
/// and riots.
pub fn predicted_group(c: Option<&Classification>, merged: bool) -> &'static str {
    let Some(c) = c else { return "none" };
    match c.subtype {
        Subtype::ArmedConflict | Subtype::MilitaryThreat => "battles",
        Subtype::Bombing => "explosions",
        Subtype::ViolenceAgainstCivilians
        | Subtype::Kidnapping
        | Subtype::ViolentAttack
        | Subtype::Terrorism => "violence_against_civilians",
        Subtype::Protest | Subtype::Strike if merged => "protests_riots",
        Subtype::Riot if merged => "protests_riots",
        Subtype::Protest | Subtype::Strike => "protests",
        Subtype::Riot => "riots",
        _ => "other",
    }
}

/// The farguard category of a scored group (for the category-level score).
pub fn group_category(group: &str) -> Option<Category> {
    match group {
        "battles" | "explosions" | "violence_against_civilians" => Some(Category::Security),
        "protests" | "riots" | "protests_riots" => Some(Category::Political),
        _ => None,
    }
}

/// Precision and recall of one label.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LabelScore {
    pub support: u64,
    pub predicted: u64,
    pub correct: u64,
}

impl LabelScore {
    pub fn precision(&self) -> f64 {
        ratio(self.correct, self.predicted)
    }
    pub fn recall(&self) -> f64 {
        ratio(self.correct, self.support)
    }
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// A confusion table over a fixed label set.
#[derive(Debug, Clone, Default)]
pub struct Confusion {
    labels: Vec<String>,
    /// (gold, predicted) → count; predicted may be outside `labels`.
    cells: BTreeMap<(String, String), u64>,
}

impl Confusion {
    pub fn new<S: AsRef<str>>(labels: &[S]) -> Self {
        Self {
            labels: labels.iter().map(|s| s.as_ref().to_string()).collect(),
            cells: BTreeMap::new(),
        }
    }
    pub fn add(&mut self, gold: &str, predicted: &str) {
        *self
            .cells
            .entry((gold.to_string(), predicted.to_string()))
            .or_default() += 1;
    }
    pub fn labels(&self) -> &[String] {
        &self.labels
    }
    pub fn total(&self) -> u64 {
        self.cells.values().sum()
    }
    pub fn count(&self, gold: &str, predicted: &str) -> u64 {
        self.cells
            .get(&(gold.to_string(), predicted.to_string()))
            .copied()
            .unwrap_or(0)
    }
    pub fn score(&self, label: &str) -> LabelScore {
        let mut s = LabelScore {
            support: 0,
            predicted: 0,
            correct: 0,
        };
        for ((g, p), n) in &self.cells {
            if g == label {
                s.support += n;
            }
            if p == label {
                s.predicted += n;
            }
            if g == label && p == label {
                s.correct += n;
            }
        }
        s
    }
    /// Unweighted mean of the labels' F1.
    pub fn macro_f1(&self) -> f64 {
        if self.labels.is_empty() {
            return 0.0;
        }
        self.labels.iter().map(|l| self.score(l).f1()).sum::<f64>() / self.labels.len() as f64
    }
    /// Share of rows whose prediction equals the gold label.
    pub fn accuracy(&self) -> f64 {
        let ok: u64 = self
            .cells
            .iter()
            .filter(|((g, p), _)| g == p)
            .map(|(_, n)| n)
            .sum();
        ratio(ok, self.total())
    }
    /// Predicted labels seen, in order: the scored ones, then the rest.
    pub fn predicted_labels(&self) -> Vec<String> {
        let mut out = self.labels.clone();
        for (_, p) in self.cells.keys() {
            if !out.contains(p) {
                out.push(p.clone());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_by_hand() {
        let mut c = Confusion::new(&["a", "b"]);
        c.add("a", "a");
        c.add("a", "a");
        c.add("a", "b");
        c.add("b", "b");
        c.add("b", "none");
        let a = c.score("a");
        assert_eq!((a.support, a.predicted, a.correct), (3, 2, 2));
        assert!((a.precision() - 1.0).abs() < 1e-12 && (a.recall() - 2.0 / 3.0).abs() < 1e-12);
        let b = c.score("b");
        assert!((b.precision() - 0.5).abs() < 1e-12 && (b.recall() - 0.5).abs() < 1e-12);
        assert!((c.macro_f1() - (0.8 + 0.5) / 2.0).abs() < 1e-12);
        assert!((c.accuracy() - 0.6).abs() < 1e-12);
    }

    #[test]
    fn acled_types_group_across_schemas() {
        assert_eq!(
            acled_group("Battle-No change of territory"),
            Some("battles")
        );
        assert_eq!(
            acled_group("Violence Against Civilians"),
            Some("violence_against_civilians")
        );
        assert_eq!(acled_group("Riots/Protests"), Some("protests_riots"));
        assert_eq!(acled_group("Strategic developments"), None);
        assert_eq!(group_category("riots"), Some(Category::Political));
    }
}
