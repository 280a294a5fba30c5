//! Signed webhooks: HMAC-SHA256 over `timestamp.body`, with a replay window.
//!
//! Headers: `X-Farguard-Timestamp` (Unix seconds), `X-Farguard-Signature`
//! (`v1=` and the lower-case hex HMAC of `"{timestamp}.{body}"` under the
//! shared secret), `Idempotency-Key` (the outbox key). A receiver calls
//! [`verify`]: a bad signature, a timestamp outside the window, or (with a
//! [`ReplayGuard`]) a signature already seen inside the window is refused.

use super::{Channel, Outcome, agent, http_outcome, ureq_outcome};
use crate::hex;
use farguard_model::{ChannelKind, Delivery};
use hmac::{KeyInit, Mac};
use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Signs `timestamp.body`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length: `new_from_slice` cannot fail here.
    let Ok(mut m) = HmacSha256::new_from_slice(secret) else {
        return String::new();
    };
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    format!("v1={}", hex(&m.finalize().into_bytes()))
}

/// Why a webhook request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing or malformed X-Farguard-Timestamp header (expected Unix seconds)")]
    BadTimestamp,
    #[error(
        "timestamp {timestamp} is outside the {window_s} s replay window around {now}; check the sender's clock"
    )]
    OutsideWindow {
        timestamp: i64,
        now: i64,
        window_s: i64,
    },
    #[error("signature does not match: wrong secret, or the body was altered")]
    BadSignature,
    #[error("this exact signed request was already received at {first_seen}: replay refused")]
    Replayed { first_seen: i64 },
}

/// Checks a received request. Constant-time on the signature.
pub fn verify(
    secret: &[u8],
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: i64,
    window: Duration,
) -> Result<i64, VerifyError> {
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::BadTimestamp)?;
    let w = window.as_secs() as i64;
    if (now - ts).abs() > w {
        return Err(VerifyError::OutsideWindow {
            timestamp: ts,
            now,
            window_s: w,
        });
    }
    let expected = sign(secret, ts, body);
    let (a, b) = (expected.as_bytes(), signature.trim().as_bytes());
    let diff = a.len() ^ b.len()
        | a.iter()
            .zip(b.iter())
            .fold(0usize, |acc, (x, y)| acc | usize::from(x ^ y));
    if diff != 0 {
        return Err(VerifyError::BadSignature);
    }
    Ok(ts)
}

/// Remembers signatures seen inside the window, so a captured request
/// replayed within the window is refused too.
#[derive(Debug, Default)]
pub struct ReplayGuard {
    seen: HashMap<String, i64>,
}

impl ReplayGuard {
    /// [`verify`], then refuses a signature already seen.
    pub fn check(
        &mut self,
        secret: &[u8],
        timestamp: &str,
        signature: &str,
        body: &[u8],
        now: i64,
        window: Duration,
    ) -> Result<(), VerifyError> {
        let ts = verify(secret, timestamp, signature, body, now, window)?;
        let w = window.as_secs() as i64;
        self.seen.retain(|_, t| now - *t <= w);
        if let Some(first) = self.seen.get(signature.trim()) {
            return Err(VerifyError::Replayed { first_seen: *first });
        }
        self.seen.insert(signature.trim().to_string(), ts);
        Ok(())
    }
}

/// The JSON a webhook receives.
pub fn payload(d: &Delivery) -> String {
    serde_json::json!({
        "key": d.key,
        "alert": d.alert,
        "scope": d.scope,
        "recipient": d.recipient,
        "language": d.language,
        "subject": d.subject,
        "text": d.body,
    })
    .to_string()
}

/// Posts each record to its recipient's URL (the contact address).
pub struct Webhook {
    secret: Vec<u8>,
    agent: ureq::Agent,
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("secret", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl Webhook {
    pub fn new(secret: impl Into<Vec<u8>>, timeout: Duration) -> Self {
        Self {
            secret: secret.into(),
            agent: agent(timeout),
        }
    }
}

impl Channel for Webhook {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Webhook
    }
    fn send(&mut self, d: &Delivery) -> Outcome {
        let body = payload(d);
        let ts = chrono::Utc::now().timestamp();
        let sig = sign(&self.secret, ts, body.as_bytes());
        let r = self
            .agent
            .post(&d.address)
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", &d.key)
            .header("X-Farguard-Timestamp", ts.to_string())
            .header("X-Farguard-Signature", &sig)
            .send(body.as_bytes());
        match r {
            Ok(mut resp) => {
                let status = resp.status().as_u16();
                let text = resp.body_mut().read_to_string().unwrap_or_default();
                http_outcome(status, &text)
            }
            Err(e) => ureq_outcome(&e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Duration = Duration::from_secs(300);

    #[test]
    fn signature_verifies_and_detects_tampering() {
        let s = sign(b"k", 1_700_000_000, b"{\"a\":1}");
        assert!(s.starts_with("v1=") && s.len() == 67);
        assert_eq!(
            verify(b"k", "1700000000", &s, b"{\"a\":1}", 1_700_000_010, W),
            Ok(1_700_000_000)
        );
        assert_eq!(
            verify(b"k", "1700000000", &s, b"{\"a\":2}", 1_700_000_010, W),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify(b"x", "1700000000", &s, b"{\"a\":1}", 1_700_000_010, W),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify(b"k", "soon", &s, b"{\"a\":1}", 1_700_000_010, W),
            Err(VerifyError::BadTimestamp)
        );
    }

    #[test]
    fn replays_are_refused_outside_and_inside_the_window() {
        let body = b"{}";
        let s = sign(b"k", 1_700_000_000, body);
        // An old capture replayed later: outside the window.
        assert!(matches!(
            verify(b"k", "1700000000", &s, body, 1_700_000_000 + 301, W),
            Err(VerifyError::OutsideWindow { .. })
        ));
        // The same request twice inside the window: the guard refuses the second.
        let mut g = ReplayGuard::default();
        assert_eq!(
            g.check(b"k", "1700000000", &s, body, 1_700_000_001, W),
            Ok(())
        );
        assert_eq!(
            g.check(b"k", "1700000000", &s, body, 1_700_000_002, W),
            Err(VerifyError::Replayed {
                first_seen: 1_700_000_000
            })
        );
    }
}
