//! Releases and patches as use cases: creating a release of a product line, reading releases,
//! and publishing one, which revises every advisory it fixes through the one publish path.
//!
//! Rules:
//! * creating and publishing need a manufacturer's publisher or admin (or a `publish` token);
//!   reading needs any caller of the manufacturer with `read`;
//! * publishing revises each fixed advisory's current document as it is ([`herald_csaf::remediation`]:
//!   the produced version in the product tree and `fixed`, a `vendor_fix` with the release's URL,
//!   the version bumped, a revision-history entry) and publishes it with a `patch.available`
//!   notice instead of `advisory.updated`: one notice per change. A document whose shape does
//!   not allow the fix refuses the whole release (422 naming the advisory and the JSON path),
//!   nothing written;
//! * under the four-eyes rule a caller who is not an approver gets each revision held as a
//!   pending publication (the release is `pending`); its approval in the authoring flow
//!   publishes it with the same notice ([`publish_held_fix`]).

use chrono::{DateTime, Utc};
use herald_csaf::remediation::{ReleaseFix, ReviseError, apply_release};
use herald_storage::{
    DbConnection, StorageError, advisories::EVENT_PATCH_AVAILABLE, advisories::Notice,
    releases::NewRelease, releases::Release, releases::ReleaseState,
};

use crate::config::Config;
use crate::error::{FieldError, ServiceError};
use crate::publish::{PublishError, Published, publish_document_with};
use crate::service::Principal;

/// What publishing did to one fixed advisory.
#[derive(Debug)]
pub enum FixOutcome {
    Published(Published),
    /// Held for approval under the four-eyes rule: the pending publication's draft id.
    Held {
        tracking_id: String,
        draft_id: String,
    },
}

#[derive(Debug)]
pub struct ReleasePublished {
    pub release: Release,
    pub fixes: Vec<FixOutcome>,
}

fn require_publisher(p: &Principal) -> Result<(), ServiceError> {
    if p.is_publisher() {
        Ok(())
    } else {
        Err(ServiceError::Refused(
            "releases are written by the manufacturer's publishers and admins".into(),
        ))
    }
}

fn require_reader(p: &Principal) -> Result<(), ServiceError> {
    p.require_read()?;
    if p.is_manufacturer() {
        Ok(())
    } else {
        Err(ServiceError::Forbidden)
    }
}

/// Storage's refusal as a 422 naming the field (its messages start with the field name).
fn release_error(e: StorageError) -> ServiceError {
    const FIELDS: [&str; 10] = [
        "name",
        "applies_to",
        "produced_version",
        "release_date",
        "delivery",
        "install_notes",
        "known_issues",
        "url",
        "fixes",
        "regulatory_review",
    ];
    match e {
        StorageError::Invalid(message) => {
            let field = message
                .split_once(':')
                .map(|(f, _)| f)
                .filter(|f| FIELDS.contains(f))
                .unwrap_or("")
                .to_owned();
            ServiceError::InvalidFields(vec![FieldError { field, message }])
        }
        other => other.into(),
    }
}

/// A new release of the caller's manufacturer, state `draft`.
pub fn create(
    conn: &mut DbConnection,
    p: &Principal,
    release: &NewRelease,
) -> Result<Release, ServiceError> {
    require_publisher(p)?;
    herald_storage::releases::create_release(conn, &p.org_id, release, &p.actor())
        .map_err(release_error)
}

pub fn list(conn: &mut DbConnection, p: &Principal) -> Result<Vec<Release>, ServiceError> {
    require_reader(p)?;
    Ok(herald_storage::releases::list_releases(conn, &p.org_id)?)
}

pub fn get(conn: &mut DbConnection, p: &Principal, id: &str) -> Result<Release, ServiceError> {
    require_reader(p)?;
    herald_storage::releases::get_release(conn, &p.org_id, id)?.ok_or(ServiceError::NotFound)
}

/// Which published release brings an installed device of catalog version `product_id` to a
/// fixed version (the newest that updates it), if any. For the hospital workspace: the caller
/// decides who may see the product; this answers for the product alone.
pub fn fixing_release(
    conn: &mut DbConnection,
    product_id: &str,
) -> Result<Option<Release>, ServiceError> {
    Ok(herald_storage::releases::fixing_releases(conn, product_id)?
        .into_iter()
        .next())
}

/// The `patch.available` notice of a release's revision: what it fixes and how to install it,
/// in the event payload under `release`.
pub fn notice(release: &Release) -> Notice<'static> {
    let product = |c: &herald_storage::catalog::CatalogProduct| {
        serde_json::json!({
            "id": c.id, "vendor": c.vendor, "family": c.family, "name": c.name,
            "version": c.version,
        })
    };
    Notice {
        kind: EVENT_PATCH_AVAILABLE,
        detail_key: "release",
        detail: serde_json::json!({
            "id": release.id,
            "name": release.name,
            "produced": product(&release.produced),
            "applies_to": release.applies_to.iter().map(product).collect::<Vec<_>>(),
            "release_date": release.release_date.to_rfc3339(),
            "delivery": release.delivery,
            "regulatory_review": release.regulatory_review,
            "install_notes": release.install_notes,
            "known_issues": release.known_issues,
            "url": release.url,
            "fixes": release.fixes.iter().map(|f| f.tracking_id.clone()).collect::<Vec<_>>(),
        }),
    }
}

fn revise_refused(tracking_id: &str, e: ReviseError) -> ServiceError {
    let field = if e.path.starts_with('/') || e.path.is_empty() {
        "fixes".to_string()
    } else {
        e.path.clone()
    };
    ServiceError::InvalidFields(vec![FieldError {
        field,
        message: format!(
            "{tracking_id} cannot take the release's fix at {}: {}",
            if e.path.is_empty() { "/" } else { &e.path },
            e.message
        ),
    }])
}

