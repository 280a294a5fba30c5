//! Request extractors whose failures name the field: JSON bodies, query
//! strings and path segments decode through `serde_path_to_error`, so a
//! wrong type three levels deep answers `400 {"pointer": "/sites/0/lat"}`.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// A JSON body (`Content-Type: application/json`), decoded strictly.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

/// A query string decoded strictly (unknown parameters are refused by the
/// `deny_unknown_fields` on each query type).
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

/// One path segment as text (percent-decoded by axum).
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

/// `serde_path_to_error`'s path as a JSON pointer under `prefix`.
fn pointer(prefix: &str, path: &serde_path_to_error::Path) -> String {
    let mut p = prefix.to_string();
    for seg in path.iter() {
        use serde_path_to_error::Segment;
        let s = match seg {
            Segment::Seq { index } => index.to_string(),
            Segment::Map { key } => key.replace('~', "~0").replace('/', "~1"),
            Segment::Enum { variant } => variant.clone(),
            Segment::Unknown => continue,
        };
        p.push('/');
        p.push_str(&s);
    }
    p
}

/// Splits serde's "unknown field `x`, expected one of …" so the pointer names `x`.
fn unknown_field(msg: &str) -> Option<&str> {
    let rest = msg.strip_prefix("unknown field `")?;
    rest.split('`').next()
}

fn decode_error(prefix: &str, path: &serde_path_to_error::Path, msg: String) -> ApiError {
    let mut ptr = pointer(prefix, path);
    let code = if let Some(f) = unknown_field(&msg) {
        if !ptr.ends_with(&format!("/{f}")) {
            ptr.push('/');
            ptr.push_str(f);
        }
        "unknown_field"
    } else if let Some(f) = msg
        .strip_prefix("missing field `")
        .and_then(|r| r.split('`').next())
    {
        ptr.push('/');
        ptr.push_str(f);
        "missing_field"
    } else {
        "invalid_field"
    };
    ApiError::Invalid {
        status: axum::http::StatusCode::BAD_REQUEST,
        code,
        pointer: Some(ptr.clone()),
        message: format!("{}: {msg}", if ptr.is_empty() { "/" } else { &ptr }),
    }
}

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let essence = ct.split(';').next().unwrap_or("").trim();
        if !(essence.eq_ignore_ascii_case("application/json")
            || essence.to_ascii_lowercase().ends_with("+json"))
        {
            return Err(ApiError::UnsupportedMediaType(format!(
                "expected Content-Type: application/json, got {:?}",
                if ct.is_empty() { "nothing" } else { ct }
            )));
        }
        let bytes = body_bytes(req, state).await?;
        decode_json(&bytes).map(ApiJson)
    }
}

/// Reads the body within the configured limit.
pub async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    match Bytes::from_request(req, state).await {
        Ok(b) => Ok(b),
        Err(e) => {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                Err(ApiError::TooLarge {
                    limit: crate::limits::body_limit(),
                })
            } else {
                Err(ApiError::Invalid {
                    status: axum::http::StatusCode::BAD_REQUEST,
                    code: "invalid_body",
                    pointer: Some(String::new()),
                    message: format!("cannot read the request body: {e}"),
                })
            }
        }
    }
}

/// Decodes JSON bytes, naming the field on failure.
pub fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(v) => {
            // Trailing garbage after the value is malformed JSON too.
            if let Err(e) = de.end() {
                return Err(ApiError::Invalid {
                    status: axum::http::StatusCode::BAD_REQUEST,
                    code: "invalid_json",
                    pointer: Some(String::new()),
                    message: format!(
                        "malformed JSON after the value at line {} column {}: {e}",
                        e.line(),
                        e.column()
                    ),
                });
            }
            Ok(v)
        }
        Err(e) => {
            let path = e.path().clone();
            let inner = e.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                Err(ApiError::Invalid {
                    status: axum::http::StatusCode::BAD_REQUEST,
                    code: "invalid_json",
                    pointer: Some(pointer("", &path)),
                    message: format!(
                        "malformed JSON at line {} column {}: {inner}",
                        inner.line(),
                        inner.column()
                    ),
                })
            } else {
                // Strip serde_json's " at line x column y": the pointer says where.
                let msg = inner.to_string();
                let msg = msg
                    .rsplit_once(" at line ")
                    .map_or(msg.as_str(), |(m, _)| m)
                    .to_string();
                Err(decode_error("", &path, msg))
            }
        }
    }
}

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(q.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|e| {
                let path = e.path().clone();
                decode_error("/query", &path, e.into_inner().to_string())
            })
    }
}

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(ApiPath(v)),
            Err(e) => Err(ApiError::Invalid {
                status: axum::http::StatusCode::BAD_REQUEST,
                code: "invalid_path",
                pointer: Some("/path".into()),
                message: format!("bad path segment: {}", e.body_text()),
            }),
        }
    }
}
