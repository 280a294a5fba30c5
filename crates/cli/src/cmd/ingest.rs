//! `farguard ingest`: event files, directories or stdin into the store, in
//! any format farguard reads (detected from the content unless `--format`
//! says), idempotently, with a progress bar and a summary by source and
//! category. A GDELT 2.0 export is parsed on a second thread in chunks,
//! each stored, merged and folded into the daily risk aggregates while the
//! next is parsed.

use super::Ctx;
use super::risk::{Folder, Pass};
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
use std::time::Instant;

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
    /// Where the time went (not reported).
    #[serde(skip)]
    pub phases: Phases,
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

/// Records per chunk when a GDELT 2.0 export is ingested: a parse thread
/// hands chunks of this many records to the store thread, which stores each
/// in one transaction and folds it (the fold reads a chunk in one pass).
pub const CHUNK_ROWS: usize = super::risk::FOLD_CHUNK;

/// Records in the first chunk: the store thread waits for it, so it is
/// small; each next chunk is twice the one before, up to [`CHUNK_ROWS`].
const FIRST_CHUNK_ROWS: usize = 8_192;

/// Where the store thread's time went, per step (the parse thread's own
/// time overlaps them; `waiting` is the store thread waiting for a chunk).
#[derive(Debug, Default, Clone, Copy)]
pub struct Phases {
    pub waiting: std::time::Duration,
    pub insert: std::time::Duration,
    pub quarantine: std::time::Duration,
    pub merge: std::time::Duration,
    pub fold: std::time::Duration,
    pub record: std::time::Duration,
    pub chunks: u32,
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
    store_batch(store, name, f.code(), started_at, batch, summary).map_err(|e| unstorable(name, e))
}

fn unstorable(name: &str, e: anyhow::Error) -> SourceError {
    SourceError::Format {
        file: name.to_string(),
        format: "storable batch",
        detail: format!("{e:#}"),
    }
}

/// Reads one input in `format` (or detected) into the store, merged and
/// folded, under the fold rules `folder` holds: what `ingest` does per file
/// (and `bench ingest` times). A GDELT 2.0 export is parsed on a second
/// thread, [`CHUNK_ROWS`] records at a time, while this thread stores each
/// chunk in one transaction, merges and folds it; `progress` hears the
/// fraction of the input read after each chunk.
///
/// An interrupted ingest leaves whole chunks stored (each one durable on
/// its own) and the events of the last one perhaps not folded yet: the next
/// fold (of any ingest or grading) folds them, and ingesting the file again
/// stores the rest, the stored chunks counting as duplicates.
pub fn ingest_input(
    store: &mut dyn Store,
    folder: &mut Folder,
    name: &str,
    bytes: &[u8],
    format: Option<Format>,
    summary: Option<&mut Summary>,
    progress: &mut dyn FnMut(f64),
) -> Result<IngestCounts, SourceError> {
    ingest_in_chunks(
        store, folder, name, bytes, format, summary, progress, CHUNK_ROWS,
    )
}

/// [`ingest_input`] with GDELT 2.0 chunks of `rows` records.
#[allow(clippy::too_many_arguments)]
fn ingest_in_chunks(
    store: &mut dyn Store,
    folder: &mut Folder,
    name: &str,
    bytes: &[u8],
    format: Option<Format>,
    summary: Option<&mut Summary>,
    progress: &mut dyn FnMut(f64),
    rows: usize,
) -> Result<IngestCounts, SourceError> {
    let started_at = Utc::now();
    let data = detect::unpack_any(name, bytes)?;
    let f = match format {
        Some(f) => f,
        None => detect::detect(&data).map_err(|detail| SourceError::Format {
            file: name.to_string(),
            format: "known feed",
            detail,
        })?,
    };
    let mut tally = Tally::new(name, f.code(), started_at);
    if f == Format::GdeltV2 {
        store_chunks(store, folder, name, &data, rows, &mut tally, progress)
            .map_err(|e| unstorable(name, e))?;
    } else {
        let batch = f.parse_bytes(name, &data);
        tally
            .store(store, folder, &batch)
            .map_err(|e| unstorable(name, e))?;
        progress(1.0);
    }
    tally
        .finish(store, summary)
        .map_err(|e| unstorable(name, e))
}

