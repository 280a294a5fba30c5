//! Composition: from an alert input and the resolved recipients to one alert
//! record (with its CAP document), its texts — one per (language, template),
//! rendered once with everything the recipients share — and one slim outbox
//! row per (recipient, channel) carrying only what differs: the address, the
//! name, the nearest mission, why this recipient. The message is completed
//! when it is sent ([`crate::outbox`]), with the check-in credentials derived
//! for its row ([`crate::checkin`]), so composing a million recipients
//! writes no per-recipient text and draws no per-recipient randomness.
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
use crate::checkin::AlertSecret;
use crate::template::{Lang, Templates};
use chrono::{DateTime, Duration, Utc};
use farguard_model::{
    AlertRecord, AlertText, CapStatus, Category, ChannelKind, CountryCode, Delivery, DeliveryState,
    Level, MsgType, OrgKind, Outgoing, Point, Queued, RecipientVars,
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
    /// The nearest-mission line this recipient was already told (updates
    /// and reminders repeat it); `None`: found from `missions` by location.
    pub mission: Option<String>,
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
    /// The operator's words for an update or a cancellation (`{message}`).
    pub message: Option<String>,
}

/// How to address the messages.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// How long a check-in credential is valid after its message is queued.
    pub checkin_ttl: Duration,
    /// Used when a recipient has no contact at all (`None`: a dead record).
    pub fallback: Option<Contact>,
}

