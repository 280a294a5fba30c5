//! Exposure on the shipped real registers: every port and airport of the
//! World Port Index and airportsdata, queried around every port at several
//! radii, must give exactly the brute-force haversine answer — through the
//! R-tree `SiteIndex` and through the bulk `PointGrid`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use farguard_expose::{PointGrid, QueryArea, SiteIndex};
use farguard_model::{Point, Radius, Site, geo::haversine_m};
use farguard_registry::{airports, wpi};

const WPI: &[u8] = include_bytes!("../../../../data/ports/WPI_UpdatedPub150.csv");
const AIRPORTS: &[u8] = include_bytes!("../../../../data/airports/airportsdata_airports.csv");

fn shipped() -> Vec<Site> {
    let ports = wpi::read("wpi.csv", WPI, "o").unwrap();
    let (ap, _) = airports::read("airports.csv", AIRPORTS, "o").unwrap();
    let mut v: Vec<Site> = ports.values().cloned().collect();
    v.extend(ap.values().cloned());
    assert!(v.len() > 10_000, "{}", v.len());
    v
}

fn brute(sites: &[Site], c: Point, r_m: f64) -> Vec<usize> {
    (0..sites.len())
        .filter(|&i| {
            let a = sites[i].anchor();
            haversine_m(c.lat(), c.lon(), a.lat(), a.lon()) <= r_m
        })
        .collect()
}

#[test]
fn site_index_and_point_grid_equal_brute_force_on_the_shipped_registers() {
    let sites = shipped();
    let index = SiteIndex::build(sites.clone());
    let pts: Vec<(f64, f64)> = sites
        .iter()
        .map(|s| (s.anchor().lat(), s.anchor().lon()))
        .collect();
    let grid = PointGrid::build(&pts, 2.0);
    let mut checked = 0;
    let mut matched = 0;
    // Every 7th port as a centre: a few hundred queries across all latitudes.
    for s in sites.iter().filter(|s| s.id.starts_with("WPI-")).step_by(7) {
        let c = s.anchor();
        for km in [5.0, 25.0, 100.0] {
            let want = brute(&sites, c, km * 1000.0);
            let mut got: Vec<usize> = index
                .in_area(&QueryArea::Circle {
                    center: c,
                    radius: Radius::km(km).unwrap(),
                })
                .iter()
                .map(|h| h.site)
                .collect();
            got.sort_unstable();
            assert_eq!(got, want, "SiteIndex around {} at {km} km", s.id);
            let mut g: Vec<usize> = Vec::new();
            grid.within(c, km * 1000.0, |id, _| g.push(id as usize));
            g.sort_unstable();
            assert_eq!(g, want, "PointGrid around {} at {km} km", s.id);
            checked += 1;
            matched += want.len();
        }
    }
    assert!(checked > 1000 && matched > checked, "{checked} {matched}");
}

#[test]
fn a_country_area_is_every_site_registered_there() {
    let sites = shipped();
    let index = SiteIndex::build(sites.clone());
    let area = QueryArea::parse("KE").unwrap();
    let got = index.in_area(&area).len();
    let want = sites.iter().filter(|s| s.country.as_str() == "KE").count();
    assert_eq!(got, want);
    assert!(want > 5, "Kenya has ports and airports: {want}");
}
