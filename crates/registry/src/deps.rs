//! Dependencies between sites from CSV or GeoJSON (properties only), and back.
//!
//! Columns: `site, on, kind, criticality` required. `site` depends on `on`
//! (a port, airport, corridor or supplier site) of `kind` (port, airport,
//! corridor, supplier, power, other); `criticality` 0..=1 is the share of
//! the site's operation that stops when `on` stops. The pair (site, on) is
//! the key. Both ends must be registered sites: [`check_sites`] turns a
//! dangling reference into a row error.

use crate::rows::{self, FieldError, Fields, Spec, ferr};
use crate::{Import, RegistryError, RowError};
use farguard_model::{Dependency, DependencyKind, Geometry};
use std::collections::HashSet;

pub const CSV_HEADER: [&str; 4] = ["site", "on", "kind", "criticality"];

fn dep_from(f: &Fields<'_>, _g: Option<Geometry>) -> Result<Dependency, FieldError> {
    let site = f.req("site")?;
    let on = f.req("on")?;
    if site == on {
        return Err(ferr("on", "a site cannot depend on itself"));
    }
    let kind = DependencyKind::parse(&f.req("kind")?).map_err(|e| ferr("kind", e.to_string()))?;
    let criticality = f
        .num("criticality")?
        .ok_or_else(|| ferr("criticality", "is required"))?;
    if !(0.0..=1.0).contains(&criticality) {
        return Err(ferr(
            "criticality",
            format!("{criticality} is out of range: expected 0 (none) to 1 (stops entirely)"),
        ));
    }
    Ok(Dependency {
        site,
        on,
        kind,
        criticality,
    })
}

/// Reads dependencies in either format.
pub fn read(name: &str, bytes: &[u8]) -> Result<Import<Dependency>, RegistryError> {
    rows::read(
        name,
        bytes,
        &Spec {
            required: &CSV_HEADER,
            what: "dependency",
            build: &dep_from,
            key: &|d: &Dependency| format!("{} -> {}", d.site, d.on),
            key_field: "site, on",
        },
    )
}

/// Moves every row whose `site` or `on` is not in `known` (ids of
/// registered sites) to the errors, naming the field.
pub fn check_sites(imp: &mut Import<Dependency>, known: &HashSet<String>, file: &str) {
    let rows = std::mem::take(&mut imp.rows);
    for (line, d) in rows {
        let missing = if !known.contains(&d.site) {
            Some(("site", &d.site))
        } else if !known.contains(&d.on) {
            Some(("on", &d.on))
        } else {
            None
        };
        match missing {
            None => imp.rows.push((line, d)),
            Some((field, id)) => imp.errors.push(RowError {
                file: file.into(),
                line,
                field: Some(field.into()),
                message: format!(
                    "unknown site {id:?}: import that site first (farguard import sites), or fix the id"
                ),
                raw: format!("{},{},{},{}", d.site, d.on, d.kind, d.criticality),
            }),
        }
    }
    imp.errors.sort_by_key(|e| e.line);
}

pub fn to_csv(deps: &[Dependency]) -> String {
    rows::write_csv(
        &CSV_HEADER,
        deps.iter().map(|d| {
            vec![
                d.site.clone(),
                d.on.clone(),
                d.kind.code().into(),
                rows::f(d.criticality),
            ]
        }),
    )
}

pub fn to_geojson(deps: &[Dependency]) -> String {
    rows::feature_collection(deps.iter().map(|d| {
        (
            None,
            serde_json::json!({"site": d.site, "on": d.on, "kind": d.kind.code(),
                "criticality": d.criticality}),
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependencies_read_check_and_round_trip() {
        let text = "site,on,kind,criticality\n\
            S1,WPI-1,port,0.8\n\
            S1,WPI-2,port,1.5\n\
            S1,GHOST,port,0.5\n\
            S1,WPI-1,port,0.3\n\
            S1,S1,other,0.3\n";
        let mut imp = read("deps.csv", text.as_bytes()).unwrap();
        let known: HashSet<String> = ["S1", "WPI-1", "WPI-2"].map(String::from).into();
        check_sites(&mut imp, &known, "deps.csv");
        let m: Vec<String> = imp.errors.iter().map(|e| e.to_string()).collect();
        assert!(
            m[0].starts_with("deps.csv:3: field `criticality`"),
            "{}",
            m[0]
        );
        assert!(
            m[1].starts_with("deps.csv:4: field `on`: unknown site \"GHOST\""),
            "{}",
            m[1]
        );
        assert!(
            m[2].starts_with("deps.csv:5: field `site, on`: duplicate"),
            "{}",
            m[2]
        );
        assert!(
            m[3].starts_with("deps.csv:6: field `on`: a site cannot"),
            "{}",
            m[3]
        );
        let deps: Vec<_> = imp.values().cloned().collect();
        assert_eq!(deps.len(), 1);
        let back = read("d.csv", to_csv(&deps).as_bytes()).unwrap();
        assert_eq!(back.values().cloned().collect::<Vec<_>>(), deps);
        let back = read("d.geojson", to_geojson(&deps).as_bytes()).unwrap();
        assert_eq!(back.values().cloned().collect::<Vec<_>>(), deps);
    }
}
