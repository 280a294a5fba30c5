//! The stage handlers the worker runs: each checks its input messages into
//! domain values (a message that does not validate is a dead letter, not a
//! retry), does its work into the store, and returns what to publish. Each
//! is idempotent, because the bus delivers at least once:
//!
//! - grade: assessments replace those of the same (area, category, at), and
//!   a round's level changes compare with the last levels stored up to
//!   `at`, so a repeated round reports only what moved since;
//! - expose: reads only, and repeats give equal messages (equal ids);
//! - respond: the incident book opens one incident per (plan, area,
//!   window) and notes an exposure once, so a repeated signal changes nothing;
//! - notify: an alert's id comes from its scope, so composing it again
//!   queues nothing.
//!
//! The work is the in-process path's, called the same way: grading is
//! `farguard_grade::assess` over the same window `incidents trigger` reads,
//! level changes and exposures come from `incidents::level_changes` and
//! `incidents::exposure_signals`, and the respond stage applies each
//! round's level changes before its exposures, as `trigger` does.

use super::super::incidents::{
    actionable, change_rows, exposure_signals, grade_for_plans, level_changes,
};
use super::super::notify as wiring;
use anyhow::{Context, Result};
use chrono::{DateTime, Duration, Utc};
use farguard_bus::message::{
    self, AreaLevel, EventAccepted, Exposure, Exposures, Fields, IncidentChanged, LevelChange,
    LevelsChanged, Message, VERSION, event_country,
};
use farguard_bus::{BusError, Outgoing, Partition, Subjects};
use farguard_expose::{Roster, SiteIndex};
use farguard_grade::Guideline;
use farguard_model::{Area, Assessment, Category, Event, Level};
use farguard_notify::config::NotifyConfig;
use farguard_respond::{ChangeKind, ExposureSignal, Library, Signal};
use farguard_store::{IncidentQuery, Store};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Work that depends on a write an earlier stage has published but not yet
/// stored (it publishes first): retried shortly, not an error.
#[derive(Debug)]
pub struct NotYet(pub String);

impl std::fmt::Display for NotYet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NotYet {}

/// Exposures per message: a round larger than this is split into parts
/// (well under NATS's default 1 MiB payload).
pub const EXPOSURES_PER_MESSAGE: usize = 400;

/// One stage's work.
pub trait Handler {
    /// The message type it reads.
    type In: Message;
    /// The message validated into what the handler works on.
    type Checked;
    fn check(&self, subject: &str, m: Self::In) -> Result<Self::Checked, BusError>;
    /// Works out a batch, in order; returns what to publish.
    fn handle(&mut self, batch: &[Self::Checked]) -> Result<Vec<Outgoing>>;
    /// Stores what `handle` worked out, once its output is published (and
    /// before the input is acknowledged). Publishing first means a crash
    /// between the two repeats the same output — dropped by the bus as a
    /// duplicate — instead of storing a change no later stage hears of.
    fn store(&mut self) -> Result<()> {
        Ok(())
    }
}

/// When grading happens "as of".
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    /// The end of the newest stored event's day plus one day, as
    /// `incidents trigger` grades by default: the data's own time.
    Data,
    /// The wall clock: live operation.
    Wall,
    /// A fixed time (`--at`), for replays.
    At(DateTime<Utc>),
}

/// The partitions a worker takes (`None`: all).
pub type Parts = Option<BTreeSet<Partition>>;

fn mine(parts: &Parts, area: &Area) -> bool {
    parts
        .as_ref()
        .is_none_or(|p| p.contains(&Partition::of_area(area)))
}

// --- wire <-> domain ---------------------------------------------------------

fn wire_change(l: &farguard_respond::LevelChange) -> LevelChange {
    LevelChange {
        area: l.area.to_string(),
        category: l.category.code().to_string(),
        from: l.from.code().to_string(),
        to: l.to.code().to_string(),
        at: l.at,
        why: l.why.clone(),
    }
}

fn check_change(
    f: Fields<'_>,
    at: &str,
    c: &LevelChange,
) -> Result<farguard_respond::LevelChange, BusError> {
    Ok(farguard_respond::LevelChange {
        area: f.area(format!("{at}/area"), &c.area)?,
        category: f.category(format!("{at}/category"), &c.category)?,
        from: f.level(format!("{at}/from"), &c.from)?,
        to: f.level(format!("{at}/to"), &c.to)?,
        at: c.at,
        why: c.why.clone(),
    })
}

