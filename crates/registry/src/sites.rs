//! Sites from CSV and GeoJSON, and back.
//!
//! CSV columns (header required, order free): `id, org, name, kind, lat, lon,
//! country` required; `sector, value_usd, headcount, status` optional.
//! GeoJSON: a FeatureCollection of Point or Polygon features whose
//! `properties` carry the same names (no lat/lon).

use crate::{Import, RegistryError, RowError};
use farguard_model::{CountryCode, Geometry, Point, Polygon, Site, SiteKind};
use std::collections::HashMap;
use std::collections::HashSet;

const REQUIRED: [&str; 7] = ["id", "org", "name", "kind", "lat", "lon", "country"];

/// Which format a sites file is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SitesFormat {
    Csv,
    GeoJson,
}

/// Guesses the format from the name, then from the first non-blank byte.
pub fn detect(name: &str, bytes: &[u8]) -> SitesFormat {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".geojson") || lower.ends_with(".json") {
        return SitesFormat::GeoJson;
    }
    if lower.ends_with(".csv") {
        return SitesFormat::Csv;
    }
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => SitesFormat::GeoJson,
        _ => SitesFormat::Csv,
    }
}

/// Reads sites in either format.
pub fn read(name: &str, bytes: &[u8]) -> Result<Import<Site>, RegistryError> {
    match detect(name, bytes) {
        SitesFormat::Csv => read_csv(name, bytes),
        SitesFormat::GeoJson => read_geojson(name, bytes),
    }
}

/// Looks a field up by column or property name.
type Getter<'a> = Box<dyn Fn(&str) -> Option<String> + 'a>;

struct Fields<'a> {
    get: Getter<'a>,
}

impl Fields<'_> {
    fn opt(&self, k: &str) -> Option<String> {
        (self.get)(k)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }
    fn req(&self, k: &'static str) -> Result<String, (String, String)> {
        self.opt(k)
            .ok_or_else(|| (k.to_string(), "is required and empty".to_string()))
    }
}

fn num(f: &Fields<'_>, k: &'static str) -> Result<Option<f64>, (String, String)> {
    match f.opt(k) {
        None => Ok(None),
        Some(v) => v
            .parse::<f64>()
            .map(Some)
            .map_err(|_| (k.to_string(), format!("{v:?} is not a number"))),
    }
}

/// Builds a site from named fields; the error is (field, message).
fn site_from(f: &Fields<'_>, geometry: Option<Geometry>) -> Result<Site, (String, String)> {
    let id = f.req("id")?;
    let org = f.req("org")?;
    let name = f.req("name")?;
    let kind = SiteKind::parse(&f.req("kind")?).map_err(|e| ("kind".into(), e.to_string()))?;
    let country =
        CountryCode::parse(&f.req("country")?).map_err(|e| ("country".into(), e.to_string()))?;
    let geometry = match geometry {
        Some(g) => g,
        None => {
            let lat = num(f, "lat")?.ok_or(("lat".to_string(), "is required".to_string()))?;
            let lon = num(f, "lon")?.ok_or(("lon".to_string(), "is required".to_string()))?;
            let p = Point::new(lat, lon).map_err(|e| {
                let field = if e.to_string().starts_with("latitude") {
                    "lat"
                } else {
                    "lon"
                };
                (field.to_string(), e.to_string())
            })?;
            Geometry::Point(p)
        }
    };
    let value_usd = num(f, "value_usd")?;
    if value_usd.is_some_and(|v| v < 0.0) {
        return Err(("value_usd".into(), "must not be negative".into()));
    }
    let headcount = match f.opt("headcount") {
        None => 0,
        Some(v) => v.parse::<u32>().map_err(|_| {
            (
                "headcount".to_string(),
                format!("{v:?} is not a whole number of people (0 or more)"),
            )
        })?,
    };
    Ok(Site {
        id,
        org,
        name,
        kind,
        geometry,
        country,
        sector: f.opt("sector"),
        value_usd,
        headcount,
        status: f.opt("status").unwrap_or_else(|| "active".into()),
    })
}

/// Rejects the second and later rows with an id already seen in this file.
fn push_unique(
    out: &mut Import<Site>,
    seen: &mut HashSet<String>,
    file: &str,
    line: u64,
    raw: String,
    site: Site,
) {
    if seen.insert(site.id.clone()) {
        out.rows.push((line, site));
    } else {
        out.errors.push(RowError {
            file: file.into(),
            line,
            field: Some("id".into()),
            message: format!(
                "duplicate id {:?} in this file: ids must be unique",
                site.id
            ),
            raw,
        });
    }
}

