//! Authentication routes and the audit trail: who am I, log in and out,
//! users and API tokens, and reading and verifying the audit log. Also the
//! `Principal` extractor every protected route takes, and [`audited`], the
//! one way a write reaches the store.

use crate::auth::{self, Action, Principal, Role, Secret};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery};
use crate::state::AppState;
use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use farguard_model::CountryCode;
use farguard_store::{AuditRecord, Store, StoreError, TokenRow, UserRow};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The UI session cookie.
pub const SESSION_COOKIE: &str = "fg_session";

fn bearer(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let v = v.to_str().map_err(|_| {
        ApiError::Unauthenticated("the Authorization header is not visible ASCII".into())
    })?;
    let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::Unauthenticated(
            "use Authorization: Bearer <token> (the token `farguard user add` printed)".into(),
        ));
    }
    Ok(Some(rest.trim().to_string()))
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The presented secret: a bearer token, else the session cookie.
pub fn presented_secret(headers: &HeaderMap) -> Result<Option<(String, &'static str)>, ApiError> {
    if let Some(t) = bearer(headers)? {
        return Ok(Some((t, "api")));
    }
    Ok(cookie(headers, SESSION_COOKIE).map(|c| (c, "session")))
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(p) = parts.extensions.get::<Principal>() {
            return Ok(p.clone());
        }
        let Some((secret, via)) = presented_secret(&parts.headers)? else {
            return Err(ApiError::Unauthenticated(
                "authentication required: send Authorization: Bearer <token>, or log in at /login"
                    .into(),
            ));
        };
        if !auth::looks_like_token(&secret) {
            return Err(ApiError::Unauthenticated(format!(
                "the {} is not a farguard token (fg_ followed by 64 hex digits)",
                if via == "api" {
                    "bearer token"
                } else {
                    "session cookie"
                }
            )));
        }
        let hash = auth::token_hash(&secret);
        if let Some(p) = state.auth_cache.lock().ok().and_then(|g| {
            g.get(&hash)
                .filter(|(at, _)| at.elapsed() < AUTH_CACHE_TTL)
                .map(|(_, p)| p.clone())
        }) {
            parts.extensions.insert(p.clone());
            return Ok(p);
        }
        let key = hash.clone();
        let found = state.pool.run(move |s| s.token(&hash)).await?;
        let Some((tok, user)) = found else {
            return Err(ApiError::Unauthenticated(
                "unknown or revoked token: ask a coordinator for a new one".into(),
            ));
        };
        if tok.expires_at.is_some_and(|e| e <= Utc::now()) {
            return Err(ApiError::Unauthenticated(
                "the token has expired: log in again or create a new token".into(),
            ));
        }
        if user.disabled {
            return Err(ApiError::Unauthenticated("the account is disabled".into()));
        }
        let p = Principal::from_user(&user)?;
        // A token expiring within the cache time is not cached.
        if tok
            .expires_at
            .is_none_or(|e| e > Utc::now() + Duration::seconds(AUTH_CACHE_TTL.as_secs() as i64))
            && let Ok(mut g) = state.auth_cache.lock()
        {
            if g.len() > 10_000 {
                g.retain(|_, (at, _)| at.elapsed() < AUTH_CACHE_TTL);
            }
            g.insert(key, (std::time::Instant::now(), p.clone()));
        }
        parts.extensions.insert(p.clone());
        Ok(p)
    }
}

/// How long a verified token is trusted without asking the store again: a
/// revoked or disabled account stops working within this time (logout at once).
const AUTH_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(2);

/// Runs a write and its audit entry as one job of the writer: one
/// savepoint inside the batch's transaction, so both commit together or
/// neither does, and the answer comes only after the commit. `write`
/// returns the object before and after (JSON) and the value to answer
/// with; nothing is audited when nothing changed.
pub async fn audited<T, F>(
    state: &AppState,
    actor: String,
    action: &'static str,
    target: String,
    write: F,
) -> ApiResult<T>
where
    T: Send + 'static,
    F: FnOnce(&mut dyn Store) -> Result<Audited<T>, StoreError> + Send + 'static,
{
    let target2 = target.clone();
    let out = state
        .writer
        .run(move |s| {
            let w = write(s)?;
            if w.changed {
                s.append_audit(&AuditRecord {
                    at: Utc::now(),
                    actor,
                    action: action.to_string(),
                    target: target2,
                    before: w.before.map(|v| v.to_string()),
                    after: w.after.map(|v| v.to_string()),
                })?;
            }
            Ok(w.value)
        })
        .await?;
    tracing::info!(action, target = %target, "write");
    Ok(out)
}

