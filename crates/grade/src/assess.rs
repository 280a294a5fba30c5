//! Grading: an incremental aggregator of events by area × category × day,
//! and the levels, trends, surges and explanations computed from it.

use crate::Guideline;
use crate::guideline::{Aggregation, IndicatorKind};
use crate::surge::{SurgeTest, surge_test};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
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

/// One indicator's part in a score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndicatorValue {
    /// `severity_weighted/7d`
    pub name: String,
    pub window_days: i64,
    pub raw: f64,
    pub normalise: String,
    pub cap: Option<f64>,
    pub normalised: f64,
    pub weight: f64,
    /// weight × normalised value (the term aggregated into the score)
    pub term: f64,
}

/// Why an area × category has its level: the inputs, the rule and the events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    pub guideline: String,
    #[serde(default)]
    pub area_kind: String,
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
    /// Thresholds IV, III, II, I for this area kind.
    pub thresholds: [f64; 4],
    /// The highest threshold the score reached, if any.
    pub crossed: Option<f64>,
    /// Level from the thresholds alone, before any surge.
    #[serde(default)]
    pub base_level: String,
    pub level: String,
    pub trend: String,
    #[serde(default)]
    pub aggregation: String,
    /// Every indicator's value and term.
    #[serde(default)]
    pub indicators: Vec<IndicatorValue>,
    /// The surge test and its result.
    #[serde(default)]
    pub surge: Option<SurgeTest>,
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

/// How many contributing events each explanation lists.
const TOP_N: usize = 5;

/// Days since 1970-01-01 (UTC).
pub type Day = i32;

/// The day an instant falls on.
pub fn day_of(t: DateTime<Utc>) -> Day {
    t.date_naive()
        .signed_duration_since(NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default())
        .num_days() as Day
}

/// Midnight starting a day.
pub fn start_of(d: Day) -> DateTime<Utc> {
    Utc.timestamp_opt(i64::from(d) * 86_400, 0)
        .single()
        .unwrap_or_default()
}

/// The first day a window ending at `at` does not include: grading resolves
/// to whole UTC days, so a time inside a day includes that whole day.
fn end_day(at: DateTime<Utc>) -> Day {
    day_of(at - Duration::microseconds(1)) + 1
}

/// The daily aggregate of one area × category × day: everything grading
/// reads. It is what the store persists, one row per area × category × day.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DayStats {
    /// Events at or above the minimum severity.
    pub events: u32,
    /// Events below the minimum severity (no risk signal).
    pub below: u32,
    /// Distinct reports among the counted events ("one report, one vote").
    pub reports: u32,
    /// Σ over reports of each report's best severity weight × confidence.
    pub points: f64,
    pub fatalities: u64,
    pub gold_sum: f64,
    pub gold_n: u32,
    pub tone_sum: f64,
    pub tone_n: u32,
    /// The day's largest contributions, one per report key, largest first.
    pub top: Vec<(u64, Contribution)>,
}

impl DayStats {
    /// The top contributions as JSON text (how the store keeps them).
    pub fn top_json(&self) -> String {
        serde_json::to_string(&self.top).unwrap_or_else(|_| "[]".into())
    }
    /// Reads [`DayStats::top_json`] back.
    pub fn parse_top(s: &str) -> Result<Vec<(u64, Contribution)>, serde_json::Error> {
        serde_json::from_str(s)
    }
}

/// One area × category × day while events are folded in: the aggregate and
/// the best points of each report key seen (the votes; when the aggregate
/// was loaded from storage, only the votes of the reports being added).
#[derive(Debug, Clone, Default)]
struct DayAgg {
    stats: DayStats,
    votes: HashMap<u64, f32>,
}

/// Per area × category, the daily aggregates in day order.
type Series = BTreeMap<Day, DayAgg>;

/// Sums over a day range.
#[derive(Debug, Default, Clone, Copy)]
struct Sums {
    events: u64,
    below: u64,
    reports: u64,
    points: f64,
    fatalities: u64,
    gold_sum: f64,
    gold_n: u64,
    tone_sum: f64,
    tone_n: u64,
}

fn sums(s: &Series, from: Day, to: Day) -> Sums {
    let mut out = Sums::default();
    if from >= to {
        return out;
    }
    for d in s.range(from..to).map(|(_, d)| &d.stats) {
        out.events += u64::from(d.events);
        out.below += u64::from(d.below);
        out.reports += u64::from(d.reports);
        out.points += d.points;
        out.fatalities += d.fatalities;
        out.gold_sum += d.gold_sum;
        out.gold_n += u64::from(d.gold_n);
        out.tone_sum += d.tone_sum;
        out.tone_n += u64::from(d.tone_n);
    }
    out
}

/// The key that makes several events from one report count once: the
/// 64-bit FNV-1a hash of the report's first link, or of the event id
/// (`source:source_id`) when it has none. A fixed, documented hash, since
/// the store keeps these keys across versions.
pub fn report_key(e: &Event) -> u64 {
    match e.links.first() {
        Some(l) => fnv1a(&[l.as_bytes()]),
        None => fnv1a(&[e.id.source.as_bytes(), b":", e.id.source_id.as_bytes()]),
    }
}

/// 64-bit FNV-1a over the concatenated parts.
pub fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in parts.iter().flat_map(|p| p.iter()) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn event_country(e: &Event) -> Option<CountryCode> {
    e.country
        .or_else(|| e.location.as_ref().and_then(|l| l.country))
}

