//! Grading events into levels per country × category, with explanations.

use crate::Guideline;
use chrono::{DateTime, Duration, Utc};
use farguard_model::{Area, Assessment, Category, CountryCode, Event, Level, Trend};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// One event's part in a score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contribution {
    pub event: String,
    pub title: String,
    pub subtype: String,
    pub severity: u8,
    pub confidence: f32,
    /// severity weight × confidence
    pub points: f64,
    pub occurred_at: DateTime<Utc>,
    pub link: Option<String>,
    pub reason: String,
}

/// Why an area × category has its level: the inputs, the rule and the events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    pub guideline: String,
    pub window_from: DateTime<Utc>,
    pub window_to: DateTime<Utc>,
    /// Events in the window at or above the guideline's minimum severity.
    pub events_counted: u64,
    /// Distinct reports they came from (one report, one vote).
    pub reports_counted: u64,
    /// Events in the window below the minimum severity (no risk signal).
    pub events_below_min: u64,
    pub score: f64,
    pub previous_score: f64,
    /// Thresholds IV, III, II, I.
    pub thresholds: [f64; 4],
    /// The highest threshold the score reached, if any.
    pub crossed: Option<f64>,
    pub level: String,
    pub trend: String,
    /// The largest contributions, largest first.
    pub top: Vec<Contribution>,
    /// The rule in words.
    pub rule: String,
}

impl Explanation {
    pub fn from_json(s: &str) -> Option<Self> {
        serde_json::from_str(s).ok()
    }
}

fn event_country(e: &Event) -> Option<CountryCode> {
    e.country
        .or_else(|| e.location.as_ref().and_then(|l| l.country))
}

#[derive(Default)]
struct Acc<'a> {
    /// report key → the best contribution from that report
    current: HashMap<&'a str, (f64, &'a Event)>,
    previous: HashMap<&'a str, f64>,
    counted: u64,
    below: u64,
}

/// How many contributing events each explanation lists.
const TOP_N: usize = 5;

/// Grades every country × category with events in the two windows before `at`.
/// `events` may hold more than the windows; those outside are ignored.
pub fn assess(g: &Guideline, events: &[Event], at: DateTime<Utc>) -> Vec<Assessment> {
    let w = Duration::days(g.window_days);
    let (from, prev_from) = (at - w, at - w - w);
    let mut acc: BTreeMap<(CountryCode, Category), Acc<'_>> = BTreeMap::new();
    for e in events {
        if e.occurred_at < prev_from || e.occurred_at >= at {
            continue;
        }
        let Some(country) = event_country(e) else {
            continue;
        };
        let a = acc.entry((country, e.category)).or_default();
        let current = e.occurred_at >= from;
        if e.severity < g.min_severity {
            if current {
                a.below += 1;
            }
            continue;
        }
        let points = g.weight(e.severity) * f64::from(e.confidence);
        let report = e
            .links
            .first()
            .map(String::as_str)
            .unwrap_or(&e.id.source_id);
        if current {
            a.counted += 1;
            let slot = a.current.entry(report).or_insert((0.0, e));
            if points > slot.0 {
                *slot = (points, e);
            }
        } else {
            let slot = a.previous.entry(report).or_insert(0.0);
            *slot = slot.max(points);
        }
    }
    let mut out = Vec::with_capacity(acc.len());
    for ((country, category), a) in acc {
        let score: f64 = a.current.values().map(|(p, _)| p).sum();
        let previous: f64 = a.previous.values().sum();
        let (level, crossed) = g.level_for(category, score);
        let trend = if score > previous * g.rising_ratio && score > 0.0 {
            Trend::Rising
        } else if score < previous * g.falling_ratio {
            Trend::Falling
        } else {
            Trend::Steady
        };
        let mut top: Vec<Contribution> = a
            .current
            .values()
            .map(|(p, e)| Contribution {
                event: e.id.to_string(),
                title: e.title.clone(),
                subtype: e.subtype.code().into(),
                severity: e.severity.get(),
                confidence: e.confidence,
                points: *p,
                occurred_at: e.occurred_at,
                link: e.links.first().cloned(),
                reason: e.reason.clone(),
            })
            .collect();
        top.sort_by(|x, y| {
            y.points
                .total_cmp(&x.points)
                .then_with(|| x.event.cmp(&y.event))
        });
        top.truncate(TOP_N);
        let t = g.thresholds(category);
        let rule = match crossed {
            Some(th) => format!(
                "score {score:.2} ≥ {th} → level {} ({}); from {} events in {} distinct reports over {} days",
                level.code(),
                level.colour(),
                a.counted,
                a.current.len(),
                g.window_days
            ),
            None => format!(
                "score {score:.2} < {} (level IV threshold) → normal; from {} events over {} days",
                t[0], a.counted, g.window_days
            ),
        };
        let exp = Explanation {
            guideline: g.version.clone(),
            window_from: from,
            window_to: at,
            events_counted: a.counted,
            reports_counted: a.current.len() as u64,
            events_below_min: a.below,
            score,
            previous_score: previous,
            thresholds: t,
            crossed,
            level: level.code().into(),
            trend: trend.code().into(),
            top,
            rule,
        };
        out.push(Assessment {
            area: Area::Country(country),
            category,
            at,
            score,
            level,
            trend,
            guideline: g.version.clone(),
            explanation: serde_json::to_string(&exp).unwrap_or_default(),
        });
    }
    out.sort_by(|a, b| {
        b.level
            .cmp(&a.level)
            .then(b.score.total_cmp(&a.score))
            .then_with(|| a.area.cmp(&b.area))
    });
    out
}

