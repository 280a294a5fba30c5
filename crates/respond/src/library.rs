//! The loaded plan library: plans by id, indexed by category for the
//! trigger engine, reloadable so that a broken file never unloads the plans
//! already in force.

use crate::error::FileError;
use crate::plan::{Plan, parse_plan};
use farguard_model::Category;
use std::collections::HashMap;

/// The plans in force.
#[derive(Debug, Clone, Default)]
pub struct Library {
    plans: Vec<Plan>,
    /// Plan positions by category rank (`Category::ALL` order).
    by_category: [Vec<usize>; 7],
}

/// What a (re)load did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Plan ids loaded or replaced from files that validated.
    pub loaded: Vec<String>,
    /// Plan ids kept at their previous version because their file failed.
    pub kept: Vec<String>,
    pub errors: Vec<FileError>,
}

fn cat_index(c: Category) -> usize {
    Category::ALL.iter().position(|x| *x == c).unwrap_or(0)
}

impl Library {
    /// Loads `(file name, text)` pairs. Files that fail are reported, the
    /// rest load.
    pub fn load<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> (Self, LoadReport) {
        let mut lib = Self::default();
        let report = lib.reload(files);
        (lib, report)
    }

    /// Loads or replaces plans from files; a file that fails leaves the plan
    /// it held before (matched by file name) in force.
    pub fn reload<'a>(
        &mut self,
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> LoadReport {
        let mut report = LoadReport::default();
        let mut next: Vec<Plan> = Vec::new();
        let mut seen_files: Vec<String> = Vec::new();
        for (file, text) in files {
            seen_files.push(file.to_string());
            match parse_plan(file, text) {
                Ok(p) => {
                    if let Some(other) = next.iter().find(|o| o.id == p.id) {
                        report.errors.push(FileError {
                            file: file.to_string(),
                            line: text
                                .lines()
                                .position(|l| l.trim_start().starts_with("id"))
                                .map_or(1, |i| i + 1),
                            key: "id".into(),
                            message: format!(
                                "plan id {:?} is already used by {}; plan ids must be unique",
                                p.id, other.file
                            ),
                        });
                        self.keep_old(file, &mut next, &mut report);
                    } else {
                        report.loaded.push(p.id.clone());
                        next.push(p);
                    }
                }
                Err(errs) => {
                    report.errors.extend(errs);
                    self.keep_old(file, &mut next, &mut report);
                }
            }
        }
        // Plans from files not offered this time stay as they were.
        for p in &self.plans {
            if !seen_files.contains(&p.file) && !next.iter().any(|n| n.id == p.id) {
                next.push(p.clone());
            }
        }
        next.sort_by(|a, b| a.id.cmp(&b.id));
        self.plans = next;
        self.reindex();
        report
    }

    fn keep_old(&self, file: &str, next: &mut Vec<Plan>, report: &mut LoadReport) {
        for old in self.plans.iter().filter(|p| p.file == file) {
            if !next.iter().any(|n| n.id == old.id) {
                report.kept.push(old.id.clone());
                next.push(old.clone());
            }
        }
    }

    fn reindex(&mut self) {
        self.by_category = Default::default();
        for (i, p) in self.plans.iter().enumerate() {
            for c in &p.trigger.categories {
                self.by_category[cat_index(*c)].push(i);
            }
        }
    }

    /// Builds a library from already validated plans (tests, benchmarks).
    pub fn from_plans(plans: Vec<Plan>) -> Self {
        let mut lib = Self {
            plans,
            by_category: Default::default(),
        };
        lib.reindex();
        lib
    }

    pub fn plans(&self) -> &[Plan] {
        &self.plans
    }
    pub fn get(&self, id: &str) -> Option<&Plan> {
        self.plans.iter().find(|p| p.id == id)
    }
    pub fn len(&self) -> usize {
        self.plans.len()
    }
    pub fn is_empty(&self) -> bool {
        self.plans.is_empty()
    }
    /// Plans whose trigger names `c`.
    pub fn for_category(&self, c: Category) -> impl Iterator<Item = &Plan> {
        self.by_category[cat_index(c)]
            .iter()
            .filter_map(|&i| self.plans.get(i))
    }
    /// Plans by id (for lookups during a sweep).
    pub fn by_id(&self) -> HashMap<&str, &Plan> {
        self.plans.iter().map(|p| (p.id.as_str(), p)).collect()
    }
}
