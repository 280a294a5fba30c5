//! `farguard task ack|done`: a task-force member acknowledges or completes a
//! task. An update from an organisation outside the task force is refused,
//! recorded on the incident's timeline, and exits non-zero.

use super::Ctx;
use super::incidents::{update, when};
use anyhow::Result;
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Acknowledge a task: the organisation has it in hand.
    Ack(Args),
    /// Report a task done (its dependencies must be done first).
    Done(Args),
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Incident id (`farguard incidents list`).
    incident: String,
    /// Task id: the plan step id (`farguard incidents show ID`).
    task: String,
    /// The organisation acting; it must be in the incident's task force.
    #[arg(long)]
    org: String,
    /// When (RFC 3339); default now. Lets drills and back-filled logs keep true times.
    #[arg(long)]
    at: Option<String>,
}

pub fn run(ctx: &Ctx, action: Action) -> Result<ExitCode> {
    match action {
        Action::Ack(a) => {
            let at = when(a.at.as_deref())?;
            update(ctx, &a.incident, |b| {
                b.ack(&a.incident, &a.task, &a.org, at)
            })
        }
        Action::Done(a) => {
            let at = when(a.at.as_deref())?;
            update(ctx, &a.incident, |b| {
                b.done(&a.incident, &a.task, &a.org, at)
            })
        }
    }
}
