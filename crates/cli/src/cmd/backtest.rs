//! `farguard backtest`: replay stored history day by day under a guideline
//! and report the level changes and alerts it would have raised, and how
//! early it reached level II for a list of known crises.

use super::{Ctx, load_guideline};
use crate::cmd::risk::load_external;
use crate::out;
use anyhow::{Context, Result, bail};
use chrono::{Duration, NaiveDate};
use farguard_grade::backtest::{self, Crisis, Options};
use farguard_grade::day_of;
use farguard_model::{Category, CountryCode, Level};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  farguard backtest --from 2015-01-01 --to 2015-12-31 --crises config/crises.csv
  farguard backtest --guideline my-guideline.toml --from 2019-10-01 --to 2019-10-31 --json

Each day is graded as of its end from the events stored before it, exactly as
`farguard assess --at DAY` would. An alert is a raise of an area × category to
--alert-level or above, unless it comes within --cooldown-days of that area ×
category's previous alert (then it is a repeat). For each crisis (country,
date, category) the replay reports the first day in the 60 days before (or
14 after) the date when the country reached that level: caught N days early,
late, missed, or no data; a quiet control (a row with `until`) reports its
days at that level (false alarms).")]
pub struct Args {
    /// Guideline file (default: the shipped config/guideline.toml).
    #[arg(long)]
    guideline: Option<PathBuf>,
    /// First day replayed (YYYY-MM-DD).
    #[arg(long)]
    from: String,
    /// Last day replayed (YYYY-MM-DD).
    #[arg(long)]
    to: String,
    /// Known crises: CSV with country,date,category,name,source.
    #[arg(long)]
    crises: Option<PathBuf>,
    /// The level a raise must reach to count as an alert.
    #[arg(long, default_value = "II")]
    alert_level: String,
    /// A raise to the alert level within this many days of the same area ×
    /// category's previous alert is counted as a repeat, not a new alert.
    #[arg(long, default_value_t = 7)]
    cooldown_days: i64,
}

/// Reads the crises list; a bad row names its line and field.
pub fn read_crises(path: &Path) -> Result<Vec<Crisis>> {
    let name = path.display().to_string();
    let mut r = csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .from_path(path)
        .with_context(|| format!("reading {name}"))?;
    let h = r
        .headers()
        .with_context(|| format!("{name}: header"))?
        .clone();
    let col = |c: &str| {
        h.iter().position(|x| x == c).with_context(|| {
            format!("{name}: no `{c}` column (need country,date,category,name,source)")
        })
    };
    let (ci, di, ki, ni, si) = (
        col("country")?,
        col("date")?,
        col("category")?,
        col("name")?,
        col("source")?,
    );
    // Optional: the last day of a quiet control period.
    let ui = h.iter().position(|x| x == "until");
    let mut out = Vec::new();
    for rec in r.records() {
        let rec = rec.with_context(|| format!("{name}: unreadable row"))?;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let f = |i: usize| rec.get(i).unwrap_or_default().trim().to_string();
        let country =
            CountryCode::parse(&f(ci)).with_context(|| format!("{name}:{line}: country"))?;
        let date = NaiveDate::parse_from_str(&f(di), "%Y-%m-%d").with_context(|| {
            format!("{name}:{line}: date: expected YYYY-MM-DD, got {:?}", f(di))
        })?;
        let category =
            Category::parse(&f(ki)).with_context(|| format!("{name}:{line}: category"))?;
        if f(si).is_empty() {
            bail!("{name}:{line}: source: every crisis needs a source");
        }
        let until = match ui.map(f).filter(|u| !u.is_empty()) {
            None => None,
            Some(u) => {
                let u = NaiveDate::parse_from_str(&u, "%Y-%m-%d").with_context(|| {
                    format!("{name}:{line}: until: expected YYYY-MM-DD or empty, got {u:?}")
                })?;
                if u < date {
                    bail!("{name}:{line}: until: {u} is before date {date}");
                }
                Some(u)
            }
        };
        out.push(Crisis {
            country,
            date,
            category,
            name: f(ni),
            source: f(si),
            until,
        });
    }
    Ok(out)
}

