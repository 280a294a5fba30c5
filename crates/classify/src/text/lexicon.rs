//! The rule file of the text classifier (`lexicon/text_rules.txt`): its
//! grammar, parsed once into matchers, with errors naming the line.

use farguard_model::{Severity, Subtype};
use std::collections::HashMap;
use std::fmt;

/// A lexicon line that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct LexiconError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// Matches one token (English) or a run of tokens (Chinese).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Piece {
    /// The whole token, lower-cased.
    Exact(String),
    /// Any token starting with this (`word*`).
    Prefix(String),
    /// Chinese: consecutive tokens whose concatenation is exactly this.
    Cjk(String),
}

/// Alternatives, each a phrase of pieces.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Alts(pub Vec<Vec<Piece>>);

/// What a rule looks for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Pattern {
    Any(Alts),
    /// Both within `window` tokens, in the same sentence; with `ordered`,
    /// the second after the first.
    Near {
        a: Alts,
        window: usize,
        b: Alts,
        ordered: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rule {
    pub subtype: Subtype,
    pub weight: f64,
    pub pattern: Pattern,
    /// The pattern as written, for the evidence.
    pub source: String,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SeverityRule {
    pub severity: Severity,
    pub pattern: Pattern,
    pub source: String,
}

/// The parsed lexicon.
#[derive(Debug, Clone, Default)]
pub(crate) struct Lexicon {
    pub rules: Vec<Rule>,
    pub severity: Vec<SeverityRule>,
    pub negators: Vec<Piece>,
    pub defaults: HashMap<Subtype, Severity>,
    /// Every Chinese term, to add to the segmenter's dictionary.
    pub cjk_terms: Vec<String>,
}

pub(crate) fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

impl fmt::Display for Piece {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Piece::Exact(s) | Piece::Cjk(s) => f.write_str(s),
            Piece::Prefix(s) => write!(f, "{s}*"),
        }
    }
}

fn piece(word: &str) -> Result<Piece, String> {
    let w = word.to_lowercase();
    if w.chars().any(is_cjk) {
        if w.ends_with('*') {
            return Err(format!("`{word}`: a Chinese term cannot end with `*`"));
        }
        return Ok(Piece::Cjk(w));
    }
    match w.strip_suffix('*') {
        Some("") => Err("a lone `*` matches everything: write a prefix before it".into()),
        Some(p) if p.contains('*') => Err(format!("`{word}`: `*` may only end a word")),
        Some(p) => Ok(Piece::Prefix(p.to_string())),
        None if w.contains('*') => Err(format!("`{word}`: `*` may only end a word")),
        None => Ok(Piece::Exact(w)),
    }
}

fn alts(text: &str, cjk: &mut Vec<String>) -> Result<Alts, String> {
    let t = text.trim();
    let t = t
        .strip_prefix('{')
        .map(|x| x.strip_suffix('}').ok_or("`{` without a closing `}`"))
        .transpose()?
        .unwrap_or(t);
    let mut out = Vec::new();
    for alt in t.split('|') {
        let words: Vec<&str> = alt.split_whitespace().collect();
        if words.is_empty() {
            return Err("empty alternative (two `|` in a row, or `|` at an end)".into());
        }
        let phrase = words
            .iter()
            .map(|w| piece(w))
            .collect::<Result<Vec<_>, _>>()?;
        for p in &phrase {
            if let Piece::Cjk(s) = p {
                cjk.push(s.clone());
            }
        }
        out.push(phrase);
    }
    Ok(Alts(out))
}

fn pattern(text: &str, cjk: &mut Vec<String>) -> Result<Pattern, String> {
    // `A ~N B`: find the `~N` token.
    let parts: Vec<&str> = text.split_whitespace().collect();
    if let Some(i) = parts.iter().position(|p| p.starts_with('~')) {
        let ordered = parts[i].starts_with("~>");
        let digits = parts[i].trim_start_matches('~').trim_start_matches('>');
        let n: usize = digits
            .parse()
            .ok()
            .filter(|n| (1..=50).contains(n))
            .ok_or_else(|| {
                format!(
                    "`{}`: proximity is ~N (or ~>N for an order) with N from 1 to 50",
                    parts[i]
                )
            })?;
        let a = parts[..i].join(" ");
        let b = parts[i + 1..].join(" ");
        if a.is_empty() || b.is_empty() {
            return Err("proximity needs a pattern on both sides: A ~N B".into());
        }
        return Ok(Pattern::Near {
            a: alts(&a, cjk)?,
            window: n,
            b: alts(&b, cjk)?,
            ordered,
        });
    }
    if text.contains('{') {
        return Err("braces `{…}` group alternatives only on a side of `~N`".into());
    }
    Ok(Pattern::Any(alts(text, cjk)?))
}

