//! Safety check-in: credentials, answers and the accountability view.
//!
//! A link token is 256 bits from the OS RNG (hex in the URL); a reply code
//! for SMS is 10 characters of Crockford base32 (50 bits, shown `XXXXX-XXXXX`).
//! Both are stored only as SHA-256. An answer is decided by [`decide`], a
//! pure function the CLI and the server's routes share:
//!
//! - unknown credential → [`CheckinError::Forged`];
//! - past its expiry → [`CheckinError::Expired`];
//! - older than the answer already recorded (an SMS gateway re-delivering a
//!   stale message, a captured request replayed) → [`CheckinError::Replayed`];
//! - the same answer again → [`Decision::Unchanged`] (idempotent);
//! - otherwise → [`Decision::Record`] with the new state.

use crate::{NotifyError, hex, os_random};
use chrono::{DateTime, Utc};
use farguard_model::{CheckinState, CheckinStatus, CheckinToken};
use sha2::{Digest, Sha256};

/// A fresh credential: the clear text (for the message) and its hash (for the store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    pub token: String,
    pub hash: [u8; 32],
}

/// SHA-256 of a credential as presented (codes are normalised first).
pub fn hash(credential: &str) -> [u8; 32] {
    Sha256::digest(credential.as_bytes()).into()
}

/// A new 256-bit link token.
pub fn issue_token() -> Result<Issued, NotifyError> {
    let mut b = [0u8; 32];
    os_random(&mut b)?;
    let token = hex(&b);
    Ok(Issued {
        hash: hash(&token),
        token,
    })
}

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A new reply code (`XXXXX-XXXXX`) and the hash of its normalised form.
pub fn issue_reply_code() -> Result<(String, [u8; 32]), NotifyError> {
    let mut b = [0u8; 10];
    os_random(&mut b)?;
    let raw: String = b
        .iter()
        .map(|x| CROCKFORD[(x & 31) as usize] as char)
        .collect();
    let shown = format!("{}-{}", &raw[..5], &raw[5..]);
    Ok((shown, hash(&normalise_code(&raw))))
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
    // Codes may be typed with a space instead of the dash.
    let rest: Vec<&str> = it.collect();
    let mut words = rest.as_slice();
    if normalise_code(&code).len() == 5
        && let Some((second, tail)) = rest.split_first()
    {
        code.push_str(second);
        words = tail;
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

    #[test]
    fn tokens_are_long_distinct_and_hashed() {
        let a = issue_token().unwrap();
        let b = issue_token().unwrap();
        assert_eq!(a.token.len(), 64);
        assert_ne!(a.token, b.token);
        assert_eq!(a.hash, hash(&a.token));
        let (code, h) = issue_reply_code().unwrap();
        assert_eq!(code.len(), 11);
        assert_eq!(Credential::Code(&code.to_lowercase()).hash(), h);
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
        assert!(parse_sms("hello").is_none());
    }
}
