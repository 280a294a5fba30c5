//! The guideline file: parsing, validation and the rules it defines.

use farguard_model::{Category, Level, Radius, Severity};
use serde::Deserialize;
use std::collections::BTreeMap;

/// A guideline that failed to parse or validate. Messages name the key and
/// the rule broken.
#[derive(Debug, thiserror::Error)]
pub enum GuidelineError {
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    #[error("{file}: key `{key}`: {rule}")]
    Invalid {
        file: String,
        key: String,
        rule: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGuideline {
    version: String,
    assess: RawAssess,
    thresholds: BTreeMap<String, RawThresholds>,
    radius_km: BTreeMap<String, Vec<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAssess {
    window_days: i64,
    min_severity: u8,
    severity_weight: Vec<f64>,
    rising_ratio: f64,
    falling_ratio: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
struct RawThresholds {
    IV: f64,
    III: f64,
    II: f64,
    I: f64,
}

/// A validated guideline.
#[derive(Debug, Clone, PartialEq)]
pub struct Guideline {
    pub version: String,
    pub window_days: i64,
    pub min_severity: Severity,
    pub severity_weight: [f64; 5],
    pub rising_ratio: f64,
    pub falling_ratio: f64,
    /// Per category, score thresholds for IV, III, II, I (strictly increasing).
    thresholds: BTreeMap<Category, [f64; 4]>,
    radius_km: BTreeMap<Category, [Radius; 5]>,
}

/// The guideline shipped in `config/guideline.toml`, compiled in.
pub const DEFAULT_TOML: &str = include_str!("../../../config/guideline.toml");

impl Guideline {
    /// The shipped default.
    pub fn default_shipped() -> Result<Self, GuidelineError> {
        Self::parse("config/guideline.toml", DEFAULT_TOML)
    }

    /// Parses and validates a guideline; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Self, GuidelineError> {
        let raw: RawGuideline = toml::from_str(text).map_err(|e| GuidelineError::Parse {
            file: file.into(),
            message: e.to_string().trim_end().replace('\n', " "),
        })?;
        let bad = |key: &str, rule: String| GuidelineError::Invalid {
            file: file.into(),
            key: key.into(),
            rule,
        };
        if raw.version.trim().is_empty() {
            return Err(bad("version", "must not be empty".into()));
        }
        let a = &raw.assess;
        if a.window_days <= 0 {
            return Err(bad(
                "assess.window_days",
                format!("must be at least 1, got {}", a.window_days),
            ));
        }
        let min_severity = Severity::new(a.min_severity).map_err(|_| {
            bad(
                "assess.min_severity",
                format!("must be 1 to 5, got {}", a.min_severity),
            )
        })?;
        let severity_weight: [f64; 5] =
            a.severity_weight
                .clone()
                .try_into()
                .map_err(|v: Vec<f64>| {
                    bad(
                        "assess.severity_weight",
                        format!("needs 5 weights (severity 1..5), got {}", v.len()),
                    )
                })?;
        if let Some(w) = severity_weight.iter().find(|w| !w.is_finite() || **w < 0.0) {
            return Err(bad(
                "assess.severity_weight",
                format!("weights must be 0 or more, got {w}"),
            ));
        }
        if !(a.rising_ratio >= 1.0 && a.falling_ratio > 0.0 && a.falling_ratio <= 1.0) {
            return Err(bad(
                "assess.rising_ratio",
                "rising_ratio must be ≥ 1 and falling_ratio in (0, 1]".into(),
            ));
        }
        let mut thresholds = BTreeMap::new();
        for (name, t) in &raw.thresholds {
            let key = format!("thresholds.{name}");
            let cat = Category::parse(name).map_err(|e| bad(&key, e.to_string()))?;
            let v = [t.IV, t.III, t.II, t.I];
            if v.iter().any(|x| !x.is_finite() || *x <= 0.0) {
                return Err(bad(&key, "thresholds must be positive numbers".into()));
            }
            if !v.windows(2).all(|w| w[0] < w[1]) {
                return Err(bad(
                    &key,
                    format!("thresholds must increase strictly IV < III < II < I, got {v:?}"),
                ));
            }
            thresholds.insert(cat, v);
        }
        let mut radius_km = BTreeMap::new();
        for (name, r) in &raw.radius_km {
            let key = format!("radius_km.{name}");
            let cat = Category::parse(name).map_err(|e| bad(&key, e.to_string()))?;
            let v: [f64; 5] = r.clone().try_into().map_err(|v: Vec<f64>| {
                bad(
                    &key,
                    format!("needs 5 radii (severity 1..5), got {}", v.len()),
                )
            })?;
            let mut radii = [Radius::DEFAULT; 5];
            for (slot, x) in radii.iter_mut().zip(v) {
                *slot = Radius::km(x).map_err(|e| bad(&key, e.to_string()))?;
            }
            radius_km.insert(cat, radii);
        }
        for c in Category::ALL {
            if !thresholds.contains_key(&c) {
                return Err(bad(
                    &format!("thresholds.{c}"),
                    "is missing: every category needs thresholds".into(),
                ));
            }
            if !radius_km.contains_key(&c) {
                return Err(bad(
                    &format!("radius_km.{c}"),
                    "is missing: every category needs radii".into(),
                ));
            }
        }
        Ok(Self {
            version: raw.version,
            window_days: a.window_days,
            min_severity,
            severity_weight,
            rising_ratio: a.rising_ratio,
            falling_ratio: a.falling_ratio,
            thresholds,
            radius_km,
        })
    }

    /// Thresholds IV, III, II, I for a category.
    pub fn thresholds(&self, c: Category) -> [f64; 4] {
        // Validation guarantees every category is present.
        self.thresholds
            .get(&c)
            .copied()
            .unwrap_or([f64::INFINITY; 4])
    }

    /// The level a score reaches, and the threshold it crossed (if any).
    pub fn level_for(&self, c: Category, score: f64) -> (Level, Option<f64>) {
        let t = self.thresholds(c);
        let levels = [Level::IV, Level::III, Level::II, Level::I];
        let mut out = (Level::Normal, None);
        for (l, th) in levels.iter().zip(t) {
            if score >= th {
                out = (*l, Some(th));
            }
        }
        out
    }

    pub fn weight(&self, s: Severity) -> f64 {
        self.severity_weight[(s.get() - 1) as usize]
    }

    /// Exposure radius for an event of this category and severity.
    pub fn radius(&self, c: Category, s: Severity) -> Radius {
        self.radius_km
            .get(&c)
            .map(|r| r[(s.get() - 1) as usize])
            .unwrap_or(Radius::DEFAULT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_guideline_parses() {
        let g = Guideline::default_shipped().unwrap();
        assert_eq!(g.level_for(Category::Security, 0.5).0, Level::Normal);
        assert_eq!(
            g.level_for(Category::Security, 4.0),
            (Level::III, Some(4.0))
        );
        assert_eq!(g.level_for(Category::Security, 1e9).0, Level::I);
        assert_eq!(
            g.radius(Category::Natural, Severity::EXTREME).get_km(),
            300.0
        );
    }

    fn check_rejected(edit: (&str, &str), want_key: &str, want_rule: &str) {
        assert!(
            DEFAULT_TOML.contains(edit.0),
            "fixture edit {:?} does not apply",
            edit.0
        );
        let text = DEFAULT_TOML.replacen(edit.0, edit.1, 1);
        let err = Guideline::parse("g.toml", &text).unwrap_err().to_string();
        assert!(err.contains(want_key) && err.contains(want_rule), "{err}");
    }

    #[test]
    fn bad_guidelines_name_key_and_rule() {
        check_rejected(
            ("window_days = 7", "window_days = 0"),
            "assess.window_days",
            "at least 1",
        );
        check_rejected(
            ("III = 4.0\nII = 12.0", "III = 14.0\nII = 12.0"),
            "thresholds.security",
            "increase strictly",
        );
        check_rejected(
            ("[0.0, 0.5, 1.0, 2.0, 4.0]", "[0.0, -1, 1.0, 2.0, 4.0]"),
            "severity_weight",
            "0 or more",
        );
        check_rejected(
            ("[thresholds.health]", "[thresholds.weather]"),
            "thresholds.weather",
            "not a category",
        );
        check_rejected(
            ("min_severity = 2", "min_severity = 2\nsurge = 1"),
            "unknown field",
            "surge",
        );
    }

    #[test]
    fn missing_category_is_rejected() {
        let start = DEFAULT_TOML.find("[thresholds.health]").unwrap();
        let end = DEFAULT_TOML[start..].find("\n\n").unwrap() + start;
        let text = format!("{}{}", &DEFAULT_TOML[..start], &DEFAULT_TOML[end..]);
        let err = Guideline::parse("g.toml", &text).unwrap_err().to_string();
        assert!(
            err.contains("thresholds.health") && err.contains("missing"),
            "{err}"
        );
    }
}