/// Parses the rule file; `file` names it in errors.
pub(crate) fn parse(file: &str, text: &str) -> Result<Lexicon, LexiconError> {
    let mut lex = Lexicon::default();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let err = |message: String| LexiconError {
            file: file.into(),
            line,
            message,
        };
        let body = raw.split('#').next().unwrap_or("").trim();
        if body.is_empty() {
            continue;
        }
        let (head, rest) = body.split_once(char::is_whitespace).unwrap_or((body, ""));
        let rest = rest.trim();
        match head {
            "@negate" => {
                for w in rest.split('|') {
                    lex.negators.push(piece(w.trim()).map_err(err)?);
                }
            }
            "@default" => {
                let (st, sev) = rest
                    .split_once(char::is_whitespace)
                    .ok_or_else(|| err("expected `@default SUBTYPE SEVERITY`".into()))?;
                let st = Subtype::parse(st).map_err(|e| err(e.to_string()))?;
                let sev = Severity::parse(sev).map_err(|e| err(e.to_string()))?;
                if lex.defaults.insert(st, sev).is_some() {
                    return Err(err(format!("second @default for {st}")));
                }
            }
            "@severity" => {
                let (sev, pat) = rest
                    .split_once(char::is_whitespace)
                    .ok_or_else(|| err("expected `@severity N PATTERN`".into()))?;
                let severity = Severity::parse(sev).map_err(|e| err(e.to_string()))?;
                let pattern = pattern(pat, &mut lex.cjk_terms).map_err(err)?;
                lex.severity.push(SeverityRule {
                    severity,
                    pattern,
                    source: pat.trim().to_string(),
                });
            }
            h if h.starts_with('@') => {
                return Err(err(format!(
                    "unknown directive `{h}`: expected @negate, @default or @severity"
                )));
            }
            st => {
                let subtype = Subtype::parse(st).map_err(|e| err(e.to_string()))?;
                let (w, pat) = rest
                    .split_once(char::is_whitespace)
                    .ok_or_else(|| err("expected `SUBTYPE WEIGHT PATTERN`".into()))?;
                let weight: f64 = w
                    .parse()
                    .ok()
                    .filter(|w: &f64| w.is_finite() && *w != 0.0)
                    .ok_or_else(|| err(format!("weight `{w}` must be a non-zero number")))?;
                let pattern = pattern(pat, &mut lex.cjk_terms).map_err(err)?;
                lex.rules.push(Rule {
                    subtype,
                    weight,
                    pattern,
                    source: pat.trim().to_string(),
                    line,
                });
            }
        }
    }
    for r in &lex.rules {
        if !lex.defaults.contains_key(&r.subtype) {
            return Err(LexiconError {
                file: file.into(),
                line: r.line,
                message: format!("subtype {} has rules but no `@default` severity", r.subtype),
            });
        }
    }
    lex.cjk_terms.sort();
    lex.cjk_terms.dedup();
    Ok(lex)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bad(text: &str, want: &str) {
        let e = parse("t.txt", text).unwrap_err();
        assert!(e.to_string().contains(want), "{e}");
    }

    #[test]
    fn grammar() {
        let l = parse(
            "t.txt",
            "@default protest 2\nprotest 2 protest* | sit in | 抗议\nprotest 1 {police} ~5 {tear gas}\n",
        )
        .unwrap();
        assert_eq!(l.rules.len(), 2);
        let Pattern::Any(Alts(a)) = &l.rules[0].pattern else {
            panic!()
        };
        assert_eq!(a[0], vec![Piece::Prefix("protest".into())]);
        assert_eq!(a[1].len(), 2);
        assert_eq!(a[2], vec![Piece::Cjk("抗议".into())]);
        assert!(matches!(
            l.rules[1].pattern,
            Pattern::Near {
                window: 5,
                ordered: false,
                ..
            }
        ));
        assert_eq!(l.cjk_terms, vec!["抗议".to_string()]);
    }

    #[test]
    fn errors_name_the_line_and_the_fix() {
        bad("@default protest 2\nprotest 0 x", "t.txt:2: weight `0`");
        bad("wibble 1 x", "t.txt:1:");
        bad("@default protest 2\nprotest 1 a || b", "empty alternative");
        bad(
            "@default protest 2\nprotest 1 a ~0 b",
            "with N from 1 to 50",
        );
        bad("protest 1 x", "no `@default`");
        bad("@weird x", "unknown directive");
        bad("@default protest 2\nprotest 1 *", "lone `*`");
    }
}
