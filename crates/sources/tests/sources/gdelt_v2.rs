//! The real GDELT 2.0 export, plain, zipped, damaged, and confused with
//! other files.

use crate::{assert_accounted, scratch, v2_export, zip_one};
use farguard_model::{Category, GeoPrecision, Subtype};
use farguard_sources::{SourceError, parse_gdelt_v2, read_gdelt_v2};

#[test]
fn the_real_export_parses_completely() {
    let b = read_gdelt_v2(&v2_export()).unwrap();
    assert_eq!(b.read, 2111);
    assert_accounted(&b);
    assert_eq!(b.events.len(), 2111, "{:?}", b.quarantined.first());
    // Ids are unique, every event is classified with a reason, and most
    // events are placed.
    let mut ids: Vec<_> = b.events.iter().map(|e| e.id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 2111);
    assert!(b.events.iter().all(|e| e.reason.starts_with("CAMEO ")));
    let placed = b.events.iter().filter(|e| e.location.is_some()).count();
    assert!(placed > 1900, "{placed}");
    let with_country = b.events.iter().filter(|e| e.country.is_some()).count();
    assert!(with_country > 1900, "{with_country}");
    assert!(
        b.events
            .iter()
            .all(|e| e.id.source == "gdelt" && e.links.len() == 1)
    );
}

#[test]
fn known_rows_check_out() {
    let b = read_gdelt_v2(&v2_export()).unwrap();
    let find = |id: &str| {
        b.events
            .iter()
            .find(|e| e.id.source_id == id)
            .unwrap_or_else(|| panic!("no event {id}"))
    };

    // The EU consults, in Minsk: FIPS BO is Belarus (ISO BY), a world city.
    let e = find("881990833");
    let l = e.location.as_ref().unwrap();
    assert_eq!(
        l.place.as_deref(),
        Some("Minsk, Belarus (general), Belarus")
    );
    assert_eq!(l.country.unwrap().as_str(), "BY");
    assert_eq!(l.precision, GeoPrecision::City);
    assert_eq!(
        (e.category, e.subtype),
        (Category::Political, Subtype::Engagement)
    );
    assert_eq!(e.severity.get(), 1);
    assert_eq!(
        e.links,
        [
            "https://belsat.eu/en/news/10-years-of-belarus-participating-in-eastern-partnership-what-is-to-come/"
        ]
    );
    assert!((e.tone.unwrap() - 0.634_920_6).abs() < 1e-6);

    // Every row's fields land where the codebook says: compare with a naive
    // split of the raw line.
    for e in &b.events {
        let f: Vec<&str> = e.raw.split('\t').collect();
        assert_eq!(f.len(), 61);
        assert_eq!(e.id.source_id, f[0]);
        assert_eq!(e.goldstein, f[30].parse().ok());
        assert_eq!(e.mentions, f[31].parse().ok());
        assert_eq!(e.reported_at.format("%Y%m%d%H%M%S").to_string(), f[59]);
        assert_eq!(e.occurred_at.format("%Y%m%d").to_string(), f[1]);
        if let Some(l) = &e.location {
            assert_eq!(l.point.lat(), f[56].parse::<f64>().unwrap());
            assert_eq!(l.point.lon(), f[57].parse::<f64>().unwrap());
            let want = match f[51] {
                "1" => GeoPrecision::Country,
                "2" | "5" => GeoPrecision::Admin1,
                _ => GeoPrecision::City,
            };
            assert_eq!(l.precision, want, "{}", e.id);
        }
        assert!(
            e.reason.starts_with(&format!("CAMEO {} (", f[26])),
            "{}",
            e.reason
        );
    }
}

#[test]
fn classes_across_the_real_export_are_plausible() {
    let b = read_gdelt_v2(&v2_export()).unwrap();
    let count = |st: Subtype| b.events.iter().filter(|e| e.subtype == st).count();
    // Cooperation dominates GDELT; conflict is present but a minority.
    assert!(count(Subtype::Engagement) > 1000);
    assert!(count(Subtype::ArmedConflict) > 50);
    assert!(count(Subtype::Detention) > 20);
    assert!(count(Subtype::Protest) > 10);
    // Extreme severity stays rare (heavy weapons, assassination, mass violence).
    let extreme = b.events.iter().filter(|e| e.severity.get() == 5).count();
    assert!(extreme < 20, "{extreme}");
}

/// The real export with damage at known lines.
fn damaged() -> (Vec<u8>, [u64; 3]) {
    let text = std::fs::read_to_string(v2_export()).unwrap();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let no = i as u64 + 1;
        let mut f: Vec<&str> = line.split('\t').collect();
        match no {
            17 => {
                f.pop();
            }
            100 => f[56] = "123",
            _ => {}
        }
        let mut bytes = f.join("\t").into_bytes();
        if no == 500 {
            bytes[7] = 0xff;
        }
        out.extend_from_slice(&bytes);
        out.push(b'\n');
    }
    (out, [17, 100, 500])
}

