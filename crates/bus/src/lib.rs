//! The stage bus: how one pipeline stage hands its output to the next, in
//! one process or across many.
//!
//! Design note. A stage publishes small versioned JSON messages
//! ([`message`]) to a subject per hand-off and partition ([`subject`]:
//! `farguard.events.accepted.KE`, `farguard.levels.changed.KE`, …); the next
//! stage reads them through a durable subscription and acknowledges each one
//! only after its own work is durably stored. Delivery is at-least-once: a
//! message not acknowledged in time (the worker crashed, or said `nak`) is
//! delivered again, so every handler is idempotent — the store keys events on
//! (source, id), assessments on (area, category, at), incidents on (plan,
//! area, window), alerts on their scope. Publishing is deduplicated by a
//! stable message id (`Nats-Msg-Id`), so a publish repeated after a crash
//! within the duplicate window is dropped.
//!
//! Two transports meet one contract ([`Transport`], [`Subscription`],
//! [`Received`]): [`memory::MemoryBus`], bounded in-process queues (the
//! default: one process, no server), and [`nats::NatsBus`], NATS JetStream
//! (one stream per subject prefix, a durable pull consumer per stage and
//! partition) for stateless workers spread over machines. The same tests
//! run against both. This crate knows the transport and the wire format
//! only; the stage handlers (what grading or responding means) are wired in
//! the CLI, which owns the store.
//!
//! Code map: `subject` (topics, partitions, filters), `message` (the wire
//! types and their versioning), `memory`, `nats`, `error`.

mod error;
pub mod memory;
pub mod message;
pub mod nats;
pub mod subject;

pub use error::BusError;
pub use memory::MemoryBus;
pub use nats::{NatsBus, NatsOptions};
pub use subject::{DEFAULT_PREFIX, Partition, Subjects, Topic};

use std::future::Future;
use std::time::Duration;

pub type Result<T, E = BusError> = std::result::Result<T, E>;

/// One message to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub subject: String,
    /// The deduplication id (`Nats-Msg-Id`): equal content, equal id.
    pub msg_id: String,
    pub payload: Vec<u8>,
}

/// What a publish did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Published {
    /// Messages the bus now holds.
    pub stored: u64,
    /// Messages dropped as duplicates of one published within the window.
    pub duplicates: u64,
}

/// A durable subscription: who reads (`durable`, the consumer's name, shared
/// by every worker of one stage and partition set) and what (`filters`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    pub durable: String,
    /// NATS subject filters (`*` one token, `>` the rest); one consumer per
    /// filter on JetStream.
    pub filters: Vec<String>,
    /// How long a fetched message may stay unacknowledged before it is
    /// delivered again.
    pub ack_wait: Duration,
}

/// A stage transport: publish, and subscribe durably.
pub trait Transport {
    type Sub: Subscription;
    /// Publishes in order and returns once the bus holds every message (for
    /// JetStream: each acknowledged by the stream).
    fn publish(&self, msgs: &[Outgoing]) -> impl Future<Output = Result<Published>>;
    /// Creates the durable subscription, or joins it if it exists (several
    /// workers on one durable share its messages).
    fn subscribe(&self, spec: &Subscribe) -> impl Future<Output = Result<Self::Sub>>;
    /// The backlog (waiting plus unacknowledged) summed over every consumer
    /// of a durable subscription, whichever worker holds it; `None` when no
    /// consumer of that durable exists. How a worker knows the stage before
    /// it has drained.
    fn backlog_of(&self, durable: &str) -> impl Future<Output = Result<Option<u64>>>;
}

/// Messages from a durable subscription.
pub trait Subscription {
    type Msg: Received;
    /// Up to `max` messages: waits up to `wait` for the first, then takes
    /// what is ready. An empty vector means nothing came in time.
    fn fetch(&mut self, max: usize, wait: Duration)
    -> impl Future<Output = Result<Vec<Self::Msg>>>;
    /// Messages not yet acknowledged: waiting, plus delivered and not acked.
    /// Zero means this subscription has nothing left to do.
    fn backlog(&mut self) -> impl Future<Output = Result<u64>>;
}

/// One delivered message. Dropping it without `ack` or `nak` is what a
/// crash does: it is delivered again after the subscription's ack wait.
pub trait Received {
    fn subject(&self) -> &str;
    fn payload(&self) -> &[u8];
    /// 1 on the first delivery, 2 on the first redelivery, …
    fn delivered(&self) -> u64;
    /// Done: never deliver again.
    fn ack(self) -> impl Future<Output = Result<()>>;
    /// Not done: deliver again after `delay`.
    fn nak(self, delay: Duration) -> impl Future<Output = Result<()>>;
}

/// Acknowledges a batch, the acks in flight together (on JetStream each
/// is confirmed by the server; one after another they would cost a round
/// trip each).
pub async fn ack_all<M: Received>(msgs: Vec<M>) -> Result<()> {
    futures_util::future::try_join_all(msgs.into_iter().map(Received::ack)).await?;
    Ok(())
}
