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
    Area, CapStatus, Category, ChannelKind, Delivery, Event, EventId, Incident, Level, MsgType,
    OrgKind, Person, Point, SiteKind,
};
use farguard_notify::cap::CapArea;
use farguard_notify::channel::Channel;
use farguard_notify::channel::email::Email;
use farguard_notify::channel::file::FileChannel;
use farguard_notify::channel::sms::SmsGateway;
use farguard_notify::channel::webhook::Webhook;
use farguard_notify::compose::{AlertInput, Contact, Mission, Options, Recipient, RecipientKind};
use farguard_notify::config::NotifyConfig;
use farguard_notify::outbox::{self, OutboxBackend, RunOptions, RunStats};
use farguard_notify::template::Lang;
use farguard_notify::{NotifyError, compose};
use farguard_store::{QueueCounts, Store};
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
}

pub fn run(ctx: &Ctx, a: Action) -> Result<ExitCode> {
    match a {
        Action::Run(r) => run_outbox(ctx, r),
        Action::Outbox(o) => show_outbox(ctx, o),
        Action::Bench(b) => bench(ctx, b),
    }
}

// --- store adapters -------------------------------------------------------------

/// The outbox loop's view of the store.
pub struct Backend<'a>(pub &'a mut dyn Store);

impl std::fmt::Debug for Backend<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Backend")
    }
}

fn be(e: farguard_store::StoreError) -> NotifyError {
    NotifyError::Backend(e.to_string())
}

