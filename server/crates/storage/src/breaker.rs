//! The delivery engine's per-destination circuit breaker, kept in `destination_health` so that
//! every `herald` process on the database and a restarted one agree on which destinations are
//! paused. The engine decides when to call these (see `herald_delivery::BreakerSettings`); this
//! module owns the state machine:
//!
//! * closed: retryable failures are counted; `threshold` of them in a row open the breaker;
//! * open: the destination's deliveries are not claimed until `next_probe_at`;
//! * half-open: after `next_probe_at` one delivery is claimed as a probe ([`start_breaker_probes`]);
//!   its success closes the breaker, its failure opens it for another cool-down.
//!
//! An answer from the receiver (delivered, or refused for good) closes the breaker and resets the
//! count: `record_attempt` does so in the attempt's own transaction ([`close_breaker`]). No row
//! means closed with no failures.
//!
//! Concurrency: the engine claims only the oldest open delivery of a destination, so at most one
//! attempt per destination is in flight at a time, and the read-then-write of one destination's
//! row in [`record_breaker_failure`] never races with another worker's. A worker that stalled
//! past its lease (a paused VM, say) can still store a failure late; closing the breaker with
//! the answer that follows, rather than after reading whether there is one to close, means
//! such a failure is reset by the next answer however late it came.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::schema::destination_health;
use crate::{DbConnection, StorageError, from_micros, now, to_micros, write_transaction};

/// Where a destination's breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half-open",
        }
    }

    fn parse(s: &str) -> Result<BreakerState, StorageError> {
        match s {
            "closed" => Ok(BreakerState::Closed),
            "open" => Ok(BreakerState::Open),
            "half-open" => Ok(BreakerState::HalfOpen),
            other => Err(StorageError::Corrupt(format!(
                "destination_health.state {other:?}"
            ))),
        }
    }
}

impl std::fmt::Display for BreakerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One destination's breaker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationBreaker {
    pub destination_id: String,
    pub state: BreakerState,
    /// Retryable failures since the receiver last answered.
    pub consecutive_failures: u32,
    /// When the breaker last opened.
    pub opened_at: Option<DateTime<Utc>>,
    /// When an open breaker lets a probe through.
    pub next_probe_at: Option<DateTime<Utc>>,
}

impl DestinationBreaker {
    fn closed(destination_id: &str) -> DestinationBreaker {
        DestinationBreaker {
            destination_id: destination_id.to_string(),
            state: BreakerState::Closed,
            consecutive_failures: 0,
            opened_at: None,
            next_probe_at: None,
        }
    }

    /// Open, and its cool-down not over at `at`: the destination's deliveries wait.
    pub fn is_paused_at(&self, at: DateTime<Utc>) -> bool {
        self.state == BreakerState::Open && self.next_probe_at.is_some_and(|t| t > at)
    }

    /// Open with its cool-down over at `at`: the next claimed delivery is the probe.
    pub fn probe_due_at(&self, at: DateTime<Utc>) -> bool {
        self.state == BreakerState::Open && self.next_probe_at.is_none_or(|t| t <= at)
    }
}

type Row = (String, String, i32, Option<i64>, Option<i64>);

fn from_row(
    (destination_id, state, failures, opened_at, next_probe_at): Row,
) -> Result<DestinationBreaker, StorageError> {
    Ok(DestinationBreaker {
        destination_id,
        state: BreakerState::parse(&state)?,
        consecutive_failures: u32::try_from(failures).map_err(|_| {
            StorageError::Corrupt(format!(
                "destination_health.consecutive_failures {failures}"
            ))
        })?,
        opened_at: opened_at.map(from_micros),
        next_probe_at: next_probe_at.map(from_micros),
    })
}

fn columns() -> (
    destination_health::destination_id,
    destination_health::state,
    destination_health::consecutive_failures,
    destination_health::opened_at,
    destination_health::next_probe_at,
) {
    (
        destination_health::destination_id,
        destination_health::state,
        destination_health::consecutive_failures,
        destination_health::opened_at,
        destination_health::next_probe_at,
    )
}

