//! Surge detection ("behaviour-pattern recognition"): is the recent count of
//! reports for an area × category improbably high for that area's own
//! history?
//!
//! Method. Let `b` be the distinct reports in the `baseline_days` before the
//! recent days and `k` those in the `recent_days` up to the assessment. The
//! area's daily rate is `λ = max(b, 1) / baseline_days` — floored at one
//! report per baseline period, so a quiet history does not make every
//! first report a surge. Under "nothing changed", `k ~ Poisson(μ = λ ×
//! recent_days)`. A surge is `k ≥ min_count` and `P(X ≥ k) < p_value`.

use crate::guideline::SurgeRule;
use serde::{Deserialize, Serialize};

/// The surge test for one area × category, with its numbers and verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SurgeTest {
    pub recent: u64,
    pub recent_days: i64,
    pub baseline: u64,
    pub baseline_days: i64,
    /// Expected recent reports under the baseline rate.
    pub expected: f64,
    /// recent ÷ expected
    pub ratio: f64,
    /// Poisson upper tail P(X ≥ recent).
    pub p: f64,
    pub surge: bool,
    pub why: String,
}

/// ln(n!) exactly for small n, by Stirling's series beyond.
fn ln_factorial(n: u64) -> f64 {
    if n < 32 {
        return (2..=n).map(|i| (i as f64).ln()).sum();
    }
    let x = n as f64 + 1.0;
    // ln Γ(x), Stirling with two correction terms (error < 1e-10 here).
    (x - 0.5) * x.ln() - x + 0.5 * (2.0 * std::f64::consts::PI).ln() + 1.0 / (12.0 * x)
        - 1.0 / (360.0 * x * x * x)
}

/// P(X ≥ k) for X ~ Poisson(mu).
pub fn poisson_upper_tail(k: u64, mu: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if mu <= 0.0 {
        return 0.0;
    }
    let ln_pmf = |i: u64| -mu + i as f64 * mu.ln() - ln_factorial(i);
    if (k as f64) <= mu {
        // The tail is large: 1 − P(X < k), summed upward from 0.
        let mut t = (-mu).exp();
        let mut lower = 0.0;
        for i in 0..k {
            lower += t;
            t *= mu / (i + 1) as f64;
        }
        return (1.0 - lower).clamp(0.0, 1.0);
    }
    // The tail is small: sum terms from k upward until they vanish.
    let mut t = ln_pmf(k).exp();
    let mut sum = 0.0;
    let mut i = k;
    while t > sum * 1e-15 && i < k + 10_000 {
        sum += t;
        i += 1;
        t *= mu / i as f64;
    }
    sum.clamp(0.0, 1.0)
}

/// Runs the test on (recent reports, baseline reports), given how many of
/// the baseline days hold any stored event at all.
pub fn surge_test(r: &SurgeRule, (recent, baseline): (u64, u64), covered_days: i64) -> SurgeTest {
    let lambda = baseline.max(1) as f64 / r.baseline_days as f64;
    let expected = lambda * r.recent_days as f64;
    let p = poisson_upper_tail(recent, expected);
    let coverage = covered_days as f64 / r.baseline_days as f64;
    let thin = coverage < r.min_coverage;
    let surge = !thin && recent >= r.min_count && p < r.p_value;
    let verdict = if thin {
        format!(
            "not tested: history too thin (stored events on {covered_days} of the {} baseline days, needs {:.0}%)",
            r.baseline_days,
            r.min_coverage * 100.0
        )
    } else if surge {
        "surge".to_string()
    } else if recent < r.min_count {
        format!("no surge (fewer than {} reports)", r.min_count)
    } else {
        format!("no surge (p ≥ {})", r.p_value)
    };
    let why = format!(
        "{recent} reports in the last {} days vs {baseline} in the {} days before \
         (rate {lambda:.3}/day, expected {expected:.2}); Poisson P(X ≥ {recent}) = {p:.2e} → {verdict}",
        r.recent_days, r.baseline_days
    );
    SurgeTest {
        recent,
        recent_days: r.recent_days,
        baseline,
        baseline_days: r.baseline_days,
        expected: (expected * 1000.0).round() / 1000.0,
        ratio: if expected > 0.0 {
            ((recent as f64 / expected) * 1000.0).round() / 1000.0
        } else {
            0.0
        },
        p,
        surge,
        why,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use farguard_model::Level;

    #[test]
    fn poisson_tail_matches_known_values() {
        // P(X ≥ 1 | 1) = 1 − e^−1
        assert!((poisson_upper_tail(1, 1.0) - (1.0 - (-1.0f64).exp())).abs() < 1e-12);
        // P(X ≥ 10 | 2) = 4.6498e-5 (R: ppois(9, 2, lower.tail = FALSE))
        assert!((poisson_upper_tail(10, 2.0) - 4.6498e-5).abs() < 1e-8);
        // P(X ≥ 3 | 5) = 0.875348
        assert!((poisson_upper_tail(3, 5.0) - 0.875348).abs() < 1e-6);
        assert_eq!(poisson_upper_tail(0, 3.0), 1.0);
        // Large counts stay finite and tiny (underflow reads as 0, a surge).
        let p = poisson_upper_tail(60, 20.0);
        assert!(p > 0.0 && p < 1e-10, "{p}");
        assert!(poisson_upper_tail(5000, 20.0) < 1e-300);
    }

    #[test]
    fn min_count_and_rate_floor_guard_against_noise() {
        let r = SurgeRule {
            recent_days: 3,
            baseline_days: 28,
            min_count: 5,
            p_value: 0.001,
            raise: 1,
            floor: Level::IV,
            min_coverage: 0.5,
        };
        // Four reports from nothing: improbable, but under the minimum count.
        assert!(!surge_test(&r, (4, 0), 28).surge);
        // Twelve against a history of one every other day: a surge.
        let t = surge_test(&r, (12, 14), 28);
        assert!(t.surge && t.p < 1e-3, "{t:?}");
        // Twelve against four a day: ordinary.
        assert!(!surge_test(&r, (12, 112), 28).surge);
        // The same twelve with history on only 3 of 28 days: not tested.
        let t = surge_test(&r, (12, 14), 3);
        assert!(!t.surge && t.why.contains("too thin"), "{t:?}");
    }
}
