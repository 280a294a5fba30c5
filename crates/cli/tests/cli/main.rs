//! End-to-end tests of the `farguard` binary on the real shipped data, with
//! a fresh SQLite file per test (and PostgreSQL when `FARGUARD_TEST_PG` is set).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod registry;

const GDELT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../data/gdelt/20191024143000.export.CSV"
);
const GDELT_LINES: u64 = 2111;

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

fn counts(v: &Value) -> (u64, u64, u64, u64) {
    let g = |k: &str| v[k].as_u64().unwrap();
    (g("read"), g("accepted"), g("duplicates"), g("quarantined"))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn ingesting_the_same_file_twice_accepts_nothing_the_second_time() {
    let env = Env::sqlite();
    let first = counts(&env.json(&["ingest", GDELT]));
    assert_eq!(first.0, GDELT_LINES);
    assert_eq!(first.0, first.1 + first.2 + first.3, "counts add up");
    assert!(first.1 > 2000, "{first:?}");
    let second = counts(&env.json(&["ingest", GDELT]));
    assert_eq!(second, (GDELT_LINES, 0, first.1, first.3));
}

fn bad_copy(env: &Env) -> PathBuf {
    let text = std::fs::read_to_string(GDELT).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut f = std::fs::File::create(env.path("bad.CSV")).unwrap();
    // Line 1: good. Line 2: a field missing (60 columns). Line 3: latitude 123.
    writeln!(f, "{}", lines[0]).unwrap();
    let fields: Vec<&str> = lines[1].split('\t').collect();
    writeln!(f, "{}", fields[..60].join("\t")).unwrap();
    let mut fields: Vec<String> = lines[2].split('\t').map(String::from).collect();
    fields[56] = "123".into();
    writeln!(f, "{}", fields.join("\t")).unwrap();
    writeln!(f, "{}", lines[3]).unwrap();
    env.path("bad.CSV")
}

#[test]
fn bad_lines_are_quarantined_and_the_rest_is_kept() {
    let env = Env::sqlite();
    let bad = bad_copy(&env);
    let bad = bad.to_str().unwrap();
    let v = env.json(&["ingest", bad]);
    assert_eq!(counts(&v), (4, 2, 0, 2));
    let q = env.json(&["quarantine", "list"]);
    let reasons: Vec<String> = q
        .as_array()
        .unwrap()
        .iter()
        .map(|r| format!("{}:{} {}", r["file"], r["line"], r["reason"]))
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains(":2 ") && r.contains("61") && r.contains("60")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains(":3 ") && r.contains("123")),
        "{reasons:?}"
    );
    // --strict turns quarantine into a failure; nothing accepted is lost.
    let strict = env.run(&["ingest", "--strict", bad]);
    assert!(!strict.status.success());
    let again = env.json(&["ingest", bad]);
    assert_eq!(counts(&again), (4, 0, 2, 2));
}

#[test]
fn unreadable_files_are_named_in_the_error() {
    let env = Env::sqlite();
    let missing = env.run(&["ingest", "no/such/file.CSV"]);
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("no/such/file.CSV"),
        "{}",
        stderr(&missing)
    );
    // A truncated zip archive.
    let zip = env.path("cut.export.CSV.zip");
    std::fs::write(&zip, b"PK\x03\x04\x14\x00\x00\x00\x08\x00truncated").unwrap();
    let out = env.run(&["ingest", zip.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("cut.export.CSV.zip"),
        "{}",
        stderr(&out)
    );
}

fn write(path: &Path, text: &str) -> String {
    std::fs::write(path, text).unwrap();
    path.display().to_string()
}

#[test]
fn site_import_reports_row_errors_and_upserts() {
    let env = Env::sqlite();
    let f = write(
        &env.path("sites.csv"),
        "id,org,name,kind,lat,lon,country,sector,value_usd,headcount,status\n\
         KE-1,acme,Mombasa terminal works,project,-4.0435,39.6682,KE,construction,25000000,120,active\n\
         KE-2,acme,Nairobi office,office,-1.2864,36.8172,KE,,,8,active\n\
         XX-1,acme,Nowhere,office,1,1,XX,,,,\n\
         KE-3,acme,Bad lat,office,123,36.8,KE,,,,\n",
    );
    let v = env.json(&["import", "sites", &f]);
    assert_eq!(
        (
            v["read"].as_u64(),
            v["accepted"].as_u64(),
            v["rejected"].as_u64()
        ),
        (Some(4), Some(2), Some(2))
    );
    let errs = v["errors"].to_string();
    assert!(
        errs.contains("sites.csv:4: field `country`") && errs.contains("sites.csv:5: field `lat`"),
        "{errs}"
    );
    // Re-import with one change: 1 updated, 1 unchanged.
    let f = write(
        &env.path("sites.csv"),
        "id,org,name,kind,lat,lon,country,headcount\n\
         KE-1,acme,Mombasa terminal works,project,-4.0435,39.6682,KE,150\n\
         KE-2,acme,Nairobi office,office,-1.2864,36.8172,KE,8\n",
    );
    let v = env.json(&["import", "sites", &f]);
    assert_eq!(
        (
            v["accepted"].as_u64(),
            v["updated"].as_u64(),
            v["unchanged"].as_u64()
        ),
        (Some(0), Some(1), Some(1))
    );
    let near = env.json(&[
        "exposure",
        "--lat",
        "-4.05",
        "--lon",
        "39.66",
        "--radius-km",
        "5",
    ]);
    let ids: Vec<&str> = near
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["site"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["KE-1"]);
}

