//! The shipped drills run on a simulated clock in exercise mode and print
//! scorecards against the plans' SLAs.

use crate::{files, shipped};
use farguard_model::{IncidentStatus, Level};
use farguard_respond::drill::Verdict;
use farguard_respond::{Scorecard, parse_drill, run_drill};

fn run(name: &str) -> Scorecard {
    let lib = shipped();
    let f = files("drills");
    let (file, text) = f.iter().find(|(n, _)| n.ends_with(name)).unwrap();
    let d = parse_drill(file, text).unwrap_or_else(|e| panic!("{e:#?}"));
    run_drill(&lib, &d)
}

fn verdict(card: &Scorecard, plan: &str, metric: &str) -> Verdict {
    card.incidents
        .iter()
        .find(|i| i.plan == plan)
        .unwrap()
        .scores
        .iter()
        .find(|s| s.metric == metric)
        .unwrap()
        .verdict
}

#[test]
fn at_least_three_drills_ship_and_all_parse() {
    let f = files("drills");
    assert!(f.len() >= 3);
    for (n, t) in &f {
        let d = parse_drill(n, t).unwrap_or_else(|e| panic!("{e:#?}"));
        assert!(!d.source.is_empty(), "{n} must name its real source");
    }
}

#[test]
fn catalonia_drill_scores_the_consular_plan() {
    let card = run("catalonia-unrest-2019.toml");
    assert_eq!(card.cap_status, "Exercise");
    assert_eq!(card.incidents.len(), 1);
    let s = &card.incidents[0];
    assert!(s.incident.starts_with("EX-political-consular-support:ES:"));
    assert_eq!(s.peak_level, Level::II);
    assert_eq!(s.final_status, "closed", "{:#?}", card.log);
    assert_eq!(
        s.refusals, 1,
        "the provider outside the task force is refused"
    );
    assert_eq!(s.tasks, 6);
    // detention_support (due 24 h) was done at 30 h: late, escalated.
    assert_eq!(s.tasks_on_time, 5);
    assert!(s.escalations >= 1);
    assert_eq!(
        verdict(&card, "political-consular-support", "time_to_activate"),
        Verdict::Met
    );
    assert_eq!(
        verdict(&card, "political-consular-support", "tasks_on_time"),
        Verdict::Missed
    );
    assert_eq!(
        verdict(&card, "political-consular-support", "time_to_notify"),
        Verdict::NotMeasured
    );
    assert_eq!(
        verdict(&card, "political-consular-support", "share_accounted"),
        Verdict::NotMeasured
    );
    assert!(card.book.incidents().iter().all(|i| i.exercise));
}

#[test]
fn earthquake_drill_misses_the_activation_sla() {
    let card = run("solomon-islands-earthquake-2014.toml");
    let s = &card.incidents[0];
    assert!(s.incident.starts_with("EX-natural-earthquake-flood:SB:"));
    assert_eq!(s.peak_level, Level::II, "the M7.4 aftershock escalates");
    assert_eq!(
        verdict(&card, "natural-earthquake-flood", "time_to_activate"),
        Verdict::Missed
    );
    // relief_transport was never done: open past its deadline.
    assert_eq!(
        verdict(&card, "natural-earthquake-flood", "tasks_on_time"),
        Verdict::Missed
    );
    assert_eq!(card.book.len(), 1, "the aftershock joins the open incident");
}

#[test]
fn syria_drill_escalates_into_evacuation_and_stands_down() {
    let card = run("syria-security-escalation-2019.toml");
    let mut plans: Vec<&str> = card.incidents.iter().map(|i| i.plan.as_str()).collect();
    plans.sort_unstable();
    assert_eq!(
        plans,
        ["security-evacuation", "security-protective-measures"]
    );
    let evac = card
        .book
        .incidents()
        .iter()
        .find(|i| i.plan == "security-evacuation")
        .unwrap();
    assert_eq!(evac.status, IncidentStatus::Closed, "{:#?}", card.log);
    assert_eq!(
        verdict(&card, "security-evacuation", "time_to_activate"),
        Verdict::Met
    );
    assert_eq!(
        verdict(&card, "security-evacuation", "tasks_on_time"),
        Verdict::Met
    );
    let prot = card
        .book
        .incidents()
        .iter()
        .find(|i| i.plan == "security-protective-measures")
        .unwrap();
    assert_eq!(prot.peak_level, Level::I);
    assert!(
        prot.timeline
            .iter()
            .any(|e| e.kind == "escalated" && e.text.contains("command moves up"))
    );
}
