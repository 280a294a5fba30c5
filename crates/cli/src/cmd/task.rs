//! `farguard task ack|done`: a task-force member acknowledges or completes a
//! task. An update from an organisation outside the task force is refused,
//! recorded on the incident's timeline, and exits non-zero.

use super::Ctx;
use super::incidents::{update, when};
use anyhow::Result;
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Acknowledge a task: the organisation has it in hand.
    Ack(Args),
    /// Report a task done (its dependencies must be done first).
    Done(Args),
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Incident id (`farguard incidents list`).
    incident: String,
    /// Task id: the plan step id (`farguard incidents show ID`).
    task: String,
    /// The organisation acting; it must be in the incident's task force.
    #[arg(long)]
    org: String,
    /// When (RFC 3339); default now. Lets drills and back-filled logs keep true times.
    #[arg(long)]
    at: Option<String>,
}

pub fn run(ctx: &Ctx, action: Action) -> Result<ExitCode> {
    match action {
        Action::Ack(a) => {
            let at = when(a.at.as_deref())?;
            update(ctx, &a.incident, |b| {
                b.ack(&a.incident, &a.task, &a.org, at)
            })
        }
        Action::Done(a) => {
            let at = when(a.at.as_deref())?;
            update(ctx, &a.incident, |b| {
                b.done(&a.incident, &a.task, &a.org, at)
            })
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::cmd::plans;
    use farguard_model::{Area, Category, Level, TaskStatus};
    use farguard_respond::{Book, LevelChange, Library, Signal};

    #[test]
    fn an_outsider_is_refused_and_the_refusal_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db").display().to_string();
        let ctx = Ctx {
            db: db.clone(),
            json: false,
        };
        let (lib, _) = Library::load(plans::SHIPPED.iter().copied());
        let mut book = Book::new(Vec::new(), false);
        let at = chrono::DateTime::parse_from_rfc3339("2019-10-24T14:30:00Z")
            .unwrap()
            .to_utc();
        book.apply(
            &lib,
            &Signal::Level(LevelChange {
                area: Area::parse("ES").unwrap(),
                category: Category::Political,
                from: Level::Normal,
                to: Level::III,
                at,
                why: "GDELT 881991341".into(),
            }),
        );
        let id = book.incidents()[0].id.clone();
        let mut store = farguard_store::open(&db).unwrap();
        store.save_incident(&book.incidents()[0]).unwrap();
        drop(store);

        let args = |org: &str| Args {
            incident: id.clone(),
            task: "advisory".into(),
            org: org.into(),
            at: Some("2019-10-24T15:00:00Z".into()),
        };
        let code = run(&ctx, Action::Ack(args("provider-security"))).unwrap();
        assert_eq!(format!("{code:?}"), format!("{:?}", ExitCode::FAILURE));
        let code = run(&ctx, Action::Done(args("embassy"))).unwrap();
        assert_eq!(format!("{code:?}"), format!("{:?}", ExitCode::SUCCESS));

        let inc = farguard_store::open(&db)
            .unwrap()
            .incident(&id)
            .unwrap()
            .unwrap();
        let refused = inc.timeline.iter().find(|e| e.kind == "refused").unwrap();
        assert_eq!(refused.actor, "provider-security");
        let task = inc.tasks.iter().find(|t| t.id == "advisory").unwrap();
        assert_eq!(task.status, TaskStatus::Done);
        assert_eq!(task.done_by.as_deref(), Some("embassy"));
    }
}
