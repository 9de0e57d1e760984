//! Remediation status per advisory and site as use cases: a hospital says where each of its
//! sites stands on an advisory it may read (received, under assessment, mitigated, patched, not
//! applicable with a reason, risk accepted), and reads its own current statuses and their
//! history. The REST resources and the portal's form call these.
//!
//! Isolation: a hospital only ever names its own sites (another hospital's site is 404, like an
//! advisory it may not read); the manufacturer reads statuses only in aggregate, through
//! [`crate::service::uptake`].

use herald_storage::{
    DbConnection, remediation::RemediationState, remediation::SiteStatus, remediation::StatusInput,
};

use crate::error::ServiceError;
use crate::service::Principal;
use crate::service::installed_base::refused;
use crate::state::AppState;

/// A status as a caller gives it: `status` is one of [`RemediationState::ALL`]'s names.
#[derive(Debug, Clone, Default)]
pub struct StatusChange {
    pub status: String,
    pub reason: Option<String>,
    pub note: Option<String>,
    pub release: Option<String>,
}

/// The advisory's id when `p` may read it; 404 otherwise (the same answer as for one that does
/// not exist).
pub(crate) fn readable_advisory(
    conn: &mut DbConnection,
    p: &Principal,
    tracking_id: &str,
) -> Result<herald_storage::advisories::AdvisoryDetail, ServiceError> {
    let advisory = herald_storage::advisories::get_advisory(conn, tracking_id)?
        .ok_or(ServiceError::NotFound)?;
    if !herald_storage::entitlement::may_read(conn, &p.reader(), &advisory.id)? {
        return Err(ServiceError::NotFound);
    }
    Ok(advisory)
}

/// Sets one of the caller's sites' status for an advisory it may read (hospital admins).
pub async fn set_status(
    state: &AppState,
    p: &Principal,
    tracking_id: &str,
    site_id: &str,
    change: StatusChange,
) -> Result<SiteStatus, ServiceError> {
    let org = p.require_hospital_admin()?.to_owned();
    let Some(status) = RemediationState::parse(&change.status) else {
        return Err(ServiceError::field(
            "status",
            format!(
                "{:?} is not one of {}",
                change.status,
                RemediationState::ALL.map(|s| s.as_str()).join(", ")
            ),
        ));
    };
    let (p, tracking_id, site_id) = (p.clone(), tracking_id.to_owned(), site_id.to_owned());
    state
        .db(move |conn| {
            let advisory = readable_advisory(conn, &p, &tracking_id)?;
            herald_storage::remediation::set_remediation_status(
                conn,
                &org,
                &site_id,
                &advisory.id,
                &StatusInput {
                    state: status,
                    reason: change.reason,
                    note: change.note,
                    release_ref: change.release,
                },
                &p.actor(),
                herald_storage::now(),
            )
            .map_err(refused(&["reason", "note", "release"], "status"))
        })
        .await
}

/// The caller's current statuses for an advisory, one per site that has one.
pub async fn statuses(
    state: &AppState,
    p: &Principal,
    tracking_id: &str,
) -> Result<Vec<SiteStatus>, ServiceError> {
    let org = p.require_hospital_reader()?.to_owned();
    let (p, tracking_id) = (p.clone(), tracking_id.to_owned());
    state
        .db(move |conn| {
            let advisory = readable_advisory(conn, &p, &tracking_id)?;
            Ok(herald_storage::remediation::remediation_statuses(
                conn,
                Some(&org),
                Some(&advisory.id),
            )?)
        })
        .await
}

/// Every status one of the caller's sites has had for an advisory, oldest first.
pub async fn history(
    state: &AppState,
    p: &Principal,
    tracking_id: &str,
    site_id: &str,
) -> Result<Vec<SiteStatus>, ServiceError> {
    let org = p.require_hospital_reader()?.to_owned();
    let (p, tracking_id, site_id) = (p.clone(), tracking_id.to_owned(), site_id.to_owned());
    state
        .db(move |conn| {
            let advisory = readable_advisory(conn, &p, &tracking_id)?;
            if herald_storage::sites::get_site(conn, &org, &site_id)?.is_none() {
                return Err(ServiceError::NotFound);
            }
            Ok(herald_storage::remediation::remediation_history(
                conn,
                &org,
                &site_id,
                &advisory.id,
            )?)
        })
        .await
}
