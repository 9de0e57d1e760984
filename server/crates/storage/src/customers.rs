//! The hospital side of the data model and the one entitlement rule everything reads:
//!
//! * customers: a hospital organization is a customer of a manufacturer organization;
//! * installed base: the catalog products a hospital runs (quantity, site, notes);
//! * grants: access the manufacturer gives a hospital beyond that, to every advisory naming a
//!   product or to one advisory;
//! * subscriptions: what one destination wants (products, families, notice kinds) and whether it
//!   is a security contact that gets critical notices even when it opted out of routine ones;
//! * [`Reader`] and [`visible_to`]: who may read which advisory, as a SQL condition so that lists,
//!   pages, the CSAF distribution tree and fan-out all ask the database the same question.
//!
//! The entitlement rule ([`visible_to`]), by the advisory's TLP label:
//!
//! | label        | manufacturer (publisher) | hospital                                              |
//! |--------------|--------------------------|-------------------------------------------------------|
//! | WHITE / none | yes                      | yes (anonymous readers too)                           |
//! | GREEN        | yes                      | a customer of the publisher, or entitled as for AMBER |
//! | AMBER        | yes                      | a product of the advisory is in its installed base, confirmed by the manufacturer (and it is a customer of the publisher), or granted to it, or the advisory itself is granted to it |
//! | RED          | yes                      | never                                                 |
//!
//! GREEN's audience includes AMBER's: a label never shows less to a wider circle. Hospitals
//! declare their own installed base, so an entry entitles only once the manufacturer confirmed it
//! ([`confirm_installed_product`]) and only a customer; until then it only routes notifications.
//! Grants are made by the manufacturer and entitle on their own.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use herald_csaf::Tlp;

use crate::schema::{
    advisories, advisory_products, customers, destinations, entitlement_grants, installed_base,
    organizations, products, subscriptions,
};
use crate::{
    DbConnection, OrgKind, StorageError, append_audit, find_organization, from_json, from_micros,
    new_id, now, tlp_str, to_json, to_micros, write_transaction,
};

// ---------------------------------------------------------------------------------------------
// the rule

/// Who is reading, for the entitlement rule. Built from a token's or session's organization
/// ([`Reader::for_org`]); a token without the `read` scope reads as [`Reader::Anonymous`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Reader {
    #[default]
    Anonymous,
    /// A manufacturer organization: reads everything it published (and WHITE of others).
    Manufacturer { org_id: String },
    /// A hospital organization: see the module docs.
    Hospital { org_id: String },
}

impl Reader {
    /// The reader for an organization (by its kind); an unknown organization reads as anonymous.
    pub fn for_org(conn: &mut DbConnection, org_id: &str) -> Result<Reader, StorageError> {
        Ok(match find_organization(conn, org_id)? {
            Some(org) => Reader::of(org.kind, org.id),
            None => Reader::Anonymous,
        })
    }

    pub fn of(kind: OrgKind, org_id: String) -> Reader {
        match kind {
            OrgKind::Manufacturer => Reader::Manufacturer { org_id },
            OrgKind::Hospital => Reader::Hospital { org_id },
        }
    }

    pub fn org_id(&self) -> Option<&str> {
        match self {
            Reader::Anonymous => None,
            Reader::Manufacturer { org_id } | Reader::Hospital { org_id } => Some(org_id),
        }
    }

    /// Whether what this reader sees differs from what an anonymous reader sees, i.e. whether
    /// responses built for it must not be shared (`Cache-Control: private`).
    pub fn is_personal(&self) -> bool {
        !matches!(self, Reader::Anonymous)
    }
}

/// A SQL condition over the `advisories` table (raw SQL with bound parameters), usable in any
/// query that has `advisories` in its FROM clause, alone or joined. Built by [`visible_to`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visibility {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Sql(String),
    Bind(String),
}

impl Visibility {
    /// No restriction (internal readers: the provider's own bookkeeping, tests).
    pub fn everything() -> Visibility {
        Visibility { parts: Vec::new() }.sql("(1 = 1)")
    }

    fn sql(mut self, s: impl Into<String>) -> Self {
        self.parts.push(Part::Sql(s.into()));
        self
    }

    fn bind(mut self, v: &str) -> Self {
        self.parts.push(Part::Bind(v.to_string()));
        self
    }
}

impl diesel::expression::Expression for Visibility {
    type SqlType = Bool;
}

impl<QS> diesel::expression::AppearsOnTable<QS> for Visibility {}
impl<QS> diesel::expression::SelectableExpression<QS> for Visibility {}

