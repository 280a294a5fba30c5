//! The bulk point matcher: millions of points in a cell-sorted flat array,
//! queried by spherical cap with an exact answer.
//!
//! Layout. Latitude is cut into bands of `h` degrees; each band into
//! longitude cells about `h` wide at its widest, so cells are roughly square
//! on the ground. Points are counting-sorted by (band, cell), and
//! `cell_start` gives each cell's range, so the cells of one band that a
//! query touches are one contiguous slice (two across the antimeridian).
//! The hot data per point is its unit vector as three `f32` (12 bytes) and
//! its id (4 bytes); the exact `f64` latitude and longitude (16 bytes) are
//! read only for the rare point on the rim.
//!
//! Decision. For unit vectors a, b and central angle θ, `|a−b|² = 2−2cos θ`,
//! so "within r" is `|a−b|² ≤ T` with `T = 4 sin²(r/2R)`. The stored `f32`
//! vector is off by at most ~1e-7, which moves `|a−b|²` by at most `m`
//! (bounded below); a point with `|a−b|² < T−m` is inside for certain, one
//! with `|a−b|² > T+m` is outside for certain, and one in between is decided
//! by the same haversine the rest of farguard uses. The result is exactly
//! the brute-force haversine result.

use farguard_model::{EARTH_RADIUS_M, Point, geo::haversine_m};

/// A point set indexed for spherical-cap queries. Build once, query many.
#[derive(Debug, Clone)]
pub struct PointGrid {
    band_deg: f64,
    /// Per band: number of cells and the position of its first cell.
    band_cells: Vec<u32>,
    band_first: Vec<u32>,
    /// Per cell (plus one): the first point of the cell in sorted order.
    cell_start: Vec<u32>,
    xyz: Vec<[f32; 3]>,
    ids: Vec<u32>,
    latlon: Vec<[f64; 2]>,
}

fn unit(lat: f64, lon: f64) -> [f64; 3] {
    let (la, lo) = (lat.to_radians(), lon.to_radians());
    let (sla, cla) = la.sin_cos();
    let (slo, clo) = lo.sin_cos();
    [cla * clo, cla * slo, sla]
}

/// What one radius means in chord space, computed once per radius.
#[derive(Debug, Clone, Copy)]
struct Chord {
    r_m: f64,
    /// Angular radius in degrees.
    d_deg: f64,
    lo: f64,
    hi: f64,
    all: bool,
}

impl Chord {
    fn new(r_m: f64) -> Self {
        let theta = r_m / EARTH_RADIUS_M;
        let s = (theta / 2.0).sin();
        let t = 4.0 * s * s;
        // f32 storage moves each stored vector by at most sqrt(3)·2^-24 ≈
        // 1.04e-7; |a−b|² then moves by at most 2·|a−b|·1.04e-7 + 1.1e-14.
        // Triple that, and add room for f64 rounding in both formulas.
        let m = 6.5e-7 * t.sqrt() + 1e-9 * t + 1e-13;
        Self {
            r_m,
            d_deg: theta.to_degrees(),
            lo: t - m,
            hi: t + m,
            all: theta >= std::f64::consts::PI,
        }
    }
}

