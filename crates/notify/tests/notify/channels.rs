//! Composition to exactly the given recipients, and delivery through real
//! channels to the local receivers: what actually arrived, once per key,
//! through failures, hangs and dropped connections.

use crate::receivers::{Act, Http, Smtp};
use crate::support::{CHECKIN_URL, MemOutbox, contact, input, missions, options, person};
use farguard_model::{ChannelKind, DeliveryState};
use farguard_model::{CheckinIssuer, Delivery};
use farguard_notify::channel::Channel;
use farguard_notify::channel::email::{Email, SmtpConfig, message_id};
use farguard_notify::channel::sms::{SmsConfig, SmsGateway};
use farguard_notify::channel::webhook::{ReplayGuard, VerifyError, Webhook};
use farguard_notify::checkin::{Credential, verify};
use farguard_notify::compose::{
    Composed, Recipient, RecipientKind, compose, nearest_mission, queued,
};
use farguard_notify::outbox::{RetryPolicy, RunOptions, render, run};
use farguard_notify::template::Templates;
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

const SECRET: &[u8] = b"test-secret";

fn fast_policy(max: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts: max,
        base: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
    }
}

fn drive(ob: &mut MemOutbox, ch: Box<dyn Channel>, policy: RetryPolicy) {
    let mut chans: BTreeMap<ChannelKind, Box<dyn Channel>> = BTreeMap::new();
    chans.insert(ch.kind(), ch);
    run(
        ob,
        &mut chans,
        &policy,
        &mut BTreeMap::new(),
        &RunOptions {
            poll: Duration::from_millis(20),
            checkin_base_url: CHECKIN_URL.into(),
            ..RunOptions::default()
        },
        &mut |_, _| {},
    )
    .unwrap();
}

/// The composed messages as they are sent (rows numbered from 1).
fn rendered(c: &Composed) -> Vec<Delivery> {
    queued(c, 1)
        .iter()
        .map(|q| render(q, Some(&c.secret), CHECKIN_URL).unwrap())
        .collect()
}

#[test]
fn alerts_go_to_exactly_the_recipients_in_their_language_with_the_nearest_mission() {
    let people = [
        person(
            "p-zh",
            "zh-CN",
            vec![contact(ChannelKind::Email, "zh@example.org")],
        ),
        person(
            "p-en",
            "en",
            vec![contact(ChannelKind::Sms, "+254700000001")],
        ),
        person(
            "p-bad",
            "en",
            vec![contact(ChannelKind::Email, "not an address")],
        ),
    ];
    let c = compose(
        &input(),
        &people,
        &missions(),
        &Templates::default(),
        &options(),
    )
    .unwrap();
    let who: HashSet<&str> = c.rows.iter().map(|d| d.recipient.as_str()).collect();
    assert_eq!(who, HashSet::from(["p-zh", "p-en", "p-bad"]));
    assert_eq!(c.rows.len(), 3, "one record per (recipient, channel)");
    // Texts are stored once per (language, template), not per recipient.
    assert_eq!(
        c.texts.len(),
        3,
        "{:?}",
        c.texts.iter().map(|t| &t.template).collect::<Vec<_>>()
    );
    assert!(
        c.texts
            .iter()
            .all(|t| t.accountable && !t.body.contains("Name p-"))
    );
    let sent = rendered(&c);
    let zh = sent.iter().find(|d| d.recipient == "p-zh").unwrap();
    assert!(
        zh.subject.contains("蒙巴萨港附近发生武装冲突"),
        "{}",
        zh.subject
    );
    assert!(zh.body.starts_with("Name p-zh："), "{}", zh.body);
    assert!(zh.body.contains("应对建议") && zh.body.contains("就地躲避"));
    // Nearest accredited mission: the consulate in Mombasa, not the embassy in Nairobi
    // (nor the nearer-than-Nairobi embassy across the border in Tanzania).
    assert!(zh.body.contains("Consulate in Mombasa"), "{}", zh.body);
    assert!(zh.body.contains("+86-10-12308"));
    let en = sent.iter().find(|d| d.recipient == "p-en").unwrap();
    assert!(
        en.body.starts_with("[Level II (severe)] Armed clash"),
        "{}",
        en.body
    );
    assert!(en.body.contains("Reply SAFE "));
    let bad = sent.iter().find(|d| d.recipient == "p-bad").unwrap();
    assert_eq!(bad.state, DeliveryState::Dead);
    assert!(
        bad.last_error
            .as_deref()
            .unwrap()
            .contains("does not parse"),
        "{bad:?}"
    );
    // Each message carries a link and a code for its own row: they verify
    // with the alert's secret for that row and recipient only.
    for d in &sent {
        let token = &d.body.split("?t=").nth(1).unwrap()[..64];
        let issuer = |row: i64, recipient: &str| CheckinIssuer {
            row,
            alert: c.record.id.clone(),
            scope: c.record.scope.clone(),
            recipient: recipient.into(),
            accountable: true,
            secret: *c.secret.bytes(),
            created_at: c.record.sent,
            expires_at: c.record.sent + chrono::Duration::hours(72),
        };
        let t = verify(Credential::Link(token), &issuer(d.id, &d.recipient)).unwrap();
        assert_eq!(
            (t.scope.as_str(), t.kind.as_str()),
            ("event:gdelt:881991040", "link")
        );
        assert!(verify(Credential::Link(token), &issuer(d.id + 1, &d.recipient)).is_none());
        assert!(verify(Credential::Link(token), &issuer(d.id, "someone-else")).is_none());
    }
    // Organisations are informed but not asked to check in.
    let org = Recipient {
        kind: RecipientKind::Organisation,
        ..person(
            "org-1",
            "zh",
            vec![contact(ChannelKind::Webhook, "http://127.0.0.1:1/x")],
        )
    };
    let c = compose(
        &input(),
        &[org],
        &missions(),
        &Templates::default(),
        &options(),
    )
    .unwrap();
    assert!(c.texts.iter().all(|t| !t.accountable));
    assert!(!rendered(&c)[0].body.contains("SAFE"));
}

