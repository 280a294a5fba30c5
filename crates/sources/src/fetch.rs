//! Live sources: the sources file (`config/sources.toml`), HTTP polling with
//! conditional GET (`If-None-Match` / `If-Modified-Since`), exponential
//! backoff with jitter after failures, and GDELT's `lastupdate.txt`
//! protocol (an index naming the newest 15-minute files; only a file not
//! seen before is fetched).
//!
//! This module knows HTTP but not storage: [`poll`] takes the feed's
//! [`PollState`] and returns what happened and the state to keep. The
//! caller stores the state only after it stored what was fetched, so a
//! crash in between costs a re-fetch whose records are all duplicates —
//! never a lost or doubled record.

use crate::Format;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use std::io::Read;
use std::time::Duration;

/// The sources file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SourcesFile {
    /// Defaults for every source.
    #[serde(default)]
    pub defaults: Defaults,
    #[serde(default, rename = "source")]
    pub sources: Vec<SourceConfig>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// First retry delay after a failure, seconds (doubles per failure).
    #[serde(default = "default_backoff")]
    pub backoff_secs: u64,
    /// Longest delay between retries, seconds.
    #[serde(default = "default_backoff_max")]
    pub backoff_max_secs: u64,
    /// Whole-request timeout, seconds.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

fn default_backoff() -> u64 {
    30
}
fn default_backoff_max() -> u64 {
    3600
}
fn default_timeout() -> u64 {
    60
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            backoff_secs: default_backoff(),
            backoff_max_secs: default_backoff_max(),
            timeout_secs: default_timeout(),
        }
    }
}

/// One polled source.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Unique name; the key of its state in the store.
    pub name: String,
    pub url: String,
    /// `auto`, a format code (gdelt2, gdelt1, acled, cap, gdacs, usgs,
    /// news, report), or `gdelt-lastupdate` for GDELT's index file.
    #[serde(default = "auto")]
    pub format: String,
    /// Seconds between polls when all is well.
    pub interval_secs: u64,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn auto() -> String {
    "auto".into()
}
fn yes() -> bool {
    true
}

/// How a source's bytes are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Fetch the URL; read it as this format (`None`: detect).
    Plain(Option<Format>),
    /// The URL is GDELT's lastupdate.txt; fetch the export it names.
    GdeltLastUpdate,
}

/// A sources file that cannot be used, naming the source and the field.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: {detail}")]
    Parse { file: String, detail: String },
    #[error("{file}: source {name:?}: {detail}")]
    Source {
        file: String,
        name: String,
        detail: String,
    },
}

impl SourcesFile {
    /// Parses and checks a sources file: unique names, http(s) URLs,
    /// known formats, an interval of at least 10 s.
    pub fn parse(file: &str, text: &str) -> Result<Self, ConfigError> {
        let f: SourcesFile = toml::from_str(text).map_err(|e| ConfigError::Parse {
            file: file.to_string(),
            detail: e.to_string(),
        })?;
        let mut seen = std::collections::HashSet::new();
        for s in &f.sources {
            let bad = |detail: String| ConfigError::Source {
                file: file.to_string(),
                name: s.name.clone(),
                detail,
            };
            if s.name.trim().is_empty() || !seen.insert(s.name.clone()) {
                return Err(bad("name must be non-empty and unique".into()));
            }
            if !(s.url.starts_with("http://") || s.url.starts_with("https://")) {
                return Err(bad(format!(
                    "url {:?} must start with http:// or https://",
                    s.url
                )));
            }
            s.protocol().map_err(bad)?;
            if s.interval_secs < 10 {
                return Err(bad(format!(
                    "interval_secs {} is too short: poll at most every 10 seconds",
                    s.interval_secs
                )));
            }
        }
        Ok(f)
    }
}

impl SourceConfig {
    pub fn protocol(&self) -> Result<Protocol, String> {
        match self.format.trim() {
            "auto" => Ok(Protocol::Plain(None)),
            "gdelt-lastupdate" => Ok(Protocol::GdeltLastUpdate),
            f => Format::parse(f).map(|f| Protocol::Plain(Some(f))).ok_or_else(|| {
                format!("format {f:?} is unknown: use auto, gdelt-lastupdate, gdelt2, gdelt1, acled, cap, gdacs, usgs, news or report")
            }),
        }
    }
}

/// What the poller remembers about a source between polls (and restarts).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollState {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// GDELT: the URL of the last export taken from lastupdate.txt.
    pub last_key: Option<String>,
    pub last_ok_at: Option<DateTime<Utc>>,
    pub failures: u32,
    pub next_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// What one poll found.
