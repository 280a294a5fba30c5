//! The airportsdata table (CSV: icao, iata, name, city, subd, country, …) as
//! airport sites. Only airports with an IATA code are taken: those are the
//! ones with scheduled service that people and cargo actually move through.

use crate::{Import, RegistryError, RowError};
use farguard_model::{CountryCode, Geometry, Site, SiteKind};

/// Reads airports with an IATA code into sites owned by `org`; ids are `AP-<ICAO>`.
/// Returns the import and the number of rows skipped for having no IATA code.
pub fn read(name: &str, bytes: &[u8], org: &str) -> Result<(Import<Site>, u64), RegistryError> {
    let mut rdr = csv::ReaderBuilder::new().from_reader(bytes);
    let headers = rdr
        .headers()
        .map_err(|e| RegistryError::Format {
            file: name.into(),
            reason: format!("cannot read the CSV header: {e}"),
        })?
        .clone();
    let col = |n: &str| headers.iter().position(|h| h == n);
    let (Some(icao), Some(iata), Some(aname), Some(city), Some(country), Some(lat), Some(lon)) = (
        col("icao"),
        col("iata"),
        col("name"),
        col("city"),
        col("country"),
        col("lat"),
        col("lon"),
    ) else {
        return Err(RegistryError::Format {
            file: name.into(),
            reason: "not an airportsdata CSV: expected columns icao, iata, name, city, country, lat, lon".into(),
        });
    };
    let mut out = Import::default();
    let mut skipped = 0;
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
        if g(iata).is_empty() {
            skipped += 1;
            continue;
        }
        let err = |field: &str, message: String| RowError {
            file: name.into(),
            line,
            field: Some(field.into()),
            message,
            raw: rec.iter().collect::<Vec<_>>().join(","),
        };
        let cc = match CountryCode::parse(g(country)) {
            Ok(c) => c,
            Err(e) => {
                out.errors.push(err("country", e.to_string()));
                continue;
            }
        };
        let point = match crate::parse_point(g(lat), g(lon)) {
            Ok(p) => p,
            Err(m) => {
                out.errors.push(err("lat", m));
                continue;
            }
        };
        out.rows.push((
            line,
            Site {
                id: format!("AP-{}", g(icao)),
                org: org.into(),
                name: format!("{} ({}), {}", g(aname), g(iata), g(city)),
                kind: SiteKind::Airport,
                geometry: Geometry::Point(point),
                country: cc,
                sector: Some("airport".into()),
                value_usd: None,
                headcount: 0,
                status: "active".into(),
            },
        ));
    }
    Ok((out, skipped))
}
