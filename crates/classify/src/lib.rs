//! Source codes onto the farguard taxonomy: CAMEO (GDELT) code tables, and
//! free text (news, field reports, notes) in Chinese and English by the
//! explainable weighted rules of `text`.
//!
//! Design note. A classifier is a pure function from what a source says to a
//! [`farguard_model::Classification`]: category, subtype, severity,
//! confidence and a reason a person can read. This crate does no I/O — code
//! tables are compiled in as sorted `const` slices, and tests prove them
//! against the lookup files in `data/lookups/` rather than loading those at
//! run time. Each mapping is written down with its reasons in `MAPPINGS.md`;
//! change the table and that file together. Sources call classifiers while
//! parsing, so a classifier must be cheap (no allocation beyond the reason)
//! and total (unknown codes degrade to a coarser rule or `None`, never panic).
//! The text rules are data too (`lexicon/text_rules.txt`, compiled in), so a
//! reviewer reads and changes them without reading Rust.

pub mod acled;
pub mod cameo;
pub mod cap;
pub mod gdacs;
pub mod text;
pub mod usgs;

pub use cameo::{CameoClassifier, CameoInput};
pub use text::{TextClassifier, TextInput, classify_text};
