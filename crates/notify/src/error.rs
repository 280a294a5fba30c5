//! The notify crate's error type.

/// What can go wrong composing or delivering an alert. Messages name the
/// place (template, variable, field, address) and what to fix.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(
        "template {template}: variable {{{var}}} is not set; provide it or remove it from the template"
    )]
    MissingVar { template: String, var: String },
    #[error(
        "template {template}: unclosed {{ at byte {at}; close it with }} or write {{{{ for a literal brace"
    )]
    BadTemplate { template: String, at: usize },
    #[error(
        "no template {name:?} for language {lang:?}; add [templates.{lang}] {name} to notify.toml"
    )]
    NoTemplate { name: String, lang: String },
    #[error(
        "recipient {recipient}: unknown channel {channel:?}; expected one of: webhook email sms file"
    )]
    UnknownChannel { recipient: String, channel: String },
    #[error("recipient {recipient}: {field} {value:?} does not parse: {reason}")]
    BadAddress {
        recipient: String,
        field: &'static str,
        value: String,
        reason: String,
    },
    #[error("{file}: {reason}")]
    Config { file: String, reason: String },
    #[error("cap: {0}")]
    Cap(String),
    #[error("operating system RNG failed: {0}")]
    Random(String),
    #[error("channel {channel}: {reason}")]
    Channel {
        channel: &'static str,
        reason: String,
    },
    #[error("outbox store: {0}")]
    Backend(String),
}
