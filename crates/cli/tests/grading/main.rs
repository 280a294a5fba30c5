//! End-to-end tests of classification and grading through the `farguard`
//! binary: `classify`, `guideline check`, `assess`, `risk explain` and
//! `backtest` on real data — the shipped GDELT export, and ACLED 2015 Asia
//! read in place from `FARGUARD_ACLED_DIR` (its licence forbids shipping it;
//! without it those tests print SKIP, and fail under `CI=true`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

const GDELT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../data/gdelt/20191024143000.export.CSV"
);
const GUIDELINE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/guideline.toml");
const CRISES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/crises.csv");
const ACLED_2015: &str = "acled_asia_2015_excl_PAK_MMR_LKA.csv";

struct Env {
    dir: tempfile::TempDir,
    db: String,
}

impl Env {
    fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db").display().to_string();
        Self { dir, db }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_farguard"))
            .arg("--db")
            .arg(&self.db)
            .args(args)
            .env_remove("FARGUARD_DB")
            .output()
            .unwrap()
    }
    fn json(&self, args: &[&str]) -> Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        let out = self.run(&a);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
    }
}

fn acled(name: &str) -> Option<PathBuf> {
    match std::env::var_os("FARGUARD_ACLED_DIR") {
        Some(d) => Some(PathBuf::from(d).join(name)),
        None => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "FARGUARD_ACLED_DIR is not set under CI=true"
            );
            eprintln!("SKIP: FARGUARD_ACLED_DIR not set; ACLED grading tests not run");
            None
        }
    }
}

