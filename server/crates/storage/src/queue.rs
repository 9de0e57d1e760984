//! The delivery queue: outbox events fan out to one delivery per matching destination; workers
//! claim due deliveries under a lease, and every attempt is recorded with the delivery's new
//! state in one transaction. Dead letters can be replayed.
//!
//! Ordering: deliveries to one destination go out in event order. A delivery is claimable only
//! when no older delivery to the same destination is still queued or in flight, so a failing
//! receiver holds back later notifications to itself (they are never reordered) and never those
//! to other destinations.
//!
//! Claiming: PostgreSQL selects candidates `FOR UPDATE SKIP LOCKED` (concurrent workers skip each
//! other's rows instead of waiting); SQLite runs the claim in an immediate transaction (one writer
//! at a time). A claim sets `in_flight` with `lease_owner`/`lease_until`; when a lease expires
//! (the worker crashed or hung) the delivery is claimable again and the lost attempt is recorded
//! as `abandoned`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use herald_csaf::{AdvisorySummary, Tlp};

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::destinations::DestinationRow;
use crate::schema::{
    advisories, deliveries, delivery_attempts, destinations, organizations, outbox_events,
};
use crate::{
    DbConnection, StorageError, accounts::OrgKind, advisories::tlp_str, audit::append_audit,
    destinations::Destination, destinations::severity_rank, entitlement::Reader, from_json,
    from_micros, new_id, now, subscriptions::Subscription, to_json, to_micros, write_transaction,
};

crate::accounts::string_enum!(
    /// Where a delivery stands. `failed`: the channel reported a permanent or configuration error;
    /// `dead`: the retry budget ran out. Both are dead letters that [`replay_delivery`] requeues.
    /// `withheld`: when its attempt came, the destination's organization could no longer read
    /// the advisory (entitlement is checked again before every attempt, see [`claim_due_except`]);
    /// it was not sent, and the reason is in the audit log. Final: a replay would be withheld again.
    DeliveryStatus { Queued = "queued", InFlight = "in_flight", Delivered = "delivered", Failed = "failed", Dead = "dead", Withheld = "withheld" }
);
crate::accounts::string_enum!(
    /// How one attempt ended.
    AttemptOutcome {
        Delivered = "delivered",
        Retryable = "retryable",
        RetryAfter = "retry_after",
        Permanent = "permanent",
        Misconfigured = "misconfigured",
        Abandoned = "abandoned"
    }
);

impl AttemptOutcome {
    /// The receiver answered (delivered, or refused for good): it is up, whatever it said.
    pub fn is_answer(self) -> bool {
        matches!(self, AttemptOutcome::Delivered | AttemptOutcome::Permanent)
    }

