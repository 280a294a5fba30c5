//! The areas an exposure query can ask about: a circle (an event's point and
//! radius, a CAP `<circle>`), a polygon (a CAP `<polygon>`, a GDACS event
//! polygon, an admin region), or a whole country (a raised country level).

use farguard_model::{CountryCode, Geometry, ModelError, Point, Polygon, Radius, Site};
use std::fmt;

/// Where an exposure query looks.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryArea {
    /// Everything within `radius` of `center` on the sphere.
    Circle { center: Point, radius: Radius },
    /// Everything inside (or, for polygon sites, overlapping) the polygon.
    Polygon(Polygon),
    /// Everything registered in the country.
    Country(CountryCode),
}

impl QueryArea {
    /// Parses the text forms:
    /// - `circle:LAT,LON,KM` (also the CAP form `circle:LAT,LON KM`);
    /// - `polygon:LAT,LON LAT,LON …` (the CAP 1.2 `<polygon>` form: lat,lon
    ///   pairs separated by spaces, first pair repeated last);
    /// - `country:KE` or just `KE` (ISO 3166-1 alpha-2 or alpha-3).
    pub fn parse(s: &str) -> Result<Self, ModelError> {
        let s = s.trim();
        if let Some(rest) = s.strip_prefix("circle:") {
            let nums: Vec<f64> = rest
                .split([',', ' '])
                .filter(|t| !t.is_empty())
                .map(|t| t.parse::<f64>())
                .collect::<Result<_, _>>()
                .map_err(|_| {
                    bad(
                        s,
                        "circle: expects LAT,LON,KM such as circle:-4.05,39.66,25",
                    )
                })?;
            let [lat, lon, km] = nums[..] else {
                return Err(bad(s, "circle: expects exactly LAT,LON,KM"));
            };
            return Ok(QueryArea::Circle {
                center: Point::new(lat, lon)?,
                radius: Radius::km(km)?,
            });
        }
        if let Some(rest) = s.strip_prefix("polygon:") {
            return Ok(QueryArea::Polygon(parse_cap_polygon(rest)?));
        }
        let code = s.strip_prefix("country:").unwrap_or(s);
        Ok(QueryArea::Country(CountryCode::parse(code)?))
    }

    /// A short description for reasons ("within 25 km of (-4.05, 39.66)").
    pub fn describe(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for QueryArea {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryArea::Circle { center, radius } => write!(
                f,
                "the {} km circle around ({}, {})",
                radius.get_km(),
                center.lat(),
                center.lon()
            ),
            QueryArea::Polygon(p) => write!(f, "the polygon of {} corners", p.ring().len() - 1),
            QueryArea::Country(c) => write!(f, "country {c}"),
        }
    }
}

fn bad(s: &str, hint: &'static str) -> ModelError {
    ModelError::Invalid {
        field: "area",
        value: s.to_string(),
        hint,
    }
}

