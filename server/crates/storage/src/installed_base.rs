//! A hospital's installed base: per site ([`crate::sites`]) the catalog products it runs (quantity or
//! serial numbers, notes). A hospital declares its own entries, which route its notifications at
//! once; an entry opens TLP:AMBER advisories only once the manufacturer confirmed it
//! ([`confirm_installed_product`], read by [`crate::entitlement::visible_to`]).
//!
//! A serial number is unique per hospital and product (one device cannot run at two sites); the
//! database enforces it, and the functions here say which serial and where it already is.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::customers::{optional_text, require_kind};
use crate::schema::{customers, installed_base, installed_serials, products, sites};
use crate::sites::{DEFAULT_SITE, check_name, ensure_site};
use crate::{
    DbConnection, StorageError, accounts::OrgKind, audit::append_audit, from_micros, new_id, now,
    to_micros, write_transaction,
};

/// Largest quantity accepted (a typo guard, not a business limit).
pub const MAX_QUANTITY: i32 = 1_000_000;
/// Most serial numbers one entry lists.
pub const MAX_SERIALS: usize = 10_000;
/// Longest serial number (characters).
pub const MAX_SERIAL_LEN: usize = 100;

// ---------------------------------------------------------------------------------------------
// entries

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

/// One entry of the installed base: a catalog product (a version of it) at one site.
#[derive(Debug, Clone, PartialEq)]
pub struct InstalledProduct {
    pub id: String,
    pub org_id: String,
    pub site_id: String,
    pub site_name: String,
    pub product: ProductRef,
    /// Units without listed serial numbers; with serials, their count.
    pub quantity: Option<i32>,
    /// Serial numbers, sorted.
    pub serials: Vec<String>,
    pub notes: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set once the manufacturer confirmed the entry: only then does it open TLP:AMBER
    /// advisories about the product (see [`crate::entitlement::visible_to`]).
    pub confirmed_at: Option<DateTime<Utc>>,
    pub confirmed_by: Option<String>,
}

impl InstalledProduct {
    /// How many devices the entry stands for: its serials, else its quantity, else one.
    pub fn devices(&self) -> i64 {
        device_count(self.serials.len(), self.quantity)
    }
}

/// Devices an entry stands for (see [`InstalledProduct::devices`]).
pub fn device_count(serials: usize, quantity: Option<i32>) -> i64 {
    if serials > 0 {
        i64::try_from(serials).unwrap_or(i64::MAX)
    } else {
        i64::from(quantity.unwrap_or(1))
    }
}

/// A product added by the older one-row-per-product interface: `site` by name (created when
/// missing, [`DEFAULT_SITE`] when absent).
#[derive(Debug, Clone, Default)]
pub struct NewInstalledProduct<'a> {
    pub product_id: &'a str,
    pub quantity: Option<i32>,
    pub site: Option<&'a str>,
    pub notes: Option<&'a str>,
}

/// A new entry at a site of the hospital.
#[derive(Debug, Clone, Default)]
pub struct EntryInput {
    pub site_id: String,
    pub product_id: String,
    pub quantity: Option<i32>,
    pub serials: Vec<String>,
    pub notes: Option<String>,
}

/// A change to an entry: quantity, serials and notes (the product and site stay; move a device
/// by removing and adding).
#[derive(Debug, Clone, Default)]
pub struct EntryUpdate {
    pub quantity: Option<i32>,
    pub serials: Vec<String>,
    pub notes: Option<String>,
}

/// Checks serial numbers (printable, at most [`MAX_SERIAL_LEN`], none twice) and a quantity
/// against them; returns the sorted serials and the quantity to store.
pub fn check_serials_and_quantity(
    serials: &[String],
    quantity: Option<i32>,
) -> Result<(Vec<String>, Option<i32>), StorageError> {
    if serials.len() > MAX_SERIALS {
        return Err(StorageError::Invalid(format!(
            "serials: more than {MAX_SERIALS} serial numbers in one entry"
        )));
    }
    let mut seen = BTreeSet::new();
    for s in serials {
        let s = s.trim();
        if s.is_empty() || s.chars().count() > MAX_SERIAL_LEN || s.chars().any(char::is_control) {
            return Err(StorageError::Invalid(format!(
                "serials: {s:?} must be 1-{MAX_SERIAL_LEN} printable characters"
            )));
        }
        if !seen.insert(s.to_string()) {
            return Err(StorageError::Invalid(format!(
                "serials: {s:?} is listed twice"
            )));
        }
    }
    if let Some(q) = quantity
        && !(1..=MAX_QUANTITY).contains(&q)
    {
        return Err(StorageError::Invalid(format!(
            "quantity: must be between 1 and {MAX_QUANTITY}"
        )));
    }
    let quantity = if seen.is_empty() {
        quantity
    } else {
        let n = i32::try_from(seen.len()).unwrap_or(i32::MAX);
        if quantity.is_some_and(|q| q != n) {
            return Err(StorageError::Invalid(format!(
                "quantity: {} given but {n} serial numbers listed",
                quantity.unwrap_or_default()
            )));
        }
        Some(n)
    };
    Ok((seen.into_iter().collect(), quantity))
}