fn wire_exposure(x: &ExposureSignal) -> Exposure {
    Exposure {
        area: x.area.to_string(),
        category: x.category.code().to_string(),
        level: x.level.code().to_string(),
        at: x.at,
        event: x.event.clone(),
        sites: x.sites,
        people: x.people,
        headcount: x.headcount,
        value_usd: x.value_usd,
        kinds: x.kinds.clone(),
        why: x.why.clone(),
    }
}

fn check_exposure(f: Fields<'_>, at: &str, x: &Exposure) -> Result<ExposureSignal, BusError> {
    Ok(ExposureSignal {
        area: f.area(format!("{at}/area"), &x.area)?,
        category: f.category(format!("{at}/category"), &x.category)?,
        level: f.level(format!("{at}/level"), &x.level)?,
        at: x.at,
        event: x.event.clone(),
        sites: x.sites,
        people: x.people,
        headcount: x.headcount,
        value_usd: x.value_usd,
        kinds: x.kinds.clone(),
        why: x.why.clone(),
    })
}

// --- grade -------------------------------------------------------------------

/// Events stored → assessments, and one graded round per partition touched
/// (or whose level moved).
pub struct Grade {
    pub store: Box<dyn Store>,
    pub guideline: Guideline,
    pub clock: Clock,
    pub parts: Parts,
    pub subjects: Subjects,
    pub pending: Vec<Assessment>,
}

impl Handler for Grade {
    type In = EventAccepted;
    type Checked = Partition;

    fn check(&self, subject: &str, m: EventAccepted) -> Result<Partition, BusError> {
        let f = Fields { subject };
        match &m.country {
            Some(c) => f.partition("/country", c),
            None => Ok(Partition::of(None)),
        }
    }

    fn handle(&mut self, batch: &[Partition]) -> Result<Vec<Outgoing>> {
        let g = &self.guideline;
        let store = self.store.as_mut();
        let at = match self.clock {
            Clock::At(t) => t,
            Clock::Wall => Utc::now(),
            Clock::Data => match store.event_time_range()? {
                Some((_, newest)) => newest + Duration::days(1),
                None => return Ok(vec![]),
            },
        };
        // Graded as `incidents trigger` grades. The surge test counts the
        // days covered by any event, so grading reads every event and keeps
        // the areas of this worker's partitions.
        let keep = |a: &Assessment| actionable(a) && mine(&self.parts, &a.area);
        let graded: Vec<Assessment> = grade_for_plans(store, g, at)?
            .into_iter()
            .filter(|a| mine(&self.parts, &a.area))
            .collect();
        // What was said last: up to and including an earlier round at this
        // same `at` (a later batch, or a redelivery after the store step),
        // so a repeated round reports only what moved since.
        let before: Vec<Assessment> = store
            .latest_assessments()?
            .into_iter()
            .filter(|a| a.at <= at && keep(a))
            .collect();
        let round = |p: &Partition| LevelsChanged {
            v: VERSION,
            partition: p.to_string(),
            at,
            guideline: g.version.clone(),
            levels: vec![],
            changes: vec![],
        };
        let mut rounds: BTreeMap<Partition, LevelsChanged> =
            batch.iter().map(|p| (p.clone(), round(p))).collect();
        for s in level_changes(&before, &graded, at) {
            if let Signal::Level(l) = s {
                let p = Partition::of_area(&l.area);
                rounds
                    .entry(p.clone())
                    .or_insert_with(|| round(&p))
                    .changes
                    .push(wire_change(&l));
            }
        }
        for a in &graded {
            if let Area::Country(_) = a.area
                && let Some(r) = rounds.get_mut(&Partition::of_area(&a.area))
            {
                r.levels.push(AreaLevel {
                    area: a.area.to_string(),
                    category: a.category.code().to_string(),
                    level: a.level.code().to_string(),
                });
            }
        }
        tracing::info!(at = %at, rounds = rounds.len(), assessments = graded.len(), "graded");
        self.pending = graded;
        Ok(rounds
            .values()
            .map(|r| message::encode(&self.subjects, r))
            .collect())
    }

