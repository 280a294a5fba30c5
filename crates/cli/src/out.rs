//! Output helpers shared by the commands: JSON printing, time parsing and
//! small text formatting.

use anyhow::{Context, Result, bail};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

/// Prints a value as pretty JSON on stdout.
pub fn json<T: Serialize>(v: &T) -> Result<()> {
    println!(
        "{}",
        serde_json::to_string_pretty(v).context("serialising output")?
    );
    Ok(())
}

/// Parses `--at`: RFC 3339 (`2019-10-24T14:30:00Z`) or a date (`2019-10-24`,
/// meaning the end of that day).
pub fn parse_time(s: &str) -> Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Some(t) = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.succ_opt())
        .and_then(|n| n.and_hms_opt(0, 0, 0))
    {
        return Ok(t.and_utc());
    }
    bail!(
        "--at {s:?}: expected RFC 3339 such as 2019-10-24T14:30:00Z, or a date such as 2019-10-24"
    )
}

/// Shortens text to `n` characters with an ellipsis.
pub fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}
