//! The host side of the `smtp` capability: Herald sends the mail, the plugin only composes it.
//!
//! The relay is the operator's, never the plugin's: host, port, TLS mode, AUTH user and the
//! name of the password secret come from the destination's `smtp` settings
//! ([`SmtpRelay`], the `smtp` object of the destination configuration), and the password is
//! looked up in the destination's secrets here. TLS is always on: `starttls` requires STARTTLS
//! (lettre's `starttls_relay`: it fails rather than downgrade, and never sends AUTH in the
//! clear), `tls` is implicit TLS (`relay`, port 465). Certificates are checked against the
//! operator's roots, or exactly the destination's pinned CA ([`crate::tls`]); there is no
//! "accept invalid certs".
//!
//! The relay's name is resolved here and checked against the operator's outbound policy
//! narrowed by the destination ([`crate::outbound`]) before anything connects; lettre is then
//! handed the checked address (the TLS server name stays the relay's name), so a second DNS
//! answer cannot lead the session elsewhere. Without that, the relay host of a destination was
//! a port scanner for the internal network.
//!
//! The relay's answer is classified for the plugin: 5xx -> `rejected` (permanent), 4xx,
//! connection, TLS and timeout failures -> `transient`; policy and configuration problems,
//! including a refused AUTH, -> `denied`.

use crate::bindings::herald::delivery::smtp::{Message as WitMessage, SmtpError};
use crate::outbound::Reach;
use crate::secrets::Secrets;
use crate::tls::{Pin, TlsRoots};
use herald_channel::DestinationConfig;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::Tls;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Caps on one plugin invocation's SMTP use.
#[derive(Debug, Clone)]
pub struct SmtpLimits {
    pub max_messages_per_invocation: u32,
    pub max_recipients: usize,
    /// Text plus HTML body, in bytes.
    pub max_body: usize,
    pub max_headers: usize,
    /// Whole SMTP session; never more than what is left of the call's own deadline.
    pub timeout: Duration,
}

impl Default for SmtpLimits {
    fn default() -> Self {
        Self {
            max_messages_per_invocation: 2,
            max_recipients: 50,
            max_body: 1 << 20,
            max_headers: 32,
            timeout: Duration::from_secs(30),
        }
    }
}

/// How the connection to the relay is secured. There is deliberately no plain-text mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTlsMode {
    /// STARTTLS on the submission port (587), required: no downgrade.
    Starttls,
    /// Implicit TLS on the submissions port (465).
    Tls,
}

/// A destination's relay settings: the `smtp` object of its configuration.
///
/// ```json
/// "smtp": { "host": "mail.hospital.example", "port": 587, "tls": "starttls",
///           "username": "herald", "password_secret": "smtp_password",
///           "from": "Examplemed PSIRT <psirt@examplemed.example>" }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpRelay {
    pub host: String,
    /// Defaults to 587 for `starttls`, 465 for `tls`.
    #[serde(default)]
    pub port: Option<u16>,
    pub tls: SmtpTlsMode,
    #[serde(default)]
    pub username: Option<String>,
    /// Name of the secret holding the AUTH password (required with `username`).
    #[serde(default)]
    pub password_secret: Option<String>,
    /// The envelope and header sender.
    pub from: String,
}

impl SmtpRelay {
    /// Read the relay settings from a destination's configuration; an error names what is wrong.
    pub fn from_destination(destination: &DestinationConfig) -> Result<SmtpRelay, String> {
        let value = destination.config.get("smtp").ok_or_else(|| {
            format!(
                "destination {} has no smtp relay settings (configuration field \"smtp\")",
                destination.destination_id
            )
        })?;
        let relay: SmtpRelay = serde_json::from_value(value.clone())
            .map_err(|e| format!("smtp relay settings are invalid: {e}"))?;
        if relay.host.trim().is_empty() {
            return Err("smtp relay settings: host is empty".into());
        }
        if relay.username.is_some() != relay.password_secret.is_some() {
            return Err(
                "smtp relay settings: username and password_secret go together".to_string(),
            );
        }
        relay
            .from
            .parse::<Mailbox>()
            .map_err(|e| format!("smtp relay settings: from {:?}: {e}", relay.from))?;
        Ok(relay)
    }

    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            SmtpTlsMode::Starttls => 587,
            SmtpTlsMode::Tls => 465,
        })
    }
}

