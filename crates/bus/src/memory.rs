//! The in-process transport: bounded queues per durable subscription, with
//! JetStream's delivery rules — explicit ack, `nak` with a delay, redelivery
//! of what is not acknowledged within the ack wait, and publish dedup by
//! message id — so stage code behaves the same on both transports.
//!
//! Scope: one process. A message goes to the subscriptions that exist when
//! it is published (create them first; one with no reader is counted as
//! unrouted and dropped), and nothing survives the process: in-process, the
//! store is the durable record and `farguard incidents trigger` re-derives
//! what a crash cut short. A publish waits while a matching queue is full
//! (back-pressure, never an unbounded queue).

use crate::subject::{consumer_name, matches};
use crate::{BusError, Outgoing, Published, Received, Result, Subscribe, Subscription, Transport};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Messages a subscription's queue holds before publishers wait.
pub const DEFAULT_CAPACITY: usize = 4096;
/// How long a message id is remembered for deduplication (JetStream's
/// default duplicate window).
pub const DEFAULT_DEDUP_WINDOW: Duration = Duration::from_secs(120);

/// The in-process bus; clones share it.
#[derive(Debug, Clone)]
pub struct MemoryBus {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    changed: Notify,
    capacity: usize,
    dedup_window: Duration,
}

#[derive(Debug, Default)]
struct State {
    consumers: HashMap<String, Consumer>,
    /// Message ids inside the duplicate window, and the same in publish
    /// order (to forget them when they leave it).
    seen: HashMap<String, Instant>,
    seen_order: VecDeque<(Instant, String)>,
    seq: u64,
    unrouted: u64,
}

impl State {
    fn forget_before(&mut self, cutoff: Instant) {
        while let Some((t, _)) = self.seen_order.front() {
            if *t >= cutoff {
                break;
            }
            if let Some((t, id)) = self.seen_order.pop_front()
                && self.seen.get(&id) == Some(&t)
            {
                self.seen.remove(&id);
            }
        }
    }
}

#[derive(Debug)]
struct Consumer {
    filters: Vec<String>,
    ack_wait: Duration,
    ready: VecDeque<Entry>,
    inflight: BTreeMap<u64, (Entry, Instant)>,
}

#[derive(Debug, Clone)]
struct Entry {
    seq: u64,
    subject: Arc<str>,
    payload: Arc<[u8]>,
    delivered: u64,
    not_before: Option<Instant>,
}

impl Consumer {
    /// Puts an entry back in sequence order.
    fn requeue(&mut self, e: Entry) {
        let at = self.ready.partition_point(|x| x.seq < e.seq);
        self.ready.insert(at, e);
    }
    /// Moves deliveries whose ack wait has passed back to the queue.
    fn expire(&mut self, now: Instant) {
        let due: Vec<u64> = self
            .inflight
            .iter()
            .filter(|(_, (_, deadline))| *deadline <= now)
            .map(|(s, _)| *s)
            .collect();
        for s in due {
            if let Some((e, _)) = self.inflight.remove(&s) {
                tracing::debug!(seq = s, "ack wait passed: delivering again");
                self.requeue(e);
            }
        }
    }
    fn next_wake(&self) -> Option<Instant> {
        let a = self.inflight.values().map(|(_, d)| *d).min();
        let b = self.ready.iter().filter_map(|e| e.not_before).min();
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

impl Default for MemoryBus {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY, DEFAULT_DEDUP_WINDOW)
    }
}

impl MemoryBus {
    pub fn new(capacity: usize, dedup_window: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                changed: Notify::new(),
                capacity: capacity.max(1),
                dedup_window,
            }),
        }
    }
    /// Messages published while no subscription wanted them.
    pub fn unrouted(&self) -> u64 {
        self.inner.lock().unrouted
    }
    /// True when no subscription has a message waiting or unacknowledged.
    pub fn is_idle(&self) -> bool {
        self.inner
            .lock()
            .consumers
            .values()
            .all(|c| c.ready.is_empty() && c.inflight.is_empty())
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain queues behind, still
        // consistent: keep going with them.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Transport for MemoryBus {
    type Sub = MemorySubscription;

    async fn publish(&self, msgs: &[Outgoing]) -> Result<Published> {
        let mut out = Published::default();
        let mut next = 0;
        while next < msgs.len() {
            let notified = self.inner.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let before = next;
            {
                // As many as fit under one lock: a reader wakes to the batch.
                let mut st = self.inner.lock();
                let now = Instant::now();
                if let Some(cutoff) = now.checked_sub(self.inner.dedup_window) {
                    st.forget_before(cutoff);
                }
                while let Some(m) = msgs.get(next) {
                    if st.seen.contains_key(&m.msg_id) {
                        out.duplicates += 1;
                        next += 1;
                        continue;
                    }
                    let targets: Vec<String> = st
                        .consumers
                        .iter()
                        .filter(|(_, c)| c.filters.iter().any(|f| matches(f, &m.subject)))
                        .map(|(n, _)| n.clone())
                        .collect();
                    let full = targets.iter().any(|n| {
                        st.consumers
                            .get(n)
                            .is_some_and(|c| c.ready.len() >= self.inner.capacity)
                    });
                    if full {
                        break;
                    }
                    st.seq += 1;
                    let e = Entry {
                        seq: st.seq,
                        subject: Arc::from(m.subject.as_str()),
                        payload: Arc::from(m.payload.as_slice()),
                        delivered: 0,
                        not_before: None,
                    };
                    if targets.is_empty() {
                        st.unrouted += 1;
                        tracing::debug!(subject = %m.subject, "no subscription: message dropped");
                    }
                    for n in &targets {
                        if let Some(c) = st.consumers.get_mut(n) {
                            c.ready.push_back(e.clone());
                        }
                    }
                    st.seen.insert(m.msg_id.clone(), now);
                    st.seen_order.push_back((now, m.msg_id.clone()));
                    out.stored += 1;
                    next += 1;
                }
            }
            if next > before {
                self.inner.changed.notify_waiters();
            }
            if next < msgs.len() {
                // A queue is full: wait until a reader takes something. (Our
                // own wake-up above, if any, costs one more look.)
                notified.await;
            }
        }
        Ok(out)
    }

    async fn subscribe(&self, spec: &Subscribe) -> Result<MemorySubscription> {
        let mut st = self.inner.lock();
        let mut names = Vec::new();
        for filter in &spec.filters {
            // One consumer per filter, named as on JetStream, so the same
            // worker layout behaves the same on both transports.
            let name = consumer_name(&spec.durable, filter);
            st.consumers
                .entry(name.clone())
                .or_insert_with(|| Consumer {
                    filters: vec![filter.clone()],
                    ack_wait: spec.ack_wait,
                    ready: VecDeque::new(),
                    inflight: BTreeMap::new(),
                });
            names.push(name);
        }
        Ok(MemorySubscription {
            inner: self.inner.clone(),
            consumers: names,
            next: 0,
        })
    }

    async fn backlog_of(&self, durable: &str) -> Result<Option<u64>> {
        let st = self.inner.lock();
        let head = format!("{durable}-");
        let mut found = None;
        for (name, c) in &st.consumers {
            if name.starts_with(&head) {
                *found.get_or_insert(0) += (c.ready.len() + c.inflight.len()) as u64;
            }
        }
        Ok(found)
    }
}

