//! Measures bulk event insert throughput into a fresh SQLite file (and into
//! PostgreSQL when `FARGUARD_TEST_PG` is set), with a baseline measured in
//! the same run: bare rusqlite inserting the same raw lines into a two-column
//! keyed table, the floor any store on this disk can reach.
//!
//! `cargo run --release -p farguard-store --example insert_rate [events]`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{TimeDelta, TimeZone, Utc};
use farguard_model::{
    Category, CountryCode, Event, EventId, GeoPrecision, Location, Point, Severity, Subtype,
};
use farguard_store::{PgStore, SqliteStore, Store};
use std::time::Instant;

/// A real GDELT 2.0 export line (data/gdelt/20191024143000.export.CSV, line 8).
const RAW: &str = "881990839\t20181024\t201810\t2018\t2018.8055\tCOP\tPOLICE\t\t\t\t\t\tCOP\t\t\tDEU\tGERMAN\tDEU\t\t\t\t\t\t\t\t1\t190\t190\t19\t4\t-10.0\t20\t2\t20\t-8.03827751196173\t4\tBerlin, Berlin, Germany\tGM\tGM16\t16538\t52.5167\t13.4\t-1746443\t4\tBerlin, Berlin, Germany\tGM\tGM16\t16538\t52.5167\t13.4\t-1746443\t4\tBerlin, Berlin, Germany\tGM\tGM16\t16538\t52.5167\t13.4\t-1746443\t20191024143000\thttps://www.bgdailynews.com/news/international/germany-arrests-people-suspected-of-trafficking-syrians/article_824a692c-a4e9-577a-bdfa-bd01d220bb84.html";

const BATCH: usize = 10_000;

fn events(n: usize) -> Vec<Event> {
    let start = Utc.with_ymd_and_hms(2019, 10, 24, 0, 0, 0).unwrap();
    let de = CountryCode::parse("DE").unwrap();
    (0..n)
        .map(|i| Event {
            id: EventId::new("gdelt", format!("{}", 881_990_839 + i)),
            occurred_at: start + TimeDelta::seconds(i as i64),
            reported_at: start + TimeDelta::seconds(i as i64 + 900),
            location: Some(Location {
                point: Point::new(52.5167, 13.4).unwrap(),
                precision: GeoPrecision::City,
                country: Some(de),
                admin1: Some("GM16".into()),
                place: Some("Berlin, Berlin, Germany".into()),
            }),
            country: Some(de),
            category: Category::Security,
            subtype: Subtype::ArmedConflict,
            severity: Severity::SEVERE,
            confidence: 0.6,
            title: "POLICE vs GERMAN: use conventional military force".into(),
            actors: vec!["POLICE".into(), "GERMAN".into()],
            links: vec!["https://www.bgdailynews.com/news/international/germany-arrests".into()],
            fatalities: None,
            goldstein: Some(-10.0),
            tone: Some(-8.038),
            mentions: Some(20),
            reason: "CAMEO 190 → security/armed_conflict".into(),
            raw: RAW.into(),
        })
        .collect()
}

fn rate(n: usize, secs: f64) -> String {
    format!("{:>9.0} events/s ({n} in {secs:.2} s)", n as f64 / secs)
}

fn run(label: &str, store: &mut dyn Store, evs: &[Event]) {
    let t = Instant::now();
    let mut accepted = 0;
    for chunk in evs.chunks(BATCH) {
        accepted += store.insert_events(chunk).unwrap().accepted;
    }
    assert_eq!(accepted as usize, evs.len());
    println!(
        "{label:<28} fresh      {}",
        rate(evs.len(), t.elapsed().as_secs_f64())
    );
    let t = Instant::now();
    let mut dups = 0;
    for chunk in evs.chunks(BATCH) {
        dups += store.insert_events(chunk).unwrap().duplicates;
    }
    assert_eq!(dups as usize, evs.len());
    println!(
        "{label:<28} re-run     {}",
        rate(evs.len(), t.elapsed().as_secs_f64())
    );
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("events: a number"))
        .unwrap_or(200_000);
    let evs = events(n);
    let dir = tempfile::tempdir().unwrap();
    println!(
        "{n} events in batches of {BATCH}, into {}",
        dir.path().display()
    );

    // Baseline: the same raw lines, bare rusqlite, same pragmas, one keyed table.
    {
        let conn = rusqlite::Connection::open(dir.path().join("baseline.db")).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
             CREATE TABLE t (id TEXT PRIMARY KEY, raw TEXT NOT NULL);",
        )
        .unwrap();
        let mut conn = conn;
        let t = Instant::now();
        for chunk in evs.chunks(BATCH) {
            let tx = conn.transaction().unwrap();
            {
                let mut st = tx
                    .prepare_cached("INSERT INTO t VALUES (?1, ?2) ON CONFLICT DO NOTHING")
                    .unwrap();
                for e in chunk {
                    st.execute((&e.id.source_id, &e.raw)).unwrap();
                }
            }
            tx.commit().unwrap();
        }
        println!(
            "{:<28} fresh      {}",
            "baseline (bare rusqlite)",
            rate(n, t.elapsed().as_secs_f64())
        );
    }

    let mut sqlite = SqliteStore::open(dir.path().join("farguard.db")).unwrap();
    run("SqliteStore", &mut sqlite, &evs);

    if let Ok(url) = std::env::var("FARGUARD_TEST_PG") {
        let schema = format!("fg_bench_{}", std::process::id());
        let mut pg = PgStore::connect(&url, Some(&schema)).unwrap();
        run("PgStore", &mut pg, &evs);
        drop(pg);
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        c.batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
            .unwrap();
    }
}
