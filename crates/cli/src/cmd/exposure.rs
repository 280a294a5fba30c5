//! `farguard exposure`: the registered sites an event or a circle touches.

use super::{Ctx, load_guideline};
use crate::out;
use anyhow::{Result, bail};
use farguard_expose::{SiteIndex, expose_event};
use farguard_grade::Guideline;
use farguard_model::{Event, EventId, Point, Radius};
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["event", "lat"])))]
pub struct Args {
    /// An event id as shown by `assess` (e.g. gdelt:881991040); the radius
    /// comes from the guideline by the event's category and severity.
    #[arg(long)]
    event: Option<String>,
    /// Latitude of a point to search around (with --lon and --radius-km).
    #[arg(long, requires_all = ["lon", "radius_km"], allow_hyphen_values = true)]
    lat: Option<f64>,
    #[arg(long, allow_hyphen_values = true)]
    lon: Option<f64>,
    #[arg(long)]
    radius_km: Option<f64>,
    /// Guideline file for radii (default: the shipped one).
    #[arg(long)]
    guideline: Option<PathBuf>,
}

/// One exposed site, as printed with `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct ExposedSite {
    pub site: String,
    pub name: String,
    pub kind: String,
    pub country: String,
    pub distance_km: f64,
    pub headcount: u32,
    pub value_usd: Option<f64>,
    pub reason: String,
}

/// One event with what it touches.
#[derive(Debug, Clone, Serialize)]
pub struct EventExposure {
    pub event: String,
    pub title: String,
    pub category: String,
    pub subtype: String,
    pub severity: u8,
    pub radius_km: f64,
    pub link: Option<String>,
    pub sites: Vec<ExposedSite>,
    /// Why nothing was matched by distance, when the event is not precise enough.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_matched: Option<String>,
}

/// Exposure of one event with the guideline's radius.
pub fn of_event(index: &SiteIndex, g: &Guideline, e: &Event) -> EventExposure {
    let radius = g.radius(e.category, e.severity);
    let (sites, not_matched) = match expose_event(index, e, radius) {
        Ok(v) => (
            v.into_iter()
                .map(|x| ExposedSite {
                    site: x.site.id.clone(),
                    name: x.site.name.clone(),
                    kind: x.site.kind.code().into(),
                    country: x.site.country.to_string(),
                    distance_km: (x.distance_km * 10.0).round() / 10.0,
                    headcount: x.site.headcount,
                    value_usd: x.site.value_usd,
                    reason: x.reason,
                })
                .collect(),
            None,
        ),
        Err(why) => (Vec::new(), Some(why)),
    };
    EventExposure {
        event: e.id.to_string(),
        title: e.title.clone(),
        category: e.category.code().into(),
        subtype: e.subtype.code().into(),
        severity: e.severity.get(),
        radius_km: radius.get_km(),
        link: e.links.first().cloned(),
        sites,
        not_matched,
    }
}

pub fn print_sites(sites: &[ExposedSite], limit: usize) {
    for s in sites.iter().take(limit) {
        println!(
            "  {:>7.1} km  {:<14} {:<45} {}  headcount {}",
            s.distance_km,
            s.site,
            out::short(&s.name, 45),
            s.country,
            s.headcount
        );
    }
    if sites.len() > limit {
        println!("  … {} more", sites.len() - limit);
    }
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let g = load_guideline(args.guideline.as_deref())?;
    let mut store = ctx.store()?;
    let index = SiteIndex::build(store.sites()?);
    if let Some(id) = &args.event {
        let Some(eid) = EventId::parse(id) else {
            bail!("--event {id:?}: expected SOURCE:ID such as gdelt:881991040")
        };
        let Some(event) = store.event(&eid)? else {
            bail!("--event {id}: no such event in {}", super::redact(&ctx.db))
        };
        let x = of_event(&index, &g, &event);
        if ctx.json {
            out::json(&x)?;
        } else {
            println!(
                "{} — {} / {} severity {}",
                x.event, x.category, x.subtype, x.severity
            );
            println!("  {}", x.title);
            match &x.not_matched {
                Some(why) => println!("no sites matched by distance: {why}"),
                None => {
                    println!(
                        "{} of {} registered sites within {} km:",
                        x.sites.len(),
                        index.len(),
                        x.radius_km
                    );
                    print_sites(&x.sites, 50);
                    if let Some(s) = x.sites.first() {
                        println!("why (nearest): {}", s.reason);
                    }
                }
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let (Some(lat), Some(lon), Some(r)) = (args.lat, args.lon, args.radius_km) else {
        bail!("give --event ID, or --lat, --lon and --radius-km together")
    };
    let p = Point::new(lat, lon).map_err(|e| anyhow::anyhow!("--lat/--lon: {e}"))?;
    let radius = Radius::km(r).map_err(|e| anyhow::anyhow!("--radius-km: {e}"))?;
    let sites: Vec<ExposedSite> = index
        .within(p, radius)
        .into_iter()
        .map(|h| {
            let s = index.site(h.site);
            ExposedSite {
                site: s.id.clone(),
                name: s.name.clone(),
                kind: s.kind.code().into(),
                country: s.country.to_string(),
                distance_km: (h.distance_m / 100.0).round() / 10.0,
                headcount: s.headcount,
                value_usd: s.value_usd,
                reason: if h.inside {
                    "the point lies inside the site's polygon".into()
                } else {
                    format!(
                        "{:.1} km from ({lat}, {lon}), within {r} km",
                        h.distance_m / 1000.0
                    )
                },
            }
        })
        .collect();
    if ctx.json {
        out::json(&sites)?;
    } else {
        println!(
            "{} of {} registered sites within {r} km of ({lat}, {lon}):",
            sites.len(),
            index.len()
        );
        print_sites(&sites, 50);
    }
    Ok(ExitCode::SUCCESS)
}
