//! The manufacturer's overrides of the compiled-in notification templates, keyed by event kind,
//! channel and part. Storage only keeps them (with an audit entry per change); whether a
//! template compiles and renders is checked by the delivery crate before it is saved here.

use diesel::prelude::*;

use crate::schema::notification_templates;
use crate::{DbConnection, StorageError, audit::append_audit, now, to_micros, write_transaction};

/// Longest template body accepted.
pub const MAX_TEMPLATE_LEN: usize = 64 * 1024;

/// One stored override.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = notification_templates)]
pub struct TemplateOverride {
    pub kind: String,
    pub channel: String,
    pub part: String,
    pub body: String,
    /// Microseconds since the Unix epoch.
    pub updated_at: i64,
    pub updated_by: String,
}

/// Lower-case letters, digits, `.`, `_` and `-`, 1 to 64 characters: what kinds and channels
/// look like (`advisory.published`, `hl7-mllp`).
fn valid_key(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        })
}

fn check_key(kind: &str, channel: &str, part: &str) -> Result<(), StorageError> {
    for (what, v) in [("kind", kind), ("channel", channel), ("part", part)] {
        if !valid_key(v) {
            return Err(StorageError::Invalid(format!(
                "template {what} {v:?} must be 1-64 lower-case letters, digits, '.', '_' or '-'"
            )));
        }
    }
    Ok(())
}

/// Every override, ordered by kind, channel, part.
pub fn list_template_overrides(
    conn: &mut DbConnection,
) -> Result<Vec<TemplateOverride>, StorageError> {
    Ok(notification_templates::table
        .select(TemplateOverride::as_select())
        .order((
            notification_templates::kind.asc(),
            notification_templates::channel.asc(),
            notification_templates::part.asc(),
        ))
        .load(conn)?)
}

/// Creates or replaces one override and records who did it.
pub fn put_template_override(
    conn: &mut DbConnection,
    kind: &str,
    channel: &str,
    part: &str,
    body: &str,
    actor: &str,
) -> Result<TemplateOverride, StorageError> {
    check_key(kind, channel, part)?;
    if body.len() > MAX_TEMPLATE_LEN {
        return Err(StorageError::Invalid(format!(
            "template {kind}/{channel}/{part} is longer than {MAX_TEMPLATE_LEN} bytes"
        )));
    }
    let row = TemplateOverride {
        kind: kind.to_string(),
        channel: channel.to_string(),
        part: part.to_string(),
        body: body.to_string(),
        updated_at: to_micros(now()),
        updated_by: actor.to_string(),
    };
    write_transaction(conn, |conn| {
        diesel::delete(notification_templates::table.find((kind, channel, part))).execute(conn)?;
        diesel::insert_into(notification_templates::table)
            .values(&row)
            .execute(conn)?;
        append_audit(
            conn,
            actor,
            "template.put",
            &format!("template:{kind}/{channel}/{part}"),
            &serde_json::json!({ "bytes": body.len() }),
        )?;
        Ok(row.clone())
    })
}

/// Removes one override (the built-in default applies again). `false` when there was none.
pub fn delete_template_override(
    conn: &mut DbConnection,
    kind: &str,
    channel: &str,
    part: &str,
    actor: &str,
) -> Result<bool, StorageError> {
    check_key(kind, channel, part)?;
    write_transaction(conn, |conn| {
        let n = diesel::delete(notification_templates::table.find((kind, channel, part)))
            .execute(conn)?;
        if n > 0 {
            append_audit(
                conn,
                actor,
                "template.delete",
                &format!("template:{kind}/{channel}/{part}"),
                &serde_json::json!({}),
            )?;
        }
        Ok(n > 0)
    })
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use super::*;
    use crate::testing::TestDb;

    fn put_list_replace_delete(db: &TestDb) -> Result<(), StorageError> {
        let mut conn = db.conn()?;
        assert!(list_template_overrides(&mut conn)?.is_empty());
        put_template_override(
            &mut conn,
            "advisory.published",
            "email",
            "subject",
            "A {{tracking_id}}",
            "token:1",
        )?;
        let replaced = put_template_override(
            &mut conn,
            "advisory.published",
            "email",
            "subject",
            "B {{tracking_id}}",
            "token:2",
        )?;
        put_template_override(
            &mut conn,
            "advisory.updated",
            "default",
            "text",
            "t",
            "token:1",
        )?;
        let all = list_template_overrides(&mut conn)?;
        assert_eq!(all.len(), 2);
        assert_eq!(all[0], replaced);
        assert_eq!(all[0].body, "B {{tracking_id}}");
        assert_eq!(all[0].updated_by, "token:2");
        assert_eq!(all[1].kind, "advisory.updated");
        assert!(delete_template_override(
            &mut conn,
            "advisory.published",
            "email",
            "subject",
            "token:1"
        )?);
        assert!(!delete_template_override(
            &mut conn,
            "advisory.published",
            "email",
            "subject",
            "token:1"
        )?);
        assert_eq!(list_template_overrides(&mut conn)?.len(), 1);
        Ok(())
    }

    fn hostile_keys_and_sizes_refused(db: &TestDb) -> Result<(), StorageError> {
        let mut conn = db.conn()?;
        for (kind, channel, part) in [
            ("Advisory.Published", "email", "subject"),
            ("advisory.published", "../etc", "subject"),
            ("advisory.published", "email", ""),
            ("advisory.published", "em ail", "html"),
        ] {
            let r = put_template_override(&mut conn, kind, channel, part, "x", "t");
            assert!(
                matches!(r, Err(StorageError::Invalid(_))),
                "{kind}/{channel}/{part}: {r:?}"
            );
        }
        let big = "x".repeat(MAX_TEMPLATE_LEN + 1);
        assert!(matches!(
            put_template_override(&mut conn, "advisory.published", "email", "text", &big, "t"),
            Err(StorageError::Invalid(_))
        ));
        assert!(list_template_overrides(&mut conn)?.is_empty());
        Ok(())
    }

    crate::both_backends!(put_list_replace_delete, hostile_keys_and_sizes_refused);
}
