//! What every reader shares: building a [`Batch`] one record at a time, the
//! check that an event can be stored, and small text and number helpers.

use crate::Batch;
use farguard_model::{Event, Quarantined};

/// The reason given for text holding a NUL character (`at` is 0-based).
pub(crate) fn nul_reason(at: usize) -> String {
    format!(
        "NUL character at byte {} of the record: no database text column can hold it; remove it from the source file",
        at + 1
    )
}

/// Why `e` cannot be stored, or `None` when it can: every text field must
/// be free of NUL (both engines refuse it, and the store would fail the
/// whole batch).
pub(crate) fn unstorable(e: &Event) -> Option<String> {
    let loc = e.location.as_ref();
    let fields = [
        ("source id", Some(e.id.source_id.as_str())),
        ("title", Some(e.title.as_str())),
        ("reason", Some(e.reason.as_str())),
        ("place", loc.and_then(|l| l.place.as_deref())),
        ("admin1", loc.and_then(|l| l.admin1.as_deref())),
    ];
    for (name, text) in fields {
        if let Some(at) = text.and_then(|t| t.find('\0')) {
            return Some(format!("{name}: {}", nul_reason(at)));
        }
    }
    for (name, list) in [("actors", &e.actors), ("links", &e.links)] {
        if list.iter().any(|a| a.contains('\0')) {
            return Some(format!(
                "{name}: a NUL character cannot be stored; remove it from the source file"
            ));
        }
    }
    e.raw.find('\0').map(nul_reason)
}

/// Builds a batch record by record, quarantining what cannot become a
/// storable event.
#[derive(Debug)]
pub(crate) struct Builder<'a> {
    source: &'a str,
    file: &'a str,
    pub batch: Batch,
}

impl<'a> Builder<'a> {
    pub fn new(source: &'a str, file: &'a str) -> Self {
        Self {
            source,
            file,
            batch: Batch::default(),
        }
    }

    /// Records one read record: its event, or why not. `place` names where it
    /// is (`line 12`, `item 3 (line 40)`); `line` is its first line.
    pub fn record(&mut self, line: u64, place: &str, raw: &[u8], result: Result<Event, String>) {
        self.batch.read += 1;
        let result = result.and_then(|e| match unstorable(&e) {
            Some(why) => Err(why),
            None => Ok(e),
        });
        match result {
            Ok(e) => self.batch.events.push(e),
            Err(why) => self.quarantine(line, format!("{place}: {why}"), raw),
        }
    }

    /// Quarantines one record that was read.
    pub fn reject(&mut self, line: u64, reason: String, raw: &[u8]) {
        self.batch.read += 1;
        self.quarantine(line, reason, raw);
    }

    fn quarantine(&mut self, line: u64, reason: String, raw: &[u8]) {
        self.batch.quarantined.push(Quarantined {
            source: self.source.to_string(),
            file: self.file.to_string(),
            line,
            reason,
            raw: raw.to_vec(),
        });
    }

    pub fn finish(self) -> Batch {
        self.batch
    }
}

/// The 1-based line of byte `offset` in `text`.
pub(crate) fn line_at(text: &[u8], offset: usize) -> u64 {
    let end = offset.min(text.len());
    text.get(..end)
        .map_or(0, |t| t.iter().filter(|b| **b == b'\n').count()) as u64
        + 1
}

/// Line numbers for increasing byte offsets in one text, counted
/// incrementally (a feed's records come in order, so numbering them all
/// costs one pass, not one pass per record).
#[derive(Debug)]
pub(crate) struct LineCounter<'a> {
    text: &'a [u8],
    pos: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    pub fn new(text: &'a [u8]) -> Self {
        Self {
            text,
            pos: 0,
            line: 1,
        }
    }
    /// The 1-based line of byte `offset`.
    pub fn at(&mut self, offset: usize) -> u64 {
        let offset = offset.min(self.text.len());
        if offset < self.pos {
            self.pos = 0;
            self.line = 1;
        }
        let seg = self.text.get(self.pos..offset).unwrap_or_default();
        self.line += seg.iter().filter(|b| **b == b'\n').count() as u64;
        self.pos = offset;
        self.line
    }
}

/// Collapses runs of whitespace and trims; for titles built from feed text.
pub(crate) fn squash(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for w in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

/// At most `max` characters of `s`, cut on a character boundary, with `…`
/// when cut.
pub(crate) fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_clipping() {
        assert_eq!(line_at(b"a\nb\nc", 0), 1);
        assert_eq!(line_at(b"a\nb\nc", 2), 2);
        assert_eq!(line_at(b"a\nb\nc", 99), 3);
        assert_eq!(clip("北京市中心", 2), "北京…");
        assert_eq!(squash("  a \n\t b "), "a b");
    }
}
