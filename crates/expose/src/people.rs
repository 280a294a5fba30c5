//! Time-aware people exposure: a person counts only while an itinerary leg
//! puts them in the area within the stated window, or while they are at the
//! site they are posted to and that site is exposed.
//!
//! The rule, exactly: over the window `[from, to]`, a person is at each leg
//! that overlaps the window, and at their posted site for every part of the
//! window no leg covers. They are exposed when any of those places is in the
//! area (a leg) or is an exposed site (the posting). An instant is the window
//! `[t, t]`. Leg boundaries are inclusive.

use crate::area::QueryArea;
use crate::index::{Hit, SiteIndex};
use chrono::{DateTime, Utc};
use farguard_model::{ItineraryLeg, Person, geo::haversine_m};
use std::collections::HashMap;

/// The stretch of time an exposure is asked about (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Window {
    /// One instant.
    pub fn at(t: DateTime<Utc>) -> Self {
        Self { from: t, to: t }
    }
    /// `None` when `to` is before `from`.
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>) -> Option<Self> {
        (from <= to).then_some(Self { from, to })
    }
    fn overlaps(&self, leg: &ItineraryLeg) -> bool {
        leg.from <= self.to && self.from <= leg.to
    }
}

/// Where an exposed person is, and why they count.
#[derive(Debug, Clone, PartialEq)]
pub enum Presence {
    /// An itinerary leg (its position in [`Roster::legs`]) in the area.
    Leg { leg: usize, distance_m: f64 },
    /// Posted to an exposed site (its position in the [`SiteIndex`]) for a
    /// part of the window no leg covers.
    Posted { site: usize, distance_m: f64 },
}

/// One exposed person with every reason they count.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonHit {
    /// Position in [`Roster::people`].
    pub person: usize,
    /// The nearest distance among the reasons (0 inside a polygon or country).
    pub distance_m: f64,
    pub presence: Vec<Presence>,
    pub reason: String,
}

/// People and their legs, held for exposure queries.
#[derive(Debug, Default)]
pub struct Roster {
    people: Vec<Person>,
    legs: Vec<ItineraryLeg>,
    legs_of: HashMap<String, Vec<usize>>,
    by_id: HashMap<String, usize>,
}

