//! Byte scanning for tab-separated text, eight bytes at a time (SWAR) in safe
//! code. Finding a line's end, cutting it at its tabs and checking that it is
//! plain text (ASCII, no NUL) are one pass over each word of the input: a
//! GDELT line is ~400 bytes and 61 fields, and separate passes for the line
//! end, the tabs, UTF-8 and NUL cost more than everything else the parser
//! does with the line.

const ONES: u64 = 0x0101_0101_0101_0101;
const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// A mask with the high bit set in exactly the bytes of `word` equal to
/// `needle` (exact, unlike the classic `(v - 1) & !v` test, which can flag a
/// byte after a match).
#[inline]
fn matches(word: u64, needle: u8) -> u64 {
    let v = word ^ (ONES * u64::from(needle));
    !(((v & LOW7) + LOW7) | v | LOW7)
}

/// Nonzero when `word` has a zero byte (exact as a yes/no; the positions it
/// flags may be off, which is why it only ever triggers an exact re-check).
#[inline]
fn has_zero(word: u64) -> u64 {
    word.wrapping_sub(ONES) & !word & HIGH
}

/// Position of the first `needle` in `hay`.
pub fn find(hay: &[u8], needle: u8) -> Option<usize> {
    let (words, tail) = hay.as_chunks::<8>();
    for (i, w) in words.iter().enumerate() {
        let m = matches(u64::from_le_bytes(*w), needle);
        if m != 0 {
            return Some(i * 8 + (m.trailing_zeros() / 8) as usize);
        }
    }
    tail.iter()
        .position(|b| *b == needle)
        .map(|p| words.len() * 8 + p)
}

/// One line of tab-separated text as [`TabLines`] cut it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cut<'a> {
    /// Where the line starts in the text.
    pub start: usize,
    /// The line without its `\n` and without one trailing `\r`.
    pub line: &'a [u8],
    /// How many tab-separated fields the line has (tabs + 1; may exceed the
    /// `ends` the caller passed: extra fields are counted, not stored).
    pub fields: usize,
    /// True when the line is certainly all ASCII without NUL (so valid
    /// UTF-8 and storable as is). False means "check": the line may still
    /// be fine (the word holding the line end can carry bytes of the next
    /// line into the test).
    pub plain: bool,
}

/// The lines of a text, each cut at its tabs in the same pass that finds its
/// end. Lines split on `\n`; the piece after a final `\n` comes as an empty
/// line, like `split(|b| *b == b'\n')`.
#[derive(Debug)]
pub struct TabLines<'a> {
    text: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> TabLines<'a> {
    pub fn new(text: &'a [u8]) -> Self {
        Self {
            text,
            pos: 0,
            done: false,
        }
    }

    /// The next line. `ends[i]` receives the end offset (in the line) of
    /// field `i` for every field that fits; field `i` starts one byte after
    /// `ends[i - 1]` (field 0 at 0).
    pub fn next_line(&mut self, ends: &mut [u32]) -> Option<Cut<'a>> {
        if self.done {
            return None;
        }
        let start = self.pos;
        let rest = self.text.get(start..).unwrap_or_default();
        let mut tabs = 0usize;
        // High bits: non-ASCII bytes, or a zero byte somewhere.
        let mut special = 0u64;
        let mut push = |mut m: u64, base: usize, tabs: &mut usize| {
            while m != 0 {
                if let Some(slot) = ends.get_mut(*tabs) {
                    *slot = (base + (m.trailing_zeros() / 8) as usize) as u32;
                }
                *tabs += 1;
                m &= m - 1;
            }
        };
        let (words, tail) = rest.as_chunks::<8>();
        let mut end = None;
        for (i, w) in words.iter().enumerate() {
            let w = u64::from_le_bytes(*w);
            let nl = matches(w, b'\n');
            special |= w | has_zero(w);
            if nl != 0 {
                // Only the tabs before the line end belong to this line.
                let below = (nl & nl.wrapping_neg()) - 1;
                push(matches(w, b'\t') & below, i * 8, &mut tabs);
                end = Some(i * 8 + (nl.trailing_zeros() / 8) as usize);
                break;
            }
            push(matches(w, b'\t'), i * 8, &mut tabs);
        }
        if end.is_none() && !tail.is_empty() {
            // The last few bytes, padded with spaces (neither tab, newline,
            // NUL nor non-ASCII).
            let mut pad = [b' '; 8];
            if let Some(p) = pad.get_mut(..tail.len()) {
                p.copy_from_slice(tail);
            }
            let w = u64::from_le_bytes(pad);
            let nl = matches(w, b'\n');
            special |= w | has_zero(w);
            let base = words.len() * 8;
            if nl != 0 {
                let below = (nl & nl.wrapping_neg()) - 1;
                push(matches(w, b'\t') & below, base, &mut tabs);
                end = Some(base + (nl.trailing_zeros() / 8) as usize);
            } else {
                push(matches(w, b'\t'), base, &mut tabs);
            }
        }
        let mut len = match end {
            Some(e) => {
                self.pos += e + 1;
                e
            }
            None => {
                self.done = true;
                rest.len()
            }
        };
        let mut line = rest.get(..len).unwrap_or_default();
        if let Some(l) = line.strip_suffix(b"\r") {
            line = l;
            len -= 1;
        }
        if let Some(slot) = ends.get_mut(tabs) {
            *slot = len as u32;
        }
        Some(Cut {
            start,
            line,
            fields: tabs + 1,
            plain: special & HIGH == 0,
        })
    }
}

