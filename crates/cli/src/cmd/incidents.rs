//! `farguard incidents`: run the trigger engine on graded levels and
//! exposures, sweep for overdue tasks and stand-downs, and list, show,
//! activate, close and review incidents. The wiring between grade, expose
//! and respond lives here (`trigger`), so the demo reuses it.

use super::{Ctx, load_guideline, plans};
use crate::out;
use anyhow::{Context, Result, bail};
use chrono::{DateTime, Duration, Utc};
use farguard_expose::{QueryArea, Roster, SiteIndex, Window, expose_event};
use farguard_grade::{Guideline, assess};
use farguard_model::{Area, Assessment, Category, Incident, Level};
use farguard_respond::{Book, Change, ExposureSignal, LevelChange, Library, Outcome, Signal};
use farguard_store::{IncidentQuery, Store};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// List incidents, newest first (open ones by default).
    List {
        /// Include closed and reviewed incidents.
        #[arg(long)]
        all: bool,
        /// Show drill (exercise) incidents instead of real ones.
        #[arg(long)]
        exercise: bool,
    },
    /// One incident: task force, tasks, timeline.
    Show { id: String },
    /// Grade as of --at, compare with the levels stored before, and let the
    /// plans react: level changes and exposures open one incident per
    /// (plan, area, window), raise open ones, or let them stand down.
    ///
    /// Re-running with the same --at changes nothing.
    Trigger {
        /// Grade as of this time (RFC 3339 or a date = end of that day);
        /// default: the end of the newest stored event's day.
        #[arg(long)]
        at: Option<String>,
        /// Plan directory (default: ./config/plans, else the shipped plans).
        #[arg(long)]
        plans: Option<PathBuf>,
        /// Guideline file (default: the shipped one).
        #[arg(long)]
        guideline: Option<PathBuf>,
    },
    /// Escalate overdue tasks and close incidents whose stand-down condition
    /// holds, as of --now (default: the wall clock; any time can be given,
    /// which is how a clock is simulated).
    Sweep {
        #[arg(long)]
        now: Option<String>,
        #[arg(long)]
        plans: Option<PathBuf>,
    },
    /// The lead agency confirms the plan is activated.
    Activate {
        id: String,
        /// The organisation acting (must be the lead agency's).
        #[arg(long)]
        org: String,
        #[arg(long)]
        at: Option<String>,
    },
    /// Stand the incident down by decision.
    Close {
        id: String,
        #[arg(long)]
        org: String,
        #[arg(long)]
        note: String,
        #[arg(long)]
        at: Option<String>,
    },
    /// Record the after-action review of a closed incident.
    Review {
        id: String,
        #[arg(long)]
        org: String,
        #[arg(long)]
        note: String,
        #[arg(long)]
        at: Option<String>,
    },
}

/// `--at`/`--now`, or the wall clock.
pub fn when(s: Option<&str>) -> Result<DateTime<Utc>> {
    s.map_or_else(|| Ok(Utc::now()), out::parse_time)
}

/// One change as printed.
#[derive(Debug, Serialize)]
pub struct ChangeRow {
    pub incident: String,
    pub change: String,
}

pub fn change_rows(changes: &[Change]) -> Vec<ChangeRow> {
    changes
        .iter()
        .map(|c| ChangeRow {
            incident: c.incident.clone(),
            change: describe(&c.kind),
        })
        .collect()
}

fn describe(k: &farguard_respond::ChangeKind) -> String {
    use farguard_respond::ChangeKind as K;
    match k {
        K::Opened { level } => format!("opened at level {}", level.code()),
        K::Escalated { from, to } => format!("escalated {} → {}", from.code(), to.code()),
        K::Lowered { from, to } => format!("level lowered {} → {}", from.code(), to.code()),
        K::Stabilised => "stabilised (stand-down clock running)".into(),
        K::Resumed => "response resumed".into(),
        K::Reopened => "reopened within its window".into(),
        K::ExposureNoted => "new exposure noted".into(),
        K::TaskEscalated { task, step, to } => {
            format!("task {task} overdue: escalation {step} to {to}")
        }
        K::Closed => "closed (stand-down)".into(),
    }
}

