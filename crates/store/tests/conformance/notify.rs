//! The notify store (`NotifyStore`) on every engine: queueing is idempotent
//! and group-committed (rows before their alert record, large alerts in
//! chunks), texts are stored once per alert, claims lease to one runner
//! which alone renews and records the outcome, every state change leaves
//! history, accountability covers everyone with a message, and derived
//! credentials are checked against the row they name. Older callers'
//! rendered messages and hashed credentials still work.

use crate::engines::Engine;
use crate::fixtures::t;
use chrono::{DateTime, TimeDelta, Utc};
use farguard_model::{
    AlertRecord, AlertText, CapStatus, ChannelKind, CheckinState, CheckinStatus, CheckinToken,
    Delivery, DeliveryState, Level, MsgType, Outgoing, RecipientVars,
};
use farguard_store::{NewAlert, QUEUE_CHUNK, QueueCounts, Store};

/// One `#[test]` per engine per check.
macro_rules! notify_checks {
    ($($check:ident),* $(,)?) => {
        $(mod $check {
            #[test] fn sqlite() { crate::engines::sqlite(super::$check); }
            #[test] fn postgres() { crate::engines::postgres(super::$check); }
        })*
    };
}

/// Checks that need two connections (two runners).
macro_rules! notify_engine_checks {
    ($($check:ident),* $(,)?) => {
        $(mod $check {
            #[test] fn sqlite() { crate::engines::sqlite_engine(super::$check); }
            #[test] fn postgres() { crate::engines::postgres_engine(super::$check); }
        })*
    };
}

notify_checks!(
    rendered_queue_is_atomic_and_idempotent,
    slim_queue_stores_texts_once_and_is_idempotent,
    a_large_alert_is_queued_in_chunks_with_its_record_last,
    claims_lease_reclaim_and_leave_history,
    accountability_covers_everyone_with_a_message,
    one_persons_state_is_their_row_of_the_scope,
);

notify_engine_checks!(a_live_lease_is_renewed_and_never_stolen);

const ALERT: &str = "fg.incident-KE-1.alert.1";

fn alert(at: DateTime<Utc>) -> AlertRecord {
    AlertRecord {
        id: ALERT.into(),
        scope: "incident:KE-1".into(),
        incident: Some("KE-1".into()),
        event: Some("gdelt:881991040".into()),
        sent: at,
        status: CapStatus::Exercise,
        msg_type: MsgType::Alert,
        level: Level::II,
        category: "security".into(),
        headline: "Armed clashes near Mombasa port".into(),
        recipients: 2,
        cap_xml: "<alert>蒙巴萨 &amp; port</alert>".into(),
        reason: "2 people within 25 km".into(),
    }
}

fn delivery(recipient: &str, channel: ChannelKind, at: DateTime<Utc>) -> Delivery {
    Delivery {
        id: 0,
        key: format!("{ALERT}/{recipient}/{channel}"),
        alert: ALERT.into(),
        scope: "incident:KE-1".into(),
        recipient: recipient.into(),
        channel,
        address: format!("{recipient}@example.org"),
        language: "zh".into(),
        subject: "【II级】蒙巴萨港附近发生武装冲突 {x}".into(),
        body: "请保持警惕".into(),
        state: DeliveryState::Pending,
        attempts: 0,
        next_at: at,
        lease_until: None,
        last_error: None,
        created_at: at,
        sent_at: None,
    }
}

fn state(recipient: &str) -> CheckinState {
    CheckinState {
        scope: "incident:KE-1".into(),
        recipient: recipient.into(),
        name: format!("Person {recipient}"),
        status: CheckinStatus::NoAnswer,
        message: None,
        location: None,
        answered_at: None,
        reached_at: None,
    }
}

fn token(b: u8, recipient: &str, at: DateTime<Utc>) -> CheckinToken {
    CheckinToken {
        hash: [b; 32],
        scope: "incident:KE-1".into(),
        recipient: recipient.into(),
        kind: "link".into(),
        created_at: at,
        expires_at: at + TimeDelta::hours(72),
    }
}