impl PointGrid {
    /// Builds the grid over `(lat, lon)` points in degrees (already
    /// validated: lat in -90..=90, lon in -180..=180). Point `i` is reported
    /// as id `i`. `per_cell` is the mean number of points a cell should hold
    /// (about 2 is a good default).
    pub fn build(points: &[(f64, f64)], per_cell: f64) -> Self {
        let n = points.len().max(1) as f64;
        // Total cells ≈ 41,253 deg² · (2/π)… ≈ 41,253 / h² (square cells).
        let h = (41_253.0 * per_cell.max(0.05) / n).sqrt().clamp(0.01, 10.0);
        let nbands = (180.0 / h).ceil() as usize;
        let band_deg = 180.0 / nbands as f64;
        let mut band_cells = Vec::with_capacity(nbands);
        let mut band_first = Vec::with_capacity(nbands);
        let mut total = 0u32;
        for b in 0..nbands {
            let lo = -90.0 + b as f64 * band_deg;
            let hi = lo + band_deg;
            // The band's widest parallel (nearest the equator).
            let widest = if lo <= 0.0 && hi >= 0.0 {
                0.0
            } else {
                lo.abs().min(hi.abs())
            };
            let cells = ((360.0 * widest.to_radians().cos() / band_deg).ceil() as u32).max(1);
            band_first.push(total);
            band_cells.push(cells);
            total += cells;
        }
        let mut g = Self {
            band_deg,
            band_cells,
            band_first,
            cell_start: vec![0; total as usize + 1],
            xyz: Vec::new(),
            ids: Vec::new(),
            latlon: Vec::new(),
        };
        // Counting sort by cell: count, prefix, scatter.
        let keys: Vec<u32> = points.iter().map(|&(la, lo)| g.cell_of(la, lo)).collect();
        for &k in &keys {
            g.cell_start[k as usize + 1] += 1;
        }
        for i in 1..g.cell_start.len() {
            g.cell_start[i] += g.cell_start[i - 1];
        }
        let mut next = g.cell_start.clone();
        let np = points.len();
        g.xyz = vec![[0.0; 3]; np];
        g.ids = vec![0; np];
        g.latlon = vec![[0.0; 2]; np];
        for (i, (&k, &(la, lo))) in keys.iter().zip(points).enumerate() {
            let slot = next[k as usize] as usize;
            next[k as usize] += 1;
            let u = unit(la, lo);
            g.xyz[slot] = [u[0] as f32, u[1] as f32, u[2] as f32];
            g.ids[slot] = i as u32;
            g.latlon[slot] = [la, lo];
        }
        g
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Bytes held by the index (all arrays), for the size report.
    pub fn heap_bytes(&self) -> usize {
        self.xyz.len() * 12
            + self.ids.len() * 4
            + self.latlon.len() * 16
            + (self.cell_start.len() + self.band_cells.len() + self.band_first.len()) * 4
    }

    /// Bytes the query loop touches per point: the f32 vectors, the ids and
    /// the cell table (the exact lat/lon are read only on the rim).
    pub fn hot_bytes(&self) -> usize {
        self.xyz.len() * 12
            + self.ids.len() * 4
            + (self.cell_start.len() + self.band_cells.len() + self.band_first.len()) * 4
    }

    fn band_of(&self, lat: f64) -> usize {
        (((lat + 90.0) / self.band_deg) as usize).min(self.band_cells.len() - 1)
    }

    fn cell_of(&self, lat: f64, lon: f64) -> u32 {
        let b = self.band_of(lat);
        let n = self.band_cells[b];
        let c = (((lon + 180.0) / 360.0 * n as f64) as u32).min(n - 1);
        self.band_first[b] + c
    }

    /// Calls `f(id, distance_m)` for every point within `radius_m` of
    /// `center` (exact, see the module note), in storage order.
    pub fn within(&self, center: Point, radius_m: f64, mut f: impl FnMut(u32, f64)) {
        let ch = Chord::new(radius_m);
        self.scan(center.lat(), center.lon(), &ch, |slot| {
            let [la, lo] = self.latlon[slot];
            f(
                self.ids[slot],
                haversine_m(center.lat(), center.lon(), la, lo),
            );
        });
    }

    /// How many points lie within `radius_m` of each query point, summed;
    /// queries run in cell order for cache locality. `(lat, lon)` degrees.
    pub fn count_within(&self, queries: &[(f64, f64)], radius_m: f64) -> u64 {
        let ch = Chord::new(radius_m);
        let mut order: Vec<(u32, u32)> = queries
            .iter()
            .enumerate()
            .map(|(i, &(la, lo))| (self.cell_of(la, lo), i as u32))
            .collect();
        order.sort_unstable();
        let mut n = 0u64;
        for (_, i) in order {
            let (la, lo) = queries[i as usize];
            self.scan(la, lo, &ch, |_| n += 1);
        }
        n
    }

    /// Every (query, point id) pair within `radius_m`, queries in cell order.
    pub fn join(&self, queries: &[(f64, f64)], radius_m: f64, mut f: impl FnMut(u32, u32)) {
        let ch = Chord::new(radius_m);
        let mut order: Vec<(u32, u32)> = queries
            .iter()
            .enumerate()
            .map(|(i, &(la, lo))| (self.cell_of(la, lo), i as u32))
            .collect();
        order.sort_unstable();
        for (_, i) in order {
            let (la, lo) = queries[i as usize];
            self.scan(la, lo, &ch, |slot| f(i, self.ids[slot]));
        }
    }

    /// Visits every stored slot whose point is within the chord radius.
    fn scan(&self, lat: f64, lon: f64, ch: &Chord, mut hit: impl FnMut(usize)) {
        let q = unit(lat, lon);
        let exact = |slot: usize| {
            let [la, lo] = self.latlon[slot];
            haversine_m(lat, lon, la, lo) <= ch.r_m
        };
        let mut visit = |from: usize, to: usize| {
            for slot in from..to {
                let p = self.xyz[slot];
                let dx = q[0] - f64::from(p[0]);
                let dy = q[1] - f64::from(p[1]);
                let dz = q[2] - f64::from(p[2]);
                let d2 = dx * dx + dy * dy + dz * dz;
                if d2 < ch.lo || (d2 <= ch.hi && exact(slot)) {
                    hit(slot);
                }
            }
        };
        let nb = self.band_cells.len();
        if ch.all {
            visit(0, self.ids.len());
            return;
        }
        let slack = 1e-7;
        let lat_lo = (lat - ch.d_deg - slack).max(-90.0);
        let lat_hi = (lat + ch.d_deg + slack).min(90.0);
        let b0 = self.band_of(lat_lo);
        let b1 = self.band_of(lat_hi);
        let full = lat_lo <= -90.0 || lat_hi >= 90.0;
        let (sin0, cos0) = lat.to_radians().sin_cos();
        let cos_d = (ch.d_deg.to_radians()).cos();
        // Tangent latitude where the cap is widest in longitude.
        let tangent = if cos_d > 0.0 {
            (sin0 / cos_d).clamp(-1.0, 1.0).asin().to_degrees()
        } else {
            lat
        };
        let half_width = |phi: f64| -> f64 {
            // Longitude half-width of the cap at latitude phi (degrees);
            // 180 when the whole parallel is inside or the maths degenerates.
            let (s, c) = phi.to_radians().sin_cos();
            let den = c * cos0;
            if den <= 1e-12 {
                return 180.0;
            }
            let x = (cos_d - s * sin0) / den;
            if x <= -1.0 {
                180.0
            } else if x >= 1.0 {
                0.0
            } else {
                x.acos().to_degrees()
            }
        };
        for b in b0..=b1.min(nb - 1) {
            let n = self.band_cells[b] as i64;
            let first = self.band_first[b] as usize;
            let band_lo = (-90.0 + b as f64 * self.band_deg).max(lat_lo);
            let band_hi = (-90.0 + (b + 1) as f64 * self.band_deg).min(lat_hi);
            let dl = if full {
                180.0
            } else if band_lo <= tangent && tangent <= band_hi {
                half_width(tangent)
            } else {
                half_width(band_lo).max(half_width(band_hi))
            };
            let dl = dl * (1.0 + 1e-9) + slack;
            let all = |v: &mut dyn FnMut(usize, usize)| {
                v(
                    self.cell_start[first] as usize,
                    self.cell_start[first + n as usize] as usize,
                )
            };
            if dl >= 180.0 {
                all(&mut visit);
                continue;
            }
            let w = 360.0 / n as f64;
            let lo = ((lon - dl + 180.0) / w).floor() as i64;
            let hi = ((lon + dl + 180.0) / w).floor() as i64;
            if hi - lo + 1 >= n {
                all(&mut visit);
                continue;
            }
            let range = |a: i64, z: i64| {
                (
                    self.cell_start[first + a as usize] as usize,
                    self.cell_start[first + z as usize + 1] as usize,
                )
            };
            if lo < 0 {
                let (a, z) = range(lo + n, n - 1);
                visit(a, z);
                let (a, z) = range(0, hi.min(n - 1));
                visit(a, z);
            } else if hi >= n {
                let (a, z) = range(lo, n - 1);
                visit(a, z);
                let (a, z) = range(0, hi - n);
                visit(a, z);
            } else {
                let (a, z) = range(lo, hi);
                visit(a, z);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn brute(points: &[(f64, f64)], c: (f64, f64), r: f64) -> Vec<u32> {
        (0..points.len() as u32)
            .filter(|&i| {
                let (a, o) = points[i as usize];
                haversine_m(c.0, c.1, a, o) <= r
            })
            .collect()
    }

    fn grid_ids(g: &PointGrid, c: (f64, f64), r: f64) -> Vec<u32> {
        let mut v = Vec::new();
        g.within(Point::new(c.0, c.1).unwrap(), r, |id, _| v.push(id));
        v.sort_unstable();
        v
    }

    #[test]
    fn poles_antimeridian_and_huge_radii() {
        let pts = vec![
            (0.0, 179.99),
            (0.0, -179.99),
            (89.99, 0.0),
            (89.99, 180.0),
            (-90.0, 0.0),
            (0.0, 0.0),
            (45.0, -180.0),
        ];
        let g = PointGrid::build(&pts, 0.5);
        for c in [
            (0.0, 180.0),
            (90.0, 0.0),
            (-89.9, 120.0),
            (45.0, 179.9),
            (0.0, 0.0),
        ] {
            for r in [
                10.0,
                5_000.0,
                50_000.0,
                3_000_000.0,
                15_000_000.0,
                20_015_087.0,
            ] {
                assert_eq!(grid_ids(&g, c, r), brute(&pts, c, r), "{c:?} {r}");
            }
        }
    }

    #[test]
    fn rim_points_are_decided_by_haversine() {
        // A point exactly 50 km east of the centre along the equator, and
        // points a millimetre either side of the rim.
        let deg = (50_000.0 / EARTH_RADIUS_M).to_degrees();
        let mm = (0.001 / EARTH_RADIUS_M).to_degrees();
        let pts = vec![(0.0, deg - mm), (0.0, deg), (0.0, deg + mm)];
        let g = PointGrid::build(&pts, 1.0);
        assert_eq!(
            grid_ids(&g, (0.0, 0.0), 50_000.0),
            brute(&pts, (0.0, 0.0), 50_000.0)
        );
        assert_eq!(
            g.count_within(&[(0.0, 0.0)], 50_000.0),
            brute(&pts, (0.0, 0.0), 50_000.0).len() as u64
        );
    }

    proptest! {
        #[test]
        fn grid_equals_brute_force(
            pts in proptest::collection::vec((-90.0f64..=90.0, -180.0f64..=180.0), 1..400),
            c in (-90.0f64..=90.0, -180.0f64..=180.0),
            r_km in 0.5f64..4000.0,
            per_cell in 0.02f64..8.0,
        ) {
            let g = PointGrid::build(&pts, per_cell);
            prop_assert_eq!(grid_ids(&g, c, r_km * 1000.0), brute(&pts, c, r_km * 1000.0));
        }

        #[test]
        fn clustered_points_near_the_query_equal_brute_force(
            offs in proptest::collection::vec((-1.0f64..=1.0, -1.0f64..=1.0), 1..400),
            c in (-89.0f64..=89.0, -180.0f64..=180.0),
            r_km in 1.0f64..120.0,
        ) {
            // Points packed within about a degree of the centre, so many sit near the rim.
            let pts: Vec<(f64, f64)> = offs.iter().map(|(a, o)| {
                let lat = (c.0 + a).clamp(-90.0, 90.0);
                let mut lon = c.1 + o;
                if lon > 180.0 { lon -= 360.0 } else if lon < -180.0 { lon += 360.0 }
                (lat, lon)
            }).collect();
            let g = PointGrid::build(&pts, 2.0);
            prop_assert_eq!(grid_ids(&g, c, r_km * 1000.0), brute(&pts, c, r_km * 1000.0));
            let mut pairs = 0u64;
            g.join(&[c, c], r_km * 1000.0, |_, _| pairs += 1);
            prop_assert_eq!(pairs, 2 * brute(&pts, c, r_km * 1000.0).len() as u64);
        }
    }
}
