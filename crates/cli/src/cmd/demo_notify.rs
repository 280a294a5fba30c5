//! The demo's notify step: the alerts of the incidents the demo opened are
//! composed for exactly their exposed people and organisations, queued in
//! the durable outbox, delivered to the local file channel, and then a
//! simulated set of answers (marked as such) fills the accountability view.

use super::checkin::{self as checkin_cmd, print_view, view};
use super::notify::{self as wiring, Backend, Queued};
use anyhow::Result;
use chrono::Utc;
use farguard_model::{ChannelKind, CheckinStatus};
use farguard_notify::channel::Channel;
use farguard_notify::channel::file::FileChannel;
use farguard_notify::checkin::{AlertSecret, link_token, reply_code};
use farguard_notify::checkin::{Answer, Credential};
use farguard_notify::config::NotifyConfig;
use farguard_notify::outbox::{self, RunOptions};
use farguard_store::{IncidentQuery, Store};
use std::collections::BTreeMap;

/// How many incidents the demo alerts (the most severe first).
const INCIDENTS: usize = 3;

pub fn run(store: &mut dyn Store, database: &str) -> Result<()> {
    let mut cfg = NotifyConfig::shipped()?;
    let outbox_file = format!("{}.outbox.jsonl", database.trim_end_matches(".db"));
    let _ = std::fs::remove_file(&outbox_file);
    cfg.file_path = Some(outbox_file.clone());
    cfg.webhook = None;
    let mut incs = store.incidents(&IncidentQuery {
        open_only: true,
        exercise: Some(false),
    })?;
    incs.sort_by(|a, b| b.level.cmp(&a.level).then_with(|| a.id.cmp(&b.id)));
    println!(
        "\n6. ALERTS  to exactly the exposed people and organisations, through the durable outbox"
    );
    let missions = wiring::missions(store, &cfg)?;
    let mut done: Vec<Queued> = vec![];
    for inc in incs.iter() {
        if done.len() == INCIDENTS {
            break;
        }
        let advice = super::alerts::plan_advice(&inc.plan, inc.level);
        let (input, recipients) = wiring::for_incident(
            store,
            &cfg,
            inc,
            &advice,
            inc.activated_at.unwrap_or(inc.opened_at),
        )?;
        if !recipients
            .iter()
            .any(|r| r.kind == farguard_notify::compose::RecipientKind::Person)
        {
            continue;
        }
        let q = wiring::compose_and_queue(store, &cfg, &input, &recipients, &missions)?;
        println!(
            "   {} ({}): {} people, {} organisations → {} messages queued",
            q.alert, inc.title, q.people, q.organisations, q.queued
        );
        done.push(q);
    }
    if done.is_empty() {
        println!("   no open incident exposes a registered person; nothing to send");
        return Ok(());
    }
    let mut chans: BTreeMap<ChannelKind, Box<dyn Channel>> = BTreeMap::new();
    chans.insert(
        ChannelKind::File,
        Box::new(FileChannel::open(std::path::Path::new(&outbox_file))?),
    );
    let stats = outbox::run(
        &mut Backend::new(store, None),
        &mut chans,
        &cfg.retry,
        &mut cfg.rate_limits(),
        &RunOptions {
            checkin_base_url: cfg.checkin_base_url.clone(),
            ..RunOptions::default()
        },
        &mut |_, _| {},
    )?;
    println!(
        "   delivered {} messages to the local file channel {outbox_file} ({} dead-lettered)",
        stats.sent, stats.dead
    );
    println!(
        "\n7. CHECK-IN  simulated answers (demo only): every 3rd person safe by link, every 7th needs help by SMS code"
    );
    for q in &done {
        // Answers come in during the data's own time (the links expire 72 h after the alert).
        let sent = store.alert(&q.alert)?.map_or_else(Utc::now, |a| a.sent);
        let Some(secret) = store.alert_secret(&q.alert)?.map(AlertSecret::from_bytes) else {
            continue;
        };
        // Each person's first message: the link and code it carried are
        // derived again from the alert's secret, as the runner did.
        let mut seen = std::collections::BTreeSet::new();
        let firsts: Vec<_> = store
            .outbox_rows(Some(&q.alert), u32::MAX)?
            .into_iter()
            .filter(|r| r.accountable && seen.insert(r.delivery.recipient.clone()))
            .collect();
        for (i, r) in firsts.iter().enumerate() {
            let (id, who) = (r.delivery.id, r.delivery.recipient.as_str());
            let (link, code) = (
                link_token(&secret, id, who),
                reply_code(&secret, id, who).unwrap_or_default(),
            );
            let (cred, status, msg) = if i % 7 == 3 {
                (
                    Credential::Code(&code),
                    CheckinStatus::NeedHelp,
                    Some("simulated: need transport to the airport".to_string()),
                )
            } else if i % 3 == 0 {
                (Credential::Link(&link), CheckinStatus::Safe, None)
            } else {
                continue;
            };
            let at = sent + chrono::Duration::minutes(30 + i as i64);
            let answer = Answer {
                status,
                message: msg,
                location: None,
                at,
            };
            checkin_cmd::answer(store, cred, &answer, at)?;
        }
        let v = view(store, &q.scope, false)?;
        print_view(&v, 3);
    }
    if let Some(q) = done.first() {
        println!("\n   farguard --db {database} alerts list");
        println!("   farguard --db {database} alerts show {} --cap", q.alert);
        println!(
            "   farguard --db {database} checkin status {} --json",
            q.scope.trim_start_matches("incident:")
        );
        println!(
            "   farguard --db {database} checkin remind {}",
            q.scope.trim_start_matches("incident:")
        );
    }
    Ok(())
}
