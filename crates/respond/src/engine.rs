//! The trigger engine and the incident book: signals (level changes and
//! exposures) open one incident per (plan, area, window), raise it as the
//! level rises (command level up, more roles, new tasks), let it stand down
//! when the level stays low; task updates from the task force; and the
//! escalation sweep that runs on any clock, real or simulated.

use crate::error::RespondError;
use crate::library::Library;
use crate::plan::{Activation, Plan, TriggerOn};
use chrono::{DateTime, Utc};
use farguard_model::{
    Area, Category, CommandLevel, Incident, IncidentStatus, Level, Member, Task, TaskStatus,
    TimelineEntry,
};
use std::collections::HashMap;

/// The actor name the engine writes on the timeline.
pub const ENGINE: &str = "farguard";

/// A graded level moved for one area × category.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelChange {
    pub area: Area,
    pub category: Category,
    pub from: Level,
    pub to: Level,
    pub at: DateTime<Utc>,
    /// Why, in words (the grade stage's explanation).
    pub why: String,
}

/// An event touched registered interests (summarised by the expose stage).
#[derive(Debug, Clone, PartialEq)]
pub struct ExposureSignal {
    /// The area the event is in (usually its country).
    pub area: Area,
    pub category: Category,
    /// The area × category level the exposure happens at.
    pub level: Level,
    pub at: DateTime<Utc>,
    /// Event id (`source:id`).
    pub event: String,
    pub sites: u64,
    pub people: u64,
    pub headcount: u64,
    pub value_usd: f64,
    /// Site kinds touched, plus `person` when people are.
    pub kinds: Vec<String>,
    pub why: String,
}

/// What the trigger engine reacts to.
#[derive(Debug, Clone, PartialEq)]
pub enum Signal {
    Level(LevelChange),
    Exposure(ExposureSignal),
}

impl Signal {
    pub fn area(&self) -> &Area {
        match self {
            Signal::Level(l) => &l.area,
            Signal::Exposure(e) => &e.area,
        }
    }
    pub fn category(&self) -> Category {
        match self {
            Signal::Level(l) => l.category,
            Signal::Exposure(e) => e.category,
        }
    }
    pub fn level(&self) -> Level {
        match self {
            Signal::Level(l) => l.to,
            Signal::Exposure(e) => e.level,
        }
    }
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Signal::Level(l) => l.at,
            Signal::Exposure(e) => e.at,
        }
    }
    fn on(&self) -> TriggerOn {
        match self {
            Signal::Level(_) => TriggerOn::Level,
            Signal::Exposure(_) => TriggerOn::Exposure,
        }
    }
    fn why(&self) -> String {
        match self {
            Signal::Level(l) => format!(
                "{} {} level {} → {}: {}",
                l.area,
                l.category,
                l.from.code(),
                l.to.code(),
                l.why
            ),
            Signal::Exposure(e) => format!(
                "{} touches {} site(s), headcount {}, {} people{} in {} ({} at level {}): {}",
                e.event,
                e.sites,
                e.headcount,
                e.people,
                if e.value_usd > 0.0 {
                    format!(", USD {:.0}", e.value_usd)
                } else {
                    String::new()
                },
                e.area,
                e.category,
                e.level.code(),
                e.why
            ),
        }
    }
}

/// Does `plan` start on `signal`? `None` when it does, otherwise why not.
pub fn plan_matches(plan: &Plan, signal: &Signal) -> bool {
    let t = &plan.trigger;
    if !t.categories.contains(&signal.category())
        || !t.on.contains(&signal.on())
        || signal.level() < t.min_level
        || !plan.covers(signal.area())
    {
        return false;
    }
    match signal {
        Signal::Level(_) => true,
        Signal::Exposure(e) => {
            let x = &t.exposure;
            (t.interest_kinds.is_empty() || e.kinds.iter().any(|k| t.interest_kinds.contains(k)))
                && e.sites >= x.min_sites
                && e.headcount >= x.min_headcount
                && e.people >= x.min_people
                && e.value_usd >= x.min_value_usd
        }
    }
}

