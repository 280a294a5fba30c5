//! Reading a quarantined record again, on its own: after the rules or the
//! code changed, or after a person fixed its bytes. A record cut from a
//! larger document is put back into the smallest envelope of its format
//! (an RSS channel, an Atom feed, a FeatureCollection, the ACLED header);
//! a whole rejected input (line 0) is read as it is.

use crate::{Batch, Format, parse_auto};

/// The format a quarantine record's source reads with, or `None`.
pub fn format_of(source: &str, raw: &[u8]) -> Option<Format> {
    Some(match source {
        "gdelt" => {
            let tabs = raw.iter().filter(|b| **b == b'\t').count();
            if tabs == 60 {
                Format::GdeltV2
            } else {
                Format::GdeltV1
            }
        }
        "acled" => Format::Acled,
        "cap" => Format::Cap,
        "gdacs" => Format::Gdacs,
        "usgs" => Format::Usgs,
        "news" => Format::News,
        "report" => Format::Report,
        _ => return None,
    })
}

/// Whether the first element of `raw` is called `tag` (any prefix).
fn starts(raw: &[u8], tag: &str) -> bool {
    let head = String::from_utf8_lossy(&raw[..raw.len().min(64)]).into_owned();
    let Some(i) = head.find('<') else {
        return false;
    };
    let name = head[i + 1..]
        .split(|c: char| c.is_whitespace() || c == '>' || c == '/')
        .next()
        .unwrap_or("");
    name.rsplit(':').next() == Some(tag)
}

/// Reads one quarantined record again. `line` 0 means the whole input was
/// rejected and `raw` is all of it. `acled_header` is the header line of
/// the file an ACLED record came from (a record alone has no column names).
pub fn retry(
    source: &str,
    name: &str,
    line: u64,
    raw: &[u8],
    acled_header: Option<&[u8]>,
) -> Result<Batch, String> {
    if line == 0 {
        return parse_auto(name, raw, format_of(source, raw))
            .map(|(_, b)| b)
            .map_err(|e| e.to_string());
    }
    let format = format_of(source, raw)
        .ok_or_else(|| format!("source {source:?} has no reader to retry with"))?;
    let wrapped: Vec<u8> = match format {
        Format::GdeltV2 | Format::GdeltV1 | Format::Report => raw.to_vec(),
        Format::Acled => {
            let h = acled_header.ok_or("an ACLED record needs its file's header line: the file is no longer readable, re-ingest it instead")?;
            [h, b"\n", raw].concat()
        }
        Format::Usgs => [b"{\"type\":\"FeatureCollection\",\"features\":[".as_slice(), raw, b"]}"].concat(),
        Format::Gdacs => [b"<rss version=\"2.0\" xmlns:gdacs=\"http://www.gdacs.org\"><channel>".as_slice(), raw, b"</channel></rss>"].concat(),
        Format::Cap if starts(raw, "entry") => [
            b"<feed xmlns=\"http://www.w3.org/2005/Atom\" xmlns:cap=\"urn:oasis:names:tc:emergency:cap:1.1\">".as_slice(),
            raw,
            b"</feed>",
        ]
        .concat(),
        Format::Cap => raw.to_vec(),
        Format::News if starts(raw, "entry") => {
            [b"<feed xmlns=\"http://www.w3.org/2005/Atom\">".as_slice(), raw, b"</feed>"].concat()
        }
        Format::News => [b"<rss version=\"2.0\"><channel>".as_slice(), raw, b"</channel></rss>"].concat(),
    };
    Ok(format.parse_bytes(name, &wrapped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gdacs_item_reads_again_in_its_envelope() {
        let text = include_str!("../../../data/feeds/gdacs/gdacs-1.xml");
        let (s, e) = (
            text.find("<item>").unwrap(),
            text.find("</item>").unwrap() + 7,
        );
        let b = retry("gdacs", "gdacs-1.xml", 12, &text.as_bytes()[s..e], None).unwrap();
        assert_eq!((b.read, b.events.len()), (1, 1));
        assert_eq!(b.events[0].id.source_id, "TC1000643/1");
        assert!(
            retry("acled", "x.csv", 3, b"a,b", None)
                .unwrap_err()
                .contains("header")
        );
    }
}