/// The H3 cell (at `res`) of an event located precisely enough to place in
/// a cell (a city or exact point, not a region's or country's centroid).
pub fn h3_cell(e: &Event, res: u8) -> Option<u64> {
    let p = e.local_point()?;
    let res = h3o::Resolution::try_from(res).ok()?;
    let ll = h3o::LatLng::new(p.lat(), p.lon()).ok()?;
    Some(u64::from(ll.to_cell(res)))
}

/// A bare H3 cell index (`85283473fffffff`, any resolution) as the number
/// `Area::H3` holds, if it is a valid cell.
pub fn parse_h3(s: &str) -> Option<u64> {
    s.trim().parse::<h3o::CellIndex>().ok().map(u64::from)
}

/// External index values per area (from the CSV files a guideline declares).
pub type ExternalValues = HashMap<String, HashMap<Area, f64>>;

/// The incremental grading state: daily aggregates per area × category.
/// `add` costs a few hash look-ups per event; `grade` reads only the
/// aggregates, never the events. The aggregates can be exported
/// ([`Aggregator::cells`]) and loaded back ([`Aggregator::seed_day`]), which
/// is how the store persists them and folds newly stored events in.
#[derive(Debug, Clone)]
pub struct Aggregator {
    min_severity: farguard_model::Severity,
    severity_weight: [f64; 5],
    admin1: bool,
    h3: Option<u8>,
    sites: bool,
    series: HashMap<(Area, Category), Series>,
    /// Events added per day (any area): the history's coverage.
    days: BTreeMap<Day, u64>,
    events: u64,
}

impl Aggregator {
    pub fn new(g: &Guideline) -> Self {
        Self {
            min_severity: g.min_severity,
            severity_weight: g.severity_weight,
            admin1: g.grades("admin1"),
            h3: g.h3_resolution(),
            sites: g.grades("site"),
            series: HashMap::new(),
            days: BTreeMap::new(),
            events: 0,
        }
    }

    /// Builds the aggregates from a slice of events.
    pub fn from_events(g: &Guideline, events: &[Event]) -> Self {
        let mut a = Self::new(g);
        for e in events {
            a.add(e);
        }
        a
    }

    /// Events added so far.
    pub fn len(&self) -> u64 {
        self.events
    }
    pub fn is_empty(&self) -> bool {
        self.events == 0
    }
    /// Area × category series held.
    pub fn series_count(&self) -> usize {
        self.series.len()
    }

    /// The areas an event counts in, sites aside: its country, its admin-1
    /// region and its H3 cell, for the kinds the guideline grades. Empty for
    /// an event without a country (not graded).
    pub fn areas_of(&self, e: &Event) -> Vec<Area> {
        let Some(c) = event_country(e) else {
            return Vec::new();
        };
        let mut out = vec![Area::Country(c)];
        if self.admin1
            && let Some(a1) = e.location.as_ref().and_then(|l| l.admin1.as_deref())
            && !a1.is_empty()
        {
            out.push(Area::Admin1(c, a1.to_string()));
        }
        if let Some(cell) = self.h3.and_then(|r| h3_cell(e, r)) {
            out.push(Area::H3(cell));
        }
        out
    }

    /// True when the guideline grades sites (the caller finds the sites an
    /// event touches and passes them to [`Aggregator::add_with_sites`]).
    pub fn grades_sites(&self) -> bool {
        self.sites
    }

    /// Adds one event to its country, admin-1 region and H3 cell.
    /// Events without a country are not graded.
    pub fn add(&mut self, e: &Event) {
        self.add_with_sites(e, &[]);
    }

    /// [`Aggregator::add`], and to each site given (those whose exposure
    /// radius the event falls in) when the guideline grades sites.
    pub fn add_with_sites(&mut self, e: &Event, sites: &[String]) {
        let areas = self.areas_of(e);
        if areas.is_empty() {
            return;
        }
        self.events += 1;
        *self.days.entry(day_of(e.occurred_at)).or_default() += 1;
        for a in areas {
            self.add_to(a, e);
        }
        if self.sites {
            for s in sites {
                self.add_to(Area::Site(s.clone()), e);
            }
        }
    }

    /// [`Aggregator::add_with_sites`] with the areas already found: `areas`
    /// is what [`Aggregator::areas_of`] gave, then the sites (none when it
    /// gave none, or when sites are not graded). A caller that needs an
    /// event's areas anyway computes them once this way.
    pub fn add_in(&mut self, e: &Event, areas: &[Area]) {
        if areas.is_empty() {
            return;
        }
        self.events += 1;
        *self.days.entry(day_of(e.occurred_at)).or_default() += 1;
        let key = report_key(e);
        for a in areas {
            self.add_keyed(a.clone(), e, key);
        }
    }

    /// Adds one event to a given area.
    pub fn add_to(&mut self, area: Area, e: &Event) {
        self.add_keyed(area, e, report_key(e));
    }

