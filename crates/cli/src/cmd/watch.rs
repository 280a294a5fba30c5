//! `farguard watch`: poll the live sources of a sources file, ingest what is
//! new, and keep each source's polling state in the store so a restart
//! resumes where it stopped (conditional GET; GDELT's last export) without
//! re-ingesting.

use super::Ctx;
use super::ingest::ingest_bytes;
use crate::out;
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use farguard_sources::fetch::{
    Fetcher, PollState, Polled, SourcesFile, backoff, jitter_unit, poll,
};
use farguard_store::{FeedState, Store};
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The sources file (see the comments in the shipped one).
    #[arg(long, default_value = "config/sources.toml")]
    config: PathBuf,
    /// Poll every due source once and exit (for cron, and for tests).
    #[arg(long)]
    once: bool,
    /// Only this source (by name).
    #[arg(long)]
    only: Option<String>,
}

/// What one source did in one round.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Outcome {
    pub source: String,
    /// not_due, unchanged, ingested, failed
    pub status: &'static str,
    pub read: u64,
    pub accepted: u64,
    pub duplicates: u64,
    pub quarantined: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_at: Option<String>,
}

fn to_poll(s: &FeedState) -> PollState {
    PollState {
        etag: s.etag.clone(),
        last_modified: s.last_modified.clone(),
        last_key: s.last_key.clone(),
        last_ok_at: s.last_ok_at,
        failures: s.failures,
        next_at: s.next_at,
        last_error: s.last_error.clone(),
    }
}

fn to_feed(name: &str, url: &str, p: &PollState) -> FeedState {
    FeedState {
        name: name.to_string(),
        url: url.to_string(),
        etag: p.etag.clone(),
        last_modified: p.last_modified.clone(),
        last_key: p.last_key.clone(),
        last_ok_at: p.last_ok_at,
        failures: p.failures,
        next_at: p.next_at,
        last_error: p.last_error.clone(),
    }
}

/// Polls every enabled (and, with `only`, named) source that is due at
/// `now`, ingests what is new, and saves each source's state after its
/// records are stored.
pub fn round(
    store: &mut dyn Store,
    file: &SourcesFile,
    fetcher: &Fetcher,
    now: DateTime<Utc>,
    only: Option<&str>,
) -> Result<Vec<Outcome>> {
    let mut out = Vec::new();
    for s in file
        .sources
        .iter()
        .filter(|s| s.enabled && only.is_none_or(|o| o == s.name))
    {
        let saved = store.feed_state(&s.name)?;
        // A changed URL starts afresh: its validators belong to the old one.
        let state = saved
            .filter(|f| f.url == s.url)
            .map(|f| to_poll(&f))
            .unwrap_or_default();
        let (polled, mut next) = poll(fetcher, s, &file.defaults, &state, now, jitter_unit());
        let mut o = Outcome {
            source: s.name.clone(),
            status: "unchanged",
            read: 0,
            accepted: 0,
            duplicates: 0,
            quarantined: 0,
            error: None,
            next_at: None,
        };
        match polled {
            Polled::NotDue => o.status = "not_due",
            Polled::Unchanged => {}
            Polled::Failed(e) => {
                tracing::warn!(source = %s.name, failures = next.failures, "poll failed: {e}");
                o.status = "failed";
                o.error = Some(e);
            }
            Polled::New { url, bytes, format } => {
                match ingest_bytes(store, &url, &bytes, format, None) {
                    Ok(c) => {
                        o.status = "ingested";
                        (o.read, o.accepted, o.duplicates, o.quarantined) =
                            (c.read, c.accepted, c.duplicates, c.quarantined);
                    }
                    Err(e) => {
                        // Not readable (an HTML error page, a cut-off body):
                        // a failure like any other, retried with backoff and
                        // without the new validators, so the next poll refetches.
                        let mut failed = state.clone();
                        failed.failures = state.failures.saturating_add(1);
                        let wait = backoff(
                            failed.failures,
                            Duration::from_secs(file.defaults.backoff_secs),
                            Duration::from_secs(file.defaults.backoff_max_secs),
                            jitter_unit(),
                        );
                        failed.next_at = Some(
                            now + chrono::TimeDelta::from_std(wait)
                                .unwrap_or(chrono::TimeDelta::hours(1)),
                        );
                        failed.last_error = Some(e.to_string());
                        next = failed;
                        o.status = "failed";
                        o.error = Some(e.to_string());
                    }
                }
            }
        }
        o.next_at = next.next_at.map(|t| t.to_rfc3339());
        if o.status != "not_due" {
            store.save_feed_state(&to_feed(&s.name, &s.url, &next))?;
        }
        out.push(o);
    }
    Ok(out)
}

