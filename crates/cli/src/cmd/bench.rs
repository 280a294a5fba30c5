//! `farguard bench`: whole-pipeline benchmarks on the shipped real data,
//! printed beside a baseline measured in the same run. Never a timed test.

use super::Ctx;
use super::ingest::{CHUNK_ROWS, ingest_input};
use super::risk::Folder;
use crate::{embedded, out};
use anyhow::{Context, Result};
use farguard_sources::{Batch, parse_gdelt_v2, parse_gdelt_v2_chunked};
use farguard_store::{SqliteStore, Store};
use serde::Serialize;
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Debug, clap::Subcommand)]
pub enum Which {
    /// GDELT 2.0 ingest: parse + normalise + classify on one thread, and end
    /// to end into a fresh SQLite file (durable, deduplicated): on one thread
    /// (parse, then store), and pipelined (one thread parses chunks while
    /// another stores the previous one); and what `farguard ingest` does
    /// (pipelined, each chunk also merged and folded into the daily risk
    /// aggregates). Input: the shipped export repeated with fresh
    /// GLOBALEVENTIDs; no field value is synthesised.
    Ingest {
        /// How many times to repeat the 2,111 real rows.
        #[arg(long, default_value_t = 100)]
        repeat: u32,
        /// Timed runs; the median is reported.
        #[arg(long, default_value_t = 5)]
        runs: u32,
        /// Also write the benchmark input to this file (for peer tools:
        /// `bench/ingest_peers.sh` runs pandas and polars on it).
        #[arg(long)]
        write_input: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Serialize)]
struct IngestBench {
    rows: u64,
    bytes: u64,
    runs: u32,
    /// Baseline: splitting lines and tab fields only, no normalisation.
    split_only_rows_per_s: f64,
    parse_normalise_classify_rows_per_s: f64,
    /// Pipelined: one thread parses, another stores (2 threads).
    end_to_end_sqlite_rows_per_s: f64,
    /// Parse the whole input, then store it, on one thread.
    end_to_end_sqlite_one_thread_rows_per_s: f64,
    /// What `farguard ingest FILE` does: pipelined, and each chunk also
    /// merged and folded into the daily risk aggregates, the run recorded.
    ingest_command_rows_per_s: f64,
    /// The command's store thread, per step (median run, milliseconds).
    ingest_command_steps_ms: BTreeMap<&'static str, u64>,
    /// Records per chunk (and per transaction) in the pipelined run.
    pipeline_chunk_rows: usize,
    ratio_parse_vs_split: f64,
}

/// Records per chunk in the pipelined ingest: each chunk is one transaction
/// (committed before the next is acknowledged), large enough that commits
/// and their WAL checkpoints (two fsyncs each) are few, small enough that
/// the first chunk's parse (the part that cannot overlap) is short and
/// memory stays bounded.
const PIPELINE_ROWS: usize = CHUNK_ROWS;

/// Parses on a second thread while this one stores, chunk by chunk; returns
/// (accepted, quarantined).
fn pipelined(store: &mut dyn Store, input: &[u8]) -> Result<(u64, u64)> {
    // Two chunks in flight: one being stored, one parsed ahead.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(1);
    std::thread::scope(|s| {
        s.spawn(move || {
            parse_gdelt_v2_chunked("bench", input, PIPELINE_ROWS, |b| tx.send(b).is_ok());
        });
        let (mut accepted, mut quarantined) = (0, 0);
        for b in rx {
            accepted += store.insert_events(&b.events)?.accepted;
            quarantined += b.quarantined.len() as u64;
        }
        Ok((accepted, quarantined))
    })
}

/// The shipped export repeated `n` times, each copy with fresh event ids.
pub fn repeated_gdelt(n: u32) -> Vec<u8> {
    let src = embedded::GDELT_EXPORT;
    let mut out = Vec::with_capacity(src.len() * n as usize + 16 * n as usize * 2200);
    for k in 0..n {
        for line in src.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let tab = line.iter().position(|b| *b == b'\t').unwrap_or(0);
            let id: u64 = std::str::from_utf8(&line[..tab])
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            out.extend_from_slice((id + u64::from(k) * 10_000_000_000).to_string().as_bytes());
            out.extend_from_slice(&line[tab..]);
            out.push(b'\n');
        }
    }
    out
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn split_only(bytes: &[u8]) -> u64 {
    let mut fields = 0u64;
    for line in bytes.split(|b| *b == b'\n') {
        fields += line.split(|b| *b == b'\t').count() as u64;
    }
    fields
}

