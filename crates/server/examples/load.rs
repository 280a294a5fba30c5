//! A fixed-rate HTTP load generator for `farguard serve`: open loop, so the
//! latency it reports is the latency at the target rate (wrk is closed
//! loop: it reports latency at whatever rate the server sustained).
//!
//! ```text
//! cargo run --release -p farguard-server --example load -- \
//!     --url http://127.0.0.1:18282 --rate 2000 --seconds 20 --conns 32 \
//!     --header "Authorization: Bearer fg_…" --script reads.txt --name reads
//! ```
//!
//! The script has one request per line, `METHOD PATH [BODY]` (the body is
//! sent as `application/json`); lines are used in turn, round robin. Request
//! `i` is due at `start + i / rate`; a connection that is free sends the
//! next due request and its latency counts from when it was *due*, not when
//! it was sent, so a server that falls behind shows the queueing it caused
//! (the coordinated-omission correction wrk2 makes). `--conns` caps the
//! requests in flight. One line of results goes to stdout:
//! `name rate N/s sent N ok N non2xx N errors N p50 ms p90 ms p99 ms p99.9 ms max ms`.
//! Timers tick in milliseconds, so every latency includes up to ~1 ms of
//! timer slack; a baseline run (`/healthz`) in the same session shows it.
//!
//! Why not oha or wrk2: wrk2 is not packaged here and oha pulls a large
//! dependency tree; this needs only tokio, already in the tree, and speaks
//! exactly the HTTP/1.1 keep-alive subset the server answers with.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

#[derive(Debug, Clone)]
struct Req {
    method: String,
    path: String,
    body: Option<String>,
}

struct Args {
    host: String,
    rate: f64,
    seconds: f64,
    conns: usize,
    headers: Vec<String>,
    script: Vec<Req>,
    name: String,
}

fn usage() -> String {
    "usage: load --url http://HOST:PORT --rate N --seconds S [--conns C] [--header 'K: V']... (--script FILE | --path PATH) [--name NAME]".into()
}

fn parse_args() -> Result<Args, String> {
    let mut url = None;
    let mut rate = None;
    let mut seconds: f64 = 10.0;
    let mut conns = 32;
    let mut headers = Vec::new();
    let mut script = Vec::new();
    let mut name = "load".to_string();
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = || {
            it.next()
                .ok_or_else(|| format!("{a} needs a value; {}", usage()))
        };
        match a.as_str() {
            "--url" => url = Some(val()?),
            "--rate" => rate = Some(val()?.parse::<f64>().map_err(|e| format!("--rate: {e}"))?),
            "--seconds" => seconds = val()?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--conns" => conns = val()?.parse().map_err(|e| format!("--conns: {e}"))?,
            "--header" => headers.push(val()?),
            "--name" => name = val()?,
            "--path" => script.push(Req {
                method: "GET".into(),
                path: val()?,
                body: None,
            }),
            "--script" => {
                let f = val()?;
                let text = std::fs::read_to_string(&f).map_err(|e| format!("{f}: {e}"))?;
                for (n, line) in text.lines().enumerate() {
                    let line = line.trim();
                    if line.is_empty() || line.starts_with('#') {
                        continue;
                    }
                    let mut parts = line.splitn(3, ' ');
                    let (Some(m), Some(p)) = (parts.next(), parts.next()) else {
                        return Err(format!("{f}:{}: expected METHOD PATH [BODY]", n + 1));
                    };
                    script.push(Req {
                        method: m.to_string(),
                        path: p.to_string(),
                        body: parts.next().map(str::to_string),
                    });
                }
            }
            _ => return Err(format!("unknown argument {a}; {}", usage())),
        }
    }
    let url = url.ok_or_else(usage)?;
    let host = url
        .strip_prefix("http://")
        .ok_or("--url: only http:// is supported")?
        .trim_end_matches('/')
        .to_string();
    let rate = rate.ok_or_else(usage)?;
    if script.is_empty() {
        return Err(format!("no requests: give --script or --path; {}", usage()));
    }
    if rate.is_nan() || rate <= 0.0 || seconds.is_nan() || seconds <= 0.0 || conns == 0 {
        return Err("--rate, --seconds and --conns must be positive".into());
    }
    Ok(Args {
        host,
        rate,
        seconds,
        conns,
        headers,
        script,
        name,
    })
}

fn request_bytes(host: &str, headers: &[String], r: &Req) -> Vec<u8> {
    let mut s = format!("{} {} HTTP/1.1\r\nHost: {host}\r\n", r.method, r.path);
    for h in headers {
        s.push_str(h);
        s.push_str("\r\n");
    }
    match &r.body {
        Some(b) => {
            s.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
                b.len()
            ));
        }
        None => s.push_str("\r\n"),
    }
    s.into_bytes()
}

