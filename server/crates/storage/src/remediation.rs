//! Where each site of a hospital stands on an advisory: received, under assessment, mitigated,
//! patched, not applicable (with a reason), risk accepted; with a note, who and when, and the
//! release installed as the hospital names it. Every status ever set is kept
//! (`remediation_history`); `remediation_status` holds the latest per site and advisory, which
//! the home page and the manufacturer's uptake read.
//!
//! Who may set or read a status (the hospital's own people, the manufacturer in aggregate) is the
//! service layer's decision; storage only keeps each hospital's rows to its own sites.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::customers::optional_text;
use crate::schema::{remediation_history, remediation_status, sites};
use crate::{
    DbConnection, StorageError, audit::append_audit, from_micros, new_id, to_micros,
    write_transaction,
};

/// A site's remediation state for one advisory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RemediationState {
    Received,
    UnderAssessment,
    Mitigated,
    Patched,
    NotApplicable,
    RiskAccepted,
}

impl RemediationState {
    pub const ALL: [RemediationState; 6] = [
        RemediationState::Received,
        RemediationState::UnderAssessment,
        RemediationState::Mitigated,
        RemediationState::Patched,
        RemediationState::NotApplicable,
        RemediationState::RiskAccepted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RemediationState::Received => "received",
            RemediationState::UnderAssessment => "under_assessment",
            RemediationState::Mitigated => "mitigated",
            RemediationState::Patched => "patched",
            RemediationState::NotApplicable => "not_applicable",
            RemediationState::RiskAccepted => "risk_accepted",
        }
    }

    pub fn parse(s: &str) -> Option<RemediationState> {
        Self::ALL.into_iter().find(|v| v.as_str() == s.trim())
    }

    /// Whether the site's devices are no longer exposed: patched, mitigated or not applicable.
    /// Accepting a risk leaves the devices exposed (knowingly).
    pub fn closes_exposure(self) -> bool {
        matches!(
            self,
            RemediationState::Patched
                | RemediationState::Mitigated
                | RemediationState::NotApplicable
        )
    }
}

impl std::fmt::Display for RemediationState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a hospital says about one site and advisory.
#[derive(Debug, Clone)]
pub struct StatusInput {
    pub state: RemediationState,
    /// Required for [`RemediationState::NotApplicable`].
    pub reason: Option<String>,
    pub note: Option<String>,
    /// The release installed (free text until releases are in the catalog).
    pub release_ref: Option<String>,
}

/// A status as stored (current or historical).
#[derive(Debug, Clone, PartialEq)]
pub struct SiteStatus {
    pub org_id: String,
    pub site_id: String,
    pub advisory_id: String,
    pub state: RemediationState,
    pub reason: Option<String>,
    pub note: Option<String>,
    pub release_ref: Option<String>,
    pub actor: String,
    pub at: DateTime<Utc>,
}

type StatusTuple = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    i64,
);

fn status_from(t: StatusTuple) -> Result<SiteStatus, StorageError> {
    let (org_id, site_id, advisory_id, state, reason, note, release_ref, actor, at) = t;
    Ok(SiteStatus {
        state: RemediationState::parse(&state).ok_or_else(|| {
            StorageError::Corrupt(format!("remediation status {state:?} is not known"))
        })?,
        org_id,
        site_id,
        advisory_id,
        reason,
        note,
        release_ref,
        actor,
        at: from_micros(at),
    })
}

macro_rules! status_select {
    ($t:ident) => {
        (
            $t::org_id,
            $t::site_id,
            $t::advisory_id,
            $t::status,
            $t::reason,
            $t::note,
            $t::release_ref,
            $t::actor,
            $t::at,
        )
    };
}

