//! `farguard graph critical`: single points of failure in the dependency
//! graph, ranked by the value and headcount that depend on them.

use super::Ctx;
use super::exposure::IMPACT_FLOOR;
use crate::out;
use anyhow::Result;
use farguard_expose::DependencyGraph;
use serde::Serialize;
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Rank ports, airports, corridors and suppliers by what their loss
    /// would stop: Σ value × impact and Σ headcount × impact over every site
    /// that depends on them, directly or through other sites (impact is the
    /// product of criticalities along the strongest path).
    Critical {
        /// How many to list.
        #[arg(long, default_value_t = 20)]
        top: usize,
    },
    /// What a disruption of these sites passes on to the sites that depend
    /// on them, with the path and the share of operations at risk.
    Disrupt {
        /// Site ids, e.g. WPI-46620.
        #[arg(required = true)]
        sites: Vec<String>,
    },
}

#[derive(Debug, Serialize)]
struct Row {
    rank: usize,
    id: String,
    name: String,
    dependants: usize,
    stops_entirely: usize,
    value_at_risk_usd: f64,
    headcount_at_risk: f64,
    top_paths: Vec<String>,
}

pub fn run(ctx: &Ctx, action: Action) -> Result<ExitCode> {
    let mut store = ctx.store()?;
    let sites = store.sites()?;
    let deps = store.dependencies()?;
    let (g, _) = DependencyGraph::build(&sites, &deps);
    match action {
        Action::Critical { top } => {
            let rows: Vec<Row> = g
                .critical(IMPACT_FLOOR, 3)
                .into_iter()
                .take(top)
                .enumerate()
                .map(|(i, c)| Row {
                    rank: i + 1,
                    id: c.id,
                    name: c.name,
                    dependants: c.dependants,
                    stops_entirely: c.stops_entirely,
                    value_at_risk_usd: c.value_at_risk_usd.round(),
                    headcount_at_risk: (c.headcount_at_risk * 10.0).round() / 10.0,
                    top_paths: c.top.iter().map(|p| p.reason()).collect(),
                })
                .collect();
            if ctx.json {
                out::json(&rows)?;
            } else {
                println!(
                    "{} nodes, {} dependencies; single points of failure by value, then headcount at risk:",
                    g.node_count(),
                    g.edge_count()
                );
                for r in &rows {
                    println!(
                        "{:>3}. {:<14} {:<40} value at risk {:>14.0} USD, headcount {:>7.1}, {} dependants ({} stop entirely)",
                        r.rank,
                        r.id,
                        out::short(&r.name, 40),
                        r.value_at_risk_usd,
                        r.headcount_at_risk,
                        r.dependants,
                        r.stops_entirely
                    );
                    for p in &r.top_paths {
                        println!("       {p}");
                    }
                }
            }
        }
        Action::Disrupt { sites: ids } => {
            let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
            let r = g.propagate(&refs, IMPACT_FLOOR);
            #[derive(Serialize)]
            struct Out {
                site: String,
                impact: f64,
                path: Vec<String>,
                reason: String,
            }
            let rows: Vec<Out> = r
                .iter()
                .map(|i| Out {
                    site: i.site.clone(),
                    impact: i.impact,
                    path: i.path.clone(),
                    reason: i.reason(),
                })
                .collect();
            if ctx.json {
                out::json(&rows)?;
            } else {
                println!("{} sites depend on {}:", rows.len(), ids.join(", "));
                for o in &rows {
                    println!("  {:>4.0}%  {}", o.impact * 100.0, o.reason);
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
