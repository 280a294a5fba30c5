//! Hand-off throughput: 1,000 `events.accepted` records published, fetched
//! and acknowledged one by one, on each transport, beside a baseline
//! measured in the same run — the same payloads through a bounded tokio
//! mpsc channel (what an in-process hand-off costs with no delivery
//! guarantees at all).
//!
//! Run: `cargo bench -p farguard-bus` (with `FARGUARD_TEST_NATS` set for
//! the JetStream figure; its stream is deleted at the end). Medians are in
//! `target/criterion/hand-off/*/new/estimates.json`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use farguard_bus::message::{self, EventAccepted, VERSION};
use farguard_bus::{
    MemoryBus, NatsBus, NatsOptions, Outgoing, Received, Subjects, Subscribe, Subscription, Topic,
    Transport,
};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const N: usize = 1_000;

static BATCH: AtomicU64 = AtomicU64::new(0);

/// N records with ids fresh to this run (the bus drops repeated ids).
fn records(s: &Subjects) -> Vec<Outgoing> {
    let b = BATCH.fetch_add(1, Ordering::Relaxed);
    (0..N)
        .map(|i| {
            message::encode(
                s,
                &EventAccepted {
                    v: VERSION,
                    event: format!("gdelt:{b}-{i}"),
                    occurred_at: chrono::DateTime::from_timestamp(1_571_900_000, 0)
                        .unwrap_or_default(),
                    country: Some(["KE", "TZ", "UG", "CN"][i % 4].into()),
                    category: "security".into(),
                    subtype: "armed_conflict".into(),
                    severity: 3,
                },
            )
        })
        .collect()
}

async fn hand_off<T: Transport>(bus: &T, sub: &mut T::Sub, msgs: &[Outgoing]) -> usize {
    let p = bus.publish(msgs).await.unwrap_or_default();
    assert_eq!(p.stored as usize, N);
    let mut got = 0;
    while got < N {
        let batch = sub
            .fetch(256, Duration::from_secs(5))
            .await
            .unwrap_or_default();
        assert!(!batch.is_empty(), "messages lost");
        for m in &batch {
            black_box(m.payload().len());
        }
        got += batch.len();
        farguard_bus::ack_all(batch).await.unwrap_or_default();
    }
    got
}

fn spec(s: &Subjects) -> Subscribe {
    Subscribe {
        durable: "bench".into(),
        filters: vec![s.filter(Topic::EventsAccepted, None)],
        ack_wait: Duration::from_secs(30),
    }
}

fn bench(c: &mut Criterion) {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("runtime: {e}"),
    };
    let mut g = c.benchmark_group("hand-off");
    g.throughput(Throughput::Elements(N as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));

    let s = Subjects::default();
    g.bench_function("baseline: tokio mpsc, no guarantees", |b| {
        b.iter_batched(
            || records(&s),
            |msgs| {
                rt.block_on(async {
                    let (tx, mut rx) = tokio::sync::mpsc::channel::<Outgoing>(4096);
                    let send = tokio::spawn(async move {
                        for m in msgs {
                            let _ = tx.send(m).await;
                        }
                    });
                    let mut got = 0;
                    while let Some(m) = rx.recv().await {
                        black_box(m.payload.len());
                        got += 1;
                    }
                    let _ = send.await;
                    got
                })
            },
            criterion::BatchSize::SmallInput,
        )
    });

    let mem = MemoryBus::default();
    let mut sub = match rt.block_on(mem.subscribe(&spec(&s))) {
        Ok(sub) => sub,
        Err(e) => panic!("{e}"),
    };
    g.bench_function("memory: ack, redelivery, dedup", |b| {
        b.iter_batched(
            || records(&s),
            |msgs| rt.block_on(hand_off(&mem, &mut sub, &msgs)),
            criterion::BatchSize::SmallInput,
        )
    });

    if let Some(url) = std::env::var("FARGUARD_TEST_NATS")
        .ok()
        .filter(|u| !u.is_empty())
    {
        let s = match Subjects::new(&format!("fgt-bench-{}", std::process::id())) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        };
        let nats = match rt.block_on(NatsBus::connect(&url, s.clone(), &NatsOptions::default())) {
            Ok(n) => n,
            Err(e) => panic!("{e}"),
        };
        let mut sub = match rt.block_on(nats.subscribe(&spec(&s))) {
            Ok(sub) => sub,
            Err(e) => panic!("{e}"),
        };
        g.bench_function("nats jetstream: file storage, confirmed acks", |b| {
            b.iter_batched(
                || records(&s),
                |msgs| rt.block_on(hand_off(&nats, &mut sub, &msgs)),
                criterion::BatchSize::SmallInput,
            )
        });
        let _ = rt.block_on(nats.delete_stream());
    } else {
        eprintln!("SKIP the JetStream figure: FARGUARD_TEST_NATS not set");
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