pub fn run(ctx: &Ctx, which: Which) -> Result<ExitCode> {
    let Which::Ingest {
        repeat,
        runs,
        write_input,
    } = which;
    let input = repeated_gdelt(repeat);
    if let Some(p) = &write_input {
        std::fs::write(p, &input).with_context(|| format!("writing {}", p.display()))?;
    }
    let rows = input.iter().filter(|b| **b == b'\n').count() as u64;
    let runs = runs.max(1);
    let mut steps = Vec::new();
    let (mut split, mut parse, mut e2e, mut e2e_one, mut command) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for run in 0..runs {
        let t = Instant::now();
        std::hint::black_box(split_only(&input));
        split.push(rows as f64 / t.elapsed().as_secs_f64());

        let t = Instant::now();
        let batch = parse_gdelt_v2("bench", &input);
        parse.push(rows as f64 / t.elapsed().as_secs_f64());
        anyhow::ensure!(
            batch.read == rows,
            "parser read {} of {rows} rows",
            batch.read
        );
        drop(batch);

        // The end-to-end runs take turns going first, and each one's files
        // are deleted before the next starts, so none pays for another's
        // pages still being written back.
        let mut order = [E2e::OneThread, E2e::Pipelined, E2e::Command];
        order.rotate_left(run as usize % 3);
        for path in order {
            let dir = tempfile_dir()?;
            let t = Instant::now();
            let mut store = SqliteStore::open(dir.join("bench.db"))?;
            let (accepted, quarantined) = match path {
                E2e::Pipelined => pipelined(&mut store, &input)?,
                E2e::OneThread => {
                    let batch = parse_gdelt_v2("bench", &input);
                    let c = store.insert_events(&batch.events)?;
                    (c.accepted, batch.quarantined.len() as u64)
                }
                E2e::Command => {
                    let mut folder = Folder::shipped(&mut store)?;
                    let c = ingest_input(
                        &mut store,
                        &mut folder,
                        "bench.export.CSV",
                        &input,
                        None,
                        None,
                        &mut |_| {},
                    )?;
                    anyhow::ensure!(c.duplicates == 0, "{} duplicates", c.duplicates);
                    steps.push(c.phases);
                    (c.accepted, c.quarantined)
                }
            };
            let rate = rows as f64 / t.elapsed().as_secs_f64();
            anyhow::ensure!(
                accepted + quarantined == rows,
                "stored {accepted} of {rows}"
            );
            match path {
                E2e::Pipelined => e2e.push(rate),
                E2e::OneThread => e2e_one.push(rate),
                E2e::Command => command.push(rate),
            }
            drop(store);
            std::fs::remove_dir_all(&dir).ok();
        }
    }
    // The steps of the command's median run.
    let mid = {
        let mut by_rate: Vec<(f64, usize)> = command.iter().copied().zip(0..).collect();
        by_rate.sort_by(|a, b| a.0.total_cmp(&b.0));
        by_rate[by_rate.len() / 2].1
    };
    let p = steps[mid];
    let ms = |d: std::time::Duration| d.as_millis() as u64;
    let steps_ms = BTreeMap::from([
        ("chunks", u64::from(p.chunks)),
        ("waiting_for_parse", ms(p.waiting)),
        ("insert", ms(p.insert)),
        ("quarantine", ms(p.quarantine)),
        ("merge", ms(p.merge)),
        ("fold", ms(p.fold)),
        ("record_run", ms(p.record)),
    ]);
    let r = IngestBench {
        rows,
        bytes: input.len() as u64,
        runs,
        split_only_rows_per_s: median(split),
        parse_normalise_classify_rows_per_s: median(parse.clone()),
        end_to_end_sqlite_rows_per_s: median(e2e),
        end_to_end_sqlite_one_thread_rows_per_s: median(e2e_one),
        ingest_command_rows_per_s: median(command),
        ingest_command_steps_ms: steps_ms,
        pipeline_chunk_rows: PIPELINE_ROWS,
        ratio_parse_vs_split: 0.0,
    };
    let r = IngestBench {
        ratio_parse_vs_split: r.parse_normalise_classify_rows_per_s / r.split_only_rows_per_s,
        ..r
    };
    if ctx.json {
        out::json(&r)?;
    } else {
        println!(
            "GDELT 2.0 ingest, {} rows ({:.1} MB), median of {} runs",
            r.rows,
            r.bytes as f64 / 1e6,
            r.runs
        );
        println!(
            "  baseline: split lines and tabs only   {:>12.0} rows/s",
            r.split_only_rows_per_s
        );
        println!(
            "  parse + normalise + classify, 1 thread {:>11.0} rows/s",
            r.parse_normalise_classify_rows_per_s
        );
        println!(
            "  end to end into SQLite, 1 thread      {:>12.0} rows/s",
            r.end_to_end_sqlite_one_thread_rows_per_s
        );
        println!(
            "  end to end into SQLite, pipelined     {:>12.0} rows/s   (parse thread + store thread, {} rows per transaction)",
            r.end_to_end_sqlite_rows_per_s, r.pipeline_chunk_rows
        );
        println!(
            "  farguard ingest (+ merge + risk fold)  {:>11.0} rows/s   (pipelined as above; each chunk also merged and folded)",
            r.ingest_command_rows_per_s
        );
        let steps: Vec<String> = r
            .ingest_command_steps_ms
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        println!(
            "    its store thread, median run (ms): {}",
            steps.join(", ")
        );
        if let Ok(l) = std::fs::read_to_string("/proc/loadavg") {
            println!("  load average: {}", l.trim());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The end-to-end runs.
#[derive(Debug, Clone, Copy)]
enum E2e {
    OneThread,
    Pipelined,
    Command,
}

fn tempfile_dir() -> Result<std::path::PathBuf> {
    let d = std::env::temp_dir().join(format!(
        "farguard-bench-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
    Ok(d)
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}