/// Parses a GDELT 2.0 text in chunks on a second thread while this one
/// stores them (two chunks in flight: one being stored, one parsed ahead).
fn store_chunks(
    store: &mut dyn Store,
    folder: &mut Folder,
    name: &str,
    text: &[u8],
    rows: usize,
    tally: &mut Tally,
    progress: &mut dyn FnMut(f64),
) -> Result<()> {
    // The parse thread also finds each chunk's areas and touches for the
    // fold (it has time to spare; the store thread has not).
    let prepare = folder.preparer();
    let (tx, rx) = std::sync::mpsc::sync_channel::<(Batch, usize, Pass)>(1);
    std::thread::scope(|s| {
        s.spawn(move || {
            let first = rows.min(FIRST_CHUNK_ROWS);
            gdelt::parse_gdelt_v2_text_chunked(name, text, first, rows, |b, done| {
                let pass = prepare.prepare(&b.events);
                tx.send((b, done, pass)).is_ok()
            });
        });
        // Leaving early drops the receiver: the parse thread's next send
        // fails and it stops.
        let mut wait = Instant::now();
        for (batch, done, pass) in rx {
            tally.phases.waiting += wait.elapsed();
            folder.prime(pass);
            tally.store(store, folder, &batch)?;
            progress(done as f64 / text.len().max(1) as f64);
            wait = Instant::now();
        }
        Ok(())
    })
}

/// What storing one input's batches added up to, until its run is recorded.
struct Tally {
    counts: IngestCounts,
    started_at: chrono::DateTime<Utc>,
    /// Quarantined for damage (not for "no risk signal"), and the first one.
    damaged: usize,
    first_damage: Option<(String, String)>,
    event_source: Option<String>,
    quarantine_source: Option<String>,
    by_category: BTreeMap<&'static str, u64>,
    phases: Phases,
}

impl Tally {
    fn new(name: &str, format: &str, started_at: chrono::DateTime<Utc>) -> Self {
        Self {
            counts: IngestCounts {
                file: name.into(),
                format: Some(format.to_string()),
                ..Default::default()
            },
            started_at,
            damaged: 0,
            first_damage: None,
            event_source: None,
            quarantine_source: None,
            by_category: BTreeMap::new(),
            phases: Phases::default(),
        }
    }

    /// Stores one batch (in one transaction), keeps what it rejected, links
    /// its events with reports of the same hazard, folds them into the
    /// daily risk aggregates and announces them.
    fn store(&mut self, store: &mut dyn Store, folder: &mut Folder, batch: &Batch) -> Result<()> {
        let p = &mut self.phases;
        let t = Instant::now();
        let ins = store
            .insert_events(&batch.events)
            .context("storing events")?;
        p.insert += t.elapsed();
        let t = Instant::now();
        store
            .quarantine(&batch.quarantined)
            .context("storing quarantined records")?;
        p.quarantine += t.elapsed();
        let t = Instant::now();
        self.counts.merged += merge_new(store, &batch.events)?;
        p.merge += t.elapsed();
        // Newly stored events go into the persisted daily risk aggregates
        // (events already stored are not folded again).
        let t = Instant::now();
        // Every event of the batch new: the fold may take them from here.
        let stored: &[farguard_model::Event] = if ins.accepted == batch.events.len() as u64 {
            &batch.events
        } else {
            &[]
        };
        super::risk::fold_stored_with(store, folder, stored)?;
        p.fold += t.elapsed();
        p.chunks += 1;
        // Stored, then announced: a no-op unless `--bus` attached a publisher.
        super::worker::announce_stored(&batch.events)?;
        let c = &mut self.counts;
        c.read += batch.read;
        c.accepted += ins.accepted;
        c.duplicates += ins.duplicates;
        c.quarantined += batch.quarantined.len() as u64;
        // "No risk signal" is a verdict, not damage: only damage is a warning.
        for q in batch
            .quarantined
            .iter()
            .filter(|q| !q.reason.contains("no risk signal"))
        {
            self.damaged += 1;
            self.first_damage
                .get_or_insert_with(|| (q.file.clone(), q.reason.clone()));
        }
        if self.event_source.is_none() {
            self.event_source = batch.events.first().map(|e| e.id.source.clone());
        }
        if self.quarantine_source.is_none() {
            self.quarantine_source = batch.quarantined.first().map(|q| q.source.clone());
        }
        for e in &batch.events {
            *self.by_category.entry(e.category.code()).or_default() += 1;
        }
        Ok(())
    }

