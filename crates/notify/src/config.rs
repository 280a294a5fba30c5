//! `notify.toml`: channels, retry and rate limits, organisation contacts,
//! mission phone lines, emergency contacts and template overrides.
//!
//! Layered: the shipped defaults (`config/notify.toml` in the repository is
//! the same text), then the file, then secrets from the environment only —
//! a secret is named by the variable that holds it (`secret_env`,
//! `password_env`, header values `env:NAME`), never written in the file.

use crate::NotifyError;
use crate::channel::email::SmtpConfig;
use crate::channel::sms::SmsConfig;
use crate::compose::Contact;
use crate::outbox::{RateLimit, RetryPolicy};
use crate::template::{Lang, Templates};
use farguard_model::ChannelKind;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// The shipped defaults.
pub const DEFAULT_TOML: &str = include_str!("../../../config/notify.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    sender: String,
    sender_name: String,
    checkin_base_url: String,
    checkin_ttl_hours: i64,
    fallback: String,
    #[serde(default)]
    retry: RawRetry,
    #[serde(default)]
    rate: BTreeMap<String, f64>,
    #[serde(default)]
    channels: RawChannels,
    #[serde(default)]
    contacts: Vec<RawContact>,
    #[serde(default)]
    missions: BTreeMap<String, RawMission>,
    #[serde(default)]
    emergency: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    templates: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetry {
    max_attempts: u32,
    base_ms: u64,
    max_delay_ms: u64,
}

impl Default for RawRetry {
    fn default() -> Self {
        let p = RetryPolicy::default();
        Self {
            max_attempts: p.max_attempts,
            base_ms: p.base.as_millis() as u64,
            max_delay_ms: p.max_delay.as_millis() as u64,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChannels {
    file: Option<RawFile>,
    webhook: Option<RawWebhook>,
    email: Option<RawEmail>,
    sms: Option<RawSms>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    path: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebhook {
    secret_env: String,
    #[serde(default = "timeout_default")]
    timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEmail {
    host: String,
    port: u16,
    security: String,
    from: String,
    username_env: Option<String>,
    password_env: Option<String>,
    #[serde(default = "timeout_default")]
    timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSms {
    url: String,
    content_type: String,
    body: String,
    from: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default = "timeout_default")]
    timeout_ms: u64,
}

fn timeout_default() -> u64 {
    10_000
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContact {
    recipient: String,
    channel: String,
    address: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMission {
    phone: String,
}

/// The webhook channel's settings (the secret itself is resolved from the environment).
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    pub secret_env: String,
    pub timeout: Duration,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("secret_env", &self.secret_env)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    pub sender: String,
    pub sender_name: String,
    pub checkin_base_url: String,
    pub checkin_ttl: chrono::Duration,
    /// Channel for recipients with no contact (`None`: a dead record).
    pub fallback: Option<ChannelKind>,
    pub retry: RetryPolicy,
    /// Sends per second, per channel.
    pub rate: BTreeMap<ChannelKind, f64>,
    pub file_path: Option<String>,
    pub webhook: Option<WebhookConfig>,
    pub email: Option<SmtpConfig>,
    pub sms: Option<SmsConfig>,
    /// Organisation (or person) id → extra contacts.
    pub contacts: BTreeMap<String, Vec<Contact>>,
    /// Mission org id → consular phone line.
    pub mission_phones: BTreeMap<String, String>,
    pub emergency: BTreeMap<Lang, Vec<String>>,
    pub templates: Templates,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl NotifyConfig {
    /// The shipped defaults.
    pub fn shipped() -> Result<Self, NotifyError> {
        Self::parse("config/notify.toml (shipped)", DEFAULT_TOML)
    }

    /// Parses and validates a `notify.toml`; errors name the file and key.
    pub fn parse(file: &str, text: &str) -> Result<Self, NotifyError> {
        let fail = |reason: String| NotifyError::Config {
            file: file.into(),
            reason,
        };
        let raw: Raw = toml::from_str(text).map_err(|e| fail(e.to_string().trim().to_string()))?;
        let fallback = match raw.fallback.as_str() {
            "none" => None,
            c => Some(ChannelKind::parse(c).map_err(|e| fail(format!("fallback: {e}")))?),
        };
        if raw.checkin_ttl_hours <= 0 {
            return Err(fail("checkin_ttl_hours: must be more than 0".into()));
        }
        if raw.retry.max_attempts == 0 {
            return Err(fail("retry.max_attempts: must be at least 1".into()));
        }
        let mut rate = BTreeMap::new();
        for (k, v) in &raw.rate {
            let c = ChannelKind::parse(k).map_err(|e| fail(format!("rate.{k}: {e}")))?;
            if !(v.is_finite() && *v > 0.0) {
                return Err(fail(format!(
                    "rate.{k}: {v} must be a positive number of sends per second"
                )));
            }
            rate.insert(c, *v);
        }
        let mut contacts: BTreeMap<String, Vec<Contact>> = BTreeMap::new();
        for (i, c) in raw.contacts.iter().enumerate() {
            let channel = ChannelKind::parse(&c.channel).map_err(|_| {
                fail(format!(
                    "contacts[{i}] (recipient {}): unknown channel {:?}; expected one of: webhook email sms file",
                    c.recipient, c.channel
                ))
            })?;
            let contact = Contact {
                channel,
                address: c.address.clone(),
            };
            crate::compose::validate_contact(&c.recipient, &contact)
                .map_err(|e| fail(format!("contacts[{i}]: {e}")))?;
            contacts
                .entry(c.recipient.clone())
                .or_default()
                .push(contact);
        }
        let mut emergency = BTreeMap::new();
        for (k, v) in raw.emergency {
            let l = match k.as_str() {
                "zh" => Lang::Zh,
                "en" => Lang::En,
                o => {
                    return Err(fail(format!(
                        "emergency.{o}: unknown language; expected zh or en"
                    )));
                }
            };
            emergency.insert(l, v);
        }
        let headers = |h: &BTreeMap<String, String>| -> Result<Vec<(String, String)>, NotifyError> {
            h.iter()
                .map(|(k, v)| match v.strip_prefix("env:") {
                    Some(var) => env(var).map(|val| (k.clone(), val)).ok_or_else(|| {
                        fail(format!(
                            "channels.sms.headers.{k}: environment variable {var} is not set"
                        ))
                    }),
                    None => Ok((k.clone(), v.clone())),
                })
                .collect()
        };
        let sms = match &raw.channels.sms {
            None => None,
            Some(s) => {
                let c = SmsConfig {
                    url: s.url.clone(),
                    content_type: s.content_type.clone(),
                    body: s.body.clone(),
                    from: s.from.clone(),
                    headers: headers(&s.headers)?,
                    timeout: Duration::from_millis(s.timeout_ms),
                };
                c.validate().map_err(|e| fail(e.to_string()))?;
                Some(c)
            }
        };
        Ok(Self {
            sender: raw.sender,
            sender_name: raw.sender_name,
            checkin_base_url: raw.checkin_base_url,
            checkin_ttl: chrono::Duration::hours(raw.checkin_ttl_hours),
            fallback,
            retry: RetryPolicy {
                max_attempts: raw.retry.max_attempts,
                base: Duration::from_millis(raw.retry.base_ms),
                max_delay: Duration::from_millis(raw.retry.max_delay_ms),
            },
            rate,
            file_path: raw.channels.file.map(|f| f.path),
            webhook: raw.channels.webhook.map(|w| WebhookConfig {
                secret_env: w.secret_env,
                timeout: Duration::from_millis(w.timeout_ms),
            }),
            email: raw.channels.email.map(|e| SmtpConfig {
                host: e.host,
                port: e.port,
                security: e.security,
                from: e.from,
                username: e.username_env.as_deref().and_then(env),
                password: e.password_env.as_deref().and_then(env),
                timeout: Duration::from_millis(e.timeout_ms),
            }),
            sms,
            contacts,
            mission_phones: raw
                .missions
                .into_iter()
                .map(|(k, v)| (k, v.phone))
                .collect(),
            emergency,
            templates: Templates::with_overrides(&raw.templates)?,
        })
    }

    /// Token buckets for the configured rates (burst: one second's worth).
    pub fn rate_limits(&self) -> BTreeMap<ChannelKind, RateLimit> {
        self.rate
            .iter()
            .map(|(c, r)| (*c, RateLimit::new(*r, r.ceil().max(1.0) as u32)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_config_parses() {
        let c = NotifyConfig::shipped().unwrap();
        assert_eq!(c.fallback, Some(ChannelKind::File));
        assert!(c.emergency.contains_key(&Lang::Zh) && c.emergency.contains_key(&Lang::En));
    }

    #[test]
    fn an_unknown_channel_is_an_error_naming_the_contact() {
        let text = DEFAULT_TOML.to_string()
            + "\n[[contacts]]\nrecipient = \"org-1\"\nchannel = \"pigeon\"\naddress = \"roof\"\n";
        let e = NotifyConfig::parse("n.toml", &text)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("n.toml") && e.contains("org-1") && e.contains("pigeon"),
            "{e}"
        );
        let text = DEFAULT_TOML.to_string()
            + "\n[[contacts]]\nrecipient = \"org-1\"\nchannel = \"email\"\naddress = \"not an address\"\n";
        let e = NotifyConfig::parse("n.toml", &text)
            .unwrap_err()
            .to_string();
        assert!(e.contains("email") && e.contains("not an address"), "{e}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let text = "retries = 3\n".to_string() + DEFAULT_TOML;
        let e = NotifyConfig::parse("n.toml", &text)
            .unwrap_err()
            .to_string();
        assert!(e.contains("retries"), "{e}");
    }
}
