//! Channels: how one outbox record leaves the building.
//!
//! Every channel returns an [`Outcome`]: `Sent` with what the receiver
//! said, `Retry` for what may pass later (a timeout, a dropped connection,
//! a 5xx, 429), `Fatal` for what never will (a 4xx refusal, an address the
//! server rejects). Every channel carries the record's idempotency key to
//! the receiver (`Idempotency-Key` header, `Message-ID`, the file line).

pub mod email;
pub mod file;
pub mod sms;
pub mod webhook;

use farguard_model::{ChannelKind, Delivery};

/// The result of one try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent(String),
    Retry(String),
    Fatal(String),
}

/// One delivery channel.
pub trait Channel: Send {
    fn kind(&self) -> ChannelKind;
    fn send(&mut self, d: &Delivery) -> Outcome;
}

/// Maps an HTTP status to an outcome.
pub(crate) fn http_outcome(status: u16, body: &str) -> Outcome {
    let snippet: String = body.chars().take(200).collect();
    match status {
        200..=299 => Outcome::Sent(format!("HTTP {status}")),
        408 | 425 | 429 | 500..=599 => Outcome::Retry(format!("HTTP {status}: {snippet}")),
        _ => Outcome::Fatal(format!(
            "HTTP {status} (refused; fix the request or the receiver): {snippet}"
        )),
    }
}

/// Maps a transport error to an outcome: network trouble is retried,
/// a malformed URL is not.
pub(crate) fn ureq_outcome(e: &ureq::Error) -> Outcome {
    match e {
        ureq::Error::BadUri(u) => Outcome::Fatal(format!("bad URL {u}")),
        ureq::Error::StatusCode(s) => http_outcome(*s, ""),
        other => Outcome::Retry(other.to_string()),
    }
}

/// An HTTP agent with a hard deadline per request (a receiver that hangs is
/// a retry, not a stuck runner).
pub(crate) fn agent(timeout: std::time::Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into()
}
