//! Drills (演练): a scenario file of injected events and responder actions at
//! relative times, replayed on a simulated clock in exercise mode, and the
//! scorecard of the response against each plan's SLAs and goals.

use crate::duration;
use crate::engine::{Book, ExposureSignal, LevelChange, Outcome, Signal};
use crate::error::{FileError, from_toml, line_of};
use crate::library::Library;
use crate::plan::Metric;
use chrono::{DateTime, TimeDelta, Utc};
use farguard_model::{Area, Category, Incident, Level, TaskStatus};
use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDrill {
    id: String,
    title: String,
    /// Where the injected events come from (real data, with attribution).
    source: String,
    start: Spanned<String>,
    tick: Spanned<String>,
    until: Spanned<String>,
    #[serde(default)]
    plans: Vec<String>,
    inject: Vec<Spanned<RawInject>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInject {
    at: Spanned<String>,
    kind: Spanned<String>,
    #[serde(default)]
    area: Option<Spanned<String>>,
    #[serde(default)]
    category: Option<Spanned<String>>,
    #[serde(default)]
    from: Option<Spanned<String>>,
    #[serde(default)]
    to: Option<Spanned<String>>,
    #[serde(default)]
    level: Option<Spanned<String>>,
    #[serde(default)]
    why: Option<String>,
    #[serde(default)]
    event: Option<String>,
    #[serde(default)]
    sites: u64,
    #[serde(default)]
    people: u64,
    #[serde(default)]
    headcount: u64,
    #[serde(default)]
    value_usd: f64,
    #[serde(default)]
    kinds: Vec<String>,
    #[serde(default)]
    plan: Option<Spanned<String>>,
    #[serde(default)]
    org: Option<String>,
    #[serde(default)]
    task: Option<String>,
    #[serde(default)]
    note: Option<String>,
}

/// A responder action in a drill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionKind {
    Activate,
    Ack(String),
    Done(String),
    Close(String),
}

/// One injected item.
#[derive(Debug, Clone, PartialEq)]
pub enum Inject {
    Signal(Signal),
    /// A responder acts on the incident of (plan, area).
    Action {
        plan: String,
        area: Area,
        org: String,
        kind: ActionKind,
    },
}

/// A validated drill scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Drill {
    pub id: String,
    pub title: String,
    pub source: String,
    pub file: String,
    pub start: DateTime<Utc>,
    pub tick: TimeDelta,
    pub until: TimeDelta,
    /// Plans the scorecard covers; empty: every incident the drill opened.
    pub plans: Vec<String>,
    pub injects: Vec<(TimeDelta, Inject)>,
}