    /// Records the run and adds the input to the summary.
    fn finish(
        mut self,
        store: &mut dyn Store,
        summary: Option<&mut Summary>,
    ) -> Result<IngestCounts> {
        let format = self.counts.format.clone().unwrap_or_default();
        let t = Instant::now();
        store.record_run(&RunRecord {
            kind: format!("ingest:{format}"),
            file: self.counts.file.clone(),
            started_at: self.started_at,
            read: self.counts.read,
            accepted: self.counts.accepted,
            duplicates: self.counts.duplicates,
            quarantined: self.counts.quarantined,
        })?;
        self.phases.record += t.elapsed();
        if let Some((file, reason)) = &self.first_damage {
            tracing::warn!(file = %file, damaged = self.damaged, "quarantined records, first: {reason}");
        }
        let p = self.phases;
        tracing::debug!(
            file = %self.counts.file,
            chunks = p.chunks,
            waiting_ms = p.waiting.as_millis() as u64,
            insert_ms = p.insert.as_millis() as u64,
            quarantine_ms = p.quarantine.as_millis() as u64,
            merge_ms = p.merge.as_millis() as u64,
            fold_ms = p.fold.as_millis() as u64,
            record_ms = p.record.as_millis() as u64,
            "ingest steps"
        );
        if let Some(s) = summary {
            // A file holds one source; split accepted/duplicates by it.
            let source = self
                .event_source
                .or(self.quarantine_source)
                .unwrap_or(format);
            let c = s.by_source.entry(source).or_default();
            c.read += self.counts.read;
            c.accepted += self.counts.accepted;
            c.duplicates += self.counts.duplicates;
            c.quarantined += self.counts.quarantined;
            for (cat, n) in self.by_category {
                *s.by_category.entry(cat.to_string()).or_default() += n;
            }
        }
        self.counts.phases = p;
        Ok(self.counts)
    }
}

