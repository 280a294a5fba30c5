//! Every real feed file of the formats added for issue 3, read through
//! format detection, with counts that add up and exact expected numbers.

use crate::assert_accounted;
use farguard_model::{Category, Subtype};
use farguard_sources::{Batch, Format, parse_auto};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

pub fn feeds(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/feeds")
        .join(rel)
}

pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

/// Reads `path` with `--format auto`, checks the format and the counts
/// (read, events, quarantined), that ids are unique and that a second parse
/// gives the same ids (so a re-ingest can only be duplicates).
pub fn check(path: &Path, format: Format, read: u64, events: usize, quarantined: usize) -> Batch {
    let bytes = std::fs::read(path).unwrap();
    let name = path.display().to_string();
    let (f, b) = parse_auto(&name, &bytes, None).unwrap();
    assert_eq!(f, format, "{name}");
    assert_accounted(&b);
    assert_eq!(
        (b.read, b.events.len(), b.quarantined.len()),
        (read, events, quarantined),
        "{name}: {:?}",
        b.quarantined.iter().map(|q| &q.reason).collect::<Vec<_>>()
    );
    let ids: HashSet<String> = b.events.iter().map(|e| e.id.to_string()).collect();
    assert_eq!(ids.len(), b.events.len(), "{name}: ids are unique");
    let again = parse_auto(&name, &bytes, None).unwrap().1;
    assert_eq!(again.events, b.events, "{name}: parsing is deterministic");
    for q in &b.quarantined {
        assert!(q.reason.contains("line ") || q.line == 0, "{}", q.reason);
        assert!(!q.raw.is_empty());
    }
    b
}

#[test]
fn cap_alerts_each_become_one_event() {
    for (file, sub, sev) in [
        ("cap_amber_alert_example.xml", Subtype::Kidnapping, 4),
        ("airnow.xml", Subtype::OtherNatural, 3),
        ("canada.xml", Subtype::OtherNatural, 2),
        ("canada_signed.xml", Subtype::OtherNatural, 3),
        ("earthquake.xml", Subtype::Earthquake, 2),
        ("wcatwc-warning.xml", Subtype::Tsunami, 5),
        ("weather.xml", Subtype::Flood, 4),
    ] {
        let b = check(&feeds(&format!("cap/{file}")), Format::Cap, 1, 1, 0);
        let e = &b.events[0];
        assert_eq!(
            (e.subtype, e.severity.get()),
            (sub, sev),
            "{file}: {}",
            e.reason
        );
        assert!(e.raw.trim_start().starts_with('<') && e.raw.trim_end().ends_with('>'));
    }
    let b = check(&fixture("cap/australia.xml"), Format::Cap, 1, 1, 0);
    assert_eq!(
        b.events[0]
            .country
            .map(|c| c.as_str().to_string())
            .as_deref(),
        Some("AU")
    );
    assert_eq!(b.events[0].subtype, Subtype::Wildfire);
}

#[test]
fn cap_languages_areas_and_signature_are_kept() {
    let b = check(&feeds("cap/canada_signed.xml"), Format::Cap, 1, 1, 0);
    let e = &b.events[0];
    assert!(
        e.reason.contains("2 info blocks (en-CA, fr-CA)"),
        "{}",
        e.reason
    );
    assert!(
        e.reason.contains("XML digital signature present"),
        "{}",
        e.reason
    );
    assert!(e.raw.contains("<Signature") && e.raw.contains("SignatureValue"));
    assert_eq!(
        e.country.unwrap().as_str(),
        "CA",
        "reverse-geocoded from the polygons"
    );
    let b = check(
        &feeds("cap/cap_amber_alert_example.xml"),
        Format::Cap,
        1,
        1,
        0,
    );
    assert!(b.events[0].reason.contains("2 info blocks (en-US, es-US)"));
    // A circle with a radius is an area, not a point to measure from.
    let b = check(&feeds("cap/airnow.xml"), Format::Cap, 1, 1, 0);
    let l = b.events[0].location.as_ref().unwrap();
    assert_eq!(l.precision, farguard_model::GeoPrecision::Admin1);
    assert!((l.point.lat() - 38.8963).abs() < 1e-9);
}

#[test]
fn nws_atom_index_entries_are_cap_events() {
    let b = check(
        &feeds("cap/nws_atom_feed_example.xml"),
        Format::Cap,
        163,
        163,
        0,
    );
    assert!(b.events.iter().all(|e| e.country.unwrap().as_str() == "US"));
    assert!(b.events.iter().all(|e| e.category == Category::Natural
        || e.category == Category::Security
        || e.category == Category::Health));
    // The empty Alaska index is read as "no alerts", not as an error.
    check(&feeds("cap/alaska.cap"), Format::Cap, 0, 0, 0);
}