/// Plans that start on `signal` (category-indexed, then filtered).
pub fn matching<'l>(lib: &'l Library, signal: &Signal) -> Vec<&'l Plan> {
    lib.for_category(signal.category())
        .filter(|p| plan_matches(p, signal))
        .collect()
}

/// What a signal, an update or a sweep changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub incident: String,
    pub kind: ChangeKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeKind {
    Opened { level: Level },
    Escalated { from: Level, to: Level },
    Lowered { from: Level, to: Level },
    Stabilised,
    Resumed,
    Reopened,
    ExposureNoted,
    TaskEscalated { task: String, step: u8, to: String },
    Closed,
}

/// What a task or lifecycle update did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied(String),
    /// Nothing to do (already in that state).
    Unchanged(String),
    /// Refused; the refusal is on the incident's timeline.
    Refused(String),
}

/// Incidents in memory, keyed by id and by (plan, area).
#[derive(Debug, Clone, Default)]
pub struct Book {
    incidents: Vec<Incident>,
    by_id: HashMap<String, usize>,
    /// Latest incident per (plan, area text).
    by_key: HashMap<(String, String), usize>,
    /// Ids touched since the last `take_dirty`.
    dirty: Vec<usize>,
    exercise: bool,
}

fn entry(at: DateTime<Utc>, actor: &str, kind: &str, text: String) -> TimelineEntry {
    TimelineEntry {
        at,
        actor: actor.to_string(),
        kind: kind.to_string(),
        text,
    }
}

impl Book {
    /// A book over stored incidents. With `exercise`, everything it opens is
    /// marked as an exercise.
    pub fn new(incidents: Vec<Incident>, exercise: bool) -> Self {
        let mut b = Self {
            exercise,
            ..Self::default()
        };
        for i in incidents {
            b.insert(i);
        }
        b.dirty.clear();
        b
    }

    fn insert(&mut self, inc: Incident) -> usize {
        let idx = self.incidents.len();
        let key = (inc.plan.clone(), inc.area.to_string());
        let newer = self
            .by_key
            .get(&key)
            .is_none_or(|&j| self.incidents[j].opened_at <= inc.opened_at);
        if newer {
            self.by_key.insert(key, idx);
        }
        self.by_id.insert(inc.id.clone(), idx);
        self.incidents.push(inc);
        self.dirty.push(idx);
        idx
    }

    pub fn incidents(&self) -> &[Incident] {
        &self.incidents
    }
    pub fn get(&self, id: &str) -> Option<&Incident> {
        self.by_id.get(id).map(|&i| &self.incidents[i])
    }
    pub fn len(&self) -> usize {
        self.incidents.len()
    }
    pub fn is_empty(&self) -> bool {
        self.incidents.is_empty()
    }
    /// Incidents changed since the last call (to save them).
    pub fn take_dirty(&mut self) -> Vec<&Incident> {
        let mut d = std::mem::take(&mut self.dirty);
        d.sort_unstable();
        d.dedup();
        d.into_iter().map(|i| &self.incidents[i]).collect()
    }
    fn touch(&mut self, idx: usize) {
        self.dirty.push(idx);
    }

