//! Sites and projects from CSV and GeoJSON, and back.
//!
//! CSV columns (header required, order free): `id, org, name, kind, lat, lon,
//! country` required; `sector, value_usd, headcount, status, polygon`
//! optional. `polygon` is the outer ring as JSON `[[lon,lat],…]` (first
//! position repeated last); when given, the site is that polygon and
//! `lat`/`lon` are its anchor. GeoJSON: a FeatureCollection of Point or
//! Polygon features whose `properties` carry the same names (no lat/lon).

use crate::rows::{self, FieldError, Fields, Spec, f, ferr};
use crate::{Import, RegistryError};
use farguard_model::{CountryCode, Geometry, Site, SiteKind};

pub use crate::rows::{Format as SitesFormat, detect};

const REQUIRED: [&str; 7] = ["id", "org", "name", "kind", "lat", "lon", "country"];

/// CSV header written by [`to_csv`].
pub const CSV_HEADER: [&str; 12] = [
    "id",
    "org",
    "name",
    "kind",
    "lat",
    "lon",
    "country",
    "sector",
    "value_usd",
    "headcount",
    "status",
    "polygon",
];

fn polygon_column(text: &str) -> Result<Geometry, FieldError> {
    let ring: Vec<Vec<f64>> = serde_json::from_str(text).map_err(|e| {
        ferr(
            "polygon",
            format!("expected a JSON ring such as [[36,-1],[37,-1],[37,0],[36,-1]]: {e}"),
        )
    })?;
    rows::polygon(&ring)
        .map(Geometry::Polygon)
        .map_err(|m| ferr("polygon", m))
}

