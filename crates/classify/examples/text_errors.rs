//! Error analysis for the text rules on an ACLED file: for each (gold,
//! predicted) confusion, which rules fired most often. Aggregates only —
//! rules are written from definitions, not from rows.
//!
//! `cargo run -p farguard-classify --example text_errors -- FILE.csv [RULES]`
//!
//! With RULES (a rule file), the rules are read at run time instead of the
//! compiled-in file, so an edit is scored without a rebuild. The scores per
//! group and the macro-F1 are printed first.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use farguard_classify::text::TextClassifier;
use farguard_classify::text::eval::{
    Confusion, GROUPS_2015, GROUPS_2020, acled_group, predicted_group,
};
use std::collections::BTreeMap;

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: text_errors FILE.csv");
    let clf = match std::env::args().nth(2) {
        Some(rules) => {
            let text = std::fs::read_to_string(&rules).unwrap();
            TextClassifier::from_rules(&rules, &text).unwrap_or_else(|e| panic!("{e}"))
        }
        None => TextClassifier::shipped().unwrap(),
    };
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(&path)
        .unwrap();
    let h = r.headers().unwrap().clone();
    let col = |name: &str| h.iter().position(|x| x.eq_ignore_ascii_case(name)).unwrap();
    let (t, n) = (col("event_type"), col("notes"));
    let merged = path.contains("2015");
    let groups: &[&str] = if merged { &GROUPS_2015 } else { &GROUPS_2020 };
    let mut conf = Confusion::new(groups);
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
        conf.add(gold, pred);
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
    println!(
        "{} rows, accuracy {:.3}, macro-F1 {:.3}",
        conf.total(),
        conf.accuracy(),
        conf.macro_f1()
    );
    for l in conf.labels() {
        let s = conf.score(l);
        println!(
            "  {l:<28} support {:>5}  P {:.3}  R {:.3}  F1 {:.3}",
            s.support,
            s.precision(),
            s.recall(),
            s.f1()
        );
    }
    let preds = conf.predicted_labels();
    for g in conf.labels() {
        let cells: Vec<String> = preds
            .iter()
            .map(|p| format!("{p}={}", conf.count(g, p)))
            .collect();
        println!("  gold {g}: {}", cells.join(" "));
    }
    if std::env::var_os("QUIET").is_some() {
        return;
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
