//! `farguard demo`: the main job on the embedded default. Into a fresh SQLite
//! file it registers real ports and airports as the sites of a demo
//! enterprise, ingests the real GDELT export the project ships, grades
//! country risk as of the data's own time, and shows which sites the events
//! touch and why.

use super::assess::{self as assess_cmd, Row};
use super::exposure::{self, EventExposure};
use super::import::{ImportCounts, store_sites};
use super::ingest::{IngestCounts, ingest_gdelt_bytes};
use super::{Ctx, load_guideline};
use crate::{embedded, out};
use anyhow::{Context, Result};
use chrono::Duration;
use farguard_expose::SiteIndex;
use farguard_model::{Level, OrgKind, Organisation};
use farguard_registry::{airports, wpi};
use farguard_store::{SqliteStore, Store};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The SQLite file to create; an existing file at this path is replaced.
    #[arg(long, default_value = "farguard-demo.db")]
    out: PathBuf,
    /// How many risks and exposures to print in text mode.
    #[arg(long, default_value_t = 10)]
    top: usize,
}

const DEMO_ORG: &str = "demo-enterprise";

#[derive(Debug, Serialize)]
struct Report {
    database: String,
    sites: Vec<ImportCounts>,
    airports_without_iata_skipped: u64,
    ingest: IngestCounts,
    assessed_at: String,
    guideline: String,
    risks: Vec<Row>,
    exposures: Vec<EventExposure>,
    sites_exposed: usize,
    people_and_dependencies: super::demo_registry::Section,
    seconds: f64,
}

fn step(bar: &ProgressBar, msg: &str) {
    bar.set_message(msg.to_string());
    bar.tick();
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let started = Instant::now();
    for suffix in ["", "-wal", "-shm"] {
        let mut p = args.out.clone().into_os_string();
        p.push(suffix);
        let p = PathBuf::from(p);
        if p.exists() {
            std::fs::remove_file(&p).with_context(|| format!("replacing {}", p.display()))?;
        }
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(100));
    let mut store =
        SqliteStore::open(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let store: &mut dyn Store = &mut store;
    let g = load_guideline(None)?;

    step(&bar, "registering ports and airports");
    store.upsert_orgs(&[Organisation {
        id: DEMO_ORG.into(),
        name: "Demo enterprise (synthetic owner of real ports and airports)".into(),
        kind: OrgKind::StateEnterprise,
        country: None,
    }])?;
    let ports = wpi::read(embedded::WPI_NAME, embedded::WPI, DEMO_ORG)?;
    let (airports_imp, skipped) =
        airports::read(embedded::AIRPORTS_NAME, embedded::AIRPORTS, DEMO_ORG)?;
    let sites = vec![
        store_sites(store, embedded::WPI_NAME, &ports)?,
        store_sites(store, embedded::AIRPORTS_NAME, &airports_imp)?,
    ];

    step(&bar, "ingesting the GDELT 2.0 export");
    let ingest = ingest_gdelt_bytes(store, embedded::GDELT_EXPORT_NAME, embedded::GDELT_EXPORT)?;

    step(&bar, "grading country risk");
    let Some((_, newest)) = store.event_time_range()? else {
        anyhow::bail!("the shipped GDELT export yielded no events")
    };
    // As of the end of the newest event's day: the data graded at its own time.
    let at = newest + Duration::days(1);
    let assessments = assess_cmd::grade(store, &g, at)?;
    // Every graded area kind is stored; the summary shows countries.
    let assessments: Vec<_> = assessments
        .into_iter()
        .filter(|a| a.area.kind() == "country")
        .collect();

    step(&bar, "matching events to sites");
    let people_and_dependencies = super::demo_registry::section(store, &g, at, newest)?;
    let index = SiteIndex::build(store.sites()?);
    let events = store.events_between(at - Duration::days(g.window_days), at)?;
    let mut exposures: Vec<EventExposure> = events
        .iter()
        .filter(|e| e.severity >= g.min_severity && e.local_point().is_some())
        .map(|e| exposure::of_event(&index, &g, e))
        .filter(|x| !x.sites.is_empty())
        .collect();
    exposures.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(b.sites.len().cmp(&a.sites.len()))
            .then_with(|| a.event.cmp(&b.event))
    });
    let mut touched: Vec<&str> = exposures
        .iter()
        .flat_map(|x| x.sites.iter().map(|s| s.site.as_str()))
        .collect();
    touched.sort_unstable();
    touched.dedup();
    let sites_exposed = touched.len();
    bar.finish_and_clear();

    let report = Report {
        database: args.out.display().to_string(),
        sites,
        airports_without_iata_skipped: skipped,
        ingest,
        assessed_at: at.to_rfc3339(),
        guideline: g.version.clone(),
        risks: assessments
            .iter()
            .filter(|a| a.level > Level::Normal)
            .map(assess_cmd::row)
            .collect(),
        exposures,
        sites_exposed,
        people_and_dependencies,
        seconds: started.elapsed().as_secs_f64(),
    };
    if ctx.json {
        out::json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    print_text(&report, &assessments, index.len(), args.top);
    super::demo_respond::run(store, at, &report.database)?;
    super::demo_notify::run(store, &report.database)?;
    super::demo_sources::run(store)?;
    Ok(ExitCode::SUCCESS)
}

