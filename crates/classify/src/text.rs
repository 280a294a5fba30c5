//! Free text (news, field reports, ACLED notes) in Chinese or English → the
//! taxonomy, by explainable weighted rules.
//!
//! How a text is classified:
//!
//! 1. **Tokens.** English is lower-cased and split on anything that is not a
//!    letter, digit, `-` or `'`; Chinese is segmented with jieba-rs (its
//!    bundled dictionary, offline, plus every Chinese term of the lexicon so
//!    those segment as units). Sentence ends (`. ! ? 。！？；`) and clause
//!    breaks (`, ， 、 : ;`) are kept as token positions, not tokens.
//! 2. **Rules.** Each line of `lexicon/text_rules.txt` is a term, a phrase or
//!    a proximity pair (`A ~N B`) with a weight for one subtype. A rule counts
//!    once, at its first match that is not negated (a negator such as "not",
//!    "no", 未, 没有 among the three tokens before it in the same clause).
//! 3. **Decision.** Weights add up per subtype; the highest total wins when it
//!    reaches [`MIN_SCORE`]. Confidence grows with the winning total and
//!    shrinks with the runner-up: `(1 − e^(−top/4)) × top / (top + second)`,
//!    clamped to `0.05..=0.9` (rules are never certain).
//! 4. **Severity.** The subtype's `@default`, raised by the first matching
//!    `@severity` rules (e.g. "killed" → 4), and to 5 when a number ≥ 10 stands
//!    within three tokens before a death word ("12 people were killed").
//!
//! The [`Verdict`] carries every piece of evidence (rule, matched words,
//! weight, negated or not), so a reader can see why; the reason string of the
//! [`Classification`] lists the winning evidence. A learned model can replace
//! this by implementing `Classifier<str>` too.

pub mod eval;
mod lexicon;

pub use lexicon::LexiconError;

use farguard_model::{Classification, Classifier, Severity, Subtype};
use jieba_rs::Jieba;
use lexicon::{Alts, Lexicon, Pattern, Piece, is_cjk};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::OnceLock;

/// The shipped rule file.
pub const DEFAULT_RULES: &str = include_str!("../lexicon/text_rules.txt");

/// The lowest subtype total that yields a classification.
pub const MIN_SCORE: f64 = 1.5;

/// Tokens before a match searched for a negator.
const NEGATION_WINDOW: usize = 3;

/// One token of the text.
#[derive(Debug, Clone)]
struct Token<'a> {
    /// Lower-cased text.
    text: String,
    /// Byte range in the original text, for quoting evidence.
    span: (usize, usize),
    sentence: u32,
    clause: u32,
    raw: &'a str,
}

/// One rule that matched (or matched only under negation).
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    pub subtype: Subtype,
    pub weight: f64,
    /// The rule as written in the lexicon.
    pub rule: String,
    /// The words of the text that matched.
    pub matched: String,
    /// Line of the rule in the lexicon.
    pub line: usize,
    /// True when a negator preceded every match: the rule did not count.
    pub negated: bool,
}

/// Everything the classifier found in one text.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub classification: Option<Classification>,
    /// Totals per subtype, highest first.
    pub scores: Vec<(Subtype, f64)>,
    pub evidence: Vec<Evidence>,
    /// The severity rule that set the severity, if any.
    pub severity_evidence: Option<String>,
    /// `en` or `zh`: how the text was tokenised.
    pub lang: &'static str,
    pub tokens: usize,
}

/// The rule-based bilingual classifier.
#[derive(Debug)]
pub struct TextClassifier {
    lex: Lexicon,
}

fn jieba(extra: &[String]) -> &'static Jieba {
    static J: OnceLock<Jieba> = OnceLock::new();
    J.get_or_init(|| {
        let mut j = Jieba::new();
        for t in extra {
            j.add_word(t, None, None);
        }
        j
    })
}

fn default_classifier() -> Option<&'static TextClassifier> {
    static C: OnceLock<Option<TextClassifier>> = OnceLock::new();
    C.get_or_init(|| TextClassifier::shipped().ok()).as_ref()
}

/// Classifies one text with the shipped rules. `lang` is `zh` or `en`;
/// `None` detects Chinese by its characters.
pub fn classify_text(text: &str, lang: Option<&str>) -> Option<Classification> {
    default_classifier().and_then(|c| c.classify_lang(text, lang))
}

/// The full verdict (scores and evidence) with the shipped rules.
pub fn explain_text(text: &str, lang: Option<&str>) -> Option<Verdict> {
    default_classifier().map(|c| c.explain(text, lang))
}

