//! The guideline file: parsing, validation (errors name the line, the key
//! and the rule broken) and the rules it defines.

use farguard_model::{Area, Category, Level, Radius, Severity, Subtype};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use toml::Spanned;

/// A guideline that failed to parse or validate. Messages name the file,
/// the line, the key and the rule broken.
#[derive(Debug, thiserror::Error)]
pub enum GuidelineError {
    #[error("{file}:{line}: {message}")]
    Parse {
        file: String,
        line: usize,
        message: String,
    },
    #[error("{file}:{line}: key `{key}`: {rule}")]
    Invalid {
        file: String,
        line: usize,
        key: String,
        rule: String,
    },
}

impl GuidelineError {
    /// The 1-based line the error points at.
    pub fn line(&self) -> usize {
        match self {
            Self::Parse { line, .. } | Self::Invalid { line, .. } => *line,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGuideline {
    version: Spanned<String>,
    assess: RawAssess,
    surge: RawSurge,
    #[serde(default)]
    areas: BTreeMap<String, Spanned<RawArea>>,
    categories: Spanned<BTreeMap<String, Spanned<RawCategory>>>,
    #[serde(default)]
    external: BTreeMap<String, Spanned<RawExternal>>,
    radius_km: Spanned<BTreeMap<String, Spanned<Vec<f64>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAssess {
    window_days: Spanned<i64>,
    min_severity: Spanned<u8>,
    severity_weight: Spanned<Vec<f64>>,
    rising_ratio: Spanned<f64>,
    falling_ratio: Spanned<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSurge {
    method: Spanned<String>,
    recent_days: Spanned<i64>,
    baseline_days: Spanned<i64>,
    min_count: Spanned<i64>,
    p_value: Spanned<f64>,
    raise: Spanned<i64>,
    floor: Spanned<String>,
    min_coverage: Spanned<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawArea {
    enabled: bool,
    threshold_scale: Spanned<f64>,
    /// H3 only: the cell resolution (0 coarsest … 15 finest).
    #[serde(default)]
    resolution: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCategory {
    aggregation: Spanned<String>,
    thresholds: Spanned<RawThresholds>,
    indicators: Spanned<Vec<Spanned<RawIndicator>>>,
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIndicator {
    kind: Spanned<String>,
    window_days: Spanned<i64>,
    weight: Spanned<f64>,
    #[serde(default)]
    normalise: Option<Spanned<String>>,
    #[serde(default)]
    cap: Option<Spanned<f64>>,
    /// For `external`: the index name declared under `[external.NAME]`.
    #[serde(default)]
    index: Option<Spanned<String>>,
    /// For `relative`: the days of the area's own history before the
    /// window that set its normal.
    #[serde(default)]
    baseline_days: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExternal {
    /// CSV with columns `area,value` (area as `CN`, `KE/KE05`, …).
    file: String,
    description: String,
}

/// What an indicator measures over its window, per area × category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IndicatorKind {
    /// Distinct reports at or above the minimum severity.
    EventCount,
    /// Σ over reports of severity weight × confidence ("one report, one vote").
    SeverityWeighted,
    /// Σ fatalities reported.
    Fatalities,
    /// Mean Goldstein scale of the counted events (−10 conflict … +10 cooperation).
    GoldsteinMean,
    /// Mean tone of the counted events (negative is hostile coverage).
    ToneMean,
    /// Observed ÷ expected reports in the surge test's recent days.
    Surge,
    /// A value per area from an external index (CSV), constant in time.
    External,
    /// How far the area is above its own normal: the window's
    /// severity-weighted sum ÷ the area's own average per window over the
    /// `baseline_days` before it, minus 1, at least 0 (the average floored
    /// at one severe report's points, so a quiet area's first report is not
    /// an infinite rise; 0 when too little history is stored to know the
    /// normal, by the surge rule's `min_coverage`).
    Relative,
}

impl IndicatorKind {
    pub const ALL: [(&'static str, IndicatorKind); 8] = [
        ("event_count", IndicatorKind::EventCount),
        ("severity_weighted", IndicatorKind::SeverityWeighted),
        ("fatalities", IndicatorKind::Fatalities),
        ("goldstein_mean", IndicatorKind::GoldsteinMean),
        ("tone_mean", IndicatorKind::ToneMean),
        ("surge", IndicatorKind::Surge),
        ("external", IndicatorKind::External),
        ("relative", IndicatorKind::Relative),
    ];
    pub fn code(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, k)| *k == self)
            .map(|(c, _)| *c)
            .unwrap_or("?")
    }
    fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().find(|(c, _)| *c == s).map(|(_, k)| *k)
    }
}

/// How a raw indicator value becomes a score term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Normalise {
    /// The value as is.
    None,
    /// ln(1 + x): diminishing returns for large counts.
    Log1p,
    /// √x.
    Sqrt,
    /// max(0, −x): for Goldstein and tone, where negative is the risk.
    Negative,
}

impl Normalise {
    const ALL: [(&'static str, Normalise); 4] = [
        ("none", Normalise::None),
        ("log1p", Normalise::Log1p),
        ("sqrt", Normalise::Sqrt),
        ("negative", Normalise::Negative),
    ];
    pub fn code(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, k)| *k == self)
            .map(|(c, _)| *c)
            .unwrap_or("?")
    }
    pub fn apply(self, x: f64) -> f64 {
        match self {
            Normalise::None => x,
            Normalise::Log1p => x.max(0.0).ln_1p(),
            Normalise::Sqrt => x.max(0.0).sqrt(),
            // `+ 0.0` turns −0 into 0 for display.
            Normalise::Negative => (-x).max(0.0) + 0.0,
        }
    }
}

/// How indicator terms combine into the score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregation {
    /// Σ weight × normalised value.
    Sum,
    /// The largest weight × normalised value.
    Max,
    /// Σ weight × value ÷ Σ weight.
    Mean,
}

impl Aggregation {
    pub fn code(self) -> &'static str {
        match self {
            Aggregation::Sum => "sum",
            Aggregation::Max => "max",
            Aggregation::Mean => "mean",
        }
    }
}

/// One indicator of a category.
#[derive(Debug, Clone, PartialEq)]
pub struct Indicator {
    pub kind: IndicatorKind,
    pub window_days: i64,
    pub weight: f64,
    pub normalise: Normalise,
    /// Upper bound applied after normalisation.
    pub cap: Option<f64>,
    /// External index name (for `External`).
    pub index: Option<String>,
    /// Days of the area's own history that set its normal (for `Relative`).
    pub baseline_days: Option<i64>,
}

impl Indicator {
    /// A short name for explanations: `severity_weighted/7d`.
    pub fn name(&self) -> String {
        match &self.index {
            Some(i) => format!("{}:{i}/{}d", self.kind.code(), self.window_days),
            None => format!("{}/{}d", self.kind.code(), self.window_days),
        }
    }
}

/// The rules of one category.
#[derive(Debug, Clone, PartialEq)]
pub struct CategoryRules {
    pub aggregation: Aggregation,
    /// Score thresholds for IV, III, II, I (strictly increasing), for a country.
    pub thresholds: [f64; 4],
    pub indicators: Vec<Indicator>,
}

/// The surge test ("behaviour pattern"): recent reports against the area's
/// own daily history.
#[derive(Debug, Clone, PartialEq)]
pub struct SurgeRule {
    /// Days counted as "recent", ending at the assessment time.
    pub recent_days: i64,
    /// Days of history before the recent days that set the baseline rate.
    pub baseline_days: i64,
    /// Fewest recent reports that can be a surge.
    pub min_count: u64,
    /// Poisson upper-tail probability below which the count is a surge.
    pub p_value: f64,
    /// Levels a surge adds (capped at I).
    pub raise: u8,
    /// A surge lifts the level to at least this.
    pub floor: Level,
    /// Share of baseline days on which the store holds any event at all;
    /// below it the history is too thin to test against.
    pub min_coverage: f64,
}

/// Grading per area kind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AreaRule {
    pub enabled: bool,
    /// Thresholds for this kind are the category's × this (smaller areas
    /// see fewer events).
    pub threshold_scale: f64,
    /// H3 only: the resolution events are binned at.
    pub resolution: Option<u8>,
}

/// An external index declared by the guideline, loaded by the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct ExternalIndex {
    pub name: String,
    pub file: String,
    pub description: String,
}

