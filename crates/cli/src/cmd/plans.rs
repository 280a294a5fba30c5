//! `farguard plans check DIR`: validate response plan files, each problem
//! named by file, line and key; and the plan loading every respond command
//! shares (a directory, or the shipped library compiled in).

use super::Ctx;
use crate::out;
use anyhow::{Context, Result};
use farguard_respond::{Library, LoadReport, Plan};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The shipped plan library (`config/plans/`), compiled in so the binary
/// works from any directory.
pub const SHIPPED: &[(&str, &str)] = &[
    (
        "config/plans/economic-capital-controls.toml",
        include_str!("../../../../config/plans/economic-capital-controls.toml"),
    ),
    (
        "config/plans/health-epidemic.toml",
        include_str!("../../../../config/plans/health-epidemic.toml"),
    ),
    (
        "config/plans/legal-asset-freeze.toml",
        include_str!("../../../../config/plans/legal-asset-freeze.toml"),
    ),
    (
        "config/plans/natural-earthquake-flood.toml",
        include_str!("../../../../config/plans/natural-earthquake-flood.toml"),
    ),
    (
        "config/plans/political-consular-support.toml",
        include_str!("../../../../config/plans/political-consular-support.toml"),
    ),
    (
        "config/plans/reputation-crisis-communication.toml",
        include_str!("../../../../config/plans/reputation-crisis-communication.toml"),
    ),
    (
        "config/plans/security-evacuation.toml",
        include_str!("../../../../config/plans/security-evacuation.toml"),
    ),
    (
        "config/plans/security-protective-measures.toml",
        include_str!("../../../../config/plans/security-protective-measures.toml"),
    ),
];

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Validate every *.toml plan in a directory (default: config/plans).
    ///
    /// Each problem is printed as `file:line: key: what is wrong`, e.g. a
    /// cycle in the steps, an owner role not in the task force, a negative
    /// due offset or an unknown category. A file with problems is left out
    /// and the others load, so plans already in force stay in force. Exits
    /// non-zero when any file has a problem.
    Check {
        /// Directory of plan files.
        dir: Option<PathBuf>,
    },
}

/// Reads every `*.toml` in `dir`, sorted by name.
pub fn read_dir(dir: &Path) -> Result<Vec<(String, String)>> {
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir)
        .with_context(|| format!("reading plan directory {}", dir.display()))?
    {
        let p = e
            .with_context(|| format!("reading plan directory {}", dir.display()))?
            .path();
        if p.extension().is_some_and(|x| x == "toml") {
            let text = std::fs::read_to_string(&p)
                .with_context(|| format!("reading plan {}", p.display()))?;
            files.push((p.display().to_string(), text));
        }
    }
    files.sort();
    Ok(files)
}

/// Plans from `--plans DIR`, else `./config/plans` when present, else the
/// shipped library. Problems are reported on stderr; valid plans load.
pub fn load(dir: Option<&Path>) -> Result<(Library, LoadReport, String)> {
    let default = Path::new("config/plans");
    let (files, from): (Vec<(String, String)>, String) = match dir {
        Some(d) => (read_dir(d)?, d.display().to_string()),
        None if default.is_dir() => (read_dir(default)?, default.display().to_string()),
        None => (
            SHIPPED
                .iter()
                .map(|(n, t)| (n.to_string(), t.to_string()))
                .collect(),
            "the shipped plan library".to_string(),
        ),
    };
    let (lib, report) = Library::load(files.iter().map(|(n, t)| (n.as_str(), t.as_str())));
    for e in &report.errors {
        eprintln!("warning: plan not loaded: {e}");
    }
    Ok((lib, report, from))
}

#[derive(Debug, Serialize)]
struct PlanRow {
    id: String,
    version: String,
    file: String,
    title: String,
    categories: Vec<String>,
    min_level: String,
    lead_agency: String,
    roles: usize,
    steps: usize,
    goals: usize,
}

