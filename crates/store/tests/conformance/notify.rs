//! The notify store (`NotifyStore`) on every engine: queueing is atomic and
//! idempotent, claims lease and reclaim, every state change leaves history,
//! check-in credentials are found by hash only and answers are kept.

use crate::fixtures::t;
use chrono::{DateTime, TimeDelta, Utc};
use farguard_model::{
    AlertRecord, CapStatus, ChannelKind, CheckinState, CheckinStatus, CheckinToken, Delivery,
    DeliveryState, Level, MsgType,
};
use farguard_store::{QueueCounts, Store};

/// One `#[test]` per engine per check.
macro_rules! notify_checks {
    ($($check:ident),* $(,)?) => {
        $(mod $check {
            #[test] fn sqlite() { crate::engines::sqlite(super::$check); }
            #[test] fn postgres() { crate::engines::postgres(super::$check); }
        })*
    };
}

notify_checks!(
    queue_is_atomic_and_idempotent,
    claims_lease_reclaim_and_leave_history,
    checkins_by_hash_with_answers_and_reach,
);

fn alert(at: DateTime<Utc>) -> AlertRecord {
    AlertRecord {
        id: "fg.incident-KE-1.alert.1".into(),
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
        key: format!("fg.incident-KE-1.alert.1/{recipient}/{channel}"),
        alert: "fg.incident-KE-1.alert.1".into(),
        scope: "incident:KE-1".into(),
        recipient: recipient.into(),
        channel,
        address: format!("{recipient}@example.org"),
        language: "zh".into(),
        subject: "【II级】蒙巴萨港附近发生武装冲突".into(),
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

fn queue(store: &mut dyn Store, at: DateTime<Utc>) -> QueueCounts {
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

pub fn queue_is_atomic_and_idempotent(store: &mut dyn Store) {
    let at = t(2019, 10, 24, 14, 30, 0);
    let c = queue(store, at);
    assert!(c.alert_new);
    assert_eq!(
        (c.queued, c.dead, c.duplicates, c.tokens, c.people),
        (2, 1, 0, 3, 3)
    );
    assert_eq!(
        store.alert("fg.incident-KE-1.alert.1").unwrap(),
        Some(alert(at))
    );
    assert_eq!(store.alerts(Some("KE-1")).unwrap().len(), 1);
    assert!(store.alerts(Some("KE-2")).unwrap().is_empty());
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
        .delivery_history("fg.incident-KE-1.alert.1/p3/email")
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].outcome, "dead");
    assert!(dead[0].detail.contains("does not parse"));
}

pub fn claims_lease_reclaim_and_leave_history(store: &mut dyn Store) {
    let at = t(2019, 10, 24, 14, 30, 0);
    queue(store, at);
    let now = at + TimeDelta::seconds(1);
    let lease = now + TimeDelta::seconds(30);
    let first = store.claim_deliveries(now, 1, lease).unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].state, DeliveryState::Sending);
    assert_eq!(first[0].recipient, "p1");
    let second = store.claim_deliveries(now, 10, lease).unwrap();
    assert_eq!(
        second.len(),
        1,
        "the leased row and the dead row are not claimable"
    );
    assert_eq!(second[0].recipient, "p2");
    assert!(store.claim_deliveries(now, 10, lease).unwrap().is_empty());
    assert_eq!(store.next_due().unwrap(), Some(lease));
    // The runner "dies"; after the lease both rows come back, and say so.
    let later = lease + TimeDelta::seconds(1);
    let back = store
        .claim_deliveries(later, 10, later + TimeDelta::seconds(30))
        .unwrap();
    assert_eq!(back.len(), 2);
    let (p1, p2) = (&back[0], &back[1]);
    store.delivery_sent(p1.id, 1, later, "SMTP 250 ok").unwrap();
    store
        .delivery_retry(p2.id, 1, later + TimeDelta::seconds(4), "HTTP 500: boom")
        .unwrap();
    assert_eq!(
        store.next_due().unwrap(),
        Some(later + TimeDelta::seconds(4))
    );
    assert!(store.claim_deliveries(later, 10, later).unwrap().is_empty());
    let again = store
        .claim_deliveries(
            later + TimeDelta::seconds(5),
            10,
            later + TimeDelta::seconds(60),
        )
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 1);
    assert_eq!(again[0].last_error.as_deref(), Some("HTTP 500: boom"));
    store
        .delivery_dead(again[0].id, 2, later, "gave up after 2 tries: HTTP 500")
        .unwrap();
    assert_eq!(store.next_due().unwrap(), None);
    let h: Vec<String> = store
        .delivery_history(&p2.key)
        .unwrap()
        .into_iter()
        .map(|a| a.outcome)
        .collect();
    assert_eq!(h, ["reclaimed", "retry", "dead"]);
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
}

pub fn checkins_by_hash_with_answers_and_reach(store: &mut dyn Store) {
    let at = t(2019, 10, 24, 14, 30, 0);
    queue(store, at);
    let tok = store.checkin_token(&[2; 32]).unwrap().unwrap();
    assert_eq!(tok, token(2, "p2", at));
    assert_eq!(store.checkin_token(&[7; 32]).unwrap(), None);
    let s = store.checkin_state("incident:KE-1", "p2").unwrap().unwrap();
    assert_eq!(s, state("p2"));
    // Reached once a message to the person is sent.
    let claimed = store
        .claim_deliveries(at, 10, at + TimeDelta::seconds(30))
        .unwrap();
    let to_p2 = claimed.iter().find(|d| d.recipient == "p2").unwrap();
    store
        .delivery_sent(to_p2.id, 1, at + TimeDelta::seconds(2), "HTTP 200")
        .unwrap();
    let mut answered = s.clone();
    answered.status = CheckinStatus::NeedHelp;
    answered.message = Some("车坏了，需要帮助".into());
    answered.location = Some((-4.05, 39.66));
    answered.answered_at = Some(at + TimeDelta::minutes(5));
    store.record_checkin(&answered).unwrap();
    let all = store.checkin_states("incident:KE-1").unwrap();
    assert_eq!(all.len(), 3);
    let p2 = all.iter().find(|s| s.recipient == "p2").unwrap();
    assert_eq!(p2.status, CheckinStatus::NeedHelp);
    assert_eq!(p2.location, Some((-4.05, 39.66)));
    assert_eq!(p2.reached_at, Some(at + TimeDelta::seconds(2)));
    let p3 = all.iter().find(|s| s.recipient == "p3").unwrap();
    assert_eq!((p3.status, p3.reached_at), (CheckinStatus::NoAnswer, None));
    let mut stranger = state("p42");
    stranger.status = CheckinStatus::Safe;
    assert!(store.record_checkin(&stranger).is_err());
}
