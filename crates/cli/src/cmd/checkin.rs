//! `farguard checkin`: the accountability view of an incident (reached,
//! safe, need help, no answer), answering on someone's behalf with their
//! link token or SMS reply code (what the server's check-in page and SMS
//! webhook do), and reminders to those not yet reached or not yet answered.

use super::Ctx;
use super::notify::{self as wiring, ConfigArg};
use crate::out;
use anyhow::{Result, anyhow, bail};
use chrono::Utc;
use farguard_model::CheckinStatus;
use farguard_notify::checkin::{self, Answer, Credential, Decision};
use farguard_notify::compose::{self, Recipient, RecipientKind};
use farguard_notify::template::Lang;
use farguard_store::Store;
use serde::Serialize;
use std::collections::BTreeSet;
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Who is accounted for: reached, safe, need help, no answer.
    #[command(
        after_help = "SCOPE is an incident id, or event:SOURCE:ID for an alert composed from an event."
    )]
    Status {
        scope: String,
        /// List every person, not only those needing attention.
        #[arg(long)]
        all: bool,
    },
    /// Record an answer presented with a link token or an SMS reply code.
    #[command(group(clap::ArgGroup::new("cred").required(true).args(["token", "code", "sms"])))]
    Answer(AnswerArgs),
    /// Queue reminders: a fresh link to everyone not yet answered (reached
    /// or not), over every contact they have. Idempotent per --round.
    Remind {
        scope: String,
        /// Reminder round (1, 2, …): the same round twice queues nothing new.
        #[arg(long, default_value_t = 1)]
        round: u32,
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(Debug, clap::Args)]
pub struct AnswerArgs {
    /// The token from the check-in link (`?t=…`).
    #[arg(long)]
    token: Option<String>,
    /// The SMS reply code (XXXXX-XXXXX).
    #[arg(long)]
    code: Option<String>,
    /// A whole SMS reply: "SAFE CODE" or "HELP CODE words…".
    #[arg(long)]
    sms: Option<String>,
    /// safe or need_help (not needed with --sms).
    #[arg(long)]
    status: Option<String>,
    #[arg(long)]
    message: Option<String>,
    #[arg(long, allow_hyphen_values = true, requires = "lon")]
    lat: Option<f64>,
    #[arg(long, allow_hyphen_values = true)]
    lon: Option<f64>,
}

pub fn run(ctx: &Ctx, a: Action) -> Result<ExitCode> {
    match a {
        Action::Status { scope, all } => status(ctx, &scope_of(&scope), all),
        Action::Answer(a) => answer_cmd(ctx, a),
        Action::Remind {
            scope,
            round,
            config,
        } => remind(ctx, &scope_of(&scope), round, &config),
    }
}

/// `INC-1` → `incident:INC-1`; scopes given in full are kept.
pub fn scope_of(s: &str) -> String {
    if s.starts_with("incident:") || s.starts_with("event:") {
        s.to_string()
    } else {
        format!("incident:{s}")
    }
}

#[derive(Debug, Serialize)]
pub struct PersonRow {
    pub recipient: String,
    pub name: String,
    pub status: String,
    pub reached_at: Option<String>,
    pub answered_at: Option<String>,
    pub message: Option<String>,
    pub location: Option<(f64, f64)>,
}

#[derive(Debug, Serialize)]
pub struct View {
    pub scope: String,
    pub people: u64,
    pub reached: u64,
    pub safe: u64,
    pub need_help: u64,
    pub no_answer: u64,
    pub not_reached: u64,
    pub share_accounted: f64,
    pub rows: Vec<PersonRow>,
}

/// The accountability view of a scope.
pub fn view(store: &mut dyn Store, scope: &str, all: bool) -> Result<View> {
    let states = store.checkin_states(scope)?;
    let a = checkin::accountability(&states);
    let rows = states
        .iter()
        .filter(|s| all || s.status != CheckinStatus::Safe)
        .map(|s| PersonRow {
            recipient: s.recipient.clone(),
            name: s.name.clone(),
            status: s.status.to_string(),
            reached_at: s.reached_at.map(|t| t.to_rfc3339()),
            answered_at: s.answered_at.map(|t| t.to_rfc3339()),
            message: s.message.clone(),
            location: s.location,
        })
        .collect();
    Ok(View {
        scope: scope.to_string(),
        people: a.people,
        reached: a.reached,
        safe: a.safe,
        need_help: a.need_help,
        no_answer: a.no_answer,
        not_reached: a.not_reached,
        share_accounted: if a.people == 0 {
            0.0
        } else {
            (a.safe + a.need_help) as f64 / a.people as f64
        },
        rows,
    })
}

