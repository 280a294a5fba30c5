//! The response plan (预案) file format and its validation: trigger, command
//! level by grade, lead agency, task force, steps as a dependency graph,
//! notifications, expected goals, SLAs and stand-down conditions. Every
//! problem is reported with file, line and key; one file's problems never
//! stop the others from loading.

use crate::duration;
use crate::error::{FileError, from_toml, line_of};
use chrono::TimeDelta;
use farguard_model::{Area, Category, CommandLevel, Level, SiteKind};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use toml::Spanned;

// --- the file as written ------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    id: Spanned<String>,
    version: String,
    title: String,
    #[serde(default)]
    title_zh: Option<String>,
    /// Where in the policy paper (or doctrine) the plan comes from.
    #[serde(default)]
    basis: Option<String>,
    trigger: Spanned<RawTrigger>,
    #[serde(default)]
    command: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
    lead_agency: Spanned<String>,
    #[serde(default)]
    activation: Option<Spanned<String>>,
    task_force: Spanned<Vec<Spanned<RawRole>>>,
    steps: Spanned<Vec<Spanned<RawStep>>>,
    #[serde(default)]
    notifications: Vec<Spanned<RawNotification>>,
    #[serde(default)]
    goals: Vec<Spanned<RawGoal>>,
    sla: Spanned<RawSla>,
    #[serde(default)]
    escalation: Option<Spanned<RawEscalation>>,
    stand_down: Spanned<RawStandDown>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTrigger {
    categories: Vec<Spanned<String>>,
    min_level: Spanned<String>,
    #[serde(default)]
    on: Vec<Spanned<String>>,
    #[serde(default)]
    areas: Vec<Spanned<String>>,
    #[serde(default)]
    interest_kinds: Vec<Spanned<String>>,
    #[serde(default)]
    exposure: Option<RawExposure>,
    window: Spanned<String>,
    #[serde(default)]
    per: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExposure {
    #[serde(default)]
    min_sites: u64,
    #[serde(default)]
    min_headcount: u64,
    #[serde(default)]
    min_people: u64,
    #[serde(default)]
    min_value_usd: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRole {
    id: Spanned<String>,
    name: String,
    org: Spanned<String>,
    #[serde(default)]
    join_at: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    id: Spanned<String>,
    title: String,
    owner: Spanned<String>,
    due: Spanned<String>,
    #[serde(default)]
    after: Vec<Spanned<String>>,
    #[serde(default)]
    checklist: Vec<String>,
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    min_level: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNotification {
    id: Spanned<String>,
    to: Vec<Spanned<String>>,
    within: Spanned<String>,
    message: String,
    #[serde(default)]
    min_level: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGoal {
    id: Spanned<String>,
    text: String,
    metric: Spanned<String>,
    #[serde(default)]
    within: Option<Spanned<String>>,
    #[serde(default)]
    target: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSla {
    activate_within: Spanned<String>,
    notify_within: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEscalation {
    every: Spanned<String>,
    max: u8,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStandDown {
    below_level: Spanned<String>,
    quiet_for: Spanned<String>,
    #[serde(default)]
    require_tasks_done: bool,
}

// --- the validated plan -------------------------------------------------

/// What kind of signal can open an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TriggerOn {
    /// A graded level change for an area × category.
    Level,
    /// An event's exposure of registered interests.
    Exposure,
}

/// Exposure thresholds an exposure signal must reach (all of them).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ExposureThresholds {
    pub min_sites: u64,
    pub min_headcount: u64,
    pub min_people: u64,
    pub min_value_usd: f64,
}

/// When a plan starts (启动条件).
#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    pub categories: Vec<Category>,
    pub min_level: Level,
    pub on: Vec<TriggerOn>,
    /// Empty: anywhere. A country also matches its admin regions.
    pub areas: Vec<Area>,
    /// Site kinds (and `person`) an exposure must touch; empty: any.
    pub interest_kinds: Vec<String>,
    pub exposure: ExposureThresholds,
    /// One incident per (plan, area, window).
    pub window: TimeDelta,
    /// One incident per country (a region's signal joins its country's
    /// incident), or per graded area as given.
    pub per: Per,
}

/// What "area" means in "one incident per (plan, area, window)".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Per {
    /// Admin-1 regions fold into their country (the default: one embassy,
    /// one incident).
    Country,
    /// Every graded area (country, region, cell, site) on its own.
    Area,
}

/// One role of the joint task force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub id: String,
    pub name: String,
    /// Organisation that fills the role by default.
    pub org: String,
    /// The incident level at which the role joins.
    pub join_at: Level,
}

/// One step of the response process, a node of the dependency graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub id: String,
    pub title: String,
    pub owner: String,
    /// Deadline, counted from when the task is created.
    pub due: TimeDelta,
    pub after: Vec<String>,
    pub checklist: Vec<String>,
    pub resources: Vec<String>,
    /// The incident level at which this step becomes a task.
    pub min_level: Level,
}

/// Who a notification goes to.
pub const AUDIENCES: &[&str] = &[
    "exposed_people",
    "exposed_orgs",
    "task_force",
    "coordination_centre",
    "public",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub id: String,
    pub to: Vec<String>,
    pub within: TimeDelta,
    pub message: String,
    pub min_level: Level,
}

/// What an expected goal measures (the drill scorecard reads these).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    TimeToActivate,
    TimeToNotify,
    TasksOnTime,
    ShareAccounted,
}

