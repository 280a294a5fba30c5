//! `farguard alerts`: compose and queue the alerts of an incident or an
//! event (exactly its exposed people and organisations, each in their
//! language, with the plan's advice, the nearest mission and emergency
//! contacts), update or cancel them (CAP `Update` / `Cancel` referencing
//! what was issued, to the same recipients), list them, and show one — its
//! deliveries, or its CAP 1.2 text.

use super::notify::{self as wiring, ConfigArg};
use super::{Ctx, load_guideline};
use crate::out;
use anyhow::{Result, bail};
use farguard_model::{CapStatus, MsgType};
use farguard_respond::Library;
use serde::Serialize;
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Compose an alert for an incident or an event and queue it durably
    /// (one outbox row per recipient and channel; `farguard notify run`
    /// delivers). Composing the same alert again queues nothing.
    #[command(after_help = "Examples:
  farguard alerts compose --incident INC-…         people exposed in the incident's area and window
  farguard alerts compose --event gdelt:881991040  people within the guideline radius when it occurred
  farguard alerts compose --event gdelt:881991040 --status test")]
    Compose(ComposeArgs),
    /// Update an alert: a CAP msgType Update referencing it (and every
    /// later message of its scope), with your message, queued to the same
    /// recipients over the same contacts.
    #[command(after_help = "Example:
  farguard alerts update fg.event-gdelt-881991328.alert.1 --message \"Clashes have moved north; the airport road is open\"")]
    Update {
        /// The alert to update (see farguard alerts list).
        alert: String,
        /// What changed, in your words (sent to every recipient, and in the CAP description).
        #[arg(long)]
        message: String,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Cancel an alert: a CAP msgType Cancel (response AllClear)
    /// referencing what was issued, queued to the same recipients. Their
    /// check-in stays open.
    Cancel {
        alert: String,
        /// Why it is cancelled (default: a standard all-clear line).
        #[arg(long)]
        message: Option<String>,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Alerts, oldest first.
    List {
        /// Only this incident's alerts.
        #[arg(long)]
        incident: Option<String>,
    },
    /// One alert: its recipients and deliveries, or its CAP 1.2 document.
    Show {
        id: String,
        /// Print the CAP 1.2 XML exactly as issued.
        #[arg(long)]
        cap: bool,
    },
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["incident", "event"])))]
pub struct ComposeArgs {
    #[arg(long)]
    pub incident: Option<String>,
    #[arg(long)]
    pub event: Option<String>,
    /// CAP status for an event alert: actual, exercise or test (an
    /// incident's follows the incident: exercise when it came from a drill).
    #[arg(long, default_value = "actual")]
    pub status: String,
    #[command(flatten)]
    pub config: ConfigArg,
}

pub fn run(ctx: &Ctx, a: Action) -> Result<ExitCode> {
    match a {
        Action::Compose(c) => compose(ctx, c),
        Action::Update {
            alert,
            message,
            config,
        } => follow_up(ctx, &alert, MsgType::Update, &message, &config),
        Action::Cancel {
            alert,
            message,
            config,
        } => follow_up(
            ctx,
            &alert,
            MsgType::Cancel,
            message
                .as_deref()
                .unwrap_or("The alert is cancelled: the threat has passed. 预警解除，威胁已过去。"),
            &config,
        ),
        Action::List { incident } => list(ctx, incident.as_deref()),
        Action::Show { id, cap } => show(ctx, &id, cap),
    }
}

/// The plan's notification texts for exposed people at this level.
pub fn plan_advice(plan: &str, level: farguard_model::Level) -> Vec<String> {
    let (lib, _) = Library::load(super::plans::SHIPPED.iter().copied());
    lib.get(plan)
        .map(|p| {
            p.notifications
                .iter()
                .filter(|n| n.to.iter().any(|t| t == "exposed_people") && n.min_level <= level)
                .map(|n| n.message.clone())
                .collect()
        })
        .unwrap_or_default()
}

