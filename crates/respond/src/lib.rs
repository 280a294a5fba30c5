//! Graded response: plans as files, the trigger engine, incidents with joint
//! task forces and escalation, situation reports, and drills scored against
//! the plan.
//!
//! Design note. A plan (预案, paper §三(三)) is data — a TOML file validated
//! once into [`Plan`], every problem reported with file, line and key — and
//! the [`Library`] of plans reloads file by file, so a broken edit never
//! unloads the plans already in force. The engine is pure: the CLI hands it
//! [`Signal`]s (level changes from grading, exposure summaries from expose)
//! and a clock, and the [`Book`] of incidents answers with [`Change`]s; the
//! store persists the incidents (`farguard_model::Incident`). Because no
//! function here reads the wall clock, the same code runs live, in tests,
//! and in drills on a simulated clock. This crate depends on
//! `farguard-model` only and does no I/O.
//!
//! Code map: `plan` (format, validation), `library` (loaded plans, category
//! index, reload), `engine` (signals, incidents, task updates, escalation
//! sweep, stand-down), `sitrep` (Markdown and HTML situation reports),
//! `drill` (scenario files, replay in exercise mode, scorecards), `duration`
//! (`90m`, `2h`, `3d`).

pub mod drill;
pub mod duration;
pub mod engine;
mod error;
pub mod library;
pub mod plan;
pub mod sitrep;

pub use drill::{Drill, Scorecard, parse_drill, run_drill};
pub use engine::{
    Book, Change, ChangeKind, ExposureSignal, LevelChange, Outcome, Signal, matching, plan_matches,
};
pub use error::{FileError, RespondError};
pub use library::{Library, LoadReport};
pub use plan::{Plan, parse_plan};
