//! A destination's subscription (which notices it is sent) as use cases: the REST `PUT
//! /api/v1/subscriptions/{id}` and the portal's subscription form both call [`save`], so they
//! accept and refuse the same input. Whoever may see the destination sees its subscription; only
//! an admin of the destination's own organization changes it (the manufacturer sees a
//! hospital's, like its destinations, but does not steer them).

use herald_storage::{StorageError, destinations::Destination, subscriptions::Subscription};

use crate::error::ServiceError;
use crate::service::Principal;
use crate::state::AppState;

/// Fields of a subscription that storage names at the start of its messages.
const SUBSCRIPTION_FIELDS: [&str; 3] = ["product_ids", "families", "event_kinds"];

/// Checks and stores a destination's subscription. A refusal is
/// [`ServiceError::InvalidFields`] naming `product_ids`, `families`, `event_kinds` or
/// `subscription`.
fn store(
    conn: &mut herald_storage::DbConnection,
    destination_id: &str,
    subscription: &Subscription,
    actor: &str,
) -> Result<Subscription, ServiceError> {
    if let Some(k) = subscription
        .event_kinds
        .iter()
        .find(|k| !herald_storage::subscriptions::NOTICE_KINDS.contains(&k.trim()))
    {
        return Err(ServiceError::field(
            "event_kinds",
            format!(
                "{k:?} is not one of {}",
                herald_storage::subscriptions::NOTICE_KINDS.join(", ")
            ),
        ));
    }
    herald_storage::subscriptions::set_subscription(conn, destination_id, subscription, actor)
        .map_err(|e| match e {
            StorageError::Invalid(message) => {
                // Storage says which list is wrong as "field: problem"; keep that field's name.
                match message.split_once(": ") {
                    Some((field, rest)) if SUBSCRIPTION_FIELDS.contains(&field) => {
                        ServiceError::field(field, rest)
                    }
                    _ => ServiceError::field("subscription", message),
                }
            }
            other => other.into(),
        })
}

/// Replaces the subscription of a destination of the caller's own organization (its admins).
pub async fn save(
    state: &AppState,
    p: &Principal,
    destination_id: &str,
    subscription: Subscription,
) -> Result<(Destination, Subscription), ServiceError> {
    p.require_admin()?;
    let (p, id) = (p.clone(), destination_id.to_owned());
    state
        .db(move |conn| {
            let d = crate::service::destinations::visible(conn, &p, &id)?;
            if !p.can_edit_destinations_of(&d.org_id) {
                return Err(ServiceError::Refused(
                    "only an admin of the destination's organization changes its subscription"
                        .into(),
                ));
            }
            let s = store(conn, &d.id, &subscription, &p.actor())?;
            Ok((d, s))
        })
        .await
}

/// Every destination the caller sees (its organization's; the manufacturer: every
/// organization's) with its subscription.
pub async fn list(
    state: &AppState,
    p: &Principal,
) -> Result<Vec<(Destination, Subscription)>, ServiceError> {
    p.require_read()?;
    let org_filter = p.org_filter();
    state
        .db(move |conn| {
            let destinations =
                herald_storage::destinations::list_destinations(conn, org_filter.as_deref())?;
            let mut out = Vec::with_capacity(destinations.len());
            for d in destinations {
                let s = herald_storage::subscriptions::get_subscription(conn, &d.id)?;
                out.push((d, s));
            }
            Ok(out)
        })
        .await
}

/// One destination's subscription; a destination the caller may not see is not found.
pub async fn get(
    state: &AppState,
    p: &Principal,
    id: &str,
) -> Result<(Destination, Subscription), ServiceError> {
    p.require_read()?;
    let p = p.clone();
    let id = id.to_owned();
    state
        .db(move |conn| {
            let d = crate::service::destinations::visible(conn, &p, &id)?;
            let s = herald_storage::subscriptions::get_subscription(conn, &d.id)?;
            Ok((d, s))
        })
        .await
}
