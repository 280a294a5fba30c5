//! A graded level for one area and category at one moment, with the
//! explanation that produced it.

use crate::{Area, Category, Level};
use chrono::{DateTime, Utc};

/// Direction of the score against the previous window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trend {
    Rising,
    Steady,
    Falling,
}

impl Trend {
    pub fn code(self) -> &'static str {
        match self {
            Trend::Rising => "rising",
            Trend::Steady => "steady",
            Trend::Falling => "falling",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "rising" => Some(Trend::Rising),
            "steady" => Some(Trend::Steady),
            "falling" => Some(Trend::Falling),
            _ => None,
        }
    }
}

/// The level of one area × category as of `at`.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub area: Area,
    pub category: Category,
    pub at: DateTime<Utc>,
    pub score: f64,
    pub level: Level,
    pub trend: Trend,
    /// Guideline version that produced it.
    pub guideline: String,
    /// Machine-readable explanation (JSON text written by the grade stage):
    /// indicator values, thresholds crossed and top contributing events.
    pub explanation: String,
}
