//! Herald's own mail sender: sends the messages queued in `system_mail` (escalations of broken
//! destinations now) through the operator's relay (`HERALD_MAIL_RELAY`), with retries and a
//! record of every result on the message's row. Notifications to hospitals never come this way:
//! they go through the destinations' channel plugins.
//!
//! Why a separate path from the email plugin: the relay, its credentials and the From address
//! are the operator's, not a tenant's, and these messages must still go out when a tenant's
//! destinations are the thing that is broken.

use std::time::Duration;

use anyhow::Context;
use herald_storage::{
    Db, system_mail::MailResult, system_mail::SystemMail, system_mail::claim_mail,
    system_mail::pending_mail_count, system_mail::record_mail_result,
};
use lettre::message::{Mailbox, Message, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::config::Config;

/// How long a claimed message is held by one sender (a crashed sender's messages go out again
/// after it: once too often rather than never).
const LEASE: Duration = Duration::from_secs(120);
/// How often the queue is looked at.
const POLL: Duration = Duration::from_secs(5);
/// Attempts before a message is given up (about a day with the backoff below).
const MAX_ATTEMPTS: i32 = 12;
/// How often "mail is waiting but no relay is set" is logged.
const NO_RELAY_WARNING: Duration = Duration::from_secs(3600);

/// Sends Herald's own mail; one per process, several processes share the queue safely.
pub struct MailSender {
    db: Db,
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
    worker: String,
}

impl MailSender {
    pub fn new(db: Db, config: &Config) -> anyhow::Result<MailSender> {
        let transport = match &config.mail_relay {
            Some(url) => Some(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .with_context(|| {
                        format!(
                            "HERALD_MAIL_RELAY {:?} is not a usable SMTP URL",
                            crate::config::redact_url(url)
                        )
                    })?
                    .timeout(Some(Duration::from_secs(30)))
                    .build(),
            ),
            None => None,
        };
        let from: Mailbox = config
            .mail_from
            .parse()
            .with_context(|| format!("HERALD_MAIL_FROM {:?}", config.mail_from))?;
        Ok(MailSender {
            db,
            transport,
            from,
            worker: format!("herald-mail-{}", std::process::id()),
        })
    }

    /// Sends what is due until `stop` turns true.
    pub async fn run(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut warned: Option<std::time::Instant> = None;
        loop {
            match self.send_due().await {
                Ok(SendRound::NoRelay(waiting)) if waiting > 0 => {
                    if warned.is_none_or(|t| t.elapsed() >= NO_RELAY_WARNING) {
                        tracing::warn!(
                            waiting,
                            "Herald's own mail (escalations of broken destinations) is waiting: \
                             set HERALD_MAIL_RELAY to send it"
                        );
                        warned = Some(std::time::Instant::now());
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "sending Herald's own mail failed")
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = stop.wait_for(|stop| *stop) => return,
            }
        }
    }

    /// Claims and sends the messages due now; without a relay, only counts what waits.
    pub async fn send_due(&self) -> anyhow::Result<SendRound> {
        let Some(transport) = &self.transport else {
            let db = self.db.clone();
            let waiting =
                tokio::task::spawn_blocking(move || pending_mail_count(&mut *db.get()?)).await??;
            return Ok(SendRound::NoRelay(waiting));
        };
        let (db, worker) = (self.db.clone(), self.worker.clone());
        let lease = chrono::Duration::from_std(LEASE)?;
        let due =
            tokio::task::spawn_blocking(move || claim_mail(&mut *db.get()?, &worker, 20, lease))
                .await??;
        let mut sent = 0;
        for mail in due {
            let result = match self.message(&mail) {
                Ok(message) => match transport.send(message).await {
                    Ok(_) => MailResult::Sent,
                    Err(e) if e.is_permanent() => MailResult::Dead(format!("relay refused: {e}")),
                    Err(e) => retry(&mail, format!("relay: {e}")),
                },
                Err(e) => MailResult::Dead(format!("cannot build the message: {e}")),
            };
            match &result {
                MailResult::Sent => sent += 1,
                MailResult::RetryAt(_, e) | MailResult::Dead(e) => tracing::warn!(
                    mail = %mail.id, kind = %mail.kind, to = %mail.recipient, attempt = mail.attempts,
                    error = %e, "Herald's own mail not sent"
                ),
            }
            let (db, worker, id) = (self.db.clone(), self.worker.clone(), mail.id.clone());
            tokio::task::spawn_blocking(move || {
                record_mail_result(&mut *db.get()?, &id, &worker, &result)
            })
            .await??;
        }
        Ok(SendRound::Sent(sent))
    }

    fn message(&self, mail: &SystemMail) -> anyhow::Result<Message> {
        let to: Mailbox = mail
            .recipient
            .parse()
            .with_context(|| format!("recipient {:?}", mail.recipient))?;
        Ok(Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            // Replies and auto-responders should not loop back into Herald.
            .header(AutoSubmitted)
            .body(mail.body.clone())?)
    }
}

/// What one [`MailSender::send_due`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendRound {
    /// Messages sent.
    Sent(usize),
    /// No relay configured; this many messages wait.
    NoRelay(i64),
}

/// The next try after a temporary failure: 30 s doubling to at most an hour; dead after
/// [`MAX_ATTEMPTS`].
fn retry(mail: &SystemMail, error: String) -> MailResult {
    if mail.attempts >= MAX_ATTEMPTS {
        return MailResult::Dead(format!(
            "{error} (gave up after {} attempts)",
            mail.attempts
        ));
    }
    let exponent = u32::try_from(mail.attempts.saturating_sub(1).clamp(0, 7)).unwrap_or(7);
    let delay = (30i64 << exponent).min(3600);
    MailResult::RetryAt(
        herald_storage::now() + chrono::Duration::seconds(delay),
        error,
    )
}

/// `Auto-Submitted: auto-generated` (RFC 3834): this is machine mail.
#[derive(Clone)]
struct AutoSubmitted;

impl lettre::message::header::Header for AutoSubmitted {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }

    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(Self::name(), "auto-generated".to_owned())
    }
}
