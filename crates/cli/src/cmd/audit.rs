//! `farguard audit verify|list`: the hash-chained log of every write.
//! `verify` recomputes the chain and names each altered, missing or
//! reordered entry; anchor the printed head somewhere outside the database
//! and pass it back with --expect-head to catch a cut-off tail too.

use super::Ctx;
use crate::out;
use anyhow::Result;
use farguard_server::access::verdict_out;
use serde::Serialize;
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Recompute the chain; exit 1 when any entry was altered, removed or reordered.
    Verify {
        /// A head hash printed by an earlier verify: fail if it is no longer in the log.
        #[arg(long)]
        expect_head: Option<String>,
    },
    /// The newest entries, newest first.
    List {
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
}

#[derive(Debug, Serialize)]
struct Entry {
    seq: i64,
    at: String,
    actor: String,
    action: String,
    target: String,
    before: Option<String>,
    after: Option<String>,
    hash: String,
}

pub fn run(ctx: &Ctx, action: Action) -> Result<ExitCode> {
    let mut store = ctx.store()?;
    match action {
        Action::Verify { expect_head } => {
            let v = farguard_store::verify_audit(store.as_mut(), expect_head.as_deref())?;
            let v = verdict_out(v);
            if ctx.json {
                out::json(&v)?;
            } else if v.intact {
                println!("audit log intact: {} entries, head {}", v.entries, v.head);
                println!(
                    "keep the head somewhere else; later: farguard audit verify --expect-head {}",
                    v.head
                );
            } else {
                println!(
                    "audit log BROKEN: {} problem(s) in {} entries",
                    v.problems.len(),
                    v.entries
                );
                for p in &v.problems {
                    println!("  entry {} {}: {}", p.seq, p.kind, p.detail);
                }
            }
            Ok(if v.intact {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Action::List { limit } => {
            let rows: Vec<Entry> = store
                .audit_recent(limit)?
                .into_iter()
                .map(|e| Entry {
                    seq: e.seq,
                    at: e.record.at.to_rfc3339(),
                    actor: e.record.actor,
                    action: e.record.action,
                    target: e.record.target,
                    before: e.record.before,
                    after: e.record.after,
                    hash: e.hash,
                })
                .collect();
            if ctx.json {
                out::json(&rows)?;
            } else {
                for e in &rows {
                    println!(
                        "{:>6} {} {:<20} {:<16} {}",
                        e.seq,
                        &e.at[..19.min(e.at.len())],
                        out::short(&e.actor, 20),
                        e.action,
                        e.target
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
