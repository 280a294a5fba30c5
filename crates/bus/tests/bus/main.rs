//! One suite, both transports: the in-process bus always, NATS JetStream
//! when `FARGUARD_TEST_NATS` is set (a visible SKIP otherwise; a failure
//! under `CI=true`). Each NATS test uses its own subject prefix (so its own
//! stream) and deletes the stream at the end.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use farguard_bus::message::{self, EventAccepted};
use farguard_bus::{
    MemoryBus, NatsBus, NatsOptions, Outgoing, Partition, Received, Subjects, Subscribe,
    Subscription, Topic, Transport,
};
use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

static N: AtomicU32 = AtomicU32::new(0);

fn prefix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "fgt-bus-{}-{}-{}",
        std::process::id(),
        nanos,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn nats_url() -> Option<String> {
    match std::env::var("FARGUARD_TEST_NATS")
        .ok()
        .filter(|u| !u.is_empty())
    {
        Some(u) => Some(u),
        None => {
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "CI=true but FARGUARD_TEST_NATS is not set"
            );
            let _ = writeln!(
                std::io::stderr(),
                "SKIP NATS transport test: FARGUARD_TEST_NATS not set"
            );
            None
        }
    }
}

/// A NATS bus on a fresh prefix; the stream is deleted when the guard goes.
struct Nats {
    bus: NatsBus,
    url: String,
}

impl Drop for Nats {
    fn drop(&mut self) {
        let (url, subjects) = (self.url.clone(), self.bus.subjects().clone());
        // Drop cannot await, and the test's runtime is busy dropping this:
        // a thread with its own runtime and connection deletes the stream.
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                NatsBus::connect(&url, subjects, &NatsOptions::default())
                    .await?
                    .delete_stream()
                    .await
            })
        })
        .join();
        if let Ok(Err(e)) = done {
            let _ = writeln!(std::io::stderr(), "cleanup: {e}");
        }
    }
}

async fn nats(url: &str) -> Nats {
    let subjects = Subjects::new(&prefix()).unwrap();
    let bus = NatsBus::connect(url, subjects, &NatsOptions::default())
        .await
        .unwrap();
    Nats {
        bus,
        url: url.to_string(),
    }
}

fn msg(subjects: &Subjects, country: &str, n: u32) -> Outgoing {
    let mut m = EventAccepted {
        v: message::VERSION,
        event: format!("test:{country}-{n}"),
        occurred_at: chrono::DateTime::from_timestamp(1_571_900_000 + i64::from(n), 0).unwrap(),
        country: Some(country.into()),
        category: "security".into(),
        subtype: "armed_conflict".into(),
        severity: 3,
    };
    if country == "none" {
        m.country = None;
    }
    message::encode(subjects, &m)
}

fn spec(subjects: &Subjects, durable: &str, parts: &[&str], ack_wait: Duration) -> Subscribe {
    Subscribe {
        durable: durable.into(),
        filters: if parts.is_empty() {
            vec![subjects.filter(Topic::EventsAccepted, None)]
        } else {
            parts
                .iter()
                .map(|p| {
                    subjects.filter(Topic::EventsAccepted, Some(&Partition::parse(p).unwrap()))
                })
                .collect()
        },
        ack_wait,
    }
}

fn events<M: Received>(got: &[M]) -> Vec<String> {
    got.iter()
        .map(|m| {
            message::decode::<EventAccepted>(m.subject(), m.payload())
                .unwrap()
                .event
        })
        .collect()
}

async fn ack_all<M: Received>(got: Vec<M>) {
    for m in got {
        m.ack().await.unwrap();
    }
}

/// Fetches until `n` messages came or `wait` passed.
async fn fetch_n<S: Subscription>(sub: &mut S, n: usize, wait: Duration) -> Vec<S::Msg> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut got = Vec::new();
    while got.len() < n && tokio::time::Instant::now() < deadline {
        got.extend(
            sub.fetch(n - got.len(), Duration::from_millis(500))
                .await
                .unwrap(),
        );
    }
    got
}

/// Publish, durable read in order, explicit ack, nothing left after.
async fn delivers_in_order_and_acks<T: Transport>(bus: &T, s: &Subjects) {
    let mut sub = bus
        .subscribe(&spec(s, "grade", &[], Duration::from_secs(30)))
        .await
        .unwrap();
    let msgs: Vec<Outgoing> = (0..5).map(|n| msg(s, "KE", n)).collect();
    let p = bus.publish(&msgs).await.unwrap();
    assert_eq!((p.stored, p.duplicates), (5, 0));
    let got = fetch_n(&mut sub, 5, Duration::from_secs(5)).await;
    assert_eq!(
        events(&got),
        (0..5).map(|n| format!("test:KE-{n}")).collect::<Vec<_>>()
    );
    assert!(got.iter().all(|m| m.delivered() == 1));
    assert_eq!(sub.backlog().await.unwrap(), 5, "fetched, not yet acked");
    assert_eq!(bus.backlog_of("grade").await.unwrap(), Some(5));
    assert_eq!(bus.backlog_of("gra").await.unwrap(), None);
    ack_all(got).await;
    assert_eq!(sub.backlog().await.unwrap(), 0);
    assert_eq!(bus.backlog_of("grade").await.unwrap(), Some(0));
    assert!(
        sub.fetch(10, Duration::from_millis(300))
            .await
            .unwrap()
            .is_empty()
    );
}