/// What one trigger run did.
#[derive(Debug, Serialize)]
pub struct TriggerReport {
    pub at: String,
    pub plans: usize,
    pub plans_from: String,
    pub level_changes: usize,
    pub exposures: usize,
    pub changes: Vec<ChangeRow>,
    pub open_incidents: usize,
}

/// Level changes between what was stored before and the new grading; an
/// area × category graded before and absent now has fallen to normal.
pub fn level_changes(before: &[Assessment], now: &[Assessment], at: DateTime<Utc>) -> Vec<Signal> {
    let prev: HashMap<(String, Category), Level> = before
        .iter()
        .map(|a| ((a.area.to_string(), a.category), a.level))
        .collect();
    let mut seen: HashMap<(String, Category), Level> = HashMap::new();
    let mut out = Vec::new();
    for a in now {
        let key = (a.area.to_string(), a.category);
        let from = prev.get(&key).copied().unwrap_or(Level::Normal);
        seen.insert(key, a.level);
        if a.level != from {
            out.push(Signal::Level(LevelChange {
                area: a.area.clone(),
                category: a.category,
                from,
                to: a.level,
                at: a.at,
                why: why_of(a),
            }));
        }
    }
    for a in before {
        let key = (a.area.to_string(), a.category);
        if a.level > Level::Normal && !seen.contains_key(&key) {
            out.push(Signal::Level(LevelChange {
                area: a.area.clone(),
                category: a.category,
                from: a.level,
                to: Level::Normal,
                at,
                why: "no events above the guideline's minimum severity in the window".into(),
            }));
        }
    }
    out
}

fn why_of(a: &Assessment) -> String {
    farguard_grade::Explanation::from_json(&a.explanation)
        .map(|e| {
            let top: Vec<String> = e
                .top
                .iter()
                .take(2)
                .map(|c| format!("{} {}", c.event, c.title))
                .collect();
            format!(
                "{}; {} events in {} reports; top: {}",
                e.rule,
                e.events_counted,
                e.reports_counted,
                top.join(" | ")
            )
        })
        .unwrap_or_else(|| format!("score {:.2}", a.score))
}

/// Exposure summaries of the events in the window that touch sites.
pub fn exposures(
    store: &mut dyn Store,
    g: &Guideline,
    graded: &[Assessment],
    at: DateTime<Utc>,
) -> Result<Vec<Signal>> {
    let index = SiteIndex::build(store.sites()?);
    // People count while an itinerary leg or a posting puts them there.
    let roster = Roster::new(store.people()?, store.legs()?);
    let levels: HashMap<(String, Category), Level> = graded
        .iter()
        .map(|a| ((a.area.to_string(), a.category), a.level))
        .collect();
    let events = store.events_between(at - Duration::days(g.window_days), at)?;
    let level_of = |area: &Area, c: Category| {
        levels
            .get(&(area.to_string(), c))
            .copied()
            .unwrap_or(Level::Normal)
    };
    Ok(exposure_signals(&index, &roster, g, &level_of, &events, at))
}