/// The older path: rendered messages, hashed credentials, explicit rows.
fn queue_rendered(store: &mut dyn Store, at: DateTime<Utc>) -> QueueCounts {
    let mut dead = delivery("p3", ChannelKind::Email, at);
    dead.address = "not an address".into();
    dead.state = DeliveryState::Dead;
    dead.last_error = Some("email address does not parse".into());
    store
        .queue_alert(
            &alert(at),
            &[
                delivery("p1", ChannelKind::Email, at),
                delivery("p2", ChannelKind::Sms, at),
                dead,
            ],
            &[token(1, "p1", at), token(2, "p2", at), token(3, "p3", at)],
            &[state("p1"), state("p2"), state("p3")],
        )
        .unwrap()
}

fn text(template: &str, language: &str, accountable: bool) -> AlertText {
    AlertText {
        round: 0,
        language: language.into(),
        template: template.into(),
        accountable,
        subject: format!("[{language}] {{{{II}}}} clashes"),
        body: "{name}: {mission}. {why}. {checkin_link}".into(),
    }
}

fn row(recipient: &str, slot: &str, channel: ChannelKind, text: u32) -> Outgoing {
    Outgoing {
        recipient: recipient.into(),
        slot: slot.into(),
        channel,
        address: format!("{recipient}@example.org"),
        text,
        vars: RecipientVars {
            name: format!("Person {recipient}"),
            mission: "Consulate in Mombasa".into(),
            why: "1.4 km from the event".into(),
        },
        dead: None,
    }
}

/// Two people (one with two channels, one whose address is dead) and an
/// organisation, in two languages: three texts.
fn slim(at: DateTime<Utc>) -> (AlertRecord, Vec<AlertText>, Vec<Outgoing>) {
    let texts = vec![
        text("body", "zh", true),
        text("sms", "en", true),
        text("org_body", "zh", false),
    ];
    let mut bad = row("p3", "email", ChannelKind::Email, 0);
    bad.dead = Some("email address does not parse".into());
    let rows = vec![
        row("p1", "email", ChannelKind::Email, 0),
        row("p2", "sms", ChannelKind::Sms, 1),
        row("p2", "sms#1", ChannelKind::Sms, 1),
        bad,
        row("org-1", "webhook", ChannelKind::Webhook, 2),
    ];
    (alert(at), texts, rows)
}

fn new_alert<'a>(
    record: &'a AlertRecord,
    secret: &'a [u8; 32],
    texts: &'a [AlertText],
    rows: &'a [Outgoing],
) -> NewAlert<'a> {
    NewAlert {
        record,
        secret,
        checkin_ttl: TimeDelta::hours(72),
        queued_at: record.sent,
        texts,
        rows,
    }
}

pub fn rendered_queue_is_atomic_and_idempotent(store: &mut dyn Store) {
    let at = t(2019, 10, 24, 14, 30, 0);
    let c = queue_rendered(store, at);
    assert!(c.alert_new);
    assert_eq!(
        (c.queued, c.dead, c.duplicates, c.tokens, c.people),
        (2, 1, 0, 3, 3)
    );
    assert_eq!(store.alert(ALERT).unwrap(), Some(alert(at)));
    assert_eq!(store.alerts(Some("KE-1")).unwrap().len(), 1);
    assert!(store.alerts(Some("KE-2")).unwrap().is_empty());
    // The rendered text is kept as written (its braces are not placeholders).
    let rows = store.outbox_rows(Some(ALERT), 10).unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].delivery.key, format!("{ALERT}/p1/email"));
    assert_eq!(
        rows[0].delivery.subject,
        "【II级】蒙巴萨港附近发生武装冲突 {{x}}"
    );
    // The same alert again (fresh credentials, as a re-run would draw): nothing new.
    let again = store
        .queue_alert(
            &alert(at),
            &[delivery("p1", ChannelKind::Email, at)],
            &[token(9, "p1", at)],
            &[state("p1")],
        )
        .unwrap();
    assert!(!again.alert_new);
    assert_eq!((again.queued, again.duplicates, again.people), (0, 1, 0));
    // A credential that collides fails the whole call: nothing of it is stored.
    let mut other = alert(at);
    other.id = "fg.other".into();
    let mut d = delivery("p9", ChannelKind::File, at);
    d.key = "fg.other/p9/file".into();
    d.alert = "fg.other".into();
    let e = store
        .queue_alert(&other, &[d], &[token(1, "p9", at)], &[])
        .unwrap_err();
    assert!(e.to_string().contains("collide"), "{e}");
    assert_eq!(store.alert("fg.other").unwrap(), None);
    assert!(store.deliveries(Some("fg.other"), 10).unwrap().is_empty());
    let dead = store
        .delivery_history(&format!("{ALERT}/p3/email"))
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].outcome, "dead");
    assert!(dead[0].detail.contains("does not parse"));
    // Hashed credentials are found by hash; the answer rows are explicit.
    assert_eq!(
        store.checkin_token(&[2; 32]).unwrap(),
        Some(token(2, "p2", at))
    );
    assert_eq!(store.checkin_token(&[7; 32]).unwrap(), None);
    assert_eq!(store.checkin_states("incident:KE-1").unwrap().len(), 3);
}