/// The highest level among assessments (for summaries).
pub fn max_level(a: &[Assessment]) -> Level {
    a.iter().map(|x| x.level).max().unwrap_or(Level::Normal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use farguard_model::{EventId, GeoPrecision, Location, Point, Severity, Subtype};

    fn ev(id: &str, day: u32, sev: u8, sub: Subtype, link: &str) -> Event {
        let t = Utc.with_ymd_and_hms(2019, 10, day, 12, 0, 0).unwrap();
        let ke = CountryCode::parse("KE").unwrap();
        Event {
            id: EventId::new("gdelt", id),
            occurred_at: t,
            reported_at: t,
            location: Some(Location {
                point: Point::new(-1.28, 36.82).unwrap(),
                precision: GeoPrecision::City,
                country: Some(ke),
                admin1: None,
                place: Some("Nairobi".into()),
            }),
            country: None,
            category: sub.category(),
            subtype: sub,
            severity: Severity::new(sev).unwrap(),
            confidence: 1.0,
            title: format!("event {id}"),
            actors: vec![],
            links: vec![link.into()],
            fatalities: None,
            goldstein: None,
            tone: None,
            mentions: None,
            reason: "test".into(),
            raw: String::new(),
        }
    }

    #[test]
    fn levels_follow_thresholds_and_explain_themselves() {
        let g = Guideline::default_shipped().unwrap();
        let at = Utc.with_ymd_and_hms(2019, 10, 25, 0, 0, 0).unwrap();
        // Three severe (weight 2) attacks from distinct reports: 6 points → III (≥ 4).
        let events = vec![
            ev("1", 24, 4, Subtype::ViolentAttack, "a"),
            ev("2", 23, 4, Subtype::ViolentAttack, "b"),
            ev("3", 22, 4, Subtype::ViolentAttack, "c"),
            // Same report as #1: counted once.
            ev("4", 24, 4, Subtype::ViolentAttack, "a"),
            // Engagement (severity 1) is below the minimum.
            ev("5", 24, 1, Subtype::Engagement, "d"),
            // Outside both windows.
            ev("6", 1, 5, Subtype::ArmedConflict, "e"),
        ];
        let a = assess(&g, &events, at);
        let sec = a.iter().find(|x| x.category == Category::Security).unwrap();
        assert_eq!(sec.level, Level::III);
        assert!((sec.score - 6.0).abs() < 1e-9);
        assert_eq!(sec.trend, Trend::Rising);
        let exp = Explanation::from_json(&sec.explanation).unwrap();
        assert_eq!((exp.events_counted, exp.reports_counted), (4, 3));
        assert_eq!(exp.crossed, Some(4.0));
        assert_eq!(exp.top.len(), 3);
        assert!(exp.rule.contains("→ level III"), "{}", exp.rule);
        let pol = a
            .iter()
            .find(|x| x.category == Category::Political)
            .unwrap();
        assert_eq!(pol.level, Level::Normal);
        assert_eq!(
            Explanation::from_json(&pol.explanation)
                .unwrap()
                .events_below_min,
            1
        );
    }

    #[test]
    fn as_of_time_excludes_later_events() {
        let g = Guideline::default_shipped().unwrap();
        let events = vec![ev("1", 24, 5, Subtype::ArmedConflict, "a")];
        let before = Utc.with_ymd_and_hms(2019, 10, 24, 0, 0, 0).unwrap();
        assert!(assess(&g, &events, before).is_empty());
        // A week after the event it has moved to the previous window: falling.
        let later = Utc.with_ymd_and_hms(2019, 11, 2, 0, 0, 0).unwrap();
        let a = assess(&g, &events, later);
        assert_eq!((a[0].level, a[0].trend), (Level::Normal, Trend::Falling));
    }
}
