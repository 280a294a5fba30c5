//! Grading: the declarative guideline and the levels it gives every area ×
//! category, each with the explanation that produced it.
//!
//! Design note. The guideline is data (`config/guideline.toml`), validated
//! once into [`Guideline`]; grading is a pure function of the guideline, the
//! events and the assessment time, so `--at` can replay any moment of the
//! stored history ("graded as of its own time"). No I/O here: the caller
//! loads events from the store and saves what comes back.

mod assess;
mod guideline;

pub use assess::{Contribution, Explanation, assess, max_level};
pub use guideline::{Guideline, GuidelineError};