impl TextClassifier {
    /// The classifier with the shipped rule file.
    pub fn shipped() -> Result<Self, LexiconError> {
        Self::from_rules("lexicon/text_rules.txt", DEFAULT_RULES)
    }

    /// A classifier from a rule file's text (grammar: the file's header).
    pub fn from_rules(file: &str, text: &str) -> Result<Self, LexiconError> {
        Ok(Self {
            lex: lexicon::parse(file, text)?,
        })
    }

    /// Number of weighted rules.
    pub fn rule_count(&self) -> usize {
        self.lex.rules.len()
    }

    /// Classifies with an explicit language (`zh`, `en`, or `None` to detect).
    pub fn classify_lang(&self, text: &str, lang: Option<&str>) -> Option<Classification> {
        self.explain(text, lang).classification
    }

    /// Classifies and returns every piece of evidence.
    pub fn explain(&self, text: &str, lang: Option<&str>) -> Verdict {
        let zh = match lang.map(|l| l.trim().to_ascii_lowercase()) {
            Some(l) if l.starts_with("zh") => true,
            Some(l) if l.starts_with("en") => false,
            _ => text.chars().any(is_cjk),
        };
        let tokens = if zh {
            tokenize(text, Some(jieba(&self.lex.cjk_terms)))
        } else {
            tokenize(text, None)
        };
        let negated_at = |i: usize| -> bool {
            let t = &tokens[i];
            tokens[i.saturating_sub(NEGATION_WINDOW)..i]
                .iter()
                .filter(|p| p.clause == t.clause)
                .any(|p| {
                    self.lex
                        .negators
                        .iter()
                        .any(|n| piece_len(n, std::slice::from_ref(p)) == Some(1))
                })
        };
        let mut totals: HashMap<Subtype, f64> = HashMap::new();
        let mut evidence = Vec::new();
        for r in &self.lex.rules {
            let mut first_negated = None;
            let mut hit = None;
            for m in matches(&r.pattern, &tokens) {
                if negated_at(m.0) {
                    first_negated.get_or_insert(m);
                } else {
                    hit = Some(m);
                    break;
                }
            }
            let (m, negated) = match (hit, first_negated) {
                (Some(m), _) => (m, false),
                (None, Some(m)) => (m, true),
                (None, None) => continue,
            };
            if !negated {
                *totals.entry(r.subtype).or_default() += r.weight;
            }
            evidence.push(Evidence {
                subtype: r.subtype,
                weight: r.weight,
                rule: r.source.clone(),
                matched: quote(text, &tokens, m),
                line: r.line,
                negated,
            });
        }
        let mut scores: Vec<(Subtype, f64)> = totals.into_iter().collect();
        scores.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let lang_code = if zh { "zh" } else { "en" };
        let mut verdict = Verdict {
            classification: None,
            scores,
            evidence,
            severity_evidence: None,
            lang: lang_code,
            tokens: tokens.len(),
        };
        let Some(&(top, top_score)) = verdict.scores.first() else {
            return verdict;
        };
        if top_score < MIN_SCORE {
            return verdict;
        }
        let second = verdict.scores.get(1).map(|s| s.1.max(0.0)).unwrap_or(0.0);
        let confidence =
            ((1.0 - (-top_score / 4.0).exp()) * top_score / (top_score + second)).clamp(0.05, 0.9);
        let (severity, sev_why) = self.severity(top, &tokens, &negated_at, text);
        verdict.severity_evidence = sev_why.clone();
        let mut reason = format!("text rules ({lang_code}): {} {top_score:.1}", top.code());
        let mut first = true;
        for e in verdict
            .evidence
            .iter()
            .filter(|e| e.subtype == top && !e.negated)
        {
            let sep = if first { " = " } else { ", " };
            first = false;
            let _ = write!(reason, "{sep}\"{}\" ({:+.1})", e.matched, e.weight);
        }
        if let Some((s, v)) = verdict.scores.get(1) {
            let _ = write!(reason, "; runner-up {} {v:.1}", s.code());
        }
        let neg: Vec<&str> = verdict
            .evidence
            .iter()
            .filter(|e| e.negated)
            .map(|e| e.matched.as_str())
            .collect();
        if !neg.is_empty() {
            let _ = write!(reason, "; negated: \"{}\"", neg.join("\", \""));
        }
        match &sev_why {
            Some(w) => {
                let _ = write!(reason, "; severity {} from {w}", severity.get());
            }
            None => {
                let _ = write!(reason, "; severity {} (default)", severity.get());
            }
        }
        verdict.classification = Some(Classification {
            category: top.category(),
            subtype: top,
            severity,
            confidence: confidence as f32,
            reason,
        });
        verdict
    }

