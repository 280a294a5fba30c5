//! Cross-source merging on the real feeds, and the window rules on real
//! records placed side by side.

use crate::feeds::feeds;
use farguard_model::{Event, Point};
use farguard_sources::merge::{merge, window};
use farguard_sources::parse_auto;

fn events(rel: &str) -> Vec<Event> {
    let path = feeds(rel);
    parse_auto(rel, &std::fs::read(path).unwrap(), None)
        .unwrap()
        .1
        .events
}

/// The shipped real feeds cover different days per source (USGS 2014 and
/// November 2019, GDACS late December 2019, CAP 2003–2020), and no GDACS
/// event appears in two episodes, so merging all of them must find no
/// cluster: no false merges across years or hazards.
#[test]
fn the_real_feeds_together_make_no_false_clusters() {
    let mut all = Vec::new();
    for f in [
        "gdacs/gdacs-rss-7d.xml",
        "gdacs/gdacs-rss.xml",
        "gdacs/gdacs-1.xml",
        "usgs/all_week_2014-04-15.geojson",
        "usgs/all_day_2019-11-21.geojson",
        "cap/earthquake.xml",
        "cap/wcatwc-warning.xml",
        "cap/canada.xml",
    ] {
        all.extend(events(f));
    }
    all.sort_by(|a, b| a.id.cmp(&b.id));
    all.dedup_by(|a, b| a.id == b.id);
    let links = merge(&all);
    assert!(links.is_empty(), "{links:?}");
}

/// GDACS re-issues an event as new episodes; a later episode joins the
/// first wherever its point moved. Shown on the real cyclone item with its
/// episode number advanced and its point moved 800 km.
#[test]
fn gdacs_episodes_of_one_event_are_one_cluster() {
    let first = events("gdacs/gdacs-1.xml")
        .into_iter()
        .find(|e| e.id.source_id == "TC1000643/1")
        .unwrap();
    let mut later = first.clone();
    later.id.source_id = "TC1000643/2".into();
    later.occurred_at += chrono::TimeDelta::hours(30);
    let p = first.location.as_ref().unwrap().point;
    later.location.as_mut().unwrap().point = Point::new(p.lat() - 7.2, p.lon()).unwrap();
    let links = merge(&[first.clone(), later]);
    assert_eq!(links.len(), 2);
    assert!(links.iter().all(|l| l.cluster == first.id));
    assert!(
        links[1]
            .reason
            .contains("a later GDACS episode of gdacs:TC1000643/1"),
        "{}",
        links[1].reason
    );
}

/// The shipped files of different sources cover different days, so a real
/// USGS quake is set beside a real GDACS earthquake report: first at the
/// GDACS point and time shifted by 30 km and 5 minutes (one hazard), then
/// 40 minutes later (an aftershock: kept apart).
#[test]
fn a_quake_reported_by_usgs_and_gdacs_is_one_event() {
    let gdacs = events("gdacs/gdacs-rss-7d.xml")
        .into_iter()
        .find(|e| e.id.source_id.starts_with("EQ"))
        .unwrap();
    let mut usgs = events("usgs/all_day_2019-11-21.geojson").remove(0);
    let g = gdacs.location.as_ref().unwrap().point;
    let loc = usgs.location.as_mut().unwrap();
    loc.point = Point::new(g.lat() + 0.27, g.lon()).unwrap(); // ~30 km north
    usgs.occurred_at = gdacs.occurred_at + chrono::TimeDelta::minutes(5);
    let links = merge(&[gdacs.clone(), usgs.clone()]);
    assert_eq!(links.len(), 2, "{links:?}");
    let second = links
        .iter()
        .find(|l| !l.reason.starts_with("earliest"))
        .unwrap();
    assert!(
        second
            .reason
            .contains("30 km and 5 min apart (window 100 km, 15 min)"),
        "{}",
        second.reason
    );

    usgs.occurred_at = gdacs.occurred_at + chrono::TimeDelta::minutes(40);
    assert!(merge(&[gdacs.clone(), usgs]).is_empty());
    assert_eq!(
        window(farguard_model::Subtype::Earthquake).unwrap().km,
        100.0
    );
}

#[test]
fn different_hazards_never_merge() {
    let cap = events("cap/nws_atom_feed_example.xml");
    let usgs = events("usgs/all_week_2014-04-15.geojson");
    let mut all = cap;
    all.extend(usgs);
    // NWS weather alerts of 2018 and quakes of 2014: nothing in common.
    assert!(
        merge(&all).iter().all(|l| l.event.source == "cap"),
        "only NWS alerts of one area and day may cluster"
    );
}
