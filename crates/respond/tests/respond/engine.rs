//! The trigger engine on the shipped plans: one incident per (plan, area,
//! window), escalation, stand-down, overdue tasks on a simulated clock, and
//! refused updates.

use crate::shipped;
use chrono::{DateTime, TimeDelta, Utc};
use farguard_model::{Area, Category, CommandLevel, IncidentStatus, Level, TaskStatus};
use farguard_respond::{Book, ChangeKind, ExposureSignal, LevelChange, Outcome, Signal};

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2019-10-24T14:30:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn level(area: &str, cat: Category, from: Level, to: Level, at: DateTime<Utc>) -> Signal {
    Signal::Level(LevelChange {
        area: Area::parse(area).unwrap(),
        category: cat,
        from,
        to,
        at,
        why: "test".into(),
    })
}

fn h(n: i64) -> TimeDelta {
    TimeDelta::hours(n)
}

#[test]
fn a_level_change_opens_exactly_the_matching_plans_once() {
    let lib = shipped();
    let mut book = Book::new(Vec::new(), false);
    // Level II security opens protective measures only (evacuation needs I).
    let c = book.apply(
        &lib,
        &level("SY", Category::Security, Level::Normal, Level::II, t0()),
    );
    assert_eq!(c.len(), 1, "{c:?}");
    assert!(
        c[0].incident
            .starts_with("security-protective-measures:SY:")
    );
    assert_eq!(c[0].kind, ChangeKind::Opened { level: Level::II });
    // The same signal again changes nothing (re-runs are idempotent).
    assert!(
        book.apply(
            &lib,
            &level("SY", Category::Security, Level::Normal, Level::II, t0())
        )
        .is_empty()
    );
    // Another area, another incident; another category, its own plan.
    book.apply(
        &lib,
        &level("IQ", Category::Security, Level::Normal, Level::II, t0()),
    );
    book.apply(
        &lib,
        &level("SY", Category::Political, Level::Normal, Level::III, t0()),
    );
    let mut plans: Vec<String> = book
        .incidents()
        .iter()
        .map(|i| format!("{} {}", i.plan, i.area))
        .collect();
    plans.sort();
    assert_eq!(
        plans,
        [
            "political-consular-support SY",
            "security-protective-measures IQ",
            "security-protective-measures SY"
        ]
    );
    // Below the trigger: nothing opens.
    assert!(
        book.apply(
            &lib,
            &level("FR", Category::Legal, Level::Normal, Level::IV, t0())
        )
        .is_empty()
    );
}