/// The exposure summaries of `events` (those at or above the guideline's
/// minimum severity that touch sites or people), each at the level
/// `level_of` gives its area × category: the step `exposures` and the
/// bus's expose stage share.
pub fn exposure_signals(
    index: &SiteIndex,
    roster: &Roster,
    g: &Guideline,
    level_of: &dyn Fn(&Area, Category) -> Level,
    events: &[farguard_model::Event],
    at: DateTime<Utc>,
) -> Vec<Signal> {
    let mut out = Vec::new();
    for e in events.iter().filter(|e| e.severity >= g.min_severity) {
        let Ok(hits) = expose_event(index, e, g.radius_for(e.subtype, e.severity)) else {
            continue;
        };
        let people = match e.local_point() {
            Some(center) if !roster.people().is_empty() => {
                let circle = QueryArea::Circle {
                    center,
                    radius: g.radius_for(e.subtype, e.severity),
                };
                let in_area = index.in_area(&circle);
                roster
                    .exposed(index, &in_area, &circle, Window::at(e.occurred_at))
                    .len() as u64
            }
            _ => 0,
        };
        if hits.is_empty() && people == 0 {
            continue;
        }
        let country = e
            .location
            .as_ref()
            .and_then(|l| l.country)
            .or(e.country)
            .or_else(|| hits.first().map(|h| h.site.country));
        let Some(country) = country else { continue };
        let area = Area::Country(country);
        let level = level_of(&area, e.category);
        let mut kinds: Vec<String> = hits
            .iter()
            .map(|h| h.site.kind.code().to_string())
            .collect();
        if people > 0 {
            kinds.push("person".into());
        }
        kinds.sort();
        kinds.dedup();
        out.push(Signal::Exposure(ExposureSignal {
            area,
            category: e.category,
            level,
            at: e.occurred_at.min(at),
            event: e.id.to_string(),
            sites: hits.len() as u64,
            people,
            headcount: hits.iter().map(|h| u64::from(h.site.headcount)).sum(),
            value_usd: hits.iter().filter_map(|h| h.site.value_usd).sum(),
            kinds,
            why: format!(
                "{} ({}, severity {}); nearest: {}",
                crate::out::short(&e.title, 80),
                e.subtype.code(),
                e.severity.get(),
                hits.first().map_or_else(
                    || "registered people only".to_string(),
                    |h| format!("{} — {}", h.site.name, h.reason)
                )
            ),
        }));
    }
    out
}

/// Plans act on countries and first-level regions; H3 cells and sites are
/// graded for the map and the explanations, not as incident areas.
pub fn actionable(a: &Assessment) -> bool {
    matches!(a.area.kind(), "country" | "admin1")
}

/// The levels plans react to as of `at`: the stored events of the
/// guideline's whole lookback (the relative indicator and the surge test
/// compare with the area's own history), graded, actionable areas only.
/// The step `trigger` and the bus's grade stage share.
pub fn grade_for_plans(
    store: &mut dyn Store,
    g: &Guideline,
    at: DateTime<Utc>,
) -> Result<Vec<Assessment>> {
    let events = store.events_between(at - Duration::days(g.lookback_days()), at)?;
    Ok(assess(g, &events, at)
        .into_iter()
        .filter(actionable)
        .collect())
}

/// Grades as of `at`, turns level changes and exposures into signals, lets
/// the plans react and saves what changed. Idempotent for the same `at`.
pub fn trigger(
    store: &mut dyn Store,
    lib: &Library,
    g: &Guideline,
    at: DateTime<Utc>,
) -> Result<(Vec<Change>, usize, usize)> {
    let before: Vec<Assessment> = store
        .latest_assessments()?
        .into_iter()
        .filter(|a| a.at < at && actionable(a))
        .collect();
    let graded = grade_for_plans(store, g, at)?;
    store.save_assessments(&graded)?;
    let levels = level_changes(&before, &graded, at);
    let exposures = exposures(store, g, &graded, at)?;
    let open = store.incidents(&IncidentQuery {
        open_only: false,
        exercise: Some(false),
    })?;
    let mut book = Book::new(open, false);
    let mut changes = Vec::new();
    for s in levels.iter().chain(&exposures) {
        changes.extend(book.apply(lib, s));
    }
    for inc in book.take_dirty() {
        store.save_incident(inc)?;
    }
    Ok((changes, levels.len(), exposures.len()))
}

#[derive(Debug, Serialize)]
pub struct IncidentRow {
    pub id: String,
    pub plan: String,
    pub area: String,
    pub category: String,
    pub level: String,
    pub peak_level: String,
    pub command: String,
    pub lead_agency: String,
    pub status: String,
    pub exercise: bool,
    pub opened_at: String,
    pub tasks: usize,
    pub tasks_done: usize,
    pub tasks_overdue: usize,
    pub members: Vec<String>,
    pub reason: String,
}

