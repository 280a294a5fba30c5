//! `farguard guideline check FILE`.

use super::{Ctx, load_guideline};
use crate::out;
use anyhow::Result;
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Validate a guideline file; errors name the key and the rule broken.
    Check { file: PathBuf },
}

#[derive(Debug, Serialize)]
struct Report {
    file: String,
    ok: bool,
    version: Option<String>,
    error: Option<String>,
    /// Area kinds graded (`h3@5` names the H3 resolution).
    areas: Vec<String>,
    /// True when its aggregation rules are the shipped guideline's, so
    /// grading with it reads the persisted daily aggregates; otherwise the
    /// stored events of its lookback are aggregated in memory.
    same_aggregates_as_shipped: Option<bool>,
}

pub fn run(ctx: &Ctx, action: Action) -> Result<ExitCode> {
    let Action::Check { file } = action;
    let res = load_guideline(Some(&file));
    let report = Report {
        file: file.display().to_string(),
        ok: res.is_ok(),
        version: res.as_ref().ok().map(|g| g.version.clone()),
        error: res.as_ref().err().map(|e| format!("{e:#}")),
        areas: res
            .as_ref()
            .map(|g| {
                farguard_grade::AREA_KINDS
                    .iter()
                    .filter(|k| g.grades(k))
                    .map(|k| match (*k, g.h3_resolution()) {
                        ("h3", Some(r)) => format!("h3@{r}"),
                        (k, _) => k.to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        same_aggregates_as_shipped: res.as_ref().ok().map(|g| {
            farguard_grade::Guideline::default_shipped()
                .is_ok_and(|s| s.aggregation_spec() == g.aggregation_spec())
        }),
    };
    if ctx.json {
        out::json(&report)?;
    } else if let Some(e) = &report.error {
        eprintln!("error: {e}");
    } else {
        println!(
            "{}: ok (version {}; grades {}; {})",
            report.file,
            report.version.clone().unwrap_or_default(),
            report.areas.join(", "),
            if report.same_aggregates_as_shipped == Some(true) {
                "aggregation rules as shipped: grading reads the persisted daily aggregates"
            } else {
                "aggregation rules differ from the shipped guideline's: grading aggregates stored events in memory"
            }
        );
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
