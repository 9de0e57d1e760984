//! A destination's failure episode and its escalation to people.
//!
//! An episode starts with a destination's first attempt that did not deliver (the receiver down,
//! refusing, or the destination misconfigured) and ends with its next delivered attempt; both
//! are written by `record_attempt` in the attempt's own transaction, so the episode is exactly
//! the delivery log's story. A breaker that stays open is such an episode too: its probes fail.
//!
//! Herald never gives up on a destination (where Svix disables an endpoint after days of
//! failure, Herald keeps queueing, since a regulated notice must still arrive once the endpoint
//! is mended) and instead makes sure a person knows: [`escalate_due`] finds the episodes older
//! than the operator's escalation time that nobody was told of yet, marks each as escalated
//! (once per episode, whichever `herald` process gets there first) and queues Herald's own mail
//! to the destination's organization's admins and the manufacturer's PSIRT, with an audit entry,
//! all in one transaction. The mail goes out through [`crate::system_mail`].

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};

use crate::schema::{destination_outages, destinations, organizations, users};
use crate::{
    DbConnection, StorageError, audit::append_audit, from_micros, to_micros, write_transaction,
};

/// Longest error text kept on the episode (the delivery log keeps every attempt's own).
const MAX_ERROR: usize = 500;

/// One destination's current failure episode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationOutage {
    pub destination_id: String,
    /// When its first failed attempt of this episode was recorded.
    pub failing_since: DateTime<Utc>,
    pub last_failure_at: DateTime<Utc>,
    /// Failed attempts in this episode.
    pub failures: u32,
    pub last_error: Option<String>,
    /// When people were told (once per episode); `None` while the episode is younger than the
    /// escalation time.
    pub escalated_at: Option<DateTime<Utc>>,
}

type Row = (String, i64, i64, i32, Option<String>, Option<i64>);

fn from_row(
    (destination_id, since, last, failures, last_error, escalated): Row,
) -> DestinationOutage {
    DestinationOutage {
        destination_id,
        failing_since: from_micros(since),
        last_failure_at: from_micros(last),
        failures: u32::try_from(failures).unwrap_or(0),
        last_error,
        escalated_at: escalated.map(from_micros),
    }
}

fn columns() -> (
    destination_outages::destination_id,
    destination_outages::failing_since,
    destination_outages::last_failure_at,
    destination_outages::failures,
    destination_outages::last_error,
    destination_outages::escalated_at,
) {
    (
        destination_outages::destination_id,
        destination_outages::failing_since,
        destination_outages::last_failure_at,
        destination_outages::failures,
        destination_outages::last_error,
        destination_outages::escalated_at,
    )
}

/// Counts a failed attempt of `destination_id` at `at` (microseconds): starts its episode or
/// carries it on. One statement on both backends.
pub(crate) fn note_failure(
    conn: &mut DbConnection,
    destination_id: &str,
    at: i64,
    error: Option<&str>,
) -> Result<(), StorageError> {
    let error = error.map(|e| {
        let mut e = e.to_string();
        if e.len() > MAX_ERROR {
            let mut cut = MAX_ERROR;
            while !e.is_char_boundary(cut) {
                cut -= 1;
            }
            e.truncate(cut);
        }
        e
    });
    let sql = "INSERT INTO destination_outages \
         (destination_id, failing_since, last_failure_at, failures, last_error, escalated_at) \
         VALUES ($1, $2, $2, 1, $3, NULL) \
         ON CONFLICT (destination_id) DO UPDATE SET \
           last_failure_at = excluded.last_failure_at, \
           failures = destination_outages.failures + 1, \
           last_error = excluded.last_error";
    match conn {
        DbConnection::Postgres(c) => diesel::sql_query(sql)
            .bind::<Text, _>(destination_id)
            .bind::<BigInt, _>(at)
            .bind::<Nullable<Text>, _>(error)
            .execute(c)?,
        DbConnection::Sqlite(c) => diesel::sql_query(sql.replace('$', "?"))
            .bind::<Text, _>(destination_id)
            .bind::<BigInt, _>(at)
            .bind::<Nullable<Text>, _>(error)
            .execute(c)?,
    };
    Ok(())
}

/// Ends `destination_id`'s episode (it delivered). One indexed delete, usually of nothing.
pub(crate) fn end_outage(
    conn: &mut DbConnection,
    destination_id: &str,
) -> Result<(), StorageError> {
    diesel::delete(destination_outages::table.find(destination_id)).execute(conn)?;
    Ok(())
}

/// The current failure episode of one destination, if it is failing.
pub fn destination_outage(
    conn: &mut DbConnection,
    destination_id: &str,
) -> Result<Option<DestinationOutage>, StorageError> {
    Ok(destination_outages::table
        .find(destination_id)
        .select(columns())
        .first::<Row>(conn)
        .optional()?
        .map(from_row))
}

/// Every destination failing now, longest first.
pub fn list_outages(conn: &mut DbConnection) -> Result<Vec<DestinationOutage>, StorageError> {
    Ok(destination_outages::table
        .select(columns())
        .order((
            destination_outages::failing_since.asc(),
            destination_outages::destination_id.asc(),
        ))
        .load::<Row>(conn)?
        .into_iter()
        .map(from_row)
        .collect())
}

/// Who is told of a broken destination, and what the message links to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationPolicy<'a> {
    /// Episodes at least this old are escalated.
    pub after: chrono::Duration,
    /// The manufacturer's PSIRT address (plain `addr@host`; a `mailto:` prefix is dropped), told
    /// of every broken destination; `None` tells only the organization's admins.
    pub psirt: Option<&'a str>,
    /// Herald's public base URL, for the link to the destination's page.
    pub base_url: &'a str,
}

