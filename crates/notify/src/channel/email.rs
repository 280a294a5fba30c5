//! E-mail over SMTP (lettre): plain (a local relay), STARTTLS or implicit TLS.
//!
//! The `Message-ID` is derived from the outbox key, so a message sent again
//! after a crash carries the same id and mail systems fold the duplicate.
//! A connection the server drops, a timeout, or a 4xx reply is retried; a
//! 5xx reply (mailbox refused) or an address that does not parse is not.

use super::{Channel, Outcome};
use crate::{NotifyError, hex};
use farguard_model::{ChannelKind, Delivery};
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Message, SmtpTransport, Transport};
use sha2::{Digest, Sha256};
use std::fmt;
use std::time::Duration;

/// How to reach the SMTP server.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    /// `none` (local relay only), `starttls` or `tls`.
    pub security: String,
    pub from: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub timeout: Duration,
}

impl fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("from", &self.from)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// The `Message-ID` for an outbox key.
pub fn message_id(key: &str) -> String {
    let h: [u8; 32] = Sha256::digest(key.as_bytes()).into();
    format!("<{}@farguard>", hex(&h[..16]))
}

/// Sends each record as one e-mail.
pub struct Email {
    from: lettre::message::Mailbox,
    transport: SmtpTransport,
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Email")
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

impl Email {
    pub fn new(cfg: &SmtpConfig) -> Result<Self, NotifyError> {
        let bad = |reason: String| NotifyError::Config {
            file: "notify.toml".into(),
            reason,
        };
        let from = cfg
            .from
            .parse()
            .map_err(|e| bad(format!("[channels.email] from {:?}: {e}", cfg.from)))?;
        let builder = match cfg.security.as_str() {
            "none" => SmtpTransport::builder_dangerous(&cfg.host),
            "starttls" => SmtpTransport::starttls_relay(&cfg.host)
                .map_err(|e| bad(format!("[channels.email] host {:?}: {e}", cfg.host)))?,
            "tls" => SmtpTransport::relay(&cfg.host)
                .map_err(|e| bad(format!("[channels.email] host {:?}: {e}", cfg.host)))?,
            other => {
                return Err(bad(format!(
                    "[channels.email] security {other:?}: expected none, starttls or tls"
                )));
            }
        };
        let mut builder = builder.port(cfg.port).timeout(Some(cfg.timeout));
        if let (Some(u), Some(p)) = (&cfg.username, &cfg.password) {
            builder = builder.credentials(Credentials::new(u.clone(), p.clone()));
        }
        Ok(Self {
            from,
            transport: builder.build(),
        })
    }
}

impl Channel for Email {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Email
    }
    fn send(&mut self, d: &Delivery) -> Outcome {
        let to = match d.address.parse() {
            Ok(a) => a,
            Err(e) => {
                return Outcome::Fatal(format!(
                    "email address {:?} does not parse: {e}",
                    d.address
                ));
            }
        };
        let msg = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(d.subject.clone())
            .message_id(Some(message_id(&d.key)))
            .header(ContentType::TEXT_PLAIN)
            .body(d.body.clone());
        let msg = match msg {
            Ok(m) => m,
            Err(e) => return Outcome::Fatal(format!("cannot build the message: {e}")),
        };
        match self.transport.send(&msg) {
            Ok(r) => Outcome::Sent(format!(
                "SMTP {} {}",
                r.code(),
                r.message().collect::<Vec<_>>().join(" ")
            )),
            Err(e) if e.is_permanent() => Outcome::Fatal(format!("SMTP refused: {e}")),
            Err(e) => Outcome::Retry(format!("SMTP: {e}")),
        }
    }
}
