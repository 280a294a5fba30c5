//! The row machinery every registry file shares: CSV with a header and
//! GeoJSON FeatureCollections read into named fields, one result per row, a
//! duplicate external id within one file rejected, and the writers back.

use crate::{Import, RegistryError, RowError};
use farguard_model::{Geometry, Point, Polygon};
use std::collections::{HashMap, HashSet};

/// Which format a registry file is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    GeoJson,
}

impl Format {
    /// `csv` or `geojson` (also `json`).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "geojson" | "json" => Some(Format::GeoJson),
            _ => None,
        }
    }
}

/// Guesses the format from the name, then from the first non-blank byte.
pub fn detect(name: &str, bytes: &[u8]) -> Format {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".geojson") || lower.ends_with(".json") {
        return Format::GeoJson;
    }
    if lower.ends_with(".csv") {
        return Format::Csv;
    }
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => Format::GeoJson,
        _ => Format::Csv,
    }
}

/// A rejected field: (field name, what is wrong and how to fix it).
pub(crate) type FieldError = (String, String);

pub(crate) fn ferr(field: &str, msg: impl Into<String>) -> FieldError {
    (field.to_string(), msg.into())
}

/// Looks a field up by column or property name.
type Getter<'a> = Box<dyn Fn(&str) -> Option<String> + 'a>;

/// The named fields of one row, whatever the file format.
pub(crate) struct Fields<'a> {
    get: Getter<'a>,
}

impl Fields<'_> {
    pub fn opt(&self, k: &str) -> Option<String> {
        (self.get)(k)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }
    pub fn req(&self, k: &str) -> Result<String, FieldError> {
        self.opt(k)
            .ok_or_else(|| ferr(k, "is required and empty".to_string()))
    }
    pub fn num(&self, k: &str) -> Result<Option<f64>, FieldError> {
        match self.opt(k) {
            None => Ok(None),
            Some(v) => match v.parse::<f64>() {
                Ok(x) if x.is_finite() => Ok(Some(x)),
                _ => Err(ferr(k, format!("{v:?} is not a number"))),
            },
        }
    }
    /// A point from `lat` and `lon` columns; the error names the bad one.
    pub fn point(&self) -> Result<Point, FieldError> {
        let lat = self.num("lat")?.ok_or_else(|| ferr("lat", "is required"))?;
        let lon = self.num("lon")?.ok_or_else(|| ferr("lon", "is required"))?;
        Point::new(lat, lon).map_err(|e| {
            let field = if e.to_string().starts_with("latitude") {
                "lat"
            } else {
                "lon"
            };
            ferr(field, e.to_string())
        })
    }
}

/// Builds one value from a row's fields and its GeoJSON geometry, if any.
pub(crate) type Build<'s, T> = &'s dyn Fn(&Fields<'_>, Option<Geometry>) -> Result<T, FieldError>;

/// What a row kind tells the shared readers.
pub(crate) struct Spec<'s, T> {
    /// Columns a CSV header must have.
    pub required: &'s [&'s str],
    /// What a row is called in messages (`site`, `person`, …).
    pub what: &'static str,
    /// Builds a value from the fields and the GeoJSON geometry, if any.
    pub build: Build<'s, T>,
    /// The key that must be unique within one file, and its field name.
    pub key: &'s dyn Fn(&T) -> String,
    pub key_field: &'static str,
}

fn push_unique<T>(
    out: &mut Import<T>,
    seen: &mut HashSet<String>,
    spec: &Spec<'_, T>,
    err: RowError,
    value: T,
) {
    let key = (spec.key)(&value);
    if seen.insert(key.clone()) {
        out.rows.push((err.line, value));
    } else {
        out.errors.push(RowError {
            field: Some(spec.key_field.into()),
            message: format!(
                "duplicate {} {key:?} in this file: each {} must appear once (an earlier row has it)",
                spec.key_field, spec.what
            ),
            ..err
        });
    }
}

