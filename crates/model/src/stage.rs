//! The contracts stages meet at. A classifier turns what a source says into
//! the taxonomy; sources, graders and matchers are plain functions in their
//! own crates over the types of this one.

use crate::{Category, Severity, Subtype};

/// The output of classification: where an event sits in the taxonomy, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Classification {
    pub category: Category,
    pub subtype: Subtype,
    pub severity: Severity,
    pub confidence: f32,
    pub reason: String,
}

/// Anything that can classify a source record of type `In`: code tables today,
/// a learned model later.
pub trait Classifier<In: ?Sized> {
    /// `None` when the record carries no risk signal (e.g. a cooperative
    /// diplomatic statement); such records are counted but not stored as risk.
    fn classify(&self, input: &In) -> Option<Classification>;
}