/// Reads the CSV form.
pub fn read_csv(name: &str, bytes: &[u8]) -> Result<Import<Site>, RegistryError> {
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let headers = rdr
        .headers()
        .map_err(|e| RegistryError::Format {
            file: name.into(),
            reason: format!("cannot read the CSV header: {e}"),
        })?
        .clone();
    let index: HashMap<String, usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            (
                h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase(),
                i,
            )
        })
        .collect();
    let missing: Vec<_> = REQUIRED
        .iter()
        .filter(|k| !index.contains_key(**k))
        .collect();
    if !missing.is_empty() {
        return Err(RegistryError::Format {
            file: name.into(),
            reason: format!(
                "the header lacks the required column(s) {missing:?}; a sites CSV needs {REQUIRED:?}"
            ),
        });
    }
    let mut out = Import::default();
    let mut seen = HashSet::new();
    let mut rec = csv::StringRecord::new();
    loop {
        let line = rdr.position().line();
        match rdr.read_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {
                let line = rec.position().map(|p| p.line()).unwrap_or(line);
                let raw = rec.iter().collect::<Vec<_>>().join(",");
                if rec.len() != headers.len() {
                    out.errors.push(RowError {
                        file: name.into(),
                        line,
                        field: None,
                        message: format!(
                            "expected {} fields as in the header, found {}",
                            headers.len(),
                            rec.len()
                        ),
                        raw,
                    });
                    continue;
                }
                let r = &rec;
                let idx = &index;
                let fields = Fields {
                    get: Box::new(move |k| idx.get(k).and_then(|i| r.get(*i)).map(str::to_string)),
                };
                match site_from(&fields, None) {
                    Ok(site) => push_unique(&mut out, &mut seen, name, line, raw, site),
                    Err((field, message)) => out.errors.push(RowError {
                        file: name.into(),
                        line,
                        field: Some(field),
                        message,
                        raw,
                    }),
                }
            }
            Err(e) => out.errors.push(RowError {
                file: name.into(),
                line,
                field: None,
                message: format!("unreadable CSV row: {e}"),
                raw: String::new(),
            }),
        }
    }
    Ok(out)
}

fn ring_points(ring: &[Vec<f64>]) -> Result<Vec<Point>, String> {
    ring.iter()
        .enumerate()
        .map(|(i, pos)| match pos.as_slice() {
            [lon, lat, ..] => {
                Point::new(*lat, *lon).map_err(|e| format!("position {}: {e}", i + 1))
            }
            _ => Err(format!("position {} needs [lon, lat]", i + 1)),
        })
        .collect()
}

/// Reads the GeoJSON form.
pub fn read_geojson(name: &str, bytes: &[u8]) -> Result<Import<Site>, RegistryError> {
    let text = std::str::from_utf8(bytes).map_err(|e| RegistryError::Format {
        file: name.into(),
        reason: format!("not UTF-8 text ({e})"),
    })?;
    let fc: geojson::FeatureCollection = text.parse().map_err(|e| RegistryError::Format {
        file: name.into(),
        reason: format!("not a GeoJSON FeatureCollection: {e}"),
    })?;
    let mut out = Import::default();
    let mut seen = HashSet::new();
    for (i, feat) in fc.features.iter().enumerate() {
        let line = i as u64 + 1;
        let raw = serde_json::to_string(feat).unwrap_or_default();
        let err = |field: &str, message: String| RowError {
            file: name.into(),
            line,
            field: Some(field.into()),
            message,
            raw: raw.clone(),
        };
        let geometry = match feat.geometry.as_ref().map(|g| &g.value) {
            Some(geojson::GeometryValue::Point { coordinates }) => {
                match ring_points(std::slice::from_ref(&coordinates.as_slice().to_vec())) {
                    Ok(p) => Geometry::Point(p[0]),
                    Err(m) => {
                        out.errors.push(err("geometry", m));
                        continue;
                    }
                }
            }
            Some(geojson::GeometryValue::Polygon { coordinates }) => {
                let outer: Vec<Vec<f64>> = coordinates
                    .first()
                    .map(|r| r.iter().map(|p| p.as_slice().to_vec()).collect())
                    .unwrap_or_default();
                match ring_points(&outer)
                    .and_then(|pts| Polygon::new(pts).map_err(|e| e.to_string()))
                {
                    Ok(poly) => Geometry::Polygon(poly),
                    Err(m) => {
                        out.errors.push(err("geometry", m));
                        continue;
                    }
                }
            }
            _ => {
                out.errors
                    .push(err("geometry", "must be a Point or a Polygon".into()));
                continue;
            }
        };
        let props = feat.properties.clone().unwrap_or_default();
        let fields = Fields {
            get: Box::new(move |k| {
                props.get(k).and_then(|v| match v {
                    serde_json::Value::Null => None,
                    serde_json::Value::String(s) => Some(s.clone()),
                    other => Some(other.to_string()),
                })
            }),
        };
        match site_from(&fields, Some(geometry)) {
            Ok(site) => push_unique(&mut out, &mut seen, name, line, raw.clone(), site),
            Err((field, message)) => out
                .errors
                .push(err(&format!("properties.{field}"), message)),
        }
    }
    Ok(out)
}