    /// Applies one signal: opens incidents for matching plans (one per plan,
    /// area and window), raises or lowers the ones already open.
    pub fn apply(&mut self, lib: &Library, signal: &Signal) -> Vec<Change> {
        let mut changes = Vec::new();
        let at = signal.at();
        let area = signal.area().to_string();
        // Level moves reach every open incident of this area × category,
        // including those whose plan would no longer start at this level.
        if let Signal::Level(l) = signal {
            let idxs: Vec<usize> = self
                .by_key
                .iter()
                .filter(|((_, a), _)| *a == area)
                .map(|(_, &i)| i)
                .filter(|&i| {
                    let inc = &self.incidents[i];
                    inc.category == l.category && inc.is_open()
                })
                .collect();
            for i in idxs {
                // A fall lowers the incident; a rise only ever raises it (a
                // region folded into this country incident may stand higher).
                let raise = l.to > self.incidents[i].level;
                if (l.to < l.from || raise)
                    && let Some(plan) = lib.get(&self.incidents[i].plan)
                {
                    self.set_level(i, plan, l.to, at, &signal.why(), &mut changes);
                }
            }
        }
        for plan in matching(lib, signal) {
            let inc_area = plan.incident_area(signal.area());
            let key = (plan.id.clone(), inc_area.to_string());
            match self.by_key.get(&key).copied() {
                Some(i) if self.incidents[i].is_open() || at < self.incidents[i].window_end => {
                    if !self.incidents[i].is_open() {
                        let inc = &mut self.incidents[i];
                        inc.status = if inc.activated_at.is_some() {
                            IncidentStatus::Responding
                        } else {
                            IncidentStatus::Detected
                        };
                        inc.closed_at = None;
                        inc.calm_since = None;
                        inc.updated_at = at;
                        inc.timeline.push(entry(
                            at,
                            ENGINE,
                            "reopened",
                            format!("re-triggered within the plan window: {}", signal.why()),
                        ));
                        changes.push(Change {
                            incident: inc.id.clone(),
                            kind: ChangeKind::Reopened,
                        });
                        self.touch(i);
                    }
                    if let Signal::Exposure(e) = signal {
                        let inc = &mut self.incidents[i];
                        let seen = inc
                            .timeline
                            .iter()
                            .any(|t| t.kind == "exposure" && t.text.starts_with(&e.event));
                        if !seen {
                            inc.timeline
                                .push(entry(at, ENGINE, "exposure", signal.why()));
                            inc.updated_at = at;
                            changes.push(Change {
                                incident: inc.id.clone(),
                                kind: ChangeKind::ExposureNoted,
                            });
                            self.touch(i);
                        }
                        if e.level > self.incidents[i].level {
                            self.set_level(i, plan, e.level, at, &signal.why(), &mut changes);
                        }
                    } else if signal.level() > self.incidents[i].level {
                        self.set_level(i, plan, signal.level(), at, &signal.why(), &mut changes);
                    }
                }
                _ => {
                    let inc = self.open(plan, signal, inc_area);
                    changes.push(Change {
                        incident: inc.id.clone(),
                        kind: ChangeKind::Opened { level: inc.level },
                    });
                    self.insert(inc);
                }
            }
        }
        changes
    }

    fn open(&self, plan: &Plan, signal: &Signal, area: Area) -> Incident {
        let at = signal.at();
        let level = signal.level();
        let id = format!(
            "{}{}:{}:{}",
            if self.exercise { "EX-" } else { "" },
            plan.id,
            area,
            at.format("%Y%m%dT%H%MZ")
        );
        let lead_org = plan
            .role(&plan.lead_agency)
            .map_or_else(String::new, |r| r.org.clone());
        let command = plan.command_at(level);
        let mut inc = Incident {
            id,
            plan: plan.id.clone(),
            plan_version: plan.version.clone(),
            title: plan.title.clone(),
            area,
            category: signal.category(),
            level,
            peak_level: level,
            command,
            lead_agency: plan.lead_agency.clone(),
            status: IncidentStatus::Detected,
            exercise: self.exercise,
            opened_at: at,
            window_end: at + plan.trigger.window,
            activated_at: None,
            calm_since: None,
            closed_at: None,
            updated_at: at,
            reason: signal.why(),
            members: Vec::new(),
            tasks: Vec::new(),
            timeline: vec![entry(
                at,
                ENGINE,
                "opened",
                format!(
                    "plan {} v{} opened at level {} ({}), command: {}, lead: {} ({}); because {}",
                    plan.id,
                    plan.version,
                    level.code(),
                    level.colour(),
                    command.label(),
                    plan.lead_agency,
                    lead_org,
                    signal.why()
                ),
            )],
        };
        if let Signal::Exposure(_) = signal {
            inc.timeline
                .push(entry(at, ENGINE, "exposure", signal.why()));
        }
        join_roles_and_steps(&mut inc, plan, level, at);
        if plan.activation == Activation::Auto {
            inc.activated_at = Some(at);
            inc.status = IncidentStatus::Activated;
            inc.timeline.push(entry(
                at,
                ENGINE,
                "activated",
                "activated automatically (plan activation = auto)".into(),
            ));
        }
        inc
    }

