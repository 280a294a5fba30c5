//! Synthetic populations, always marked as such: demo people, itineraries
//! and projects placed around the real ports and airports, and benchmark
//! point sets — uniform on the sphere, or clustered around real cities in
//! proportion to their GeoNames population. Deterministic for a seed.

use crate::{RegistryError, RowError};
use chrono::{DateTime, Duration, Utc};
use farguard_model::{
    CountryCode, Dependency, DependencyKind, EARTH_RADIUS_M, Geometry, ItineraryLeg, Person, Point,
    Site, SiteKind,
};

/// Marks every synthetic record (in `status`, `consent` and names).
pub const SYNTHETIC: &str = "synthetic";

/// SplitMix64: a tiny, well-mixed generator; enough for placing points and
/// reproducible from one seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in [a, b).
    pub fn range(&mut self, a: f64, b: f64) -> f64 {
        a + (b - a) * self.f64()
    }
    /// Uniform in 0..n.
    pub fn below(&mut self, n: usize) -> usize {
        ((self.f64() * n as f64) as usize).min(n.saturating_sub(1))
    }
    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u = 1.0 - self.f64();
        let v = self.f64();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// The point `dist_m` from `(lat, lon)` along `bearing` (radians) on the sphere.
pub fn destination(lat: f64, lon: f64, dist_m: f64, bearing: f64) -> (f64, f64) {
    let d = dist_m / EARTH_RADIUS_M;
    let (p1, l1) = (lat.to_radians(), lon.to_radians());
    let p2 = (p1.sin() * d.cos() + p1.cos() * d.sin() * bearing.cos())
        .clamp(-1.0, 1.0)
        .asin();
    let l2 = l1 + (bearing.sin() * d.sin() * p1.cos()).atan2(d.cos() - p1.sin() * p2.sin());
    let mut lon2 = l2.to_degrees();
    while lon2 > 180.0 {
        lon2 -= 360.0;
    }
    while lon2 < -180.0 {
        lon2 += 360.0;
    }
    (p2.to_degrees().clamp(-90.0, 90.0), lon2)
}

/// `n` points uniform on the sphere: `(lat, lon)` degrees.
pub fn uniform_points(n: usize, rng: &mut Rng) -> Vec<(f64, f64)> {
    (0..n)
        .map(|_| {
            let z = rng.range(-1.0, 1.0);
            (z.asin().to_degrees(), rng.range(-180.0, 180.0))
        })
        .collect()
}

/// A real city with its population (GeoNames).
#[derive(Debug, Clone, PartialEq)]
pub struct City {
    pub name: String,
    pub country: String,
    pub lat: f64,
    pub lon: f64,
    pub population: u64,
}

/// Reads the shipped `cities15000_population.tsv` (geonameid, name,
/// country, lat, lon, population, tab-separated, with a header). A bad row
/// is returned as a row error.
pub fn read_cities(name: &str, bytes: &[u8]) -> Result<(Vec<City>, Vec<RowError>), RegistryError> {
    let text = std::str::from_utf8(bytes).map_err(|e| RegistryError::Format {
        file: name.into(),
        reason: format!("not UTF-8 text ({e})"),
    })?;
    let mut lines = text.lines();
    match lines.next() {
        Some(h) if h.starts_with("geonameid\tname\tcountry\tlat\tlon\tpopulation") => {}
        _ => {
            return Err(RegistryError::Format {
                file: name.into(),
                reason: "expected the header geonameid, name, country, lat, lon, population (tab-separated)".into(),
            });
        }
    }
    let (mut cities, mut errors) = (Vec::new(), Vec::new());
    for (i, line) in lines.enumerate() {
        let f: Vec<&str> = line.split('\t').collect();
        let parsed = match f.as_slice() {
            [_, n, c, la, lo, p] => {
                match (la.parse::<f64>(), lo.parse::<f64>(), p.parse::<u64>()) {
                    (Ok(lat), Ok(lon), Ok(population)) if Point::new(lat, lon).is_ok() => {
                        Ok(City {
                            name: n.to_string(),
                            country: c.to_string(),
                            lat,
                            lon,
                            population,
                        })
                    }
                    _ => Err("lat, lon or population is not a valid number".to_string()),
                }
            }
            _ => Err(format!(
                "expected 6 tab-separated fields, found {}",
                f.len()
            )),
        };
        match parsed {
            Ok(c) => cities.push(c),
            Err(message) => errors.push(RowError {
                file: name.into(),
                line: i as u64 + 2,
                field: None,
                message,
                raw: line.to_string(),
            }),
        }
    }
    Ok((cities, errors))
}

