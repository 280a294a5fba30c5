//! Exposure: which registered sites an event touches, and why.
//!
//! Design note. Sites are held in an in-memory R-tree (rstar) keyed on
//! longitude/latitude envelopes. A query builds the envelope of the spherical
//! cap around the event (split at the antimeridian, full longitude near a
//! pole) as a candidate filter that can only over-select, then decides every
//! candidate with the exact great-circle predicate on the sphere of
//! [`farguard_model::EARTH_RADIUS_M`]. So the answer has no false negatives
//! and no false positives, which `tests` check against brute force. Point
//! sites match by distance; polygon sites match when the event lies inside
//! or within the radius of the boundary. No I/O: the caller builds the index
//! from the store.
//!
//! Around the index: [`QueryArea`] is what a query asks about (a circle, a
//! CAP/GDACS/admin polygon, a country); [`Roster`] answers which people are
//! there during a time window (itinerary legs and postings); and
//! [`DependencyGraph`] (petgraph) carries a disruption from a port, airport,
//! corridor or supplier to the sites that depend on it, attenuated by
//! criticality, with the path as the reason. [`PointGrid`] is the bulk
//! matcher for millions of points: unit vectors in a cell-sorted flat array,
//! decided with the chord test and, near the rim, with haversine itself, so
//! it returns exactly what brute-force haversine returns.

mod area;
mod cap;
pub mod graph;
pub mod grid;
mod index;
mod people;

pub use area::{QueryArea, parse_cap_polygon};
pub use cap::cap_envelopes;
pub use graph::{Critical, DependencyGraph, Indirect};
pub use grid::PointGrid;
pub use index::{Hit, SiteIndex};
pub use people::{PersonHit, Presence, Roster, Window};

use farguard_model::{Event, Radius, Site};

/// One exposed site with the reason it is exposed.
#[derive(Debug, Clone, PartialEq)]
pub struct Exposure<'a> {
    pub site: &'a Site,
    pub distance_km: f64,
    pub reason: String,
}

/// Sites within `radius` of an event's point, nearest first. Events located
/// only to a country or admin-1 centroid are not matched by distance (their
/// point says "somewhere in this area", not "here"): the result is empty and
/// `why_not` says so.
pub fn expose_event<'a>(
    index: &'a SiteIndex,
    event: &Event,
    radius: Radius,
) -> Result<Vec<Exposure<'a>>, String> {
    let Some(point) = event.local_point() else {
        let why = match &event.location {
            None => "the event has no location".to_string(),
            Some(l) => format!(
                "the event is located only to a {} centroid, too coarse for a radius match; it counts towards the area's level instead",
                l.precision.code()
            ),
        };
        return Err(why);
    };
    let hits = index.within(point, radius);
    Ok(hits
        .into_iter()
        .map(|h| {
            let site = index.site(h.site);
            let reason = if h.inside {
                format!(
                    "{} ({}) lies inside the site's polygon",
                    event.subtype.label_en(),
                    event.severity.label()
                )
            } else {
                format!(
                    "{} of severity {} at {:.1} km, within the {:.0} km radius for this kind of event",
                    event.subtype.label_en(),
                    event.severity.label(),
                    h.distance_m / 1000.0,
                    radius.get_km()
                )
            };
            Exposure {
                site,
                distance_km: h.distance_m / 1000.0,
                reason,
            }
        })
        .collect())
}
