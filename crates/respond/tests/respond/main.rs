//! Integration tests for the respond stage on the shipped plan library and
//! drill scenarios (`config/plans`, `config/drills`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bad_plans;
mod drills;
mod engine;

use farguard_respond::Library;
use std::path::PathBuf;

pub fn config(dir: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../config")
        .join(dir)
}

/// Every `*.toml` in `config/<dir>` as (name, text), sorted.
pub fn files(dir: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = std::fs::read_dir(config(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| {
            let name = format!("config/{dir}/{}", p.file_name().unwrap().to_string_lossy());
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    v.sort();
    v
}

pub fn shipped() -> Library {
    let f = files("plans");
    let (lib, report) = Library::load(f.iter().map(|(n, t)| (n.as_str(), t.as_str())));
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    lib
}