impl Metric {
    pub const CODES: &'static [&'static str] = &[
        "time_to_activate",
        "time_to_notify",
        "tasks_on_time",
        "share_accounted",
    ];
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "time_to_activate" => Some(Metric::TimeToActivate),
            "time_to_notify" => Some(Metric::TimeToNotify),
            "tasks_on_time" => Some(Metric::TasksOnTime),
            "share_accounted" => Some(Metric::ShareAccounted),
            _ => None,
        }
    }
    pub fn code(self) -> &'static str {
        Self::CODES[self as usize]
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Goal {
    pub id: String,
    pub text: String,
    pub metric: Metric,
    pub within: Option<TimeDelta>,
    /// A share in 0..=1 for share metrics.
    pub target: Option<f64>,
}

/// Service levels the drill scorecard checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sla {
    pub activate_within: TimeDelta,
    pub notify_within: TimeDelta,
}

/// How overdue tasks escalate: first when the deadline passes, then every
/// `every`, at most `max` times (owner → lead agency → command above).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Escalation {
    pub every: TimeDelta,
    pub max: u8,
}

/// When the incident stands down: the level has stayed below `below` for
/// `quiet_for` (and, if asked, every task is done).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StandDown {
    pub below: Level,
    pub quiet_for: TimeDelta,
    pub require_tasks_done: bool,
}

/// Whether detection activates the plan at once or waits for the lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// The lead agency confirms (`farguard incidents activate`); the drill
    /// scorecard measures how long that takes.
    Manual,
    Auto,
}

/// A validated response plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub id: String,
    pub version: String,
    pub title: String,
    pub title_zh: Option<String>,
    pub basis: Option<String>,
    /// The file it was loaded from.
    pub file: String,
    pub trigger: Trigger,
    /// Command level by grade, indexed by `Level::rank()`.
    pub command: [CommandLevel; 5],
    /// The role that leads (牵头).
    pub lead_agency: String,
    pub activation: Activation,
    pub task_force: Vec<Role>,
    /// In dependency order (every step after the steps it waits for).
    pub steps: Vec<Step>,
    pub notifications: Vec<Notification>,
    pub goals: Vec<Goal>,
    pub sla: Sla,
    pub escalation: Escalation,
    pub stand_down: StandDown,
}

impl Plan {
    pub fn command_at(&self, level: Level) -> CommandLevel {
        self.command[level.rank() as usize]
    }
    pub fn role(&self, id: &str) -> Option<&Role> {
        self.task_force.iter().find(|r| r.id == id)
    }
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }
    /// The area an incident of this plan is kept for, given a signal's area.
    pub fn incident_area(&self, area: &Area) -> Area {
        match (self.trigger.per, area) {
            (Per::Country, Area::Admin1(c, _)) => Area::Country(*c),
            _ => area.clone(),
        }
    }
    /// Does the plan cover this area?
    pub fn covers(&self, area: &Area) -> bool {
        self.trigger.areas.is_empty()
            || self.trigger.areas.iter().any(|a| {
                a == area || matches!((a, area), (Area::Country(c), Area::Admin1(d, _)) if c == d)
            })
    }
}

