//! Grading benchmarks for the speed targets, each beside a baseline
//! measured in the same run:
//!
//! - full re-grade of every country × 7 categories over 10 million stored
//!   events (target ≤ 1 s): grading from the daily aggregates, against a
//!   naive scan of the 10 million stored rows computing the same scores;
//! - incremental update per arriving event (target ≤ 10 µs): one
//!   `Aggregator::add` into the 10-million-event state, against what an
//!   update costs without aggregates: re-scoring the event's country ×
//!   category by scanning the stored rows.
//!
//! The 10 million events repeat the 3,335 real rows of the ACLED 2020 export
//! (read in place from `FARGUARD_ACLED_DIR`, default `../shared/data/acled`;
//! ACLED data is never copied into the repository), each repetition moved
//! to another day of the year before, given its own id and report, and —
//! so that every country × 7 categories is graded, as the target asks —
//! assigned round-robin to another ISO country and another category (the
//! text, severity and fatalities stay the row's own; the admin-1 region is
//! kept only on the unmoved repetition).
//!
//! Run: `cargo bench -p farguard-grade`; criterion prints
//! `time: [low median high]` for each.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use farguard_grade::{Aggregator, ExternalValues, Guideline, day_of};
use farguard_model::{
    Category, CountryCode, Event, EventId, GeoPrecision, Location, Point, Severity, Subtype,
    country,
};
use std::collections::HashMap;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

const TARGET_EVENTS: usize = 10_000_000;
const FILE: &str =
    "acled_global_2020-04-27_2020-05-09_excl_MiddleEast_CaucasusCentralAsia_NorthernAfrica.csv";

fn acled_file() -> Option<PathBuf> {
    let dir = std::env::var_os("FARGUARD_ACLED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/data/acled"
            ))
        });
    let p = dir.join(FILE);
    p.exists().then_some(p)
}

/// The real rows as events (category and severity from ACLED's event type).
fn real_events() -> Vec<Event> {
    let path = acled_file().expect("ACLED 2020 file: set FARGUARD_ACLED_DIR");
    let mut r = csv::Reader::from_path(path).unwrap();
    let h = r.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|x| x == n).unwrap();
    let (id, date, ty, iso3, a1, lat, lon, notes, fat) = (
        col("event_id_cnty"),
        col("event_date"),
        col("event_type"),
        col("iso3"),
        col("admin1"),
        col("latitude"),
        col("longitude"),
        col("notes"),
        col("fatalities"),
    );
    let mut out = Vec::new();
    for rec in r.records() {
        let rec = rec.unwrap();
        let Ok(country) = CountryCode::parse(&rec[iso3]) else {
            continue;
        };
        let (sub, sev) = match &rec[ty] {
            "Battles" => (Subtype::ArmedConflict, 4),
            "Explosions/Remote violence" => (Subtype::Bombing, 4),
            "Violence against civilians" => (Subtype::ViolenceAgainstCivilians, 4),
            "Riots" => (Subtype::Riot, 3),
            "Protests" => (Subtype::Protest, 2),
            _ => (Subtype::OtherPolitical, 2),
        };
        let f: u32 = rec[fat].parse().unwrap_or(0);
        let sev = Severity::new((sev + u8::from(f > 0)).min(5)).unwrap();
        let day = NaiveDate::parse_from_str(&rec[date], "%d-%b-%y").unwrap();
        let t = Utc.from_utc_datetime(&day.and_hms_opt(12, 0, 0).unwrap());
        let point = Point::new(
            rec[lat].parse().unwrap_or(0.0),
            rec[lon].parse().unwrap_or(0.0),
        )
        .ok();
        out.push(Event {
            id: EventId::new("acled", &rec[id]),
            occurred_at: t,
            reported_at: t,
            location: point.map(|p| Location {
                point: p,
                precision: GeoPrecision::City,
                country: Some(country),
                admin1: Some(rec[a1].to_string()),
                place: None,
            }),
            country: Some(country),
            category: sub.category(),
            subtype: sub,
            severity: sev,
            confidence: 0.9,
            title: rec[notes].chars().take(80).collect(),
            actors: vec![],
            links: vec![format!("acled:{}", &rec[id])],
            fatalities: Some(f),
            goldstein: None,
            tone: None,
            mentions: None,
            reason: "ACLED event type".into(),
            raw: String::new(),
        });
    }
    out
}

/// One stored row as the naive scan reads it.
#[derive(Clone, Copy)]
struct Row {
    country: CountryCode,
    category: Category,
    day: i32,
    severity: Severity,
    confidence: f32,
    fatalities: u32,
}

struct World {
    g: Guideline,
    agg: Aggregator,
    rows: Vec<Row>,
    at: DateTime<Utc>,
    template: Event,
    reps: usize,
}

