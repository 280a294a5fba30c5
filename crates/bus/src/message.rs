//! The messages, version 1: JSON objects with `"v": 1`. A reader refuses a
//! version it does not know; within a version, fields are only ever added
//! (readers ignore fields they do not know). Domain values travel as their
//! text codes — areas `KE` / `KE/KE05`, categories `security`, levels `0`,
//! `IV` … `I`, event ids `source:id`, times RFC 3339 — and are validated
//! back into model types on the way in, an error naming the subject and the
//! field's JSON pointer.
//!
//! Every message has a stable id (the `Nats-Msg-Id` header): the same
//! content gets the same id, so a publish repeated after a crash is dropped
//! by the bus's duplicate window.

use crate::{BusError, Outgoing, Partition, Subjects, Topic};
use chrono::{DateTime, SecondsFormat, Utc};
use farguard_model::{Area, Category, Event, Level};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The message version this build writes and reads.
pub const VERSION: u32 = 1;

/// A message type: its topic and how its id and partition are formed.
pub trait Message: Serialize + DeserializeOwned {
    const TOPIC: Topic;
    /// The name used in errors.
    const KIND: &'static str;
    fn version(&self) -> u32;
    /// The partition token of the subject it goes to.
    fn partition(&self) -> String;
    /// A stable id: equal content, equal id.
    fn id(&self, payload: &[u8]) -> String;
}

/// Encodes `m` for its subject under `subjects`.
pub fn encode<M: Message>(subjects: &Subjects, m: &M) -> Outgoing {
    // Serialising these plain structs cannot fail (string keys, no maps with
    // non-string keys, finite numbers written as JSON numbers or null).
    let payload = serde_json::to_vec(m).unwrap_or_default();
    Outgoing {
        subject: subjects.subject(M::TOPIC, &m.partition()),
        msg_id: m.id(&payload),
        payload,
    }
}

/// Decodes a payload received on `subject`, refusing other versions.
pub fn decode<M: Message>(subject: &str, payload: &[u8]) -> Result<M, BusError> {
    #[derive(Deserialize)]
    struct Probe {
        v: Option<u32>,
    }
    let probe: Probe = serde_json::from_slice(payload).map_err(|e| BusError::Decode {
        subject: subject.to_string(),
        kind: M::KIND,
        detail: e.to_string(),
    })?;
    match probe.v {
        Some(VERSION) => {}
        Some(found) => {
            return Err(BusError::Version {
                subject: subject.to_string(),
                found,
                want: VERSION,
            });
        }
        None => {
            return Err(BusError::Field {
                subject: subject.to_string(),
                pointer: "/v".into(),
                detail: "missing: every message carries its version".into(),
            });
        }
    }
    serde_json::from_slice(payload).map_err(|e| BusError::Decode {
        subject: subject.to_string(),
        kind: M::KIND,
        detail: e.to_string(),
    })
}

/// FNV-1a, 64 bits: a content fingerprint that is the same in every build
/// and process (std's hasher promises neither).
pub fn fingerprint(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn time_id(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Reads validated values out of a message, naming the field on error.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'s> {
    pub subject: &'s str,
}

impl Fields<'_> {
    fn err(&self, pointer: String, detail: impl std::fmt::Display) -> BusError {
        BusError::Field {
            subject: self.subject.to_string(),
            pointer,
            detail: detail.to_string(),
        }
    }
    pub fn area(&self, pointer: impl Into<String>, s: &str) -> Result<Area, BusError> {
        Area::parse(s).map_err(|e| self.err(pointer.into(), e))
    }
    pub fn category(&self, pointer: impl Into<String>, s: &str) -> Result<Category, BusError> {
        Category::parse(s).map_err(|e| self.err(pointer.into(), e))
    }
    pub fn level(&self, pointer: impl Into<String>, s: &str) -> Result<Level, BusError> {
        Level::parse(s).map_err(|e| self.err(pointer.into(), e))
    }
    pub fn partition(&self, pointer: impl Into<String>, s: &str) -> Result<Partition, BusError> {
        Partition::parse(s).map_err(|e| self.err(pointer.into(), e))
    }
}

/// The country an event is graded in: its own, else its location's (the
/// grade stage's rule, and so the partition its record goes to).
pub fn event_country(e: &Event) -> Option<farguard_model::CountryCode> {
    e.country
        .or_else(|| e.location.as_ref().and_then(|l| l.country))
}