/// The next revision of `tracking_id`'s current document with the release's fix, as bytes.
fn revised_document(
    conn: &mut DbConnection,
    release: &Release,
    tracking_id: &str,
    now: DateTime<Utc>,
) -> Result<Vec<u8>, ServiceError> {
    let advisory = herald_storage::advisories::get_advisory(conn, tracking_id)?
        .ok_or(ServiceError::NotFound)?;
    let stored = herald_storage::advisories::get_revision_document(
        conn,
        tracking_id,
        &advisory.current.version,
    )?
    .ok_or(ServiceError::NotFound)?;
    let doc: serde_json::Value = serde_json::from_slice(&stored.bytes)
        .map_err(|e| ServiceError::internal(anyhow::anyhow!("stored {tracking_id}: {e}")))?;
    let applies =
        herald_storage::releases::document_product_ids(&advisory.summary, &release.applies_to);
    let summary = install_summary(release);
    let revised = apply_release(
        &doc,
        &ReleaseFix {
            applies_to: &applies,
            produced_version: release.produced.version.as_deref().unwrap_or_default(),
            release_name: &release.name,
            details: &summary,
            url: release.url.as_deref(),
            release_date: Some(release.release_date),
        },
        now,
    )
    .map_err(|e| revise_refused(tracking_id, e))?;
    Ok(herald_csaf::authoring::document_bytes(&revised.document))
}

/// The remediation's details: which version fixes it, how it is delivered, the install notes.
fn install_summary(release: &Release) -> String {
    let version = release.produced.version.as_deref().unwrap_or_default();
    let how = match release.delivery.as_str() {
        "over_the_air" => "delivered over the air",
        "service_engineer" => "installed by a service engineer",
        "hospital_it" => "installed by hospital IT from the manufacturer's media",
        "download" => "downloaded and installed by the customer",
        _ => "available from the manufacturer",
    };
    let mut text = format!(
        "Update to {} {version} ({}, {how}).",
        release.produced.name, release.name
    );
    if !release.install_notes.is_empty() {
        text.push(' ');
        text.push_str(&release.install_notes);
    }
    text
}

/// Publishes the release (see the module docs). Everything or nothing: a fix that cannot be
/// written into one advisory leaves the release a draft and every advisory as it was.
pub fn publish(
    conn: &mut DbConnection,
    config: &Config,
    p: &Principal,
    id: &str,
    now: DateTime<Utc>,
) -> Result<ReleasePublished, ServiceError> {
    require_publisher(p)?;
    let result = herald_storage::write_transaction_as(conn, |conn| {
        let release = herald_storage::releases::get_release(conn, &p.org_id, id)?
            .ok_or(ServiceError::NotFound)?;
        if release.state != ReleaseState::Draft {
            return Err(ServiceError::Conflict(format!(
                "release {id} is already {}",
                release.state.as_str()
            )));
        }
        herald_storage::releases::mark_release_published(conn, &p.org_id, id, &p.actor())?;
        let hold = herald_storage::drafts::four_eyes(conn, &p.org_id)? && !p.is_approver();
        let mut fixes = Vec::new();
        for fix in &release.fixes {
            let bytes = revised_document(conn, &release, &fix.tracking_id, now)?;
            if hold {
                herald_csaf::validate(&bytes).map_err(PublishError::from)?;
                let text = String::from_utf8(bytes)
                    .map_err(|e| ServiceError::internal(anyhow::anyhow!(e)))?;
                let held = crate::authoring::hold_release_revision(
                    conn,
                    p,
                    &text,
                    &fix.tracking_id,
                    &release.id,
                )?;
                herald_storage::releases::record_fix_held(
                    conn,
                    &release.id,
                    &fix.advisory_id,
                    &held.id,
                )?;
                fixes.push(FixOutcome::Held {
                    tracking_id: fix.tracking_id.clone(),
                    draft_id: held.id,
                });
            } else {
                let published = publish_document_with(
                    conn,
                    config,
                    &bytes,
                    &p.org_id,
                    &p.actor(),
                    Some(&notice(&release)),
                )?;
                herald_storage::releases::record_fix_published(
                    conn,
                    &release.id,
                    &fix.advisory_id,
                    &published.version,
                )?;
                fixes.push(FixOutcome::Published(published));
            }
        }
        let release = herald_storage::releases::get_release(conn, &p.org_id, id)?
            .ok_or(ServiceError::NotFound)?;
        Ok(ReleasePublished { release, fixes })
    });
    if result.is_ok() {
        // publish_document told the serving cache before the outer transaction committed.
        crate::published::note_local_change();
    }
    result
}

/// Publishes a release's revision held under the four-eyes rule, on its approval (called by
/// the authoring flow inside its transaction): the same `patch.available` notice as a direct
/// publication, and the revision recorded on the release.
pub fn publish_held_fix(
    conn: &mut DbConnection,
    config: &Config,
    approver: &Principal,
    release_id: &str,
    tracking_id: &str,
    bytes: &[u8],
) -> Result<Published, PublishError> {
    let release = herald_storage::releases::get_release(conn, &approver.org_id, release_id)?
        .ok_or(StorageError::NotFound)?;
    let fix = release
        .fixes
        .iter()
        .find(|f| f.tracking_id == tracking_id)
        .ok_or(StorageError::NotFound)?;
    let published = publish_document_with(
        conn,
        config,
        bytes,
        &approver.org_id,
        &approver.actor(),
        Some(&notice(&release)),
    )?;
    herald_storage::releases::record_fix_published(
        conn,
        &release.id,
        &fix.advisory_id,
        &published.version,
    )?;
    Ok(published)
}
