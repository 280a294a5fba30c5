//! Counts, quarantine reasons, the class mix and parse throughput for one GDELT
//! file, with a baseline measured in the same run (std splitting the same
//! bytes into lines and fields, no parsing):
//!
//! `cargo run --release -p farguard-sources --example gdelt_stats -- FILE [v1]`
//!
//! `GDELT_ITERS=N` parses exactly N times instead of for two seconds.

use farguard_sources::{Batch, parse_gdelt_v1, parse_gdelt_v2, read_gdelt_v1, read_gdelt_v2};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        return Err("usage: gdelt_stats FILE [v1]".into());
    };
    let v1 = args.get(1).is_some_and(|a| a == "v1");
    let batch = if v1 {
        read_gdelt_v1(Path::new(path))?
    } else {
        read_gdelt_v2(Path::new(path))?
    };
    println!(
        "read {} events {} quarantined {}",
        batch.read,
        batch.events.len(),
        batch.quarantined.len()
    );
    for q in batch.quarantined.iter().take(10) {
        println!("  {}", q.reason);
    }
    let mut by: BTreeMap<String, usize> = BTreeMap::new();
    for e in &batch.events {
        let key = format!("{}/{} severity {}", e.category, e.subtype, e.severity.get());
        *by.entry(key).or_default() += 1;
    }
    for (k, n) in by {
        println!("  {n:5} {k}");
    }

    let bytes = std::fs::read(path)?;
    let iters: Option<u64> = std::env::var("GDELT_ITERS")
        .ok()
        .and_then(|v| v.parse().ok());
    let parse = |b: &[u8]| -> Batch {
        if v1 {
            parse_gdelt_v1(path, b)
        } else {
            parse_gdelt_v2(path, b)
        }
    };
    let rate = measure(iters, || parse(&bytes).read);
    let text = String::from_utf8_lossy(&bytes);
    let baseline = measure(iters, || {
        let mut rows = 0;
        for line in text.lines() {
            rows += u64::from(line.split('\t').count() > 1);
        }
        rows
    });
    println!("parse:    {rate:>10.0} rows/s");
    println!("baseline: {baseline:>10.0} rows/s (std lines + split on tabs, no parsing)");
    Ok(())
}

/// Rows per second of `run` (which returns the rows it handled), over two
/// seconds or `iters` runs.
fn measure(iters: Option<u64>, mut run: impl FnMut() -> u64) -> f64 {
    let start = Instant::now();
    let (mut rows, mut done) = (0u64, 0u64);
    while iters.map_or(start.elapsed().as_secs_f64() < 2.0, |n| done < n) {
        rows += std::hint::black_box(run());
        done += 1;
    }
    rows as f64 / start.elapsed().as_secs_f64()
}
