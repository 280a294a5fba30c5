//! The text classifier scored on ACLED notes, with ACLED's own event types as
//! the labels. ACLED's licence forbids shipping its data, so the files are
//! read in place from `FARGUARD_ACLED_DIR` (CI points it at the shared data);
//! without it the test prints SKIP (and fails under `CI=true`).

use farguard_classify::text::TextClassifier;
use farguard_classify::text::eval::{
    Confusion, GROUPS_2015, GROUPS_2020, acled_group, group_category, predicted_group,
};
use std::path::PathBuf;

const FILE_2020: &str =
    "acled_global_2020-04-27_2020-05-09_excl_MiddleEast_CaucasusCentralAsia_NorthernAfrica.csv";
const FILE_2015: &str = "acled_asia_2015_excl_PAK_MMR_LKA.csv";

fn acled_dir() -> Option<PathBuf> {
    match std::env::var_os("FARGUARD_ACLED_DIR") {
        Some(d) => Some(PathBuf::from(d)),
        None => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "FARGUARD_ACLED_DIR is not set under CI=true"
            );
            eprintln!("SKIP: FARGUARD_ACLED_DIR not set; ACLED text evaluation not run");
            None
        }
    }
}

/// (event type, notes) of every row, by header name in either schema.
fn rows(path: &PathBuf) -> Vec<(String, String)> {
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .unwrap();
    let h = r.headers().unwrap().clone();
    let col = |name: &str| h.iter().position(|x| x.eq_ignore_ascii_case(name)).unwrap();
    let (t, n) = (col("event_type"), col("notes"));
    r.byte_records()
        .map(|rec| {
            let rec = rec.unwrap();
            let s = |i| String::from_utf8_lossy(rec.get(i).unwrap_or_default()).into_owned();
            (s(t), s(n))
        })
        .collect()
}

/// Scores one file at ACLED's event-type level and at the category level.
fn evaluate(path: &PathBuf, groups: &[&str]) -> (Confusion, Confusion) {
    let clf = TextClassifier::shipped().unwrap();
    let merged = groups.contains(&"protests_riots");
    let mut by_type = Confusion::new(groups);
    let mut by_cat = Confusion::new(&["security", "political"]);
    for (ty, notes) in rows(path) {
        let Some(gold) = acled_group(&ty) else {
            continue;
        };
        let c = clf.classify_lang(&notes, Some("en"));
        by_type.add(gold, predicted_group(c.as_ref(), merged));
        let gold_cat = group_category(gold).unwrap().code();
        by_cat.add(
            gold_cat,
            c.as_ref().map(|c| c.category.code()).unwrap_or("none"),
        );
    }
    (by_type, by_cat)
}

fn print(title: &str, c: &Confusion) {
    println!(
        "\n{title}: {} rows, accuracy {:.3}, macro-F1 {:.3}",
        c.total(),
        c.accuracy(),
        c.macro_f1()
    );
    println!(
        "{:<28} {:>7} {:>9} {:>7} {:>6}",
        "label", "support", "precision", "recall", "F1"
    );
    for l in c.labels() {
        let s = c.score(l);
        println!(
            "{l:<28} {:>7} {:>9.3} {:>7.3} {:>6.3}",
            s.support,
            s.precision(),
            s.recall(),
            s.f1()
        );
    }
    let preds = c.predicted_labels();
    println!(
        "confusion (rows gold, columns predicted): {}",
        preds.join(" | ")
    );
    for g in c.labels() {
        let cells: Vec<String> = preds.iter().map(|p| c.count(g, p).to_string()).collect();
        println!("  {g:<26} {}", cells.join(" | "));
    }
}

#[test]
fn acled_notes_score_at_event_type_level() {
    let Some(dir) = acled_dir() else { return };
    let (t20, c20) = evaluate(&dir.join(FILE_2020), &GROUPS_2020);
    print("ACLED 2020 (global) by event type", &t20);
    print("ACLED 2020 (global) by category", &c20);
    let (t15, c15) = evaluate(&dir.join(FILE_2015), &GROUPS_2015);
    print("ACLED 2015 (Asia, held out) by event type", &t15);
    print("ACLED 2015 (Asia, held out) by category", &c15);
    // Floors a regression would break; the figures are printed above. The
    // rules were written from ACLED's codebook definitions and checked
    // against the 2020 file's aggregate confusions; the 2015 file (other
    // years, other countries, an older schema that merges protests and
    // riots) is held out.
    assert!(
        t20.macro_f1() >= 0.80,
        "2020 macro-F1 {:.3}",
        t20.macro_f1()
    );
    assert!(
        c20.macro_f1() >= 0.90,
        "2020 category macro-F1 {:.3}",
        c20.macro_f1()
    );
    assert!(
        t15.macro_f1() >= 0.64,
        "2015 macro-F1 {:.3}",
        t15.macro_f1()
    );
}