impl<GB> diesel::expression::ValidGrouping<GB> for Visibility {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

impl diesel::query_builder::QueryId for Visibility {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<DB> diesel::query_builder::QueryFragment<DB> for Visibility
where
    DB: diesel::backend::Backend + diesel::sql_types::HasSqlType<Text>,
    String: diesel::serialize::ToSql<Text, DB>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> QueryResult<()> {
        out.unsafe_to_cache_prepared();
        for part in &self.parts {
            match part {
                Part::Sql(s) => out.push_sql(s),
                Part::Bind(v) => out.push_bind_param::<Text, String>(v)?,
            }
        }
        Ok(())
    }
}

/// The entitlement rule as a SQL condition on `advisories` (see the module docs). `label`:
/// `None` judges by the advisory's current label (`advisories.tlp`), `Some` by a given label
/// (fan-out judges an event by its revision's label, which a later revision may have changed).
pub fn visible_to(reader: &Reader, label: Option<Tlp>) -> Visibility {
    // The label is one of four fixed spellings, never caller text, so it may be inlined.
    let tlp = match label {
        None => "advisories.tlp".to_string(),
        Some(t) => format!("'{}'", tlp_str(t)),
    };
    let v = Visibility { parts: Vec::new() };
    match reader {
        Reader::Anonymous => v.sql(format!("({tlp} = 'WHITE')")),
        Reader::Manufacturer { org_id } => v
            .sql(format!(
                "({tlp} = 'WHITE' OR advisories.publisher_org_id = "
            ))
            .bind(org_id)
            .sql(")"),
        Reader::Hospital { org_id } => {
            // AMBER entitlement of this hospital to the advisory in the current row.
            let amber = |v: Visibility| {
                v.sql(
                    "(EXISTS (SELECT 1 FROM entitlement_grants g \
                       WHERE g.advisory_id = advisories.id AND g.hospital_org_id = ",
                )
                .bind(org_id)
                .sql(
                    ") OR EXISTS (SELECT 1 FROM advisory_products ap \
                       JOIN entitlement_grants g ON g.product_id = ap.product_id \
                       WHERE ap.advisory_id = advisories.id AND g.hospital_org_id = ",
                )
                .bind(org_id)
                .sql(
                    ") OR EXISTS (SELECT 1 FROM advisory_products ap \
                       JOIN installed_base ib ON ib.product_id = ap.product_id \
                       JOIN customers c ON c.hospital_org_id = ib.org_id \
                         AND c.manufacturer_org_id = advisories.publisher_org_id \
                       WHERE ap.advisory_id = advisories.id AND ib.confirmed_at IS NOT NULL \
                         AND ib.org_id = ",
                )
                .bind(org_id)
                .sql("))")
            };
            let v = v
                .sql(format!(
                    "({tlp} = 'WHITE' OR ({tlp} = 'GREEN' AND (EXISTS (SELECT 1 FROM customers c \
                       WHERE c.manufacturer_org_id = advisories.publisher_org_id \
                         AND c.hospital_org_id = "
                ))
                .bind(org_id)
                .sql(") OR ");
            let v = amber(v).sql(format!(")) OR ({tlp} = 'AMBER' AND "));
            amber(v).sql("))")
        }
    }
}

/// Whether `reader` may read the advisory (by its current label). A missing advisory is `false`.
pub fn may_read(
    conn: &mut DbConnection,
    reader: &Reader,
    advisory_id: &str,
) -> Result<bool, StorageError> {
    may_read_as(conn, reader, advisory_id, None)
}

/// [`may_read`] judging by `label` instead of the current one (see [`visible_to`]).
pub fn may_read_as(
    conn: &mut DbConnection,
    reader: &Reader,
    advisory_id: &str,
    label: Option<Tlp>,
) -> Result<bool, StorageError> {
    let n: i64 = advisories::table
        .filter(advisories::id.eq(advisory_id))
        .filter(visible_to(reader, label))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Whether `reader` may read the advisory distributed at `path` (below `/.well-known/csaf/`)
/// under the label `tlp`. A path that holds nothing, or an advisory with another label, is
/// `false`.
pub fn may_read_path(
    conn: &mut DbConnection,
    reader: &Reader,
    tlp: Tlp,
    path: &str,
) -> Result<bool, StorageError> {
    let n: i64 = advisories::table
        .filter(advisories::path.eq(path))
        .filter(advisories::tlp.eq(tlp_str(tlp)))
        .filter(visible_to(reader, None))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Whether `reader` may open the distribution directory of `tlp` at all (its listings, index,
/// changes and feed, which then list only what [`visible_to`] allows): the manufacturer, for
/// GREEN a customer, for AMBER a customer or a hospital holding a grant. RED: nobody.
pub fn may_open_directory(
    conn: &mut DbConnection,
    reader: &Reader,
    tlp: Tlp,
) -> Result<bool, StorageError> {
    match (tlp, reader) {
        (Tlp::White, _) => Ok(true),
        (Tlp::Red, _) | (_, Reader::Anonymous) => Ok(false),
        (_, Reader::Manufacturer { .. }) => Ok(true),
        (Tlp::Green | Tlp::Amber, Reader::Hospital { org_id }) => {
            let customer: i64 = customers::table
                .filter(customers::hospital_org_id.eq(org_id))
                .count()
                .get_result(conn)?;
            if customer > 0 {
                return Ok(true);
            }
            let granted: i64 = entitlement_grants::table
                .filter(entitlement_grants::hospital_org_id.eq(org_id))
                .count()
                .get_result(conn)?;
            Ok(granted > 0)
        }
    }
}

/// The tracking id of an advisory by its id.
pub fn advisory_tracking_id(
    conn: &mut DbConnection,
    advisory_id: &str,
) -> Result<Option<String>, StorageError> {
    Ok(advisories::table
        .find(advisory_id)
        .select(advisories::tracking_id)
        .first(conn)
        .optional()?)
}

/// The catalog product ids an advisory names (its current revision).
pub fn advisory_product_ids(
    conn: &mut DbConnection,
    advisory_id: &str,
) -> Result<Vec<String>, StorageError> {
    let mut ids: Vec<String> = advisory_products::table
        .filter(advisory_products::advisory_id.eq(advisory_id))
        .select(advisory_products::product_id)
        .load(conn)?;
    ids.sort();
    ids.dedup();
    Ok(ids)
}

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

const MAX_TEXT: usize = 2000;
const MAX_LIST: usize = 1000;

fn optional_text(field: &str, v: Option<&str>) -> Result<Option<String>, StorageError> {
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

fn require_kind(
    conn: &mut DbConnection,
    org_id: &str,
    kind: OrgKind,
    what: &str,
) -> Result<crate::Organization, StorageError> {
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
// installed base

/// A catalog product as the hospital-facing resources show it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductRef {
    pub id: String,
    pub manufacturer_org_id: String,
    pub vendor: Option<String>,
    pub family: Option<String>,
    pub name: String,
    pub version: Option<String>,
    pub udi_di: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InstalledProduct {
    pub id: String,
    pub org_id: String,
    pub product: ProductRef,
    pub quantity: Option<i32>,
    pub site: Option<String>,
    pub notes: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set once the manufacturer confirmed the entry: only then does it open TLP:AMBER
    /// advisories about the product (see [`visible_to`]).
    pub confirmed_at: Option<DateTime<Utc>>,
    pub confirmed_by: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct NewInstalledProduct<'a> {
    pub product_id: &'a str,
    pub quantity: Option<i32>,
    pub site: Option<&'a str>,
    pub notes: Option<&'a str>,
}

/// Largest quantity accepted (a typo guard, not a business limit).
pub const MAX_QUANTITY: i32 = 1_000_000;

#[allow(clippy::type_complexity)]
type InstalledTuple = (
    (
        String,
        String,
        Option<i32>,
        Option<String>,
        Option<String>,
        i64,
        i64,
        Option<i64>,
        Option<String>,
    ),
    (
        String,
        String,
        Option<String>,
        Option<String>,
        String,
        Option<String>,
        Option<String>,
    ),
);

fn installed_from(t: InstalledTuple) -> InstalledProduct {
    let (
        (id, org_id, quantity, site, notes, created_at, updated_at, confirmed_at, confirmed_by),
        p,
    ) = t;
    let (pid, maker, vendor, family, name, version, udi_di) = p;
    InstalledProduct {
        id,
        org_id,
        product: ProductRef {
            id: pid,
            manufacturer_org_id: maker,
            vendor,
            family,
            name,
            version,
            udi_di,
        },
        quantity,
        site,
        notes,
        created_at: from_micros(created_at),
        updated_at: from_micros(updated_at),
        confirmed_at: confirmed_at.map(from_micros),
        confirmed_by,
    }
}

macro_rules! installed_select {
    () => {
        (
            (
                installed_base::id,
                installed_base::org_id,
                installed_base::quantity,
                installed_base::site,
                installed_base::notes,
                installed_base::created_at,
                installed_base::updated_at,
                installed_base::confirmed_at,
                installed_base::confirmed_by,
            ),
            (
                products::id,
                products::manufacturer_org_id,
                products::vendor,
                products::family,
                products::name,
                products::version,
                products::udi_di,
            ),
        )
    };
}

/// Adds a catalog product to a hospital's installed base. The product must exist; the same
/// product twice is a conflict (change quantity/site/notes by removing and adding, or later by
/// an update endpoint).
pub fn add_installed_product(
    conn: &mut DbConnection,
    org_id: &str,
    new: &NewInstalledProduct<'_>,
    actor: &str,
) -> Result<InstalledProduct, StorageError> {
    if let Some(q) = new.quantity
        && !(1..=MAX_QUANTITY).contains(&q)
    {
        return Err(StorageError::Invalid(format!(
            "quantity must be between 1 and {MAX_QUANTITY}"
        )));
    }
    let site = optional_text("site", new.site)?;
    let notes = optional_text("notes", new.notes)?;
    let id = new_id();
    write_transaction(conn, |conn| {
        require_kind(conn, org_id, OrgKind::Hospital, "installed base")?;
        let exists: i64 = products::table
            .find(new.product_id)
            .count()
            .get_result(conn)?;
        if exists == 0 {
            return Err(StorageError::Invalid(format!(
                "product {:?} is not in the catalog",
                new.product_id
            )));
        }
        let at = to_micros(now());
        diesel::insert_into(installed_base::table)
            .values((
                installed_base::id.eq(&id),
                installed_base::org_id.eq(org_id),
                installed_base::product_id.eq(new.product_id),
                installed_base::quantity.eq(new.quantity),
                installed_base::site.eq(&site),
                installed_base::notes.eq(&notes),
                installed_base::created_at.eq(at),
                installed_base::updated_at.eq(at),
            ))
            .execute(conn)
            .map_err(|e| match StorageError::from(e) {
                StorageError::Conflict(_) => StorageError::Conflict(format!(
                    "product {} is already in the installed base",
                    new.product_id
                )),
                other => other,
            })?;
        append_audit(
            conn,
            actor,
            "installed_base.add",
            &format!("organization:{org_id}"),
            &serde_json::json!({ "product_id": new.product_id, "quantity": new.quantity }),
        )?;
        get_installed_product(conn, org_id, &id)?.ok_or(StorageError::NotFound)
    })
}

pub fn get_installed_product(
    conn: &mut DbConnection,
    org_id: &str,
    id: &str,
) -> Result<Option<InstalledProduct>, StorageError> {
    let found: Option<InstalledTuple> = installed_base::table
        .inner_join(products::table)
        .filter(installed_base::org_id.eq(org_id))
        .filter(installed_base::id.eq(id))
        .select(installed_select!())
        .first(conn)
        .optional()?;
    Ok(found.map(installed_from))
}

/// The manufacturer confirms an entry of a customer's installed base, which from then on opens
/// TLP:AMBER advisories about that product to the hospital. Confirming twice keeps the first
/// confirmation. The product must be one of `manufacturer_org_id`'s and the hospital its customer.
pub fn confirm_installed_product(
    conn: &mut DbConnection,
    manufacturer_org_id: &str,
    hospital_org_id: &str,
    id: &str,
    actor: &str,
) -> Result<InstalledProduct, StorageError> {
    write_transaction(conn, |conn| {
        let customer: i64 = customers::table
            .filter(customers::manufacturer_org_id.eq(manufacturer_org_id))
            .filter(customers::hospital_org_id.eq(hospital_org_id))
            .count()
            .get_result(conn)?;
        if customer == 0 {
            return Err(StorageError::NotFound);
        }
        let Some(entry) = get_installed_product(conn, hospital_org_id, id)? else {
            return Err(StorageError::NotFound);
        };
        if entry.product.manufacturer_org_id != manufacturer_org_id {
            return Err(StorageError::NotFound);
        }
        if entry.confirmed_at.is_some() {
            return Ok(entry);
        }
        diesel::update(installed_base::table.find(id))
            .set((
                installed_base::confirmed_at.eq(Some(to_micros(now()))),
                installed_base::confirmed_by.eq(Some(actor)),
            ))
            .execute(conn)?;
        append_audit(
            conn,
            actor,
            "installed_base.confirm",
            &format!("organization:{hospital_org_id}"),
            &serde_json::json!({ "entry": id, "product_id": entry.product.id }),
        )?;
        get_installed_product(conn, hospital_org_id, id)?.ok_or(StorageError::NotFound)
    })
}

/// A hospital's installed base, by product name.
pub fn list_installed_base(
    conn: &mut DbConnection,
    org_id: &str,
) -> Result<Vec<InstalledProduct>, StorageError> {
    let rows: Vec<InstalledTuple> = installed_base::table
        .inner_join(products::table)
        .filter(installed_base::org_id.eq(org_id))
        .select(installed_select!())
        .order((products::name.asc(), installed_base::id.asc()))
        .load(conn)?;
    Ok(rows.into_iter().map(installed_from).collect())
}

/// Removes an entry (by its id) from the hospital's installed base; another organization's entry
/// is `NotFound`.
pub fn remove_installed_product(
    conn: &mut DbConnection,
    org_id: &str,
    id: &str,
    actor: &str,
) -> Result<(), StorageError> {
    write_transaction(conn, |conn| {
        let product: Option<String> = installed_base::table
            .filter(installed_base::id.eq(id))
            .filter(installed_base::org_id.eq(org_id))
            .select(installed_base::product_id)
            .first(conn)
            .optional()?;
        let Some(product) = product else {
            return Err(StorageError::NotFound);
        };
        diesel::delete(installed_base::table.find(id)).execute(conn)?;
        append_audit(
            conn,
            actor,
            "installed_base.remove",
            &format!("organization:{org_id}"),
            &serde_json::json!({ "product_id": product }),
        )
    })
}

/// Product ids in each hospital's installed base (organizations without one are absent).
pub fn installed_product_ids(
    conn: &mut DbConnection,
) -> Result<HashMap<String, BTreeSet<String>>, StorageError> {
    let rows: Vec<(String, String)> = installed_base::table
        .select((installed_base::org_id, installed_base::product_id))
        .load(conn)?;
    let mut out: HashMap<String, BTreeSet<String>> = HashMap::new();
    for (org, product) in rows {
        out.entry(org).or_default().insert(product);
    }
    Ok(out)
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

// ---------------------------------------------------------------------------------------------
// subscriptions

/// Notice kinds a subscription may name. The advisory ones are written by [`crate::publish`];
/// the others are reserved for the notices that come next.
pub const NOTICE_KINDS: [&str; 4] = [
    crate::EVENT_ADVISORY_PUBLISHED,
    crate::EVENT_ADVISORY_UPDATED,
    "patch.available",
    "end_of_support",
];

/// What one destination wants. The default (no stored row) is "everything I may read, narrowed
/// to my installed base when I have one", not a security contact.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subscription {
    /// Catalog product ids; with `families`, empty means no product filter.
    pub product_ids: Vec<String>,
    /// Product family names, compared case-insensitively.
    pub families: Vec<String>,
    /// Notice kinds ([`NOTICE_KINDS`]); empty means every kind.
    pub event_kinds: Vec<String>,
    /// Receives critical notices even with `routine_opt_out`.
    pub security_contact: bool,
    /// Receives no routine notices (only critical ones, and only as a security contact).
    pub routine_opt_out: bool,
}

impl Subscription {
    /// Whether the subscription narrows products at all.
    pub fn filters_products(&self) -> bool {
        !self.product_ids.is_empty() || !self.families.is_empty()
    }

    /// Sorted, de-duplicated, validated (product ids are checked against the catalog by
    /// [`set_subscription`]).
    fn normalized(&self) -> Result<Subscription, StorageError> {
        fn clean(field: &str, v: &[String], lower: bool) -> Result<Vec<String>, StorageError> {
            if v.len() > MAX_LIST {
                return Err(StorageError::Invalid(format!(
                    "{field} has more than {MAX_LIST} entries"
                )));
            }
            let mut out = BTreeSet::new();
            for s in v {
                let s = s.trim();
                if s.is_empty() || s.chars().count() > 200 || s.chars().any(char::is_control) {
                    return Err(StorageError::Invalid(format!(
                        "{field}: {s:?} must be 1-200 printable characters"
                    )));
                }
                out.insert(if lower {
                    s.to_lowercase()
                } else {
                    s.to_string()
                });
            }
            Ok(out.into_iter().collect())
        }
        let event_kinds = clean("event_kinds", &self.event_kinds, false)?;
        if let Some(k) = event_kinds
            .iter()
            .find(|k| !NOTICE_KINDS.contains(&k.as_str()))
        {
            return Err(StorageError::Invalid(format!(
                "event_kinds: {k:?} is not one of {}",
                NOTICE_KINDS.join(", ")
            )));
        }
        Ok(Subscription {
            product_ids: clean("product_ids", &self.product_ids, false)?,
            families: clean("families", &self.families, true)?,
            event_kinds,
            security_contact: self.security_contact,
            routine_opt_out: self.routine_opt_out,
        })
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = subscriptions)]
struct SubscriptionRow {
    destination_id: String,
    product_ids: String,
    families: String,
    event_kinds: String,
    security_contact: bool,
    routine_opt_out: bool,
}

impl SubscriptionRow {
    fn into_model(self) -> Result<(String, Subscription), StorageError> {
        Ok((
            self.destination_id,
            Subscription {
                product_ids: from_json("subscriptions.product_ids", &self.product_ids)?,
                families: from_json("subscriptions.families", &self.families)?,
                event_kinds: from_json("subscriptions.event_kinds", &self.event_kinds)?,
                security_contact: self.security_contact,
                routine_opt_out: self.routine_opt_out,
            },
        ))
    }
}

/// The destination's subscription (the default when none is stored). `NotFound` when the
/// destination does not exist.
pub fn get_subscription(
    conn: &mut DbConnection,
    destination_id: &str,
) -> Result<Subscription, StorageError> {
    let exists: i64 = destinations::table
        .find(destination_id)
        .count()
        .get_result(conn)?;
    if exists == 0 {
        return Err(StorageError::NotFound);
    }
    Ok(subscriptions::table
        .find(destination_id)
        .select(SubscriptionRow::as_select())
        .first(conn)
        .optional()?
        .map(SubscriptionRow::into_model)
        .transpose()?
        .map(|(_, s)| s)
        .unwrap_or_default())
}

/// Every stored subscription by destination id (fan-out reads them once per batch).
pub fn all_subscriptions(
    conn: &mut DbConnection,
) -> Result<HashMap<String, Subscription>, StorageError> {
    subscriptions::table
        .select(SubscriptionRow::as_select())
        .load(conn)?
        .into_iter()
        .map(SubscriptionRow::into_model)
        .collect()
}

/// Replaces the destination's subscription. Product ids must be in the catalog.
pub fn set_subscription(
    conn: &mut DbConnection,
    destination_id: &str,
    subscription: &Subscription,
    actor: &str,
) -> Result<Subscription, StorageError> {
    let s = subscription.normalized()?;
    write_transaction(conn, |conn| {
        let exists: i64 = destinations::table
            .find(destination_id)
            .count()
            .get_result(conn)?;
        if exists == 0 {
            return Err(StorageError::NotFound);
        }
        if !s.product_ids.is_empty() {
            let known: i64 = products::table
                .filter(products::id.eq_any(&s.product_ids))
                .count()
                .get_result(conn)?;
            if usize::try_from(known).unwrap_or(0) != s.product_ids.len() {
                let found: Vec<String> = products::table
                    .filter(products::id.eq_any(&s.product_ids))
                    .select(products::id)
                    .load(conn)?;
                let missing: Vec<&String> = s
                    .product_ids
                    .iter()
                    .filter(|p| !found.contains(p))
                    .collect();
                return Err(StorageError::Invalid(format!(
                    "product_ids: not in the catalog: {missing:?}"
                )));
            }
        }
        let at = to_micros(now());
        diesel::delete(subscriptions::table.find(destination_id)).execute(conn)?;
        diesel::insert_into(subscriptions::table)
            .values((
                subscriptions::destination_id.eq(destination_id),
                subscriptions::product_ids.eq(to_json(&s.product_ids)?),
                subscriptions::families.eq(to_json(&s.families)?),
                subscriptions::event_kinds.eq(to_json(&s.event_kinds)?),
                subscriptions::security_contact.eq(s.security_contact),
                subscriptions::routine_opt_out.eq(s.routine_opt_out),
                subscriptions::created_at.eq(at),
                subscriptions::updated_at.eq(at),
            ))
            .execute(conn)?;
        append_audit(
            conn,
            actor,
            "subscription.set",
            &format!("destination:{destination_id}"),
            &serde_json::json!({
                "product_ids": s.product_ids,
                "families": s.families,
                "event_kinds": s.event_kinds,
                "security_contact": s.security_contact,
                "routine_opt_out": s.routine_opt_out,
            }),
        )?;
        Ok(s.clone())
    })
}
