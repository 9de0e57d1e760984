//! A manufacturer's customers (hospital organizations) and the grants it makes them beyond
//! their installed base (a product's advisories, or one advisory). Who may read what from these
//! is decided in [`crate::entitlement`].

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::schema::{advisories, customers, entitlement_grants, organizations, products};
use crate::{
    DbConnection, StorageError, accounts::OrgKind, accounts::find_organization,
    audit::append_audit, from_micros, new_id, now, to_micros, write_transaction,
};

// ---------------------------------------------------------------------------------------------
// customers

#[derive(Debug, Clone, PartialEq)]
pub struct Customer {
    pub manufacturer_org_id: String,
    pub hospital_org_id: String,
    pub hospital_name: String,
    pub hospital_slug: String,
    pub reference: Option<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
}

pub(crate) const MAX_TEXT: usize = 2000;
pub(crate) const MAX_LIST: usize = 1000;

pub(crate) fn optional_text(field: &str, v: Option<&str>) -> Result<Option<String>, StorageError> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) if s.chars().count() > MAX_TEXT => Err(StorageError::Invalid(format!(
            "{field} is longer than {MAX_TEXT} characters"
        ))),
        Some(s) if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') => Err(
            StorageError::Invalid(format!("{field} contains control characters")),
        ),
        other => Ok(other.map(str::to_string)),
    }
}

pub(crate) fn require_kind(
    conn: &mut DbConnection,
    org_id: &str,
    kind: OrgKind,
    what: &str,
) -> Result<crate::accounts::Organization, StorageError> {
    match find_organization(conn, org_id)? {
        Some(org) if org.kind == kind => Ok(org),
        Some(org) => Err(StorageError::Invalid(format!(
            "{what}: organization {} is a {}, not a {kind}",
            org.slug, org.kind
        ))),
        None => Err(StorageError::Invalid(format!(
            "{what}: organization {org_id} does not exist"
        ))),
    }
}

/// Makes a hospital a customer of a manufacturer. Doing it again updates the reference.
pub fn add_customer(
    conn: &mut DbConnection,
    manufacturer_org_id: &str,
    hospital_org_id: &str,
    reference: Option<&str>,
    actor: &str,
) -> Result<Customer, StorageError> {
    let reference = optional_text("reference", reference)?;
    write_transaction(conn, |conn| {
        require_kind(
            conn,
            manufacturer_org_id,
            OrgKind::Manufacturer,
            "manufacturer",
        )?;
        require_kind(conn, hospital_org_id, OrgKind::Hospital, "customer")?;
        let key = customers::table.find((manufacturer_org_id, hospital_org_id));
        let exists: i64 = key.count().get_result(conn)?;
        if exists > 0 {
            diesel::update(key)
                .set(customers::reference.eq(&reference))
                .execute(conn)?;
        } else {
            diesel::insert_into(customers::table)
                .values((
                    customers::manufacturer_org_id.eq(manufacturer_org_id),
                    customers::hospital_org_id.eq(hospital_org_id),
                    customers::reference.eq(&reference),
                    customers::created_at.eq(to_micros(now())),
                    customers::created_by.eq(actor),
                ))
                .execute(conn)?;
        }
        append_audit(
            conn,
            actor,
            "customer.add",
            &format!("organization:{hospital_org_id}"),
            &serde_json::json!({ "manufacturer_org_id": manufacturer_org_id, "reference": reference }),
        )?;
        get_customer(conn, manufacturer_org_id, hospital_org_id)?.ok_or(StorageError::NotFound)
    })
}

/// Ends the customer relation (grants and installed base stay, but installed base no longer
/// entitles). `NotFound` when it did not exist.
pub fn remove_customer(
    conn: &mut DbConnection,
    manufacturer_org_id: &str,
    hospital_org_id: &str,
    actor: &str,
) -> Result<(), StorageError> {
    write_transaction(conn, |conn| {
        let n = diesel::delete(customers::table.find((manufacturer_org_id, hospital_org_id)))
            .execute(conn)?;
        if n == 0 {
            return Err(StorageError::NotFound);
        }
        append_audit(
            conn,
            actor,
            "customer.remove",
            &format!("organization:{hospital_org_id}"),
            &serde_json::json!({ "manufacturer_org_id": manufacturer_org_id }),
        )
    })
}

type CustomerTuple = (String, String, Option<String>, i64, String, String, String);

