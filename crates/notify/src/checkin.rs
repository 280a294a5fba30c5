//! Safety check-in: credentials, answers and the accountability view.
//!
//! Credentials are derived, not stored. Each alert has a 256-bit secret
//! drawn from the OS RNG when it is composed ([`AlertSecret`]); the store
//! keeps it beside the alert. The credentials in a message are computed
//! when that message is sent, from the secret, the outbox row's id and the
//! recipient:
//!
//! - link token: 64 hex characters, the row id (16) and 192 bits of
//!   `HMAC-SHA256(secret, "link" ‖ row ‖ recipient)` (48);
//! - SMS reply code: 15 characters of Crockford base32 shown
//!   `XXXXX-XXXXX-XXXXX`: the row id (35 bits) and 40 bits of
//!   `HMAC-SHA256(secret, "code" ‖ row ‖ recipient)`.
//!
//! A presented credential names its row, so it is checked by recomputing
//! the MAC with that row's alert secret (constant-time comparison) — no
//! per-recipient credential is stored and no lookup index over random
//! values is written, which is what lets a million recipients be queued in
//! seconds. Security argument: HMAC-SHA256 under a uniformly random 256-bit
//! key is a pseudo-random function, so without the secret a forger's best
//! move is to guess the tag of some row: 2^-192 per try for a link, 2^-40
//! per try for a code, whichever row it names (the old stored 50-bit codes
//! gave 2^-30 per try against a million live codes). Only the row's own
//! recipient, in the row's own scope, is answered for, and only until the
//! row's expiry (`created_at` + the alert's check-in TTL; reminder rows are
//! new rows, so their links are fresh). Whoever can read the database can
//! derive credentials from the stored secret; the outbox previously stored
//! every rendered message with its link in clear, so that exposure is
//! unchanged. Credentials issued before the slim outbox (random tokens kept
//! as SHA-256 in `checkin_tokens`) are still found by hash ([`resolve`]).
//!
//! An answer is decided by [`decide`], a pure function the CLI and the
//! server's routes share:
//!
//! - unknown credential → [`CheckinError::Forged`];
//! - past its expiry → [`CheckinError::Expired`];
//! - older than the answer already recorded (an SMS gateway re-delivering a
//!   stale message, a captured request replayed) → [`CheckinError::Replayed`];
//! - the same answer again → [`Decision::Unchanged`] (idempotent);
//! - otherwise → [`Decision::Record`] with the new state.

use crate::{NotifyError, hex, os_random};
use chrono::{DateTime, Utc};
use farguard_model::{CheckinIssuer, CheckinState, CheckinStatus, CheckinToken};
use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};
use std::fmt;

type HmacSha256 = hmac::Hmac<Sha256>;

/// SHA-256 of a credential as presented (codes are normalised first).
pub fn hash(credential: &str) -> [u8; 32] {
    Sha256::digest(credential.as_bytes()).into()
}

/// An alert's check-in secret: 256 bits from the OS RNG.
#[derive(Clone, PartialEq, Eq)]
pub struct AlertSecret([u8; 32]);

impl fmt::Debug for AlertSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AlertSecret(<redacted>)")
    }
}

impl AlertSecret {
    /// A fresh secret.
    pub fn generate() -> Result<Self, NotifyError> {
        let mut b = [0u8; 32];
        os_random(&mut b)?;
        Ok(Self(b))
    }
    pub fn from_bytes(b: [u8; 32]) -> Self {
        Self(b)
    }
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
    fn mac(&self, kind: &[u8], row: i64, recipient: &str) -> [u8; 32] {
        // HMAC takes keys of any length: `new_from_slice` cannot fail here.
        let Ok(mut m) = HmacSha256::new_from_slice(&self.0) else {
            return [0; 32];
        };
        m.update(kind);
        m.update(&row.to_be_bytes());
        m.update(recipient.as_bytes());
        m.finalize().into_bytes().into()
    }
}

/// Bits of a reply code: the row id, then the tag.
const CODE_ROW_BITS: u32 = 35;
const CODE_TAG_BITS: u32 = 40;
const CODE_CHARS: usize = 15;

