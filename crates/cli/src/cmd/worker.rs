//! `farguard worker`: the pipeline's stages as loops over the stage bus —
//! every stage in this process over in-process queues (`--bus memory`, the
//! default), or any of them per process over NATS JetStream (`--bus
//! nats://…`), partitioned by country. A stage reads its input subject
//! durably, works it out, publishes its output, stores its work (any
//! `--db`), and only then acknowledges; a crash at any point means
//! redelivery, and the handlers (`stages`) are idempotent, so the store
//! ends as the in-process `ingest` + `incidents trigger` path leaves it.
//!
//! Also the hook `ingest --bus` uses: [`attach`] installs a publisher that
//! `ingest::store_batch` calls, through [`announce_stored`], after each
//! batch is stored; with no bus attached that call does nothing.

mod stages;

use super::{Ctx, load_guideline, plans};
use crate::out;
use anyhow::{Context, Result, bail};
use chrono::Utc;
use farguard_bus::message::{self, DeadLetter, EventAccepted, VERSION};
use farguard_bus::{
    MemoryBus, NatsBus, NatsOptions, Outgoing, Partition, Published, Received, Subjects, Subscribe,
    Subscription, Topic, Transport,
};
use farguard_model::Event;
use farguard_sources::detect;
use serde::Serialize;
use stages::{Clock, Handler, Parts};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// The exit status of an injected crash (`--crash-before-ack`).
pub const CRASH_EXIT: i32 = 75;

/// A pipeline stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum Stage {
    /// Read files (--input) or poll live sources (--sources), store, publish.
    Ingest,
    /// Grade the stored events; publish each round's levels and changes.
    Grade,
    /// Match each graded round's events to sites and people.
    Expose,
    /// Apply the round's level changes and exposures to the incidents.
    Respond,
    /// Queue the alert of every opened incident in the outbox.
    Notify,
    /// Every stage above.
    All,
}

const STAGES: [Stage; 5] = [
    Stage::Ingest,
    Stage::Grade,
    Stage::Expose,
    Stage::Respond,
    Stage::Notify,
];

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Ingest => "ingest",
            Stage::Grade => "grade",
            Stage::Expose => "expose",
            Stage::Respond => "respond",
            Stage::Notify => "notify",
            Stage::All => "all",
        }
    }
    fn index(self) -> usize {
        STAGES.iter().position(|s| *s == self).unwrap_or(0)
    }
    /// The topic the stage reads (ingest reads files, not the bus).
    fn input(self) -> Option<Topic> {
        match self {
            Stage::Grade => Some(Topic::EventsAccepted),
            Stage::Expose => Some(Topic::LevelsChanged),
            Stage::Respond => Some(Topic::Exposures),
            Stage::Notify => Some(Topic::IncidentsChanged),
            Stage::Ingest | Stage::All => None,
        }
    }
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  farguard worker --input data/gdelt/20191024143000.export.CSV
      every stage in this process (in-process bus); exits when the input has gone through
  farguard worker --bus nats://127.0.0.1:4222 --stage grade
  farguard worker --bus nats://127.0.0.1:4222 --stage expose,respond --partition KE,TZ,UG
  farguard worker --bus nats://127.0.0.1:4222 --stage notify
  farguard ingest --bus nats://127.0.0.1:4222 20191024143000.export.CSV
      stores the events and publishes them to the workers")]
