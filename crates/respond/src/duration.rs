//! Offsets and windows written the way planners write them: `90m`, `2h`,
//! `1h30m`, `3d`, `1w`. A leading `-` is recognised only to be refused.

use chrono::TimeDelta;

/// Parses a non-negative duration; the error says what to write instead.
pub fn parse(s: &str) -> Result<TimeDelta, String> {
    let t = s.trim();
    if t.starts_with('-') {
        return Err(format!(
            "{s:?} is negative; offsets count forward from the incident's activation (use e.g. \"2h\")"
        ));
    }
    if t.is_empty() {
        return Err("empty duration; write e.g. \"30m\", \"2h\", \"1h30m\" or \"3d\"".into());
    }
    let mut total = TimeDelta::zero();
    let mut num = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: i64 = num.parse().map_err(|_| {
            format!("{s:?}: expected a number before {c:?}; write e.g. \"30m\", \"2h\" or \"3d\"")
        })?;
        num.clear();
        let unit = match c {
            's' => TimeDelta::try_seconds(n),
            'm' => TimeDelta::try_minutes(n),
            'h' => TimeDelta::try_hours(n),
            'd' => TimeDelta::try_days(n),
            'w' => TimeDelta::try_weeks(n),
            _ => {
                return Err(format!(
                    "{s:?}: unknown unit {c:?}; use s, m, h, d or w (e.g. \"1h30m\")"
                ));
            }
        }
        .ok_or_else(|| format!("{s:?} is too large"))?;
        total = total
            .checked_add(&unit)
            .ok_or_else(|| format!("{s:?} is too large"))?;
    }
    if !num.is_empty() {
        return Err(format!(
            "{s:?}: missing unit after {num}; write e.g. \"{num}m\" or \"{num}h\""
        ));
    }
    Ok(total)
}

/// Short human form: `1h30m`, `2d`, `0m`.
pub fn show(d: TimeDelta) -> String {
    let mut out = String::with_capacity(12);
    write_to(&mut out, d);
    out
}

/// Appends the short form of `d` to `out` (no allocation of its own).
pub fn write_to(out: &mut String, d: TimeDelta) {
    use std::fmt::Write as _;
    let mut m = d.num_minutes();
    if m < 0 {
        out.push('-');
        m = -m;
    }
    let (days, hours, mins) = (m / 1440, (m % 1440) / 60, m % 60);
    if days > 0 {
        let _ = write!(out, "{days}d");
    }
    if hours > 0 {
        let _ = write!(out, "{hours}h");
    }
    if mins > 0 || (days == 0 && hours == 0) {
        let _ = write!(out, "{mins}m");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_planner_durations() {
        assert_eq!(parse("90m").unwrap(), TimeDelta::minutes(90));
        assert_eq!(parse("1h30m").unwrap(), TimeDelta::minutes(90));
        assert_eq!(parse("3d").unwrap(), TimeDelta::days(3));
        assert_eq!(parse("0m").unwrap(), TimeDelta::zero());
        assert!(parse("-1h").unwrap_err().contains("negative"));
        assert!(parse("2").unwrap_err().contains("missing unit"));
        assert!(parse("2y").unwrap_err().contains("unknown unit"));
        assert_eq!(show(TimeDelta::minutes(90)), "1h30m");
        assert_eq!(show(TimeDelta::days(2)), "2d");
        assert_eq!(show(TimeDelta::zero()), "0m");
    }
}