/// The link token for outbox row `row` to `recipient`.
pub fn link_token(secret: &AlertSecret, row: i64, recipient: &str) -> String {
    let tag = secret.mac(b"link", row, recipient);
    let mut s = hex(&row.to_be_bytes());
    s.push_str(&hex(&tag[..24]));
    s
}

/// The SMS reply code for outbox row `row` to `recipient`, shown
/// `XXXXX-XXXXX-XXXXX`; `None` past row 2^35 (the code has no room for it).
pub fn reply_code(secret: &AlertSecret, row: i64, recipient: &str) -> Option<String> {
    if !(0..1i64 << CODE_ROW_BITS).contains(&row) {
        return None;
    }
    let tag = secret.mac(b"code", row, recipient);
    let t = u64::from_be_bytes([0, 0, 0, tag[0], tag[1], tag[2], tag[3], tag[4]]);
    let v = (u128::from(row as u64) << CODE_TAG_BITS) | u128::from(t);
    let mut raw = [0u8; CODE_CHARS];
    for (i, c) in raw.iter_mut().enumerate() {
        let shift = 5 * (CODE_CHARS - 1 - i);
        *c = CROCKFORD[((v >> shift) & 31) as usize];
    }
    let raw = String::from_utf8_lossy(&raw).into_owned();
    Some(format!("{}-{}-{}", &raw[..5], &raw[5..10], &raw[10..]))
}

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

fn crockford_value(c: u8) -> Option<u128> {
    CROCKFORD.iter().position(|x| *x == c).map(|p| p as u128)
}

/// The outbox row a derived credential names (`None`: not a derived
/// credential; it may be an older stored one).
pub fn locate(cred: Credential<'_>) -> Option<i64> {
    match cred {
        Credential::Link(t) => {
            let t = t.trim();
            if t.len() != 64 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            u64::from_str_radix(&t[..16], 16)
                .ok()
                .and_then(|r| i64::try_from(r).ok())
        }
        Credential::Code(c) => code_parts(c).map(|(row, _)| row),
    }
}

fn code_parts(c: &str) -> Option<(i64, u64)> {
    let n = normalise_code(c);
    if n.len() != CODE_CHARS {
        return None;
    }
    let mut v: u128 = 0;
    for b in n.bytes() {
        v = (v << 5) | crockford_value(b)?;
    }
    let tag = (v & ((1u128 << CODE_TAG_BITS) - 1)) as u64;
    let row = i64::try_from(v >> CODE_TAG_BITS).ok()?;
    Some((row, tag))
}

fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks a derived credential against the row it names: the MAC is
/// recomputed with the row's alert secret and compared in constant time.
/// Returns the credential as a token of that row (its scope, recipient and
/// expiry) or `None` when it does not verify.
pub fn verify(cred: Credential<'_>, issuer: &CheckinIssuer) -> Option<CheckinToken> {
    let secret = AlertSecret(issuer.secret);
    let (ok, kind) = match cred {
        Credential::Link(t) => {
            let want = link_token(&secret, issuer.row, &issuer.recipient);
            (same(t.trim().as_bytes(), want.as_bytes()), "link")
        }
        Credential::Code(c) => {
            let (row, tag) = code_parts(c)?;
            let m = secret.mac(b"code", issuer.row, &issuer.recipient);
            let want = u64::from_be_bytes([0, 0, 0, m[0], m[1], m[2], m[3], m[4]]);
            (
                row == issuer.row && same(&tag.to_be_bytes(), &want.to_be_bytes()),
                "code",
            )
        }
    };
    ok.then(|| CheckinToken {
        hash: cred.hash(),
        scope: issuer.scope.clone(),
        recipient: issuer.recipient.clone(),
        kind: kind.into(),
        created_at: issuer.created_at,
        expires_at: issuer.expires_at,
    })
}

/// Finds what a presented credential answers for: a derived credential by
/// the row it names (`by_row`, then [`verify`]), else an older stored
/// credential by its SHA-256 (`by_hash`). `None`: forged.
pub fn resolve<S: ?Sized, E>(
    store: &mut S,
    cred: Credential<'_>,
    by_row: impl FnOnce(&mut S, i64) -> Result<Option<CheckinIssuer>, E>,
    by_hash: impl FnOnce(&mut S, &[u8; 32]) -> Result<Option<CheckinToken>, E>,
) -> Result<Option<CheckinToken>, E> {
    if let Some(row) = locate(cred)
        && let Some(issuer) = by_row(store, row)?
        && let Some(t) = verify(cred, &issuer)
    {
        return Ok(Some(t));
    }
    by_hash(store, &cred.hash())
}