pub struct Args {
    /// `memory` (the stages run in this process over in-process queues) or
    /// a NATS URL (nats://host:4222) with JetStream.
    #[arg(long, env = "FARGUARD_BUS", default_value = "memory")]
    pub bus: String,
    /// Subject prefix of this deployment (and so its JetStream stream,
    /// upper-cased: farguard → FARGUARD).
    #[arg(long, env = "FARGUARD_BUS_PREFIX", default_value = farguard_bus::DEFAULT_PREFIX)]
    pub prefix: String,
    /// Stages to run, comma-separated or repeated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "all")]
    pub stage: Vec<Stage>,
    /// Countries this worker takes (ISO 3166-1 codes; `none` for events
    /// without a country), comma-separated; default all. The workers of one
    /// stage must not overlap: either one worker for all, or disjoint sets.
    #[arg(long, value_delimiter = ',')]
    pub partition: Vec<String>,
    /// Ingest stage: files or directories to ingest and publish (any format
    /// `farguard ingest` reads).
    #[arg(long)]
    pub input: Vec<PathBuf>,
    /// Ingest stage: poll the live sources of this file, as `farguard
    /// watch` does.
    #[arg(long)]
    pub sources: Option<PathBuf>,
    /// With --sources: poll once, not forever.
    #[arg(long)]
    pub once: bool,
    /// Grade stage: grade as of this time (RFC 3339 or a date) instead of
    /// the clock.
    #[arg(long)]
    pub at: Option<String>,
    /// Grade stage: `data` grades as of the newest stored event plus one
    /// day (as `incidents trigger` does by default); `wall` as of now.
    #[arg(long, default_value = "data", value_parser = ["data", "wall"])]
    pub clock: String,
    /// Guideline file (default: the shipped one).
    #[arg(long)]
    pub guideline: Option<PathBuf>,
    /// Plan directory (default: ./config/plans, else the shipped plans).
    #[arg(long)]
    pub plans: Option<PathBuf>,
    #[command(flatten)]
    pub notify: super::notify::ConfigArg,
    /// Messages taken per batch at most (grading costs per batch, not per
    /// message: larger batches regrade less often).
    #[arg(long, default_value_t = 1024)]
    pub batch: usize,
    /// Seconds a message may stay unacknowledged before it is delivered again.
    #[arg(long, default_value_t = 30)]
    pub ack_wait: u64,
    /// On NATS: exit after this many seconds with nothing to do and the
    /// stages before this one drained (default: run until stopped). The
    /// in-process bus exits as soon as the input has gone through.
    #[arg(long)]
    pub until_idle: Option<u64>,
    /// Fault injection for tests: the named stage exits with status 75
    /// after its first batch is published and stored, before the ack.
    #[arg(long, hide = true)]
    pub crash_before_ack: Option<Stage>,
}

// --- the ingest hook ---------------------------------------------------------

type Sink = Arc<dyn Fn(&[Event]) -> Result<()> + Send + Sync>;

static SINK: RwLock<Option<Sink>> = RwLock::new(None);

/// Publishes the records of a stored batch to the attached bus; does
/// nothing when none is attached (one uncontended lock read per batch).
pub fn announce_stored(events: &[Event]) -> Result<()> {
    let sink = SINK.read().ok().and_then(|s| s.clone());
    match sink {
        Some(publish) if !events.is_empty() => publish(events),
        _ => Ok(()),
    }
}

/// Either transport, chosen by `--bus`.
#[derive(Debug, Clone)]
enum AnyBus {
    Memory(MemoryBus),
    Nats { url: String, subjects: Subjects },
}

/// A connected bus for one thread.
#[derive(Debug)]
enum Connected {
    Memory(MemoryBus),
    Nats(Box<NatsBus>),
}

impl AnyBus {
    fn parse(url: &str, subjects: &Subjects) -> Result<Self> {
        if url == "memory" {
            Ok(AnyBus::Memory(MemoryBus::default()))
        } else if url.starts_with("nats://") || url.starts_with("tls://") {
            Ok(AnyBus::Nats {
                url: url.to_string(),
                subjects: subjects.clone(),
            })
        } else {
            Err(farguard_bus::BusError::Url(url.to_string()).into())
        }
    }
    async fn connect(&self) -> Result<Connected> {
        Ok(match self {
            AnyBus::Memory(m) => Connected::Memory(m.clone()),
            AnyBus::Nats { url, subjects } => Connected::Nats(Box::new(
                NatsBus::connect(url, subjects.clone(), &NatsOptions::default()).await?,
            )),
        })
    }
}