pub fn slim_queue_stores_texts_once_and_is_idempotent(store: &mut dyn Store) {
    let at = t(2019, 10, 24, 14, 30, 0);
    let (rec, texts, rows) = slim(at);
    let secret = [5u8; 32];
    // A second, small alert in the same call: one transaction for both.
    let mut rec2 = rec.clone();
    rec2.id = "fg.incident-KE-1.update.2".into();
    rec2.msg_type = MsgType::Update;
    let rows2 = vec![row("p1", "email", ChannelKind::Email, 0)];
    let counts = store
        .queue_alerts(&[
            new_alert(&rec, &secret, &texts, &rows),
            new_alert(&rec2, &[6; 32], &texts[..1], &rows2),
        ])
        .unwrap();
    assert_eq!(counts.len(), 2);
    assert!(counts[0].alert_new && counts[1].alert_new);
    assert_eq!(
        (counts[0].queued, counts[0].dead, counts[0].duplicates),
        (4, 1, 0)
    );
    assert_eq!(counts[1].queued, 1);
    assert_eq!(store.alert(ALERT).unwrap(), Some(rec.clone()));
    assert_eq!(store.alert_secret(ALERT).unwrap(), Some(secret));
    assert_eq!(store.alert_secret("nope").unwrap(), None);
    // The rows come back with their alert's text and their own values.
    let q = store.outbox_rows(Some(ALERT), 100).unwrap();
    assert_eq!(q.len(), 5);
    let p2 = q
        .iter()
        .find(|q| q.delivery.key == format!("{ALERT}/p2/sms#1"))
        .unwrap();
    assert_eq!(p2.delivery.language, "en");
    assert_eq!(p2.delivery.subject, "[en] {{II}} clashes");
    assert_eq!(p2.delivery.body, "{name}: {mission}. {why}. {checkin_link}");
    assert_eq!(p2.vars.name, "Person p2");
    assert_eq!(p2.vars.mission, "Consulate in Mombasa");
    assert_eq!((p2.template.as_str(), p2.accountable), ("sms", true));
    assert_eq!(p2.delivery.scope, "incident:KE-1");
    assert_eq!(p2.delivery.created_at, at);
    let org = q.iter().find(|q| q.delivery.recipient == "org-1").unwrap();
    assert!(!org.accountable);
    let bad = q.iter().find(|q| q.delivery.recipient == "p3").unwrap();
    assert_eq!(bad.delivery.state, DeliveryState::Dead);
    let h = store
        .delivery_history(&format!("{ALERT}/p3/email"))
        .unwrap();
    assert_eq!(h.len(), 1);
    assert!(h[0].detail.contains("does not parse"));
    // Composing again (a new secret, as a re-run would draw) adds nothing
    // and keeps the first secret; a new row for the same alert is added.
    let mut more = rows.clone();
    more.push(row("p4", "email", ChannelKind::Email, 0));
    let again = store
        .queue_alerts(&[new_alert(&rec, &[9; 32], &texts, &more)])
        .unwrap();
    assert!(!again[0].alert_new);
    assert_eq!(
        (again[0].queued, again[0].dead, again[0].duplicates),
        (1, 0, 5)
    );
    assert_eq!(store.alert_secret(ALERT).unwrap(), Some(secret));
    assert_eq!(
        store
            .delivery_history(&format!("{ALERT}/p3/email"))
            .unwrap()
            .len(),
        1
    );
    let counts = store.outbox_counts(Some(ALERT)).unwrap();
    let n = |c: ChannelKind, s: DeliveryState| {
        counts
            .iter()
            .find(|x| x.channel == c && x.state == s)
            .map_or(0, |x| x.count)
    };
    assert_eq!(n(ChannelKind::Email, DeliveryState::Pending), 2);
    assert_eq!(n(ChannelKind::Sms, DeliveryState::Pending), 2);
    assert_eq!(n(ChannelKind::Email, DeliveryState::Dead), 1);
    // A row naming a text the alert does not have is refused, and nothing of the call is kept.
    let mut wrong = row("p5", "email", ChannelKind::Email, 7);
    wrong.text = 7;
    let mut rec3 = rec.clone();
    rec3.id = "fg.wrong".into();
    let e = store
        .queue_alerts(&[new_alert(&rec3, &secret, &texts, &[wrong])])
        .unwrap_err();
    assert!(e.to_string().contains("names text 7"), "{e}");
    assert_eq!(store.alert_secret("fg.wrong").unwrap(), None);
}

