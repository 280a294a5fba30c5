//! Composition: from an alert input and the resolved recipients to one alert
//! record (with its CAP document), one outbox record per (recipient,
//! channel), and each person's check-in credentials.
//!
//! Who is exposed is decided before this module (the CLI wires exposure and
//! incidents); this module decides what each recipient is told, in their
//! language, and through which channels. A contact that cannot be used (an
//! e-mail address that does not parse, a phone number that is not E.164, a
//! webhook URL that is not http(s)) is not dropped: it becomes an outbox
//! record in state `dead` with the reason, so the outbox history and the
//! accountability view show the person was not reached and why.

use crate::NotifyError;
use crate::cap::{self, CapAlert, CapArea, CapInfo};
use crate::checkin::{self, Issued};
use crate::template::{Lang, Templates};
use chrono::{DateTime, Duration, Utc};
use farguard_model::{
    AlertRecord, CapStatus, Category, ChannelKind, CheckinState, CheckinStatus, CheckinToken,
    CountryCode, Delivery, DeliveryState, Level, MsgType, OrgKind, Point,
};
use std::collections::BTreeMap;

/// One way to reach a recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub channel: ChannelKind,
    pub address: String,
}

/// A person (who checks in) or an organisation (which is informed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecipientKind {
    Person,
    Organisation,
}

/// Someone exposed, resolved by the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct Recipient {
    pub id: String,
    pub name: String,
    pub kind: RecipientKind,
    /// The registered language (`zh`, `en`, `zh-CN`…).
    pub language: String,
    pub contacts: Vec<Contact>,
    /// Where the recipient is (their itinerary leg or site), for the nearest mission.
    pub location: Option<Point>,
    pub country: Option<CountryCode>,
    /// Why this recipient is exposed, in words.
    pub reason: String,
}

/// An embassy or consulate: a registry organisation of kind embassy or
/// consulate with a country, located by its `mission` site when it has one.
#[derive(Debug, Clone, PartialEq)]
pub struct Mission {
    pub id: String,
    pub name: String,
    pub kind: OrgKind,
    pub country: CountryCode,
    pub location: Option<Point>,
    /// Consular protection line, from `notify.toml` (`[missions.ID] phone`).
    pub phone: Option<String>,
}

/// The nearest mission for someone in `country` at `at`.
///
/// Decision: the mission must be accredited to the recipient's country (a
/// mission across a border may be nearer but cannot act there). Among those,
/// the nearest by great-circle distance when both ends have a location;
/// otherwise the embassy before a consulate, then by id. Returns the
/// distance in km when it was measured.
pub fn nearest_mission(
    missions: &[Mission],
    country: Option<CountryCode>,
    at: Option<Point>,
) -> Option<(&Mission, Option<f64>)> {
    let country = country?;
    let local: Vec<&Mission> = missions.iter().filter(|m| m.country == country).collect();
    if let Some(p) = at {
        let best = local
            .iter()
            .filter_map(|m| m.location.map(|l| (*m, l.distance_m(p) / 1000.0)))
            .min_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.id.cmp(&b.0.id)));
        if let Some((m, km)) = best {
            return Some((m, Some(km)));
        }
    }
    local
        .into_iter()
        .min_by_key(|m| (m.kind != OrgKind::Embassy, m.id.clone()))
        .map(|m| (m, None))
}

/// Everything an alert says, before it is addressed.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertInput {
    /// `incident:ID` or `event:SOURCE:ID`.
    pub scope: String,
    pub incident: Option<String>,
    pub event: Option<String>,
    /// CAP sender (e.g. `farguard@coordination.example`).
    pub sender: String,
    pub sender_name: String,
    pub sent: DateTime<Utc>,
    pub status: CapStatus,
    pub msg_type: MsgType,
    /// 1 for the first alert of a scope, then 2, 3… for updates.
    pub sequence: u32,
    /// `sender,identifier,sent` of the alerts this one updates or cancels.
    pub references: Vec<String>,
    pub category: Category,
    pub level: Level,
    pub observed: bool,
    pub headline: BTreeMap<Lang, String>,
    /// What happened (CAP `event`), per language.
    pub event_text: BTreeMap<Lang, String>,
    /// The plan's advice, per language, one line each.
    pub advice: BTreeMap<Lang, Vec<String>>,
    /// Emergency contacts, per language, one line each.
    pub emergency_contacts: BTreeMap<Lang, Vec<String>>,
    pub area: CapArea,
    pub expires: Option<DateTime<Utc>>,
    /// Why this alert (the trigger and its explanation).
    pub reason: String,
}