#[test]
fn a_rise_escalates_the_open_incident_and_a_fall_stands_it_down() {
    let lib = shipped();
    let mut book = Book::new(Vec::new(), false);
    book.apply(
        &lib,
        &level("SY", Category::Security, Level::Normal, Level::III, t0()),
    );
    let id = book.incidents()[0].id.clone();
    let inc = book.get(&id).unwrap();
    assert_eq!(inc.command, CommandLevel::Embassy);
    assert_eq!(inc.members.len(), 3);
    assert_eq!(inc.tasks.len(), 3);
    assert_eq!(inc.status, IncidentStatus::Detected);

    // III → II: central command, two more roles, two more tasks, no new incident.
    let c = book.apply(
        &lib,
        &level("SY", Category::Security, Level::III, Level::II, t0() + h(8)),
    );
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(
        c[0].kind,
        ChangeKind::Escalated {
            from: Level::III,
            to: Level::II
        }
    );
    let inc = book.get(&id).unwrap();
    assert_eq!(inc.command, CommandLevel::Central);
    assert_eq!(inc.members.len(), 5);
    assert!(inc.org_for("coordination_centre").is_some());
    let new: Vec<&str> = inc.tasks.iter().skip(3).map(|t| t.id.as_str()).collect();
    assert_eq!(new, ["host_liaison", "central_review"]);
    assert_eq!(inc.tasks[3].due_at, t0() + h(8) + h(6));

    // II → I: the evacuation plan opens too.
    let c = book.apply(
        &lib,
        &level("SY", Category::Security, Level::II, Level::I, t0() + h(12)),
    );
    assert_eq!(book.len(), 2);
    assert!(
        c.iter()
            .any(|c| c.kind == ChangeKind::Opened { level: Level::I })
    );
    let evac = book
        .incidents()
        .iter()
        .find(|i| i.plan == "security-evacuation")
        .unwrap()
        .id
        .clone();

    // I → IV: both stabilise; protective closes after 48 h quiet; the
    // evacuation waits for 72 h and for every task to be done.
    let fall = t0() + h(20);
    book.apply(
        &lib,
        &level("SY", Category::Security, Level::I, Level::IV, fall),
    );
    assert_eq!(book.get(&id).unwrap().status, IncidentStatus::Stabilised);
    assert_eq!(book.get(&evac).unwrap().status, IncidentStatus::Stabilised);
    book.sweep(&lib, fall + h(47));
    assert_eq!(book.get(&id).unwrap().status, IncidentStatus::Stabilised);
    let c = book.sweep(&lib, fall + h(48));
    assert!(
        c.iter()
            .any(|c| c.incident == id && c.kind == ChangeKind::Closed),
        "{c:?}"
    );
    assert_eq!(book.get(&id).unwrap().closed_at, Some(fall + h(48)));
    book.sweep(&lib, fall + h(100));
    assert_eq!(
        book.get(&evac).unwrap().status,
        IncidentStatus::Stabilised,
        "tasks not done: the evacuation does not stand down"
    );

    // A rise within the window reopens the closed incident: no duplicate.
    let c = book.apply(
        &lib,
        &level(
            "SY",
            Category::Security,
            Level::IV,
            Level::III,
            t0() + h(80),
        ),
    );
    assert!(
        c.iter()
            .any(|c| c.incident == id && c.kind == ChangeKind::Reopened),
        "{c:?}"
    );
    assert_eq!(book.len(), 2);
    // After the 7-day window of a closed incident, a new one opens.
    let later = t0() + TimeDelta::days(20);
    book.apply(
        &lib,
        &level(
            "SY",
            Category::Security,
            Level::III,
            Level::IV,
            t0() + h(90),
        ),
    );
    book.sweep(&lib, t0() + h(90) + h(48));
    assert!(!book.get(&id).unwrap().is_open());
    book.apply(
        &lib,
        &level("SY", Category::Security, Level::IV, Level::III, later),
    );
    assert_eq!(
        book.incidents()
            .iter()
            .filter(|i| i.plan == "security-protective-measures")
            .count(),
        2
    );
}

#[test]
fn overdue_tasks_escalate_on_the_simulated_clock() {
    let lib = shipped();
    let mut book = Book::new(Vec::new(), false);
    book.apply(
        &lib,
        &level("SY", Category::Security, Level::Normal, Level::III, t0()),
    );
    let id = book.incidents()[0].id.clone();
    // security_advisory is due 2 h after opening; escalation every 4 h, at most twice.
    let advisory = |b: &Book| {
        b.get(&id)
            .unwrap()
            .tasks
            .iter()
            .find(|t| t.id == "security_advisory")
            .unwrap()
            .clone()
    };
    assert!(
        book.sweep(&lib, t0() + h(2)).is_empty(),
        "exactly at the deadline is on time"
    );
    let c = book.sweep(&lib, t0() + h(2) + TimeDelta::minutes(1));
    assert_eq!(c.len(), 1, "{c:?}");
    assert!(
        matches!(&c[0].kind, ChangeKind::TaskEscalated { task, step: 1, to } if task == "security_advisory" && to.contains("lead agency embassy"))
    );
    assert_eq!(advisory(&book).escalations, 1);
    assert!(
        book.sweep(&lib, t0() + h(5)).is_empty(),
        "next step only 4 h later"
    );
    let c = book.sweep(&lib, t0() + h(6) + TimeDelta::minutes(1));
    let steps: Vec<_> = c.iter().filter(|c| matches!(&c.kind, ChangeKind::TaskEscalated { task, .. } if task == "security_advisory")).collect();
    assert_eq!(steps.len(), 1);
    assert!(
        matches!(&steps[0].kind, ChangeKind::TaskEscalated { step: 2, to, .. } if to == "central command")
    );
    let c = book.sweep(&lib, t0() + h(100));
    assert!(!c.iter().any(|c| matches!(&c.kind, ChangeKind::TaskEscalated { task, .. } if task == "security_advisory")), "at most twice");
    let timeline = &book.get(&id).unwrap().timeline;
    assert_eq!(
        timeline
            .iter()
            .filter(|e| e.kind == "task_escalated" && e.text.starts_with("security_advisory"))
            .count(),
        2
    );
    // A task done in time never escalates.
    let mut book = Book::new(Vec::new(), false);
    book.apply(
        &lib,
        &level("SY", Category::Security, Level::Normal, Level::III, t0()),
    );
    let id = book.incidents()[0].id.clone();
    book.done(&id, "security_advisory", "embassy", t0() + h(1))
        .unwrap();
    let c = book.sweep(&lib, t0() + h(3));
    assert!(c.is_empty(), "{c:?}");
}

