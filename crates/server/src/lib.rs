//! farguard's HTTP face: the JSON API (with its OpenAPI 3.1 document built
//! from the code), access control, the audit trail and the web UI.
//!
//! Design note. The server is an edge, like the CLI: it may use the store
//! and the stage crates (expose for exposure, grade for radii, registry for
//! imports); no stage crate depends on it, and only this crate knows HTTP.
//! It is testable by construction: [`router`] builds the whole app for
//! socket-free tests, [`run`] serves it on a listener the caller bound (port
//! 0 in tests) until `shutdown` resolves, finishing in-flight requests.
//!
//! Every request passes one middleware (rate limit per client, metrics,
//! security headers). Protected routes take a [`auth::Principal`] (bearer
//! token or session cookie, looked up by SHA-256) and ask two questions: may
//! this role use the route ([`auth::allows`]), and may this caller see each
//! record ([`auth::Principal::may_see`], by TLP marking × organisation ×
//! country × own record). Every write goes through [`access::audited`] (or
//! a writer job that appends its own entry) and lands in the hash-chained
//! audit log with the record before and after, in the same transaction.
//!
//! The store is synchronous. Reads run on blocking threads over a small
//! pool of connections, each call in a read-only snapshot (readers never
//! wait for the write lock). Writes run on one thread, [`writer`], which
//! groups the jobs waiting into one transaction (group commit) and answers
//! each only after the commit. The registry, the levels and the open
//! incidents are held in memory; [`AppState::watch`] polls the store's
//! change stamps and reloads what someone else changed, and every answer
//! built from them is cached per caller scope until the data change.
//!
//! Adding a route: write the handler with `#[utoipa::path]`, add one
//! `.routes(routes!(…))` line in [`router`], one row per role in the matrix
//! test (`tests/server/matrix.rs`).

pub mod access;
pub mod alerts;
pub mod api;
pub mod auth;
pub mod checkin;
pub mod error;
pub mod extract;
pub mod incidents;
pub mod limits;
pub mod ops;
pub mod plans;
pub mod registers;
pub mod state;
pub mod ui;
pub mod writer;

pub use error::{ApiError, ErrorBody};
pub use state::{AppState, Config};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// A failure to start serving.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Store(#[from] farguard_store::StoreError),
    #[error("the shipped guideline does not load: {0}")]
    Guideline(#[from] farguard_grade::GuidelineError),
    #[error("cannot serve: {0}")]
    Io(#[from] std::io::Error),
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "farguard",
        description = "Protect interests abroad: risk levels with their reasons, exposure of registered sites and people, registers, access control and audit. Authenticate with `Authorization: Bearer <token>` (from `farguard user add`) or a session cookie from POST /api/v1/login. Errors are `{error, message, pointer}` with a JSON pointer to the field at fault."
    ),
    modifiers(&BearerScheme),
    tags(
        (name = "risk", description = "events, levels and their explanations, the map, exposure"),
        (name = "registers", description = "organisations, sites, people"),
        (name = "access", description = "accounts, tokens, sessions, the audit log"),
        (name = "incidents", description = "the incident board: task force, tasks, timeline, accountability; response plans; alerts and their CAP documents"),
        (name = "checkin", description = "are-you-safe answers from the alert link (no login)"),
        (name = "ops", description = "probes and metrics")
    )
)]
struct ApiDoc;

struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The API routes and their OpenAPI document.
fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::readyz))
        .routes(routes!(ops::metrics_text))
        .routes(routes!(access::me))
        .routes(routes!(access::login))
        .routes(routes!(access::logout))
        .routes(routes!(access::list_users, access::create_user))
        .routes(routes!(access::create_token))
        .routes(routes!(access::list_audit))
        .routes(routes!(access::verify_audit))
        .routes(routes!(api::list_events))
        .routes(routes!(api::get_event))
        .routes(routes!(api::list_assessments))
        .routes(routes!(api::get_assessment))
        .routes(routes!(api::map))
        .routes(routes!(api::exposure))
        .routes(routes!(api::quarantine))
        .routes(routes!(registers::list_orgs))
        .routes(routes!(registers::list_sites))
        .routes(routes!(registers::get_site, registers::put_site))
        .routes(routes!(registers::import_sites))
        .routes(routes!(registers::list_people))
        .routes(routes!(registers::get_person))
        .routes(routes!(incidents::list_incidents))
        .routes(routes!(incidents::get_incident))
        .routes(routes!(plans::list_plans))
        .routes(routes!(plans::get_plan))
        .routes(routes!(alerts::list_alerts))
        .routes(routes!(alerts::get_alert))
        .routes(routes!(alerts::get_alert_cap))
        .routes(routes!(checkin::get_checkin, checkin::answer_checkin))
        .split_for_parts()
}

/// The OpenAPI 3.1 document of the API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().1
}

/// The whole application on `state`, without a socket.
pub fn router(state: AppState) -> Router {
    let (api, doc) = api();
    let doc = Arc::new(doc.to_pretty_json().unwrap_or_default());
    ops::init_metrics();
    Router::new()
        .merge(api)
        .route(
            "/openapi.json",
            get(move || {
                let doc = Arc::clone(&doc);
                async move {
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        doc.as_str().to_owned(),
                    )
                }
            }),
        )
        .route("/", get(ui::index))
        .route("/checkin/{token}", get(ui::checkin_page))
        .route("/ui/{*path}", get(ui::file))
        .route("/geo/countries-110m.json", get(ui::countries_110m))
        .route("/geo/countries-50m.json", get(ui::countries_50m))
        .fallback(ops::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            ops::track,
        ))
        .layer(DefaultBodyLimit::max(state.config.max_body))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                tracing::error!("a request handler panicked");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    axum::Json(ErrorBody {
                        error: "internal".into(),
                        message: "internal error: it has been logged".into(),
                        pointer: None,
                    }),
                )
                    .into_response()
            },
        ))
        .layer(
            tower_http::trace::TraceLayer::new_for_http().make_span_with(
                |req: &axum::http::Request<axum::body::Body>| {
                    // The path only (no query), with check-in tokens masked:
                    // secrets never reach the logs.
                    tracing::debug_span!(
                        "request",
                        method = %req.method(),
                        path = %ops::redacted_path(req.uri().path())
                    )
                },
            ),
        )
        .with_state(state)
}

/// Serves the app on `listener` until `shutdown` resolves, then lets
/// in-flight requests finish.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let addr = listener.local_addr()?;
    if let Ok(mut a) = state.addr.lock() {
        *a = Some(addr);
    }
    tracing::info!(%addr, "serving");
    let watcher = state.watch();
    let served = axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    watcher.abort();
    served?;
    tracing::info!("stopped");
    Ok(())
}
