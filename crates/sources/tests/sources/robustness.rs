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