    fn set_level(
        &mut self,
        i: usize,
        plan: &Plan,
        to: Level,
        at: DateTime<Utc>,
        why: &str,
        changes: &mut Vec<Change>,
    ) {
        let inc = &mut self.incidents[i];
        let from = inc.level;
        if to == from {
            return;
        }
        inc.level = to;
        inc.updated_at = at;
        if to > from {
            inc.peak_level = inc.peak_level.max(to);
            let command = inc.command.max(plan.command_at(to));
            let moved = if command != inc.command {
                format!(
                    "; command moves up from {} to {}",
                    inc.command.label(),
                    command.label()
                )
            } else {
                String::new()
            };
            inc.command = command;
            inc.timeline.push(entry(
                at,
                ENGINE,
                "escalated",
                format!(
                    "level {} → {}{moved}; because {why}",
                    from.code(),
                    to.code()
                ),
            ));
            join_roles_and_steps(inc, plan, to, at);
            changes.push(Change {
                incident: inc.id.clone(),
                kind: ChangeKind::Escalated { from, to },
            });
        } else {
            inc.timeline.push(entry(
                at,
                ENGINE,
                "lowered",
                format!(
                    "level {} → {}; command stays with {} until stand-down; because {why}",
                    from.code(),
                    to.code(),
                    inc.command.label()
                ),
            ));
            changes.push(Change {
                incident: inc.id.clone(),
                kind: ChangeKind::Lowered { from, to },
            });
        }
        if to < plan.stand_down.below {
            if inc.calm_since.is_none() {
                inc.calm_since = Some(at);
                inc.status = IncidentStatus::Stabilised;
                inc.timeline.push(entry(
                    at,
                    ENGINE,
                    "stabilised",
                    format!(
                        "level below {}: stands down after {} without a rise{}",
                        plan.stand_down.below.code(),
                        crate::duration::show(plan.stand_down.quiet_for),
                        if plan.stand_down.require_tasks_done {
                            " once every task is done"
                        } else {
                            ""
                        }
                    ),
                ));
                changes.push(Change {
                    incident: inc.id.clone(),
                    kind: ChangeKind::Stabilised,
                });
            }
        } else if inc.calm_since.take().is_some() {
            inc.status = resumed_status(inc);
            inc.timeline.push(entry(
                at,
                ENGINE,
                "resumed",
                format!(
                    "level back at {} (stand-down needs below {}): response resumes",
                    to.code(),
                    plan.stand_down.below.code()
                ),
            ));
            changes.push(Change {
                incident: inc.id.clone(),
                kind: ChangeKind::Resumed,
            });
        }
        self.touch(i);
    }

    /// Escalates overdue tasks and stands down calm incidents as of `now`.
    pub fn sweep(&mut self, lib: &Library, now: DateTime<Utc>) -> Vec<Change> {
        let plans = lib.by_id();
        let mut changes = Vec::new();
        for i in 0..self.incidents.len() {
            if !self.incidents[i].is_open() {
                continue;
            }
            let Some(plan) = plans.get(self.incidents[i].plan.as_str()) else {
                continue;
            };
            if sweep_one(&mut self.incidents[i], plan, now, &mut changes) {
                self.touch(i);
            }
        }
        changes
    }

    fn idx(&self, id: &str) -> Result<usize, RespondError> {
        self.by_id
            .get(id)
            .copied()
            .ok_or_else(|| RespondError::NoIncident(id.to_string()))
    }

    fn refuse(&mut self, i: usize, at: DateTime<Utc>, org: &str, msg: String) -> Outcome {
        let inc = &mut self.incidents[i];
        inc.timeline.push(entry(at, org, "refused", msg.clone()));
        inc.updated_at = at;
        self.touch(i);
        Outcome::Refused(msg)
    }

