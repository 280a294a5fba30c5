//! `farguard export orgs|sites|people|itineraries|dependencies`: the
//! registry back out in the import formats (CSV or GeoJSON), so an export
//! re-imports unchanged.

use super::Ctx;
use anyhow::{Context, Result};
use farguard_registry::{Format, deps, legs, orgs, people, sites};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum What {
    Orgs,
    Sites,
    People,
    Itineraries,
    Dependencies,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to export.
    what: What,
    /// `csv` or `geojson` (features without geometry for orgs, people and
    /// dependencies).
    #[arg(long, default_value = "csv", value_parser = ["csv", "geojson"])]
    format: String,
    /// Write here instead of standard output.
    #[arg(long, short)]
    out: Option<PathBuf>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let mut store = ctx.store()?;
    let csv = Format::parse(&args.format) == Some(Format::Csv);
    let text = match args.what {
        What::Orgs => {
            let v = store.orgs()?;
            if csv {
                orgs::to_csv(&v)
            } else {
                orgs::to_geojson(&v)
            }
        }
        What::Sites => {
            let v = store.sites()?;
            if csv {
                sites::to_csv(&v)
            } else {
                sites::to_geojson(&v)
            }
        }
        What::People => {
            let v = store.people()?;
            if csv {
                people::to_csv(&v)
            } else {
                people::to_geojson(&v)
            }
        }
        What::Itineraries => {
            let v = store.legs()?;
            if csv {
                legs::to_csv(&v)
            } else {
                legs::to_geojson(&v)
            }
        }
        What::Dependencies => {
            let v = store.dependencies()?;
            if csv {
                deps::to_csv(&v)
            } else {
                deps::to_geojson(&v)
            }
        }
    };
    match &args.out {
        Some(p) => std::fs::write(p, text).with_context(|| format!("writing {}", p.display()))?,
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
