//! Backtesting a guideline: replay stored history day by day, count the
//! level changes and alerts it would have raised, and check known crises —
//! did the country reach level II or above, and how many days before?

use crate::{Aggregator, ExternalValues, Guideline, day_of, start_of};
use chrono::{Duration, NaiveDate};
use farguard_model::{Area, Category, CountryCode, Level};
use std::collections::{BTreeMap, HashMap};

/// A documented crisis to check the guideline against.
#[derive(Debug, Clone, PartialEq)]
pub struct Crisis {
    pub country: CountryCode,
    /// The day the crisis broke (evacuations began, the coup happened, …).
    pub date: NaiveDate,
    pub category: Category,
    pub name: String,
    pub source: String,
    /// For a quiet control period: its last day (the period runs from
    /// `date`). A control checks for false alarms, not for a catch.
    pub until: Option<NaiveDate>,
}

/// What the replay found for one crisis.
#[derive(Debug, Clone, PartialEq)]
pub struct CrisisResult {
    pub crisis: Crisis,
    /// `caught` (level ≥ II on or before the date), `late` (only after it),
    /// `missed` (events, but never level II), `no data` (no events for the
    /// country and category in the replay), `outside range`.
    pub status: &'static str,
    /// First day at level II or above within the look window.
    pub first_alert: Option<NaiveDate>,
    /// Days between that and the crisis date (positive = early).
    pub days_early: Option<i64>,
    /// Highest level seen in the look window.
    pub max_level: Level,
    /// Days in the look window with events for the country × category.
    pub days_with_data: u32,
    /// For a control: days in the period, and days at the alert level or above.
    pub control_days: u32,
    pub alert_days: u32,
}

/// Per area kind, what the replay counted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    pub level_changes: u64,
    pub raises: u64,
    pub alerts: u64,
    /// Raises to the alert level within the cool-down of the area's previous
    /// alert: the same situation coming back, not a new alert.
    pub repeats: u64,
}

/// The backtest summary.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub days: u32,
    pub alert_level: Level,
    /// By area kind (`country`, `admin1`, …).
    pub counts: BTreeMap<&'static str, Counts>,
    /// Alerts per day (all area kinds), for days with any.
    pub alerts_by_day: Vec<(NaiveDate, u64)>,
    /// Country-level alerts in order: (day, area, category, from, to).
    pub alerts: Vec<(NaiveDate, Area, Category, Level, Level)>,
    pub crises: Vec<CrisisResult>,
}

/// Options of a replay.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// A raise to this level or above is an alert.
    pub alert_level: Level,
    /// Days before a crisis date in which reaching the alert level counts.
    pub lead_days: i64,
    /// Days after the date still searched (a late catch).
    pub grace_days: i64,
    /// A raise to the alert level less than this many days after the same
    /// area × category's previous alert is a repeat, not a new alert.
    pub cooldown_days: i64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            alert_level: Level::II,
            lead_days: 60,
            grace_days: 14,
            cooldown_days: 7,
        }
    }
}

