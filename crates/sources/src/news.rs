//! RSS 0.9x / 1.0 (RDF) / 2.0 and Atom news feeds → events, one per item,
//! classified from title and summary by the bilingual text rules
//! (`farguard_classify::classify_text`). Parsing is feed-rs (which also
//! decodes GBK/GB2312 feeds); dates go through [`parse_date`], which reads
//! RFC 3339 and RFC 2822 and their common deviations, with weekday and month
//! names in Italian, German, French, Spanish, Portuguese and Chinese
//! (`mer, 16 nov 2022`, `2022年11月16日 08:30`).
//!
//! Mapping: `EventId("news", <the item's first link, else its id>)` — a link
//! is what stays stable when a publisher re-issues a feed; published (else
//! updated, else the feed's date) → `occurred_at` and `reported_at`; title →
//! title; links; authors → actors; the feed's language → the classifier's
//! `lang`. An item the classifier finds no risk in is quarantined as "no
//! risk signal" (retry it after the rules change); an item with no date at
//! all is quarantined.
//!
//! The raw record is the item's own bytes when the feed is UTF-8 (located
//! by order among `<item>`/`<entry>` elements), else the feed's text of it.

use crate::record::{Builder, LineCounter, clip, squash};
use crate::{Batch, xml};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use farguard_classify::classify_text;
use farguard_model::{Event, EventId};

/// The `source` of every news event and quarantine record.
pub const SOURCE: &str = "news";

/// English month abbreviations for the month names feeds write in other
/// languages (lower-case, matched as whole words; English names pass
/// through). Weekday names are dropped before this, so Italian `mar`
/// (martedì / marzo) is only ever a month here.
const MONTHS: &[(&str, &str)] = &[
    // Italian
    ("gen", "Jan"),
    ("mar", "Mar"),
    ("apr", "Apr"),
    ("mag", "May"),
    ("giu", "Jun"),
    ("lug", "Jul"),
    ("ago", "Aug"),
    ("set", "Sep"),
    ("ott", "Oct"),
    ("dic", "Dec"),
    // German
    ("jän", "Jan"),
    ("mär", "Mar"),
    ("mrz", "Mar"),
    ("mai", "May"),
    ("okt", "Oct"),
    ("dez", "Dec"),
    // French
    ("janv", "Jan"),
    ("févr", "Feb"),
    ("fév", "Feb"),
    ("mars", "Mar"),
    ("avr", "Apr"),
    ("juin", "Jun"),
    ("juil", "Jul"),
    ("août", "Aug"),
    ("aoû", "Aug"),
    ("sept", "Sep"),
    ("déc", "Dec"),
    // Spanish / Portuguese
    ("ene", "Jan"),
    ("abr", "Apr"),
    ("fev", "Feb"),
    ("out", "Oct"),
];

/// Drops a leading weekday (`mer, `, `Sat, `) and writes month names in
/// English.
fn englishify(s: &str) -> String {
    let s = match s.split_once(',') {
        Some((day, rest)) if day.chars().all(char::is_alphabetic) && day.chars().count() <= 10 => {
            rest.trim_start()
        }
        _ => s,
    };
    let mut out = String::with_capacity(s.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if !word.is_empty() {
            let w = word.to_lowercase();
            match MONTHS.iter().find(|(k, _)| *k == w) {
                Some((_, en)) => out.push_str(en),
                None => out.push_str(word),
            }
            word.clear();
        }
    };
    for c in s.chars() {
        if c.is_alphabetic() {
            word.push(c);
        } else {
            let was_word = !word.is_empty();
            flush(&mut word, &mut out);
            // "nov." → "Nov"
            if !(c == '.' && was_word) {
                out.push(c);
            }
        }
    }
    flush(&mut word, &mut out);
    out
}

