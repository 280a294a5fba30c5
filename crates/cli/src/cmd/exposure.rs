//! `farguard exposure`: the sites, people and dependent sites an event or an
//! area touches, each with distance, headcount, value and the reason.

use super::{Ctx, load_guideline};
use crate::out;
use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, Utc};
use farguard_expose::{
    DependencyGraph, Hit, Indirect, QueryArea, Roster, SiteIndex, Window, expose_event,
};
use farguard_grade::Guideline;
use farguard_model::{Event, EventId, Point, Radius};
use farguard_store::Store;
use serde::Serialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Indirect effects weaker than this share of operations are not reported.
pub const IMPACT_FLOOR: f64 = 0.1;

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["event", "area", "lat", "raised"])))]
#[command(after_help = "AREA forms:
  KE | country:KEN                 every interest registered in a country (a raised country level)
  circle:LAT,LON,KM                a circle (also the CAP form circle:LAT,LON KM)
  polygon:LAT,LON LAT,LON ...      a CAP 1.2 polygon, first pair repeated last
  @FILE.geojson                    the first Polygon in a GeoJSON file (a GDACS event area, an admin region)

People count only while an itinerary leg puts them in the area, or while
they are at the exposed site they are posted to, within the window --at ..
--until (an event defaults to the instant it occurred; an area to now).
Sites that depend on an exposed site are listed as indirect exposure with
the dependency path and the share of operations at risk.

Examples:
  farguard exposure --event gdelt:881991040
  farguard exposure --area KE --at 2019-10-24T14:30:00Z
  farguard exposure --area 'polygon:-4.2,39.5 -4.2,39.8 -3.9,39.8 -3.9,39.5 -4.2,39.5' --json")]
pub struct Args {
    /// An event id as shown by `assess` (e.g. gdelt:881991040); the radius
    /// comes from the guideline by the event's category and severity.
    #[arg(long)]
    event: Option<String>,
    /// An area: a country, circle, CAP polygon or @GeoJSON file (see below).
    #[arg(long, allow_hyphen_values = true)]
    area: Option<String>,
    /// Every interest in every area whose latest level is above normal
    /// (country levels: every site and person in the country; site levels:
    /// the site), as stored by `assess`.
    #[arg(long)]
    raised: bool,
    /// Latitude of a point to search around (with --lon and --radius-km);
    /// with --json this form prints only the site list (use --area
    /// circle:LAT,LON,KM for sites, people and indirect exposure).
    #[arg(long, requires_all = ["lon", "radius_km"], allow_hyphen_values = true)]
    lat: Option<f64>,
    #[arg(long, allow_hyphen_values = true)]
    lon: Option<f64>,
    #[arg(long)]
    radius_km: Option<f64>,
    /// Start of the window people are counted in (RFC 3339 or a date).
    #[arg(long)]
    at: Option<String>,
    /// End of the window (default: the same instant as --at).
    #[arg(long)]
    until: Option<String>,
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

/// One exposed person.
#[derive(Debug, Clone, Serialize)]
pub struct ExposedPerson {
    pub person: String,
    pub name: String,
    pub org: Option<String>,
    pub needs: Vec<String>,
    pub distance_km: f64,
    pub reason: String,
}

/// A site exposed through what it depends on.
#[derive(Debug, Clone, Serialize)]
pub struct IndirectSite {
    pub site: String,
    pub name: String,
    pub headcount: u32,
    pub value_usd: Option<f64>,
    /// Share of operations at risk, 0..1.
    pub impact: f64,
    pub path: Vec<String>,
    pub reason: String,
}

/// Sums over one exposure.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    pub sites: usize,
    pub site_headcount: u64,
    pub value_usd: f64,
    pub people: usize,
    pub indirect_sites: usize,
    pub indirect_value_at_risk_usd: f64,
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
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub people: Vec<ExposedPerson>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub indirect: Vec<IndirectSite>,
    /// Why nothing was matched by distance, when the event is not precise enough.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_matched: Option<String>,
}

/// What an area touches during a window.
#[derive(Debug, Clone, Serialize)]
pub struct AreaExposure {
    pub area: String,
    pub window: [String; 2],
    pub totals: Totals,
    pub sites: Vec<ExposedSite>,
    pub people: Vec<ExposedPerson>,
    pub indirect: Vec<IndirectSite>,
}