    fn store(&mut self) -> Result<()> {
        let graded = std::mem::take(&mut self.pending);
        self.store
            .save_assessments(&graded)
            .context("storing assessments")
    }
}

// --- expose ------------------------------------------------------------------

/// A graded round, validated.
pub struct Round {
    partition: Partition,
    at: DateTime<Utc>,
    levels: HashMap<(Area, Category), Level>,
    changes: Vec<LevelChange>,
}

/// Graded rounds → the round's signals: its level changes, then the
/// exposures of its partition's events in the window.
pub struct Expose {
    pub store: Box<dyn Store>,
    pub guideline: Guideline,
    pub subjects: Subjects,
}

/// The signals of one partition's round, split into messages.
fn split(
    partition: &Partition,
    at: DateTime<Utc>,
    changes: Vec<LevelChange>,
    exposures: Vec<Exposure>,
) -> Vec<Exposures> {
    let chunks: Vec<Vec<Exposure>> = if exposures.is_empty() {
        vec![vec![]]
    } else {
        exposures
            .chunks(EXPOSURES_PER_MESSAGE)
            .map(<[Exposure]>::to_vec)
            .collect()
    };
    let parts = chunks.len() as u32;
    let mut changes = Some(changes);
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, exposures)| Exposures {
            v: VERSION,
            partition: partition.to_string(),
            at,
            part: i as u32 + 1,
            parts,
            changes: changes.take().unwrap_or_default(),
            exposures,
        })
        .collect()
}

impl Handler for Expose {
    type In = LevelsChanged;
    type Checked = Round;

    fn check(&self, subject: &str, m: LevelsChanged) -> Result<Round, BusError> {
        let f = Fields { subject };
        let partition = f.partition("/partition", &m.partition)?;
        let mut levels = HashMap::new();
        for (i, l) in m.levels.iter().enumerate() {
            let at = format!("/levels/{i}");
            levels.insert(
                (
                    f.area(format!("{at}/area"), &l.area)?,
                    f.category(format!("{at}/category"), &l.category)?,
                ),
                f.level(format!("{at}/level"), &l.level)?,
            );
        }
        for (i, c) in m.changes.iter().enumerate() {
            check_change(f, &format!("/changes/{i}"), c)?;
        }
        Ok(Round {
            partition,
            at: m.at,
            levels,
            changes: m.changes,
        })
    }

    fn handle(&mut self, batch: &[Round]) -> Result<Vec<Outgoing>> {
        let g = &self.guideline;
        let store = self.store.as_mut();
        // The registry as it is now (built per batch, so registry changes
        // made meanwhile are seen by the next batch).
        let index = SiteIndex::build(store.sites()?);
        let roster = Roster::new(store.people()?, store.legs()?);
        // Levels of areas outside a round (an event located in another
        // country than it is graded in): the latest stored.
        let stored: HashMap<(Area, Category), Level> = store
            .latest_assessments()?
            .into_iter()
            .map(|a| ((a.area, a.category), a.level))
            .collect();
        let mut windows: HashMap<DateTime<Utc>, Vec<Event>> = HashMap::new();
        let mut out = Vec::new();
        for r in batch {
            if let std::collections::hash_map::Entry::Vacant(slot) = windows.entry(r.at) {
                slot.insert(store.events_between(r.at - Duration::days(g.window_days), r.at)?);
            }
            let events: Vec<Event> = windows
                .get(&r.at)
                .map(|w| {
                    w.iter()
                        .filter(|e| Partition::of(event_country(e)) == r.partition)
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            let level_of = |area: &Area, c: Category| {
                let key = (area.clone(), c);
                if Partition::of_area(area) == r.partition {
                    r.levels.get(&key).copied().unwrap_or(Level::Normal)
                } else {
                    stored.get(&key).copied().unwrap_or(Level::Normal)
                }
            };
            let signals = exposure_signals(&index, &roster, g, &level_of, &events, r.at);
            let mut own = Vec::new();
            let mut elsewhere: BTreeMap<Partition, Vec<Exposure>> = BTreeMap::new();
            for s in &signals {
                if let Signal::Exposure(x) = s {
                    let p = Partition::of_area(&x.area);
                    if p == r.partition {
                        own.push(wire_exposure(x));
                    } else {
                        elsewhere.entry(p).or_default().push(wire_exposure(x));
                    }
                }
            }
            out.extend(split(&r.partition, r.at, r.changes.clone(), own));
            for (p, xs) in elsewhere {
                out.extend(split(&p, r.at, vec![], xs));
            }
        }
        Ok(out
            .iter()
            .map(|m| message::encode(&self.subjects, m))
            .collect())
    }
}

// --- respond -----------------------------------------------------------------

/// A round's signals → incidents opened, raised, lowered, noted.
pub struct Respond {
    pub store: Box<dyn Store>,
    pub library: Library,
    pub subjects: Subjects,
    pub pending: Vec<farguard_model::Incident>,
}

fn change_code(k: &ChangeKind) -> &'static str {
    match k {
        ChangeKind::Opened { .. } => "opened",
        ChangeKind::Escalated { .. } => "escalated",
        ChangeKind::Lowered { .. } => "lowered",
        ChangeKind::Stabilised => "stabilised",
        ChangeKind::Resumed => "resumed",
        ChangeKind::Reopened => "reopened",
        ChangeKind::ExposureNoted => "exposure",
        ChangeKind::TaskEscalated { .. } => "task_escalated",
        ChangeKind::Closed => "closed",
    }
}

impl Handler for Respond {
    type In = Exposures;
    type Checked = Vec<Signal>;

