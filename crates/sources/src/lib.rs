//! Feed readers: the bytes of a published feed → normalised, classified
//! events, plus quarantine records for what could not become one.
//!
//! Design note. A reader is a pair of plain functions per format:
//! `read_<format>(path)` for files and `parse_<format>(name, bytes)` for
//! bytes already in memory (a fetched URL, a test). `parse_*` never fails and
//! never panics — bad input is data: each bad record is quarantined with its
//! line number, reason and raw bytes, and the batch goes on. `read_*` adds the
//! whole-file failures a person must fix (missing file, broken zip, not that
//! format), as a [`SourceError`] naming the file. Readers classify as they
//! parse (through `farguard-classify`), so an event leaves this crate complete;
//! they know nothing of storage, deduplication or grading. Published archives
//! are unpacked in memory with a size cap ([`unpack::MAX_UNZIPPED_BYTES`]).
//! Lookup tables (FIPS → ISO countries) are compiled in and parsed once.

pub mod batch;
pub mod error;
pub mod gdelt;
mod scan;
pub mod unpack;

pub use batch::Batch;
pub use error::SourceError;
pub use gdelt::{parse_gdelt_v1, parse_gdelt_v2, read_gdelt_v1, read_gdelt_v2};