#[test]
fn damaged_lines_are_quarantined_and_the_rest_kept() {
    let (bytes, lines) = damaged();
    let path = scratch("damaged.export.CSV");
    std::fs::write(&path, &bytes).unwrap();
    let b = read_gdelt_v2(&path).unwrap();
    assert_eq!(b.read, 2111);
    assert_accounted(&b);
    assert_eq!(b.events.len(), 2108);
    let got: Vec<(u64, &str)> = b
        .quarantined
        .iter()
        .map(|q| (q.line, q.reason.as_str()))
        .collect();
    assert_eq!(
        got[0],
        (17, "line 17: expected 61 tab-separated fields, found 60")
    );
    assert_eq!(got[1].0, 100);
    assert!(
        got[1]
            .1
            .starts_with("line 100: ActionGeo_Lat \"123\" is out of range"),
        "{}",
        got[1].1
    );
    assert_eq!(
        got[2],
        (500, "line 500: invalid UTF-8 at byte 8 of the line")
    );
    assert_eq!(
        b.quarantined.iter().map(|q| q.line).collect::<Vec<_>>(),
        lines
    );
    // Raw bytes are kept exactly, including the invalid one.
    assert_eq!(b.quarantined[2].raw[7], 0xff);
    assert_eq!(b.quarantined[0].file, path.display().to_string());
    assert!(b.quarantined.iter().all(|q| q.source == "gdelt"));
}

#[test]
fn a_zipped_export_parses_identically() {
    let plain = std::fs::read(v2_export()).unwrap();
    let zipped = zip_one("20191024143000.export.CSV", &plain);
    assert!(zipped.len() < plain.len() / 3);
    let path = scratch("20191024143000.export.CSV.zip");
    std::fs::write(&path, &zipped).unwrap();
    let from_zip = read_gdelt_v2(&path).unwrap();
    let from_plain = read_gdelt_v2(&v2_export()).unwrap();
    assert_eq!(from_zip, from_plain);
    // The bytes entry point unpacks too.
    assert_eq!(parse_gdelt_v2("x.zip", &zipped), from_plain);
}

#[test]
fn a_truncated_zip_is_an_error_naming_the_file() {
    let zipped = zip_one("a.export.CSV", &std::fs::read(v2_export()).unwrap());
    let path = scratch("truncated.export.CSV.zip");
    std::fs::write(&path, &zipped[..zipped.len() - 100]).unwrap();
    let err = read_gdelt_v2(&path).unwrap_err();
    assert!(matches!(err, SourceError::Zip { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.starts_with(&format!(
        "{}: truncated or corrupt zip archive (",
        path.display()
    )));
    assert!(msg.ends_with("re-download the file"), "{msg}");

    // Cut inside the compressed data (central directory intact is impossible
    // by truncation, so damage the middle instead): still an error, not a panic.
    let mut corrupt = zipped.clone();
    let mid = corrupt.len() / 2;
    corrupt[mid..mid + 64].fill(0);
    std::fs::write(&path, &corrupt).unwrap();
    let err = read_gdelt_v2(&path).unwrap_err().to_string();
    assert!(err.contains("truncated or corrupt zip archive"), "{err}");

    // The bytes entry point turns the same failure into one quarantine record.
    let b = parse_gdelt_v2("t.zip", &zipped[..100]);
    assert_eq!((b.read, b.events.len(), b.quarantined.len()), (1, 0, 1));
    assert_eq!(b.quarantined[0].line, 0);
    assert!(b.quarantined[0].reason.contains("truncated or corrupt"));
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let err = read_gdelt_v2(&scratch("nope.export.CSV")).unwrap_err();
    assert!(matches!(err, SourceError::Read { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("nope.export.CSV: cannot read the file"),
        "{msg}"
    );
}

#[test]
fn a_file_that_is_not_gdelt_is_an_error() {
    // A real tab-separated file of another kind: the country table.
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/lookups/countries.tsv");
    let err = read_gdelt_v2(&path).unwrap_err();
    assert!(matches!(err, SourceError::Format { .. }));
    let msg = err.to_string();
    assert!(
        msg.ends_with(
            "countries.tsv: not a GDELT 2.0 event export file: no line has 61 tab-separated \
             fields (line 1 has 5); pass a GDELT 2.0 *.export.CSV or *.export.CSV.zip"
        ),
        "{msg}"
    );
    // Parsed as bytes, every line is quarantined with the reason.
    let b = parse_gdelt_v2("countries.tsv", &std::fs::read(&path).unwrap());
    assert!(b.events.is_empty() && b.read > 200);
    assert_accounted(&b);
    assert!(
        b.quarantined[0]
            .reason
            .starts_with("line 1: expected 61 tab-separated fields")
    );

    // A GDELT 1.0 file gets a hint.
    let err = read_gdelt_v2(&crate::v1_sample()).unwrap_err().to_string();
    assert!(
        err.ends_with("(line 1 has 58); it looks like GDELT 1.0: ingest it as GDELT 1.0"),
        "{err}"
    );

    // So does binary junk.
    let path = scratch("junk.bin");
    std::fs::write(&path, [0xffu8, 0xfe, 0, 1, 2, b'\n', 0x80]).unwrap();
    let err = read_gdelt_v2(&path).unwrap_err().to_string();
    assert!(err.contains("line 1 is not UTF-8 text"), "{err}");
}

#[test]
fn an_empty_file_is_an_empty_batch() {
    let path = scratch("empty.export.CSV");
    std::fs::write(&path, b"").unwrap();
    let b = read_gdelt_v2(&path).unwrap();
    assert_eq!(b, Default::default());
}
