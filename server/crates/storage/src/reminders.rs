//! End-of-support reminders: a periodic scan ([`scan_end_of_support`]) that queues one outbox
//! event of kind [`EVENT_END_OF_SUPPORT`] per product, announced end-of-security-updates day and
//! lead time that has come due, idempotently under a unique dedupe key (the
//! `lifecycle_reminders` primary key, inserted in the same transaction as the event). A
//! restarted process or a second process on PostgreSQL scanning at the same moment queues
//! nothing twice; the delivery engine then fans the event out like any other (one delivery per
//! destination and event, entitlement judged again before every attempt, retries, the log).
//!
//! The event names the informational advisory generated from the product's dates (its current
//! revision), so fan-out, templates and the entitlement rule read it like an advisory notice.
//! Who gets it is fan-out's rule for this kind: organizations with the product in their
//! installed base, or destinations subscribed to it by product or family.
//!
//! Time is the caller's: `today` is passed in (a controllable clock in tests).

use chrono::{Duration, NaiveDate};
use diesel::prelude::*;

use crate::schema::{advisories, lifecycle_reminders, outbox_events};
use crate::{DbConnection, StorageError, new_id, now, to_json, to_micros, write_transaction};

/// The outbox event kind of an end-of-support reminder (a subscription's notice kind).
pub const EVENT_END_OF_SUPPORT: &str = "end_of_support";

/// The operator's default lead times, in days before the end of security updates (0: on the
/// day).
pub const DEFAULT_REMINDER_DAYS: [u32; 4] = [180, 90, 30, 0];

/// How long after the end of security updates the on-the-day reminder may still go out (a
/// server that was down on the day catches up; a date entered long after it passed does not
/// announce it as news).
pub const LATE_REMINDER_DAYS: i64 = 7;

/// The lead time due on `today` for an end on `end`, if any: the smallest lead whose day has
/// come. Only that one: a date entered 20 days ahead gets the 30-day reminder, not also the 90-
/// and 180-day ones at once.
pub fn due_lead(end: NaiveDate, today: NaiveDate, leads: &[u32]) -> Option<u32> {
    let days_left = (end - today).num_days();
    if days_left < -LATE_REMINDER_DAYS {
        return None;
    }
    leads
        .iter()
        .copied()
        .filter(|&lead| days_left <= i64::from(lead))
        .min()
}

/// The dedupe key of one reminder.
pub fn reminder_key(product_id: &str, end: NaiveDate, lead: u32) -> String {
    format!("{product_id}|{end}|{lead}")
}

/// Queues every reminder due on `today` that was not queued before; returns how many. Safe to
/// run at any time, in any number of processes.
pub fn scan_end_of_support(
    conn: &mut DbConnection,
    today: NaiveDate,
    leads: &[u32],
) -> Result<usize, StorageError> {
    let mut queued = 0;
    for lifecycle in crate::lifecycle::lifecycles_with_security_end(conn)? {
        let Some(end) = lifecycle
            .dates
            .end_of_security_updates
            .and_then(|d| d.day())
        else {
            continue;
        };
        let Some(lead) = due_lead(end, today, leads) else {
            continue;
        };
        // Without its informational advisory a reminder has nothing to point to (and fan-out
        // nothing to judge entitlement by): it waits until the advisory is published.
        let Some(tracking_id) = &lifecycle.advisory_tracking_id else {
            continue;
        };
        let advisory: Option<(String, String, String)> = advisories::table
            .filter(advisories::tracking_id.eq(tracking_id))
            .select((
                advisories::id,
                advisories::current_revision_id,
                advisories::current_version,
            ))
            .first(conn)
            .optional()?;
        let Some((advisory_id, revision_id, version)) = advisory else {
            continue;
        };
        let key = reminder_key(&lifecycle.product_id, end, lead);
        let event_id = new_id();
        let at = to_micros(now());
        let inserted = write_transaction(conn, |conn| {
            let row = (
                lifecycle_reminders::dedupe_key.eq(&key),
                lifecycle_reminders::product_id.eq(&lifecycle.product_id),
                lifecycle_reminders::due_date.eq(end.to_string()),
                lifecycle_reminders::lead_days.eq(i32::try_from(lead).unwrap_or(i32::MAX)),
                lifecycle_reminders::event_id.eq(&event_id),
                lifecycle_reminders::created_at.eq(at),
            );
            // Insert-if-absent in one statement, so two scanners cannot both pass a check
            // (per backend: the multi-backend connection has no ON CONFLICT).
            let n = match conn {
                DbConnection::Sqlite(c) => diesel::insert_into(lifecycle_reminders::table)
                    .values(row)
                    .on_conflict_do_nothing()
                    .execute(c)?,
                DbConnection::Postgres(c) => diesel::insert_into(lifecycle_reminders::table)
                    .values(row)
                    .on_conflict_do_nothing()
                    .execute(c)?,
            };
            if n == 0 {
                return Ok(false);
            }
            let payload = serde_json::json!({
                "tracking_id": tracking_id,
                "version": version,
                "product_id": lifecycle.product_id,
                "end_of_security_updates": end.to_string(),
                "end_of_standard_support": lifecycle.dates.end_of_standard_support.map(|d| d.to_string()),
                "end_of_sales": lifecycle.dates.end_of_sales.map(|d| d.to_string()),
                "lead_days": lead,
                "days_left": (end - today).num_days(),
                "compensating_controls": lifecycle.dates.compensating_controls,
            });
            diesel::insert_into(outbox_events::table)
                .values((
                    outbox_events::id.eq(&event_id),
                    outbox_events::kind.eq(EVENT_END_OF_SUPPORT),
                    outbox_events::advisory_id.eq(Some(&advisory_id)),
                    outbox_events::revision_id.eq(Some(&revision_id)),
                    outbox_events::payload.eq(to_json(&payload)?),
                    outbox_events::created_at.eq(at),
                    outbox_events::fanned_out_at.eq(None::<i64>),
                ))
                .execute(conn)?;
            Ok(true)
        })?;
        if inserted {
            queued += 1;
        }
    }
    Ok(queued)
}

/// The day `lead` days before `end` (when that reminder comes due).
pub fn reminder_day(end: NaiveDate, lead: u32) -> NaiveDate {
    end - Duration::days(i64::from(lead))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    #[test]
    fn the_smallest_due_lead_fires() {
        let end = d("2027-06-30");
        let leads = DEFAULT_REMINDER_DAYS;
        assert_eq!(due_lead(end, d("2026-12-31"), &leads), None);
        assert_eq!(due_lead(end, d("2027-01-01"), &leads), Some(180));
        assert_eq!(due_lead(end, d("2027-04-01"), &leads), Some(90));
        assert_eq!(due_lead(end, d("2027-06-29"), &leads), Some(30));
        assert_eq!(due_lead(end, d("2027-06-30"), &leads), Some(0));
        assert_eq!(due_lead(end, d("2027-07-07"), &leads), Some(0));
        assert_eq!(due_lead(end, d("2027-07-08"), &leads), None);
        assert_eq!(reminder_day(end, 30), d("2027-05-31"));
    }
}