/// Parses and validates a drill file.
pub fn parse_drill(file: &str, text: &str) -> Result<Drill, Vec<FileError>> {
    let raw: RawDrill = toml::from_str(text).map_err(|e| vec![from_toml(file, text, &e)])?;
    let mut errs: Vec<FileError> = Vec::new();
    let mut err = |span: std::ops::Range<usize>, key: String, message: String| {
        errs.push(FileError {
            file: file.to_string(),
            line: line_of(text, span.start),
            key,
            message,
        });
    };
    let start = match DateTime::parse_from_rfc3339(raw.start.get_ref()) {
        Ok(t) => Some(t.with_timezone(&Utc)),
        Err(e) => {
            err(
                raw.start.span(),
                "start".into(),
                format!("{e}; write RFC 3339 such as 2019-10-24T14:30:00Z"),
            );
            None
        }
    };
    let mut dur = |s: &Spanned<String>, key: &str| match duration::parse(s.get_ref()) {
        Ok(d) => Some(d),
        Err(e) => {
            err(s.span(), key.to_string(), e);
            None
        }
    };
    let tick = dur(&raw.tick, "tick").filter(|d| *d > TimeDelta::zero());
    let until = dur(&raw.until, "until");
    let mut injects = Vec::new();
    for (i, inj) in raw.inject.iter().enumerate() {
        let r = inj.get_ref();
        let key = |f: &str| format!("inject[{i}].{f}");
        let at = match duration::parse(r.at.get_ref()) {
            Ok(d) => d,
            Err(e) => {
                errs.push(FileError {
                    file: file.to_string(),
                    line: line_of(text, r.at.span().start),
                    key: key("at"),
                    message: e,
                });
                continue;
            }
        };
        let need = |v: &Option<Spanned<String>>, f: &str, errs: &mut Vec<FileError>| {
            if v.is_none() {
                errs.push(FileError {
                    file: file.to_string(),
                    line: line_of(text, inj.span().start),
                    key: key(f),
                    message: format!("a {} inject needs `{f}`", r.kind.get_ref()),
                });
            }
            v.as_ref().map(|s| s.get_ref().clone())
        };
        let mut local: Vec<FileError> = Vec::new();
        let area = need(&r.area, "area", &mut local).and_then(|a| match Area::parse(&a) {
            Ok(a) => Some(a),
            Err(e) => {
                local.push(FileError {
                    file: file.to_string(),
                    line: line_of(text, r.area.as_ref().map_or(0, |s| s.span().start)),
                    key: key("area"),
                    message: e.to_string(),
                });
                None
            }
        });
        let level_of = |v: &Option<Spanned<String>>, f: &str, local: &mut Vec<FileError>| {
            let s = need(v, f, local)?;
            match Level::parse(&s) {
                Ok(l) => Some(l),
                Err(_) => {
                    local.push(FileError {
                        file: file.to_string(),
                        line: line_of(text, v.as_ref().map_or(0, |s| s.span().start)),
                        key: key(f),
                        message: format!("unknown level {s:?}; use 0, IV, III, II or I"),
                    });
                    None
                }
            }
        };
        let category = |local: &mut Vec<FileError>| {
            let s = need(&r.category, "category", local)?;
            match Category::parse(&s) {
                Ok(c) => Some(c),
                Err(_) => {
                    local.push(FileError {
                        file: file.to_string(),
                        line: line_of(text, r.category.as_ref().map_or(0, |s| s.span().start)),
                        key: key("category"),
                        message: format!("unknown category {s:?}"),
                    });
                    None
                }
            }
        };
        let why = r.why.clone().unwrap_or_default();
        let item = match r.kind.get_ref().as_str() {
            "level" => {
                let c = category(&mut local);
                let from = level_of(&r.from, "from", &mut local);
                let to = level_of(&r.to, "to", &mut local);
                match (area.clone(), c, from, to, start) {
                    (Some(area), Some(category), Some(from), Some(to), Some(s)) => {
                        Some(Inject::Signal(Signal::Level(LevelChange {
                            area,
                            category,
                            from,
                            to,
                            at: s + at,
                            why,
                        })))
                    }
                    _ => None,
                }
            }
            "exposure" => {
                let c = category(&mut local);
                let level = level_of(&r.level, "level", &mut local);
                match (area.clone(), c, level, start) {
                    (Some(area), Some(category), Some(level), Some(s)) => {
                        Some(Inject::Signal(Signal::Exposure(ExposureSignal {
                            area,
                            category,
                            level,
                            at: s + at,
                            event: r.event.clone().unwrap_or_else(|| format!("inject-{i}")),
                            sites: r.sites,
                            people: r.people,
                            headcount: r.headcount,
                            value_usd: r.value_usd,
                            kinds: r.kinds.clone(),
                            why,
                        })))
                    }
                    _ => None,
                }
            }
            k @ ("activate" | "ack" | "done" | "close") => {
                let plan = need(&r.plan, "plan", &mut local);
                let org = r.org.clone();
                if org.is_none() {
                    local.push(FileError {
                        file: file.to_string(),
                        line: line_of(text, inj.span().start),
                        key: key("org"),
                        message: format!("a {k} inject needs `org` (who acts)"),
                    });
                }
                let kind = match k {
                    "activate" => Some(ActionKind::Activate),
                    "close" => Some(ActionKind::Close(r.note.clone().unwrap_or_default())),
                    _ => match &r.task {
                        None => {
                            local.push(FileError {
                                file: file.to_string(),
                                line: line_of(text, inj.span().start),
                                key: key("task"),
                                message: format!("a {k} inject needs `task` (a step id)"),
                            });
                            None
                        }
                        Some(t) if k == "ack" => Some(ActionKind::Ack(t.clone())),
                        Some(t) => Some(ActionKind::Done(t.clone())),
                    },
                };
                match (plan, area.clone(), org, kind) {
                    (Some(plan), Some(area), Some(org), Some(kind)) => Some(Inject::Action {
                        plan,
                        area,
                        org,
                        kind,
                    }),
                    _ => None,
                }
            }
            other => {
                local.push(FileError {
                    file: file.to_string(),
                    line: line_of(text, r.kind.span().start),
                    key: key("kind"),
                    message: format!(
                        "unknown inject kind {other:?}; use level, exposure, activate, ack, done or close"
                    ),
                });
                None
            }
        };
        if local.is_empty()
            && let Some(item) = item
        {
            injects.push((at, item));
        }
        errs.extend(local);
    }
    if raw.inject.is_empty() {
        errs.push(FileError {
            file: file.to_string(),
            line: 1,
            key: "inject".into(),
            message: "no [[inject]] items; a drill needs at least one event".into(),
        });
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    let (Some(start), Some(tick), Some(until)) = (start, tick, until) else {
        return Err(vec![FileError {
            file: file.to_string(),
            line: line_of(text, raw.tick.span().start),
            key: "tick".into(),
            message: "tick must be longer than zero (e.g. \"15m\")".into(),
        }]);
    };
    injects.sort_by_key(|(at, _)| *at);
    Ok(Drill {
        id: raw.id,
        title: raw.title,
        source: raw.source,
        file: file.to_string(),
        start,
        tick,
        until,
        plans: raw.plans,
        injects,
    })
}

/// Whether a score was met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Met,
    Missed,
    /// The capability that would be measured does not exist yet.
    NotMeasured,
}