pub fn row(i: &Incident, now: DateTime<Utc>) -> IncidentRow {
    IncidentRow {
        id: i.id.clone(),
        plan: i.plan.clone(),
        area: i.area.to_string(),
        category: i.category.code().into(),
        level: i.level.code().into(),
        peak_level: i.peak_level.code().into(),
        command: i.command.code().into(),
        lead_agency: i.lead_agency.clone(),
        status: i.status.code().into(),
        exercise: i.exercise,
        opened_at: i.opened_at.to_rfc3339(),
        tasks: i.tasks.len(),
        tasks_done: i.tasks.iter().filter(|t| t.is_done()).count(),
        tasks_overdue: i
            .tasks
            .iter()
            .filter(|t| !t.is_done() && now > t.due_at)
            .count(),
        members: i
            .members
            .iter()
            .map(|m| format!("{}={}", m.role, m.org))
            .collect(),
        reason: i.reason.clone(),
    }
}

pub fn print_rows(rows: &[IncidentRow]) {
    println!(
        "{:<58} {:<5} {:<8} {:<11} {:>5} {:>8}",
        "INCIDENT", "LEVEL", "COMMAND", "STATUS", "TASKS", "OVERDUE"
    );
    for r in rows {
        println!(
            "{:<58} {:<5} {:<8} {:<11} {:>2}/{:<2} {:>8}",
            r.id, r.level, r.command, r.status, r.tasks_done, r.tasks, r.tasks_overdue
        );
    }
}

#[derive(Debug, Serialize)]
struct Detail {
    #[serde(flatten)]
    row: IncidentRow,
    activated_at: Option<String>,
    closed_at: Option<String>,
    members: Vec<MemberRow>,
    tasks: Vec<TaskRow>,
    timeline: Vec<EntryRow>,
}

#[derive(Debug, Serialize)]
struct MemberRow {
    role: String,
    org: String,
    joined_at: String,
    level: String,
}