fn compose(ctx: &Ctx, c: ComposeArgs) -> Result<ExitCode> {
    let cfg = c.config.load()?;
    let mut store = ctx.store()?;
    let status = CapStatus::parse(&c.status)?;
    let (input, recipients) = match (&c.incident, &c.event) {
        (Some(id), _) => {
            let Some(inc) = store.incident(id)? else {
                bail!("incident {id} not found; see farguard incidents list")
            };
            let advice = plan_advice(&inc.plan, inc.level);
            wiring::for_incident(&mut *store, &cfg, &inc, &advice, chrono::Utc::now())?
        }
        (None, Some(e)) => {
            let g = load_guideline(None)?;
            wiring::for_event(&mut *store, &cfg, &g, e, status, chrono::Utc::now())?
        }
        (None, None) => bail!("give --incident ID or --event ID"),
    };
    let missions = wiring::missions(&mut *store, &cfg)?;
    let q = wiring::compose_and_queue(&mut *store, &cfg, &input, &recipients, &missions)?;
    if ctx.json {
        out::json(&q)?;
    } else if q.already_composed {
        println!(
            "{}: already composed and queued; nothing new (see farguard alerts show {})",
            q.alert, q.alert
        );
    } else {
        println!(
            "{}: {} people and {} organisations exposed; {} messages queued, {} dead at composition (unusable contact)",
            q.alert, q.people, q.organisations, q.queued, q.dead_at_composition
        );
        println!(
            "  deliver: farguard notify run    CAP: farguard alerts show {} --cap",
            q.alert
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn follow_up(
    ctx: &Ctx,
    alert: &str,
    msg_type: MsgType,
    message: &str,
    config: &ConfigArg,
) -> Result<ExitCode> {
    let cfg = config.load()?;
    let mut store = ctx.store()?;
    let q = wiring::follow_up(
        &mut *store,
        &cfg,
        alert,
        msg_type,
        message,
        chrono::Utc::now(),
    )?;
    if ctx.json {
        out::json(&q)?;
    } else {
        println!(
            "{}: {} of {alert} queued to {} people and {} organisations ({} messages, {} dead at composition)",
            q.alert,
            msg_type.code().to_lowercase(),
            q.people,
            q.organisations,
            q.queued,
            q.dead_at_composition
        );
        println!(
            "  deliver: farguard notify run    CAP: farguard alerts show {} --cap",
            q.alert
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Serialize)]
struct AlertRow {
    id: String,
    scope: String,
    incident: Option<String>,
    event: Option<String>,
    sent: String,
    status: String,
    msg_type: String,
    level: String,
    category: String,
    headline: String,
    recipients: u64,
    reason: String,
}

fn row(a: &farguard_model::AlertRecord) -> AlertRow {
    AlertRow {
        id: a.id.clone(),
        scope: a.scope.clone(),
        incident: a.incident.clone(),
        event: a.event.clone(),
        sent: a.sent.to_rfc3339(),
        status: a.status.to_string(),
        msg_type: a.msg_type.to_string(),
        level: a.level.code().to_string(),
        category: a.category.clone(),
        headline: a.headline.clone(),
        recipients: a.recipients,
        reason: a.reason.clone(),
    }
}

fn list(ctx: &Ctx, incident: Option<&str>) -> Result<ExitCode> {
    let mut store = ctx.store()?;
    let rows: Vec<AlertRow> = store.alerts(incident)?.iter().map(row).collect();
    if ctx.json {
        out::json(&rows)?;
    } else if rows.is_empty() {
        println!(
            "no alerts{}",
            incident
                .map(|i| format!(" for incident {i}"))
                .unwrap_or_default()
        );
    } else {
        for r in &rows {
            println!(
                "{}  {}  {} {}  level {:<3} {:>6} recipients  {}",
                r.sent,
                r.id,
                r.status,
                r.msg_type,
                r.level,
                r.recipients,
                out::short(&r.headline, 70)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Serialize)]
struct DeliveryRow {
    key: String,
    recipient: String,
    channel: String,
    address: String,
    language: String,
    state: String,
    attempts: u32,
    last_error: Option<String>,
    sent_at: Option<String>,
}

#[derive(Debug, Serialize)]
struct Shown {
    alert: AlertRow,
    deliveries: Vec<DeliveryRow>,
}

fn show(ctx: &Ctx, id: &str, cap: bool) -> Result<ExitCode> {
    let mut store = ctx.store()?;
    let Some(a) = store.alert(id)? else {
        bail!("alert {id} not found; see farguard alerts list")
    };
    if cap {
        print!("{}", a.cap_xml);
        return Ok(ExitCode::SUCCESS);
    }
    let deliveries: Vec<DeliveryRow> = store
        .deliveries(Some(id), u32::MAX)?
        .into_iter()
        .map(|d| DeliveryRow {
            key: d.key,
            recipient: d.recipient,
            channel: d.channel.to_string(),
            address: d.address,
            language: d.language,
            state: d.state.to_string(),
            attempts: d.attempts,
            last_error: d.last_error,
            sent_at: d.sent_at.map(|t| t.to_rfc3339()),
        })
        .collect();
    let s = Shown {
        alert: row(&a),
        deliveries,
    };
    if ctx.json {
        out::json(&s)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} [{} {}] level {} {}",
        s.alert.id, s.alert.status, s.alert.msg_type, s.alert.level, s.alert.headline
    );
    println!(
        "  scope {}  sent {}  {} recipients",
        s.alert.scope, s.alert.sent, s.alert.recipients
    );
    println!("  why: {}", s.alert.reason);
    for d in s.deliveries.iter().take(50) {
        println!(
            "  {:<9} {:<7} {:<24} try {} {}",
            d.state,
            d.channel,
            out::short(&d.recipient, 24),
            d.attempts,
            d.last_error
                .as_deref()
                .map(|e| out::short(e, 80))
                .unwrap_or_default()
        );
    }
    if s.deliveries.len() > 50 {
        println!("  … {} more (use --json)", s.deliveries.len() - 50);
    }
    Ok(ExitCode::SUCCESS)
}