/// Builds a site from named fields.
fn site_from(f: &Fields<'_>, geometry: Option<Geometry>) -> Result<Site, FieldError> {
    let id = f.req("id")?;
    let org = f.req("org")?;
    let name = f.req("name")?;
    let kind = SiteKind::parse(&f.req("kind")?).map_err(|e| ferr("kind", e.to_string()))?;
    let country =
        CountryCode::parse(&f.req("country")?).map_err(|e| ferr("country", e.to_string()))?;
    let geometry = match (geometry, f.opt("polygon")) {
        (Some(g), _) => g,
        (None, Some(text)) => polygon_column(&text)?,
        (None, None) => Geometry::Point(f.point()?),
    };
    let value_usd = f.num("value_usd")?;
    if value_usd.is_some_and(|v| v < 0.0) {
        return Err(ferr("value_usd", "must not be negative"));
    }
    let headcount = match f.opt("headcount") {
        None => 0,
        Some(v) => v.parse::<u32>().map_err(|_| {
            ferr(
                "headcount",
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

fn spec() -> Spec<'static, Site> {
    Spec {
        required: &REQUIRED,
        what: "site",
        build: &site_from,
        key: &|s: &Site| s.id.clone(),
        key_field: "id",
    }
}

/// Reads sites in either format.
pub fn read(name: &str, bytes: &[u8]) -> Result<Import<Site>, RegistryError> {
    rows::read(name, bytes, &spec())
}

/// Reads the CSV form.
pub fn read_csv(name: &str, bytes: &[u8]) -> Result<Import<Site>, RegistryError> {
    rows::read_csv(name, bytes, &spec())
}

/// Reads the GeoJSON form.
pub fn read_geojson(name: &str, bytes: &[u8]) -> Result<Import<Site>, RegistryError> {
    let s = Spec {
        // GeoJSON sites carry their place in the geometry, never in lat/lon.
        build: &|f: &Fields<'_>, g: Option<Geometry>| match g {
            Some(g) => site_from(f, Some(g)),
            None => Err(ferr("geometry", "a site needs a Point or Polygon geometry")),
        },
        ..spec()
    };
    rows::read_geojson(name, bytes, &s)
}

/// Writes sites as a GeoJSON FeatureCollection (the import format).
pub fn to_geojson(sites: &[Site]) -> String {
    rows::feature_collection(sites.iter().map(|s| {
        (
            Some(s.geometry.clone()),
            serde_json::json!({
                "id": s.id, "org": s.org, "name": s.name, "kind": s.kind.code(),
                "country": s.country.as_str(), "sector": s.sector, "value_usd": s.value_usd,
                "headcount": s.headcount, "status": s.status,
            }),
        )
    }))
}

/// Writes sites as CSV (the import format; polygons in the `polygon` column).
pub fn to_csv(sites: &[Site]) -> String {
    rows::write_csv(
        &CSV_HEADER,
        sites.iter().map(|s| {
            let a = s.anchor();
            vec![
                s.id.clone(),
                s.org.clone(),
                s.name.clone(),
                s.kind.code().into(),
                f(a.lat()),
                f(a.lon()),
                s.country.as_str().into(),
                s.sector.clone().unwrap_or_default(),
                s.value_usd.map(f).unwrap_or_default(),
                s.headcount.to_string(),
                s.status.clone(),
                match &s.geometry {
                    Geometry::Polygon(p) => rows::ring_json(p).to_string(),
                    Geometry::Point(_) => String::new(),
                },
            ]
        }),
    )
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
            msgs[2].starts_with("sites.csv:5: field `headcount`: \"-3\""),
            "{}",
            msgs[2]
        );
        assert!(
            msgs[3].starts_with("sites.csv:6: field `id`: duplicate id \"S1\""),
            "{}",
            msgs[3]
        );
        assert!(
            msgs[4].starts_with("sites.csv:7: expected 11 fields"),
            "{}",
            msgs[4]
        );
        assert_eq!(
            imp.errors[2].raw,
            "S4,acme,Bad headcount,office,1,1,KE,,,-3,"
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
    fn csv_polygon_column_is_validated() {
        let text = format!(
            "{},polygon\n\
             P1,acme,Open,mine,0,0,KE,,,,,\"[[36,-1],[37,-1],[37,0],[36,0]]\"\n\
             P2,acme,Bowtie,mine,0,0,KE,,,,,\"[[0,0],[1,1],[1,0],[0,1],[0,0]]\"\n\
             P3,acme,Good,mine,0,0,KE,,,,,\"[[36,-1],[37,-1],[37,0],[36,0],[36,-1]]\"\n",
            HEAD.trim_end()
        );
        let imp = read_csv("p.csv", text.as_bytes()).unwrap();
        let msgs: Vec<String> = imp.errors.iter().map(|e| e.to_string()).collect();
        assert!(
            msgs[0].starts_with("p.csv:2: field `polygon`") && msgs[0].contains("not closed"),
            "{}",
            msgs[0]
        );
        assert!(
            msgs[1].starts_with("p.csv:3: field `polygon`") && msgs[1].contains("intersects"),
            "{}",
            msgs[1]
        );
        assert_eq!(imp.rows.len(), 1);
        assert!(matches!(imp.rows[0].1.geometry, Geometry::Polygon(_)));
    }

    #[test]
    fn geojson_round_trips_points_and_polygons() {
        let text = r#"{"type":"FeatureCollection","features":[
          {"type":"Feature","geometry":{"type":"Point","coordinates":[39.66,-4.05]},
           "properties":{"id":"S1","org":"acme","name":"Yard","kind":"project","country":"KE","headcount":12}},
          {"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[36,-1],[37,-1],[37,0],[36,0],[36,-1]]]},
           "properties":{"id":"S2","org":"acme","name":"Concession","kind":"mine","country":"KE"}},
          {"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0,0],[1,1],[1,0],[0,1],[0,0]]]},
           "properties":{"id":"S3","org":"acme","name":"Bowtie","kind":"mine","country":"KE"}},
          {"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1]]]},
           "properties":{"id":"S4","org":"acme","name":"Open","kind":"mine","country":"KE"}}
        ]}"#;
        let imp = read_geojson("s.geojson", text.as_bytes()).unwrap();
        assert_eq!(imp.rows.len(), 2);
        let e0 = imp.errors[0].to_string();
        assert!(
            e0.starts_with("s.geojson:3: field `geometry`") && e0.contains("intersects itself"),
            "{e0}"
        );
        assert!(imp.errors[1].to_string().contains("not closed"));
        let sites: Vec<Site> = imp.values().cloned().collect();
        let again = read_geojson("out.geojson", to_geojson(&sites).as_bytes()).unwrap();
        assert_eq!(again.values().cloned().collect::<Vec<_>>(), sites);
        let again = read_csv("out.csv", to_csv(&sites).as_bytes()).unwrap();
        assert!(again.errors.is_empty(), "{:?}", again.errors);
        assert_eq!(again.values().cloned().collect::<Vec<_>>(), sites);
    }
}
