//! An SMS gateway over HTTP with a configurable request template.
//!
//! The template is the request body with `{to}`, `{text}`, `{key}` and
//! `{from}` placeholders; values are escaped for the content type (JSON
//! string contents, or form-urlencoded). Extra headers (an API key) come
//! from the configuration; their values are never logged.

use super::{Channel, Outcome, agent, http_outcome, ureq_outcome};
use crate::NotifyError;
use crate::template::render;
use farguard_model::{ChannelKind, Delivery};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// How the gateway wants its requests.
#[derive(Clone, PartialEq, Eq)]
pub struct SmsConfig {
    pub url: String,
    /// `application/json` or `application/x-www-form-urlencoded`.
    pub content_type: String,
    pub body: String,
    pub from: String,
    pub headers: Vec<(String, String)>,
    pub timeout: Duration,
}

impl fmt::Debug for SmsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmsConfig")
            .field("url", &self.url)
            .field("content_type", &self.content_type)
            .field("body", &self.body)
            .field(
                "headers",
                &self.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

fn form_escape(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                o.push(b as char)
            }
            b' ' => o.push('+'),
            _ => o.push_str(&format!("%{b:02X}")),
        }
    }
    o
}

fn json_escape(s: &str) -> String {
    let q = serde_json::Value::String(s.to_string()).to_string();
    q[1..q.len() - 1].to_string()
}

impl SmsConfig {
    /// Checks the template renders with the four variables.
    pub fn validate(&self) -> Result<(), NotifyError> {
        if !matches!(
            self.content_type.as_str(),
            "application/json" | "application/x-www-form-urlencoded"
        ) {
            return Err(NotifyError::Config {
                file: "notify.toml".into(),
                reason: format!(
                    "[channels.sms] content_type {:?}: expected application/json or application/x-www-form-urlencoded",
                    self.content_type
                ),
            });
        }
        self.request_body(&Delivery {
            id: 0,
            key: "k".into(),
            alert: String::new(),
            scope: String::new(),
            recipient: String::new(),
            channel: ChannelKind::Sms,
            address: "+10000000".into(),
            language: "en".into(),
            subject: String::new(),
            body: "t".into(),
            state: farguard_model::DeliveryState::Pending,
            attempts: 0,
            next_at: chrono::DateTime::UNIX_EPOCH,
            lease_until: None,
            last_error: None,
            created_at: chrono::DateTime::UNIX_EPOCH,
            sent_at: None,
        })
        .map(|_| ())
    }

    /// The request body for one record.
    pub fn request_body(&self, d: &Delivery) -> Result<String, NotifyError> {
        let esc: fn(&str) -> String = if self.content_type == "application/json" {
            json_escape
        } else {
            form_escape
        };
        let vars: BTreeMap<&str, String> = [
            ("to", esc(&d.address)),
            ("text", esc(&d.body)),
            ("key", esc(&d.key)),
            ("from", esc(&self.from)),
        ]
        .into_iter()
        .collect();
        render("channels.sms.body", &self.body, &vars)
    }
}

/// Sends SMS through the configured gateway.
#[derive(Debug)]
pub struct SmsGateway {
    cfg: SmsConfig,
    agent: ureq::Agent,
}

impl SmsGateway {
    pub fn new(cfg: SmsConfig) -> Result<Self, NotifyError> {
        cfg.validate()?;
        let agent = agent(cfg.timeout);
        Ok(Self { cfg, agent })
    }
}

impl Channel for SmsGateway {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Sms
    }
    fn send(&mut self, d: &Delivery) -> Outcome {
        let body = match self.cfg.request_body(d) {
            Ok(b) => b,
            Err(e) => return Outcome::Fatal(e.to_string()),
        };
        let mut req = self
            .agent
            .post(&self.cfg.url)
            .header("Content-Type", &self.cfg.content_type)
            .header("Idempotency-Key", &d.key);
        for (k, v) in &self.cfg.headers {
            req = req.header(k, v);
        }
        match req.send(body.as_bytes()) {
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

    #[test]
    fn bodies_are_escaped_for_their_content_type() {
        let mut cfg = SmsConfig {
            url: "http://x".into(),
            content_type: "application/json".into(),
            body: r#"{{"to":"{to}","msg":"{text}","ref":"{key}"}}"#.into(),
            from: "farguard".into(),
            headers: vec![],
            timeout: Duration::from_secs(1),
        };
        cfg.validate().unwrap();
        let mut d = Delivery {
            body: "say \"hi\"\n平安".into(),
            address: "+254700000000".into(),
            ..sample()
        };
        let b = cfg.request_body(&d).unwrap();
        let v: serde_json::Value = serde_json::from_str(&b).unwrap();
        assert_eq!(v["msg"], "say \"hi\"\n平安");
        cfg.content_type = "application/x-www-form-urlencoded".into();
        cfg.body = "To={to}&Body={text}".into();
        d.body = "a b&c".into();
        assert_eq!(
            cfg.request_body(&d).unwrap(),
            "To=%2B254700000000&Body=a+b%26c"
        );
        cfg.body = "To={phone}".into();
        assert!(cfg.validate().unwrap_err().to_string().contains("{phone}"));
    }

    fn sample() -> Delivery {
        Delivery {
            id: 0,
            key: "k".into(),
            alert: "a".into(),
            scope: "s".into(),
            recipient: "r".into(),
            channel: ChannelKind::Sms,
            address: String::new(),
            language: "en".into(),
            subject: String::new(),
            body: String::new(),
            state: farguard_model::DeliveryState::Pending,
            attempts: 0,
            next_at: chrono::DateTime::UNIX_EPOCH,
            lease_until: None,
            last_error: None,
            created_at: chrono::DateTime::UNIX_EPOCH,
            sent_at: None,
        }
    }
}