fn plan_row(p: &Plan) -> PlanRow {
    PlanRow {
        id: p.id.clone(),
        version: p.version.clone(),
        file: p.file.clone(),
        title: p.title.clone(),
        categories: p
            .trigger
            .categories
            .iter()
            .map(|c| c.code().to_string())
            .collect(),
        min_level: p.trigger.min_level.code().into(),
        lead_agency: p.lead_agency.clone(),
        roles: p.task_force.len(),
        steps: p.steps.len(),
        goals: p.goals.len(),
    }
}

#[derive(Debug, Serialize)]
struct CheckReport {
    dir: String,
    plans: Vec<PlanRow>,
    errors: Vec<ErrorRow>,
}

#[derive(Debug, Serialize)]
pub struct ErrorRow {
    pub file: String,
    pub line: usize,
    pub key: String,
    pub message: String,
}

pub fn error_rows(errors: &[farguard_respond::FileError]) -> Vec<ErrorRow> {
    errors
        .iter()
        .map(|e| ErrorRow {
            file: e.file.clone(),
            line: e.line,
            key: e.key.clone(),
            message: e.message.clone(),
        })
        .collect()
}

pub fn run(ctx: &Ctx, action: Action) -> Result<ExitCode> {
    let Action::Check { dir } = action;
    let dir = dir.unwrap_or_else(|| PathBuf::from("config/plans"));
    let files = read_dir(&dir)?;
    if files.is_empty() {
        anyhow::bail!("{} holds no *.toml plan files", dir.display());
    }
    let (lib, report) = Library::load(files.iter().map(|(n, t)| (n.as_str(), t.as_str())));
    let rep = CheckReport {
        dir: dir.display().to_string(),
        plans: lib.plans().iter().map(plan_row).collect(),
        errors: error_rows(&report.errors),
    };
    if ctx.json {
        out::json(&rep)?;
    } else {
        for p in &rep.plans {
            println!(
                "ok    {:<34} v{:<8} {:<22} from level {:<3} lead {:<20} {} roles, {} steps, {} goals",
                p.id,
                p.version,
                p.categories.join(","),
                p.min_level,
                p.lead_agency,
                p.roles,
                p.steps,
                p.goals
            );
        }
        for e in &report.errors {
            println!("error {e}");
        }
        println!(
            "{} plan(s) valid, {} problem(s) in {} file(s)",
            rep.plans.len(),
            report.errors.len(),
            files.len()
        );
    }
    Ok(if report.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compiled_in_library_is_the_shipped_directory() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/plans");
        let on_disk = read_dir(&dir).unwrap();
        assert_eq!(
            on_disk.len(),
            SHIPPED.len(),
            "add new plan files to SHIPPED"
        );
        for ((_, text), (_, shipped)) in on_disk.iter().zip(SHIPPED) {
            assert_eq!(text, shipped);
        }
        let (lib, report) = Library::load(SHIPPED.iter().copied());
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        assert_eq!(lib.len(), SHIPPED.len());
    }
}

#[cfg(test)]
mod check_tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_bad_file_is_named_and_the_good_ones_still_load() {
        let dir = tempfile::tempdir().unwrap();
        let good = SHIPPED[4].1;
        std::fs::write(dir.path().join("good.toml"), good).unwrap();
        let bad = SHIPPED[6].1.replace("due = \"8h\"", "due = \"-8h\"");
        std::fs::write(dir.path().join("bad.toml"), &bad).unwrap();
        let (lib, report, _) = load(Some(dir.path())).unwrap();
        assert_eq!(lib.len(), 1);
        let rows = error_rows(&report.errors);
        assert_eq!(rows.len(), 1);
        assert!(rows[0].file.ends_with("bad.toml"));
        assert_eq!(rows[0].key, "steps.transport_plan.due");
        let line = bad.lines().position(|l| l.contains("\"-8h\"")).unwrap() + 1;
        assert_eq!(rows[0].line, line);
    }
}
