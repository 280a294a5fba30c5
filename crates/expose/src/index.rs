//! The in-memory site index and the exact great-circle predicate.

use crate::area::{QueryArea, bbox, site_in_polygon};
use crate::cap::cap_envelopes;
use farguard_model::geo::haversine_m;
use farguard_model::{EARTH_RADIUS_M, Geometry, Point, Polygon, Radius, Site};
use rstar::{AABB, RTree, RTreeObject};

/// An index entry: the site's position in the arena and its envelope.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Entry {
    site: u32,
    env: [f64; 4],
}

impl RTreeObject for Entry {
    type Envelope = AABB<[f64; 2]>;
    fn envelope(&self) -> Self::Envelope {
        AABB::from_corners([self.env[0], self.env[1]], [self.env[2], self.env[3]])
    }
}

/// A site that matched, with the exact distance from the query point
/// (0 when the point is inside a polygon site).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub site: usize,
    pub distance_m: f64,
    pub inside: bool,
}

/// Sites in an R-tree, built once from the store and updated with the registry.
#[derive(Debug)]
pub struct SiteIndex {
    sites: Vec<Site>,
    tree: RTree<Entry>,
}

fn envelope(site: &Site) -> [f64; 4] {
    match &site.geometry {
        Geometry::Point(p) => [p.lon(), p.lat(), p.lon(), p.lat()],
        Geometry::Polygon(poly) => {
            let mut e = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
            for p in poly.ring() {
                e[0] = e[0].min(p.lon());
                e[1] = e[1].min(p.lat());
                e[2] = e[2].max(p.lon());
                e[3] = e[3].max(p.lat());
            }
            e
        }
    }
}

impl SiteIndex {
    /// Bulk-loads the index.
    pub fn build(sites: Vec<Site>) -> Self {
        let entries = sites
            .iter()
            .enumerate()
            .map(|(i, s)| Entry {
                site: i as u32,
                env: envelope(s),
            })
            .collect();
        Self {
            tree: RTree::bulk_load(entries),
            sites,
        }
    }

    pub fn len(&self) -> usize {
        self.sites.len()
    }
    pub fn is_empty(&self) -> bool {
        self.sites.is_empty()
    }
    pub fn site(&self, i: usize) -> &Site {
        &self.sites[i]
    }
    pub fn sites(&self) -> &[Site] {
        &self.sites
    }

    /// Inserts a new site or replaces the one with the same id.
    pub fn upsert(&mut self, site: Site) {
        if let Some(i) = self.sites.iter().position(|s| s.id == site.id) {
            let old = Entry {
                site: i as u32,
                env: envelope(&self.sites[i]),
            };
            self.tree.remove(&old);
            self.tree.insert(Entry {
                site: i as u32,
                env: envelope(&site),
            });
            self.sites[i] = site;
        } else {
            let i = self.sites.len() as u32;
            self.tree.insert(Entry {
                site: i,
                env: envelope(&site),
            });
            self.sites.push(site);
        }
    }

    /// Every site in an area: within a circle (exact great-circle distance),
    /// inside or overlapping a polygon, or registered in a country. Nearest
    /// first for circles, by id otherwise; `distance_m` is 0 and `inside`
    /// true for polygon and country areas.
    pub fn in_area(&self, area: &QueryArea) -> Vec<Hit> {
        let mut hits: Vec<Hit> = match area {
            QueryArea::Circle { center, radius } => return self.within(*center, *radius),
            QueryArea::Polygon(poly) => {
                let b = bbox(poly);
                let aabb = AABB::from_corners([b[0], b[1]], [b[2], b[3]]);
                self.tree
                    .locate_in_envelope_intersecting(aabb)
                    .map(|e| e.site as usize)
                    .filter(|&i| site_in_polygon(&self.sites[i], poly))
                    .map(|i| Hit {
                        site: i,
                        distance_m: 0.0,
                        inside: true,
                    })
                    .collect()
            }
            QueryArea::Country(c) => self
                .sites
                .iter()
                .enumerate()
                .filter(|(_, s)| s.country == *c)
                .map(|(i, _)| Hit {
                    site: i,
                    distance_m: 0.0,
                    inside: true,
                })
                .collect(),
        };
        hits.sort_by(|a, b| self.sites[a.site].id.cmp(&self.sites[b.site].id));
        hits
    }

    /// The position of the site with this id.
    pub fn position(&self, id: &str) -> Option<usize> {
        self.sites.iter().position(|s| s.id == id)
    }

