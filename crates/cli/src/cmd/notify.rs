//! `farguard notify`: run the durable outbox (`notify run`), inspect it
//! (`notify outbox`), and measure queueing (`notify bench`). Also the wiring
//! the alert and check-in commands share: who an incident or an event
//! exposes (through `farguard-expose`), turned into `farguard-notify`
//! recipients, missions and alert inputs, and the store adapters the outbox
//! loop and the check-in decisions run on.

use super::Ctx;
use super::exposure::Loaded;
use crate::out;
use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use farguard_expose::{Presence, QueryArea, Window};
use farguard_grade::Guideline;
use farguard_model::{
    Area, CapStatus, Category, ChannelKind, Delivery, DeliveryState, Event, EventId, Incident,
    Level, MsgType, OrgKind, Person, Point, Queued as QueuedRow, SiteKind,
};
use farguard_notify::cap::CapArea;
use farguard_notify::channel::Channel;
use farguard_notify::channel::email::Email;
use farguard_notify::channel::file::FileChannel;
use farguard_notify::channel::sms::SmsGateway;
use farguard_notify::channel::webhook::Webhook;
use farguard_notify::checkin::AlertSecret;
use farguard_notify::compose::{
    AlertInput, Composed, Contact, Mission, Options, Recipient, RecipientKind,
};
use farguard_notify::config::NotifyConfig;
use farguard_notify::outbox::{self, LeaseRenewer, OutboxBackend, RunOptions, RunStats};
use farguard_notify::template::Lang;
use farguard_notify::{NotifyError, compose};
use farguard_store::{NewAlert, QueueCounts, Store};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// `--config` shared by the alert, check-in and notify commands.
#[derive(Debug, Clone, clap::Args)]
pub struct ConfigArg {
    /// notify.toml (channels, retry, rate limits, contacts, templates);
    /// default: the shipped config/notify.toml.
    #[arg(long = "config", env = "FARGUARD_NOTIFY_CONFIG")]
    pub config: Option<PathBuf>,
}

impl ConfigArg {
    pub fn load(&self) -> Result<NotifyConfig> {
        match &self.config {
            None => Ok(NotifyConfig::shipped()?),
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?;
                Ok(NotifyConfig::parse(&p.display().to_string(), &text)?)
            }
        }
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Deliver what the outbox holds: claim, send, retry with backoff and
    /// jitter, dead-letter after the limit; per-channel rate limits.
    ///
    /// Safe to stop at any moment (Ctrl-C, kill -9, a crash): rows in flight
    /// are claimed again when their lease ends and sent with the same
    /// idempotency key, which receivers deduplicate on. Exits when nothing
    /// is left to do, unless --follow.
    Run(RunArgs),
    /// Outbox rows per channel and state, or one row's history with --key.
    Outbox(OutboxArgs),
    /// Benchmarks: 1,000,000 recipients queued durably; event → queued
    /// latency at 1,000 events/s with 1,000,000 registered people.
    Bench(BenchArgs),
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Rows claimed per batch.
    #[arg(long, default_value_t = 16)]
    pub batch: u32,
    /// How long a claim holds its rows before another run may take them.
    #[arg(long, default_value_t = 60)]
    pub lease_secs: u64,
    /// Keep polling for new rows instead of exiting when idle.
    #[arg(long)]
    pub follow: bool,
    /// Stop after this many sends (to demonstrate a restart).
    #[arg(long)]
    pub max_sends: Option<u64>,
}

#[derive(Debug, clap::Args)]
pub struct OutboxArgs {
    /// Only this alert's rows.
    #[arg(long)]
    pub alert: Option<String>,
    /// Show the history (every try and its outcome) of one row.
    #[arg(long)]
    pub key: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Recipients for the durable-queue benchmark.
    #[arg(long, default_value_t = 1_000_000)]
    pub recipients: usize,
    /// Registered people for the latency benchmark.
    #[arg(long, default_value_t = 1_000_000)]
    pub people: usize,
    /// Events for the latency benchmark, arriving at --rate per second.
    #[arg(long, default_value_t = 5_000)]
    pub events: usize,
    #[arg(long, default_value_t = 1_000.0)]
    pub rate: f64,
    /// Working directory for the benchmark databases (default: a temp dir).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Composer threads in the latency pipeline (one writer always).
    #[arg(long, default_value_t = 2)]
    pub composers: usize,
    /// Runs of each benchmark (figures are medians).
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Skip the durable-queue benchmark.
    #[arg(long)]
    pub skip_queue: bool,
    /// Skip the latency benchmark.
    #[arg(long)]
    pub skip_latency: bool,
}