    fn severity(
        &self,
        st: Subtype,
        tokens: &[Token<'_>],
        negated_at: &dyn Fn(usize) -> bool,
        text: &str,
    ) -> (Severity, Option<String>) {
        let mut sev = self
            .lex
            .defaults
            .get(&st)
            .copied()
            .unwrap_or(Severity::MODERATE);
        let mut why = None;
        for r in &self.lex.severity {
            if r.severity <= sev {
                continue;
            }
            if let Some(m) = matches(&r.pattern, tokens).find(|m| !negated_at(m.0)) {
                // "0 fatalities" is not a death.
                let zero = m.0 > 0 && tokens[m.0 - 1].text == "0";
                if !zero {
                    sev = r.severity;
                    why = Some(format!("\"{}\"", quote(text, tokens, m)));
                }
            }
        }
        // A count of ten or more right before a death word.
        if sev < Severity::EXTREME {
            for (i, t) in tokens.iter().enumerate() {
                let death = [
                    "killed",
                    "dead",
                    "deaths",
                    "fatalities",
                    "died",
                    "死亡",
                    "遇难",
                    "丧生",
                ]
                .contains(&t.text.as_str());
                if !death {
                    continue;
                }
                let n = tokens[i.saturating_sub(4)..i]
                    .iter()
                    .filter(|p| p.sentence == t.sentence)
                    .filter_map(|p| p.text.parse::<u32>().ok())
                    .max();
                if let Some(n) = n.filter(|n| *n >= 10) {
                    sev = Severity::EXTREME;
                    why = Some(format!("{n} dead (\"{}\")", t.raw));
                    break;
                }
            }
        }
        (sev, why)
    }
}

impl Classifier<str> for TextClassifier {
    fn classify(&self, input: &str) -> Option<Classification> {
        self.classify_lang(input, None)
    }
}

/// A text with its language, for callers that know it.
#[derive(Debug, Clone, Copy)]
pub struct TextInput<'a> {
    pub text: &'a str,
    /// `zh` or `en`; `None` detects.
    pub lang: Option<&'a str>,
}

impl Classifier<TextInput<'_>> for TextClassifier {
    fn classify(&self, input: &TextInput<'_>) -> Option<Classification> {
        self.classify_lang(input.text, input.lang)
    }
}

fn is_sentence_end(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '。' | '！' | '？' | '；' | '\n')
}

fn is_clause_break(c: char) -> bool {
    matches!(
        c,
        ',' | '，' | '、' | ':' | '：' | ';' | '(' | ')' | '（' | '）'
    )
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '-' || c == '\''
}

/// Splits `text` into tokens with sentence and clause numbers. With a
/// segmenter, runs of Chinese characters are cut by it; everything else is
/// split on word characters.
fn tokenize<'a>(text: &'a str, seg: Option<&Jieba>) -> Vec<Token<'a>> {
    let mut out = Vec::new();
    let (mut sentence, mut clause) = (0u32, 0u32);
    let push = |out: &mut Vec<Token<'a>>, s: usize, e: usize, sentence: u32, clause: u32| {
        let raw = &text[s..e];
        let t = raw.trim_matches(|c| c == '-' || c == '\'');
        if t.is_empty() {
            return;
        }
        out.push(Token {
            text: t.to_lowercase(),
            span: (s, e),
            sentence,
            clause,
            raw,
        });
    };
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if is_sentence_end(c) {
            // "9.5" or "U.S." does not end a sentence: only a '.' followed by
            // a space or the end does.
            let next = chars.peek().map(|x| x.1);
            if c != '.' || next.is_none_or(char::is_whitespace) {
                sentence += 1;
                clause += 1;
            }
            continue;
        }
        if is_clause_break(c) {
            clause += 1;
            continue;
        }
        if let (Some(j), true) = (seg, is_cjk(c)) {
            let mut end = i + c.len_utf8();
            while let Some(&(k, d)) = chars.peek() {
                if !is_cjk(d) {
                    break;
                }
                end = k + d.len_utf8();
                chars.next();
            }
            for t in j.cut(&text[i..end], true) {
                push(&mut out, i + t.byte_start, i + t.byte_end, sentence, clause);
            }
            continue;
        }
        if is_word_char(c) && !is_cjk(c) {
            let mut end = i + c.len_utf8();
            while let Some(&(k, d)) = chars.peek() {
                if !is_word_char(d) || (seg.is_some() && is_cjk(d)) {
                    break;
                }
                end = k + d.len_utf8();
                chars.next();
            }
            push(&mut out, i, end, sentence, clause);
        } else if is_cjk(c) {
            // No segmenter: one token per character run.
            let mut end = i + c.len_utf8();
            while let Some(&(k, d)) = chars.peek() {
                if !is_cjk(d) {
                    break;
                }
                end = k + d.len_utf8();
                chars.next();
            }
            push(&mut out, i, end, sentence, clause);
        }
    }
    out
}