/// Parses a CAP 1.2 polygon: `lat,lon lat,lon …`, closed.
pub fn parse_cap_polygon(text: &str) -> Result<Polygon, ModelError> {
    let pts = text
        .split_whitespace()
        .map(|pair| {
            let (a, b) = pair
                .split_once(',')
                .ok_or_else(|| bad(pair, "a CAP polygon is lat,lon pairs separated by spaces"))?;
            let lat = a
                .trim()
                .parse::<f64>()
                .map_err(|_| bad(pair, "latitude is not a number"))?;
            let lon = b
                .trim()
                .parse::<f64>()
                .map_err(|_| bad(pair, "longitude is not a number"))?;
            Point::new(lat, lon)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Polygon::new(pts)
}

/// Lon/lat bounding box `[min_lon, min_lat, max_lon, max_lat]` of a polygon.
pub(crate) fn bbox(p: &Polygon) -> [f64; 4] {
    let mut e = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
    for q in p.ring() {
        e[0] = e[0].min(q.lon());
        e[1] = e[1].min(q.lat());
        e[2] = e[2].max(q.lon());
        e[3] = e[3].max(q.lat());
    }
    e
}

fn orient(a: Point, b: Point, c: Point) -> f64 {
    (b.lon() - a.lon()) * (c.lat() - a.lat()) - (b.lat() - a.lat()) * (c.lon() - a.lon())
}

fn on_segment(a: Point, b: Point, c: Point) -> bool {
    c.lon() >= a.lon().min(b.lon())
        && c.lon() <= a.lon().max(b.lon())
        && c.lat() >= a.lat().min(b.lat())
        && c.lat() <= a.lat().max(b.lat())
}

/// Planar segment intersection in lon/lat, touching included.
fn segments_meet(a: Point, b: Point, c: Point, d: Point) -> bool {
    let (d1, d2) = (orient(c, d, a), orient(c, d, b));
    let (d3, d4) = (orient(a, b, c), orient(a, b, d));
    if ((d1 > 0.0 && d2 < 0.0) || (d1 < 0.0 && d2 > 0.0))
        && ((d3 > 0.0 && d4 < 0.0) || (d3 < 0.0 && d4 > 0.0))
    {
        return true;
    }
    (d1 == 0.0 && on_segment(c, d, a))
        || (d2 == 0.0 && on_segment(c, d, b))
        || (d3 == 0.0 && on_segment(a, b, c))
        || (d4 == 0.0 && on_segment(a, b, d))
}

/// Whether two simple polygons share any point (planar, lon/lat): an edge
/// crosses, or one contains a vertex of the other.
pub(crate) fn polygons_meet(a: &Polygon, b: &Polygon) -> bool {
    let (ra, rb) = (a.ring(), b.ring());
    if a.contains(rb[0]) || b.contains(ra[0]) {
        return true;
    }
    ra.windows(2)
        .any(|e| rb.windows(2).any(|f| segments_meet(e[0], e[1], f[0], f[1])))
}

/// Whether a site lies in (or overlaps) a polygon area, planar in lon/lat
/// like [`Polygon::contains`].
pub(crate) fn site_in_polygon(site: &Site, area: &Polygon) -> bool {
    match &site.geometry {
        Geometry::Point(p) => area.contains(*p),
        Geometry::Polygon(sp) => polygons_meet(sp, area),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms_parse() {
        let c = QueryArea::parse("circle:-4.05,39.66,25").unwrap();
        assert!(matches!(c, QueryArea::Circle { radius, .. } if radius.get_km() == 25.0));
        assert_eq!(
            QueryArea::parse("circle:-4.05,39.66 25").unwrap(),
            c,
            "the CAP circle form"
        );
        let p = QueryArea::parse("polygon:-1,36 -1,37 0,37 0,36 -1,36").unwrap();
        assert!(
            matches!(&p, QueryArea::Polygon(poly) if poly.contains(Point::new(-0.5, 36.5).unwrap()))
        );
        assert_eq!(
            QueryArea::parse("KEN").unwrap(),
            QueryArea::Country(CountryCode::parse("KE").unwrap())
        );
        assert!(
            QueryArea::parse("polygon:-1,36 -1,37 0,37").is_err(),
            "not closed"
        );
        assert!(QueryArea::parse("circle:1,2").is_err());
        assert!(QueryArea::parse("circle:1,2,-3").is_err());
    }

    #[test]
    fn polygons_meet_by_crossing_containing_or_not_at_all() {
        let sq = |x0: f64, y0: f64, s: f64| {
            let p = |a: f64, b: f64| Point::new(b, a).unwrap();
            Polygon::new(vec![
                p(x0, y0),
                p(x0 + s, y0),
                p(x0 + s, y0 + s),
                p(x0, y0 + s),
                p(x0, y0),
            ])
            .unwrap()
        };
        assert!(
            polygons_meet(&sq(0.0, 0.0, 2.0), &sq(1.0, 1.0, 2.0)),
            "overlap"
        );
        assert!(
            polygons_meet(&sq(0.0, 0.0, 4.0), &sq(1.0, 1.0, 1.0)),
            "inside"
        );
        assert!(
            polygons_meet(&sq(1.0, 1.0, 1.0), &sq(0.0, 0.0, 4.0)),
            "contains"
        );
        assert!(
            !polygons_meet(&sq(0.0, 0.0, 1.0), &sq(3.0, 3.0, 1.0)),
            "apart"
        );
    }
}