/// Writes sites as a GeoJSON FeatureCollection (the import format).
pub fn to_geojson(sites: &[Site]) -> String {
    let features: Vec<serde_json::Value> = sites
        .iter()
        .map(|s| {
            let geometry = match &s.geometry {
                Geometry::Point(p) => serde_json::json!({"type": "Point", "coordinates": [p.lon(), p.lat()]}),
                Geometry::Polygon(poly) => serde_json::json!({
                    "type": "Polygon",
                    "coordinates": [poly.ring().iter().map(|p| [p.lon(), p.lat()]).collect::<Vec<_>>()]
                }),
            };
            serde_json::json!({
                "type": "Feature",
                "geometry": geometry,
                "properties": {
                    "id": s.id, "org": s.org, "name": s.name, "kind": s.kind.code(),
                    "country": s.country.as_str(), "sector": s.sector, "value_usd": s.value_usd,
                    "headcount": s.headcount, "status": s.status,
                }
            })
        })
        .collect();
    serde_json::json!({"type": "FeatureCollection", "features": features}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "id,org,name,kind,lat,lon,country,sector,value_usd,headcount,status\n";

    #[test]
    fn csv_rows_are_validated_one_by_one() {
        let text = format!(
            "{HEAD}S1,acme,Mombasa yard,project,-4.05,39.66,KE,construction,1200000,35,active\n\
             S2,acme,Bad lat,project,123,39.66,KE,,,,\n\
             S3,acme,Bad country,office,1,1,XX,,,,\n\
             S4,acme,Bad headcount,office,1,1,KE,,,-3,\n\
             S1,acme,Dup,office,1,1,KE,,,,\n\
             S5,acme,Short row,office\n"
        );
        let imp = read_csv("sites.csv", text.as_bytes()).unwrap();
        assert_eq!(imp.rows.len(), 1);
        assert_eq!(imp.read(), 6);
        let msgs: Vec<String> = imp.errors.iter().map(|e| e.to_string()).collect();
        assert!(
            msgs[0].starts_with("sites.csv:3: field `lat`: latitude 123"),
            "{}",
            msgs[0]
        );
        assert!(
            msgs[1].starts_with("sites.csv:4: field `country`"),
            "{}",
            msgs[1]
        );
        assert!(
            msgs[2].starts_with("sites.csv:5: field `headcount`"),
            "{}",
            msgs[2]
        );
        assert!(msgs[3].contains("duplicate id \"S1\""), "{}", msgs[3]);
        assert!(
            msgs[4].starts_with("sites.csv:7: expected 11 fields"),
            "{}",
            msgs[4]
        );
        let s = &imp.rows[0].1;
        assert_eq!((s.headcount, s.country.as_str()), (35, "KE"));
    }

    #[test]
    fn csv_without_required_columns_is_a_file_error() {
        let err = read_csv("x.csv", b"id,name\n1,a\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("x.csv") && err.contains("\"org\""), "{err}");
    }

    #[test]
    fn geojson_round_trips_points_and_polygons() {
        let text = r#"{"type":"FeatureCollection","features":[
          {"type":"Feature","geometry":{"type":"Point","coordinates":[39.66,-4.05]},
           "properties":{"id":"S1","org":"acme","name":"Yard","kind":"project","country":"KE","headcount":12}},
          {"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[36,-1],[37,-1],[37,0],[36,0],[36,-1]]]},
           "properties":{"id":"S2","org":"acme","name":"Concession","kind":"mine","country":"KE"}},
          {"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0,0],[1,1],[1,0],[0,1],[0,0]]]},
           "properties":{"id":"S3","org":"acme","name":"Bowtie","kind":"mine","country":"KE"}}
        ]}"#;
        let imp = read_geojson("s.geojson", text.as_bytes()).unwrap();
        assert_eq!(imp.rows.len(), 2);
        assert!(imp.errors[0].to_string().contains("intersects itself"));
        let sites: Vec<Site> = imp.values().cloned().collect();
        let again = read_geojson("out.geojson", to_geojson(&sites).as_bytes()).unwrap();
        assert_eq!(again.values().cloned().collect::<Vec<_>>(), sites);
    }
}
