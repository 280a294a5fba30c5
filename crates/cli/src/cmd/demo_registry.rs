//! The demo's people-and-dependencies step: registers a synthetic population
//! (projects and supplier plants beside the real large ports, staff posted
//! to them, travellers with itineraries at real ports and airports; fixed
//! seed, every record marked synthetic) and shows which people each event
//! reaches and which sites it reaches indirectly through a real port or
//! airport.

use super::exposure::{self, EventExposure, Loaded};
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use farguard_expose::Window;
use farguard_grade::Guideline;
use farguard_model::{Event, SiteKind};
use farguard_registry::synth;
use farguard_store::Store;
use serde::Serialize;

/// The fixed seed of the demo population.
pub const SEED: u64 = 5;
const ORG: &str = "demo-enterprise";

/// What the step registered and found.
#[derive(Debug, Serialize)]
pub struct Section {
    pub note: String,
    pub synthetic_sites: usize,
    pub synthetic_people: usize,
    pub synthetic_legs: usize,
    pub dependencies: usize,
    pub events_reaching_people: usize,
    pub people_exposed: usize,
    pub events_with_indirect_exposure: usize,
    /// Events whose indirect exposure starts at a real (WPI) port or airport.
    pub events_via_real_port_or_airport: usize,
    pub sites_exposed_indirectly: usize,
    /// The events reaching the most people and dependent sites.
    pub top: Vec<EventExposure>,
}

/// Seeds the synthetic population around the ports and airports in the
/// store (before the demo builds its index, so every later query on the
/// demo database sees the same registry), then measures each event's reach. The people window of an event
/// runs from when it occurred to when it was reported.
pub fn section(
    store: &mut dyn Store,
    g: &Guideline,
    at: DateTime<Utc>,
    around: DateTime<Utc>,
) -> Result<Section> {
    // The events the demo grades: the guideline's window up to `at`.
    let events: Vec<Event> =
        store.events_between(at - chrono::Duration::days(g.window_days), at)?;
    let sites = store.sites()?;
    let ports: Vec<_> = sites
        .iter()
        .filter(|s| s.kind == SiteKind::Port)
        .cloned()
        .collect();
    let airports: Vec<_> = sites
        .iter()
        .filter(|s| s.kind == SiteKind::Airport)
        .cloned()
        .collect();
    let pop = synth::demo_population(&ports, &airports, ORG, around, SEED);
    store
        .upsert_sites(&pop.projects)
        .context("storing demo projects")?;
    store
        .upsert_people(&pop.people)
        .context("storing demo people")?;
    store
        .upsert_legs(&pop.legs)
        .context("storing demo itineraries")?;
    store
        .upsert_dependencies(&pop.dependencies)
        .context("storing demo dependencies")?;
    let reg = Loaded::from_store(store)?;
    let mut reached: Vec<EventExposure> = events
        .iter()
        .filter(|e| e.severity >= g.min_severity && e.local_point().is_some())
        .map(|e| {
            let w = Window::new(e.occurred_at, e.reported_at)
                .unwrap_or_else(|| Window::at(e.occurred_at));
            exposure::of_event_full(&reg, g, e, w)
        })
        .filter(|x| !x.people.is_empty() || !x.indirect.is_empty())
        .collect();
    let mut people: Vec<&str> = reached
        .iter()
        .flat_map(|x| x.people.iter().map(|p| p.person.as_str()))
        .collect();
    people.sort_unstable();
    people.dedup();
    let mut indirect: Vec<&str> = reached
        .iter()
        .flat_map(|x| x.indirect.iter().map(|p| p.site.as_str()))
        .collect();
    indirect.sort_unstable();
    indirect.dedup();
    let (people_exposed, sites_exposed_indirectly) = (people.len(), indirect.len());
    let events_reaching_people = reached.iter().filter(|x| !x.people.is_empty()).count();
    let events_with_indirect_exposure = reached.iter().filter(|x| !x.indirect.is_empty()).count();
    // Indirect exposure through a real port or airport first (the
    // transmission the demo is about), then any indirect exposure, then reach.
    let via_real = |x: &EventExposure| {
        x.indirect.iter().any(|i| {
            i.path
                .first()
                .is_some_and(|p| p.starts_with("WPI-") || p.starts_with("AP-"))
        })
    };
    let events_via_real_port_or_airport = reached.iter().filter(|x| via_real(x)).count();
    reached.sort_by(|a, b| {
        via_real(b)
            .cmp(&via_real(a))
            .then((!b.indirect.is_empty()).cmp(&!a.indirect.is_empty()))
            .then((b.people.len() + b.indirect.len()).cmp(&(a.people.len() + a.indirect.len())))
            .then_with(|| a.event.cmp(&b.event))
    });
    reached.truncate(20);
    Ok(Section {
        note: format!(
            "people, itineraries, projects and supplier plants are synthetic (seed {SEED}, status/consent \"synthetic\"); ports and airports are real"
        ),
        synthetic_sites: pop.projects.len(),
        synthetic_people: pop.people.len(),
        synthetic_legs: pop.legs.len(),
        dependencies: pop.dependencies.len(),
        events_reaching_people,
        people_exposed,
        events_with_indirect_exposure,
        events_via_real_port_or_airport,
        sites_exposed_indirectly,
        top: reached,
    })
}

pub fn print(s: &Section, top: usize) {
    println!("\n4b. PEOPLE AND DEPENDENCIES  ({})", s.note);
    println!(
        "   registered {} synthetic sites, {} people, {} itinerary legs, {} dependencies on real ports and airports",
        s.synthetic_sites, s.synthetic_people, s.synthetic_legs, s.dependencies
    );
    println!(
        "   {} events reach {} people while their legs or postings put them there; {} events reach {} sites through a dependency ({} of them through a real port or airport)",
        s.events_reaching_people,
        s.people_exposed,
        s.events_with_indirect_exposure,
        s.sites_exposed_indirectly,
        s.events_via_real_port_or_airport
    );
    for x in s.top.iter().take(top.min(5)) {
        println!(
            "   {} [{} / {} severity {}] within {} km: {} site(s), {} people, {} indirect",
            x.event,
            x.category,
            x.subtype,
            x.severity,
            x.radius_km,
            x.sites.len(),
            x.people.len(),
            x.indirect.len()
        );
        if let Some(s) = x.sites.first() {
            println!(
                "     directly: {} {} ({:.1} km)",
                s.site, s.name, s.distance_km
            );
        }
        for p in x.people.iter().take(2) {
            println!("     person {}: {}", p.person, p.reason);
        }
        for i in x.indirect.iter().take(2) {
            println!("     indirect {}: {}", i.site, i.reason);
        }
    }
}
