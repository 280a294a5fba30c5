//! The commands. Shared wiring (open the store, load the guideline, the
//! ingest and import steps the demo reuses) lives here.

pub mod alerts;
pub mod assess;
pub mod audit;
pub mod backtest;
pub mod bench;
pub mod checkin;
pub mod classify;
pub mod demo;
pub mod demo_notify;
pub mod demo_registry;
pub mod demo_respond;
pub mod demo_sources;
pub mod drill;
pub mod export;
pub mod exposure;
pub mod graph;
pub mod guideline;
pub mod import;
pub mod incidents;
pub mod ingest;
pub mod merged;
pub mod notify;
pub mod plans;
pub mod quarantine;
pub mod risk;
pub mod serve;
pub mod sitrep;
pub mod task;
pub mod user;
pub mod watch;
pub mod worker;

use anyhow::{Context, Result};
use farguard_grade::Guideline;
use farguard_store::Store;
use std::path::Path;

/// What every command gets from the global flags.
#[derive(Debug)]
pub struct Ctx {
    pub db: String,
    pub json: bool,
}

impl Ctx {
    pub fn store(&self) -> Result<Box<dyn Store>> {
        farguard_store::open(&self.db)
            .with_context(|| format!("opening database {}", redact(&self.db)))
    }
}

/// Hides a password in a database URL before it is printed.
pub fn redact(target: &str) -> String {
    match (target.find("://"), target.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &target[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &target[..s + 3], user, &target[at..]),
                None => target.to_string(),
            }
        }
        _ => target.to_string(),
    }
}

/// The guideline from a file, or the shipped default.
pub fn load_guideline(path: Option<&Path>) -> Result<Guideline> {
    match path {
        None => Ok(Guideline::default_shipped()?),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("reading guideline {}", p.display()))?;
            Ok(Guideline::parse(&p.display().to_string(), &text)?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_never_reach_output() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("./farguard.db"), "./farguard.db");
    }
}