pub fn run(ctx: &Ctx, a: Action) -> Result<ExitCode> {
    match a {
        Action::Run(r) => run_outbox(ctx, r),
        Action::Outbox(o) => show_outbox(ctx, o),
        Action::Bench(b) => bench::run(ctx, b),
    }
}

// --- store adapters -------------------------------------------------------------

/// The outbox loop's view of the store, for one runner. With `target` (the
/// database to open again) it offers a heartbeat that renews the runner's
/// leases on a second connection while a send is in flight.
pub struct Backend<'a> {
    pub store: &'a mut dyn Store,
    pub owner: String,
    pub target: Option<String>,
}

impl<'a> Backend<'a> {
    pub fn new(store: &'a mut dyn Store, target: Option<&str>) -> Self {
        Self {
            store,
            owner: outbox::runner_id(),
            target: target.map(str::to_string),
        }
    }
}

impl std::fmt::Debug for Backend<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

fn be(e: farguard_store::StoreError) -> NotifyError {
    NotifyError::Backend(e.to_string())
}

/// Renews one runner's leases on its own connection.
struct Renewer {
    store: Box<dyn Store>,
    owner: String,
}

impl LeaseRenewer for Renewer {
    fn renew(&mut self, ids: &[i64], lease_until: DateTime<Utc>) -> Result<u64, NotifyError> {
        self.store
            .renew_leases(&self.owner, ids, lease_until)
            .map_err(be)
    }
}

impl OutboxBackend for Backend<'_> {
    fn claim(
        &mut self,
        now: DateTime<Utc>,
        limit: u32,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<QueuedRow>, NotifyError> {
        self.store
            .claim_deliveries(now, limit, lease_until, &self.owner)
            .map_err(be)
    }
    fn secret(&mut self, alert: &str) -> Result<Option<AlertSecret>, NotifyError> {
        Ok(self
            .store
            .alert_secret(alert)
            .map_err(be)?
            .map(AlertSecret::from_bytes))
    }
    fn renew(&mut self, ids: &[i64], lease_until: DateTime<Utc>) -> Result<u64, NotifyError> {
        self.store
            .renew_leases(&self.owner, ids, lease_until)
            .map_err(be)
    }
    fn renewer(&mut self) -> Option<Box<dyn LeaseRenewer>> {
        let target = self.target.as_deref()?;
        match farguard_store::open(target) {
            Ok(store) => Some(Box::new(Renewer {
                store,
                owner: self.owner.clone(),
            })),
            Err(e) => {
                tracing::warn!(error = %e, "no second connection for lease renewal; renewing between sends only");
                None
            }
        }
    }
    fn mark_sent(
        &mut self,
        d: &Delivery,
        at: DateTime<Utc>,
        detail: &str,
    ) -> Result<bool, NotifyError> {
        self.store
            .delivery_sent(d.id, &self.owner, d.attempts + 1, at, detail)
            .map_err(be)
    }
    fn mark_retry(
        &mut self,
        d: &Delivery,
        attempts: u32,
        next_at: DateTime<Utc>,
        error: &str,
    ) -> Result<bool, NotifyError> {
        self.store
            .delivery_retry(d.id, &self.owner, attempts, next_at, error)
            .map_err(be)
    }
    fn mark_dead(
        &mut self,
        d: &Delivery,
        attempts: u32,
        at: DateTime<Utc>,
        error: &str,
    ) -> Result<bool, NotifyError> {
        self.store
            .delivery_dead(d.id, &self.owner, attempts, at, error)
            .map_err(be)
    }
    fn next_due(&mut self) -> Result<Option<DateTime<Utc>>, NotifyError> {
        self.store.next_due().map_err(be)
    }
}