/// Records a site's status for an advisory at `at`: the current status is replaced, the history
/// gains a row, the audit log an entry. The site must be the hospital's (`NotFound` otherwise);
/// `not_applicable` needs a reason. Whether the hospital may read the advisory is the caller's
/// check.
pub fn set_remediation_status(
    conn: &mut DbConnection,
    org_id: &str,
    site_id: &str,
    advisory_id: &str,
    input: &StatusInput,
    actor: &str,
    at: DateTime<Utc>,
) -> Result<SiteStatus, StorageError> {
    let reason = optional_text("reason", input.reason.as_deref())?;
    let note = optional_text("note", input.note.as_deref())?;
    let release_ref = optional_text("release", input.release_ref.as_deref())?;
    if input.state == RemediationState::NotApplicable && reason.is_none() {
        return Err(StorageError::Invalid(
            "reason: say why the advisory does not apply".into(),
        ));
    }
    if release_ref
        .as_deref()
        .is_some_and(|r| r.chars().count() > 200)
    {
        return Err(StorageError::Invalid(
            "release: at most 200 characters".into(),
        ));
    }
    let at = to_micros(at);
    write_transaction(conn, |conn| {
        let site: i64 = sites::table
            .filter(sites::id.eq(site_id))
            .filter(sites::org_id.eq(org_id))
            .count()
            .get_result(conn)?;
        if site == 0 {
            return Err(StorageError::NotFound);
        }
        diesel::delete(
            remediation_status::table.find((site_id.to_string(), advisory_id.to_string())),
        )
        .execute(conn)?;
        diesel::insert_into(remediation_status::table)
            .values((
                remediation_status::site_id.eq(site_id),
                remediation_status::advisory_id.eq(advisory_id),
                remediation_status::org_id.eq(org_id),
                remediation_status::status.eq(input.state.as_str()),
                remediation_status::reason.eq(&reason),
                remediation_status::note.eq(&note),
                remediation_status::release_ref.eq(&release_ref),
                remediation_status::actor.eq(actor),
                remediation_status::at.eq(at),
            ))
            .execute(conn)?;
        diesel::insert_into(remediation_history::table)
            .values((
                remediation_history::id.eq(new_id()),
                remediation_history::site_id.eq(site_id),
                remediation_history::advisory_id.eq(advisory_id),
                remediation_history::org_id.eq(org_id),
                remediation_history::status.eq(input.state.as_str()),
                remediation_history::reason.eq(&reason),
                remediation_history::note.eq(&note),
                remediation_history::release_ref.eq(&release_ref),
                remediation_history::actor.eq(actor),
                remediation_history::at.eq(at),
            ))
            .execute(conn)?;
        append_audit(
            conn,
            actor,
            "remediation.set",
            &format!("organization:{org_id}"),
            &serde_json::json!({
                "site_id": site_id, "advisory_id": advisory_id, "status": input.state.as_str(),
                "release": release_ref,
            }),
        )?;
        Ok(SiteStatus {
            org_id: org_id.to_string(),
            site_id: site_id.to_string(),
            advisory_id: advisory_id.to_string(),
            state: input.state,
            reason: reason.clone(),
            note: note.clone(),
            release_ref: release_ref.clone(),
            actor: actor.to_string(),
            at: from_micros(at),
        })
    })
}

/// Current statuses: of one hospital (`org_id`), of one advisory, or both. `None` for both is
/// every status (the manufacturer's aggregate views narrow by advisory).
pub fn remediation_statuses(
    conn: &mut DbConnection,
    org_id: Option<&str>,
    advisory_id: Option<&str>,
) -> Result<Vec<SiteStatus>, StorageError> {
    let mut q = remediation_status::table
        .select(status_select!(remediation_status))
        .order((
            remediation_status::advisory_id.asc(),
            remediation_status::site_id.asc(),
        ))
        .into_boxed();
    if let Some(org) = org_id {
        q = q.filter(remediation_status::org_id.eq(org.to_string()));
    }
    if let Some(a) = advisory_id {
        q = q.filter(remediation_status::advisory_id.eq(a.to_string()));
    }
    q.load::<StatusTuple>(conn)?
        .into_iter()
        .map(status_from)
        .collect()
}

/// Every status a hospital's site has had for an advisory, oldest first.
pub fn remediation_history(
    conn: &mut DbConnection,
    org_id: &str,
    site_id: &str,
    advisory_id: &str,
) -> Result<Vec<SiteStatus>, StorageError> {
    remediation_history::table
        .filter(remediation_history::org_id.eq(org_id))
        .filter(remediation_history::site_id.eq(site_id))
        .filter(remediation_history::advisory_id.eq(advisory_id))
        .select(status_select!(remediation_history))
        .order((remediation_history::at.asc(), remediation_history::id.asc()))
        .load::<StatusTuple>(conn)?
        .into_iter()
        .map(status_from)
        .collect()
}
