//! The outbox logic: retry policy (exponential backoff with jitter, a dead
//! letter after the limit), per-channel rate limits, leases, and the
//! dispatch loop.
//!
//! The loop owns no state that matters across a crash: every step is a call
//! on [`OutboxBackend`] (the store), in this order — claim a batch (state
//! `sending`, leased to this runner), complete each message ([`render`]:
//! the alert's text with the row's values and its check-in credentials),
//! send it, mark it `sent` / back to `pending` with its next time / `dead`.
//!
//! Leases. A runner renews the leases of the rows it still holds while it
//! works — from a heartbeat thread on its own connection when the backend
//! offers one ([`OutboxBackend::renewer`]), so a send slower than the lease
//! keeps its row, else before each send. A claim takes only `pending` rows
//! that are due and `sending` rows whose lease has ended, so no runner takes
//! a row another live runner holds; and a mark names its runner, so a runner
//! that lost its lease (stalled past it) cannot overwrite the outcome of the
//! runner that took the row over ([`RunStats::lost`]).
//!
//! Delivery semantics. A process killed anywhere leaves rows `pending`
//! (sent by the next run) or `sending` (reclaimed when the lease ends,
//! with a `reclaimed` line in their history). Only a row in flight at the
//! kill can have reached its receiver without being marked: it is sent again
//! with the same idempotency key (`Idempotency-Key` header, e-mail
//! `Message-ID`, the file channel's line key). Receivers that deduplicate on
//! the key — the file channel itself, farguard's own receivers, any webhook
//! endpoint that honours the header — therefore see each message exactly
//! once; one that does not may see that one message twice, never more, and
//! never a message of another row.

use crate::NotifyError;
use crate::channel::{Channel, Outcome};
use crate::checkin::{self, AlertSecret};
use crate::template;
use chrono::{DateTime, Utc};
use farguard_model::{ChannelKind, Delivery, Queued};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
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

/// Completes a queued message for sending: the alert's stored text with
/// this row's values and, for people, the check-in link and reply code
/// derived for this row ([`checkin::link_token`], [`checkin::reply_code`]).
/// A placeholder with no value (a credential for an alert without a secret,
/// a template edited by hand) is an error naming it: the row is
/// dead-lettered with it, never sent with a hole.
pub fn render(
    q: &Queued,
    secret: Option<&AlertSecret>,
    checkin_base_url: &str,
) -> Result<Delivery, NotifyError> {
    let d = &q.delivery;
    let mut vars: BTreeMap<&str, String> = BTreeMap::from([
        ("name", q.vars.name.clone()),
        ("mission", q.vars.mission.clone()),
        ("why", q.vars.why.clone()),
    ]);
    if let Some(k) = secret {
        vars.insert(
            "checkin_link",
            format!(
                "{checkin_base_url}?t={}",
                checkin::link_token(k, d.id, &d.recipient)
            ),
        );
        if let Some(code) = checkin::reply_code(k, d.id, &d.recipient) {
            vars.insert("reply_code", code);
        }
    }
    let name = format!("{}/{}", d.language, q.template);
    let mut out = d.clone();
    out.subject = template::render(&format!("{name} subject"), &d.subject, &vars)?;
    out.body = template::render(&name, &d.body, &vars)?;
    Ok(out)
}