/// A validated guideline.
#[derive(Debug, Clone, PartialEq)]
pub struct Guideline {
    pub version: String,
    /// The grading window; trend compares with the window before it.
    pub window_days: i64,
    pub min_severity: Severity,
    pub severity_weight: [f64; 5],
    pub rising_ratio: f64,
    pub falling_ratio: f64,
    pub surge: SurgeRule,
    categories: BTreeMap<Category, CategoryRules>,
    areas: BTreeMap<&'static str, AreaRule>,
    pub external: Vec<ExternalIndex>,
    radius_km: BTreeMap<Category, [Radius; 5]>,
    /// Subtypes whose radii differ from their category's.
    radius_subtype: BTreeMap<Subtype, [Radius; 5]>,
}

/// The guideline shipped in `config/guideline.toml`, compiled in.
pub const DEFAULT_TOML: &str = include_str!("../../../config/guideline.toml");

/// Area kinds a guideline may configure.
pub const AREA_KINDS: [&str; 4] = ["country", "admin1", "h3", "site"];

fn line_of(text: &str, pos: usize) -> usize {
    text.get(..pos.min(text.len()))
        .map(|s| s.matches('\n').count() + 1)
        .unwrap_or(1)
}

struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
}

impl Ctx<'_> {
    fn bad<T>(
        &self,
        span: std::ops::Range<usize>,
        key: &str,
        rule: impl Into<String>,
    ) -> Result<T, GuidelineError> {
        Err(GuidelineError::Invalid {
            file: self.file.into(),
            line: line_of(self.text, span.start),
            key: key.into(),
            rule: rule.into(),
        })
    }
}

