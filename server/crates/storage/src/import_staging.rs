//! CSV files a hospital staged for import into its installed base: held between the portal's
//! preview and the confirmation (a redirect cannot carry the file), never part of the installed
//! base itself. A hospital reads only its own; a staged file older than a day is dropped when
//! the next one is staged.

use diesel::prelude::*;

use crate::schema::installed_base_imports;
use crate::{DbConnection, StorageError, new_id, now, to_micros, write_transaction};

/// How long a staged file is kept (microseconds): a day.
const KEEP_MICROS: i64 = 24 * 3600 * 1_000_000;

/// Stages a file for `org_id`; its id.
pub fn stage_import(
    conn: &mut DbConnection,
    org_id: &str,
    csv: &[u8],
    actor: &str,
) -> Result<String, StorageError> {
    let id = new_id();
    let at = to_micros(now());
    write_transaction(conn, |conn| {
        diesel::delete(
            installed_base_imports::table
                .filter(installed_base_imports::created_at.lt(at - KEEP_MICROS)),
        )
        .execute(conn)?;
        diesel::insert_into(installed_base_imports::table)
            .values((
                installed_base_imports::id.eq(&id),
                installed_base_imports::org_id.eq(org_id),
                installed_base_imports::csv.eq(csv),
                installed_base_imports::created_at.eq(at),
                installed_base_imports::created_by.eq(actor),
            ))
            .execute(conn)?;
        Ok(id.clone())
    })
}

/// A staged file of `org_id` (another hospital's is `None`).
pub fn staged_import(
    conn: &mut DbConnection,
    org_id: &str,
    id: &str,
) -> Result<Option<Vec<u8>>, StorageError> {
    Ok(installed_base_imports::table
        .filter(installed_base_imports::id.eq(id))
        .filter(installed_base_imports::org_id.eq(org_id))
        .select(installed_base_imports::csv)
        .first(conn)
        .optional()?)
}

/// Drops a staged file (after it was imported).
pub fn drop_staged_import(
    conn: &mut DbConnection,
    org_id: &str,
    id: &str,
) -> Result<(), StorageError> {
    diesel::delete(
        installed_base_imports::table
            .filter(installed_base_imports::id.eq(id))
            .filter(installed_base_imports::org_id.eq(org_id)),
    )
    .execute(conn)?;
    Ok(())
}
