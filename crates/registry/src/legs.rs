//! Itinerary legs from CSV or GeoJSON (Point features), and back.
//!
//! Columns: `id, person, lat, lon, country, place, from, to` required
//! (`from`/`to` in RFC 3339, e.g. `2026-03-01T08:00:00Z`, or a plain date
//! meaning midnight UTC). A leg says: the person is at this place from
//! `from` until `to`; exposure counts the person there only in that window.

use crate::rows::{self, FieldError, Fields, Spec, f, ferr};
use crate::{Import, RegistryError};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use farguard_model::{CountryCode, Geometry, ItineraryLeg};

pub const CSV_HEADER: [&str; 8] = [
    "id", "person", "lat", "lon", "country", "place", "from", "to",
];

fn time(f: &Fields<'_>, k: &str) -> Result<DateTime<Utc>, FieldError> {
    let v = f.req(k)?;
    if let Ok(t) = DateTime::parse_from_rfc3339(&v) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(&v, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| {
            ferr(
                k,
                format!(
                    "{v:?} is not a time: use RFC 3339 such as 2026-03-01T08:00:00Z, or 2026-03-01"
                ),
            )
        })
}

fn leg_from(f: &Fields<'_>, g: Option<Geometry>) -> Result<ItineraryLeg, FieldError> {
    let id = f.req("id")?;
    let person = f.req("person")?;
    let point = match g {
        Some(Geometry::Point(p)) => p,
        Some(Geometry::Polygon(_)) => {
            return Err(ferr("geometry", "a leg is at a Point, not a Polygon"));
        }
        None => f.point()?,
    };
    let country =
        CountryCode::parse(&f.req("country")?).map_err(|e| ferr("country", e.to_string()))?;
    let place = f.req("place")?;
    let from = time(f, "from")?;
    let to = time(f, "to")?;
    if to < from {
        return Err(ferr(
            "to",
            format!(
                "the leg ends ({}) before it starts ({}): swap them or fix the date",
                to.to_rfc3339_opts(SecondsFormat::AutoSi, true),
                from.to_rfc3339_opts(SecondsFormat::AutoSi, true)
            ),
        ));
    }
    ItineraryLeg::new(id, person, point, country, place, from, to)
        .map_err(|e| ferr("to", e.to_string()))
}

/// Reads itinerary legs in either format.
pub fn read(name: &str, bytes: &[u8]) -> Result<Import<ItineraryLeg>, RegistryError> {
    rows::read(
        name,
        bytes,
        &Spec {
            required: &CSV_HEADER,
            what: "itinerary leg",
            build: &leg_from,
            key: &|l: &ItineraryLeg| l.id.clone(),
            key_field: "id",
        },
    )
}

fn t(v: DateTime<Utc>) -> String {
    v.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

pub fn to_csv(legs: &[ItineraryLeg]) -> String {
    rows::write_csv(
        &CSV_HEADER,
        legs.iter().map(|l| {
            vec![
                l.id.clone(),
                l.person.clone(),
                f(l.point.lat()),
                f(l.point.lon()),
                l.country.as_str().into(),
                l.place.clone(),
                t(l.from),
                t(l.to),
            ]
        }),
    )
}

pub fn to_geojson(legs: &[ItineraryLeg]) -> String {
    rows::feature_collection(legs.iter().map(|l| {
        (
            Some(Geometry::Point(l.point)),
            serde_json::json!({"id": l.id, "person": l.person, "country": l.country.as_str(),
                "place": l.place, "from": t(l.from), "to": t(l.to)}),
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legs_read_validate_and_round_trip() {
        let text = "id,person,lat,lon,country,place,from,to\n\
            L1,P1,-4.05,39.66,KE,Mombasa,2026-03-01T08:00:00Z,2026-03-05T18:00:00Z\n\
            L2,P1,-1.29,36.82,KE,Nairobi,2026-03-06,2026-03-04\n\
            L3,P2,-1.29,36.82,KE,Nairobi,yesterday,2026-03-04\n\
            L1,P3,-1.29,36.82,KE,Nairobi,2026-03-01,2026-03-04\n";
        let imp = read("legs.csv", text.as_bytes()).unwrap();
        let m: Vec<String> = imp.errors.iter().map(|e| e.to_string()).collect();
        assert!(
            m[0].starts_with(
                "legs.csv:3: field `to`: the leg ends (2026-03-04T00:00:00Z) before it starts"
            ),
            "{}",
            m[0]
        );
        assert!(m[1].starts_with("legs.csv:4: field `from`"), "{}", m[1]);
        assert!(
            m[2].starts_with("legs.csv:5: field `id`: duplicate"),
            "{}",
            m[2]
        );
        let legs: Vec<_> = imp.values().cloned().collect();
        assert_eq!(legs.len(), 1);
        let back = read("l.csv", to_csv(&legs).as_bytes()).unwrap();
        assert_eq!(back.values().cloned().collect::<Vec<_>>(), legs);
        let back = read("l.geojson", to_geojson(&legs).as_bytes()).unwrap();
        assert_eq!(back.values().cloned().collect::<Vec<_>>(), legs);
    }
}