/// `n` points placed by a clustered process: each point picks a city with
/// probability proportional to its population, then lies at a normally
/// distributed distance from it (σ grows with the square root of the
/// population, 2–40 km) in a uniform direction.
pub fn clustered_points(cities: &[City], n: usize, rng: &mut Rng) -> Vec<(f64, f64)> {
    let mut cum = Vec::with_capacity(cities.len());
    let mut total = 0.0;
    for c in cities {
        total += c.population as f64;
        cum.push(total);
    }
    if cities.is_empty() || total <= 0.0 {
        return uniform_points(n, rng);
    }
    (0..n)
        .map(|_| {
            let x = rng.f64() * total;
            let i = cum.partition_point(|&v| v <= x).min(cities.len() - 1);
            let c = &cities[i];
            let sigma =
                (2_000.0 * (c.population as f64 / 15_000.0).sqrt()).clamp(2_000.0, 40_000.0);
            let d = (rng.normal() * sigma).abs();
            destination(c.lat, c.lon, d, rng.range(0.0, std::f64::consts::TAU))
        })
        .collect()
}

/// The demo population around real ports and airports.
#[derive(Debug, Clone, Default)]
pub struct DemoPopulation {
    pub projects: Vec<Site>,
    pub people: Vec<Person>,
    pub legs: Vec<ItineraryLeg>,
    pub dependencies: Vec<Dependency>,
}

fn point(lat: f64, lon: f64) -> Option<Point> {
    Point::new(lat, lon).ok()
}

