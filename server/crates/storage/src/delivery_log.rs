//! Read-only queries behind the portal's delivery log and destination health: one page of
//! deliveries (newest event first) limited to an organization's destinations, and what the
//! recorded attempts say about a destination's health. The queue (`queue.rs`) owns every change.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::schema::{deliveries, delivery_attempts, destinations};
use crate::{
    DbConnection, StorageError, from_micros, queue::AttemptOutcome, queue::Delivery,
    queue::DeliveryStatus, queue::get_delivery,
};

/// Which deliveries one page of the log shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeliveryLogFilter {
    /// Only deliveries to this organization's destinations (`None`: every organization).
    pub org_id: Option<String>,
    pub destination_id: Option<String>,
    pub status: Option<DeliveryStatus>,
}

/// One page of the delivery log and the number of deliveries matching the filter.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryLogPage {
    pub items: Vec<Delivery>,
    pub total: i64,
}

macro_rules! log_query {
    ($filter:expr) => {{
        let filter: &DeliveryLogFilter = $filter;
        let mut q = deliveries::table.into_boxed();
        if let Some(org) = &filter.org_id {
            q = q.filter(
                deliveries::destination_id.eq_any(
                    destinations::table
                        .filter(destinations::org_id.eq(org.clone()))
                        .select(destinations::id),
                ),
            );
        }
        if let Some(d) = &filter.destination_id {
            q = q.filter(deliveries::destination_id.eq(d.clone()));
        }
        if let Some(s) = filter.status {
            q = q.filter(deliveries::status.eq(s.as_str()));
        }
        q
    }};
}

/// Deliveries matching `filter`, newest event first, `limit` (1 to 500) from `offset`.
pub fn delivery_log_page(
    conn: &mut DbConnection,
    filter: &DeliveryLogFilter,
    limit: i64,
    offset: i64,
) -> Result<DeliveryLogPage, StorageError> {
    let total: i64 = log_query!(filter).count().get_result(conn)?;
    let ids: Vec<String> = log_query!(filter)
        .select(deliveries::id)
        .order((
            deliveries::event_at.desc(),
            deliveries::event_id.desc(),
            deliveries::destination_id.asc(),
        ))
        .limit(limit.clamp(1, 500))
        .offset(offset.max(0))
        .load(conn)?;
    let mut items = Vec::with_capacity(ids.len());
    for id in ids {
        // A row deleted between the two queries is simply left out of this page.
        if let Some(d) = get_delivery(conn, &id)? {
            items.push(d);
        }
    }
    Ok(DeliveryLogPage { items, total })
}

/// What the recorded attempts say about a destination.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DestinationHealth {
    /// Time and outcome of the latest attempt.
    pub last_attempt: Option<(DateTime<Utc>, AttemptOutcome)>,
    pub last_delivered_at: Option<DateTime<Utc>>,
    /// Retryable failures since the receiver last answered (delivered or refused for good):
    /// the count the delivery engine's circuit breaker opens on.
    pub consecutive_failures: u32,
    pub queued: i64,
    pub failed: i64,
    pub dead: i64,
    /// The engine's stored circuit breaker, when the destination has one (see
    /// [`crate::breaker`]); `None` means closed with no failures.
    pub breaker: Option<crate::breaker::DestinationBreaker>,
    /// Its current failure episode (every attempt since then failed), if it is failing; when
    /// it was escalated to people ([`crate::outages`]).
    pub outage: Option<crate::outages::DestinationOutage>,
}

/// How many recent attempts are read to count consecutive failures.
const HEALTH_WINDOW: i64 = 50;

pub fn destination_health(
    conn: &mut DbConnection,
    destination_id: &str,
) -> Result<DestinationHealth, StorageError> {
    let recent: Vec<(i64, String)> = delivery_attempts::table
        .inner_join(deliveries::table)
        .filter(deliveries::destination_id.eq(destination_id))
        .select((delivery_attempts::started_at, delivery_attempts::outcome))
        .order((
            delivery_attempts::started_at.desc(),
            delivery_attempts::id.desc(),
        ))
        .limit(HEALTH_WINDOW)
        .load(conn)?;
    let mut health = DestinationHealth::default();
    let mut outcomes = Vec::with_capacity(recent.len());
    for (at, outcome) in recent {
        let outcome: AttemptOutcome = outcome
            .parse()
            .map_err(|_| StorageError::Corrupt(format!("delivery_attempts.outcome {outcome:?}")))?;
        outcomes.push((from_micros(at), outcome));
    }
    health.last_attempt = outcomes.first().copied();
    // Mirrors the engine's breaker: retryable failures count, an answer from the receiver
    // resets, anything else (configuration, lost lease) says nothing about the receiver.
    for (_, outcome) in &outcomes {
        if outcome.is_answer() {
            break;
        }
        if outcome.is_receiver_failure() {
            health.consecutive_failures += 1;
        }
    }
    health.last_delivered_at = deliveries::table
        .filter(deliveries::destination_id.eq(destination_id))
        .select(diesel::dsl::max(deliveries::delivered_at))
        .first::<Option<i64>>(conn)?
        .map(from_micros);
    let counts: Vec<(String, i64)> = deliveries::table
        .filter(deliveries::destination_id.eq(destination_id))
        .group_by(deliveries::status)
        .select((deliveries::status, diesel::dsl::count_star()))
        .load(conn)?;
    for (status, n) in counts {
        match status.as_str() {
            "queued" | "in_flight" => health.queued += n,
            "failed" => health.failed += n,
            "dead" => health.dead += n,
            _ => {}
        }
    }
    let breaker = crate::breaker::destination_breaker(conn, destination_id)?;
    if breaker.state != crate::breaker::BreakerState::Closed || breaker.consecutive_failures > 0 {
        health.breaker = Some(breaker);
    }
    health.outage = crate::outages::destination_outage(conn, destination_id)?;
    Ok(health)
}
