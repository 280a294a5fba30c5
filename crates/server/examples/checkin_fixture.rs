//! Check-in fixtures for the load benchmark, through the store's notify
//! API (as `farguard alerts compose` stores them): one alert for the scope
//! `incident:bench-load` with `N` synthetic recipients, each with a random
//! link token; the clear tokens are written one per line to `OUT` (the
//! store keeps only their SHA-256).
//!
//! `cargo run --release -p farguard-server --example checkin_fixture -- DB N OUT`

use chrono::{Duration, Utc};
use farguard_model::{
    AlertRecord, CapStatus, CheckinState, CheckinStatus, CheckinToken, Level, MsgType,
};
use std::io::Write as _;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: checkin_fixture DB N OUT";
    let db = args.next().ok_or(usage)?;
    let n: usize = args.next().ok_or(usage)?.parse()?;
    let out = args.next().ok_or(usage)?;
    let mut store = farguard_store::open(&db)?;
    let now = Utc::now();
    let scope = "incident:bench-load".to_string();
    let mut tokens = Vec::with_capacity(n);
    let mut secrets = Vec::with_capacity(n);
    let mut states = Vec::with_capacity(n);
    for i in 0..n {
        let mut b = [0u8; 32];
        getrandom::fill(&mut b).map_err(|e| format!("random source: {e}"))?;
        let secret = farguard_server::auth::hex(&b);
        let recipient = format!("BENCH-P{i:04}");
        tokens.push(CheckinToken {
            hash: farguard_notify::checkin::hash(&secret),
            scope: scope.clone(),
            recipient: recipient.clone(),
            kind: "link".into(),
            created_at: now,
            expires_at: now + Duration::days(1),
        });
        states.push(CheckinState {
            scope: scope.clone(),
            recipient,
            name: format!("Bench person {i}"),
            status: CheckinStatus::NoAnswer,
            message: None,
            location: None,
            answered_at: None,
            reached_at: Some(now),
        });
        secrets.push(secret);
    }
    let alert = AlertRecord {
        id: format!("bench-load-{}", now.timestamp_micros()),
        scope,
        incident: Some("bench-load".into()),
        event: None,
        sent: now,
        status: CapStatus::Test,
        msg_type: MsgType::Alert,
        level: Level::III,
        category: "security".into(),
        headline: "Load benchmark: are you safe?".into(),
        recipients: n as u64,
        cap_xml: "<alert/>".into(),
        reason: "synthetic recipients for the load benchmark".into(),
    };
    store.queue_alert(&alert, &[], &tokens, &states)?;
    let mut f = std::fs::File::create(&out)?;
    for s in &secrets {
        writeln!(f, "{s}")?;
    }
    Ok(())
}
