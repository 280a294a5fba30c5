//! Which format a file is, from its content (`--format auto`), and reading
//! whatever a person points at: plain files, `.gz` and `.zip` (unpacked in
//! memory with a size cap), directories (every file inside, in name order),
//! and bytes from stdin.

use crate::unpack::{MAX_UNZIPPED_BYTES, is_zip, unpack};
use crate::{Batch, SourceError};
use flate2::read::GzDecoder;
use std::borrow::Cow;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The formats farguard reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    GdeltV2,
    GdeltV1,
    Acled,
    Cap,
    Gdacs,
    Usgs,
    News,
    Report,
}

impl Format {
    pub const ALL: [Format; 8] = [
        Format::GdeltV2,
        Format::GdeltV1,
        Format::Acled,
        Format::Cap,
        Format::Gdacs,
        Format::Usgs,
        Format::News,
        Format::Report,
    ];
    /// The name used on the command line and in sources.toml.
    pub fn code(self) -> &'static str {
        match self {
            Format::GdeltV2 => "gdelt2",
            Format::GdeltV1 => "gdelt1",
            Format::Acled => "acled",
            Format::Cap => "cap",
            Format::Gdacs => "gdacs",
            Format::Usgs => "usgs",
            Format::News => "news",
            Format::Report => "report",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|f| f.code().eq_ignore_ascii_case(s.trim()))
    }
    /// Parses bytes already unpacked. Never fails, never panics.
    pub fn parse_bytes(self, name: &str, bytes: &[u8]) -> Batch {
        match self {
            Format::GdeltV2 => crate::gdelt::parse_gdelt_v2_text(name, bytes),
            Format::GdeltV1 => crate::gdelt::parse_gdelt_v1_text(name, bytes),
            Format::Acled => crate::acled::parse_acled(name, bytes),
            Format::Cap => crate::cap::parse_cap(name, bytes),
            Format::Gdacs => crate::gdacs::parse_gdacs(name, bytes),
            Format::Usgs => crate::usgs::parse_usgs(name, bytes),
            Format::News => crate::news::parse_news(name, bytes),
            Format::Report => crate::report::parse_reports(name, bytes),
        }
    }
}

/// Most bytes read from one file or from stdin (1 GiB), before unpacking.
pub const MAX_INPUT_BYTES: u64 = 1 << 30;

fn first_line(b: &[u8]) -> &[u8] {
    b.split(|c| *c == b'\n').next().unwrap_or_default()
}

/// The format of `bytes` (already unpacked), judged from the first 4 KiB,
/// or why it is none farguard reads.
pub fn detect(bytes: &[u8]) -> Result<Format, String> {
    let b = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let head = &b[start..b.len().min(start + 4096)];
    let lower = String::from_utf8_lossy(head).to_ascii_lowercase();
    match head.first() {
        None => return Err("the input is empty".into()),
        Some(b'<') => {
            if lower.starts_with("<!doctype html") || lower.starts_with("<html") {
                return Err("this is an HTML page, not a feed (a server error or login page served in its place?)".into());
            }
            if crate::cap::looks_like(head) {
                return Ok(Format::Cap);
            }
            if crate::gdacs::looks_like(head) {
                return Ok(Format::Gdacs);
            }
            if lower.contains("<rss") || lower.contains("<feed") || lower.contains("<rdf:rdf") {
                return Ok(Format::News);
            }
            return Err("XML, but not CAP, GDACS RSS, RSS or Atom".into());
        }
        Some(b'{') | Some(b'[') => {
            if crate::usgs::looks_like(head) {
                return Ok(Format::Usgs);
            }
            if crate::report::looks_like(head) {
                return Ok(Format::Report);
            }
            return Err("JSON, but neither a USGS GeoJSON feed nor field reports (see the field report schema)".into());
        }
        _ => {}
    }
    if crate::acled::looks_like(head) {
        return Ok(Format::Acled);
    }
    let line = first_line(head);
    let tabs = line.iter().filter(|c| **c == b'\t').count();
    match tabs {
        60 => Ok(Format::GdeltV2),
        56 | 57 => Ok(Format::GdeltV1),
        // A header line, or a line longer than the sniffed head: count the
        // whole first line.
        _ if line.len() == head.len() => {
            let whole = first_line(&b[start..]);
            match whole.iter().filter(|c| **c == b'\t').count() {
                60 => Ok(Format::GdeltV2),
                56 | 57 => Ok(Format::GdeltV1),
                n => Err(format!(
                    "the first line has {n} tabs: not a GDELT file (60 for 2.0, 56 or 57 for 1.0)"
                )),
            }
        }
        n => Err(format!(
            "not a format farguard reads (first line has {n} tabs and no ACLED header): expected GDELT, ACLED, CAP, GDACS, USGS GeoJSON, RSS/Atom or field-report JSON"
        )),
    }
}