impl Verdict {
    pub fn code(self) -> &'static str {
        match self {
            Verdict::Met => "met",
            Verdict::Missed => "missed",
            Verdict::NotMeasured => "not yet measured",
        }
    }
}

/// One line of a scorecard.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub metric: String,
    pub target: String,
    pub actual: String,
    pub verdict: Verdict,
}

/// The scorecard for one incident the drill opened.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentScore {
    pub incident: String,
    pub plan: String,
    pub area: String,
    pub peak_level: Level,
    pub final_status: String,
    pub tasks: usize,
    pub tasks_on_time: usize,
    pub escalations: u32,
    pub refusals: usize,
    pub scores: Vec<Score>,
}

/// What a drill produced.
#[derive(Debug, Clone)]
pub struct Scorecard {
    pub drill: String,
    pub title: String,
    pub source: String,
    /// Always `Exercise` (CAP 1.2 status).
    pub cap_status: &'static str,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// What happened, in order (simulated time, text).
    pub log: Vec<(DateTime<Utc>, String)>,
    pub incidents: Vec<IncidentScore>,
    /// The exercise incidents themselves (for sitreps or storing).
    pub book: Book,
}

impl Scorecard {
    /// Met / scored (not-yet-measured lines excluded).
    pub fn met(&self) -> (usize, usize) {
        let all = self.incidents.iter().flat_map(|i| &i.scores);
        let scored: Vec<_> = all.filter(|s| s.verdict != Verdict::NotMeasured).collect();
        (
            scored.iter().filter(|s| s.verdict == Verdict::Met).count(),
            scored.len(),
        )
    }
}

/// Replays `drill` against `lib` on a simulated clock, in exercise mode.
pub fn run_drill(lib: &Library, drill: &Drill) -> Scorecard {
    let mut book = Book::new(Vec::new(), true);
    let mut log: Vec<(DateTime<Utc>, String)> = Vec::new();
    let end = drill.start + drill.until;
    let mut times: Vec<DateTime<Utc>> = drill
        .injects
        .iter()
        .map(|(at, _)| drill.start + *at)
        .collect();
    let mut t = drill.start;
    while t <= end {
        times.push(t);
        t += drill.tick;
    }
    times.sort_unstable();
    times.dedup();
    let mut next = 0;
    for now in times {
        for c in book.sweep(lib, now) {
            log.push((now, format!("{}: {:?}", c.incident, c.kind)));
        }
        while next < drill.injects.len() && drill.start + drill.injects[next].0 <= now {
            let (_, inj) = &drill.injects[next];
            next += 1;
            match inj {
                Inject::Signal(s) => {
                    let changes = book.apply(lib, s);
                    if changes.is_empty() {
                        log.push((
                            now,
                            format!(
                                "inject {:?} {} {}: no plan reacts",
                                s.area().to_string(),
                                s.category(),
                                s.level().code()
                            ),
                        ));
                    }
                    for c in changes {
                        log.push((now, format!("{}: {:?}", c.incident, c.kind)));
                    }
                }
                Inject::Action {
                    plan,
                    area,
                    org,
                    kind,
                } => {
                    let Some(id) = book
                        .incidents()
                        .iter()
                        .filter(|i| &i.plan == plan && &i.area == area)
                        .max_by_key(|i| i.opened_at)
                        .map(|i| i.id.clone())
                    else {
                        log.push((
                            now,
                            format!("{org}: no incident of plan {plan} in {area} to act on"),
                        ));
                        continue;
                    };
                    let res = match kind {
                        ActionKind::Activate => book.activate(&id, org, now),
                        ActionKind::Ack(t) => book.ack(&id, t, org, now),
                        ActionKind::Done(t) => book.done(&id, t, org, now),
                        ActionKind::Close(n) => book.close(&id, org, now, n),
                    };
                    let text = match res {
                        Ok(Outcome::Applied(m)) => format!("{id}: {org}: {m}"),
                        Ok(Outcome::Unchanged(m)) => format!("{id}: {org}: unchanged: {m}"),
                        Ok(Outcome::Refused(m)) => format!("{id}: REFUSED: {m}"),
                        Err(e) => format!("{id}: {org}: error: {e}"),
                    };
                    log.push((now, text));
                }
            }
        }
    }
    let incidents = book
        .incidents()
        .iter()
        .filter(|i| drill.plans.is_empty() || drill.plans.contains(&i.plan))
        .map(|i| score(lib, i, end))
        .collect();
    Scorecard {
        drill: drill.id.clone(),
        title: drill.title.clone(),
        source: drill.source.clone(),
        cap_status: "Exercise",
        start: drill.start,
        end,
        log,
        incidents,
        book,
    }
}

