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
//!
//! Formats: GDELT 2.0/1.0 (`gdelt`), ACLED CSV (`acled`), CAP 1.1/1.2 and
//! CAP Atom indexes (`cap`), GDACS RSS (`gdacs`), USGS GeoJSON (`usgs`),
//! RSS/Atom news (`news`) and field-report JSON (`report`); `detect` picks
//! one by content. Normalisation against shipped tables (point → country,
//! place name → point) is in `geo`; grouping reports of one hazard or one
//! incident across sources is `merge`; live polling (conditional GET,
//! backoff, GDELT's lastupdate.txt) is `fetch`. Every event passes one
//! storability check (no NUL in text) before it leaves a reader, so a
//! store never fails a batch on what a reader produced.

pub mod acled;
pub mod batch;
pub mod cap;
pub mod detect;
pub mod error;
pub mod fetch;
pub mod gdacs;
pub mod gdelt;
pub mod geo;
mod json;
pub mod merge;
pub mod news;
mod record;
pub mod report;
pub mod retry;
mod scan;
pub mod unpack;
pub mod usgs;
mod xml;

pub use batch::Batch;
pub use detect::{Format, detect, parse_auto};
pub use error::SourceError;
pub use gdelt::{
    parse_gdelt_v1, parse_gdelt_v2, parse_gdelt_v2_chunked, read_gdelt_v1, read_gdelt_v2,
};

/// The input as UTF-8 text (a byte-order mark dropped), or a quarantine
/// record naming where it stops being UTF-8.
pub(crate) fn text_or_reject<'a>(
    out: &mut record::Builder<'_>,
    bytes: &'a [u8],
) -> Option<&'a str> {
    let b = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(b) {
        Ok(t) => Some(t),
        Err(e) => {
            let line = record::line_at(b, e.valid_up_to());
            out.reject(
                line,
                format!(
                    "line {line}: invalid UTF-8 at byte {}: the feed must be UTF-8 (re-save it as UTF-8)",
                    e.valid_up_to() + 1
                ),
                bytes,
            );
            None
        }
    }
}
