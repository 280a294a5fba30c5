//! ISO 3166-1 alpha-2 country codes, checked against the GeoNames country
//! table shipped in `data/lookups/countries.tsv` (compiled in).

use crate::ModelError;
use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

const TABLE: &str = include_str!("../../../data/lookups/countries.tsv");

/// One row of the country table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountryInfo {
    pub iso2: &'static str,
    pub iso3: &'static str,
    pub fips: &'static str,
    pub name: &'static str,
    pub continent: &'static str,
}

fn rows() -> impl Iterator<Item = CountryInfo> {
    TABLE.lines().skip(1).filter_map(|line| {
        let mut f = line.split('\t');
        Some(CountryInfo {
            iso2: f.next()?,
            iso3: f.next()?,
            fips: f.next()?,
            name: f.next()?,
            continent: f.next().unwrap_or(""),
        })
    })
}

/// The rows by alpha-2 and by alpha-3 code (the first row holding a code
/// wins, as a scan in table order would find it), built once: parsing a
/// code and naming a country are hash lookups, not scans of the table.
fn by_code() -> &'static HashMap<&'static str, CountryInfo> {
    static INDEX: OnceLock<HashMap<&'static str, CountryInfo>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut m = HashMap::new();
        for r in rows() {
            if r.iso2.len() == 2 {
                m.entry(r.iso2).or_insert(r);
            }
            if r.iso3.len() == 3 {
                m.entry(r.iso3).or_insert(r);
            }
        }
        m
    })
}

/// All known countries, in ISO order.
pub fn all() -> impl Iterator<Item = CountryInfo> {
    rows()
}

/// A validated ISO 3166-1 alpha-2 code, stored upper-case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    /// Accepts an alpha-2 code in any case, or an alpha-3 code.
    pub fn parse(s: &str) -> Result<Self, ModelError> {
        let t = s.trim().to_ascii_uppercase();
        let found = match t.len() {
            2 | 3 => by_code().get(t.as_str()).copied(),
            _ => None,
        };
        match found {
            Some(r) => {
                let b = r.iso2.as_bytes();
                Ok(Self([b[0], b[1]]))
            }
            None => Err(ModelError::Country(s.to_string())),
        }
    }

    /// Looks a country up by its English name (case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        let n = name.trim();
        rows()
            .find(|r| r.name.eq_ignore_ascii_case(n))
            .and_then(|r| Self::parse(r.iso2).ok())
    }

    pub fn as_str(&self) -> &str {
        // The two bytes were copied from an ASCII table row.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }

    pub fn info(&self) -> Option<CountryInfo> {
        // Only alpha-2 codes are two characters long: this is the row
        // holding the code, the first one in table order.
        by_code().get(self.as_str()).copied()
    }

    /// English short name ("unknown country" for a code not in the table,
    /// which `parse` never makes).
    pub fn name(&self) -> &'static str {
        self.info().map(|i| i.name).unwrap_or("unknown country")
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for CountryCode {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_alpha2_and_alpha3() {
        assert_eq!(CountryCode::parse("ke").unwrap().as_str(), "KE");
        assert_eq!(CountryCode::parse("PAK").unwrap().as_str(), "PK");
        assert_eq!(CountryCode::parse("CN").unwrap().name(), "China");
    }

    #[test]
    fn rejects_unknown_codes() {
        for bad in ["XX", "", "C", "CHINA", "Q1"] {
            assert!(CountryCode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_are_those_of_the_first_row_with_the_code() {
        let mut seen = std::collections::HashSet::new();
        for r in all().filter(|r| r.iso2.len() == 2) {
            let c = CountryCode::parse(r.iso2).unwrap();
            if seen.insert(c) {
                assert_eq!(c.info(), Some(r), "{}", r.iso2);
                assert_eq!(c.name(), r.name, "{}", r.iso2);
            }
        }
        assert!(seen.len() >= 249);
        assert_eq!(CountryCode::parse("KEN").unwrap().name(), "Kenya");
        assert_eq!(CountryCode(*b"QQ").name(), "unknown country");
        assert_eq!(CountryCode(*b"QQ").info(), None);
    }

    #[test]
    fn table_is_complete() {
        assert!(all().count() >= 249);
        assert_eq!(CountryCode::from_name("kenya").unwrap().as_str(), "KE");
    }
}