    fn check(&self, subject: &str, m: Exposures) -> Result<Vec<Signal>, BusError> {
        let f = Fields { subject };
        f.partition("/partition", &m.partition)?;
        let mut out = Vec::with_capacity(m.changes.len() + m.exposures.len());
        for (i, c) in m.changes.iter().enumerate() {
            out.push(Signal::Level(check_change(f, &format!("/changes/{i}"), c)?));
        }
        for (i, x) in m.exposures.iter().enumerate() {
            out.push(Signal::Exposure(check_exposure(
                f,
                &format!("/exposures/{i}"),
                x,
            )?));
        }
        Ok(out)
    }

    fn handle(&mut self, batch: &[Vec<Signal>]) -> Result<Vec<Outgoing>> {
        let store = self.store.as_mut();
        let known = store.incidents(&IncidentQuery {
            open_only: false,
            exercise: Some(false),
        })?;
        let mut book = farguard_respond::Book::new(known, false);
        let mut changes = Vec::new();
        for signals in batch {
            for s in signals {
                changes.extend(book.apply(&self.library, s));
            }
        }
        self.pending = book.take_dirty().into_iter().cloned().collect();
        let rows = change_rows(&changes);
        let mut out = Vec::new();
        for (c, row) in changes.iter().zip(rows) {
            let Some(inc) = book.get(&c.incident) else {
                continue;
            };
            out.push(message::encode(
                &self.subjects,
                &IncidentChanged {
                    v: VERSION,
                    incident: inc.id.clone(),
                    plan: inc.plan.clone(),
                    area: inc.area.to_string(),
                    category: inc.category.code().to_string(),
                    level: inc.level.code().to_string(),
                    change: change_code(&c.kind).to_string(),
                    at: inc.updated_at,
                    text: row.change,
                },
            ));
        }
        if !changes.is_empty() {
            tracing::info!(changes = changes.len(), "incidents changed");
        }
        Ok(out)
    }

    fn store(&mut self) -> Result<()> {
        for inc in std::mem::take(&mut self.pending) {
            self.store
                .save_incident(&inc)
                .with_context(|| format!("storing incident {}", inc.id))?;
        }
        Ok(())
    }
}

// --- notify ------------------------------------------------------------------

/// Incidents opened → their alert, composed for exactly the exposed people
/// and organisations and queued in the durable outbox (`farguard notify
/// run` delivers it).
pub struct Notify {
    pub store: Box<dyn Store>,
    pub config: NotifyConfig,
}

impl Handler for Notify {
    type In = IncidentChanged;
    type Checked = (String, String);

