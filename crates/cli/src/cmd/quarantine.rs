//! `farguard quarantine list|show|retry`: what could not be read, where and
//! why — and reading it again once the rules, the code or the bytes changed.

use super::Ctx;
use super::ingest::merge_new;
use crate::out;
use anyhow::{Context, Result, bail};
use farguard_sources::retry;
use farguard_store::QuarantineRow;
use serde::Serialize;
use std::io::BufRead;
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// List quarantined records, newest first.
    List {
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// One record in full: source, file, line, reason and every raw byte
    /// (text as is; other bytes escaped).
    Show {
        /// The record's id (the `#N` of `quarantine list`).
        id: i64,
    },
    /// Read records again (after the rules or the code changed, or after
    /// fixing the source): a record that now reads is stored as events and
    /// leaves the quarantine; one that still fails stays, with today's reason
    /// printed. ACLED records are re-read with their file's header line.
    Retry {
        /// Record ids; with --all, every record (up to --limit).
        ids: Vec<i64>,
        #[arg(long)]
        all: bool,
        #[arg(long, default_value_t = 10_000)]
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
    raw_bytes: usize,
}

fn row(q: QuarantineRow) -> Row {
    let raw_bytes = q.record.raw.len();
    Row {
        id: q.id,
        at: q.at.to_rfc3339(),
        source: q.record.source,
        file: q.record.file,
        line: q.record.line,
        reason: q.record.reason,
        raw: match String::from_utf8(q.record.raw) {
            Ok(s) => s,
            Err(e) => e.into_bytes().escape_ascii().to_string(),
        },
        raw_bytes,
    }
}

#[derive(Debug, Serialize)]
struct RetryOutcome {
    id: i64,
    /// `stored` (read, events stored, record dropped), `still quarantined`,
    /// or `missing`.
    outcome: &'static str,
    events: u64,
    accepted: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// The header line of an ACLED file, if the file is still readable.
fn header_of(file: &str) -> Option<Vec<u8>> {
    let f = std::fs::File::open(file).ok()?;
    let mut line = Vec::new();
    std::io::BufReader::new(f)
        .read_until(b'\n', &mut line)
        .ok()?;
    while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        line.pop();
    }
    Some(line)
}

pub fn run(ctx: &Ctx, action: Action) -> Result<ExitCode> {
    let mut store = ctx.store()?;
    match action {
        Action::List { limit } => {
            let rows: Vec<Row> = store.quarantined(limit)?.into_iter().map(row).collect();
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
                println!("see one in full with: farguard quarantine show ID");
            }
            Ok(ExitCode::SUCCESS)
        }
        Action::Show { id } => {
            let Some(q) = store.quarantine_row(id)? else {
                bail!("no quarantine record #{id}: list them with farguard quarantine list");
            };
            let r = row(q);
            if ctx.json {
                out::json(&r)?;
            } else {
                println!("#{} quarantined {}", r.id, r.at);
                println!("source: {}", r.source);
                println!("file:   {}", r.file);
                println!(
                    "line:   {}{}",
                    r.line,
                    if r.line == 0 {
                        " (the whole input)"
                    } else {
                        ""
                    }
                );
                println!("reason: {}", r.reason);
                println!("raw ({} bytes):", r.raw_bytes);
                println!("{}", r.raw);
            }
            Ok(ExitCode::SUCCESS)
        }
        Action::Retry { ids, all, limit } => {
            let rows: Vec<QuarantineRow> = if all {
                store.quarantined(limit)?
            } else {
                if ids.is_empty() {
                    bail!("name record ids (from farguard quarantine list) or pass --all");
                }
                let mut v = Vec::new();
                for id in &ids {
                    match store.quarantine_row(*id)? {
                        Some(q) => v.push(q),
                        None => bail!("no quarantine record #{id}"),
                    }
                }
                v
            };
            let mut outcomes = Vec::new();
            for q in rows {
                let r = &q.record;
                let header = (r.source == "acled" && r.line > 0)
                    .then(|| header_of(&r.file))
                    .flatten();
                let batch = retry::retry(&r.source, &r.file, r.line, &r.raw, header.as_deref());
                let outcome = match batch {
                    Ok(b) if !b.events.is_empty() && b.quarantined.is_empty() => {
                        let ins = store
                            .insert_events(&b.events)
                            .context("storing retried events")?;
                        merge_new(store.as_mut(), &b.events)?;
                        store.drop_quarantined(q.id)?;
                        RetryOutcome {
                            id: q.id,
                            outcome: "stored",
                            events: b.events.len() as u64,
                            accepted: ins.accepted,
                            reason: None,
                        }
                    }
                    Ok(b) => RetryOutcome {
                        id: q.id,
                        outcome: "still quarantined",
                        events: 0,
                        accepted: 0,
                        reason: Some(b.quarantined.first().map_or_else(
                            || "the record holds no event".to_string(),
                            |x| x.reason.clone(),
                        )),
                    },
                    Err(why) => RetryOutcome {
                        id: q.id,
                        outcome: "still quarantined",
                        events: 0,
                        accepted: 0,
                        reason: Some(why),
                    },
                };
                outcomes.push(outcome);
            }
            if ctx.json {
                out::json(&outcomes)?;
            } else {
                for o in &outcomes {
                    match &o.reason {
                        None => println!(
                            "#{}: {} ({} events, {} new)",
                            o.id, o.outcome, o.events, o.accepted
                        ),
                        Some(why) => println!("#{}: {}: {why}", o.id, o.outcome),
                    }
                }
                let stored = outcomes.iter().filter(|o| o.outcome == "stored").count();
                println!("{stored} of {} records read now", outcomes.len());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
