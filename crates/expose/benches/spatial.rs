//! Spatial matching benchmark: farguard's `PointGrid` against a plain rstar
//! query loop on the same data in the same run, with match counts checked
//! against each other and against brute-force haversine on a sample.
//!
//! Workloads (see ECOSYSTEM.md "Spatial matching: the baseline to beat"):
//! 1. 1,000,000 points and 100,000 events uniform on the sphere, 50 km;
//! 2. 10,000,000 points and 100,000 events placed by the clustered
//!    generator (GeoNames city populations, `data/geo/`), 50 km.
//!
//! Run: `cargo bench -p farguard-expose --bench spatial` (release). Set
//! `FARGUARD_BENCH_DUMP=DIR` to also write the uniform workload as CSV for
//! `bench/spatial_peers.sh` (PostGIS, DuckDB, shapely), and
//! `FARGUARD_BENCH_QUICK=1` to skip the 10-million workload. One thread.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark binary, not library code

use farguard_expose::{PointGrid, cap_envelopes};
use farguard_model::{Point, geo::haversine_m};
use farguard_registry::synth::{Rng, clustered_points, read_cities, uniform_points};
use rstar::{AABB, RTree};
use std::io::Write;
use std::time::Instant;

const R_M: f64 = 50_000.0;
const CITIES: &[u8] = include_bytes!("../../../data/geo/cities15000_population.tsv");

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t = Instant::now();
    let r = f();
    (r, t.elapsed().as_secs_f64())
}

/// The plain R-tree loop: cap envelope(s), then haversine.
fn rstar_count(tree: &RTree<[f64; 2]>, events: &[(f64, f64)]) -> u64 {
    let mut n = 0u64;
    for &(la, lo) in events {
        let c = Point::new(la, lo).unwrap();
        for e in cap_envelopes(c, R_M) {
            let env = AABB::from_corners([e[0], e[1]], [e[2], e[3]]);
            for p in tree.locate_in_envelope_intersecting(env) {
                if haversine_m(la, lo, p[1], p[0]) <= R_M {
                    n += 1;
                }
            }
        }
    }
    n
}

fn brute_count(points: &[(f64, f64)], events: &[(f64, f64)]) -> u64 {
    let mut n = 0u64;
    for &(la, lo) in events {
        for &(pa, po) in points {
            if haversine_m(la, lo, pa, po) <= R_M {
                n += 1;
            }
        }
    }
    n
}

fn write_csv(path: &std::path::Path, pts: &[(f64, f64)]) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(f, "id,lat,lon").unwrap();
    for (i, (la, lo)) in pts.iter().enumerate() {
        // {:?} is the shortest form that reads back to the same f64.
        writeln!(f, "{i},{la:?},{lo:?}").unwrap();
    }
}

struct Figures {
    grid_eps: f64,
    rstar_eps: f64,
    matches: u64,
}