#[allow(clippy::type_complexity)]
type InstalledTuple = (
    (
        String,
        String,
        String,
        Option<i32>,
        Option<String>,
        i64,
        i64,
        Option<i64>,
        Option<String>,
    ),
    String,
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

fn installed_from(t: InstalledTuple, serials: Vec<String>) -> InstalledProduct {
    let (
        (id, org_id, site_id, quantity, notes, created_at, updated_at, confirmed_at, confirmed_by),
        site_name,
        p,
    ) = t;
    let (pid, maker, vendor, family, name, version, udi_di) = p;
    InstalledProduct {
        id,
        org_id,
        site_id,
        site_name,
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
        serials,
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
                installed_base::site_id,
                installed_base::quantity,
                installed_base::notes,
                installed_base::created_at,
                installed_base::updated_at,
                installed_base::confirmed_at,
                installed_base::confirmed_by,
            ),
            sites::name,
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

/// Stores the serials of an entry; a serial of this product already at another entry of the
/// hospital is a conflict naming it and where it is.
fn insert_serials(
    conn: &mut DbConnection,
    org_id: &str,
    product_id: &str,
    entry_id: &str,
    serials: &[String],
) -> Result<(), StorageError> {
    if serials.is_empty() {
        return Ok(());
    }
    for chunk in serials.chunks(500) {
        let taken: Vec<(String, String)> = installed_serials::table
            .inner_join(installed_base::table.inner_join(sites::table))
            .filter(installed_serials::org_id.eq(org_id))
            .filter(installed_serials::product_id.eq(product_id))
            .filter(installed_serials::serial.eq_any(chunk))
            .filter(installed_serials::entry_id.ne(entry_id))
            .select((installed_serials::serial, sites::name))
            .load(conn)?;
        if let Some((serial, site)) = taken.into_iter().next() {
            return Err(StorageError::Conflict(format!(
                "serials: {serial:?} of this product is already in the installed base at site {site:?}"
            )));
        }
        let rows: Vec<_> = chunk
            .iter()
            .map(|s| {
                (
                    installed_serials::org_id.eq(org_id),
                    installed_serials::product_id.eq(product_id),
                    installed_serials::serial.eq(s),
                    installed_serials::entry_id.eq(entry_id),
                )
            })
            .collect();
        // Per backend: diesel's multi-row insert is not available through the multi-backend
        // connection.
        let insert = diesel::insert_into(installed_serials::table).values(rows);
        match conn {
            DbConnection::Sqlite(c) => insert.execute(c)?,
            DbConnection::Postgres(c) => insert.execute(c)?,
        };
    }
    Ok(())
}

/// Adds an entry inside the caller's transaction; the input is checked here. Used by
/// [`add_entry`] and by the CSV import, which writes every row in one transaction.
pub fn insert_entry(
    conn: &mut DbConnection,
    org_id: &str,
    input: &EntryInput,
    actor: &str,
) -> Result<String, StorageError> {
    let (serials, quantity) = check_serials_and_quantity(&input.serials, input.quantity)?;
    let notes = optional_text("notes", input.notes.as_deref())?;
    let site_name: Option<String> = sites::table
        .filter(sites::org_id.eq(org_id))
        .filter(sites::id.eq(&input.site_id))
        .select(sites::name)
        .first(conn)
        .optional()?;
    let Some(site_name) = site_name else {
        return Err(StorageError::Invalid(format!(
            "site_id: {:?} is not one of this hospital's sites",
            input.site_id
        )));
    };
    let exists: i64 = products::table
        .find(&input.product_id)
        .count()
        .get_result(conn)?;
    if exists == 0 {
        return Err(StorageError::Invalid(format!(
            "product_id: {:?} is not in the catalog",
            input.product_id
        )));
    }
    let id = new_id();
    let at = to_micros(now());
    diesel::insert_into(installed_base::table)
        .values((
            installed_base::id.eq(&id),
            installed_base::org_id.eq(org_id),
            installed_base::site_id.eq(&input.site_id),
            installed_base::product_id.eq(&input.product_id),
            installed_base::quantity.eq(quantity),
            installed_base::notes.eq(&notes),
            installed_base::created_at.eq(at),
            installed_base::updated_at.eq(at),
        ))
        .execute(conn)
        .map_err(|e| match StorageError::from(e) {
            StorageError::Conflict(_) => StorageError::Conflict(format!(
                "product {} is already in the installed base at site {site_name:?}",
                input.product_id
            )),
            other => other,
        })?;
    insert_serials(conn, org_id, &input.product_id, &id, &serials)?;
    append_audit(
        conn,
        actor,
        "installed_base.add",
        &format!("organization:{org_id}"),
        &serde_json::json!({
            "entry": id, "site_id": input.site_id, "product_id": input.product_id,
            "quantity": quantity, "serials": serials.len(),
        }),
    )?;
    Ok(id)
}

/// Adds a catalog product at one of the hospital's sites. The same product twice at one site
/// is a conflict; so is a serial number the hospital already has for this product.
pub fn add_entry(
    conn: &mut DbConnection,
    org_id: &str,
    input: &EntryInput,
    actor: &str,
) -> Result<InstalledProduct, StorageError> {
    write_transaction(conn, |conn| {
        require_kind(conn, org_id, OrgKind::Hospital, "installed base")?;
        let id = insert_entry(conn, org_id, input, actor)?;
        get_installed_product(conn, org_id, &id)?.ok_or(StorageError::NotFound)
    })
}

/// Adds a catalog product to a hospital's installed base at the site named `new.site` (created
/// when missing; [`DEFAULT_SITE`] when absent).
pub fn add_installed_product(
    conn: &mut DbConnection,
    org_id: &str,
    new: &NewInstalledProduct<'_>,
    actor: &str,
) -> Result<InstalledProduct, StorageError> {
    let site = new
        .site
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or(DEFAULT_SITE);
    // The site's name is checked like any other site's (the older interface took 2,000
    // characters of free text; a site is now a name).
    check_name("site", site)?;
    write_transaction(conn, |conn| {
        require_kind(conn, org_id, OrgKind::Hospital, "installed base")?;
        let site = ensure_site(conn, org_id, site, actor)?;
        let id = insert_entry(
            conn,
            org_id,
            &EntryInput {
                site_id: site.id,
                product_id: new.product_id.to_string(),
                quantity: new.quantity,
                serials: Vec::new(),
                notes: new.notes.map(str::to_string),
            },
            actor,
        )
        .map_err(|e| match e {
            // The older interface names the product without the field prefix.
            StorageError::Invalid(m) if m.starts_with("product_id: ") => {
                StorageError::Invalid(format!("product {}", &m["product_id: ".len()..]))
            }
            other => other,
        })?;
        get_installed_product(conn, org_id, &id)?.ok_or(StorageError::NotFound)
    })
}

/// Changes an entry's quantity, serials and notes. Confirmation stays (the product is the same).
pub fn update_entry(
    conn: &mut DbConnection,
    org_id: &str,
    entry_id: &str,
    update: &EntryUpdate,
    actor: &str,
) -> Result<InstalledProduct, StorageError> {
    let (serials, quantity) = check_serials_and_quantity(&update.serials, update.quantity)?;
    let notes = optional_text("notes", update.notes.as_deref())?;
    write_transaction(conn, |conn| {
        let Some(entry) = get_installed_product(conn, org_id, entry_id)? else {
            return Err(StorageError::NotFound);
        };
        diesel::delete(installed_serials::table.filter(installed_serials::entry_id.eq(entry_id)))
            .execute(conn)?;
        insert_serials(conn, org_id, &entry.product.id, entry_id, &serials)?;
        diesel::update(installed_base::table.find(entry_id))
            .set((
                installed_base::quantity.eq(quantity),
                installed_base::notes.eq(&notes),
                installed_base::updated_at.eq(to_micros(now())),
            ))
            .execute(conn)?;
        append_audit(
            conn,
            actor,
            "installed_base.update",
            &format!("organization:{org_id}"),
            &serde_json::json!({ "entry": entry_id, "quantity": quantity, "serials": serials.len() }),
        )?;
        get_installed_product(conn, org_id, entry_id)?.ok_or(StorageError::NotFound)
    })
}

/// Serial numbers of the given entries, by entry id.
fn serials_of(
    conn: &mut DbConnection,
    org_id: &str,
    entry_ids: Option<&[String]>,
) -> Result<HashMap<String, Vec<String>>, StorageError> {
    let mut q = installed_serials::table
        .filter(installed_serials::org_id.eq(org_id))
        .select((installed_serials::entry_id, installed_serials::serial))
        .order((
            installed_serials::entry_id.asc(),
            installed_serials::serial.asc(),
        ))
        .into_boxed();
    if let Some(ids) = entry_ids {
        q = q.filter(installed_serials::entry_id.eq_any(ids.to_vec()));
    }
    let rows: Vec<(String, String)> = q.load(conn)?;
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for (entry, serial) in rows {
        out.entry(entry).or_default().push(serial);
    }
    Ok(out)
}

pub fn get_installed_product(
    conn: &mut DbConnection,
    org_id: &str,
    id: &str,
) -> Result<Option<InstalledProduct>, StorageError> {
    let found: Option<InstalledTuple> = installed_base::table
        .inner_join(products::table)
        .inner_join(sites::table)
        .filter(installed_base::org_id.eq(org_id))
        .filter(installed_base::id.eq(id))
        .select(installed_select!())
        .first(conn)
        .optional()?;
    let Some(t) = found else { return Ok(None) };
    let mut serials = serials_of(conn, org_id, Some(&[id.to_string()]))?;
    Ok(Some(installed_from(
        t,
        serials.remove(id).unwrap_or_default(),
    )))
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

/// A hospital's installed base, by site name then product name.
pub fn list_installed_base(
    conn: &mut DbConnection,
    org_id: &str,
) -> Result<Vec<InstalledProduct>, StorageError> {
    let rows: Vec<InstalledTuple> = installed_base::table
        .inner_join(products::table)
        .inner_join(sites::table)
        .filter(installed_base::org_id.eq(org_id))
        .select(installed_select!())
        .order((
            sites::name.asc(),
            products::name.asc(),
            products::version.asc(),
            installed_base::id.asc(),
        ))
        .load(conn)?;
    let mut serials = serials_of(conn, org_id, None)?;
    Ok(rows
        .into_iter()
        .map(|t| {
            let s = serials.remove(&t.0.0).unwrap_or_default();
            installed_from(t, s)
        })
        .collect())
}

/// Removes an entry (by its id) from the hospital's installed base, serials included; another
/// organization's entry is `NotFound`.
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
        diesel::delete(installed_serials::table.filter(installed_serials::entry_id.eq(id)))
            .execute(conn)?;
        diesel::delete(installed_base::table.find(id)).execute(conn)?;
        append_audit(
            conn,
            actor,
            "installed_base.remove",
            &format!("organization:{org_id}"),
            &serde_json::json!({ "entry": id, "product_id": product }),
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

/// Devices per (site, product) of one hospital, the serial count or quantity of each entry:
/// what the home page and the manufacturer's uptake count exposure from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCount {
    pub org_id: String,
    pub site_id: String,
    pub product_id: String,
    pub devices: i64,
}

/// [`DeviceCount`]s of one hospital (`Some`) or of every hospital, optionally only for some
/// products.
pub fn device_counts(
    conn: &mut DbConnection,
    org_id: Option<&str>,
    product_ids: Option<&[String]>,
) -> Result<Vec<DeviceCount>, StorageError> {
    let mut q = installed_base::table
        .select((
            installed_base::id,
            installed_base::org_id,
            installed_base::site_id,
            installed_base::product_id,
            installed_base::quantity,
        ))
        .into_boxed();
    if let Some(org) = org_id {
        q = q.filter(installed_base::org_id.eq(org.to_string()));
    }
    if let Some(ids) = product_ids {
        q = q.filter(installed_base::product_id.eq_any(ids.to_vec()));
    }
    let rows: Vec<(String, String, String, String, Option<i32>)> = q.load(conn)?;
    let mut sq = installed_serials::table
        .select(installed_serials::entry_id)
        .into_boxed();
    if let Some(org) = org_id {
        sq = sq.filter(installed_serials::org_id.eq(org.to_string()));
    }
    if let Some(ids) = product_ids {
        sq = sq.filter(installed_serials::product_id.eq_any(ids.to_vec()));
    }
    let mut serials: HashMap<String, i64> = HashMap::new();
    for entry in sq.load::<String>(conn)? {
        *serials.entry(entry).or_default() += 1;
    }
    Ok(rows
        .into_iter()
        .map(|(id, org_id, site_id, product_id, quantity)| {
            let n = serials.get(&id).copied().unwrap_or(0);
            DeviceCount {
                org_id,
                site_id,
                product_id,
                devices: device_count(usize::try_from(n).unwrap_or(0), quantity),
            }
        })
        .collect())
}
