//! What a reader returns for one input: the events it produced, the records
//! it quarantined, and how many records it read.

use farguard_model::{Event, Quarantined};

/// The result of reading one input. Every record read becomes either an event
/// or a quarantine record: `read == events.len() + quarantined.len()`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    pub events: Vec<Event>,
    pub quarantined: Vec<Quarantined>,
    /// Records read (blank lines and a header line are not records).
    pub read: u64,
}

impl Batch {
    /// A batch whose whole input was rejected: one quarantine record at line 0
    /// holding all the bytes.
    pub(crate) fn rejected(source: &str, file: &str, bytes: &[u8], reason: String) -> Self {
        Self {
            events: Vec::new(),
            quarantined: vec![Quarantined {
                source: source.to_string(),
                file: file.to_string(),
                line: 0,
                reason,
                raw: bytes.to_vec(),
            }],
            read: 1,
        }
    }
}
