//! Reading the delivery log: which deliveries (with their attempts) a caller sees, filtered and
//! paged. A hospital's people and tokens see their own organization's deliveries, the
//! manufacturer's see every organization's (it is the one telling them); a token needs `read`.
//! The REST listing (`GET /api/v1/deliveries`, event order, offset paging) and the portal's log
//! (newest first, numbered pages, with the names it shows) both ask here. Replaying a delivery is
//! a destination change and lives in [`super::destinations`].

use std::collections::{BTreeSet, HashMap};

use herald_storage::{
    delivery_log::DeliveryLogFilter, destinations::Destination, queue::Delivery,
    queue::DeliveryAttempt, queue::DeliveryFilter, queue::OutboxEvent,
};

use crate::error::ServiceError;
use crate::service::Principal;
use crate::service::destinations::parse_status_filter;
use crate::state::AppState;

type Result<T> = std::result::Result<T, ServiceError>;

/// The largest page either listing gives.
pub const MAX_PAGE: usize = 1000;

/// What `GET /api/v1/deliveries` asks for.
#[derive(Debug, Clone, Default)]
pub struct DeliveryQuery {
    /// `queued`, `in_flight`, ...; empty or absent: any.
    pub status: Option<String>,
    pub destination_id: Option<String>,
    /// Tracking id of the advisory.
    pub advisory: Option<String>,
    /// 1 to [`MAX_PAGE`].
    pub limit: usize,
    pub offset: usize,
}

/// Deliveries the caller may see, in event order, each with its attempts.
pub async fn list(
    state: &AppState,
    p: &Principal,
    q: DeliveryQuery,
) -> Result<Vec<(Delivery, Vec<DeliveryAttempt>)>> {
    p.require_read()?;
    if !(1..=MAX_PAGE).contains(&q.limit) {
        return Err(ServiceError::BadRequest(format!(
            "limit must be between 1 and {MAX_PAGE}"
        )));
    }
    let status = parse_status_filter(q.status.as_deref())?;
    let org = p.org_filter();
    state
        .db(move |conn| {
            let advisory_id = match q.advisory.as_deref().filter(|a| !a.is_empty()) {
                Some(tracking_id) => {
                    match herald_storage::advisories::get_advisory(conn, tracking_id)? {
                        Some(a) => Some(a.id),
                        // No such advisory: nothing was delivered about it.
                        None => return Ok(Vec::new()),
                    }
                }
                None => None,
            };
            let filter = DeliveryFilter {
                destination_id: q.destination_id.clone().filter(|d| !d.is_empty()),
                advisory_id,
                event_id: None,
                status,
            };
            let page = herald_storage::queue::list_deliveries_page(
                conn,
                &filter,
                org.as_deref(),
                i64::try_from(q.limit).unwrap_or(1000),
                i64::try_from(q.offset).unwrap_or(i64::MAX),
            )?;
            with_attempts(conn, page)
        })
        .await
}

fn with_attempts(
    conn: &mut herald_storage::DbConnection,
    deliveries: Vec<Delivery>,
) -> Result<Vec<(Delivery, Vec<DeliveryAttempt>)>> {
    let mut out = Vec::with_capacity(deliveries.len());
    for d in deliveries {
        let attempts = herald_storage::queue::list_attempts(conn, &d.id)?;
        out.push((d, attempts));
    }
    Ok(out)
}

/// One page of the portal's delivery log, newest first, and what it shows beside the rows.
pub struct LogPage {
    pub rows: Vec<(Delivery, Vec<DeliveryAttempt>)>,
    /// Deliveries matching the filter, on every page.
    pub total: i64,
    /// The destinations the caller sees (for names and the filter's choices).
    pub destinations: Vec<Destination>,
    /// Organization names by id.
    pub org_names: HashMap<String, String>,
    /// The outbox events of the page's rows, by id (what each delivery was about).
    pub events: HashMap<String, OutboxEvent>,
    /// The caller sees every organization's deliveries.
    pub manufacturer: bool,
    /// The caller may replay a dead letter (its organization's admins).
    pub can_replay: bool,
}

/// Page `page` (from 0) of `page_size` rows of the deliveries the caller may see.
pub async fn log_page(
    state: &AppState,
    p: &Principal,
    destination_id: Option<String>,
    status: Option<&str>,
    page: usize,
    page_size: usize,
) -> Result<LogPage> {
    p.require_read()?;
    let status = parse_status_filter(status)?;
    let org = p.org_filter();
    let filter = DeliveryLogFilter {
        org_id: org.clone(),
        destination_id,
        status,
    };
    let page_size = page_size.clamp(1, MAX_PAGE);
    let offset = page.saturating_mul(page_size);
    let (rows, total, destinations, org_names, events) = state
        .db(move |conn| {
            let found = herald_storage::delivery_log::delivery_log_page(
                conn,
                &filter,
                i64::try_from(page_size).unwrap_or(1000),
                i64::try_from(offset).unwrap_or(i64::MAX),
            )?;
            let advisories: BTreeSet<String> = found
                .items
                .iter()
                .filter_map(|d| d.advisory_id.clone())
                .collect();
            let rows = with_attempts(conn, found.items)?;
            let mut events = HashMap::new();
            for a in &advisories {
                for e in herald_storage::queue::list_events(conn, Some(a))? {
                    events.insert(e.id.clone(), e);
                }
            }
            let destinations =
                herald_storage::destinations::list_destinations(conn, org.as_deref())?;
            let org_names: HashMap<String, String> =
                herald_storage::accounts::list_organizations(conn)?
                    .into_iter()
                    .map(|o| (o.id, o.name))
                    .collect();
            Ok((rows, found.total, destinations, org_names, events))
        })
        .await?;
    Ok(LogPage {
        rows,
        total,
        destinations,
        org_names,
        events,
        manufacturer: p.is_manufacturer(),
        can_replay: p.is_admin(),
    })
}
