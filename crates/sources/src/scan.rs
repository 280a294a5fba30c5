//! Byte scanning for tab-separated text, sixteen bytes at a time with
//! vector compares (`wide`: SSE2 on x86-64, NEON on aarch64, plain code
//! elsewhere; no `unsafe` here). Finding a line's end, cutting it at its
//! tabs and checking that it is plain text (ASCII, no NUL) are one pass over
//! each block of the input: a GDELT line is ~400 bytes and 61 fields, and
//! separate passes for the line end, the tabs, UTF-8 and NUL cost more than
//! everything else the parser does with the line.

use wide::u8x16;

/// Bytes per block.
const BLOCK: usize = 16;

/// Bit `i` set exactly when byte `i` of the block is 0xFF in `m` (a
/// compare's result) or, for a loaded block, has its high bit set.
#[inline(always)]
fn bits(m: u8x16) -> u32 {
    m.move_mask() as u32 & 0xffff
}

/// The last bytes of a text (fewer than a block) padded with spaces, which
/// are neither tab, newline, NUL nor non-ASCII.
#[inline]
fn padded(tail: &[u8]) -> [u8; BLOCK] {
    let mut pad = [b' '; BLOCK];
    if let Some(p) = pad.get_mut(..tail.len()) {
        p.copy_from_slice(tail);
    }
    pad
}

/// Position of the first `needle` in `hay`.
pub fn find(hay: &[u8], needle: u8) -> Option<usize> {
    let (blocks, tail) = hay.as_chunks::<BLOCK>();
    let n = u8x16::splat(needle);
    for (i, b) in blocks.iter().enumerate() {
        let m = bits(u8x16::from(*b).cmp_eq(n));
        if m != 0 {
            return Some(i * BLOCK + m.trailing_zeros() as usize);
        }
    }
    tail.iter()
        .position(|b| *b == needle)
        .map(|p| blocks.len() * BLOCK + p)
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
    /// True exactly when the line is all ASCII without NUL (so valid UTF-8
    /// and storable as is).
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
        // Bits of non-ASCII or NUL bytes in the line.
        let mut special = 0u32;
        let mut push = |mut m: u32, base: usize, tabs: &mut usize| {
            while m != 0 {
                if let Some(slot) = ends.get_mut(*tabs) {
                    *slot = (base + m.trailing_zeros() as usize) as u32;
                }
                *tabs += 1;
                m &= m - 1;
            }
        };
        let (nl_v, tab_v, nul_v) = (u8x16::splat(b'\n'), u8x16::splat(b'\t'), u8x16::splat(0));
        // One block: its tabs before the line end go to `ends`; returns the
        // line end's offset in the block, if it holds one.
        let mut block = |b: &[u8; BLOCK], base: usize, tabs: &mut usize| -> Option<usize> {
            let v = u8x16::from(*b);
            let nl = bits(v.cmp_eq(nl_v));
            // Only the bytes before the line end belong to this line.
            let below = if nl == 0 {
                u32::MAX
            } else {
                (nl & nl.wrapping_neg()) - 1
            };
            special |= (bits(v) | bits(v.cmp_eq(nul_v))) & below;
            push(bits(v.cmp_eq(tab_v)) & below, base, tabs);
            (nl != 0).then(|| nl.trailing_zeros() as usize)
        };
        let (blocks, tail) = rest.as_chunks::<BLOCK>();
        let mut end = None;
        for (i, b) in blocks.iter().enumerate() {
            if let Some(e) = block(b, i * BLOCK, &mut tabs) {
                end = Some(i * BLOCK + e);
                break;
            }
        }
        if end.is_none() && !tail.is_empty() {
            let base = blocks.len() * BLOCK;
            end = block(&padded(tail), base, &mut tabs).map(|e| base + e);
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
            plain: special == 0,
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
    fn masks_and_find_are_exact() {
        let b: [u8; BLOCK] = [9, 10, 0, 0xff, 9, 0x89, 1, 8, 9, 9, 0, 0, 0, 0, 0, 9];
        let v = u8x16::from(b);
        assert_eq!(
            bits(v.cmp_eq(u8x16::splat(9))),
            1 | 1 << 4 | 1 << 8 | 1 << 9 | 1 << 15
        );
        assert_eq!(bits(v), 1 << 3 | 1 << 5);
        let text = b"0123456789abcdef0123456789\tabcdef\t";
        assert_eq!(find(text, b'\t'), Some(26));
        assert_eq!(find(b"abc\t", b'\t'), Some(3));
        assert_eq!(find(b"abc", b'\t'), None);
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
