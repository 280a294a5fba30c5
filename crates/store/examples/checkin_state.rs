//! Times one person's check-in state (`NotifyStore::checkin_state`, what the
//! server's writer reads before deciding every check-in answer) on an outbox
//! of about 100,000 rows, with baselines measured in the same run: the cost
//! of an empty call on the same connection (`alert_secret` of an unknown
//! alert: one indexed lookup in its own transaction), and the whole scope's
//! states (`checkin_states`, once) divided by the people in it.
//!
//! The fixture: 50 alerts in 5 scopes, each to the same 2,000 people (one
//! accountable text, one informational text for every tenth person), four
//! rows in five sent; 200 explicit accountability rows of people with no
//! message. SQLite in a temporary file always; PostgreSQL in a fresh schema
//! (dropped afterwards) when `FARGUARD_TEST_PG` is set.
//!
//! `cargo run --release -p farguard-store --example checkin_state [people] [alerts] [timed]`
//! (`timed`: time the first that many people of the scope, default all;
//! `WHOLE=0` skips the whole-scope baseline, which is slow on SQLite).
//! (`KEEP_SCHEMA=1` keeps the PostgreSQL schema, to look at plans).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{TimeDelta, TimeZone, Utc};
use farguard_model::{
    AlertRecord, AlertText, CapStatus, ChannelKind, CheckinState, CheckinStatus, Level, MsgType,
    Outgoing, RecipientVars,
};
use farguard_store::{NewAlert, PgStore, SqliteStore, Store};
use std::time::Instant;

const SCOPES: usize = 5;

fn fixture(store: &mut dyn Store, people: usize, alerts: usize) {
    let at = Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap();
    for a in 0..alerts {
        let scope = format!("incident:bench-{}", a % SCOPES);
        let rec = AlertRecord {
            id: format!("fg.bench.alert.{a}"),
            scope: scope.clone(),
            incident: Some(format!("bench-{}", a % SCOPES)),
            event: None,
            sent: at + TimeDelta::minutes(a as i64),
            status: CapStatus::Exercise,
            msg_type: MsgType::Alert,
            level: Level::II,
            category: "security".into(),
            headline: "bench".into(),
            recipients: people as u64,
            cap_xml: "<alert/>".into(),
            reason: "bench".into(),
        };
        let texts = [
            AlertText {
                round: (a / SCOPES) as u32,
                language: "en".into(),
                template: "body".into(),
                accountable: true,
                subject: "s".into(),
                body: "{name}".into(),
            },
            AlertText {
                round: (a / SCOPES) as u32,
                language: "en".into(),
                template: "info".into(),
                accountable: false,
                subject: "s".into(),
                body: "b".into(),
            },
        ];
        let rows: Vec<Outgoing> = (0..people)
            .map(|p| Outgoing {
                recipient: format!("P{p:05}"),
                slot: "email".into(),
                channel: ChannelKind::Email,
                address: format!("p{p}@example.org"),
                text: u32::from(p % 10 == 0),
                vars: RecipientVars {
                    name: format!("Person {p} ({a})"),
                    ..RecipientVars::default()
                },
                dead: None,
            })
            .collect();
        store
            .queue_alerts(&[NewAlert {
                record: &rec,
                secret: &[7; 32],
                checkin_ttl: TimeDelta::hours(72),
                queued_at: rec.sent,
                texts: &texts,
                rows: &rows,
            }])
            .unwrap();
    }
    // Explicit rows of people with no message (the older path).
    for s in 0..SCOPES {
        let scope = format!("incident:bench-{s}");
        let rec = AlertRecord {
            id: format!("fg.bench.explicit.{s}"),
            scope: scope.clone(),
            incident: None,
            event: None,
            sent: at,
            status: CapStatus::Exercise,
            msg_type: MsgType::Alert,
            level: Level::II,
            category: "security".into(),
            headline: "bench".into(),
            recipients: 0,
            cap_xml: "<alert/>".into(),
            reason: "bench".into(),
        };
        let states: Vec<CheckinState> = (0..40)
            .map(|i| CheckinState {
                scope: scope.clone(),
                recipient: format!("X{i:03}"),
                name: format!("Explicit {i}"),
                status: CheckinStatus::NoAnswer,
                message: None,
                location: None,
                answered_at: None,
                reached_at: None,
            })
            .collect();
        store.queue_alert(&rec, &[], &[], &states).unwrap();
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn measure(name: &str, store: &mut dyn Store, timed: usize) {
    let scope = "incident:bench-0";
    let t = Instant::now();
    let all = if std::env::var("WHOLE").as_deref() == Ok("0") {
        vec![]
    } else {
        store.checkin_states(scope).unwrap()
    };
    let whole = t.elapsed().as_secs_f64() * 1e6 / all.len().max(1) as f64;
    let mut who: Vec<String> = (0..timed).map(|p| format!("P{p:05}")).collect();
    who.retain(|r| all.is_empty() || all.iter().any(|s| &s.recipient == r));
    let (mut one, mut empty) = (vec![], vec![]);
    for _ in 0..5 {
        let t = Instant::now();
        for r in &who {
            std::hint::black_box(store.checkin_state(scope, r).unwrap());
        }
        one.push(t.elapsed().as_secs_f64() * 1e6 / who.len() as f64);
        let t = Instant::now();
        for _ in &who {
            std::hint::black_box(store.alert_secret("fg.none").unwrap());
        }
        empty.push(t.elapsed().as_secs_f64() * 1e6 / who.len() as f64);
    }
    println!(
        "{name:8} people {:5}  checkin_state {:8.1} µs/call (median of 5 rounds)   baseline: empty call {:6.1} µs; checkin_states {:8.1} µs/person (once)  load {}",
        who.len(),
        median(one),
        median(empty),
        whole,
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split(' ')
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let people: usize = args.next().map_or(2000, |a| a.parse().unwrap());
    let alerts: usize = args.next().map_or(50, |a| a.parse().unwrap());
    let timed: usize = args.next().map_or(people, |a| a.parse().unwrap());
    println!(
        "outbox rows: {} ({alerts} alerts x {people} people, 4 in 5 sent)",
        alerts * people
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.db");
    let mut s = SqliteStore::open(&path).unwrap();
    fixture(&mut s, people, alerts);
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(
            "UPDATE outbox SET state = 'sent', sent_at = created_at + id * 1000 WHERE id % 5 <> 0",
        )
        .unwrap();
    measure("sqlite", &mut s, timed);
    if let Some(url) = std::env::var("FARGUARD_TEST_PG")
        .ok()
        .filter(|u| !u.is_empty())
    {
        let schema = format!("fg_bench_checkin_{}", std::process::id());
        let mut s = PgStore::connect(&url, Some(&schema)).unwrap();
        fixture(&mut s, people, alerts);
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        c.batch_execute(&format!(
            "SET search_path TO {schema}; UPDATE outbox SET state = 'sent', sent_at = created_at + id * interval '1 ms' WHERE id % 5 <> 0; ANALYZE"
        ))
        .unwrap();
        measure("postgres", &mut s, timed);
        drop(s);
        if std::env::var_os("KEEP_SCHEMA").is_some() {
            println!("kept schema {schema} (drop it when done)");
        } else {
            c.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
                .unwrap();
        }
    }
}
