//! End to end through the real binary: an alert composed on the shipped
//! GDELT export reaches exactly the exposed people through a local webhook
//! receiver and a local SMTP sink; `farguard notify run` is killed (SIGKILL)
//! in the middle of the fan-out and restarted, and every message arrives
//! exactly once per idempotency key (the receivers deduplicate on it; at
//! most the one message in flight at the kill is seen twice on the wire);
//! check-in answers then appear in the accountability view; the alert is
//! updated and cancelled (CAP Update / Cancel referencing it, valid against
//! the shipped schema) to the same people; and two runners working the same
//! outbox with leases shorter than a send never send a message twice.

// Test helpers outside #[test] fns are not covered by allow-unwrap-in-tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sockets;

use sockets::{Http, Smtp};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const EVENT: &str = "gdelt:881991328"; // Barcelona, 2019-10-24, security, severity 5
const SECRET: &str = "kill-test-secret";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fg(db: &str, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_farguard"));
    c.arg("--db")
        .arg(db)
        .args(args)
        .env("FARGUARD_WEBHOOK_SECRET", SECRET);
    c
}

fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// 40 people in Barcelona while the event happens (odd ones by webhook, even
/// ones by e-mail), 5 in Madrid at the same time and 1 in Barcelona a week
/// later: only the first 40 are exposed.
fn registry(dir: &Path) -> (PathBuf, PathBuf) {
    let mut people = String::from("id,name,language,email\n");
    let mut legs = String::from("id,person,lat,lon,country,place,from,to\n");
    for i in 0..40 {
        let email = if i % 2 == 0 {
            format!("p{i:02}@example.org")
        } else {
            String::new()
        };
        let lang = if i % 3 == 0 { "en" } else { "zh" };
        people.push_str(&format!("p{i:02},Person {i},{lang},{email}\n"));
        legs.push_str(&format!(
            "l{i:02},p{i:02},41.39,2.17,ES,Barcelona,2019-10-23,2019-10-26\n"
        ));
    }
    for i in 0..5 {
        people.push_str(&format!("m{i},Madrid {i},zh,m{i}@example.org\n"));
        legs.push_str(&format!(
            "lm{i},m{i},40.42,-3.70,ES,Madrid,2019-10-23,2019-10-26\n"
        ));
    }
    people.push_str("late,Too late,zh,late@example.org\n");
    legs.push_str("llate,late,41.39,2.17,ES,Barcelona,2019-11-01,2019-11-05\n");
    let (p, l) = (dir.join("people.csv"), dir.join("legs.csv"));
    std::fs::write(&p, people).unwrap();
    std::fs::write(&l, legs).unwrap();
    (p, l)
}

fn config(dir: &Path, hook: &str, smtp_port: u16) -> PathBuf {
    let mut t = format!(
        r#"sender = "farguard@test.example"
sender_name = "farguard test"
checkin_base_url = "http://127.0.0.1:8080/checkin"
checkin_ttl_hours = 72
fallback = "none"

[retry]
max_attempts = 6
base_ms = 50
max_delay_ms = 400

[rate]
webhook = 1000
email = 1000

[channels.webhook]
secret_env = "FARGUARD_WEBHOOK_SECRET"
timeout_ms = 3000

[channels.email]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
from = "farguard <alerts@test.example>"
timeout_ms = 3000
"#
    );
    for i in (1..40).step_by(2) {
        t.push_str(&format!(
            "\n[[contacts]]\nrecipient = \"p{i:02}\"\nchannel = \"webhook\"\naddress = \"{hook}\"\n"
        ));
    }
    let p = dir.join("notify.toml");
    std::fs::write(&p, t).unwrap();
    p
}

#[test]
fn killing_notify_run_mid_fan_out_loses_nothing_and_sends_nothing_twice_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fg.db");
    scenario(dir.path(), db.to_str().unwrap());
}

