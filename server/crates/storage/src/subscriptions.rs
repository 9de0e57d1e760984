//! What one destination wants (products, families, notice kinds, security contact, routine
//! opt-out); fan-out reads these once per batch.

use std::collections::{BTreeSet, HashMap};

use diesel::prelude::*;

use crate::customers::MAX_LIST;
use crate::schema::{destinations, products, subscriptions};
use crate::{
    DbConnection, StorageError, audit::append_audit, from_json, now, to_json, to_micros,
    write_transaction,
};

// ---------------------------------------------------------------------------------------------
// subscriptions

/// Notice kinds a subscription may name: written by [`crate::advisories::publish`] (a new or revised
/// advisory), by a published release ([`crate::advisories::EVENT_PATCH_AVAILABLE`]) and by the end-of-support
/// reminders ([`crate::reminders::EVENT_END_OF_SUPPORT`]).
pub const NOTICE_KINDS: [&str; 4] = [
    crate::advisories::EVENT_ADVISORY_PUBLISHED,
    crate::advisories::EVENT_ADVISORY_UPDATED,
    crate::advisories::EVENT_PATCH_AVAILABLE,
    crate::reminders::EVENT_END_OF_SUPPORT,
];

/// What one destination wants. The default (no stored row) is "everything I may read, narrowed
/// to my installed base when I have one", not a security contact.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subscription {
    /// Catalog product ids; with `families`, empty means no product filter.
    pub product_ids: Vec<String>,
    /// Product family names, compared case-insensitively.
    pub families: Vec<String>,
    /// Notice kinds ([`NOTICE_KINDS`]); empty means every kind.
    pub event_kinds: Vec<String>,
    /// Receives critical notices even with `routine_opt_out`.
    pub security_contact: bool,
    /// Receives no routine notices (only critical ones, and only as a security contact).
    pub routine_opt_out: bool,
}

impl Subscription {
    /// Whether the subscription narrows products at all.
    pub fn filters_products(&self) -> bool {
        !self.product_ids.is_empty() || !self.families.is_empty()
    }

    /// Sorted, de-duplicated, validated (product ids are checked against the catalog by
    /// [`set_subscription`]).
    fn normalized(&self) -> Result<Subscription, StorageError> {
        fn clean(field: &str, v: &[String], lower: bool) -> Result<Vec<String>, StorageError> {
            if v.len() > MAX_LIST {
                return Err(StorageError::Invalid(format!(
                    "{field} has more than {MAX_LIST} entries"
                )));
            }
            let mut out = BTreeSet::new();
            for s in v {
                let s = s.trim();
                if s.is_empty() || s.chars().count() > 200 || s.chars().any(char::is_control) {
                    return Err(StorageError::Invalid(format!(
                        "{field}: {s:?} must be 1-200 printable characters"
                    )));
                }
                out.insert(if lower {
                    s.to_lowercase()
                } else {
                    s.to_string()
                });
            }
            Ok(out.into_iter().collect())
        }
        let event_kinds = clean("event_kinds", &self.event_kinds, false)?;
        if let Some(k) = event_kinds
            .iter()
            .find(|k| !NOTICE_KINDS.contains(&k.as_str()))
        {
            return Err(StorageError::Invalid(format!(
                "event_kinds: {k:?} is not one of {}",
                NOTICE_KINDS.join(", ")
            )));
        }
        Ok(Subscription {
            product_ids: clean("product_ids", &self.product_ids, false)?,
            families: clean("families", &self.families, true)?,
            event_kinds,
            security_contact: self.security_contact,
            routine_opt_out: self.routine_opt_out,
        })
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = subscriptions)]
struct SubscriptionRow {
    destination_id: String,
    product_ids: String,
    families: String,
    event_kinds: String,
    security_contact: bool,
    routine_opt_out: bool,
}

impl SubscriptionRow {
    fn into_model(self) -> Result<(String, Subscription), StorageError> {
        Ok((
            self.destination_id,
            Subscription {
                product_ids: from_json("subscriptions.product_ids", &self.product_ids)?,
                families: from_json("subscriptions.families", &self.families)?,
                event_kinds: from_json("subscriptions.event_kinds", &self.event_kinds)?,
                security_contact: self.security_contact,
                routine_opt_out: self.routine_opt_out,
            },
        ))
    }
}

/// The destination's subscription (the default when none is stored). `NotFound` when the
/// destination does not exist.
pub fn get_subscription(
    conn: &mut DbConnection,
    destination_id: &str,
) -> Result<Subscription, StorageError> {
    let exists: i64 = destinations::table
        .find(destination_id)
        .count()
        .get_result(conn)?;
    if exists == 0 {
        return Err(StorageError::NotFound);
    }
    Ok(subscriptions::table
        .find(destination_id)
        .select(SubscriptionRow::as_select())
        .first(conn)
        .optional()?
        .map(SubscriptionRow::into_model)
        .transpose()?
        .map(|(_, s)| s)
        .unwrap_or_default())
}

/// Every stored subscription by destination id (fan-out reads them once per batch).
pub fn all_subscriptions(
    conn: &mut DbConnection,
) -> Result<HashMap<String, Subscription>, StorageError> {
    subscriptions::table
        .select(SubscriptionRow::as_select())
        .load(conn)?
        .into_iter()
        .map(SubscriptionRow::into_model)
        .collect()
}

/// Replaces the destination's subscription. Product ids must be in the catalog.
pub fn set_subscription(
    conn: &mut DbConnection,
    destination_id: &str,
    subscription: &Subscription,
    actor: &str,
) -> Result<Subscription, StorageError> {
    let s = subscription.normalized()?;
    write_transaction(conn, |conn| {
        let exists: i64 = destinations::table
            .find(destination_id)
            .count()
            .get_result(conn)?;
        if exists == 0 {
            return Err(StorageError::NotFound);
        }
        if !s.product_ids.is_empty() {
            let known: i64 = products::table
                .filter(products::id.eq_any(&s.product_ids))
                .count()
                .get_result(conn)?;
            if usize::try_from(known).unwrap_or(0) != s.product_ids.len() {
                let found: Vec<String> = products::table
                    .filter(products::id.eq_any(&s.product_ids))
                    .select(products::id)
                    .load(conn)?;
                let missing: Vec<&String> = s
                    .product_ids
                    .iter()
                    .filter(|p| !found.contains(p))
                    .collect();
                return Err(StorageError::Invalid(format!(
                    "product_ids: not in the catalog: {missing:?}"
                )));
            }
        }
        let at = to_micros(now());
        diesel::delete(subscriptions::table.find(destination_id)).execute(conn)?;
        diesel::insert_into(subscriptions::table)
            .values((
                subscriptions::destination_id.eq(destination_id),
                subscriptions::product_ids.eq(to_json(&s.product_ids)?),
                subscriptions::families.eq(to_json(&s.families)?),
                subscriptions::event_kinds.eq(to_json(&s.event_kinds)?),
                subscriptions::security_contact.eq(s.security_contact),
                subscriptions::routine_opt_out.eq(s.routine_opt_out),
                subscriptions::created_at.eq(at),
                subscriptions::updated_at.eq(at),
            ))
            .execute(conn)?;
        append_audit(
            conn,
            actor,
            "subscription.set",
            &format!("destination:{destination_id}"),
            &serde_json::json!({
                "product_ids": s.product_ids,
                "families": s.families,
                "event_kinds": s.event_kinds,
                "security_contact": s.security_contact,
                "routine_opt_out": s.routine_opt_out,
            }),
        )?;
        Ok(s.clone())
    })
}