/// What the loop needs from the durable outbox (the store implements it
/// through a thin adapter in the CLI or server). Every call acts for one
/// runner: the adapter names it to the store, so leases and marks are that
/// runner's own.
pub trait OutboxBackend {
    /// Moves up to `limit` rows that are due (`pending` with `next_at` ≤
    /// `now`, or `sending` whose lease ended) to `sending`, leased to this
    /// runner until `lease_until`.
    fn claim(
        &mut self,
        now: DateTime<Utc>,
        limit: u32,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<Queued>, NotifyError>;
    /// The check-in secret of an alert (`None`: none is stored).
    fn secret(&mut self, alert: &str) -> Result<Option<AlertSecret>, NotifyError>;
    /// Extends the leases this runner still holds among `ids`; returns how
    /// many it still holds.
    fn renew(&mut self, ids: &[i64], lease_until: DateTime<Utc>) -> Result<u64, NotifyError>;
    /// A handle that renews this runner's leases from another thread while
    /// a send is in flight (`None`: leases are renewed between sends only).
    fn renewer(&mut self) -> Option<Box<dyn LeaseRenewer>> {
        None
    }
    /// `Ok(false)`: the row is no longer this runner's (its lease ended and
    /// another runner took it); nothing was changed but a history line.
    fn mark_sent(
        &mut self,
        d: &Delivery,
        at: DateTime<Utc>,
        detail: &str,
    ) -> Result<bool, NotifyError>;
    /// Back to `pending` with `attempts` tries so far, due again at `next_at`.
    fn mark_retry(
        &mut self,
        d: &Delivery,
        attempts: u32,
        next_at: DateTime<Utc>,
        error: &str,
    ) -> Result<bool, NotifyError>;
    fn mark_dead(
        &mut self,
        d: &Delivery,
        attempts: u32,
        at: DateTime<Utc>,
        error: &str,
    ) -> Result<bool, NotifyError>;
    /// The earliest time something becomes due (a `pending` record's
    /// `next_at` or a `sending` record's lease end); `None` when the outbox
    /// has nothing left to do.
    fn next_due(&mut self) -> Result<Option<DateTime<Utc>>, NotifyError>;
}

/// Renews a runner's leases from a heartbeat thread.
pub trait LeaseRenewer: Send {
    fn renew(&mut self, ids: &[i64], lease_until: DateTime<Utc>) -> Result<u64, NotifyError>;
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
    /// The check-in page; a person's link is this with `?t=TOKEN`.
    pub checkin_base_url: String,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            batch: 16,
            lease: Duration::from_secs(60),
            until_idle: true,
            poll: Duration::from_secs(1),
            max_sends: None,
            checkin_base_url: "http://127.0.0.1:8080/checkin".into(),
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
    /// Outcomes of rows whose lease this runner had lost (another runner
    /// took them over): recorded in their history, not applied.
    pub lost: u64,
    /// Lease renewals (heartbeat or between sends).
    pub renewals: u64,
}

/// A name for one runner (process and 64 random bits): leases are held by it.
pub fn runner_id() -> String {
    let mut b = [0u8; 8];
    let r = crate::os_random(&mut b).map_or_else(
        |_| format!("{:x}", Utc::now().timestamp_nanos_opt().unwrap_or(0)),
        |()| crate::hex(&b),
    );
    format!("runner-{}-{r}", std::process::id())
}

fn chrono_of(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// The rows this runner holds, shared with its heartbeat.
#[derive(Debug, Default)]
struct Held {
    ids: Mutex<Vec<i64>>,
    renewals: std::sync::atomic::AtomicU64,
}

impl Held {
    fn set(&self, ids: Vec<i64>) {
        if let Ok(mut g) = self.ids.lock() {
            *g = ids;
        }
    }
    fn drop_id(&self, id: i64) {
        if let Ok(mut g) = self.ids.lock() {
            g.retain(|x| *x != id);
        }
    }
    fn snapshot(&self) -> Vec<i64> {
        self.ids.lock().map(|g| g.clone()).unwrap_or_default()
    }
}

/// Renews the held leases every third of the lease until `stop`.
fn heartbeat(r: &mut dyn LeaseRenewer, held: &Held, stop: &AtomicBool, lease: Duration) {
    let every = (lease / 3).max(Duration::from_millis(10));
    let step = every.min(Duration::from_millis(20));
    let mut last = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(step);
        if last.elapsed() < every {
            continue;
        }
        last = Instant::now();
        let ids = held.snapshot();
        if ids.is_empty() {
            continue;
        }
        match r.renew(&ids, Utc::now() + chrono_of(lease)) {
            Ok(_) => {
                held.renewals.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                tracing::warn!(error = %e, rows = ids.len(), "lease renewal failed; will retry")
            }
        }
    }
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
    let held = Arc::new(Held::default());
    let stop = AtomicBool::new(false);
    let renewer = backend.renewer();
    let beating = renewer.is_some();
    std::thread::scope(|sc| {
        if let Some(mut r) = renewer {
            let (held, stop) = (&held, &stop);
            sc.spawn(move || heartbeat(&mut *r, held, stop, opts.lease));
        }
        let r = dispatch(
            backend, channels, policy, limits, opts, progress, &held, beating,
        );
        stop.store(true, Ordering::Relaxed);
        r.map(|mut s| {
            s.renewals += held.renewals.load(Ordering::Relaxed);
            s
        })
    })
}

#[allow(clippy::too_many_arguments)]
fn dispatch(
    backend: &mut dyn OutboxBackend,
    channels: &mut BTreeMap<ChannelKind, Box<dyn Channel>>,
    policy: &RetryPolicy,
    limits: &mut BTreeMap<ChannelKind, RateLimit>,
    opts: &RunOptions,
    progress: &mut dyn FnMut(&RunStats, &Delivery),
    held: &Held,
    beating: bool,
) -> Result<RunStats, NotifyError> {
    let mut stats = RunStats::default();
    let mut secrets: HashMap<String, Option<AlertSecret>> = HashMap::new();
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
        let mut remaining: Vec<i64> = batch.iter().map(|q| q.delivery.id).collect();
        held.set(remaining.clone());
        for q in batch {
            if opts.max_sends.is_some_and(|m| stats.sent >= m) {
                held.set(vec![]);
                return Ok(stats);
            }
            if !beating {
                // No heartbeat: renew what is still held before each send.
                stats.renewals += 1;
                backend.renew(&remaining, Utc::now() + chrono_of(opts.lease))?;
            }
            let id = q.delivery.id;
            let attempts = q.delivery.attempts + 1;
            let secret = match secrets.get(&q.delivery.alert) {
                Some(s) => s.clone(),
                None => {
                    let s = backend.secret(&q.delivery.alert)?;
                    secrets.insert(q.delivery.alert.clone(), s.clone());
                    s
                }
            };
            let applied = match render(&q, secret.as_ref(), &opts.checkin_base_url) {
                Err(e) => {
                    let msg = format!("cannot complete the message: {e}");
                    tracing::error!(key = %q.delivery.key, "{msg}");
                    stats.dead += 1;
                    backend.mark_dead(&q.delivery, attempts, Utc::now(), &msg)?
                }
                Ok(d) => send_one(backend, channels, policy, limits, &d, &mut stats)?,
            };
            if !applied {
                stats.lost += 1;
                tracing::warn!(key = %q.delivery.key, "lease lost before the outcome was recorded: another runner holds the row; outcome kept in its history only");
            }
            remaining.retain(|x| *x != id);
            held.drop_id(id);
            progress(&stats, &q.delivery);
        }
    }
}

