//! Incidents: what the respond stage opens from a plan, what the store keeps
//! and what task updates and sitreps read — the task force, the tasks with
//! their deadlines and escalations, and the timeline of who did what.

use crate::{Area, Category, Level, ModelError};
use chrono::{DateTime, Utc};
use std::fmt;

/// Who commands the response (paper §三(三): central command for major
/// events, local lead for lesser ones). Ordered so `Central` is highest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CommandLevel {
    /// Local office or the enterprise leads, the centre monitors.
    Local,
    /// The embassy or provincial foreign-affairs office leads.
    Embassy,
    /// The national coordination centre commands.
    Central,
}

impl CommandLevel {
    pub const ALL: [CommandLevel; 3] = [
        CommandLevel::Local,
        CommandLevel::Embassy,
        CommandLevel::Central,
    ];
    pub fn code(self) -> &'static str {
        match self {
            CommandLevel::Local => "local",
            CommandLevel::Embassy => "embassy",
            CommandLevel::Central => "central",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            CommandLevel::Local => "local or enterprise lead, central monitoring",
            CommandLevel::Embassy => "embassy / provincial lead",
            CommandLevel::Central => "central command",
        }
    }
    pub fn parse(s: &str) -> Result<Self, ModelError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "local" | "enterprise" => Ok(CommandLevel::Local),
            "embassy" | "provincial" => Ok(CommandLevel::Embassy),
            "central" => Ok(CommandLevel::Central),
            _ => Err(ModelError::Invalid {
                field: "command level",
                value: s.to_string(),
                hint: "expected one of: central, embassy, local",
            }),
        }
    }
    /// The default command level for a grade (DESIGN: I–II central, III
    /// embassy or provincial, IV local or enterprise).
    pub fn for_level(level: Level) -> Self {
        match level {
            Level::I | Level::II => CommandLevel::Central,
            Level::III => CommandLevel::Embassy,
            Level::IV | Level::Normal => CommandLevel::Local,
        }
    }
}

impl fmt::Display for CommandLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

macro_rules! status_enum {
    ($(#[$m:meta])* $name:ident { $($v:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($v),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$v),+];
            pub fn code(self) -> &'static str { match self { $($name::$v => $s),+ } }
            pub fn parse(s: &str) -> Result<Self, ModelError> {
                match s.trim().to_ascii_lowercase().as_str() {
                    $($s => Ok($name::$v),)+
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

status_enum!(
    /// Incident lifecycle, in order: detected → activated → responding →
    /// stabilised → closed → reviewed.
    IncidentStatus {
        Detected = "detected",
        Activated = "activated",
        Responding = "responding",
        Stabilised = "stabilised",
        Closed = "closed",
        Reviewed = "reviewed",
    }
);

impl IncidentStatus {
    /// Still needs work (not closed or reviewed).
    pub fn is_open(self) -> bool {
        self < IncidentStatus::Closed
    }
}

status_enum!(
    /// A task's state.
    TaskStatus {
        Open = "open",
        Acked = "acked",
        Done = "done",
    }
);

/// One organisation filling one role in an incident's joint task force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Role id from the plan (e.g. `foreign_affairs`).
    pub role: String,
    /// Organisation id that fills it.
    pub org: String,
    pub joined_at: DateTime<Utc>,
    /// The incident level at which it joined.
    pub level: Level,
}

/// One task of an incident, created from a plan step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// The plan step id, unique within the incident.
    pub id: String,
    pub title: String,
    pub owner_role: String,
    pub org: String,
    /// Step ids this one waits for.
    pub after: Vec<String>,
    pub checklist: Vec<String>,
    pub resources: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub status: TaskStatus,
    pub acked_at: Option<DateTime<Utc>>,
    pub acked_by: Option<String>,
    pub done_at: Option<DateTime<Utc>>,
    pub done_by: Option<String>,
    /// How many times the overdue task has been escalated (0 = never).
    pub escalations: u8,
}

impl Task {
    pub fn is_done(&self) -> bool {
        self.status == TaskStatus::Done
    }
    /// Done by its deadline (`None` while not done).
    pub fn on_time(&self) -> Option<bool> {
        self.done_at.map(|d| d <= self.due_at)
    }
}

/// One thing that happened to an incident, and who did it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    /// `farguard` for the engine, otherwise an organisation id or user.
    pub actor: String,
    /// Short machine code: opened, activated, escalated, member_joined,
    /// task_created, task_acked, task_done, task_overdue, refused, …
    pub kind: String,
    pub text: String,
}

/// A response incident: one per (plan, area, window).
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    pub id: String,
    pub plan: String,
    pub plan_version: String,
    pub title: String,
    pub area: Area,
    pub category: Category,
    /// The current level and the highest it reached.
    pub level: Level,
    pub peak_level: Level,
    pub command: CommandLevel,
    pub lead_agency: String,
    pub status: IncidentStatus,
    /// Produced by a drill: CAP status `Exercise`, never mixed with real work.
    pub exercise: bool,
    pub opened_at: DateTime<Utc>,
    /// The (plan, area) window: a further trigger before this joins this
    /// incident instead of opening another.
    pub window_end: DateTime<Utc>,
    pub activated_at: Option<DateTime<Utc>>,
    /// Since when the level has been below the plan's stand-down level.
    pub calm_since: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// Why it was opened, in words (the trigger and its explanation).
    pub reason: String,
    pub members: Vec<Member>,
    pub tasks: Vec<Task>,
    pub timeline: Vec<TimelineEntry>,
}

impl Incident {
    pub fn is_open(&self) -> bool {
        self.status.is_open()
    }
    /// The organisation filling `role`, if the role is in the task force.
    pub fn org_for(&self, role: &str) -> Option<&str> {
        self.members
            .iter()
            .find(|m| m.role == role)
            .map(|m| m.org.as_str())
    }
    pub fn has_org(&self, org: &str) -> bool {
        self.members.iter().any(|m| m.org == org)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_order() {
        for s in IncidentStatus::ALL {
            assert_eq!(IncidentStatus::parse(s.code()).unwrap(), *s);
        }
        for s in TaskStatus::ALL {
            assert_eq!(TaskStatus::parse(s.code()).unwrap(), *s);
        }
        for c in CommandLevel::ALL {
            assert_eq!(CommandLevel::parse(c.code()).unwrap(), c);
        }
        assert!(IncidentStatus::Stabilised.is_open() && !IncidentStatus::Closed.is_open());
        assert!(CommandLevel::Central > CommandLevel::Embassy);
        assert_eq!(CommandLevel::for_level(Level::II), CommandLevel::Central);
        assert_eq!(CommandLevel::for_level(Level::IV), CommandLevel::Local);
        assert!(IncidentStatus::parse("open").is_err());
    }
}
