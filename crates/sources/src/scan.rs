//! Byte scanning for delimited text, eight bytes at a time (SWAR) in safe
//! code: finding line ends and cutting a line at its tabs are most of what a
//! GDELT parser does, and a byte-at-a-time loop mispredicts on every field.

const ONES: u64 = 0x0101_0101_0101_0101;
const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;

/// A mask with the high bit set in exactly the bytes of `word` equal to
/// `needle` (exact, unlike the classic `(v - 1) & !v` test, which can flag a
/// byte after a match).
#[inline]
fn matches(word: u64, needle: u8) -> u64 {
    let v = word ^ (ONES * u64::from(needle));
    !(((v & LOW7) + LOW7) | v | LOW7)
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

/// The lines of `text`, split on `\n` (a trailing `\r` is left on the line;
/// the piece after a final `\n` is yielded as an empty line, like
/// `split(|b| *b == b'\n')`).
pub fn lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let r = rest?;
        match find(r, b'\n') {
            Some(i) => {
                rest = r.get(i + 1..);
                r.get(..i)
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// Cuts `line` at its tabs into `out`, returning how many fields the line
/// has (which may exceed `out.len()`: extra fields are counted, not stored).
pub fn split_tabs<'a>(line: &'a str, out: &mut [&'a str]) -> usize {
    let bytes = line.as_bytes();
    let mut n = 0;
    let mut start = 0;
    // Tabs are ASCII, so every cut is on a character boundary and `get`
    // always succeeds.
    let mut cut = |end: usize, n: &mut usize, start: &mut usize| {
        if let Some(slot) = out.get_mut(*n) {
            *slot = line.get(*start..end).unwrap_or_default();
        }
        *n += 1;
        *start = end + 1;
    };
    let (words, tail) = bytes.as_chunks::<8>();
    for (i, w) in words.iter().enumerate() {
        let mut m = matches(u64::from_le_bytes(*w), b'\t');
        while m != 0 {
            cut(
                i * 8 + (m.trailing_zeros() / 8) as usize,
                &mut n,
                &mut start,
            );
            m &= m - 1;
        }
    }
    for (j, b) in tail.iter().enumerate() {
        if *b == b'\t' {
            cut(words.len() * 8 + j, &mut n, &mut start);
        }
    }
    cut(bytes.len(), &mut n, &mut start);
    n
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

    proptest! {
        #[test]
        fn lines_agree_with_std(text in proptest::collection::vec(
            prop_oneof![Just(b'\n'), Just(b'\t'), any::<u8>()], 0..200)) {
            let ours: Vec<&[u8]> = lines(&text).collect();
            let std: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
            prop_assert_eq!(ours, std);
        }

        #[test]
        fn tabs_agree_with_std(line in "[a-z\t\u{e9}\u{4e2d}]{0,80}") {
            let mut out = [""; 8];
            let n = split_tabs(&line, &mut out);
            let std: Vec<&str> = line.split('\t').collect();
            prop_assert_eq!(n, std.len());
            prop_assert_eq!(&out[..n.min(8)], &std[..n.min(8)]);
        }
    }
}
