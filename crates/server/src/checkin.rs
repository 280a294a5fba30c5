//! Check-in ("are you safe?"): the page a recipient opens from the link in
//! an alert, and the API behind it. No login: the unguessable token in the
//! link is the credential, and it grants only answering that one request.
//!
//! The check-in requests themselves come from the notify stage (issue 7),
//! which has not landed: until it does, every token answers 404 and the
//! page says so. The route shape below is the contract it will fill.

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What the check-in page shows.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckinOut {
    pub incident: String,
    pub title: String,
    pub asked_at: DateTime<Utc>,
    /// safe, need_help, or null when not answered yet.
    pub answer: Option<String>,
}

/// An answer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckinAnswer {
    /// `safe` or `need_help`.
    pub status: String,
    /// Optional words (at most 1000 characters).
    pub note: Option<String>,
}

fn check_token(token: &str) -> ApiResult<()> {
    if token.is_empty() || token.len() > 128 || !token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        return Err(ApiError::field(
            "/path/token",
            "a check-in token is the letters, digits, _ and - from your link",
        ));
    }
    Ok(())
}

fn none_yet() -> ApiError {
    ApiError::not_found(
        "/path/token",
        "no check-in request with this token (check-in requests are sent with alerts)",
    )
}

/// The check-in request behind a link.
#[utoipa::path(get, path = "/api/v1/checkin/{token}", tag = "checkin",
    params(("token" = String, Path, description = "the token from the link")),
    responses((status = 200, body = CheckinOut), (status = 400, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)))]
pub async fn get_checkin(
    State(_state): State<AppState>,
    ApiPath(token): ApiPath<String>,
) -> ApiResult<Json<CheckinOut>> {
    check_token(&token)?;
    Err(none_yet())
}

/// Answers a check-in request: safe, or need help.
#[utoipa::path(post, path = "/api/v1/checkin/{token}", tag = "checkin", request_body = CheckinAnswer,
    params(("token" = String, Path, description = "the token from the link")),
    responses((status = 200, body = CheckinOut), (status = 400, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)))]
pub async fn answer_checkin(
    State(_state): State<AppState>,
    ApiPath(token): ApiPath<String>,
    ApiJson(a): ApiJson<CheckinAnswer>,
) -> ApiResult<Json<CheckinOut>> {
    check_token(&token)?;
    if !matches!(a.status.as_str(), "safe" | "need_help") {
        return Err(ApiError::field("/status", "status is safe or need_help"));
    }
    if a.note.as_ref().is_some_and(|n| n.chars().count() > 1000) {
        return Err(ApiError::field("/note", "at most 1000 characters"));
    }
    Err(none_yet())
}