/// A reader of one in-process durable subscription.
#[derive(Debug)]
pub struct MemorySubscription {
    inner: Arc<Inner>,
    consumers: Vec<String>,
    next: usize,
}

impl Subscription for MemorySubscription {
    type Msg = MemoryMessage;

    async fn fetch(&mut self, max: usize, wait: Duration) -> Result<Vec<MemoryMessage>> {
        let deadline = Instant::now() + wait;
        let max = max.max(1);
        loop {
            let notified = self.inner.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let mut wake = deadline;
            let mut out = Vec::new();
            {
                let mut st = self.inner.lock();
                let now = Instant::now();
                let n = self.consumers.len();
                for i in 0..n {
                    let name = &self.consumers[(self.next + i) % n];
                    let c = st.consumers.get_mut(name).ok_or(BusError::Closed)?;
                    c.expire(now);
                    let mut j = 0;
                    while out.len() < max && j < c.ready.len() {
                        if c.ready[j].not_before.is_some_and(|t| t > now) {
                            j += 1;
                            continue;
                        }
                        let Some(mut e) = c.ready.remove(j) else {
                            break;
                        };
                        e.delivered += 1;
                        e.not_before = None;
                        out.push(MemoryMessage {
                            inner: self.inner.clone(),
                            consumer: name.clone(),
                            seq: e.seq,
                            subject: e.subject.clone(),
                            payload: e.payload.clone(),
                            delivered: e.delivered,
                        });
                        c.inflight.insert(e.seq, (e, now + c.ack_wait));
                    }
                    if let Some(w) = c.next_wake() {
                        wake = wake.min(w);
                    }
                }
                self.next = (self.next + 1) % n.max(1);
                if out.is_empty() && now >= deadline {
                    return Ok(out);
                }
            }
            if !out.is_empty() {
                // Room in the queue: wake waiting publishers.
                self.inner.changed.notify_waiters();
                return Ok(out);
            }
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep_until(wake) => {}
            }
        }
    }

    async fn backlog(&mut self) -> Result<u64> {
        let st = self.inner.lock();
        let mut total = 0;
        for name in &self.consumers {
            let c = st.consumers.get(name).ok_or(BusError::Closed)?;
            total += (c.ready.len() + c.inflight.len()) as u64;
        }
        Ok(total)
    }
}

/// One in-process delivery.
#[derive(Debug)]
pub struct MemoryMessage {
    inner: Arc<Inner>,
    consumer: String,
    seq: u64,
    subject: Arc<str>,
    payload: Arc<[u8]>,
    delivered: u64,
}

impl Received for MemoryMessage {
    fn subject(&self) -> &str {
        &self.subject
    }
    fn payload(&self) -> &[u8] {
        &self.payload
    }
    fn delivered(&self) -> u64 {
        self.delivered
    }
    async fn ack(self) -> Result<()> {
        {
            let mut st = self.inner.lock();
            if let Some(c) = st.consumers.get_mut(&self.consumer) {
                // Acks the sequence, whichever delivery it came from (a
                // late ack of one already queued again removes it there).
                if c.inflight.remove(&self.seq).is_none() {
                    c.ready.retain(|e| e.seq != self.seq);
                }
            }
        }
        self.inner.changed.notify_waiters();
        Ok(())
    }
    async fn nak(self, delay: Duration) -> Result<()> {
        {
            let mut st = self.inner.lock();
            if let Some(c) = st.consumers.get_mut(&self.consumer)
                && let Some((mut e, _)) = c.inflight.remove(&self.seq)
            {
                e.not_before = Some(Instant::now() + delay);
                c.requeue(e);
            }
        }
        self.inner.changed.notify_waiters();
        Ok(())
    }
}