impl Connected {
    async fn publish(&self, msgs: &[Outgoing]) -> Result<Published> {
        Ok(match self {
            Connected::Memory(b) => b.publish(msgs).await?,
            Connected::Nats(b) => b.publish(msgs).await?,
        })
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    // One worker thread keeps the NATS connection served while the calling
    // thread does blocking store work inside `block_on`.
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Counts of what a publisher sent.
#[derive(Debug, Default)]
struct Counter {
    stored: AtomicU64,
    duplicates: AtomicU64,
}

/// While held, stored batches are published; dropping it detaches.
pub struct Attached {
    counter: Arc<Counter>,
    url: String,
    quiet: bool,
}

impl std::fmt::Debug for Attached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attached").field("url", &self.url).finish()
    }
}

impl Attached {
    pub fn published(&self) -> (u64, u64) {
        (
            self.counter.stored.load(Ordering::Relaxed),
            self.counter.duplicates.load(Ordering::Relaxed),
        )
    }
}

impl Drop for Attached {
    fn drop(&mut self) {
        if let Ok(mut s) = SINK.write() {
            *s = None;
        }
        if !self.quiet {
            let (stored, dups) = self.published();
            eprintln!(
                "published {stored} event records to {}{}",
                self.url,
                if dups > 0 {
                    format!(" ({dups} already there: dropped by the bus)")
                } else {
                    String::new()
                }
            );
        }
    }
}

fn install(
    bus: Connected,
    rt: tokio::runtime::Runtime,
    subjects: Subjects,
    url: &str,
    quiet: bool,
) -> Attached {
    let counter = Arc::new(Counter::default());
    let c = counter.clone();
    let rt = Mutex::new(rt);
    let sink: Sink = Arc::new(move |events: &[Event]| {
        let msgs: Vec<Outgoing> = events
            .iter()
            .map(|e| message::encode(&subjects, &EventAccepted::of(e)))
            .collect();
        let rt = rt.lock().unwrap_or_else(|p| p.into_inner());
        let p = rt
            .block_on(bus.publish(&msgs))
            .context("publishing the stored events to the bus (they are stored: run the same ingest again to publish them)")?;
        c.stored.fetch_add(p.stored, Ordering::Relaxed);
        c.duplicates.fetch_add(p.duplicates, Ordering::Relaxed);
        Ok(())
    });
    if let Ok(mut s) = SINK.write() {
        *s = Some(sink);
    }
    Attached {
        counter,
        url: url.to_string(),
        quiet,
    }
}

/// `ingest --bus URL`: connects and attaches a publisher of stored events.
/// The subject prefix comes from `FARGUARD_BUS_PREFIX` (default `farguard`).
pub fn attach(url: &str) -> Result<Attached> {
    let prefix = std::env::var("FARGUARD_BUS_PREFIX")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| farguard_bus::DEFAULT_PREFIX.to_string());
    let subjects = Subjects::new(&prefix)?;
    match AnyBus::parse(url, &subjects)? {
        AnyBus::Memory(_) => bail!(
            "`ingest --bus memory` would publish to no one: `farguard worker --input FILE` ingests and runs every stage in one process"
        ),
        nats => {
            let rt = runtime()?;
            let bus = rt.block_on(nats.connect())?;
            Ok(install(bus, rt, subjects, url, false))
        }
    }
}

// --- the worker --------------------------------------------------------------

/// What every stage thread shares.
#[derive(Debug)]
struct Shared {
    running: [bool; 5],
    exited: [AtomicBool; 5],
}

impl Shared {
    fn exited(&self, s: Stage) -> bool {
        self.exited[s.index()].load(Ordering::SeqCst)
    }
    fn exit(&self, s: Stage) {
        self.exited[s.index()].store(true, Ordering::SeqCst);
    }
}

/// Settings every stage thread reads.
#[derive(Debug)]
struct Settings {
    db: String,
    bus: AnyBus,
    subjects: Subjects,
    parts: Parts,
    clock: Clock,
    guideline: Option<PathBuf>,
    plans: Option<PathBuf>,
    notify: super::notify::ConfigArg,
    batch: usize,
    ack_wait: Duration,
    /// When a stage may exit once drained (`Some(0)`: as soon as it is).
    until_idle: Option<Duration>,
    crash: Option<Stage>,
    input: Vec<PathBuf>,
    sources: Option<PathBuf>,
    once: bool,
}