/// A worker that takes only its partitions sees only them; `none` is a
/// partition like any other.
async fn partitions_split_the_work<T: Transport>(bus: &T, s: &Subjects) {
    let mut east = bus
        .subscribe(&spec(s, "grade", &["KE", "TZ"], Duration::from_secs(30)))
        .await
        .unwrap();
    let mut rest = bus
        .subscribe(&spec(s, "grade", &["CN", "none"], Duration::from_secs(30)))
        .await
        .unwrap();
    let msgs = vec![
        msg(s, "KE", 1),
        msg(s, "CN", 2),
        msg(s, "TZ", 3),
        msg(s, "none", 4),
    ];
    bus.publish(&msgs).await.unwrap();
    let mut a = events(&fetch_n(&mut east, 2, Duration::from_secs(5)).await);
    let mut b = events(&fetch_n(&mut rest, 2, Duration::from_secs(5)).await);
    a.sort();
    b.sort();
    assert_eq!(a, ["test:KE-1", "test:TZ-3"]);
    assert_eq!(b, ["test:CN-2", "test:none-4"]);
}

/// A message dropped without ack (a crash) comes back after the ack wait; a
/// nak comes back after its delay; the delivery count says so.
async fn unacked_messages_come_back<T: Transport>(bus: &T, s: &Subjects) {
    let mut sub = bus
        .subscribe(&spec(s, "expose", &[], Duration::from_secs(2)))
        .await
        .unwrap();
    bus.publish(&[msg(s, "KE", 7), msg(s, "KE", 8)])
        .await
        .unwrap();
    let mut got = fetch_n(&mut sub, 2, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 2);
    let second = got.pop().unwrap();
    let first = got.pop().unwrap();
    drop(first); // the worker died holding it
    second.nak(Duration::from_millis(200)).await.unwrap();
    let again = fetch_n(&mut sub, 1, Duration::from_secs(2)).await;
    assert_eq!(events(&again), ["test:KE-8"]);
    assert_eq!(again[0].delivered(), 2);
    ack_all(again).await;
    let started = std::time::Instant::now();
    let again = fetch_n(&mut sub, 1, Duration::from_secs(8)).await;
    assert_eq!(events(&again), ["test:KE-7"]);
    assert_eq!(again[0].delivered(), 2);
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "not before the ack wait"
    );
    ack_all(again).await;
    assert_eq!(sub.backlog().await.unwrap(), 0);
}

/// A nak's delay holds the message back, and a fetch meanwhile comes back
/// empty in its own time (it does not wait for the delay).
async fn a_nak_delay_holds_the_message_back<T: Transport>(bus: &T, s: &Subjects) {
    let mut sub = bus
        .subscribe(&spec(s, "held", &[], Duration::from_secs(30)))
        .await
        .unwrap();
    bus.publish(&[msg(s, "KE", 11)]).await.unwrap();
    let got = fetch_n(&mut sub, 1, Duration::from_secs(5)).await;
    got.into_iter()
        .next()
        .unwrap()
        .nak(Duration::from_secs(4))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let none = sub.fetch(1, Duration::from_millis(500)).await.unwrap();
    assert!(none.is_empty());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let again = fetch_n(&mut sub, 1, Duration::from_secs(10)).await;
    assert_eq!(events(&again), ["test:KE-11"]);
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    ack_all(again).await;
}

/// The same message id twice within the window is stored once.
async fn publish_dedups_by_message_id<T: Transport>(bus: &T, s: &Subjects) {
    let mut sub = bus
        .subscribe(&spec(s, "dedup", &[], Duration::from_secs(30)))
        .await
        .unwrap();
    let m = msg(s, "KE", 9);
    let p = bus.publish(&[m.clone(), m.clone()]).await.unwrap();
    assert_eq!((p.stored, p.duplicates), (1, 1));
    let p = bus.publish(&[m, msg(s, "KE", 10)]).await.unwrap();
    assert_eq!((p.stored, p.duplicates), (1, 1));
    let got = fetch_n(&mut sub, 3, Duration::from_secs(2)).await;
    assert_eq!(events(&got), ["test:KE-9", "test:KE-10"]);
    ack_all(got).await;
}

/// Two workers on one durable share its messages: each goes to one.
async fn workers_on_one_durable_share_it<T: Transport>(bus: &T, s: &Subjects) {
    let mut a = bus
        .subscribe(&spec(s, "respond", &[], Duration::from_secs(30)))
        .await
        .unwrap();
    let mut b = bus
        .subscribe(&spec(s, "respond", &[], Duration::from_secs(30)))
        .await
        .unwrap();
    let msgs: Vec<Outgoing> = (20..30).map(|n| msg(s, "KE", n)).collect();
    bus.publish(&msgs).await.unwrap();
    let got_a = a.fetch(4, Duration::from_secs(2)).await.unwrap();
    let got_b = fetch_n(&mut b, 10 - got_a.len(), Duration::from_secs(5)).await;
    let mut all = events(&got_a);
    all.extend(events(&got_b));
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 10);
    assert!(!got_a.is_empty() && !got_b.is_empty());
    ack_all(got_a).await;
    ack_all(got_b).await;
}