/// Headers the host sets itself (or that would change where or how the mail goes).
const HOST_HEADERS: &[&str] = &[
    "from",
    "sender",
    "to",
    "cc",
    "bcc",
    "date",
    "subject",
    "message-id",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "content-disposition",
    "return-path",
    "received",
];

/// What one invocation may do over smtp; lives in the call's `Store`.
pub(crate) struct SmtpContext {
    pub allowed: bool,
    /// `Err` keeps the reason the destination's relay settings are unusable.
    pub relay: Result<SmtpRelay, String>,
    pub secrets: Arc<Secrets>,
    pub limits: SmtpLimits,
    /// The operator's policy narrowed by the destination's grants.
    pub reach: Reach,
    pub tls: Arc<TlsRoots>,
    /// The destination's pinned CA, if it has one (`Err`: its `tls_ca_pem` is unusable).
    pub pin: Result<Option<Arc<Pin>>, String>,
    pub deadline: Instant,
    pub messages: u32,
}

impl SmtpContext {
    pub async fn send(&mut self, message: WitMessage) -> Result<String, SmtpError> {
        if !self.allowed {
            return Err(SmtpError::Denied(
                "smtp is not granted to this destination".into(),
            ));
        }
        self.messages += 1;
        if self.messages > self.limits.max_messages_per_invocation {
            return Err(SmtpError::Denied(format!(
                "more than {} mails in one invocation",
                self.limits.max_messages_per_invocation
            )));
        }
        let relay = self.relay.clone().map_err(SmtpError::Denied)?;
        let email = compose(&self.limits, &relay, message)?;
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        let timeout = remaining.min(self.limits.timeout);
        if timeout.is_zero() {
            return Err(SmtpError::Transient("the call's time is used up".into()));
        }
        let started = Instant::now();
        let address = self.relay_address(&relay, timeout).await?;
        let transport = self.transport(&relay, address)?;
        let timeout = timeout.saturating_sub(started.elapsed());
        let secrets = self.secrets.clone();
        let host = relay.host.clone();
        let pinned = matches!(self.pin, Ok(Some(_)));
        async move {
            match tokio::time::timeout(timeout, transport.send(email)).await {
                Err(_) => Err(SmtpError::Transient(format!(
                    "the relay did not finish within {}ms",
                    timeout.as_millis()
                ))),
                Ok(Ok(response)) => Ok(format!(
                    "{} {}",
                    response.code(),
                    response.message().collect::<Vec<_>>().join(" ")
                )),
                Ok(Err(e)) => Err(classify(&e, &secrets, &host, pinned)),
            }
        }
        .await
    }

    /// The relay's address, resolved here and checked against the effective outbound policy:
    /// the first address of the answer (every one of which is allowed).
    async fn relay_address(
        &self,
        relay: &SmtpRelay,
        timeout: Duration,
    ) -> Result<IpAddr, SmtpError> {
        let host = relay.host.trim().to_ascii_lowercase();
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<SocketAddr> = match literal.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, relay.port())],
            Err(_) => tokio::time::timeout(
                timeout,
                tokio::net::lookup_host((host.as_str(), relay.port())),
            )
            .await
            .map_err(|_| SmtpError::Transient(format!("resolving {host} took too long")))?
            .map_err(|e| SmtpError::Transient(format!("cannot resolve {host}: {e}")))?
            .collect(),
        };
        self.reach.check(&host, &addrs).map_err(SmtpError::Denied)?;
        addrs
            .first()
            .map(SocketAddr::ip)
            .ok_or_else(|| SmtpError::Transient(format!("{host} has no addresses")))
    }
}

