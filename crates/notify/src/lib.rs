//! Alerts that reach exactly the right people: composition, CAP 1.2 out, the
//! outbox logic, the channels and the safety check-in.
//!
//! Design note. `notify` is a stage crate: it depends on `farguard-model`
//! only. The CLI (or the server) decides *who* is exposed and hands this
//! crate resolved [`compose::Recipient`]s; this crate decides *what* each of
//! them is told, in their language ([`template`]), writes the one CAP 1.2
//! document of the alert ([`cap`]), and produces the alert's texts — one per
//! (language, template), with everything the recipients share — and one
//! slim outbox row per (alert, recipient, channel) with an idempotency key
//! and only the values that differ. It never touches a database: the
//! durable outbox is the store's `NotifyStore`, and [`outbox::run`] drives
//! it through the small [`outbox::OutboxBackend`] trait, completing each
//! message when it is sent ([`outbox::render`]), so a crash between any two
//! steps leaves a state the next run resumes from. Delivery on the wire is
//! at-least-once with a stable key (`Idempotency-Key` header, `Message-ID`,
//! file channel line key), and every receiver deduplicates on it; the file
//! channel deduplicates itself.
//!
//! Check-in credentials ([`checkin`]) are derived when a message is sent:
//! the outbox row's id and an HMAC-SHA256 tag under the alert's 256-bit
//! secret from the OS RNG, checked by recomputing the tag — nothing per
//! recipient is stored (the security argument is in [`checkin`]). The
//! decisions on an answer — forged, expired, replayed, unchanged, recorded —
//! are pure functions the server's routes call.
//!
//! Code map: `template` (a strict `{var}` renderer, partial rendering for
//! stored texts, the shipped zh/en texts), `compose` (recipients → alert
//! record, texts and rows; updates, cancellations, reminders; nearest
//! mission), `cap` (CAP 1.2 writer, and a reader of what it wrote),
//! `outbox` (send-time rendering, retry policy with backoff and jitter,
//! per-channel rate limits, leases and their heartbeat, the dispatch loop),
//! `channel` (webhook, email, SMS gateway, file), `checkin` (credentials,
//! answers, accountability), `config` (the `notify.toml` file).

pub mod cap;
pub mod channel;
pub mod checkin;
pub mod compose;
pub mod config;
mod error;
pub mod outbox;
pub mod template;

pub use error::NotifyError;

/// The whole CAP 1.2 schema as published by OASIS (see `schema/README.md`),
/// for callers that validate what they emit.
pub const CAP_XSD: &str = include_str!("../schema/CAP-v1.2.xsd");

/// Fills `buf` from the operating system's RNG.
pub(crate) fn os_random(buf: &mut [u8]) -> Result<(), NotifyError> {
    getrandom::fill(buf).map_err(|e| NotifyError::Random(e.to_string()))
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(H[(b >> 4) as usize] as char);
        s.push(H[(b & 15) as usize] as char);
    }
    s
}