#[test]
fn an_update_from_outside_the_task_force_is_refused_and_audited() {
    let lib = shipped();
    let mut book = Book::new(Vec::new(), false);
    book.apply(
        &lib,
        &level("ES", Category::Political, Level::Normal, Level::III, t0()),
    );
    let id = book.incidents()[0].id.clone();
    let out = book
        .ack(&id, "advisory", "provider-security", t0() + h(1))
        .unwrap();
    assert!(
        matches!(&out, Outcome::Refused(m) if m.contains("not in the task force")),
        "{out:?}"
    );
    let inc = book.get(&id).unwrap();
    assert_eq!(inc.tasks[0].status, TaskStatus::Open);
    let audit = inc.timeline.last().unwrap();
    assert_eq!(
        (audit.kind.as_str(), audit.actor.as_str()),
        ("refused", "provider-security")
    );
    // Only the lead agency activates.
    assert!(matches!(
        book.activate(&id, "enterprise", t0()).unwrap(),
        Outcome::Refused(_)
    ));
    assert!(matches!(
        book.activate(&id, "embassy", t0() + h(1)).unwrap(),
        Outcome::Applied(_)
    ));
    assert_eq!(book.get(&id).unwrap().status, IncidentStatus::Activated);
    // A task waits for its dependencies.
    assert!(
        matches!(book.done(&id, "registry_check", "embassy", t0() + h(1)).unwrap(), Outcome::Refused(m) if m.contains("advisory"))
    );
    assert!(matches!(
        book.done(&id, "advisory", "embassy", t0() + h(1)).unwrap(),
        Outcome::Applied(_)
    ));
    assert_eq!(book.get(&id).unwrap().status, IncidentStatus::Responding);
    assert!(matches!(
        book.done(&id, "advisory", "embassy", t0() + h(1)).unwrap(),
        Outcome::Unchanged(_)
    ));
    assert!(book.ack(&id, "no_such_task", "embassy", t0()).is_err());
}

#[test]
fn exposures_open_plans_only_above_their_thresholds() {
    let lib = shipped();
    let mut book = Book::new(Vec::new(), false);
    let quake = |sites: u64, at| {
        Signal::Exposure(ExposureSignal {
            area: Area::parse("SB").unwrap(),
            category: Category::Natural,
            level: Level::III,
            at,
            event: format!("usgs:test{sites}"),
            sites,
            people: 0,
            headcount: 0,
            value_usd: 0.0,
            kinds: vec!["port".into()],
            why: "test".into(),
        })
    };
    assert!(
        book.apply(&lib, &quake(0, t0())).is_empty(),
        "no site touched"
    );
    let c = book.apply(&lib, &quake(2, t0()));
    assert_eq!(c.len(), 1);
    assert!(c[0].incident.starts_with("natural-earthquake-flood:SB:"));
    // The same exposure again is noted once.
    let again = book.apply(&lib, &quake(2, t0() + h(1)));
    assert!(again.is_empty(), "{again:?}");
    let c = book.apply(&lib, &quake(3, t0() + h(2)));
    assert_eq!(c[0].kind, ChangeKind::ExposureNoted);
    assert_eq!(book.len(), 1);
}