pub fn a_large_alert_is_queued_in_chunks_with_its_record_last(store: &mut dyn Store) {
    let at = t(2019, 10, 24, 14, 30, 0);
    let texts = vec![text("body", "zh", true)];
    let n = QUEUE_CHUNK + 7;
    let rows: Vec<Outgoing> = (0..n)
        .map(|k| row(&format!("p{k:06}"), "email", ChannelKind::Email, 0))
        .collect();
    let rec = alert(at);
    let c = store
        .queue_alerts(&[new_alert(&rec, &[1; 32], &texts, &rows)])
        .unwrap();
    assert_eq!((c[0].queued, c[0].duplicates), (n as u64, 0));
    assert!(c[0].alert_new);
    // A crash between the row chunks and the record: composing again
    // completes the alert, nothing twice.
    let again = store
        .queue_alerts(&[new_alert(&rec, &[1; 32], &texts, &rows)])
        .unwrap();
    assert_eq!((again[0].queued, again[0].duplicates), (0, n as u64));
    let counts = store.outbox_counts(None).unwrap();
    assert_eq!(counts.iter().map(|c| c.count).sum::<u64>(), n as u64);
    // Claims take the oldest rows first, in id order.
    let got = store
        .claim_deliveries(at, 3, at + TimeDelta::seconds(30), "r1")
        .unwrap();
    let who: Vec<&str> = got.iter().map(|q| q.delivery.recipient.as_str()).collect();
    assert_eq!(who, ["p000000", "p000001", "p000002"]);
}