/// An event is stored (accepted now or earlier): ingest → grade. The grade
/// stage reads the window from the store; the record says enough to route
/// and to log without it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventAccepted {
    pub v: u32,
    /// `source:source_id`.
    pub event: String,
    pub occurred_at: DateTime<Utc>,
    /// The country the event is graded in (alpha-2), if any.
    pub country: Option<String>,
    pub category: String,
    pub subtype: String,
    pub severity: u8,
}

impl EventAccepted {
    /// The record of a stored event; its partition is the country grading
    /// puts it in (the event's country, else its location's).
    pub fn of(e: &Event) -> Self {
        let country = event_country(e);
        Self {
            v: VERSION,
            event: e.id.to_string(),
            occurred_at: e.occurred_at,
            country: country.map(|c| c.as_str().to_string()),
            category: e.category.code().to_string(),
            subtype: e.subtype.code().to_string(),
            severity: e.severity.get(),
        }
    }
}

impl Message for EventAccepted {
    const TOPIC: Topic = Topic::EventsAccepted;
    const KIND: &'static str = "events.accepted record";
    fn version(&self) -> u32 {
        self.v
    }
    fn partition(&self) -> String {
        self.country
            .clone()
            .unwrap_or_else(|| Partition::NONE.to_string())
    }
    fn id(&self, _: &[u8]) -> String {
        // One id per event: re-ingesting a file within the duplicate window
        // publishes nothing new.
        format!("ev:{}", self.event)
    }
}

/// One area × category's level in a graded round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AreaLevel {
    pub area: String,
    pub category: String,
    pub level: String,
}

/// A graded level moved (the respond stage's `LevelChange`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelChange {
    pub area: String,
    pub category: String,
    pub from: String,
    pub to: String,
    pub at: DateTime<Utc>,
    pub why: String,
}

/// One graded round of a partition: grade → expose. `levels` are the
/// partition's country-level levels as of `at` (what exposures are graded
/// at); `changes` every level that moved against the round before, in the
/// order the respond stage applies them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelsChanged {
    pub v: u32,
    pub partition: String,
    pub at: DateTime<Utc>,
    pub guideline: String,
    pub levels: Vec<AreaLevel>,
    pub changes: Vec<LevelChange>,
}

impl Message for LevelsChanged {
    const TOPIC: Topic = Topic::LevelsChanged;
    const KIND: &'static str = "levels.changed round";
    fn version(&self) -> u32 {
        self.v
    }
    fn partition(&self) -> String {
        self.partition.clone()
    }
    fn id(&self, payload: &[u8]) -> String {
        format!(
            "lv:{}:{}:{}",
            self.partition,
            time_id(self.at),
            fingerprint(payload)
        )
    }
}

/// An event touched registered interests (the respond stage's
/// `ExposureSignal`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exposure {
    pub area: String,
    pub category: String,
    pub level: String,
    pub at: DateTime<Utc>,
    pub event: String,
    pub sites: u64,
    pub people: u64,
    pub headcount: u64,
    pub value_usd: f64,
    pub kinds: Vec<String>,
    pub why: String,
}

/// The signals of one graded round for a partition: expose → respond.
/// Applied in order: the level changes, then the exposures (as the
/// in-process trigger does). A round too large for one message is split
/// into `parts`, the changes in the first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exposures {
    pub v: u32,
    pub partition: String,
    pub at: DateTime<Utc>,
    pub part: u32,
    pub parts: u32,
    pub changes: Vec<LevelChange>,
    pub exposures: Vec<Exposure>,
}

impl Message for Exposures {
    const TOPIC: Topic = Topic::Exposures;
    const KIND: &'static str = "exposures round";
    fn version(&self) -> u32 {
        self.v
    }
    fn partition(&self) -> String {
        self.partition.clone()
    }
    fn id(&self, payload: &[u8]) -> String {
        format!(
            "ex:{}:{}:{}/{}:{}",
            self.partition,
            time_id(self.at),
            self.part,
            self.parts,
            fingerprint(payload)
        )
    }
}

/// An incident was opened, raised, lowered, stabilised, reopened, closed:
/// respond → notify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentChanged {
    pub v: u32,
    pub incident: String,
    pub plan: String,
    pub area: String,
    pub category: String,
    pub level: String,
    /// `opened`, `escalated`, `lowered`, `stabilised`, `resumed`,
    /// `reopened`, `exposure`, `task_escalated`, `closed`.
    pub change: String,
    pub at: DateTime<Utc>,
    pub text: String,
}

