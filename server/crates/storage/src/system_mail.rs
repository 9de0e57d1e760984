//! Herald's own mail: messages Herald sends as itself (escalations of broken destinations now;
//! invitations and password resets later), as opposed to notifications, which go through a
//! destination's channel plugin.
//!
//! A message is queued in the transaction that decides to send it ([`queue_mail`]), so it is
//! never lost to a crash between the decision and the send, and a `dedupe_key` makes queuing the
//! same message twice a no-op. A sender claims due messages under a lease ([`claim_mail`], the
//! same pattern as deliveries: `FOR UPDATE SKIP LOCKED` on PostgreSQL, an immediate transaction
//! on SQLite), sends them through the operator's relay and records the result on the row
//! ([`record_mail_result`]): sent, retried with backoff, or dead after its attempts.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::schema::system_mail;
use crate::{DbConnection, StorageError, from_micros, new_id, now, to_micros, write_transaction};

crate::accounts::string_enum!(
    /// Where one of Herald's own messages stands.
    MailStatus { Queued = "queued", Sending = "sending", Sent = "sent", Dead = "dead" }
);

/// A message to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMail<'a> {
    /// What it is about (`destination.broken`, ...).
    pub kind: &'a str,
    /// Queuing a second message with the same key does nothing.
    pub dedupe_key: &'a str,
    /// One address.
    pub recipient: &'a str,
    pub subject: &'a str,
    /// Plain text.
    pub body: &'a str,
}

/// One queued (or sent) message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemMail {
    pub id: String,
    pub kind: String,
    pub dedupe_key: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub status: MailStatus,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = system_mail)]
struct MailRow {
    id: String,
    kind: String,
    dedupe_key: String,
    recipient: String,
    subject: String,
    body: String,
    status: String,
    attempts: i32,
    next_attempt_at: i64,
    last_error: Option<String>,
    created_at: i64,
    sent_at: Option<i64>,
}

impl MailRow {
    fn into_model(self) -> Result<SystemMail, StorageError> {
        Ok(SystemMail {
            status: self.status.parse().map_err(|_| {
                StorageError::Corrupt(format!("system_mail.status {:?}", self.status))
            })?,
            id: self.id,
            kind: self.kind,
            dedupe_key: self.dedupe_key,
            recipient: self.recipient,
            subject: self.subject,
            body: self.body,
            attempts: self.attempts,
            next_attempt_at: from_micros(self.next_attempt_at),
            last_error: self.last_error,
            created_at: from_micros(self.created_at),
            sent_at: self.sent_at.map(from_micros),
        })
    }
}

/// Queues `mail` for now; returns false (and changes nothing) when a message with its
/// `dedupe_key` exists already. The subject loses any line break (it becomes a header), and a
/// recipient that is not one plain address is refused.
pub fn queue_mail(conn: &mut DbConnection, mail: &NewMail<'_>) -> Result<bool, StorageError> {
    let recipient = mail.recipient.trim();
    if recipient.is_empty()
        || !recipient.contains('@')
        || recipient
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, ',' | ';' | '<' | '>'))
    {
        return Err(StorageError::Invalid(format!(
            "mail recipient {recipient:?} is not one plain address"
        )));
    }
    let subject: String = mail
        .subject
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    write_transaction(conn, |conn| {
        let exists: i64 = system_mail::table
            .filter(system_mail::dedupe_key.eq(mail.dedupe_key))
            .count()
            .get_result(conn)?;
        if exists > 0 {
            return Ok(false);
        }
        let at = to_micros(now());
        diesel::insert_into(system_mail::table)
            .values((
                system_mail::id.eq(new_id()),
                system_mail::kind.eq(mail.kind),
                system_mail::dedupe_key.eq(mail.dedupe_key),
                system_mail::recipient.eq(recipient),
                system_mail::subject.eq(&subject),
                system_mail::body.eq(mail.body),
                system_mail::status.eq(MailStatus::Queued.as_str()),
                system_mail::attempts.eq(0),
                system_mail::next_attempt_at.eq(at),
                system_mail::created_at.eq(at),
            ))
            .execute(conn)?;
        Ok(true)
    })
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = Text)]
    id: String,
}