pub fn claims_lease_reclaim_and_leave_history(store: &mut dyn Store) {
    let at = t(2019, 10, 24, 14, 30, 0);
    queue_rendered(store, at);
    let now = at + TimeDelta::seconds(1);
    let lease = now + TimeDelta::seconds(30);
    let first = store.claim_deliveries(now, 1, lease, "r1").unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].delivery.state, DeliveryState::Sending);
    assert_eq!(first[0].delivery.recipient, "p1");
    let second = store.claim_deliveries(now, 10, lease, "r1").unwrap();
    assert_eq!(
        second.len(),
        1,
        "the leased row and the dead row are not claimable"
    );
    assert_eq!(second[0].delivery.recipient, "p2");
    assert!(
        store
            .claim_deliveries(now, 10, lease, "r1")
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.next_due().unwrap(), Some(lease));
    // Runner r1 "dies"; after the lease both rows come back to r2, and say so.
    let later = lease + TimeDelta::seconds(1);
    let back = store
        .claim_deliveries(later, 10, later + TimeDelta::seconds(30), "r2")
        .unwrap();
    assert_eq!(back.len(), 2);
    let (p1, p2) = (&back[0].delivery, &back[1].delivery);
    // r1 wakes up and reports: too late, the rows are r2's now.
    assert!(
        !store
            .delivery_sent(p1.id, "r1", 1, later, "SMTP 250 ok")
            .unwrap()
    );
    assert!(
        store
            .delivery_sent(p1.id, "r2", 1, later, "SMTP 250 ok")
            .unwrap()
    );
    assert!(
        store
            .delivery_retry(
                p2.id,
                "r2",
                1,
                later + TimeDelta::seconds(4),
                "HTTP 500: boom"
            )
            .unwrap()
    );
    assert_eq!(
        store.next_due().unwrap(),
        Some(later + TimeDelta::seconds(4))
    );
    assert!(
        store
            .claim_deliveries(later, 10, later, "r2")
            .unwrap()
            .is_empty()
    );
    let again = store
        .claim_deliveries(
            later + TimeDelta::seconds(5),
            10,
            later + TimeDelta::seconds(60),
            "r2",
        )
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].delivery.attempts, 1);
    assert_eq!(
        again[0].delivery.last_error.as_deref(),
        Some("HTTP 500: boom")
    );
    assert!(
        store
            .delivery_dead(
                again[0].delivery.id,
                "r2",
                2,
                later,
                "gave up after 2 tries: HTTP 500"
            )
            .unwrap()
    );
    assert_eq!(store.next_due().unwrap(), None);
    let h: Vec<String> = store
        .delivery_history(&p2.key)
        .unwrap()
        .into_iter()
        .map(|a| a.outcome)
        .collect();
    assert_eq!(h, ["reclaimed", "retry", "dead"]);
    let h1: Vec<String> = store
        .delivery_history(&p1.key)
        .unwrap()
        .into_iter()
        .map(|a| a.outcome)
        .collect();
    assert_eq!(h1, ["reclaimed", "late", "sent"]);
    let sent = store.deliveries(Some(&p1.alert), 10).unwrap();
    let p1b = sent.iter().find(|d| d.key == p1.key).unwrap();
    assert_eq!(p1b.state, DeliveryState::Sent);
    assert_eq!(p1b.sent_at, Some(later));
    let counts = store.outbox_counts(None).unwrap();
    let n = |c: ChannelKind, s: DeliveryState| {
        counts
            .iter()
            .find(|x| x.channel == c && x.state == s)
            .map_or(0, |x| x.count)
    };
    assert_eq!(n(ChannelKind::Email, DeliveryState::Sent), 1);
    assert_eq!(n(ChannelKind::Email, DeliveryState::Dead), 1);
    assert_eq!(n(ChannelKind::Sms, DeliveryState::Dead), 1);
    assert!(store.delivery_sent(9_999, "r2", 1, later, "x").is_err());
}