fn world() -> World {
    let g = Guideline::default_shipped().unwrap();
    let base = real_events();
    let reps = TARGET_EVENTS.div_ceil(base.len());
    let mut agg = Aggregator::new(&g);
    let mut rows = Vec::with_capacity(reps * base.len());
    let t0 = Instant::now();
    let first = base.iter().map(|e| e.occurred_at).min().unwrap();
    let countries: Vec<CountryCode> = country::all()
        .filter_map(|c| CountryCode::parse(c.iso2).ok())
        .collect();
    let mut n = 0u64;
    'outer: for r in 0..reps {
        // Spread the repetitions over the year before the last real day.
        let shift = Duration::days(-((r % 365) as i64));
        for e in &base {
            if rows.len() == TARGET_EVENTS {
                break 'outer;
            }
            n += 1;
            let mut e2 = e.clone();
            e2.occurred_at = e.occurred_at + shift;
            e2.id.source_id = format!("{}-{r}", e.id.source_id);
            e2.links[0] = format!("{}#{r}", e.links[0]);
            if r > 0 {
                let c = countries[(n as usize) % countries.len()];
                e2.country = Some(c);
                // The row's admin-1 region belongs to its real country.
                if let Some(l) = e2.location.as_mut() {
                    l.country = Some(c);
                    l.admin1 = None;
                }
                let cat = Category::ALL[r % Category::ALL.len()];
                e2.subtype = cat.subtypes().next().unwrap();
                e2.category = cat;
            }
            agg.add(&e2);
            rows.push(Row {
                country: e2.country.unwrap(),
                category: e2.category,
                day: day_of(e2.occurred_at),
                severity: e2.severity,
                confidence: e2.confidence,
                fatalities: e2.fatalities.unwrap_or(0),
            });
        }
    }
    eprintln!(
        "built {} events ({} real rows × {reps}) into {} area × category series in {:.1} s (from {first})",
        rows.len(),
        base.len(),
        agg.series_count(),
        t0.elapsed().as_secs_f64()
    );
    let at = base.iter().map(|e| e.occurred_at).max().unwrap() + Duration::days(1);
    World {
        g,
        agg,
        rows,
        at,
        template: base[0].clone(),
        reps,
    }
}

/// The naive baseline: every country × category score by scanning all rows.
fn naive(w: &World) -> HashMap<(CountryCode, Category), f64> {
    let end = day_of(w.at - Duration::microseconds(1)) + 1;
    let from = end - w.g.window_days as i32;
    let mut points: HashMap<(CountryCode, Category), (f64, u64)> = HashMap::new();
    for r in &w.rows {
        if r.day < from || r.day >= end || r.severity < w.g.min_severity {
            continue;
        }
        let s = points.entry((r.country, r.category)).or_default();
        s.0 += w.g.weight(r.severity) * f64::from(r.confidence);
        s.1 += u64::from(r.fatalities);
    }
    points
        .into_iter()
        .map(|(k, (p, f))| (k, p + (f as f64).ln_1p()))
        .collect()
}

fn benches(c: &mut Criterion) {
    if acled_file().is_none() {
        eprintln!("SKIP grade benches: set FARGUARD_ACLED_DIR to the ACLED files (read in place)");
        return;
    }
    let w = world();
    let ext = ExternalValues::new();
    // Sanity: the aggregates and the scan agree on the severity-weighted sum.
    let graded = w.agg.grade(&w.g, w.at, &ext);
    let countries = graded
        .iter()
        .filter(|a| matches!(a.area, farguard_model::Area::Country(_)))
        .count();
    eprintln!(
        "re-grade covers {} area × category pairs ({countries} country × category)",
        graded.len()
    );
    let mut g = c.benchmark_group("regrade_10M");
    g.sample_size(10);
    g.bench_function("levels_from_daily_aggregates (every area kind)", |b| {
        b.iter(|| black_box(w.agg.levels(&w.g, w.at, &ext).len()))
    });
    g.bench_function(
        "full_assessments_with_explanations (every area kind)",
        |b| b.iter(|| black_box(w.agg.grade(&w.g, w.at, &ext).len())),
    );
    g.bench_function(
        "baseline: naive scan of 10M stored rows (countries only)",
        |b| b.iter(|| black_box(naive(&w).len())),
    );
    g.finish();

    let mut g = c.benchmark_group("incremental");
    let mut agg = w.agg.clone();
    let mut i = 0u64;
    g.bench_function("add one arriving event to the 10M-event state", |b| {
        b.iter_batched(
            || {
                i += 1;
                let mut e = w.template.clone();
                e.id.source_id = format!("new-{i}");
                e.links[0] = format!("new-{i}");
                e.occurred_at += Duration::days((i % 30) as i64);
                e
            },
            |e| agg.add(black_box(&e)),
            BatchSize::SmallInput,
        )
    });
    // Without aggregates, an arriving event means re-scoring its country ×
    // category from the stored rows.
    let (tc, tk) = (w.template.country.unwrap(), w.template.category);
    g.sample_size(10);
    g.bench_function(
        "baseline: re-score the event's country × category by scanning 10M rows",
        |b| {
            b.iter(|| {
                let end = day_of(w.at) + 1;
                let from = end - w.g.window_days as i32;
                let s: f64 = w
                    .rows
                    .iter()
                    .filter(|r| r.country == tc && r.category == tk && r.day >= from && r.day < end)
                    .map(|r| w.g.weight(r.severity) * f64::from(r.confidence))
                    .sum();
                black_box(s)
            })
        },
    );
    g.finish();
    let _ = w.reps;
}

criterion_group!(grade, benches);
criterion_main!(grade);