/// The registry in memory: sites in the spatial index, people and legs,
/// and the dependency graph — built from the store at start-up.
#[derive(Debug)]
pub struct Loaded {
    pub index: SiteIndex,
    pub roster: Roster,
    pub graph: DependencyGraph,
}

impl Loaded {
    pub fn from_store(store: &mut dyn Store) -> Result<Self> {
        let sites = store.sites()?;
        let deps = store.dependencies()?;
        let (graph, skipped) = DependencyGraph::build(&sites, &deps);
        for d in skipped {
            tracing::warn!(site = %d.site, on = %d.on, "dependency names an unknown site; ignored");
        }
        Ok(Self {
            index: SiteIndex::build(sites),
            roster: Roster::new(store.people()?, store.legs()?),
            graph,
        })
    }
}

fn site_row(index: &SiteIndex, h: &Hit, reason: String) -> ExposedSite {
    let s = index.site(h.site);
    ExposedSite {
        site: s.id.clone(),
        name: s.name.clone(),
        kind: s.kind.code().into(),
        country: s.country.to_string(),
        distance_km: (h.distance_m / 100.0).round() / 10.0,
        headcount: s.headcount,
        value_usd: s.value_usd,
        reason,
    }
}

/// People and indirect exposure for sites already found in `area`.
pub fn people_and_indirect(
    reg: &Loaded,
    hits: &[Hit],
    area: &QueryArea,
    w: Window,
) -> (Vec<ExposedPerson>, Vec<IndirectSite>) {
    let people = reg
        .roster
        .exposed(&reg.index, hits, area, w)
        .into_iter()
        .map(|h| {
            let p = reg.roster.person(h.person);
            ExposedPerson {
                person: p.id.clone(),
                name: p.name.clone(),
                org: p.org.clone(),
                needs: p.needs.clone(),
                distance_km: (h.distance_m / 100.0).round() / 10.0,
                reason: h.reason,
            }
        })
        .collect();
    let direct: Vec<&str> = hits
        .iter()
        .map(|h| reg.index.site(h.site).id.as_str())
        .collect();
    let direct_set: HashSet<&str> = direct.iter().copied().collect();
    let indirect = reg
        .graph
        .propagate(&direct, IMPACT_FLOOR)
        .into_iter()
        .filter(|i| !direct_set.contains(i.site.as_str()))
        .filter_map(|i: Indirect| {
            let s = reg.index.site(reg.index.position(&i.site)?);
            Some(IndirectSite {
                site: i.site.clone(),
                name: s.name.clone(),
                headcount: s.headcount,
                value_usd: s.value_usd,
                impact: (i.impact * 1000.0).round() / 1000.0,
                reason: i.reason(),
                path: i.path,
            })
        })
        .collect();
    (people, indirect)
}

/// Exposure of one event with the guideline's radius (sites only).
pub fn of_event(index: &SiteIndex, g: &Guideline, e: &Event) -> EventExposure {
    let radius = g.radius_for(e.subtype, e.severity);
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
        people: Vec::new(),
        indirect: Vec::new(),
        not_matched,
    }
}

/// Exposure of one event: sites, then the people there during `w` and the
/// sites that depend on the exposed ones.
pub fn of_event_full(reg: &Loaded, g: &Guideline, e: &Event, w: Window) -> EventExposure {
    let mut x = of_event(&reg.index, g, e);
    if let Some(center) = e.local_point() {
        let area = QueryArea::Circle {
            center,
            radius: g.radius_for(e.subtype, e.severity),
        };
        let hits = reg.index.in_area(&area);
        let (people, indirect) = people_and_indirect(reg, &hits, &area, w);
        x.people = people;
        x.indirect = indirect;
    }
    x
}