fn level_name(l: Level) -> &'static str {
    l.code()
}

impl Guideline {
    /// The shipped default.
    pub fn default_shipped() -> Result<Self, GuidelineError> {
        Self::parse("config/guideline.toml", DEFAULT_TOML)
    }

    /// Replaces this guideline with the one in `text` only if it is valid;
    /// on error the running guideline stays in force.
    pub fn reload(&mut self, file: &str, text: &str) -> Result<(), GuidelineError> {
        *self = Self::parse(file, text)?;
        Ok(())
    }

    /// Parses and validates a guideline; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Self, GuidelineError> {
        let raw: RawGuideline = toml::from_str(text).map_err(|e| GuidelineError::Parse {
            file: file.into(),
            line: e.span().map(|s| line_of(text, s.start)).unwrap_or(1),
            message: e.message().trim_end().replace('\n', " "),
        })?;
        let cx = Ctx { file, text };
        if raw.version.get_ref().trim().is_empty() {
            return cx.bad(raw.version.span(), "version", "must not be empty");
        }
        let a = &raw.assess;
        if *a.window_days.get_ref() <= 0 {
            return cx.bad(
                a.window_days.span(),
                "assess.window_days",
                format!("must be at least 1, got {}", a.window_days.get_ref()),
            );
        }
        let min_severity = match Severity::new(*a.min_severity.get_ref()) {
            Ok(s) => s,
            Err(_) => {
                return cx.bad(
                    a.min_severity.span(),
                    "assess.min_severity",
                    format!("must be 1 to 5, got {}", a.min_severity.get_ref()),
                );
            }
        };
        let sw = a.severity_weight.get_ref();
        let Ok(severity_weight) = <[f64; 5]>::try_from(sw.as_slice()) else {
            return cx.bad(
                a.severity_weight.span(),
                "assess.severity_weight",
                format!("needs 5 weights (severity 1..5), got {}", sw.len()),
            );
        };
        if let Some(w) = severity_weight.iter().find(|w| !w.is_finite() || **w < 0.0) {
            return cx.bad(
                a.severity_weight.span(),
                "assess.severity_weight",
                format!("weights must be 0 or more, got {w}"),
            );
        }
        if *a.rising_ratio.get_ref() < 1.0 || !a.rising_ratio.get_ref().is_finite() {
            return cx.bad(
                a.rising_ratio.span(),
                "assess.rising_ratio",
                "must be 1 or more",
            );
        }
        let fr = *a.falling_ratio.get_ref();
        if !(fr > 0.0 && fr <= 1.0) {
            return cx.bad(
                a.falling_ratio.span(),
                "assess.falling_ratio",
                "must be in (0, 1]",
            );
        }

        let s = &raw.surge;
        if s.method.get_ref() != "poisson" {
            return cx.bad(
                s.method.span(),
                "surge.method",
                format!(
                    "unknown method {:?}: expected \"poisson\"",
                    s.method.get_ref()
                ),
            );
        }
        for (v, key) in [
            (&s.recent_days, "surge.recent_days"),
            (&s.baseline_days, "surge.baseline_days"),
            (&s.min_count, "surge.min_count"),
        ] {
            if *v.get_ref() <= 0 {
                return cx.bad(
                    v.span(),
                    key,
                    format!("must be at least 1, got {}", v.get_ref()),
                );
            }
        }
        let p = *s.p_value.get_ref();
        if !(p > 0.0 && p < 0.5) {
            return cx.bad(s.p_value.span(), "surge.p_value", "must be in (0, 0.5)");
        }
        if !(0..=4).contains(s.raise.get_ref()) {
            return cx.bad(s.raise.span(), "surge.raise", "must be 0 to 4 levels");
        }
        let Ok(floor) = Level::parse(s.floor.get_ref()) else {
            return cx.bad(
                s.floor.span(),
                "surge.floor",
                "expected a level: 0, IV, III, II or I",
            );
        };
        let cov = *s.min_coverage.get_ref();
        if !(0.0..=1.0).contains(&cov) {
            return cx.bad(
                s.min_coverage.span(),
                "surge.min_coverage",
                "must be from 0 to 1",
            );
        }
        let surge = SurgeRule {
            recent_days: *s.recent_days.get_ref(),
            baseline_days: *s.baseline_days.get_ref(),
            min_count: *s.min_count.get_ref() as u64,
            p_value: p,
            raise: *s.raise.get_ref() as u8,
            floor,
            min_coverage: cov,
        };