/// Two runners on two connections: the one holding a row renews its lease;
/// the other cannot claim it, renew it or record an outcome for it while
/// the lease lives, and takes it over only once the lease has ended.
pub fn a_live_lease_is_renewed_and_never_stolen(engine: &dyn Engine) {
    let mut r1 = engine.open();
    let mut r2 = engine.open();
    let at = t(2019, 10, 24, 14, 30, 0);
    let (rec, texts, rows) = slim(at);
    r1.queue_alerts(&[new_alert(&rec, &[5; 32], &texts, &rows)])
        .unwrap();
    let lease = at + TimeDelta::seconds(30);
    let held = r1.claim_deliveries(at, 10, lease, "r1").unwrap();
    assert_eq!(held.len(), 4, "four live rows, one dead at composition");
    let ids: Vec<i64> = held.iter().map(|q| q.delivery.id).collect();
    // Before its lease ends, r1 renews it for another minute.
    let renewed = at + TimeDelta::seconds(90);
    assert_eq!(r1.renew_leases("r1", &ids, renewed).unwrap(), 4);
    // Past the first lease end, r2 finds nothing to take…
    let past = lease + TimeDelta::seconds(1);
    assert!(
        r2.claim_deliveries(past, 10, past + TimeDelta::seconds(30), "r2")
            .unwrap()
            .is_empty()
    );
    // …cannot renew or complete what it does not hold…
    assert_eq!(r2.renew_leases("r2", &ids, renewed).unwrap(), 0);
    assert!(!r2.delivery_sent(ids[0], "r2", 1, past, "HTTP 200").unwrap());
    // …and next_due says when r1's lease ends.
    assert_eq!(r2.next_due().unwrap(), Some(renewed));
    assert!(r1.delivery_sent(ids[0], "r1", 1, past, "HTTP 200").unwrap());
    // r1 stops renewing; once the renewed lease ends r2 takes the rest over.
    let after = renewed + TimeDelta::seconds(1);
    let taken = r2
        .claim_deliveries(after, 10, after + TimeDelta::seconds(30), "r2")
        .unwrap();
    assert_eq!(taken.len(), 3);
    assert_eq!(
        r1.renew_leases("r1", &ids, after + TimeDelta::seconds(60))
            .unwrap(),
        0
    );
    assert!(
        !r1.delivery_sent(ids[1], "r1", 1, after, "HTTP 200")
            .unwrap()
    );
}

pub fn accountability_covers_everyone_with_a_message(store: &mut dyn Store) {
    let at = t(2019, 10, 24, 14, 30, 0);
    let (rec, texts, rows) = slim(at);
    store
        .queue_alerts(&[new_alert(&rec, &[5; 32], &texts, &rows)])
        .unwrap();
    // People (accountable texts) count, the organisation does not; the
    // person whose only address was dead counts as not reached.
    let all = store.checkin_states("incident:KE-1").unwrap();
    let who: Vec<&str> = all.iter().map(|s| s.recipient.as_str()).collect();
    assert_eq!(who, ["p1", "p2", "p3"]);
    assert!(all.iter().all(|s| s.status == CheckinStatus::NoAnswer
        && s.reached_at.is_none()
        && s.scope == "incident:KE-1"));
    assert_eq!(all[1].name, "Person p2");
    // A derived credential names a row: its issuer is the alert's secret,
    // scope and recipient, valid for the alert's TTL from the row's creation.
    let q = store.outbox_rows(Some(ALERT), 100).unwrap();
    let p2 = q.iter().find(|q| q.delivery.recipient == "p2").unwrap();
    let issuer = store.checkin_issuer(p2.delivery.id).unwrap().unwrap();
    assert_eq!(
        (
            issuer.alert.as_str(),
            issuer.scope.as_str(),
            issuer.recipient.as_str()
        ),
        (ALERT, "incident:KE-1", "p2")
    );
    assert!(issuer.accountable);
    assert_eq!(issuer.secret, [5; 32]);
    assert_eq!(issuer.expires_at, at + TimeDelta::hours(72));
    assert_eq!(store.checkin_issuer(123_456).unwrap(), None);
    // Reached once a message to the person is sent.
    let claimed = store
        .claim_deliveries(at, 10, at + TimeDelta::seconds(30), "r1")
        .unwrap();
    let to_p2 = claimed
        .iter()
        .find(|d| d.delivery.recipient == "p2")
        .unwrap();
    store
        .delivery_sent(
            to_p2.delivery.id,
            "r1",
            1,
            at + TimeDelta::seconds(2),
            "HTTP 200",
        )
        .unwrap();
    let s = store.checkin_state("incident:KE-1", "p2").unwrap().unwrap();
    assert_eq!(s.reached_at, Some(at + TimeDelta::seconds(2)));
    let mut answered = s.clone();
    answered.status = CheckinStatus::NeedHelp;
    answered.message = Some("车坏了，需要帮助".into());
    answered.location = Some((-4.05, 39.66));
    answered.answered_at = Some(at + TimeDelta::minutes(5));
    store.record_checkin(&answered).unwrap();
    // A second answer updates the same row.
    let mut safe = answered.clone();
    safe.status = CheckinStatus::Safe;
    safe.answered_at = Some(at + TimeDelta::minutes(9));
    store.record_checkin(&safe).unwrap();
    let all = store.checkin_states("incident:KE-1").unwrap();
    assert_eq!(all.len(), 3);
    let p2 = all.iter().find(|s| s.recipient == "p2").unwrap();
    assert_eq!(p2.status, CheckinStatus::Safe);
    assert_eq!(p2.message.as_deref(), Some("车坏了，需要帮助"));
    assert_eq!(p2.location, Some((-4.05, 39.66)));
    assert_eq!(p2.reached_at, Some(at + TimeDelta::seconds(2)));
    let p3 = all.iter().find(|s| s.recipient == "p3").unwrap();
    assert_eq!((p3.status, p3.reached_at), (CheckinStatus::NoAnswer, None));
    // Neither a stranger nor the organisation answers in this scope.
    let mut stranger = state("p42");
    stranger.status = CheckinStatus::Safe;
    assert!(store.record_checkin(&stranger).is_err());
    let mut org = state("org-1");
    org.status = CheckinStatus::Safe;
    assert!(store.record_checkin(&org).is_err());
    assert_eq!(store.checkin_state("incident:KE-1", "org-1").unwrap(), None);
    assert!(store.checkin_states("incident:KE-2").unwrap().is_empty());
}

