//! `farguard classify`: free text → category, subtype, severity, confidence
//! and the evidence, one text or one per line; and the ACLED evaluation.

use super::Ctx;
use crate::out;
use anyhow::{Context, Result, bail};
use farguard_classify::text::eval::{
    Confusion, GROUPS_2015, GROUPS_2020, acled_group, group_category, predicted_group,
};
use farguard_classify::text::{TextClassifier, Verdict};
use serde::Serialize;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  farguard classify --text \"Militants ambushed an army patrol; three soldiers were killed.\"
  farguard classify --text \"数千名工人举行抗议示威\" --lang zh --json
  farguard classify --input reports.txt --json      # one JSON object per line
  farguard classify --eval-acled ACLED.csv          # precision / recall / macro-F1

The rules are in crates/classify/lexicon/text_rules.txt (terms, phrases, A ~N B
proximity, negation); every answer lists the rules that fired.")]
pub struct Args {
    /// The text to classify.
    #[arg(long, conflicts_with_all = ["input", "eval_acled"])]
    text: Option<String>,
    /// Classify each line of FILE (or `-` for standard input).
    #[arg(long, value_name = "FILE|-", conflicts_with = "eval_acled")]
    input: Option<String>,
    /// `zh` or `en`; by default Chinese is detected by its characters.
    #[arg(long)]
    lang: Option<String>,
    /// Score the classifier on an ACLED CSV export (either schema), with
    /// ACLED's event types as the labels. The file is read in place.
    #[arg(long, value_name = "FILE")]
    eval_acled: Vec<PathBuf>,
}

#[derive(Debug, Serialize)]
struct EvidenceOut {
    subtype: String,
    weight: f64,
    rule: String,
    matched: String,
    line: usize,
    negated: bool,
}

#[derive(Debug, Serialize)]
struct Answer {
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
    text: String,
    lang: String,
    category: Option<String>,
    subtype: Option<String>,
    severity: Option<u8>,
    confidence: Option<f32>,
    reason: Option<String>,
    scores: Vec<(String, f64)>,
    evidence: Vec<EvidenceOut>,
}

fn answer(text: &str, line: Option<usize>, v: &Verdict) -> Answer {
    let c = v.classification.as_ref();
    Answer {
        line,
        text: text.to_string(),
        lang: v.lang.into(),
        category: c.map(|c| c.category.code().into()),
        subtype: c.map(|c| c.subtype.code().into()),
        severity: c.map(|c| c.severity.get()),
        confidence: c.map(|c| (c.confidence * 100.0).round() / 100.0),
        reason: c.map(|c| c.reason.clone()),
        scores: v
            .scores
            .iter()
            .map(|(s, x)| (s.code().to_string(), (x * 100.0).round() / 100.0))
            .collect(),
        evidence: v
            .evidence
            .iter()
            .map(|e| EvidenceOut {
                subtype: e.subtype.code().into(),
                weight: e.weight,
                rule: e.rule.clone(),
                matched: e.matched.clone(),
                line: e.line,
                negated: e.negated,
            })
            .collect(),
    }
}

fn print_text(a: &Answer) {
    match (&a.category, &a.subtype) {
        (Some(c), Some(s)) => println!(
            "{c} / {s}  severity {}  confidence {:.2}",
            a.severity.unwrap_or(0),
            a.confidence.unwrap_or(0.0)
        ),
        _ => println!("no risk signal (no subtype reached the minimum score)"),
    }
    for e in &a.evidence {
        println!(
            "  {:+5.1} {:<27} \"{}\"{}   (rule line {}: {})",
            e.weight,
            e.subtype,
            e.matched,
            if e.negated { " NEGATED" } else { "" },
            e.line,
            out::short(&e.rule, 60)
        );
    }
    if let Some(r) = &a.reason {
        println!("  why: {r}");
    }
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let clf = TextClassifier::shipped().context("loading the shipped text rules")?;
    let lang = args.lang.as_deref();
    if let Some(l) = lang
        && !matches!(l, "zh" | "en")
    {
        bail!("--lang {l:?}: expected zh or en (or leave it out to detect)");
    }
    if !args.eval_acled.is_empty() {
        return eval(ctx, &clf, &args.eval_acled);
    }
    if let Some(t) = &args.text {
        let a = answer(t, None, &clf.explain(t, lang));
        if ctx.json {
            out::json(&a)?;
        } else {
            print_text(&a);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(input) = &args.input else {
        bail!("give --text TEXT, --input FILE|- or --eval-acled FILE (see --help)");
    };
    let reader: Box<dyn BufRead> = if input == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(input).with_context(|| format!("opening {input}"))?,
        ))
    };
    let stdout = std::io::stdout();
    let mut w = stdout.lock();
    let (mut n, mut classified) = (0usize, 0usize);
    for (i, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("{input}:{}: not UTF-8 text", i + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        n += 1;
        let a = answer(&line, Some(i + 1), &clf.explain(&line, lang));
        classified += usize::from(a.category.is_some());
        if ctx.json {
            writeln!(w, "{}", serde_json::to_string(&a)?)?;
        } else {
            writeln!(w, "{input}:{}: {}", i + 1, out::short(&line, 70))?;
            drop(w);
            print_text(&a);
            w = stdout.lock();
        }
    }
    if !ctx.json {
        writeln!(w, "{n} texts, {classified} with a risk signal")?;
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Serialize)]
struct LabelOut {
    label: String,
    support: u64,
    precision: f64,
    recall: f64,
    f1: f64,
}