/// Exposure of an area during a window.
pub fn of_area(reg: &Loaded, area: &QueryArea, w: Window) -> AreaExposure {
    let hits = reg.index.in_area(area);
    let sites: Vec<ExposedSite> = hits
        .iter()
        .map(|h| {
            let reason = match area {
                QueryArea::Circle { radius, .. } => format!(
                    "{:.1} km from the centre, within {} km",
                    h.distance_m / 1000.0,
                    radius.get_km()
                ),
                QueryArea::Polygon(_) => format!("inside or overlapping {area}"),
                QueryArea::Country(c) => format!("registered in {c}"),
            };
            site_row(&reg.index, h, reason)
        })
        .collect();
    let (people, indirect) = people_and_indirect(reg, &hits, area, w);
    let totals = Totals {
        sites: sites.len(),
        site_headcount: sites.iter().map(|s| u64::from(s.headcount)).sum(),
        // `+ 0.0`: an empty f64 sum is -0.0, which would print as "-0".
        value_usd: sites.iter().filter_map(|s| s.value_usd).sum::<f64>() + 0.0,
        people: people.len(),
        indirect_sites: indirect.len(),
        indirect_value_at_risk_usd: indirect
            .iter()
            .map(|i| i.value_usd.unwrap_or(0.0) * i.impact)
            .sum::<f64>()
            + 0.0,
    };
    AreaExposure {
        area: area.to_string(),
        window: [w.from.to_rfc3339(), w.to.to_rfc3339()],
        totals,
        sites,
        people,
        indirect,
    }
}

/// Reads the first Polygon of a GeoJSON file as an area.
fn area_from_file(path: &Path) -> Result<QueryArea> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {name}"))?;
    let gj: geojson::GeoJson = text
        .parse()
        .map_err(|e| anyhow!("{name}: not GeoJSON: {e}"))?;
    let mut geoms = Vec::new();
    match gj {
        geojson::GeoJson::FeatureCollection(fc) => {
            geoms.extend(fc.features.into_iter().filter_map(|f| f.geometry))
        }
        geojson::GeoJson::Feature(f) => geoms.extend(f.geometry),
        geojson::GeoJson::Geometry(g) => geoms.push(g),
    }
    for (i, g) in geoms.iter().enumerate() {
        let ring = match &g.value {
            geojson::GeometryValue::Polygon { coordinates } => coordinates.first(),
            geojson::GeometryValue::MultiPolygon { coordinates } => {
                coordinates.first().and_then(|p| p.first())
            }
            _ => continue,
        };
        let Some(ring) = ring else { continue };
        let pts = ring
            .iter()
            .map(|p| match p.as_slice() {
                [lon, lat, ..] => Point::new(*lat, *lon),
                _ => Point::new(f64::NAN, 0.0),
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow!("{name}: feature {}: {e}", i + 1))?;
        let poly = farguard_model::Polygon::new(pts)
            .map_err(|e| anyhow!("{name}: feature {}: geometry: {e}", i + 1))?;
        return Ok(QueryArea::Polygon(poly));
    }
    bail!("{name}: no Polygon geometry found")
}

pub fn parse_area(s: &str) -> Result<QueryArea> {
    match s.strip_prefix('@') {
        Some(path) => area_from_file(Path::new(path)),
        None => QueryArea::parse(s).map_err(|e| anyhow!("--area {s:?}: {e}")),
    }
}