#[test]
fn nearest_mission_falls_back_to_the_embassy_without_locations() {
    let mut ms = missions();
    for m in &mut ms {
        m.location = None;
    }
    let ke = farguard_model::CountryCode::parse("KE").unwrap();
    let (m, km) = nearest_mission(&ms, Some(ke), None).unwrap();
    assert_eq!((m.id.as_str(), km), ("embassy-ke", None));
    assert!(nearest_mission(&ms, None, None).is_none());
}

#[test]
fn a_missing_template_variable_is_an_error_naming_it() {
    let mut o = BTreeMap::new();
    o.insert(
        "zh".to_string(),
        BTreeMap::from([("subject".to_string(), "{headline} {severity}".to_string())]),
    );
    let e = Templates::with_overrides(&o).unwrap_err().to_string();
    assert!(e.contains("zh/subject") && e.contains("{severity}"), "{e}");
}

#[test]
fn signed_webhooks_arrive_once_each_through_a_500_and_a_hang() {
    let rx = Http::start(vec![Act::Status(500), Act::Hang(Duration::from_secs(3))]);
    let people: Vec<_> = (0..4)
        .map(|i| {
            person(
                &format!("p{i}"),
                "en",
                vec![contact(ChannelKind::Webhook, &rx.url)],
            )
        })
        .collect();
    let c = compose(&input(), &people, &[], &Templates::default(), &options()).unwrap();
    let mut ob = MemOutbox::new(&c);
    drive(
        &mut ob,
        Box::new(Webhook::new(SECRET, Duration::from_millis(500))),
        fast_policy(5),
    );
    for q in queued(&c, 1) {
        assert_eq!(
            ob.state(&q.delivery.key),
            DeliveryState::Sent,
            "{}",
            q.delivery.key
        );
    }
    let got = rx.requests();
    // Accepted requests: exactly one per key, each signed and verifiable once.
    let ok: Vec<_> = got.iter().filter(|r| r.answered == 200).collect();
    let keys: HashSet<&str> = ok
        .iter()
        .map(|r| r.header("Idempotency-Key").unwrap())
        .collect();
    assert_eq!(ok.len(), 4);
    assert_eq!(keys.len(), 4);
    let mut guard = ReplayGuard::default();
    let now = chrono::Utc::now().timestamp();
    for r in &ok {
        let ts = r.header("X-Farguard-Timestamp").unwrap();
        let sig = r.header("X-Farguard-Signature").unwrap();
        guard
            .check(
                SECRET,
                ts,
                sig,
                r.body.as_bytes(),
                now,
                Duration::from_secs(300),
            )
            .unwrap();
        // The same captured request replayed is refused.
        assert!(matches!(
            guard.check(
                SECRET,
                ts,
                sig,
                r.body.as_bytes(),
                now,
                Duration::from_secs(300)
            ),
            Err(VerifyError::Replayed { .. })
        ));
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["key"], r.header("Idempotency-Key").unwrap());
    }
    // The failures were retried and recorded.
    assert!(got.iter().any(|r| r.answered == 500));
    assert!(
        ob.history
            .iter()
            .any(|(_, o, d)| o == "retry" && d.contains("HTTP 500"))
    );
    assert!(
        ob.history
            .iter()
            .any(|(_, o, d)| o == "retry" && !d.contains("HTTP")),
        "the hang is a retry: {:?}",
        ob.history
    );
}

