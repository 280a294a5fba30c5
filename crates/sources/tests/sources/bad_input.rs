//! The damage real inputs suffer — NUL characters, truncation, wrong widths,
//! invalid UTF-8, absurd coordinates, HTML served in place of a feed, a
//! compression bomb — becomes a quarantine record or a clear error naming
//! the place, and never costs a good record from the same batch.

use crate::assert_accounted;
use crate::feeds::feeds;
use farguard_sources::{Format, SourceError, parse_auto, parse_gdelt_v2};
use std::io::Write as _;

fn real(rel: &str) -> Vec<u8> {
    std::fs::read(feeds(rel)).unwrap()
}

/// Regression: a NUL in one record used to reach the store, which refuses
/// NUL text with `StoreError::Unstorable` and so failed the whole batch.
#[test]
fn nul_characters_are_quarantined_not_fatal() {
    let export = std::fs::read(crate::v2_export()).unwrap();
    let mut lines: Vec<Vec<u8>> = export
        .split(|b| *b == b'\n')
        .take(3)
        .map(<[u8]>::to_vec)
        .collect();
    let at = lines[1].iter().position(|b| *b == b'\t').unwrap() + 3;
    lines[1].insert(at, 0);
    let b = parse_gdelt_v2("nul.CSV", &lines.join(&b'\n'));
    assert_accounted(&b);
    assert_eq!((b.events.len(), b.quarantined.len()), (2, 1));
    assert!(
        b.quarantined[0].reason.starts_with("line 2: NUL character"),
        "{}",
        b.quarantined[0].reason
    );
    assert!(b.events.iter().all(|e| !e.raw.contains('\0')));

    // The same in a JSON feed, where NUL arrives escaped as \u0000.
    let usgs = String::from_utf8(real("usgs/all_day_2014-04-14.geojson")).unwrap();
    let bad = usgs.replacen("8km W of Templeton", "8km W of Temp\\u0000leton", 1);
    let b = parse_auto("nul.geojson", bad.as_bytes(), None).unwrap().1;
    assert_accounted(&b);
    assert_eq!((b.events.len(), b.quarantined.len()), (144, 2));
    assert!(
        b.quarantined
            .iter()
            .any(|q| q.reason.contains("NUL character"))
    );
}

#[test]
fn truncated_xml_keeps_the_items_before_the_cut() {
    let full = real("gdacs/gdacs-rss.xml");
    let text = String::from_utf8(full).unwrap();
    // Cut in the middle of the 10th item.
    let tenth = text.match_indices("<item>").nth(9).unwrap().0;
    let cut = &text[..tenth + 200];
    let (f, b) = parse_auto("cut.xml", cut.as_bytes(), None).unwrap();
    assert_eq!(f, Format::Gdacs);
    assert_accounted(&b);
    assert_eq!((b.events.len(), b.quarantined.len()), (9, 1));
    assert!(
        b.quarantined[0]
            .reason
            .contains("(item 10): the item is cut off"),
        "{}",
        b.quarantined[0].reason
    );

    let nws = String::from_utf8(real("cap/nws_atom_feed_example.xml")).unwrap();
    let cut = &nws[..nws.len() / 2];
    let b = parse_auto("cut-nws.xml", cut.as_bytes(), None).unwrap().1;
    assert_accounted(&b);
    assert_eq!(b.quarantined.len(), 1);
    assert!(b.events.len() > 70);
}

#[test]
fn truncated_json_keeps_the_features_before_the_cut() {
    let text = String::from_utf8(real("usgs/all_day_2019-11-21.geojson")).unwrap();
    let b = parse_auto(
        "cut.geojson",
        &text.as_bytes()[..text.len() / 2],
        Some(Format::Usgs),
    )
    .unwrap()
    .1;
    assert_accounted(&b);
    assert!(b.events.len() > 100);
    let last = b.quarantined.last().unwrap();
    assert!(
        last.reason.contains("the features array is damaged here"),
        "{}",
        last.reason
    );
}