#[derive(Debug, Clone, PartialEq)]
pub enum Polled {
    /// Not due yet (`next_at` is in the future).
    NotDue,
    /// 304 Not Modified, or the GDELT index names a file already taken.
    Unchanged,
    /// New bytes to ingest: the URL they came from and the format to read.
    New {
        url: String,
        bytes: Vec<u8>,
        format: Option<Format>,
    },
    /// The poll failed; the state carries the backoff.
    Failed(String),
}

/// Most bytes one fetch may return (1 GiB, as for files).
pub const MAX_BODY_BYTES: u64 = crate::detect::MAX_INPUT_BYTES;

/// The delay before retry number `failures` (1-based): `base · 2^(failures−1)`
/// capped at `max`, then "equal jitter" — a uniform draw from the upper half
/// — so clients that failed together do not retry together. `unit` in
/// [0, 1) is the random draw.
pub fn backoff(failures: u32, base: Duration, max: Duration, unit: f64) -> Duration {
    let exp = failures.saturating_sub(1).min(30);
    let full = base.saturating_mul(1u32 << exp).min(max);
    let half = full / 2;
    half + half.mul_f64(unit.clamp(0.0, 1.0))
}

/// A draw in [0, 1) from the clock (SplitMix64 of the nanoseconds): enough
/// to spread retries, not for anything secret.
pub fn jitter_unit() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut z = nanos.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// An HTTP client for polling (rustls with ring; no OpenSSL, no aws-lc).
#[derive(Debug, Clone)]
pub struct Fetcher {
    agent: ureq::Agent,
}

/// One HTTP answer.
#[derive(Debug)]
enum Answer {
    NotModified,
    Body {
        bytes: Vec<u8>,
        etag: Option<String>,
        last_modified: Option<String>,
    },
}

impl Fetcher {
    pub fn new(timeout: Duration) -> Self {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .user_agent(concat!("farguard/", env!("CARGO_PKG_VERSION")))
            .build();
        Self {
            agent: ureq::Agent::new_with_config(config),
        }
    }

    fn get(&self, url: &str, etag: Option<&str>, modified: Option<&str>) -> Result<Answer, String> {
        let mut req = self.agent.get(url);
        if let Some(e) = etag {
            req = req.header("If-None-Match", e);
        }
        if let Some(m) = modified {
            req = req.header("If-Modified-Since", m);
        }
        let mut resp = req.call().map_err(|e| format!("GET {url}: {e}"))?;
        let status = resp.status().as_u16();
        if status == 304 {
            return Ok(Answer::NotModified);
        }
        if !(200..300).contains(&status) {
            return Err(format!(
                "GET {url}: HTTP {status} {}",
                resp.status().canonical_reason().unwrap_or("")
            ));
        }
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let (etag, last_modified) = (header("etag"), header("last-modified"));
        let mut bytes = Vec::new();
        resp.body_mut()
            .as_reader()
            .take(MAX_BODY_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("GET {url}: reading the body: {e}"))?;
        if bytes.len() as u64 > MAX_BODY_BYTES {
            return Err(format!(
                "GET {url}: the body is larger than {MAX_BODY_BYTES} bytes"
            ));
        }
        Ok(Answer::Body {
            bytes,
            etag,
            last_modified,
        })
    }
}

/// The newest export named by a GDELT `lastupdate.txt` ("size md5 url"
/// lines): the `*.export.CSV.zip` line's URL and declared size.
pub fn gdelt_export(lastupdate: &[u8]) -> Result<(String, u64), String> {
    let text = String::from_utf8_lossy(lastupdate);
    for line in text.lines() {
        let mut f = line.split_whitespace();
        if let (Some(size), Some(_md5), Some(url)) = (f.next(), f.next(), f.next())
            && url.ends_with(".export.CSV.zip")
        {
            let size = size
                .parse::<u64>()
                .map_err(|_| format!("lastupdate.txt: size {size:?} is not a number"))?;
            return Ok((url.to_string(), size));
        }
    }
    Err("lastupdate.txt names no *.export.CSV.zip: is this GDELT's lastupdate.txt?".into())
}

