//! Polling against a local HTTP server that this test starts, serving the
//! real feed files: conditional GET, a source that fails and recovers under
//! backoff, and GDELT's lastupdate.txt protocol.

use crate::feeds::feeds;
use chrono::{TimeDelta, Utc};
use farguard_sources::Format;
use farguard_sources::fetch::{Defaults, Fetcher, PollState, Polled, SourceConfig, poll};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A minimal HTTP/1.1 server: `routes` maps a path to a body; `/flaky`
/// answers 503 for its first `fail` requests. Honors `If-None-Match`
/// against an ETag derived from the body length. Returns the base URL and
/// the request log.
pub fn serve(routes: Vec<(&'static str, Vec<u8>)>, fail: u32) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = log.clone();
    let failures = Arc::new(AtomicU32::new(0));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            let mut if_none_match = None;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("if-none-match:") {
                    if_none_match = Some(v.trim().to_string());
                }
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
            seen.lock().unwrap().push(format!(
                "{path} {}",
                if_none_match.as_deref().unwrap_or("-")
            ));
            let body = routes
                .iter()
                .find(|(p, _)| *p == path)
                .map(|(_, b)| b.clone());
            let (status, body, etag) = match body {
                _ if path == "/flaky" && failures.fetch_add(1, Ordering::SeqCst) < fail => (
                    "503 Service Unavailable",
                    b"<html>busy</html>".to_vec(),
                    None,
                ),
                Some(b) => {
                    let etag = format!("\"{}\"", b.len());
                    if if_none_match.as_deref() == Some(etag.as_str()) {
                        ("304 Not Modified", Vec::new(), Some(etag))
                    } else {
                        ("200 OK", b, Some(etag))
                    }
                }
                None => ("404 Not Found", b"no such feed".to_vec(), None),
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

fn source(name: &str, url: String, format: &str) -> SourceConfig {
    SourceConfig {
        name: name.into(),
        url,
        format: format.into(),
        interval_secs: 300,
        enabled: true,
    }
}

#[test]
fn conditional_get_fetches_a_feed_once() {
    let usgs = std::fs::read(feeds("usgs/all_day_2019-11-21.geojson")).unwrap();
    let (base, log) = serve(vec![("/usgs", usgs.clone())], 0);
    let f = Fetcher::new(Duration::from_secs(10));
    let d = Defaults::default();
    let s = source("usgs", format!("{base}/usgs"), "usgs");
    let now = Utc::now();
    let (p, st) = poll(&f, &s, &d, &PollState::default(), now, 0.5);
    match p {
        Polled::New { bytes, format, .. } => {
            assert_eq!(bytes, usgs);
            assert_eq!(format, Some(Format::Usgs));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        st.etag.as_deref(),
        Some(format!("\"{}\"", usgs.len()).as_str())
    );
    // Before the interval: not due, no request.
    assert_eq!(
        poll(&f, &s, &d, &st, now + TimeDelta::seconds(10), 0.5).0,
        Polled::NotDue
    );
    // After it: a conditional request, answered 304.
    let (p, st2) = poll(&f, &s, &d, &st, now + TimeDelta::seconds(301), 0.5);
    assert_eq!(p, Polled::Unchanged);
    assert_eq!(st2.etag, st.etag);
    let log = log.lock().unwrap().clone();
    assert_eq!(log.len(), 2, "{log:?}");
    assert!(log[1].ends_with(&format!("\"{}\"", usgs.len())), "{log:?}");
}

#[test]
fn a_failing_source_backs_off_and_recovers() {
    let gdacs = std::fs::read(feeds("gdacs/gdacs-1.xml")).unwrap();
    let (base, log) = serve(vec![("/flaky", gdacs.clone())], 2);
    let f = Fetcher::new(Duration::from_secs(10));
    let d = Defaults {
        backoff_secs: 30,
        backoff_max_secs: 3600,
        timeout_secs: 10,
    };
    let s = source("gdacs", format!("{base}/flaky"), "auto");
    let t0 = Utc::now();
    let (p, st) = poll(&f, &s, &d, &PollState::default(), t0, 1.0);
    assert!(
        matches!(&p, Polled::Failed(e) if e.contains("HTTP 503")),
        "{p:?}"
    );
    assert_eq!(st.failures, 1);
    assert_eq!(st.next_at, Some(t0 + TimeDelta::seconds(30)));
    // The second failure waits twice as long (jitter 1.0 → the full delay).
    let t1 = t0 + TimeDelta::seconds(31);
    let (p, st) = poll(&f, &s, &d, &st, t1, 1.0);
    assert!(matches!(p, Polled::Failed(_)));
    assert_eq!(
        (st.failures, st.next_at),
        (2, Some(t1 + TimeDelta::seconds(60)))
    );
    assert_eq!(
        poll(&f, &s, &d, &st, t1 + TimeDelta::seconds(59), 1.0).0,
        Polled::NotDue
    );
    // Recovered: the bytes arrive, the failure count resets.
    let t2 = t1 + TimeDelta::seconds(61);
    let (p, st) = poll(&f, &s, &d, &st, t2, 1.0);
    assert!(
        matches!(&p, Polled::New { bytes, .. } if *bytes == gdacs),
        "{p:?}"
    );
    assert_eq!((st.failures, st.last_error.as_deref()), (0, None));
    assert_eq!(st.next_at, Some(t2 + TimeDelta::seconds(300)));
    assert_eq!(log.lock().unwrap().len(), 3);
}

#[test]
fn gdelt_lastupdate_fetches_each_export_once() {
    let export = std::fs::read(crate::v2_export()).unwrap();
    let zip = crate::zip_one("20191024143000.export.CSV", &export);
    // The export's server first: the index names its URL.
    let (base, log) = serve(
        vec![("/gdeltv2/20191024143000.export.CSV.zip", zip.clone())],
        0,
    );
    let index = format!(
        "{} 297a16b493de7cf6ca809a7cc31d0b93 {base}/gdeltv2/20191024143000.export.CSV.zip\n\
         318084 bb27f78ba45f69a17ea6ed7755e9f8ff {base}/gdeltv2/20191024143000.mentions.CSV.zip\n",
        zip.len()
    );
    let (ibase, _) = serve(vec![("/gdeltv2/lastupdate.txt", index.into_bytes())], 0);
    let f = Fetcher::new(Duration::from_secs(10));
    let d = Defaults::default();
    let s = source(
        "gdelt",
        format!("{ibase}/gdeltv2/lastupdate.txt"),
        "gdelt-lastupdate",
    );
    let now = Utc::now();
    let (p, st) = poll(&f, &s, &d, &PollState::default(), now, 0.5);
    let Polled::New { url, bytes, format } = p else {
        panic!("{p:?}")
    };
    assert!(url.ends_with("20191024143000.export.CSV.zip"));
    assert_eq!((bytes, format), (zip, Some(Format::GdeltV2)));
    assert_eq!(st.last_key.as_deref(), Some(url.as_str()));
    // A new poll of an unchanged index fetches no export again.
    let (p, _) = poll(
        &f,
        &s,
        &d,
        &PollState { etag: None, ..st },
        now + TimeDelta::seconds(900),
        0.5,
    );
    assert_eq!(p, Polled::Unchanged);
    assert_eq!(log.lock().unwrap().len(), 1, "the export was fetched once");
}
