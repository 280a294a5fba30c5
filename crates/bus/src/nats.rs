//! The NATS JetStream transport: one stream per subject prefix (file
//! storage, limits retention — messages stay for `max_age` whether or not
//! they were read, so a stage started later reads from the beginning — and a
//! duplicate window for `Nats-Msg-Id`), and one durable pull consumer per
//! stage and subject filter (explicit ack, unlimited redelivery, the ack
//! wait the stage asks for). Works with nats-server 2.9 and later: it uses
//! one filter per consumer, so a worker with several partitions holds one
//! consumer for each.

use crate::subject::consumer_name;
use crate::{
    BusError, Outgoing, Published, Received, Result, Subjects, Subscribe, Subscription, Transport,
};
use async_nats::jetstream::{self, AckKind, consumer, stream};
use bytes::Bytes;
use futures_util::StreamExt;
use std::collections::VecDeque;
use std::time::Duration;

/// How long a pull request may go unanswered before it is given up.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Stream settings, applied when this bus creates the stream (an existing
/// stream keeps its own).
#[derive(Debug, Clone)]
pub struct NatsOptions {
    /// How long the stream keeps a message.
    pub max_age: Duration,
    /// How long a message id is remembered for deduplication.
    pub duplicate_window: Duration,
    /// Publishes awaiting the stream's acknowledgement at once.
    pub max_inflight: usize,
}

impl Default for NatsOptions {
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(7 * 24 * 3600),
            duplicate_window: Duration::from_secs(120),
            max_inflight: 256,
        }
    }
}

/// A connection to JetStream and the stream of one prefix.
#[derive(Clone)]
pub struct NatsBus {
    js: jetstream::Context,
    stream: String,
    subjects: Subjects,
    max_inflight: usize,
}

impl std::fmt::Debug for NatsBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsBus")
            .field("stream", &self.stream)
            .field("subjects", &self.subjects)
            .finish_non_exhaustive()
    }
}

impl NatsBus {
    /// Connects and makes sure the prefix's stream exists.
    pub async fn connect(url: &str, subjects: Subjects, opts: &NatsOptions) -> Result<Self> {
        let client = async_nats::ConnectOptions::new()
            .name("farguard")
            .connect(url)
            .await
            .map_err(|e| BusError::Connect {
                url: url.to_string(),
                detail: e.to_string(),
            })?;
        let js = jetstream::new(client);
        let name = subjects.stream_name();
        js.get_or_create_stream(stream::Config {
            name: name.clone(),
            subjects: vec![subjects.all()],
            retention: stream::RetentionPolicy::Limits,
            storage: stream::StorageType::File,
            discard: stream::DiscardPolicy::Old,
            max_age: opts.max_age,
            duplicate_window: opts.duplicate_window,
            description: Some("farguard stage bus".into()),
            ..Default::default()
        })
        .await
        .map_err(|e| BusError::js("creating the stream", format!("{name}: {e}")))?;
        Ok(Self {
            js,
            stream: name,
            subjects,
            max_inflight: opts.max_inflight.max(1),
        })
    }

    pub fn stream_name(&self) -> &str {
        &self.stream
    }
    pub fn subjects(&self) -> &Subjects {
        &self.subjects
    }

    /// Deletes the stream and its consumers (tests clean up with it).
    pub async fn delete_stream(&self) -> Result<()> {
        self.js
            .delete_stream(&self.stream)
            .await
            .map(|_| ())
            .map_err(|e| BusError::js("deleting the stream", format!("{}: {e}", self.stream)))
    }

    /// Messages the stream holds.
    pub async fn stream_messages(&self) -> Result<u64> {
        let mut s = self
            .js
            .get_stream(&self.stream)
            .await
            .map_err(|e| BusError::js("reading the stream", e))?;
        let info = s
            .info()
            .await
            .map_err(|e| BusError::js("reading the stream", e))?;
        Ok(info.state.messages)
    }
}

impl Transport for NatsBus {
    type Sub = NatsSubscription;

    async fn publish(&self, msgs: &[Outgoing]) -> Result<Published> {
        let mut out = Published::default();
        let mut pending = VecDeque::new();
        for m in msgs {
            let publish = jetstream::message::PublishMessage::build()
                .payload(Bytes::from(m.payload.clone()))
                .message_id(&m.msg_id);
            let ack = self
                .js
                .send_publish(m.subject.clone(), publish)
                .await
                .map_err(|e| BusError::js("publish", format!("{}: {e}", m.subject)))?;
            pending.push_back((ack, &m.subject));
            if pending.len() >= self.max_inflight
                && let Some((ack, subject)) = pending.pop_front()
            {
                count(&mut out, ack.await, subject)?;
            }
        }
        while let Some((ack, subject)) = pending.pop_front() {
            count(&mut out, ack.await, subject)?;
        }
        Ok(out)
    }