/// Claims up to `limit` due messages for `worker` for `lease`: queued ones whose time has come
/// and `sending` ones whose sender's lease ran out (it crashed mid-send: the message may go out
/// twice, never not at all). Each claim counts as an attempt.
pub fn claim_mail(
    conn: &mut DbConnection,
    worker: &str,
    limit: i64,
    lease: chrono::Duration,
) -> Result<Vec<SystemMail>, StorageError> {
    if worker.trim().is_empty() || lease <= chrono::Duration::zero() {
        return Err(StorageError::Invalid(
            "a mail claim needs a worker id and a positive lease".into(),
        ));
    }
    let limit = limit.clamp(1, 100);
    write_transaction(conn, |conn| {
        let at = to_micros(now());
        let sql = "SELECT id FROM system_mail \
             WHERE (status = 'queued' AND next_attempt_at <= $1) \
                OR (status = 'sending' AND lease_until < $1) \
             ORDER BY next_attempt_at, id LIMIT $2";
        let ids: Vec<IdRow> = match conn {
            DbConnection::Postgres(c) => diesel::sql_query(format!("{sql} FOR UPDATE SKIP LOCKED"))
                .bind::<BigInt, _>(at)
                .bind::<BigInt, _>(limit)
                .load(c)?,
            DbConnection::Sqlite(c) => diesel::sql_query(sql.replace('$', "?"))
                .bind::<BigInt, _>(at)
                .bind::<BigInt, _>(limit)
                .load(c)?,
        };
        let ids: Vec<String> = ids.into_iter().map(|r| r.id).collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        diesel::update(system_mail::table.filter(system_mail::id.eq_any(&ids)))
            .set((
                system_mail::status.eq(MailStatus::Sending.as_str()),
                system_mail::attempts.eq(system_mail::attempts + 1),
                system_mail::lease_owner.eq(worker),
                system_mail::lease_until.eq(to_micros(now() + lease)),
            ))
            .execute(conn)?;
        system_mail::table
            .filter(system_mail::id.eq_any(&ids))
            .order((system_mail::next_attempt_at.asc(), system_mail::id.asc()))
            .select(MailRow::as_select())
            .load(conn)?
            .into_iter()
            .map(MailRow::into_model)
            .collect()
    })
}

/// What became of one send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailResult {
    Sent,
    /// Try again at this time.
    RetryAt(DateTime<Utc>, String),
    /// Give up (the relay refused it for good, or the attempts ran out).
    Dead(String),
}

/// Records the result of `worker`'s send of message `id`. A worker that lost its lease records
/// nothing ([`StorageError::Conflict`]): the message was claimed again by another.
pub fn record_mail_result(
    conn: &mut DbConnection,
    id: &str,
    worker: &str,
    result: &MailResult,
) -> Result<(), StorageError> {
    let target = system_mail::table
        .filter(system_mail::id.eq(id))
        .filter(system_mail::status.eq(MailStatus::Sending.as_str()))
        .filter(system_mail::lease_owner.eq(worker));
    let n = match result {
        MailResult::Sent => diesel::update(target)
            .set((
                system_mail::status.eq(MailStatus::Sent.as_str()),
                system_mail::sent_at.eq(Some(to_micros(now()))),
                system_mail::lease_owner.eq(None::<String>),
                system_mail::lease_until.eq(None::<i64>),
                system_mail::last_error.eq(None::<String>),
            ))
            .execute(conn)?,
        MailResult::RetryAt(t, error) => diesel::update(target)
            .set((
                system_mail::status.eq(MailStatus::Queued.as_str()),
                system_mail::next_attempt_at.eq(to_micros(*t)),
                system_mail::lease_owner.eq(None::<String>),
                system_mail::lease_until.eq(None::<i64>),
                system_mail::last_error.eq(Some(error)),
            ))
            .execute(conn)?,
        MailResult::Dead(error) => diesel::update(target)
            .set((
                system_mail::status.eq(MailStatus::Dead.as_str()),
                system_mail::lease_owner.eq(None::<String>),
                system_mail::lease_until.eq(None::<i64>),
                system_mail::last_error.eq(Some(error)),
            ))
            .execute(conn)?,
    };
    if n == 0 {
        return Err(StorageError::Conflict(format!(
            "mail sender {worker} no longer holds message {id}"
        )));
    }
    Ok(())
}

/// Every message, newest first (at most `limit`), optionally of one kind.
pub fn list_system_mail(
    conn: &mut DbConnection,
    kind: Option<&str>,
    limit: i64,
) -> Result<Vec<SystemMail>, StorageError> {
    let mut q = system_mail::table
        .select(MailRow::as_select())
        .order((system_mail::created_at.desc(), system_mail::id.desc()))
        .limit(limit.clamp(1, 10_000))
        .into_boxed();
    if let Some(kind) = kind {
        q = q.filter(system_mail::kind.eq(kind));
    }
    q.load(conn)?.into_iter().map(MailRow::into_model).collect()
}

/// How many messages wait to be sent (queued or being sent).
pub fn pending_mail_count(conn: &mut DbConnection) -> Result<i64, StorageError> {
    Ok(system_mail::table
        .filter(
            system_mail::status.eq_any([MailStatus::Queued.as_str(), MailStatus::Sending.as_str()]),
        )
        .count()
        .get_result(conn)?)
}