/// How to address and secure the messages.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// The check-in page; the token is appended as `?t=…`.
    pub checkin_base_url: String,
    pub checkin_ttl: Duration,
    /// Used when a recipient has no contact at all (`None`: a dead record).
    pub fallback: Option<Contact>,
}

/// One person's credentials, returned once so the caller can hand them to
/// the person (they are in the messages) and never stored in clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCheckin {
    pub recipient: String,
    pub link: String,
    pub token: String,
    pub reply_code: String,
}

/// The result of composing one alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Composed {
    pub record: AlertRecord,
    pub deliveries: Vec<Delivery>,
    pub tokens: Vec<CheckinToken>,
    /// A `no_answer` row per person, so the accountability view counts them
    /// before anyone answers.
    pub states: Vec<CheckinState>,
    pub issued: Vec<IssuedCheckin>,
}

/// The stable alert id for (scope, msg type, sequence).
pub fn alert_id(scope: &str, msg_type: MsgType, sequence: u32) -> String {
    let slug: String = scope
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_') {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!(
        "fg.{slug}.{}.{sequence}",
        msg_type.code().to_ascii_lowercase()
    )
}

fn lines(v: Option<&Vec<String>>) -> String {
    v.map(|l| {
        l.iter()
            .map(|s| format!("- {s}"))
            .collect::<Vec<_>>()
            .join("\n")
    })
    .unwrap_or_default()
}

fn pick(m: &BTreeMap<Lang, String>, l: Lang) -> Result<&str, NotifyError> {
    m.get(&l)
        .or_else(|| m.get(&Lang::En))
        .map(String::as_str)
        .ok_or_else(|| NotifyError::NoTemplate {
            name: "headline".into(),
            lang: l.code().into(),
        })
}

fn mission_line(
    lang: Lang,
    m: Option<(&Mission, Option<f64>)>,
    country: Option<CountryCode>,
) -> String {
    match (m, lang) {
        (Some((m, km)), _) => {
            let mut s = m.name.clone();
            if let Some(p) = &m.phone {
                s.push_str(&format!(", {p}"));
            }
            if let Some(km) = km {
                s.push_str(&match lang {
                    Lang::Zh => format!("（约 {km:.0} 公里）"),
                    Lang::En => format!(" (about {km:.0} km)"),
                });
            }
            s
        }
        (None, Lang::Zh) => format!(
            "{} 无登记的使领馆，请拨打全球领事保护与服务应急呼叫中心",
            country.map_or_else(|| "所在国".to_string(), |c| c.as_str().to_string())
        ),
        (None, Lang::En) => format!(
            "no mission registered for {}; call the global consular protection line",
            country.map_or_else(|| "this country".to_string(), |c| c.as_str().to_string())
        ),
    }
}

/// Checks a contact's address for its channel.
pub fn validate_contact(recipient: &str, c: &Contact) -> Result<(), NotifyError> {
    let bad = |field: &'static str, reason: &str| NotifyError::BadAddress {
        recipient: recipient.into(),
        field,
        value: c.address.clone(),
        reason: reason.into(),
    };
    match c.channel {
        ChannelKind::Email => c
            .address
            .parse::<lettre::Address>()
            .map(|_| ())
            .map_err(|e| bad("email", &e.to_string())),
        ChannelKind::Sms => {
            let digits = c.address.strip_prefix('+').unwrap_or("");
            if (7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
                Ok(())
            } else {
                Err(bad(
                    "phone",
                    "expected E.164: + and 7 to 15 digits, such as +254700000000",
                ))
            }
        }
        ChannelKind::Webhook => {
            if c.address.starts_with("http://") || c.address.starts_with("https://") {
                Ok(())
            } else {
                Err(bad("webhook", "expected an http:// or https:// URL"))
            }
        }
        ChannelKind::File => {
            if c.address.trim().is_empty() {
                Err(bad("file", "expected a file path"))
            } else {
                Ok(())
            }
        }
    }
}