/// The same on PostgreSQL, in a fresh schema, when `FARGUARD_TEST_PG` is set
/// (a visible SKIP otherwise; a failure under `CI=true`).
#[test]
fn killing_notify_run_mid_fan_out_loses_nothing_and_sends_nothing_twice_postgres() {
    let Some(url) = std::env::var("FARGUARD_TEST_PG")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but FARGUARD_TEST_PG is not set"
        );
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "SKIP notify kill test on postgres: FARGUARD_TEST_PG not set"
        );
        return;
    };
    let schema = format!("fg_notify_kill_{}", std::process::id());
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    c.batch_execute(&format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
    ))
    .unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    let target = format!("{url}{sep}options=-c%20search_path%3D{schema}");
    let dir = tempfile::tempdir().unwrap();
    let r = std::panic::catch_unwind(|| scenario(dir.path(), &target));
    c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .unwrap();
    if let Err(e) = r {
        std::panic::resume_unwind(e);
    }
}

fn scenario(dir: &Path, db: &str) {
    // Each webhook answer takes 40 ms, so the fan-out is still running when we kill it.
    let hook = Http::start(Duration::from_millis(40));
    let sink = Smtp::start();
    let cfg = config(dir, &hook.url, sink.port);
    let cfgs = cfg.to_str().unwrap();
    let export = repo().join("data/gdelt/20191024143000.export.CSV");
    ok(fg(db, &["ingest", export.to_str().unwrap()])
        .output()
        .unwrap());
    let (people, legs) = registry(dir);
    ok(fg(db, &["import", "people", people.to_str().unwrap()])
        .output()
        .unwrap());
    ok(fg(db, &["import", "itineraries", legs.to_str().unwrap()])
        .output()
        .unwrap());

    let out = ok(fg(
        db,
        &[
            "--json", "alerts", "compose", "--event", EVENT, "--config", cfgs,
        ],
    )
    .output()
    .unwrap());
    let q: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(q["people"], 40, "{q}");
    assert_eq!(q["queued"], 40, "{q}");
    let alert = q["alert"].as_str().unwrap().to_string();
    // Composing again queues nothing.
    let again = ok(fg(
        db,
        &[
            "--json", "alerts", "compose", "--event", EVENT, "--config", cfgs,
        ],
    )
    .output()
    .unwrap());
    assert!(again.contains("\"already_composed\": true"), "{again}");

    // Start the fan-out and kill -9 it once a few messages have arrived.
    let mut child = fg(
        db,
        &[
            "notify",
            "run",
            "--config",
            cfgs,
            "--batch",
            "4",
            "--lease-secs",
            "2",
        ],
    )
    .spawn()
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while hook.requests().len() < 4 {
        assert!(Instant::now() < deadline, "the runner delivered nothing");
        if let Some(st) = child.try_wait().unwrap() {
            panic!("the runner ended before it could be killed: {st}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let at_kill = hook.requests().len() + sink.mails().len();
    assert!(
        at_kill < 40,
        "the kill must land mid fan-out ({at_kill} of 40 already arrived)"
    );

    // Restart: the rows the dead runner held come back when their lease ends.
    let out = ok(fg(
        db,
        &[
            "--json",
            "notify",
            "run",
            "--config",
            cfgs,
            "--lease-secs",
            "2",
        ],
    )
    .output()
    .unwrap());
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["dead"], 0, "{r}");

    // What the receivers got: every exposed person exactly once per key.
    let mut per_key: BTreeMap<String, usize> = BTreeMap::new();
    for req in hook.requests() {
        *per_key
            .entry(req.header("Idempotency-Key").unwrap().to_string())
            .or_default() += 1;
    }
    for m in sink.mails() {
        *per_key.entry(m.header("Message-ID").unwrap()).or_default() += 1;
    }
    assert_eq!(per_key.len(), 40, "every message arrived: {per_key:?}");
    let resent: usize = per_key.values().map(|n| n - 1).sum();
    assert!(
        resent <= 1,
        "only the one message in flight at the kill may be sent again (same key, deduplicated by the receiver): {per_key:?}"
    );
    let webhook_people: BTreeSet<String> = hook
        .requests()
        .iter()
        .map(|r| {
            serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["recipient"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let mail_people: BTreeSet<String> = sink.mails().iter().flat_map(|m| m.to.clone()).collect();
    let want_hook: BTreeSet<String> = (1..40).step_by(2).map(|i| format!("p{i:02}")).collect();
    let want_mail: BTreeSet<String> = (0..40)
        .step_by(2)
        .map(|i| format!("<p{i:02}@example.org>"))
        .collect();
    assert_eq!(webhook_people, want_hook);
    assert_eq!(
        mail_people, want_mail,
        "nobody in Madrid, nobody a week late"
    );

    // The outbox agrees, and says what happened.
    let shown: serde_json::Value =
        serde_json::from_str(&ok(fg(db, &["--json", "alerts", "show", &alert])
            .output()
            .unwrap()))
        .unwrap();
    let ds = shown["deliveries"].as_array().unwrap();
    assert_eq!(ds.len(), 40);
    assert!(ds.iter().all(|d| d["state"] == "sent"), "{shown}");

    // CAP out, as issued.
    let cap = ok(fg(db, &["alerts", "show", &alert, "--cap"])
        .output()
        .unwrap());
    assert!(
        cap.contains("<identifier>") && cap.contains("<circle>41.3833,2.18333 "),
        "{cap}"
    );

    // Check-in: the link token from a delivered webhook message.
    let text = hook.requests()[0].body.clone();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let token = v["text"].as_str().unwrap().split("?t=").nth(1).unwrap()[..64].to_string();
    let who = v["recipient"].as_str().unwrap().to_string();
    let a = ok(fg(
        db,
        &[
            "--json",
            "checkin",
            "answer",
            "--token",
            &token,
            "--status",
            "need_help",
            "--message",
            "ankle hurt",
            "--lat",
            "41.39",
            "--lon",
            "2.17",
        ],
    )
    .output()
    .unwrap());
    assert!(a.contains("\"recorded\""), "{a}");
    let a = ok(fg(
        db,
        &[
            "--json",
            "checkin",
            "answer",
            "--token",
            &token,
            "--status",
            "need_help",
            "--message",
            "ankle hurt",
            "--lat",
            "41.39",
            "--lon",
            "2.17",
        ],
    )
    .output()
    .unwrap());
    assert!(
        a.contains("\"unchanged\""),
        "answering twice is idempotent: {a}"
    );
    let forged = fg(
        db,
        &[
            "checkin",
            "answer",
            "--token",
            &"0".repeat(64),
            "--status",
            "safe",
        ],
    )
    .output()
    .unwrap();
    assert!(!forged.status.success());
    assert!(String::from_utf8_lossy(&forged.stderr).contains("not valid"));
    let view: serde_json::Value = serde_json::from_str(&ok(fg(
        db,
        &["--json", "checkin", "status", &format!("event:{EVENT}")],
    )
    .output()
    .unwrap()))
    .unwrap();
    assert_eq!(view["people"], 40);
    assert_eq!(view["reached"], 40);
    assert_eq!(view["need_help"], 1);
    assert_eq!(view["no_answer"], 39);
    let row = view["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["recipient"] == who.as_str())
        .unwrap();
    assert_eq!(row["message"], "ankle hurt");

    // Reminders go to the 39 who have not answered, once per round.
    let r1 = ok(fg(
        db,
        &[
            "--json",
            "checkin",
            "remind",
            &format!("event:{EVENT}"),
            "--config",
            cfgs,
        ],
    )
    .output()
    .unwrap());
    let r1: serde_json::Value = serde_json::from_str(&r1).unwrap();
    assert_eq!(r1["people"], 39, "{r1}");
    assert_eq!(r1["queued"], 39, "{r1}");
    let r2: serde_json::Value = serde_json::from_str(&ok(fg(
        db,
        &[
            "--json",
            "checkin",
            "remind",
            &format!("event:{EVENT}"),
            "--config",
            cfgs,
        ],
    )
    .output()
    .unwrap()))
    .unwrap();
    assert_eq!(r2["queued"], 0, "the same round twice queues nothing: {r2}");
    ok(fg(db, &["notify", "run", "--config", cfgs])
        .output()
        .unwrap());

    update_and_cancel(db, cfgs, &alert, &cap, &hook, &sink);
}

/// The CAP document as issued validates against the shipped OASIS schema
/// (a visible SKIP without xmllint; a failure under CI=true).
fn validate_cap(xml: &str) {
    if Command::new("xmllint").arg("--version").output().is_err() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but xmllint is missing"
        );
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), "SKIP CAP schema validation: no xmllint");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("alert.xml");
    std::fs::write(&f, xml).unwrap();
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(repo().join("crates/notify/schema/CAP-v1.2.xsd"))
        .arg(&f)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{xml}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn element<'a>(xml: &'a str, tag: &str) -> &'a str {
    let open = format!("<{tag}>");
    let a = xml.find(&open).unwrap() + open.len();
    &xml[a..a + xml[a..].find('<').unwrap()]
}

/// `alerts update` and `alerts cancel`: CAP Update / Cancel documents that
/// reference what was issued, valid against the schema, delivered to the
/// same 40 people over the same channels; check-in works from the update's
/// own link; nothing can be updated once cancelled.
fn update_and_cancel(db: &str, cfgs: &str, alert: &str, cap: &str, hook: &Http, sink: &Smtp) {
    validate_cap(cap);
    let reference = format!(
        "{},{alert},{}",
        element(cap, "sender"),
        element(cap, "sent")
    );
    let before = (hook.requests().len(), sink.mails().len());
    let q: serde_json::Value = serde_json::from_str(&ok(fg(
        db,
        &[
            "--json",
            "alerts",
            "update",
            alert,
            "--message",
            "Clashes moved north; the airport road is open",
            "--config",
            cfgs,
        ],
    )
    .output()
    .unwrap()))
    .unwrap();
    assert_eq!(
        (q["people"].as_u64(), q["queued"].as_u64()),
        (Some(40), Some(40)),
        "{q}"
    );
    let update = q["alert"].as_str().unwrap().to_string();
    assert!(update.contains(".update."), "{update}");
    let ucap = ok(fg(db, &["alerts", "show", &update, "--cap"])
        .output()
        .unwrap());
    validate_cap(&ucap);
    assert!(ucap.contains("<msgType>Update</msgType>"), "{ucap}");
    assert_eq!(element(&ucap, "references"), reference);
    assert!(ucap.contains("Clashes moved north"));
    assert_eq!(
        element(&ucap, "circle"),
        element(cap, "circle"),
        "the same area"
    );
    ok(fg(db, &["notify", "run", "--config", cfgs])
        .output()
        .unwrap());
    let hooks: Vec<_> = hook.requests()[before.0..].to_vec();
    let mails: Vec<_> = sink.mails()[before.1..].to_vec();
    let got: BTreeSet<String> = hooks
        .iter()
        .map(|r| {
            let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
            assert!(v["key"].as_str().unwrap().starts_with(&update), "{v}");
            assert!(
                v["text"].as_str().unwrap().contains("Clashes moved north"),
                "{v}"
            );
            v["recipient"].as_str().unwrap().to_string()
        })
        .collect();
    let want: BTreeSet<String> = (1..40).step_by(2).map(|i| format!("p{i:02}")).collect();
    assert_eq!(got, want, "the update goes to the same webhook people");
    let to: BTreeSet<String> = mails.iter().flat_map(|m| m.to.clone()).collect();
    assert_eq!(to.len(), 20, "and to the same e-mail people: {to:?}");
    // The update's own link answers for its person.
    let v: serde_json::Value = serde_json::from_str(&hooks[0].body).unwrap();
    let token = v["text"].as_str().unwrap().split("?t=").nth(1).unwrap()[..64].to_string();
    let a = ok(fg(
        db,
        &[
            "--json", "checkin", "answer", "--token", &token, "--status", "safe",
        ],
    )
    .output()
    .unwrap());
    assert!(
        a.contains("\"recorded\"") || a.contains("\"unchanged\""),
        "{a}"
    );

    let c: serde_json::Value = serde_json::from_str(&ok(fg(
        db,
        &["--json", "alerts", "cancel", alert, "--config", cfgs],
    )
    .output()
    .unwrap()))
    .unwrap();
    let cancel = c["alert"].as_str().unwrap().to_string();
    assert_eq!(c["queued"], 40, "{c}");
    let ccap = ok(fg(db, &["alerts", "show", &cancel, "--cap"])
        .output()
        .unwrap());
    validate_cap(&ccap);
    assert!(ccap.contains("<msgType>Cancel</msgType>"));
    assert!(ccap.contains("<responseType>AllClear</responseType>"));
    let refs = element(&ccap, "references");
    assert!(
        refs.starts_with(&reference) && refs.contains(&format!(",{update},")),
        "a cancellation references the alert and its update: {refs}"
    );
    let again = fg(
        db,
        &[
            "alerts",
            "update",
            alert,
            "--message",
            "x",
            "--config",
            cfgs,
        ],
    )
    .output()
    .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("cancelled"));
}

/// Two `notify run` processes on one outbox, each send slower than the
/// lease: the runner holding a row renews its lease while it sends, so the
/// other never takes it over, and every message goes out exactly once.
#[test]
fn two_runners_with_short_leases_never_send_a_message_twice() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fg.db");
    let db = db.to_str().unwrap();
    // Each answer takes longer than the one-second lease.
    let hook = Http::start(Duration::from_millis(1_300));
    let sink = Smtp::start();
    let cfg = config(dir.path(), &hook.url, sink.port);
    let cfgs = cfg.to_str().unwrap();
    let export = repo().join("data/gdelt/20191024143000.export.CSV");
    ok(fg(db, &["ingest", export.to_str().unwrap()])
        .output()
        .unwrap());
    let mut people = String::from("id,name,language,email\n");
    let mut legs = String::from("id,person,lat,lon,country,place,from,to\n");
    for i in [1, 3, 5, 7] {
        people.push_str(&format!("p{i:02},Person {i},zh,\n"));
        legs.push_str(&format!(
            "l{i:02},p{i:02},41.39,2.17,ES,Barcelona,2019-10-23,2019-10-26\n"
        ));
    }
    let (p, l) = (dir.path().join("p.csv"), dir.path().join("l.csv"));
    std::fs::write(&p, people).unwrap();
    std::fs::write(&l, legs).unwrap();
    ok(fg(db, &["import", "people", p.to_str().unwrap()])
        .output()
        .unwrap());
    ok(fg(db, &["import", "itineraries", l.to_str().unwrap()])
        .output()
        .unwrap());
    let q: serde_json::Value = serde_json::from_str(&ok(fg(
        db,
        &[
            "--json", "alerts", "compose", "--event", EVENT, "--config", cfgs,
        ],
    )
    .output()
    .unwrap()))
    .unwrap();
    assert_eq!(q["queued"], 4, "{q}");
    let runner = || {
        fg(
            db,
            &[
                "--json",
                "notify",
                "run",
                "--config",
                cfgs,
                "--batch",
                "4",
                "--lease-secs",
                "1",
            ],
        )
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap()
    };
    let (a, b) = (runner(), runner());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let (a, b) = (ok(a), ok(b));
    let mut per_key: BTreeMap<String, usize> = BTreeMap::new();
    for r in hook.requests() {
        *per_key
            .entry(r.header("Idempotency-Key").unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(per_key.len(), 4, "{per_key:?}");
    assert!(
        per_key.values().all(|n| *n == 1),
        "no message sent twice: {per_key:?}\n{a}\n{b}"
    );
    let ra: serde_json::Value = serde_json::from_str(&a).unwrap();
    let rb: serde_json::Value = serde_json::from_str(&b).unwrap();
    assert_eq!(
        ra["sent"].as_u64().unwrap() + rb["sent"].as_u64().unwrap(),
        4
    );
    assert_eq!(ra["lost_leases"], 0, "{ra}");
    assert_eq!(rb["lost_leases"], 0, "{rb}");
    assert!(
        ra["lease_renewals"].as_u64().unwrap() + rb["lease_renewals"].as_u64().unwrap() > 0,
        "the sends outlasted the lease, so it was renewed: {ra} {rb}"
    );
}