pub fn print_view(v: &View, limit: usize) {
    println!(
        "{}: {} people · reached {} · safe {} · need help {} · no answer {} (of whom not reached {}) · accounted for {:.0}%",
        v.scope,
        v.people,
        v.reached,
        v.safe,
        v.need_help,
        v.no_answer,
        v.not_reached,
        v.share_accounted * 100.0
    );
    let mut rows: Vec<&PersonRow> = v.rows.iter().collect();
    // Those needing help first, then the unreached, then the silent.
    rows.sort_by_key(|r| {
        (
            r.status != "need_help",
            r.reached_at.is_some(),
            r.recipient.clone(),
        )
    });
    for r in rows.iter().take(limit) {
        println!(
            "  {:<10} {:<14} {:<22} {}{}",
            r.status,
            out::short(&r.recipient, 14),
            out::short(&r.name, 22),
            if r.reached_at.is_some() {
                "reached"
            } else {
                "NOT REACHED"
            },
            r.message
                .as_deref()
                .map(|m| format!(" — \"{}\"", out::short(m, 60)))
                .unwrap_or_default()
        );
    }
    if rows.len() > limit {
        println!("  … {} more (--json for all)", rows.len() - limit);
    }
}

fn status(ctx: &Ctx, scope: &str, all: bool) -> Result<ExitCode> {
    let mut store = ctx.store()?;
    let v = view(&mut *store, scope, all)?;
    if v.people == 0 && store.alerts(None)?.iter().all(|a| a.scope != scope) {
        bail!("no alert was composed for {scope}; see farguard alerts list");
    }
    if ctx.json {
        out::json(&v)?;
    } else {
        print_view(&v, 40);
    }
    Ok(ExitCode::SUCCESS)
}

/// What an answer did.
#[derive(Debug, Serialize)]
pub struct Answered {
    pub scope: String,
    pub recipient: String,
    pub status: String,
    /// `recorded` or `unchanged` (the same answer again).
    pub outcome: String,
}

/// Decides and stores an answer: the function the server's check-in routes
/// share with this command. Refusals are `CheckinError`s in the chain.
pub fn answer(
    store: &mut dyn Store,
    cred: Credential<'_>,
    a: &Answer,
    now: chrono::DateTime<Utc>,
) -> Result<Answered> {
    let tok = checkin::resolve(
        store,
        cred,
        |s, row| s.checkin_issuer(row),
        |s, h| s.checkin_token(h),
    )?;
    let Some(t) = &tok else {
        return Err(anyhow!(checkin::CheckinError::Forged));
    };
    let Some(cur) = store.checkin_state(&t.scope, &t.recipient)? else {
        return Err(anyhow!(checkin::CheckinError::Forged));
    };
    match checkin::decide(tok.as_ref(), &cur, a, now)? {
        Decision::Unchanged(s) => Ok(Answered {
            scope: s.scope,
            recipient: s.recipient,
            status: s.status.to_string(),
            outcome: "unchanged".into(),
        }),
        Decision::Record(s) => {
            store.record_checkin(&s)?;
            Ok(Answered {
                scope: s.scope,
                recipient: s.recipient,
                status: s.status.to_string(),
                outcome: "recorded".into(),
            })
        }
    }
}

