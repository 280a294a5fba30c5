//! What we have abroad: organisations, sites and projects, people, their
//! itinerary legs, and the dependencies between sites.

use crate::{CountryCode, Geometry, ModelError, Point};
use chrono::{DateTime, Utc};

macro_rules! code_enum {
    ($(#[$m:meta])* $name:ident { $($v:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($v),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$v),+];
            pub fn code(self) -> &'static str { match self { $($name::$v => $s),+ } }
            pub fn parse(s: &str) -> Result<Self, ModelError> {
                let t = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
                match t.as_str() {
                    $($s => Ok($name::$v),)+
                    _ => Err(ModelError::Invalid {
                        field: stringify!($name),
                        value: s.to_string(),
                        hint: concat!("expected one of: ", $($s, " "),+),
                    }),
                }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.code()) }
        }
    };
}

code_enum!(
    /// What kind of organisation.
    OrgKind {
        CentralAgency = "central_agency",
        Ministry = "ministry",
        Embassy = "embassy",
        Consulate = "consulate",
        ProvincialOffice = "provincial_office",
        StateEnterprise = "state_enterprise",
        PrivateEnterprise = "private_enterprise",
        Association = "association",
        ServiceProvider = "service_provider",
        Partner = "partner",
    }
);

code_enum!(
    /// What kind of site.
    SiteKind {
        Project = "project",
        Office = "office",
        Plant = "plant",
        Mine = "mine",
        Camp = "camp",
        Port = "port",
        Airport = "airport",
        Corridor = "corridor",
        Supplier = "supplier",
        Mission = "mission",
        Other = "other",
    }
);

code_enum!(
    /// How a site depends on another.
    DependencyKind {
        Port = "port",
        Airport = "airport",
        Corridor = "corridor",
        Supplier = "supplier",
        Power = "power",
        Other = "other",
    }
);

/// An organisation (a tenant): agency, embassy, enterprise, provider…
#[derive(Debug, Clone, PartialEq)]
pub struct Organisation {
    pub id: String,
    pub name: String,
    pub kind: OrgKind,
    pub country: Option<CountryCode>,
}

/// A site or project abroad.
#[derive(Debug, Clone, PartialEq)]
pub struct Site {
    /// The owner's external id, unique across the registry; imports upsert on it.
    pub id: String,
    pub org: String,
    pub name: String,
    pub kind: SiteKind,
    pub geometry: Geometry,
    pub country: CountryCode,
    pub sector: Option<String>,
    pub value_usd: Option<f64>,
    pub headcount: u32,
    pub status: String,
}

impl Site {
    pub fn anchor(&self) -> Point {
        self.geometry.anchor()
    }
}

/// A person abroad: a citizen or an employee.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    pub id: String,
    pub name: String,
    pub nationality: Option<CountryCode>,
    pub org: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub language: String,
    pub needs: Vec<String>,
    /// When and how consent to be registered was given.
    pub consent: Option<String>,
    /// Home site, if the person is posted to one.
    pub site: Option<String>,
}

/// A leg of a trip: the person is at `place` from `from` until `to`.
#[derive(Debug, Clone, PartialEq)]
pub struct ItineraryLeg {
    pub id: String,
    pub person: String,
    pub point: Point,
    pub country: CountryCode,
    pub place: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl ItineraryLeg {
    /// Validates that the leg does not end before it starts.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: String,
        person: String,
        point: Point,
        country: CountryCode,
        place: String,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Self, ModelError> {
        if to < from {
            return Err(ModelError::Invalid {
                field: "to",
                value: to.to_rfc3339(),
                hint: "a leg cannot end before it starts",
            });
        }
        Ok(Self {
            id,
            person,
            point,
            country,
            place,
            from,
            to,
        })
    }
    pub fn covers(&self, t: DateTime<Utc>) -> bool {
        self.from <= t && t <= self.to
    }
}

/// `site` depends on `on` (a port, an airport, a corridor, a supplier site).
#[derive(Debug, Clone, PartialEq)]
pub struct Dependency {
    pub site: String,
    pub on: String,
    pub kind: DependencyKind,
    /// 0..=1: how much of the site's operation stops if `on` stops.
    pub criticality: f64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn kinds_parse_loosely() {
        assert_eq!(
            OrgKind::parse("State-Enterprise").unwrap(),
            OrgKind::StateEnterprise
        );
        assert_eq!(SiteKind::parse("port").unwrap(), SiteKind::Port);
        assert!(
            SiteKind::parse("castle")
                .unwrap_err()
                .to_string()
                .contains("expected one of")
        );
    }

    #[test]
    fn leg_cannot_end_before_it_starts() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 2, 0, 0, 0).unwrap();
        let t1 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let p = Point::new(1.0, 2.0).unwrap();
        let c = CountryCode::parse("KE").unwrap();
        assert!(ItineraryLeg::new("l".into(), "p".into(), p, c, "x".into(), t0, t1).is_err());
        let leg = ItineraryLeg::new("l".into(), "p".into(), p, c, "x".into(), t1, t0).unwrap();
        assert!(leg.covers(t1) && leg.covers(t0));
    }
}
