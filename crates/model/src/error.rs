//! The one error type of the domain crate: a value that failed validation.

/// A value rejected at the edge. Messages name the field and what to fix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    #[error("latitude {0} is out of range: expected a number from -90 to 90")]
    Latitude(f64),
    #[error("longitude {0} is out of range: expected a number from -180 to 180")]
    Longitude(f64),
    #[error("{0:?} is not an ISO 3166-1 alpha-2 country code (two letters such as CN, KE, PK)")]
    Country(String),
    #[error("{0:?} is not a level: expected 0, IV, III, II, I (or blue, yellow, orange, red)")]
    Level(String),
    #[error("{0:?} is not a severity: expected 1 to 5 or minor, moderate, severe, extreme")]
    Severity(String),
    #[error("radius {0} km is out of range: expected more than 0 and at most 20000")]
    Radius(f64),
    #[error("polygon is invalid: {0}")]
    Polygon(String),
    #[error(
        "{0:?} is not a category: expected one of security, political, legal, economic, reputation, natural, health"
    )]
    Category(String),
    #[error("{0:?} is not a subtype of {1}")]
    Subtype(String, &'static str),
    #[error("{field} {value:?} is invalid: {hint}")]
    Invalid {
        field: &'static str,
        value: String,
        hint: &'static str,
    },
}
