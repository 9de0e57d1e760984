//! End of support as use cases: a manufacturer's publisher sets a catalog product's lifecycle
//! dates (each a day or `tba`) and compensating controls; Herald then publishes the
//! `csaf_informational_advisory` generated from them through the one publish path
//! ([`crate::service::publish::submit_document`]: under the four-eyes rule it waits for an
//! approver like any upload). Anyone who may see the product reads its lifecycle; the OpenEoX
//! record ([`herald_distribution::lifecycle`]) is public at `/lifecycle/{product_id}.json`.

use chrono::{DateTime, Datelike, Utc};
use herald_csaf::authoring::{
    RevisionEntry, TrackingInput, TrackingStatus, first_revision, next_revision,
};
use herald_csaf::lifecycle::{LifecycleDates, LifecycleProduct, informational_advisory};
use herald_storage::{
    DbConnection, StorageError, catalog::CatalogProduct, lifecycle::StoredLifecycle,
};

use crate::config::Config;
use crate::error::{FieldError, ServiceError};
use crate::service::Principal;
use crate::service::publish::{Submitted, submit_document};

/// A product's lifecycle as readers see it.
#[derive(Debug)]
pub struct LifecycleView {
    pub product: CatalogProduct,
    pub lifecycle: StoredLifecycle,
}

/// The public URL of a product's OpenEoX lifecycle record.
pub fn openeox_url(config: &Config, product_id: &str) -> String {
    format!(
        "{}/lifecycle/{product_id}.json",
        config.base_url.trim_end_matches('/')
    )
}

/// The tracking id of the informational advisory about `product_id`'s end of support: the
/// manufacturer's prefix, `EOS` and the product's id (stable across date changes, so a change is
/// a new revision of the same advisory).
pub fn tracking_id(config: &Config, product_id: &str) -> String {
    let id: String = product_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_uppercase();
    format!("{}-EOS-{id}", crate::authoring::tracking_prefix(config))
}

fn lifecycle_error(e: StorageError) -> ServiceError {
    match e {
        StorageError::Invalid(message) if message.starts_with("compensating_controls") => {
            ServiceError::InvalidFields(vec![FieldError {
                field: "compensating_controls".into(),
                message,
            }])
        }
        other => other.into(),
    }
}

/// Reads a product's lifecycle (the reader of a principal, or anonymous). 404 when the reader
/// may not see the product or no dates are announced.
pub fn get(
    conn: &mut DbConnection,
    reader: &herald_storage::entitlement::Reader,
    product_id: &str,
) -> Result<LifecycleView, ServiceError> {
    let product = herald_storage::catalog::list_products_for_reader(conn, reader)?
        .into_iter()
        .find(|c| c.id == product_id)
        .ok_or(ServiceError::NotFound)?;
    let lifecycle = herald_storage::lifecycle::get_lifecycle(conn, product_id)?
        .ok_or(ServiceError::NotFound)?;
    Ok(LifecycleView { product, lifecycle })
}

/// The public OpenEoX record of a product's lifecycle: dates only, no product name, so it is
/// served to anyone (the id is opaque); 404 when no dates are announced.
pub fn openeox_record(
    conn: &mut DbConnection,
    product_id: &str,
) -> Result<serde_json::Value, ServiceError> {
    let stored = herald_storage::lifecycle::get_lifecycle(conn, product_id)?
        .ok_or(ServiceError::NotFound)?;
    Ok(herald_distribution::lifecycle::openeox_core(
        &stored.dates,
        stored.updated_at,
    ))
}

/// What setting the dates did: the stored lifecycle and the informational advisory's fate.
#[derive(Debug)]
pub struct LifecycleSet {
    pub view: LifecycleView,
    pub advisory: Submitted,
}

/// Sets the product's lifecycle dates and publishes (or, under four-eyes, holds) the
/// informational advisory generated from them, in one transaction: an invalid document leaves
/// the old dates.
pub fn set(
    conn: &mut DbConnection,
    config: &Config,
    p: &Principal,
    product_id: &str,
    dates: &LifecycleDates,
    now: DateTime<Utc>,
) -> Result<LifecycleSet, ServiceError> {
    if !p.is_publisher() {
        return Err(ServiceError::Refused(
            "lifecycle dates are set by the manufacturer's publishers and admins".into(),
        ));
    }
    let result = herald_storage::write_transaction_as(conn, |conn| {
        let product = herald_storage::catalog::get_catalog_product(conn, &p.org_id, product_id)?
            .ok_or(ServiceError::NotFound)?;
        let stored = herald_storage::lifecycle::set_lifecycle(
            conn,
            &p.org_id,
            product_id,
            dates,
            &p.actor(),
        )
        .map_err(lifecycle_error)?;
        let tracking_id = tracking_id(config, product_id);
        let tracking = next_tracking(conn, config, &tracking_id, now)?;
        let doc = informational_advisory(
            &LifecycleProduct {
                vendor: product.vendor.clone(),
                family: product.family.clone(),
                name: product.name.clone(),
                version: product.version.clone(),
                product_id: "HERALD-EOS-PRODUCT".into(),
            },
            &stored.dates,
            &crate::authoring::publisher(config),
            &tracking,
            &openeox_url(config, product_id),
        );
        let bytes = herald_csaf::authoring::document_bytes(&doc);
        let advisory = submit_document(conn, config, p, &bytes)?;
        herald_storage::lifecycle::set_lifecycle_advisory(conn, product_id, &tracking_id)?;
        let lifecycle = herald_storage::lifecycle::get_lifecycle(conn, product_id)?
            .ok_or(ServiceError::NotFound)?;
        Ok(LifecycleSet {
            view: LifecycleView { product, lifecycle },
            advisory,
        })
    });
    if result.is_ok() {
        crate::published::note_local_change();
    }
    result
}

/// The tracking of the next revision of the generated advisory (the first when there is none).
fn next_tracking(
    conn: &mut DbConnection,
    config: &Config,
    tracking_id: &str,
    now: DateTime<Utc>,
) -> Result<TrackingInput, ServiceError> {
    let mut tracking = match herald_storage::advisories::get_advisory(conn, tracking_id)? {
        None => first_revision(tracking_id, now, "End-of-support dates announced"),
        Some(a) => {
            let s = &a.summary;
            let previous = TrackingInput {
                id: s.tracking_id.clone(),
                version: s.version.clone(),
                revision_history: s
                    .revision_history
                    .iter()
                    .map(|r| RevisionEntry {
                        number: r.number.clone(),
                        date: r.date,
                        summary: r.summary.clone(),
                    })
                    .collect(),
                initial_release_date: s.initial_release_date,
                current_release_date: s.current_release_date,
                status: TrackingStatus::Final,
                canonical_url: None,
            };
            next_revision(&previous, now, "End-of-support dates changed")
                .map_err(|e| ServiceError::internal(anyhow::anyhow!("{e}")))?
        }
    };
    let path = herald_csaf::document_path(
        herald_csaf::Tlp::White,
        tracking.initial_release_date.year(),
        &tracking.id,
    );
    tracking.canonical_url = Some(crate::publish::csaf_url(config, &path));
    Ok(tracking)
}