    /// Task-force membership check; refusals are audited on the timeline.
    fn check_member(
        &mut self,
        i: usize,
        org: &str,
        what: &str,
        at: DateTime<Utc>,
    ) -> Option<Outcome> {
        let inc = &self.incidents[i];
        if !inc.has_org(org) {
            let members: Vec<String> = inc
                .members
                .iter()
                .map(|m| format!("{} ({})", m.org, m.role))
                .collect();
            let msg = format!(
                "{what} by {org:?} refused: {org:?} is not in the task force of {} (members: {})",
                inc.id,
                members.join(", ")
            );
            return Some(self.refuse(i, at, org, msg));
        }
        if !inc.is_open() {
            let msg = format!(
                "{what} by {org:?} refused: incident {} is {}",
                inc.id, inc.status
            );
            return Some(self.refuse(i, at, org, msg));
        }
        None
    }

    /// The lead agency confirms the plan is activated.
    pub fn activate(
        &mut self,
        id: &str,
        org: &str,
        at: DateTime<Utc>,
    ) -> Result<Outcome, RespondError> {
        let i = self.idx(id)?;
        if let Some(o) = self.check_member(i, org, "activation", at) {
            return Ok(o);
        }
        let inc = &self.incidents[i];
        let lead_org = inc
            .org_for(&inc.lead_agency)
            .unwrap_or_default()
            .to_string();
        if org != lead_org {
            let msg = format!(
                "activation by {org:?} refused: only the lead agency {} ({lead_org}) activates",
                inc.lead_agency
            );
            return Ok(self.refuse(i, at, org, msg));
        }
        if inc.activated_at.is_some() {
            return Ok(Outcome::Unchanged(format!("{id} is already activated")));
        }
        let inc = &mut self.incidents[i];
        inc.activated_at = Some(at);
        if inc.status == IncidentStatus::Detected {
            inc.status = IncidentStatus::Activated;
        }
        inc.updated_at = at;
        let took = crate::duration::show(at - inc.opened_at);
        inc.timeline.push(entry(
            at,
            org,
            "activated",
            format!("plan activated by the lead agency, {took} after detection"),
        ));
        self.touch(i);
        Ok(Outcome::Applied(format!("{id} activated")))
    }

    /// A task-force member acknowledges a task.
    pub fn ack(
        &mut self,
        id: &str,
        task: &str,
        org: &str,
        at: DateTime<Utc>,
    ) -> Result<Outcome, RespondError> {
        self.task_update(id, task, org, at, false)
    }

    /// A task-force member reports a task done.
    pub fn done(
        &mut self,
        id: &str,
        task: &str,
        org: &str,
        at: DateTime<Utc>,
    ) -> Result<Outcome, RespondError> {
        self.task_update(id, task, org, at, true)
    }