impl Message for IncidentChanged {
    const TOPIC: Topic = Topic::IncidentsChanged;
    const KIND: &'static str = "incidents.changed record";
    fn version(&self) -> u32 {
        self.v
    }
    fn partition(&self) -> String {
        Area::parse(&self.area)
            .map(|a| Partition::of_area(&a).to_string())
            .unwrap_or_else(|_| Partition::NONE.to_string())
    }
    fn id(&self, payload: &[u8]) -> String {
        format!(
            "inc:{}:{}:{}",
            self.incident,
            self.change,
            fingerprint(payload)
        )
    }
}

/// A message a stage could not read, kept with the reason: nothing the bus
/// acknowledged is dropped silently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub v: u32,
    pub stage: String,
    pub subject: String,
    pub error: String,
    /// The payload as received (lossy UTF-8).
    pub payload: String,
}

impl Message for DeadLetter {
    const TOPIC: Topic = Topic::Dead;
    const KIND: &'static str = "dead letter";
    fn version(&self) -> u32 {
        self.v
    }
    fn partition(&self) -> String {
        self.stage.clone()
    }
    fn id(&self, payload: &[u8]) -> String {
        format!("dead:{}:{}", self.stage, fingerprint(payload))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn round() -> LevelsChanged {
        LevelsChanged {
            v: VERSION,
            partition: "KE".into(),
            at: DateTime::parse_from_rfc3339("2019-10-25T14:30:00Z")
                .unwrap()
                .with_timezone(&Utc),
            guideline: "2026.1".into(),
            levels: vec![AreaLevel {
                area: "KE".into(),
                category: "security".into(),
                level: "III".into(),
            }],
            changes: vec![LevelChange {
                area: "KE/KE05".into(),
                category: "security".into(),
                from: "0".into(),
                to: "III".into(),
                at: DateTime::parse_from_rfc3339("2019-10-25T14:30:00Z")
                    .unwrap()
                    .with_timezone(&Utc),
                why: "count crossed III".into(),
            }],
        }
    }

    #[test]
    fn a_round_trips_and_equal_content_has_an_equal_id() {
        let s = Subjects::default();
        let m = round();
        let a = encode(&s, &m);
        let b = encode(&s, &m.clone());
        assert_eq!(a.subject, "farguard.levels.changed.KE");
        assert_eq!(a.msg_id, b.msg_id);
        assert!(a.msg_id.starts_with("lv:KE:2019-10-25T14:30:00.000000Z:"));
        let back: LevelsChanged = decode(&a.subject, &a.payload).unwrap();
        assert_eq!(back, m);
        let mut other = m;
        other.changes[0].to = "II".into();
        assert_ne!(encode(&s, &other).msg_id, a.msg_id);
    }

    #[test]
    fn other_versions_and_bad_fields_are_refused_by_name() {
        let s = "farguard.levels.changed.KE";
        let mut v: serde_json::Value = serde_json::to_value(round()).unwrap();
        v["v"] = 2.into();
        let e = decode::<LevelsChanged>(s, &serde_json::to_vec(&v).unwrap()).unwrap_err();
        assert!(e.to_string().contains("version 2 is not supported"), "{e}");
        v.as_object_mut().unwrap().remove("v");
        let e = decode::<LevelsChanged>(s, &serde_json::to_vec(&v).unwrap()).unwrap_err();
        assert!(e.to_string().contains("/v: missing"), "{e}");
        let e = decode::<LevelsChanged>(s, b"{\"v\":1,\"partition\":3}").unwrap_err();
        assert!(e.to_string().contains("levels.changed round"), "{e}");
        let f = Fields { subject: s };
        let e = f.level("/changes/0/to", "V").unwrap_err().to_string();
        assert!(
            e.starts_with("farguard.levels.changed.KE: /changes/0/to: "),
            "{e}"
        );
        // Unknown fields are ignored within a version (additive changes).
        v["v"] = 1.into();
        v["added_later"] = true.into();
        assert!(decode::<LevelsChanged>(s, &serde_json::to_vec(&v).unwrap()).is_ok());
    }

    #[test]
    fn fingerprint_is_stable() {
        // FNV-1a 64 test vectors.
        assert_eq!(fingerprint(b""), "cbf29ce484222325");
        assert_eq!(fingerprint(b"a"), "af63dc4c8601ec8c");
    }
}
