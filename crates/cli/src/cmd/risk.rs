//! `farguard risk explain AREA`: one area's level per category with every
//! indicator's value, the thresholds crossed, the surge test and the top
//! contributing events with their links.

use super::{Ctx, load_guideline};
use crate::cmd::assess::row;
use crate::out;
use anyhow::{Context, Result, bail};
use chrono::{Duration, Utc};
use farguard_grade::{Aggregator, Explanation, ExternalValues, Guideline};
use farguard_model::{Area, Category, Level};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Why an area has its level: indicators, thresholds, surge, top events.
    #[command(after_help = "\
Examples:
  farguard risk explain KE --at 2019-10-24
  farguard risk explain IN/Bihar --category political --at 2015-03-01 --json

AREA is a country (CN, KE), a first-level region as COUNTRY/ADMIN1 (the
code the source gives, e.g. KE/KE05), h3:CELL or site:ID.")]
    Explain {
        area: String,
        /// Only this category.
        #[arg(long)]
        category: Option<String>,
        /// As of this time (RFC 3339 or a date meaning its end); default now.
        #[arg(long)]
        at: Option<String>,
        /// Guideline file (default: the shipped config/guideline.toml).
        #[arg(long)]
        guideline: Option<PathBuf>,
    },
}

/// Loads the external index CSVs a guideline declares (`area,value` with a
/// header; a bad row names its line).
pub fn load_external(g: &Guideline) -> Result<ExternalValues> {
    let mut out = ExternalValues::new();
    for x in &g.external {
        let mut r = csv::Reader::from_path(&x.file)
            .with_context(|| format!("external index {}: reading {}", x.name, x.file))?;
        let mut m = HashMap::new();
        for (i, rec) in r.records().enumerate() {
            let line = i + 2;
            let rec = rec.with_context(|| format!("{}:{line}: unreadable row", x.file))?;
            let area = rec.get(0).unwrap_or_default();
            let area = Area::parse(area).with_context(|| format!("{}:{line}: area", x.file))?;
            let v: f64 = rec
                .get(1)
                .unwrap_or_default()
                .trim()
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite())
                .with_context(|| format!("{}:{line}: value: expected a number", x.file))?;
            m.insert(area, v);
        }
        out.insert(x.name.clone(), m);
    }
    Ok(out)
}

pub fn run(ctx: &Ctx, action: Action) -> Result<ExitCode> {
    let Action::Explain {
        area,
        category,
        at,
        guideline,
    } = action;
    let g = load_guideline(guideline.as_deref())?;
    let area = Area::parse(&area).with_context(|| format!("AREA {area:?}"))?;
    let cats: Vec<Category> = match category.as_deref() {
        Some(c) => vec![Category::parse(c)?],
        None => Category::ALL.to_vec(),
    };
    let at = match &at {
        Some(s) => out::parse_time(s)?,
        None => Utc::now(),
    };
    let mut store = ctx.store()?;
    let events = store.events_between(at - Duration::days(g.lookback_days()), at)?;
    let ext = load_external(&g)?;
    let mut agg = Aggregator::new(&g);
    for e in &events {
        agg.add(e);
    }
    let rows: Vec<_> = cats
        .iter()
        .filter_map(|c| agg.grade_one(&g, &area, *c, at, &ext))
        .collect();
    if ctx.json {
        out::json(&rows.iter().map(row).collect::<Vec<_>>())?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} ({}) as of {} — guideline {}",
        area,
        match &area {
            Area::Country(c) => c.name().to_string(),
            other => other.kind().to_string(),
        },
        at.format("%Y-%m-%d %H:%M UTC"),
        g.version
    );
    if rows.is_empty() {
        match store.event_time_range()? {
            Some((a, b)) => bail!(
                "no events for {area} in the {} days before {}; stored events span {} to {}: try --at {}",
                g.lookback_days(),
                at.format("%Y-%m-%d"),
                a.format("%Y-%m-%d"),
                b.format("%Y-%m-%d"),
                b.format("%Y-%m-%d")
            ),
            None => bail!("no events stored yet: run `farguard ingest FILE` first"),
        }
    }
    for a in &rows {
        let Some(e) = Explanation::from_json(&a.explanation) else {
            continue;
        };
        println!(
            "\n{}: level {} {} ({})  score {:.2}  trend {} (previous window {:.2})",
            a.category,
            a.level.code(),
            a.level.colour(),
            a.level.label_zh(),
            a.score,
            a.trend.code(),
            e.previous_score
        );
        println!(
            "  window {} → {}; {} events in {} reports counted, {} below the minimum severity",
            e.window_from.format("%Y-%m-%d"),
            e.window_to.format("%Y-%m-%d %H:%M"),
            e.events_counted,
            e.reports_counted,
            e.events_below_min
        );
        println!("  indicators ({}):", e.aggregation);
        for i in &e.indicators {
            println!(
                "    {:<24} raw {:>10.3}  {}{} → {:>8.3}  × weight {:<5} = {:>8.3}",
                i.name,
                i.raw,
                i.normalise,
                i.cap.map(|c| format!(" cap {c}")).unwrap_or_default(),
                i.normalised,
                i.weight,
                i.term
            );
        }
        let names = ["IV", "III", "II", "I"];
        let marks: Vec<String> = e
            .thresholds
            .iter()
            .zip(names)
            .map(|(t, n)| {
                let hit = if a.score >= *t { "✓" } else { "·" };
                format!("{n} ≥ {t} {hit}")
            })
            .collect();
        println!("  thresholds ({}): {}", e.area_kind, marks.join("   "));
        if let Some(s) = &e.surge {
            println!("  surge test: {}", s.why);
        }
        if e.base_level != a.level.code() {
            println!(
                "  level {} from thresholds, raised to {} by the surge rule",
                e.base_level,
                a.level.code()
            );
        }
        println!("  why: {}", e.rule);
        if !e.top.is_empty() {
            println!("  top contributing events:");
        }
        for c in &e.top {
            println!(
                "    {:>5.2} pts  {}  sev {}  {}  {}",
                c.points,
                c.occurred_at.format("%Y-%m-%d"),
                c.severity,
                c.event,
                out::short(&c.title, 60)
            );
            if let Some(l) = &c.link {
                println!("               {l}");
            }
        }
    }
    let worst = rows.iter().map(|a| a.level).max().unwrap_or(Level::Normal);
    println!("\nhighest: level {} — {}", worst.code(), worst.command());
    Ok(ExitCode::SUCCESS)
}