    /// Every site within `radius` of `center`, nearest first (ties by id).
    pub fn within(&self, center: Point, radius: Radius) -> Vec<Hit> {
        let r = radius.get_m();
        let mut hits = Vec::new();
        for env in cap_envelopes(center, r) {
            let aabb = AABB::from_corners([env[0], env[1]], [env[2], env[3]]);
            for e in self.tree.locate_in_envelope_intersecting(aabb) {
                let i = e.site as usize;
                if hits.iter().any(|h: &Hit| h.site == i) {
                    continue; // seen in the other half of an antimeridian split
                }
                if let Some(h) = exact(&self.sites[i], i, center, r) {
                    hits.push(h);
                }
            }
        }
        hits.sort_by(|a, b| {
            a.distance_m
                .total_cmp(&b.distance_m)
                .then_with(|| self.sites[a.site].id.cmp(&self.sites[b.site].id))
        });
        hits
    }
}

/// The exact predicate for one site.
fn exact(site: &Site, i: usize, c: Point, r: f64) -> Option<Hit> {
    match &site.geometry {
        Geometry::Point(p) => {
            let d = haversine_m(c.lat(), c.lon(), p.lat(), p.lon());
            (d <= r).then_some(Hit {
                site: i,
                distance_m: d,
                inside: false,
            })
        }
        Geometry::Polygon(poly) => {
            if poly.contains(c) {
                return Some(Hit {
                    site: i,
                    distance_m: 0.0,
                    inside: true,
                });
            }
            let d = distance_to_boundary(poly, c);
            (d <= r).then_some(Hit {
                site: i,
                distance_m: d,
                inside: false,
            })
        }
    }
}

