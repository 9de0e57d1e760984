//! The manufacturer's customers and the grants it gives them: which hospitals are customers
//! (they may then read TLP:GREEN advisories, and TLP:AMBER ones for their confirmed installed
//! base) and which product's or advisory's restricted advisories a hospital may read beyond that.
//! The manufacturer's people and tokens read them; its admins change them. A hospital named by
//! id or slug that is not there, or not a hospital, is refused naming the field.

use herald_storage::StorageError;
use herald_storage::accounts::OrgKind;
use herald_storage::customers::{Customer, Grant, GrantTarget};

use crate::error::ServiceError;
use crate::service::Principal;
use crate::service::installed_base::find_org;
use crate::state::AppState;

type Result<T> = std::result::Result<T, ServiceError>;

/// The manufacturer `p` acts for: its people and read tokens to read, its admins to change.
fn manufacturer(p: &Principal, change: bool) -> Result<String> {
    if change {
        p.require_admin()?;
    } else {
        p.require_read()?;
    }
    if p.is_manufacturer() {
        Ok(p.org_id.clone())
    } else {
        Err(ServiceError::Forbidden)
    }
}

fn field_error(field: &'static str) -> impl Fn(StorageError) -> ServiceError {
    move |e| match e {
        StorageError::Invalid(message) => ServiceError::field(field, message),
        other => other.into(),
    }
}

/// Exactly one of two optional inputs, trimmed; the field named in the refusal is `first`.
fn one_of(
    first: (&str, Option<String>),
    second: (&str, Option<String>),
) -> Result<(Option<String>, Option<String>)> {
    let clean = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    match (clean(first.1), clean(second.1)) {
        (Some(_), Some(_)) | (None, None) => Err(ServiceError::field(
            first.0,
            format!("give exactly one of `{}` and `{}`", first.0, second.0),
        )),
        pair => Ok(pair),
    }
}

pub async fn list(state: &AppState, p: &Principal) -> Result<Vec<Customer>> {
    let maker = manufacturer(p, false)?;
    state
        .db(move |conn| Ok(herald_storage::customers::list_customers(conn, &maker)?))
        .await
}

/// Makes a hospital a customer: an existing hospital organization by `org` (id or slug), or one
/// by `name`, created when missing.
pub async fn add(
    state: &AppState,
    p: &Principal,
    org: Option<String>,
    name: Option<String>,
    reference: Option<String>,
) -> Result<Customer> {
    let maker = manufacturer(p, true)?;
    let (org, name) = one_of(("org", org), ("name", name))?;
    let actor = p.actor();
    state
        .db(move |conn| {
            let hospital = match (&org, &name) {
                (Some(o), _) => find_org(conn, o)?,
                (_, Some(n)) => {
                    herald_storage::accounts::ensure_organization(conn, OrgKind::Hospital, n)
                        .map_err(|e| match e {
                            StorageError::Conflict(m) => ServiceError::field("name", m),
                            other => field_error("name")(other),
                        })?
                }
                _ => return Err(ServiceError::NotFound),
            };
            if hospital.kind != OrgKind::Hospital {
                return Err(ServiceError::field(
                    "org",
                    format!("{} is a {}, not a hospital", hospital.slug, hospital.kind),
                ));
            }
            herald_storage::customers::add_customer(
                conn,
                &maker,
                &hospital.id,
                reference.as_deref(),
                &actor,
            )
            .map_err(field_error("reference"))
        })
        .await
}

/// Ends the customer relation with hospital `org` (id or slug).
pub async fn remove(state: &AppState, p: &Principal, org: &str) -> Result<()> {
    let maker = manufacturer(p, true)?;
    let (actor, org) = (p.actor(), org.to_owned());
    state
        .db(move |conn| {
            let hospital = find_org(conn, &org)?;
            Ok(herald_storage::customers::remove_customer(
                conn,
                &maker,
                &hospital.id,
                &actor,
            )?)
        })
        .await
}

/// A grant with the tracking id of the advisory it names, if it names one.
pub struct GrantInfo {
    pub grant: Grant,
    pub tracking_id: Option<String>,
}

fn info(conn: &mut herald_storage::DbConnection, grant: Grant) -> Result<GrantInfo> {
    let tracking_id = match &grant.target {
        GrantTarget::Product(_) => None,
        GrantTarget::Advisory(a) => herald_storage::entitlement::advisory_tracking_id(conn, a)?,
    };
    Ok(GrantInfo { grant, tracking_id })
}

/// The grants to hospital `org`.
pub async fn grants(state: &AppState, p: &Principal, org: &str) -> Result<Vec<GrantInfo>> {
    let maker = manufacturer(p, false)?;
    let org = org.to_owned();
    state
        .db(move |conn| {
            let hospital = find_org(conn, &org)?;
            herald_storage::customers::list_grants(conn, &maker, &hospital.id)?
                .into_iter()
                .map(|g| info(conn, g))
                .collect()
        })
        .await
}

/// Grants hospital `org` a product's advisories (`product_id`) or one advisory
/// (`tracking_id`), TLP:AMBER included: exactly one of the two.
pub async fn grant(
    state: &AppState,
    p: &Principal,
    org: &str,
    product_id: Option<String>,
    tracking_id: Option<String>,
    note: Option<String>,
) -> Result<GrantInfo> {
    let maker = manufacturer(p, true)?;
    let (product, tracking) = one_of(("product_id", product_id), ("tracking_id", tracking_id))?;
    let (actor, org) = (p.actor(), org.to_owned());
    state
        .db(move |conn| {
            let hospital = find_org(conn, &org)?;
            let (target, field) = match (product, tracking) {
                (Some(p), _) => (GrantTarget::Product(p), "product_id"),
                (_, Some(t)) => {
                    let advisory =
                        herald_storage::advisories::get_advisory(conn, &t)?.ok_or_else(|| {
                            ServiceError::field("tracking_id", format!("no advisory {t:?}"))
                        })?;
                    (GrantTarget::Advisory(advisory.id), "tracking_id")
                }
                _ => return Err(ServiceError::NotFound),
            };
            let g = herald_storage::customers::create_grant(
                conn,
                &maker,
                &hospital.id,
                &target,
                note.as_deref(),
                &actor,
            )
            .map_err(field_error(field))?;
            info(conn, g)
        })
        .await
}

/// Revokes grant `id` of hospital `org`.
pub async fn revoke(state: &AppState, p: &Principal, org: &str, id: &str) -> Result<()> {
    let maker = manufacturer(p, true)?;
    let (actor, org, id) = (p.actor(), org.to_owned(), id.to_owned());
    state
        .db(move |conn| {
            let hospital = find_org(conn, &org)?;
            Ok(herald_storage::customers::revoke_grant(
                conn,
                &maker,
                &hospital.id,
                &id,
                &actor,
            )?)
        })
        .await
}