/// A feed date in any of the forms real feeds use, as UTC. Dates with no
/// zone are read as UTC.
pub fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let utc = |t: DateTime<chrono::FixedOffset>| t.with_timezone(&Utc);
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(utc(t));
    }
    // Chinese: 2022年11月16日 08:30(:15)
    if s.contains('年') {
        let t: String = s
            .replace(['年', '月'], "-")
            .replace('日', " ")
            .replace(['时', '分'], ":")
            .replace('秒', "");
        let t = t.trim().trim_end_matches(':');
        for f in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"] {
            if let Ok(n) = NaiveDateTime::parse_from_str(t, f) {
                return Some(n.and_utc());
            }
        }
        if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
            return Some(d.and_time(chrono::NaiveTime::MIN).and_utc());
        }
    }
    let en = englishify(s);
    let en = en
        .replace(" Z", " +0000")
        .replace(" UT", " +0000")
        .replace(" UTC", " +0000");
    if let Ok(t) = DateTime::parse_from_rfc2822(&en) {
        return Some(utc(t));
    }
    for f in [
        "%d %b %Y %H:%M:%S %z",
        "%d %b %Y %H:%M %z",
        "%d %B %Y %H:%M:%S %z",
        "%Y-%m-%d %H:%M:%S %z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(&en, f) {
            return Some(utc(t));
        }
    }
    let naive = en.trim_end_matches(" GMT");
    for f in [
        "%b %d %Y %I:%M:%S %p",
        "%d %b %Y %H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(naive, f) {
            return Some(n.and_utc());
        }
    }
    NaiveDate::parse_from_str(naive, "%Y-%m-%d")
        .ok()
        .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc())
}

/// Parses an RSS or Atom feed. Never fails and never panics.
pub fn parse_news(name: &str, bytes: &[u8]) -> Batch {
    let mut out = Builder::new(SOURCE, name);
    let mut lines = LineCounter::new(bytes);
    let parser = feed_rs::parser::Builder::new()
        .timestamp_parser(parse_date)
        .build();
    let feed = match parser.parse(bytes) {
        Ok(f) => f,
        Err(e) => {
            out.reject(
                0,
                format!("not a readable RSS or Atom feed: {e}; check it is the feed and not an HTML page, and that it is complete"),
                bytes,
            );
            return out.finish();
        }
    };
    // Item spans, by order, for exact raw bytes and line numbers.
    let spans: Vec<(usize, usize)> = match std::str::from_utf8(bytes) {
        Ok(text) => {
            let (doc, _) = xml::parse(text);
            let mut v = Vec::new();
            let mut stack: Vec<&xml::Node> = doc.children.iter().rev().collect();
            while let Some(n) = stack.pop() {
                if n.name == "item" || n.name == "entry" {
                    v.push((n.start, n.end));
                } else {
                    stack.extend(n.children.iter().rev());
                }
            }
            v
        }
        Err(_) => Vec::new(),
    };
    let spans = if spans.len() == feed.entries.len() {
        spans
    } else {
        Vec::new()
    };
    let lang = feed.language.clone();
    let feed_date = feed.updated.or(feed.published);
    let feed_title = feed
        .title
        .as_ref()
        .map(|t| squash(&t.content))
        .unwrap_or_default();
    for (i, entry) in feed.entries.iter().enumerate() {
        let (line, raw): (u64, Vec<u8>) = match spans.get(i) {
            Some(&(s, e)) => (lines.at(s), bytes.get(s..e).unwrap_or_default().to_vec()),
            None => (0, summary_raw(entry).into_bytes()),
        };
        let place = if line > 0 {
            format!("line {line} (item {})", i + 1)
        } else {
            format!("item {}", i + 1)
        };
        let result = item(entry, lang.as_deref(), feed_date, &feed_title, &raw);
        out.record(line, &place, &raw, result);
    }
    out.finish()
}

fn summary_raw(e: &feed_rs::model::Entry) -> String {
    format!(
        "id: {}\ntitle: {}\nlink: {}\npublished: {}\nsummary: {}",
        e.id,
        e.title.as_ref().map_or("", |t| t.content.as_str()),
        e.links.first().map_or("", |l| l.href.as_str()),
        e.published.map(|t| t.to_rfc3339()).unwrap_or_default(),
        e.summary.as_ref().map_or("", |t| t.content.as_str()),
    )
}

