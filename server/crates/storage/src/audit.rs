//! The audit log: who did what to which subject, written in the same transaction as the change.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::schema::audit_log;
use crate::{DbConnection, StorageError, from_json, from_micros, new_id, now, to_json, to_micros};

#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: String,
    pub at: DateTime<Utc>,
    /// `user:<id>`, `token:<id>`, `system`, `worker:<id>`, ...
    pub actor: String,
    /// e.g. `advisory.publish`, `api_token.create`, `delivery.replay`.
    pub action: String,
    /// e.g. `advisory:<tracking id>`, `destination:<id>`.
    pub subject: String,
    pub detail: serde_json::Value,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_log)]
struct AuditRow {
    id: String,
    at: i64,
    actor: String,
    action: String,
    subject: String,
    detail: String,
}

/// Appends one entry. Call it inside the transaction that makes the change.
pub fn append_audit(
    conn: &mut DbConnection,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &serde_json::Value,
) -> Result<(), StorageError> {
    let row = AuditRow {
        id: new_id(),
        at: to_micros(now()),
        actor: actor.to_string(),
        action: action.to_string(),
        subject: subject.to_string(),
        detail: to_json(detail)?,
    };
    diesel::insert_into(audit_log::table)
        .values(&row)
        .execute(conn)?;
    Ok(())
}

/// Newest first; `subject` filters to one subject.
pub fn list_audit(
    conn: &mut DbConnection,
    subject: Option<&str>,
    limit: i64,
) -> Result<Vec<AuditEntry>, StorageError> {
    let mut query = audit_log::table
        .select(AuditRow::as_select())
        .order((audit_log::at.desc(), audit_log::id.desc()))
        .limit(limit.clamp(1, 10_000))
        .into_boxed();
    if let Some(subject) = subject {
        query = query.filter(audit_log::subject.eq(subject.to_string()));
    }
    query
        .load(conn)?
        .into_iter()
        .map(|r| {
            Ok(AuditEntry {
                detail: from_json("audit_log.detail", &r.detail)?,
                id: r.id,
                at: from_micros(r.at),
                actor: r.actor,
                action: r.action,
                subject: r.subject,
            })
        })
        .collect()
}
