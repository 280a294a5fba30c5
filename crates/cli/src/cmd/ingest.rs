//! `farguard ingest`: event files, directories or stdin into the store, in
//! any format farguard reads (detected from the content unless `--format`
//! says), idempotently, with a progress bar and a summary by source and
//! category.

use super::Ctx;
use crate::out;
use anyhow::{Context, Result};
use chrono::Utc;
use farguard_sources::{Batch, Format, SourceError, detect, gdelt, parse_auto};
use farguard_store::{RunRecord, Store};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files or directories to read (directories: every file inside, in name
    /// order), or `-` for stdin. Plain, `.gz` or `.zip`.
    #[arg(required = true)]
    inputs: Vec<String>,
    /// The format, or `auto` to tell from the content: gdelt2, gdelt1, acled,
    /// cap (alerts and CAP Atom indexes), gdacs, usgs, news (RSS/Atom),
    /// report (field-report JSON).
    #[arg(long, default_value = "auto", value_parser = parse_format)]
    format: FormatArg,
    /// Exit non-zero when any record was quarantined (without it, only a
    /// file that cannot be read at all, or reading nothing, fails the run;
    /// what was read from the other files is kept).
    #[arg(long)]
    strict: bool,
    /// Also publish every stored event to the stage bus (a NATS URL, e.g.
    /// nats://127.0.0.1:4222; subject prefix from FARGUARD_BUS_PREFIX) for
    /// `farguard worker` to grade, expose, respond and notify.
    #[arg(long)]
    bus: Option<String>,
}

/// `auto` or one format.
#[derive(Debug, Clone, Copy)]
pub struct FormatArg(pub Option<Format>);

pub fn parse_format(s: &str) -> Result<FormatArg, String> {
    if s.eq_ignore_ascii_case("auto") {
        return Ok(FormatArg(None));
    }
    Format::parse(s).map(|f| FormatArg(Some(f))).ok_or_else(|| {
        let all: Vec<&str> = Format::ALL.iter().map(|f| f.code()).collect();
        format!(
            "unknown format {s:?}: use auto or one of {}",
            all.join(", ")
        )
    })
}