/// What a write reports for the audit log.
#[derive(Debug)]
pub struct Audited<T> {
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    /// False when nothing changed (then nothing is logged).
    pub changed: bool,
    pub value: T,
}

// --- users ------------------------------------------------------------------

/// A user as the API shows it (never the password hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub org: Option<String>,
    pub country: Option<String>,
    pub person: Option<String>,
    pub created_at: DateTime<Utc>,
    pub disabled: bool,
}

pub fn user_out(u: &UserRow) -> ApiResult<UserOut> {
    let p = Principal::from_user(u)?;
    Ok(UserOut {
        id: u.id.clone(),
        name: u.name.clone(),
        role: p.role,
        org: u.org.clone(),
        country: u.country.clone(),
        person: u.person.clone(),
        created_at: u.created_at,
        disabled: u.disabled,
    })
}

fn user_json(u: &UserRow) -> serde_json::Value {
    serde_json::json!({
        "id": u.id, "name": u.name, "role": u.role, "org": u.org,
        "country": u.country, "person": u.person, "disabled": u.disabled,
        "has_password": u.password_hash.is_some(),
    })
}

/// A new account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// Login name: 1–64 of letters, digits and `. _ @ -`.
    pub name: String,
    /// coordinator, embassy, provincial_office, enterprise_admin,
    /// enterprise_member, service_provider, citizen, observer.
    pub role: String,
    /// Organisation id (required for enterprise and provider roles).
    pub org: Option<String>,
    /// ISO country the user answers for (required for embassy and provincial office).
    pub country: Option<String>,
    /// For a citizen: the id of their person record (required).
    pub person: Option<String>,
    /// At least 12 characters; without one the account uses tokens only.
    pub password: Option<String>,
}

/// The account and its first token, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewUserOut {
    pub user: UserOut,
    /// The API token: store it now, it is never shown again.
    pub token: String,
}

/// A validated new user (hashing done), ready for the store.
pub fn validate_new_user(u: &NewUser) -> ApiResult<(Role, Option<CountryCode>)> {
    if u.name.is_empty()
        || u.name.chars().count() > 64
        || !u
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".@_-".contains(c))
    {
        return Err(ApiError::field(
            "/name",
            "a name is 1–64 of letters, digits and . _ @ -",
        ));
    }
    let role = Role::parse(&u.role).ok_or_else(|| {
        ApiError::field(
            "/role",
            format!(
                "{:?} is not a role; expected one of: {}",
                u.role,
                Role::ALL.map(Role::code).join(", ")
            ),
        )
    })?;
    let country = u
        .country
        .as_deref()
        .map(|c| crate::api::parse_country("/country", c))
        .transpose()?;
    for (field, v) in [("/org", &u.org), ("/person", &u.person)] {
        if let Some(v) = v
            && (v.is_empty() || v.len() > 128 || v.contains('\0'))
        {
            return Err(ApiError::field(field, "1–128 characters, no NUL"));
        }
    }
    match role {
        Role::EnterpriseAdmin | Role::EnterpriseMember | Role::ServiceProvider
            if u.org.is_none() =>
        {
            return Err(ApiError::field(
                "/org",
                format!("a {role} belongs to an organisation: give org"),
            ));
        }
        Role::Embassy | Role::ProvincialOffice if country.is_none() => {
            return Err(ApiError::field(
                "/country",
                format!("a {role} answers for a country: give country"),
            ));
        }
        Role::Citizen if u.person.is_none() => {
            return Err(ApiError::field(
                "/person",
                "a citizen account is tied to their own person record: give person",
            ));
        }
        _ => {}
    }
    if let Some(pw) = &u.password
        && pw.chars().count() < 12
    {
        return Err(ApiError::field(
            "/password",
            "a password has at least 12 characters",
        ));
    }
    Ok((role, country))
}

