//! The outbox logic: retry policy (exponential backoff with jitter, a dead
//! letter after the limit), per-channel rate limits, and the dispatch loop.
//!
//! The loop owns no state that matters across a crash: every step is a call
//! on [`OutboxBackend`] (the store), in this order — claim a batch (state
//! `sending`, with a lease), send one, mark it `sent` / back to `pending`
//! with its next time / `dead`. A process killed anywhere leaves records in
//! `pending` (sent by the next run) or `sending` (reclaimed when the lease
//! ends). The one record in flight at the kill may have reached its receiver
//! before it was marked: it is sent again with the same idempotency key,
//! which every farguard receiver deduplicates on.

use crate::NotifyError;
use crate::channel::{Channel, Outcome};
use chrono::{DateTime, Utc};
use farguard_model::{ChannelKind, Delivery};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How many times and how far apart to try.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Tries before the record is dead-lettered (the first try counts).
    pub max_attempts: u32,
    /// Delay after the first failure, before jitter.
    pub base: Duration,
    /// The delay never grows past this.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            base: Duration::from_secs(2),
            max_delay: Duration::from_secs(600),
        }
    }
}

impl RetryPolicy {
    /// The delay after failed try number `attempt` (1-based): the capped
    /// exponential `base·2^(attempt−1)`, of which the upper half is jittered
    /// by `unit` in [0, 1) ("equal jitter": never less than half, so a
    /// receiver that is down is not hammered, and runners spread out).
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let exp = attempt.saturating_sub(1).min(30);
        let full = self.base.saturating_mul(1u32 << exp).min(self.max_delay);
        let half = full / 2;
        half + half.mul_f64(unit.clamp(0.0, 1.0))
    }
}

/// A uniform number in [0, 1) from the OS RNG (0.5 if the RNG fails: the
/// delay is then simply not jittered).
pub fn jitter() -> f64 {
    let mut b = [0u8; 8];
    match crate::os_random(&mut b) {
        Ok(()) => (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64,
        Err(_) => 0.5,
    }
}

/// A token bucket: at most `per_second` on average, `burst` at once.
#[derive(Debug, Clone)]
pub struct RateLimit {
    per_second: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl RateLimit {
    pub fn new(per_second: f64, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            per_second: per_second.max(0.001),
            burst,
            tokens: burst,
            last: Instant::now(),
        }
    }
    /// How long to wait before the next send may go (and takes its token).
    pub fn take(&mut self, now: Instant) -> Duration {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + dt * self.per_second).min(self.burst);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.per_second)
        }
    }
}

