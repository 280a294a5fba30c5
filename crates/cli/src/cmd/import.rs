//! `farguard import orgs|sites|people|itineraries|dependencies FILE`:
//! registry files into the store, upserting by external id, with every bad
//! row reported (file:line: field: what to fix) and quarantined.

use super::Ctx;
use crate::out;
use anyhow::{Context, Result};
use chrono::Utc;
use farguard_model::{Dependency, ItineraryLeg, OrgKind, Organisation, Person, Quarantined, Site};
use farguard_registry::{Import, RowError, deps, legs, orgs, people, sites};
use farguard_store::{RunRecord, Store, UpsertCounts};
use serde::Serialize;
use std::collections::HashSet;
use std::path::PathBuf;
use std::process::ExitCode;

/// A registry file: CSV with a header, or a GeoJSON FeatureCollection whose
/// features carry the same names in `properties`.
#[derive(Debug, clap::Args)]
pub struct FileArgs {
    /// The file to read (`.csv`, `.geojson` or `.json`; otherwise sniffed).
    file: PathBuf,
    /// Exit non-zero when any row was rejected.
    #[arg(long)]
    strict: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum Target {
    /// Organisations: id, name, kind, country. `kind` is one of
    /// central_agency, ministry, embassy, consulate, provincial_office,
    /// state_enterprise, private_enterprise, association, service_provider,
    /// partner.
    Orgs(FileArgs),
    /// Sites and projects: id, org, name, kind, lat, lon, country (required);
    /// sector, value_usd, headcount, status, polygon (optional; the outer
    /// ring as JSON [[lon,lat],…], closed). GeoJSON: Point or Polygon
    /// features. Unknown owners are registered as private enterprises.
    Sites(FileArgs),
    /// People: id, name (required); nationality, org, email, phone,
    /// language, needs (`;`-separated, e.g. medical;wheelchair), consent,
    /// site (the registered site the person is posted to).
    People(FileArgs),
    /// Itinerary legs: id, person, lat, lon, country, place, from, to
    /// (RFC 3339 or a date). The person must be registered; a leg that ends
    /// before it starts is rejected. GeoJSON: Point features.
    Itineraries(FileArgs),
    /// Dependencies: site, on, kind, criticality (0..1). `site` depends on
    /// `on` (a port, airport, corridor or supplier site); both must be
    /// registered sites (in the store or earlier in this file set).
    Dependencies(FileArgs),
}

/// Counts for one import; `read = accepted + updated + unchanged + rejected`.
#[derive(Debug, Default, Serialize)]
pub struct ImportCounts {
    pub file: String,
    pub kind: String,
    pub read: u64,
    /// New ids stored.
    pub accepted: u64,
    /// Existing ids whose fields changed.
    pub updated: u64,
    /// Existing ids with identical content.
    pub unchanged: u64,
    pub rejected: u64,
    pub errors: Vec<String>,
}

/// Records the run, quarantines the rejected rows with their raw text, and
/// returns the counts.
fn finish<T>(
    store: &mut dyn Store,
    kind: &str,
    name: &str,
    imp: &Import<T>,
    up: UpsertCounts,
    started_at: chrono::DateTime<Utc>,
) -> Result<ImportCounts> {
    let counts = ImportCounts {
        file: name.into(),
        kind: kind.into(),
        read: imp.read(),
        accepted: up.inserted,
        updated: up.updated,
        unchanged: up.unchanged,
        rejected: imp.errors.len() as u64,
        errors: imp.errors.iter().map(RowError::to_string).collect(),
    };
    store.record_run(&RunRecord {
        kind: format!("import:{kind}"),
        file: name.into(),
        started_at,
        read: counts.read,
        accepted: counts.accepted + counts.updated,
        duplicates: counts.unchanged,
        quarantined: counts.rejected,
    })?;
    let q: Vec<Quarantined> = imp
        .errors
        .iter()
        .map(|e| Quarantined {
            source: format!("registry:{kind}"),
            file: e.file.clone(),
            line: e.line,
            reason: e.to_string(),
            raw: e.raw.clone().into_bytes(),
        })
        .collect();
    store.quarantine(&q)?;
    Ok(counts)
}

/// Stores what a sites reader accepted and reports row errors; shared with the demo.
pub fn store_sites(store: &mut dyn Store, name: &str, imp: &Import<Site>) -> Result<ImportCounts> {
    let started_at = Utc::now();
    // Register owners that are not known yet, so every site has an organisation.
    let known: HashSet<String> = store.orgs()?.into_iter().map(|o| o.id).collect();
    let mut new_orgs: Vec<Organisation> = imp
        .values()
        .filter(|s| !known.contains(&s.org))
        .map(|s| Organisation {
            id: s.org.clone(),
            name: s.org.clone(),
            kind: OrgKind::PrivateEnterprise,
            country: None,
        })
        .collect();
    new_orgs.sort_by(|a, b| a.id.cmp(&b.id));
    new_orgs.dedup_by(|a, b| a.id == b.id);
    store.upsert_orgs(&new_orgs)?;
    let rows: Vec<_> = imp.values().cloned().collect();
    let up = store.upsert_sites(&rows).context("storing sites")?;
    finish(store, "sites", name, imp, up, started_at)
}

pub fn store_orgs(
    store: &mut dyn Store,
    name: &str,
    imp: &Import<Organisation>,
) -> Result<ImportCounts> {
    let started_at = Utc::now();
    let rows: Vec<_> = imp.values().cloned().collect();
    let up = store.upsert_orgs(&rows).context("storing organisations")?;
    finish(store, "orgs", name, imp, up, started_at)
}

/// People posted to a site must name a registered site.
pub fn store_people(
    store: &mut dyn Store,
    name: &str,
    mut imp: Import<Person>,
) -> Result<ImportCounts> {
    let started_at = Utc::now();
    let known: HashSet<String> = store.sites()?.into_iter().map(|s| s.id).collect();
    imp.reject(
        name,
        |p| {
            p.site.as_ref().filter(|s| !known.contains(*s)).map(|s| {
                (
                    "site".to_string(),
                    format!("unknown site {s:?}: import the site first, or leave `site` empty"),
                )
            })
        },
        |p| people::to_csv(std::slice::from_ref(p)),
    );
    let rows: Vec<_> = imp.values().cloned().collect();
    let up = store.upsert_people(&rows).context("storing people")?;
    finish(store, "people", name, &imp, up, started_at)
}

/// Legs must name a registered person.
pub fn store_legs(
    store: &mut dyn Store,
    name: &str,
    mut imp: Import<ItineraryLeg>,
) -> Result<ImportCounts> {
    let started_at = Utc::now();
    let known: HashSet<String> = store.people()?.into_iter().map(|p| p.id).collect();
    imp.reject(
        name,
        |l| {
            (!known.contains(&l.person)).then(|| {
                (
                    "person".to_string(),
                    format!(
                        "unknown person {:?}: import people first (farguard import people)",
                        l.person
                    ),
                )
            })
        },
        |l| legs::to_csv(std::slice::from_ref(l)),
    );
    let rows: Vec<_> = imp.values().cloned().collect();
    let up = store.upsert_legs(&rows).context("storing itinerary legs")?;
    finish(store, "itineraries", name, &imp, up, started_at)
}

/// Both ends of a dependency must be registered sites.
pub fn store_dependencies(
    store: &mut dyn Store,
    name: &str,
    mut imp: Import<Dependency>,
) -> Result<ImportCounts> {
    let started_at = Utc::now();
    let known: HashSet<String> = store.sites()?.into_iter().map(|s| s.id).collect();
    deps::check_sites(&mut imp, &known, name);
    let rows: Vec<_> = imp.values().cloned().collect();
    let up = store
        .upsert_dependencies(&rows)
        .context("storing dependencies")?;
    finish(store, "dependencies", name, &imp, up, started_at)
}

pub fn run(ctx: &Ctx, target: Target) -> Result<ExitCode> {
    let (Target::Orgs(a)
    | Target::Sites(a)
    | Target::People(a)
    | Target::Itineraries(a)
    | Target::Dependencies(a)) = &target;
    let name = a.file.display().to_string();
    let strict = a.strict;
    let bytes = std::fs::read(&a.file).with_context(|| format!("{name}: cannot read the file"))?;
    let mut store = ctx.store()?;
    let store = store.as_mut();
    let counts = match &target {
        Target::Orgs(_) => store_orgs(store, &name, &orgs::read(&name, &bytes)?)?,
        Target::Sites(_) => store_sites(store, &name, &sites::read(&name, &bytes)?)?,
        Target::People(_) => store_people(store, &name, people::read(&name, &bytes)?)?,
        Target::Itineraries(_) => store_legs(store, &name, legs::read(&name, &bytes)?)?,
        Target::Dependencies(_) => store_dependencies(store, &name, deps::read(&name, &bytes)?)?,
    };
    if ctx.json {
        out::json(&counts)?;
    } else {
        for e in &counts.errors {
            eprintln!("rejected: {e}");
        }
        println!(
            "{name}: {} read {}, accepted {}, updated {}, unchanged {}, rejected {}",
            counts.kind,
            counts.read,
            counts.accepted,
            counts.updated,
            counts.unchanged,
            counts.rejected
        );
    }
    Ok(
        if counts.read == 0 || (strict && counts.rejected > 0) || counts.read == counts.rejected {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        },
    )
}