/// Creates a user and their first API token in the store, audited as
/// `actor`. Blocking: the CLI calls it directly, the API on a blocking thread.
pub fn create_user_blocking(
    store: &mut dyn Store,
    actor: &str,
    u: &NewUser,
    password_hash: Option<String>,
) -> ApiResult<(UserRow, Secret)> {
    let (role, country) = validate_new_user(u)?;
    let secret = Secret::generate()?;
    // An id independent of the token: 64 random bits.
    let id_source = Secret::generate()?;
    let id = &id_source.expose()[3..19];
    let now = Utc::now();
    let row = UserRow {
        id: format!("u-{id}"),
        name: u.name.clone(),
        role: role.code().into(),
        org: u.org.clone(),
        country: country.map(|c| c.as_str().to_string()),
        person: u.person.clone(),
        password_hash,
        created_at: now,
        disabled: false,
    };
    if !store.create_user(&row)? {
        return Err(ApiError::Conflict {
            pointer: Some("/name".into()),
            message: format!("a user named {:?} already exists", u.name),
        });
    }
    store.append_audit(&AuditRecord {
        at: now,
        actor: actor.to_string(),
        action: "user.create".into(),
        target: format!("user:{}", row.id),
        before: None,
        after: Some(user_json(&row).to_string()),
    })?;
    store.insert_token(&TokenRow {
        hash: secret.hash(),
        user_id: row.id.clone(),
        kind: "api".into(),
        label: "first token".into(),
        created_at: now,
        expires_at: None,
    })?;
    store.append_audit(&AuditRecord {
        at: now,
        actor: actor.to_string(),
        action: "token.create".into(),
        target: format!("user:{}", row.id),
        before: None,
        after: Some(serde_json::json!({"label": "first token", "kind": "api"}).to_string()),
    })?;
    Ok((row, secret))
}

/// Creates an account and returns its first API token (shown once).
#[utoipa::path(post, path = "/api/v1/users", tag = "access", request_body = NewUser,
    responses((status = 201, body = NewUserOut), (status = 400, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_user(
    State(state): State<AppState>,
    p: Principal,
    ApiJson(u): ApiJson<NewUser>,
) -> ApiResult<(StatusCode, Json<NewUserOut>)> {
    p.require(Action::WriteUsers)?;
    let (role, _) = validate_new_user(&u)?;
    if !p.may_create_user(role, u.org.as_deref()) {
        return Err(ApiError::Forbidden(format!(
            "a {} may create only enterprise users of their own organisation",
            p.role
        )));
    }
    let hash = match u.password.clone() {
        Some(pw) => Some(
            tokio::task::spawn_blocking(move || auth::hash_password(&pw))
                .await
                .map_err(|e| ApiError::internal("hashing task", e))??,
        ),
        None => None,
    };
    let actor = p.actor();
    let (row, secret) = state
        .writer
        .run(move |s| create_user_blocking(s, &actor, &u, hash))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(NewUserOut {
            user: user_out(&row)?,
            token: secret.expose().to_string(),
        }),
    ))
}

