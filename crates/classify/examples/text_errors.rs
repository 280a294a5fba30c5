//! Error analysis for the text rules on an ACLED file: for each (gold,
//! predicted) confusion, which rules fired most often. Aggregates only —
//! rules are written from definitions, not from rows.
//!
//! `cargo run -p farguard-classify --example text_errors -- FILE.csv`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use farguard_classify::text::TextClassifier;
use farguard_classify::text::eval::{acled_group, predicted_group};
use std::collections::BTreeMap;

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: text_errors FILE.csv");
    let clf = TextClassifier::shipped().unwrap();
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(&path)
        .unwrap();
    let h = r.headers().unwrap().clone();
    let col = |name: &str| h.iter().position(|x| x.eq_ignore_ascii_case(name)).unwrap();
    let (t, n) = (col("event_type"), col("notes"));
    let merged = path.contains("2015");
    let mut fired: BTreeMap<(String, String), BTreeMap<String, u32>> = BTreeMap::new();
    let mut pairs: BTreeMap<(String, String), u32> = BTreeMap::new();
    let mut words: BTreeMap<(String, String), BTreeMap<String, u32>> = BTreeMap::new();
    for rec in r.byte_records() {
        let rec = rec.unwrap();
        let ty = String::from_utf8_lossy(&rec[t]).into_owned();
        let notes = String::from_utf8_lossy(&rec[n]).into_owned();
        let Some(gold) = acled_group(&ty) else {
            continue;
        };
        let v = clf.explain(&notes, Some("en"));
        let pred = predicted_group(v.classification.as_ref(), merged);
        if pred == gold {
            continue;
        }
        let key = (gold.to_string(), pred.to_string());
        *pairs.entry(key.clone()).or_default() += 1;
        let w = words.entry(key.clone()).or_default();
        let mut seen = std::collections::BTreeSet::new();
        for t in notes.split(|c: char| !c.is_alphanumeric()) {
            let t = t.to_lowercase();
            if t.len() > 3 && !t.chars().any(|c| c.is_ascii_digit()) && seen.insert(t.clone()) {
                *w.entry(t).or_default() += 1;
            }
        }
        let m = fired.entry(key).or_default();
        for e in v.evidence.iter().filter(|e| !e.negated) {
            *m.entry(format!(
                "{} {:+} [{}] {}",
                e.subtype,
                e.weight,
                e.line,
                e.matched.to_lowercase()
            ))
            .or_default() += 1;
        }
    }
    for (k, c) in &pairs {
        if *c < 10 {
            continue;
        }
        println!("\n== gold {} → predicted {}: {c}", k.0, k.1);
        let mut v: Vec<_> = fired[k].iter().collect();
        v.sort_by(|a, b| b.1.cmp(a.1));
        for (rule, n) in v.iter().take(12) {
            println!("  {n:>4}  {rule}");
        }
        let mut ws: Vec<_> = words[k].iter().collect();
        ws.sort_by(|a, b| b.1.cmp(a.1));
        let top: Vec<String> = ws
            .iter()
            .take(40)
            .map(|(w, n)| format!("{w}:{n}"))
            .collect();
        println!("  words: {}", top.join(" "));
    }
}
