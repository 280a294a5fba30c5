//! The farguard domain: what an event, a site, a person, an area, a category
//! and a level are, and the small traits the pipeline stages meet at.
//!
//! Design note. Every other crate depends on this one and on no sibling, so the
//! types here are the contracts between stages. Values are validated once, at
//! the edge, by `parse`/`new` constructors (`Lat`, `Lon`, `CountryCode`,
//! `Level`, `Severity`, `Radius`, `Polygon`); after that, code trusts its
//! types. This crate does no I/O: the only data it carries is the ISO 3166-1
//! country table compiled in from `data/lookups/countries.tsv`. Domain types
//! deliberately do not derive `Serialize`: the store, the CLI and the API own
//! their row and wire types and convert.

pub mod alert;
pub mod area;
pub mod assessment;
pub mod country;
pub mod error;
pub mod event;
pub mod geo;
pub mod level;
pub mod registry;
pub mod response;
pub mod stage;
pub mod taxonomy;

pub use alert::{
    AlertRecord, AlertText, CapStatus, ChannelKind, CheckinIssuer, CheckinState, CheckinStatus,
    CheckinToken, Delivery, DeliveryAttempt, DeliveryState, MsgType, Outgoing, Queued,
    RecipientVars,
};
pub use area::Area;
pub use assessment::{Assessment, Trend};
pub use country::CountryCode;
pub use error::ModelError;
pub use event::{Event, EventId, GeoPrecision, Location, Quarantined};
pub use geo::{EARTH_RADIUS_M, Geometry, Lat, Lon, Point, Polygon, Radius};
pub use level::{Level, Severity};
pub use registry::{
    Dependency, DependencyKind, ItineraryLeg, OrgKind, Organisation, Person, Site, SiteKind,
};
pub use response::{
    CommandLevel, Incident, IncidentStatus, Member, Task, TaskStatus, TimelineEntry,
};
pub use stage::{Classification, Classifier};
pub use taxonomy::{Category, Subtype};
