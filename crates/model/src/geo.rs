//! Coordinates, points, radii and polygons, validated at construction, and the
//! great-circle distance every exposure decision is made with.
//!
//! Distances are on a sphere of radius [`EARTH_RADIUS_M`] (the mean radius
//! PostGIS uses for `geography` with `use_spheroid = false`), so a match
//! count can be checked against PostGIS exactly.

use crate::ModelError;

/// Mean Earth radius in metres (IUGG), the sphere PostGIS uses.
pub const EARTH_RADIUS_M: f64 = 6_371_008.771_4;

/// A latitude in degrees, -90..=90.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Lat(f64);

impl Lat {
    pub fn new(v: f64) -> Result<Self, ModelError> {
        if v.is_finite() && (-90.0..=90.0).contains(&v) {
            Ok(Self(v))
        } else {
            Err(ModelError::Latitude(v))
        }
    }
    pub fn get(self) -> f64 {
        self.0
    }
}

/// A longitude in degrees, -180..=180.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Lon(f64);

impl Lon {
    pub fn new(v: f64) -> Result<Self, ModelError> {
        if v.is_finite() && (-180.0..=180.0).contains(&v) {
            Ok(Self(v))
        } else {
            Err(ModelError::Longitude(v))
        }
    }
    pub fn get(self) -> f64 {
        self.0
    }
}

/// A point on the Earth (WGS 84 degrees).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub lat: Lat,
    pub lon: Lon,
}

impl Point {
    /// Validates both coordinates.
    pub fn new(lat: f64, lon: f64) -> Result<Self, ModelError> {
        Ok(Self {
            lat: Lat::new(lat)?,
            lon: Lon::new(lon)?,
        })
    }
    pub fn lat(self) -> f64 {
        self.lat.0
    }
    pub fn lon(self) -> f64 {
        self.lon.0
    }

    /// Great-circle distance in metres (haversine on [`EARTH_RADIUS_M`]).
    pub fn distance_m(self, other: Point) -> f64 {
        haversine_m(self.lat(), self.lon(), other.lat(), other.lon())
    }
}

/// Great-circle distance in metres between two lat/lon pairs in degrees.
pub fn haversine_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().min(1.0).asin()
}

/// A search or impact radius in kilometres, more than 0 and at most 20,000.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Radius(f64);

impl Radius {
    /// 50 km, the radius used where no rule gives one.
    pub const DEFAULT: Radius = Radius(50.0);

    pub fn km(v: f64) -> Result<Self, ModelError> {
        if v.is_finite() && v > 0.0 && v <= 20_000.0 {
            Ok(Self(v))
        } else {
            Err(ModelError::Radius(v))
        }
    }
    pub fn get_km(self) -> f64 {
        self.0
    }
    pub fn get_m(self) -> f64 {
        self.0 * 1000.0
    }
}

/// A simple polygon: one closed outer ring of at least four points (first
/// equals last), no repeated consecutive vertices, and no edge crossing
/// another.
#[derive(Debug, Clone, PartialEq)]
pub struct Polygon {
    ring: Vec<Point>,
}

impl Polygon {
    pub fn new(ring: Vec<Point>) -> Result<Self, ModelError> {
        if ring.len() < 4 {
            return Err(ModelError::Polygon(format!(
                "a ring needs at least 4 positions (3 corners and the closing one), got {}",
                ring.len()
            )));
        }
        if ring.first() != ring.last() {
            return Err(ModelError::Polygon(
                "the ring is not closed: repeat the first position as the last".into(),
            ));
        }
        let n = ring.len() - 1;
        for i in 0..n {
            for j in (i + 1)..n {
                // Adjacent edges share a vertex; skip them (and the wrap-around pair).
                if j == i + 1 || (i == 0 && j == n - 1) {
                    continue;
                }
                if segments_cross(ring[i], ring[i + 1], ring[j], ring[j + 1]) {
                    return Err(ModelError::Polygon(format!(
                        "the ring intersects itself: edge {} crosses edge {}",
                        i + 1,
                        j + 1
                    )));
                }
            }
        }
        Ok(Self { ring })
    }
    pub fn ring(&self) -> &[Point] {
        &self.ring
    }

