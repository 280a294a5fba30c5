//! A small element tree built from quick-xml events, for the XML feeds (CAP,
//! GDACS): names without their namespace prefix, attributes, text with
//! entities resolved, and each element's byte span in the input so a record
//! can be quarantined with its exact bytes.
//!
//! Reading stops at the first well-formedness error; everything closed
//! before it is kept (`complete`), so a truncated feed still yields its
//! complete items, and the error comes back with its byte offset. Nesting
//! deeper than [`MAX_DEPTH`] is an error (a feed is a few levels deep; the
//! limit keeps a hostile input from building a tree that is costly to walk).

use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

/// Deepest element nesting read.
pub(crate) const MAX_DEPTH: usize = 48;

/// One element.
#[derive(Debug, Default, Clone)]
pub(crate) struct Node {
    /// Local name (`alert` for `cap:alert`).
    pub name: String,
    /// The prefix as written (`cap`), or empty.
    pub prefix: String,
    pub attrs: Vec<(String, String)>,
    /// Text directly inside, entities resolved, CDATA included.
    pub text: String,
    pub children: Vec<Node>,
    /// Byte span of the element in the input.
    pub start: usize,
    pub end: usize,
    /// False when the input ended (or broke) before the element closed.
    pub complete: bool,
}

impl Node {
    /// The first child called `name` (local name, ASCII case-insensitive).
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }
    /// Every child called `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children
            .iter()
            .filter(move |c| c.name.eq_ignore_ascii_case(name))
    }
    /// The trimmed text of the first child called `name`, or "".
    pub fn text_of(&self, name: &str) -> &str {
        self.child(name).map_or("", |c| c.text.trim())
    }
    /// The value of attribute `name`, or "".
    pub fn attr(&self, name: &str) -> &str {
        self.attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map_or("", |(_, v)| v.as_str())
    }
}

/// Where and why the XML stopped being readable.
#[derive(Debug, Clone)]
pub(crate) struct XmlError {
    pub offset: usize,
    pub reason: String,
}

fn open(e: &BytesStart<'_>, start: usize) -> Node {
    let qname = e.name();
    let full: String = AsRef::<str>::as_ref(&qname).to_string();
    let (prefix, name) = match full.split_once(':') {
        Some((p, n)) => (p.to_string(), n.to_string()),
        None => (String::new(), full),
    };
    let attrs = e
        .attributes()
        .filter_map(Result::ok)
        .map(|a| {
            let key: String = AsRef::<str>::as_ref(&a.key.local_name()).to_string();
            let value = quick_xml::escape::unescape(&a.value)
                .map(|v| v.into_owned())
                .unwrap_or_else(|_| a.value.to_string());
            (key, value)
        })
        .collect();
    Node {
        name,
        prefix,
        attrs,
        start,
        ..Node::default()
    }
}

fn entity(name: &str) -> Option<char> {
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ => return None,
    })
}

/// Parses `text` into a document node whose children are the top-level
/// elements, and the error that stopped reading, if any.
pub(crate) fn parse(text: &str) -> (Node, Option<XmlError>) {
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Node> = vec![Node {
        name: "#document".into(),
        complete: true,
        ..Node::default()
    }];
    let mut error = None;
    loop {
        let before = reader.buffer_position() as usize;
        let event = match reader.read_event() {
            Ok(e) => e,
            Err(e) => {
                error = Some(XmlError {
                    offset: reader.error_position() as usize,
                    reason: e.to_string(),
                });
                break;
            }
        };
        let after = reader.buffer_position() as usize;
        let top = stack.len() - 1;
        match event {
            Event::Start(e) => {
                if stack.len() > MAX_DEPTH {
                    error = Some(XmlError {
                        offset: before,
                        reason: format!("elements nested deeper than {MAX_DEPTH} levels"),
                    });
                    break;
                }
                stack.push(open(&e, before));
            }
            Event::Empty(e) => {
                let mut n = open(&e, before);
                n.end = after;
                n.complete = true;
                if let Some(parent) = stack.get_mut(top) {
                    parent.children.push(n);
                }
            }
            Event::End(_) => {
                if stack.len() > 1
                    && let Some(mut n) = stack.pop()
                {
                    n.end = after;
                    n.complete = true;
                    if let Some(parent) = stack.last_mut() {
                        parent.children.push(n);
                    }
                }
            }
            Event::Text(t) => {
                if let Some(n) = stack.get_mut(top) {
                    n.text.push_str(&t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some(n) = stack.get_mut(top) {
                    n.text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c),
                    Ok(None) => entity(&r),
                    Err(_) => None,
                };
                if let Some(n) = stack.get_mut(top) {
                    match c {
                        Some(c) => n.text.push(c),
                        // An unknown entity is kept as written, not dropped.
                        None => {
                            n.text.push('&');
                            n.text.push_str(&r);
                            n.text.push(';');
                        }
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if error.is_none() && stack.len() > 1 {
        error = Some(XmlError {
            offset: text.len(),
            reason: format!(
                "the document ends inside <{}>: it is truncated",
                stack.last().map_or("", |n| n.name.as_str())
            ),
        });
    }
    // Close what is still open, marked incomplete, so callers see it.
    while stack.len() > 1 {
        if let Some(mut n) = stack.pop() {
            n.end = text.len();
            if let Some(parent) = stack.last_mut() {
                parent.children.push(n);
            }
        }
    }
    let doc = stack.pop().unwrap_or_default();
    (doc, error)
}

/// The root element of a parsed document.
pub(crate) fn root(doc: &Node) -> Option<&Node> {
    doc.children.first()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_tree_with_entities_and_spans() {
        let t = "<?xml version='1.0'?><a:x xmlns:a='u'><a:y k='v&amp;w'>1 &lt; 2 &#x4e2d;</a:y><z/></a:x>";
        let (doc, err) = parse(t);
        assert!(err.is_none(), "{err:?}");
        let x = root(&doc).unwrap();
        assert_eq!((x.name.as_str(), x.prefix.as_str()), ("x", "a"));
        let y = x.child("y").unwrap();
        assert_eq!(y.text, "1 < 2 中");
        assert_eq!(y.attr("k"), "v&w");
        assert!(t[y.start..y.end].starts_with("<a:y") && t[y.start..y.end].ends_with("</a:y>"));
        assert!(x.child("z").unwrap().complete);
    }

    #[test]
    fn truncation_keeps_what_closed() {
        let t = "<rss><item><t>a</t></item><item><t>b</t></it";
        let (doc, err) = parse(t);
        assert!(err.is_some());
        let rss = root(&doc).unwrap();
        let items: Vec<_> = rss.all("item").collect();
        assert_eq!(items.len(), 2);
        assert!(items[0].complete && !items[1].complete);
    }
}
