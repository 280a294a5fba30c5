//! Conformance checks for response incidents: a whole incident round-trips,
//! re-saves update members and tasks, the timeline is append-only, and the
//! list filters (open, exercise) agree on both engines.

use crate::fixtures::t;
use chrono::TimeDelta;
use farguard_model::{
    Area, Category, CommandLevel, Incident, IncidentStatus, Level, Member, Task, TaskStatus,
    TimelineEntry,
};
use farguard_store::{IncidentQuery, Store, StoreError};

/// An incident as the respond stage opens it for the Catalonia unrest drill
/// (GDELT 2.0 export 20191024143000, event 881991341).
pub fn incident(exercise: bool) -> Incident {
    let at = t(2019, 10, 24, 14, 30, 0) + TimeDelta::microseconds(123_456);
    let task = |id: &str, owner: &str, org: &str, after: &[&str], due_h: i64| Task {
        id: id.into(),
        title: format!("{id} — 领事保护"),
        owner_role: owner.into(),
        org: org.into(),
        after: after.iter().map(|s| s.to_string()).collect(),
        checklist: vec!["advisory in Chinese".into(), "hotline staffed 24/7".into()],
        resources: vec!["consular hotline".into()],
        created_at: at,
        due_at: at + TimeDelta::hours(due_h),
        status: TaskStatus::Open,
        acked_at: None,
        acked_by: None,
        done_at: None,
        done_by: None,
        escalations: 0,
    };
    Incident {
        id: format!(
            "{}political-consular-support:ES:20191024T1430Z",
            if exercise { "EX-" } else { "" }
        ),
        plan: "political-consular-support".into(),
        plan_version: "2026.11".into(),
        title: "Consular support during political unrest".into(),
        area: Area::parse("ES").unwrap(),
        category: Category::Political,
        level: Level::III,
        peak_level: Level::III,
        command: CommandLevel::Embassy,
        lead_agency: "embassy".into(),
        status: IncidentStatus::Detected,
        exercise,
        opened_at: at,
        window_end: at + TimeDelta::days(7),
        activated_at: None,
        calm_since: None,
        closed_at: None,
        updated_at: at,
        reason: "ES political level 0 → III: GDELT 881991341 POLICE arrest CATALONIA".into(),
        members: vec![
            Member {
                role: "embassy".into(),
                org: "embassy".into(),
                joined_at: at,
                level: Level::III,
            },
            Member {
                role: "enterprise".into(),
                org: "enterprise".into(),
                joined_at: at,
                level: Level::III,
            },
        ],
        tasks: vec![
            task("advisory", "embassy", "embassy", &[], 2),
            task("registry_check", "embassy", "embassy", &["advisory"], 6),
        ],
        timeline: vec![TimelineEntry {
            at,
            actor: "farguard".into(),
            kind: "opened".into(),
            text: "plan political-consular-support opened at level III".into(),
        }],
    }
}

pub fn check_incident_round_trip(store: &mut dyn Store) {
    let real = incident(false);
    let drill = incident(true);
    store.save_incident(&real).unwrap();
    store.save_incident(&drill).unwrap();
    assert_eq!(store.incident(&real.id).unwrap().as_ref(), Some(&real));
    assert_eq!(store.incident(&drill.id).unwrap().as_ref(), Some(&drill));
    assert_eq!(store.incident("no-such-incident").unwrap(), None);
    let all = store.incidents(&IncidentQuery::default()).unwrap();
    assert_eq!(all.len(), 2);
    let only_real = store
        .incidents(&IncidentQuery {
            open_only: false,
            exercise: Some(false),
        })
        .unwrap();
    assert_eq!(only_real, vec![real.clone()]);
    let only_drill = store
        .incidents(&IncidentQuery {
            open_only: true,
            exercise: Some(true),
        })
        .unwrap();
    assert_eq!(only_drill, vec![drill]);
    // Saving the same incident again changes nothing.
    store.save_incident(&real).unwrap();
    assert_eq!(store.incident(&real.id).unwrap().as_ref(), Some(&real));
}

pub fn check_incident_resave_updates_and_timeline_is_append_only(store: &mut dyn Store) {
    let mut inc = incident(false);
    store.save_incident(&inc).unwrap();
    let later = inc.opened_at + TimeDelta::hours(8);
    // Escalation: a new member and task; the advisory is done; then stand-down.
    inc.level = Level::II;
    inc.peak_level = Level::II;
    inc.command = CommandLevel::Central;
    inc.members.push(Member {
        role: "public_security".into(),
        org: "mps-liaison".into(),
        joined_at: later,
        level: Level::II,
    });
    let mut extra = inc.tasks[0].clone();
    extra.id = "host_security_request".into();
    extra.created_at = later;
    extra.due_at = later + TimeDelta::hours(6);
    inc.tasks.push(extra);
    inc.tasks[0].status = TaskStatus::Done;
    inc.tasks[0].acked_at = Some(later);
    inc.tasks[0].acked_by = Some("embassy".into());
    inc.tasks[0].done_at = Some(later);
    inc.tasks[0].done_by = Some("embassy".into());
    inc.tasks[1].escalations = 2;
    inc.activated_at = Some(inc.opened_at + TimeDelta::minutes(40));
    inc.calm_since = Some(later);
    inc.closed_at = Some(later + TimeDelta::hours(48));
    inc.status = IncidentStatus::Closed;
    inc.timeline.push(TimelineEntry {
        at: later,
        actor: "provider-security".into(),
        kind: "refused".into(),
        text: "ack by \"provider-security\" refused: not in the task force".into(),
    });
    store.save_incident(&inc).unwrap();
    assert_eq!(store.incident(&inc.id).unwrap().as_ref(), Some(&inc));
    assert!(
        store
            .incidents(&IncidentQuery {
                open_only: true,
                exercise: None
            })
            .unwrap()
            .is_empty(),
        "a closed incident is not open"
    );
    // A stored timeline entry is never rewritten by a later save.
    let mut forged = inc.clone();
    forged.timeline[0].text = "rewritten history".into();
    store.save_incident(&forged).unwrap();
    let back = store.incident(&inc.id).unwrap().unwrap();
    assert_eq!(back.timeline, inc.timeline);
}

pub fn check_incident_with_nul_is_refused_and_nothing_is_stored(store: &mut dyn Store) {
    let mut inc = incident(false);
    inc.tasks[1].title.push('\0');
    let err = store.save_incident(&inc).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Unstorable {
                table: "incident_tasks",
                field: "title",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(store.incident(&inc.id).unwrap(), None);
}