#[test]
fn absurd_coordinates_and_bad_utf8_name_the_place() {
    let text = String::from_utf8(real("usgs/all_day_2014-04-14.geojson")).unwrap();
    let bad = text.replacen("[-120.7958,35.5448,4.3]", "[-720.7958,35.5448,4.3]", 1);
    assert_ne!(bad, text);
    let b = parse_auto("far.geojson", bad.as_bytes(), None).unwrap().1;
    assert_eq!((b.events.len(), b.quarantined.len()), (144, 2));
    assert!(b.quarantined.iter().any(|q| {
        q.reason
            .contains("/geometry/coordinates -720.7958, 35.5448 is out of range")
    }));

    let mut cap = real("cap/weather.xml");
    let at = cap.windows(8).position(|w| w == b"<headlin").unwrap();
    cap.insert(at + 10, 0xff);
    let b = parse_auto("bad.xml", &cap, None).unwrap().1;
    assert_accounted(&b);
    assert!(
        b.quarantined[0].reason.contains("invalid UTF-8"),
        "{}",
        b.quarantined[0].reason
    );
}

#[test]
fn an_html_error_page_is_a_clear_error() {
    let page = b"<!DOCTYPE html>\n<html><head><title>503 Service Unavailable</title></head></html>";
    let e = parse_auto("https://www.gdacs.org/xml/rss.xml", page, None).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.starts_with("https://www.gdacs.org/xml/rss.xml: ") && msg.contains("HTML page"),
        "{msg}"
    );
    // Forced as a feed format, it is one quarantine record, not a panic.
    for f in Format::ALL {
        let b = f.parse_bytes("page.html", page);
        assert_accounted(&b);
    }
}

#[test]
fn a_gzip_bomb_is_refused_with_bounded_memory() {
    // 200 MiB of zeros compresses to about 200 KiB; with a 64 MiB cap the
    // reader stops at 64 MiB + 1 byte (the shipped cap is 1 GiB, the same code).
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..200 {
        gz.write_all(&chunk).unwrap();
    }
    let bomb = gz.finish().unwrap();
    assert!(bomb.len() < 1 << 20);
    match farguard_sources::detect::unpack_capped("bomb.gz", &bomb, 64 << 20) {
        Err(SourceError::TooLarge { file, .. }) => assert_eq!(file, "bomb.gz"),
        other => panic!("{:?}", other.map(|b| b.len())),
    }
}

#[test]
fn gzip_and_zip_inputs_are_unpacked() {
    let plain = real("usgs/all_day_2014-04-14.geojson");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&plain).unwrap();
    let (f, b) = parse_auto("day.geojson.gz", &gz.finish().unwrap(), None).unwrap();
    assert_eq!((f, b.read), (Format::Usgs, 146));
    let z = crate::zip_one("rss.xml", &real("gdacs/gdacs-1.xml"));
    let (f, b) = parse_auto("rss.zip", &z, None).unwrap();
    assert_eq!((f, b.read), (Format::Gdacs, 4));
}

#[test]
fn wrong_column_counts_in_csv_are_per_record() {
    let head = "event_id_cnty,event_date,event_type,sub_event_type,latitude,longitude,fatalities\n";
    let text = format!(
        "{head}X1,9-May-20,Battles,Armed clash,1.0,2.0,3\nX2,9-May-20,Battles\nX3,1-May-20,Riots,Mob violence,1.5,2.5,0\n"
    );
    let b = parse_auto("short.csv", text.as_bytes(), None).unwrap().1;
    assert_accounted(&b);
    assert_eq!((b.events.len(), b.quarantined.len()), (2, 1));
    assert!(
        b.quarantined[0]
            .reason
            .starts_with("line 3: expected 7 comma-separated fields"),
        "{}",
        b.quarantined[0].reason
    );
}
