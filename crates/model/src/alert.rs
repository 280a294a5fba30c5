//! Alerts and their delivery: what `notify` composes, what the store keeps in
//! its outbox and check-in tables, and what the server's check-in routes read.
//!
//! An [`AlertRecord`] is one composed alert (one CAP 1.2 message with one
//! info block per language); a [`Delivery`] is one outbox record per
//! (alert, recipient, channel) with its idempotency key; a [`CheckinState`]
//! is one recipient's answer to "are you safe?" within a scope (an incident,
//! or an event when no incident was opened).

use crate::{Level, ModelError};
use chrono::{DateTime, Utc};
use std::fmt;

macro_rules! code_enum {
    ($(#[$m:meta])* $name:ident { $($v:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($v),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$v),+];
            pub fn code(self) -> &'static str { match self { $($name::$v => $s),+ } }
            pub fn parse(s: &str) -> Result<Self, ModelError> {
                match s.trim() {
                    $(x if x.eq_ignore_ascii_case($s) => Ok($name::$v),)+
                    _ => Err(ModelError::Invalid {
                        field: stringify!($name),
                        value: s.to_string(),
                        hint: concat!("expected one of: ", $($s, " "),+),
                    }),
                }
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.code()) }
        }
    };
}

code_enum!(
    /// How a message reaches a recipient.
    ChannelKind {
        Webhook = "webhook",
        Email = "email",
        Sms = "sms",
        File = "file",
    }
);

code_enum!(
    /// CAP 1.2 `status` as farguard issues it (drills are `Exercise`).
    CapStatus {
        Actual = "Actual",
        Exercise = "Exercise",
        Test = "Test",
    }
);

code_enum!(
    /// CAP 1.2 `msgType`.
    MsgType {
        Alert = "Alert",
        Update = "Update",
        Cancel = "Cancel",
    }
);

code_enum!(
    /// Where an outbox record is. `Pending` covers "waiting for its next try"
    /// (see `next_at`); `Sending` is claimed by a runner until its lease ends.
    DeliveryState {
        Pending = "pending",
        Sending = "sending",
        Sent = "sent",
        Dead = "dead",
    }
);

code_enum!(
    /// A recipient's answer to the check-in.
    CheckinStatus {
        NoAnswer = "no_answer",
        Safe = "safe",
        NeedHelp = "need_help",
    }
);

/// One composed alert, stored once and rendered as CAP on demand.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRecord {
    /// Stable id: the same (scope, msg type, sequence) always composes the same id.
    pub id: String,
    /// `incident:ID` or `event:SOURCE:ID`: what the check-ins are counted in.
    pub scope: String,
    pub incident: Option<String>,
    pub event: Option<String>,
    pub sent: DateTime<Utc>,
    pub status: CapStatus,
    pub msg_type: MsgType,
    pub level: Level,
    /// Category code of the taxonomy.
    pub category: String,
    pub headline: String,
    pub recipients: u64,
    /// The whole CAP 1.2 document, as issued (never re-rendered).
    pub cap_xml: String,
    /// Why these recipients, in words.
    pub reason: String,
}

/// One outbox record: one message to one recipient over one channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// Row id, assigned by the store (0 before it is stored).
    pub id: i64,
    /// `alert/recipient/channel[/reminder-n]`: the outbox and every receiver
    /// deduplicate on it.
    pub key: String,
    pub alert: String,
    pub scope: String,
    pub recipient: String,
    pub channel: ChannelKind,
    pub address: String,
    pub language: String,
    pub subject: String,
    pub body: String,
    pub state: DeliveryState,
    pub attempts: u32,
    pub next_at: DateTime<Utc>,
    pub lease_until: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// One line of an outbox record's history: every try and its outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttempt {
    pub key: String,
    pub at: DateTime<Utc>,
    /// `queued`, `sent`, `retry`, `dead`, `reclaimed`.
    pub outcome: String,
    pub detail: String,
}

/// A check-in credential: an unguessable link token or a short SMS reply
/// code, kept only as its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckinToken {
    pub hash: [u8; 32],
    pub scope: String,
    pub recipient: String,
    /// `link` or `code`.
    pub kind: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// One recipient's accountability within a scope.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckinState {
    pub scope: String,
    pub recipient: String,
    pub name: String,
    pub status: CheckinStatus,
    pub message: Option<String>,
    /// (lat, lon) the person gave.
    pub location: Option<(f64, f64)>,
    pub answered_at: Option<DateTime<Utc>>,
    /// When the first message to this person in this scope was delivered.
    pub reached_at: Option<DateTime<Utc>>,
}

/// The values that differ between the recipients of one alert: kept on each
/// outbox row and filled into the alert's text when the message is sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecipientVars {
    pub name: String,
    /// The nearest mission, in the recipient's language.
    pub mission: String,
    /// Why this recipient is exposed, in words.
    pub why: String,
}

/// One text of an alert, stored once per (round, language, template):
/// rendered with everything its recipients share, while the per-recipient
/// values (`{name}`, `{mission}`, `{why}`) and the check-in credentials
/// (`{checkin_link}`, `{reply_code}`) stay placeholders until send time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertText {
    /// 0 for the alert itself, N for reminder round N.
    pub round: u32,
    /// `zh` or `en`.
    pub language: String,
    /// The template it was rendered from (`body`, `sms`, `org_body`, `reminder_body`…).
    pub template: String,
    /// Whether its recipients check in (people; organisations are informed only).
    pub accountable: bool,
    pub subject: String,
    pub body: String,
}

/// One message to queue: only what differs per (recipient, channel). The
/// idempotency key is `alert/recipient/slot`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub recipient: String,
    /// The key's last part: `email`, `sms#1` (a second number), `email/reminder-2`, `none`.
    pub slot: String,
    pub channel: ChannelKind,
    pub address: String,
    /// Index of its text in the alert's texts.
    pub text: u32,
    pub vars: RecipientVars,
    /// Dead at composition (an unusable contact, no contact), with the reason.
    pub dead: Option<String>,
}

/// A message as the outbox holds it: the row (its `subject` and `body` are
/// still the alert's text, a template), the recipient's values, and whether
/// the recipient checks in.
#[derive(Debug, Clone, PartialEq)]
pub struct Queued {
    pub delivery: Delivery,
    pub vars: RecipientVars,
    /// The template the text came from (for error messages).
    pub template: String,
    pub accountable: bool,
}

/// What a derived check-in credential is checked against: the outbox row it
/// names and the secret of that row's alert.
#[derive(Clone, PartialEq, Eq)]
pub struct CheckinIssuer {
    pub row: i64,
    pub alert: String,
    pub scope: String,
    pub recipient: String,
    pub accountable: bool,
    pub secret: [u8; 32],
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl fmt::Debug for CheckinIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckinIssuer")
            .field("row", &self.row)
            .field("alert", &self.alert)
            .field("scope", &self.scope)
            .field("recipient", &self.recipient)
            .field("accountable", &self.accountable)
            .field("secret", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for c in ChannelKind::ALL {
            assert_eq!(ChannelKind::parse(c.code()).unwrap(), *c);
        }
        for s in DeliveryState::ALL {
            assert_eq!(DeliveryState::parse(s.code()).unwrap(), *s);
        }
        assert_eq!(CapStatus::parse("exercise").unwrap(), CapStatus::Exercise);
        let e = ChannelKind::parse("pigeon").unwrap_err().to_string();
        assert!(
            e.contains("pigeon") && e.contains("webhook email sms file"),
            "{e}"
        );
    }
}
