//! Response plans (预案) over HTTP: the library the server was started with
//! (`farguard serve --plans DIR`, else `config/plans`, else the shipped
//! plans), as a list and one plan whole — trigger, command by level, task
//! force, steps with their dependencies, notifications, goals, SLAs,
//! escalation and stand-down. Plans are doctrine shared with the whole
//! community of responders (TLP:GREEN); a citizen has no use for them.

use crate::auth::{Action, Marking, Principal};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiPath;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use chrono::TimeDelta;
use farguard_model::Level;
use farguard_respond::Plan;
use farguard_respond::plan::{Activation, Per, TriggerOn};
use serde::Serialize;
use utoipa::ToSchema;

/// The marking of a plan.
pub const PLAN: Marking = Marking::Green;

/// A plan in the list.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanSummary {
    pub id: String,
    pub version: String,
    pub title: String,
    pub title_zh: Option<String>,
    /// Categories that trigger it.
    pub categories: Vec<String>,
    /// The lowest level that triggers it (`IV` … `I`).
    pub min_level: String,
    pub lead_agency: String,
    /// `auto` or `manual`.
    pub activation: String,
    /// Roles in the task force.
    pub role_count: usize,
    /// Steps of the plan.
    pub step_count: usize,
    /// Goals it is scored against.
    pub goal_count: usize,
    /// The file it was loaded from.
    pub file: String,
    pub marking: Marking,
}

fn summary(p: &Plan) -> PlanSummary {
    PlanSummary {
        id: p.id.clone(),
        version: p.version.clone(),
        title: p.title.clone(),
        title_zh: p.title_zh.clone(),
        categories: p
            .trigger
            .categories
            .iter()
            .map(|c| c.code().to_string())
            .collect(),
        min_level: p.trigger.min_level.code().into(),
        lead_agency: p.lead_agency.clone(),
        activation: match p.activation {
            Activation::Auto => "auto",
            Activation::Manual => "manual",
        }
        .into(),
        role_count: p.task_force.len(),
        step_count: p.steps.len(),
        goal_count: p.goals.len(),
        file: p.file.clone(),
        marking: PLAN,
    }
}