pub fn store_batch(
    store: &mut dyn Store,
    name: &str,
    format: &str,
    started_at: chrono::DateTime<Utc>,
    batch: Batch,
    summary: Option<&mut Summary>,
) -> Result<IngestCounts> {
    let mut folder = Folder::shipped(store)?;
    let mut tally = Tally::new(name, format, started_at);
    tally.store(store, &mut folder, &batch)?;
    tally.finish(store, summary)
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
    let mut folder = Folder::shipped(store.as_mut())?;
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
        let (base, is_file) = (bar.position(), matches!(input, Input::File(_)));
        let mut progress = |done: f64| {
            if is_file {
                bar.set_position(base + (done.clamp(0.0, 1.0) * size as f64) as u64);
            }
        };
        let counts = match bytes.and_then(|b| {
            ingest_input(
                store.as_mut(),
                &mut folder,
                &name,
                &b,
                args.format.0,
                Some(&mut report.summary),
                &mut progress,
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
        if is_file {
            bar.set_position(base + size);
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

    /// Every row of the daily risk aggregates, in key order, as text.
    fn risk_rows(db: &Path) -> Vec<String> {
        let c = rusqlite::Connection::open(db).unwrap();
        let mut out = Vec::new();
        for sql in [
            "SELECT * FROM risk_days ORDER BY area, category, day",
            "SELECT * FROM risk_votes ORDER BY area, category, day, report",
            "SELECT * FROM risk_coverage ORDER BY day",
        ] {
            let mut st = c.prepare(sql).unwrap();
            let n = st.column_count();
            let rows = st
                .query_map([], |r| {
                    (0..n)
                        .map(|i| r.get::<_, rusqlite::types::Value>(i))
                        .collect::<Result<Vec<_>, _>>()
                })
                .unwrap();
            out.extend(rows.map(|r| format!("{:?}", r.unwrap())));
        }
        out
    }

    fn export() -> Vec<u8> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        std::fs::read(root.join("data/gdelt/20191024143000.export.CSV")).unwrap()
    }

    fn chunked(store: &mut dyn Store, bytes: &[u8], rows: usize) -> (IngestCounts, Vec<f64>) {
        let mut folder = Folder::shipped(store).unwrap();
        let mut seen = Vec::new();
        let c = ingest_in_chunks(
            store,
            &mut folder,
            "x.export.CSV",
            bytes,
            None,
            None,
            &mut |f| seen.push(f),
            rows,
        )
        .unwrap();
        (c, seen)
    }

    #[test]
    fn chunked_ingest_folds_the_same_aggregates_as_one_batch() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = export();
        let (a, b) = (dir.path().join("a.db"), dir.path().join("b.db"));
        let whole = {
            let mut s = farguard_store::SqliteStore::open(&a).unwrap();
            ingest_bytes(&mut s, "x.export.CSV", &bytes, None, None).unwrap()
        };
        let mut s = farguard_store::SqliteStore::open(&b).unwrap();
        // 2,111 records in chunks of 300: reports and days cross chunks.
        let (c, progress) = chunked(&mut s, &bytes, 300);
        assert_eq!(
            (c.read, c.accepted, c.duplicates, c.quarantined),
            (whole.read, whole.accepted, 0, whole.quarantined)
        );
        assert_eq!(c.read, c.accepted + c.duplicates + c.quarantined);
        assert_eq!(c.phases.chunks, 8);
        assert_eq!(progress.len(), 8, "{progress:?}");
        assert!(progress.windows(2).all(|w| w[0] < w[1]), "{progress:?}");
        assert_eq!(progress.last(), Some(&1.0));
        drop(s);
        let rows = risk_rows(&a);
        assert!(rows.len() > 1000, "{}", rows.len());
        assert!(rows == risk_rows(&b), "the chunked fold differs");
    }

    #[test]
    fn an_ingest_stopped_after_storing_a_chunk_completes_when_run_again() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = export();
        let (clean, cut) = (dir.path().join("clean.db"), dir.path().join("cut.db"));
        let full = {
            let mut s = farguard_store::SqliteStore::open(&clean).unwrap();
            chunked(&mut s, &bytes, 300).0
        };
        let mut s = farguard_store::SqliteStore::open(&cut).unwrap();
        // As if the ingest stopped after storing its first 700 events, before
        // folding them.
        let batch = gdelt::parse_gdelt_v2("x.export.CSV", &bytes);
        assert_eq!(s.insert_events(&batch.events[..700]).unwrap().accepted, 700);
        let (c, _) = chunked(&mut s, &bytes, 300);
        assert_eq!(
            (c.read, c.accepted, c.duplicates, c.quarantined),
            (full.read, full.accepted - 700, 700, full.quarantined)
        );
        let again = chunked(&mut s, &bytes, 300).0;
        assert_eq!(
            (again.accepted, again.duplicates),
            (0, full.accepted),
            "{again:?}"
        );
        drop(s);
        assert!(
            risk_rows(&clean) == risk_rows(&cut),
            "the completed fold differs"
        );
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