/// Field `i` of `line` as cut by [`TabLines`] into `ends` (`""` past the
/// stored ends).
#[inline]
pub fn field<'a>(line: &'a str, ends: &[u32], i: usize) -> &'a str {
    let start = match i.checked_sub(1) {
        None => 0,
        Some(p) => ends.get(p).map_or(usize::MAX, |e| *e as usize + 1),
    };
    let end = ends.get(i).map_or(0, |e| *e as usize);
    line.get(start..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn matches_is_exact() {
        // A 0x0a after a 0x09 must not be flagged as a tab (the classic
        // zero-byte test gets this wrong).
        let w = u64::from_le_bytes([9, 10, 0, 0xff, 9, 0x89, 1, 8]);
        assert_eq!(matches(w, 9), 0x80 | 0x80 << 32);
    }

    fn cut_all(text: &[u8], width: usize) -> Vec<(Vec<u8>, Vec<String>, usize, bool)> {
        let mut t = TabLines::new(text);
        let mut ends = vec![0u32; width];
        let mut out = Vec::new();
        while let Some(c) = t.next_line(&mut ends) {
            let s = String::from_utf8_lossy(c.line).into_owned();
            let n = c.fields.min(width);
            let fields = (0..n).map(|i| field(&s, &ends, i).to_string()).collect();
            out.push((c.line.to_vec(), fields, c.fields, c.plain));
        }
        out
    }

    #[test]
    fn crlf_tails_and_flags() {
        let got = cut_all(b"a\tb\r\n\tc\t\n\xc3\xa9\x00\n12345678\t9", 8);
        let lines: Vec<&[u8]> = got.iter().map(|g| g.0.as_slice()).collect();
        assert_eq!(
            lines,
            [
                b"a\tb".as_slice(),
                b"\tc\t",
                b"\xc3\xa9\x00",
                b"12345678\t9"
            ]
        );
        assert_eq!(got[0].1, ["a", "b"]);
        assert_eq!(got[1].1, ["", "c", ""]);
        assert_eq!(got[3].1, ["12345678", "9"]);
        assert!(!got[2].3, "non-ASCII and NUL are flagged");
        assert!(got[3].3);
        // Plain lines are never wrongly called plain, even when the word
        // carrying their end holds the next line's non-ASCII bytes.
        let got = cut_all(b"ab\n\xff\n", 4);
        assert!(!got[1].3);
    }

    proptest! {
        #[test]
        fn lines_and_fields_agree_with_std(text in proptest::collection::vec(
            prop_oneof![Just(b'\n'), Just(b'\t'), Just(b'\r'), Just(0u8), any::<u8>(), b'a'..=b'z'], 0..300)) {
            let width = 6;
            let ours = cut_all(&text, width);
            let std: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
            prop_assert_eq!(ours.len(), std.len());
            for (o, s) in ours.iter().zip(std) {
                let s = s.strip_suffix(b"\r").unwrap_or(s);
                prop_assert_eq!(&o.0, &s.to_vec());
                let fields: Vec<&[u8]> = s.split(|b| *b == b'\t').collect();
                prop_assert_eq!(o.2, fields.len());
                let text = String::from_utf8_lossy(s);
                let lossy: Vec<String> = text.split('\t').map(str::to_string).collect();
                if std::str::from_utf8(s).is_ok() {
                    prop_assert_eq!(&o.1[..], &lossy[..fields.len().min(width)]);
                }
                if o.3 {
                    prop_assert!(s.iter().all(|b| b.is_ascii() && *b != 0));
                }
            }
        }
    }
}