/// Reply codes are typed by people: case, dashes and spaces do not matter,
/// and the letters Crockford leaves out read as the digits they look like.
pub fn normalise_code(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        })
        .collect()
}

/// How a credential was presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential<'a> {
    /// The token from the link.
    Link(&'a str),
    /// The code from an SMS reply.
    Code(&'a str),
}

impl Credential<'_> {
    pub fn hash(&self) -> [u8; 32] {
        match self {
            Credential::Link(t) => hash(t.trim()),
            Credential::Code(c) => hash(&normalise_code(c)),
        }
    }
}

/// A person's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: CheckinStatus,
    pub message: Option<String>,
    pub location: Option<(f64, f64)>,
    /// When the person answered (the request time, or the SMS's own time).
    pub at: DateTime<Utc>,
}

/// Refusals, each saying what the person can do.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CheckinError {
    #[error(
        "this check-in link or code is not valid; check it was copied whole, or answer through the newest message you received"
    )]
    Forged,
    #[error(
        "this check-in link expired at {0}; answer through the newest message, or call the emergency line in it"
    )]
    Expired(DateTime<Utc>),
    #[error(
        "a newer answer (at {recorded}) is already recorded; this one (at {presented}) is older and was not applied"
    )]
    Replayed {
        recorded: DateTime<Utc>,
        presented: DateTime<Utc>,
    },
    #[error("an answer must be safe or need_help")]
    NoStatus,
    #[error("location {0},{1} is out of range: latitude -90..90, longitude -180..180")]
    BadLocation(f64, f64),
    #[error("message is {0} characters; keep it under 1000")]
    TooLong(usize),
}

/// What to do with an answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Store this state (and append the answer to the history).
    Record(CheckinState),
    /// Identical to what is recorded: nothing to store.
    Unchanged(CheckinState),
}

/// Decides an answer presented with a credential whose stored token is
/// `token` (`None`: unknown) and whose recipient's state is `current`.
pub fn decide(
    token: Option<&CheckinToken>,
    current: &CheckinState,
    answer: &Answer,
    now: DateTime<Utc>,
) -> Result<Decision, CheckinError> {
    let Some(t) = token else {
        return Err(CheckinError::Forged);
    };
    if t.scope != current.scope || t.recipient != current.recipient {
        return Err(CheckinError::Forged);
    }
    if now > t.expires_at {
        return Err(CheckinError::Expired(t.expires_at));
    }
    if answer.status == CheckinStatus::NoAnswer {
        return Err(CheckinError::NoStatus);
    }
    if let Some((lat, lon)) = answer.location
        && !((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon))
    {
        return Err(CheckinError::BadLocation(lat, lon));
    }
    let message = answer
        .message
        .as_ref()
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty());
    if let Some(m) = &message
        && m.chars().count() > 1000
    {
        return Err(CheckinError::TooLong(m.chars().count()));
    }
    let same = current.status == answer.status
        && current.message == message
        && current.location == answer.location;
    if same {
        return Ok(Decision::Unchanged(current.clone()));
    }
    if let Some(recorded) = current.answered_at
        && answer.at < recorded
    {
        return Err(CheckinError::Replayed {
            recorded,
            presented: answer.at,
        });
    }
    let mut next = current.clone();
    next.status = answer.status;
    next.message = message;
    next.location = answer.location;
    next.answered_at = Some(answer.at);
    Ok(Decision::Record(next))
}