/// What one stage did.
#[derive(Debug, Default, Serialize, Clone)]
pub struct StageReport {
    pub stage: String,
    pub batches: u64,
    pub messages: u64,
    pub published: u64,
    pub duplicates_dropped: u64,
    pub dead_letters: u64,
    pub retries: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingested: Option<IngestSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Default, Serialize, Clone)]
pub struct IngestSummary {
    pub files: u64,
    pub read: u64,
    pub accepted: u64,
    pub duplicates: u64,
    pub quarantined: u64,
    pub failed_files: u64,
}

#[derive(Debug, Serialize)]
struct Report {
    bus: String,
    prefix: String,
    partitions: Vec<String>,
    stages: Vec<StageReport>,
    seconds: f64,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let started = Instant::now();
    let subjects = Subjects::new(&args.prefix)?;
    let bus = AnyBus::parse(&args.bus, &subjects)?;
    let mut chosen: BTreeSet<Stage> = BTreeSet::new();
    for s in &args.stage {
        if *s == Stage::All {
            chosen.extend(STAGES);
        } else {
            chosen.insert(*s);
        }
    }
    let parts: Parts = if args.partition.is_empty() {
        None
    } else {
        Some(
            args.partition
                .iter()
                .map(|p| Partition::parse(p))
                .collect::<Result<_, _>>()?,
        )
    };
    let in_process = matches!(bus, AnyBus::Memory(_));
    if chosen.contains(&Stage::Ingest) && args.input.is_empty() && args.sources.is_none() {
        bail!("the ingest stage needs --input FILE… or --sources FILE");
    }
    if !chosen.contains(&Stage::Ingest) && (!args.input.is_empty() || args.sources.is_some()) {
        bail!("--input and --sources feed the ingest stage: add it (--stage ingest,…)");
    }
    if in_process {
        // In one process, every stage from ingest up to the last one named
        // must run here: nothing else could feed them.
        let last = chosen.iter().next_back().copied().unwrap_or(Stage::Ingest);
        let missing: Vec<&str> = STAGES
            .iter()
            .filter(|s| **s <= last && !chosen.contains(s))
            .map(|s| s.name())
            .collect();
        if !missing.is_empty() {
            bail!(
                "the in-process bus runs the stages in this process, so {} must run here too (or use --bus nats://…)",
                missing.join(", ")
            );
        }
        if parts.is_some() {
            bail!("--partition splits work between processes: use it with --bus nats://…");
        }
    }
    let clock = match (&args.at, args.clock.as_str()) {
        (Some(t), _) => Clock::At(out::parse_time(t)?),
        (None, "wall") => Clock::Wall,
        _ => Clock::Data,
    };
    // Fail fast on a bad guideline or plan directory, before any thread starts.
    load_guideline(args.guideline.as_deref())?;
    if chosen.contains(&Stage::Respond) {
        plans::load(args.plans.as_deref())?;
    }
    if chosen.contains(&Stage::Notify) {
        args.notify.load()?;
    }
    let finite_input = args.sources.is_none() || args.once;
    let settings = Arc::new(Settings {
        db: ctx.db.clone(),
        bus,
        subjects,
        parts,
        clock,
        guideline: args.guideline.clone(),
        plans: args.plans.clone(),
        notify: args.notify.clone(),
        batch: args.batch.max(1),
        ack_wait: Duration::from_secs(args.ack_wait.max(1)),
        until_idle: if in_process {
            finite_input.then_some(Duration::ZERO)
        } else {
            args.until_idle.map(Duration::from_secs)
        },
        crash: args.crash_before_ack,
        input: args.input.clone(),
        sources: args.sources.clone(),
        once: args.once,
    });
    let mut running = [false; 5];
    for s in &chosen {
        running[s.index()] = true;
    }
    let shared = Arc::new(Shared {
        running,
        exited: Default::default(),
    });
    let mut threads = Vec::new();
    // Readers first, so the in-process bus has their queues before ingest publishes.
    for stage in chosen.iter().copied().rev() {
        let (settings, shared) = (settings.clone(), shared.clone());
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let h = std::thread::Builder::new()
            .name(format!("stage-{}", stage.name()))
            .spawn(move || {
                let r = if stage == Stage::Ingest {
                    drop(tx);
                    ingest_stage(&settings)
                } else {
                    consume_stage(stage, &settings, &shared, tx)
                };
                shared.exit(stage);
                r.unwrap_or_else(|e| StageReport {
                    stage: stage.name().to_string(),
                    error: Some(format!("{e:#}")),
                    ..Default::default()
                })
            })
            .context("starting a stage thread")?;
        threads.push(h);
        // Wait until a reader has subscribed (or failed): its sender goes then.
        let _ = rx.recv();
    }
    let mut reports: Vec<StageReport> = threads
        .into_iter()
        .map(|h| {
            h.join().unwrap_or_else(|_| StageReport {
                error: Some("the stage thread panicked".into()),
                ..Default::default()
            })
        })
        .collect();
    reports.reverse();
    let failed = reports.iter().any(|r| r.error.is_some());
    let report = Report {
        bus: match &settings.bus {
            AnyBus::Memory(_) => "memory".into(),
            AnyBus::Nats { url, .. } => url.clone(),
        },
        prefix: settings.subjects.prefix().to_string(),
        partitions: settings
            .parts
            .as_ref()
            .map(|p| p.iter().map(ToString::to_string).collect())
            .unwrap_or_default(),
        stages: reports,
        seconds: started.elapsed().as_secs_f64(),
    };
    if ctx.json {
        out::json(&report)?;
    } else {
        print_text(&report);
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn print_text(r: &Report) {
    println!(
        "worker on {} (prefix {}){}: {:.1} s",
        r.bus,
        r.prefix,
        if r.partitions.is_empty() {
            String::new()
        } else {
            format!(", partitions {}", r.partitions.join(","))
        },
        r.seconds
    );
    for s in &r.stages {
        match (&s.ingested, &s.error) {
            (_, Some(e)) => println!("  {:<8} failed: {e}", s.stage),
            (Some(i), None) => println!(
                "  {:<8} {} file(s): read {}, accepted {}, duplicates {}, quarantined {}{}; {} record(s) published ({} dropped as duplicates)",
                s.stage,
                i.files,
                i.read,
                i.accepted,
                i.duplicates,
                i.quarantined,
                if i.failed_files > 0 {
                    format!(", {} file(s) failed", i.failed_files)
                } else {
                    String::new()
                },
                s.published,
                s.duplicates_dropped
            ),
            (None, None) => println!(
                "  {:<8} {} message(s) in {} batch(es); published {} ({} dropped as duplicates); {} retried, {} dead letter(s)",
                s.stage,
                s.messages,
                s.batches,
                s.published,
                s.duplicates_dropped,
                s.retries,
                s.dead_letters
            ),
        }
    }
}

/// The ingest stage: files and/or live sources into the store, each stored
/// batch published.
fn ingest_stage(st: &Settings) -> Result<StageReport> {
    let rt = runtime()?;
    let bus = rt.block_on(st.bus.connect())?;
    let attached = install(bus, rt, st.subjects.clone(), "the bus", true);
    let mut store = farguard_store::open(&st.db)
        .with_context(|| format!("opening database {}", super::redact(&st.db)))?;
    let mut sum = IngestSummary::default();
    for input in &st.input {
        let files = match detect::expand(input) {
            Ok(f) => f,
            Err(e) => {
                tracing::error!("{e}");
                sum.failed_files += 1;
                continue;
            }
        };
        for p in files {
            let name = p.display().to_string();
            let counts = detect::read_file(&p)
                .and_then(|b| super::ingest::ingest_bytes(store.as_mut(), &name, &b, None, None));
            match counts {
                Ok(c) => {
                    sum.files += 1;
                    sum.read += c.read;
                    sum.accepted += c.accepted;
                    sum.duplicates += c.duplicates;
                    sum.quarantined += c.quarantined;
                }
                Err(e) => {
                    tracing::error!(file = %name, "not ingested: {e}");
                    sum.failed_files += 1;
                }
            }
        }
    }
    if let Some(path) = &st.sources {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the sources file {name}"))?;
        let file = farguard_sources::fetch::SourcesFile::parse(&name, &text)?;
        let fetcher =
            farguard_sources::fetch::Fetcher::new(Duration::from_secs(file.defaults.timeout_secs));
        loop {
            for o in super::watch::round(store.as_mut(), &file, &fetcher, Utc::now(), None)? {
                sum.read += o.read;
                sum.accepted += o.accepted;
                sum.duplicates += o.duplicates;
                sum.quarantined += o.quarantined;
                if o.status == "failed" {
                    sum.failed_files += 1;
                }
            }
            if st.once {
                break;
            }
            std::thread::sleep(Duration::from_secs(30));
        }
    }
    let (published, dups) = attached.published();
    Ok(StageReport {
        stage: "ingest".into(),
        published,
        duplicates_dropped: dups,
        ingested: Some(sum),
        ..Default::default()
    })
}

/// A bus-reading stage on its own thread. The runtime serves the bus only:
/// store calls run outside it (the PostgreSQL client blocks on a runtime
/// of its own), on this thread, while the runtime's worker keeps the NATS
/// connection served.
fn consume_stage(
    stage: Stage,
    st: &Settings,
    shared: &Shared,
    ready: std::sync::mpsc::Sender<()>,
) -> Result<StageReport> {
    let rt = runtime()?;
    let store = || {
        farguard_store::open(&st.db)
            .with_context(|| format!("opening database {}", super::redact(&st.db)))
    };
    let guideline = || load_guideline(st.guideline.as_deref());
    let subjects = st.subjects.clone();
    let bus = rt.block_on(st.bus.connect())?;
    let l = Loop {
        rt: &rt,
        stage,
        st,
        shared,
    };
    match stage {
        Stage::Grade => {
            let h = stages::Grade {
                store: store()?,
                guideline: guideline()?,
                clock: st.clock,
                parts: st.parts.clone(),
                subjects,
                pending: vec![],
            };
            l.on(&bus, h, ready)
        }
        Stage::Expose => {
            let h = stages::Expose {
                store: store()?,
                guideline: guideline()?,
                subjects,
            };
            l.on(&bus, h, ready)
        }
        Stage::Respond => {
            let h = stages::Respond {
                store: store()?,
                library: plans::load(st.plans.as_deref())?.0,
                subjects,
                pending: vec![],
            };
            l.on(&bus, h, ready)
        }
        Stage::Notify => {
            let h = stages::Notify {
                store: store()?,
                config: st.notify.load()?,
            };
            l.on(&bus, h, ready)
        }
        Stage::Ingest | Stage::All => bail!("not a bus-reading stage"),
    }
}

/// One stage's loop: its runtime, settings and the process's stages.
struct Loop<'a> {
    rt: &'a tokio::runtime::Runtime,
    stage: Stage,
    st: &'a Settings,
    shared: &'a Shared,
}

impl Loop<'_> {
    fn on<H: Handler>(
        &self,
        bus: &Connected,
        h: H,
        ready: std::sync::mpsc::Sender<()>,
    ) -> Result<StageReport> {
        match bus {
            Connected::Memory(b) => self.consume(b, h, ready),
            Connected::Nats(b) => self.consume(b.as_ref(), h, ready),
        }
    }