    /// [`Aggregator::add_to`] with the event's [`report_key`] found once.
    fn add_keyed(&mut self, area: Area, e: &Event, key: u64) {
        let day = day_of(e.occurred_at);
        let series = self.series.entry((area, e.category)).or_default();
        let DayAgg { stats: d, votes } = series.entry(day).or_default();
        if e.severity < self.min_severity {
            d.below += 1;
            return;
        }
        d.events += 1;
        if let Some(f) = e.fatalities {
            d.fatalities += u64::from(f);
        }
        if let Some(g) = e.goldstein {
            d.gold_sum += f64::from(g);
            d.gold_n += 1;
        }
        if let Some(t) = e.tone {
            d.tone_sum += f64::from(t);
            d.tone_n += 1;
        }
        let points =
            self.severity_weight[(e.severity.get() - 1) as usize] * f64::from(e.confidence);
        let slot = votes.entry(key).or_insert_with(|| {
            d.reports += 1;
            0.0
        });
        let gain = points - f64::from(*slot);
        if gain > 0.0 {
            *slot = points as f32;
            d.points += gain;
        }
        // Keep the day's top contributions, one per report.
        let enters = d.top.len() < TOP_N || d.top.last().is_some_and(|t| points > t.1.points);
        if !enters {
            return;
        }
        if let Some(i) = d.top.iter().position(|t| t.0 == key) {
            if d.top[i].1.points >= points {
                return;
            }
            d.top.remove(i);
        }
        let c = Contribution {
            event: e.id.to_string(),
            title: e.title.clone(),
            subtype: e.subtype.code().into(),
            severity: e.severity.get(),
            confidence: e.confidence,
            points,
            occurred_at: e.occurred_at,
            link: e.links.first().cloned(),
            reason: e.reason.clone(),
        };
        let at = d.top.partition_point(|t| t.1.points >= points);
        d.top.insert(at, (key, c));
        d.top.truncate(TOP_N);
    }

    /// Loads one stored day aggregate (replacing any held for that day).
    pub fn seed_day(&mut self, area: Area, cat: Category, day: Day, stats: DayStats) {
        let d = self
            .series
            .entry((area, cat))
            .or_default()
            .entry(day)
            .or_default();
        d.stats = stats;
    }

    /// Loads the stored best points of one report on one day, so folding
    /// more events of that report counts it once.
    pub fn seed_vote(&mut self, area: Area, cat: Category, day: Day, report: u64, points: f32) {
        self.series
            .entry((area, cat))
            .or_default()
            .entry(day)
            .or_default()
            .votes
            .insert(report, points);
    }

    /// Loads the stored count of events on a day (the history's coverage).
    pub fn seed_coverage(&mut self, day: Day, events: u64) {
        *self.days.entry(day).or_default() += events;
    }

    /// Every day aggregate held: (area, category, day, aggregate).
    pub fn cells(&self) -> impl Iterator<Item = (&Area, Category, Day, &DayStats)> {
        self.series
            .iter()
            .flat_map(|((a, c), s)| s.iter().map(move |(d, x)| (a, *c, *d, &x.stats)))
    }

    /// The votes held for one area × category × day.
    pub fn votes(&self, area: &Area, cat: Category, day: Day) -> Vec<(u64, f32)> {
        let mut v: Vec<(u64, f32)> = self
            .series
            .get(&(area.clone(), cat))
            .and_then(|s| s.get(&day))
            .map(|d| d.votes.iter().map(|(k, p)| (*k, *p)).collect())
            .unwrap_or_default();
        v.sort_by_key(|x| x.0);
        v
    }

    /// Events added per day.
    pub fn coverage(&self) -> impl Iterator<Item = (Day, u64)> + '_ {
        self.days.iter().map(|(d, n)| (*d, *n))
    }

    /// Grades every area × category with data in the guideline's lookback
    /// before `at`.
    pub fn grade(&self, g: &Guideline, at: DateTime<Utc>, ext: &ExternalValues) -> Vec<Assessment> {
        let end = end_day(at);
        let from = end - g.lookback_days() as Day;
        let mut out: Vec<Assessment> = self
            .series
            .iter()
            .filter(|(_, s)| s.range(from..end).next().is_some())
            .filter_map(|((area, cat), s)| grade_series(self, g, area, *cat, s, at, ext))
            .collect();
        sort(&mut out);
        out
    }

    /// Grades one area × category (`None` when it has no data at all).
    pub fn grade_one(
        &self,
        g: &Guideline,
        area: &Area,
        cat: Category,
        at: DateTime<Utc>,
        ext: &ExternalValues,
    ) -> Option<Assessment> {
        let s = self.series.get(&(area.clone(), cat))?;
        grade_series(self, g, area, cat, s, at, ext)
    }

    /// Levels only (no explanation), for every area × category with data in
    /// the lookback: what a backtest compares from day to day.
    pub fn levels(
        &self,
        g: &Guideline,
        at: DateTime<Utc>,
        ext: &ExternalValues,
    ) -> Vec<(Area, Category, Level, f64)> {
        let end = end_day(at);
        let from = end - g.lookback_days() as Day;
        self.series
            .iter()
            .filter(|(_, s)| s.range(from..end).next().is_some())
            .filter_map(|((area, cat), s)| {
                let (score, _, _) = score(g, area, *cat, s, end, ext, &|a, b| self.covered(a, b))?;
                let base = Guideline::level_in(g.thresholds_for(*cat, area), score).0;
                let st = self.surge(g, s, end);
                Some((area.clone(), *cat, raise(g, base, &st), score))
            })
            .collect()
    }

    /// Days in `[from, to)` holding any stored event.
    fn covered(&self, from: Day, to: Day) -> Option<i64> {
        Some(self.days.range(from..to).filter(|(_, n)| **n > 0).count() as i64)
    }

    fn surge(&self, g: &Guideline, s: &Series, end: Day) -> SurgeTest {
        let recent_from = end - g.surge.recent_days as Day;
        let base_from = recent_from - g.surge.baseline_days as Day;
        let covered = self
            .days
            .range(base_from..recent_from)
            .filter(|(_, n)| **n > 0)
            .count() as i64;
        surge_test(&g.surge, s_counts(s, end, &g.surge), covered)
    }

    /// Every area held, with its categories.
    pub fn areas(&self) -> Vec<(Area, Category)> {
        let mut v: Vec<_> = self.series.keys().cloned().collect();
        v.sort();
        v
    }
}

