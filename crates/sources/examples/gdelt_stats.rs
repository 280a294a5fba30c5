//! Prints counts, quarantine reasons and parse throughput for GDELT files:
//! `cargo run --release -p farguard-sources --example gdelt_stats -- FILE [v1]`.

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
        farguard_sources::read_gdelt_v1(Path::new(path))?
    } else {
        farguard_sources::read_gdelt_v2(Path::new(path))?
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
        *by.entry(format!(
            "{}/{} sev {}",
            e.category,
            e.subtype,
            e.severity.get()
        ))
        .or_default() += 1;
    }
    for (k, n) in by {
        println!("  {n:5} {k}");
    }

    // Throughput: parse the same bytes repeatedly for about two seconds.
    let bytes = std::fs::read(path)?;
    let start = Instant::now();
    let mut rows = 0u64;
    // GDELT_ITERS fixes the work instead (for `perf stat` comparisons).
    let iters: Option<u64> = std::env::var("GDELT_ITERS")
        .ok()
        .and_then(|v| v.parse().ok());
    let mut done = 0;
    while iters.map_or(start.elapsed().as_secs_f64() < 2.0, |n| done < n) {
        done += 1;
        let b = if v1 {
            farguard_sources::parse_gdelt_v1(path, &bytes)
        } else {
            farguard_sources::parse_gdelt_v2(path, &bytes)
        };
        rows += b.read;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{:.0} rows/s ({rows} rows in {secs:.2} s)",
        rows as f64 / secs
    );
    Ok(())
}
