//! GDELT 1.0: the daily layout (58 columns) and the historical backfile (57)
//! mixed in one real sample.

use crate::{assert_accounted, v1_sample};
use farguard_model::{Category, GeoPrecision, Subtype};
use farguard_sources::read_gdelt_v1;

#[test]
fn the_v1_sample_parses_both_layouts() {
    let b = read_gdelt_v1(&v1_sample()).unwrap();
    assert_eq!(b.read, 710);
    assert_accounted(&b);
    assert_eq!(b.events.len(), 710, "{:?}", b.quarantined.first());
    let with_url = b.events.iter().filter(|e| !e.links.is_empty()).count();
    assert_eq!(
        with_url, 509,
        "daily rows carry SOURCEURL, backfile rows do not"
    );
    let backfile = b
        .events
        .iter()
        .filter(|e| e.occurred_at.format("%Y").to_string() == "1982");
    assert!(backfile.count() > 150);
}

#[test]
fn known_v1_rows_check_out() {
    let b = read_gdelt_v1(&v1_sample()).unwrap();
    let find = |id: &str| b.events.iter().find(|e| e.id.source_id == id).unwrap();

    // Daily layout: an arrest in Pottawattamie County, Iowa (a US place).
    let e = find("564111664");
    assert_eq!(
        (e.category, e.subtype),
        (Category::Legal, Subtype::Detention)
    );
    let l = e.location.as_ref().unwrap();
    assert_eq!(l.precision, GeoPrecision::City);
    assert_eq!(l.admin1.as_deref(), Some("USIA"));
    assert_eq!(l.country.unwrap().as_str(), "US");
    assert_eq!((l.point.lat(), l.point.lon()), (41.3333, -95.5336));
    assert_eq!(e.reported_at.to_rfc3339(), "2016-07-28T00:00:00+00:00");
    assert_eq!(e.occurred_at.to_rfc3339(), "2015-07-29T00:00:00+00:00");

    // No geography at all: no location, no country.
    let e = find("564111654");
    assert_eq!((e.location.as_ref(), e.country), (None, None));
    assert_eq!(
        e.title,
        "CABINET accede to demands for change in institutions, regime"
    );
}

#[test]
fn backfile_rows_without_a_geo_type_are_never_points() {
    let b = read_gdelt_v1(&v1_sample()).unwrap();
    for e in &b.events {
        let f: Vec<&str> = e.raw.split('\t').collect();
        let (ty, lat, lon) = (f[49], f[53], f[54]);
        if ty.is_empty() || ty == "0" {
            match &e.location {
                None => assert!(lat.is_empty() || (lat == "0" && lon == "0"), "{}", e.raw),
                Some(l) => assert_ne!(l.precision, GeoPrecision::City, "{}", e.id),
            }
        }
    }
}

#[test]
fn a_v2_export_read_as_v1_gets_a_hint() {
    let err = read_gdelt_v1(&crate::v2_export()).unwrap_err().to_string();
    assert!(
        err.contains("not a GDELT 1.0 event file: no line has 57 or 58 tab-separated fields")
            && err.ends_with("(line 1 has 61); it looks like GDELT 2.0: ingest it as GDELT 2.0"),
        "{err}"
    );
}