/// (recent reports, baseline reports) for the surge test.
fn s_counts(s: &Series, end: Day, r: &crate::guideline::SurgeRule) -> (u64, u64) {
    let recent_from = end - r.recent_days as Day;
    let base_from = recent_from - r.baseline_days as Day;
    (
        sums(s, recent_from, end).reports,
        sums(s, base_from, recent_from).reports,
    )
}

fn raise(g: &Guideline, base: Level, st: &SurgeTest) -> Level {
    if !st.surge {
        return base;
    }
    let raised =
        Level::from_rank((base.rank() + g.surge.raise).min(Level::I.rank())).unwrap_or(Level::I);
    raised.max(g.surge.floor)
}

/// Score of a series for the window ending before day `end`, with each
/// indicator's value, and the main-window sums.
fn score(
    g: &Guideline,
    area: &Area,
    cat: Category,
    s: &Series,
    end: Day,
    ext: &ExternalValues,
    covered: &dyn Fn(Day, Day) -> Option<i64>,
) -> Option<(f64, Vec<IndicatorValue>, Sums)> {
    let rules = g.category(cat)?;
    let mut values = Vec::with_capacity(rules.indicators.len());
    for ind in &rules.indicators {
        let w = sums(s, end - ind.window_days as Day, end);
        let raw = match ind.kind {
            IndicatorKind::EventCount => w.reports as f64,
            IndicatorKind::SeverityWeighted => w.points,
            IndicatorKind::Relative => {
                let b = ind.baseline_days.unwrap_or(ind.window_days).max(1);
                let from = end - ind.window_days as Day;
                let normal =
                    sums(s, from - b as Day, from).points * ind.window_days as f64 / b as f64;
                // A quiet area's normal is floored at one severe report.
                let floor = g.severity_weight[3].max(f64::MIN_POSITIVE);
                match covered(from - b as Day, from) {
                    // Too little stored history to know the area's
                    // normal: no rise can be measured.
                    Some(c) if (c as f64) < g.surge.min_coverage * b as f64 => 0.0,
                    _ => (w.points / normal.max(floor) - 1.0).max(0.0),
                }
            }
            IndicatorKind::Fatalities => w.fatalities as f64,
            IndicatorKind::GoldsteinMean => mean(w.gold_sum, w.gold_n),
            IndicatorKind::ToneMean => mean(w.tone_sum, w.tone_n),
            IndicatorKind::Surge => {
                surge_test(&g.surge, s_counts(s, end, &g.surge), g.surge.baseline_days).ratio
            }
            IndicatorKind::External => ind
                .index
                .as_ref()
                .and_then(|i| ext.get(i))
                .and_then(|m| {
                    m.get(area).or_else(|| match area {
                        Area::Admin1(c, _) => m.get(&Area::Country(*c)),
                        _ => None,
                    })
                })
                .copied()
                .unwrap_or(0.0),
        };
        let mut n = ind.normalise.apply(raw);
        if let Some(c) = ind.cap {
            n = n.min(c);
        }
        values.push(IndicatorValue {
            name: ind.name(),
            window_days: ind.window_days,
            raw: round4(raw),
            normalise: ind.normalise.code().into(),
            cap: ind.cap,
            normalised: round4(n),
            weight: ind.weight,
            term: ind.weight * n,
        });
    }
    let score = match rules.aggregation {
        Aggregation::Sum => values.iter().map(|v| v.term).sum(),
        Aggregation::Max => values.iter().map(|v| v.term).fold(0.0, f64::max),
        Aggregation::Mean => {
            let w: f64 = values.iter().map(|v| v.weight).sum();
            if w > 0.0 {
                values.iter().map(|v| v.term).sum::<f64>() / w
            } else {
                0.0
            }
        }
    };
    let main = sums(s, end - g.window_days as Day, end);
    Some((score, values, main))
}

