//! Grading: the declarative guideline and the levels it gives every area ×
//! category, each with the explanation that produced it.
//!
//! Design note. The guideline is data (`config/guideline.toml`), validated
//! once into [`Guideline`] with errors that name the line, the key and the
//! rule. Grading never reads raw events twice: an [`Aggregator`] folds each
//! event, as it arrives, into daily aggregates per area × category (counts,
//! severity-weighted points with one vote per report, fatalities, Goldstein
//! and tone sums, the day's top contributions), and [`Aggregator::grade`]
//! computes every indicator, score, level, trend and surge test from those
//! aggregates alone — so a full re-grade costs days × series, not events,
//! and `--at` can replay any moment of the stored history. [`assess`] is the
//! same as a pure function of a slice of events. No I/O here: the caller
//! loads events (and external index CSVs) and saves what comes back.
//!
//! Code map: `guideline` (the file and its validation), `assess` (the
//! aggregator, indicators, levels, explanations), `surge` (the Poisson tail
//! test), `backtest` (day-by-day replay and the known-crises check).

mod assess;
pub mod backtest;
mod guideline;
pub mod surge;

pub use assess::{
    Aggregator, Contribution, Day, DayStats, Explanation, ExternalValues, IndicatorValue, assess,
    assess_with, day_of, fnv1a, h3_cell, max_level, naive_country_scores, parse_h3, report_key,
    start_of,
};
pub use guideline::{
    AREA_KINDS, Aggregation, AreaRule, CategoryRules, ExternalIndex, Guideline, GuidelineError,
    Indicator, IndicatorKind, Normalise, SurgeRule,
};
