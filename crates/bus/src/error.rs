//! The bus's one error type: what went wrong, with the subject, the field
//! (as a JSON pointer) or the server's answer that says what to fix.

/// A transport or message failure.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// `--bus` is neither `memory` nor a `nats://` URL.
    #[error("bus {0:?} is not understood: use `memory` or a nats://host:port URL")]
    Url(String),
    /// A subject prefix or partition that cannot be a NATS subject token.
    #[error("{what} {value:?} is invalid: {hint}")]
    Name {
        what: &'static str,
        value: String,
        hint: &'static str,
    },
    /// The NATS server could not be reached or refused the connection.
    #[error("connecting to NATS at {url}: {detail}")]
    Connect { url: String, detail: String },
    /// A JetStream request (stream, consumer, publish, fetch, ack) failed.
    #[error("JetStream {op}: {detail}")]
    JetStream { op: &'static str, detail: String },
    /// A message that is not valid JSON of the expected type.
    #[error("{subject}: message is not a valid {kind}: {detail}")]
    Decode {
        subject: String,
        kind: &'static str,
        detail: String,
    },
    /// A message of a version this build does not read.
    #[error(
        "{subject}: message version {found} is not supported (this build reads version {want})"
    )]
    Version {
        subject: String,
        found: u32,
        want: u32,
    },
    /// A field whose value does not validate (area, category, level …).
    #[error("{subject}: {pointer}: {detail}")]
    Field {
        subject: String,
        pointer: String,
        detail: String,
    },
    /// The in-process bus was shut down.
    #[error("the in-process bus is closed")]
    Closed,
}

impl BusError {
    pub(crate) fn js(op: &'static str, e: impl std::fmt::Display) -> Self {
        BusError::JetStream {
            op,
            detail: e.to_string(),
        }
    }
}