/// Composes one alert for `recipients`.
pub fn compose(
    input: &AlertInput,
    recipients: &[Recipient],
    missions: &[Mission],
    templates: &Templates,
    opts: &Options,
) -> Result<Composed, NotifyError> {
    let id = alert_id(&input.scope, input.msg_type, input.sequence);
    let sent_text = input.sent.format("%Y-%m-%d %H:%M UTC").to_string();
    // One info block per language, in a fixed order (Chinese first).
    let mut infos = Vec::new();
    for l in Lang::ALL {
        let headline = pick(&input.headline, l)?.to_string();
        let contact_lines = input
            .emergency_contacts
            .get(&l)
            .cloned()
            .unwrap_or_default();
        infos.push(CapInfo {
            language: l.tag().into(),
            event: input
                .event_text
                .get(&l)
                .cloned()
                .unwrap_or_else(|| headline.clone()),
            headline,
            description: input.reason.clone(),
            instruction: input
                .advice
                .get(&l)
                .map(|v| v.join("\n"))
                .unwrap_or_default(),
            contact: contact_lines.join("; "),
            sender_name: input.sender_name.clone(),
        });
    }
    let cap_xml = cap::write(&CapAlert {
        identifier: id.clone(),
        sender: input.sender.clone(),
        sent: input.sent,
        status: input.status,
        msg_type: input.msg_type,
        references: input.references.clone(),
        restriction: format!("farguard recipients exposed in {}", input.scope),
        category: input.category,
        level: input.level,
        observed: input.observed,
        expires: input.expires,
        infos,
        area: input.area.clone(),
        incidents: input.incident.iter().cloned().collect(),
    })?;

    let mut deliveries = Vec::new();
    let mut tokens = Vec::new();
    let mut states = Vec::new();
    let mut issued = Vec::new();
    let expires = input.sent + opts.checkin_ttl;
    for r in recipients {
        let lang = Lang::for_person(&r.language);
        let nearest = nearest_mission(missions, r.country, r.location);
        let level = match lang {
            Lang::Zh => format!("{}级 {}", input.level.code(), input.level.label_zh()),
            Lang::En => format!("Level {} ({})", input.level.code(), input.level.label_en()),
        };
        let mut vars: BTreeMap<&str, String> = BTreeMap::new();
        vars.insert("name", r.name.clone());
        vars.insert("headline", pick(&input.headline, lang)?.to_string());
        vars.insert("level", level);
        vars.insert("area", input.area.desc.clone());
        vars.insert("sent", sent_text.clone());
        vars.insert("advice", lines(input.advice.get(&lang)));
        vars.insert("mission", mission_line(lang, nearest, r.country));
        vars.insert("contacts", lines(input.emergency_contacts.get(&lang)));
        vars.insert("why", r.reason.clone());
        if r.kind == RecipientKind::Person {
            let Issued {
                token,
                hash: link_hash,
            } = checkin::issue_token()?;
            let (code, code_hash) = checkin::issue_reply_code()?;
            let link = format!("{}?t={token}", opts.checkin_base_url);
            vars.insert("checkin_link", link.clone());
            vars.insert("reply_code", code.clone());
            for (hash, kind) in [(link_hash, "link"), (code_hash, "code")] {
                tokens.push(CheckinToken {
                    hash,
                    scope: input.scope.clone(),
                    recipient: r.id.clone(),
                    kind: kind.into(),
                    created_at: input.sent,
                    expires_at: expires,
                });
            }
            states.push(CheckinState {
                scope: input.scope.clone(),
                recipient: r.id.clone(),
                name: r.name.clone(),
                status: CheckinStatus::NoAnswer,
                message: None,
                location: None,
                answered_at: None,
                reached_at: None,
            });
            issued.push(IssuedCheckin {
                recipient: r.id.clone(),
                link,
                token,
                reply_code: code,
            });
        }
        let contacts: Vec<Contact> = if r.contacts.is_empty() {
            opts.fallback.iter().cloned().collect()
        } else {
            r.contacts.clone()
        };
        let mut per_channel: BTreeMap<ChannelKind, u32> = BTreeMap::new();
        let base = |c: &Contact, n: u32| Delivery {
            id: 0,
            key: if n == 0 {
                format!("{id}/{}/{}", r.id, c.channel)
            } else {
                format!("{id}/{}/{}#{n}", r.id, c.channel)
            },
            alert: id.clone(),
            scope: input.scope.clone(),
            recipient: r.id.clone(),
            channel: c.channel,
            address: c.address.clone(),
            language: lang.code().into(),
            subject: String::new(),
            body: String::new(),
            state: DeliveryState::Pending,
            attempts: 0,
            next_at: input.sent,
            lease_until: None,
            last_error: None,
            created_at: input.sent,
            sent_at: None,
        };
        if contacts.is_empty() {
            let mut d = base(
                &Contact {
                    channel: ChannelKind::File,
                    address: String::new(),
                },
                0,
            );
            d.key = format!("{id}/{}/none", r.id);
            d.state = DeliveryState::Dead;
            d.last_error = Some("no contact registered and no fallback channel configured".into());
            deliveries.push(d);
            continue;
        }
        for c in &contacts {
            let n = per_channel.entry(c.channel).or_insert(0);
            let mut d = base(c, *n);
            *n += 1;
            if let Err(e) = validate_contact(&r.id, c) {
                d.state = DeliveryState::Dead;
                d.last_error = Some(e.to_string());
                deliveries.push(d);
                continue;
            }
            let body_name = match (r.kind, c.channel) {
                (RecipientKind::Person, ChannelKind::Sms) => "sms",
                (RecipientKind::Person, _) => "body",
                (RecipientKind::Organisation, _) => "org_body",
            };
            d.subject = templates.render(lang, "subject", &vars)?;
            d.body = templates.render(lang, body_name, &vars)?;
            deliveries.push(d);
        }
    }
    let headline_en = pick(&input.headline, Lang::En)?.to_string();
    Ok(Composed {
        record: AlertRecord {
            id,
            scope: input.scope.clone(),
            incident: input.incident.clone(),
            event: input.event.clone(),
            sent: input.sent,
            status: input.status,
            msg_type: input.msg_type,
            level: input.level,
            category: input.category.code().into(),
            headline: headline_en,
            recipients: recipients.len() as u64,
            cap_xml,
            reason: input.reason.clone(),
        },
        deliveries,
        tokens,
        states,
        issued,
    })
}