        let mut areas = BTreeMap::new();
        for (name, r) in &raw.areas {
            let key = format!("areas.{name}");
            let Some(kind) = AREA_KINDS.iter().find(|k| **k == name) else {
                return cx.bad(
                    r.span(),
                    &key,
                    format!(
                        "unknown area kind {name:?}: expected one of {}",
                        AREA_KINDS.join(", ")
                    ),
                );
            };
            let sc = *r.get_ref().threshold_scale.get_ref();
            if !(sc.is_finite() && sc > 0.0) {
                return cx.bad(
                    r.get_ref().threshold_scale.span(),
                    &format!("{key}.threshold_scale"),
                    "must be a positive number",
                );
            }
            let resolution = match (&r.get_ref().resolution, *kind) {
                (Some(res), "h3") => {
                    let v = *res.get_ref();
                    if !(0..=15).contains(&v) {
                        return cx.bad(
                            res.span(),
                            &format!("{key}.resolution"),
                            format!("an H3 resolution is 0 to 15, got {v}"),
                        );
                    }
                    Some(v as u8)
                }
                (None, "h3") if r.get_ref().enabled => {
                    return cx.bad(
                        r.span(),
                        &format!("{key}.resolution"),
                        "graded H3 cells need a resolution (0 to 15, e.g. 5 for cells of about 250 km²)",
                    );
                }
                (Some(res), _) => {
                    return cx.bad(
                        res.span(),
                        &format!("{key}.resolution"),
                        "only areas.h3 takes a resolution",
                    );
                }
                (None, _) => None,
            };
            areas.insert(
                *kind,
                AreaRule {
                    enabled: r.get_ref().enabled,
                    threshold_scale: sc,
                    resolution,
                },
            );
        }
        if !areas.get("country").is_some_and(|a| a.enabled) {
            return cx.bad(
                0..0,
                "areas.country",
                "is missing or disabled: countries are always graded",
            );
        }

        let mut external = Vec::new();
        for (name, e) in &raw.external {
            external.push(ExternalIndex {
                name: name.clone(),
                file: e.get_ref().file.clone(),
                description: e.get_ref().description.clone(),
            });
        }