/// Replays `agg` (built from stored history) day by day from `from` to `to`
/// inclusive, grading as of the end of each day.
pub fn run(
    g: &Guideline,
    agg: &Aggregator,
    ext: &ExternalValues,
    from: NaiveDate,
    to: NaiveDate,
    crises: &[Crisis],
    opt: Options,
) -> Report {
    let d0 = day_of(from.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    let d1 = day_of(to.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    // Crisis windows extend the replay so every checked day is graded.
    let mut lo = d0;
    let mut hi = d1;
    for c in crises {
        let cd = day_of(c.date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
        if cd >= d0 && cd <= d1 && c.until.is_none() {
            lo = lo.min(cd - opt.lead_days as i32);
            hi = hi.max(cd + opt.grace_days as i32);
        }
    }
    let mut prev: HashMap<(Area, Category), Level> = HashMap::new();
    let mut counts: BTreeMap<&'static str, Counts> = BTreeMap::new();
    let mut alerts_by_day = Vec::new();
    let mut alerts = Vec::new();
    let mut last_alert: HashMap<(Area, Category), i32> = HashMap::new();
    // (country, category) → per day level, for the crises check.
    let mut country_levels: HashMap<(CountryCode, Category), BTreeMap<i32, Level>> = HashMap::new();
    for d in lo..=hi {
        let at = start_of(d + 1);
        let counting = d >= d0 && d <= d1;
        let now: HashMap<(Area, Category), Level> = agg
            .levels(g, at, ext)
            .into_iter()
            .map(|(a, c, l, _)| ((a, c), l))
            .collect();
        for ((a, c), l) in &now {
            if let Area::Country(cc) = a {
                country_levels.entry((*cc, *c)).or_default().insert(d, *l);
            }
        }
        let mut day_alerts = 0;
        // Sorted, so the replay reports alerts in the same order every run.
        let mut keys: Vec<(Area, Category)> = now.keys().chain(prev.keys()).cloned().collect();
        keys.sort();
        keys.dedup();
        for k in keys {
            let old = prev.get(&k).copied().unwrap_or(Level::Normal);
            let new = now.get(&k).copied().unwrap_or(Level::Normal);
            if old == new || !counting {
                continue;
            }
            let c = counts.entry(k.0.kind()).or_default();
            c.level_changes += 1;
            if new > old {
                c.raises += 1;
                if new >= opt.alert_level {
                    let repeat = last_alert
                        .get(&k)
                        .is_some_and(|l| i64::from(d - l) < opt.cooldown_days);
                    last_alert.insert(k.clone(), d);
                    if repeat {
                        c.repeats += 1;
                        continue;
                    }
                    c.alerts += 1;
                    day_alerts += 1;
                    if matches!(k.0, Area::Country(_)) {
                        alerts.push((start_of(d).date_naive(), k.0.clone(), k.1, old, new));
                    }
                }
            }
        }
        if day_alerts > 0 {
            alerts_by_day.push((start_of(d).date_naive(), day_alerts));
        }
        prev = now;
    }
    let crises = crises
        .iter()
        .map(|c| check_crisis(c, &country_levels, d0, d1, opt))
        .collect();
    Report {
        from,
        to,
        days: (d1 - d0 + 1).max(0) as u32,
        alert_level: opt.alert_level,
        counts,
        alerts_by_day,
        alerts,
        crises,
    }
}

fn check_crisis(
    c: &Crisis,
    levels: &HashMap<(CountryCode, Category), BTreeMap<i32, Level>>,
    d0: i32,
    d1: i32,
    opt: Options,
) -> CrisisResult {
    let cd = day_of(c.date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    let mut r = CrisisResult {
        crisis: c.clone(),
        status: "outside range",
        first_alert: None,
        days_early: None,
        max_level: Level::Normal,
        days_with_data: 0,
        control_days: 0,
        alert_days: 0,
    };
    if cd < d0 || cd > d1 {
        return r;
    }
    if let Some(until) = c.until {
        // A quiet control: every day of the period at the alert level or
        // above is a false alarm.
        let ud = day_of(until.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()).min(d1);
        r.control_days = (ud - cd + 1).max(0) as u32;
        if let Some(series) = levels.get(&(c.country, c.category)) {
            for (d, l) in series.range(cd..=ud) {
                r.days_with_data += 1;
                r.max_level = r.max_level.max(*l);
                if *l >= opt.alert_level {
                    r.alert_days += 1;
                    r.first_alert.get_or_insert(start_of(*d).date_naive());
                }
            }
        }
        r.status = if r.alert_days == 0 {
            "quiet"
        } else {
            "false alarm"
        };
        return r;
    }
    let Some(series) = levels.get(&(c.country, c.category)) else {
        r.status = "no data";
        return r;
    };
    let window = series.range(cd - opt.lead_days as i32..=cd + opt.grace_days as i32);
    for (d, l) in window {
        r.days_with_data += 1;
        r.max_level = r.max_level.max(*l);
        if *l >= opt.alert_level && r.first_alert.is_none() {
            r.first_alert = Some(start_of(*d).date_naive());
            r.days_early = Some(i64::from(cd - *d));
        }
    }
    r.status = match (r.days_with_data, r.days_early) {
        (0, _) => "no data",
        (_, Some(e)) if e >= 0 => "caught",
        (_, Some(_)) => "late",
        (_, None) => "missed",
    };
    r
}

/// Days between two dates inclusive (for callers validating ranges).
pub fn span_days(from: NaiveDate, to: NaiveDate) -> i64 {
    (to - from).num_days() + 1
}

/// The date `n` days before `d`.
pub fn days_before(d: NaiveDate, n: i64) -> NaiveDate {
    d - Duration::days(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use farguard_model::{Event, EventId, Severity, Subtype};

    fn ev(i: u32, day: NaiveDate, sev: u8) -> Event {
        let t = Utc.from_utc_datetime(&day.and_hms_opt(10, 0, 0).unwrap());
        Event {
            id: EventId::new("t", i.to_string()),
            occurred_at: t,
            reported_at: t,
            location: None,
            country: Some(CountryCode::parse("SD").unwrap()),
            category: Category::Security,
            subtype: Subtype::ArmedConflict,
            severity: Severity::new(sev).unwrap(),
            confidence: 1.0,
            title: format!("e{i}"),
            actors: vec![],
            links: vec![format!("l{i}")],
            fatalities: Some(1),
            goldstein: None,
            tone: None,
            mentions: None,
            reason: String::new(),
            raw: String::new(),
        }
    }

    #[test]
    fn a_build_up_is_caught_days_early_and_counted() {
        let g = crate::guideline::linear_for_tests();
        let start = NaiveDate::from_ymd_opt(2023, 3, 1).unwrap();
        // Quiet March (one minor event a week), then a daily escalation in
        // April: three severe events a day from 2023-04-10.
        let mut events = Vec::new();
        let mut n = 0;
        for d in (0..40).step_by(7) {
            n += 1;
            events.push(ev(n, start + Duration::days(d), 2));
        }
        for d in 40..50 {
            for _ in 0..3 {
                n += 1;
                events.push(ev(n, start + Duration::days(d), 4));
            }
        }
        let agg = Aggregator::from_events(&g, &events);
        let crisis = Crisis {
            country: CountryCode::parse("SD").unwrap(),
            date: NaiveDate::from_ymd_opt(2023, 4, 15).unwrap(),
            category: Category::Security,
            name: "test".into(),
            source: "test".into(),
            until: None,
        };
        let quiet = Crisis {
            country: CountryCode::parse("NE").unwrap(),
            ..crisis.clone()
        };
        let r = run(
            &g,
            &agg,
            &ExternalValues::new(),
            start,
            NaiveDate::from_ymd_opt(2023, 4, 30).unwrap(),
            &[crisis, quiet],
            Options::default(),
        );
        let c = &r.crises[0];
        assert_eq!(c.status, "caught", "{c:?}");
        assert!(c.days_early.unwrap() >= 3, "{c:?}");
        assert_eq!(c.max_level, Level::I);
        assert_eq!(r.crises[1].status, "no data");
        let cc = &r.counts["country"];
        assert!(
            cc.alerts >= 1 && cc.level_changes >= cc.raises && cc.raises >= cc.alerts,
            "{cc:?}"
        );
        assert!(r.alerts[0].3 < r.alerts[0].4);
        // Without a cool-down every raise to II counts; with one, a level
        // that comes back within the cool-down is a repeat.
        let none = run(
            &g,
            &agg,
            &ExternalValues::new(),
            start,
            NaiveDate::from_ymd_opt(2023, 4, 30).unwrap(),
            &[],
            Options {
                cooldown_days: 0,
                ..Options::default()
            },
        );
        let (a0, c7) = (&none.counts["country"], &r.counts["country"]);
        assert_eq!(a0.repeats, 0);
        assert_eq!(a0.alerts, c7.alerts + c7.repeats, "{a0:?} {c7:?}");
    }
}