/// What the loop needs from the durable outbox (the store implements it
/// through a thin adapter in the CLI or server).
pub trait OutboxBackend {
    /// Moves up to `limit` records that are due (`pending` with `next_at` ≤
    /// `now`, or `sending` whose lease ended) to `sending` until `lease_until`.
    fn claim(
        &mut self,
        now: DateTime<Utc>,
        limit: u32,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<Delivery>, NotifyError>;
    fn mark_sent(
        &mut self,
        d: &Delivery,
        at: DateTime<Utc>,
        detail: &str,
    ) -> Result<(), NotifyError>;
    /// Back to `pending` with `attempts` tries so far, due again at `next_at`.
    fn mark_retry(
        &mut self,
        d: &Delivery,
        attempts: u32,
        next_at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), NotifyError>;
    fn mark_dead(
        &mut self,
        d: &Delivery,
        attempts: u32,
        at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), NotifyError>;
    /// The earliest time something becomes due (a `pending` record's
    /// `next_at` or a `sending` record's lease end); `None` when the outbox
    /// has nothing left to do.
    fn next_due(&mut self) -> Result<Option<DateTime<Utc>>, NotifyError>;
}

/// How the loop runs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub batch: u32,
    pub lease: Duration,
    /// Return when nothing is left to do (otherwise keep polling).
    pub until_idle: bool,
    /// Longest single sleep while waiting for the next due record.
    pub poll: Duration,
    /// Stop after this many sends (a test and demo aid; `None`: no limit).
    pub max_sends: Option<u64>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            batch: 16,
            lease: Duration::from_secs(60),
            until_idle: true,
            poll: Duration::from_secs(1),
            max_sends: None,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunStats {
    pub claimed: u64,
    pub sent: u64,
    pub retried: u64,
    pub dead: u64,
}

fn chrono_of(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// Runs the outbox until it is idle (or forever without `until_idle`).
pub fn run(
    backend: &mut dyn OutboxBackend,
    channels: &mut BTreeMap<ChannelKind, Box<dyn Channel>>,
    policy: &RetryPolicy,
    limits: &mut BTreeMap<ChannelKind, RateLimit>,
    opts: &RunOptions,
    progress: &mut dyn FnMut(&RunStats, &Delivery),
) -> Result<RunStats, NotifyError> {
    let mut stats = RunStats::default();
    loop {
        let now = Utc::now();
        let batch = backend.claim(now, opts.batch, now + chrono_of(opts.lease))?;
        if batch.is_empty() {
            match backend.next_due()? {
                None if opts.until_idle => return Ok(stats),
                None => std::thread::sleep(opts.poll),
                Some(t) => {
                    let wait = (t - Utc::now()).to_std().unwrap_or(Duration::ZERO);
                    std::thread::sleep(wait.min(opts.poll).max(Duration::from_millis(5)));
                }
            }
            continue;
        }
        stats.claimed += batch.len() as u64;
        for d in batch {
            if opts.max_sends.is_some_and(|m| stats.sent >= m) {
                return Ok(stats);
            }
            let attempts = d.attempts + 1;
            let Some(ch) = channels.get_mut(&d.channel) else {
                let msg = format!(
                    "channel {} is not configured; add [channels.{}] to notify.toml and requeue",
                    d.channel, d.channel
                );
                tracing::error!(key = %d.key, "{msg}");
                backend.mark_dead(&d, attempts, Utc::now(), &msg)?;
                stats.dead += 1;
                progress(&stats, &d);
                continue;
            };
            if let Some(l) = limits.get_mut(&d.channel) {
                let wait = l.take(Instant::now());
                if !wait.is_zero() {
                    std::thread::sleep(wait);
                }
            }
            match ch.send(&d) {
                Outcome::Sent(detail) => {
                    backend.mark_sent(&d, Utc::now(), &detail)?;
                    stats.sent += 1;
                }
                Outcome::Retry(err) if attempts < policy.max_attempts => {
                    let delay = policy.delay(attempts, jitter());
                    tracing::warn!(key = %d.key, attempts, delay_ms = delay.as_millis() as u64, error = %err, "delivery failed, will retry");
                    backend.mark_retry(&d, attempts, Utc::now() + chrono_of(delay), &err)?;
                    stats.retried += 1;
                }
                Outcome::Retry(err) => {
                    let msg = format!("gave up after {attempts} tries: {err}");
                    tracing::error!(key = %d.key, "{msg}");
                    backend.mark_dead(&d, attempts, Utc::now(), &msg)?;
                    stats.dead += 1;
                }
                Outcome::Fatal(err) => {
                    tracing::error!(key = %d.key, error = %err, "delivery refused, dead-lettered");
                    backend.mark_dead(&d, attempts, Utc::now(), &err)?;
                    stats.dead += 1;
                }
            }
            progress(&stats, &d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_in_the_upper_half_and_caps() {
        let p = RetryPolicy {
            max_attempts: 5,
            base: Duration::from_secs(2),
            max_delay: Duration::from_secs(20),
        };
        assert_eq!(p.delay(1, 0.0), Duration::from_secs(1));
        assert_eq!(p.delay(1, 1.0), Duration::from_secs(2));
        assert_eq!(p.delay(3, 0.0), Duration::from_secs(4));
        assert_eq!(p.delay(10, 1.0), Duration::from_secs(20));
        for _ in 0..100 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j));
        }
    }

    #[test]
    fn rate_limit_spaces_sends_after_the_burst() {
        let t0 = Instant::now();
        let mut r = RateLimit::new(10.0, 2);
        assert_eq!(r.take(t0), Duration::ZERO);
        assert_eq!(r.take(t0), Duration::ZERO);
        let w = r.take(t0);
        assert!(
            w > Duration::from_millis(90) && w <= Duration::from_millis(100),
            "{w:?}"
        );
    }
}