async fn suite<T: Transport>(bus: &T, s: &Subjects) {
    delivers_in_order_and_acks(bus, s).await;
}

#[tokio::test]
async fn memory_transport() {
    let s = Subjects::new(&prefix()).unwrap();
    let bus = MemoryBus::default();
    suite(&bus, &s).await;
    partitions_split_the_work(&MemoryBus::default(), &s).await;
    unacked_messages_come_back(&MemoryBus::default(), &s).await;
    publish_dedups_by_message_id(&MemoryBus::default(), &s).await;
    workers_on_one_durable_share_it(&MemoryBus::default(), &s).await;
    a_nak_delay_holds_the_message_back(&MemoryBus::default(), &s).await;
}

#[tokio::test]
async fn memory_publish_waits_for_room() {
    let s = Subjects::default();
    let bus = MemoryBus::new(2, Duration::from_secs(120));
    let mut sub = bus
        .subscribe(&spec(&s, "grade", &[], Duration::from_secs(30)))
        .await
        .unwrap();
    let msgs: Vec<Outgoing> = (0..6).map(|n| msg(&s, "KE", n)).collect();
    let publisher = {
        let bus = bus.clone();
        tokio::spawn(async move { bus.publish(&msgs).await.unwrap() })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!publisher.is_finished(), "a full queue holds the publisher");
    assert_eq!(sub.backlog().await.unwrap(), 2);
    let mut got = Vec::new();
    while got.len() < 6 {
        got.extend(sub.fetch(6, Duration::from_secs(2)).await.unwrap());
    }
    assert_eq!(publisher.await.unwrap().stored, 6);
    assert_eq!(events(&got).len(), 6);
    // Nobody subscribed to levels: counted, not kept.
    let lv = Outgoing {
        subject: s.subject(Topic::LevelsChanged, "KE"),
        msg_id: "x".into(),
        payload: b"{}".to_vec(),
    };
    bus.publish(&[lv]).await.unwrap();
    assert_eq!(bus.unrouted(), 1);
}

#[tokio::test]
async fn nats_transport() {
    let Some(url) = nats_url() else { return };
    let n = nats(&url).await;
    suite(&n.bus, n.bus.subjects()).await;
    let n = nats(&url).await;
    partitions_split_the_work(&n.bus, n.bus.subjects()).await;
    let n = nats(&url).await;
    unacked_messages_come_back(&n.bus, n.bus.subjects()).await;
    let n = nats(&url).await;
    publish_dedups_by_message_id(&n.bus, n.bus.subjects()).await;
    let n = nats(&url).await;
    workers_on_one_durable_share_it(&n.bus, n.bus.subjects()).await;
    let n = nats(&url).await;
    a_nak_delay_holds_the_message_back(&n.bus, n.bus.subjects()).await;
}

/// A worker process that dies (its connection gone) leaves its unacked
/// messages to the next one on the same durable.
#[tokio::test]
async fn nats_redelivers_to_the_next_worker_after_a_crash() {
    let Some(url) = nats_url() else { return };
    let n = nats(&url).await;
    let s = n.bus.subjects().clone();
    n.bus
        .publish(&[msg(&s, "KE", 1), msg(&s, "KE", 2)])
        .await
        .unwrap();
    {
        let crashed = NatsBus::connect(&url, s.clone(), &NatsOptions::default())
            .await
            .unwrap();
        let mut sub = crashed
            .subscribe(&spec(&s, "grade", &[], Duration::from_secs(2)))
            .await
            .unwrap();
        let got = fetch_n(&mut sub, 2, Duration::from_secs(5)).await;
        assert_eq!(got.len(), 2);
        // Acks the first, then "crashes": the connection goes with the second.
        let mut got = got.into_iter();
        got.next().unwrap().ack().await.unwrap();
    }
    let next = NatsBus::connect(&url, s.clone(), &NatsOptions::default())
        .await
        .unwrap();
    let mut sub = next
        .subscribe(&spec(&s, "grade", &[], Duration::from_secs(2)))
        .await
        .unwrap();
    let got = fetch_n(&mut sub, 1, Duration::from_secs(10)).await;
    assert_eq!(events(&got), ["test:KE-2"]);
    assert_eq!(got[0].delivered(), 2);
    ack_all(got).await;
    assert_eq!(sub.backlog().await.unwrap(), 0);
    assert_eq!(n.bus.stream_messages().await.unwrap(), 2);
}

#[tokio::test]
async fn a_bad_url_is_a_clear_error() {
    let e = NatsBus::connect(
        "nats://127.0.0.1:1",
        Subjects::default(),
        &NatsOptions::default(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("connecting to NATS at nats://127.0.0.1:1: "),
        "{e}"
    );
}
