//! Serves an existing database with the rate limit off — the server alone,
//! for load runs that should not depend on building the whole CLI:
//! `cargo run --release -p farguard-server --example serve -- farguard-demo.db 127.0.0.1:18282`
//! (`farguard serve` is the product command; this is the same `run`).

use farguard_server::{AppState, Config};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let db = args.next().ok_or("usage: serve DB [ADDR]")?;
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:18282".into());
    // The plans in ./config/plans, when run from the repository.
    let mut plans = Vec::new();
    if let Ok(dir) = std::fs::read_dir("config/plans") {
        for e in dir.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "toml") {
                plans.push((p.display().to_string(), std::fs::read_to_string(&p)?));
            }
        }
    }
    let state = AppState::open(
        &db,
        Config {
            rate_per_sec: 0,
            plans,
            ..Config::default()
        },
    )?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        eprintln!("serving {db} on http://{}", listener.local_addr()?);
        farguard_server::run(listener, state, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