fn answer_cmd(ctx: &Ctx, a: AnswerArgs) -> Result<ExitCode> {
    let mut store = ctx.store()?;
    let (status, cred_text, mut message, is_code) = match (&a.sms, &a.token, &a.code) {
        (Some(sms), _, _) => {
            let Some((s, code, msg)) = checkin::parse_sms(sms) else {
                bail!("--sms {sms:?}: expected \"SAFE CODE\" or \"HELP CODE words\"")
            };
            (s, code, msg, true)
        }
        (None, Some(t), _) => (parse_status(a.status.as_deref())?, t.clone(), None, false),
        (None, None, Some(c)) => (parse_status(a.status.as_deref())?, c.clone(), None, true),
        _ => bail!("give --token, --code or --sms"),
    };
    if a.message.is_some() {
        message = a.message.clone();
    }
    let cred = if is_code {
        Credential::Code(&cred_text)
    } else {
        Credential::Link(&cred_text)
    };
    let ans = Answer {
        status,
        message,
        location: a.lat.zip(a.lon),
        at: Utc::now(),
    };
    let r = answer(&mut *store, cred, &ans, Utc::now())?;
    if ctx.json {
        out::json(&r)?;
    } else {
        println!(
            "{} in {}: {} ({})",
            r.recipient, r.scope, r.status, r.outcome
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_status(s: Option<&str>) -> Result<CheckinStatus> {
    match s.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
        Some("safe") => Ok(CheckinStatus::Safe),
        Some("need_help" | "need-help" | "help") => Ok(CheckinStatus::NeedHelp),
        Some(o) => bail!("--status {o:?}: expected safe or need_help"),
        None => bail!("--status is required with --token or --code (safe or need_help)"),
    }
}

#[derive(Debug, Serialize)]
struct Reminded {
    scope: String,
    round: u32,
    people: usize,
    queued: u64,
    duplicates: u64,
}

fn remind(ctx: &Ctx, scope: &str, round: u32, config: &ConfigArg) -> Result<ExitCode> {
    let cfg = config.load()?;
    let mut store = ctx.store()?;
    let alerts: Vec<_> = store
        .alerts(None)?
        .into_iter()
        .filter(|a| a.scope == scope)
        .collect();
    // Reminders go under the scope's first alert (an update or a
    // cancellation addresses the same people).
    let first = alerts
        .iter()
        .find(|a| a.msg_type == farguard_model::MsgType::Alert)
        .or(alerts.first());
    let Some(alert) = first.cloned() else {
        bail!("no alert was composed for {scope}; see farguard alerts list")
    };
    let silent: BTreeSet<String> = store
        .checkin_states(scope)?
        .into_iter()
        .filter(|s| s.status == CheckinStatus::NoAnswer)
        .map(|s| s.recipient)
        .collect();
    // The same people over the same contacts as the alert, with what they
    // were told (name, nearest mission).
    let recipients: Vec<Recipient> = wiring::recipients_of(&mut *store, &alert.id)?
        .into_iter()
        .filter(|r| r.kind == RecipientKind::Person && silent.contains(&r.id))
        .map(|r| Recipient {
            reason: format!("no answer yet in {scope}"),
            ..r
        })
        .collect();
    // The alert's text, from its CAP document as issued and the shipped advice.
    let issued = farguard_notify::cap::read_issued(&alert.cap_xml)?;
    let headline = |l: Lang| issued.headline.get(&l).cloned().unwrap_or_default();
    let input = wiring::input(
        &cfg,
        scope.to_string(),
        alert.incident.clone(),
        alert.event.clone(),
        alert.sent,
        alert.status,
        farguard_model::Category::parse(&alert.category)?,
        alert.level,
        alert.event.is_some(),
        headline(Lang::En),
        headline(Lang::Zh),
        &[],
        issued.area,
        alert.reason.clone(),
    );
    let c = compose::reminders(
        &alert,
        &input,
        &recipients,
        round,
        Utc::now(),
        &[],
        &cfg.templates,
        &wiring::options(&cfg),
    )?;
    let q = wiring::queue(&mut *store, &c)?;
    let r = Reminded {
        scope: scope.to_string(),
        round,
        people: recipients.len(),
        queued: q.queued,
        duplicates: q.duplicates,
    };
    if ctx.json {
        out::json(&r)?;
    } else {
        println!(
            "{scope}: reminder round {round} to {} people without an answer: {} messages queued ({} already queued)",
            r.people, r.queued, r.duplicates
        );
    }
    Ok(ExitCode::SUCCESS)
}