    /// Planar ray-casting point-in-polygon in lon/lat degrees; adequate for
    /// the site and alert areas it is used on (none spans the antimeridian).
    pub fn contains(&self, p: Point) -> bool {
        let (x, y) = (p.lon(), p.lat());
        let mut inside = false;
        let r = &self.ring;
        let mut j = r.len() - 1;
        for i in 0..r.len() {
            let (xi, yi) = (r[i].lon(), r[i].lat());
            let (xj, yj) = (r[j].lon(), r[j].lat());
            if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
                inside = !inside;
            }
            j = i;
        }
        inside
    }

    /// The vertex mean, used as a representative point for distance reports.
    pub fn centroid(&self) -> Point {
        let n = (self.ring.len() - 1) as f64;
        let (mut la, mut lo) = (0.0, 0.0);
        for p in &self.ring[..self.ring.len() - 1] {
            la += p.lat();
            lo += p.lon();
        }
        Point {
            lat: Lat(la / n),
            lon: Lon(lo / n),
        }
    }
}

fn orient(a: Point, b: Point, c: Point) -> f64 {
    (b.lon() - a.lon()) * (c.lat() - a.lat()) - (b.lat() - a.lat()) * (c.lon() - a.lon())
}

fn segments_cross(a: Point, b: Point, c: Point, d: Point) -> bool {
    let (d1, d2) = (orient(c, d, a), orient(c, d, b));
    let (d3, d4) = (orient(a, b, c), orient(a, b, d));
    ((d1 > 0.0 && d2 < 0.0) || (d1 < 0.0 && d2 > 0.0))
        && ((d3 > 0.0 && d4 < 0.0) || (d3 < 0.0 && d4 > 0.0))
}

/// Where a registered interest is: a point or a polygon.
#[derive(Debug, Clone, PartialEq)]
pub enum Geometry {
    Point(Point),
    Polygon(Polygon),
}

impl Geometry {
    /// A representative point (the point itself, or the polygon's centroid).
    pub fn anchor(&self) -> Point {
        match self {
            Geometry::Point(p) => *p,
            Geometry::Polygon(poly) => poly.centroid(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(lat: f64, lon: f64) -> Point {
        Point::new(lat, lon).unwrap()
    }

    #[test]
    fn latitude_and_longitude_are_range_checked() {
        assert!(Lat::new(123.0).is_err());
        assert!(Lat::new(f64::NAN).is_err());
        assert!(Lon::new(-180.5).is_err());
        assert!(Point::new(-90.0, 180.0).is_ok());
    }

    #[test]
    fn haversine_matches_known_distance() {
        // Beijing to Nairobi: about 9,210 km on the mean sphere.
        let d = p(39.9042, 116.4074).distance_m(p(-1.2921, 36.8219)) / 1000.0;
        assert!((d - 9212.0).abs() < 15.0, "{d}");
        assert_eq!(p(10.0, 10.0).distance_m(p(10.0, 10.0)), 0.0);
    }

    #[test]
    fn polygon_must_close_and_not_cross_itself() {
        let open = vec![p(0.0, 0.0), p(0.0, 1.0), p(1.0, 1.0), p(1.0, 0.0)];
        assert!(Polygon::new(open).is_err());
        let bowtie = vec![
            p(0.0, 0.0),
            p(1.0, 1.0),
            p(1.0, 0.0),
            p(0.0, 1.0),
            p(0.0, 0.0),
        ];
        let err = Polygon::new(bowtie).unwrap_err().to_string();
        assert!(err.contains("intersects itself"), "{err}");
        let square = Polygon::new(vec![
            p(0.0, 0.0),
            p(0.0, 1.0),
            p(1.0, 1.0),
            p(1.0, 0.0),
            p(0.0, 0.0),
        ])
        .unwrap();
        assert!(square.contains(p(0.5, 0.5)));
        assert!(!square.contains(p(1.5, 0.5)));
        assert_eq!(square.centroid(), p(0.5, 0.5));
    }

    #[test]
    fn radius_rejects_zero_and_negative() {
        assert!(Radius::km(0.0).is_err());
        assert!(Radius::km(-3.0).is_err());
        assert_eq!(Radius::km(50.0).unwrap().get_m(), 50_000.0);
    }
}
