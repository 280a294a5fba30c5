//! The respond crate's errors: plan and drill files that do not validate,
//! and task updates that are refused.

use std::fmt;

/// One problem in a plan or drill file, at a place a person can find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub file: String,
    /// 1-based line of the offending key or value.
    pub line: usize,
    /// Dotted key path, e.g. `steps.evacuate.owner`.
    pub key: String,
    /// What is wrong and what to do about it.
    pub message: String,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file, self.line, self.key, self.message
        )
    }
}

impl std::error::Error for FileError {}

/// Errors of the respond stage.
#[derive(Debug, thiserror::Error)]
pub enum RespondError {
    #[error("{} problem(s) in {}: {}", .0.len(), first_file(.0), join(.0))]
    Invalid(Vec<FileError>),
    #[error("no incident {0}")]
    NoIncident(String),
    #[error("incident {incident} has no task {task}; its tasks are: {known}")]
    NoTask {
        incident: String,
        task: String,
        known: String,
    },
    #[error("refused: {0}")]
    Refused(String),
    #[error("no plan {0} is loaded")]
    NoPlan(String),
}

fn first_file(e: &[FileError]) -> &str {
    e.first().map_or("?", |e| e.file.as_str())
}

fn join(e: &[FileError]) -> String {
    e.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// 1-based line of a byte offset in `text`.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Turns a TOML parse error (syntax, unknown or missing field) into a
/// [`FileError`] with its line and, where the message names it, its key.
pub(crate) fn from_toml(file: &str, text: &str, e: &toml::de::Error) -> FileError {
    let line = e.span().map_or(1, |s| line_of(text, s.start));
    let msg = e.message().trim().to_string();
    // serde names the field in backticks: "unknown field `foo`, expected …".
    let key = msg
        .split('`')
        .nth(1)
        .filter(|_| msg.contains("field"))
        .map_or_else(|| "(file)".to_string(), str::to_string);
    let hint = if msg.starts_with("unknown field") {
        " (remove it or fix its spelling)"
    } else if msg.starts_with("missing field") {
        " (add it)"
    } else {
        ""
    };
    FileError {
        file: file.to_string(),
        line,
        key,
        message: format!("{msg}{hint}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_one_based() {
        let t = "a\nb\nc";
        assert_eq!(line_of(t, 0), 1);
        assert_eq!(line_of(t, 2), 2);
        assert_eq!(line_of(t, 4), 3);
        assert_eq!(line_of(t, 99), 3);
    }
}
