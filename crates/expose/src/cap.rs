//! The lon/lat envelope(s) that contain a spherical cap: the candidate filter.

use farguard_model::{EARTH_RADIUS_M, Point};

/// Envelopes `[min_lon, min_lat, max_lon, max_lat]` (degrees) whose union
/// contains every point within `radius_m` of `center` on the sphere. One
/// envelope normally, two when the cap crosses the antimeridian, and a full
/// longitude band when it reaches a pole.
pub fn cap_envelopes(center: Point, radius_m: f64) -> Vec<[f64; 4]> {
    let d = (radius_m / EARTH_RADIUS_M).to_degrees();
    let (lat, lon) = (center.lat(), center.lon());
    let min_lat = lat - d;
    let max_lat = lat + d;
    if min_lat <= -90.0
        || max_lat >= 90.0
        || radius_m >= std::f64::consts::PI * EARTH_RADIUS_M / 2.0
    {
        return vec![[-180.0, min_lat.max(-90.0), 180.0, max_lat.min(90.0)]];
    }
    // Largest longitude offset reached by the cap: asin(sin d / cos lat).
    let s = (d.to_radians().sin() / lat.to_radians().cos()).min(1.0);
    // A hair of slack so that rounding never drops a point on the rim.
    let dl = s.asin().to_degrees() * (1.0 + 1e-9) + 1e-9;
    let (lo, hi) = (lon - dl, lon + dl);
    let (min_lat, max_lat) = (min_lat - 1e-9, max_lat + 1e-9);
    if lo < -180.0 {
        vec![
            [-180.0, min_lat, hi, max_lat],
            [lo + 360.0, min_lat, 180.0, max_lat],
        ]
    } else if hi > 180.0 {
        vec![
            [lo, min_lat, 180.0, max_lat],
            [-180.0, min_lat, hi - 360.0, max_lat],
        ]
    } else {
        vec![[lo, min_lat, hi, max_lat]]
    }
}
