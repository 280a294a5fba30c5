//! `farguard sitrep ID`: the situation report of one incident, in Markdown
//! (default) or as printable HTML.

use super::incidents::{load_one, when};
use super::{Ctx, plans};
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Incident id (`farguard incidents list`).
    id: String,
    /// Write self-contained HTML instead of Markdown.
    #[arg(long)]
    html: bool,
    /// Write to this file instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Report as of this time (default now): overdue is judged against it.
    #[arg(long)]
    at: Option<String>,
    /// Plan directory, for goals and SLAs (default: ./config/plans, else the shipped plans).
    #[arg(long)]
    plans: Option<PathBuf>,
}

pub fn run(ctx: &Ctx, a: Args) -> Result<ExitCode> {
    let mut store = ctx.store()?;
    let inc = load_one(&mut *store, &a.id)?;
    let (lib, _, _) = plans::load(a.plans.as_deref())?;
    let now = when(a.at.as_deref())?;
    let plan = lib.get(&inc.plan);
    let text = if a.html {
        farguard_respond::sitrep::html(&inc, plan, now)
    } else {
        farguard_respond::sitrep::markdown(&inc, plan, now)
    };
    match a.out {
        Some(p) => {
            std::fs::write(&p, text).with_context(|| format!("writing {}", p.display()))?;
            eprintln!("wrote {}", p.display());
        }
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
