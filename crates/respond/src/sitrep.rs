//! Situation reports (态势报告) for one incident, on demand, in Markdown and in
//! self-contained printable HTML: status, command, task force, tasks with
//! deadlines and escalations, resources, goals and the full timeline.

use crate::duration;
use crate::plan::Plan;
use chrono::{DateTime, Utc};
use farguard_model::{Incident, Task, TaskStatus};
use std::fmt::Write as _;

fn t(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn task_state(task: &Task, now: DateTime<Utc>) -> String {
    match task.status {
        TaskStatus::Done => match task.on_time() {
            Some(true) => "done on time".into(),
            _ => "done late".into(),
        },
        _ if now > task.due_at => format!(
            "{} — OVERDUE by {}{}",
            task.status,
            duration::show(now - task.due_at),
            if task.escalations > 0 {
                format!(", escalated ×{}", task.escalations)
            } else {
                String::new()
            }
        ),
        _ => format!(
            "{} — due in {}",
            task.status,
            duration::show(task.due_at - now)
        ),
    }
}

/// Counts of tasks: (done on time, done late, open overdue, open in time).
pub fn task_counts(inc: &Incident, now: DateTime<Utc>) -> (usize, usize, usize, usize) {
    let mut c = (0, 0, 0, 0);
    for task in &inc.tasks {
        match (task.status, task.on_time()) {
            (TaskStatus::Done, Some(true)) => c.0 += 1,
            (TaskStatus::Done, _) => c.1 += 1,
            _ if now > task.due_at => c.2 += 1,
            _ => c.3 += 1,
        }
    }
    c
}

fn resources(inc: &Incident) -> Vec<&str> {
    let mut r: Vec<&str> = inc
        .tasks
        .iter()
        .flat_map(|t| t.resources.iter().map(String::as_str))
        .collect();
    r.sort_unstable();
    r.dedup();
    r
}

/// The report in Markdown.
pub fn markdown(inc: &Incident, plan: Option<&Plan>, now: DateTime<Utc>) -> String {
    let mut s = String::new();
    let ex = if inc.exercise { "EXERCISE — " } else { "" };
    let _ = writeln!(s, "# {ex}Situation report: {}\n", inc.title);
    if inc.exercise {
        let _ = writeln!(
            s,
            "> **EXERCISE EXERCISE EXERCISE** — produced by a drill (CAP status `Exercise`); no real event.\n"
        );
    }
    let _ = writeln!(s, "- **Incident:** `{}`", inc.id);
    let _ = writeln!(
        s,
        "- **Plan:** {} v{}{}",
        inc.plan,
        inc.plan_version,
        plan.and_then(|p| p.title_zh.as_deref())
            .map(|z| format!(" ({z})"))
            .unwrap_or_default()
    );
    let _ = writeln!(s, "- **Area / category:** {} / {}", inc.area, inc.category);
    let _ = writeln!(
        s,
        "- **Level:** {} {} ({}), peak {}",
        inc.level.code(),
        inc.level.colour(),
        inc.level.label_zh(),
        inc.peak_level.code()
    );
    let _ = writeln!(s, "- **Status:** {}", inc.status);
    let _ = writeln!(s, "- **Command:** {}", inc.command.label());
    let _ = writeln!(
        s,
        "- **Lead agency:** {} ({})",
        inc.lead_agency,
        inc.org_for(&inc.lead_agency).unwrap_or("-")
    );
    let _ = writeln!(s, "- **Detected:** {}", t(inc.opened_at));
    match inc.activated_at {
        Some(a) => {
            let _ = writeln!(
                s,
                "- **Activated:** {} ({} after detection)",
                t(a),
                duration::show(a - inc.opened_at)
            );
        }
        None => {
            let _ = writeln!(s, "- **Activated:** not yet");
        }
    }
    if let Some(c) = inc.closed_at {
        let _ = writeln!(s, "- **Closed:** {}", t(c));
    }
    let _ = writeln!(s, "- **As of:** {}", t(now));
    let _ = writeln!(s, "\n**Why:** {}\n", inc.reason);

    let (ok, late, overdue, open) = task_counts(inc, now);
    let _ = writeln!(s, "## Tasks\n");
    let _ = writeln!(
        s,
        "{} tasks: {ok} done on time, {late} done late, {overdue} overdue, {open} open within deadline.\n",
        inc.tasks.len()
    );
    let _ = writeln!(s, "| task | owner | organisation | due | state |");
    let _ = writeln!(s, "|---|---|---|---|---|");
    for task in &inc.tasks {
        let _ = writeln!(
            s,
            "| {} — {} | {} | {} | {} | {} |",
            task.id,
            task.title.replace('|', "/"),
            task.owner_role,
            task.org,
            t(task.due_at),
            task_state(task, now)
        );
    }
    let _ = writeln!(s, "\n## Task force\n");
    for m in &inc.members {
        let _ = writeln!(
            s,
            "- {} — {} (joined {} at level {})",
            m.role,
            m.org,
            t(m.joined_at),
            m.level.code()
        );
    }
    let res = resources(inc);
    if !res.is_empty() {
        let _ = writeln!(s, "\n## Resources required\n");
        for r in res {
            let _ = writeln!(s, "- {r}");
        }
    }
    if let Some(p) = plan {
        if !p.goals.is_empty() {
            let _ = writeln!(s, "\n## Expected goals\n");
            for g in &p.goals {
                let _ = writeln!(s, "- {} (`{}`)", g.text, g.metric.code());
            }
        }
        let _ = writeln!(
            s,
            "\nSLA: activate within {}, notify within {}. Stand-down: level below {} for {}.",
            duration::show(p.sla.activate_within),
            duration::show(p.sla.notify_within),
            p.stand_down.below.code(),
            duration::show(p.stand_down.quiet_for)
        );
    }
    let _ = writeln!(s, "\n## Timeline\n");
    for e in &inc.timeline {
        let _ = writeln!(s, "- {} **{}** [{}] {}", t(e.at), e.actor, e.kind, e.text);
    }
    s
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The report as one self-contained, printable HTML page (no external
/// requests), with a task-status bar.
pub fn html(inc: &Incident, plan: Option<&Plan>, now: DateTime<Utc>) -> String {
    let mut s = String::new();
    let colour = match inc.level.colour() {
        "red" => "#c62828",
        "orange" => "#ef6c00",
        "yellow" => "#f9a825",
        "blue" => "#1565c0",
        _ => "#607d8b",
    };
    let ex = if inc.exercise { "EXERCISE — " } else { "" };
    let _ = write!(
        s,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{ex}Sitrep {}</title>\n<style>\
body{{font:14px/1.4 system-ui,sans-serif;max-width:60em;margin:2em auto;color:#222}}\
h1{{border-left:8px solid {colour};padding-left:.5em}}\
table{{border-collapse:collapse;width:100%}}td,th{{border:1px solid #ccc;padding:.3em;text-align:left;vertical-align:top}}\
.bar{{display:flex;height:1.2em;border:1px solid #999}}.bar div{{height:100%}}\
.ex{{background:#fff3cd;border:2px dashed #b8860b;padding:.5em;font-weight:bold}}\
.overdue{{color:#c62828;font-weight:bold}}@media print{{body{{margin:0}}}}\
</style></head><body>\n",
        esc(&inc.id)
    );
    if inc.exercise {
        s.push_str("<p class=\"ex\">EXERCISE EXERCISE EXERCISE — produced by a drill (CAP status Exercise); no real event.</p>\n");
    }
    let _ = writeln!(s, "<h1>{ex}Situation report: {}</h1>", esc(&inc.title));
    let _ = writeln!(s, "<table>");
    let lead_org = inc.org_for(&inc.lead_agency).unwrap_or("-");
    let rows = [
        ("Incident", inc.id.clone()),
        ("Plan", format!("{} v{}", inc.plan, inc.plan_version)),
        (
            "Area / category",
            format!("{} / {}", inc.area, inc.category),
        ),
        (
            "Level",
            format!(
                "{} {} ({}), peak {}",
                inc.level.code(),
                inc.level.colour(),
                inc.level.label_zh(),
                inc.peak_level.code()
            ),
        ),
        ("Status", inc.status.to_string()),
        ("Command", inc.command.label().to_string()),
        ("Lead agency", format!("{} ({lead_org})", inc.lead_agency)),
        ("Detected", t(inc.opened_at)),
        (
            "Activated",
            inc.activated_at.map_or_else(
                || "not yet".into(),
                |a| {
                    format!(
                        "{} ({} after detection)",
                        t(a),
                        duration::show(a - inc.opened_at)
                    )
                },
            ),
        ),
        ("As of", t(now)),
        ("Why", inc.reason.clone()),
    ];
    for (k, v) in rows {
        let _ = writeln!(s, "<tr><th>{k}</th><td>{}</td></tr>", esc(&v));
    }
    let _ = writeln!(s, "</table>");
    let (ok, late, overdue, open) = task_counts(inc, now);
    let n = inc.tasks.len().max(1) as f64;
    let _ = writeln!(
        s,
        "<h2>Tasks</h2>\n<div class=\"bar\" role=\"img\" aria-label=\"{ok} on time, {late} late, {overdue} overdue, {open} open\">"
    );
    for (count, col) in [
        (ok, "#2e7d32"),
        (late, "#f9a825"),
        (overdue, "#c62828"),
        (open, "#90a4ae"),
    ] {
        if count > 0 {
            let _ = write!(
                s,
                "<div style=\"width:{:.1}%;background:{col}\" title=\"{count}\"></div>",
                count as f64 * 100.0 / n
            );
        }
    }
    let _ = writeln!(
        s,
        "</div>\n<p>{} tasks: {ok} done on time, {late} done late, {overdue} overdue, {open} open within deadline.</p>",
        inc.tasks.len()
    );
    let _ = writeln!(
        s,
        "<table><tr><th>task</th><th>owner</th><th>organisation</th><th>due</th><th>state</th><th>checklist</th></tr>"
    );
    for task in &inc.tasks {
        let state = task_state(task, now);
        let cls = if state.contains("OVERDUE") {
            " class=\"overdue\""
        } else {
            ""
        };
        let checklist: Vec<String> = task
            .checklist
            .iter()
            .map(|c| format!("<li>{}</li>", esc(c)))
            .collect();
        let _ = writeln!(
            s,
            "<tr><td><b>{}</b><br>{}</td><td>{}</td><td>{}</td><td>{}</td><td{cls}>{}</td><td><ul>{}</ul></td></tr>",
            esc(&task.id),
            esc(&task.title),
            esc(&task.owner_role),
            esc(&task.org),
            t(task.due_at),
            esc(&state),
            checklist.join("")
        );
    }
    let _ = writeln!(s, "</table>\n<h2>Task force</h2>\n<ul>");
    for m in &inc.members {
        let _ = writeln!(
            s,
            "<li>{} — {} (joined {} at level {})</li>",
            esc(&m.role),
            esc(&m.org),
            t(m.joined_at),
            m.level.code()
        );
    }
    let _ = writeln!(s, "</ul>");
    let res = resources(inc);
    if !res.is_empty() {
        let _ = writeln!(s, "<h2>Resources required</h2><ul>");
        for r in res {
            let _ = writeln!(s, "<li>{}</li>", esc(r));
        }
        let _ = writeln!(s, "</ul>");
    }
    if let Some(p) = plan
        && !p.goals.is_empty()
    {
        let _ = writeln!(s, "<h2>Expected goals</h2><ul>");
        for g in &p.goals {
            let _ = writeln!(s, "<li>{}</li>", esc(&g.text));
        }
        let _ = writeln!(s, "</ul>");
    }
    let _ = writeln!(
        s,
        "<h2>Timeline</h2><table><tr><th>time</th><th>who</th><th>what</th><th></th></tr>"
    );
    for e in &inc.timeline {
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            t(e.at),
            esc(&e.actor),
            esc(&e.kind),
            esc(&e.text)
        );
    }
    let _ = writeln!(s, "</table></body></html>");
    s
}
