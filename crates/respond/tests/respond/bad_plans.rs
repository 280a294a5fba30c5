//! The shipped plans validate; broken plans are rejected with file, line and
//! key, and the plans already loaded stay in force.

use crate::{files, shipped};
use farguard_model::{Category, CommandLevel, Level};
use farguard_respond::{FileError, Library, parse_plan};

#[test]
fn every_shipped_plan_validates_and_every_category_has_a_plan() {
    let f = files("plans");
    assert!(f.len() >= 8, "{} plan files", f.len());
    let lib = shipped();
    assert_eq!(lib.len(), f.len());
    for c in Category::ALL {
        assert!(lib.for_category(c).count() >= 1, "no plan for {c}");
    }
    let evac = lib.get("security-evacuation").unwrap();
    assert_eq!(evac.trigger.min_level, Level::I);
    assert_eq!(evac.command_at(Level::I), CommandLevel::Central);
    // Steps come out in dependency order.
    for (i, s) in evac.steps.iter().enumerate() {
        for a in &s.after {
            let j = evac.steps.iter().position(|x| &x.id == a).unwrap();
            assert!(j < i, "{} before its dependency {a}", s.id);
        }
    }
    let pol = lib.get("political-consular-support").unwrap();
    let order: Vec<&str> = pol.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        order,
        [
            "advisory",
            "registry_check",
            "enterprise_briefing",
            "detention_support",
            "host_security_request",
            "departure_options"
        ],
        "file order wherever the dependencies allow"
    );
    let prot = lib.get("security-protective-measures").unwrap();
    assert_eq!(prot.command_at(Level::III), CommandLevel::Embassy);
    assert_eq!(prot.command_at(Level::II), CommandLevel::Central);
}

fn base() -> String {
    std::fs::read_to_string(crate::config("plans").join("political-consular-support.toml")).unwrap()
}

fn errors(text: &str) -> Vec<FileError> {
    parse_plan("bad.toml", text).unwrap_err()
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn a_cycle_in_steps_is_named_with_its_line() {
    // registry_check already waits for advisory; make advisory wait for
    // detention_support, which waits for registry_check.
    let text = base().replace(
        "due = \"2h\"\nchecklist = [\"advisory in Chinese\"",
        "due = \"2h\"\nafter = [\"detention_support\"]\nchecklist = [\"advisory in Chinese\"",
    );
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].message.contains("cycle"), "{}", e[0]);
    assert!(e[0].message.contains("advisory") && e[0].message.contains("detention_support"));
    assert!(e[0].key.ends_with(".after"), "{}", e[0].key);
    let links = [
        line_of(&text, "after = [\"detention_support\"]"),
        line_of(&text, "after = [\"registry_check\"]"),
        line_of(&text, "after = [\"advisory\"]"),
    ];
    assert!(links.contains(&e[0].line), "{} not in {links:?}", e[0]);
    assert_eq!(e[0].file, "bad.toml");
}

#[test]
fn an_owner_outside_the_task_force_is_named() {
    let text = base().replace("owner = \"transport\"", "owner = \"navy\"");
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].key, "steps.departure_options.owner");
    assert_eq!(e[0].line, line_of(&text, "owner = \"navy\""));
    assert!(
        e[0].message.contains("\"navy\" is not in the task force"),
        "{}",
        e[0]
    );
    assert!(e[0].to_string().starts_with(&format!(
        "bad.toml:{}: steps.departure_options.owner:",
        e[0].line
    )));
}

#[test]
fn a_negative_due_offset_is_refused() {
    let text = base().replace("due = \"24h\"", "due = \"-24h\"");
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].key, "steps.detention_support.due");
    assert_eq!(e[0].line, line_of(&text, "due = \"-24h\""));
    assert!(e[0].message.contains("negative"), "{}", e[0]);
}

#[test]
fn an_unknown_category_is_refused() {
    let text = base().replace(
        "categories = [\"political\"]",
        "categories = [\"political\", \"weather\"]",
    );
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].key, "trigger.categories[1]");
    assert_eq!(e[0].line, line_of(&text, "\"weather\""));
    assert!(
        e[0].message.contains("unknown category \"weather\""),
        "{}",
        e[0]
    );
}

#[test]
fn an_unknown_key_is_refused_with_its_line() {
    let text = base().replace(
        "lead_agency = \"embassy\"",
        "lead_agency = \"embassy\"\nleed = 1",
    );
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].key, "leed");
    assert_eq!(e[0].line, line_of(&text, "leed = 1"));
}

#[test]
fn several_problems_are_reported_together() {
    let text = base()
        .replace("owner = \"transport\"", "owner = \"navy\"")
        .replace("due = \"24h\"", "due = \"-24h\"");
    assert_eq!(errors(&text).len(), 2);
}

#[test]
fn a_broken_edit_leaves_the_loaded_plan_in_force() {
    let f = files("plans");
    let (mut lib, _) = Library::load(f.iter().map(|(n, t)| (n.as_str(), t.as_str())));
    let before = lib.get("political-consular-support").unwrap().clone();
    let name = "config/plans/political-consular-support.toml";
    let broken = base().replace("owner = \"transport\"", "owner = \"navy\"");
    let report = lib.reload([(name, broken.as_str())]);
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.kept, vec!["political-consular-support".to_string()]);
    assert_eq!(lib.get("political-consular-support"), Some(&before));
    assert_eq!(lib.len(), f.len(), "other plans stay loaded");
    // A fixed edit replaces it.
    let fixed = base().replace("version = \"2026.11\"", "version = \"2026.12\"");
    let report = lib.reload([(name, fixed.as_str())]);
    assert!(report.errors.is_empty());
    assert_eq!(
        lib.get("political-consular-support").unwrap().version,
        "2026.12"
    );
}
