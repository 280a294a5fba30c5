//! `farguard quarantine list`: what could not be read, where, and why.

use super::Ctx;
use crate::out;
use anyhow::Result;
use serde::Serialize;
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// List quarantined records, newest first.
    List {
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

#[derive(Debug, Serialize)]
struct Row {
    id: i64,
    at: String,
    source: String,
    file: String,
    line: u64,
    reason: String,
    raw: String,
}

pub fn run(ctx: &Ctx, action: Action) -> Result<ExitCode> {
    let Action::List { limit } = action;
    let mut store = ctx.store()?;
    let rows: Vec<Row> = store
        .quarantined(limit)?
        .into_iter()
        .map(|q| Row {
            id: q.id,
            at: q.at.to_rfc3339(),
            source: q.record.source,
            file: q.record.file,
            line: q.record.line,
            reason: q.record.reason,
            raw: String::from_utf8_lossy(&q.record.raw).into_owned(),
        })
        .collect();
    if ctx.json {
        out::json(&rows)?;
    } else if rows.is_empty() {
        println!("quarantine is empty");
    } else {
        for r in &rows {
            println!(
                "#{} {}:{} [{}] {}",
                r.id, r.file, r.line, r.source, r.reason
            );
            println!("    raw: {}", out::short(&r.raw, 120));
        }
    }
    Ok(ExitCode::SUCCESS)
}
