//! Alerts over HTTP: the alerts issued for an incident (or an event), one
//! alert with its delivery counts, and its CAP 1.2 document exactly as
//! issued (`application/cap+xml`). An alert is seen by whoever may see its
//! incident; an alert for an event outside any incident by the coordination
//! centre and the government roles answering for the event's country.
//! Recipients' addresses never appear here: the incident board shows who
//! is accounted for.

use crate::auth::{Action, Marking, Principal, Role};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, ApiQuery};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use farguard_model::{AlertRecord, EventId, Incident};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::{IntoParams, ToSchema};

/// An alert as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertOut {
    pub id: String,
    /// `incident:ID` or `event:SOURCE:ID`: where its check-ins are counted.
    pub scope: String,
    pub incident: Option<String>,
    pub event: Option<String>,
    pub sent: DateTime<Utc>,
    /// CAP status: actual, exercise, test…
    pub status: String,
    /// CAP msgType: alert, update, cancel.
    pub msg_type: String,
    pub level: String,
    pub category: String,
    pub headline: String,
    pub recipients: u64,
    /// Why these recipients, in words.
    pub reason: String,
    /// Where the CAP 1.2 document is.
    pub cap: String,
    pub marking: Marking,
}

fn alert_out(a: &AlertRecord) -> AlertOut {
    AlertOut {
        id: a.id.clone(),
        scope: a.scope.clone(),
        incident: a.incident.clone(),
        event: a.event.clone(),
        sent: a.sent,
        status: a.status.to_string(),
        msg_type: a.msg_type.to_string(),
        level: a.level.code().into(),
        category: a.category.clone(),
        headline: a.headline.clone(),
        recipients: a.recipients,
        reason: a.reason.clone(),
        cap: format!("/api/v1/alerts/{}/cap", a.id),
        marking: Marking::Amber,
    }
}

/// What decides who may see the alerts at hand: their incidents, and the
/// countries of the events behind alerts outside an incident.
#[derive(Default)]
struct Context {
    incidents: HashMap<String, Option<Incident>>,
    event_country: HashMap<String, Option<farguard_model::CountryCode>>,
}

async fn context(state: &AppState, alerts: &[AlertRecord]) -> ApiResult<Context> {
    let open = crate::api::open_incidents(state).await?;
    let mut need_inc: Vec<String> = Vec::new();
    let mut ctx = Context::default();
    for a in alerts {
        match (&a.incident, &a.event) {
            (Some(i), _) => {
                if ctx.incidents.contains_key(i) || need_inc.contains(i) {
                    continue;
                }
                match open.iter().find(|x| &x.id == i) {
                    Some(x) => {
                        ctx.incidents.insert(i.clone(), Some(x.clone()));
                    }
                    None => need_inc.push(i.clone()),
                }
            }
            (None, Some(e)) => {
                ctx.event_country.entry(e.clone()).or_insert(None);
            }
            (None, None) => {}
        }
    }
    let events: Vec<String> = ctx.event_country.keys().cloned().collect();
    if need_inc.is_empty() && events.is_empty() {
        return Ok(ctx);
    }
    let (incs, countries) = state
        .pool
        .run(move |s| {
            let mut incs = Vec::new();
            for i in need_inc {
                let x = s.incident(&i)?;
                incs.push((i, x));
            }
            let mut countries = Vec::new();
            for e in events {
                let c = match EventId::parse(&e) {
                    Some(id) => s.event(&id)?.and_then(|ev| {
                        ev.country
                            .or_else(|| ev.location.as_ref().and_then(|l| l.country))
                    }),
                    None => None,
                };
                countries.push((e, c));
            }
            Ok((incs, countries))
        })
        .await?;
    ctx.incidents.extend(incs);
    ctx.event_country.extend(countries);
    Ok(ctx)
}

