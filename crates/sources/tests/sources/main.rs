//! Integration tests for farguard-sources: real GDELT files end to end, the
//! damage a real file can suffer, and arbitrary bytes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod acled;
mod bad_input;
mod feeds;
mod gdelt_v1;
mod gdelt_v2;
mod merge;
mod robustness;
mod watch;

use farguard_sources::Batch;
use std::path::{Path, PathBuf};

/// The real GDELT 2.0 export the project ships (2,111 rows).
pub fn v2_export() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/gdelt/20191024143000.export.CSV")
}

/// The GDELT 1.0 sample (710 rows of both 1.0 layouts).
pub fn v1_sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/gdelt1_events_sample_reed9999.tsv")
}

/// A fresh path for a file this test writes.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sources-tests");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Zips `content` as one entry named `entry`.
pub fn zip_one(entry: &str, content: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    w.start_file(entry, opts).unwrap();
    w.write_all(content).unwrap();
    w.finish().unwrap().into_inner()
}

/// Every record read became an event or a quarantine record.
pub fn assert_accounted(b: &Batch) {
    assert_eq!(
        b.read,
        (b.events.len() + b.quarantined.len()) as u64,
        "read {} = events {} + quarantined {}",
        b.read,
        b.events.len(),
        b.quarantined.len()
    );
}