/// Text of an HTML fragment: tags dropped, whitespace squashed.
fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    squash(&out)
}

fn item(
    e: &feed_rs::model::Entry,
    feed_lang: Option<&str>,
    feed_date: Option<DateTime<Utc>>,
    feed_title: &str,
    raw: &[u8],
) -> Result<Event, String> {
    let title = e
        .title
        .as_ref()
        .map(|t| strip_tags(&t.content))
        .unwrap_or_default();
    let summary = e
        .summary
        .as_ref()
        .map(|t| strip_tags(&t.content))
        .or_else(|| {
            e.content
                .as_ref()
                .and_then(|c| c.body.as_deref())
                .map(strip_tags)
        })
        .unwrap_or_default();
    if title.is_empty() && summary.is_empty() {
        return Err("the item has neither a title nor a summary".into());
    }
    let when = e
        .published
        .or(e.updated)
        .or(feed_date)
        .ok_or("no date: the item has no pubDate/published/updated and the feed none either")?;
    let lang = e
        .language
        .as_deref()
        .or(feed_lang)
        .map(|l| l.trim().to_ascii_lowercase());
    let lang_code = lang
        .as_deref()
        .map(|l| l.split(['-', '_']).next().unwrap_or(l));
    let text = format!("{title}\n{summary}");
    let class = classify_text(&text, lang_code).ok_or_else(|| {
        format!(
            "no risk signal: the text rules found nothing in the title or summary ({:?}); retry after the rules change",
            clip(&title, 80)
        )
    })?;
    let link = e
        .links
        .first()
        .map(|l| l.href.clone())
        .filter(|l| !l.is_empty());
    let id = link.clone().unwrap_or_else(|| e.id.clone());
    if id.trim().is_empty() {
        return Err("the item has neither a link nor an id".into());
    }
    let raw = String::from_utf8_lossy(raw).into_owned();
    let mut reason = class.reason;
    if !feed_title.is_empty() {
        reason.push_str(&format!("; from the feed {}", clip(feed_title, 80)));
    }
    Ok(Event {
        id: EventId::new(SOURCE, clip(&id, 500)),
        occurred_at: when,
        reported_at: e.updated.unwrap_or(when).max(when),
        location: None,
        country: None,
        category: class.category,
        subtype: class.subtype,
        severity: class.severity,
        confidence: class.confidence,
        title: clip(if title.is_empty() { &summary } else { &title }, 300),
        actors: e
            .authors
            .iter()
            .filter_map(|a| a.name.clone())
            .filter(|a| !a.is_empty())
            .collect(),
        links: e
            .links
            .iter()
            .map(|l| l.href.clone())
            .filter(|l| !l.is_empty())
            .collect(),
        fatalities: None,
        goldstein: None,
        tone: None,
        mentions: None,
        reason,
        raw,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_many_languages() {
        let t = |s: &str| parse_date(s).map(|d| d.to_rfc3339());
        assert_eq!(
            t("mer, 16 nov 2022 00:38:15 +0100").as_deref(),
            Some("2022-11-15T23:38:15+00:00")
        );
        assert_eq!(
            t("Tue, 15 Nov 2022 20:15:04 Z").as_deref(),
            Some("2022-11-15T20:15:04+00:00")
        );
        assert_eq!(
            t("Sat, Dec 16 2023 02:02:33 PM").as_deref(),
            Some("2023-12-16T14:02:33+00:00")
        );
        assert_eq!(
            t("Mi, 17 Mär 2021 10:00:00 +0100").as_deref(),
            Some("2021-03-17T09:00:00+00:00")
        );
        assert_eq!(
            t("2022年11月16日 08:30").as_deref(),
            Some("2022-11-16T08:30:00+00:00")
        );
        assert_eq!(
            t("2022-12-17").as_deref(),
            Some("2022-12-17T00:00:00+00:00")
        );
        assert_eq!(
            t("2022-12-20T23:28:24+00:00").as_deref(),
            Some("2022-12-20T23:28:24+00:00")
        );
        assert_eq!(t("someday"), None);
    }
}