fn visible(p: &Principal, a: &AlertRecord, ctx: &Context) -> bool {
    if p.role == Role::Coordinator {
        return true;
    }
    match (&a.incident, &a.event) {
        (Some(i), _) => ctx
            .incidents
            .get(i)
            .and_then(Option::as_ref)
            .is_some_and(|inc| crate::incidents::visible(p, inc)),
        (None, Some(e)) => {
            matches!(p.role, Role::Embassy | Role::ProvincialOffice)
                && p.country.is_some()
                && ctx.event_country.get(e).copied().flatten() == p.country
        }
        (None, None) => false,
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AlertsQuery {
    /// Only this incident's alerts.
    incident: Option<String>,
}

/// Alerts the caller may see, oldest first; one incident's with `incident`.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "incidents", params(AlertsQuery),
    responses((status = 200, body = Vec<AlertOut>), (status = 400, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_alerts(
    State(state): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<AlertsQuery>,
) -> ApiResult<Json<Vec<AlertOut>>> {
    p.require(Action::ReadAlerts)?;
    if let Some(i) = &q.incident
        && (i.is_empty() || i.len() > 200 || i.chars().any(char::is_control))
    {
        return Err(ApiError::field(
            "/query/incident",
            "an incident id: 1–200 characters, no control characters",
        ));
    }
    let rows = state
        .pool
        .run(move |s| s.alerts(q.incident.as_deref()))
        .await?;
    let ctx = context(&state, &rows).await?;
    Ok(Json(
        rows.iter()
            .filter(|a| visible(&p, a, &ctx))
            .map(alert_out)
            .collect(),
    ))
}

/// Outbox messages of an alert by channel and state.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryCount {
    /// webhook, email, sms, file.
    pub channel: String,
    /// pending, sending, sent, dead.
    pub state: String,
    pub count: u64,
}

/// One alert with how far its messages got.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertDetail {
    #[serde(flatten)]
    pub alert: AlertOut,
    pub deliveries: Vec<DeliveryCount>,
}

async fn load_visible(state: &AppState, p: &Principal, id: String) -> ApiResult<AlertRecord> {
    let not_found = || {
        ApiError::not_found(
            "/path/id",
            format!("no alert {id:?} that you may see; GET /api/v1/alerts lists them"),
        )
    };
    if id.is_empty() || id.len() > 300 || id.chars().any(char::is_control) {
        return Err(not_found());
    }
    let id2 = id.clone();
    let a = state
        .pool
        .run(move |s| s.alert(&id2))
        .await?
        .ok_or_else(not_found)?;
    let ctx = context(state, std::slice::from_ref(&a)).await?;
    if visible(p, &a, &ctx) {
        Ok(a)
    } else {
        Err(not_found())
    }
}

/// One alert and its delivery counts (404 when absent or not visible).
#[utoipa::path(get, path = "/api/v1/alerts/{id}", tag = "incidents",
    params(("id" = String, Path, description = "the alert's id")),
    responses((status = 200, body = AlertDetail), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_alert(
    State(state): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<AlertDetail>> {
    p.require(Action::ReadAlerts)?;
    let a = load_visible(&state, &p, id).await?;
    let aid = a.id.clone();
    let counts = state.pool.run(move |s| s.outbox_counts(Some(&aid))).await?;
    Ok(Json(AlertDetail {
        alert: alert_out(&a),
        deliveries: counts
            .into_iter()
            .map(|c| DeliveryCount {
                channel: c.channel.to_string(),
                state: c.state.to_string(),
                count: c.count,
            })
            .collect(),
    }))
}

/// The alert's CAP 1.2 document exactly as issued.
#[utoipa::path(get, path = "/api/v1/alerts/{id}/cap", tag = "incidents",
    params(("id" = String, Path, description = "the alert's id")),
    responses((status = 200, content_type = "application/cap+xml", body = String,
            description = "the CAP 1.2 XML document"),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_alert_cap(
    State(state): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    p.require(Action::ReadAlerts)?;
    let a = load_visible(&state, &p, id).await?;
    Ok((
        [(header::CONTENT_TYPE, "application/cap+xml; charset=utf-8")],
        a.cap_xml,
    )
        .into_response())
}