/// Parses an SMS reply: `SAFE CODE [words]` or `HELP CODE [words]` (also
/// 平安 / 求助), case-insensitive.
pub fn parse_sms(text: &str) -> Option<(CheckinStatus, String, Option<String>)> {
    let mut it = text.split_whitespace();
    let status = match it.next()?.to_uppercase().as_str() {
        "SAFE" | "OK" | "平安" | "安全" => CheckinStatus::Safe,
        "HELP" | "SOS" | "求助" => CheckinStatus::NeedHelp,
        _ => return None,
    };
    let mut code = it.next()?.to_string();
    // Codes may be typed with spaces instead of the dashes: the groups
    // that follow a partial code (5 or 10 characters) are part of it.
    let rest: Vec<&str> = it.collect();
    let mut words = rest.as_slice();
    while let Some((next, tail)) = words.split_first() {
        let have = normalise_code(&code).len();
        let more = normalise_code(next);
        let is_group = !more.is_empty()
            && more.len().is_multiple_of(5)
            && more.bytes().all(|b| crockford_value(b).is_some());
        if have.is_multiple_of(5)
            && have < CODE_CHARS
            && have + more.len() <= CODE_CHARS
            && is_group
        {
            code.push_str(next);
            words = tail;
        } else {
            break;
        }
    }
    let msg = (!words.is_empty()).then(|| words.join(" "));
    Some((status, code, msg))
}

/// The incident's accountability counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Accountability {
    pub people: u64,
    pub reached: u64,
    pub safe: u64,
    pub need_help: u64,
    pub no_answer: u64,
    /// No answer and no message delivered yet.
    pub not_reached: u64,
}

