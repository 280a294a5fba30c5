//! `farguard ingest`: event files into the store, idempotently.

use super::Ctx;
use crate::out;
use anyhow::{Context, Result};
use chrono::Utc;
use farguard_sources::{Batch, gdelt};
use farguard_store::{RunRecord, Store};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files to read: GDELT 2.0 event exports (`*.export.CSV`, or `.zip` as published).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Exit non-zero when any record was quarantined (without it, only a
    /// file that cannot be read at all, or reading nothing, fails the run;
    /// what was read from the other files is kept).
    #[arg(long)]
    strict: bool,
}

/// Counts for one file; `read = accepted + duplicates + quarantined`.
#[derive(Debug, Default, Clone, Serialize)]
pub struct IngestCounts {
    pub file: String,
    pub read: u64,
    pub accepted: u64,
    pub duplicates: u64,
    pub quarantined: u64,
    /// Whole-file failure, if the file could not be read at all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Default, Serialize)]
struct Report {
    read: u64,
    accepted: u64,
    duplicates: u64,
    quarantined: u64,
    files: Vec<IngestCounts>,
}

/// Parses one GDELT 2.0 export already in memory and stores it; the step the
/// demo shares with `ingest`.
pub fn ingest_gdelt_bytes(store: &mut dyn Store, name: &str, bytes: &[u8]) -> Result<IngestCounts> {
    let started_at = Utc::now();
    let batch = gdelt::parse_gdelt_v2(name, bytes);
    store_batch(store, name, started_at, batch)
}

fn store_batch(
    store: &mut dyn Store,
    name: &str,
    started_at: chrono::DateTime<Utc>,
    batch: Batch,
) -> Result<IngestCounts> {
    let ins = store
        .insert_events(&batch.events)
        .context("storing events")?;
    store
        .quarantine(&batch.quarantined)
        .context("storing quarantined records")?;
    let counts = IngestCounts {
        file: name.into(),
        read: batch.read,
        accepted: ins.accepted,
        duplicates: ins.duplicates,
        quarantined: batch.quarantined.len() as u64,
        error: None,
    };
    store.record_run(&RunRecord {
        kind: "ingest:gdelt2".into(),
        file: name.into(),
        started_at,
        read: counts.read,
        accepted: counts.accepted,
        duplicates: counts.duplicates,
        quarantined: counts.quarantined,
    })?;
    for q in batch.quarantined.iter().take(5) {
        tracing::warn!(file = %q.file, line = q.line, "quarantined: {}", q.reason);
    }
    Ok(counts)
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let mut store = ctx.store()?;
    let bar = ProgressBar::new(args.files.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} files {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut report = Report::default();
    for path in &args.files {
        let name = path.display().to_string();
        bar.set_message(name.clone());
        let started_at = Utc::now();
        let counts = match gdelt::read_gdelt_v2(path) {
            Ok(batch) => store_batch(store.as_mut(), &name, started_at, batch)?,
            Err(e) => IngestCounts {
                file: name.clone(),
                error: Some(e.to_string()),
                ..Default::default()
            },
        };
        report.read += counts.read;
        report.accepted += counts.accepted;
        report.duplicates += counts.duplicates;
        report.quarantined += counts.quarantined;
        report.files.push(counts);
        bar.inc(1);
    }
    bar.finish_and_clear();
    if ctx.json {
        out::json(&report)?;
    } else {
        for f in &report.files {
            match &f.error {
                Some(e) => eprintln!("error: {e}"),
                None => println!(
                    "{}: read {}, accepted {}, duplicates {}, quarantined {}",
                    f.file, f.read, f.accepted, f.duplicates, f.quarantined
                ),
            }
        }
        if report.files.len() > 1 {
            println!(
                "total: read {}, accepted {}, duplicates {}, quarantined {}",
                report.read, report.accepted, report.duplicates, report.quarantined
            );
        }
        if report.quarantined > 0 {
            println!("see the rejected records with: farguard quarantine list");
        }
    }
    let any_failed = report.files.iter().any(|f| f.error.is_some());
    let nothing_read = report.read == 0;
    Ok(
        if nothing_read || any_failed || (args.strict && report.quarantined > 0) {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        },
    )
}
