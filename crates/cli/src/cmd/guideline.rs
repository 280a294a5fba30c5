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
}

pub fn run(ctx: &Ctx, action: Action) -> Result<ExitCode> {
    let Action::Check { file } = action;
    let res = load_guideline(Some(&file));
    let report = Report {
        file: file.display().to_string(),
        ok: res.is_ok(),
        version: res.as_ref().ok().map(|g| g.version.clone()),
        error: res.as_ref().err().map(|e| format!("{e:#}")),
    };
    if ctx.json {
        out::json(&report)?;
    } else if let Some(e) = &report.error {
        eprintln!("error: {e}");
    } else {
        println!(
            "{}: ok (version {})",
            report.file,
            report.version.clone().unwrap_or_default()
        );
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