/// Reads a CSV file with a header; column order is free, names are
/// case-insensitive, a BOM is ignored.
pub(crate) fn read_csv<T>(
    name: &str,
    bytes: &[u8],
    spec: &Spec<'_, T>,
) -> Result<Import<T>, RegistryError> {
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
    let missing: Vec<_> = spec
        .required
        .iter()
        .filter(|k| !index.contains_key(**k))
        .collect();
    if !missing.is_empty() {
        return Err(RegistryError::Format {
            file: name.into(),
            reason: format!(
                "the header lacks the required column(s) {missing:?}; a {} CSV needs {:?}",
                spec.what, spec.required
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
                let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
                let raw = match w.write_record(&rec).ok().and_then(|_| w.into_inner().ok()) {
                    Some(b) => String::from_utf8_lossy(&b).trim_end().to_string(),
                    None => rec.iter().collect::<Vec<_>>().join(","),
                };
                let base = RowError {
                    file: name.into(),
                    line,
                    field: None,
                    message: String::new(),
                    raw,
                };
                if rec.len() != headers.len() {
                    out.errors.push(RowError {
                        message: format!(
                            "expected {} fields as in the header, found {}",
                            headers.len(),
                            rec.len()
                        ),
                        ..base
                    });
                    continue;
                }
                let r = &rec;
                let idx = &index;
                let fields = Fields {
                    get: Box::new(move |k| idx.get(k).and_then(|i| r.get(*i)).map(str::to_string)),
                };
                match (spec.build)(&fields, None) {
                    Ok(v) => push_unique(&mut out, &mut seen, spec, base, v),
                    Err((field, message)) => out.errors.push(RowError {
                        field: Some(field),
                        message,
                        ..base
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

/// `[[lon, lat], …]` positions into points; the error names the position.
pub(crate) fn positions(ring: &[Vec<f64>]) -> Result<Vec<Point>, String> {
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

/// A polygon from its outer ring of `[lon, lat]` positions.
pub(crate) fn polygon(ring: &[Vec<f64>]) -> Result<Polygon, String> {
    positions(ring).and_then(|pts| Polygon::new(pts).map_err(|e| e.to_string()))
}

/// Reads a GeoJSON FeatureCollection. Features carry the row's fields in
/// `properties`; the geometry (Point or Polygon, or null where the row has
/// none) is handed to the builder. The "line" of a feature is its 1-based
/// index, and errors name `geometry` or `properties.<field>`.
pub(crate) fn read_geojson<T>(
    name: &str,
    bytes: &[u8],
    spec: &Spec<'_, T>,
) -> Result<Import<T>, RegistryError> {
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
        let base = RowError {
            file: name.into(),
            line: i as u64 + 1,
            field: None,
            message: String::new(),
            raw: serde_json::to_string(feat).unwrap_or_default(),
        };
        let geometry = match feat.geometry.as_ref().map(|g| &g.value) {
            None => Ok(None),
            Some(geojson::GeometryValue::Point { coordinates }) => {
                positions(std::slice::from_ref(&coordinates.as_slice().to_vec()))
                    .map(|p| Some(Geometry::Point(p[0])))
            }
            Some(geojson::GeometryValue::Polygon { coordinates }) => {
                if coordinates.len() > 1 {
                    Err("holes are not supported: give the outer ring only".to_string())
                } else {
                    let outer: Vec<Vec<f64>> = coordinates
                        .first()
                        .map(|r| r.iter().map(|p| p.as_slice().to_vec()).collect())
                        .unwrap_or_default();
                    polygon(&outer).map(|p| Some(Geometry::Polygon(p)))
                }
            }
            Some(_) => Err("must be a Point or a Polygon".to_string()),
        };
        let geometry = match geometry {
            Ok(g) => g,
            Err(m) => {
                out.errors.push(RowError {
                    field: Some("geometry".into()),
                    message: m,
                    ..base
                });
                continue;
            }
        };
        let props = feat.properties.clone().unwrap_or_default();
        let fields = Fields {
            get: Box::new(move |k| {
                props.get(k).and_then(|v| match v {
                    serde_json::Value::Null => None,
                    serde_json::Value::String(s) => Some(s.clone()),
                    serde_json::Value::Array(a) => Some(
                        a.iter()
                            .map(|x| match x {
                                serde_json::Value::String(s) => s.clone(),
                                other => other.to_string(),
                            })
                            .collect::<Vec<_>>()
                            .join(";"),
                    ),
                    other => Some(other.to_string()),
                })
            }),
        };
        match (spec.build)(&fields, geometry) {
            Ok(v) => push_unique(&mut out, &mut seen, spec, base, v),
            Err((field, message)) => {
                let field = if field == "geometry" {
                    field
                } else {
                    format!("properties.{field}")
                };
                out.errors.push(RowError {
                    field: Some(field),
                    message,
                    ..base
                })
            }
        }
    }
    Ok(out)
}

/// Reads either format, detected from the name and content.
pub(crate) fn read<T>(
    name: &str,
    bytes: &[u8],
    spec: &Spec<'_, T>,
) -> Result<Import<T>, RegistryError> {
    match detect(name, bytes) {
        Format::Csv => read_csv(name, bytes, spec),
        Format::GeoJson => read_geojson(name, bytes, spec),
    }
}

/// Writes a header and rows as CSV (RFC 4180 quoting).
pub(crate) fn write_csv(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    // Writing into a Vec cannot fail for I/O reasons; a record error is
    // impossible because every row has the header's length.
    let _ = w.write_record(header);
    for r in rows {
        let _ = w.write_record(&r);
    }
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A geometry as a GeoJSON value (`null` for none).
pub(crate) fn geometry_json(g: Option<&Geometry>) -> serde_json::Value {
    match g {
        None => serde_json::Value::Null,
        Some(Geometry::Point(p)) => {
            serde_json::json!({"type": "Point", "coordinates": [p.lon(), p.lat()]})
        }
        Some(Geometry::Polygon(poly)) => serde_json::json!({
            "type": "Polygon",
            "coordinates": [ring_json(poly)]
        }),
    }
}

/// A polygon's ring as `[[lon, lat], …]`.
pub(crate) fn ring_json(poly: &Polygon) -> serde_json::Value {
    serde_json::Value::Array(
        poly.ring()
            .iter()
            .map(|p| serde_json::json!([p.lon(), p.lat()]))
            .collect(),
    )
}

/// Features into a FeatureCollection document.
pub(crate) fn feature_collection(
    features: impl Iterator<Item = (Option<Geometry>, serde_json::Value)>,
) -> String {
    let features: Vec<serde_json::Value> = features
        .map(|(g, props)| {
            serde_json::json!({"type": "Feature", "geometry": geometry_json(g.as_ref()), "properties": props})
        })
        .collect();
    serde_json::json!({"type": "FeatureCollection", "features": features}).to_string()
}

/// A float as CSV text that reads back bit-exact (shortest round-trip form).
pub(crate) fn f(v: f64) -> String {
    format!("{v:?}")
}