#[test]
fn classify_text_and_batch_input_explain_themselves() {
    let env = Env::sqlite();
    let v = env.json(&[
        "classify",
        "--text",
        "Rebels shelled the town overnight; an IED exploded near the market, 12 people were killed.",
    ]);
    assert_eq!(v["category"], "security");
    assert_eq!(v["subtype"], "bombing");
    assert_eq!(v["severity"], 5);
    assert!(
        v["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["matched"] == "shelled")
    );
    let v = env.json(&[
        "classify",
        "--lang",
        "zh",
        "--text",
        "工人在工厂门口罢工，要求支付拖欠的工资。",
    ]);
    assert_eq!(v["subtype"], "strike", "{v}");
    // Batch: one JSON object per non-empty line, with its line number.
    let input = env.path("in.txt");
    std::fs::write(
        &input,
        "Thousands marched peacefully in the capital.\n\nThe ministers met for lunch.\n",
    )
    .unwrap();
    let out = env.run(&["--json", "classify", "--input", input.to_str().unwrap()]);
    assert!(out.status.success());
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        (lines[0]["line"].as_u64(), lines[0]["subtype"].as_str()),
        (Some(1), Some("protest"))
    );
    assert_eq!(
        (lines[1]["line"].as_u64(), lines[1]["category"].is_null()),
        (Some(3), true)
    );
    // A bad --lang is refused with what to write.
    let out = env.run(&["classify", "--lang", "fr", "--text", "x"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected zh or en"));
}

#[test]
fn guideline_check_names_line_key_and_rule() {
    let env = Env::sqlite();
    let text = std::fs::read_to_string(GUIDELINE).unwrap();
    for (from, to, key, rule) in [
        (
            "window_days = 7, weight = 1.0",
            "window_days = 7, weight = -1",
            "weight",
            "0 or more",
        ),
        (
            "kind = \"fatalities\"",
            "kind = \"deaths\"",
            "kind",
            "unknown indicator",
        ),
        (
            "IV = 1.0, III = 4.0",
            "IV = 5.0, III = 4.0",
            "thresholds",
            "not monotonic",
        ),
        (
            "window_days = 14, weight = 1.0 },\n]",
            "window_days = 0, weight = 1.0 },\n]",
            "window_days",
            "at least 1 day",
        ),
    ] {
        assert!(text.contains(from), "{from}");
        let line = text[..text.find(from).unwrap()].matches('\n').count() + 1;
        let bad = env.path("bad.toml");
        std::fs::write(&bad, text.replacen(from, to, 1)).unwrap();
        let out = env.run(&["guideline", "check", bad.to_str().unwrap()]);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("bad.toml:{line}:")), "{err}");
        assert!(err.contains(key) && err.contains(rule), "{err}");
    }
    // The shipped file: its area kinds, and grading with it reads the
    // persisted aggregates; another H3 resolution aggregates in memory.
    let v = env.json(&["guideline", "check", GUIDELINE]);
    assert_eq!(v["ok"], true);
    assert_eq!(
        v["areas"],
        serde_json::json!(["country", "admin1", "h3@5", "site"])
    );
    assert_eq!(v["same_aggregates_as_shipped"], true);
    std::fs::write(
        env.path("r6.toml"),
        text.replacen("resolution = 5", "resolution = 6", 1),
    )
    .unwrap();
    let v = env.json(&["guideline", "check", env.path("r6.toml").to_str().unwrap()]);
    assert_eq!(v["same_aggregates_as_shipped"], false);
    let missing = text.replacen("[categories.health]", "[categories.weather]", 1);
    std::fs::write(env.path("m.toml"), missing).unwrap();
    let out = env.run(&["guideline", "check", env.path("m.toml").to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("categories.weather"));
}

#[test]
fn risk_explain_shows_indicators_thresholds_surge_and_links() {
    let env = Env::sqlite();
    env.json(&["ingest", GDELT]);
    let v = env.json(&[
        "risk",
        "explain",
        "US",
        "--category",
        "security",
        "--at",
        "2019-10-24",
    ]);
    let r = &v[0];
    assert_eq!(r["area"], "US");
    let e = &r["explanation"];
    let names: Vec<&str> = e["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "severity_weighted/7d",
            "fatalities/7d",
            "relative/7d",
            "goldstein_mean/7d"
        ]
    );
    assert!(e["thresholds"].as_array().unwrap().len() == 4);
    // One day of GDELT is too little history for the surge test, and it says so.
    assert!(
        e["surge"]["why"].as_str().unwrap().contains("too thin"),
        "{e}"
    );
    assert!(e["top"][0]["link"].as_str().unwrap().starts_with("http"));
    let text = env.run(&["risk", "explain", "US", "--at", "2019-10-24"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("thresholds (country): IV ≥ 1"), "{text}");
    assert!(text.contains("top contributing events"), "{text}");
}

/// Writes a one-site registry file: an office at the given point.
fn site_file(env: &Env, lat: f64, lon: f64, country: &str) -> PathBuf {
    let p = env.path("sites.csv");
    std::fs::write(
        &p,
        format!("id,org,name,kind,lat,lon,country\nTEST-OFFICE,ORG-1,Test office,office,{lat},{lon},{country}\n"),
    )
    .unwrap();
    p
}

#[test]
fn h3_cells_and_sites_are_graded_and_explained() {
    let env = Env::sqlite();
    env.json(&["ingest", GDELT]);
    let rows = env.json(&[
        "assess",
        "--at",
        "2019-10-24",
        "--areas",
        "h3",
        "--limit",
        "1000",
    ]);
    let rows = rows.as_array().unwrap();
    assert!(!rows.is_empty());
    for r in rows {
        assert!(r["area"].as_str().unwrap().starts_with("h3:"), "{r}");
        assert_eq!(r["explanation"]["area_kind"], "h3");
    }
    // The cell's thresholds are the country's scaled by the guideline's 0.35.
    let cell = rows[0]["area"].as_str().unwrap();
    let cat = rows[0]["category"].as_str().unwrap();
    let v = env.json(&[
        "risk",
        "explain",
        cell,
        "--category",
        cat,
        "--at",
        "2019-10-24",
    ]);
    assert_eq!(v[0]["area"], cell);
    let country = env.json(&[
        "risk",
        "explain",
        "US",
        "--category",
        cat,
        "--at",
        "2019-10-24",
    ]);
    let (t_cell, t_country) = (
        v[0]["explanation"]["thresholds"][0].as_f64().unwrap(),
        country[0]["explanation"]["thresholds"][0].as_f64().unwrap(),
    );
    assert!(
        (t_cell - t_country * 0.35).abs() < 1e-9,
        "{t_cell} vs {t_country}"
    );
    // A site registered after the events were stored is graded from the
    // events whose exposure radius reaches it (the aggregates are rebuilt
    // for the new registry). Berlin: the export holds security events there.
    let sites = site_file(&env, 52.5167, 13.4, "DE");
    let imp = env.run(&["import", "sites", sites.to_str().unwrap()]);
    assert!(
        imp.status.success(),
        "{}",
        String::from_utf8_lossy(&imp.stderr)
    );
    let rows = env.json(&["assess", "--at", "2019-10-24", "--areas", "site"]);
    let rows = rows.as_array().unwrap();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r["area"] == "site:TEST-OFFICE"));
    let exp = &rows[0]["explanation"];
    assert_eq!(exp["area_kind"], "site");
    assert!(exp["events_counted"].as_u64().unwrap() >= 1, "{exp}");
    let v = env.json(&["risk", "explain", "site:TEST-OFFICE", "--at", "2019-10-24"]);
    assert!(!v.as_array().unwrap().is_empty());
    // Bare forms: the cell index without `h3:`, the site id without `site:`.
    let bare = env.json(&["risk", "explain", "TEST-OFFICE", "--at", "2019-10-24"]);
    assert_eq!(bare, v);
    let v = env.json(&[
        "risk",
        "explain",
        cell.trim_start_matches("h3:"),
        "--category",
        cat,
        "--at",
        "2019-10-24",
    ]);
    assert_eq!(v[0]["area"], cell);
    let out = env.run(&["risk", "explain", "NO-SUCH-PLACE", "--at", "2019-10-24"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("registered site id"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A site far from every event has no level to explain.
    let out = env.run(&["risk", "explain", "site:NOWHERE", "--at", "2019-10-24"]);
    assert!(!out.status.success());
}

#[test]
fn reingesting_a_file_does_not_count_its_events_twice() {
    let env = Env::sqlite();
    env.json(&["ingest", GDELT]);
    let before = env.json(&[
        "assess",
        "--at",
        "2019-10-24",
        "--areas",
        "all",
        "--limit",
        "100000",
    ]);
    let again = env.json(&["ingest", GDELT]);
    assert_eq!(again["accepted"], 0, "{again}");
    let after = env.json(&[
        "assess",
        "--at",
        "2019-10-24",
        "--areas",
        "all",
        "--limit",
        "100000",
    ]);
    let key = |v: &Value| -> Vec<(String, String, String, String)> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["area"].to_string(),
                    r["category"].to_string(),
                    r["score"].to_string(),
                    r["explanation"]["events_counted"].to_string(),
                )
            })
            .collect()
    };
    assert!(!key(&before).is_empty());
    assert_eq!(key(&before), key(&after));
}

