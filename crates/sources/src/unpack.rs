//! Inputs as publishers ship them: plain bytes, or a zip archive holding one
//! file (GDELT's `*.export.CSV.zip`), unpacked in memory with a size cap.

use crate::SourceError;
use std::borrow::Cow;
use std::io::{Cursor, Read};

/// Most bytes one archive entry may unpack to (1 GiB): GDELT 1.0 daily files,
/// the largest input read this way, are 50–200 MB. More is refused as a
/// possible zip bomb.
pub const MAX_UNZIPPED_BYTES: u64 = 1 << 30;

/// Whether `bytes` begin like a zip archive (local file header, or the end
/// record of an empty archive).
pub fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06")
}

/// The content of `bytes`: unpacked when it is a zip archive (or named
/// `*.zip`), borrowed as is otherwise.
pub fn unpack<'a>(file: &str, bytes: &'a [u8], limit: u64) -> Result<Cow<'a, [u8]>, SourceError> {
    let named_zip = file.to_ascii_lowercase().ends_with(".zip");
    if !is_zip(bytes) {
        if named_zip {
            return Err(SourceError::Zip {
                file: file.to_string(),
                detail: "no zip signature at the start".into(),
            });
        }
        return Ok(Cow::Borrowed(bytes));
    }
    let corrupt = |e: &dyn std::fmt::Display| SourceError::Zip {
        file: file.to_string(),
        detail: e.to_string(),
    };
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| corrupt(&e))?;
    let mut files = Vec::new();
    for i in 0..archive.len() {
        if !archive.by_index(i).map_err(|e| corrupt(&e))?.is_dir() {
            files.push(i);
        }
    }
    let [index] = files[..] else {
        return Err(SourceError::ZipEntries {
            file: file.to_string(),
            found: files.len(),
        });
    };
    let entry = archive.by_index(index).map_err(|e| corrupt(&e))?;
    let name = entry.name().map(|n| n.into_owned()).unwrap_or_default();
    // Trust the declared size only as a capacity hint, and not beyond 64 MiB.
    let hint = entry.size().min(limit).min(64 << 20) as usize;
    let mut out = Vec::with_capacity(hint);
    entry
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| corrupt(&e))?;
    if out.len() as u64 > limit {
        return Err(SourceError::TooLarge {
            file: file.to_string(),
            entry: name,
            limit,
        });
    }
    Ok(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use zip::write::SimpleFileOptions;

    fn zipped(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in entries {
            w.start_file(*name, SimpleFileOptions::default()).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn plain_bytes_are_borrowed() {
        let b = b"1\t2\n";
        assert!(matches!(unpack("x.CSV", b, 10).unwrap(), Cow::Borrowed(_)));
    }

    #[test]
    fn one_entry_is_unpacked() {
        let z = zipped(&[("a.CSV", b"hello")]);
        assert_eq!(&*unpack("a.CSV.zip", &z, 100).unwrap(), b"hello");
    }

    #[test]
    fn zip_bomb_is_refused() {
        let z = zipped(&[("big.CSV", &[b'a'; 10_000])]);
        assert!(z.len() < 1_000);
        let e = unpack("big.zip", &z, 9_999).unwrap_err().to_string();
        assert!(
            e.contains("possible zip bomb") && e.starts_with("big.zip: big.CSV"),
            "{e}"
        );
        assert_eq!(unpack("big.zip", &z, 10_000).unwrap().len(), 10_000);
    }

    #[test]
    fn archive_must_hold_exactly_one_file() {
        let z = zipped(&[("a", b"1"), ("b", b"2")]);
        let e = unpack("two.zip", &z, 100).unwrap_err().to_string();
        assert!(e.contains("holds 2 files"), "{e}");
        let e = unpack("none.zip", &zipped(&[]), 100)
            .unwrap_err()
            .to_string();
        assert!(e.contains("holds 0 files"), "{e}");
    }

    #[test]
    fn truncated_or_misnamed_archives_are_errors() {
        let z = zipped(&[("a.CSV", &[b'x'; 1000])]);
        let e = unpack("t.zip", &z[..z.len() / 2], 10_000)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("t.zip: truncated or corrupt zip archive ("),
            "{e}"
        );
        assert!(e.ends_with("re-download the file"), "{e}");
        let e = unpack("plain.zip", b"not a zip", 100)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no zip signature"), "{e}");
    }
}