        let mut categories = BTreeMap::new();
        for (name, c) in raw.categories.get_ref() {
            let key = format!("categories.{name}");
            let cat = match Category::parse(name) {
                Ok(c) => c,
                Err(e) => return cx.bad(c.span(), &key, e.to_string()),
            };
            let c = c.get_ref();
            let aggregation = match c.aggregation.get_ref().as_str() {
                "sum" => Aggregation::Sum,
                "max" => Aggregation::Max,
                "mean" => Aggregation::Mean,
                other => {
                    return cx.bad(
                        c.aggregation.span(),
                        &format!("{key}.aggregation"),
                        format!("unknown aggregation {other:?}: expected sum, max or mean"),
                    );
                }
            };
            let t = c.thresholds.get_ref();
            let v = [t.IV, t.III, t.II, t.I];
            let tkey = format!("{key}.thresholds");
            if v.iter().any(|x| !x.is_finite() || *x <= 0.0) {
                return cx.bad(
                    c.thresholds.span(),
                    &tkey,
                    "thresholds must be positive numbers",
                );
            }
            if !v.windows(2).all(|w| w[0] < w[1]) {
                return cx.bad(
                    c.thresholds.span(),
                    &tkey,
                    format!(
                        "thresholds overlap or are not monotonic: they must increase strictly IV < III < II < I, got IV={} III={} II={} I={}",
                        v[0], v[1], v[2], v[3]
                    ),
                );
            }
            if c.indicators.get_ref().is_empty() {
                return cx.bad(
                    c.indicators.span(),
                    &format!("{key}.indicators"),
                    "needs at least one indicator",
                );
            }
            let mut indicators = Vec::new();
            for (i, ind) in c.indicators.get_ref().iter().enumerate() {
                let ikey = format!("{key}.indicators[{i}]");
                let ind = ind.get_ref();
                let Some(kind) = IndicatorKind::parse(ind.kind.get_ref()) else {
                    let names: Vec<&str> = IndicatorKind::ALL.iter().map(|(c, _)| *c).collect();
                    return cx.bad(
                        ind.kind.span(),
                        &format!("{ikey}.kind"),
                        format!(
                            "unknown indicator {:?}: expected one of {}",
                            ind.kind.get_ref(),
                            names.join(", ")
                        ),
                    );
                };
                if *ind.window_days.get_ref() <= 0 {
                    return cx.bad(
                        ind.window_days.span(),
                        &format!("{ikey}.window_days"),
                        format!(
                            "a window must be at least 1 day, got {}",
                            ind.window_days.get_ref()
                        ),
                    );
                }
                let w = *ind.weight.get_ref();
                if !w.is_finite() || w < 0.0 {
                    return cx.bad(
                        ind.weight.span(),
                        &format!("{ikey}.weight"),
                        format!("weights must be 0 or more, got {w}"),
                    );
                }
                let normalise = match &ind.normalise {
                    None => Normalise::None,
                    Some(n) => match Normalise::ALL.iter().find(|(c, _)| c == n.get_ref()) {
                        Some((_, k)) => *k,
                        None => {
                            return cx.bad(
                                n.span(),
                                &format!("{ikey}.normalise"),
                                format!(
                                    "unknown normalisation {:?}: expected none, log1p, sqrt or negative",
                                    n.get_ref()
                                ),
                            );
                        }
                    },
                };
                let cap = match &ind.cap {
                    Some(c) if !(c.get_ref().is_finite() && *c.get_ref() > 0.0) => {
                        return cx.bad(
                            c.span(),
                            &format!("{ikey}.cap"),
                            "must be a positive number",
                        );
                    }
                    c => c.as_ref().map(|c| *c.get_ref()),
                };
                let index = match (kind, &ind.index) {
                    (IndicatorKind::External, None) => {
                        return cx.bad(
                            ind.kind.span(),
                            &format!("{ikey}.index"),
                            "an external indicator names its index: index = \"NAME\" declared under [external.NAME]",
                        );
                    }
                    (IndicatorKind::External, Some(ix)) => {
                        if !external.iter().any(|e| e.name == *ix.get_ref()) {
                            return cx.bad(
                                ix.span(),
                                &format!("{ikey}.index"),
                                format!(
                                    "external index {:?} is not declared under [external]",
                                    ix.get_ref()
                                ),
                            );
                        }
                        Some(ix.get_ref().clone())
                    }
                    (_, Some(ix)) => {
                        return cx.bad(
                            ix.span(),
                            &format!("{ikey}.index"),
                            "only an external indicator takes an index",
                        );
                    }
                    (_, None) => None,
                };
                let baseline_days = match (kind, &ind.baseline_days) {
                    (IndicatorKind::Relative, None) => {
                        return cx.bad(
                            ind.kind.span(),
                            &format!("{ikey}.baseline_days"),
                            "a relative indicator needs baseline_days: the days of the area's own history that set its normal",
                        );
                    }
                    (IndicatorKind::Relative, Some(b)) => {
                        if *b.get_ref() < *ind.window_days.get_ref() {
                            return cx.bad(
                                b.span(),
                                &format!("{ikey}.baseline_days"),
                                format!(
                                    "the baseline must be at least one window ({} days), got {}",
                                    ind.window_days.get_ref(),
                                    b.get_ref()
                                ),
                            );
                        }
                        Some(*b.get_ref())
                    }
                    (_, Some(b)) => {
                        return cx.bad(
                            b.span(),
                            &format!("{ikey}.baseline_days"),
                            "only a relative indicator takes baseline_days",
                        );
                    }
                    (_, None) => None,
                };
                indicators.push(Indicator {
                    kind,
                    window_days: *ind.window_days.get_ref(),
                    weight: w,
                    normalise,
                    cap,
                    index,
                    baseline_days,
                });
            }
            categories.insert(
                cat,
                CategoryRules {
                    aggregation,
                    thresholds: v,
                    indicators,
                },
            );
        }
        let mut radius_km = BTreeMap::new();
        let mut radius_subtype = BTreeMap::new();
        for (name, r) in raw.radius_km.get_ref() {
            let key = format!("radius_km.{name}");
            // A key is a category, or a subtype overriding its category's radii.
            let (cat, sub) = match (Category::parse(name), Subtype::parse(name)) {
                (Ok(c), _) => (c, None),
                (Err(_), Ok(st)) => (st.category(), Some(st)),
                (Err(e), Err(_)) => {
                    return cx.bad(
                        r.span(),
                        &key,
                        format!("{e}, nor a subtype code such as tsunami or cyber_attack"),
                    );
                }
            };
            let Ok(v) = <[f64; 5]>::try_from(r.get_ref().as_slice()) else {
                return cx.bad(
                    r.span(),
                    &key,
                    format!("needs 5 radii (severity 1..5), got {}", r.get_ref().len()),
                );
            };
            let mut radii = [Radius::DEFAULT; 5];
            for (slot, x) in radii.iter_mut().zip(v) {
                *slot = match Radius::km(x) {
                    Ok(r) => r,
                    Err(e) => return cx.bad(r.span(), &key, e.to_string()),
                };
            }
            match sub {
                Some(st) => radius_subtype.insert(st, radii),
                None => radius_km.insert(cat, radii),
            };
        }
        for c in Category::ALL {
            if !categories.contains_key(&c) {
                return cx.bad(
                    raw.categories.span(),
                    &format!("categories.{c}"),
                    "is missing: every category needs its indicators and thresholds",
                );
            }
            if !radius_km.contains_key(&c) {
                return cx.bad(
                    raw.radius_km.span(),
                    &format!("radius_km.{c}"),
                    "is missing: every category needs radii",
                );
            }
        }
        Ok(Self {
            version: raw.version.into_inner(),
            window_days: *a.window_days.get_ref(),
            min_severity,
            severity_weight,
            rising_ratio: *a.rising_ratio.get_ref(),
            falling_ratio: fr,
            surge,
            categories,
            areas,
            external,
            radius_km,
            radius_subtype,
        })
    }

    /// The rules of a category (validation guarantees every category).
    pub fn category(&self, c: Category) -> Option<&CategoryRules> {
        self.categories.get(&c)
    }

    /// Thresholds IV, III, II, I for a category and area kind.
    pub fn thresholds_for(&self, c: Category, area: &Area) -> [f64; 4] {
        let base = self
            .categories
            .get(&c)
            .map(|r| r.thresholds)
            .unwrap_or([f64::INFINITY; 4]);
        let s = self
            .area_rule(area.kind())
            .map(|a| a.threshold_scale)
            .unwrap_or(1.0);
        base.map(|t| t * s)
    }

    /// Thresholds IV, III, II, I for a category, for a country.
    pub fn thresholds(&self, c: Category) -> [f64; 4] {
        self.categories
            .get(&c)
            .map(|r| r.thresholds)
            .unwrap_or([f64::INFINITY; 4])
    }

    pub fn area_rule(&self, kind: &str) -> Option<AreaRule> {
        self.areas.get(kind).copied()
    }

    /// True when areas of this kind are graded.
    pub fn grades(&self, kind: &str) -> bool {
        self.areas.get(kind).is_some_and(|a| a.enabled)
    }

    /// The H3 resolution events are binned at, when H3 cells are graded.
    pub fn h3_resolution(&self) -> Option<u8> {
        self.areas
            .get("h3")
            .filter(|a| a.enabled)
            .and_then(|a| a.resolution)
    }

    /// What the daily aggregates depend on, in words: the minimum severity,
    /// the severity weights, the area kinds graded (with the H3 resolution)
    /// and, when sites are graded, the exposure radii. Two guidelines with
    /// the same text here build the same aggregates from the same events,
    /// whatever their thresholds, windows or indicators.
    pub fn aggregation_spec(&self) -> String {
        let mut s = format!(
            "min_severity={} severity_weight={:?} areas=",
            self.min_severity.get(),
            self.severity_weight
        );
        for k in AREA_KINDS.iter().filter(|k| self.grades(k)) {
            s.push_str(k);
            if *k == "h3" {
                s.push_str(&format!("@{}", self.h3_resolution().unwrap_or(0)));
            }
            s.push(',');
        }
        if self.grades("site") {
            s.push_str(&format!(
                " radius_km={:?} {:?}",
                self.radius_km
                    .iter()
                    .map(|(c, r)| (c.code(), r.map(|x| x.get_km())))
                    .collect::<Vec<_>>(),
                self.radius_subtype
                    .iter()
                    .map(|(c, r)| (c.code(), r.map(|x| x.get_km())))
                    .collect::<Vec<_>>()
            ));
        }
        s
    }

    /// The level a score reaches against thresholds, and the threshold crossed.
    pub fn level_in(t: [f64; 4], score: f64) -> (Level, Option<f64>) {
        let levels = [Level::IV, Level::III, Level::II, Level::I];
        let mut out = (Level::Normal, None);
        for (l, th) in levels.iter().zip(t) {
            if score >= th {
                out = (*l, Some(th));
            }
        }
        out
    }

    /// The level a country score reaches, and the threshold it crossed.
    pub fn level_for(&self, c: Category, score: f64) -> (Level, Option<f64>) {
        Self::level_in(self.thresholds(c), score)
    }

    pub fn weight(&self, s: Severity) -> f64 {
        self.severity_weight[(s.get() - 1) as usize]
    }

    /// Exposure radius for an event of this subtype and severity: the
    /// subtype's own radii when the guideline gives them, else its category's.
    pub fn radius_for(&self, st: Subtype, s: Severity) -> Radius {
        match self.radius_subtype.get(&st) {
            Some(r) => r[(s.get() - 1) as usize],
            None => self.radius(st.category(), s),
        }
    }

    /// Exposure radius for an event of this category and severity.
    pub fn radius(&self, c: Category, s: Severity) -> Radius {
        self.radius_km
            .get(&c)
            .map(|r| r[(s.get() - 1) as usize])
            .unwrap_or(Radius::DEFAULT)
    }

    /// Days of history grading needs before the assessment time: the longest
    /// indicator window plus the trend's previous window, and the surge
    /// baseline. Load at least this much.
    pub fn lookback_days(&self) -> i64 {
        let longest = self
            .categories
            .values()
            .flat_map(|c| {
                c.indicators
                    .iter()
                    .map(|i| i.window_days + i.baseline_days.unwrap_or(0))
            })
            .max()
            .unwrap_or(1)
            .max(self.window_days);
        (longest + self.window_days).max(self.surge.recent_days + self.surge.baseline_days)
    }
}