/// Build the mail from what the plugin gave; refuse what would let it change sender,
/// recipients or structure (host headers, line breaks in header values) or exceed the caps.
fn compose(limits: &SmtpLimits, relay: &SmtpRelay, m: WitMessage) -> Result<Message, SmtpError> {
    let denied = |what: String| SmtpError::Denied(what);
    if m.to.is_empty() {
        return Err(denied("the message has no recipients".into()));
    }
    if m.to.len() > limits.max_recipients {
        return Err(denied(format!(
            "{} recipients exceed the cap of {}",
            m.to.len(),
            limits.max_recipients
        )));
    }
    let body_len = m.text_body.len() + m.html_body.as_ref().map_or(0, String::len);
    if body_len > limits.max_body {
        return Err(denied(format!(
            "body of {body_len} bytes exceeds {} bytes",
            limits.max_body
        )));
    }
    if m.headers.len() > limits.max_headers {
        return Err(denied(format!(
            "{} extra headers exceed the cap of {}",
            m.headers.len(),
            limits.max_headers
        )));
    }
    if has_line_break(&m.subject) {
        return Err(denied("the subject contains a line break".into()));
    }
    let from: Mailbox = relay
        .from
        .parse()
        .map_err(|e| denied(format!("from {:?}: {e}", relay.from)))?;
    let mut builder = Message::builder().from(from).subject(m.subject).date_now();
    for to in &m.to {
        let mailbox: Mailbox = to
            .parse()
            .map_err(|e| denied(format!("recipient {to:?}: {e}")))?;
        builder = builder.to(mailbox);
    }
    if let Some(id) = &m.message_id {
        let well_formed = id.starts_with('<')
            && id.ends_with('>')
            && id.contains('@')
            && id.len() <= 250
            && id
                .chars()
                .all(|c| c.is_ascii_graphic() && !matches!(c, ' ' | '"' | '\\' | ','));
        if !well_formed {
            return Err(denied(format!(
                "message-id {id:?} is not of the form <local@domain>"
            )));
        }
    }
    // None lets lettre generate a random id; a plugin should give a stable one.
    builder = builder.message_id(m.message_id);
    for (name, value) in m.headers {
        let lower = name.to_ascii_lowercase();
        if HOST_HEADERS.contains(&lower.as_str()) {
            return Err(denied(format!("header {name:?} is set by the host")));
        }
        if has_line_break(&value) || value.len() > 2000 {
            return Err(denied(format!(
                "header {name:?} has a line break or is longer than 2000 bytes"
            )));
        }
        let header = HeaderName::new_from_ascii(name.clone())
            .map_err(|_| denied(format!("header name {name:?} is not valid")))?;
        builder = builder.raw_header(HeaderValue::new(header, value));
    }
    let built = match m.html_body {
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(m.text_body, html)),
        None => builder.header(ContentType::TEXT_PLAIN).body(m.text_body),
    };
    built.map_err(|e| denied(format!("cannot build the message: {e}")))
}

impl SmtpContext {
    /// A transport to the checked `address`, verifying the relay's certificate for its name.
    fn transport(
        &self,
        relay: &SmtpRelay,
        address: IpAddr,
    ) -> Result<AsyncSmtpTransport<Tokio1Executor>, SmtpError> {
        let pin = self.pin.clone().map_err(SmtpError::Denied)?;
        let name = relay
            .host
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let tls = self
            .tls
            .lettre_parameters(name, pin.as_deref())
            .map_err(SmtpError::Denied)?;
        let tls = match relay.tls {
            // Required: no downgrade, no AUTH in the clear.
            SmtpTlsMode::Starttls => Tls::Required(tls),
            SmtpTlsMode::Tls => Tls::Wrapper(tls),
        };
        // "Dangerous" only in that lettre leaves TLS to us: it is set right here, and the
        // address was resolved and checked above.
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(address.to_string())
                .tls(tls)
                .port(relay.port())
                .timeout(Some(self.limits.timeout));
        if let (Some(user), Some(secret)) = (&relay.username, &relay.password_secret) {
            let password = self.secrets.get(secret).ok_or_else(|| {
                SmtpError::Denied(format!(
                    "secret {secret:?} (smtp password) is not available to this destination"
                ))
            })?;
            builder = builder.credentials(Credentials::new(user.clone(), password.to_string()));
        }
        Ok(builder.build())
    }
}

fn has_line_break(s: &str) -> bool {
    s.contains(['\r', '\n'])
}

/// Authentication refused for good (RFC 4954): the operator's credentials are wrong.
const AUTH_REFUSED: &[&str] = &["530", "534", "535", "538"];

