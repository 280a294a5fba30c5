//! The incident board over HTTP: incidents the caller may see, each with its
//! task force, tasks (owner, deadline, state), timeline and the check-in
//! accountability of the people concerned.
//!
//! An incident is TLP:AMBER: the coordination centre sees all; an embassy or
//! provincial office sees those in the country it answers for; any other
//! organisation sees those whose task force it is in. Citizens and
//! observers do not see the board.

use crate::auth::{Action, Principal, Role};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, ApiQuery};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use farguard_model::{Area, Incident};
use farguard_store::IncidentQuery;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub fn visible(p: &Principal, i: &Incident) -> bool {
    match p.role {
        Role::Coordinator => true,
        Role::Citizen | Role::Observer => false,
        Role::Embassy | Role::ProvincialOffice => {
            let c = match &i.area {
                Area::Country(c) | Area::Admin1(c, _) => Some(*c),
                _ => None,
            };
            (c.is_some() && c == p.country)
                || i.members
                    .iter()
                    .any(|m| Some(m.org.as_str()) == p.org.as_deref())
        }
        _ => i
            .members
            .iter()
            .any(|m| Some(m.org.as_str()) == p.org.as_deref()),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentSummary {
    pub id: String,
    pub title: String,
    pub plan: String,
    pub area: String,
    pub country: Option<String>,
    pub category: String,
    pub level: String,
    pub level_rank: u8,
    pub peak_level: String,
    /// Who commands: central, embassy / provincial, local.
    pub command: String,
    pub lead_agency: String,
    pub status: String,
    pub exercise: bool,
    pub opened_at: DateTime<Utc>,
    pub tasks_total: usize,
    pub tasks_done: usize,
    pub tasks_overdue: usize,
    pub marking: crate::auth::Marking,
}

fn summary(i: &Incident, now: DateTime<Utc>) -> IncidentSummary {
    let country = match &i.area {
        Area::Country(c) | Area::Admin1(c, _) => Some(c.as_str().to_string()),
        _ => None,
    };
    IncidentSummary {
        id: i.id.clone(),
        title: i.title.clone(),
        plan: format!("{}@{}", i.plan, i.plan_version),
        area: i.area.to_string(),
        country,
        category: i.category.code().into(),
        level: i.level.code().into(),
        level_rank: i.level.rank(),
        peak_level: i.peak_level.code().into(),
        command: i.command.to_string(),
        lead_agency: i.lead_agency.clone(),
        status: i.status.to_string(),
        exercise: i.exercise,
        opened_at: i.opened_at,
        tasks_total: i.tasks.len(),
        tasks_done: i.tasks.iter().filter(|t| t.is_done()).count(),
        tasks_overdue: i
            .tasks
            .iter()
            .filter(|t| !t.is_done() && t.due_at < now)
            .count(),
        marking: crate::auth::Marking::Amber,
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IncidentsQuery {
    /// Only incidents not closed or reviewed (default true).
    open: Option<bool>,
    /// true: drills only; false: real incidents only; default both.
    exercise: Option<bool>,
}

/// Incidents the caller may see, newest first.
#[utoipa::path(get, path = "/api/v1/incidents", tag = "incidents", params(IncidentsQuery),
    responses((status = 200, body = Vec<IncidentSummary>), (status = 403, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_incidents(
    State(state): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<IncidentsQuery>,
) -> ApiResult<Json<Vec<IncidentSummary>>> {
    p.require(Action::ReadIncidents)?;
    let rows = if q.open.unwrap_or(true) {
        crate::api::open_incidents(&state).await?
    } else {
        let query = IncidentQuery {
            open_only: false,
            exercise: None,
        };
        std::sync::Arc::new(state.pool.run(move |s| s.incidents(&query)).await?)
    };
    let now = Utc::now();
    Ok(Json(
        rows.iter()
            .filter(|i| q.exercise.is_none_or(|x| i.exercise == x))
            .filter(|i| visible(&p, i))
            .map(|i| summary(i, now))
            .collect(),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberOut {
    pub role: String,
    pub org: String,
    pub joined_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskOut {
    pub id: String,
    pub title: String,
    pub owner_role: String,
    pub org: String,
    pub due_at: DateTime<Utc>,
    pub status: String,
    pub overdue: bool,
    pub escalations: u8,
    pub acked_by: Option<String>,
    pub done_by: Option<String>,
    pub done_at: Option<DateTime<Utc>>,
    pub checklist: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineOut {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub kind: String,
    pub text: String,
}

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct AccountabilityOut {
    pub people: u64,
    pub reached: u64,
    pub safe: u64,
    pub need_help: u64,
    pub no_answer: u64,
    pub not_reached: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckinRow {
    pub recipient: String,
    pub name: String,
    /// safe, need_help or no_answer.
    pub status: String,
    pub message: Option<String>,
    pub answered_at: Option<DateTime<Utc>>,
    pub reached_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentOut {
    #[serde(flatten)]
    pub summary: IncidentSummary,
    /// Why it was opened.
    pub reason: String,
    pub members: Vec<MemberOut>,
    pub tasks: Vec<TaskOut>,
    pub timeline: Vec<TimelineOut>,
    pub accountability: AccountabilityOut,
    pub checkins: Vec<CheckinRow>,
}

/// One incident with tasks, timeline and who is accounted for.
#[utoipa::path(get, path = "/api/v1/incidents/{id}", tag = "incidents",
    params(("id" = String, Path, description = "incident id")),
    responses((status = 200, body = IncidentOut), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_incident(
    State(state): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<IncidentOut>> {
    p.require(Action::ReadIncidents)?;
    let id2 = id.clone();
    let (inc, states) = state
        .pool
        .run(move |s| {
            let inc = s.incident(&id2)?;
            let states = match &inc {
                Some(_) => s.checkin_states(&format!("incident:{id2}"))?,
                None => Vec::new(),
            };
            Ok((inc, states))
        })
        .await?;
    let inc = inc.filter(|i| visible(&p, i)).ok_or_else(|| {
        ApiError::not_found("/path/id", format!("no incident {id:?} that you may see"))
    })?;
    let now = Utc::now();
    let a = farguard_notify::checkin::accountability(&states);
    Ok(Json(IncidentOut {
        summary: summary(&inc, now),
        reason: inc.reason.clone(),
        members: inc
            .members
            .iter()
            .map(|m| MemberOut {
                role: m.role.clone(),
                org: m.org.clone(),
                joined_at: m.joined_at,
            })
            .collect(),
        tasks: inc
            .tasks
            .iter()
            .map(|t| TaskOut {
                id: t.id.clone(),
                title: t.title.clone(),
                owner_role: t.owner_role.clone(),
                org: t.org.clone(),
                due_at: t.due_at,
                status: t.status.to_string(),
                overdue: !t.is_done() && t.due_at < now,
                escalations: t.escalations,
                acked_by: t.acked_by.clone(),
                done_by: t.done_by.clone(),
                done_at: t.done_at,
                checklist: t.checklist.clone(),
            })
            .collect(),
        timeline: inc
            .timeline
            .iter()
            .map(|e| TimelineOut {
                at: e.at,
                actor: e.actor.clone(),
                kind: e.kind.clone(),
                text: e.text.clone(),
            })
            .collect(),
        accountability: AccountabilityOut {
            people: a.people,
            reached: a.reached,
            safe: a.safe,
            need_help: a.need_help,
            no_answer: a.no_answer,
            not_reached: a.not_reached,
        },
        checkins: states
            .into_iter()
            .map(|s| CheckinRow {
                recipient: s.recipient,
                name: s.name,
                status: s.status.to_string(),
                message: s.message,
                answered_at: s.answered_at,
                reached_at: s.reached_at,
            })
            .collect(),
    }))
}