#[test]
fn a_receiver_that_never_recovers_dead_letters_after_the_limit_and_a_4xx_at_once() {
    let rx = Http::start(vec![Act::Status(503); 10]);
    let refuse = Http::start(vec![Act::Status(410)]);
    let people = [
        person("p1", "en", vec![contact(ChannelKind::Webhook, &rx.url)]),
        person("p2", "en", vec![contact(ChannelKind::Webhook, &refuse.url)]),
    ];
    let c = compose(&input(), &people, &[], &Templates::default(), &options()).unwrap();
    let mut ob = MemOutbox::new(&c);
    drive(
        &mut ob,
        Box::new(Webhook::new(SECRET, Duration::from_millis(500))),
        fast_policy(3),
    );
    assert!(
        ob.rows
            .iter()
            .all(|q| q.delivery.state == DeliveryState::Dead)
    );
    assert_eq!(rx.requests().len(), 3, "exactly max_attempts tries");
    assert_eq!(refuse.requests().len(), 1, "a 4xx is not retried");
    let p1 = &ob.rows[0].delivery;
    assert_eq!(p1.attempts, 3);
    assert!(
        p1.last_error
            .as_deref()
            .unwrap()
            .contains("gave up after 3 tries")
    );
}

#[test]
fn email_reaches_the_smtp_sink_once_each_after_a_dropped_connection() {
    let sink = Smtp::start(1);
    let cfg = SmtpConfig {
        host: "127.0.0.1".into(),
        port: sink.port,
        security: "none".into(),
        from: "farguard <alerts@farguard.example>".into(),
        username: None,
        password: None,
        timeout: Duration::from_secs(2),
    };
    let people: Vec<_> = (0..3)
        .map(|i| {
            person(
                &format!("p{i}"),
                if i == 0 { "zh" } else { "en" },
                vec![contact(ChannelKind::Email, &format!("p{i}@example.org"))],
            )
        })
        .chain([person(
            "px",
            "en",
            vec![contact(ChannelKind::Email, "refused@example.org")],
        )])
        .collect();
    let c = compose(&input(), &people, &[], &Templates::default(), &options()).unwrap();
    let mut ob = MemOutbox::new(&c);
    drive(&mut ob, Box::new(Email::new(&cfg).unwrap()), fast_policy(5));
    let mails = sink.mails();
    assert_eq!(mails.len(), 3, "{mails:?}");
    for i in 0..3 {
        let to = format!("<p{i}@example.org>");
        let m: Vec<_> = mails.iter().filter(|m| m.to.contains(&to)).collect();
        assert_eq!(m.len(), 1, "{to}");
        let key = &queued(&c, 1)[i].delivery.key;
        assert_eq!(m[0].header("Message-ID").unwrap(), message_id(key));
    }
    assert!(mails[0].data.contains("Subject:"));
    assert_eq!(mails[0].from, "<alerts@farguard.example>");
    assert!(
        ob.history.iter().any(|(_, o, _)| o == "retry"),
        "the drop was retried: {:?}",
        ob.history
    );
    let refused = &ob
        .rows
        .iter()
        .find(|q| q.delivery.recipient == "px")
        .unwrap()
        .delivery;
    assert_eq!(
        refused.state,
        DeliveryState::Dead,
        "a 5xx mailbox refusal is final"
    );
    assert!(refused.last_error.as_deref().unwrap().contains("550"));
}

#[test]
fn sms_gateway_gets_the_configured_request_with_escaped_values() {
    let rx = Http::start(vec![Act::Status(502)]);
    let gw = SmsGateway::new(SmsConfig {
        url: rx.url.clone(),
        content_type: "application/x-www-form-urlencoded".into(),
        body: "To={to}&From={from}&Body={text}&Ref={key}".into(),
        from: "farguard".into(),
        headers: vec![("Authorization".into(), "Bearer t0ken".into())],
        timeout: Duration::from_secs(2),
    })
    .unwrap();
    let people = [person(
        "p1",
        "zh",
        vec![contact(ChannelKind::Sms, "+254700000001")],
    )];
    let c = compose(&input(), &people, &[], &Templates::default(), &options()).unwrap();
    let mut ob = MemOutbox::new(&c);
    drive(&mut ob, Box::new(gw), fast_policy(3));
    let got: Vec<_> = rx
        .requests()
        .into_iter()
        .filter(|r| r.answered == 200)
        .collect();
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert_eq!(r.header("Authorization"), Some("Bearer t0ken"));
    assert!(
        r.body
            .starts_with("To=%2B254700000001&From=farguard&Body=%E3%80%90"),
        "{}",
        r.body
    );
    assert!(r.body.contains("SAFE+"), "{}", r.body);
}