fn mean(sum: f64, n: u64) -> f64 {
    if n == 0 { 0.0 } else { sum / n as f64 }
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn grade_series(
    agg: &Aggregator,
    g: &Guideline,
    area: &Area,
    cat: Category,
    s: &Series,
    at: DateTime<Utc>,
    ext: &ExternalValues,
) -> Option<Assessment> {
    let end = end_day(at);
    let w = g.window_days as Day;
    let cov = |a: Day, b: Day| agg.covered(a, b);
    let (value, indicators, main) = score(g, area, cat, s, end, ext, &cov)?;
    let (previous, _, _) =
        score(g, area, cat, s, end - w, ext, &cov).unwrap_or((0.0, Vec::new(), Sums::default()));
    let score = value;
    let t = g.thresholds_for(cat, area);
    let (base, crossed) = Guideline::level_in(t, score);
    let st = agg.surge(g, s, end);
    let level = raise(g, base, &st);
    let trend = if score > previous * g.rising_ratio && score > 0.0 {
        Trend::Rising
    } else if score < previous * g.falling_ratio {
        Trend::Falling
    } else {
        Trend::Steady
    };
    let mut top: Vec<Contribution> = s
        .range(end - w..end)
        .flat_map(|(_, d)| d.stats.top.iter().map(|(_, c)| c.clone()))
        .collect();
    top.sort_by(|x, y| {
        y.points
            .total_cmp(&x.points)
            .then_with(|| x.event.cmp(&y.event))
    });
    top.truncate(TOP_N);
    let terms: Vec<String> = indicators
        .iter()
        .filter(|v| v.term != 0.0)
        .map(|v| format!("{} {:.2}×{}", v.name, v.normalised, v.weight))
        .collect();
    let how = if terms.is_empty() {
        "no indicator above zero".to_string()
    } else {
        format!("{} of {}", rules_word(g, cat), terms.join(" + "))
    };
    let mut rule = match crossed {
        Some(th) => format!(
            "score {score:.2} ({how}) ≥ {th} → level {} ({}); from {} events in {} distinct reports over {} days",
            base.code(),
            base.colour(),
            main.events,
            main.reports,
            g.window_days
        ),
        None => format!(
            "score {score:.2} ({how}) < {} (level IV threshold) → normal; from {} events over {} days",
            t[0], main.events, g.window_days
        ),
    };
    if level != base {
        rule.push_str(&format!(
            "; SURGE raises it to level {} ({}): {}",
            level.code(),
            level.colour(),
            st.why
        ));
    }
    let exp = Explanation {
        guideline: g.version.clone(),
        area_kind: area.kind().into(),
        window_from: start_of(end - w),
        window_to: at,
        events_counted: main.events,
        reports_counted: main.reports,
        events_below_min: main.below,
        score: round4(score),
        previous_score: round4(previous),
        thresholds: t,
        crossed,
        base_level: base.code().into(),
        level: level.code().into(),
        trend: trend.code().into(),
        aggregation: g
            .category(cat)
            .map(|r| r.aggregation.code())
            .unwrap_or("sum")
            .into(),
        indicators,
        surge: Some(st),
        top,
        rule,
    };
    Some(Assessment {
        area: area.clone(),
        category: cat,
        at,
        score,
        level,
        trend,
        guideline: g.version.clone(),
        explanation: serde_json::to_string(&exp).unwrap_or_default(),
    })
}

fn rules_word(g: &Guideline, cat: Category) -> &'static str {
    match g.category(cat).map(|r| r.aggregation) {
        Some(Aggregation::Max) => "max",
        Some(Aggregation::Mean) => "weighted mean",
        _ => "sum",
    }
}

fn sort(out: &mut [Assessment]) {
    out.sort_by(|a, b| {
        b.level
            .cmp(&a.level)
            .then(b.score.total_cmp(&a.score))
            .then_with(|| a.area.cmp(&b.area))
            .then_with(|| a.category.cmp(&b.category))
    });
}

/// Grades every area × category with events before `at`, as a pure
/// function of the events: those at or after `at`, or older than the
/// guideline's lookback, are ignored.
pub fn assess(g: &Guideline, events: &[Event], at: DateTime<Utc>) -> Vec<Assessment> {
    assess_with(g, events, at, &ExternalValues::new())
}

/// [`assess`] with external index values.
pub fn assess_with(
    g: &Guideline,
    events: &[Event],
    at: DateTime<Utc>,
    ext: &ExternalValues,
) -> Vec<Assessment> {
    let from = at - Duration::days(g.lookback_days());
    let mut agg = Aggregator::new(g);
    for e in events
        .iter()
        .filter(|e| e.occurred_at >= from && e.occurred_at < at)
    {
        agg.add(e);
    }
    agg.grade(g, at, ext)
}

/// The highest level among assessments (for summaries).
pub fn max_level(a: &[Assessment]) -> Level {
    a.iter().map(|x| x.level).max().unwrap_or(Level::Normal)
}