/// The result of composing one alert: what the store queues.
#[derive(Debug, Clone, PartialEq)]
pub struct Composed {
    pub record: AlertRecord,
    /// The alert's check-in secret (the store keeps the first one it is
    /// given for an alert; credentials are derived from the stored one).
    pub secret: AlertSecret,
    pub checkin_ttl: Duration,
    /// When the rows are queued: the alert's `sent`, or the reminder's time.
    pub queued_at: DateTime<Utc>,
    pub texts: Vec<AlertText>,
    pub rows: Vec<Outgoing>,
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

/// The CAP `references` entry for an alert: `sender,identifier,sent`.
pub fn reference(sender: &str, a: &AlertRecord) -> String {
    format!("{sender},{},{}", a.id, cap::cap_time(a.sent))
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

/// The nearest mission line, in `lang`.
pub fn mission_line(
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

/// The template names of one kind of message.
struct Family {
    subject: &'static str,
    person: &'static str,
    person_sms: &'static str,
    org: Option<&'static str>,
}

fn family(m: MsgType) -> Family {
    match m {
        MsgType::Alert => Family {
            subject: "subject",
            person: "body",
            person_sms: "sms",
            org: Some("org_body"),
        },
        MsgType::Update => Family {
            subject: "update_subject",
            person: "update_body",
            person_sms: "update_sms",
            org: Some("update_org_body"),
        },
        MsgType::Cancel => Family {
            subject: "cancel_subject",
            person: "cancel_body",
            person_sms: "cancel_sms",
            org: Some("cancel_org_body"),
        },
    }
}

const REMINDER: Family = Family {
    subject: "reminder_subject",
    person: "reminder_body",
    person_sms: "reminder_sms",
    org: None,
};

/// Builds the texts of one alert lazily: one per (language, body template),
/// rendered with the alert-wide variables, the per-recipient ones kept.
struct Texts<'a> {
    templates: &'a Templates,
    round: u32,
    family: Family,
    vars: BTreeMap<Lang, BTreeMap<&'static str, String>>,
    index: BTreeMap<(Lang, &'static str), u32>,
    out: Vec<AlertText>,
}

impl Texts<'_> {
    fn get(
        &mut self,
        lang: Lang,
        kind: RecipientKind,
        ch: ChannelKind,
    ) -> Result<u32, NotifyError> {
        let body = match (kind, ch) {
            (RecipientKind::Person, ChannelKind::Sms) => self.family.person_sms,
            (RecipientKind::Person, _) => self.family.person,
            (RecipientKind::Organisation, _) => self.family.org.unwrap_or(self.family.person),
        };
        if let Some(i) = self.index.get(&(lang, body)) {
            return Ok(*i);
        }
        let empty = BTreeMap::new();
        let vars = self.vars.get(&lang).unwrap_or(&empty);
        let subject = self
            .templates
            .render_partial(lang, self.family.subject, vars)?;
        let text = self.templates.render_partial(lang, body, vars)?;
        let i = u32::try_from(self.out.len()).unwrap_or(u32::MAX);
        self.out.push(AlertText {
            round: self.round,
            language: lang.code().into(),
            template: body.into(),
            accountable: kind == RecipientKind::Person,
            subject,
            body: text,
        });
        self.index.insert((lang, body), i);
        Ok(i)
    }
}

/// One row per usable contact (and a dead row, with the reason, per
/// unusable one or for a recipient with nothing to reach them by).
fn address(
    r: &Recipient,
    lang: Lang,
    vars: RecipientVars,
    slot_suffix: &str,
    opts: &Options,
    texts: &mut Texts<'_>,
    rows: &mut Vec<Outgoing>,
) -> Result<(), NotifyError> {
    let fallback;
    let contacts: &[Contact] = if r.contacts.is_empty() {
        fallback = opts.fallback.iter().cloned().collect::<Vec<_>>();
        &fallback
    } else {
        &r.contacts
    };
    if contacts.is_empty() {
        rows.push(Outgoing {
            recipient: r.id.clone(),
            slot: format!("none{slot_suffix}"),
            channel: ChannelKind::File,
            address: String::new(),
            text: texts.get(lang, r.kind, ChannelKind::File)?,
            vars,
            dead: Some("no contact registered and no fallback channel configured".into()),
        });
        return Ok(());
    }
    let mut per_channel: [u32; 4] = [0; 4];
    let mut vars = Some(vars);
    for (k, c) in contacts.iter().enumerate() {
        let slot_no = match c.channel {
            ChannelKind::Webhook => 0,
            ChannelKind::Email => 1,
            ChannelKind::Sms => 2,
            ChannelKind::File => 3,
        };
        let n = per_channel[slot_no];
        per_channel[slot_no] += 1;
        let slot = if n == 0 {
            format!("{}{slot_suffix}", c.channel)
        } else {
            format!("{}#{n}{slot_suffix}", c.channel)
        };
        rows.push(Outgoing {
            recipient: r.id.clone(),
            slot,
            channel: c.channel,
            address: c.address.clone(),
            text: texts.get(lang, r.kind, c.channel)?,
            // The last contact takes the values; the others copy them.
            vars: if k + 1 == contacts.len() {
                vars.take().unwrap_or_default()
            } else {
                vars.clone().unwrap_or_default()
            },
            dead: validate_contact(&r.id, c).err().map(|e| e.to_string()),
        });
    }
    Ok(())
}

/// The nearest-mission lines of one composition, by what they depend on
/// (language, mission, whole kilometres, country): most recipients of an
/// alert share a handful, so each is formatted once.
type MissionLines<'a> =
    std::collections::HashMap<(Lang, Option<&'a str>, Option<i64>, Option<CountryCode>), String>;

fn mission_for<'a>(
    r: &Recipient,
    lang: Lang,
    missions: &'a [Mission],
    memo: &mut MissionLines<'a>,
) -> String {
    if let Some(m) = &r.mission {
        return m.clone();
    }
    let nearest = nearest_mission(missions, r.country, r.location);
    let key = (
        lang,
        nearest.map(|(m, _)| m.id.as_str()),
        nearest.and_then(|(_, km)| km).map(|k| k.round() as i64),
        r.country,
    );
    memo.entry(key)
        .or_insert_with(|| mission_line(lang, nearest, r.country))
        .clone()
}

fn level_text(lang: Lang, level: Level, short: bool) -> String {
    match (lang, short) {
        (Lang::Zh, false) => format!("{}级 {}", level.code(), level.label_zh()),
        (Lang::En, false) => format!("Level {} ({})", level.code(), level.label_en()),
        (Lang::Zh, true) => format!("{}级", level.code()),
        (Lang::En, true) => format!("Level {}", level.code()),
    }
}

/// Composes one alert for `recipients`: its record and CAP document, its
/// texts and one row per (recipient, channel).
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
    let mut vars = BTreeMap::new();
    for l in Lang::ALL {
        let headline = pick(&input.headline, l)?.to_string();
        let contact_lines = input
            .emergency_contacts
            .get(&l)
            .cloned()
            .unwrap_or_default();
        let description = match &input.message {
            Some(m) => format!("{m}\n\n{}", input.reason),
            None => input.reason.clone(),
        };
        infos.push(CapInfo {
            language: l.tag().into(),
            event: input
                .event_text
                .get(&l)
                .cloned()
                .unwrap_or_else(|| headline.clone()),
            headline: headline.clone(),
            description,
            instruction: input
                .advice
                .get(&l)
                .map(|v| v.join("\n"))
                .unwrap_or_default(),
            contact: contact_lines.join("; "),
            sender_name: input.sender_name.clone(),
        });
        let v: BTreeMap<&'static str, String> = BTreeMap::from([
            ("headline", headline),
            ("level", level_text(l, input.level, false)),
            ("area", input.area.desc.clone()),
            ("sent", sent_text.clone()),
            ("advice", lines(input.advice.get(&l))),
            ("contacts", lines(input.emergency_contacts.get(&l))),
            ("message", input.message.clone().unwrap_or_default()),
        ]);
        vars.insert(l, v);
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
    let mut texts = Texts {
        templates,
        round: 0,
        family: family(input.msg_type),
        vars,
        index: BTreeMap::new(),
        out: Vec::new(),
    };
    let mut rows = Vec::with_capacity(recipients.len());
    let mut memo = MissionLines::new();
    for r in recipients {
        let lang = Lang::for_person(&r.language);
        let vars = RecipientVars {
            name: r.name.clone(),
            mission: mission_for(r, lang, missions, &mut memo),
            why: r.reason.clone(),
        };
        address(r, lang, vars, "", opts, &mut texts, &mut rows)?;
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
        secret: AlertSecret::generate()?,
        checkin_ttl: opts.checkin_ttl,
        queued_at: input.sent,
        texts: texts.out,
        rows,
    })
}

