//! FIPS 10-4 country codes (what GDELT's `*Geo_CountryCode` columns hold) to
//! ISO 3166-1 alpha-2, from `data/lookups/py-gdelt_countries.json` (gdelt-py,
//! MIT), compiled in and parsed once.

use farguard_model::CountryCode;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::OnceLock;

const TABLE: &str = include_str!("../../../../data/lookups/py-gdelt_countries.json");

#[derive(Deserialize)]
struct Entry {
    iso2: Option<String>,
}

/// Index of a two-character code over `[0-9A-Z]²`.
fn slot(fips: &str) -> Option<usize> {
    let digit = |b: u8| match b {
        b'0'..=b'9' => Some((b - b'0') as usize),
        b'A'..=b'Z' => Some((b - b'A') as usize + 10),
        _ => None,
    };
    match fips.as_bytes() {
        [a, b] => Some(digit(*a)? * 36 + digit(*b)?),
        _ => None,
    }
}

fn table() -> &'static [Option<CountryCode>] {
    static TABLE_BY_SLOT: OnceLock<Vec<Option<CountryCode>>> = OnceLock::new();
    TABLE_BY_SLOT.get_or_init(|| {
        let mut out = vec![None; 36 * 36];
        // The file is compiled in and `fips_table_parses` proves it parses; an
        // unparsable table would leave every country unknown, not crash.
        let parsed: HashMap<String, Entry> = serde_json::from_str(TABLE).unwrap_or_default();
        for (fips, entry) in parsed {
            let iso = entry.iso2.and_then(|c| CountryCode::parse(&c).ok());
            if let (Some(i), Some(iso)) = (slot(&fips), iso)
                && let Some(s) = out.get_mut(i)
            {
                *s = Some(iso);
            }
        }
        out
    })
}

/// The ISO country of a FIPS 10-4 code, or `None` when the code is unknown.
pub fn to_iso(fips: &str) -> Option<CountryCode> {
    table().get(slot(fips)?).copied().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fips_table_parses() {
        let parsed: HashMap<String, Entry> = serde_json::from_str(TABLE).unwrap();
        assert_eq!(parsed.len(), 249);
        // All but a handful of FIPS codes resolve to a known ISO country.
        let known = table().iter().flatten().count();
        assert!(known >= 240, "{known}");
    }

    #[test]
    fn fips_differs_from_iso() {
        let iso = |f| to_iso(f).map(|c| c.to_string());
        assert_eq!(iso("BO").as_deref(), Some("BY")); // Belarus, not Bolivia
        assert_eq!(iso("CH").as_deref(), Some("CN")); // China, not Switzerland
        assert_eq!(iso("UK").as_deref(), Some("GB"));
        assert_eq!(iso("US").as_deref(), Some("US"));
        assert_eq!(iso("ZZ"), None);
        assert_eq!(iso("b0"), None);
        assert_eq!(iso(""), None);
    }
}
