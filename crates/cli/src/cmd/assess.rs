//! `farguard assess`: grade every country × category as of a time.

use super::{Ctx, load_guideline};
use crate::out;
use anyhow::Result;
use chrono::{DateTime, Utc};
use farguard_grade::{Explanation, Guideline};
use farguard_model::{Assessment, Category, Level};
use farguard_store::Store;
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Grade as of this time (RFC 3339, or a date meaning the end of that
    /// day). Defaults to now; stored history is graded as of its own time,
    /// so `--at 2019-10-24` shows what the levels were then.
    #[arg(long)]
    at: Option<String>,
    /// Guideline file (default: the shipped config/guideline.toml).
    #[arg(long)]
    guideline: Option<PathBuf>,
    /// Only this category (security, political, legal, economic, reputation, natural, health).
    #[arg(long)]
    category: Option<String>,
    /// Which area kinds to show: country, admin1, h3, site, or all (every
    /// graded kind is computed and stored either way).
    #[arg(long, default_value = "country")]
    areas: String,
    /// How many rows to print in text mode.
    #[arg(long, default_value_t = 20)]
    limit: usize,
}

/// One graded area × category as printed with `--json`.
#[derive(Debug, Serialize)]
pub struct Row {
    pub area: String,
    pub country: String,
    pub category: String,
    pub level: String,
    pub colour: String,
    pub label_zh: String,
    pub command: String,
    pub trend: String,
    pub score: f64,
    pub explanation: Option<Explanation>,
}

pub fn row(a: &Assessment) -> Row {
    let country = match &a.area {
        farguard_model::Area::Country(c) => c.name().to_string(),
        other => other.to_string(),
    };
    Row {
        area: a.area.to_string(),
        country,
        category: a.category.code().into(),
        level: a.level.code().into(),
        colour: a.level.colour().into(),
        label_zh: a.level.label_zh().into(),
        command: a.level.command().into(),
        trend: a.trend.code().into(),
        score: (a.score * 100.0).round() / 100.0,
        explanation: Explanation::from_json(&a.explanation),
    }
}

/// Grades every area × category as of `at` from the persisted daily
/// aggregates of the guideline's lookback (folding in any event stored
/// since the last fold first) and stores the result.
pub fn grade(store: &mut dyn Store, g: &Guideline, at: DateTime<Utc>) -> Result<Vec<Assessment>> {
    let end = super::risk::end_day(at);
    let (agg, _) = super::risk::aggregator(store, g, end - g.lookback_days() as i32, end, None)?;
    let ext = super::risk::load_external(g)?;
    let rows = agg.grade(g, at, &ext);
    store.save_assessments(&rows)?;
    Ok(rows)
}

/// Prints assessments as text, highest level first, with their reasons.
pub fn print_text(rows: &[Assessment], limit: usize) {
    println!(
        "{:<22} {:<11} {:<10} {:<8} {:>7}  等级",
        "COUNTRY", "CATEGORY", "LEVEL", "TREND", "SCORE"
    );
    for a in rows.iter().take(limit) {
        let r = row(a);
        println!(
            "{:<22} {:<11} {:<10} {:<8} {:>7.2}  {}",
            out::short(&format!("{} ({})", r.country, r.area), 22),
            r.category,
            format!("{} {}", a.level.code(), a.level.colour()),
            r.trend,
            a.score,
            a.level.label_zh()
        );
        if let Some(e) = &r.explanation {
            println!("    why: {}", e.rule);
            if let Some(s) = e.surge.as_ref().filter(|s| s.surge) {
                println!("    surge: {}", s.why);
            }
            for c in e.top.iter().take(2) {
                println!(
                    "      {:>5.2} pts  {}  {}",
                    c.points,
                    c.event,
                    out::short(&c.title, 80)
                );
            }
        }
    }
    if rows.len() > limit {
        println!("… {} more (use --limit or --json)", rows.len() - limit);
    }
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let g = load_guideline(args.guideline.as_deref())?;
    let at = match &args.at {
        Some(s) => out::parse_time(s)?,
        None => Utc::now(),
    };
    let only = args.category.as_deref().map(Category::parse).transpose()?;
    let mut store = ctx.store()?;
    let mut rows = grade(store.as_mut(), &g, at)?;
    if let Some(c) = only {
        rows.retain(|a| a.category == c);
    }
    match args.areas.as_str() {
        "all" => {}
        k @ ("country" | "admin1" | "h3" | "site") => rows.retain(|a| a.area.kind() == k),
        other => anyhow::bail!("--areas {other:?}: expected country, admin1, h3, site or all"),
    }
    if ctx.json {
        out::json(&rows.iter().map(row).collect::<Vec<_>>())?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "risk as of {} (guideline {}, window {} days; `farguard risk explain AREA` for the full why)",
        at.format("%Y-%m-%d %H:%M UTC"),
        g.version,
        g.window_days
    );
    if rows.is_empty() {
        match store.event_time_range()? {
            Some((a, b)) => println!(
                "no events in the {} days before {}; stored events span {} to {}: try --at {}",
                2 * g.window_days,
                at.format("%Y-%m-%d"),
                a.format("%Y-%m-%d"),
                b.format("%Y-%m-%d"),
                b.format("%Y-%m-%d")
            ),
            None => println!("no events stored yet: run `farguard ingest FILE` first"),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let raised = rows.iter().filter(|a| a.level > Level::Normal).count();
    println!(
        "{} area × category pairs graded, {raised} above normal\n",
        rows.len()
    );
    print_text(&rows, args.limit);
    Ok(ExitCode::SUCCESS)
}
