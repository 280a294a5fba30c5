//! `farguard import sites FILE`: registry files into the store.

use super::Ctx;
use crate::out;
use anyhow::{Context, Result};
use chrono::Utc;
use farguard_model::{OrgKind, Organisation};
use farguard_registry::{Import, RowError, sites};
use farguard_store::{RunRecord, Store};
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum Target {
    /// Sites and projects from CSV (id, org, name, kind, lat, lon, country,
    /// sector, value_usd, headcount, status) or a GeoJSON FeatureCollection
    /// of Point/Polygon features with the same properties.
    Sites {
        file: PathBuf,
        /// Exit non-zero when any row was rejected.
        #[arg(long)]
        strict: bool,
    },
}

/// Counts for one import; `read = accepted + updated + unchanged + rejected`.
#[derive(Debug, Default, Serialize)]
pub struct ImportCounts {
    pub file: String,
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

/// Stores what a registry reader accepted and reports row errors; shared with the demo.
pub fn store_sites(
    store: &mut dyn Store,
    name: &str,
    imp: &Import<farguard_model::Site>,
) -> Result<ImportCounts> {
    let started_at = Utc::now();
    // Register owners that are not known yet, so every site has an organisation.
    let known: std::collections::HashSet<String> =
        store.orgs()?.into_iter().map(|o| o.id).collect();
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
    let sites: Vec<_> = imp.values().cloned().collect();
    let up = store.upsert_sites(&sites).context("storing sites")?;
    let counts = ImportCounts {
        file: name.into(),
        read: imp.read(),
        accepted: up.inserted,
        updated: up.updated,
        unchanged: up.unchanged,
        rejected: imp.errors.len() as u64,
        errors: imp.errors.iter().map(RowError::to_string).collect(),
    };
    store.record_run(&RunRecord {
        kind: "import:sites".into(),
        file: name.into(),
        started_at,
        read: counts.read,
        accepted: counts.accepted + counts.updated,
        duplicates: counts.unchanged,
        quarantined: counts.rejected,
    })?;
    let q: Vec<farguard_model::Quarantined> = imp
        .errors
        .iter()
        .map(|e| farguard_model::Quarantined {
            source: "registry:sites".into(),
            file: e.file.clone(),
            line: e.line,
            reason: e.to_string(),
            raw: e.raw.clone().into_bytes(),
        })
        .collect();
    store.quarantine(&q)?;
    Ok(counts)
}

pub fn run(ctx: &Ctx, target: Target) -> Result<ExitCode> {
    let Target::Sites { file, strict } = target;
    let name = file.display().to_string();
    let bytes = std::fs::read(&file).with_context(|| format!("{name}: cannot read the file"))?;
    let imp = sites::read(&name, &bytes)?;
    let mut store = ctx.store()?;
    let counts = store_sites(store.as_mut(), &name, &imp)?;
    if ctx.json {
        out::json(&counts)?;
    } else {
        for e in &counts.errors {
            eprintln!("rejected: {e}");
        }
        println!(
            "{name}: read {}, accepted {}, updated {}, unchanged {}, rejected {}",
            counts.read, counts.accepted, counts.updated, counts.unchanged, counts.rejected
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