impl Roster {
    pub fn new(people: Vec<Person>, legs: Vec<ItineraryLeg>) -> Self {
        let mut legs_of: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, l) in legs.iter().enumerate() {
            legs_of.entry(l.person.clone()).or_default().push(i);
        }
        let by_id = people
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.clone(), i))
            .collect();
        Self {
            people,
            legs,
            legs_of,
            by_id,
        }
    }
    pub fn people(&self) -> &[Person] {
        &self.people
    }
    pub fn legs(&self) -> &[ItineraryLeg] {
        &self.legs
    }
    pub fn person(&self, i: usize) -> &Person {
        &self.people[i]
    }

    /// Whether the legs of `person` that overlap `w` cover all of it (so the
    /// person is never at their posted site during `w`).
    fn away_all_window(&self, person: &str, w: Window) -> bool {
        let mut spans: Vec<(DateTime<Utc>, DateTime<Utc>)> = self
            .legs_of
            .get(person)
            .map(|v| {
                v.iter()
                    .map(|&i| &self.legs[i])
                    .filter(|l| w.overlaps(l))
                    .map(|l| (l.from, l.to))
                    .collect()
            })
            .unwrap_or_default();
        spans.sort();
        let mut covered_to = w.from;
        let mut started = false;
        for (a, b) in spans {
            if a > covered_to && (started || a > w.from) {
                return false;
            }
            started = true;
            covered_to = covered_to.max(b);
            if covered_to >= w.to {
                return true;
            }
        }
        false
    }

    /// Every person exposed in `area` during `w`, given the sites the same
    /// area touches (`site_hits` from [`SiteIndex::in_area`]). Ordered by
    /// distance, then id.
    pub fn exposed(
        &self,
        sites: &SiteIndex,
        site_hits: &[Hit],
        area: &QueryArea,
        w: Window,
    ) -> Vec<PersonHit> {
        let mut found: HashMap<usize, Vec<Presence>> = HashMap::new();
        for (i, leg) in self.legs.iter().enumerate() {
            if !w.overlaps(leg) {
                continue;
            }
            let Some(&p) = self.by_id.get(&leg.person) else {
                continue; // a leg of an unregistered person: imports refuse these
            };
            let hit = match area {
                QueryArea::Circle { center, radius } => {
                    let d =
                        haversine_m(center.lat(), center.lon(), leg.point.lat(), leg.point.lon());
                    (d <= radius.get_m()).then_some(d)
                }
                QueryArea::Polygon(poly) => poly.contains(leg.point).then_some(0.0),
                QueryArea::Country(c) => (leg.country == *c).then_some(0.0),
            };
            if let Some(d) = hit {
                found.entry(p).or_default().push(Presence::Leg {
                    leg: i,
                    distance_m: d,
                });
            }
        }
        let hit_by_site: HashMap<&str, &Hit> = site_hits
            .iter()
            .map(|h| (sites.site(h.site).id.as_str(), h))
            .collect();
        for (p, person) in self.people.iter().enumerate() {
            let Some(h) = person.site.as_deref().and_then(|s| hit_by_site.get(s)) else {
                continue;
            };
            if self.away_all_window(&person.id, w) {
                continue;
            }
            found.entry(p).or_default().push(Presence::Posted {
                site: h.site,
                distance_m: h.distance_m,
            });
        }
        let mut out: Vec<PersonHit> = found
            .into_iter()
            .map(|(p, presence)| {
                let distance_m = presence
                    .iter()
                    .map(|x| match x {
                        Presence::Leg { distance_m, .. } | Presence::Posted { distance_m, .. } => {
                            *distance_m
                        }
                    })
                    .fold(f64::INFINITY, f64::min);
                let reason = presence
                    .iter()
                    .map(|x| self.explain(sites, x, area))
                    .collect::<Vec<_>>()
                    .join("; ");
                PersonHit {
                    person: p,
                    distance_m,
                    presence,
                    reason,
                }
            })
            .collect();
        out.sort_by(|a, b| {
            a.distance_m
                .total_cmp(&b.distance_m)
                .then_with(|| self.people[a.person].id.cmp(&self.people[b.person].id))
        });
        out
    }

    fn explain(&self, sites: &SiteIndex, x: &Presence, area: &QueryArea) -> String {
        let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
        match x {
            Presence::Leg { leg, distance_m } => {
                let l = &self.legs[*leg];
                let wher = match area {
                    QueryArea::Circle { .. } => format!("{:.1} km away", distance_m / 1000.0),
                    _ => format!("inside {area}"),
                };
                format!(
                    "itinerary leg {} puts them at {} ({}) from {} to {}, {wher}",
                    l.id,
                    l.place,
                    l.country,
                    fmt(l.from),
                    fmt(l.to)
                )
            }
            Presence::Posted { site, .. } => {
                let s = sites.site(*site);
                format!(
                    "posted to exposed site {} ({}) and not away on a leg for the whole window",
                    s.id, s.name
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use farguard_model::{CountryCode, Geometry, Point, Radius, Site, SiteKind};

    fn t(d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, d, h, 0, 0).unwrap()
    }
    fn person(id: &str, site: Option<&str>) -> Person {
        Person {
            id: id.into(),
            name: id.into(),
            nationality: None,
            org: None,
            email: None,
            phone: None,
            language: "zh".into(),
            needs: vec![],
            consent: None,
            site: site.map(String::from),
        }
    }
    fn leg(
        id: &str,
        who: &str,
        lat: f64,
        lon: f64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> ItineraryLeg {
        ItineraryLeg::new(
            id.into(),
            who.into(),
            Point::new(lat, lon).unwrap(),
            CountryCode::parse("KE").unwrap(),
            "somewhere".into(),
            from,
            to,
        )
        .unwrap()
    }

    /// Mombasa (-4.05, 39.66) is the event; Nairobi (-1.29, 36.82) is ~440 km away.
    fn fixture() -> (SiteIndex, Roster) {
        let yard = Site {
            id: "YARD".into(),
            org: "o".into(),
            name: "Mombasa yard".into(),
            kind: SiteKind::Project,
            geometry: Geometry::Point(Point::new(-4.06, 39.67).unwrap()),
            country: CountryCode::parse("KE").unwrap(),
            sector: None,
            value_usd: Some(1e6),
            headcount: 30,
            status: "active".into(),
        };
        let people = vec![
            person("TRAVELLER", None),      // in Mombasa 1–3 March only
            person("POSTED", Some("YARD")), // at the yard, in Nairobi 2nd 00:00 – 4th 00:00
            person("ELSEWHERE", None),      // in Nairobi all month
        ];
        let legs = vec![
            leg("L1", "TRAVELLER", -4.05, 39.66, t(1, 0), t(3, 0)),
            leg("L2", "POSTED", -1.29, 36.82, t(2, 0), t(4, 0)),
            leg("L3", "ELSEWHERE", -1.29, 36.82, t(1, 0), t(30, 0)),
        ];
        (SiteIndex::build(vec![yard]), Roster::new(people, legs))
    }

    fn who(idx: &SiteIndex, r: &Roster, w: Window) -> Vec<String> {
        let area = QueryArea::Circle {
            center: Point::new(-4.05, 39.66).unwrap(),
            radius: Radius::km(25.0).unwrap(),
        };
        let hits = idx.in_area(&area);
        let mut v: Vec<String> = r
            .exposed(idx, &hits, &area, w)
            .iter()
            .map(|h| r.person(h.person).id.clone())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_person_counts_only_while_a_leg_or_posting_puts_them_there() {
        let (idx, r) = fixture();
        // 1 March noon: the traveller is in Mombasa; POSTED is at the yard.
        assert_eq!(who(&idx, &r, Window::at(t(1, 12))), ["POSTED", "TRAVELLER"]);
        // 2 March noon: POSTED is in Nairobi on L2, so only the traveller.
        assert_eq!(who(&idx, &r, Window::at(t(2, 12))), ["TRAVELLER"]);
        // 3 March 00:00 is the traveller's last instant (inclusive).
        assert_eq!(who(&idx, &r, Window::at(t(3, 0))), ["TRAVELLER"]);
        // 3 March 06:00: the traveller has left, POSTED is still away.
        assert!(who(&idx, &r, Window::at(t(3, 6))).is_empty());
        // The window 3 March 06:00 – 5 March: POSTED is back at the yard from the 4th.
        let w = Window::new(t(3, 6), t(5, 0)).unwrap();
        assert_eq!(who(&idx, &r, w), ["POSTED"]);
        // ELSEWHERE never counts.
        let all = Window::new(t(1, 0), t(30, 0)).unwrap();
        assert_eq!(who(&idx, &r, all), ["POSTED", "TRAVELLER"]);
    }

    #[test]
    fn reasons_name_the_leg_and_the_posting() {
        let (idx, r) = fixture();
        let area = QueryArea::Circle {
            center: Point::new(-4.05, 39.66).unwrap(),
            radius: Radius::km(25.0).unwrap(),
        };
        let hits = idx.in_area(&area);
        let got = r.exposed(&idx, &hits, &area, Window::at(t(1, 12)));
        let trav = got
            .iter()
            .find(|h| r.person(h.person).id == "TRAVELLER")
            .unwrap();
        assert!(
            trav.reason.starts_with(
                "itinerary leg L1 puts them at somewhere (KE) from 2026-03-01 00:00 UTC"
            ),
            "{}",
            trav.reason
        );
        assert_eq!(trav.distance_m, 0.0);
        let posted = got
            .iter()
            .find(|h| r.person(h.person).id == "POSTED")
            .unwrap();
        assert!(
            posted.reason.contains("posted to exposed site YARD"),
            "{}",
            posted.reason
        );
        assert!(
            (posted.distance_m - 1570.0).abs() < 30.0,
            "{}",
            posted.distance_m
        );
    }

    #[test]
    fn a_country_area_counts_legs_in_that_country() {
        let (idx, r) = fixture();
        let area = QueryArea::parse("KE").unwrap();
        let hits = idx.in_area(&area);
        let got = r.exposed(&idx, &hits, &area, Window::at(t(2, 12)));
        assert_eq!(got.len(), 3, "everyone is in Kenya on 2 March");
    }
}
