//! Subjects: one per stage hand-off, suffixed by the partition (an ISO
//! 3166-1 alpha-2 country code, or `none`), under one prefix that names the
//! deployment (`farguard` by default; tests use a unique one each).
//!
//! ```text
//! <prefix>.events.accepted.<CC>     ingest → grade      EventAccepted
//! <prefix>.levels.changed.<CC>      grade  → expose     LevelsChanged (one graded round)
//! <prefix>.exposures.<CC>           expose → respond    Exposures (the round's signals, in order)
//! <prefix>.incidents.changed.<CC>   respond → notify    IncidentChanged
//! <prefix>.dead.<stage>             any stage           DeadLetter (a message it could not read)
//! ```

use crate::BusError;
use farguard_model::{Area, CountryCode};
use std::fmt;

/// The subject root when none is given.
pub const DEFAULT_PREFIX: &str = "farguard";

/// One stage hand-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Topic {
    EventsAccepted,
    LevelsChanged,
    Exposures,
    IncidentsChanged,
    Dead,
}

impl Topic {
    pub const ALL: [Topic; 5] = [
        Topic::EventsAccepted,
        Topic::LevelsChanged,
        Topic::Exposures,
        Topic::IncidentsChanged,
        Topic::Dead,
    ];
    /// The subject tokens between the prefix and the partition.
    pub fn path(self) -> &'static str {
        match self {
            Topic::EventsAccepted => "events.accepted",
            Topic::LevelsChanged => "levels.changed",
            Topic::Exposures => "exposures",
            Topic::IncidentsChanged => "incidents.changed",
            Topic::Dead => "dead",
        }
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.path())
    }
}

/// The area key messages are partitioned by: a country, or `none` for an
/// event no country could be given to. Workers take a set of partitions.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Partition(String);

impl Partition {
    /// The token of records without a country.
    pub const NONE: &'static str = "none";

    pub fn of(country: Option<CountryCode>) -> Self {
        match country {
            Some(c) => Partition(c.as_str().to_string()),
            None => Partition(Self::NONE.to_string()),
        }
    }
    /// The partition an area belongs to: its country (a region's and a
    /// country's alike); H3 cells and sites have none of their own.
    pub fn of_area(area: &Area) -> Self {
        match area {
            Area::Country(c) | Area::Admin1(c, _) => Self::of(Some(*c)),
            Area::H3(_) | Area::Site(_) => Self::of(None),
        }
    }
    /// `none`, or a country code (alpha-2 or alpha-3, any case).
    pub fn parse(s: &str) -> Result<Self, BusError> {
        let t = s.trim();
        if t.eq_ignore_ascii_case(Self::NONE) {
            return Ok(Partition(Self::NONE.to_string()));
        }
        CountryCode::parse(t)
            .map(|c| Self::of(Some(c)))
            .map_err(|_| BusError::Name {
                what: "partition",
                value: s.to_string(),
                hint: "expected an ISO 3166-1 country code (KE, TZ, …) or `none`",
            })
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn country(&self) -> Option<CountryCode> {
        CountryCode::parse(&self.0).ok()
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The subjects of one deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subjects {
    prefix: String,
}

impl Default for Subjects {
    fn default() -> Self {
        Self {
            prefix: DEFAULT_PREFIX.to_string(),
        }
    }
}

fn token_ok(t: &str) -> bool {
    !t.is_empty()
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl Subjects {
    /// A prefix of one or more dot-separated tokens of letters, digits,
    /// `_` and `-`.
    pub fn new(prefix: &str) -> Result<Self, BusError> {
        if !prefix.split('.').all(token_ok) {
            return Err(BusError::Name {
                what: "subject prefix",
                value: prefix.to_string(),
                hint: "use dot-separated tokens of letters, digits, _ and - (e.g. farguard or acme.farguard)",
            });
        }
        Ok(Self {
            prefix: prefix.to_string(),
        })
    }
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
    /// The subject a message of `topic` for `partition` goes to (for
    /// `Topic::Dead`, the partition token is the stage name).
    pub fn subject(&self, topic: Topic, partition: &str) -> String {
        format!("{}.{}.{}", self.prefix, topic.path(), partition)
    }
    /// The filter of one partition, or of all with `None`.
    pub fn filter(&self, topic: Topic, partition: Option<&Partition>) -> String {
        self.subject(topic, partition.map_or("*", |p| p.as_str()))
    }
    /// Everything under the prefix (the JetStream stream's subjects).
    pub fn all(&self) -> String {
        format!("{}.>", self.prefix)
    }
    /// The JetStream stream that holds this prefix: upper case, `.` and `-`
    /// as `_` (`farguard` → `FARGUARD`).
    pub fn stream_name(&self) -> String {
        self.prefix
            .chars()
            .map(|c| match c {
                '.' | '-' => '_',
                c => c.to_ascii_uppercase(),
            })
            .collect()
    }
    /// The partition token of a subject of `topic`, if it is one.
    pub fn partition_of<'s>(&self, topic: Topic, subject: &'s str) -> Option<&'s str> {
        let rest = subject
            .strip_prefix(self.prefix.as_str())?
            .strip_prefix('.')?
            .strip_prefix(topic.path())?
            .strip_prefix('.')?;
        (!rest.is_empty() && !rest.contains('.')).then_some(rest)
    }
}

/// The consumer name of one filter of a durable subscription: the durable,
/// `-`, and the filter's last token (`*` as `all`), so workers on disjoint
/// partitions never share a consumer by accident.
pub fn consumer_name(durable: &str, filter: &str) -> String {
    let last = filter.rsplit('.').next().unwrap_or("");
    let token = match last {
        "*" => "all",
        ">" => "rest",
        t => t,
    };
    format!("{durable}-{token}")
}

/// Does a NATS subject filter (`*` one token, `>` the rest) match a subject?
pub fn matches(filter: &str, subject: &str) -> bool {
    let mut f = filter.split('.');
    let mut s = subject.split('.');
    loop {
        match (f.next(), s.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn subjects_name_topic_and_partition() {
        let s = Subjects::new("fgt.x-1").unwrap();
        let ke = Partition::parse("ken").unwrap();
        assert_eq!(ke.as_str(), "KE");
        let subj = s.subject(Topic::EventsAccepted, ke.as_str());
        assert_eq!(subj, "fgt.x-1.events.accepted.KE");
        assert_eq!(s.partition_of(Topic::EventsAccepted, &subj), Some("KE"));
        assert_eq!(s.partition_of(Topic::LevelsChanged, &subj), None);
        assert_eq!(s.stream_name(), "FGT_X_1");
        assert!(matches(&s.filter(Topic::EventsAccepted, None), &subj));
        assert!(matches(&s.filter(Topic::EventsAccepted, Some(&ke)), &subj));
        let tz = Partition::parse("TZ").unwrap();
        assert!(!matches(&s.filter(Topic::EventsAccepted, Some(&tz)), &subj));
        assert!(matches(&s.all(), &subj));
        assert!(!matches("a.*", "a.b.c"));
        assert!(matches("a.>", "a.b.c"));
        assert!(!matches("a.>", "a"));
    }

    #[test]
    fn bad_names_are_refused_with_a_hint() {
        assert!(Subjects::new("far guard").is_err());
        assert!(Subjects::new("farguard.>").is_err());
        assert!(Subjects::new("").is_err());
        let e = Partition::parse("XX").unwrap_err().to_string();
        assert!(e.contains("partition \"XX\""), "{e}");
        assert_eq!(Partition::parse("NONE").unwrap().as_str(), "none");
        assert_eq!(Partition::of(None).country(), None);
    }
}