    /// The receiver was down, overloaded or too slow: what a circuit breaker counts. (A
    /// configuration error or a lost lease says nothing about the receiver.)
    pub fn is_receiver_failure(self) -> bool {
        matches!(self, AttemptOutcome::Retryable | AttemptOutcome::RetryAfter)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEvent {
    pub id: String,
    pub kind: String,
    pub advisory_id: Option<String>,
    pub revision_id: Option<String>,
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub fanned_out_at: Option<DateTime<Utc>>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = outbox_events)]
struct EventRow {
    id: String,
    kind: String,
    advisory_id: Option<String>,
    revision_id: Option<String>,
    payload: String,
    created_at: i64,
    fanned_out_at: Option<i64>,
}

impl EventRow {
    fn into_model(self) -> Result<OutboxEvent, StorageError> {
        Ok(OutboxEvent {
            payload: from_json("outbox_events.payload", &self.payload)?,
            id: self.id,
            kind: self.kind,
            advisory_id: self.advisory_id,
            revision_id: self.revision_id,
            created_at: from_micros(self.created_at),
            fanned_out_at: self.fanned_out_at.map(from_micros),
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: String,
    pub event_id: String,
    pub destination_id: String,
    pub advisory_id: Option<String>,
    pub status: DeliveryStatus,
    /// Attempts started so far; the attempt in flight is number `attempts`.
    pub attempts: i32,
    /// `attempts` at the last replay: the retry budget counts from here.
    pub replay_base: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    /// The channel's receipt (herald-delivery's `Receipt` as JSON) once delivered.
    pub receipt: Option<serde_json::Value>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = deliveries)]
struct DeliveryRow {
    id: String,
    event_id: String,
    destination_id: String,
    advisory_id: Option<String>,
    event_at: i64,
    status: String,
    attempts: i32,
    replay_base: i32,
    next_attempt_at: i64,
    lease_owner: Option<String>,
    lease_until: Option<i64>,
    receipt: Option<String>,
    last_error: Option<String>,
    created_at: i64,
    updated_at: i64,
    delivered_at: Option<i64>,
}

impl DeliveryRow {
    fn into_model(self) -> Result<Delivery, StorageError> {
        Ok(Delivery {
            status: self.status.parse().map_err(|_| {
                StorageError::Corrupt(format!("deliveries.status {:?}", self.status))
            })?,
            receipt: self
                .receipt
                .as_deref()
                .map(|r| from_json("deliveries.receipt", r))
                .transpose()?,
            id: self.id,
            event_id: self.event_id,
            destination_id: self.destination_id,
            advisory_id: self.advisory_id,
            attempts: self.attempts,
            replay_base: self.replay_base,
            next_attempt_at: from_micros(self.next_attempt_at),
            lease_owner: self.lease_owner,
            lease_until: self.lease_until.map(from_micros),
            last_error: self.last_error,
            created_at: from_micros(self.created_at),
            updated_at: from_micros(self.updated_at),
            delivered_at: self.delivered_at.map(from_micros),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// fan-out

/// What fan-out knows about an event when it chooses destinations.
#[derive(Debug, Clone, PartialEq)]
pub struct EventFacts<'a> {
    pub kind: &'a str,
    pub severity: Option<&'a str>,
    /// The revision's TLP label; `None` (no label) is distributed as WHITE (CSAF 7.1.4).
    pub tlp: Option<Tlp>,
    /// The organization that published the advisory (the manufacturer).
    pub publisher_org_id: Option<&'a str>,
    /// Catalog product ids (`products.id`) the advisory names.
    pub product_ids: &'a [String],
    /// Lower-case product families the advisory names.
    pub families: &'a [String],
}

impl EventFacts<'_> {
    fn critical(&self) -> bool {
        self.severity
            .is_some_and(|s| s.eq_ignore_ascii_case("critical"))
    }
}

/// What fan-out knows about one destination's organization for one event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recipient<'a> {
    /// The entitlement rule's answer for the destination's organization and this event's label
    /// ([`crate::entitlement::may_read_as`], the same rule lists, pages and the CSAF tree apply).
    pub entitled: bool,
    /// Product ids of the organization's installed base; `None` when it has none.
    pub installed_base: Option<&'a BTreeSet<String>>,
    /// The destination's subscription (the default when it has none stored).
    pub subscription: &'a Subscription,
}

/// Why an event is kept from a destination; written to the audit log (`delivery.withheld`, one
/// entry per event and reason) so that "why was this customer not told" has an answer. A
/// destination's own severity threshold and a disabled destination are not recorded: those are
/// plain settings, not decisions about the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Withheld {
    /// TLP:RED: for the named recipients only; Herald never pushes it to any channel.
    TlpRed,
    /// TLP:AMBER or TLP:GREEN and the organization may not read it (not a customer, product not
    /// in its installed base, no grant): the entitlement rule of [`crate::entitlement::visible_to`].
    TlpRestricted,
    /// The organization has an installed base and the advisory names none of its products.
    NotInstalled,
    /// The destination's subscription excludes this notice kind or these products.
    NotSubscribed,
    /// The destination opted out of routine notices (and this one is not a critical notice for
    /// a security contact).
    RoutineOptOut,
}

impl Withheld {
    pub fn reason(self) -> &'static str {
        match self {
            Withheld::TlpRed => "TLP:RED advisories are never sent through notification channels",
            Withheld::TlpRestricted => {
                "TLP:AMBER/GREEN: the organization is not entitled to this advisory (customer, installed base or grant)"
            }
            Withheld::NotInstalled => {
                "the advisory names no product of the organization's installed base"
            }
            Withheld::NotSubscribed => {
                "the destination's subscription excludes this notice kind or these products"
            }
            Withheld::RoutineOptOut => "the destination opted out of routine notices",
        }
    }

    /// Stable machine-readable code (audit detail `code`).
    pub fn code(self) -> &'static str {
        match self {
            Withheld::TlpRed => "tlp_red",
            Withheld::TlpRestricted => "not_entitled",
            Withheld::NotInstalled => "not_installed",
            Withheld::NotSubscribed => "not_subscribed",
            Withheld::RoutineOptOut => "routine_opt_out",
        }
    }
}

/// The sharing policy: may this destination's organization receive the event at all?
///
/// | label             | who may receive it                                                  |
/// |-------------------|---------------------------------------------------------------------|
/// | RED               | nobody ([`Withheld::TlpRed`])                                       |
/// | AMBER, GREEN      | organizations the entitlement rule lets read it ([`Recipient::entitled`]) |
/// | WHITE or no label | every destination                                                   |
pub fn sharing_restriction(
    _destination: &Destination,
    facts: &EventFacts<'_>,
    recipient: &Recipient<'_>,
) -> Option<Withheld> {
    match facts.tlp {
        Some(Tlp::Red) => Some(Withheld::TlpRed),
        _ if !recipient.entitled => Some(Withheld::TlpRestricted),
        _ => None,
    }
}

/// Does the event concern this destination? In order:
/// 1. an organization with an installed base hears only of advisories naming one of its
///    products ([`Withheld::NotInstalled`]);
/// 2. an end-of-support reminder reaches only an organization with an installed base (which
///    names the product, by 1.) or a subscription naming the product or its family;
/// 3. a critical notice always reaches a security-contact destination;
/// 4. otherwise routine opt-out, the subscribed notice kinds, and the subscribed products or
///    families (an advisory matches when it names one of them).
pub fn subscription_restriction(
    _destination: &Destination,
    facts: &EventFacts<'_>,
    recipient: &Recipient<'_>,
) -> Option<Withheld> {
    if let Some(installed) = recipient.installed_base
        && !facts.product_ids.iter().any(|p| installed.contains(p))
    {
        return Some(Withheld::NotInstalled);
    }
    let s = recipient.subscription;
    // An end-of-support reminder concerns those who run the product: an installed base naming
    // it (checked above) or a subscription naming it, never "everything I may read".
    if facts.kind == crate::reminders::EVENT_END_OF_SUPPORT
        && recipient.installed_base.is_none()
        && !(s.filters_products()
            && (facts.product_ids.iter().any(|p| s.product_ids.contains(p))
                || facts.families.iter().any(|f| s.families.contains(f))))
    {
        return Some(Withheld::NotInstalled);
    }
    if s.security_contact && facts.critical() {
        return None;
    }
    if s.routine_opt_out {
        return Some(Withheld::RoutineOptOut);
    }
    if !s.event_kinds.is_empty() && !s.event_kinds.iter().any(|k| k == facts.kind) {
        return Some(Withheld::NotSubscribed);
    }
    if s.filters_products() {
        let by_product = facts.product_ids.iter().any(|p| s.product_ids.contains(p));
        let by_family = facts.families.iter().any(|f| s.families.contains(f));
        if !by_product && !by_family {
            return Some(Withheld::NotSubscribed);
        }
    }
    None
}

/// Why `destination` does not get the event, if a recorded reason applies: the sharing policy
/// first, then the subscription.
pub fn withheld_reason(
    destination: &Destination,
    facts: &EventFacts<'_>,
    recipient: &Recipient<'_>,
) -> Option<Withheld> {
    sharing_restriction(destination, facts, recipient)
        .or_else(|| subscription_restriction(destination, facts, recipient))
}

/// Does `destination` want (and may it receive) this event? [`withheld_reason`] first; then
/// disabled destinations never do; then the severity threshold. An advisory without a severity
/// passes every threshold: nothing proves it is below it, and missing a notice is the worse
/// mistake.
pub fn destination_matches(
    destination: &Destination,
    facts: &EventFacts<'_>,
    recipient: &Recipient<'_>,
) -> bool {
    if withheld_reason(destination, facts, recipient).is_some() {
        return false;
    }
    if !destination.enabled {
        return false;
    }
    match (
        destination.min_severity.as_deref().and_then(severity_rank),
        facts.severity.and_then(severity_rank),
    ) {
        (Some(min), Some(sev)) => sev >= min,
        _ => true,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FanOutReport {
    pub events: usize,
    pub deliveries: usize,
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = Text)]
    id: String,
}

/// Deliveries one fan-out `INSERT` carries: 16 columns each, well under SQLite's 32,766 and
/// PostgreSQL's 65,535 bound parameters per statement.
const FAN_OUT_ROWS_PER_INSERT: usize = 500;

/// For up to `limit` events not yet fanned out (oldest first): one queued delivery per enabled,
/// matching destination, and the event marked as fanned out, all in one transaction. Running it
/// twice, or on two nodes at once, never creates a second delivery for an (event, destination)
/// pair: the event rows are locked (PostgreSQL) or the transaction is exclusive (SQLite), and a
/// unique constraint backs both.
pub fn fan_out_pending(conn: &mut DbConnection, limit: i64) -> Result<FanOutReport, StorageError> {
    let limit = limit.clamp(1, 10_000);
    write_transaction(conn, |conn| {
        let sql = "SELECT id FROM outbox_events WHERE fanned_out_at IS NULL ORDER BY created_at, id LIMIT $1";
        let ids: Vec<IdRow> = match conn {
            // FOR UPDATE without SKIP LOCKED: concurrent fan-outs queue behind each other, so
            // deliveries are created in event order (a second fan-out skipping ahead could queue
            // a newer event's deliveries before an older one's exist).
            DbConnection::Postgres(c) => diesel::sql_query(format!("{sql} FOR UPDATE"))
                .bind::<BigInt, _>(limit)
                .load(c)?,
            DbConnection::Sqlite(c) => diesel::sql_query(sql.replace('$', "?"))
                .bind::<BigInt, _>(limit)
                .load(c)?,
        };
        let mut report = FanOutReport::default();
        if ids.is_empty() {
            return Ok(report);
        }
        let ids: Vec<String> = ids.into_iter().map(|r| r.id).collect();
        let events: Vec<EventRow> = outbox_events::table
            .filter(outbox_events::id.eq_any(&ids))
            .filter(outbox_events::fanned_out_at.is_null())
            .select(EventRow::as_select())
            .order((outbox_events::created_at.asc(), outbox_events::id.asc()))
            .load(conn)?;
        let all_destinations: Vec<Destination> = destinations::table
            .filter(destinations::enabled.eq(true))
            .select(DestinationRow::as_select())
            .load(conn)?
            .into_iter()
            .map(DestinationRow::into_model)
            .collect::<Result<_, _>>()?;
        // Who the destinations' organizations are, what they run and what each destination
        // subscribed to: read once per batch.
        let org_kinds: HashMap<String, OrgKind> = organizations::table
            .select((organizations::id, organizations::kind))
            .load::<(String, String)>(conn)?
            .into_iter()
            .map(|(id, kind)| Ok((id, kind.parse()?)))
            .collect::<Result<_, StorageError>>()?;
        let installed = crate::installed_base::installed_product_ids(conn)?;
        let subscriptions = crate::subscriptions::all_subscriptions(conn)?;
        let default_subscription = Subscription::default();
        let at = to_micros(now());
        for event in events {
            let summary = match &event.revision_id {
                Some(rev) => Some(crate::advisories::revision_summary(conn, rev)?),
                None => None,
            };
            let publisher: Option<String> = match &event.advisory_id {
                Some(a) => advisories::table
                    .find(a)
                    .select(advisories::publisher_org_id)
                    .first(conn)
                    .optional()?,
                None => None,
            };
            let product_ids = match &event.advisory_id {
                Some(a) => crate::entitlement::advisory_product_ids(conn, a)?,
                None => Vec::new(),
            };
            let mut families: Vec<String> = summary
                .iter()
                .flat_map(|s| s.products.iter().filter_map(|p| p.family.as_deref()))
                .map(|f| f.trim().to_lowercase())
                .collect();
            families.sort();
            families.dedup();
            let facts = EventFacts {
                kind: &event.kind,
                severity: summary.as_ref().and_then(|s| s.severity.as_deref()),
                tlp: summary.as_ref().and_then(|s| s.tlp),
                publisher_org_id: publisher.as_deref(),
                product_ids: &product_ids,
                families: &families,
            };
            // Only advisory events are delivered today; others are marked and skipped.
            if let Some(advisory_id) = &event.advisory_id {
                // The entitlement rule, once per organization: judged by the label of the
                // revision this event announces (no label is WHITE).
                let label = summary.as_ref().map(|s| s.tlp.unwrap_or(Tlp::White));
                let mut entitled: HashMap<&str, bool> = HashMap::new();
                for d in &all_destinations {
                    if entitled.contains_key(d.org_id.as_str()) {
                        continue;
                    }
                    let reader = match org_kinds.get(&d.org_id) {
                        Some(kind) => Reader::of(*kind, d.org_id.clone()),
                        None => Reader::Anonymous,
                    };
                    let ok = crate::entitlement::may_read_as(conn, &reader, advisory_id, label)?;
                    entitled.insert(d.org_id.as_str(), ok);
                }
                let recipient = |d: &Destination| Recipient {
                    entitled: entitled.get(d.org_id.as_str()).copied().unwrap_or(false),
                    installed_base: installed.get(&d.org_id),
                    subscription: subscriptions.get(&d.id).unwrap_or(&default_subscription),
                };
                let withheld: Vec<(Withheld, &str)> = all_destinations
                    .iter()
                    .filter_map(|d| {
                        withheld_reason(d, &facts, &recipient(d)).map(|r| (r, d.id.as_str()))
                    })
                    .collect();
                record_withheld(conn, &event, summary.as_ref(), &facts, &withheld)?;
                // Normally none: an event is marked fanned out in the transaction that creates
                // its deliveries. Should some exist anyway (an outbox replayed by hand), only
                // the missing ones are added instead of the unique (event, destination)
                // constraint failing this fan-out, and every later one, for good. One probe of
                // that constraint's index per event, not one query per destination.
                let reached: BTreeSet<String> = deliveries::table
                    .filter(deliveries::event_id.eq(&event.id))
                    .select(deliveries::destination_id)
                    .load::<String>(conn)?
                    .into_iter()
                    .collect();
                let rows: Vec<DeliveryRow> = all_destinations
                    .iter()
                    .filter(|d| destination_matches(d, &facts, &recipient(d)))
                    .filter(|d| !reached.contains(&d.id))
                    .map(|dest| DeliveryRow {
                        id: new_id(),
                        event_id: event.id.clone(),
                        destination_id: dest.id.clone(),
                        advisory_id: event.advisory_id.clone(),
                        event_at: event.created_at,
                        status: DeliveryStatus::Queued.as_str().to_string(),
                        attempts: 0,
                        replay_base: 0,
                        next_attempt_at: at,
                        lease_owner: None,
                        lease_until: None,
                        receipt: None,
                        last_error: None,
                        created_at: at,
                        updated_at: at,
                        delivered_at: None,
                    })
                    .collect();
                // Many rows per statement (a round trip per row was most of a large fan-out's
                // time on PostgreSQL), within both backends' limits on bound parameters.
                // (Per backend: diesel's multi-row insert is not available through the
                // multi-backend connection.)
                for chunk in rows.chunks(FAN_OUT_ROWS_PER_INSERT) {
                    let insert = diesel::insert_into(deliveries::table).values(chunk);
                    match conn {
                        DbConnection::Sqlite(c) => insert.execute(c)?,
                        DbConnection::Postgres(c) => insert.execute(c)?,
                    };
                }
                report.deliveries += rows.len();
            }
            diesel::update(outbox_events::table.find(&event.id))
                .set(outbox_events::fanned_out_at.eq(Some(at)))
                .execute(conn)?;
            report.events += 1;
        }
        Ok(report)
    })
}

/// One audit entry (`delivery.withheld`, subject `event:<id>`) per event and reason that keeps
/// it from at least one enabled destination, naming the reason and the destinations, in the
/// fan-out transaction.
fn record_withheld(
    conn: &mut DbConnection,
    event: &EventRow,
    summary: Option<&AdvisorySummary>,
    facts: &EventFacts<'_>,
    withheld: &[(Withheld, &str)],
) -> Result<(), StorageError> {
    let mut by_reason: BTreeMap<Withheld, Vec<&str>> = BTreeMap::new();
    for (reason, destination) in withheld {
        by_reason.entry(*reason).or_default().push(destination);
    }
    for (reason, destinations) in by_reason {
        append_audit(
            conn,
            "system",
            "delivery.withheld",
            &format!("event:{}", event.id),
            &serde_json::json!({
                "reason": reason.reason(),
                "code": reason.code(),
                "tlp": facts.tlp.map(tlp_str),
                "tracking_id": summary.map(|s| s.tracking_id.as_str()),
                "version": summary.map(|s| s.version.as_str()),
                "advisory_id": event.advisory_id,
                "destinations": destinations,
            }),
        )?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// claiming

/// A claimed delivery with everything needed to build its notification.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedDelivery {
    pub delivery: Delivery,
    pub destination: Destination,
    pub event: OutboxEvent,
    /// Summary of the event's revision.
    pub summary: Option<AdvisorySummary>,
    pub tracking_id: Option<String>,
    /// The advisory's current distribution path (below `/.well-known/csaf/`).
    pub path: Option<String>,
    /// Receipt of the last delivered delivery of the same advisory to the same destination.
    pub previous_receipt: Option<serde_json::Value>,
}

#[derive(QueryableByName)]
struct CandidateRow {
    #[diesel(sql_type = Text)]
    id: String,
}

// Driven by destinations, not by the queue: each destination's head (its oldest open delivery,
// one probe of the partial index `deliveries_open`) is the only candidate it can offer, so a
// claim costs one index probe per destination whatever the backlog. Scanning the open
// deliveries instead cost a read of every queued row per round, and a destination whose head
// waits on a retry can hold any number behind it.
const CLAIM_SQL: &str = "SELECT d.id FROM destinations x \
     JOIN deliveries d ON d.id = (SELECT o.id FROM deliveries o \
         WHERE o.destination_id = x.id AND o.status IN ('queued', 'in_flight') \
         ORDER BY o.event_at, o.event_id LIMIT 1) \
     WHERE (d.status = 'queued' AND d.next_attempt_at <= $1) \
        OR (d.status = 'in_flight' AND d.lease_until < $1) \
     ORDER BY d.event_at, d.event_id \
     LIMIT $2";

/// Claims up to `limit` due deliveries for `worker` for `lease`: queued ones whose time has come
/// and in-flight ones whose lease expired, only the oldest open one per destination. Each claim
/// counts as an attempt (`attempts` + 1), so a crash still uses up retry budget.
pub fn claim_due(
    conn: &mut DbConnection,
    worker: &str,
    limit: i64,
    lease: chrono::Duration,
) -> Result<Vec<ClaimedDelivery>, StorageError> {
    claim_due_except(conn, worker, limit, lease, &[])
}

/// [`claim_due`], skipping deliveries to the destinations in `paused` (the engine's circuit
/// breaker): they stay queued, untouched, and keep their retry budget.
pub fn claim_due_except(
    conn: &mut DbConnection,
    worker: &str,
    limit: i64,
    lease: chrono::Duration,
    paused: &[String],
) -> Result<Vec<ClaimedDelivery>, StorageError> {
    if worker.trim().is_empty() {
        return Err(StorageError::Invalid("worker id is empty".into()));
    }
    if lease <= chrono::Duration::zero() {
        return Err(StorageError::Invalid("lease must be positive".into()));
    }
    let limit = limit.clamp(1, 1000);
    // Only the oldest open delivery of a destination is ever a candidate, so each paused
    // destination takes at most one candidate slot: ask for that many more and drop them.
    let wanted = usize::try_from(limit).unwrap_or(1000);
    let query_limit = limit.saturating_add(i64::try_from(paused.len()).unwrap_or(i64::MAX));
    let mut context = ClaimContext::default();
    let claimed: Vec<DeliveryRow> = write_transaction(conn, |conn| {
        let at = to_micros(now());
        let ids: Vec<CandidateRow> = match conn {
            DbConnection::Postgres(c) => {
                diesel::sql_query(format!("{CLAIM_SQL} FOR UPDATE OF d SKIP LOCKED"))
                    .bind::<BigInt, _>(at)
                    .bind::<BigInt, _>(query_limit)
                    .load(c)?
            }
            // CROSS JOIN fixes SQLite's join order (destinations outside): for some LIMIT
            // values its planner drove the join from the due deliveries instead (a MULTI-INDEX
            // OR over `deliveries_due`) and ran the per-destination head subquery for every due
            // delivery times every destination: 250 ms instead of 1 ms with 2,000 queued and
            // 100 destinations, seen once claims came in sizes other than the full batch.
            DbConnection::Sqlite(c) => diesel::sql_query(
                CLAIM_SQL
                    .replace("JOIN deliveries d ON", "CROSS JOIN deliveries d ON")
                    .replace('$', "?"),
            )
            .bind::<BigInt, _>(at)
            .bind::<BigInt, _>(query_limit)
            .load(c)?,
        };
        let mut ids: Vec<String> = ids.into_iter().map(|r| r.id).collect();
        if !paused.is_empty() && !ids.is_empty() {
            let skip: Vec<String> = deliveries::table
                .filter(deliveries::id.eq_any(&ids))
                .filter(deliveries::destination_id.eq_any(paused))
                .select(deliveries::id)
                .load(conn)?;
            ids.retain(|id| !skip.contains(id));
        }
        ids.truncate(wanted);
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let candidates: Vec<DeliveryRow> = deliveries::table
            .filter(deliveries::id.eq_any(&ids))
            .select(DeliveryRow::as_select())
            .load(conn)?;
        let until = to_micros(now() + lease);
        for row in candidates
            .iter()
            .filter(|r| r.status == DeliveryStatus::InFlight.as_str())
        {
            // The previous holder's lease ran out: its attempt is lost; say so.
            diesel::insert_into(delivery_attempts::table)
                .values((
                    delivery_attempts::id.eq(new_id()),
                    delivery_attempts::delivery_id.eq(&row.id),
                    delivery_attempts::number.eq(row.attempts),
                    delivery_attempts::worker.eq(row.lease_owner.clone().unwrap_or_default()),
                    delivery_attempts::started_at.eq(row.updated_at),
                    delivery_attempts::duration_ms.eq((at - row.updated_at) / 1000),
                    delivery_attempts::outcome.eq(AttemptOutcome::Abandoned.as_str()),
                    delivery_attempts::receipt.eq(None::<String>),
                    delivery_attempts::error.eq(Some(format!(
                        "lease of worker {} expired before it recorded a result",
                        row.lease_owner.as_deref().unwrap_or("?")
                    ))),
                ))
                .execute(conn)?;
        }
        // Entitlement at send time: the organization may have lost the advisory (a grant
        // withdrawn, a customer relation ended, the product left its installed base) since
        // fan-out, and a retry or a replay must not send it anyway.
        let mut before = Vec::with_capacity(candidates.len());
        for row in candidates {
            match context.send_time_restriction(conn, &row)? {
                None => before.push(row),
                Some(reason) => withhold(conn, &row, reason, at)?,
            }
        }
        if before.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = before.iter().map(|r| r.id.as_str()).collect();
        // One statement for the whole claim (a round trip per row made claiming the slowest
        // part of a round on PostgreSQL).
        diesel::update(deliveries::table.filter(deliveries::id.eq_any(&ids)))
            .set((
                deliveries::status.eq(DeliveryStatus::InFlight.as_str()),
                deliveries::attempts.eq(deliveries::attempts + 1),
                deliveries::lease_owner.eq(worker),
                deliveries::lease_until.eq(until),
                deliveries::updated_at.eq(at),
            ))
            .execute(conn)?;
        let mut out = before;
        for row in &mut out {
            row.status = DeliveryStatus::InFlight.as_str().to_string();
            row.attempts += 1;
            row.lease_owner = Some(worker.to_string());
            row.lease_until = Some(until);
            row.updated_at = at;
        }
        // Claim order (event order), which the engine and the tests rely on.
        out.sort_by(|a, b| (a.event_at, &a.event_id).cmp(&(b.event_at, &b.event_id)));
        Ok(out)
    })?;
    claimed
        .into_iter()
        .map(|row| context.claimed(conn, row))
        .collect()
}

/// What the deliveries of one claim share: a round usually holds one event's deliveries to many
/// destinations, so its event, revision summary and advisory are read once, not per delivery.
#[derive(Default)]
struct ClaimContext {
    events: HashMap<String, OutboxEvent>,
    summaries: HashMap<String, AdvisorySummary>,
    advisories: HashMap<String, (String, String)>,
    /// Destination id -> its organization's reader (entitlement at send time).
    readers: HashMap<String, Reader>,
    /// (organization, advisory) -> may it read the advisory under the event's label.
    entitled: HashMap<(String, String), bool>,
}

impl ClaimContext {
    fn event(&mut self, conn: &mut DbConnection, id: &str) -> Result<OutboxEvent, StorageError> {
        if let Some(e) = self.events.get(id) {
            return Ok(e.clone());
        }
        let e = outbox_events::table
            .find(id)
            .select(EventRow::as_select())
            .first(conn)?
            .into_model()?;
        self.events.insert(id.to_string(), e.clone());
        Ok(e)
    }

    fn summary(
        &mut self,
        conn: &mut DbConnection,
        revision_id: &str,
    ) -> Result<AdvisorySummary, StorageError> {
        if let Some(s) = self.summaries.get(revision_id) {
            return Ok(s.clone());
        }
        let s = crate::advisories::revision_summary(conn, revision_id)?;
        self.summaries.insert(revision_id.to_string(), s.clone());
        Ok(s)
    }

    /// Why `row` must not be sent now, if a reason applies: the sharing policy of
    /// [`sharing_restriction`] judged again, with the entitlement rule as it stands at this
    /// claim. A WHITE advisory (the common case) costs no query beyond the cached summary.
    fn send_time_restriction(
        &mut self,
        conn: &mut DbConnection,
        row: &DeliveryRow,
    ) -> Result<Option<Withheld>, StorageError> {
        let Some(advisory_id) = &row.advisory_id else {
            return Ok(None);
        };
        let event = self.event(conn, &row.event_id)?;
        let Some(revision) = &event.revision_id else {
            return Ok(None);
        };
        let label = self.summary(conn, revision)?.tlp.unwrap_or(Tlp::White);
        match label {
            Tlp::Red => return Ok(Some(Withheld::TlpRed)),
            Tlp::White => return Ok(None),
            Tlp::Green | Tlp::Amber => {}
        }
        let reader = match self.readers.get(&row.destination_id) {
            Some(r) => r.clone(),
            None => {
                let org: String = destinations::table
                    .find(&row.destination_id)
                    .select(destinations::org_id)
                    .first(conn)?;
                let r = Reader::for_org(conn, &org)?;
                self.readers.insert(row.destination_id.clone(), r.clone());
                r
            }
        };
        let key = (
            reader.org_id().unwrap_or_default().to_string(),
            advisory_id.clone(),
        );
        let ok = match self.entitled.get(&key) {
            Some(ok) => *ok,
            None => {
                let ok = crate::entitlement::may_read_as(conn, &reader, advisory_id, Some(label))?;
                self.entitled.insert(key, ok);
                ok
            }
        };
        Ok((!ok).then_some(Withheld::TlpRestricted))
    }

    fn claimed(
        &mut self,
        conn: &mut DbConnection,
        row: DeliveryRow,
    ) -> Result<ClaimedDelivery, StorageError> {
        let event = self.event(conn, &row.event_id)?;
        let destination = destinations::table
            .find(&row.destination_id)
            .select(DestinationRow::as_select())
            .first(conn)?
            .into_model()?;
        let summary = match &event.revision_id {
            Some(rev) => Some(self.summary(conn, rev)?),
            None => None,
        };
        let (tracking_id, path) = match &row.advisory_id {
            Some(a) => {
                let (t, p) = match self.advisories.get(a) {
                    Some(tp) => tp.clone(),
                    None => {
                        let tp: (String, String) = advisories::table
                            .find(a)
                            .select((advisories::tracking_id, advisories::path))
                            .first(conn)?;
                        self.advisories.insert(a.clone(), tp.clone());
                        tp
                    }
                };
                (Some(t), Some(p))
            }
            None => (None, None),
        };
        let previous_receipt = match &row.advisory_id {
            Some(a) => previous_receipt(conn, a, &row.destination_id, &row.id)?,
            None => None,
        };
        Ok(ClaimedDelivery {
            delivery: row.into_model()?,
            destination,
            event,
            summary,
            tracking_id,
            path,
            previous_receipt,
        })
    }
}

/// Ends a claimed candidate as `withheld` instead of sending it: the row leaves the queue (its
/// destination's next delivery may go), and the audit log says why (`delivery.withheld`,
/// subject `delivery:<id>`), in the claim's transaction. An expired lease of another worker
/// on it was already recorded as abandoned by the caller.
fn withhold(
    conn: &mut DbConnection,
    row: &DeliveryRow,
    reason: Withheld,
    at: i64,
) -> Result<(), StorageError> {
    diesel::update(deliveries::table.find(&row.id))
        .set((
            deliveries::status.eq(DeliveryStatus::Withheld.as_str()),
            deliveries::lease_owner.eq(None::<String>),
            deliveries::lease_until.eq(None::<i64>),
            deliveries::last_error.eq(Some(format!("withheld: {}", reason.reason()))),
            deliveries::updated_at.eq(at),
        ))
        .execute(conn)?;
    append_audit(
        conn,
        "system",
        "delivery.withheld",
        &format!("delivery:{}", row.id),
        &serde_json::json!({
            "reason": reason.reason(),
            "code": reason.code(),
            "when": "send_time",
            "destination_id": row.destination_id,
            "advisory_id": row.advisory_id,
            "event_id": row.event_id,
            "attempts": row.attempts,
        }),
    )?;
    Ok(())
}

/// Extends `worker`'s leases on the deliveries in `ids` (its calls still running) to `lease`
/// from now, in one statement: the engine's heartbeat, so that a lease can be short (a crashed
/// worker's deliveries are taken over within it) while a live call of any length keeps its own.
/// Returns how many leases were renewed: fewer than asked means some were lost (the worker
/// stalled past one and another took the delivery over; its result will not be recorded).
pub fn renew_leases(
    conn: &mut DbConnection,
    worker: &str,
    ids: &[String],
    lease: chrono::Duration,
) -> Result<usize, StorageError> {
    if ids.is_empty() {
        return Ok(0);
    }
    if lease <= chrono::Duration::zero() {
        return Err(StorageError::Invalid("lease must be positive".into()));
    }
    let at = now();
    let mut renewed = 0;
    for chunk in ids.chunks(1000) {
        renewed += diesel::update(
            deliveries::table
                .filter(deliveries::id.eq_any(chunk))
                .filter(deliveries::status.eq(DeliveryStatus::InFlight.as_str()))
                .filter(deliveries::lease_owner.eq(worker))
                // A lease already run out stays lost: another worker may have the row in its
                // claim at this moment, and the delivery is never sent by two at once.
                .filter(deliveries::lease_until.ge(to_micros(at))),
        )
        .set(deliveries::lease_until.eq(to_micros(at + lease)))
        .execute(conn)?;
    }
    Ok(renewed)
}

/// Receipt of the most recent delivered delivery of `advisory_id` to `destination_id` other
/// than `except`.
pub fn previous_receipt(
    conn: &mut DbConnection,
    advisory_id: &str,
    destination_id: &str,
    except: &str,
) -> Result<Option<serde_json::Value>, StorageError> {
    let receipt: Option<Option<String>> = deliveries::table
        .filter(deliveries::advisory_id.eq(advisory_id))
        .filter(deliveries::destination_id.eq(destination_id))
        .filter(deliveries::status.eq(DeliveryStatus::Delivered.as_str()))
        .filter(deliveries::id.ne(except))
        .order((deliveries::delivered_at.desc(), deliveries::id.desc()))
        .select(deliveries::receipt)
        .first(conn)
        .optional()?;
    receipt
        .flatten()
        .map(|r| from_json("deliveries.receipt", &r))
        .transpose()
}

// ---------------------------------------------------------------------------------------------
// recording attempts

/// What happens to the delivery after an attempt (the engine decides).
#[derive(Debug, Clone, PartialEq)]
pub enum NextStep {
    Delivered { receipt: serde_json::Value },
    RetryAt(DateTime<Utc>),
    Failed,
    Dead,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AttemptReport<'a> {
    pub delivery_id: &'a str,
    pub worker: &'a str,
    /// The claim's attempt number (`Delivery::attempts` as claimed).
    pub number: i32,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i64,
    pub outcome: AttemptOutcome,
    pub error: Option<String>,
    pub next: NextStep,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryAttempt {
    pub id: String,
    pub delivery_id: String,
    pub number: i32,
    pub worker: String,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i64,
    pub outcome: AttemptOutcome,
    pub receipt: Option<serde_json::Value>,
    pub error: Option<String>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = delivery_attempts)]
struct AttemptRow {
    id: String,
    delivery_id: String,
    number: i32,
    worker: String,
    started_at: i64,
    duration_ms: i64,
    outcome: String,
    receipt: Option<String>,
    error: Option<String>,
}

/// Records one attempt and moves the delivery on, in one transaction. The worker must still hold
/// the lease for this attempt number; otherwise [`StorageError::Conflict`] and nothing changes
/// (another worker has taken the delivery over and will record its own attempt).
///
/// An answer from the receiver (delivered, or refused for good) also closes the destination's
/// circuit breaker in the same transaction ([`crate::breaker`]): whatever failures any worker
/// stored before this attempt is recorded are reset with it, with no read beforehand that
/// could miss one.
pub fn record_attempt(
    conn: &mut DbConnection,
    report: &AttemptReport<'_>,
) -> Result<Delivery, StorageError> {
    let delivered = matches!(report.next, NextStep::Delivered { .. });
    if delivered != (report.outcome == AttemptOutcome::Delivered) {
        return Err(StorageError::Invalid(format!(
            "attempt outcome {} does not fit next step {:?}",
            report.outcome, report.next
        )));
    }
    if report.outcome == AttemptOutcome::Abandoned {
        return Err(StorageError::Invalid(
            "only a claim records abandoned attempts".into(),
        ));
    }
    let at = to_micros(now());
    let receipt_json = match &report.next {
        NextStep::Delivered { receipt } => Some(to_json(receipt)?),
        _ => None,
    };
    let (status, next_at) = match &report.next {
        NextStep::Delivered { .. } => (DeliveryStatus::Delivered, None),
        NextStep::RetryAt(t) => (DeliveryStatus::Queued, Some(to_micros(*t))),
        NextStep::Failed => (DeliveryStatus::Failed, None),
        NextStep::Dead => (DeliveryStatus::Dead, None),
    };
    write_transaction(conn, |conn| {
        let target = deliveries::table
            .filter(deliveries::id.eq(report.delivery_id))
            .filter(deliveries::status.eq(DeliveryStatus::InFlight.as_str()))
            .filter(deliveries::lease_owner.eq(report.worker))
            .filter(deliveries::attempts.eq(report.number));
        let common = (
            deliveries::status.eq(status.as_str()),
            deliveries::lease_owner.eq(None::<String>),
            deliveries::lease_until.eq(None::<i64>),
            deliveries::updated_at.eq(at),
            deliveries::last_error.eq(&report.error),
        );
        // One statement per outcome: each row version costs index entries on PostgreSQL.
        let n = match (next_at, &receipt_json) {
            (Some(t), _) => diesel::update(target)
                .set((common, deliveries::next_attempt_at.eq(t)))
                .execute(conn)?,
            (None, Some(r)) => diesel::update(target)
                .set((
                    common,
                    deliveries::receipt.eq(Some(r)),
                    deliveries::delivered_at.eq(Some(at)),
                ))
                .execute(conn)?,
            (None, None) => diesel::update(target).set(common).execute(conn)?,
        };
        if n == 0 {
            return Err(StorageError::Conflict(format!(
                "worker {} no longer holds the lease on delivery {} attempt {}",
                report.worker, report.delivery_id, report.number
            )));
        }
        diesel::insert_into(delivery_attempts::table)
            .values((
                delivery_attempts::id.eq(new_id()),
                delivery_attempts::delivery_id.eq(report.delivery_id),
                delivery_attempts::number.eq(report.number),
                delivery_attempts::worker.eq(report.worker),
                delivery_attempts::started_at.eq(to_micros(report.started_at)),
                delivery_attempts::duration_ms.eq(report.duration_ms),
                delivery_attempts::outcome.eq(report.outcome.as_str()),
                delivery_attempts::receipt.eq(&receipt_json),
                delivery_attempts::error.eq(&report.error),
            ))
            .execute(conn)?;
        let delivery = deliveries::table
            .find(report.delivery_id)
            .select(DeliveryRow::as_select())
            .first(conn)?
            .into_model()?;
        if report.outcome.is_answer() {
            crate::breaker::close_breaker(conn, &delivery.destination_id)?;
        }
        // The failure episode, for escalation: any attempt that did not deliver (the receiver
        // down, refusing, or the destination misconfigured) keeps it going; a delivery ends it.
        if report.outcome == AttemptOutcome::Delivered {
            crate::outages::end_outage(conn, &delivery.destination_id)?;
        } else {
            crate::outages::note_failure(
                conn,
                &delivery.destination_id,
                at,
                report.error.as_deref(),
            )?;
        }
        Ok(delivery)
    })
}

// ---------------------------------------------------------------------------------------------
// replay and reading

/// Requeues a `failed` or `dead` delivery for now, with a fresh retry budget.
pub fn replay_delivery(
    conn: &mut DbConnection,
    delivery_id: &str,
    actor: &str,
) -> Result<Delivery, StorageError> {
    write_transaction(conn, |conn| {
        let row: DeliveryRow = deliveries::table
            .find(delivery_id)
            .select(DeliveryRow::as_select())
            .first(conn)?;
        if row.status != DeliveryStatus::Failed.as_str()
            && row.status != DeliveryStatus::Dead.as_str()
        {
            return Err(StorageError::Conflict(format!(
                "delivery {delivery_id} is {}; only failed or dead deliveries are replayed",
                row.status
            )));
        }
        let at = to_micros(now());
        diesel::update(deliveries::table.find(delivery_id))
            .set((
                deliveries::status.eq(DeliveryStatus::Queued.as_str()),
                deliveries::replay_base.eq(row.attempts),
                deliveries::next_attempt_at.eq(at),
                deliveries::updated_at.eq(at),
            ))
            .execute(conn)?;
        append_audit(
            conn,
            actor,
            "delivery.replay",
            &format!("delivery:{delivery_id}"),
            &serde_json::json!({ "previous_status": row.status, "attempts": row.attempts, "last_error": row.last_error }),
        )?;
        deliveries::table
            .find(delivery_id)
            .select(DeliveryRow::as_select())
            .first(conn)?
            .into_model()
    })
}

/// Replays every failed or dead delivery of one destination; returns how many.
pub fn replay_dead_letters(
    conn: &mut DbConnection,
    destination_id: &str,
    actor: &str,
) -> Result<usize, StorageError> {
    let ids: Vec<String> = deliveries::table
        .filter(deliveries::destination_id.eq(destination_id))
        .filter(deliveries::status.eq_any([
            DeliveryStatus::Failed.as_str(),
            DeliveryStatus::Dead.as_str(),
        ]))
        .select(deliveries::id)
        .load(conn)?;
    write_transaction(conn, |conn| {
        for id in &ids {
            replay_delivery(conn, id, actor)?;
        }
        Ok(ids.len())
    })
}

pub fn get_delivery(conn: &mut DbConnection, id: &str) -> Result<Option<Delivery>, StorageError> {
    deliveries::table
        .find(id)
        .select(DeliveryRow::as_select())
        .first(conn)
        .optional()?
        .map(DeliveryRow::into_model)
        .transpose()
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeliveryFilter {
    pub destination_id: Option<String>,
    pub advisory_id: Option<String>,
    pub event_id: Option<String>,
    pub status: Option<DeliveryStatus>,
}

/// Deliveries in event order.
pub fn list_deliveries(
    conn: &mut DbConnection,
    filter: &DeliveryFilter,
) -> Result<Vec<Delivery>, StorageError> {
    filtered_deliveries(filter, None)
        .select(DeliveryRow::as_select())
        .load(conn)?
        .into_iter()
        .map(DeliveryRow::into_model)
        .collect()
}

/// One page of [`list_deliveries`]: `limit` (1 to 1000) from `offset`, only deliveries to
/// `org_id`'s destinations when it is given. The database does the paging, so a long delivery
/// history costs one page per request.
pub fn list_deliveries_page(
    conn: &mut DbConnection,
    filter: &DeliveryFilter,
    org_id: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<Vec<Delivery>, StorageError> {
    filtered_deliveries(filter, org_id)
        .select(DeliveryRow::as_select())
        .limit(limit.clamp(1, 1000))
        .offset(offset.max(0))
        .load(conn)?
        .into_iter()
        .map(DeliveryRow::into_model)
        .collect()
}

fn filtered_deliveries(
    filter: &DeliveryFilter,
    org_id: Option<&str>,
) -> deliveries::BoxedQuery<'static, crate::MultiBackend> {
    let mut q = deliveries::table.into_boxed();
    if let Some(org) = org_id {
        q = q.filter(
            deliveries::destination_id.eq_any(
                destinations::table
                    .filter(destinations::org_id.eq(org.to_string()))
                    .select(destinations::id),
            ),
        );
    }
    if let Some(d) = &filter.destination_id {
        q = q.filter(deliveries::destination_id.eq(d.clone()));
    }
    if let Some(a) = &filter.advisory_id {
        q = q.filter(deliveries::advisory_id.eq(a.clone()));
    }
    if let Some(e) = &filter.event_id {
        q = q.filter(deliveries::event_id.eq(e.clone()));
    }
    if let Some(s) = filter.status {
        q = q.filter(deliveries::status.eq(s.as_str()));
    }
    q.order((
        deliveries::event_at.asc(),
        deliveries::event_id.asc(),
        deliveries::destination_id.asc(),
    ))
}

/// Attempts of one delivery, in order.
pub fn list_attempts(
    conn: &mut DbConnection,
    delivery_id: &str,
) -> Result<Vec<DeliveryAttempt>, StorageError> {
    delivery_attempts::table
        .filter(delivery_attempts::delivery_id.eq(delivery_id))
        .select(AttemptRow::as_select())
        .order(delivery_attempts::number.asc())
        .load(conn)?
        .into_iter()
        .map(|r| {
            Ok(DeliveryAttempt {
                outcome: r.outcome.parse().map_err(|_| {
                    StorageError::Corrupt(format!("delivery_attempts.outcome {:?}", r.outcome))
                })?,
                receipt: r
                    .receipt
                    .as_deref()
                    .map(|x| from_json("delivery_attempts.receipt", x))
                    .transpose()?,
                id: r.id,
                delivery_id: r.delivery_id,
                number: r.number,
                worker: r.worker,
                started_at: from_micros(r.started_at),
                duration_ms: r.duration_ms,
                error: r.error,
            })
        })
        .collect()
}

/// Events in creation order (for the audit view and tests).
pub fn list_events(
    conn: &mut DbConnection,
    advisory_id: Option<&str>,
) -> Result<Vec<OutboxEvent>, StorageError> {
    let mut q = outbox_events::table
        .select(EventRow::as_select())
        .into_boxed();
    if let Some(a) = advisory_id {
        q = q.filter(outbox_events::advisory_id.eq(a.to_string()));
    }
    q.order((outbox_events::created_at.asc(), outbox_events::id.asc()))
        .load(conn)?
        .into_iter()
        .map(EventRow::into_model)
        .collect()
}
