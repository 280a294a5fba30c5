//! Arbitrary and mangled input never panics, and every record is accounted for.

use crate::{assert_accounted, v2_export};
use farguard_sources::{parse_gdelt_v1, parse_gdelt_v2};
use proptest::prelude::*;
use std::sync::OnceLock;

fn real_lines() -> &'static [String] {
    static LINES: OnceLock<Vec<String>> = OnceLock::new();
    LINES.get_or_init(|| {
        std::fs::read_to_string(v2_export())
            .unwrap()
            .lines()
            .take(200)
            .map(str::to_string)
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        for b in [parse_gdelt_v2("fuzz", &bytes), parse_gdelt_v1("fuzz", &bytes)] {
            assert_accounted(&b);
        }
    }

    #[test]
    fn zip_shaped_bytes_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..500)) {
        let mut bytes = b"PK\x03\x04".to_vec();
        bytes.extend(tail);
        let b = parse_gdelt_v2("fuzz.zip", &bytes);
        assert_accounted(&b);
    }

    /// A real line with one field replaced by anything (numbers, huge values,
    /// tabs, multi-byte text) parses or is quarantined, never panics.
    #[test]
    fn a_mangled_field_never_panics(
        row in 0usize..200,
        col in 0usize..61,
        value in prop_oneof![
            "[-+0-9.eE]{0,24}",
            "\\PC{0,12}",
            Just("NaN".to_string()),
            Just("inf".to_string()),
            Just("99999999999999999999999".to_string()),
        ],
    ) {
        let line = &real_lines()[row];
        let mut f: Vec<&str> = line.split('\t').collect();
        f[col] = &value;
        let text = f.join("\t");
        let b = parse_gdelt_v2("fuzz", text.as_bytes());
        assert_accounted(&b);
        prop_assert_eq!(b.read, 1);
        if let Some(e) = b.events.first() {
            prop_assert!(e.confidence > 0.0 && e.confidence <= 1.0);
            if let Some(g) = e.goldstein {
                prop_assert!((-10.0..=10.0).contains(&g));
            }
        }
    }
}

/// The real files of every format the fuzzers start from.
fn seeds() -> &'static [(farguard_sources::Format, Vec<u8>)] {
    use farguard_sources::Format;
    static SEEDS: OnceLock<Vec<(Format, Vec<u8>)>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let feeds = |rel: &str| std::fs::read(crate::feeds::feeds(rel)).unwrap();
        let fixture = |rel: &str| std::fs::read(crate::feeds::fixture(rel)).unwrap();
        let acled_head = "event_id_cnty,event_date,event_type,sub_event_type,latitude,longitude,fatalities,notes\n\
                          X1,9-May-20,Battles,Armed clash,1.5,2.5,3,\"two\nlines\"\n";
        vec![
            (Format::Cap, feeds("cap/canada_signed.xml")),
            (Format::Cap, feeds("cap/weather.xml")),
            (Format::Gdacs, feeds("gdacs/gdacs-1.xml")),
            (Format::Usgs, feeds("usgs/all_day_2014-04-14.geojson")[..20_000].to_vec()),
            (Format::News, fixture("news/feed-rs_rss_2.0_ilgiornale.xml")),
            (Format::News, fixture("news/feed-rs_rss_1.0_debian.xml")),
            (Format::Acled, acled_head.as_bytes().to_vec()),
            (
                Format::Report,
                std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/field-reports.json")).unwrap(),
            ),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Arbitrary bytes through every reader, and through detection.
    #[test]
    fn every_reader_survives_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..3000)) {
        for f in farguard_sources::Format::ALL {
            assert_accounted(&f.parse_bytes("fuzz", &bytes));
        }
        if let Ok((_, b)) = farguard_sources::parse_auto("fuzz", &bytes, None) {
            assert_accounted(&b);
        }
    }

    /// A real file cut anywhere and with bytes overwritten anywhere: read
    /// or quarantined, never a panic, every record accounted for.
    #[test]
    fn every_reader_survives_damaged_real_files(
        which in 0usize..8,
        cut in any::<prop::sample::Index>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
    ) {
        let (format, seed) = &seeds()[which];
        let mut bytes = seed.clone();
        for (at, b) in edits {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        assert_accounted(&format.parse_bytes("fuzz", &bytes));
    }
}