/// Counts states: every person is exactly one of safe / need help / no answer.
pub fn accountability(states: &[CheckinState]) -> Accountability {
    let mut a = Accountability::default();
    for s in states {
        a.people += 1;
        let reached = s.reached_at.is_some() || s.answered_at.is_some();
        if reached {
            a.reached += 1;
        }
        match s.status {
            CheckinStatus::Safe => a.safe += 1,
            CheckinStatus::NeedHelp => a.need_help += 1,
            CheckinStatus::NoAnswer => {
                a.no_answer += 1;
                if !reached {
                    a.not_reached += 1;
                }
            }
        }
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn t(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2019, 10, 24, h, 0, 0).unwrap()
    }

    fn fixture() -> (CheckinToken, CheckinState) {
        let tok = CheckinToken {
            hash: hash("x"),
            scope: "incident:1".into(),
            recipient: "p1".into(),
            kind: "link".into(),
            created_at: t(1),
            expires_at: t(1) + Duration::hours(72),
        };
        let st = CheckinState {
            scope: "incident:1".into(),
            recipient: "p1".into(),
            name: "P".into(),
            status: CheckinStatus::NoAnswer,
            message: None,
            location: None,
            answered_at: None,
            reached_at: Some(t(1)),
        };
        (tok, st)
    }

    fn ans(s: CheckinStatus, h: u32) -> Answer {
        Answer {
            status: s,
            message: None,
            location: None,
            at: t(h),
        }
    }

    fn issuer(row: i64, recipient: &str, secret: &AlertSecret) -> CheckinIssuer {
        CheckinIssuer {
            row,
            alert: "a1".into(),
            scope: "incident:1".into(),
            recipient: recipient.into(),
            accountable: true,
            secret: *secret.bytes(),
            created_at: t(1),
            expires_at: t(1) + Duration::hours(72),
        }
    }

    #[test]
    fn derived_credentials_name_their_row_and_verify_only_with_the_secret() {
        let k = AlertSecret::generate().unwrap();
        let link = link_token(&k, 42, "p1");
        assert_eq!(link.len(), 64);
        assert_ne!(link, link_token(&k, 43, "p1"));
        assert_ne!(link, link_token(&k, 42, "p2"));
        let code = reply_code(&k, 42, "p1").unwrap();
        assert_eq!(code.len(), 17);
        for c in [Credential::Link(&link), Credential::Code(&code)] {
            assert_eq!(locate(c), Some(42));
        }
        let lower = code.to_lowercase().replace('-', " ");
        let tok = verify(Credential::Code(&lower), &issuer(42, "p1", &k)).unwrap();
        assert_eq!((tok.kind.as_str(), tok.recipient.as_str()), ("code", "p1"));
        assert_eq!(tok.hash, Credential::Code(&code).hash());
        assert!(verify(Credential::Link(&link), &issuer(42, "p1", &k)).is_some());
        // Another secret, another recipient, another row: nothing verifies.
        let other = AlertSecret::generate().unwrap();
        assert!(verify(Credential::Link(&link), &issuer(42, "p1", &other)).is_none());
        assert!(verify(Credential::Link(&link), &issuer(42, "p2", &k)).is_none());
        assert!(verify(Credential::Code(&code), &issuer(41, "p1", &k)).is_none());
        // One flipped character of the tag is a forgery.
        let mut forged = link.clone().into_bytes();
        forged[63] = if forged[63] == b'0' { b'1' } else { b'0' };
        let forged = String::from_utf8(forged).unwrap();
        assert!(verify(Credential::Link(&forged), &issuer(42, "p1", &k)).is_none());
        // Older random credentials are not rows: they go to the hash lookup.
        assert_eq!(locate(Credential::Code("K7M2Q-9XH3P")), None);
        assert_eq!(reply_code(&k, 1 << 35, "p1"), None);
    }

    #[test]
    fn resolve_tries_the_named_row_then_the_stored_hash() {
        let k = AlertSecret::generate().unwrap();
        let link = link_token(&k, 7, "p1");
        let mut rows = vec![issuer(7, "p1", &k)];
        let found = resolve(
            &mut rows,
            Credential::Link(&link),
            |r, row| Ok::<_, ()>(r.iter().find(|i| i.row == row).cloned()),
            |_, _| Ok(None),
        )
        .unwrap();
        assert_eq!(found.map(|t| t.recipient), Some("p1".to_string()));
        let (legacy, _) = fixture();
        let found = resolve(
            &mut rows,
            Credential::Link("x"),
            |_, _| Ok::<_, ()>(None),
            |_, h| Ok((*h == legacy.hash).then(|| legacy.clone())),
        )
        .unwrap();
        assert!(found.is_some());
        rows.clear();
        let none = resolve(
            &mut rows,
            Credential::Link(&link),
            |r, row| Ok::<_, ()>(r.iter().find(|i| i.row == row).cloned()),
            |_, _| Ok(None),
        )
        .unwrap();
        assert!(none.is_none());
    }

    #[test]
    fn forged_expired_replayed_and_idempotent() {
        let (tok, st) = fixture();
        assert_eq!(
            decide(None, &st, &ans(CheckinStatus::Safe, 2), t(2)),
            Err(CheckinError::Forged)
        );
        let late = t(1) + Duration::hours(73);
        assert!(matches!(
            decide(Some(&tok), &st, &ans(CheckinStatus::Safe, 2), late),
            Err(CheckinError::Expired(_))
        ));
        let Decision::Record(s1) =
            decide(Some(&tok), &st, &ans(CheckinStatus::Safe, 3), t(3)).unwrap()
        else {
            panic!("first answer must record")
        };
        assert!(matches!(
            decide(Some(&tok), &s1, &ans(CheckinStatus::Safe, 4), t(4)).unwrap(),
            Decision::Unchanged(_)
        ));
        assert!(matches!(
            decide(Some(&tok), &s1, &ans(CheckinStatus::NeedHelp, 2), t(4)),
            Err(CheckinError::Replayed { .. })
        ));
        assert!(matches!(
            decide(Some(&tok), &s1, &ans(CheckinStatus::NeedHelp, 5), t(5)).unwrap(),
            Decision::Record(_)
        ));
        let mut other = tok.clone();
        other.recipient = "p2".into();
        assert_eq!(
            decide(Some(&other), &st, &ans(CheckinStatus::Safe, 2), t(2)),
            Err(CheckinError::Forged)
        );
    }

    #[test]
    fn sms_replies_parse() {
        let (s, c, m) = parse_sms("help k7m2q 9xh3p car broke down").unwrap();
        assert_eq!(s, CheckinStatus::NeedHelp);
        assert_eq!(normalise_code(&c), "K7M2Q9XH3P");
        assert_eq!(m.as_deref(), Some("car broke down"));
        assert_eq!(
            parse_sms("平安 K7M2Q-9XH3P").unwrap().0,
            CheckinStatus::Safe
        );
        let (_, c, m) = parse_sms("SAFE k7m2q 9xh3p abcde at the hotel").unwrap();
        assert_eq!(normalise_code(&c), "K7M2Q9XH3PABCDE");
        assert_eq!(m.as_deref(), Some("at the hotel"));
        let (_, c, m) = parse_sms("HELP K7M2Q-9XH3P-ABCDE").unwrap();
        assert_eq!((c.as_str(), m), ("K7M2Q-9XH3P-ABCDE", None));
        assert!(parse_sms("hello").is_none());
    }
}