    async fn subscribe(&self, spec: &Subscribe) -> Result<NatsSubscription> {
        let stream = self
            .js
            .get_stream(&self.stream)
            .await
            .map_err(|e| BusError::js("reading the stream", format!("{}: {e}", self.stream)))?;
        let mut consumers = Vec::new();
        for filter in &spec.filters {
            let name = consumer_name(&spec.durable, filter);
            let c: consumer::PullConsumer = stream
                .get_or_create_consumer(
                    &name,
                    consumer::pull::Config {
                        durable_name: Some(name.clone()),
                        description: Some(format!("farguard {} on {filter}", spec.durable)),
                        filter_subject: filter.clone(),
                        deliver_policy: consumer::DeliverPolicy::All,
                        ack_policy: consumer::AckPolicy::Explicit,
                        ack_wait: spec.ack_wait,
                        max_deliver: -1,
                        ..Default::default()
                    },
                )
                .await
                .map_err(|e| BusError::js("creating a consumer", format!("{name}: {e}")))?;
            consumers.push(c);
        }
        Ok(NatsSubscription { consumers, next: 0 })
    }

    async fn backlog_of(&self, durable: &str) -> Result<Option<u64>> {
        let stream = self
            .js
            .get_stream(&self.stream)
            .await
            .map_err(|e| BusError::js("reading the stream", format!("{}: {e}", self.stream)))?;
        let head = format!("{durable}-");
        let mut found = None;
        let mut infos = stream.consumers();
        while let Some(info) = infos.next().await {
            let info = info.map_err(|e| BusError::js("listing consumers", e))?;
            if info.name.starts_with(&head) {
                *found.get_or_insert(0) += info.num_pending + info.num_ack_pending as u64;
            }
        }
        Ok(found)
    }
}

fn count(
    out: &mut Published,
    ack: std::result::Result<jetstream::publish::PublishAck, jetstream::context::PublishError>,
    subject: &str,
) -> Result<()> {
    let ack = ack.map_err(|e| BusError::js("publish", format!("{subject}: {e}")))?;
    if ack.duplicate {
        out.duplicates += 1;
    } else {
        out.stored += 1;
    }
    Ok(())
}

/// A durable pull subscription: one consumer per filter, read in turn.
#[derive(Debug)]
pub struct NatsSubscription {
    consumers: Vec<consumer::PullConsumer>,
    next: usize,
}

impl Subscription for NatsSubscription {
    type Msg = NatsMessage;

    async fn fetch(&mut self, max: usize, wait: Duration) -> Result<Vec<NatsMessage>> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut pause = Duration::from_millis(20);
        loop {
            let mut out = Vec::new();
            let n = self.consumers.len();
            for i in 0..n {
                if out.len() >= max {
                    break;
                }
                let c = &self.consumers[(self.next + i) % n];
                let want = max - out.len();
                // A pull request lost on the way (a reconnect) would never be
                // answered: give up on it, and what it brought is delivered
                // again after the ack wait.
                let got = tokio::time::timeout(FETCH_TIMEOUT, async {
                    let mut batch = c
                        .fetch()
                        .max_messages(want)
                        .messages()
                        .await
                        .map_err(|e| BusError::js("fetch", e))?;
                    let mut got = Vec::new();
                    while let Some(m) = batch.next().await {
                        got.push(NatsMessage {
                            msg: m.map_err(|e| BusError::js("fetch", e))?,
                        });
                    }
                    Ok::<_, BusError>(got)
                })
                .await
                .map_err(|_| {
                    BusError::js(
                        "fetch",
                        format!("no answer in {} s", FETCH_TIMEOUT.as_secs()),
                    )
                })??;
                out.extend(got);
            }
            self.next = (self.next + 1) % n.max(1);
            let now = tokio::time::Instant::now();
            if !out.is_empty() || now >= deadline {
                return Ok(out);
            }
            tokio::time::sleep(pause.min(deadline - now)).await;
            pause = (pause * 2).min(Duration::from_millis(250));
        }
    }

    async fn backlog(&mut self) -> Result<u64> {
        let mut total = 0;
        for c in &mut self.consumers {
            let info = c
                .info()
                .await
                .map_err(|e| BusError::js("reading a consumer", e))?;
            total += info.num_pending + info.num_ack_pending as u64;
        }
        Ok(total)
    }
}

/// One JetStream delivery.
#[derive(Debug)]
pub struct NatsMessage {
    msg: jetstream::Message,
}

impl Received for NatsMessage {
    fn subject(&self) -> &str {
        self.msg.subject.as_str()
    }
    fn payload(&self) -> &[u8] {
        &self.msg.payload
    }
    fn delivered(&self) -> u64 {
        self.msg
            .info()
            .map_or(1, |i| u64::try_from(i.delivered).unwrap_or(1))
    }
    async fn ack(self) -> Result<()> {
        // Waits for the server to confirm: "acked" means the stream knows,
        // not that an ack left this process.
        self.msg
            .double_ack()
            .await
            .map_err(|e| BusError::js("ack", e))
    }
    async fn nak(self, delay: Duration) -> Result<()> {
        self.msg
            .ack_with(AckKind::Nak(Some(delay)))
            .await
            .map_err(|e| BusError::js("nak", e))
    }
}