#[test]
fn backtest_replays_acled_2015_day_by_day() {
    let Some(file) = acled(ACLED_2015) else {
        return;
    };
    let env = Env::sqlite();
    let ing = env.json(&["ingest", file.to_str().unwrap()]);
    assert!(ing["accepted"].as_u64().unwrap() > 7000, "{ing}");
    let v = env.json(&[
        "backtest",
        "--from",
        "2015-01-01",
        "--to",
        "2015-12-31",
        "--crises",
        CRISES,
    ]);
    assert_eq!(v["days"], 365);
    assert!(v["events_replayed"].as_u64().unwrap() > 7000);
    let country = v["counts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["area_kind"] == "country")
        .unwrap();
    let (changes, raises, alerts) = (
        country["level_changes"].as_u64().unwrap(),
        country["raises"].as_u64().unwrap(),
        country["alerts"].as_u64().unwrap(),
    );
    assert!(
        alerts > 0 && raises >= alerts && changes >= raises,
        "{country}"
    );
    // Every alert is a raise to II or above of a country in the file.
    for a in v["alerts"].as_array().unwrap() {
        assert!(["II", "I"].contains(&a["to"].as_str().unwrap()), "{a}");
        assert!(
            ["IN", "BD", "NP", "TH", "KH", "VN", "LA"].contains(&a["area"].as_str().unwrap()),
            "{a}"
        );
    }
    let crisis = |c: &str, cat: &str| {
        v["crises"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["country"] == c && x["category"] == cat && x["until"].is_null())
            .unwrap_or_else(|| panic!("no crisis {c} {cat}"))
            .clone()
    };
    let status = |c: &str, cat: &str| crisis(c, cat)["status"].as_str().unwrap().to_string();
    // Outside the file's countries, categories or year.
    assert_eq!(status("YE", "security"), "no data");
    assert_eq!(status("NP", "natural"), "no data");
    assert_eq!(status("UA", "security"), "outside range");
    // The 2015 Asia crises all have data; the Nepal unrest and the Bangkok
    // bombing reach level II before their dates. The Bangladesh blockade
    // began on 5 January, with no stored history before 1 January: the
    // relative indicator and the surge test have no normal to compare with,
    // so it is reached only after the date.
    for (c, cat) in [("BD", "political"), ("NP", "political"), ("TH", "security")] {
        let s = status(c, cat);
        assert!(
            ["caught", "late", "missed"].contains(&s.as_str()),
            "{c}: {s}"
        );
    }
    assert_eq!(status("NP", "political"), "caught");
    assert_eq!(status("TH", "security"), "caught");
    assert!(crisis("NP", "political")["days_early"].as_i64().unwrap() > 0);
    // Quiet controls: false alarms on at most 2 % of control days.
    let controls: Vec<&Value> = v["crises"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| !x["until"].is_null())
        .collect();
    assert!(controls.len() >= 8);
    let days: u64 = controls
        .iter()
        .map(|c| c["control_days"].as_u64().unwrap())
        .sum();
    let alarms: u64 = controls
        .iter()
        .map(|c| c["alert_days"].as_u64().unwrap())
        .sum();
    assert!(days >= 2500, "{days}");
    assert!(
        alarms * 50 <= days,
        "{alarms} of {days} control days alarmed"
    );
    // The calibrated guideline, with the 7-day alert cool-down, raises far
    // fewer country alerts than the uncalibrated one did (106 over the year).
    assert!(alerts < 60, "{alerts} country alerts");
    // A backtest is a pure replay: running it again gives the same answer.
    let again = env.json(&[
        "backtest",
        "--from",
        "2015-01-01",
        "--to",
        "2015-12-31",
        "--crises",
        CRISES,
    ]);
    assert_eq!(v, again);
}