fn customer_from(t: CustomerTuple) -> Customer {
    let (manufacturer_org_id, hospital_org_id, reference, created_at, created_by, name, slug) = t;
    Customer {
        manufacturer_org_id,
        hospital_org_id,
        hospital_name: name,
        hospital_slug: slug,
        reference,
        created_at: from_micros(created_at),
        created_by,
    }
}

pub fn get_customer(
    conn: &mut DbConnection,
    manufacturer_org_id: &str,
    hospital_org_id: &str,
) -> Result<Option<Customer>, StorageError> {
    let found: Option<CustomerTuple> = customers::table
        .inner_join(organizations::table.on(organizations::id.eq(customers::hospital_org_id)))
        .filter(customers::manufacturer_org_id.eq(manufacturer_org_id))
        .filter(customers::hospital_org_id.eq(hospital_org_id))
        .select((
            customers::manufacturer_org_id,
            customers::hospital_org_id,
            customers::reference,
            customers::created_at,
            customers::created_by,
            organizations::name,
            organizations::slug,
        ))
        .first(conn)
        .optional()?;
    Ok(found.map(customer_from))
}

/// The manufacturer's customers by hospital name.
pub fn list_customers(
    conn: &mut DbConnection,
    manufacturer_org_id: &str,
) -> Result<Vec<Customer>, StorageError> {
    let rows: Vec<CustomerTuple> = customers::table
        .inner_join(organizations::table.on(organizations::id.eq(customers::hospital_org_id)))
        .filter(customers::manufacturer_org_id.eq(manufacturer_org_id))
        .select((
            customers::manufacturer_org_id,
            customers::hospital_org_id,
            customers::reference,
            customers::created_at,
            customers::created_by,
            organizations::name,
            organizations::slug,
        ))
        .order((organizations::name.asc(), organizations::id.asc()))
        .load(conn)?;
    Ok(rows.into_iter().map(customer_from).collect())
}

/// Whether the hospital is a customer of any manufacturer.
pub fn is_customer(conn: &mut DbConnection, hospital_org_id: &str) -> Result<bool, StorageError> {
    let n: i64 = customers::table
        .filter(customers::hospital_org_id.eq(hospital_org_id))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

// ---------------------------------------------------------------------------------------------
// grants

/// What a grant opens: every advisory naming a product, or one advisory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantTarget {
    Product(String),
    Advisory(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    pub id: String,
    pub manufacturer_org_id: String,
    pub hospital_org_id: String,
    pub target: GrantTarget,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = entitlement_grants)]
struct GrantRow {
    id: String,
    manufacturer_org_id: String,
    hospital_org_id: String,
    product_id: Option<String>,
    advisory_id: Option<String>,
    note: Option<String>,
    created_at: i64,
    created_by: String,
}

impl GrantRow {
    fn into_model(self) -> Result<Grant, StorageError> {
        let target = match (self.product_id, self.advisory_id) {
            (Some(p), None) => GrantTarget::Product(p),
            (None, Some(a)) => GrantTarget::Advisory(a),
            _ => {
                return Err(StorageError::Corrupt(format!(
                    "grant {} must name exactly one of product and advisory",
                    self.id
                )));
            }
        };
        Ok(Grant {
            id: self.id,
            manufacturer_org_id: self.manufacturer_org_id,
            hospital_org_id: self.hospital_org_id,
            target,
            note: self.note,
            created_at: from_micros(self.created_at),
            created_by: self.created_by,
        })
    }
}

