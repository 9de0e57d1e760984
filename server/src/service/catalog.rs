//! The product catalog's changes. Who edits: the manufacturer's publishers and admins (people, or
//! their tokens carrying `publish` or `admin`), through the portal's form and the REST API alike;
//! before this module the REST API let any manufacturer token with one of those scopes edit,
//! whatever its person's role, while the form asked for the role. Who reads is the entitlement
//! rule of storage (`list_products_for_reader`), the same for both. A refusal of storage's checks
//! (identifier syntax, a missing name) comes back as a field error naming the field.

use herald_storage::StorageError;
use herald_storage::catalog::{CatalogEntry, CatalogProduct};

use crate::error::{FieldError, ServiceError};
use crate::service::Principal;
use crate::state::AppState;

type Result<T> = std::result::Result<T, ServiceError>;

/// The manufacturer whose catalog `p` may edit, or why not.
pub fn editor_of(p: &Principal) -> Result<String> {
    if p.is_manufacturer() && (p.is_publisher() || p.is_admin()) {
        Ok(p.org_id.clone())
    } else {
        Err(ServiceError::Forbidden)
    }
}

/// Adds an entry. Identity (vendor, family, name, version, any case) and UDI-DI must be new: a
/// duplicate is a conflict and nothing is written.
pub async fn create(
    state: &AppState,
    p: &Principal,
    entry: CatalogEntry,
) -> Result<CatalogProduct> {
    let org_id = editor_of(p)?;
    let actor = p.actor();
    state
        .db(move |conn| {
            herald_storage::catalog::create_catalog_product(conn, &org_id, &entry, &actor)
                .map_err(catalog_error)
        })
        .await
}

/// Changes entry `id` of the caller's catalog to what `change` makes of the stored one (a merge
/// patch, or a whole entry from the form), in one transaction.
pub async fn update<F>(
    state: &AppState,
    p: &Principal,
    id: &str,
    change: F,
) -> Result<CatalogProduct>
where
    F: FnOnce(CatalogProduct) -> CatalogEntry + Send + 'static,
{
    let org_id = editor_of(p)?;
    let actor = p.actor();
    let id = id.to_owned();
    state
        .db(move |conn| {
            herald_storage::write_transaction(conn, |conn| {
                let Some(stored) =
                    herald_storage::catalog::get_catalog_product(conn, &org_id, &id)?
                else {
                    return Err(StorageError::NotFound);
                };
                let entry = change(stored);
                herald_storage::catalog::update_catalog_product(conn, &org_id, &id, &entry, &actor)
            })
            .map_err(catalog_error)
        })
        .await
}

/// Storage's refusal as a field error (its messages start with the field name).
pub fn catalog_error(e: StorageError) -> ServiceError {
    match e {
        StorageError::Invalid(message) => {
            let field = message
                .split_once(':')
                .map(|(f, _)| f)
                .or_else(|| message.split_whitespace().next())
                .filter(|f| {
                    matches!(
                        *f,
                        "vendor" | "family" | "name" | "version" | "udi_di" | "cpe" | "purl"
                    )
                })
                .unwrap_or("")
                .to_owned();
            ServiceError::InvalidFields(vec![FieldError { field, message }])
        }
        other => other.into(),
    }
}
