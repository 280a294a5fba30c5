//! JSON arrays read item by item, so one bad item — or a file cut off
//! half-way — costs only what is bad: every complete item before the damage
//! is still read, and the damage is one quarantine record with its place.

use serde_json::value::RawValue;

/// One item of a JSON array: its byte offset in the input and its text.
#[derive(Debug)]
pub(crate) struct Item<'a> {
    pub offset: usize,
    pub raw: &'a RawValue,
}

/// Where reading the array stopped early: byte offset and why.
#[derive(Debug)]
pub(crate) struct Damage {
    pub offset: usize,
    pub reason: String,
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(|c| c.is_ascii_whitespace()) {
        i += 1;
    }
    i
}

/// The items of the JSON array starting at `start` (which must point at
/// `[`), and the damage that ended it early, if any.
pub(crate) fn array_items(text: &str, start: usize) -> (Vec<Item<'_>>, Option<Damage>) {
    let b = text.as_bytes();
    let mut items = Vec::new();
    if b.get(start) != Some(&b'[') {
        return (
            items,
            Some(Damage {
                offset: start,
                reason: "expected a JSON array here".into(),
            }),
        );
    }
    let mut i = skip_ws(b, start + 1);
    if b.get(i) == Some(&b']') {
        return (items, None);
    }
    loop {
        let Some(rest) = text.get(i..) else {
            return (
                items,
                Some(Damage {
                    offset: i,
                    reason: "unexpected end of input".into(),
                }),
            );
        };
        let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<&RawValue>();
        match stream.next() {
            Some(Ok(raw)) => {
                let offset = i + skip_ws(rest.as_bytes(), 0);
                items.push(Item { offset, raw });
                i = skip_ws(b, i + stream.byte_offset());
            }
            Some(Err(e)) => {
                return (
                    items,
                    Some(Damage {
                        offset: i,
                        reason: e.to_string(),
                    }),
                );
            }
            None => {
                return (
                    items,
                    Some(Damage {
                        offset: i,
                        reason: "the array is cut off: no closing ]".into(),
                    }),
                );
            }
        }
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b']') => return (items, None),
            Some(c) => {
                return (
                    items,
                    Some(Damage {
                        offset: i,
                        reason: format!(
                            "expected , or ] after an array item, found {:?}",
                            char::from(*c)
                        ),
                    }),
                );
            }
            None => {
                return (
                    items,
                    Some(Damage {
                        offset: i,
                        reason: "the array is cut off: no closing ]".into(),
                    }),
                );
            }
        }
    }
}

/// The offset of the `[` that opens the array under top-level key `key`
/// (`"features": [`), found by scanning, for input that does not parse whole.
pub(crate) fn find_array(text: &str, key: &str) -> Option<usize> {
    let pat = format!("\"{key}\"");
    let at = text.find(&pat)? + pat.len();
    let b = text.as_bytes();
    let i = skip_ws(b, at);
    (b.get(i) == Some(&b':')).then_some(())?;
    let i = skip_ws(b, i + 1);
    (b.get(i) == Some(&b'[')).then_some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_before_damage_survive() {
        let t = r#"[ {"a":1}, {"b":2} , {"c":"#;
        let (items, dmg) = array_items(t, 0);
        assert_eq!(items.len(), 2);
        assert_eq!(items[1].raw.get(), r#"{"b":2}"#);
        assert_eq!(items[1].offset, 11);
        assert!(dmg.is_some());
        let (items, dmg) = array_items("[]", 0);
        assert!(items.is_empty() && dmg.is_none());
        assert_eq!(
            find_array(r#"{"type":"x", "features" : [1]}"#, "features"),
            Some(26)
        );
    }
}