/// The naive baseline the benchmark compares with: grade countries by
/// scanning raw events for every country × category (no aggregates).
pub fn naive_country_scores(
    g: &Guideline,
    events: &[Event],
    at: DateTime<Utc>,
) -> BTreeMap<(CountryCode, Category), f64> {
    let from = at - Duration::days(g.window_days);
    let mut best: HashMap<(CountryCode, Category, u64), f64> = HashMap::new();
    for e in events {
        if e.occurred_at < from || e.occurred_at >= at || e.severity < g.min_severity {
            continue;
        }
        let Some(c) = event_country(e) else { continue };
        let p = g.weight(e.severity) * f64::from(e.confidence);
        let slot = best
            .entry((
                c,
                e.category,
                report_key(e) ^ u64::from(day_of(e.occurred_at) as u32),
            ))
            .or_insert(0.0);
        *slot = slot.max(p);
    }
    let mut out = BTreeMap::new();
    for ((c, cat, _), p) in best {
        *out.entry((c, cat)).or_insert(0.0) += p;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
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
                admin1: Some("KE05".into()),
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

    fn find(a: &[Assessment], area: &str, c: Category) -> Assessment {
        a.iter()
            .find(|x| x.category == c && x.area.to_string() == area)
            .unwrap()
            .clone()
    }

    #[test]
    fn levels_follow_thresholds_and_explain_themselves() {
        let g = crate::guideline::linear_for_tests();
        let at = Utc.with_ymd_and_hms(2019, 10, 25, 0, 0, 0).unwrap();
        // Three severe (weight 2) attacks from distinct reports: 6 points → III (≥ 4).
        let events = vec![
            ev("1", 24, 4, Subtype::ViolentAttack, "a"),
            ev("2", 23, 4, Subtype::ViolentAttack, "b"),
            ev("3", 22, 4, Subtype::ViolentAttack, "c"),
            // Same report as #1 (same day): counted once.
            ev("4", 24, 4, Subtype::ViolentAttack, "a"),
            // Engagement (severity 1) is below the minimum.
            ev("5", 24, 1, Subtype::Engagement, "d"),
            // Outside the lookback.
            ev("6", 1, 5, Subtype::ArmedConflict, "e"),
        ];
        let a = assess(&g, &events, at);
        let sec = find(&a, "KE", Category::Security);
        assert_eq!(sec.level, Level::III);
        assert!((sec.score - 6.0).abs() < 1e-9, "{}", sec.score);
        assert_eq!(sec.trend, Trend::Rising);
        let exp = Explanation::from_json(&sec.explanation).unwrap();
        assert_eq!((exp.events_counted, exp.reports_counted), (4, 3));
        assert_eq!(exp.crossed, Some(4.0));
        assert_eq!(exp.top.len(), 3);
        assert!(exp.rule.contains("→ level III"), "{}", exp.rule);
        assert!(
            exp.indicators
                .iter()
                .any(|i| i.name == "severity_weighted/7d" && i.raw == 6.0)
        );
        // The admin-1 region is graded with thresholds scaled by 0.5: 6 ≥ 12 × 0.5 → II.
        let adm = find(&a, "KE/KE05", Category::Security);
        assert_eq!(adm.level, Level::II);
        let pol = find(&a, "KE", Category::Political);
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
        let g = crate::guideline::linear_for_tests();
        let events = vec![ev("1", 24, 5, Subtype::ArmedConflict, "a")];
        let before = Utc.with_ymd_and_hms(2019, 10, 24, 0, 0, 0).unwrap();
        assert!(assess(&g, &events, before).is_empty());
        // A week after the event it has moved to the previous window: falling.
        let later = Utc.with_ymd_and_hms(2019, 11, 2, 0, 0, 0).unwrap();
        let a = assess(&g, &events, later);
        let ke = find(&a, "KE", Category::Security);
        assert_eq!((ke.level, ke.trend), (Level::Normal, Trend::Falling));
    }

    #[test]
    fn external_index_enters_the_score_by_area() {
        let text = crate::guideline::DEFAULT_TOML
            .replacen(
                "[radius_km]",
                "[external.inform]\nfile = \"inform.csv\"\ndescription = \"INFORM risk\"\n\n[radius_km]",
                1,
            )
            .replacen(
                "  { kind = \"goldstein_mean\", window_days = 7, weight = 0.05, normalise = \"negative\" },",
                "  { kind = \"goldstein_mean\", window_days = 7, weight = 0.05, normalise = \"negative\" },\n  { kind = \"external\", index = \"inform\", window_days = 1, weight = 0.5 },",
                1,
            );
        let g = Guideline::parse("g.toml", &text).unwrap();
        let at = Utc.with_ymd_and_hms(2019, 10, 25, 0, 0, 0).unwrap();
        let events = vec![ev("1", 24, 4, Subtype::ViolentAttack, "a")];
        let mut ext = ExternalValues::new();
        ext.insert(
            "inform".into(),
            HashMap::from([(Area::Country(CountryCode::parse("KE").unwrap()), 6.0)]),
        );
        let with = assess_with(&g, &events, at, &ext);
        let without = assess(&g, &events, at);
        let (w, wo) = (
            find(&with, "KE", Category::Security),
            find(&without, "KE", Category::Security),
        );
        assert!(
            (w.score - wo.score - 3.0).abs() < 1e-9,
            "{} vs {}",
            w.score,
            wo.score
        );
        // The admin-1 region falls back to its country's value.
        let adm = find(&with, "KE/KE05", Category::Security);
        let exp = Explanation::from_json(&adm.explanation).unwrap();
        let ix = exp
            .indicators
            .iter()
            .find(|i| i.name == "external:inform/1d")
            .unwrap();
        assert_eq!(ix.raw, 6.0);
        // An undeclared index is refused with its line.
        let bad = text.replacen("index = \"inform\"", "index = \"gpi\"", 1);
        let err = Guideline::parse("g.toml", &bad).unwrap_err().to_string();
        assert!(err.contains("not declared under [external]"), "{err}");
    }

    #[test]
    fn incremental_equals_batch() {
        let g = crate::guideline::linear_for_tests();
        let at = Utc.with_ymd_and_hms(2019, 10, 26, 0, 0, 0).unwrap();
        let events: Vec<Event> = (1..=25)
            .map(|i| {
                ev(
                    &i.to_string(),
                    i,
                    2 + (i % 4) as u8,
                    Subtype::Protest,
                    &format!("l{}", i % 7),
                )
            })
            .collect();
        let batch = assess(&g, &events, at);
        let mut agg = Aggregator::new(&g);
        for e in events.iter().rev() {
            agg.add(e);
        }
        let inc = agg.grade(&g, at, &ExternalValues::new());
        assert_eq!(batch.len(), inc.len());
        for (a, b) in batch.iter().zip(&inc) {
            assert_eq!(
                (&a.area, a.category, a.level),
                (&b.area, b.category, b.level)
            );
            assert!((a.score - b.score).abs() < 1e-9);
        }
    }

    /// Folding events chunk by chunk into stored rows (loading only the
    /// touched days and the votes of the reports being added, as the store's
    /// fold does) gives exactly the aggregates of one pass over all events.
    #[test]
    fn chunked_fold_through_stored_rows_equals_one_pass() {
        let g = crate::guideline::linear_for_tests();
        let events: Vec<Event> = (1..=40)
            .map(|i| {
                ev(
                    &i.to_string(),
                    1 + i % 9,
                    1 + (i % 5) as u8,
                    if i % 3 == 0 {
                        Subtype::Protest
                    } else {
                        Subtype::ArmedConflict
                    },
                    // Reports shared across chunks and days.
                    &format!("r{}", i % 6),
                )
            })
            .collect();
        let one = Aggregator::from_events(&g, &events);
        type Cell = (Area, Category, Day);
        let mut days: HashMap<Cell, DayStats> = HashMap::new();
        let mut votes: HashMap<(Cell, u64), f32> = HashMap::new();
        let mut coverage: BTreeMap<Day, u64> = BTreeMap::new();
        for chunk in events.chunks(7) {
            let probe = Aggregator::new(&g);
            let mut agg = Aggregator::new(&g);
            for e in chunk {
                for a in probe.areas_of(e) {
                    let cell = (a, e.category, day_of(e.occurred_at));
                    if let Some(d) = days.get(&cell) {
                        agg.seed_day(cell.0.clone(), cell.1, cell.2, d.clone());
                    }
                    if let Some(p) = votes.get(&(cell.clone(), report_key(e))) {
                        agg.seed_vote(cell.0.clone(), cell.1, cell.2, report_key(e), *p);
                    }
                }
            }
            for e in chunk {
                agg.add(e);
            }
            for (a, c, d, x) in agg.cells() {
                days.insert((a.clone(), c, d), x.clone());
                for (k, p) in agg.votes(a, c, d) {
                    votes.insert(((a.clone(), c, d), k), p);
                }
            }
            for (d, n) in agg.coverage() {
                *coverage.entry(d).or_default() += n;
            }
        }
        let mut stored = Aggregator::new(&g);
        for ((a, c, d), x) in days {
            stored.seed_day(a, c, d, x);
        }
        for (d, n) in coverage {
            stored.seed_coverage(d, n);
        }
        let at = Utc.with_ymd_and_hms(2019, 10, 11, 0, 0, 0).unwrap();
        let ext = ExternalValues::new();
        assert_eq!(one.grade(&g, at, &ext), stored.grade(&g, at, &ext));
        let mut a: Vec<_> = one
            .cells()
            .map(|(a, c, d, x)| (a.clone(), c, d, x.clone()))
            .collect();
        let mut b: Vec<_> = stored
            .cells()
            .map(|(a, c, d, x)| (a.clone(), c, d, x.clone()))
            .collect();
        a.sort_by(|x, y| (&x.0, x.1, x.2).cmp(&(&y.0, y.1, y.2)));
        b.sort_by(|x, y| (&x.0, x.1, x.2).cmp(&(&y.0, y.1, y.2)));
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(
                (&x.0, x.1, x.2, x.3.events, x.3.reports),
                (&y.0, y.1, y.2, y.3.events, y.3.reports)
            );
            assert!((x.3.points - y.3.points).abs() < 1e-9, "{x:?} {y:?}");
            assert_eq!(x.3.top.len(), y.3.top.len());
        }
    }

    #[test]
    fn h3_cells_and_sites_are_graded_with_their_own_thresholds() {
        let g = crate::guideline::linear_for_tests();
        let res = g.h3_resolution().unwrap();
        let at = Utc.with_ymd_and_hms(2019, 10, 25, 0, 0, 0).unwrap();
        let events = [
            ev("1", 24, 4, Subtype::ViolentAttack, "a"),
            ev("2", 23, 4, Subtype::ViolentAttack, "b"),
        ];
        let cell = h3_cell(&events[0], res).unwrap();
        // The cell holds the event's point at the guideline's resolution.
        let c = h3o::CellIndex::try_from(cell).unwrap();
        assert_eq!(u8::from(c.resolution()), res);
        let mut agg = Aggregator::new(&g);
        agg.add_with_sites(&events[0], &["PORT-1".into()]);
        agg.add(&events[1]);
        let a = agg.grade(&g, at, &ExternalValues::new());
        let h3 = find(&a, &Area::H3(cell).to_string(), Category::Security);
        let exp = Explanation::from_json(&h3.explanation).unwrap();
        assert_eq!(exp.area_kind, "h3");
        assert_eq!(exp.events_counted, 2);
        let country = g.thresholds(Category::Security);
        assert!((exp.thresholds[0] - country[0] * 0.25).abs() < 1e-12);
        let site = find(&a, "site:PORT-1", Category::Security);
        let exp = Explanation::from_json(&site.explanation).unwrap();
        assert_eq!((exp.area_kind.as_str(), exp.events_counted), ("site", 1));
        // A bare cell index reads back as the same cell; anything else does not.
        assert_eq!(parse_h3(&format!("{cell:x}")), Some(cell));
        assert_eq!(parse_h3("85283473fffffff"), Some(0x0852_8347_3fff_ffff));
        assert_eq!(parse_h3("PORT-1"), None);
        // A country centroid is not a place: no cell.
        let mut vague = events[0].clone();
        if let Some(l) = vague.location.as_mut() {
            l.precision = GeoPrecision::Country;
        }
        assert_eq!(h3_cell(&vague, res), None);
        assert!(!agg.areas_of(&vague).iter().any(|a| a.kind() == "h3"));
    }

    #[test]
    fn add_in_with_the_areas_found_once_equals_add_with_sites() {
        let g = crate::guideline::linear_for_tests();
        let mut events = vec![
            ev("1", 24, 4, Subtype::ViolentAttack, "a"),
            ev("2", 24, 1, Subtype::ViolentAttack, "a"),
            ev("3", 23, 3, Subtype::ViolentAttack, "b"),
            ev("4", 24, 5, Subtype::ViolentAttack, "a"),
        ];
        // No country: counted nowhere, by either path.
        events[2].location = None;
        let sites = ["PORT-1".to_string(), "PORT-2".to_string()];
        let (mut a, mut b) = (Aggregator::new(&g), Aggregator::new(&g));
        for e in &events {
            a.add_with_sites(e, &sites);
            let mut areas = b.areas_of(e);
            if !areas.is_empty() {
                areas.extend(sites.iter().cloned().map(Area::Site));
            }
            b.add_in(e, &areas);
        }
        type Cell = (String, Category, Day, DayStats, Vec<(u64, f32)>);
        let cells = |x: &Aggregator| {
            let mut v: Vec<Cell> = x
                .cells()
                .map(|(a, c, d, s)| (a.to_string(), c, d, s.clone(), x.votes(a, c, d)))
                .collect();
            v.sort_by(|p, q| (&p.0, p.1, p.2).cmp(&(&q.0, q.1, q.2)));
            v
        };
        assert_eq!(cells(&a), cells(&b));
        assert!(cells(&a).iter().any(|c| c.0 == "site:PORT-2"));
        assert_eq!((a.len(), b.len()), (3, 3));
        assert_eq!(
            a.coverage().collect::<Vec<_>>(),
            b.coverage().collect::<Vec<_>>()
        );
    }

    #[test]
    fn relative_measures_the_rise_over_the_area_s_own_normal() {
        let g = Guideline::default_shipped().unwrap();
        let t0 = Utc.with_ymd_and_hms(2019, 6, 1, 12, 0, 0).unwrap();
        let mk = |i: i64, day: i64, link: String| {
            let mut e = ev("x", 1, 4, Subtype::ArmedConflict, &link);
            e.id = EventId::new("t", format!("{i}"));
            e.occurred_at = t0 + Duration::days(day);
            e.confidence = 1.0;
            e
        };
        // 98 days of history: one severe report a day (2 points), so the
        // normal is 14 points a week; the last week has two a day.
        let mut events: Vec<Event> = (0..98).map(|d| mk(d, d, format!("a{d}"))).collect();
        events.extend((91..98).map(|d| mk(1000 + d, d, format!("b{d}"))));
        let at = t0 + Duration::days(98) - Duration::hours(12);
        let agg = Aggregator::from_events(&g, &events);
        let a = agg
            .grade_one(
                &g,
                &Area::Country(CountryCode::parse("KE").unwrap()),
                Category::Security,
                at,
                &ExternalValues::new(),
            )
            .unwrap();
        let exp = Explanation::from_json(&a.explanation).unwrap();
        let rel = exp
            .indicators
            .iter()
            .find(|i| i.name == "relative/7d")
            .unwrap();
        // 28 points against a normal of 14: one normal above it.
        assert!((rel.raw - 1.0).abs() < 1e-9, "{rel:?}");
        // With only the last week stored there is no normal: it reads 0.
        let recent: Vec<Event> = events
            .iter()
            .filter(|e| e.occurred_at >= t0 + Duration::days(91))
            .cloned()
            .collect();
        let agg = Aggregator::from_events(&g, &recent);
        let a = agg
            .grade_one(
                &g,
                &Area::Country(CountryCode::parse("KE").unwrap()),
                Category::Security,
                at,
                &ExternalValues::new(),
            )
            .unwrap();
        let exp = Explanation::from_json(&a.explanation).unwrap();
        let rel = exp
            .indicators
            .iter()
            .find(|i| i.name == "relative/7d")
            .unwrap();
        assert_eq!(rel.raw, 0.0);
    }

    #[test]
    fn a_surge_raises_the_level_and_says_so() {
        let g = crate::guideline::linear_for_tests();
        let at = Utc.with_ymd_and_hms(2019, 10, 29, 0, 0, 0).unwrap();
        // One minor protest every 4 days for four weeks, then 8 in 2 days.
        let mut events: Vec<Event> = (1..=24)
            .step_by(4)
            .map(|d| ev(&format!("b{d}"), d, 2, Subtype::Protest, &format!("b{d}")))
            .collect();
        for i in 0..8 {
            events.push(ev(
                &format!("s{i}"),
                27 + i % 2,
                2,
                Subtype::Protest,
                &format!("s{i}"),
            ));
        }
        // The store holds something every day (below the minimum severity),
        // so the history is thick enough to test against.
        for d in 1..=28 {
            events.push(ev(
                &format!("e{d}"),
                d,
                1,
                Subtype::Engagement,
                &format!("e{d}"),
            ));
        }
        let a = assess(&g, &events, at);
        let ke = find(&a, "KE", Category::Political);
        let exp = Explanation::from_json(&ke.explanation).unwrap();
        let st = exp.surge.unwrap();
        assert!(st.surge, "{st:?}");
        assert_eq!(exp.base_level, "III");
        assert_eq!(ke.level, Level::II);
        assert!(exp.rule.contains("SURGE"), "{}", exp.rule);
        assert!(st.why.contains("Poisson"), "{}", st.why);
        // Without that daily history the same burst is not tested.
        let thin: Vec<Event> = events
            .into_iter()
            .filter(|e| !e.id.source_id.starts_with('e'))
            .collect();
        let a = assess(&g, &thin, at);
        let ke = find(&a, "KE", Category::Political);
        let st = Explanation::from_json(&ke.explanation)
            .unwrap()
            .surge
            .unwrap();
        assert!(!st.surge && st.why.contains("too thin"), "{}", st.why);
        assert_eq!(ke.level, Level::III);
    }
}