#[test]
fn gdacs_feeds_read_every_item() {
    let b = check(&feeds("gdacs/gdacs-1.xml"), Format::Gdacs, 4, 4, 0);
    let tc = b
        .events
        .iter()
        .find(|e| e.id.source_id == "TC1000643/1")
        .unwrap();
    assert_eq!((tc.subtype, tc.severity.get()), (Subtype::Cyclone, 2));
    assert_eq!(tc.country.unwrap().as_str(), "MU");
    assert!(
        tc.reason.contains("bbox") && tc.reason.contains("Population affected"),
        "{}",
        tc.reason
    );
    check(&feeds("gdacs/gdacs-rss.xml"), Format::Gdacs, 16, 16, 0);
    let day = check(&feeds("gdacs/gdacs-rss-24h.xml"), Format::Gdacs, 21, 21, 0);
    let week = check(&feeds("gdacs/gdacs-rss-7d.xml"), Format::Gdacs, 115, 115, 0);
    // The 24-hour feed is a subset of the 7-day one: re-reading it adds nothing.
    let week_ids: HashSet<_> = week.events.iter().map(|e| &e.id).collect();
    assert!(day.events.iter().all(|e| week_ids.contains(&e.id)));
}

#[test]
fn usgs_feeds_old_and_new_property_sets() {
    let b = check(
        &feeds("usgs/all_day_2014-04-14.geojson"),
        Format::Usgs,
        146,
        145,
        1,
    );
    assert!(
        b.quarantined[0]
            .reason
            .contains("\"quarry\", not an earthquake")
    );
    let b = check(
        &feeds("usgs/all_day_2019-11-21.geojson"),
        Format::Usgs,
        268,
        260,
        8,
    );
    assert!(
        b.quarantined
            .iter()
            .all(|q| q.reason.contains("no risk signal"))
    );
    let week = check(
        &feeds("usgs/all_week_2014-04-15.geojson"),
        Format::Usgs,
        1513,
        1486,
        27,
    );
    let e = week.events.iter().max_by_key(|e| e.severity).unwrap();
    assert!(e.severity.get() >= 3, "{}", e.reason);
    // The day feed overlaps the week feed: the shared ids are the same events.
    let day = check(
        &feeds("usgs/all_day_2014-04-14.geojson"),
        Format::Usgs,
        146,
        145,
        1,
    );
    let week_ids: HashSet<_> = week.events.iter().map(|e| &e.id).collect();
    assert!(
        day.events
            .iter()
            .filter(|e| week_ids.contains(&e.id))
            .count()
            > 50
    );
}

#[test]
fn news_feeds_of_every_flavour_and_language() {
    let mut total = 0;
    for (file, items) in [
        ("feed-rs_atom_mediarss_reddit_1.xml", 25),
        ("feed-rs_rss_1.0_debian.xml", 1),
        ("feed-rs_rss_2.0_bbc.xml", 1),
        ("feed-rs_rss_2.0_cloudflare.xml", 1),
        ("feed-rs_rss_2.0_ilgiornale.xml", 1),
        ("feed-rs_rss_2.0_ilmessaggero.xml", 1),
        ("feed-rs_rss_2.0_nbcny.xml", 1),
        ("feed-rs_rss_2.0_reddit.xml", 1),
        ("feed-rs_rss_2.0_spiegel.xml", 1),
        ("feed-rs_rss_2.0_wirecutter.xml", 1),
    ] {
        let path = fixture(&format!("news/{file}"));
        let bytes = std::fs::read(&path).unwrap();
        let (f, b) = parse_auto(file, &bytes, None).unwrap();
        assert_eq!(f, Format::News, "{file}");
        assert_accounted(&b);
        assert_eq!(b.read, items, "{file}");
        // Whatever the text rules decide, nothing is lost: an item with no
        // risk signal is quarantined saying so, with its exact bytes.
        for q in &b.quarantined {
            assert!(q.reason.contains("no risk signal"), "{file}: {}", q.reason);
            assert!(
                q.raw.starts_with(b"<item") || q.raw.starts_with(b"<entry"),
                "{file}"
            );
        }
        total += b.read;
    }
    assert_eq!(total, 34);
    // Il Giornale writes "mer, 16 nov 2022"-style dates; its item has a date.
    let b = parse_auto(
        "x",
        &std::fs::read(fixture("news/feed-rs_rss_2.0_ilmessaggero.xml")).unwrap(),
        None,
    )
    .unwrap()
    .1;
    assert_eq!(b.read, 1);
}

#[test]
fn field_reports_from_a_file_resolve_places_and_hints() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/field-reports.json");
    let b = check(&path, Format::Report, 2, 2, 0);
    let zh = &b.events[0];
    assert_eq!(
        zh.id.to_string(),
        "report:Consulate-General in Barcelona/BCN-2019-10-24-01"
    );
    let l = zh.location.as_ref().unwrap();
    assert!(
        (l.point.lat() - 41.39).abs() < 0.05,
        "巴塞罗那 → Barcelona via GeoNames"
    );
    assert!(zh.reason.contains("resolved to GeoNames"), "{}", zh.reason);
    let en = &b.events[1];
    assert_eq!((en.subtype, en.severity.get()), (Subtype::Protest, 3));
    assert_eq!(
        en.country.unwrap().as_str(),
        "ES",
        "reverse-geocoded from the point"
    );
    // Unknown fields are refused by name, not silently dropped.
    let bad = br#"{"id":"1","organisation":"x","time":"2019-10-24T16:10:00Z","text":"riot","severity":3}"#;
    let b = farguard_sources::Format::Report.parse_bytes("bad.json", bad);
    assert_eq!(b.quarantined.len(), 1);
    assert!(
        b.quarantined[0].reason.contains("unknown field `severity`"),
        "{}",
        b.quarantined[0].reason
    );
}