/// 5xx -> rejected, except a refused AUTH (denied: an operator must fix the credentials); 4xx
/// and everything on the way (connection, TLS, timeout) -> transient. A refused certificate
/// says which settings would make Herald trust it (lettre builds its own TLS client, so the
/// certificate's names are not at hand here as they are for http and tcp).
fn classify(
    e: &lettre::transport::smtp::Error,
    secrets: &Secrets,
    host: &str,
    pinned: bool,
) -> SmtpError {
    let mut message = secrets.redact(&error_chain(e));
    if message.contains("invalid peer certificate") && pinned {
        message = format!(
            "the certificate of relay {host} was refused ({message}): it is not issued by the \
             CA in this destination's {} field",
            crate::tls::CA_PIN_FIELD
        );
    } else if message.contains("invalid peer certificate") {
        message = format!(
            "the certificate of relay {host} was refused ({message}): if it comes from a \
             private CA, the operator adds that CA with HERALD_TLS_EXTRA_ROOTS or the system \
             store (SSL_CERT_FILE / SSL_CERT_DIR), or the destination's owner pins it in the \
             destination's {} field",
            crate::tls::CA_PIN_FIELD
        );
    }
    let code = e.status().map(|c| c.to_string());
    if e.is_permanent() && code.is_some_and(|c| AUTH_REFUSED.contains(&c.as_str())) {
        SmtpError::Denied(format!("the relay refused authentication: {message}"))
    } else if e.is_permanent() {
        SmtpError::Rejected(message)
    } else {
        SmtpError::Transient(message)
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = s.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compose_refuses_what_the_host_owns() {
        let relay = SmtpRelay {
            host: "mail.example.test".into(),
            port: None,
            tls: SmtpTlsMode::Starttls,
            username: None,
            password_secret: None,
            from: "psirt@examplemed.test".into(),
        };
        let message = |headers: Vec<(&str, &str)>| WitMessage {
            to: vec!["a@hospital.test".into()],
            subject: "s".into(),
            text_body: "t".into(),
            html_body: Some("<p>t</p>".into()),
            message_id: Some("<d-1@herald>".into()),
            headers: headers
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        let limits = SmtpLimits::default();
        let ok = compose(
            &limits,
            &relay,
            message(vec![("In-Reply-To", "<d-0@herald>")]),
        )
        .expect("valid mail");
        let text = String::from_utf8(ok.formatted()).expect("utf-8");
        assert!(text.contains("Message-ID: <d-1@herald>"), "{text}");
        assert!(text.contains("In-Reply-To: <d-0@herald>"), "{text}");
        assert!(text.contains("multipart/alternative"), "{text}");
        for (headers, expected) in [
            (vec![("Bcc", "x@evil.test")], "set by the host"),
            (vec![("from", "x@evil.test")], "set by the host"),
            (vec![("X-A", "v\r\nBcc: x@evil.test")], "line break"),
            (vec![("Bad Name", "v")], "not valid"),
        ] {
            match compose(&limits, &relay, message(headers)) {
                Err(SmtpError::Denied(m)) => assert!(m.contains(expected), "{m}"),
                other => panic!("expected a refusal with {expected:?}: {other:?}"),
            }
        }
        let mut bad_id = message(vec![]);
        bad_id.message_id = Some("no-brackets@x".into());
        assert!(
            matches!(compose(&limits, &relay, bad_id), Err(SmtpError::Denied(m)) if m.contains("message-id"))
        );
        let mut injected = message(vec![]);
        injected.subject = "hi\r\nBcc: x@evil.test".into();
        assert!(matches!(
            compose(&limits, &relay, injected),
            Err(SmtpError::Denied(_))
        ));
    }

    #[test]
    fn relay_settings_are_checked() {
        let dest = |smtp: serde_json::Value| DestinationConfig {
            destination_id: "d".into(),
            config: serde_json::json!({ "smtp": smtp }),
            ..DestinationConfig::default()
        };
        let ok = SmtpRelay::from_destination(&dest(serde_json::json!({
            "host": "mail.example.test", "tls": "starttls", "from": "psirt@examplemed.test",
            "username": "u", "password_secret": "p"
        })))
        .expect("valid");
        assert_eq!(ok.port(), 587);
        for (bad, expected) in [
            (
                serde_json::json!({ "host": "h", "tls": "none", "from": "a@b.test" }),
                "tls",
            ),
            (
                serde_json::json!({ "host": "h", "tls": "tls", "from": "nope" }),
                "from",
            ),
            (
                serde_json::json!({ "host": "h", "tls": "tls", "from": "a@b.test", "username": "u" }),
                "password_secret",
            ),
        ] {
            let err = SmtpRelay::from_destination(&dest(bad)).expect_err("invalid");
            assert!(err.contains(expected), "{err}");
        }
        let none = DestinationConfig::default();
        assert!(
            SmtpRelay::from_destination(&none)
                .expect_err("missing")
                .contains("no smtp relay settings")
        );
    }
}