/// Reminder messages (round `round`) for people who have not answered,
/// under the alert they were first sent: rows keyed `…/reminder-N`, so the
/// same round twice queues nothing new. Each reminder row is a new row,
/// so its check-in link and code are fresh and expire `checkin_ttl` after it.
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
    let mut vars = BTreeMap::new();
    for l in Lang::ALL {
        let v: BTreeMap<&'static str, String> = BTreeMap::from([
            ("headline", pick(&input.headline, l)?.to_string()),
            ("level", level_text(l, input.level, true)),
            ("area", input.area.desc.clone()),
            ("sent", input.sent.format("%Y-%m-%d %H:%M UTC").to_string()),
            ("advice", lines(input.advice.get(&l))),
            ("contacts", lines(input.emergency_contacts.get(&l))),
            ("message", input.message.clone().unwrap_or_default()),
        ]);
        vars.insert(l, v);
    }
    let mut texts = Texts {
        templates,
        round,
        family: REMINDER,
        vars,
        index: BTreeMap::new(),
        out: Vec::new(),
    };
    let mut rows = Vec::new();
    let suffix = format!("/reminder-{round}");
    let mut memo = MissionLines::new();
    for p in people {
        let lang = Lang::for_person(&p.language);
        let vars = RecipientVars {
            name: p.name.clone(),
            mission: mission_for(p, lang, missions, &mut memo),
            why: p.reason.clone(),
        };
        let person = Recipient {
            kind: RecipientKind::Person,
            ..p.clone()
        };
        address(&person, lang, vars, &suffix, opts, &mut texts, &mut rows)?;
    }
    Ok(Composed {
        record: alert.clone(),
        secret: AlertSecret::generate()?,
        checkin_ttl: opts.checkin_ttl,
        queued_at: now,
        texts: texts.out,
        rows,
    })
}

/// The composed rows as the outbox would hold them, with row ids from
/// `first_id` on (what the store returns; for previews and tests).
pub fn queued(c: &Composed, first_id: i64) -> Vec<Queued> {
    c.rows
        .iter()
        .zip(first_id..)
        .map(|(r, id)| {
            let t = c.texts.get(r.text as usize);
            Queued {
                delivery: Delivery {
                    id,
                    key: format!("{}/{}/{}", c.record.id, r.recipient, r.slot),
                    alert: c.record.id.clone(),
                    scope: c.record.scope.clone(),
                    recipient: r.recipient.clone(),
                    channel: r.channel,
                    address: r.address.clone(),
                    language: t.map(|t| t.language.clone()).unwrap_or_default(),
                    subject: t.map(|t| t.subject.clone()).unwrap_or_default(),
                    body: t.map(|t| t.body.clone()).unwrap_or_default(),
                    state: if r.dead.is_some() {
                        DeliveryState::Dead
                    } else {
                        DeliveryState::Pending
                    },
                    attempts: 0,
                    next_at: c.queued_at,
                    lease_until: None,
                    last_error: r.dead.clone(),
                    created_at: c.queued_at,
                    sent_at: None,
                },
                vars: r.vars.clone(),
                template: t.map(|t| t.template.clone()).unwrap_or_default(),
                accountable: t.is_some_and(|t| t.accountable),
            }
        })
        .collect()
}
