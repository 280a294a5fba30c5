//! `farguard merged`: events that report one hazard or one incident across
//! sources (GDACS, USGS, CAP) or across news items, each member with the
//! reason it was merged.

use super::Ctx;
use crate::out;
use anyhow::Result;
use serde::Serialize;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Most clusters to show, newest first.
    #[arg(long, default_value_t = 20)]
    limit: u32,
}

#[derive(Debug, Serialize)]
struct Member {
    id: String,
    title: String,
    occurred_at: Option<String>,
    lat: Option<f64>,
    lon: Option<f64>,
    severity: Option<u8>,
    reason: String,
}

#[derive(Debug, Serialize)]
struct Cluster {
    cluster: String,
    sources: Vec<String>,
    members: Vec<Member>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let mut store = ctx.store()?;
    let links = store.merges(args.limit)?;
    let mut clusters: Vec<Cluster> = Vec::new();
    for l in links {
        let e = store.event(&l.event)?;
        let member = Member {
            id: l.event.to_string(),
            title: e.as_ref().map_or_else(String::new, |e| e.title.clone()),
            occurred_at: e.as_ref().map(|e| e.occurred_at.to_rfc3339()),
            lat: e
                .as_ref()
                .and_then(|e| e.location.as_ref())
                .map(|l| l.point.lat()),
            lon: e
                .as_ref()
                .and_then(|e| e.location.as_ref())
                .map(|l| l.point.lon()),
            severity: e.as_ref().map(|e| e.severity.get()),
            reason: l.reason,
        };
        let name = l.cluster.to_string();
        match clusters.last_mut().filter(|c| c.cluster == name) {
            Some(c) => c.members.push(member),
            None => clusters.push(Cluster {
                cluster: name,
                sources: Vec::new(),
                members: vec![member],
            }),
        }
    }
    for c in &mut clusters {
        let mut s: Vec<String> = c
            .members
            .iter()
            .filter_map(|m| m.id.split_once(':').map(|(s, _)| s.to_string()))
            .collect();
        s.sort();
        s.dedup();
        c.sources = s;
    }
    if ctx.json {
        out::json(&clusters)?;
    } else if clusters.is_empty() {
        println!("no merged events: no two stored reports fall within a merge window");
    } else {
        for c in &clusters {
            println!(
                "{} — {} reports from {}",
                c.cluster,
                c.members.len(),
                c.sources.join(", ")
            );
            for m in &c.members {
                println!(
                    "  {} {} | {}",
                    m.id,
                    m.occurred_at.as_deref().unwrap_or("?"),
                    out::short(&m.title, 80)
                );
                println!("      why: {}", m.reason);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
