//! End of support: the lifecycle dates a manufacturer announces per catalog product
//! ([`herald_csaf::lifecycle::LifecycleDates`], each a day or `tba`), stored one row per
//! product, with the tracking id of the informational advisory generated from them. Read per
//! product ([`get_lifecycle`]) and for the whole catalog ([`list_lifecycles`]: which products
//! are near or past end of support).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use herald_csaf::lifecycle::{EoxDate, LifecycleDates};

use crate::catalog::{catalog_select, from_row};
use crate::schema::{product_lifecycle, products};
use crate::{
    DbConnection, StorageError, audit::append_audit, catalog::CatalogProduct, from_micros, now,
    to_micros, write_transaction,
};

/// Longest compensating-controls text accepted.
pub const MAX_COMPENSATING_CONTROLS: usize = 20_000;

/// A product's stored lifecycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLifecycle {
    pub product_id: String,
    pub dates: LifecycleDates,
    /// The informational advisory announcing the dates, once published.
    pub advisory_tracking_id: Option<String>,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = product_lifecycle)]
#[diesel(treat_none_as_null = true)]
struct Row {
    product_id: String,
    general_availability: Option<String>,
    end_of_sales: Option<String>,
    end_of_standard_support: Option<String>,
    end_of_security_updates: Option<String>,
    compensating_controls: String,
    advisory_tracking_id: Option<String>,
    updated_at: i64,
    updated_by: String,
}

fn date(column: &str, s: Option<String>) -> Result<Option<EoxDate>, StorageError> {
    s.map(|s| {
        EoxDate::parse(&s)
            .map_err(|e| StorageError::Corrupt(format!("product_lifecycle.{column}: {e}")))
    })
    .transpose()
}

impl Row {
    fn into_model(self) -> Result<StoredLifecycle, StorageError> {
        Ok(StoredLifecycle {
            dates: LifecycleDates {
                general_availability: date("general_availability", self.general_availability)?,
                end_of_sales: date("end_of_sales", self.end_of_sales)?,
                end_of_standard_support: date(
                    "end_of_standard_support",
                    self.end_of_standard_support,
                )?,
                end_of_security_updates: date(
                    "end_of_security_updates",
                    self.end_of_security_updates,
                )?,
                compensating_controls: self.compensating_controls,
            },
            product_id: self.product_id,
            advisory_tracking_id: self.advisory_tracking_id,
            updated_at: from_micros(self.updated_at),
            updated_by: self.updated_by,
        })
    }
}

/// Stores the product's lifecycle dates (replacing earlier ones; audited). `NotFound` when the
/// product is not the manufacturer's. The compensating controls are checked here (length, no
/// control characters but line breaks); the dates are valid by their type.
pub fn set_lifecycle(
    conn: &mut DbConnection,
    manufacturer_org_id: &str,
    product_id: &str,
    dates: &LifecycleDates,
    actor: &str,
) -> Result<StoredLifecycle, StorageError> {
    let controls = dates.compensating_controls.trim().to_string();
    if controls.chars().count() > MAX_COMPENSATING_CONTROLS {
        return Err(StorageError::Invalid(format!(
            "compensating_controls: longer than {MAX_COMPENSATING_CONTROLS} characters"
        )));
    }
    if controls
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(StorageError::Invalid(
            "compensating_controls: holds control characters".into(),
        ));
    }
    write_transaction(conn, |conn| {
        if crate::catalog::get_catalog_product(conn, manufacturer_org_id, product_id)?.is_none() {
            return Err(StorageError::NotFound);
        }
        let previous = get_lifecycle(conn, product_id)?;
        let show = |d: Option<EoxDate>| d.map(|d| d.to_string());
        let row = Row {
            product_id: product_id.to_string(),
            general_availability: show(dates.general_availability),
            end_of_sales: show(dates.end_of_sales),
            end_of_standard_support: show(dates.end_of_standard_support),
            end_of_security_updates: show(dates.end_of_security_updates),
            compensating_controls: controls.clone(),
            advisory_tracking_id: previous
                .as_ref()
                .and_then(|p| p.advisory_tracking_id.clone()),
            updated_at: to_micros(now()),
            updated_by: actor.to_string(),
        };
        if previous.is_some() {
            diesel::update(product_lifecycle::table.find(product_id))
                .set(&row)
                .execute(conn)?;
        } else {
            diesel::insert_into(product_lifecycle::table)
                .values(&row)
                .execute(conn)?;
        }
        append_audit(
            conn,
            actor,
            "product.lifecycle",
            &format!("product:{product_id}"),
            &serde_json::json!({
                "general_availability": row.general_availability,
                "end_of_sales": row.end_of_sales,
                "end_of_standard_support": row.end_of_standard_support,
                "end_of_security_updates": row.end_of_security_updates,
            }),
        )?;
        get_lifecycle(conn, product_id)?.ok_or(StorageError::NotFound)
    })
}

/// Records the informational advisory generated from the product's dates.
pub fn set_lifecycle_advisory(
    conn: &mut DbConnection,
    product_id: &str,
    tracking_id: &str,
) -> Result<(), StorageError> {
    diesel::update(product_lifecycle::table.find(product_id))
        .set(product_lifecycle::advisory_tracking_id.eq(Some(tracking_id)))
        .execute(conn)?;
    Ok(())
}

pub fn get_lifecycle(
    conn: &mut DbConnection,
    product_id: &str,
) -> Result<Option<StoredLifecycle>, StorageError> {
    product_lifecycle::table
        .find(product_id)
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .map(Row::into_model)
        .transpose()
}

/// Every catalog product of the manufacturer that has lifecycle dates, with them.
pub fn list_lifecycles(
    conn: &mut DbConnection,
    manufacturer_org_id: &str,
) -> Result<Vec<(CatalogProduct, StoredLifecycle)>, StorageError> {
    let rows: Vec<(crate::catalog::Row, Row)> = products::table
        .inner_join(product_lifecycle::table)
        .filter(products::manufacturer_org_id.eq(manufacturer_org_id))
        .select((catalog_select!(), Row::as_select()))
        .order(products::name.asc())
        .load(conn)?;
    rows.into_iter()
        .map(|(p, l)| Ok((from_row(p), l.into_model()?)))
        .collect()
}

/// Every product of any manufacturer with a day (not `tba`) as its end of security updates:
/// what the reminder scan looks at.
pub fn lifecycles_with_security_end(
    conn: &mut DbConnection,
) -> Result<Vec<StoredLifecycle>, StorageError> {
    let rows: Vec<Row> = product_lifecycle::table
        .filter(product_lifecycle::end_of_security_updates.is_not_null())
        .filter(product_lifecycle::end_of_security_updates.ne("tba"))
        .select(Row::as_select())
        .load(conn)?;
    rows.into_iter().map(Row::into_model).collect()
}