#[derive(Debug, Serialize)]
struct TaskRow {
    id: String,
    title: String,
    owner_role: String,
    org: String,
    after: Vec<String>,
    due_at: String,
    status: String,
    acked_by: Option<String>,
    done_at: Option<String>,
    done_by: Option<String>,
    on_time: Option<bool>,
    escalations: u8,
    checklist: Vec<String>,
    resources: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct EntryRow {
    pub at: String,
    pub actor: String,
    pub kind: String,
    pub text: String,
}

fn detail(i: &Incident, now: DateTime<Utc>) -> Detail {
    Detail {
        row: row(i, now),
        activated_at: i.activated_at.map(|t| t.to_rfc3339()),
        closed_at: i.closed_at.map(|t| t.to_rfc3339()),
        members: i
            .members
            .iter()
            .map(|m| MemberRow {
                role: m.role.clone(),
                org: m.org.clone(),
                joined_at: m.joined_at.to_rfc3339(),
                level: m.level.code().into(),
            })
            .collect(),
        tasks: i
            .tasks
            .iter()
            .map(|t| TaskRow {
                id: t.id.clone(),
                title: t.title.clone(),
                owner_role: t.owner_role.clone(),
                org: t.org.clone(),
                after: t.after.clone(),
                due_at: t.due_at.to_rfc3339(),
                status: t.status.code().into(),
                acked_by: t.acked_by.clone(),
                done_at: t.done_at.map(|d| d.to_rfc3339()),
                done_by: t.done_by.clone(),
                on_time: t.on_time(),
                escalations: t.escalations,
                checklist: t.checklist.clone(),
                resources: t.resources.clone(),
            })
            .collect(),
        timeline: i
            .timeline
            .iter()
            .map(|e| EntryRow {
                at: e.at.to_rfc3339(),
                actor: e.actor.clone(),
                kind: e.kind.clone(),
                text: e.text.clone(),
            })
            .collect(),
    }
}

/// Loads one incident or says how to find the ids.
pub fn load_one(store: &mut dyn Store, id: &str) -> Result<Incident> {
    store.incident(id)?.with_context(|| {
        format!("no incident {id:?}; `farguard incidents list --all` shows the ids")
    })
}

/// Applies an update to one stored incident and saves it (refusals too:
/// they are audited on the timeline). Refusals exit non-zero.
pub fn update(
    ctx: &Ctx,
    id: &str,
    f: impl FnOnce(&mut Book) -> std::result::Result<Outcome, farguard_respond::RespondError>,
) -> Result<ExitCode> {
    let mut store = ctx.store()?;
    let inc = load_one(&mut *store, id)?;
    let mut book = Book::new(vec![inc], false);
    let outcome = f(&mut book)?;
    for inc in book.take_dirty() {
        store.save_incident(inc)?;
    }
    let (status, text, code) = match outcome {
        Outcome::Applied(m) => ("applied", m, ExitCode::SUCCESS),
        Outcome::Unchanged(m) => ("unchanged", m, ExitCode::SUCCESS),
        Outcome::Refused(m) => ("refused", m, ExitCode::FAILURE),
    };
    if ctx.json {
        out::json(&serde_json::json!({ "incident": id, "outcome": status, "message": text }))?;
    } else if status == "refused" {
        eprintln!("refused (recorded on the incident's timeline): {text}");
    } else {
        println!("{status}: {text}");
    }
    Ok(code)
}

pub fn run(ctx: &Ctx, action: Action) -> Result<ExitCode> {
    match action {
        Action::List { all, exercise } => {
            let mut store = ctx.store()?;
            let incs = store.incidents(&IncidentQuery {
                open_only: !all,
                exercise: Some(exercise),
            })?;
            let now = Utc::now();
            let rows: Vec<IncidentRow> = incs.iter().map(|i| row(i, now)).collect();
            if ctx.json {
                out::json(&rows)?;
            } else if rows.is_empty() {
                println!(
                    "no {}incidents{}; `farguard incidents trigger` lets the plans react to graded levels",
                    if all { "" } else { "open " },
                    if exercise { " from drills" } else { "" }
                );
            } else {
                print_rows(&rows);
            }
        }
        Action::Show { id } => {
            let mut store = ctx.store()?;
            let inc = load_one(&mut *store, &id)?;
            let now = Utc::now();
            if ctx.json {
                out::json(&detail(&inc, now))?;
            } else {
                print!("{}", farguard_respond::sitrep::markdown(&inc, None, now));
            }
        }
        Action::Trigger {
            at,
            plans: dir,
            guideline,
        } => {
            let mut store = ctx.store()?;
            let g = load_guideline(guideline.as_deref())?;
            let (lib, _, from) = plans::load(dir.as_deref())?;
            let at = match at {
                Some(s) => out::parse_time(&s)?,
                None => match store.event_time_range()? {
                    Some((_, newest)) => newest + Duration::days(1),
                    None => bail!("no events stored; `farguard ingest FILE` first, or give --at"),
                },
            };
            let (changes, nl, nx) = trigger(&mut *store, &lib, &g, at)?;
            let open = store.incidents(&IncidentQuery {
                open_only: true,
                exercise: Some(false),
            })?;
            let rep = TriggerReport {
                at: at.to_rfc3339(),
                plans: lib.len(),
                plans_from: from,
                level_changes: nl,
                exposures: nx,
                changes: change_rows(&changes),
                open_incidents: open.len(),
            };
            if ctx.json {
                out::json(&rep)?;
            } else {
                println!(
                    "as of {}: {} level change(s), {} exposure(s), {} plan(s) from {}",
                    rep.at, nl, nx, rep.plans, rep.plans_from
                );
                let mut by: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
                for c in &rep.changes {
                    by.entry(c.incident.as_str())
                        .or_default()
                        .push(c.change.as_str());
                }
                for (id, cs) in by {
                    println!("  {id}: {}", cs.join("; "));
                }
                if rep.changes.is_empty() {
                    println!("  nothing changed");
                }
                println!(
                    "{} open incident(s); `farguard incidents list` shows them",
                    rep.open_incidents
                );
            }
        }
        Action::Sweep { now, plans: dir } => {
            let mut store = ctx.store()?;
            let (lib, _, _) = plans::load(dir.as_deref())?;
            let now = when(now.as_deref())?;
            let open = store.incidents(&IncidentQuery {
                open_only: true,
                exercise: None,
            })?;
            let mut book = Book::new(open, false);
            let changes = book.sweep(&lib, now);
            for inc in book.take_dirty() {
                store.save_incident(inc)?;
            }
            let rows = change_rows(&changes);
            if ctx.json {
                out::json(&serde_json::json!({ "now": now.to_rfc3339(), "changes": rows }))?;
            } else {
                println!("sweep as of {}: {} change(s)", now.to_rfc3339(), rows.len());
                for r in &rows {
                    println!("  {}: {}", r.incident, r.change);
                }
            }
        }
        Action::Activate { id, org, at } => {
            let at = when(at.as_deref())?;
            return update(ctx, &id, |b| b.activate(&id, &org, at));
        }
        Action::Close { id, org, note, at } => {
            let at = when(at.as_deref())?;
            return update(ctx, &id, |b| b.close(&id, &org, at, &note));
        }
        Action::Review { id, org, note, at } => {
            let at = when(at.as_deref())?;
            return update(ctx, &id, |b| b.review(&id, &org, at, &note));
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    //! The trigger wiring on the shipped data: the real GDELT export graded
    //! by the shipped guideline, answered by the shipped plans.
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::cmd::ingest::ingest_gdelt_bytes;
    use crate::embedded;
    use farguard_model::IncidentStatus;
    use farguard_store::SqliteStore;

    #[test]
    fn exposures_count_people_whose_itinerary_puts_them_there() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(dir.path().join("t.db")).unwrap();
        let store: &mut dyn Store = &mut store;
        ingest_gdelt_bytes(store, embedded::GDELT_EXPORT_NAME, embedded::GDELT_EXPORT).unwrap();
        let g = farguard_grade::Guideline::default_shipped().unwrap();
        let ev = store
            .event(&farguard_model::EventId::new("gdelt", "881991328"))
            .unwrap()
            .unwrap();
        let point = ev.local_point().unwrap();
        let es = farguard_model::CountryCode::parse("ES").unwrap();
        store
            .upsert_people(&[farguard_model::Person {
                id: "P-1".into(),
                name: "traveller".into(),
                nationality: None,
                org: None,
                email: None,
                phone: None,
                language: "zh".into(),
                needs: Vec::new(),
                consent: Some("test".into()),
                site: None,
            }])
            .unwrap();
        // A leg in Barcelona over the event's time, and one that ended before.
        let leg = |id: &str, from: DateTime<Utc>, to: DateTime<Utc>| farguard_model::ItineraryLeg {
            id: id.into(),
            person: "P-1".into(),
            point,
            country: es,
            place: "Barcelona".into(),
            from,
            to,
        };
        let t = ev.occurred_at;
        store
            .upsert_legs(&[leg("L-1", t - Duration::days(1), t + Duration::days(1))])
            .unwrap();
        let at = t + Duration::days(1);
        let graded = assess(
            &g,
            &store.events_between(at - Duration::days(14), at).unwrap(),
            at,
        );
        let sigs = exposures(store, &g, &graded, at).unwrap();
        let x = sigs
            .iter()
            .find_map(|s| match s {
                Signal::Exposure(x) if x.event == "gdelt:881991328" => Some(x),
                _ => None,
            })
            .unwrap();
        assert_eq!(x.people, 1);
        assert!(x.kinds.contains(&"person".to_string()));
        assert_eq!(x.area.to_string(), "ES");
        // Once the leg ended before the event, the person no longer counts.
        store
            .upsert_legs(&[leg("L-1", t - Duration::days(3), t - Duration::days(2))])
            .unwrap();
        let sigs = exposures(store, &g, &graded, at).unwrap();
        let people: u64 = sigs
            .iter()
            .map(|s| match s {
                Signal::Exposure(x) if x.event == "gdelt:881991328" => x.people,
                _ => 0,
            })
            .sum();
        assert_eq!(people, 0);
    }

    #[test]
    fn a_level_change_on_shipped_data_opens_exactly_the_expected_incidents() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(dir.path().join("t.db")).unwrap();
        let store: &mut dyn Store = &mut store;
        ingest_gdelt_bytes(store, embedded::GDELT_EXPORT_NAME, embedded::GDELT_EXPORT).unwrap();
        let g = farguard_grade::Guideline::default_shipped().unwrap();
        let (lib, report) = Library::load(plans::SHIPPED.iter().copied());
        assert!(report.errors.is_empty());
        let (_, newest) = store.event_time_range().unwrap().unwrap();
        let at = newest + Duration::days(1);

        // What the guideline grades at III or above, per category with a plan
        // (countries and regions: the areas plans act on).
        let graded: Vec<_> = assess(
            &g,
            &store.events_between(at - Duration::days(14), at).unwrap(),
            at,
        )
        .into_iter()
        .filter(|a| matches!(a.area.kind(), "country" | "admin1"))
        .collect();
        // One incident per (plan, country): a region folds into its country,
        // and the incident stands at the highest level among them.
        let mut want: BTreeMap<(String, String), Level> = BTreeMap::new();
        for a in &graded {
            for p in lib.for_category(a.category) {
                if a.level >= p.trigger.min_level {
                    let key = (p.id.clone(), p.incident_area(&a.area).to_string());
                    let l = want.entry(key).or_insert(a.level);
                    *l = (*l).max(a.level);
                }
            }
        }
        let expected: Vec<String> = want
            .iter()
            .map(|((p, a), l)| format!("{p} {a} {}", l.code()))
            .collect();
        // The exact list follows the guideline (the calibrated one of
        // default-2026.11.4 opens the legal plan for the US at II); it must
        // not be empty, or the comparison below proves nothing.
        assert!(!expected.is_empty(), "{expected:?}");
        let evacuation = graded
            .iter()
            .any(|a| a.category == Category::Security && a.level == Level::I);
        assert_eq!(
            expected
                .iter()
                .any(|e| e.starts_with("security-evacuation ")),
            evacuation,
            "the evacuation plan opens exactly where security reaches I"
        );

        let (changes, nl, _) = trigger(store, &lib, &g, at).unwrap();
        assert!(nl >= expected.len());
        let incs = store.incidents(&IncidentQuery::default()).unwrap();
        let mut got: Vec<String> = incs
            .iter()
            .map(|i| format!("{} {} {}", i.plan, i.area, i.level.code()))
            .collect();
        got.sort();
        assert_eq!(got, expected);
        assert_eq!(
            changes
                .iter()
                .filter(|c| matches!(c.kind, farguard_respond::ChangeKind::Opened { .. }))
                .count(),
            expected.len()
        );
        // Each incident has the command level, roles and tasks its plan gives its level.
        for i in &incs {
            let plan = lib.get(&i.plan).unwrap();
            assert_eq!(i.command, plan.command_at(i.level), "{}", i.id);
            let roles = plan
                .task_force
                .iter()
                .filter(|r| r.join_at <= i.level)
                .count();
            let steps = plan.steps.iter().filter(|s| s.min_level <= i.level).count();
            assert_eq!((i.members.len(), i.tasks.len()), (roles, steps), "{}", i.id);
        }

        // Re-running the same trigger changes nothing and opens no duplicate.
        let (again, _, _) = trigger(store, &lib, &g, at).unwrap();
        assert!(again.is_empty(), "{again:?}");
        assert_eq!(
            store.incidents(&IncidentQuery::default()).unwrap().len(),
            expected.len()
        );

        // A month later nothing is left in the window: every level falls to
        // normal, the incidents stabilise, and a sweep after the quiet period closes them.
        let later = at + Duration::days(30);
        let (changes, _, _) = trigger(store, &lib, &g, later).unwrap();
        assert!(
            changes
                .iter()
                .any(|c| c.kind == farguard_respond::ChangeKind::Stabilised)
        );
        let mut book = Book::new(store.incidents(&IncidentQuery::default()).unwrap(), false);
        book.sweep(&lib, later + Duration::days(15));
        for inc in book.take_dirty() {
            store.save_incident(inc).unwrap();
        }
        let incs = store.incidents(&IncidentQuery::default()).unwrap();
        // They stand down as their plan says: after the quiet period, and
        // only once every task is done where the plan requires it.
        for i in &incs {
            let plan = lib.get(&i.plan).unwrap();
            let want = if plan.stand_down.require_tasks_done {
                IncidentStatus::Stabilised
            } else {
                IncidentStatus::Closed
            };
            assert_eq!(i.status, want, "{}", i.id);
        }
        // Every task left undone was escalated on the way.
        assert!(
            incs.iter()
                .flat_map(|i| &i.tasks)
                .all(|t| t.escalations >= 1)
        );
    }
}