    fn check(&self, subject: &str, m: IncidentChanged) -> Result<(String, String), BusError> {
        Fields { subject }.area("/area", &m.area)?;
        Ok((m.incident, m.change))
    }

    fn handle(&mut self, batch: &[(String, String)]) -> Result<Vec<Outgoing>> {
        let store = self.store.as_mut();
        let opened: BTreeSet<&str> = batch
            .iter()
            .filter(|(_, change)| change == "opened")
            .map(|(id, _)| id.as_str())
            .collect();
        if opened.is_empty() {
            return Ok(vec![]);
        }
        let missions = wiring::missions(store, &self.config)?;
        for id in opened {
            // The respond stage publishes before it stores: until the
            // incident is there, this is retried, not skipped.
            let Some(inc) = store.incident(id)? else {
                return Err(NotYet(format!("incident {id} is not stored yet")).into());
            };
            if let Area::H3(_) = inc.area {
                // `alerts compose --incident` refuses these too: an H3
                // cell's alert is composed from its events (`--event`).
                tracing::warn!(
                    incident = id,
                    "no incident alert for an H3 cell: compose from its events"
                );
                continue;
            }
            let advice = super::super::alerts::plan_advice(&inc.plan, inc.level);
            let (input, recipients) =
                wiring::for_incident(store, &self.config, &inc, &advice, Utc::now())?;
            if recipients.is_empty() {
                tracing::info!(incident = id, "no one registered is exposed: no alert");
                continue;
            }
            wiring::compose_and_queue(store, &self.config, &input, &recipients, &missions)
                .map(|_| ())
                .with_context(|| format!("queueing the alert of {id}"))?;
            tracing::info!(incident = id, recipients = recipients.len(), "alert queued");
        }
        Ok(vec![])
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn x(n: usize) -> Exposure {
        Exposure {
            area: "KE".into(),
            category: "security".into(),
            level: "III".into(),
            at: DateTime::from_timestamp(1_571_900_000, 0).unwrap(),
            event: format!("gdelt:{n}"),
            sites: 1,
            people: 0,
            headcount: 0,
            value_usd: 0.0,
            kinds: vec!["port".into()],
            why: "test".into(),
        }
    }

    #[test]
    fn a_large_round_splits_with_its_changes_first() {
        let ke = Partition::parse("KE").unwrap();
        let at = DateTime::from_timestamp(1_571_900_000, 0).unwrap();
        let change = LevelChange {
            area: "KE".into(),
            category: "security".into(),
            from: "0".into(),
            to: "III".into(),
            at,
            why: "test".into(),
        };
        let xs: Vec<Exposure> = (0..EXPOSURES_PER_MESSAGE * 2 + 1).map(x).collect();
        let parts = split(&ke, at, vec![change.clone()], xs);
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0].changes, vec![change]);
        assert!(parts[1].changes.is_empty() && parts[2].changes.is_empty());
        assert_eq!(parts.iter().map(|p| p.exposures.len()).sum::<usize>(), 801);
        assert_eq!((parts[2].part, parts[2].parts), (3, 3));
        // An empty round is still one message: the changes must get through.
        let one = split(&ke, at, vec![], vec![]);
        assert_eq!(one.len(), 1);
        let s = Subjects::default();
        let ids: BTreeSet<String> = parts
            .iter()
            .map(|p| message::encode(&s, p).msg_id)
            .collect();
        assert_eq!(ids.len(), 3, "each part its own id");
    }

    #[test]
    fn a_bad_signal_names_its_field() {
        let mut m = Exposures {
            v: VERSION,
            partition: "KE".into(),
            at: DateTime::from_timestamp(1_571_900_000, 0).unwrap(),
            part: 1,
            parts: 1,
            changes: vec![],
            exposures: vec![x(1), x(2)],
        };
        m.exposures[1].level = "V".into();
        let dir = tempfile::tempdir().unwrap();
        let r = Respond {
            store: Box::new(farguard_store::SqliteStore::open(dir.path().join("t.db")).unwrap()),
            library: farguard_respond::Library::default(),
            subjects: Subjects::default(),
            pending: vec![],
        };
        let e = r
            .check("farguard.exposures.KE", m)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.starts_with("farguard.exposures.KE: /exposures/1/level: "),
            "{e}"
        );
    }
}