/// The breaker of one destination (closed with no failures when nothing is stored).
pub fn destination_breaker(
    conn: &mut DbConnection,
    destination_id: &str,
) -> Result<DestinationBreaker, StorageError> {
    let row: Option<Row> = destination_health::table
        .find(destination_id)
        .select(columns())
        .first(conn)
        .optional()?;
    match row {
        Some(row) => from_row(row),
        None => Ok(DestinationBreaker::closed(destination_id)),
    }
}

/// Every stored breaker (open, half-open, or closed with failures counted), by destination id:
/// the destinations that failed since they last answered.
pub fn stored_breakers(conn: &mut DbConnection) -> Result<Vec<DestinationBreaker>, StorageError> {
    let rows: Vec<Row> = destination_health::table
        .select(columns())
        .order(destination_health::destination_id)
        .load(conn)?;
    rows.into_iter().map(from_row).collect()
}

/// Closes `destination_id`'s breaker (no row: closed, no failures): its receiver answered.
/// `record_attempt` calls it in the attempt's transaction, on every answer: one indexed delete,
/// instead of a read of whether there is anything to close that a late failure could slip past.
pub fn close_breaker(conn: &mut DbConnection, destination_id: &str) -> Result<(), StorageError> {
    diesel::delete(destination_health::table.find(destination_id)).execute(conn)?;
    Ok(())
}

/// Counts a retryable failure of `destination_id`'s receiver and returns the breaker after it:
/// `threshold` (at least 1) consecutive failures, or a failed probe, open it for `cooldown`.
pub fn record_breaker_failure(
    conn: &mut DbConnection,
    destination_id: &str,
    threshold: u32,
    cooldown: chrono::Duration,
) -> Result<DestinationBreaker, StorageError> {
    if threshold == 0 {
        return Err(StorageError::Invalid(
            "circuit breaker threshold must be at least 1".into(),
        ));
    }
    write_transaction(conn, |conn| {
        let before = destination_breaker(conn, destination_id)?;
        let at = now();
        let failures = before.consecutive_failures.saturating_add(1);
        let after = if before.state == BreakerState::HalfOpen || failures >= threshold {
            DestinationBreaker {
                destination_id: destination_id.to_string(),
                state: BreakerState::Open,
                consecutive_failures: failures,
                opened_at: Some(at),
                next_probe_at: Some(at + cooldown),
            }
        } else {
            DestinationBreaker {
                consecutive_failures: failures,
                ..DestinationBreaker::closed(destination_id)
            }
        };
        let failures = i32::try_from(after.consecutive_failures).unwrap_or(i32::MAX);
        let values = (
            destination_health::state.eq(after.state.as_str()),
            destination_health::consecutive_failures.eq(failures),
            destination_health::opened_at.eq(after.opened_at.map(to_micros)),
            destination_health::next_probe_at.eq(after.next_probe_at.map(to_micros)),
            destination_health::updated_at.eq(to_micros(at)),
        );
        let updated = diesel::update(destination_health::table.find(destination_id))
            .set(values)
            .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(destination_health::table)
                .values((
                    destination_health::destination_id.eq(destination_id),
                    values,
                ))
                .execute(conn)?;
        }
        Ok(after)
    })
}

/// Marks the open breakers of `destination_ids` whose cool-down is over as half-open: the
/// engine claimed their probe delivery. Returns how many changed.
pub fn start_breaker_probes(
    conn: &mut DbConnection,
    destination_ids: &[String],
) -> Result<usize, StorageError> {
    if destination_ids.is_empty() {
        return Ok(0);
    }
    let at = to_micros(now());
    Ok(diesel::update(
        destination_health::table
            .filter(destination_health::destination_id.eq_any(destination_ids))
            .filter(destination_health::state.eq(BreakerState::Open.as_str()))
            .filter(destination_health::next_probe_at.le(at)),
    )
    .set((
        destination_health::state.eq(BreakerState::HalfOpen.as_str()),
        destination_health::updated_at.eq(at),
    ))
    .execute(conn)?)
}