/// Reminder messages for people who have not answered: a fresh link and
/// code (the first ones are only stored hashed), keyed `…/reminder-N` so a
/// second run of the same round queues nothing new.
#[allow(clippy::too_many_arguments)]
pub fn reminders(
    alert: &AlertRecord,
    input: &AlertInput,
    people: &[Recipient],
    round: u32,
    now: DateTime<Utc>,
    missions: &[Mission],
    templates: &Templates,
    opts: &Options,
) -> Result<Composed, NotifyError> {
    let mut c = compose(
        &AlertInput {
            sent: now,
            ..input.clone()
        },
        people,
        missions,
        templates,
        opts,
    )?;
    let mut vars_cache: BTreeMap<String, IssuedCheckin> = BTreeMap::new();
    for i in &c.issued {
        vars_cache.insert(i.recipient.clone(), i.clone());
    }
    for d in &mut c.deliveries {
        d.key = format!(
            "{}/reminder-{round}",
            d.key.replacen(&c.record.id, &alert.id, 1)
        );
        d.alert = alert.id.clone();
        if d.state == DeliveryState::Dead {
            continue;
        }
        let lang = Lang::for_person(&d.language);
        let Some(person) = people.iter().find(|p| p.id == d.recipient) else {
            continue;
        };
        let Some(iss) = vars_cache.get(&d.recipient) else {
            continue;
        };
        let nearest = nearest_mission(missions, person.country, person.location);
        let mut vars: BTreeMap<&str, String> = BTreeMap::new();
        vars.insert("name", person.name.clone());
        vars.insert("headline", pick(&input.headline, lang)?.to_string());
        vars.insert(
            "level",
            match lang {
                Lang::Zh => format!("{}级", input.level.code()),
                Lang::En => format!("Level {}", input.level.code()),
            },
        );
        vars.insert("area", input.area.desc.clone());
        vars.insert("advice", lines(input.advice.get(&lang)));
        vars.insert("mission", mission_line(lang, nearest, person.country));
        vars.insert("contacts", lines(input.emergency_contacts.get(&lang)));
        vars.insert("checkin_link", iss.link.clone());
        vars.insert("reply_code", iss.reply_code.clone());
        d.subject = templates.render(lang, "reminder_subject", &vars)?;
        let name = if d.channel == ChannelKind::Sms {
            "reminder_sms"
        } else {
            "reminder_body"
        };
        d.body = templates.render(lang, name, &vars)?;
    }
    c.record = alert.clone();
    c.states.clear();
    Ok(c)
}
