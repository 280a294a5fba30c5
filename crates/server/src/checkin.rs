//! Check-in ("are you safe?"): the page a recipient opens from the link in
//! an alert, and the API behind it. No login: the unguessable token in the
//! link is the credential (stored only as SHA-256 by the notify stage), and
//! it lets its holder answer for that one person in that one scope. The
//! answer is decided by `farguard_notify::checkin::decide` — the same rules
//! as SMS replies — stored, and audited.

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use farguard_model::{CheckinState, CheckinStatus, CheckinToken};
use farguard_notify::checkin::{Answer, CheckinError, Credential, Decision, decide};
use farguard_store::AuditRecord;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What the check-in page shows.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckinOut {
    /// `incident:ID` or `event:SOURCE:ID`.
    pub scope: String,
    /// The incident's title when the scope is an incident.
    pub title: Option<String>,
    /// The person asked.
    pub name: String,
    /// safe, need_help or no_answer.
    pub answer: String,
    pub answered_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
}

/// An answer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckinAnswer {
    /// `safe` or `need_help`.
    pub status: String,
    /// Optional words (under 1000 characters).
    pub note: Option<String>,
    /// Optional `[lat, lon]` where the person is.
    pub location: Option<[f64; 2]>,
}

fn check_token(token: &str) -> ApiResult<()> {
    if token.is_empty()
        || token.len() > 128
        || !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(ApiError::field(
            "/path/token",
            "a check-in token is the letters and digits from your link",
        ));
    }
    Ok(())
}

fn forged() -> ApiError {
    ApiError::not_found("/path/token", CheckinError::Forged.to_string())
}

type Found = (CheckinToken, CheckinState, Option<String>);

/// The incident's title for an `incident:ID` scope, cached for the data
/// generation (an incident changed anywhere moves it).
async fn title_of(state: &AppState, scope: &str) -> ApiResult<Option<String>> {
    let Some(id) = scope.strip_prefix("incident:") else {
        return Ok(None);
    };
    let id = id.to_string();
    state
        .cache
        .titles
        .slot(&id)
        .get(state.generation(), || async {
            let open = crate::api::open_incidents(state).await?;
            if let Some(i) = open.iter().find(|i| i.id == id) {
                return Ok(Some(i.title.clone()));
            }
            let id = id.clone();
            Ok(state
                .pool
                .run(move |s| s.incident(&id))
                .await?
                .map(|i| i.title))
        })
        .await
}

async fn find(state: &AppState, token: &str) -> ApiResult<Found> {
    let token = token.to_string();
    let found = state
        .pool
        .run(move |s| {
            let Some(t) = lookup(s, &token)? else {
                return Ok(None);
            };
            let Some(st) = s.checkin_state(&t.scope, &t.recipient)? else {
                return Ok(None);
            };
            Ok(Some((t, st)))
        })
        .await?;
    let (t, st) = found.ok_or_else(forged)?;
    let title = title_of(state, &t.scope).await?;
    Ok((t, st, title))
}

/// The credential behind a link token: derived for an outbox row (checked
/// by recomputation with its alert's secret) or stored by hash (older links).
fn lookup<S: farguard_store::NotifyStore + ?Sized>(
    s: &mut S,
    token: &str,
) -> farguard_store::Result<Option<CheckinToken>> {
    farguard_notify::checkin::resolve(
        s,
        Credential::Link(token),
        |s, row| s.checkin_issuer(row),
        |s, h| s.checkin_token(h),
    )
}

fn out(t: &CheckinToken, s: &CheckinState, title: Option<String>) -> CheckinOut {
    CheckinOut {
        scope: t.scope.clone(),
        title,
        name: s.name.clone(),
        answer: s.status.to_string(),
        answered_at: s.answered_at,
        expires_at: t.expires_at,
    }
}

/// The check-in request behind a link.
#[utoipa::path(get, path = "/api/v1/checkin/{token}", tag = "checkin",
    params(("token" = String, Path, description = "the token from the link")),
    responses((status = 200, body = CheckinOut), (status = 400, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)))]
pub async fn get_checkin(
    State(state): State<AppState>,
    ApiPath(token): ApiPath<String>,
) -> ApiResult<Json<CheckinOut>> {
    check_token(&token)?;
    let (t, s, title) = find(&state, &token).await?;
    Ok(Json(out(&t, &s, title)))
}

/// Answers a check-in request: safe, or need help.
#[utoipa::path(post, path = "/api/v1/checkin/{token}", tag = "checkin", request_body = CheckinAnswer,
    params(("token" = String, Path, description = "the token from the link")),
    responses((status = 200, body = CheckinOut), (status = 400, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody),
        (status = 410, body = crate::error::ErrorBody)))]
pub async fn answer_checkin(
    State(state): State<AppState>,
    ApiPath(token): ApiPath<String>,
    ApiJson(a): ApiJson<CheckinAnswer>,
) -> ApiResult<Json<CheckinOut>> {
    check_token(&token)?;
    let status = match a.status.as_str() {
        "safe" => CheckinStatus::Safe,
        "need_help" => CheckinStatus::NeedHelp,
        _ => return Err(ApiError::field("/status", "status is safe or need_help")),
    };
    // The credential does not change once issued: resolve it on a reading
    // connection, so a forged link never reaches the writer.
    let t = state
        .pool
        .run(move |s| lookup(s, &token))
        .await?
        .ok_or_else(forged)?;
    let now = Utc::now();
    let answer = Answer {
        status,
        message: a.note.clone(),
        location: a.location.map(|[lat, lon]| (lat, lon)),
        at: now,
    };
    // Read the state, decide and record in the writer's transaction: two
    // answers for the same person are decided one after the other, never on
    // the same stale state, and the answer and its audit entry commit
    // together.
    let (t, st) = state
        .writer
        .run(move |s| {
            let current = s
                .checkin_state(&t.scope, &t.recipient)?
                .ok_or_else(forged)?;
            let next = match decide(Some(&t), &current, &answer, now) {
                Ok(Decision::Unchanged(st)) => return Ok((t, st)),
                Ok(Decision::Record(next)) => next,
                Err(e) => return Err(refusal(e)),
            };
            s.record_checkin(&next)?;
            s.append_audit(&AuditRecord {
                at: now,
                actor: format!("checkin:{}", t.recipient),
                action: "checkin.answer".into(),
                target: format!("{}/{}", t.scope, t.recipient),
                before: Some(
                    serde_json::json!({"status": current.status.to_string(), "answered_at": current.answered_at})
                        .to_string(),
                ),
                after: Some(
                    serde_json::json!({"status": next.status.to_string(), "message": next.message, "answered_at": next.answered_at})
                        .to_string(),
                ),
            })?;
            Ok((t, next))
        })
        .await?;
    let title = title_of(&state, &t.scope).await?;
    Ok(Json(out(&t, &st, title)))
}

/// A refused answer as the API says it.
fn refusal(e: CheckinError) -> ApiError {
    let msg = e.to_string();
    match e {
        CheckinError::Forged => forged(),
        CheckinError::Expired(_) => ApiError::Invalid {
            status: StatusCode::GONE,
            code: "expired",
            pointer: Some("/path/token".into()),
            message: msg,
        },
        CheckinError::Replayed { .. } => ApiError::Conflict {
            pointer: Some("/status".into()),
            message: msg,
        },
        CheckinError::NoStatus => ApiError::field("/status", msg),
        CheckinError::BadLocation(..) => ApiError::field("/location", msg),
        CheckinError::TooLong(_) => ApiError::field("/note", msg),
    }
}