/// Tokens consumed when `p` matches at the start of `ts`.
fn piece_len(p: &Piece, ts: &[Token<'_>]) -> Option<usize> {
    let first = ts.first()?;
    match p {
        Piece::Exact(w) => (first.text == *w).then_some(1),
        Piece::Prefix(w) => first.text.starts_with(w.as_str()).then_some(1),
        // A term inside one longer token ("冲突" in "发生冲突") matches too:
        // jieba keeps common compounds whole.
        Piece::Cjk(w) if first.text.len() > w.len() && first.text.contains(w.as_str()) => Some(1),
        Piece::Cjk(w) => {
            let mut rest = w.as_str();
            for (n, t) in ts.iter().enumerate() {
                rest = rest.strip_prefix(t.text.as_str())?;
                if rest.is_empty() {
                    return Some(n + 1);
                }
            }
            None
        }
    }
}

/// End (exclusive) of a phrase match starting at `i`, within one sentence.
fn phrase_at(phrase: &[Piece], tokens: &[Token<'_>], i: usize) -> Option<usize> {
    let sentence = tokens[i].sentence;
    let mut at = i;
    for p in phrase {
        let mut end = at;
        while end < tokens.len() && end < at + 8 && tokens[end].sentence == sentence {
            end += 1;
        }
        at += piece_len(p, &tokens[at..end])?;
    }
    Some(at)
}

/// All (start, end) token ranges where `alts` matches.
fn alts_matches<'t>(
    a: &'t Alts,
    tokens: &'t [Token<'_>],
) -> impl Iterator<Item = (usize, usize)> + 't {
    (0..tokens.len()).filter_map(move |i| {
        a.0.iter()
            .filter_map(|ph| phrase_at(ph, tokens, i))
            .max()
            .map(|end| (i, end))
    })
}

/// Matches of a pattern as (start, end) token ranges; for `A ~N B` the range
/// spans both.
fn matches<'t>(
    p: &'t Pattern,
    tokens: &'t [Token<'_>],
) -> Box<dyn Iterator<Item = (usize, usize)> + 't> {
    match p {
        Pattern::Any(a) => Box::new(alts_matches(a, tokens)),
        Pattern::Near {
            a,
            window,
            b,
            ordered,
        } => {
            let (n, ordered) = (*window, *ordered);
            let bs: Vec<(usize, usize)> = alts_matches(b, tokens).collect();
            Box::new(alts_matches(a, tokens).filter_map(move |(s, e)| {
                bs.iter()
                    .find(|(b0, b1)| {
                        let after = *b0 >= e && *b0 - e < n;
                        let before = !ordered && *b1 <= s && s - *b1 < n;
                        tokens[*b0].sentence == tokens[s].sentence && (after || before)
                    })
                    .map(|&(b0, b1)| (s.min(b0), e.max(b1)))
            }))
        }
    }
}