    fn task_update(
        &mut self,
        id: &str,
        task: &str,
        org: &str,
        at: DateTime<Utc>,
        done: bool,
    ) -> Result<Outcome, RespondError> {
        let i = self.idx(id)?;
        let what = format!("{} of task {task}", if done { "completion" } else { "ack" });
        let Some(t) = self.incidents[i].tasks.iter().position(|x| x.id == task) else {
            let known: Vec<&str> = self.incidents[i]
                .tasks
                .iter()
                .map(|x| x.id.as_str())
                .collect();
            return Err(RespondError::NoTask {
                incident: id.to_string(),
                task: task.to_string(),
                known: known.join(", "),
            });
        };
        if let Some(o) = self.check_member(i, org, &what, at) {
            return Ok(o);
        }
        let inc = &self.incidents[i];
        let cur = &inc.tasks[t];
        if cur.status == TaskStatus::Done || (!done && cur.status == TaskStatus::Acked) {
            return Ok(Outcome::Unchanged(format!(
                "task {task} is already {}",
                cur.status
            )));
        }
        if done {
            let waiting: Vec<&str> = cur
                .after
                .iter()
                .filter(|a| inc.tasks.iter().any(|x| &x.id == *a && !x.is_done()))
                .map(String::as_str)
                .collect();
            if !waiting.is_empty() {
                let msg = format!(
                    "{what} by {org:?} refused: it waits for {} to be done first",
                    waiting.join(", ")
                );
                return Ok(self.refuse(i, at, org, msg));
            }
        }
        let inc = &mut self.incidents[i];
        let late = at > inc.tasks[t].due_at;
        let tk = &mut inc.tasks[t];
        if tk.acked_at.is_none() {
            tk.acked_at = Some(at);
            tk.acked_by = Some(org.to_string());
        }
        let kind = if done {
            tk.status = TaskStatus::Done;
            tk.done_at = Some(at);
            tk.done_by = Some(org.to_string());
            "task_done"
        } else {
            tk.status = TaskStatus::Acked;
            "task_acked"
        };
        let text = format!(
            "{} {}{}",
            tk.id,
            if done { "done" } else { "acknowledged" },
            if done && late {
                format!(
                    " ({} after its deadline)",
                    crate::duration::show(at - tk.due_at)
                )
            } else {
                String::new()
            }
        );
        if matches!(inc.status, IncidentStatus::Activated) {
            inc.status = IncidentStatus::Responding;
        }
        inc.timeline.push(entry(at, org, kind, text.clone()));
        inc.updated_at = at;
        self.touch(i);
        Ok(Outcome::Applied(text))
    }

    /// The lead agency closes the incident by hand (stand-down by decision).
    pub fn close(
        &mut self,
        id: &str,
        org: &str,
        at: DateTime<Utc>,
        note: &str,
    ) -> Result<Outcome, RespondError> {
        let i = self.idx(id)?;
        if let Some(o) = self.check_member(i, org, "stand-down", at) {
            return Ok(o);
        }
        let inc = &mut self.incidents[i];
        inc.status = IncidentStatus::Closed;
        inc.closed_at = Some(at);
        inc.updated_at = at;
        inc.timeline.push(entry(
            at,
            org,
            "closed",
            format!("stood down by decision: {note}"),
        ));
        self.touch(i);
        Ok(Outcome::Applied(format!("{id} closed")))
    }

    /// The after-action review of a closed incident.
    pub fn review(
        &mut self,
        id: &str,
        org: &str,
        at: DateTime<Utc>,
        note: &str,
    ) -> Result<Outcome, RespondError> {
        let i = self.idx(id)?;
        let inc = &self.incidents[i];
        if !inc.has_org(org) {
            let msg = format!("review by {org:?} refused: not in the task force of {id}");
            return Ok(self.refuse(i, at, org, msg));
        }
        if inc.status != IncidentStatus::Closed {
            let msg = format!(
                "review by {org:?} refused: {id} is {}, reviews follow stand-down",
                inc.status
            );
            return Ok(self.refuse(i, at, org, msg));
        }
        let inc = &mut self.incidents[i];
        inc.status = IncidentStatus::Reviewed;
        inc.updated_at = at;
        inc.timeline
            .push(entry(at, org, "reviewed", note.to_string()));
        self.touch(i);
        Ok(Outcome::Applied(format!("{id} reviewed")))
    }
}

fn resumed_status(inc: &Incident) -> IncidentStatus {
    if inc.activated_at.is_none() {
        IncidentStatus::Detected
    } else if inc.tasks.iter().any(|t| t.acked_at.is_some()) {
        IncidentStatus::Responding
    } else {
        IncidentStatus::Activated
    }
}