impl fmt::Display for Guideline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "guideline {} ({} categories, window {} days, surge: Poisson p < {} over {} recent days vs {} days, min {} reports, +{} level(s), floor {})",
            self.version,
            self.categories.len(),
            self.window_days,
            self.surge.p_value,
            self.surge.recent_days,
            self.surge.baseline_days,
            self.surge.min_count,
            self.surge.raise,
            level_name(self.surge.floor)
        )
    }
}

/// The mechanics tests' guideline: the shipped file with linear security
/// and political scores (severity-weighted sum + log fatalities) and round
/// thresholds, so a test can compute a level by hand.
#[cfg(test)]
pub(crate) fn linear_for_tests() -> Guideline {
    let mut text = DEFAULT_TOML.to_string();
    for cat in ["security", "political"] {
        let head = format!("[categories.{cat}]");
        let start = text.find(&head).unwrap();
        let end = start + text[start..].find("\n]\n").unwrap() + 3;
        text.replace_range(
            start..end,
            &format!(
                "{head}\naggregation = \"sum\"\nthresholds = {{ IV = 1.0, III = 4.0, II = 12.0, I = 30.0 }}\nindicators = [\n  {{ kind = \"severity_weighted\", window_days = 7, weight = 1.0 }},\n  {{ kind = \"fatalities\", window_days = 7, weight = 1.0, normalise = \"log1p\" }},\n  {{ kind = \"goldstein_mean\", window_days = 7, weight = 0.05, normalise = \"negative\" }},\n]\n"
            ),
        );
    }
    let text = text
        .replacen(
            "[areas.admin1]\nenabled = true\nthreshold_scale = 0.7\n",
            "[areas.admin1]\nenabled = true\nthreshold_scale = 0.5\n",
            1,
        )
        .replace("threshold_scale = 0.35", "threshold_scale = 0.25");
    Guideline::parse("linear.toml", &text).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtype_radii_override_their_category() {
        let g = Guideline::default_shipped().unwrap();
        let sev = Severity::EXTREME;
        assert_eq!(g.radius_for(Subtype::Tsunami, sev).get_km(), 1000.0);
        assert_eq!(g.radius_for(Subtype::Earthquake, sev).get_km(), 300.0);
        assert_eq!(g.radius_for(Subtype::CyberAttack, sev).get_km(), 10.0);
        assert_eq!(
            g.radius_for(Subtype::Bombing, sev),
            g.radius(Category::Security, sev)
        );
        let text = DEFAULT_TOML.replacen("tsunami = [", "tsunamis = [", 1);
        let err = Guideline::parse("g.toml", &text).unwrap_err().to_string();
        assert!(
            err.contains("radius_km.tsunamis") && err.contains("subtype"),
            "{err}"
        );
    }

    #[test]
    fn shipped_guideline_parses() {
        let g = Guideline::default_shipped().unwrap();
        assert_eq!(g.level_for(Category::Security, 0.5).0, Level::Normal);
        assert_eq!(
            g.level_for(Category::Security, 4.5),
            (Level::III, Some(4.1))
        );
        assert_eq!(g.level_for(Category::Security, 1e9).0, Level::I);
        assert_eq!(
            g.radius(Category::Natural, Severity::EXTREME).get_km(),
            300.0
        );
        assert!(g.grades("country") && g.grades("admin1"));
        let ke = Area::parse("KE/KE05").unwrap();
        assert!(g.thresholds_for(Category::Security, &ke)[0] < g.thresholds(Category::Security)[0]);
        assert!(g.lookback_days() >= g.surge.baseline_days);
    }

    /// Applies one text edit to the shipped file and checks the error names
    /// the expected line, key and rule.
    fn check_rejected(edit: (&str, &str), want_key: &str, want_rule: &str) {
        assert!(
            DEFAULT_TOML.contains(edit.0),
            "fixture edit {:?} does not apply",
            edit.0
        );
        let at = DEFAULT_TOML.find(edit.0).unwrap();
        let want_line = DEFAULT_TOML[..at].matches('\n').count() + 1;
        let text = DEFAULT_TOML.replacen(edit.0, edit.1, 1);
        let err = Guideline::parse("g.toml", &text).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(want_key) && msg.contains(want_rule), "{msg}");
        assert_eq!(err.line(), want_line, "{msg}");
        assert!(msg.starts_with(&format!("g.toml:{want_line}:")), "{msg}");
    }

    #[test]
    fn bad_guidelines_name_line_key_and_rule() {
        check_rejected(
            (
                "window_days = 7\nmin_severity",
                "window_days = 0\nmin_severity",
            ),
            "assess.window_days",
            "at least 1",
        );
        check_rejected(
            (
                "{ kind = \"severity_weighted\", window_days = 7",
                "{ kind = \"severity_weighted\", window_days = 0",
            ),
            "categories.security.indicators[0].window_days",
            "at least 1 day",
        );
        check_rejected(
            ("{ kind = \"fatalities\"", "{ kind = \"casualties\""),
            "kind",
            "unknown indicator \"casualties\"",
        );
        check_rejected(
            (
                "thresholds = { IV = 1.0, III = 4.0, II = 12.0, I = 30.0 }",
                "thresholds = { IV = 1.0, III = 14.0, II = 12.0, I = 30.0 }",
            ),
            "thresholds",
            "not monotonic",
        );
        check_rejected(
            (
                "window_days = 7, weight = 1.0",
                "window_days = 7, weight = -1",
            ),
            "weight",
            "0 or more, got -1",
        );
        check_rejected(
            ("min_severity = 2", "surge = 1\nmin_severity = 2"),
            "unknown field",
            "surge",
        );
    }

    #[test]
    fn h3_resolution_is_checked() {
        let g = Guideline::default_shipped().unwrap();
        assert_eq!(g.h3_resolution(), Some(5));
        check_rejected(
            ("resolution = 5", "resolution = 16"),
            "areas.h3.resolution",
            "0 to 15, got 16",
        );
        let text = DEFAULT_TOML.replacen(
            "[areas.admin1]\nenabled = true\nthreshold_scale = 0.7",
            "[areas.admin1]\nenabled = true\nthreshold_scale = 0.7\nresolution = 4",
            1,
        );
        let err = Guideline::parse("g.toml", &text).unwrap_err().to_string();
        assert!(err.contains("only areas.h3 takes a resolution"), "{err}");
        // The aggregation spec changes with what the aggregates depend on,
        // and not with thresholds.
        let t = DEFAULT_TOML.replacen("IV = 2.3, III = 4.1", "IV = 2.4, III = 4.1", 1);
        let same = Guideline::parse("g.toml", &t).unwrap();
        assert_eq!(same.aggregation_spec(), g.aggregation_spec());
        let t = DEFAULT_TOML.replacen("resolution = 5", "resolution = 6", 1);
        let other = Guideline::parse("g.toml", &t).unwrap();
        assert_ne!(other.aggregation_spec(), g.aggregation_spec());
    }

    #[test]
    fn missing_category_is_rejected() {
        let start = DEFAULT_TOML.find("[categories.health]").unwrap();
        let end = DEFAULT_TOML[start..].find("\n\n").unwrap() + start;
        let text = format!("{}{}", &DEFAULT_TOML[..start], &DEFAULT_TOML[end..]);
        let err = Guideline::parse("g.toml", &text).unwrap_err().to_string();
        assert!(
            err.contains("categories.health") && err.contains("missing"),
            "{err}"
        );
    }

    #[test]
    fn a_bad_reload_keeps_the_running_guideline() {
        let mut g = Guideline::default_shipped().unwrap();
        let before = g.clone();
        let bad = DEFAULT_TOML.replacen("window_days = 7", "window_days = 0", 1);
        assert!(g.reload("bad.toml", &bad).is_err());
        assert_eq!(g, before);
        let good = DEFAULT_TOML.replacen("version = \"", "version = \"edited-", 1);
        g.reload("good.toml", &good).unwrap();
        assert!(g.version.starts_with("edited-"));
    }
}