/// `checkin_state` (the writer's read before every check-in answer, by
/// index) answers exactly the person's row of `checkin_states` (the whole
/// scope): over several alerts and rounds, sent, sending, pending and dead
/// rows, informational texts, explicit rows with and without messages,
/// recorded answers, and another scope holding the same people.
pub fn one_persons_state_is_their_row_of_the_scope(store: &mut dyn Store) {
    let at = t(2019, 10, 24, 14, 30, 0);
    let s = |n: i64| at + TimeDelta::seconds(n);
    // Alert 1: p1, p2 (two numbers), p3 (dead address), org-1 and p5
    // informational only.
    let (rec, texts, mut rows) = slim(at);
    rows.push(row("p5", "webhook", ChannelKind::Webhook, 2));
    // Alert 2 in the same scope: p1 under a name that sorts first, p4.
    let mut rec2 = rec.clone();
    rec2.id = "fg.incident-KE-1.update.2".into();
    rec2.msg_type = MsgType::Update;
    let mut p1b = row("p1", "email", ChannelKind::Email, 0);
    p1b.vars.name = "A. Person p1".into();
    let rows2 = vec![p1b, row("p4", "sms", ChannelKind::Sms, 1)];
    // Another scope with p1 and p9, sent first: none of it counts in KE-1.
    let mut rec3 = rec.clone();
    rec3.id = "fg.incident-KE-2.alert.1".into();
    rec3.scope = "incident:KE-2".into();
    rec3.incident = Some("KE-2".into());
    let rows3 = vec![
        row("p1", "email", ChannelKind::Email, 0),
        row("p9", "email", ChannelKind::Email, 0),
    ];
    store
        .queue_alerts(&[
            new_alert(&rec, &[5; 32], &texts, &rows),
            new_alert(&rec2, &[6; 32], &texts, &rows2),
            new_alert(&rec3, &[7; 32], &texts, &rows3),
        ])
        .unwrap();
    let claimed = store.claim_deliveries(at, 100, s(30), "r1").unwrap();
    let id = |key: &str| {
        claimed
            .iter()
            .find(|q| q.delivery.key == key)
            .unwrap_or_else(|| panic!("{key} was not claimed"))
            .delivery
            .id
    };
    for (key, when) in [
        ("fg.incident-KE-2.alert.1/p1/email".to_string(), 1),
        ("fg.incident-KE-2.alert.1/p9/email".to_string(), 1),
        (format!("{ALERT}/org-1/webhook"), 1),
        ("fg.incident-KE-1.update.2/p1/email".to_string(), 3),
        (format!("{ALERT}/p1/email"), 4),
        (format!("{ALERT}/p5/webhook"), 6),
        (format!("{ALERT}/p2/sms#1"), 8),
    ] {
        assert!(
            store
                .delivery_sent(id(&key), "r1", 1, s(when), "ok")
                .unwrap()
        );
    }
    assert!(
        store
            .delivery_retry(id(&format!("{ALERT}/p2/sms")), "r1", 1, s(60), "busy")
            .unwrap()
    );
    // p4's row stays sending. A reminder round, still pending.
    let reminder = AlertText {
        round: 1,
        template: "reminder_body".into(),
        ..text("body", "zh", true)
    };
    let mut p3r = row("p3", "email/reminder-1", ChannelKind::Email, 0);
    p3r.vars.name = "Z. Person p3".into();
    store
        .queue_alerts(&[new_alert(
            &rec,
            &[5; 32],
            std::slice::from_ref(&reminder),
            &[row("p1", "email/reminder-1", ChannelKind::Email, 0), p3r],
        )])
        .unwrap();
    // Explicit rows (the older path): p2 renamed, p5 (informational
    // messages only) and x9 (no message at all).
    let mut older = rec.clone();
    older.id = "fg.incident-KE-1.older".into();
    let mut p2 = state("p2");
    p2.name = "Explicit p2".into();
    store
        .queue_alert(&older, &[], &[], &[p2, state("p5"), state("x9")])
        .unwrap();
    // Answers: p1 (no row yet: one is made), x9 (its explicit row).
    let mut p1 = store.checkin_state("incident:KE-1", "p1").unwrap().unwrap();
    p1.status = CheckinStatus::NeedHelp;
    p1.message = Some("车坏了".into());
    p1.location = Some((-4.05, 39.66));
    p1.answered_at = Some(s(120));
    store.record_checkin(&p1).unwrap();
    let mut x9 = store.checkin_state("incident:KE-1", "x9").unwrap().unwrap();
    x9.status = CheckinStatus::Safe;
    x9.answered_at = Some(s(130));
    store.record_checkin(&x9).unwrap();

    let all = store.checkin_states("incident:KE-1").unwrap();
    let who: Vec<&str> = all.iter().map(|s| s.recipient.as_str()).collect();
    assert_eq!(who, ["p1", "p2", "p3", "p4", "p5", "x9"]);
    for st in &all {
        assert_eq!(
            store
                .checkin_state("incident:KE-1", &st.recipient)
                .unwrap()
                .as_ref(),
            Some(st),
            "{}",
            st.recipient
        );
    }
    // The rows compared are the interesting ones.
    let by = |r: &str| all.iter().find(|s| s.recipient == r).unwrap();
    let p1 = by("p1");
    assert_eq!(
        (p1.name.as_str(), p1.status, p1.reached_at),
        ("A. Person p1", CheckinStatus::NeedHelp, Some(s(3)))
    );
    assert_eq!(p1.location, Some((-4.05, 39.66)));
    assert_eq!(
        (by("p2").name.as_str(), by("p2").reached_at),
        ("Explicit p2", Some(s(8)))
    );
    assert_eq!(
        (by("p3").name.as_str(), by("p3").reached_at),
        ("Person p3", None)
    );
    assert_eq!(
        (by("p4").status, by("p4").reached_at),
        (CheckinStatus::NoAnswer, None)
    );
    assert_eq!(by("p5").reached_at, Some(s(6)));
    assert_eq!(
        (by("x9").status, by("x9").answered_at, by("x9").reached_at),
        (CheckinStatus::Safe, Some(s(130)), None)
    );
    // Informed only, in another scope only, or unknown: no state here.
    for r in ["org-1", "p9", "nobody", ""] {
        assert_eq!(
            store.checkin_state("incident:KE-1", r).unwrap(),
            None,
            "{r}"
        );
    }
    let other = store.checkin_states("incident:KE-2").unwrap();
    assert_eq!(other.len(), 2);
    for st in &other {
        assert_eq!(st.reached_at, Some(s(1)));
        assert_eq!(
            store
                .checkin_state("incident:KE-2", &st.recipient)
                .unwrap()
                .as_ref(),
            Some(st)
        );
    }
    assert_eq!(store.checkin_state("incident:KE-3", "p1").unwrap(), None);
}
