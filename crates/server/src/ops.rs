//! Operations: liveness and readiness probes, Prometheus metrics, and the
//! middleware every request passes (rate limit, metrics, security headers,
//! JSON bodies for the router's own 404 and 405).

use crate::auth;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use axum::Json;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Instant;
use utoipa::ToSchema;

/// The process-wide Prometheus recorder (installed on first use).
fn prometheus() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| match PrometheusBuilder::new().install_recorder() {
            Ok(h) => Some(h),
            Err(e) => {
                tracing::warn!(error = %e, "metrics recorder not installed; /metrics will be empty");
                None
            }
        })
        .as_ref()
}

/// Installs the recorder now (so the first request is counted too).
pub fn init_metrics() {
    let _ = prometheus();
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: String,
    pub uptime_s: u64,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, body = Health)))]
pub async fn healthz(State(state): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        uptime_s: state.started.elapsed().as_secs(),
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    pub ready: bool,
    pub backend: String,
    pub schema_version: i64,
    pub sites: usize,
}

/// Readiness: the store answers and the registry is loaded.
#[utoipa::path(get, path = "/readyz", tag = "ops",
    responses((status = 200, body = Ready), (status = 503, body = ErrorBody)))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Ready>, ApiError> {
    let r = state
        .pool
        .run(|s| Ok((s.backend(), s.schema_version()?)))
        .await;
    match r {
        Ok((backend, schema_version)) => Ok(Json(Ready {
            ready: true,
            backend: backend.into(),
            schema_version,
            sites: state.registry().sites.len(),
        })),
        Err(e) => {
            tracing::warn!(error = %crate::error::chain(&e), "not ready");
            Err(ApiError::Unavailable("the store does not answer".into()))
        }
    }
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn metrics_text() -> Response {
    let body = prometheus()
        .map(PrometheusHandle::render)
        .unwrap_or_default();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        body,
    )
        .into_response()
}

/// A request path fit for logs: the token segment of check-in links masked.
pub fn redacted_path(path: &str) -> String {
    match path.find("/checkin/") {
        Some(i) => format!("{}/checkin/<token>", &path[..i]),
        None => path.to_string(),
    }
}

/// JSON 404 for paths no route matches.
pub async fn not_found(req: Request) -> ApiError {
    ApiError::not_found(
        "/path",
        format!(
            "no route {} {}: see /openapi.json for the API",
            req.method(),
            req.uri().path()
        ),
    )
}

const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
                   connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// Rate limit, metrics and headers around every request.
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let exempt = matches!(path.as_str(), "/healthz" | "/readyz" | "/metrics");
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let method = req.method().clone();
    if !exempt {
        let key = match crate::access::presented_secret(req.headers()) {
            Ok(Some((secret, _))) => format!("t:{}", &auth::token_hash(&secret)[..16]),
            _ => req
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map_or_else(|| "local".to_string(), |c| format!("ip:{}", c.0.ip())),
        };
        if let Err(retry_after_s) = state.limiter.check(&key) {
            metrics::counter!("farguard_http_rate_limited_total").increment(1);
            return ApiError::RateLimited { retry_after_s }.into_response();
        }
    }
    let start = Instant::now();
    let mut resp = next.run(req).await;
    let status = resp.status();
    // The router's own 405 has an empty body: give it the API's shape.
    if status == StatusCode::METHOD_NOT_ALLOWED {
        let allow = resp.headers().get(header::ALLOW).cloned();
        resp = (
            StatusCode::METHOD_NOT_ALLOWED,
            Json(ErrorBody {
                error: "method_not_allowed".into(),
                message: format!("{method} is not allowed on {path}"),
                pointer: Some("/method".into()),
            }),
        )
            .into_response();
        if let Some(a) = allow {
            resp.headers_mut().insert(header::ALLOW, a);
        }
    }
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    if path.starts_with("/api/") {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    let secs = start.elapsed().as_secs_f64();
    let m = method_label(&method);
    metrics::counter!("farguard_http_requests_total", "method" => m, "route" => route.clone(), "status" => status.as_u16().to_string()).increment(1);
    metrics::histogram!("farguard_http_request_duration_seconds", "method" => m, "route" => route)
        .record(secs);
    resp
}

fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

#[cfg(test)]
mod tests {
    use super::redacted_path;

    #[test]
    fn check_in_tokens_never_reach_the_logs() {
        assert_eq!(redacted_path("/checkin/abc123"), "/checkin/<token>");
        assert_eq!(
            redacted_path("/api/v1/checkin/abc123"),
            "/api/v1/checkin/<token>"
        );
        assert_eq!(redacted_path("/api/v1/sites/S-1"), "/api/v1/sites/S-1");
    }
}