/// Counts for one file; `read = accepted + duplicates + quarantined`.
#[derive(Debug, Default, Clone, Serialize)]
pub struct IngestCounts {
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    pub read: u64,
    pub accepted: u64,
    pub duplicates: u64,
    pub quarantined: u64,
    /// Events linked into (or moved between) merge clusters by this input.
    #[serde(default)]
    pub merged: u64,
    /// Whole-file failure, if the file could not be read at all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Links the events of a new batch with stored reports of the same hazard
/// or incident (see `farguard_sources::merge` for the windows) and stores
/// the links; returns how many links were new or changed.
pub fn merge_new(store: &mut dyn Store, events: &[farguard_model::Event]) -> Result<u64> {
    use farguard_sources::merge;
    let new: Vec<&farguard_model::Event> = events
        .iter()
        .filter(|e| merge::MERGEABLE.contains(&e.id.source.as_str()))
        .collect();
    let (Some(from), Some(to)) = (
        new.iter().map(|e| e.occurred_at).min(),
        new.iter().map(|e| e.occurred_at).max(),
    ) else {
        return Ok(0);
    };
    let pad = merge::max_window();
    let around: Vec<farguard_model::Event> = store
        .events_between(from - pad, to + pad + chrono::TimeDelta::microseconds(1))
        .context("reading events to merge with")?
        .into_iter()
        .filter(|e| merge::MERGEABLE.contains(&e.id.source.as_str()))
        .collect();
    let links: Vec<farguard_store::MergeLink> = merge::merge(&around)
        .into_iter()
        .map(|l| farguard_store::MergeLink {
            cluster: l.cluster,
            event: l.event,
            reason: l.reason,
        })
        .collect();
    store.save_merges(&links).context("storing merge links")
}

/// Events read (accepted or already stored) per source and category.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub by_source: BTreeMap<String, SourceCounts>,
    pub by_category: BTreeMap<String, u64>,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct SourceCounts {
    pub read: u64,
    pub accepted: u64,
    pub duplicates: u64,
    pub quarantined: u64,
}

#[derive(Debug, Default, Serialize)]
struct Report {
    read: u64,
    accepted: u64,
    duplicates: u64,
    quarantined: u64,
    merged: u64,
    files: Vec<IngestCounts>,
    #[serde(flatten)]
    summary: Summary,
}

/// Parses one GDELT 2.0 export already in memory and stores it; the step the
/// demo shares with `ingest`.
pub fn ingest_gdelt_bytes(store: &mut dyn Store, name: &str, bytes: &[u8]) -> Result<IngestCounts> {
    let started_at = Utc::now();
    let batch = gdelt::parse_gdelt_v2(name, bytes);
    store_batch(store, name, "gdelt2", started_at, batch, None)
}

/// Parses bytes in `format` (or detected) and stores them: the step `watch`,
/// `quarantine retry` and the demo share with `ingest`.
pub fn ingest_bytes(
    store: &mut dyn Store,
    name: &str,
    bytes: &[u8],
    format: Option<Format>,
    summary: Option<&mut Summary>,
) -> Result<IngestCounts, SourceError> {
    let started_at = Utc::now();
    let (f, batch) = parse_auto(name, bytes, format)?;
    store_batch(store, name, f.code(), started_at, batch, summary).map_err(|e| {
        SourceError::Format {
            file: name.to_string(),
            format: "storable batch",
            detail: format!("{e:#}"),
        }
    })
}

pub fn store_batch(
    store: &mut dyn Store,
    name: &str,
    format: &str,
    started_at: chrono::DateTime<Utc>,
    batch: Batch,
    summary: Option<&mut Summary>,
) -> Result<IngestCounts> {
    let ins = store
        .insert_events(&batch.events)
        .context("storing events")?;
    store
        .quarantine(&batch.quarantined)
        .context("storing quarantined records")?;
    let merged = merge_new(store, &batch.events)?;
    // Newly stored events go into the persisted daily risk aggregates
    // (events already stored are not folded again).
    super::risk::fold_pending(store)?;
    let counts = IngestCounts {
        merged,
        file: name.into(),
        format: Some(format.to_string()),
        read: batch.read,
        accepted: ins.accepted,
        duplicates: ins.duplicates,
        quarantined: batch.quarantined.len() as u64,
        error: None,
    };
    store.record_run(&RunRecord {
        kind: format!("ingest:{format}"),
        file: name.into(),
        started_at,
        read: counts.read,
        accepted: counts.accepted,
        duplicates: counts.duplicates,
        quarantined: counts.quarantined,
    })?;
    // Stored, then announced: a no-op unless `--bus` attached a publisher.
    super::worker::announce_stored(&batch.events)?;
    // "No risk signal" is a verdict, not damage: only damage is a warning.
    let damaged = batch
        .quarantined
        .iter()
        .filter(|q| !q.reason.contains("no risk signal"))
        .count();
    if let Some(q) = batch
        .quarantined
        .iter()
        .find(|q| !q.reason.contains("no risk signal"))
    {
        tracing::warn!(file = %q.file, damaged, "quarantined records, first: {}", q.reason);
    }
    if let Some(s) = summary {
        // A file holds one source; split accepted/duplicates by it.
        let source = batch
            .events
            .first()
            .map(|e| e.id.source.clone())
            .or_else(|| batch.quarantined.first().map(|q| q.source.clone()))
            .unwrap_or_else(|| format.to_string());
        let c = s.by_source.entry(source).or_default();
        c.read += counts.read;
        c.accepted += counts.accepted;
        c.duplicates += counts.duplicates;
        c.quarantined += counts.quarantined;
        for e in &batch.events {
            *s.by_category
                .entry(e.category.code().to_string())
                .or_default() += 1;
        }
    }
    Ok(counts)
}

/// One thing to read: a file, or stdin.
enum Input {
    File(PathBuf),
    Stdin,
}

fn read_stdin() -> Result<Vec<u8>, SourceError> {
    let mut buf = Vec::new();
    std::io::stdin()
        .lock()
        .take(detect::MAX_INPUT_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(|cause| SourceError::Read {
            file: "stdin".into(),
            cause,
        })?;
    if buf.len() as u64 > detect::MAX_INPUT_BYTES {
        return Err(SourceError::TooLarge {
            file: "stdin".into(),
            entry: "the input".into(),
            limit: detect::MAX_INPUT_BYTES,
        });
    }
    Ok(buf)
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let _bus = args.bus.as_deref().map(super::worker::attach).transpose()?;
    let mut store = ctx.store()?;
    let mut report = Report::default();
    let mut inputs = Vec::new();
    for i in &args.inputs {
        if i == "-" {
            inputs.push(Input::Stdin);
            continue;
        }
        match detect::expand(Path::new(i)) {
            Ok(files) => inputs.extend(files.into_iter().map(Input::File)),
            Err(e) => report.files.push(IngestCounts {
                file: i.clone(),
                error: Some(e.to_string()),
                ..Default::default()
            }),
        }
    }
    let total_bytes: u64 = inputs
        .iter()
        .map(|i| match i {
            Input::File(p) => std::fs::metadata(p).map_or(0, |m| m.len()),
            Input::Stdin => 0,
        })
        .sum();
    let bar = ProgressBar::new(total_bytes);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {bytes}/{total_bytes} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    for input in inputs {
        let (name, bytes) = match &input {
            Input::Stdin => ("stdin".to_string(), read_stdin()),
            Input::File(p) => (p.display().to_string(), detect::read_file(p)),
        };
        bar.set_message(name.clone());
        let size = bytes.as_ref().map_or(0, |b| b.len() as u64);
        let counts = match bytes.and_then(|b| {
            ingest_bytes(
                store.as_mut(),
                &name,
                &b,
                args.format.0,
                Some(&mut report.summary),
            )
        }) {
            Ok(c) => c,
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
        report.merged += counts.merged;
        report.files.push(counts);
        if matches!(input, Input::File(_)) {
            bar.inc(size);
        }
    }
    bar.finish_and_clear();
    if ctx.json {
        out::json(&report)?;
    } else {
        print_text(&report);
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

fn print_text(report: &Report) {
    for f in &report.files {
        match &f.error {
            Some(e) => eprintln!("error: {e}"),
            None => println!(
                "{} [{}]: read {}, accepted {}, duplicates {}, quarantined {}",
                f.file,
                f.format.as_deref().unwrap_or("?"),
                f.read,
                f.accepted,
                f.duplicates,
                f.quarantined
            ),
        }
    }
    if report.files.len() > 1 {
        println!(
            "total: read {}, accepted {}, duplicates {}, quarantined {}",
            report.read, report.accepted, report.duplicates, report.quarantined
        );
    }
    if !report.summary.by_source.is_empty() {
        println!("by source:");
        for (s, c) in &report.summary.by_source {
            println!(
                "  {s:<8} read {:>7}  accepted {:>7}  duplicates {:>7}  quarantined {:>6}",
                c.read, c.accepted, c.duplicates, c.quarantined
            );
        }
    }
    if !report.summary.by_category.is_empty() {
        println!("events by category (accepted or already stored):");
        for (c, n) in &report.summary.by_category {
            println!("  {c:<11} {n:>7}");
        }
    }
    if report.merged > 0 {
        println!(
            "{} merge links made or updated: see them with farguard merged",
            report.merged
        );
    }
    if report.quarantined > 0 {
        println!("see the rejected records with: farguard quarantine list");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    /// Every shipped real feed (and the field-report example), through
    /// `--format auto`: counts add up, and a second ingest accepts nothing.
    fn every_feed_twice(store: &mut dyn Store) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut files = detect::expand(&root.join("data/feeds")).unwrap();
        files.push(root.join("data/gdelt/20191024143000.export.CSV"));
        files.push(root.join("crates/sources/examples/field-reports.json"));
        files.extend(detect::expand(&root.join("crates/sources/tests/data/news")).unwrap());
        if let Some(dir) = std::env::var_os("FARGUARD_ACLED_DIR").filter(|d| !d.is_empty()) {
            files.extend(detect::expand(Path::new(&dir)).unwrap());
        }
        let ingest_all = |store: &mut dyn Store| -> Vec<IngestCounts> {
            files
                .iter()
                .map(|p| {
                    let bytes = detect::read_file(p).unwrap();
                    ingest_bytes(store, &p.display().to_string(), &bytes, None, None).unwrap()
                })
                .collect()
        };
        let first = ingest_all(store);
        for c in &first {
            assert_eq!(c.read, c.accepted + c.duplicates + c.quarantined, "{c:?}");
        }
        assert!(first.iter().map(|c| c.accepted).sum::<u64>() > 4000);
        let second = ingest_all(store);
        for (a, b) in first.iter().zip(&second) {
            assert_eq!(b.accepted, 0, "re-ingest accepts nothing: {b:?}");
            assert_eq!((b.read, b.quarantined), (a.read, a.quarantined), "{b:?}");
            assert_eq!(b.duplicates, a.accepted + a.duplicates, "{b:?}");
        }
    }

    #[test]
    fn every_real_feed_reingests_as_duplicates_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = farguard_store::SqliteStore::open(dir.path().join("t.db")).unwrap();
        every_feed_twice(&mut store);
    }

    #[test]
    fn every_real_feed_reingests_as_duplicates_postgres() {
        let Some(url) = std::env::var("FARGUARD_TEST_PG")
            .ok()
            .filter(|u| !u.is_empty())
        else {
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "CI=true but FARGUARD_TEST_PG is not set"
            );
            let _ = writeln!(
                std::io::stderr(),
                "SKIP postgres re-ingest test: FARGUARD_TEST_PG not set"
            );
            return;
        };
        let schema = format!("fg_ingest_{}", std::process::id());
        let mut store = farguard_store::PgStore::connect(&url, Some(&schema)).unwrap();
        every_feed_twice(&mut store);
        drop(store);
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        c.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
            .unwrap();
    }
}