/// Sends one rendered message and records the outcome; `Ok(false)` when
/// the lease was lost meanwhile.
fn send_one(
    backend: &mut dyn OutboxBackend,
    channels: &mut BTreeMap<ChannelKind, Box<dyn Channel>>,
    policy: &RetryPolicy,
    limits: &mut BTreeMap<ChannelKind, RateLimit>,
    d: &Delivery,
    stats: &mut RunStats,
) -> Result<bool, NotifyError> {
    let attempts = d.attempts + 1;
    let Some(ch) = channels.get_mut(&d.channel) else {
        let msg = format!(
            "channel {} is not configured; add [channels.{}] to notify.toml and requeue",
            d.channel, d.channel
        );
        tracing::error!(key = %d.key, "{msg}");
        stats.dead += 1;
        return backend.mark_dead(d, attempts, Utc::now(), &msg);
    };
    if let Some(l) = limits.get_mut(&d.channel) {
        let wait = l.take(Instant::now());
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }
    match ch.send(d) {
        Outcome::Sent(detail) => {
            stats.sent += 1;
            backend.mark_sent(d, Utc::now(), &detail)
        }
        Outcome::Retry(err) if attempts < policy.max_attempts => {
            let delay = policy.delay(attempts, jitter());
            tracing::warn!(key = %d.key, attempts, delay_ms = delay.as_millis() as u64, error = %err, "delivery failed, will retry");
            stats.retried += 1;
            backend.mark_retry(d, attempts, Utc::now() + chrono_of(delay), &err)
        }
        Outcome::Retry(err) => {
            let msg = format!("gave up after {attempts} tries: {err}");
            tracing::error!(key = %d.key, "{msg}");
            stats.dead += 1;
            backend.mark_dead(d, attempts, Utc::now(), &msg)
        }
        Outcome::Fatal(err) => {
            tracing::error!(key = %d.key, error = %err, "delivery refused, dead-lettered");
            stats.dead += 1;
            backend.mark_dead(d, attempts, Utc::now(), &err)
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

    use farguard_model::{CheckinIssuer, DeliveryState, RecipientVars};

    fn queued(id: i64, recipient: &str) -> Queued {
        Queued {
            delivery: Delivery {
                id,
                key: format!("a1/{recipient}/file"),
                alert: "a1".into(),
                scope: "incident:1".into(),
                recipient: recipient.into(),
                channel: ChannelKind::File,
                address: "x".into(),
                language: "en".into(),
                subject: "[II] {{flood}} for {name}".into(),
                body: "{name}: {mission}. Answer {checkin_link} or {reply_code}.".into(),
                state: DeliveryState::Pending,
                attempts: 0,
                next_at: chrono::DateTime::UNIX_EPOCH,
                lease_until: None,
                last_error: None,
                created_at: chrono::DateTime::UNIX_EPOCH,
                sent_at: None,
            },
            vars: RecipientVars {
                name: "Li {Lei}".into(),
                mission: "Embassy".into(),
                why: "w".into(),
            },
            template: "body".into(),
            accountable: true,
        }
    }

    #[test]
    fn a_message_is_completed_at_send_time_with_credentials_for_its_row() {
        let k = AlertSecret::generate().unwrap();
        let d = render(&queued(9, "p1"), Some(&k), "https://x/checkin").unwrap();
        assert_eq!(d.subject, "[II] {flood} for Li {Lei}");
        let token = d.body.split("?t=").nth(1).unwrap()[..64].to_string();
        let code = d.body.split(" or ").nth(1).unwrap().trim_end_matches('.');
        let issuer = CheckinIssuer {
            row: 9,
            alert: "a1".into(),
            scope: "incident:1".into(),
            recipient: "p1".into(),
            accountable: true,
            secret: *k.bytes(),
            created_at: chrono::DateTime::UNIX_EPOCH,
            expires_at: chrono::DateTime::UNIX_EPOCH,
        };
        assert!(checkin::verify(checkin::Credential::Link(&token), &issuer).is_some());
        assert!(checkin::verify(checkin::Credential::Code(code), &issuer).is_some());
        // Without a secret the credential placeholders have no value: an error naming one.
        let e = render(&queued(9, "p1"), None, "https://x").unwrap_err();
        assert!(e.to_string().contains("{checkin_link}"), "{e}");
    }

    /// An in-memory outbox shared by runners, with the store's lease rules.
    /// A queued row and its lease (runner, until), if one is held.
    type LeasedRow = (Queued, Option<(u32, DateTime<Utc>)>);

    #[derive(Debug, Default)]
    struct Mem {
        rows: Vec<LeasedRow>,
        sent: Vec<(i64, u32)>,
        stolen: Vec<(i64, u32)>,
    }

    struct Runner {
        mem: Arc<Mutex<Mem>>,
        me: u32,
        heartbeat: bool,
    }

    impl Runner {
        fn owns(&self, m: &Mem, id: i64) -> bool {
            m.rows
                .iter()
                .any(|(q, l)| q.delivery.id == id && l.is_some_and(|(o, _)| o == self.me))
        }
        fn done(&mut self, d: &Delivery, sent: bool) -> Result<bool, NotifyError> {
            let mut m = self.mem.lock().unwrap();
            if !self.owns(&m, d.id) {
                return Ok(false);
            }
            m.rows.retain(|(q, _)| q.delivery.id != d.id);
            if sent {
                m.sent.push((d.id, self.me));
            }
            Ok(true)
        }
    }

    impl LeaseRenewer for Runner {
        fn renew(&mut self, ids: &[i64], until: DateTime<Utc>) -> Result<u64, NotifyError> {
            let mut m = self.mem.lock().unwrap();
            let mut n = 0;
            for (q, l) in &mut m.rows {
                if ids.contains(&q.delivery.id)
                    && let Some((o, t)) = l
                    && *o == self.me
                {
                    *t = until;
                    n += 1;
                }
            }
            Ok(n)
        }
    }

    impl OutboxBackend for Runner {
        fn claim(
            &mut self,
            now: DateTime<Utc>,
            limit: u32,
            lease_until: DateTime<Utc>,
        ) -> Result<Vec<Queued>, NotifyError> {
            let mut m = self.mem.lock().unwrap();
            let mut out = vec![];
            let mut stolen = vec![];
            for (q, l) in &mut m.rows {
                if out.len() as u32 == limit {
                    break;
                }
                let free = match l {
                    None => true,
                    Some((_, t)) => *t <= now,
                };
                if free {
                    if l.is_some() {
                        stolen.push((q.delivery.id, self.me));
                    }
                    *l = Some((self.me, lease_until));
                    out.push(q.clone());
                }
            }
            m.stolen.extend(stolen);
            Ok(out)
        }
        fn secret(&mut self, _: &str) -> Result<Option<AlertSecret>, NotifyError> {
            Ok(Some(AlertSecret::from_bytes([7; 32])))
        }
        fn renew(&mut self, ids: &[i64], until: DateTime<Utc>) -> Result<u64, NotifyError> {
            LeaseRenewer::renew(self, ids, until)
        }
        fn renewer(&mut self) -> Option<Box<dyn LeaseRenewer>> {
            self.heartbeat.then(|| {
                Box::new(Runner {
                    mem: self.mem.clone(),
                    me: self.me,
                    heartbeat: false,
                }) as Box<dyn LeaseRenewer>
            })
        }
        fn mark_sent(
            &mut self,
            d: &Delivery,
            _: DateTime<Utc>,
            _: &str,
        ) -> Result<bool, NotifyError> {
            self.done(d, true)
        }
        fn mark_retry(
            &mut self,
            d: &Delivery,
            _: u32,
            _: DateTime<Utc>,
            _: &str,
        ) -> Result<bool, NotifyError> {
            self.done(d, false)
        }
        fn mark_dead(
            &mut self,
            d: &Delivery,
            _: u32,
            _: DateTime<Utc>,
            _: &str,
        ) -> Result<bool, NotifyError> {
            self.done(d, false)
        }
        fn next_due(&mut self) -> Result<Option<DateTime<Utc>>, NotifyError> {
            let m = self.mem.lock().unwrap();
            Ok(m.rows
                .iter()
                .map(|(_, l)| l.map_or(chrono::DateTime::UNIX_EPOCH, |x| x.1))
                .min())
        }
    }

    struct Slow(Duration);

    impl Channel for Slow {
        fn kind(&self) -> ChannelKind {
            ChannelKind::File
        }
        fn send(&mut self, _: &Delivery) -> Outcome {
            std::thread::sleep(self.0);
            Outcome::Sent("ok".into())
        }
    }

    /// Runner 1 sends slowly (each send longer than the lease, or a batch
    /// longer than the lease) while runner 2 keeps trying to claim: with
    /// renewal, runner 2 never takes a live lease and each row is sent once.
    fn contested(heartbeat: bool, rows: i64, send: Duration, lease: Duration) -> (Mem, RunStats) {
        let mem = Arc::new(Mutex::new(Mem {
            rows: (1..=rows)
                .map(|i| (queued(i, &format!("p{i}")), None))
                .collect(),
            ..Mem::default()
        }));
        let done = Arc::new(AtomicBool::new(false));
        let thief = {
            let (mem, done) = (mem.clone(), done.clone());
            std::thread::spawn(move || {
                let mut r2 = Runner {
                    mem,
                    me: 2,
                    heartbeat: false,
                };
                let mut got = 0;
                // Start once runner 1 holds the rows: only steals can be taken.
                while !done.load(Ordering::Relaxed)
                    && !r2.mem.lock().unwrap().rows.iter().any(|(_, l)| l.is_some())
                {
                    std::thread::sleep(Duration::from_millis(1));
                }
                while !done.load(Ordering::Relaxed) {
                    let now = Utc::now();
                    got += r2.claim(now, 10, now + chrono_of(lease)).unwrap().len();
                    std::thread::sleep(Duration::from_millis(3));
                }
                got
            })
        };
        let mut r1 = Runner {
            mem: mem.clone(),
            me: 1,
            heartbeat,
        };
        let mut chans: BTreeMap<ChannelKind, Box<dyn Channel>> = BTreeMap::new();
        chans.insert(ChannelKind::File, Box::new(Slow(send)));
        let opts = RunOptions {
            batch: 10,
            lease,
            ..RunOptions::default()
        };
        let stats = run(
            &mut r1,
            &mut chans,
            &RetryPolicy::default(),
            &mut BTreeMap::new(),
            &opts,
            &mut |_, _| {},
        )
        .unwrap();
        done.store(true, Ordering::Relaxed);
        let _ = thief.join().unwrap();
        let m = std::mem::take(&mut *mem.lock().unwrap());
        (m, stats)
    }

    #[test]
    fn a_live_lease_is_renewed_by_the_heartbeat_and_never_stolen() {
        let (m, stats) = contested(
            true,
            2,
            Duration::from_millis(400),
            Duration::from_millis(150),
        );
        assert!(m.stolen.is_empty(), "stolen: {:?}", m.stolen);
        assert_eq!(m.sent.len(), 2, "{:?}", m.sent);
        assert!(m.sent.iter().all(|(_, who)| *who == 1));
        assert_eq!(stats.lost, 0);
        assert!(stats.renewals >= 2, "{stats:?}");
    }

    #[test]
    fn without_a_heartbeat_leases_are_renewed_between_sends() {
        let (m, stats) = contested(
            false,
            5,
            Duration::from_millis(60),
            Duration::from_millis(200),
        );
        assert!(m.stolen.is_empty(), "stolen: {:?}", m.stolen);
        assert_eq!(m.sent.len(), 5);
        assert!(m.sent.iter().all(|(_, who)| *who == 1));
        assert_eq!(stats.lost, 0);
        assert_eq!(stats.renewals, 5, "{stats:?}");
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
