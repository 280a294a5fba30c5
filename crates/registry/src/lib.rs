//! Registry import and export: files of organisations, sites, people,
//! itinerary legs and dependencies in (CSV or GeoJSON), validated domain
//! values out, with one error per bad row naming the file, line and field;
//! and the same two formats back out.
//!
//! Design note. Parsers here read bytes and return [`Import`] — the good rows
//! and the row errors side by side — so one bad row never sinks a file. The
//! caller decides what to store. Two real public registers are read as well:
//! the NGA World Port Index (`wpi`) and the airportsdata table (`airports`),
//! which the demo registers as the sites of a demo enterprise. No I/O beyond
//! what the caller hands in; no knowledge of the store.

pub mod airports;
pub mod deps;
pub mod legs;
pub mod orgs;
pub mod people;
mod rows;
pub mod sites;
pub mod synth;
pub mod wpi;

pub use rows::{Format, detect};

use std::fmt;

impl<T> Import<T> {
    /// Moves rows failing `check` (which returns the field and message) to
    /// the errors; `raw` renders the rejected value for the quarantine.
    pub fn reject(
        &mut self,
        file: &str,
        check: impl Fn(&T) -> Option<(String, String)>,
        raw: impl Fn(&T) -> String,
    ) {
        let rows = std::mem::take(&mut self.rows);
        for (line, v) in rows {
            match check(&v) {
                None => self.rows.push((line, v)),
                Some((field, message)) => self.errors.push(RowError {
                    file: file.into(),
                    line,
                    field: Some(field),
                    message,
                    raw: raw(&v),
                }),
            }
        }
        self.errors.sort_by_key(|e| e.line);
    }
}

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

/// A point from latitude and longitude text, as the real registers write them;
/// the error says what is wrong with the pair.
pub(crate) fn parse_point(lat: &str, lon: &str) -> Result<farguard_model::Point, String> {
    match (lat.trim().parse::<f64>(), lon.trim().parse::<f64>()) {
        (Ok(a), Ok(o)) => farguard_model::Point::new(a, o).map_err(|e| e.to_string()),
        _ => Err(format!(
            "latitude {lat:?} / longitude {lon:?}: missing or not a number"
        )),
    }
}

/// A whole-file failure: the file could not be read as the format at all.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{file}: {reason}")]
    Format { file: String, reason: String },
}

#[cfg(test)]
mod tests {
    use super::parse_point;

    #[test]
    fn register_points_are_checked() {
        assert_eq!(parse_point(" -4.05", "39.66 ").unwrap().lat(), -4.05);
        assert!(
            parse_point("123", "1")
                .unwrap_err()
                .contains("latitude 123")
        );
        assert!(parse_point("", "1").unwrap_err().contains("not a number"));
    }
}