/// The configured channels.
pub fn channels(cfg: &NotifyConfig) -> Result<BTreeMap<ChannelKind, Box<dyn Channel>>> {
    let mut m: BTreeMap<ChannelKind, Box<dyn Channel>> = BTreeMap::new();
    if let Some(p) = &cfg.file_path {
        m.insert(
            ChannelKind::File,
            Box::new(
                FileChannel::open(std::path::Path::new(p))
                    .with_context(|| format!("opening file channel {p}"))?,
            ),
        );
    }
    if let Some(w) = &cfg.webhook {
        match std::env::var(&w.secret_env).ok().filter(|s| !s.is_empty()) {
            Some(secret) => {
                m.insert(
                    ChannelKind::Webhook,
                    Box::new(Webhook::new(secret, w.timeout)),
                );
            }
            None => tracing::warn!(
                var = %w.secret_env,
                "webhook channel not started: its secret variable is not set; webhook rows will be dead-lettered"
            ),
        }
    }
    if let Some(e) = &cfg.email {
        m.insert(ChannelKind::Email, Box::new(Email::new(e)?));
    }
    if let Some(s) = &cfg.sms {
        m.insert(ChannelKind::Sms, Box::new(SmsGateway::new(s.clone())?));
    }
    Ok(m)
}

#[derive(Debug, Serialize)]
struct RunReport {
    claimed: u64,
    sent: u64,
    retried: u64,
    dead: u64,
    /// Outcomes of rows whose lease this runner had lost to another runner.
    lost_leases: u64,
    lease_renewals: u64,
    seconds: f64,
}