impl OutboxBackend for Backend<'_> {
    fn claim(
        &mut self,
        now: DateTime<Utc>,
        limit: u32,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<Delivery>, NotifyError> {
        self.0.claim_deliveries(now, limit, lease_until).map_err(be)
    }
    fn mark_sent(
        &mut self,
        d: &Delivery,
        at: DateTime<Utc>,
        detail: &str,
    ) -> Result<(), NotifyError> {
        self.0
            .delivery_sent(d.id, d.attempts + 1, at, detail)
            .map_err(be)
    }
    fn mark_retry(
        &mut self,
        d: &Delivery,
        attempts: u32,
        next_at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), NotifyError> {
        self.0
            .delivery_retry(d.id, attempts, next_at, error)
            .map_err(be)
    }
    fn mark_dead(
        &mut self,
        d: &Delivery,
        attempts: u32,
        at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), NotifyError> {
        self.0.delivery_dead(d.id, attempts, at, error).map_err(be)
    }
    fn next_due(&mut self) -> Result<Option<DateTime<Utc>>, NotifyError> {
        self.0.next_due().map_err(be)
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
    seconds: f64,
}

fn run_outbox(ctx: &Ctx, r: RunArgs) -> Result<ExitCode> {
    let cfg = r.config.load()?;
    let mut store = ctx.store()?;
    let mut chans = channels(&cfg)?;
    let mut limits = cfg.rate_limits();
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
        ..RunOptions::default()
    };
    let stats: RunStats = outbox::run(
        &mut Backend(&mut *store),
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
        seconds: started.elapsed().as_secs_f64(),
    };
    if ctx.json {
        out::json(&rep)?;
    } else {
        println!(
            "outbox: sent {}, retries scheduled {}, dead-lettered {} in {:.1} s",
            rep.sent, rep.retried, rep.dead, rep.seconds
        );
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

/// Composes the alert for `recipients` and queues it durably, drawing new
/// credentials if one ever collides.
pub fn compose_and_queue(
    store: &mut dyn Store,
    cfg: &NotifyConfig,
    input: &AlertInput,
    recipients: &[Recipient],
    missions: &[Mission],
) -> Result<(Queued, Vec<compose::IssuedCheckin>)> {
    let opts = Options {
        checkin_base_url: cfg.checkin_base_url.clone(),
        checkin_ttl: cfg.checkin_ttl,
        fallback: cfg.fallback.map(|c| Contact {
            channel: c,
            address: cfg.file_path.clone().unwrap_or_else(|| "-".into()),
        }),
    };
    let id = compose::alert_id(&input.scope, input.msg_type, input.sequence);
    if store.alert(&id)?.is_some() {
        return Ok((
            Queued {
                alert: id,
                scope: input.scope.clone(),
                people: 0,
                organisations: 0,
                queued: 0,
                dead_at_composition: 0,
                duplicates: 0,
                already_composed: true,
            },
            vec![],
        ));
    }
    let mut last = None;
    for _ in 0..3 {
        let c = compose::compose(input, recipients, missions, &cfg.templates, &opts)?;
        match store.queue_alert(&c.record, &c.deliveries, &c.tokens, &c.states) {
            Ok(q) => return Ok((summary(&c.record.id, input, recipients, q), c.issued)),
            Err(e) if e.to_string().contains("collide") => last = Some(e),
            Err(e) => return Err(e.into()),
        }
    }
    bail!(
        "check-in credentials collided three times: {}",
        last.map(|e| e.to_string()).unwrap_or_default()
    )
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

// --- benchmarks -----------------------------------------------------------------

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return 0.0;
    }
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// Synthetic recipients (deterministic), each with one e-mail contact.
fn bench_recipients(n: usize) -> Vec<Recipient> {
    (0..n)
        .map(|i| Recipient {
            id: format!("bench-p{i:07}"),
            name: format!("Bench person {i}"),
            kind: RecipientKind::Person,
            language: if i % 3 == 0 { "en" } else { "zh" }.into(),
            contacts: vec![Contact {
                channel: ChannelKind::Email,
                address: format!("p{i}@bench.example"),
            }],
            location: None,
            country: None,
            reason: "bench".into(),
        })
        .collect()
}

fn bench_input(cfg: &NotifyConfig, scope: String, at: DateTime<Utc>, point: Point) -> AlertInput {
    input(
        cfg,
        scope,
        None,
        None,
        at,
        CapStatus::Test,
        Category::Security,
        Level::II,
        true,
        "Benchmark alert".into(),
        "基准测试预警".into(),
        &["Shelter in place".into()],
        CapArea {
            desc: "bench".into(),
            circles: vec![(point, 25.0)],
            polygons: vec![],
        },
        "bench".into(),
    )
}

/// The same outbox rows through bare rusqlite (one prepared INSERT per row,
/// one transaction, same table, unique key and indexes): the floor the store
/// is measured against.
fn raw_sqlite_baseline(path: &std::path::Path, rows: &[Delivery]) -> Result<f64> {
    let mut c = rusqlite::Connection::open(path)?;
    c.pragma_update(None, "journal_mode", "WAL")?;
    c.pragma_update(None, "synchronous", "NORMAL")?;
    c.execute_batch(
        "CREATE TABLE outbox (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, alert TEXT NOT NULL, scope TEXT NOT NULL, recipient TEXT NOT NULL, channel TEXT NOT NULL, address TEXT NOT NULL, language TEXT NOT NULL, subject TEXT NOT NULL, body TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL, next_at INTEGER NOT NULL, created_at INTEGER NOT NULL) STRICT;
         CREATE INDEX outbox_due ON outbox (state, next_at);
         CREATE INDEX outbox_recipient ON outbox (scope, recipient);
         CREATE INDEX outbox_alert ON outbox (alert);",
    )?;
    let t0 = Instant::now();
    let tx = c.transaction()?;
    {
        let mut st = tx.prepare("INSERT INTO outbox (key, alert, scope, recipient, channel, address, language, subject, body, state, attempts, next_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)")?;
        for d in rows {
            st.execute(rusqlite::params![
                d.key,
                d.alert,
                d.scope,
                d.recipient,
                d.channel.code(),
                d.address,
                d.language,
                d.subject,
                d.body,
                d.state.code(),
                d.attempts,
                d.next_at.timestamp_micros(),
                d.created_at.timestamp_micros()
            ])?;
        }
    }
    tx.commit()?;
    Ok(t0.elapsed().as_secs_f64())
}

#[derive(Debug, Serialize)]
struct BenchReport {
    recipients: usize,
    runs: usize,
    compose_s_median: f64,
    queue_s_median: f64,
    compose_and_queue_s_median: f64,
    baseline_raw_sqlite_outbox_insert_s_median: f64,
    latency_people: usize,
    latency_events: usize,
    latency_rate_per_s: f64,
    latency_p50_ms: f64,
    latency_p99_ms: f64,
    latency_max_ms: f64,
    latency_recipients_queued: u64,
    latency_baseline_exposure_only_p99_ms: f64,
}

fn bench(ctx: &Ctx, b: BenchArgs) -> Result<ExitCode> {
    let tmp = tempfile::tempdir()?;
    let dir = b.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let cfg = NotifyConfig::shipped()?;
    let at = Utc::now();
    let p0 = Point::new(-4.05, 39.66)?;
    let recipients = bench_recipients(b.recipients);
    let runs = 3;
    let (mut comp, mut queue, mut total, mut base) = (vec![], vec![], vec![], vec![]);
    for run in 0..runs {
        let path = dir.join(format!("bench-queue-{run}.db"));
        let raw = dir.join(format!("bench-raw-{run}.db"));
        for p in [&path, &raw] {
            let _ = std::fs::remove_file(p);
        }
        let mut store = farguard_store::SqliteStore::open(&path)?;
        let t0 = Instant::now();
        let opts = Options {
            checkin_base_url: cfg.checkin_base_url.clone(),
            checkin_ttl: cfg.checkin_ttl,
            fallback: None,
        };
        let c = compose::compose(
            &bench_input(&cfg, format!("bench:{run}"), at, p0),
            &recipients,
            &[],
            &cfg.templates,
            &opts,
        )?;
        let t1 = Instant::now();
        let q = farguard_store::NotifyStore::queue_alert(
            &mut store,
            &c.record,
            &c.deliveries,
            &c.tokens,
            &c.states,
        )?;
        let t2 = Instant::now();
        anyhow::ensure!(
            q.queued == b.recipients as u64,
            "queued {} of {}",
            q.queued,
            b.recipients
        );
        comp.push((t1 - t0).as_secs_f64());
        queue.push((t2 - t1).as_secs_f64());
        total.push((t2 - t0).as_secs_f64());
        base.push(raw_sqlite_baseline(&raw, &c.deliveries)?);
        eprintln!(
            "run {}: compose {:.2} s + queue {:.2} s (outbox {} rows, credentials {}, accountability {}); raw rusqlite outbox insert {:.2} s",
            run + 1,
            comp[run],
            queue[run],
            q.queued,
            q.tokens,
            q.people,
            base[run]
        );
        drop(store);
        for p in [&path, &raw] {
            let _ = std::fs::remove_file(p);
        }
    }
    drop(recipients);
    let lat = latency_bench(&dir, &cfg, &b)?;
    let rep = BenchReport {
        recipients: b.recipients,
        runs,
        compose_s_median: median(comp),
        queue_s_median: median(queue),
        compose_and_queue_s_median: median(total),
        baseline_raw_sqlite_outbox_insert_s_median: median(base),
        latency_people: b.people,
        latency_events: b.events,
        latency_rate_per_s: b.rate,
        latency_p50_ms: lat.0,
        latency_p99_ms: lat.1,
        latency_max_ms: lat.2,
        latency_recipients_queued: lat.3,
        latency_baseline_exposure_only_p99_ms: lat.4,
    };
    if ctx.json {
        out::json(&rep)?;
    } else {
        println!("notify bench (SQLite, WAL, synchronous=NORMAL; medians of {runs} runs)");
        println!(
            "  {} recipients composed and queued durably: {:.2} s (compose {:.2} s + queue {:.2} s; target ≤ 10 s)",
            rep.recipients,
            rep.compose_and_queue_s_median,
            rep.compose_s_median,
            rep.queue_s_median
        );
        println!(
            "  baseline, same run: bare rusqlite insert of the same outbox rows: {:.2} s",
            rep.baseline_raw_sqlite_outbox_insert_s_median
        );
        println!(
            "  event → alerts durably queued, {} events at {}/s, {} registered people: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (target p99 ≤ 500 ms); {} messages queued",
            rep.latency_events,
            rep.latency_rate_per_s,
            rep.latency_people,
            rep.latency_p50_ms,
            rep.latency_p99_ms,
            rep.latency_max_ms,
            rep.latency_recipients_queued
        );
        println!(
            "  baseline, same run: exposure lookup alone (no compose, no store): p99 {:.3} ms",
            rep.latency_baseline_exposure_only_p99_ms
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Events arrive on a fixed schedule at `rate`/s (the real GDELT export's
/// located events, replayed in a loop); one pipeline thread takes every
/// event that has arrived, finds the people within 25 km in a grid over
/// 1,000,000 registered people (placed near the real ports and airports),
/// composes and queues each alert in its own transaction (WAL: committed,
/// not fsynced, per alert).
/// Latency of an event = commit time − scheduled arrival.
fn latency_bench(
    dir: &std::path::Path,
    cfg: &NotifyConfig,
    b: &BenchArgs,
) -> Result<(f64, f64, f64, u64, f64)> {
    use farguard_expose::PointGrid;
    let events = located_events()?;
    anyhow::ensure!(
        !events.is_empty(),
        "no located events in the shipped export"
    );
    let anchors = anchor_points()?;
    // Deterministic placement: person i near anchor i mod n, within ~0.3°.
    let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let pts: Vec<(f64, f64)> = (0..b.people)
        .map(|i| {
            let a = anchors[i % anchors.len()];
            (
                (a.0 + (next() - 0.5) * 0.6).clamp(-90.0, 90.0),
                (a.1 + (next() - 0.5) * 0.6).clamp(-180.0, 180.0),
            )
        })
        .collect();
    let grid = PointGrid::build(&pts, 2.0);
    // Baseline: the exposure lookup alone, per event.
    let mut base = Vec::with_capacity(b.events);
    for k in 0..b.events {
        let (p, _) = &events[k % events.len()];
        let t0 = Instant::now();
        let mut n = 0u32;
        grid.within(*p, 25_000.0, |_, _| n += 1);
        base.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    let path = dir.join("bench-latency.db");
    let _ = std::fs::remove_file(&path);
    let mut store = farguard_store::SqliteStore::open(&path)?;
    let opts = Options {
        checkin_base_url: cfg.checkin_base_url.clone(),
        checkin_ttl: cfg.checkin_ttl,
        fallback: None,
    };
    let start = Instant::now() + Duration::from_millis(50);
    let arrival = |k: usize| start + Duration::from_secs_f64(k as f64 / b.rate);
    let mut lat = Vec::with_capacity(b.events);
    let mut queued = 0u64;
    let mut k = 0;
    while k < b.events {
        let now = Instant::now();
        if now < arrival(k) {
            std::thread::sleep(arrival(k) - now);
            continue;
        }
        // Every event that has arrived by now.
        let mut batch = vec![];
        while k < b.events && arrival(k) <= Instant::now() {
            batch.push(k);
            k += 1;
        }
        let mut composed = Vec::with_capacity(batch.len());
        for &j in &batch {
            let (p, id) = &events[j % events.len()];
            let mut rs = Vec::new();
            grid.within(*p, 25_000.0, |i, _| {
                rs.push(Recipient {
                    id: format!("p{i}"),
                    name: format!("Person {i}"),
                    kind: RecipientKind::Person,
                    language: if i % 3 == 0 { "en" } else { "zh" }.into(),
                    contacts: vec![Contact {
                        channel: ChannelKind::Email,
                        address: format!("p{i}@bench.example"),
                    }],
                    location: None,
                    country: None,
                    reason: "bench".into(),
                })
            });
            let input = bench_input(cfg, format!("event:{id}#{j}"), Utc::now(), *p);
            composed.push(compose::compose(&input, &rs, &[], &cfg.templates, &opts)?);
        }
        for c in &composed {
            let q = farguard_store::NotifyStore::queue_alert(
                &mut store,
                &c.record,
                &c.deliveries,
                &c.tokens,
                &c.states,
            )?;
            queued += q.queued;
        }
        let done = Instant::now();
        for &j in &batch {
            lat.push((done - arrival(j)).as_secs_f64() * 1000.0);
        }
    }
    let p50 = pct(&mut lat, 0.5);
    let p99 = pct(&mut lat, 0.99);
    let max = lat.last().copied().unwrap_or(0.0);
    drop(store);
    let _ = std::fs::remove_file(&path);
    Ok((p50, p99, max, queued, pct(&mut base, 0.99)))
}

/// The shipped GDELT export's precisely located events: (point, id).
fn located_events() -> Result<Vec<(Point, String)>> {
    let mut mem = farguard_store::SqliteStore::open(":memory:")?;
    super::ingest::ingest_gdelt_bytes(
        &mut mem,
        crate::embedded::GDELT_EXPORT_NAME,
        crate::embedded::GDELT_EXPORT,
    )?;
    let Some((a, z)) = mem.event_time_range()? else {
        return Ok(vec![]);
    };
    Ok(mem
        .events_between(a, z + chrono::Duration::seconds(1))?
        .into_iter()
        .filter_map(|e| e.local_point().map(|p| (p, e.id.to_string())))
        .collect())
}

/// The real World Port Index ports, as (lat, lon).
fn anchor_points() -> Result<Vec<(f64, f64)>> {
    let ports =
        farguard_registry::wpi::read(crate::embedded::WPI_NAME, crate::embedded::WPI, "bench")?;
    Ok(ports
        .rows
        .iter()
        .map(|(_, s)| (s.anchor().lat(), s.anchor().lon()))
        .collect())
}
