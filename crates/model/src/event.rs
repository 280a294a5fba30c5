//! The normalised event every source produces and every later stage reads,
//! and the quarantine record for input that could not become one.

use crate::{Category, CountryCode, Point, Severity, Subtype};
use chrono::{DateTime, Utc};
use std::fmt;

/// Stable identity of an event: the source and the source's own id. Ingesting
/// the same (source, source id) twice changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId {
    pub source: String,
    pub source_id: String,
}

impl EventId {
    pub fn new(source: impl Into<String>, source_id: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            source_id: source_id.into(),
        }
    }
    /// Parses the `source:source_id` form shown to users.
    pub fn parse(s: &str) -> Option<Self> {
        let (a, b) = s.split_once(':')?;
        (!a.is_empty() && !b.is_empty()).then(|| Self::new(a, b))
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.source, self.source_id)
    }
}

/// How precisely a source located an event. Only `Point`-like precisions
/// are used for radius exposure; a country centroid says "somewhere in the
/// country", not "here".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GeoPrecision {
    /// Exact coordinates or a city / town / landmark.
    City,
    /// A first-level administrative region's centroid.
    Admin1,
    /// A country's centroid.
    Country,
}

impl GeoPrecision {
    pub fn code(self) -> &'static str {
        match self {
            GeoPrecision::City => "city",
            GeoPrecision::Admin1 => "admin1",
            GeoPrecision::Country => "country",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "city" => Some(Self::City),
            "admin1" => Some(Self::Admin1),
            "country" => Some(Self::Country),
            _ => None,
        }
    }
    /// True when the point is precise enough to measure distance from.
    pub fn is_local(self) -> bool {
        self == GeoPrecision::City
    }
}

/// Where an event happened.
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    pub point: Point,
    pub precision: GeoPrecision,
    pub country: Option<CountryCode>,
    /// First-level admin region code as the source gives it (e.g. GDELT ADM1 `KE05`).
    pub admin1: Option<String>,
    pub place: Option<String>,
}

/// A normalised, classified risk event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: EventId,
    /// When it happened (UTC; a date-only source gives midnight).
    pub occurred_at: DateTime<Utc>,
    /// When the source published or added it.
    pub reported_at: DateTime<Utc>,
    pub location: Option<Location>,
    /// Country even when no point is known (e.g. from an actor code).
    pub country: Option<CountryCode>,
    pub category: Category,
    pub subtype: Subtype,
    pub severity: Severity,
    /// 0..=1, how sure the classification and the report are.
    pub confidence: f32,
    pub title: String,
    pub actors: Vec<String>,
    pub links: Vec<String>,
    pub fatalities: Option<u32>,
    pub goldstein: Option<f32>,
    pub tone: Option<f32>,
    pub mentions: Option<u32>,
    /// Why it got this category, subtype and severity.
    pub reason: String,
    /// The source record as read, for audit.
    pub raw: String,
}

impl Event {
    /// The point to measure distances from, if the location is precise enough.
    pub fn local_point(&self) -> Option<Point> {
        self.location
            .as_ref()
            .filter(|l| l.precision.is_local())
            .map(|l| l.point)
    }
}

/// A record that could not be turned into an event, kept with its raw bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    pub source: String,
    pub file: String,
    /// 1-based line number, or 0 when the whole input was rejected.
    pub line: u64,
    pub reason: String,
    pub raw: Vec<u8>,
}