#[test]
fn assess_grades_history_as_of_its_own_time_and_explains_levels() {
    let env = Env::sqlite();
    env.json(&["ingest", GDELT]);
    let now = env.json(&["assess"]);
    assert_eq!(
        now.as_array().unwrap().len(),
        0,
        "2019 events do not count today"
    );
    let v = env.json(&["assess", "--at", "2019-10-24"]);
    let rows = v.as_array().unwrap();
    assert!(rows.iter().any(|r| r["level"] != "0"));
    for r in rows.iter().filter(|r| r["level"] != "0") {
        let e = &r["explanation"];
        assert!(e["rule"].as_str().unwrap().contains("→ level"), "{e}");
        assert!(!e["top"].as_array().unwrap().is_empty());
        assert!(r["score"].as_f64().unwrap() >= e["thresholds"][0].as_f64().unwrap());
    }
    // Sorted by level: the first row is at least as high as every other.
    let rank = |l: &str| {
        ["0", "IV", "III", "II", "I"]
            .iter()
            .position(|x| *x == l)
            .unwrap()
    };
    let first = rank(rows[0]["level"].as_str().unwrap());
    assert!(
        rows.iter()
            .all(|r| rank(r["level"].as_str().unwrap()) <= first)
    );
}

#[test]
fn demo_names_real_countries_and_ports_and_explains_itself() {
    let env = Env::sqlite();
    let out = env.path("demo.db");
    let v = env.json(&["demo", "--out", out.to_str().unwrap()]);
    assert_eq!(v["ingest"]["read"].as_u64(), Some(GDELT_LINES));
    assert!(
        v["sites"][0]["accepted"].as_u64().unwrap() > 3500,
        "WPI ports registered"
    );
    let risks = v["risks"].as_array().unwrap();
    assert!(!risks.is_empty());
    assert!(risks.iter().any(|r| r["country"] == "United States"));
    let exposures = v["exposures"].as_array().unwrap();
    assert!(!exposures.is_empty());
    let names: Vec<&str> = exposures
        .iter()
        .flat_map(|x| {
            x["sites"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["name"].as_str().unwrap())
        })
        .collect();
    assert!(names.iter().any(|n| n.starts_with("Port of ")), "{names:?}");
    for x in exposures {
        for s in x["sites"].as_array().unwrap() {
            assert!(s["distance_km"].as_f64().unwrap() <= x["radius_km"].as_f64().unwrap());
            assert!(s["reason"].as_str().unwrap().contains("km"));
        }
    }
    // The demo database answers the same questions afterwards.
    let db = out.to_str().unwrap();
    let ev = exposures[0]["event"].as_str().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_farguard"))
        .args(["--db", db, "--json", "exposure", "--event", ev])
        .output()
        .unwrap();
    let again: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(again["sites"], exposures[0]["sites"]);
}

#[test]
fn guideline_check_names_key_and_rule() {
    let env = Env::sqlite();
    let good = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/guideline.toml");
    assert!(env.run(&["guideline", "check", good]).status.success());
    let text =
        std::fs::read_to_string(good)
            .unwrap()
            .replacen("window_days = 7", "window_days = 0", 1);
    let bad = write(&env.path("g.toml"), &text);
    let out = env.run(&["guideline", "check", &bad]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("assess.window_days"),
        "{}",
        stderr(&out)
    );
}

/// The same ingest against PostgreSQL, in a schema of its own.
#[test]
fn ingest_and_assess_on_postgres() {
    let Ok(url) = std::env::var("FARGUARD_TEST_PG") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but FARGUARD_TEST_PG is not set"
        );
        eprintln!("SKIP ingest_and_assess_on_postgres: FARGUARD_TEST_PG not set");
        return;
    };
    let schema = format!("cli_{}_{}", std::process::id(), chrono_free_nanos());
    let mut env = Env::sqlite();
    let sep = if url.contains('?') { '&' } else { '?' };
    env.db = format!("{url}{sep}options=-csearch_path%3D{schema}");
    let psql = |sql: &str| {
        let mut c = postgres_client(&url);
        c.batch_execute(sql).unwrap();
    };
    psql(&format!("CREATE SCHEMA {schema}"));
    let first = counts(&env.json(&["ingest", GDELT]));
    assert_eq!(first.0, first.1 + first.2 + first.3);
    let second = counts(&env.json(&["ingest", GDELT]));
    assert_eq!(second.1, 0);
    let v = env.json(&["assess", "--at", "2019-10-24"]);
    assert!(!v.as_array().unwrap().is_empty());
    psql(&format!("DROP SCHEMA {schema} CASCADE"));
}

fn chrono_free_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn postgres_client(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).unwrap()
}