/// One escalation made by [`escalate_due`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escalation {
    pub destination_id: String,
    pub org_id: String,
    pub failing_since: DateTime<Utc>,
    /// Addresses the mail was queued for (sorted, each once).
    pub recipients: Vec<String>,
}

#[derive(QueryableByName)]
struct DueRow {
    #[diesel(sql_type = Text)]
    destination_id: String,
    #[diesel(sql_type = BigInt)]
    failing_since: i64,
    #[diesel(sql_type = Integer)]
    failures: i32,
    #[diesel(sql_type = Nullable<Text>)]
    last_error: Option<String>,
}

/// Escalates up to `limit` episodes that started at least `policy.after` before `at` and were
/// not escalated yet: each is marked escalated at `at`, its mail queued ([`crate::system_mail::queue_mail`],
/// kind `destination.broken`) and the decision audited (`destination.escalated`), in one
/// transaction. On PostgreSQL the due rows are claimed `FOR UPDATE SKIP LOCKED`, so two processes
/// escalating at once tell people once. `at` is a parameter so that tests can move the clock.
pub fn escalate_due(
    conn: &mut DbConnection,
    at: DateTime<Utc>,
    policy: &EscalationPolicy<'_>,
    limit: i64,
) -> Result<Vec<Escalation>, StorageError> {
    if policy.after <= chrono::Duration::zero() {
        return Err(StorageError::Invalid(
            "the escalation time must be positive".into(),
        ));
    }
    let cutoff = to_micros(at - policy.after);
    let limit = limit.clamp(1, 1000);
    write_transaction(conn, |conn| {
        let sql = "SELECT destination_id, failing_since, failures, last_error \
             FROM destination_outages WHERE escalated_at IS NULL AND failing_since <= $1 \
             ORDER BY failing_since, destination_id LIMIT $2";
        let due: Vec<DueRow> = match conn {
            DbConnection::Postgres(c) => diesel::sql_query(format!("{sql} FOR UPDATE SKIP LOCKED"))
                .bind::<BigInt, _>(cutoff)
                .bind::<BigInt, _>(limit)
                .load(c)?,
            DbConnection::Sqlite(c) => diesel::sql_query(sql.replace('$', "?"))
                .bind::<BigInt, _>(cutoff)
                .bind::<BigInt, _>(limit)
                .load(c)?,
        };
        let psirt = policy
            .psirt
            .map(|p| p.trim().trim_start_matches("mailto:").trim().to_string())
            .filter(|p| p.contains('@'));
        let mut made = Vec::with_capacity(due.len());
        for row in due {
            let (name, org_id): (String, String) = destinations::table
                .find(&row.destination_id)
                .select((destinations::name, destinations::org_id))
                .first(conn)?;
            let org_name: String = organizations::table
                .find(&org_id)
                .select(organizations::name)
                .first(conn)?;
            let mut recipients: Vec<String> = users::table
                .filter(users::org_id.eq(&org_id))
                .filter(users::role.eq(crate::accounts::Role::Admin.as_str()))
                .filter(users::disabled.eq(false))
                .select(users::email)
                .load(conn)?;
            recipients.extend(psirt.clone());
            for r in &mut recipients {
                *r = r.trim().to_lowercase();
            }
            recipients.sort();
            recipients.dedup();
            let since = from_micros(row.failing_since);
            let marked = diesel::update(
                destination_outages::table
                    .find(&row.destination_id)
                    .filter(destination_outages::escalated_at.is_null()),
            )
            .set(destination_outages::escalated_at.eq(Some(to_micros(at))))
            .execute(conn)?;
            if marked == 0 {
                continue;
            }
            let link = format!(
                "{}/destinations/{}",
                policy.base_url.trim_end_matches('/'),
                row.destination_id
            );
            // (queue_mail keeps line breaks in names out of the subject header.)
            let subject = format!(
                "Herald: notifications to \"{name}\" ({org_name}) have been failing since {}",
                since.format("%Y-%m-%d %H:%M UTC")
            );
            let body = format!(
                "Herald has not been able to deliver security notifications to the destination \
                 \"{name}\" of {org_name} since {since_full}.\n\n\
                 Failed attempts since then: {failures}\n\
                 Last error: {error}\n\n\
                 Nothing is dropped: Herald keeps every notification queued and retries, and \
                 delivers them in order once the destination answers again. Until then, the \
                 people who rely on this destination are not being told about new advisories.\n\n\
                 Check the receiving system and the destination's settings, and use \"Send test\" \
                 on its page:\n{link}\n\n\
                 You receive this because you administer {org_name} in Herald, or are the \
                 manufacturer's security contact. You are told once per outage.\n",
                since_full = since.to_rfc3339(),
                failures = row.failures,
                error = row.last_error.as_deref().unwrap_or("(none recorded)"),
            );
            for to in &recipients {
                crate::system_mail::queue_mail(
                    conn,
                    &crate::system_mail::NewMail {
                        kind: "destination.broken",
                        dedupe_key: &format!(
                            "destination.broken:{}:{}:{to}",
                            row.destination_id, row.failing_since
                        ),
                        recipient: to,
                        subject: &subject,
                        body: &body,
                    },
                )?;
            }
            append_audit(
                conn,
                "system",
                "destination.escalated",
                &format!("destination:{}", row.destination_id),
                &serde_json::json!({
                    "failing_since": since.to_rfc3339(),
                    "failures": row.failures,
                    "last_error": row.last_error,
                    "recipients": recipients,
                    "org_id": org_id,
                }),
            )?;
            made.push(Escalation {
                destination_id: row.destination_id,
                org_id,
                failing_since: since,
                recipients,
            });
        }
        Ok(made)
    })
}
