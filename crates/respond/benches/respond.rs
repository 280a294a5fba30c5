//! Benchmarks for the speed targets, each beside a baseline measured
//! in the same run:
//!
//! - escalation sweep over 10,000 open incidents × 20 tasks (target ≤ 100 ms),
//!   baseline: a bare loop that only compares every task's deadline with now;
//! - trigger evaluation per level change with 200 plans loaded (target
//!   ≤ 1 ms), baseline: testing every plan without the category index.
//!
//! Run: `cargo bench -p farguard-respond`; medians are in
//! `target/criterion/*/new/estimates.json`.

use chrono::{DateTime, TimeDelta, Utc};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use farguard_model::{Area, Category, Level};
use farguard_respond::{
    Book, LevelChange, Library, Plan, Signal, matching, parse_plan, plan_matches,
};
use std::fmt::Write as _;
use std::hint::black_box;

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2019-10-24T14:30:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

/// A plan with `steps` steps (each due one hour after the previous, every
/// fourth waiting for the one before), for `category` from `min_level`.
fn plan_text(id: &str, category: &str, min_level: &str, areas: &[&str], steps: usize) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "id = \"{id}\"\nversion = \"bench\"\ntitle = \"bench plan {id}\"\nlead_agency = \"lead\""
    );
    let areas: Vec<String> = areas.iter().map(|a| format!("\"{a}\"")).collect();
    let _ = writeln!(
        s,
        "[trigger]\ncategories = [\"{category}\"]\nmin_level = \"{min_level}\"\nareas = [{}]\nwindow = \"7d\"",
        areas.join(", ")
    );
    for r in ["lead", "ops", "transport", "enterprise"] {
        let _ = writeln!(
            s,
            "[[task_force]]\nid = \"{r}\"\nname = \"{r}\"\norg = \"org-{r}\""
        );
    }
    for k in 0..steps {
        let owner = ["lead", "ops", "transport", "enterprise"][k % 4];
        let after = if k % 4 == 3 {
            format!("after = [\"s{}\"]", k - 1)
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "[[steps]]\nid = \"s{k}\"\ntitle = \"step {k}\"\nowner = \"{owner}\"\ndue = \"{}h\"\n{after}\nchecklist = [\"a\", \"b\"]",
            k + 1
        );
    }
    let _ = writeln!(s, "[sla]\nactivate_within = \"1h\"\nnotify_within = \"1h\"");
    let _ = writeln!(
        s,
        "[stand_down]\nbelow_level = \"{min_level}\"\nquiet_for = \"48h\""
    );
    s
}

fn parse(text: &str) -> Plan {
    match parse_plan("bench.toml", text) {
        Ok(p) => p,
        Err(e) => panic!("bench plan invalid: {e:?}"),
    }
}

fn level(area: Area, category: Category, to: Level, at: DateTime<Utc>) -> Signal {
    Signal::Level(LevelChange {
        area,
        category,
        from: Level::Normal,
        to,
        at,
        why: "bench".into(),
    })
}

fn sweep(c: &mut Criterion) {
    let lib = Library::from_plans(vec![parse(&plan_text("sweep", "security", "IV", &[], 20))]);
    let mut book = Book::new(Vec::new(), false);
    for i in 0..10_000 {
        book.apply(
            &lib,
            &level(
                Area::Site(format!("S{i}")),
                Category::Security,
                Level::III,
                t0(),
            ),
        );
    }
    let _ = book.take_dirty();
    assert_eq!(book.len(), 10_000);
    assert_eq!(
        book.incidents()
            .iter()
            .map(|i| i.tasks.len())
            .sum::<usize>(),
        200_000
    );
    // 90 minutes in: exactly one task per incident (due 1 h) is newly overdue.
    let now = t0() + TimeDelta::minutes(90);
    let mut g = c.benchmark_group("escalation_sweep_10k_incidents_x_20_tasks");
    g.sample_size(20);
    g.bench_function("baseline_deadline_scan", |b| {
        b.iter(|| {
            let n = book
                .incidents()
                .iter()
                .flat_map(|i| &i.tasks)
                .filter(|t| !t.is_done() && now > t.due_at)
                .count();
            black_box(n)
        })
    });
    g.bench_function("sweep_10k_new_escalations", |b| {
        b.iter_batched(
            || book.clone(),
            |mut bk| {
                let n = bk.sweep(&lib, black_box(now)).len();
                debug_assert_eq!(n, 10_000);
                // Returned, so criterion drops the book outside the timing.
                (bk, n)
            },
            BatchSize::LargeInput,
        )
    });
    let mut steady = book.clone();
    steady.sweep(&lib, now);
    g.bench_function("sweep_nothing_new", |b| {
        b.iter(|| black_box(steady.sweep(&lib, black_box(now)).len()))
    });
    g.finish();
}

fn trigger(c: &mut Criterion) {
    // 200 plans: every category, levels IV..I, some limited to a few countries.
    let cats = [
        "security",
        "political",
        "legal",
        "economic",
        "reputation",
        "natural",
        "health",
    ];
    let levels = ["IV", "III", "II", "I"];
    let areas: [&[&str]; 4] = [&[], &["SY", "IQ"], &["ES", "FR", "IT"], &[]];
    let plans: Vec<Plan> = (0..200)
        .map(|i| {
            parse(&plan_text(
                &format!("p{i}"),
                cats[i % cats.len()],
                levels[(i / 7) % 4],
                areas[(i / 28) % 4],
                8,
            ))
        })
        .collect();
    let lib = Library::from_plans(plans.clone());
    assert_eq!(lib.len(), 200);
    let sig = level(
        Area::parse("SY").unwrap_or(Area::Site("SY".into())),
        Category::Security,
        Level::II,
        t0(),
    );
    let mut g = c.benchmark_group("trigger_per_level_change_200_plans");
    g.bench_function("baseline_scan_all_plans", |b| {
        b.iter(|| {
            black_box(
                plans
                    .iter()
                    .filter(|p| plan_matches(p, black_box(&sig)))
                    .count(),
            )
        })
    });
    g.bench_function("matching_indexed", |b| {
        b.iter(|| black_box(matching(&lib, black_box(&sig)).len()))
    });
    // Full evaluation: open the incidents (fresh book each time).
    g.bench_function("apply_opens_incidents", |b| {
        b.iter_batched(
            || Book::new(Vec::new(), false),
            |mut bk| {
                let n = bk.apply(&lib, black_box(&sig)).len();
                (bk, n)
            },
            BatchSize::SmallInput,
        )
    });
    // Full evaluation against a book that already holds them (the repeat path).
    let mut held = Book::new(Vec::new(), false);
    held.apply(&lib, &sig);
    g.bench_function("apply_repeat_no_change", |b| {
        b.iter(|| black_box(held.apply(&lib, black_box(&sig)).len()))
    });
    g.finish();
}

criterion_group!(benches, sweep, trigger);
criterion_main!(benches);