/// Unpacks gzip (by its magic bytes) or zip, with the decompression cap.
pub fn unpack_any<'a>(name: &str, bytes: &'a [u8]) -> Result<Cow<'a, [u8]>, SourceError> {
    unpack_capped(name, bytes, MAX_UNZIPPED_BYTES)
}

/// [`unpack_any`] with a chosen cap on the unpacked size.
pub fn unpack_capped<'a>(
    name: &str,
    bytes: &'a [u8],
    limit: u64,
) -> Result<Cow<'a, [u8]>, SourceError> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        GzDecoder::new(bytes)
            .take(limit + 1)
            .read_to_end(&mut out)
            .map_err(|e| SourceError::Zip {
                file: name.to_string(),
                detail: format!("gzip: {e}"),
            })?;
        if out.len() as u64 > limit {
            return Err(SourceError::TooLarge {
                file: name.to_string(),
                entry: "gzip stream".into(),
                limit,
            });
        }
        return Ok(Cow::Owned(out));
    }
    if is_zip(bytes) || name.to_ascii_lowercase().ends_with(".zip") {
        return unpack(name, bytes, limit);
    }
    Ok(Cow::Borrowed(bytes))
}

/// Unpacks, detects (unless `format` is given) and parses one input.
pub fn parse_auto(
    name: &str,
    bytes: &[u8],
    format: Option<Format>,
) -> Result<(Format, Batch), SourceError> {
    let data = unpack_any(name, bytes)?;
    let f = match format {
        Some(f) => f,
        None => detect(&data).map_err(|detail| SourceError::Format {
            file: name.to_string(),
            format: "known feed",
            detail,
        })?,
    };
    Ok((f, f.parse_bytes(name, &data)))
}

/// Reads a file (refusing more than [`MAX_INPUT_BYTES`]).
pub fn read_file(path: &Path) -> Result<Vec<u8>, SourceError> {
    let file = path.display().to_string();
    let f = std::fs::File::open(path).map_err(|cause| SourceError::Read {
        file: file.clone(),
        cause,
    })?;
    let mut out = Vec::new();
    f.take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|cause| SourceError::Read {
            file: file.clone(),
            cause,
        })?;
    if out.len() as u64 > MAX_INPUT_BYTES {
        return Err(SourceError::TooLarge {
            file,
            entry: "the file".into(),
            limit: MAX_INPUT_BYTES,
        });
    }
    Ok(out)
}

/// Every file a path names: the file itself, or the files under a
/// directory (recursively, hidden files skipped, in name order).
pub fn expand(path: &Path) -> Result<Vec<PathBuf>, SourceError> {
    let meta = std::fs::metadata(path).map_err(|cause| SourceError::Read {
        file: path.display().to_string(),
        cause,
    })?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut dirs = vec![path.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let entries = std::fs::read_dir(&d).map_err(|cause| SourceError::Read {
            file: d.display().to_string(),
            cause,
        })?;
        for entry in entries.flatten() {
            let p = entry.path();
            if p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            {
                continue;
            }
            if p.is_dir() {
                dirs.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_error_pages_are_named() {
        let e = detect(b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>").unwrap_err();
        assert!(e.contains("HTML page"), "{e}");
        assert!(detect(b"").is_err());
        assert!(detect(b"hello world").is_err());
    }
}