    /// Fetch, check, handle, publish, store, ack; retry what failed.
    fn consume<T: Transport, H: Handler>(
        &self,
        bus: &T,
        mut h: H,
        ready: std::sync::mpsc::Sender<()>,
    ) -> Result<StageReport> {
        let (rt, stage, st) = (self.rt, self.stage, self.st);
        let topic = stage.input().context("not a bus-reading stage")?;
        let filters = match &st.parts {
            None => vec![st.subjects.filter(topic, None)],
            Some(ps) => ps
                .iter()
                .map(|p| st.subjects.filter(topic, Some(p)))
                .collect(),
        };
        let mut sub = rt.block_on(bus.subscribe(&Subscribe {
            durable: stage.name().to_string(),
            filters,
            ack_wait: st.ack_wait,
        }))?;
        drop(ready);
        let mut rep = StageReport {
            stage: stage.name().to_string(),
            ..Default::default()
        };
        let mut idle_since = Instant::now();
        let mut fetch_errors = 0u32;
        // Draining (exit when done): look again soon, so a stage stops soon
        // after the one before it. Otherwise a long poll costs nothing.
        let wait = Duration::from_millis(if st.until_idle == Some(Duration::ZERO) {
            50
        } else {
            500
        });
        loop {
            let msgs = match rt.block_on(sub.fetch(st.batch, wait)) {
                Ok(m) => {
                    fetch_errors = 0;
                    m
                }
                Err(e) => {
                    fetch_errors += 1;
                    tracing::warn!(
                        stage = stage.name(),
                        tries = fetch_errors,
                        "fetch failed: {e}"
                    );
                    std::thread::sleep(Duration::from_secs(u64::from(fetch_errors.min(30))));
                    continue;
                }
            };
            if msgs.is_empty() {
                if self.may_exit(bus, &mut sub, idle_since)? {
                    return Ok(rep);
                }
                continue;
            }
            rep.batches += 1;
            rep.messages += msgs.len() as u64;
            let mut good = Vec::new();
            let mut good_msgs = Vec::new();
            let mut dead = Vec::new();
            let mut dead_msgs = Vec::new();
            for m in msgs {
                let checked = message::decode::<H::In>(m.subject(), m.payload())
                    .and_then(|v| h.check(m.subject(), v));
                match checked {
                    Ok(c) => {
                        good.push(c);
                        good_msgs.push(m);
                    }
                    Err(e) => {
                        tracing::error!(
                            stage = stage.name(),
                            subject = m.subject(),
                            "unreadable message kept as a dead letter: {e}"
                        );
                        dead.push(self.dead_letter(&m, &e.to_string()));
                        dead_msgs.push(m);
                    }
                }
            }
            if !dead.is_empty() {
                // Kept on the bus (`<prefix>.dead.<stage>`) before the ack.
                let p = rt.block_on(bus.publish(&dead))?;
                rep.dead_letters += p.stored + p.duplicates;
                rt.block_on(farguard_bus::ack_all(dead_msgs))?;
            }
            if !good.is_empty() {
                match h.handle(&good) {
                    Ok(out) => self.commit(bus, &mut h, &mut rep, out, good_msgs)?,
                    Err(e) if good.len() == 1 => {
                        for m in good_msgs {
                            self.retry_later(bus, m, &e, &mut rep)?;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(
                            stage = stage.name(),
                            "batch failed, retrying its messages one by one: {e:#}"
                        );
                        for (c, m) in good.iter().zip(good_msgs) {
                            match h.handle(std::slice::from_ref(c)) {
                                Ok(out) => self.commit(bus, &mut h, &mut rep, out, vec![m])?,
                                Err(e) => self.retry_later(bus, m, &e, &mut rep)?,
                            }
                        }
                    }
                }
            }
            idle_since = Instant::now();
        }
    }

    fn dead_letter<M: Received>(&self, m: &M, error: &str) -> Outgoing {
        message::encode(
            &self.st.subjects,
            &DeadLetter {
                v: VERSION,
                stage: self.stage.name().to_string(),
                subject: m.subject().to_string(),
                error: error.to_string(),
                payload: String::from_utf8_lossy(m.payload()).into_owned(),
            },
        )
    }

    /// Publishes a batch's output, stores the handler's work, then
    /// acknowledges the input.
    fn commit<T: Transport, H: Handler>(
        &self,
        bus: &T,
        h: &mut H,
        rep: &mut StageReport,
        out: Vec<Outgoing>,
        msgs: Vec<<T::Sub as Subscription>::Msg>,
    ) -> Result<()> {
        let (rt, stage) = (self.rt, self.stage);
        if !out.is_empty() {
            match rt.block_on(bus.publish(&out)) {
                Ok(p) => {
                    rep.published += p.stored;
                    rep.duplicates_dropped += p.duplicates;
                }
                Err(e) => {
                    // Not acked: delivered again once the bus is back.
                    tracing::error!(stage = stage.name(), "publishing the output failed: {e}");
                    for m in msgs {
                        let delay = backoff(m.delivered());
                        rt.block_on(m.nak(delay)).ok();
                    }
                    rep.retries += 1;
                    return Ok(());
                }
            }
        }
        if let Err(e) = h.store() {
            // Not acked: handled again (the same output, dropped as duplicates).
            for m in msgs {
                self.retry_later(bus, m, &e, rep)?;
            }
            return Ok(());
        }
        if self.st.crash == Some(stage) {
            eprintln!(
                "{}: crash injected after publishing and storing, before the ack",
                stage.name()
            );
            std::process::exit(CRASH_EXIT);
        }
        rt.block_on(farguard_bus::ack_all(msgs))?;
        Ok(())
    }

    /// A message whose handling failed: delivered again after a backoff;
    /// after `MAX_TRIES`, kept as a dead letter with the error, so one
    /// message that can never be handled does not hold its stage for ever.
    fn retry_later<T: Transport>(
        &self,
        bus: &T,
        m: <T::Sub as Subscription>::Msg,
        e: &anyhow::Error,
        rep: &mut StageReport,
    ) -> Result<()> {
        let (rt, stage) = (self.rt, self.stage);
        if e.downcast_ref::<stages::NotYet>().is_some() && m.delivered() < 10 * MAX_TRIES {
            tracing::debug!(
                stage = stage.name(),
                tries = m.delivered(),
                "{e:#}: again shortly"
            );
            rt.block_on(m.nak(Duration::from_millis(300)))?;
            return Ok(());
        }
        if m.delivered() >= MAX_TRIES {
            tracing::error!(
                stage = stage.name(),
                subject = m.subject(),
                tries = m.delivered(),
                "handling keeps failing, kept as a dead letter: {e:#}"
            );
            let dead = self.dead_letter(&m, &format!("{e:#}"));
            rt.block_on(bus.publish(&[dead]))?;
            rep.dead_letters += 1;
            return rt.block_on(m.ack()).map_err(Into::into);
        }
        let delay = backoff(m.delivered());
        tracing::error!(stage = stage.name(), subject = m.subject(), tries = m.delivered(), retry_in = ?delay, "handling failed: {e:#}");
        rep.retries += 1;
        rt.block_on(m.nak(delay))?;
        Ok(())
    }

    /// A stage may stop when everything before it has stopped or drained,
    /// it has nothing left itself, and it has been idle long enough.
    fn may_exit<T: Transport>(
        &self,
        bus: &T,
        sub: &mut T::Sub,
        idle_since: Instant,
    ) -> Result<bool> {
        let Some(limit) = self.st.until_idle else {
            return Ok(false);
        };
        if idle_since.elapsed() < limit {
            return Ok(false);
        }
        for up in STAGES.iter().copied().filter(|s| *s < self.stage) {
            if self.shared.running[up.index()] {
                if !self.shared.exited(up) {
                    return Ok(false);
                }
            } else if up != Stage::Ingest
                && self
                    .rt
                    .block_on(bus.backlog_of(up.name()))?
                    .is_some_and(|n| n > 0)
            {
                return Ok(false);
            }
        }
        Ok(self.rt.block_on(sub.backlog())? == 0)
    }
}

fn backoff(delivered: u64) -> Duration {
    Duration::from_secs(1u64 << delivered.saturating_sub(1).min(6)).min(Duration::from_secs(60))
}

/// Deliveries of a message whose handling keeps failing before it is set
/// aside as a dead letter (with backoff, about four minutes: long enough to
/// ride out a database restart).
pub const MAX_TRIES: u64 = 10;
