//! The `farguard` binary: parses arguments and wires the pipeline stages.
//! Every command lives in `cmd/`; this file only dispatches.

mod cmd;
mod embedded;
mod out;

// The whole pipeline allocates many small, short-lived values per record
// (an event's strings and lists); mimalloc serves them faster than the
// system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// farguard — protect interests abroad: know what you have, know what
/// threatens it now, act by a graded plan, reach every person.
///
/// Start with `farguard demo`: it loads the real data the project ships into
/// a fresh SQLite file, grades country risk and shows which ports and
/// airports recent events touch, and why.
#[derive(Debug, Parser)]
#[command(name = "farguard", version, propagate_version = true)]
struct Cli {
    /// Database: a SQLite file path (created if missing) or a
    /// postgres://user@host/db URL.
    #[arg(
        long,
        global = true,
        env = "FARGUARD_DB",
        default_value = "farguard.db"
    )]
    db: String,

    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Read risk intelligence into the store: GDELT 2.0/1.0, ACLED CSV, CAP
    /// alerts and CAP Atom indexes, GDACS RSS, USGS GeoJSON, RSS/Atom news
    /// and field-report JSON — files, directories, `.gz`/`.zip`, or `-` for
    /// stdin; the format is told from the content (`--format` to force it).
    ///
    /// Idempotent: ingesting the same input twice accepts nothing the second
    /// time. A bad record is quarantined with its place (line, item) and
    /// reason and the rest goes on; `farguard quarantine list|show|retry`
    /// deals with it. Reports of one hazard from several sources are merged
    /// (`farguard merged`). Exits non-zero when nothing could be read, a
    /// file could not be read at all, or with --strict when anything was
    /// quarantined.
    Ingest(cmd::ingest::Args),
    /// Import registry files (orgs, sites, people, itineraries,
    /// dependencies; CSV or GeoJSON), upserting by id, bad rows reported.
    #[command(subcommand)]
    Import(cmd::import::Target),
    /// Write the registry back out as CSV or GeoJSON (re-importable).
    Export(cmd::export::Args),
    /// The dependency graph: single points of failure, disruption paths.
    #[command(subcommand)]
    Graph(cmd::graph::Action),
    /// Grade every country × category as of a time, with explanations.
    Assess(cmd::assess::Args),
    /// Classify free text (Chinese or English) with the explainable rules.
    Classify(cmd::classify::Args),
    /// Explain one area's level: indicators, thresholds crossed, surge test
    /// and the top contributing events with their links.
    #[command(subcommand)]
    Risk(cmd::risk::Action),
    /// Replay stored history day by day under a guideline: level changes,
    /// alerts, and how early known crises reached level II.
    Backtest(cmd::backtest::Args),
    /// Which sites, people and dependent sites an event or an area touches.
    Exposure(cmd::exposure::Args),
    /// Work with risk guideline files.
    #[command(subcommand)]
    Guideline(cmd::guideline::Action),
    /// Poll the live sources of config/sources.toml and ingest what is new
    /// (conditional GET, backoff with jitter, GDELT lastupdate.txt); resumes
    /// after a restart without re-ingesting. --once for one round.
    Watch(cmd::watch::Args),
    /// Events that report one hazard or incident across sources, and why.
    Merged(cmd::merged::Args),
    /// Inspect records that could not be read: list, show, retry.
    #[command(subcommand)]
    Quarantine(cmd::quarantine::Action),
    /// Work with response plan files (预案): validate them.
    #[command(subcommand)]
    Plans(cmd::plans::Action),
    /// Response incidents: trigger plans on graded levels and exposures,
    /// sweep for overdue tasks and stand-downs, list, show, activate, close, review.
    #[command(subcommand)]
    Incidents(cmd::incidents::Action),
    /// Acknowledge or complete an incident task (task-force members only).
    #[command(subcommand)]
    Task(cmd::task::Action),
    /// Situation report of one incident, Markdown or --html.
    Sitrep(cmd::sitrep::Args),
    /// Replay a drill scenario on a simulated clock and score it.
    #[command(subcommand)]
    Drill(cmd::drill::Action),
    /// Serve the HTTP API (OpenAPI at /openapi.json) and the web UI.
    ///
    /// Start with `farguard serve --demo`: it builds the demo database and
    /// prints a login. Otherwise create the first coordinator with
    /// `farguard user add --role coordinator …` and log in with its token.
    Serve(cmd::serve::Args),
    /// Accounts for the API and the UI: add (prints a token once), list.
    #[command(subcommand)]
    User(cmd::user::Action),
    /// The hash-chained audit log of every write: verify, list.
    #[command(subcommand)]
    Audit(cmd::audit::Action),
    /// Alerts: compose for an incident or event (exactly its exposed people
    /// and organisations, zh/en), list, show (--cap for CAP 1.2).
    #[command(subcommand)]
    Alerts(cmd::alerts::Action),
    /// Deliver the durable outbox (webhook, e-mail, SMS, file), inspect it, benchmark it.
    #[command(subcommand)]
    Notify(cmd::notify::Action),
    /// Safety check-in: accountability (reached, safe, need help, no answer),
    /// answers by link token or SMS code, reminders.
    #[command(subcommand)]
    Checkin(cmd::checkin::Action),
    /// Run the whole loop on the shipped real data in a fresh SQLite file.
    Demo(cmd::demo::Args),
    /// Whole-pipeline benchmarks with a baseline measured in the same run.
    #[command(subcommand)]
    Bench(cmd::bench::Which),
    /// Run pipeline stages over the stage bus: every stage in this process
    /// (default, in-process queues), or stages as separate workers over NATS
    /// JetStream (--bus nats://…), partitioned by country.
    ///
    /// Each stage reads its input durably, publishes its output, stores its
    /// work and only then acknowledges, so a worker may be stopped or
    /// killed at any moment: what it held is delivered again, and handlers
    /// are idempotent. `farguard ingest --bus URL` feeds the workers.
    Worker(cmd::worker::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FARGUARD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let ctx = cmd::Ctx {
        db: cli.db,
        json: cli.json,
    };
    let result = match cli.command {
        Command::Ingest(a) => cmd::ingest::run(&ctx, a),
        Command::Import(t) => cmd::import::run(&ctx, t),
        Command::Export(a) => cmd::export::run(&ctx, a),
        Command::Graph(a) => cmd::graph::run(&ctx, a),
        Command::Assess(a) => cmd::assess::run(&ctx, a),
        Command::Classify(a) => cmd::classify::run(&ctx, a),
        Command::Risk(a) => cmd::risk::run(&ctx, a),
        Command::Backtest(a) => cmd::backtest::run(&ctx, a),
        Command::Exposure(a) => cmd::exposure::run(&ctx, a),
        Command::Guideline(a) => cmd::guideline::run(&ctx, a),
        Command::Quarantine(a) => cmd::quarantine::run(&ctx, a),
        Command::Merged(a) => cmd::merged::run(&ctx, a),
        Command::Watch(a) => cmd::watch::run(&ctx, a),
        Command::Plans(a) => cmd::plans::run(&ctx, a),
        Command::Incidents(a) => cmd::incidents::run(&ctx, a),
        Command::Task(a) => cmd::task::run(&ctx, a),
        Command::Sitrep(a) => cmd::sitrep::run(&ctx, a),
        Command::Drill(a) => cmd::drill::run(&ctx, a),
        Command::Serve(a) => cmd::serve::run(&ctx, a),
        Command::User(a) => cmd::user::run(&ctx, a),
        Command::Audit(a) => cmd::audit::run(&ctx, a),
        Command::Alerts(a) => cmd::alerts::run(&ctx, a),
        Command::Notify(a) => cmd::notify::run(&ctx, a),
        Command::Checkin(a) => cmd::checkin::run(&ctx, a),
        Command::Demo(a) => cmd::demo::run(&ctx, a),
        Command::Bench(w) => cmd::bench::run(&ctx, w),
        Command::Worker(a) => cmd::worker::run(&ctx, a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}