/// Adds the roles and tasks the plan has for `level` that are not there yet.
fn join_roles_and_steps(inc: &mut Incident, plan: &Plan, level: Level, at: DateTime<Utc>) {
    for r in &plan.task_force {
        if r.join_at <= level && !inc.members.iter().any(|m| m.role == r.id) {
            inc.members.push(Member {
                role: r.id.clone(),
                org: r.org.clone(),
                joined_at: at,
                level,
            });
            inc.timeline.push(entry(
                at,
                ENGINE,
                "member_joined",
                format!("{} ({}) joins the task force as {}", r.org, r.name, r.id),
            ));
        }
    }
    for s in &plan.steps {
        if s.min_level <= level && !inc.tasks.iter().any(|t| t.id == s.id) {
            let org = inc.org_for(&s.owner).unwrap_or_default().to_string();
            let due_at = at + s.due;
            inc.tasks.push(Task {
                id: s.id.clone(),
                title: s.title.clone(),
                owner_role: s.owner.clone(),
                org: org.clone(),
                after: s.after.clone(),
                checklist: s.checklist.clone(),
                resources: s.resources.clone(),
                created_at: at,
                due_at,
                status: TaskStatus::Open,
                acked_at: None,
                acked_by: None,
                done_at: None,
                done_by: None,
                escalations: 0,
            });
            inc.timeline.push(entry(
                at,
                ENGINE,
                "task_created",
                format!(
                    "{} → {} ({org}), due {}",
                    s.id,
                    s.owner,
                    due_at.format("%Y-%m-%d %H:%M UTC")
                ),
            ));
        }
    }
}

/// The sweep for one incident; true when it changed.
fn sweep_one(
    inc: &mut Incident,
    plan: &Plan,
    now: DateTime<Utc>,
    changes: &mut Vec<Change>,
) -> bool {
    let mut changed = false;
    let esc = plan.escalation;
    for k in 0..inc.tasks.len() {
        let t = &inc.tasks[k];
        // Cheap comparisons first: most tasks are done, capped or not yet due.
        if now <= t.due_at || t.status == TaskStatus::Done || t.escalations >= esc.max {
            continue;
        }
        if t.escalations > 0 && now <= t.due_at + esc.every * i32::from(t.escalations) {
            continue;
        }
        let step = t.escalations + 1;
        let to = escalation_target(inc, plan, step);
        // One buffer for the timeline text: this runs for every overdue task.
        let mut text = String::with_capacity(t.id.len() + t.org.len() + to.len() + 64);
        text.push_str(&t.id);
        text.push_str(" (");
        text.push_str(&t.org);
        text.push_str(", owner ");
        text.push_str(&t.owner_role);
        text.push_str(") overdue by ");
        crate::duration::write_to(&mut text, now - t.due_at);
        text.push_str(": escalated to ");
        text.push_str(&to);
        let id = t.id.clone();
        inc.tasks[k].escalations = step;
        inc.timeline
            .push(entry(now, ENGINE, "task_escalated", text));
        changes.push(Change {
            incident: inc.id.clone(),
            kind: ChangeKind::TaskEscalated { task: id, step, to },
        });
        changed = true;
    }
    if let Some(calm) = inc.calm_since {
        let sd = plan.stand_down;
        let quiet_done = now >= calm + sd.quiet_for;
        let tasks_ok = !sd.require_tasks_done || inc.tasks.iter().all(Task::is_done);
        if quiet_done && tasks_ok {
            inc.status = IncidentStatus::Closed;
            inc.closed_at = Some(now);
            inc.timeline.push(entry(
                now,
                ENGINE,
                "closed",
                format!(
                    "stand-down: level below {} since {}",
                    sd.below.code(),
                    calm.format("%Y-%m-%d %H:%M UTC")
                ),
            ));
            changes.push(Change {
                incident: inc.id.clone(),
                kind: ChangeKind::Closed,
            });
            changed = true;
        }
    }
    if changed {
        inc.updated_at = now;
    }
    changed
}

/// Escalation chain: the lead agency first, then the command level above
/// the incident's (or the central command when it already leads).
fn escalation_target(inc: &Incident, plan: &Plan, step: u8) -> String {
    if step <= 1 {
        let org = inc.org_for(&plan.lead_agency).unwrap_or_default();
        return format!("lead agency {} ({org})", plan.lead_agency);
    }
    let above = match inc.command {
        CommandLevel::Local => CommandLevel::Embassy,
        CommandLevel::Embassy | CommandLevel::Central => CommandLevel::Central,
    };
    above.label().to_string()
}