/// The manufacturer grants a hospital access to a product's advisories or to one advisory. The
/// product must be the manufacturer's, the advisory published by it. Granting the same again is
/// a conflict.
pub fn create_grant(
    conn: &mut DbConnection,
    manufacturer_org_id: &str,
    hospital_org_id: &str,
    target: &GrantTarget,
    note: Option<&str>,
    actor: &str,
) -> Result<Grant, StorageError> {
    let note = optional_text("note", note)?;
    let id = new_id();
    write_transaction(conn, |conn| {
        require_kind(conn, manufacturer_org_id, OrgKind::Manufacturer, "grant")?;
        require_kind(conn, hospital_org_id, OrgKind::Hospital, "grant")?;
        let (product_id, advisory_id) = match target {
            GrantTarget::Product(p) => {
                let owner: Option<String> = products::table
                    .find(p)
                    .select(products::manufacturer_org_id)
                    .first(conn)
                    .optional()?;
                if owner.as_deref() != Some(manufacturer_org_id) {
                    return Err(StorageError::Invalid(format!(
                        "product {p:?} is not in this manufacturer's catalog"
                    )));
                }
                (Some(p.clone()), None)
            }
            GrantTarget::Advisory(a) => {
                let owner: Option<String> = advisories::table
                    .find(a)
                    .select(advisories::publisher_org_id)
                    .first(conn)
                    .optional()?;
                if owner.as_deref() != Some(manufacturer_org_id) {
                    return Err(StorageError::Invalid(format!(
                        "advisory {a:?} is not published by this manufacturer"
                    )));
                }
                (None, Some(a.clone()))
            }
        };
        // Checked here as well as by the unique indexes, for a clear message on both backends.
        let mut dup = entitlement_grants::table
            .filter(entitlement_grants::hospital_org_id.eq(hospital_org_id))
            .into_boxed();
        dup = match (&product_id, &advisory_id) {
            (Some(p), _) => dup.filter(entitlement_grants::product_id.eq(p.clone())),
            (_, Some(a)) => dup.filter(entitlement_grants::advisory_id.eq(a.clone())),
            _ => dup,
        };
        let n: i64 = dup.count().get_result(conn)?;
        if n > 0 {
            return Err(StorageError::Conflict(
                "this grant exists already".to_string(),
            ));
        }
        diesel::insert_into(entitlement_grants::table)
            .values((
                entitlement_grants::id.eq(&id),
                entitlement_grants::manufacturer_org_id.eq(manufacturer_org_id),
                entitlement_grants::hospital_org_id.eq(hospital_org_id),
                entitlement_grants::product_id.eq(&product_id),
                entitlement_grants::advisory_id.eq(&advisory_id),
                entitlement_grants::note.eq(&note),
                entitlement_grants::created_at.eq(to_micros(now())),
                entitlement_grants::created_by.eq(actor),
            ))
            .execute(conn)?;
        append_audit(
            conn,
            actor,
            "grant.create",
            &format!("organization:{hospital_org_id}"),
            &serde_json::json!({ "grant_id": id, "product_id": product_id, "advisory_id": advisory_id }),
        )?;
        entitlement_grants::table
            .find(&id)
            .select(GrantRow::as_select())
            .first(conn)?
            .into_model()
    })
}

/// Grants a manufacturer made to one hospital, oldest first.
pub fn list_grants(
    conn: &mut DbConnection,
    manufacturer_org_id: &str,
    hospital_org_id: &str,
) -> Result<Vec<Grant>, StorageError> {
    entitlement_grants::table
        .filter(entitlement_grants::manufacturer_org_id.eq(manufacturer_org_id))
        .filter(entitlement_grants::hospital_org_id.eq(hospital_org_id))
        .select(GrantRow::as_select())
        .order((
            entitlement_grants::created_at.asc(),
            entitlement_grants::id.asc(),
        ))
        .load(conn)?
        .into_iter()
        .map(GrantRow::into_model)
        .collect()
}

/// Revokes one grant of this manufacturer to this hospital; anything else is `NotFound`.
pub fn revoke_grant(
    conn: &mut DbConnection,
    manufacturer_org_id: &str,
    hospital_org_id: &str,
    grant_id: &str,
    actor: &str,
) -> Result<(), StorageError> {
    write_transaction(conn, |conn| {
        let n = diesel::delete(
            entitlement_grants::table
                .filter(entitlement_grants::id.eq(grant_id))
                .filter(entitlement_grants::manufacturer_org_id.eq(manufacturer_org_id))
                .filter(entitlement_grants::hospital_org_id.eq(hospital_org_id)),
        )
        .execute(conn)?;
        if n == 0 {
            return Err(StorageError::NotFound);
        }
        append_audit(
            conn,
            actor,
            "grant.revoke",
            &format!("organization:{hospital_org_id}"),
            &serde_json::json!({ "grant_id": grant_id }),
        )
    })
}

/// The manufacturers a hospital is a customer of (their catalogs are what it names in its
/// installed base).
pub fn manufacturers_of(
    conn: &mut DbConnection,
    hospital_org_id: &str,
) -> Result<Vec<String>, StorageError> {
    Ok(customers::table
        .filter(customers::hospital_org_id.eq(hospital_org_id))
        .select(customers::manufacturer_org_id)
        .order(customers::manufacturer_org_id.asc())
        .load(conn)?)
}