#[derive(Debug, Serialize)]
struct EvalOut {
    file: String,
    level: &'static str,
    rows: u64,
    accuracy: f64,
    macro_f1: f64,
    labels: Vec<LabelOut>,
}

fn summarise(file: &str, level: &'static str, c: &Confusion) -> EvalOut {
    let r3 = |x: f64| (x * 1000.0).round() / 1000.0;
    EvalOut {
        file: file.into(),
        level,
        rows: c.total(),
        accuracy: r3(c.accuracy()),
        macro_f1: r3(c.macro_f1()),
        labels: c
            .labels()
            .iter()
            .map(|l| {
                let s = c.score(l);
                LabelOut {
                    label: l.clone(),
                    support: s.support,
                    precision: r3(s.precision()),
                    recall: r3(s.recall()),
                    f1: r3(s.f1()),
                }
            })
            .collect(),
    }
}

fn eval(ctx: &Ctx, clf: &TextClassifier, files: &[PathBuf]) -> Result<ExitCode> {
    let mut outs = Vec::new();
    for path in files {
        let name = path.display().to_string();
        let mut r = csv::ReaderBuilder::new()
            .flexible(true)
            .from_path(path)
            .with_context(|| format!("opening {name}"))?;
        let h = r
            .headers()
            .with_context(|| format!("{name}: header"))?
            .clone();
        let col = |n: &str| {
            h.iter()
                .position(|x| x.eq_ignore_ascii_case(n))
                .with_context(|| format!("{name}: no `{n}` column: is this an ACLED export?"))
        };
        let (ti, ni) = (col("event_type")?, col("notes")?);
        let rows: Vec<(String, String)> = r
            .byte_records()
            .enumerate()
            .map(|(i, rec)| {
                let rec = rec.with_context(|| format!("{name}: record {}", i + 1))?;
                let s =
                    |k: usize| String::from_utf8_lossy(rec.get(k).unwrap_or_default()).into_owned();
                Ok((s(ti), s(ni)))
            })
            .collect::<Result<_>>()?;
        let merged = rows
            .iter()
            .any(|(t, _)| acled_group(t) == Some("protests_riots"));
        let groups: &[&str] = if merged { &GROUPS_2015 } else { &GROUPS_2020 };
        let mut by_type = Confusion::new(groups);
        let mut by_cat = Confusion::new(&["security", "political"]);
        let bar = indicatif::ProgressBar::new(rows.len() as u64);
        if ctx.json {
            bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        }
        for (ty, notes) in &rows {
            bar.inc(1);
            let Some(gold) = acled_group(ty) else {
                continue;
            };
            let c = clf.classify_lang(notes, Some("en"));
            by_type.add(gold, predicted_group(c.as_ref(), merged));
            if let Some(cat) = group_category(gold) {
                by_cat.add(
                    cat.code(),
                    c.as_ref().map(|c| c.category.code()).unwrap_or("none"),
                );
            }
        }
        bar.finish_and_clear();
        outs.push(summarise(&name, "acled_event_type", &by_type));
        outs.push(summarise(&name, "category", &by_cat));
    }
    if ctx.json {
        out::json(&outs)?;
        return Ok(ExitCode::SUCCESS);
    }
    for o in &outs {
        println!(
            "\n{} — by {}: {} rows scored, accuracy {:.3}, macro-F1 {:.3}",
            o.file, o.level, o.rows, o.accuracy, o.macro_f1
        );
        println!(
            "  {:<28} {:>7} {:>9} {:>7} {:>6}",
            "label", "support", "precision", "recall", "F1"
        );
        for l in &o.labels {
            println!(
                "  {:<28} {:>7} {:>9.3} {:>7.3} {:>6.3}",
                l.label, l.support, l.precision, l.recall, l.f1
            );
        }
    }
    println!("\nStrategic developments are not scored (a residual class in ACLED's codebook).");
    Ok(ExitCode::SUCCESS)
}