fn run_outbox(ctx: &Ctx, r: RunArgs) -> Result<ExitCode> {
    let cfg = r.config.load()?;
    let mut store = ctx.store()?;
    let mut chans = channels(&cfg)?;
    let mut limits = cfg.rate_limits();
    // A send may take up to its channel's timeout; the heartbeat renews the
    // lease meanwhile. Say so when a send could outlast the lease.
    let longest = [
        cfg.webhook.as_ref().map(|w| w.timeout),
        cfg.email.as_ref().map(|e| e.timeout),
        cfg.sms.as_ref().map(|s| s.timeout),
    ]
    .into_iter()
    .flatten()
    .max()
    .unwrap_or_default();
    if Duration::from_secs(r.lease_secs.max(1)) <= longest {
        tracing::warn!(
            lease_s = r.lease_secs,
            longest_send_s = longest.as_secs_f64(),
            "a send may outlast the lease: rows stay this runner's only while its heartbeat renews them"
        );
    }
    let started = Instant::now();
    let bar = if ctx.json {
        ProgressBar::hidden()
    } else {
        let b = ProgressBar::new_spinner();
        b.set_style(
            ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        b
    };
    let opts = RunOptions {
        batch: r.batch.max(1),
        lease: Duration::from_secs(r.lease_secs.max(1)),
        until_idle: !r.follow,
        max_sends: r.max_sends,
        checkin_base_url: cfg.checkin_base_url.clone(),
        ..RunOptions::default()
    };
    let stats: RunStats = outbox::run(
        &mut Backend::new(&mut *store, Some(&ctx.db)),
        &mut chans,
        &cfg.retry,
        &mut limits,
        &opts,
        &mut |s, d| {
            bar.set_message(format!(
                "sent {} · retrying {} · dead {} · last {} via {}",
                s.sent, s.retried, s.dead, d.recipient, d.channel
            ));
            bar.tick();
        },
    )?;
    bar.finish_and_clear();
    let rep = RunReport {
        claimed: stats.claimed,
        sent: stats.sent,
        retried: stats.retried,
        dead: stats.dead,
        lost_leases: stats.lost,
        lease_renewals: stats.renewals,
        seconds: started.elapsed().as_secs_f64(),
    };
    if ctx.json {
        out::json(&rep)?;
    } else {
        println!(
            "outbox: sent {}, retries scheduled {}, dead-lettered {} in {:.1} s",
            rep.sent, rep.retried, rep.dead, rep.seconds
        );
        if rep.lost_leases > 0 {
            println!(
                "  {} outcome(s) came after this runner's lease had ended; another runner decided those rows",
                rep.lost_leases
            );
        }
        if rep.dead > 0 {
            println!("  see why: farguard notify outbox   (and --key KEY for one row's history)");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Serialize)]
struct CountRow {
    channel: String,
    state: String,
    count: u64,
}

#[derive(Debug, Serialize)]
struct HistoryRow {
    at: String,
    outcome: String,
    detail: String,
}

fn show_outbox(ctx: &Ctx, o: OutboxArgs) -> Result<ExitCode> {
    let mut store = ctx.store()?;
    if let Some(k) = &o.key {
        let h: Vec<HistoryRow> = store
            .delivery_history(k)?
            .into_iter()
            .map(|a| HistoryRow {
                at: a.at.to_rfc3339(),
                outcome: a.outcome,
                detail: a.detail,
            })
            .collect();
        if ctx.json {
            out::json(&h)?;
        } else if h.is_empty() {
            println!("{k}: queued, not tried yet (or no such key: see farguard alerts show ALERT)");
        } else {
            for r in &h {
                println!("{}  {:<9} {}", r.at, r.outcome, r.detail);
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<CountRow> = store
        .outbox_counts(o.alert.as_deref())?
        .into_iter()
        .map(|c| CountRow {
            channel: c.channel.to_string(),
            state: c.state.to_string(),
            count: c.count,
        })
        .collect();
    if ctx.json {
        out::json(&rows)?;
    } else if rows.is_empty() {
        println!("the outbox is empty");
    } else {
        println!("{:<8} {:<8} {:>9}", "channel", "state", "rows");
        for r in &rows {
            println!("{:<8} {:<8} {:>9}", r.channel, r.state, r.count);
        }
    }
    Ok(ExitCode::SUCCESS)
}

// --- recipients, missions, alert inputs ---------------------------------------

/// Registered embassies and consulates, located by their `mission` sites.
pub fn missions(store: &mut dyn Store, cfg: &NotifyConfig) -> Result<Vec<Mission>> {
    let sites = store.sites()?;
    Ok(store
        .orgs()?
        .into_iter()
        .filter(|o| matches!(o.kind, OrgKind::Embassy | OrgKind::Consulate))
        .filter_map(|o| {
            let country = o.country?;
            let location = sites
                .iter()
                .filter(|s| s.org == o.id)
                .min_by_key(|s| (s.kind != SiteKind::Mission, s.id.clone()))
                .map(|s| s.anchor());
            Some(Mission {
                phone: cfg.mission_phones.get(&o.id).cloned(),
                id: o.id,
                name: o.name,
                kind: o.kind,
                country,
                location,
            })
        })
        .collect())
}

fn person_contacts(p: &Person, cfg: &NotifyConfig) -> Vec<Contact> {
    let mut v = Vec::new();
    if let Some(e) = &p.email {
        v.push(Contact {
            channel: ChannelKind::Email,
            address: e.clone(),
        });
    }
    if let Some(ph) = &p.phone {
        v.push(Contact {
            channel: ChannelKind::Sms,
            address: ph.replace([' ', '-'], ""),
        });
    }
    v.extend(cfg.contacts.get(&p.id).cloned().unwrap_or_default());
    v
}

/// Who an area exposes during a window: people (time-aware, through
/// `farguard-expose`) and the organisations owning the exposed sites.
pub fn exposed(
    reg: &Loaded,
    store: &mut dyn Store,
    cfg: &NotifyConfig,
    area: &QueryArea,
    w: Window,
    what: &str,
) -> Result<(Vec<Recipient>, Vec<Point>)> {
    let hits = reg.index.in_area(area);
    let mut points = Vec::new();
    let mut out = Vec::new();
    for h in reg.roster.exposed(&reg.index, &hits, area, w) {
        let p = reg.roster.person(h.person);
        let (loc, country) = match h.presence.first() {
            Some(Presence::Leg { leg, .. }) => {
                let l = &reg.roster.legs()[*leg];
                (Some(l.point), Some(l.country))
            }
            Some(Presence::Posted { site, .. }) => {
                let s = reg.index.site(*site);
                (Some(s.anchor()), Some(s.country))
            }
            None => (None, None),
        };
        points.extend(loc);
        out.push(Recipient {
            id: p.id.clone(),
            name: p.name.clone(),
            kind: RecipientKind::Person,
            language: p.language.clone(),
            contacts: person_contacts(p, cfg),
            location: loc,
            country,
            reason: format!("{} ({what})", h.reason),
            mission: None,
        });
    }
    // Organisations owning exposed sites, once each, located at their nearest exposed site.
    let orgs: BTreeMap<String, farguard_model::Organisation> = store
        .orgs()?
        .into_iter()
        .map(|o| (o.id.clone(), o))
        .collect();
    let mut seen = BTreeSet::new();
    for h in &hits {
        let s = reg.index.site(h.site);
        points.push(s.anchor());
        if !seen.insert(s.org.clone()) {
            continue;
        }
        let n = hits
            .iter()
            .filter(|x| reg.index.site(x.site).org == s.org)
            .count();
        let (name, language) = match orgs.get(&s.org) {
            Some(o) => (
                o.name.clone(),
                // Decision: Chinese organisations (or of unknown country) read Chinese.
                if o.country.is_none_or(|c| c.as_str() == "CN") {
                    "zh"
                } else {
                    "en"
                }
                .to_string(),
            ),
            None => (s.org.clone(), "zh".to_string()),
        };
        out.push(Recipient {
            id: s.org.clone(),
            name,
            kind: RecipientKind::Organisation,
            language,
            contacts: cfg.contacts.get(&s.org).cloned().unwrap_or_default(),
            location: Some(s.anchor()),
            country: Some(s.country),
            reason: format!("owns {n} exposed site(s), e.g. {} ({what})", s.name),
            mission: None,
        });
    }
    Ok((out, points))
}

/// Standard advice per category, in both languages (the plan's own
/// notification text is added verbatim before it).
fn standard_advice(c: Category) -> (Vec<String>, Vec<String>) {
    let (zh, en): (&[&str], &[&str]) = match c {
        Category::Security => (
            &[
                "避免前往事发区域，就地躲避，远离人群与政府设施",
                "保持通讯畅通，留意使领馆通知",
            ],
            &[
                "Avoid the area; shelter in place away from crowds and government buildings",
                "Keep your phone charged and follow the mission's notices",
            ],
        ),
        Category::Political => (
            &[
                "远离示威游行与集会，减少不必要外出",
                "随身携带证件，留意当地宵禁等规定",
            ],
            &[
                "Stay away from protests and gatherings; limit travel",
                "Carry your documents; follow local curfews",
            ],
        ),
        Category::Natural => (
            &[
                "按当地政府指示撤离或避险，远离海岸、河道与危险建筑",
                "备好饮用水、药品与证件",
            ],
            &[
                "Follow local evacuation orders; keep away from coasts, rivers and damaged buildings",
                "Keep water, medicine and documents at hand",
            ],
        ),
        Category::Health => (
            &[
                "遵守当地防疫规定，出现症状及时就医",
                "减少聚集，注意个人防护",
            ],
            &[
                "Follow local health rules and seek care if you have symptoms",
                "Avoid crowds; protect yourself",
            ],
        ),
        _ => (
            &["关注事态发展，按企业与使领馆指引行事"],
            &["Follow developments and your employer's and the mission's guidance"],
        ),
    };
    (
        zh.iter().map(|s| s.to_string()).collect(),
        en.iter().map(|s| s.to_string()).collect(),
    )
}

/// The alert text and area common to every recipient.
#[allow(clippy::too_many_arguments)]
pub fn input(
    cfg: &NotifyConfig,
    scope: String,
    incident: Option<String>,
    event: Option<String>,
    sent: DateTime<Utc>,
    status: CapStatus,
    category: Category,
    level: Level,
    observed: bool,
    headline_en: String,
    headline_zh: String,
    plan_advice: &[String],
    area: CapArea,
    reason: String,
) -> AlertInput {
    let (mut zh, mut en) = standard_advice(category);
    for a in plan_advice.iter().rev() {
        en.insert(0, a.clone());
        zh.insert(0, format!("预案要求（原文）：{a}"));
    }
    AlertInput {
        scope,
        incident,
        event,
        sender: cfg.sender.clone(),
        sender_name: cfg.sender_name.clone(),
        sent,
        status,
        msg_type: MsgType::Alert,
        sequence: 1,
        references: vec![],
        category,
        level,
        observed,
        headline: BTreeMap::from([
            (Lang::En, headline_en.clone()),
            (Lang::Zh, headline_zh.clone()),
        ]),
        event_text: BTreeMap::from([
            (Lang::En, category.code().to_string()),
            (Lang::Zh, category.label_zh().to_string()),
        ]),
        advice: BTreeMap::from([(Lang::Zh, zh), (Lang::En, en)]),
        emergency_contacts: cfg.emergency.clone(),
        area,
        expires: None,
        reason,
        message: None,
    }
}

/// A circle around all the points (the CAP area of a country-wide alert:
/// decision — one enclosing circle, rather than a country outline the
/// project does not ship at alert resolution).
pub fn enclosing_circle(points: &[Point]) -> Option<(Point, f64)> {
    if points.is_empty() {
        return None;
    }
    let n = points.len() as f64;
    let lat = points.iter().map(|p| p.lat()).sum::<f64>() / n;
    let lon = points.iter().map(|p| p.lon()).sum::<f64>() / n;
    let c = Point::new(lat, lon).ok()?;
    let r = points
        .iter()
        .map(|p| p.distance_m(c) / 1000.0)
        .fold(0.0, f64::max);
    Some((c, (r + 1.0).ceil()))
}

/// What composing and queueing one alert did.
#[derive(Debug, Serialize)]
pub struct Queued {
    pub alert: String,
    pub scope: String,
    pub people: usize,
    pub organisations: usize,
    pub queued: u64,
    pub dead_at_composition: u64,
    pub duplicates: u64,
    pub already_composed: bool,
}

/// Composes the alert for `recipients` and queues it durably (its texts
/// once, one slim row per recipient and channel).
pub fn compose_and_queue(
    store: &mut dyn Store,
    cfg: &NotifyConfig,
    input: &AlertInput,
    recipients: &[Recipient],
    missions: &[Mission],
) -> Result<Queued> {
    let id = compose::alert_id(&input.scope, input.msg_type, input.sequence);
    if store.alert(&id)?.is_some() {
        return Ok(Queued {
            alert: id,
            scope: input.scope.clone(),
            people: 0,
            organisations: 0,
            queued: 0,
            dead_at_composition: 0,
            duplicates: 0,
            already_composed: true,
        });
    }
    let c = compose::compose(input, recipients, missions, &cfg.templates, &options(cfg))?;
    let q = queue(store, &c)?;
    Ok(summary(&c.record.id, input, recipients, q))
}

/// Composition options from the configuration.
pub fn options(cfg: &NotifyConfig) -> Options {
    Options {
        checkin_ttl: cfg.checkin_ttl,
        fallback: cfg.fallback.map(|c| Contact {
            channel: c,
            address: cfg.file_path.clone().unwrap_or_else(|| "-".into()),
        }),
    }
}

/// Queues one composed alert.
pub fn queue(store: &mut dyn Store, c: &Composed) -> Result<QueueCounts> {
    let mut counts = store.queue_alerts(&[new_alert(c)])?;
    Ok(counts.pop().unwrap_or_default())
}

/// The store's view of a composed alert.
pub fn new_alert(c: &Composed) -> NewAlert<'_> {
    NewAlert {
        record: &c.record,
        secret: c.secret.bytes(),
        checkin_ttl: c.checkin_ttl,
        queued_at: c.queued_at,
        texts: &c.texts,
        rows: &c.rows,
    }
}

/// Who an alert's messages went to, as recipients again (for its update,
/// cancellation or reminders): each recipient's usable contacts from the
/// alert's own rows (its first round; contacts dead at composition left
/// out), language, name, nearest mission and reason as first told.
pub fn recipients_of(store: &mut dyn Store, alert: &str) -> Result<Vec<Recipient>> {
    let mut out: Vec<Recipient> = Vec::new();
    let mut at: BTreeMap<String, usize> = BTreeMap::new();
    for q in store.outbox_rows(Some(alert), u32::MAX)? {
        let d = &q.delivery;
        let slot = d.key.rsplit_once('/').map_or("", |(_, s)| s);
        if d.key.contains("/reminder-") {
            continue;
        }
        let k = *at.entry(d.recipient.clone()).or_insert_with(|| {
            out.push(Recipient {
                id: d.recipient.clone(),
                name: if q.vars.name.is_empty() {
                    d.recipient.clone()
                } else {
                    q.vars.name.clone()
                },
                kind: if q.accountable {
                    RecipientKind::Person
                } else {
                    RecipientKind::Organisation
                },
                language: d.language.clone(),
                contacts: vec![],
                location: None,
                country: None,
                reason: q.vars.why.clone(),
                mission: (!q.vars.mission.is_empty()).then(|| q.vars.mission.clone()),
            });
            out.len() - 1
        });
        let unusable =
            slot.starts_with("none") || (d.state == DeliveryState::Dead && d.attempts == 0);
        if !unusable {
            let c = Contact {
                channel: d.channel,
                address: d.address.clone(),
            };
            if !out[k].contacts.contains(&c) {
                out[k].contacts.push(c);
            }
        }
    }
    Ok(out)
}

/// An update (`MsgType::Update`) or a cancellation (`MsgType::Cancel`) of
/// an alert: a CAP document of that type referencing every alert issued in
/// the scope so far (`sender,identifier,sent`), with the same area and
/// headlines and the operator's `message`, queued to the same recipients
/// over the same contacts.
pub fn follow_up(
    store: &mut dyn Store,
    cfg: &NotifyConfig,
    original: &str,
    msg_type: MsgType,
    message: &str,
    now: DateTime<Utc>,
) -> Result<Queued> {
    let Some(orig) = store.alert(original)? else {
        bail!("alert {original} not found; see farguard alerts list")
    };
    let earlier: Vec<_> = store
        .alerts(None)?
        .into_iter()
        .filter(|a| a.scope == orig.scope)
        .collect();
    if let Some(c) = earlier.iter().find(|a| a.msg_type == MsgType::Cancel) {
        bail!(
            "the alerts of {} were cancelled by {} at {}; compose a new alert instead",
            orig.scope,
            c.id,
            c.sent.to_rfc3339()
        )
    }
    let issued = farguard_notify::cap::read_issued(&orig.cap_xml)
        .with_context(|| format!("reading the CAP document of {original}"))?;
    let mut references = Vec::new();
    for a in &earlier {
        let sender = farguard_notify::cap::read_issued(&a.cap_xml)
            .map_or_else(|_| cfg.sender.clone(), |i| i.sender);
        references.push(compose::reference(&sender, a));
    }
    let recipients = recipients_of(store, &orig.id)?;
    let headline = |l: Lang| issued.headline.get(&l).cloned().unwrap_or_default();
    let mut input = input(
        cfg,
        orig.scope.clone(),
        orig.incident.clone(),
        orig.event.clone(),
        now,
        orig.status,
        Category::parse(&orig.category)?,
        orig.level,
        orig.event.is_some(),
        headline(Lang::En),
        headline(Lang::Zh),
        &[],
        issued.area.clone(),
        orig.reason.clone(),
    );
    input.msg_type = msg_type;
    input.sequence = u32::try_from(earlier.len()).unwrap_or(u32::MAX - 1) + 1;
    input.references = references;
    input.event_text = issued.event.clone();
    input.message = Some(message.to_string());
    let missions = missions(store, cfg)?;
    compose_and_queue(store, cfg, &input, &recipients, &missions)
}

fn summary(id: &str, input: &AlertInput, r: &[Recipient], q: QueueCounts) -> Queued {
    Queued {
        alert: id.to_string(),
        scope: input.scope.clone(),
        people: r.iter().filter(|x| x.kind == RecipientKind::Person).count(),
        organisations: r
            .iter()
            .filter(|x| x.kind == RecipientKind::Organisation)
            .count(),
        queued: q.queued,
        dead_at_composition: q.dead,
        duplicates: q.duplicates,
        already_composed: !q.alert_new,
    }
}

/// The alert of an incident: its area during its window, its plan's advice.
pub fn for_incident(
    store: &mut dyn Store,
    cfg: &NotifyConfig,
    inc: &Incident,
    plan_advice: &[String],
    sent: DateTime<Utc>,
) -> Result<(AlertInput, Vec<Recipient>)> {
    let reg = Loaded::from_store(store)?;
    let area = match &inc.area {
        Area::Country(c) | Area::Admin1(c, _) => QueryArea::Country(*c),
        Area::Site(id) => {
            let Some(s) = store.site(id)? else {
                bail!("incident {}: area site {id} is not registered", inc.id)
            };
            QueryArea::Circle {
                center: s.anchor(),
                radius: farguard_model::Radius::km(25.0)?,
            }
        }
        Area::H3(_) => bail!(
            "incident {}: H3 areas are not supported for alerts yet; compose from its events with --event",
            inc.id
        ),
    };
    let w = Window::new(inc.opened_at, inc.window_end.max(inc.opened_at))
        .unwrap_or_else(|| Window::at(inc.opened_at));
    let what = format!("incident {} area {}", inc.id, inc.area);
    let (recipients, points) = exposed(&reg, store, cfg, &area, w, &what)?;
    let cap_area = CapArea {
        desc: match &inc.area {
            Area::Country(c) => format!("{} ({c})", c.name()),
            other => other.to_string(),
        },
        circles: match &area {
            QueryArea::Circle { center, radius } => vec![(*center, radius.get_km())],
            _ => enclosing_circle(&points).into_iter().collect(),
        },
        polygons: vec![],
    };
    let headline_en = format!(
        "{} — level {} ({})",
        inc.title,
        inc.level.code(),
        inc.level.colour()
    );
    let headline_zh = format!(
        "{}{}预警：{}",
        inc.area,
        inc.category.label_zh(),
        inc.level.label_zh()
    );
    let status = if inc.exercise {
        CapStatus::Exercise
    } else {
        CapStatus::Actual
    };
    let input = input(
        cfg,
        format!("incident:{}", inc.id),
        Some(inc.id.clone()),
        None,
        sent,
        status,
        inc.category,
        inc.level,
        false,
        headline_en,
        headline_zh,
        plan_advice,
        cap_area,
        inc.reason.clone(),
    );
    Ok((input, recipients))
}

/// The alert of one event: its circle (guideline radius), at the time it occurred.
pub fn for_event(
    store: &mut dyn Store,
    cfg: &NotifyConfig,
    g: &Guideline,
    id: &str,
    status: CapStatus,
    sent: DateTime<Utc>,
) -> Result<(AlertInput, Vec<Recipient>)> {
    let Some(eid) = EventId::parse(id) else {
        bail!("--event {id:?}: expected SOURCE:ID such as gdelt:881991040")
    };
    let Some(e): Option<Event> = store.event(&eid)? else {
        bail!("event {id} is not in the store; see farguard assess for event ids")
    };
    let Some(center) = e.local_point() else {
        bail!(
            "event {id} has no precise location (country-level only): compose for its incident instead"
        )
    };
    let radius = g.radius_for(e.subtype, e.severity);
    let reg = Loaded::from_store(store)?;
    let area = QueryArea::Circle { center, radius };
    let w = Window::new(e.occurred_at, e.reported_at.max(e.occurred_at))
        .unwrap_or_else(|| Window::at(e.occurred_at));
    let what = format!("event {id} within {} km", radius.get_km());
    let (recipients, _) = exposed(&reg, store, cfg, &area, w, &what)?;
    let level = match e.severity.get() {
        5 => Level::I,
        4 => Level::II,
        3 => Level::III,
        _ => Level::IV,
    };
    let place = e
        .location
        .as_ref()
        .and_then(|l| l.place.clone())
        .unwrap_or_else(|| format!("{:.2}, {:.2}", center.lat(), center.lon()));
    let input = input(
        cfg,
        format!("event:{id}"),
        None,
        Some(id.to_string()),
        sent,
        status,
        e.category,
        level,
        true,
        format!("{}: {} near {place}", e.subtype.label_en(), e.category),
        format!("{}附近发生{}", place, e.subtype.label_zh()),
        &[],
        CapArea {
            desc: place,
            circles: vec![(center, radius.get_km())],
            polygons: vec![],
        },
        format!("{} ({})", e.title, e.reason),
    );
    Ok((input, recipients))
}

/// Reads as `farguard notify bench`; see `notify/bench.rs`.
mod bench;