fn print(outcomes: &[Outcome], json: bool) -> Result<()> {
    if json {
        return out::json(&outcomes);
    }
    for o in outcomes.iter().filter(|o| o.status != "not_due") {
        match &o.error {
            Some(e) => println!(
                "{}: failed: {e} (next try {})",
                o.source,
                o.next_at.as_deref().unwrap_or("?")
            ),
            None => println!(
                "{}: {} — read {}, accepted {}, duplicates {}, quarantined {}",
                o.source, o.status, o.read, o.accepted, o.duplicates, o.quarantined
            ),
        }
    }
    Ok(())
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let name = args.config.display().to_string();
    let text = std::fs::read_to_string(&args.config)
        .with_context(|| format!("reading the sources file {name}"))?;
    let file = SourcesFile::parse(&name, &text)?;
    if let Some(o) = &args.only {
        anyhow::ensure!(
            file.sources.iter().any(|s| &s.name == o),
            "{name}: no source named {o:?}"
        );
    }
    let fetcher = Fetcher::new(Duration::from_secs(file.defaults.timeout_secs));
    let mut store = ctx.store()?;
    loop {
        let outcomes = round(
            store.as_mut(),
            &file,
            &fetcher,
            Utc::now(),
            args.only.as_deref(),
        )?;
        print(&outcomes, ctx.json)?;
        if args.once {
            let failed = outcomes.iter().any(|o| o.status == "failed");
            return Ok(if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            });
        }
        // Sleep until the next source is due (at most a minute, at least a second).
        let mut wake = Utc::now() + chrono::TimeDelta::seconds(60);
        for s in file.sources.iter().filter(|s| s.enabled) {
            if let Some(t) = store.feed_state(&s.name)?.and_then(|f| f.next_at) {
                wake = wake.min(t);
            }
        }
        let wait = (wake - Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO)
            .max(Duration::from_secs(1));
        std::thread::sleep(wait);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use farguard_store::{FeedStore, SqliteStore};
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::{Arc, Mutex};

    fn data(rel: &str) -> Vec<u8> {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../data")
                .join(rel),
        )
        .unwrap()
    }

    /// A local HTTP/1.1 server for the real files: ETags from the body
    /// length, `/flaky` failing its first `fail` requests with an HTML page.
    fn serve(routes: Vec<(&'static str, Vec<u8>)>, fail: u32) -> (String, Arc<Mutex<Vec<String>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let log = Arc::new(Mutex::new(Vec::new()));
        let seen = log.clone();
        let n = Arc::new(AtomicU32::new(0));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut req = String::new();
                let _ = reader.read_line(&mut req);
                let mut inm = None;
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                    if let Some(v) = h.to_ascii_lowercase().strip_prefix("if-none-match:") {
                        inm = Some(v.trim().to_string());
                    }
                }
                let path = req.split_whitespace().nth(1).unwrap_or("/").to_string();
                seen.lock().unwrap().push(path.clone());
                let body = routes
                    .iter()
                    .find(|(p, _)| *p == path)
                    .map(|(_, b)| b.clone());
                let (status, body, etag) = match body {
                    // A proxy's error page with status 200: must not be ingested.
                    _ if path == "/flaky" && n.fetch_add(1, Ordering::SeqCst) < fail => (
                        "200 OK",
                        b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>".to_vec(),
                        None,
                    ),
                    Some(b) => {
                        let e = format!("\"{}\"", b.len());
                        if inm.as_deref() == Some(e.as_str()) {
                            ("304 Not Modified", Vec::new(), Some(e))
                        } else {
                            ("200 OK", b, Some(e))
                        }
                    }
                    None => ("404 Not Found", Vec::new(), None),
                };
                let mut head = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
                    body.len()
                );
                if let Some(e) = etag {
                    head.push_str(&format!("ETag: {e}\r\n"));
                }
                head.push_str("\r\n");
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            }
        });
        (base, log)
    }

    #[test]
    fn watch_ingests_once_survives_a_restart_and_recovers_a_failing_feed() {
        let usgs = data("feeds/usgs/all_day_2019-11-21.geojson");
        let gdacs = data("feeds/gdacs/gdacs-1.xml");
        let (base, log) = serve(vec![("/usgs", usgs), ("/flaky", gdacs)], 1);
        let toml = format!(
            "[defaults]\nbackoff_secs = 30\n\n[[source]]\nname = \"usgs\"\nurl = \"{base}/usgs\"\nformat = \"usgs\"\ninterval_secs = 300\n\n\
             [[source]]\nname = \"gdacs\"\nurl = \"{base}/flaky\"\ninterval_secs = 300\n"
        );
        let file = SourcesFile::parse("test.toml", &toml).unwrap();
        let fetcher = Fetcher::new(Duration::from_secs(10));
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("watch.db");
        let t0 = Utc::now();

        let mut store = SqliteStore::open(&db).unwrap();
        let r = round(&mut store, &file, &fetcher, t0, None).unwrap();
        assert_eq!(
            (r[0].status, r[0].read, r[0].accepted),
            ("ingested", 268, 260)
        );
        assert_eq!(r[1].status, "failed", "an HTML page served as the feed");
        assert!(
            r[1].error.as_deref().unwrap().contains("HTML page"),
            "{:?}",
            r[1].error
        );
        drop(store);

        // Restart: a new process opens the same database.
        let mut store = SqliteStore::open(&db).unwrap();
        let r = round(
            &mut store,
            &file,
            &fetcher,
            t0 + chrono::TimeDelta::seconds(10),
            None,
        )
        .unwrap();
        assert_eq!((r[0].status, r[1].status), ("not_due", "not_due"));
        let t1 = t0 + chrono::TimeDelta::seconds(301);
        let r = round(&mut store, &file, &fetcher, t1, None).unwrap();
        assert_eq!(
            (r[0].status, r[0].accepted),
            ("unchanged", 0),
            "304: nothing re-ingested"
        );
        assert_eq!((r[1].status, r[1].accepted), ("ingested", 4), "recovered");
        assert_eq!(store.feed_state("gdacs").unwrap().unwrap().failures, 0);
        drop(store);

        let mut store = SqliteStore::open(&db).unwrap();
        let r = round(
            &mut store,
            &file,
            &fetcher,
            t1 + chrono::TimeDelta::seconds(301),
            None,
        )
        .unwrap();
        assert!(
            r.iter().all(|o| o.status == "unchanged" && o.accepted == 0),
            "{r:?}"
        );
        assert_eq!(store.count_events().unwrap(), 264);
        assert_eq!(log.lock().unwrap().len(), 6, "two sources × three polls");
    }
}