fn to_vec3(p: Point) -> [f64; 3] {
    let (la, lo) = (p.lat().to_radians(), p.lon().to_radians());
    [la.cos() * lo.cos(), la.cos() * lo.sin(), la.sin()]
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// Great-circle distance (m) from `p` to the segment `a`–`b`: the cross-track
/// distance when the foot of the perpendicular falls on the segment, else the
/// nearer end.
pub(crate) fn distance_to_segment(p: Point, a: Point, b: Point) -> f64 {
    let ends = haversine_m(p.lat(), p.lon(), a.lat(), a.lon()).min(haversine_m(
        p.lat(),
        p.lon(),
        b.lat(),
        b.lon(),
    ));
    let (va, vb, vp) = (to_vec3(a), to_vec3(b), to_vec3(p));
    let n = cross(va, vb);
    let nn = dot(n, n).sqrt();
    if nn < 1e-15 {
        return ends;
    }
    let n = [n[0] / nn, n[1] / nn, n[2] / nn];
    let sin_xt = dot(vp, n).clamp(-1.0, 1.0);
    // Foot of the perpendicular, projected onto the great circle.
    let f = [
        vp[0] - sin_xt * n[0],
        vp[1] - sin_xt * n[1],
        vp[2] - sin_xt * n[2],
    ];
    // On the minor arc a–b iff f is between a and b.
    let on_arc = dot(cross(va, f), n) >= 0.0 && dot(cross(f, vb), n) >= 0.0;
    if on_arc {
        (sin_xt.asin().abs() * EARTH_RADIUS_M).min(ends)
    } else {
        ends
    }
}

fn distance_to_boundary(poly: &Polygon, p: Point) -> f64 {
    poly.ring()
        .windows(2)
        .map(|w| distance_to_segment(p, w[0], w[1]))
        .fold(f64::INFINITY, f64::min)
}

#[cfg(test)]
mod tests {
    use super::*;
    use farguard_model::{CountryCode, SiteKind};
    use proptest::prelude::*;

    fn site(id: usize, lat: f64, lon: f64) -> Site {
        Site {
            id: format!("S{id}"),
            org: "o".into(),
            name: "n".into(),
            kind: SiteKind::Project,
            geometry: Geometry::Point(Point::new(lat, lon).unwrap()),
            country: CountryCode::parse("KE").unwrap(),
            sector: None,
            value_usd: None,
            headcount: 1,
            status: "active".into(),
        }
    }

    fn brute(sites: &[Site], c: Point, r: f64) -> Vec<usize> {
        let mut v: Vec<usize> = sites
            .iter()
            .enumerate()
            .filter(|(i, s)| exact(s, *i, c, r).is_some())
            .map(|(i, _)| i)
            .collect();
        v.sort();
        v
    }

    #[test]
    fn antimeridian_and_pole_queries_find_everything() {
        let sites = vec![
            site(0, 0.0, 179.9),
            site(1, 0.0, -179.9),
            site(2, 89.9, 0.0),
            site(3, 89.9, 180.0),
            site(4, 0.0, 0.0),
        ];
        let idx = SiteIndex::build(sites);
        let across: Vec<_> = idx
            .within(Point::new(0.0, 180.0).unwrap(), Radius::km(50.0).unwrap())
            .iter()
            .map(|h| h.site)
            .collect();
        assert_eq!(across.len(), 2);
        let pole: Vec<_> = idx
            .within(Point::new(90.0, 0.0).unwrap(), Radius::km(20.0).unwrap())
            .iter()
            .map(|h| h.site)
            .collect();
        assert_eq!(pole.len(), 2);
    }

    #[test]
    fn polygon_sites_match_inside_and_near_the_edge() {
        let ring = [(0.0, 0.0), (0.0, 1.0), (1.0, 1.0), (1.0, 0.0), (0.0, 0.0)]
            .iter()
            .map(|(a, b)| Point::new(*a, *b).unwrap())
            .collect();
        let mut s = site(0, 0.0, 0.0);
        s.geometry = Geometry::Polygon(Polygon::new(ring).unwrap());
        let idx = SiteIndex::build(vec![s]);
        let r = Radius::km(20.0).unwrap();
        let inside = idx.within(Point::new(0.5, 0.5).unwrap(), r);
        assert!(inside[0].inside);
        // 0.1° of latitude north of the top edge is about 11.1 km.
        let near = idx.within(Point::new(1.1, 0.5).unwrap(), r);
        assert!(
            (near[0].distance_m - 11_119.0).abs() < 50.0,
            "{}",
            near[0].distance_m
        );
        assert!(idx.within(Point::new(1.3, 0.5).unwrap(), r).is_empty());
    }

    #[test]
    fn upsert_moves_a_site() {
        let mut idx = SiteIndex::build(vec![site(0, 0.0, 0.0)]);
        let r = Radius::km(10.0).unwrap();
        idx.upsert(site(0, 10.0, 10.0));
        assert!(idx.within(Point::new(0.0, 0.0).unwrap(), r).is_empty());
        assert_eq!(idx.within(Point::new(10.0, 10.0).unwrap(), r).len(), 1);
        idx.upsert(site(1, 0.0, 0.0));
        assert_eq!(idx.len(), 2);
    }

    #[test]
    fn polygon_and_country_areas_select_exactly() {
        let mut sites = vec![site(0, 0.5, 0.5), site(1, 5.0, 5.0), site(2, -0.5, 0.5)];
        sites[1].country = CountryCode::parse("TZ").unwrap();
        let idx = SiteIndex::build(sites);
        let area = QueryArea::parse("polygon:0,0 0,1 1,1 1,0 0,0").unwrap();
        let got: Vec<usize> = idx.in_area(&area).iter().map(|h| h.site).collect();
        assert_eq!(got, vec![0]);
        let tz = QueryArea::parse("TZ").unwrap();
        assert_eq!(
            idx.in_area(&tz).iter().map(|h| h.site).collect::<Vec<_>>(),
            vec![1]
        );
    }

    proptest! {
        #[test]
        fn polygon_area_equals_brute_force(
            pts in proptest::collection::vec((-10.0f64..=10.0, -10.0f64..=10.0), 1..200),
            c in (-8.0f64..=8.0, -8.0f64..=8.0),
            w in 0.1f64..5.0,
        ) {
            let sites: Vec<Site> = pts.iter().enumerate().map(|(i, (a, o))| site(i, *a, *o)).collect();
            let idx = SiteIndex::build(sites.clone());
            let p = |a: f64, b: f64| Point::new(a, b).unwrap();
            // A triangle with a notch: simple, not convex.
            let poly = Polygon::new(vec![p(c.0, c.1), p(c.0, c.1 + 2.0 * w), p(c.0 + w / 2.0, c.1 + w), p(c.0 + w, c.1 + 2.0 * w), p(c.0 + w, c.1), p(c.0, c.1)]).unwrap();
            let mut got: Vec<usize> = idx.in_area(&QueryArea::Polygon(poly.clone())).iter().map(|h| h.site).collect();
            got.sort();
            let want: Vec<usize> = sites.iter().enumerate().filter(|(_, s)| poly.contains(s.anchor())).map(|(i, _)| i).collect();
            prop_assert_eq!(got, want);
        }
    }

    proptest! {
        #[test]
        fn index_equals_brute_force(
            pts in proptest::collection::vec((-90.0f64..=90.0, -180.0f64..=180.0), 1..300),
            c in (-90.0f64..=90.0, -180.0f64..=180.0),
            r_km in 1.0f64..3000.0,
        ) {
            let sites: Vec<Site> = pts.iter().enumerate().map(|(i, (a, o))| site(i, *a, *o)).collect();
            let idx = SiteIndex::build(sites.clone());
            let center = Point::new(c.0, c.1).unwrap();
            let mut got: Vec<usize> = idx.within(center, Radius::km(r_km).unwrap()).iter().map(|h| h.site).collect();
            got.sort();
            prop_assert_eq!(got, brute(&sites, center, r_km * 1000.0));
        }
    }
}