fn window(at: Option<&str>, until: Option<&str>, default: DateTime<Utc>) -> Result<Window> {
    let from = at.map(out::parse_time).transpose()?.unwrap_or(default);
    let to = until.map(out::parse_time).transpose()?.unwrap_or(from);
    Window::new(from, to)
        .ok_or_else(|| anyhow!("--until is before --at: the window must not end before it starts"))
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

pub fn print_people(people: &[ExposedPerson], limit: usize) {
    for p in people.iter().take(limit) {
        let needs = if p.needs.is_empty() {
            String::new()
        } else {
            format!(" [needs: {}]", p.needs.join(", "))
        };
        println!(
            "  {:>7.1} km  {:<12} {}{needs}\n              why: {}",
            p.distance_km,
            p.person,
            out::short(&p.name, 30),
            p.reason
        );
    }
    if people.len() > limit {
        println!("  … {} more", people.len() - limit);
    }
}

pub fn print_indirect(indirect: &[IndirectSite], limit: usize) {
    for i in indirect.iter().take(limit) {
        println!(
            "  {:>4.0}%  {:<14} {}  headcount {}\n         why: {}",
            i.impact * 100.0,
            i.site,
            out::short(&i.name, 45),
            i.headcount,
            i.reason
        );
    }
    if indirect.len() > limit {
        println!("  … {} more", indirect.len() - limit);
    }
}

/// The exposure of one raised level.
#[derive(Debug, Serialize)]
struct RaisedExposure {
    area: String,
    category: String,
    level: String,
    assessed_at: String,
    exposure: AreaExposure,
}

fn raised(ctx: &Ctx, store: &mut dyn Store, reg: &Loaded, args: &Args) -> Result<ExitCode> {
    let mut rows = Vec::new();
    for a in store.latest_assessments()? {
        if a.level == farguard_model::Level::Normal {
            continue;
        }
        let w = window(args.at.as_deref(), args.until.as_deref(), a.at)?;
        let area = match &a.area {
            farguard_model::Area::Country(c) => QueryArea::Country(*c),
            farguard_model::Area::Site(id) => match reg.index.position(id) {
                Some(i) => match &reg.index.site(i).geometry {
                    farguard_model::Geometry::Polygon(p) => QueryArea::Polygon(p.clone()),
                    farguard_model::Geometry::Point(p) => QueryArea::Circle {
                        center: *p,
                        radius: Radius::km(0.001).map_err(|e| anyhow!("{e}"))?,
                    },
                },
                None => continue,
            },
            // Admin-1 and H3 levels need boundaries farguard does not ship yet.
            _ => continue,
        };
        rows.push(RaisedExposure {
            area: a.area.to_string(),
            category: a.category.code().into(),
            level: a.level.to_string(),
            assessed_at: a.at.to_rfc3339(),
            exposure: of_area(reg, &area, w),
        });
    }
    if ctx.json {
        out::json(&rows)?;
    } else {
        println!("{} raised levels:", rows.len());
        for r in &rows {
            let t = &r.exposure.totals;
            println!(
                "  {:<6} {:<10} level {:<4} {} sites (headcount {}, value {:.0} USD), {} people, {} sites through dependencies",
                r.area,
                r.category,
                r.level,
                t.sites,
                t.site_headcount,
                t.value_usd,
                t.people,
                t.indirect_sites
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let g = load_guideline(args.guideline.as_deref())?;
    let mut store = ctx.store()?;
    let reg = Loaded::from_store(store.as_mut())?;
    if args.raised {
        return raised(ctx, store.as_mut(), &reg, &args);
    }
    if let Some(id) = &args.event {
        let Some(eid) = EventId::parse(id) else {
            bail!("--event {id:?}: expected SOURCE:ID such as gdelt:881991040")
        };
        let Some(event) = store.event(&eid)? else {
            bail!("--event {id}: no such event in {}", super::redact(&ctx.db))
        };
        let w = window(args.at.as_deref(), args.until.as_deref(), event.occurred_at)?;
        let x = of_event_full(&reg, &g, &event, w);
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
                        reg.index.len(),
                        x.radius_km
                    );
                    print_sites(&x.sites, 50);
                    if let Some(s) = x.sites.first() {
                        println!("why (nearest): {}", s.reason);
                    }
                    println!(
                        "{} people there between {} and {}:",
                        x.people.len(),
                        w.from.to_rfc3339(),
                        w.to.to_rfc3339()
                    );
                    print_people(&x.people, 50);
                    println!("{} sites exposed through dependencies:", x.indirect.len());
                    print_indirect(&x.indirect, 50);
                }
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let area = match (&args.area, args.lat, args.lon, args.radius_km) {
        (Some(a), ..) => parse_area(a)?,
        (None, Some(lat), Some(lon), Some(r)) => QueryArea::Circle {
            center: Point::new(lat, lon).map_err(|e| anyhow!("--lat/--lon: {e}"))?,
            radius: Radius::km(r).map_err(|e| anyhow!("--radius-km: {e}"))?,
        },
        _ => bail!("give --event ID, --area AREA, or --lat, --lon and --radius-km together"),
    };
    let w = window(args.at.as_deref(), args.until.as_deref(), Utc::now())?;
    let x = of_area(&reg, &area, w);
    if ctx.json && args.area.is_none() {
        // --lat/--lon/--radius-km keep their original output: the site list.
        out::json(&x.sites)?;
    } else if ctx.json {
        out::json(&x)?;
    } else {
        let t = &x.totals;
        println!(
            "{}: {} of {} registered sites (headcount {}, value {:.0} USD), {} people between {} and {}, {} sites through dependencies",
            x.area,
            t.sites,
            reg.index.len(),
            t.site_headcount,
            t.value_usd,
            t.people,
            x.window[0],
            x.window[1],
            t.indirect_sites
        );
        print_sites(&x.sites, 50);
        if !x.people.is_empty() {
            println!("people:");
            print_people(&x.people, 50);
        }
        if !x.indirect.is_empty() {
            println!("through dependencies:");
            print_indirect(&x.indirect, 50);
        }
    }
    Ok(ExitCode::SUCCESS)
}
