//! The demo's response step: the shipped plans react to the levels and
//! exposures the demo just graded, opening incidents with their task forces
//! and tasks; then one simulated day passes so overdue tasks escalate.

use super::incidents::{ChangeRow, IncidentRow, change_rows, print_rows, row, trigger};
use super::plans;
use anyhow::Result;
use chrono::{DateTime, Duration, Utc};
use farguard_respond::{Book, Library};
use farguard_store::{IncidentQuery, Store};
use serde::Serialize;

/// What the response step did.
#[derive(Debug, Serialize)]
pub struct Response {
    pub plans: usize,
    pub level_changes: usize,
    pub exposures: usize,
    pub opened: Vec<ChangeRow>,
    pub swept_at: String,
    pub escalations: usize,
    pub incidents: Vec<IncidentRow>,
    pub first_tasks: Vec<(String, String, String, String)>,
}

/// Runs the trigger as of `at`, then a sweep one simulated day later.
pub fn step(store: &mut dyn Store, at: DateTime<Utc>) -> Result<Response> {
    let (lib, _) = Library::load(plans::SHIPPED.iter().copied());
    let g = farguard_grade::Guideline::default_shipped()?;
    let (changes, level_changes, exposures) = trigger(store, &lib, &g, at)?;
    let swept_at = at + Duration::days(1);
    let mut book = Book::new(
        store.incidents(&IncidentQuery {
            open_only: true,
            exercise: Some(false),
        })?,
        false,
    );
    let escalations = book.sweep(&lib, swept_at).len();
    for inc in book.take_dirty() {
        store.save_incident(inc)?;
    }
    let incs = store.incidents(&IncidentQuery {
        open_only: true,
        exercise: Some(false),
    })?;
    let first_tasks = incs
        .first()
        .map(|i| {
            i.tasks
                .iter()
                .map(|t| {
                    (
                        t.id.clone(),
                        t.owner_role.clone(),
                        t.org.clone(),
                        t.due_at.format("%Y-%m-%d %H:%M").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Response {
        plans: lib.len(),
        level_changes,
        exposures,
        opened: change_rows(&changes)
            .into_iter()
            .filter(|c| c.change.starts_with("opened"))
            .collect(),
        swept_at: swept_at.to_rfc3339(),
        escalations,
        incidents: incs.iter().map(|i| row(i, swept_at)).collect(),
        first_tasks,
    })
}

/// Prints the step as section 5 of the demo.
pub fn print(r: &Response, db: &str) {
    println!(
        "\n5. RESPONSE  {} shipped plans react to {} level changes and {} exposures: {} incident(s) opened",
        r.plans,
        r.level_changes,
        r.exposures,
        r.opened.len()
    );
    print_rows(&r.incidents);
    if let Some(first) = r.incidents.first() {
        println!("   {} — task force: {}", first.id, first.members.join(", "));
        for (id, role, org, due) in &r.first_tasks {
            println!("     task {id:<22} owner {role:<20} {org:<20} due {due}");
        }
        println!(
            "   one simulated day later ({}): {} overdue-task escalation(s)",
            r.swept_at, r.escalations
        );
        println!("   farguard --db {db} incidents show {}", first.id);
        println!(
            "   farguard --db {db} sitrep {} --html --out sitrep.html",
            first.id
        );
        println!(
            "   farguard --db {db} task ack {} {} --org {}",
            first.id,
            r.first_tasks.first().map_or("TASK", |t| t.0.as_str()),
            r.first_tasks.first().map_or("ORG", |t| t.2.as_str())
        );
    }
    println!("   farguard drill run config/drills/catalonia-unrest-2019.toml");
}

/// The demo's step, called once from `demo.rs` after its text report.
pub fn run(store: &mut dyn Store, at: DateTime<Utc>, db: &str) -> Result<()> {
    let r = step(store, at)?;
    print(&r, db);
    Ok(())
}