fn score(lib: &Library, inc: &Incident, end: DateTime<Utc>) -> IncidentScore {
    let plan = lib.get(&inc.plan);
    let tasks = inc.tasks.len();
    let on_time = inc
        .tasks
        .iter()
        .filter(|t| t.on_time() == Some(true))
        .count();
    let escalations: u32 = inc.tasks.iter().map(|t| u32::from(t.escalations)).sum();
    let refusals = inc.timeline.iter().filter(|e| e.kind == "refused").count();
    let mut scores = Vec::new();
    if let Some(p) = plan {
        let act = inc.activated_at.map(|a| a - inc.opened_at);
        scores.push(Score {
            metric: "time_to_activate".into(),
            target: format!("≤ {}", duration::show(p.sla.activate_within)),
            actual: act.map_or_else(|| "not activated".into(), duration::show),
            verdict: match act {
                Some(d) if d <= p.sla.activate_within => Verdict::Met,
                _ => Verdict::Missed,
            },
        });
        scores.push(Score {
            metric: "time_to_notify".into(),
            target: format!("≤ {}", duration::show(p.sla.notify_within)),
            actual: "notifications are not sent yet (issue 7: notify)".into(),
            verdict: Verdict::NotMeasured,
        });
        let share = if tasks == 0 {
            1.0
        } else {
            on_time as f64 / tasks as f64
        };
        let target = p
            .goals
            .iter()
            .find(|g| g.metric == Metric::TasksOnTime)
            .and_then(|g| g.target)
            .unwrap_or(1.0);
        let open_overdue = inc
            .tasks
            .iter()
            .filter(|t| t.status != TaskStatus::Done && end > t.due_at)
            .count();
        scores.push(Score {
            metric: "tasks_on_time".into(),
            target: format!("≥ {:.0}%", target * 100.0),
            actual: format!(
                "{on_time}/{tasks} ({:.0}%), {open_overdue} still open past deadline, {escalations} escalation(s)",
                share * 100.0
            ),
            verdict: if share + 1e-9 >= target { Verdict::Met } else { Verdict::Missed },
        });
        scores.push(Score {
            metric: "share_accounted".into(),
            target: p
                .goals
                .iter()
                .find(|g| g.metric == Metric::ShareAccounted)
                .map_or_else(|| "every exposed person".into(), |g| g.text.clone()),
            actual: "check-in is not built yet (issue 7: notify and check-in)".into(),
            verdict: Verdict::NotMeasured,
        });
        for g in &p.goals {
            if g.metric == Metric::TimeToActivate
                && let Some(w) = g.within
            {
                let act = inc.activated_at.map(|a| a - inc.opened_at);
                scores.push(Score {
                    metric: format!("goal {}", g.id),
                    target: g.text.clone(),
                    actual: act.map_or_else(|| "not activated".into(), duration::show),
                    verdict: match act {
                        Some(d) if d <= w => Verdict::Met,
                        _ => Verdict::Missed,
                    },
                });
            }
        }
    }
    IncidentScore {
        incident: inc.id.clone(),
        plan: inc.plan.clone(),
        area: inc.area.to_string(),
        peak_level: inc.peak_level,
        final_status: inc.status.to_string(),
        tasks,
        tasks_on_time: on_time,
        escalations,
        refusals,
        scores,
    }
}