/// The original words of a token range.
fn quote(text: &str, tokens: &[Token<'_>], (s, e): (usize, usize)) -> String {
    let (a, b) = (tokens[s].span.0, tokens[e.saturating_sub(1).max(s)].span.1);
    let q: String = text[a..b].split_whitespace().collect::<Vec<_>>().join(" ");
    if q.chars().count() > 80 {
        let head: String = q.chars().take(77).collect();
        format!("{head}…")
    } else {
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use farguard_model::Category;

    fn check(text: &str, lang: Option<&str>, want: Subtype, min_sev: u8) -> Classification {
        let c = classify_text(text, lang).unwrap_or_else(|| panic!("no class for {text:?}"));
        assert_eq!(c.subtype, want, "{text:?}: {}", c.reason);
        assert!(c.severity.get() >= min_sev, "{text:?}: {}", c.reason);
        c
    }

    #[test]
    fn shipped_rules_parse() {
        let c = TextClassifier::shipped().unwrap();
        assert!(c.rule_count() > 60, "{}", c.rule_count());
    }

    #[test]
    fn english_rules_with_evidence() {
        let c = check(
            "Militants ambushed an army patrol near the border; three soldiers were killed.",
            Some("en"),
            Subtype::ArmedConflict,
            4,
        );
        assert!(c.reason.contains("\"Militants\""), "{}", c.reason);
        check(
            "Hundreds of teachers staged a peaceful protest outside parliament demanding unpaid salaries.",
            None,
            Subtype::Protest,
            1,
        );
        check(
            "A mob torched vehicles and pelted police with stones after the verdict.",
            None,
            Subtype::Riot,
            3,
        );
        check(
            "An IED exploded under a bus, 14 people were killed.",
            None,
            Subtype::Bombing,
            5,
        );
        check(
            "Unidentified gunmen abducted two engineers from a construction site.",
            None,
            Subtype::Kidnapping,
            4,
        );
        check(
            "A magnitude 6.4 earthquake struck the coast.",
            None,
            Subtype::Earthquake,
            4,
        );
    }

    #[test]
    fn chinese_rules_segmented_with_jieba() {
        let c = check(
            "当地时间周五，数千名工人在首都举行抗议示威，要求提高工资。",
            Some("zh"),
            Subtype::Protest,
            2,
        );
        assert_eq!(c.category, Category::Political);
        assert!(c.reason.contains("(zh)"), "{}", c.reason);
        check(
            "武装分子袭击了一处中资企业营地，造成两人死亡，三名工人被绑架。",
            None,
            Subtype::Kidnapping,
            4,
        );
        check(
            "该国北部发生强烈地震，已造成12人遇难。",
            None,
            Subtype::Earthquake,
            5,
        );
        check("首都市中心发生汽车炸弹爆炸。", None, Subtype::Bombing, 5);
    }

    #[test]
    fn acled_codebook_precedence_rules() {
        // A crowd harming a person is mob violence: a riot, not violence
        // against civilians by an organised armed actor.
        check(
            "Villagers beat a man accused of stealing a goat; he died of his injuries.",
            None,
            Subtype::Riot,
            3,
        );
        // The riot police unit is not a riot.
        check(
            "Students marched peacefully to the ministry; riot police watched from a distance.",
            None,
            Subtype::Protest,
            1,
        );
        // Petrol bombs thrown by party supporters: a riot, not remote violence.
        check(
            "Supporters of the two parties hurled petrol bombs at each other during the strike.",
            None,
            Subtype::Riot,
            3,
        );
        // Organised armed groups clashing: a battle, whatever weapons they use.
        check(
            "Militia fighters clashed with government troops using small arms and grenades.",
            None,
            Subtype::ArmedConflict,
            4,
        );
        // Shelling one side cannot answer on the spot: remote violence.
        check(
            "Government forces shelled the village with mortars overnight.",
            None,
            Subtype::Bombing,
            4,
        );
        // Unknown gunmen killing a farmer: violence against civilians.
        check(
            "Unknown gunmen shot and killed a farmer in his field.",
            None,
            Subtype::ViolenceAgainstCivilians,
            4,
        );
    }

    #[test]
    fn negation_cancels_a_rule_and_says_so() {
        let v = explain_text(
            "The rally did not turn violent and no arrests were made.",
            None,
        )
        .unwrap();
        let c = v.classification.unwrap();
        assert_eq!(c.subtype, Subtype::Protest, "{}", c.reason);
        assert!(
            v.evidence
                .iter()
                .any(|e| e.negated && e.subtype == Subtype::Riot)
        );
        assert!(c.reason.contains("negated"), "{}", c.reason);
        // Chinese negation: 未 before 发生冲突.
        let v = explain_text("集会未发生冲突。", Some("zh")).unwrap();
        assert!(
            v.evidence
                .iter()
                .any(|e| e.negated && e.subtype == Subtype::Riot),
            "{v:?}"
        );
    }

    #[test]
    fn proximity_needs_both_terms_close() {
        let near = explain_text("Rebels attacked an army outpost.", None).unwrap();
        assert!(near.evidence.iter().any(|e| e.rule.contains("~6")));
        let far = explain_text(
            "Rebels held a meeting. Much later, in a different town entirely, far from anything, the army held a parade.",
            None,
        )
        .unwrap();
        assert!(
            !far.evidence.iter().any(|e| e.rule.contains("~6")),
            "{far:?}"
        );
    }

    #[test]
    fn no_signal_is_none() {
        assert!(
            classify_text(
                "The ministers discussed trade cooperation over lunch.",
                None
            )
            .is_none()
        );
        assert!(classify_text("", None).is_none());
        assert!(classify_text("双方就经贸合作交换了意见。", None).is_none());
    }

    #[test]
    fn zero_fatalities_do_not_raise_severity() {
        let c = check(
            "Protesters gathered at the district office. 0 fatalities.",
            None,
            Subtype::Protest,
            1,
        );
        assert_eq!(c.severity.get(), 2, "{}", c.reason);
    }
}