fn print_text(r: &Report, assessments: &[farguard_model::Assessment], n_sites: usize, top: usize) {
    println!(
        "farguard demo — the loop on real public data, stored in {}\n",
        r.database
    );
    println!("1. REGISTRY  what we have abroad (real locations, synthetic owner)");
    for s in &r.sites {
        println!(
            "   {}: {} sites registered ({} rows rejected)",
            s.file, s.accepted, s.rejected
        );
        for e in s.errors.iter().take(2) {
            println!("      rejected: {e}");
        }
    }
    println!(
        "   airports without an IATA code skipped: {}; sites in the index: {n_sites}\n",
        r.airports_without_iata_skipped
    );
    let i = &r.ingest;
    println!("2. INTELLIGENCE  GDELT 2.0 event export (The GDELT Project)");
    println!(
        "   {}: read {}, accepted {}, duplicates {}, quarantined {}\n",
        i.file, i.read, i.accepted, i.duplicates, i.quarantined
    );
    let at = chrono::DateTime::parse_from_rfc3339(&r.assessed_at)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default();
    println!(
        "3. RISK  levels by country × category as of {at} (guideline {}); {} above normal",
        r.guideline,
        r.risks.len()
    );
    let raised: Vec<_> = assessments
        .iter()
        .filter(|a| a.level > Level::Normal)
        .cloned()
        .collect();
    assess_cmd::print_text(&raised, top);
    println!(
        "\n4. EXPOSURE  {} precisely located events touch {} registered sites (radius by category and severity)",
        r.exposures.len(),
        r.sites_exposed
    );
    for x in r.exposures.iter().take(top) {
        println!(
            "   {} [{} / {} severity {}] within {} km: {} site(s)",
            x.event,
            x.category,
            x.subtype,
            x.severity,
            x.radius_km,
            x.sites.len()
        );
        println!("     {}", out::short(&x.title, 100));
        exposure::print_sites(&x.sites, 3);
        if let Some(s) = x.sites.first() {
            println!("     why: {}", s.reason);
        }
    }
    super::demo_registry::print(&r.people_and_dependencies, top);
    println!(
        "\nfinished in {:.1} s. Explore the same database:",
        r.seconds
    );
    let db = &r.database;
    println!("   farguard --db {db} assess --at {}", r.assessed_at);
    if let Some(x) = r.exposures.first() {
        println!("   farguard --db {db} exposure --event {}", x.event);
    }
    println!("   farguard --db {db} quarantine list");
    println!("   add --json to any of them for machine-readable output");
}