fn secs(d: TimeDelta) -> i64 {
    d.num_seconds()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TriggerOut {
    pub categories: Vec<String>,
    pub min_level: String,
    /// What raises it: `level`, `exposure`.
    pub on: Vec<String>,
    /// Areas it covers (empty: everywhere).
    pub areas: Vec<String>,
    pub interest_kinds: Vec<String>,
    pub min_sites: u64,
    pub min_headcount: u64,
    pub min_people: u64,
    pub min_value_usd: f64,
    /// One incident per (plan, area) within this many seconds.
    pub window_s: i64,
    /// `country` (regions fold into their country) or `area`.
    pub per: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CommandOut {
    /// `IV`, `III`, `II`, `I`.
    pub level: String,
    /// local, embassy or central.
    pub command: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleOut {
    pub id: String,
    pub name: String,
    pub org: String,
    /// The level from which the role joins the task force.
    pub join_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StepOut {
    pub id: String,
    pub title: String,
    /// A role id of the task force.
    pub owner: String,
    /// Due this many seconds after activation.
    pub due_s: i64,
    /// Steps that must be done first.
    pub after: Vec<String>,
    pub checklist: Vec<String>,
    pub resources: Vec<String>,
    pub min_level: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationOut {
    pub id: String,
    pub to: Vec<String>,
    pub within_s: i64,
    pub message: String,
    pub min_level: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GoalOut {
    pub id: String,
    pub text: String,
    /// time_to_activate, time_to_notify, tasks_on_time, share_accounted.
    pub metric: String,
    pub within_s: Option<i64>,
    pub target: Option<f64>,
}

/// One plan, whole.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanOut {
    #[serde(flatten)]
    pub summary: PlanSummary,
    /// Where in the policy paper or doctrine the plan comes from.
    pub basis: Option<String>,
    pub trigger: TriggerOut,
    /// Who commands at each level.
    pub command: Vec<CommandOut>,
    pub task_force: Vec<RoleOut>,
    pub steps: Vec<StepOut>,
    pub notifications: Vec<NotificationOut>,
    pub goals: Vec<GoalOut>,
    pub activate_within_s: i64,
    pub notify_within_s: i64,
    /// Overdue tasks escalate every this many seconds, at most `escalate_max` times.
    pub escalate_every_s: i64,
    pub escalate_max: u8,
    /// Stand down below this level after `stand_down_quiet_s` of quiet.
    pub stand_down_below: String,
    pub stand_down_quiet_s: i64,
    pub stand_down_requires_tasks_done: bool,
}

fn plan_out(p: &Plan) -> PlanOut {
    let t = &p.trigger;
    PlanOut {
        summary: summary(p),
        basis: p.basis.clone(),
        trigger: TriggerOut {
            categories: t.categories.iter().map(|c| c.code().to_string()).collect(),
            min_level: t.min_level.code().into(),
            on: t
                .on
                .iter()
                .map(|o| match o {
                    TriggerOn::Level => "level",
                    TriggerOn::Exposure => "exposure",
                })
                .map(str::to_string)
                .collect(),
            areas: t.areas.iter().map(ToString::to_string).collect(),
            interest_kinds: t.interest_kinds.clone(),
            min_sites: t.exposure.min_sites,
            min_headcount: t.exposure.min_headcount,
            min_people: t.exposure.min_people,
            min_value_usd: t.exposure.min_value_usd,
            window_s: secs(t.window),
            per: match t.per {
                Per::Country => "country",
                Per::Area => "area",
            }
            .into(),
        },
        command: [Level::IV, Level::III, Level::II, Level::I]
            .into_iter()
            .map(|l| CommandOut {
                level: l.code().into(),
                command: p.command_at(l).to_string(),
            })
            .collect(),
        task_force: p
            .task_force
            .iter()
            .map(|r| RoleOut {
                id: r.id.clone(),
                name: r.name.clone(),
                org: r.org.clone(),
                join_at: r.join_at.code().into(),
            })
            .collect(),
        steps: p
            .steps
            .iter()
            .map(|s| StepOut {
                id: s.id.clone(),
                title: s.title.clone(),
                owner: s.owner.clone(),
                due_s: secs(s.due),
                after: s.after.clone(),
                checklist: s.checklist.clone(),
                resources: s.resources.clone(),
                min_level: s.min_level.code().into(),
            })
            .collect(),
        notifications: p
            .notifications
            .iter()
            .map(|n| NotificationOut {
                id: n.id.clone(),
                to: n.to.clone(),
                within_s: secs(n.within),
                message: n.message.clone(),
                min_level: n.min_level.code().into(),
            })
            .collect(),
        goals: p
            .goals
            .iter()
            .map(|g| GoalOut {
                id: g.id.clone(),
                text: g.text.clone(),
                metric: g.metric.code().into(),
                within_s: g.within.map(secs),
                target: g.target,
            })
            .collect(),
        activate_within_s: secs(p.sla.activate_within),
        notify_within_s: secs(p.sla.notify_within),
        escalate_every_s: secs(p.escalation.every),
        escalate_max: p.escalation.max,
        stand_down_below: p.stand_down.below.code().into(),
        stand_down_quiet_s: secs(p.stand_down.quiet_for),
        stand_down_requires_tasks_done: p.stand_down.require_tasks_done,
    }
}

/// The response plans in force, by id.
#[utoipa::path(get, path = "/api/v1/plans", tag = "incidents",
    responses((status = 200, body = Vec<PlanSummary>), (status = 403, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_plans(
    State(state): State<AppState>,
    p: Principal,
) -> ApiResult<Json<Vec<PlanSummary>>> {
    p.require(Action::ReadPlans)?;
    let mut out: Vec<PlanSummary> = state.plans.plans().iter().map(summary).collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(Json(out))
}

/// One response plan, whole.
#[utoipa::path(get, path = "/api/v1/plans/{id}", tag = "incidents",
    params(("id" = String, Path, description = "the plan's id, e.g. security-evacuation")),
    responses((status = 200, body = PlanOut), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_plan(
    State(state): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<PlanOut>> {
    p.require(Action::ReadPlans)?;
    state
        .plans
        .get(&id)
        .map(|x| Json(plan_out(x)))
        .ok_or_else(|| {
            ApiError::not_found(
                "/path/id",
                format!("no plan {id:?}; GET /api/v1/plans lists the plans in force"),
            )
        })
}