#[derive(Debug, Serialize)]
struct CountsOut {
    area_kind: String,
    level_changes: u64,
    raises: u64,
    alerts: u64,
    repeats: u64,
}

#[derive(Debug, Serialize)]
struct AlertOut {
    day: String,
    area: String,
    category: String,
    from: String,
    to: String,
}

#[derive(Debug, Serialize)]
struct CrisisOut {
    country: String,
    date: String,
    category: String,
    name: String,
    source: String,
    status: String,
    first_alert: Option<String>,
    days_early: Option<i64>,
    max_level: String,
    days_with_data: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    until: Option<String>,
    control_days: u32,
    alert_days: u32,
}

#[derive(Debug, Serialize)]
struct ReportOut {
    guideline: String,
    from: String,
    to: String,
    days: u32,
    events_replayed: u64,
    alert_level: String,
    counts: Vec<CountsOut>,
    alerts: Vec<AlertOut>,
    alerts_by_day: Vec<(String, u64)>,
    crises: Vec<CrisisOut>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let g = load_guideline(args.guideline.as_deref())?;
    let day = |s: &str, flag: &str| {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .with_context(|| format!("--{flag} {s:?}: expected a date such as 2015-03-01"))
    };
    let (from, to) = (day(&args.from, "from")?, day(&args.to, "to")?);
    if to < from {
        bail!("--to {to} is before --from {from}");
    }
    let alert_level = Level::parse(&args.alert_level)?;
    if alert_level == Level::Normal {
        bail!("--alert-level must be IV, III, II or I");
    }
    let crises = match &args.crises {
        Some(p) => read_crises(p)?,
        None => Vec::new(),
    };
    if args.cooldown_days < 0 {
        bail!("--cooldown-days must be 0 or more");
    }
    let opt = Options {
        alert_level,
        cooldown_days: args.cooldown_days,
        ..Options::default()
    };
    let mut store = ctx.store()?;
    let start = |d: NaiveDate| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let load_from = start(from) - Duration::days(g.lookback_days() + opt.lead_days);
    let load_to = start(to) + Duration::days(1 + opt.grace_days);
    let bar = indicatif::ProgressBar::new_spinner();
    if ctx.json {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_message("loading the daily risk aggregates");
    let (agg, _) =
        super::risk::aggregator(store.as_mut(), &g, day_of(load_from), day_of(load_to), None)?;
    let ext = load_external(&g)?;
    let replayed: u64 = agg.coverage().map(|(_, n)| n).sum();
    bar.set_message(format!(
        "replaying {} days over {} events",
        backtest::span_days(from, to),
        replayed
    ));
    let r = backtest::run(&g, &agg, &ext, from, to, &crises, opt);
    bar.finish_and_clear();
    let report = ReportOut {
        guideline: g.version.clone(),
        from: from.to_string(),
        to: to.to_string(),
        days: r.days,
        events_replayed: replayed,
        alert_level: alert_level.code().into(),
        counts: r
            .counts
            .iter()
            .map(|(k, c)| CountsOut {
                area_kind: (*k).into(),
                level_changes: c.level_changes,
                raises: c.raises,
                alerts: c.alerts,
                repeats: c.repeats,
            })
            .collect(),
        alerts: r
            .alerts
            .iter()
            .map(|(d, a, c, f, t)| AlertOut {
                day: d.to_string(),
                area: a.to_string(),
                category: c.code().into(),
                from: f.code().into(),
                to: t.code().into(),
            })
            .collect(),
        alerts_by_day: r
            .alerts_by_day
            .iter()
            .map(|(d, n)| (d.to_string(), *n))
            .collect(),
        crises: r
            .crises
            .iter()
            .map(|c| CrisisOut {
                country: c.crisis.country.to_string(),
                date: c.crisis.date.to_string(),
                category: c.crisis.category.code().into(),
                name: c.crisis.name.clone(),
                source: c.crisis.source.clone(),
                status: c.status.into(),
                first_alert: c.first_alert.map(|d| d.to_string()),
                days_early: c.days_early,
                max_level: c.max_level.code().into(),
                days_with_data: c.days_with_data,
                until: c.crisis.until.map(|u| u.to_string()),
                control_days: c.control_days,
                alert_days: c.alert_days,
            })
            .collect(),
    };
    if ctx.json {
        out::json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "backtest of guideline {} from {} to {} ({} days, {} stored events replayed); alert = a raise to level {} or above",
        report.guideline,
        report.from,
        report.to,
        report.days,
        report.events_replayed,
        report.alert_level
    );
    if report.events_replayed == 0 {
        match store.event_time_range()? {
            Some((a, b)) => println!(
                "no stored events in that range; stored events span {} to {}",
                a.format("%Y-%m-%d"),
                b.format("%Y-%m-%d")
            ),
            None => println!("no events stored yet: run `farguard ingest FILE` first"),
        }
    }
    println!(
        "\n{:<10} {:>14} {:>8} {:>8} {:>8}",
        "AREA KIND", "LEVEL CHANGES", "RAISES", "ALERTS", "REPEATS"
    );
    for c in &report.counts {
        println!(
            "{:<10} {:>14} {:>8} {:>8} {:>8}",
            c.area_kind, c.level_changes, c.raises, c.alerts, c.repeats
        );
    }
    println!(
        "(a repeat is a raise to level {} within {} days of the same area's previous alert)",
        report.alert_level, opt.cooldown_days
    );
    if !report.alerts.is_empty() {
        println!("\nfirst country alerts:");
        for a in report.alerts.iter().take(15) {
            println!(
                "  {}  {:<4} {:<11} {} → {}",
                a.day, a.area, a.category, a.from, a.to
            );
        }
        if report.alerts.len() > 15 {
            println!("  … {} more (--json for all)", report.alerts.len() - 15);
        }
    }
    let (controls, crises): (Vec<&CrisisOut>, Vec<&CrisisOut>) =
        report.crises.iter().partition(|c| c.until.is_some());
    if !crises.is_empty() {
        let caught = crises.iter().filter(|c| c.status == "caught").count();
        let tested = crises
            .iter()
            .filter(|c| !matches!(c.status.as_str(), "outside range" | "no data"))
            .count();
        println!(
            "\nknown crises (level {} within 60 days before the date): {caught} caught of {tested} with data",
            report.alert_level
        );
        for c in &crises {
            let how = match (c.status.as_str(), c.days_early) {
                ("caught", Some(d)) => format!(
                    "caught {d} days early (first {})",
                    c.first_alert.clone().unwrap_or_default()
                ),
                ("late", Some(d)) => format!("late by {} days", -d),
                (s, _) => s.to_string(),
            };
            println!(
                "  {} {} {:<10} {:<34} max {:<3} {}",
                c.date,
                c.country,
                c.category,
                out::short(&c.name, 34),
                c.max_level,
                how
            );
        }
    }
    if !controls.is_empty() {
        let (days, alert_days): (u32, u32) = controls
            .iter()
            .filter(|c| c.status != "outside range")
            .fold((0, 0), |a, c| (a.0 + c.control_days, a.1 + c.alert_days));
        println!(
            "\nquiet controls: {alert_days} of {days} control days at level {} or above (false-alarm rate {:.1}%)",
            report.alert_level,
            if days > 0 {
                100.0 * f64::from(alert_days) / f64::from(days)
            } else {
                0.0
            }
        );
        for c in &controls {
            println!(
                "  {} … {} {} {:<10} {:<34} max {:<3} {} ({} of {} days)",
                c.date,
                c.until.as_deref().unwrap_or(""),
                c.country,
                c.category,
                out::short(&c.name, 34),
                c.max_level,
                c.status,
                c.alert_days,
                c.control_days
            );
        }
    }
    let years = f64::from(report.days) / 365.0;
    let mut per_country: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
    for a in &report.alerts {
        *per_country.entry(a.area.as_str()).or_default() += 1;
    }
    if !per_country.is_empty() && years > 0.0 {
        let parts: Vec<String> = per_country
            .iter()
            .map(|(c, n)| format!("{c} {:.1}", *n as f64 / years))
            .collect();
        println!("\ncountry alerts per country-year: {}", parts.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}
