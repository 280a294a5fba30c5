//! Areas that carry a risk level: a country, a first-level admin region, an
//! H3 cell, or a registered site.

use crate::{CountryCode, ModelError};
use std::fmt;

/// An area that can be graded. Text form: `CN`, `KE/KE05`, `h3:8a2a1072b59ffff`,
/// `site:PORT-1234`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Area {
    Country(CountryCode),
    Admin1(CountryCode, String),
    H3(u64),
    Site(String),
}

impl Area {
    pub fn parse(s: &str) -> Result<Self, ModelError> {
        let s = s.trim();
        if let Some(h) = s.strip_prefix("h3:") {
            return u64::from_str_radix(h, 16)
                .map(Area::H3)
                .map_err(|_| ModelError::Invalid {
                    field: "area",
                    value: s.into(),
                    hint: "an H3 cell is h3: followed by its hexadecimal index",
                });
        }
        if let Some(id) = s.strip_prefix("site:") {
            if id.is_empty() {
                return Err(ModelError::Invalid {
                    field: "area",
                    value: s.into(),
                    hint: "site: must be followed by the site's external id",
                });
            }
            return Ok(Area::Site(id.into()));
        }
        if let Some((c, a)) = s.split_once('/') {
            return Ok(Area::Admin1(CountryCode::parse(c)?, a.to_string()));
        }
        Ok(Area::Country(CountryCode::parse(s)?))
    }
    pub fn kind(&self) -> &'static str {
        match self {
            Area::Country(_) => "country",
            Area::Admin1(..) => "admin1",
            Area::H3(_) => "h3",
            Area::Site(_) => "site",
        }
    }
}

impl fmt::Display for Area {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Area::Country(c) => write!(f, "{c}"),
            Area::Admin1(c, a) => write!(f, "{c}/{a}"),
            Area::H3(h) => write!(f, "h3:{h:x}"),
            Area::Site(s) => write!(f, "site:{s}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn areas_round_trip() {
        for s in ["KE", "KE/KE05", "h3:8a2a1072b59ffff", "site:PORT-1"] {
            assert_eq!(Area::parse(s).unwrap().to_string(), s);
        }
        assert!(Area::parse("ZZ").is_err());
        assert!(Area::parse("site:").is_err());
    }
}
