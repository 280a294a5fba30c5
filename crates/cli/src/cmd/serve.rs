//! `farguard serve`: the HTTP API and the web UI on one address, until
//! Ctrl-C or SIGTERM (in-flight requests finish first). With `--demo` it
//! first builds the demo database exactly as `farguard demo` does, adds a
//! demo coordinator, and serves that.

use super::Ctx;
use anyhow::{Context, Result};
use clap::FromArgMatches;
use farguard_server::access::{NewUser, create_user_blocking};
use farguard_server::{AppState, Config};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8080", env = "FARGUARD_LISTEN")]
    listen: String,
    /// Store connections for reads (SQLite readers run in parallel in WAL
    /// mode); writes go through one more connection, grouped into shared
    /// transactions.
    #[arg(long, default_value_t = 4)]
    pool: usize,
    /// Response plans served at /api/v1/plans: a directory of *.toml
    /// (default: ./config/plans when present, else the shipped plans).
    #[arg(long)]
    plans: Option<std::path::PathBuf>,
    /// Sustained requests per second per client (token or address); 0 = off.
    #[arg(long, default_value_t = 50)]
    rate_limit: u32,
    /// Requests a client may burst above the sustained rate.
    #[arg(long, default_value_t = 200)]
    rate_burst: u32,
    /// Largest request body in bytes (bigger answers 413).
    #[arg(long, default_value_t = 1 << 20)]
    max_body: usize,
    /// Mark the session cookie Secure (when served behind TLS).
    #[arg(long)]
    secure_cookies: bool,
    /// Build the demo database (as `farguard demo`, into farguard-demo.db),
    /// add the coordinator `demo` with password `farguard-demo-password`, and
    /// serve it. --db is ignored.
    #[arg(long)]
    demo: bool,
}

const DEMO_DB: &str = "farguard-demo.db";
const DEMO_USER: &str = "demo";
const DEMO_PASSWORD: &str = "farguard-demo-password";

fn build_demo(ctx: &Ctx) -> Result<String> {
    let cmd = <super::demo::Args as clap::Args>::augment_args(clap::Command::new("demo"));
    let m = cmd.try_get_matches_from(["demo", "--out", DEMO_DB])?;
    let args = super::demo::Args::from_arg_matches(&m)?;
    let quiet = Ctx {
        db: DEMO_DB.into(),
        json: ctx.json,
    };
    super::demo::run(&quiet, args)?;
    let mut store = farguard_store::open(DEMO_DB).context("opening the demo database")?;
    let hash =
        farguard_server::auth::hash_password(DEMO_PASSWORD).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (_, token) = create_user_blocking(
        store.as_mut(),
        "cli:demo",
        &NewUser {
            name: DEMO_USER.into(),
            role: "coordinator".into(),
            org: None,
            country: None,
            person: None,
            password: Some(DEMO_PASSWORD.into()),
        },
        Some(hash),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(token.expose().to_string())
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let demo_token = if args.demo {
        Some(build_demo(ctx)?)
    } else {
        None
    };
    let db = if args.demo {
        DEMO_DB.to_string()
    } else {
        ctx.db.clone()
    };
    let plans = match &args.plans {
        Some(d) => super::plans::read_dir(d)?,
        None if std::path::Path::new("config/plans").is_dir() => {
            super::plans::read_dir(std::path::Path::new("config/plans"))?
        }
        None => super::plans::SHIPPED
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect(),
    };
    let config = Config {
        pool_size: args.pool.max(1),
        plans,
        max_body: args.max_body,
        rate_per_sec: args.rate_limit,
        rate_burst: args.rate_burst,
        secure_cookies: args.secure_cookies,
        ..Config::default()
    };
    let state = AppState::open(&db, config)
        .with_context(|| format!("opening database {}", super::redact(&db)))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("--listen {}: cannot bind", args.listen))?;
        let addr = listener.local_addr()?;
        eprintln!("farguard serving {} on http://{addr}/", super::redact(&db));
        eprintln!("  API document: http://{addr}/openapi.json   probes: /healthz /readyz   metrics: /metrics");
        if let Some(t) = &demo_token {
            eprintln!("  demo login: name {DEMO_USER}, password {DEMO_PASSWORD}");
            eprintln!("  demo API token (coordinator): {t}");
        }
        eprintln!("  stop with Ctrl-C");
        farguard_server::run(listener, state, shutdown_signal()).await?;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    eprintln!("shutting down: finishing requests in flight");
}