fn workload(
    name: &str,
    points: &[(f64, f64)],
    events: &[(f64, f64)],
    runs: usize,
    with_rstar: bool,
) -> Figures {
    println!(
        "\n== {name}: {} points, {} events, {} km ==",
        points.len(),
        events.len(),
        R_M / 1000.0
    );
    let mut builds = Vec::new();
    let mut grid = None;
    for _ in 0..3 {
        let (g, s) = time(|| PointGrid::build(points, 2.0));
        builds.push(s);
        grid = Some(g);
    }
    let grid = grid.unwrap();
    println!(
        "farguard PointGrid build: median {:.3} s ({:.1} M points/s); heap {:.1} bytes/point, hot {:.1} bytes/point",
        median(builds.clone()),
        points.len() as f64 / median(builds) / 1e6,
        grid.heap_bytes() as f64 / points.len() as f64,
        grid.hot_bytes() as f64 / points.len() as f64
    );
    let mut grid_t = Vec::new();
    let mut matches = 0;
    for _ in 0..runs {
        let (n, s) = time(|| grid.count_within(events, R_M));
        grid_t.push(s);
        matches = n;
    }
    let gt = median(grid_t);
    let grid_eps = events.len() as f64 / gt;
    println!(
        "farguard PointGrid query: median {gt:.3} s over {runs} runs = {:.0} events/s, {:.0} matches/s; matches {matches}",
        grid_eps,
        matches as f64 / gt
    );
    let mut rstar_eps = f64::NAN;
    if with_rstar {
        let pts: Vec<[f64; 2]> = points.iter().map(|&(la, lo)| [lo, la]).collect();
        let (tree, bt) = time(|| RTree::bulk_load(pts));
        println!("baseline rstar 0.14 bulk_load: {bt:.3} s");
        let mut rt = Vec::new();
        let mut rn = 0;
        for _ in 0..runs.min(3) {
            let (n, s) = time(|| rstar_count(&tree, events));
            rt.push(s);
            rn = n;
        }
        let r = median(rt);
        rstar_eps = events.len() as f64 / r;
        println!(
            "baseline rstar query loop (cap envelope + haversine): median {r:.3} s = {:.0} events/s; matches {rn}",
            rstar_eps
        );
        assert_eq!(
            rn, matches,
            "farguard and rstar disagree on the match count"
        );
        println!(
            "speed-up over plain rstar, same data, same run: {:.2}x; match counts identical",
            grid_eps / rstar_eps
        );
    }
    // Brute force on a sample of events (every point, exact haversine).
    let sample: Vec<(f64, f64)> = events
        .iter()
        .step_by((events.len() / 150).max(1))
        .copied()
        .collect();
    let (b, bs) = time(|| brute_count(points, &sample));
    let g = grid.count_within(&sample, R_M);
    println!(
        "brute-force check on {} events × {} points ({bs:.1} s): brute {b}, farguard {g}",
        sample.len(),
        points.len()
    );
    assert_eq!(b, g, "farguard disagrees with brute force");
    Figures {
        grid_eps,
        rstar_eps,
        matches,
    }
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing useful.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let quick = std::env::var_os("FARGUARD_BENCH_QUICK").is_some();
    let mut rng = Rng::new(20_261_128);
    let points = uniform_points(1_000_000, &mut rng);
    let events = uniform_points(100_000, &mut rng);
    let f = workload("uniform", &points, &events, 5, true);
    if let Some(dir) = std::env::var_os("FARGUARD_BENCH_DUMP") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        write_csv(&dir.join("points.csv"), &points);
        write_csv(&dir.join("events.csv"), &events);
        std::fs::write(
            dir.join("farguard.json"),
            format!(
                "{{\"events_per_s\": {:.0}, \"rstar_events_per_s\": {:.0}, \"matches\": {}, \"radius_m\": {R_M}}}\n",
                f.grid_eps, f.rstar_eps, f.matches
            ),
        )
        .unwrap();
        println!(
            "wrote {}/points.csv, events.csv, farguard.json",
            dir.display()
        );
    }
    if quick {
        return;
    }
    let (cities, errors) = read_cities("cities15000_population.tsv", CITIES).unwrap();
    assert!(errors.is_empty());
    let mut rng = Rng::new(7);
    let (points, gen_s) = time(|| clustered_points(&cities, 10_000_000, &mut rng));
    let events = clustered_points(&cities, 100_000, &mut Rng::new(8));
    println!(
        "\nclustered generator: 10,000,000 points from {} GeoNames cities in {gen_s:.1} s",
        cities.len()
    );
    let with_rstar = std::env::var_os("FARGUARD_BENCH_RSTAR10M").is_some();
    let f = workload("clustered", &points, &events, 3, with_rstar);
    if let Some(dir) = std::env::var_os("FARGUARD_BENCH_DUMP") {
        // For PostGIS on the clustered set: the points and a 1,000-event
        // sample, with farguard's count for that sample.
        let dir = std::path::PathBuf::from(dir);
        let sample: Vec<(f64, f64)> = events.iter().step_by(100).copied().collect();
        let grid = PointGrid::build(&points, 2.0);
        let n = grid.count_within(&sample, R_M);
        write_csv(&dir.join("clustered_points.csv"), &points);
        write_csv(&dir.join("clustered_events.csv"), &sample);
        std::fs::write(
            dir.join("farguard_clustered.json"),
            format!(
                "{{\"events_per_s\": {:.0}, \"matches_full\": {}, \"sample_events\": {}, \"sample_matches\": {n}}}\n",
                f.grid_eps,
                f.matches,
                sample.len()
            ),
        )
        .unwrap();
        println!(
            "wrote the clustered sample ({} events, {n} matches) to {}",
            sample.len(),
            dir.display()
        );
    }
}
