//! Registry import and export: files of organisations and sites in, validated
//! domain values out, with one error per bad row naming the file, line and
//! field.
//!
//! Design note. Parsers here read bytes and return [`Import`] — the good rows
//! and the row errors side by side — so one bad row never sinks a file. The
//! caller decides what to store. Two real public registers are read as well:
//! the NGA World Port Index (`wpi`) and the airportsdata table (`airports`),
//! which the demo registers as the sites of a demo enterprise. No I/O beyond
//! what the caller hands in; no knowledge of the store.

pub mod airports;
pub mod sites;
pub mod wpi;

use std::fmt;

/// One rejected row: where it is, which field, what is wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub file: String,
    /// 1-based line in a CSV file, or 1-based feature index in GeoJSON.
    pub line: u64,
    pub field: Option<String>,
    pub message: String,
    pub raw: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(
                f,
                "{}:{}: field `{}`: {}",
                self.file, self.line, field, self.message
            ),
            None => write!(f, "{}:{}: {}", self.file, self.line, self.message),
        }
    }
}

/// The result of reading one file: accepted rows (with their line) and row errors.
#[derive(Debug, Clone)]
pub struct Import<T> {
    pub rows: Vec<(u64, T)>,
    pub errors: Vec<RowError>,
}

impl<T> Default for Import<T> {
    fn default() -> Self {
        Self {
            rows: Vec::new(),
            errors: Vec::new(),
        }
    }
}

impl<T> Import<T> {
    /// Rows read: accepted plus rejected.
    pub fn read(&self) -> u64 {
        (self.rows.len() + self.errors.len()) as u64
    }
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.rows.iter().map(|(_, v)| v)
    }
}

/// A whole-file failure: the file could not be read as the format at all.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{file}: {reason}")]
    Format { file: String, reason: String },
}