/// Polls one source once, if due at `now`. Returns what happened and the
/// state to keep after what was fetched is stored.
pub fn poll(
    fetcher: &Fetcher,
    source: &SourceConfig,
    defaults: &Defaults,
    state: &PollState,
    now: DateTime<Utc>,
    jitter: f64,
) -> (Polled, PollState) {
    if state.next_at.is_some_and(|t| t > now) {
        return (Polled::NotDue, state.clone());
    }
    let mut next = state.clone();
    let result = match source.protocol() {
        Err(e) => Err(e),
        Ok(Protocol::Plain(format)) => fetcher
            .get(
                &source.url,
                state.etag.as_deref(),
                state.last_modified.as_deref(),
            )
            .map(|a| match a {
                Answer::NotModified => Polled::Unchanged,
                Answer::Body {
                    bytes,
                    etag,
                    last_modified,
                } => {
                    next.etag = etag;
                    next.last_modified = last_modified;
                    Polled::New {
                        url: source.url.clone(),
                        bytes,
                        format,
                    }
                }
            }),
        Ok(Protocol::GdeltLastUpdate) => (|| {
            let index = match fetcher.get(
                &source.url,
                state.etag.as_deref(),
                state.last_modified.as_deref(),
            )? {
                Answer::NotModified => return Ok(Polled::Unchanged),
                Answer::Body {
                    bytes,
                    etag,
                    last_modified,
                } => {
                    next.etag = etag;
                    next.last_modified = last_modified;
                    bytes
                }
            };
            let (url, size) = gdelt_export(&index)?;
            if state.last_key.as_deref() == Some(url.as_str()) {
                return Ok(Polled::Unchanged);
            }
            let Answer::Body { bytes, .. } = fetcher.get(&url, None, None)? else {
                return Err(format!("GET {url}: 304 to an unconditional request"));
            };
            if bytes.len() as u64 != size {
                return Err(format!(
                    "GET {url}: {} bytes, lastupdate.txt says {size}: a partial download; will retry",
                    bytes.len()
                ));
            }
            next.last_key = Some(url.clone());
            Ok(Polled::New {
                url,
                bytes,
                format: Some(Format::GdeltV2),
            })
        })(),
    };
    match result {
        Ok(p) => {
            next.failures = 0;
            next.last_error = None;
            next.last_ok_at = Some(now);
            next.next_at = Some(now + TimeDelta::seconds(source.interval_secs as i64));
            (p, next)
        }
        Err(e) => {
            let mut next = state.clone();
            next.failures = state.failures.saturating_add(1);
            let wait = backoff(
                next.failures,
                Duration::from_secs(defaults.backoff_secs),
                Duration::from_secs(defaults.backoff_max_secs),
                jitter,
            );
            next.next_at = Some(now + TimeDelta::from_std(wait).unwrap_or(TimeDelta::hours(1)));
            next.last_error = Some(e.clone());
            (Polled::Failed(e), next)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_jitters_in_the_upper_half() {
        let (b, m) = (Duration::from_secs(30), Duration::from_secs(3600));
        assert_eq!(backoff(1, b, m, 0.0), Duration::from_secs(15));
        assert_eq!(backoff(1, b, m, 1.0), Duration::from_secs(30));
        assert_eq!(backoff(3, b, m, 1.0), Duration::from_secs(120));
        assert_eq!(backoff(20, b, m, 1.0), m);
        assert_eq!(backoff(200, b, m, 0.5), Duration::from_secs(2700));
        let u = jitter_unit();
        assert!((0.0..1.0).contains(&u));
    }

    #[test]
    fn lastupdate_names_the_export() {
        // The format GDELT publishes at data.gdeltproject.org/gdeltv2/lastupdate.txt.
        let t = b"150383 297a16b493de7cf6ca809a7cc31d0b93 http://data.gdeltproject.org/gdeltv2/20191024143000.export.CSV.zip\n\
                  318084 bb27f78ba45f69a17ea6ed7755e9f8ff http://data.gdeltproject.org/gdeltv2/20191024143000.mentions.CSV.zip\n";
        let (url, size) = gdelt_export(t).unwrap();
        assert!(url.ends_with("20191024143000.export.CSV.zip"));
        assert_eq!(size, 150383);
        assert!(gdelt_export(b"<html>").is_err());
    }

    #[test]
    fn the_shipped_sources_file_parses() {
        let text = include_str!("../../../config/sources.toml");
        let f = SourcesFile::parse("config/sources.toml", text).unwrap();
        assert!(f.sources.len() >= 4);
        let e = SourcesFile::parse(
            "x.toml",
            "[[source]]\nname = \"a\"\nurl = \"ftp://x\"\ninterval_secs = 60\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("source \"a\": url"), "{e}");
        let e = SourcesFile::parse(
            "x.toml",
            "[[source]]\nname = \"a\"\nurl = \"http://x\"\ninterval_secs = 60\ncolour = 1\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("colour"), "{e}");
    }
}