/// Parses and validates one plan file. All problems are returned together.
pub fn parse_plan(file: &str, text: &str) -> Result<Plan, Vec<FileError>> {
    let raw: RawPlan = toml::from_str(text).map_err(|e| vec![from_toml(file, text, &e)])?;
    let mut v = Validator {
        file,
        text,
        errors: Vec::new(),
    };
    let plan = v.plan(raw);
    if v.errors.is_empty() {
        plan.ok_or_else(Vec::new)
    } else {
        Err(v.errors)
    }
}

struct Validator<'a> {
    file: &'a str,
    text: &'a str,
    errors: Vec<FileError>,
}

fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

impl Validator<'_> {
    fn err<T>(&mut self, at: &Spanned<T>, key: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FileError {
            file: self.file.to_string(),
            line: line_of(self.text, at.span().start),
            key: key.into(),
            message: message.into(),
        });
    }

    fn level(&mut self, s: &Spanned<String>, key: &str) -> Option<Level> {
        match Level::parse(s.get_ref()) {
            Ok(l) => Some(l),
            Err(_) => {
                self.err(
                    s,
                    key,
                    format!(
                        "unknown level {:?}; use I, II, III, IV (or red, orange, yellow, blue) or 0",
                        s.get_ref()
                    ),
                );
                None
            }
        }
    }

    fn duration(&mut self, s: &Spanned<String>, key: &str) -> Option<TimeDelta> {
        match duration::parse(s.get_ref()) {
            Ok(d) => Some(d),
            Err(e) => {
                self.err(s, key, e);
                None
            }
        }
    }

    fn plan(&mut self, raw: RawPlan) -> Option<Plan> {
        let id = raw.id.get_ref().clone();
        if !is_ident(&id) {
            self.err(
                &raw.id,
                "id",
                format!("{id:?} is not a plan id; use lower-case letters, digits, - and _"),
            );
        }
        let trigger = self.trigger(&raw.trigger);
        let command = self.command(raw.command.as_ref());

        // Task force.
        let mut roles: Vec<Role> = Vec::new();
        let min_level = trigger.as_ref().map_or(Level::IV, |t| t.min_level);
        for (i, r) in raw.task_force.get_ref().iter().enumerate() {
            let r = r.get_ref();
            let rid = r.id.get_ref().clone();
            let key = format!("task_force[{i}].id");
            if !is_ident(&rid) {
                self.err(
                    &r.id,
                    &key,
                    format!("{rid:?} is not a role id; use lower-case letters, digits and _"),
                );
            }
            if roles.iter().any(|x| x.id == rid) {
                self.err(
                    &r.id,
                    &key,
                    format!("role {rid:?} is listed twice in the task force"),
                );
            }
            if r.org.get_ref().trim().is_empty() {
                self.err(
                    &r.org,
                    format!("task_force.{rid}.org"),
                    "empty organisation; name the organisation that fills the role",
                );
            }
            let join_at = match &r.join_at {
                None => min_level,
                Some(s) => self
                    .level(s, &format!("task_force.{rid}.join_at"))
                    .unwrap_or(min_level),
            };
            roles.push(Role {
                id: rid,
                name: r.name.clone(),
                org: r.org.get_ref().clone(),
                join_at: join_at.max(min_level),
            });
        }
        if roles.is_empty() {
            self.err(
                &raw.task_force,
                "task_force",
                "the task force is empty; add at least the lead agency as a [[task_force]] role",
            );
        }
        let role_ids = || {
            roles
                .iter()
                .map(|r| r.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let lead = raw.lead_agency.get_ref().clone();
        if !roles.iter().any(|r| r.id == lead) {
            let known = role_ids();
            self.err(
                &raw.lead_agency,
                "lead_agency",
                format!("lead agency {lead:?} is not a role of the task force (roles: {known})"),
            );
        } else if roles.iter().any(|r| r.id == lead && r.join_at > min_level) {
            self.err(
                &raw.lead_agency,
                "lead_agency",
                "the lead agency must join when the plan opens; remove its join_at",
            );
        }
        let activation = match raw.activation.as_ref().map(|s| s.get_ref().as_str()) {
            None | Some("manual") => Activation::Manual,
            Some("auto") => Activation::Auto,
            Some(other) => {
                let other = other.to_string();
                if let Some(s) = raw.activation.as_ref() {
                    self.err(
                        s,
                        "activation",
                        format!("unknown activation {other:?}; use \"manual\" or \"auto\""),
                    );
                }
                Activation::Manual
            }
        };

        let steps = self.steps(&raw.steps, &roles, min_level);

        let mut notifications = Vec::new();
        for n in &raw.notifications {
            let n = n.get_ref();
            let nid = n.id.get_ref().clone();
            for a in &n.to {
                if !AUDIENCES.contains(&a.get_ref().as_str()) {
                    self.err(
                        a,
                        format!("notifications.{nid}.to"),
                        format!(
                            "unknown audience {:?}; use one of: {}",
                            a.get_ref(),
                            AUDIENCES.join(", ")
                        ),
                    );
                }
            }
            let within = self.duration(&n.within, &format!("notifications.{nid}.within"));
            let nl = n
                .min_level
                .as_ref()
                .and_then(|s| self.level(s, &format!("notifications.{nid}.min_level")))
                .unwrap_or(min_level);
            if let Some(within) = within {
                notifications.push(Notification {
                    id: nid,
                    to: n.to.iter().map(|a| a.get_ref().clone()).collect(),
                    within,
                    message: n.message.clone(),
                    min_level: nl.max(min_level),
                });
            }
        }

        let mut goals = Vec::new();
        for g in &raw.goals {
            let g = g.get_ref();
            let gid = g.id.get_ref().clone();
            let Some(metric) = Metric::parse(g.metric.get_ref()) else {
                self.err(
                    &g.metric,
                    format!("goals.{gid}.metric"),
                    format!(
                        "unknown metric {:?}; use one of: {}",
                        g.metric.get_ref(),
                        Metric::CODES.join(", ")
                    ),
                );
                continue;
            };
            let within = match &g.within {
                Some(w) => self.duration(w, &format!("goals.{gid}.within")),
                None => None,
            };
            if let Some(t) = g.target
                && !(0.0..=1.0).contains(&t)
            {
                self.err(
                    &g.id,
                    format!("goals.{gid}.target"),
                    format!("target {t} is not a share; write a number from 0 to 1"),
                );
            }
            goals.push(Goal {
                id: gid,
                text: g.text.clone(),
                metric,
                within,
                target: g.target,
            });
        }

        let sla = raw.sla.get_ref();
        let sla = match (
            self.duration(&sla.activate_within, "sla.activate_within"),
            self.duration(&sla.notify_within, "sla.notify_within"),
        ) {
            (Some(a), Some(n)) => Some(Sla {
                activate_within: a,
                notify_within: n,
            }),
            _ => None,
        };
        let escalation = match &raw.escalation {
            None => Some(Escalation {
                every: TimeDelta::hours(1),
                max: 2,
            }),
            Some(e) => {
                let er = e.get_ref();
                let every = self.duration(&er.every, "escalation.every");
                if every == Some(TimeDelta::zero()) {
                    self.err(
                        &er.every,
                        "escalation.every",
                        "must be longer than zero (e.g. \"1h\")",
                    );
                }
                every.map(|every| Escalation { every, max: er.max })
            }
        };
        let sd = raw.stand_down.get_ref();
        let below = self.level(&sd.below_level, "stand_down.below_level");
        if let Some(b) = below
            && trigger.is_some()
            && b > min_level
        {
            self.err(
                &sd.below_level,
                "stand_down.below_level",
                format!(
                    "stand-down below {} would close the incident while the trigger (min_level {}) still holds; use {} or lower",
                    b.code(),
                    min_level.code(),
                    min_level.code()
                ),
            );
        }
        let quiet = self.duration(&sd.quiet_for, "stand_down.quiet_for");

        let (trigger, command, steps, sla, escalation, below, quiet) = (
            trigger?,
            command?,
            steps?,
            sla?,
            escalation?,
            below?,
            quiet?,
        );
        Some(Plan {
            id,
            version: raw.version,
            title: raw.title,
            title_zh: raw.title_zh,
            basis: raw.basis,
            file: self.file.to_string(),
            trigger,
            command,
            lead_agency: lead,
            activation,
            task_force: roles,
            steps,
            notifications,
            goals,
            sla,
            escalation,
            stand_down: StandDown {
                below,
                quiet_for: quiet,
                require_tasks_done: sd.require_tasks_done,
            },
        })
    }

    fn trigger(&mut self, t: &Spanned<RawTrigger>) -> Option<Trigger> {
        let r = t.get_ref();
        let mut ok = true;
        let mut categories = Vec::new();
        if r.categories.is_empty() {
            self.err(
                t,
                "trigger.categories",
                "no categories; name at least one of security, political, legal, economic, reputation, natural, health",
            );
            ok = false;
        }
        for (i, c) in r.categories.iter().enumerate() {
            match Category::parse(c.get_ref()) {
                Ok(cat) => categories.push(cat),
                Err(_) => {
                    ok = false;
                    self.err(
                        c,
                        format!("trigger.categories[{i}]"),
                        format!(
                            "unknown category {:?}; use one of: security, political, legal, economic, reputation, natural, health",
                            c.get_ref()
                        ),
                    );
                }
            }
        }
        let min_level = self.level(&r.min_level, "trigger.min_level");
        if min_level == Some(Level::Normal) {
            self.err(
                &r.min_level,
                "trigger.min_level",
                "a plan cannot start at level 0 (normal); use IV or higher",
            );
            ok = false;
        }
        let mut on = Vec::new();
        for (i, o) in r.on.iter().enumerate() {
            match o.get_ref().as_str() {
                "level" => on.push(TriggerOn::Level),
                "exposure" => on.push(TriggerOn::Exposure),
                other => {
                    ok = false;
                    let m = format!("unknown trigger {other:?}; use \"level\" or \"exposure\"");
                    self.err(o, format!("trigger.on[{i}]"), m);
                }
            }
        }
        if on.is_empty() {
            on = vec![TriggerOn::Level, TriggerOn::Exposure];
        }
        let mut areas = Vec::new();
        for (i, a) in r.areas.iter().enumerate() {
            match Area::parse(a.get_ref()) {
                Ok(x) => areas.push(x),
                Err(e) => {
                    ok = false;
                    self.err(a, format!("trigger.areas[{i}]"), format!("{e}"));
                }
            }
        }
        let mut kinds = Vec::new();
        for (i, k) in r.interest_kinds.iter().enumerate() {
            let s = k.get_ref().as_str();
            if s == "person" || SiteKind::parse(s).is_ok() {
                kinds.push(s.to_string());
            } else {
                ok = false;
                let all: Vec<&str> = SiteKind::ALL.iter().map(|k| k.code()).collect();
                self.err(
                    k,
                    format!("trigger.interest_kinds[{i}]"),
                    format!(
                        "unknown interest kind {s:?}; use person or a site kind: {}",
                        all.join(", ")
                    ),
                );
            }
        }
        let exposure = r
            .exposure
            .as_ref()
            .map_or_else(ExposureThresholds::default, |e| ExposureThresholds {
                min_sites: e.min_sites,
                min_headcount: e.min_headcount,
                min_people: e.min_people,
                min_value_usd: e.min_value_usd,
            });
        if exposure.min_value_usd.is_nan() || exposure.min_value_usd < 0.0 {
            ok = false;
            self.err(t, "trigger.exposure.min_value_usd", "must be zero or more");
        }
        let window = self.duration(&r.window, "trigger.window");
        if window == Some(TimeDelta::zero()) {
            ok = false;
            self.err(
                &r.window,
                "trigger.window",
                "must be longer than zero (e.g. \"7d\")",
            );
        }
        let per = match r.per.as_ref().map(|p| p.get_ref().as_str()) {
            None | Some("country") => Per::Country,
            Some("area") => Per::Area,
            Some(other) => {
                ok = false;
                let m = format!("unknown value {other:?}; use \"country\" or \"area\"");
                if let Some(p) = r.per.as_ref() {
                    self.err(p, "trigger.per", m);
                }
                Per::Country
            }
        };
        if !ok {
            return None;
        }
        Some(Trigger {
            per,
            categories,
            min_level: min_level?,
            on,
            areas,
            interest_kinds: kinds,
            exposure,
            window: window?,
        })
    }

    fn command(
        &mut self,
        c: Option<&Spanned<BTreeMap<String, Spanned<String>>>>,
    ) -> Option<[CommandLevel; 5]> {
        let mut out: [CommandLevel; 5] = [
            CommandLevel::Local,
            CommandLevel::for_level(Level::IV),
            CommandLevel::for_level(Level::III),
            CommandLevel::for_level(Level::II),
            CommandLevel::for_level(Level::I),
        ];
        let Some(c) = c else { return Some(out) };
        let mut ok = true;
        for (k, v) in c.get_ref() {
            let level = match Level::parse(k) {
                Ok(l) if l > Level::Normal => l,
                _ => {
                    ok = false;
                    self.err(
                        v,
                        format!("command.{k}"),
                        format!("unknown level {k:?}; the keys are I, II, III and IV"),
                    );
                    continue;
                }
            };
            match CommandLevel::parse(v.get_ref()) {
                Ok(cl) => out[level.rank() as usize] = cl,
                Err(_) => {
                    ok = false;
                    self.err(
                        v,
                        format!("command.{k}"),
                        format!(
                            "unknown command level {:?}; use central, embassy or local",
                            v.get_ref()
                        ),
                    );
                }
            }
        }
        if ok && out.windows(2).any(|w| w[1] < w[0]) {
            self.err(
                c,
                "command",
                "command level must not go down as the grade rises (IV ≤ III ≤ II ≤ I)",
            );
            ok = false;
        }
        ok.then_some(out)
    }

    fn steps(
        &mut self,
        raw: &Spanned<Vec<Spanned<RawStep>>>,
        roles: &[Role],
        min_level: Level,
    ) -> Option<Vec<Step>> {
        let mut ok = true;
        if raw.get_ref().is_empty() {
            self.err(raw, "steps", "no steps; add at least one [[steps]]");
            return None;
        }
        let mut steps: Vec<Step> = Vec::new();
        let mut spans: HashMap<String, &Spanned<RawStep>> = HashMap::new();
        for (i, s) in raw.get_ref().iter().enumerate() {
            let r = s.get_ref();
            let sid = r.id.get_ref().clone();
            if !is_ident(&sid) {
                ok = false;
                self.err(
                    &r.id,
                    format!("steps[{i}].id"),
                    format!("{sid:?} is not a step id; use lower-case letters, digits, - and _"),
                );
            }
            if spans.insert(sid.clone(), s).is_some() {
                ok = false;
                self.err(
                    &r.id,
                    format!("steps[{i}].id"),
                    format!("step {sid:?} is defined twice"),
                );
            }
            let key = |f: &str| format!("steps.{sid}.{f}");
            let owner = r.owner.get_ref().clone();
            let role = roles.iter().find(|x| x.id == owner);
            if role.is_none() {
                ok = false;
                let known: Vec<&str> = roles.iter().map(|x| x.id.as_str()).collect();
                self.err(
                    &r.owner,
                    key("owner"),
                    format!(
                        "owner role {owner:?} is not in the task force (roles: {}); add it as a [[task_force]] role or pick one of those",
                        known.join(", ")
                    ),
                );
            }
            let due = self.duration(&r.due, &key("due"));
            ok &= due.is_some();
            let step_level = match &r.min_level {
                Some(l) => self.level(l, &key("min_level")),
                None => Some(min_level),
            };
            ok &= step_level.is_some();
            let step_level = step_level.unwrap_or(min_level).max(min_level);
            if let (Some(role), Some(l)) = (role, &r.min_level)
                && role.join_at > step_level
            {
                ok = false;
                self.err(
                    l,
                    key("min_level"),
                    format!(
                        "the step starts at level {} but its owner {:?} joins only at {}; raise the step's min_level or lower the role's join_at",
                        step_level.code(),
                        role.id,
                        role.join_at.code()
                    ),
                );
            } else if let Some(role) = role
                && role.join_at > step_level
            {
                ok = false;
                self.err(
                    &r.owner,
                    key("owner"),
                    format!(
                        "owner {:?} joins only at level {}; give the step min_level = \"{}\"",
                        role.id,
                        role.join_at.code(),
                        role.join_at.code()
                    ),
                );
            }
            steps.push(Step {
                id: sid,
                title: r.title.clone(),
                owner,
                due: due.unwrap_or_default(),
                after: r.after.iter().map(|a| a.get_ref().clone()).collect(),
                checklist: r.checklist.clone(),
                resources: r.resources.clone(),
                min_level: step_level,
            });
        }
        // Dependencies exist and do not start later than the step itself.
        for (s, r) in steps.iter().zip(raw.get_ref()) {
            for a in &r.get_ref().after {
                match steps.iter().find(|x| &x.id == a.get_ref()) {
                    None => {
                        ok = false;
                        let known: Vec<&str> = steps.iter().map(|x| x.id.as_str()).collect();
                        self.err(
                            a,
                            format!("steps.{}.after", s.id),
                            format!(
                                "unknown step {:?} (steps: {})",
                                a.get_ref(),
                                known.join(", ")
                            ),
                        );
                    }
                    Some(d) if d.min_level > s.min_level => {
                        ok = false;
                        self.err(
                            a,
                            format!("steps.{}.after", s.id),
                            format!(
                                "waits for {:?}, which only starts at level {} (this step starts at {})",
                                d.id,
                                d.min_level.code(),
                                s.min_level.code()
                            ),
                        );
                    }
                    Some(_) => {}
                }
            }
        }
        if !ok {
            return None;
        }
        // Topological order (Kahn); whatever remains sits on a cycle.
        let mut indeg: HashMap<&str, usize> = steps
            .iter()
            .map(|s| (s.id.as_str(), s.after.len()))
            .collect();
        let mut order: Vec<usize> = Vec::new();
        let mut ready: Vec<usize> = (0..steps.len())
            .filter(|&i| steps[i].after.is_empty())
            .collect();
        // Pop the earliest-written ready step first: file order where the graph allows.
        ready.sort_unstable_by(|a, b| b.cmp(a));
        let mut done: HashSet<&str> = HashSet::new();
        while let Some(i) = ready.pop() {
            order.push(i);
            done.insert(steps[i].id.as_str());
            for (j, s) in steps.iter().enumerate() {
                if s.after.iter().any(|a| a == &steps[i].id)
                    && let Some(d) = indeg.get_mut(s.id.as_str())
                {
                    *d -= s.after.iter().filter(|a| *a == &steps[i].id).count();
                    if *d == 0 {
                        ready.push(j);
                    }
                }
            }
            ready.sort_unstable_by(|a, b| b.cmp(a));
        }
        if order.len() < steps.len() {
            let cycle = find_cycle(&steps, &done);
            let first = cycle.first().cloned().unwrap_or_default();
            if let Some(s) = spans.get(&first) {
                let after = &s.get_ref().after;
                let at = after
                    .iter()
                    .find(|a| cycle.contains(a.get_ref()))
                    .map_or(s.span(), |a| a.span());
                let mut path = cycle.clone();
                path.push(first.clone());
                self.errors.push(FileError {
                    file: self.file.to_string(),
                    line: line_of(self.text, at.start),
                    key: format!("steps.{first}.after"),
                    message: format!(
                        "steps form a cycle: {}; remove one of these `after` links",
                        path.join(" → ")
                    ),
                });
            }
            return None;
        }
        Some(order.into_iter().map(|i| steps[i].clone()).collect())
    }
}

/// One cycle among the steps not in `done`, as step ids in `after` order.
fn find_cycle(steps: &[Step], done: &HashSet<&str>) -> Vec<String> {
    let by_id: HashMap<&str, &Step> = steps.iter().map(|s| (s.id.as_str(), s)).collect();
    let Some(start) = steps.iter().find(|s| !done.contains(s.id.as_str())) else {
        return Vec::new();
    };
    // Walk `after` links among unfinished steps until one repeats.
    let mut path: Vec<&str> = vec![start.id.as_str()];
    loop {
        let Some(cur) = path.last().and_then(|c| by_id.get(c)) else {
            return Vec::new();
        };
        let Some(next) = cur.after.iter().find(|a| !done.contains(a.as_str())) else {
            return Vec::new();
        };
        if let Some(pos) = path.iter().position(|p| p == next) {
            let mut c: Vec<String> = path[pos..].iter().map(|s| s.to_string()).collect();
            c.reverse();
            return c;
        }
        path.push(next.as_str());
    }
}