/// Reads one response; returns its status.
async fn read_response(r: &mut BufReader<TcpStream>) -> std::io::Result<u16> {
    let mut line = String::new();
    if r.read_line(&mut line).await? == 0 {
        return Err(std::io::Error::other("connection closed"));
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let mut length: Option<usize> = None;
    let mut chunked = false;
    loop {
        line.clear();
        r.read_line(&mut line).await?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            let k = k.trim().to_ascii_lowercase();
            if k == "content-length" {
                length = v.trim().parse().ok();
            } else if k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked") {
                chunked = true;
            }
        }
    }
    let mut sink = Vec::new();
    if chunked {
        loop {
            line.clear();
            r.read_line(&mut line).await?;
            let n = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
                .map_err(|e| std::io::Error::other(format!("bad chunk size: {e}")))?;
            sink.resize(n + 2, 0);
            r.read_exact(&mut sink).await?;
            if n == 0 {
                break;
            }
        }
    } else if let Some(n) = length {
        sink.resize(n, 0);
        r.read_exact(&mut sink).await?;
    }
    Ok(status)
}

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    non2xx: AtomicU64,
    errors: AtomicU64,
}

async fn connection(
    args: Arc<Args>,
    requests: Arc<Vec<Vec<u8>>>,
    next: Arc<AtomicU64>,
    total: u64,
    start: Instant,
    tally: Arc<Tally>,
) -> Vec<u32> {
    let mut lat_us = Vec::new();
    let mut conn: Option<BufReader<TcpStream>> = None;
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= total {
            break;
        }
        let due = start + Duration::from_secs_f64(i as f64 / args.rate);
        tokio::time::sleep_until(due.into()).await;
        let req = &requests[(i as usize) % requests.len()];
        let mut outcome = Err(std::io::Error::other("not sent"));
        // One retry on a fresh connection (the server may close idle ones).
        for _ in 0..2 {
            if conn.is_none() {
                match TcpStream::connect(&args.host).await {
                    Ok(s) => {
                        let _ = s.set_nodelay(true);
                        conn = Some(BufReader::new(s));
                    }
                    Err(e) => {
                        outcome = Err(e);
                        continue;
                    }
                }
            }
            let Some(c) = conn.as_mut() else { continue };
            let r = async {
                c.get_mut().write_all(req).await?;
                read_response(c).await
            }
            .await;
            match r {
                Ok(s) => {
                    outcome = Ok(s);
                    break;
                }
                Err(e) => {
                    conn = None;
                    outcome = Err(e);
                }
            }
        }
        let us = due.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
        match outcome {
            Ok(s) if (200..300).contains(&s) => {
                tally.ok.fetch_add(1, Ordering::Relaxed);
                lat_us.push(us);
            }
            Ok(_) => {
                tally.non2xx.fetch_add(1, Ordering::Relaxed);
                lat_us.push(us);
            }
            Err(_) => {
                tally.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    lat_us
}

fn pct(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    f64::from(sorted[i.min(sorted.len() - 1)]) / 1000.0
}

fn main() {
    let args = match parse_args() {
        Ok(a) => Arc::new(a),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    let requests: Arc<Vec<Vec<u8>>> = Arc::new(
        args.script
            .iter()
            .map(|r| request_bytes(&args.host, &args.headers, r))
            .collect(),
    );
    let total = (args.rate * args.seconds).round() as u64;
    let tally = Arc::new(Tally::default());
    let (mut lat, elapsed) = rt.block_on(async {
        let next = Arc::new(AtomicU64::new(0));
        // Start a little ahead so every connection is waiting when the clock starts.
        let start = Instant::now() + Duration::from_millis(50);
        let mut tasks = Vec::new();
        for _ in 0..args.conns {
            tasks.push(tokio::spawn(connection(
                Arc::clone(&args),
                Arc::clone(&requests),
                Arc::clone(&next),
                total,
                start,
                Arc::clone(&tally),
            )));
        }
        let mut lat = Vec::with_capacity(total as usize);
        for t in tasks {
            if let Ok(v) = t.await {
                lat.extend(v);
            }
        }
        (lat, start.elapsed())
    });
    lat.sort_unstable();
    let sent = lat.len() as u64 + tally.errors.load(Ordering::Relaxed);
    println!(
        "{:<9} rate {:>7.0}/s  sent {:>6}  ok {:>6}  non2xx {:>4}  errors {:>4}  p50 {:>7.2} ms  p90 {:>7.2} ms  p99 {:>7.2} ms  p99.9 {:>7.2} ms  max {:>7.2} ms",
        args.name,
        sent as f64 / elapsed.as_secs_f64(),
        sent,
        tally.ok.load(Ordering::Relaxed),
        tally.non2xx.load(Ordering::Relaxed),
        tally.errors.load(Ordering::Relaxed),
        pct(&lat, 50.0),
        pct(&lat, 90.0),
        pct(&lat, 99.0),
        pct(&lat, 99.9),
        pct(&lat, 100.0),
    );
}