/// Builds a synthetic demo population owned by `org`:
/// - next to each large port, a project 15–45 km away that depends on the
///   port (criticality 0.6–1.0) and on the nearest airport (0.2–0.5), and a
///   supplier plant that depends on the project (0.3–0.8);
/// - 3–8 staff posted to each project, some of them away on a trip to
///   another port city at some time in the window;
/// - travellers with 1–3 legs at random ports and airports.
///
/// Legs fall within `around ± 5 days`. Everything is marked synthetic.
pub fn demo_population(
    ports: &[Site],
    airports: &[Site],
    org: &str,
    around: DateTime<Utc>,
    seed: u64,
) -> DemoPopulation {
    let mut rng = Rng::new(seed);
    let mut out = DemoPopulation::default();
    let large: Vec<&Site> = ports
        .iter()
        .filter(|p| p.sector.as_deref().is_some_and(|s| s.contains("Large")))
        .collect();
    let all: Vec<&Site> = ports.iter().chain(airports).collect();
    let mut person_no = 0u32;
    let mut leg_no = 0u32;
    let start = around - Duration::days(5);
    let mut new_person = |out: &mut DemoPopulation, site: Option<String>| {
        person_no += 1;
        let id = format!("DEMO-P{person_no:05}");
        out.people.push(Person {
            id: id.clone(),
            name: format!("Synthetic Person {person_no:05}"),
            nationality: CountryCode::parse("CN").ok(),
            org: Some(org.into()),
            email: None,
            phone: None,
            language: "zh".into(),
            needs: if person_no.is_multiple_of(17) {
                vec!["medical".into()]
            } else {
                Vec::new()
            },
            consent: Some(format!("{SYNTHETIC} demo record, no real person")),
            site,
        });
        id
    };
    for port in &large {
        let a = port.anchor();
        let (plat, plon) = destination(
            a.lat(),
            a.lon(),
            rng.range(15_000.0, 45_000.0),
            rng.range(0.0, std::f64::consts::TAU),
        );
        let Some(pp) = point(plat, plon) else {
            continue;
        };
        let pid = format!("DEMO-PRJ-{}", port.id);
        let headcount = 20 + rng.below(280) as u32;
        out.projects.push(Site {
            id: pid.clone(),
            org: org.into(),
            name: format!("Synthetic project near {}", port.name),
            kind: SiteKind::Project,
            geometry: Geometry::Point(pp),
            country: port.country,
            sector: Some("construction (synthetic)".into()),
            value_usd: Some((rng.range(5.0, 200.0) * 1e6).round()),
            headcount,
            status: SYNTHETIC.into(),
        });
        out.dependencies.push(Dependency {
            site: pid.clone(),
            on: port.id.clone(),
            kind: DependencyKind::Port,
            criticality: (rng.range(0.6, 1.0) * 100.0).round() / 100.0,
        });
        let nearest = airports.iter().min_by(|x, y| {
            x.anchor()
                .distance_m(pp)
                .total_cmp(&y.anchor().distance_m(pp))
        });
        if let Some(ap) = nearest {
            out.dependencies.push(Dependency {
                site: pid.clone(),
                on: ap.id.clone(),
                kind: DependencyKind::Airport,
                criticality: (rng.range(0.2, 0.5) * 100.0).round() / 100.0,
            });
        }
        let (slat, slon) = destination(
            plat,
            plon,
            rng.range(5_000.0, 30_000.0),
            rng.range(0.0, std::f64::consts::TAU),
        );
        if let Some(sp) = point(slat, slon) {
            let sid = format!("DEMO-SUP-{}", port.id);
            out.projects.push(Site {
                id: sid.clone(),
                org: org.into(),
                name: format!("Synthetic supplier plant near {}", port.name),
                kind: SiteKind::Plant,
                geometry: Geometry::Point(sp),
                country: port.country,
                sector: Some("manufacturing (synthetic)".into()),
                value_usd: Some((rng.range(1.0, 50.0) * 1e6).round()),
                headcount: 10 + rng.below(90) as u32,
                status: SYNTHETIC.into(),
            });
            out.dependencies.push(Dependency {
                site: sid,
                on: pid.clone(),
                kind: DependencyKind::Supplier,
                criticality: (rng.range(0.3, 0.8) * 100.0).round() / 100.0,
            });
        }
        for _ in 0..(3 + rng.below(6)) {
            let who = new_person(&mut out, Some(pid.clone()));
            // One in three takes a trip to another port or airport.
            if rng.below(3) == 0 && !all.is_empty() {
                let dest = all[rng.below(all.len())];
                let from = start + Duration::hours(rng.below(8 * 24) as i64);
                let to = from + Duration::hours(24 + rng.below(72) as i64);
                leg_no += 1;
                let d = dest.anchor();
                if let Ok(l) = ItineraryLeg::new(
                    format!("DEMO-L{leg_no:06}"),
                    who,
                    d,
                    dest.country,
                    format!("{} ({SYNTHETIC} trip)", dest.name),
                    from,
                    to,
                ) {
                    out.legs.push(l);
                }
            }
        }
    }
    // Travellers: one per 8 ports and airports, 1–3 consecutive legs each.
    for _ in 0..(all.len() / 8) {
        let first = all[rng.below(all.len())];
        let who = new_person(&mut out, None);
        let mut t = start + Duration::hours(rng.below(6 * 24) as i64);
        for k in 0..(1 + rng.below(3)) {
            let at = if k == 0 {
                first
            } else {
                all[rng.below(all.len())]
            };
            let a = at.anchor();
            let (la, lo) = destination(
                a.lat(),
                a.lon(),
                rng.range(0.0, 8_000.0),
                rng.range(0.0, std::f64::consts::TAU),
            );
            let Some(p) = point(la, lo) else { continue };
            let to = t + Duration::hours(12 + rng.below(84) as i64);
            leg_no += 1;
            if let Ok(l) = ItineraryLeg::new(
                format!("DEMO-L{leg_no:06}"),
                who.clone(),
                p,
                at.country,
                format!("near {} ({SYNTHETIC})", at.name),
                t,
                to,
            ) {
                out.legs.push(l);
            }
            t = to + Duration::hours(2);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CITIES: &[u8] = include_bytes!("../../../data/geo/cities15000_population.tsv");

    #[test]
    fn the_shipped_city_table_reads_whole() {
        let (cities, errors) = read_cities("cities.tsv", CITIES).unwrap();
        assert!(errors.is_empty(), "{:?}", &errors[..errors.len().min(3)]);
        assert_eq!(cities.len(), 34_006);
        let tokyo = cities.iter().find(|c| c.name == "Tokyo").unwrap();
        assert!(tokyo.population > 8_000_000);
    }

    #[test]
    fn clustered_points_follow_city_population() {
        let (cities, _) = read_cities("cities.tsv", CITIES).unwrap();
        let pts = clustered_points(&cities, 20_000, &mut Rng::new(7));
        // Every point is within 40 σ-capped km × 6 of some city; check the
        // share near the ten largest cities against their population share.
        let mut big: Vec<&City> = cities.iter().collect();
        big.sort_by_key(|c| std::cmp::Reverse(c.population));
        let top = &big[..10];
        let share: f64 = top.iter().map(|c| c.population as f64).sum::<f64>()
            / cities.iter().map(|c| c.population as f64).sum::<f64>();
        let near = pts
            .iter()
            .filter(|(la, lo)| {
                top.iter()
                    .any(|c| farguard_model::geo::haversine_m(*la, *lo, c.lat, c.lon) < 150_000.0)
            })
            .count() as f64
            / pts.len() as f64;
        assert!(
            near >= share * 0.9,
            "near {near} vs population share {share}"
        );
        // Not uniform noise: a uniform set would put ~0.1% there.
        assert!(near > 0.05, "{near}");
        // Deterministic for a seed.
        assert_eq!(pts[..5], clustered_points(&cities, 5, &mut Rng::new(7))[..]);
    }

    #[test]
    fn destination_goes_the_distance() {
        let (la, lo) = destination(10.0, 179.9, 100_000.0, 1.2);
        let d = farguard_model::geo::haversine_m(10.0, 179.9, la, lo);
        assert!((d - 100_000.0).abs() < 1e-3, "{d}");
        assert!((-180.0..=180.0).contains(&lo));
    }
}