/// Accounts the caller administers: all for a coordinator, their own
/// organisation's for an enterprise admin.
#[utoipa::path(get, path = "/api/v1/users", tag = "access",
    responses((status = 200, body = Vec<UserOut>), (status = 403, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_users(
    State(state): State<AppState>,
    p: Principal,
) -> ApiResult<Json<Vec<UserOut>>> {
    p.require(Action::ReadUsers)?;
    let rows = state.pool.run(|s| s.users()).await?;
    let mut out = Vec::new();
    for u in rows {
        if p.role == Role::Coordinator || (u.org.is_some() && u.org == p.org) {
            out.push(user_out(&u)?);
        }
    }
    Ok(Json(out))
}

/// The caller.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeOut {
    pub user_id: String,
    pub name: String,
    pub role: Role,
    pub org: Option<String>,
    pub country: Option<String>,
    pub person: Option<String>,
    /// The actions this role may take (route-level).
    pub may: Vec<String>,
}

/// Who the token or session belongs to, and what they may do.
#[utoipa::path(get, path = "/api/v1/me", tag = "access",
    responses((status = 200, body = MeOut), (status = 401, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn me(p: Principal) -> ApiResult<Json<MeOut>> {
    p.require(Action::ReadSelf)?;
    use Action::*;
    let may = [
        ReadEvents,
        ReadAssessments,
        ReadMap,
        ReadExposure,
        ReadOrgs,
        ReadSites,
        WriteSites,
        ReadPeople,
        ReadQuarantine,
        ReadUsers,
        WriteUsers,
        ReadAudit,
        ReadIncidents,
        ReadPlans,
        ReadAlerts,
        CreateToken,
    ]
    .into_iter()
    .filter(|a| auth::allows(p.role, *a))
    .map(|a| format!("{a:?}"))
    .collect();
    Ok(Json(MeOut {
        user_id: p.user_id.clone(),
        name: p.name.clone(),
        role: p.role,
        org: p.org.clone(),
        country: p.country.map(|c| c.as_str().to_string()),
        person: p.person.clone(),
        may,
    }))
}

// --- tokens and sessions ----------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// What the token is for (1–100 characters).
    pub label: String,
    /// Days until it expires (1–3650); default never.
    pub days: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NewTokenOut {
    /// Shown once: store it now.
    pub token: String,
    pub label: String,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Creates another API token for the caller.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "access", request_body = NewToken,
    responses((status = 201, body = NewTokenOut), (status = 400, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_token(
    State(state): State<AppState>,
    p: Principal,
    ApiJson(t): ApiJson<NewToken>,
) -> ApiResult<(StatusCode, Json<NewTokenOut>)> {
    p.require(Action::CreateToken)?;
    if t.label.trim().is_empty() || t.label.chars().count() > 100 || t.label.contains('\0') {
        return Err(ApiError::field("/label", "a label is 1–100 characters"));
    }
    if let Some(d) = t.days
        && !(1..=3650).contains(&d)
    {
        return Err(ApiError::field("/days", "days is 1–3650"));
    }
    let secret = Secret::generate()?;
    let now = Utc::now();
    let row = TokenRow {
        hash: secret.hash(),
        user_id: p.user_id.clone(),
        kind: "api".into(),
        label: t.label.clone(),
        created_at: now,
        expires_at: t.days.map(|d| now + Duration::days(i64::from(d))),
    };
    let expires_at = row.expires_at;
    let after = serde_json::json!({"label": row.label, "kind": "api", "expires_at": expires_at});
    audited(
        &state,
        p.actor(),
        "token.create",
        format!("user:{}", p.user_id),
        move |s| {
            s.insert_token(&row)?;
            Ok(Audited {
                before: None,
                after: Some(after),
                changed: true,
                value: (),
            })
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(NewTokenOut {
            token: secret.expose().to_string(),
            label: t.label,
            expires_at,
        }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub name: String,
    pub password: String,
}

/// A real PHC string no password is known for, verified when the name is
/// unknown so that a wrong name and a wrong password cost the same time.
fn dummy_phc() -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY
        .get_or_init(|| {
            auth::hash_password("farguard dummy password, never used").unwrap_or_default()
        })
        .clone()
}

/// Logs in with name and password; sets an HttpOnly, SameSite=Strict session cookie.
#[utoipa::path(post, path = "/api/v1/login", tag = "access", request_body = Login,
    responses((status = 200, body = MeOut), (status = 400, body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ApiJson(l): ApiJson<Login>,
) -> ApiResult<Response> {
    if l.name.is_empty() || l.name.len() > 64 {
        return Err(ApiError::field("/name", "a name is 1–64 characters"));
    }
    if l.password.len() > 1024 {
        return Err(ApiError::field("/password", "at most 1024 bytes"));
    }
    let name = l.name.clone();
    let user = state.pool.run(move |s| s.user_by_name(&name)).await?;
    let phc = user
        .as_ref()
        .and_then(|u| u.password_hash.clone())
        .unwrap_or_else(dummy_phc);
    let pw = l.password;
    let ok = tokio::task::spawn_blocking(move || auth::verify_password(&pw, &phc))
        .await
        .map_err(|e| ApiError::internal("password task", e))?;
    let user = match user {
        Some(u) if ok && !u.disabled && u.password_hash.is_some() => u,
        _ => {
            tracing::warn!(name = %l.name, "failed login");
            return Err(ApiError::Unauthenticated("wrong name or password".into()));
        }
    };
    let p = Principal::from_user(&user)?;
    let secret = Secret::generate()?;
    let now = Utc::now();
    let ttl = state.config.session_ttl;
    let row = TokenRow {
        hash: secret.hash(),
        user_id: user.id.clone(),
        kind: "session".into(),
        label: "ui session".into(),
        created_at: now,
        expires_at: Some(now + Duration::seconds(ttl.as_secs() as i64)),
    };
    audited(
        &state,
        p.actor(),
        "session.create",
        format!("user:{}", user.id),
        move |s| {
            s.insert_token(&row)?;
            Ok(Audited {
                before: None,
                after: Some(serde_json::json!({"kind": "session"})),
                changed: true,
                value: (),
            })
        },
    )
    .await?;
    let secure = if state.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        secret.expose(),
        ttl.as_secs()
    );
    let mut resp = me(p).await?.into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(|e| ApiError::internal("cookie", e))?,
    );
    Ok(resp)
}

/// Ends the UI session (or revokes the bearer token used).
#[utoipa::path(post, path = "/api/v1/logout", tag = "access",
    responses((status = 204), (status = 401, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn logout(
    State(state): State<AppState>,
    p: Principal,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let Some((secret, via)) = presented_secret(&headers)? else {
        return Err(ApiError::Unauthenticated("nothing to log out".into()));
    };
    let hash = auth::token_hash(&secret);
    if let Ok(mut g) = state.auth_cache.lock() {
        g.remove(&hash);
    }
    audited(
        &state,
        p.actor(),
        if via == "session" {
            "session.delete"
        } else {
            "token.delete"
        },
        format!("user:{}", p.user_id),
        move |s| {
            let gone = s.delete_token(&hash)?;
            Ok(Audited {
                before: Some(serde_json::json!({"kind": via})),
                after: None,
                changed: gone,
                value: (),
            })
        },
    )
    .await?;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("fg_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    Ok(resp)
}

// --- audit ------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditOut {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target: String,
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// 1–1000, default 100.
    limit: Option<u32>,
}

fn parse_json(s: Option<String>) -> Option<serde_json::Value> {
    s.map(|s| serde_json::from_str(&s).unwrap_or(serde_json::Value::String(s)))
}

/// The newest audit entries, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "access", params(AuditQuery),
    responses((status = 200, body = Vec<AuditOut>), (status = 403, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_audit(
    State(state): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<Vec<AuditOut>>> {
    p.require(Action::ReadAudit)?;
    let n = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&n) {
        return Err(ApiError::field("/query/limit", "limit is 1–1000"));
    }
    let rows = state.pool.run(move |s| s.audit_recent(n)).await?;
    Ok(Json(
        rows.into_iter()
            .map(|e| AuditOut {
                seq: e.seq,
                at: e.record.at,
                actor: e.record.actor,
                action: e.record.action,
                target: e.record.target,
                before: parse_json(e.record.before),
                after: parse_json(e.record.after),
                prev_hash: e.prev_hash,
                hash: e.hash,
            })
            .collect(),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VerdictOut {
    pub intact: bool,
    pub entries: u64,
    /// Anchor this outside the database to detect a cut-off tail later.
    pub head: String,
    pub problems: Vec<ProblemOut>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemOut {
    pub seq: i64,
    /// missing, altered, reordered or truncated.
    pub kind: String,
    pub detail: String,
}

pub fn verdict_out(v: farguard_store::AuditVerdict) -> VerdictOut {
    VerdictOut {
        intact: v.problems.is_empty(),
        entries: v.entries,
        head: v.head,
        problems: v
            .problems
            .into_iter()
            .map(|p| ProblemOut {
                seq: p.seq,
                kind: p.kind.into(),
                detail: p.detail,
            })
            .collect(),
    }
}

/// Recomputes the whole hash chain and reports every break.
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "access",
    responses((status = 200, body = VerdictOut), (status = 403, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn verify_audit(
    State(state): State<AppState>,
    p: Principal,
) -> ApiResult<Json<VerdictOut>> {
    p.require(Action::ReadAudit)?;
    let v = state
        .pool
        .run(|s| farguard_store::verify_audit(s, None))
        .await?;
    Ok(Json(verdict_out(v)))
}
