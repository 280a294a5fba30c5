//! The NGA World Port Index (Pub 150, CSV) as port sites.
//!
//! The country comes from the first two letters of the UN/LOCODE (an ISO
//! 3166-1 code by construction), falling back to the English country name.
//! A port whose country cannot be resolved is a row error, not a guess.

use crate::{Import, RegistryError, RowError};
use farguard_model::{CountryCode, Geometry, Site, SiteKind};

/// WPI country names that differ from the ISO short names.
const ALIASES: &[(&str, &str)] = &[
    ("Burma", "MM"),
    ("Congo (Brazzaville)", "CG"),
    ("Congo (Kinshasa)", "CD"),
    ("Cote D'Ivoire", "CI"),
    ("Netherlands", "NL"),
    ("The Bahamas", "BS"),
    ("The Gambia", "GM"),
    ("Timor-Leste", "TL"),
    ("Macau", "MO"),
    ("Federated States of Micronesia", "FM"),
    ("Svalbard", "SJ"),
    ("Caribbean Netherlands", "BQ"),
    ("Falkland Islands (Islas Malvinas)", "FK"),
    ("Saint Vincent and the Grenadines (Windward Islands)", "VC"),
    ("Saint Helena, Ascension, and Tristan da Cunha", "SH"),
    ("South Georgia and South Sandwich Islands", "GS"),
];

/// Headcount assumed on a port site by harbour size, so the demo can speak of
/// people; clearly a demo assumption, not WPI data.
fn demo_headcount(size: &str) -> u32 {
    match size.trim() {
        "Large" => 40,
        "Medium" => 15,
        "Small" => 5,
        _ => 2,
    }
}

/// Reads the WPI CSV into port sites owned by `org`. Site ids are `WPI-<number>`.
pub fn read(name: &str, bytes: &[u8], org: &str) -> Result<Import<Site>, RegistryError> {
    let mut rdr = csv::ReaderBuilder::new().from_reader(bytes);
    let headers = rdr
        .headers()
        .map_err(|e| RegistryError::Format {
            file: name.into(),
            reason: format!("cannot read the CSV header: {e}"),
        })?
        .clone();
    let col = |n: &str| {
        headers
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}') == n)
    };
    let (Some(num), Some(pname), Some(locode), Some(country), Some(lat), Some(lon), Some(size)) = (
        col("World Port Index Number"),
        col("Main Port Name"),
        col("UN/LOCODE"),
        col("Country Code"),
        col("Latitude"),
        col("Longitude"),
        col("Harbor Size"),
    ) else {
        return Err(RegistryError::Format {
            file: name.into(),
            reason: "not a World Port Index CSV: expected columns such as \"World Port Index Number\", \"Main Port Name\", \"Latitude\"".into(),
        });
    };
    let mut out = Import::default();
    for (i, rec) in rdr.records().enumerate() {
        let line = i as u64 + 2;
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                out.errors.push(RowError {
                    file: name.into(),
                    line,
                    field: None,
                    message: format!("unreadable CSV row: {e}"),
                    raw: String::new(),
                });
                continue;
            }
        };
        let g = |i: usize| rec.get(i).unwrap_or("").trim();
        let err = |field: &str, message: String| RowError {
            file: name.into(),
            line,
            field: Some(field.into()),
            message,
            raw: rec.iter().take(8).collect::<Vec<_>>().join(","),
        };
        let id = g(num).trim_end_matches(".0").to_string();
        let cc = CountryCode::parse(g(locode).get(..2).unwrap_or(""))
            .ok()
            .or_else(|| CountryCode::from_name(g(country)))
            .or_else(|| {
                ALIASES
                    .iter()
                    .find(|(n, _)| *n == g(country))
                    .and_then(|(_, c)| CountryCode::parse(c).ok())
            });
        let Some(cc) = cc else {
            out.errors.push(err(
                "Country Code",
                format!("cannot resolve country {:?} to ISO 3166-1", g(country)),
            ));
            continue;
        };
        let point = match crate::parse_point(g(lat), g(lon)) {
            Ok(p) => p,
            Err(m) => {
                out.errors.push(err("Latitude", m));
                continue;
            }
        };
        out.rows.push((
            line,
            Site {
                id: format!("WPI-{id}"),
                org: org.into(),
                name: format!("Port of {}", g(pname)),
                kind: SiteKind::Port,
                geometry: Geometry::Point(point),
                country: cc,
                sector: Some(format!(
                    "port ({} harbour)",
                    if g(size).is_empty() {
                        "unknown size"
                    } else {
                        g(size)
                    }
                )),
                value_usd: None,
                headcount: demo_headcount(g(size)),
                status: "active".into(),
            },
        ));
    }
    Ok(out)
}