#[test]
fn sitreps_show_state_overdue_work_and_escape_html() {
    let lib = shipped();
    let mut book = Book::new(Vec::new(), true);
    book.apply(
        &lib,
        &Signal::Level(LevelChange {
            area: Area::parse("ES").unwrap(),
            category: Category::Political,
            from: Level::Normal,
            to: Level::III,
            at: t0(),
            why: "<script>alert(1)</script> & protests".into(),
        }),
    );
    let id = book.incidents()[0].id.clone();
    book.activate(&id, "embassy", t0() + TimeDelta::minutes(30))
        .unwrap();
    book.done(&id, "advisory", "embassy", t0() + h(1)).unwrap();
    book.sweep(&lib, t0() + h(7));
    let inc = book.get(&id).unwrap();
    let plan = lib.get(&inc.plan);
    let md = farguard_respond::sitrep::markdown(inc, plan, t0() + h(7));
    assert!(md.starts_with("# EXERCISE — Situation report"), "{md}");
    assert!(md.contains("30m after detection"));
    assert!(md.contains("| advisory — "));
    assert!(md.contains("done on time"));
    assert!(md.contains("OVERDUE by 1h, escalated ×1"), "{md}");
    assert!(md.contains("[task_escalated]"));
    assert!(md.contains("every registered citizen near the unrest contacted within 24 h"));
    let html = farguard_respond::sitrep::html(inc, plan, t0() + h(7));
    assert!(html.contains("EXERCISE EXERCISE EXERCISE"));
    assert!(!html.contains("<script>"), "event text must be escaped");
    assert!(html.contains("&lt;script&gt;"));
    assert!(html.contains("class=\"bar\""));
    assert!(
        !html.contains("http"),
        "self-contained: no external requests"
    );
}

#[test]
fn a_region_joins_its_country_incident_unless_the_plan_says_per_area() {
    let lib = shipped();
    let mut book = Book::new(Vec::new(), false);
    book.apply(
        &lib,
        &level("SY", Category::Security, Level::Normal, Level::III, t0()),
    );
    // Hasakeh governorate (GDELT ADM1 SY01) at II: the Syria incident rises.
    let c = book.apply(
        &lib,
        &level(
            "SY/SY01",
            Category::Security,
            Level::Normal,
            Level::II,
            t0(),
        ),
    );
    assert_eq!(book.len(), 1, "{c:?}");
    assert_eq!(
        c[0].kind,
        ChangeKind::Escalated {
            from: Level::III,
            to: Level::II
        }
    );
    assert_eq!(book.incidents()[0].area.to_string(), "SY");
    // A region alone opens the country's incident.
    let c = book.apply(
        &lib,
        &level(
            "IQ/IZ07",
            Category::Security,
            Level::Normal,
            Level::III,
            t0(),
        ),
    );
    assert!(
        c[0].incident
            .starts_with("security-protective-measures:IQ:")
    );

    // per = "area": every graded area on its own.
    let text =
        std::fs::read_to_string(crate::config("plans").join("security-protective-measures.toml"))
            .unwrap()
            .replace("window = \"7d\"", "window = \"7d\"\nper = \"area\"");
    let plan = farguard_respond::parse_plan("p.toml", &text).unwrap();
    let lib = farguard_respond::Library::from_plans(vec![plan]);
    let mut book = Book::new(Vec::new(), false);
    book.apply(
        &lib,
        &level("SY", Category::Security, Level::Normal, Level::III, t0()),
    );
    book.apply(
        &lib,
        &level(
            "SY/SY01",
            Category::Security,
            Level::Normal,
            Level::II,
            t0(),
        ),
    );
    assert_eq!(book.len(), 2);
    let bad = text.replace("per = \"area\"", "per = \"province\"");
    let e = farguard_respond::parse_plan("p.toml", &bad).unwrap_err();
    assert_eq!(e[0].key, "trigger.per");
}

#[test]
fn a_country_rise_below_a_region_does_not_lower_the_incident() {
    let lib = shipped();
    let mut book = Book::new(Vec::new(), false);
    book.apply(
        &lib,
        &level(
            "SY/SY01",
            Category::Security,
            Level::Normal,
            Level::II,
            t0(),
        ),
    );
    let c = book.apply(
        &lib,
        &level("SY", Category::Security, Level::Normal, Level::III, t0()),
    );
    assert!(c.is_empty(), "{c:?}");
    assert_eq!(book.incidents()[0].level, Level::II);
    // A fall of the country lowers it.
    book.apply(
        &lib,
        &level("SY", Category::Security, Level::III, Level::IV, t0() + h(1)),
    );
    assert_eq!(book.incidents()[0].level, Level::IV);
}
