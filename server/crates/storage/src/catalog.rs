//! The manufacturer's product catalog: the `products` rows (filled from imported product trees
//! by [`crate::advisories::publish`] and edited here), read flat ([`list_products`]) or as the tree
//! vendor → family → product → versions ([`catalog_tree`]), and which of them a reader may see
//! ([`list_products_for_reader`]).
//!
//! An entry's identity is vendor, family, name and version compared case-insensitively (the
//! `product_key` column, unique per manufacturer), the same key publishing uses, so a product
//! added by hand and later named by an advisory is one entry. Identifiers are checked before
//! anything is written:
//! * CPE: a CPE 2.3 formatted string (NISTIR 7695 §6.2: `cpe:2.3:` and eleven components);
//! * PURL: parsed by the `packageurl` crate (the purl specification's reference parser in Rust);
//! * UDI-DI: a GS1 GTIN (8, 12, 13 or 14 digits, check digit verified, stored as GTIN-14, the
//!   form publishing extracts from GS1 Digital Link URIs) or a HIBCC labeler code form
//!   (`+`, labeler id, product number, unit of measure digit). No two entries of a manufacturer
//!   share a UDI-DI, since it names exactly one device model.

use std::str::FromStr;

use diesel::prelude::*;

use crate::schema::{advisories, advisory_products, entitlement_grants, installed_base, products};
use crate::{
    DbConnection, StorageError, accounts::OrgKind, accounts::find_organization,
    audit::append_audit, entitlement::Reader, new_id, now, to_micros, write_transaction,
};

/// Longest vendor, family, name or version accepted.
pub const MAX_CATALOG_TEXT: usize = 200;
/// Longest CPE or PURL accepted.
pub const MAX_IDENTIFIER: usize = 1000;

/// A product of a manufacturer's catalog (one version of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogProduct {
    pub id: String,
    pub vendor: Option<String>,
    pub family: Option<String>,
    pub name: String,
    pub version: Option<String>,
    /// GTIN-14 (GS1) or HIBCC UDI-DI.
    pub udi_di: Option<String>,
    pub cpe: Option<String>,
    pub purl: Option<String>,
}

/// An entry as a form or the API gives it: empty strings count as absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogEntry {
    pub vendor: Option<String>,
    pub family: Option<String>,
    pub name: String,
    pub version: Option<String>,
    pub udi_di: Option<String>,
    pub cpe: Option<String>,
    pub purl: Option<String>,
}

/// The catalog key of a product: vendor, family, name and version, trimmed and lower-cased.
/// Publishing ([`crate::advisories::publish`]) and the catalog both use it, so they agree on identity.
pub(crate) fn catalog_key(
    vendor: Option<&str>,
    family: Option<&str>,
    name: &str,
    version: Option<&str>,
) -> String {
    [
        vendor.unwrap_or(""),
        family.unwrap_or(""),
        name,
        version.unwrap_or(""),
    ]
    .iter()
    .map(|s| s.trim().to_lowercase())
    .collect::<Vec<_>>()
    .join("\u{1f}")
}

pub(crate) type Row = (
    String,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

macro_rules! catalog_select {
    () => {
        (
            products::id,
            products::vendor,
            products::family,
            products::name,
            products::version,
            products::udi_di,
            products::cpe,
            products::purl,
        )
    };
}
pub(crate) use catalog_select;

pub(crate) fn from_row(r: Row) -> CatalogProduct {
    let (id, vendor, family, name, version, udi_di, cpe, purl) = r;
    CatalogProduct {
        id,
        vendor,
        family,
        name,
        version,
        udi_di,
        cpe,
        purl,
    }
}

/// Sorts the way the tree shows them: vendor, family, name (case-insensitive), then version.
fn sort(products: &mut [CatalogProduct]) {
    let key = |p: &CatalogProduct| {
        (
            p.vendor.as_deref().unwrap_or("").to_lowercase(),
            p.family.as_deref().unwrap_or("").to_lowercase(),
            p.name.to_lowercase(),
            p.version.as_deref().unwrap_or("").to_lowercase(),
            p.id.clone(),
        )
    };
    products.sort_by_key(key);
}

/// Every product of the manufacturer's catalog, ordered by vendor, family, name and version.
pub fn list_products(
    conn: &mut DbConnection,
    manufacturer_org_id: &str,
) -> Result<Vec<CatalogProduct>, StorageError> {
    let rows: Vec<Row> = products::table
        .filter(products::manufacturer_org_id.eq(manufacturer_org_id))
        .select(catalog_select!())
        .load(conn)?;
    let mut out: Vec<CatalogProduct> = rows.into_iter().map(from_row).collect();
    sort(&mut out);
    Ok(out)
}

/// One product of the manufacturer's catalog; `None` when it does not exist or belongs to
/// another manufacturer.
pub fn get_catalog_product(
    conn: &mut DbConnection,
    manufacturer_org_id: &str,
    id: &str,
) -> Result<Option<CatalogProduct>, StorageError> {
    let row: Option<Row> = products::table
        .filter(products::manufacturer_org_id.eq(manufacturer_org_id))
        .filter(products::id.eq(id))
        .select(catalog_select!())
        .first(conn)
        .optional()?;
    Ok(row.map(from_row))
}

/// The catalog products `reader` may see, ordered as [`list_products`]:
/// * a manufacturer: its whole catalog;
/// * a hospital: the products named by an advisory it may read ([`crate::entitlement::visible_to`]), the
///   products of its own installed base (it declared them) and the products granted to it. A
///   product named only in TLP:AMBER or TLP:RED advisories it is not entitled to stays hidden,
///   since a product's name (an unreleased model, a version with a known issue) can itself be
///   restricted information; so does a product added by hand that no advisory names yet;
/// * anonymous: the products named by TLP:WHITE advisories.
pub fn list_products_for_reader(
    conn: &mut DbConnection,
    reader: &Reader,
) -> Result<Vec<CatalogProduct>, StorageError> {
    if let Reader::Manufacturer { org_id } = reader {
        return list_products(conn, org_id);
    }
    // Not one query with OR'ed subqueries: diesel's multi-backend connection cannot nest a
    // boxed query, so each source of visibility is its own IN (...) and the results are merged.
    let named = advisory_products::table
        .inner_join(advisories::table)
        .filter(crate::entitlement::visible_to(reader, None))
        .select(advisory_products::product_id);
    let mut rows: Vec<Row> = products::table
        .filter(products::id.eq_any(named))
        .select(catalog_select!())
        .load(conn)?;
    if let Reader::Hospital { org_id } = reader {
        let installed = installed_base::table
            .filter(installed_base::org_id.eq(org_id.clone()))
            .select(installed_base::product_id);
        rows.extend(
            products::table
                .filter(products::id.eq_any(installed))
                .select(catalog_select!())
                .load::<Row>(conn)?,
        );
        let granted = entitlement_grants::table
            .filter(entitlement_grants::hospital_org_id.eq(org_id.clone()))
            .filter(entitlement_grants::product_id.is_not_null())
            .select(entitlement_grants::product_id.assume_not_null());
        rows.extend(
            products::table
                .filter(products::id.eq_any(granted))
                .select(catalog_select!())
                .load::<Row>(conn)?,
        );
    }
    let mut out: Vec<CatalogProduct> = rows.into_iter().map(from_row).collect();
    sort(&mut out);
    out.dedup_by(|a, b| a.id == b.id);
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// the tree

/// Vendor → families → products → versions, as the catalog page and the API show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorNode {
    /// `None`: entries without a vendor.
    pub vendor: Option<String>,
    pub families: Vec<FamilyNode>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyNode {
    /// `None`: entries without a family.
    pub family: Option<String>,
    pub products: Vec<ProductNode>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductNode {
    pub name: String,
    /// One catalog entry per version (an entry without a version has `version: None`).
    pub versions: Vec<CatalogProduct>,
}

/// Groups products (in any order) into the tree, each level sorted case-insensitively. Names
/// that differ only in case are one node, shown as the first entry spells them.
pub fn catalog_tree(products: &[CatalogProduct]) -> Vec<VendorNode> {
    let mut sorted = products.to_vec();
    sort(&mut sorted);
    let same = |a: &Option<String>, b: &Option<String>| {
        a.as_deref().map(str::to_lowercase) == b.as_deref().map(str::to_lowercase)
    };
    let mut tree: Vec<VendorNode> = Vec::new();
    for p in sorted {
        if !tree.last().is_some_and(|v| same(&v.vendor, &p.vendor)) {
            tree.push(VendorNode {
                vendor: p.vendor.clone(),
                families: Vec::new(),
            });
        }
        let Some(vendor) = tree.last_mut() else {
            continue;
        };
        if !vendor
            .families
            .last()
            .is_some_and(|f| same(&f.family, &p.family))
        {
            vendor.families.push(FamilyNode {
                family: p.family.clone(),
                products: Vec::new(),
            });
        }
        let Some(family) = vendor.families.last_mut() else {
            continue;
        };
        if family
            .products
            .last()
            .is_none_or(|n| n.name.to_lowercase() != p.name.to_lowercase())
        {
            family.products.push(ProductNode {
                name: p.name.clone(),
                versions: Vec::new(),
            });
        }
        if let Some(node) = family.products.last_mut() {
            node.versions.push(p);
        }
    }
    tree
}

// ---------------------------------------------------------------------------------------------
// checks

fn text(field: &str, v: Option<&str>, max: usize) -> Result<Option<String>, StorageError> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) if s.chars().count() > max => Err(StorageError::Invalid(format!(
            "{field} is longer than {max} characters"
        ))),
        Some(s) if s.chars().any(char::is_control) => Err(StorageError::Invalid(format!(
            "{field} contains control characters"
        ))),
        other => Ok(other.map(str::to_string)),
    }
}

/// The entry with its fields trimmed, empty ones dropped and every identifier checked (UDI-DI
/// normalised to GTIN-14 when it is a GTIN); the error names the field.
pub fn check_catalog_entry(entry: &CatalogEntry) -> Result<CatalogEntry, StorageError> {
    let name = text("name", Some(&entry.name), MAX_CATALOG_TEXT)?
        .ok_or_else(|| StorageError::Invalid("name is required".into()))?;
    let udi_di = match text("udi_di", entry.udi_di.as_deref(), 64)? {
        None => None,
        Some(u) => {
            Some(check_udi_di(&u).map_err(|m| StorageError::Invalid(format!("udi_di: {m}")))?)
        }
    };
    let cpe = text("cpe", entry.cpe.as_deref(), MAX_IDENTIFIER)?;
    if let Some(c) = &cpe {
        check_cpe23(c).map_err(|m| StorageError::Invalid(format!("cpe: {m}")))?;
    }
    let purl = text("purl", entry.purl.as_deref(), MAX_IDENTIFIER)?;
    if let Some(p) = &purl {
        check_purl(p).map_err(|m| StorageError::Invalid(format!("purl: {m}")))?;
    }
    Ok(CatalogEntry {
        vendor: text("vendor", entry.vendor.as_deref(), MAX_CATALOG_TEXT)?,
        family: text("family", entry.family.as_deref(), MAX_CATALOG_TEXT)?,
        name,
        version: text("version", entry.version.as_deref(), MAX_CATALOG_TEXT)?,
        udi_di,
        cpe,
        purl,
    })
}

/// A UDI-DI: a GS1 GTIN with a valid check digit (returned as GTIN-14), or a HIBCC labeler
/// code form `+LLLLP…U` (returned upper-cased).
pub fn check_udi_di(s: &str) -> Result<String, String> {
    if s.bytes().all(|b| b.is_ascii_digit()) {
        if !matches!(s.len(), 8 | 12 | 13 | 14) {
            return Err(format!(
                "{s:?} has {} digits; a GS1 GTIN has 8, 12, 13 or 14",
                s.len()
            ));
        }
        let gtin = format!("{s:0>14}");
        let d: Vec<u32> = gtin.bytes().map(|b| u32::from(b - b'0')).collect();
        let sum: u32 = d[..13]
            .iter()
            .enumerate()
            .map(|(i, x)| if i % 2 == 0 { x * 3 } else { *x })
            .sum();
        let check = (10 - sum % 10) % 10;
        if check != d[13] {
            return Err(format!(
                "{s:?} is not a valid GS1 GTIN: the check digit should be {check}"
            ));
        }
        return Ok(gtin);
    }
    if let Some(rest) = s.strip_prefix('+') {
        let rest = rest.to_ascii_uppercase();
        let b = rest.as_bytes();
        // Labeler id: a letter and three alphanumerics; product number: 1-18 alphanumerics;
        // unit of measure: one digit.
        let ok = b.len() >= 6
            && b.len() <= 23
            && b[0].is_ascii_alphabetic()
            && b.iter().all(u8::is_ascii_alphanumeric)
            && b[b.len() - 1].is_ascii_digit();
        if ok {
            return Ok(format!("+{rest}"));
        }
        return Err(format!(
            "{s:?} is not a HIBCC UDI-DI (+, a 4-character labeler id starting with a letter, a product number of 1-18 letters or digits, a unit-of-measure digit)"
        ));
    }
    Err(format!(
        "{s:?} is neither a GS1 GTIN (digits only) nor a HIBCC UDI-DI (starting with +)"
    ))
}

/// A PURL as the purl specification parses it: `pkg:type/namespace/name@version?qualifiers#subpath`.
pub fn check_purl(s: &str) -> Result<(), String> {
    packageurl::PackageUrl::from_str(s)
        .map(|_| ())
        .map_err(|e| format!("{s:?} is not a package URL: {e}"))
}

/// A CPE 2.3 formatted string (NISTIR 7695 §6.2): `cpe:2.3:` then part (`a`, `h`, `o`), vendor,
/// product, version, update, edition, language, sw_edition, target_sw, target_hw and other,
/// each `*` (any), `-` (not applicable) or a value of letters, digits, `-`, `.`, `_` and
/// backslash-escaped punctuation, with `?`/`*` wildcards only at its start or end.
pub fn check_cpe23(s: &str) -> Result<(), String> {
    let Some(rest) = s.strip_prefix("cpe:2.3:") else {
        return Err(format!("{s:?} does not start with cpe:2.3:"));
    };
    // Split on colons that are not escaped; an escape covers exactly the next character.
    let mut parts: Vec<String> = vec![String::new()];
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(next) = chars.next() else {
                    return Err(format!("{s:?} ends with a lone backslash"));
                };
                if let Some(last) = parts.last_mut() {
                    last.push('\\');
                    last.push(next);
                }
            }
            ':' => parts.push(String::new()),
            c => {
                if let Some(last) = parts.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    if parts.len() != 11 {
        return Err(format!(
            "{s:?} has {} components after cpe:2.3:; CPE 2.3 has 11 (part, vendor, product, version, update, edition, language, sw_edition, target_sw, target_hw, other)",
            parts.len()
        ));
    }
    const NAMES: [&str; 11] = [
        "part",
        "vendor",
        "product",
        "version",
        "update",
        "edition",
        "language",
        "sw_edition",
        "target_sw",
        "target_hw",
        "other",
    ];
    if !matches!(parts[0].as_str(), "a" | "h" | "o" | "*" | "-") {
        return Err(format!(
            "part {:?} must be a (application), h (hardware) or o (operating system)",
            parts[0]
        ));
    }
    for (i, value) in parts.iter().enumerate().skip(1) {
        let ok = if i == 6 {
            value == "*" || value == "-" || language(value)
        } else {
            avstring(value)
        };
        if !ok {
            return Err(format!(
                "{} {value:?} is not a CPE 2.3 value ('*', '-', or letters, digits, '-', '.', '_' and backslash-escaped punctuation)",
                NAMES[i]
            ));
        }
    }
    Ok(())
}

/// A CPE 2.3 language tag: two or three letters, optionally `-` and a two-letter region or a
/// three-digit area code.
fn language(v: &str) -> bool {
    let (lang, region) = match v.split_once("\\-") {
        Some((l, r)) => (l, Some(r)),
        None => (v, None),
    };
    (2..=3).contains(&lang.len())
        && lang.bytes().all(|b| b.is_ascii_alphabetic())
        && region.is_none_or(|r| {
            (r.len() == 2 && r.bytes().all(|b| b.is_ascii_alphabetic()))
                || (r.len() == 3 && r.bytes().all(|b| b.is_ascii_digit()))
        })
}

/// One attribute value of the formatted string binding (`avstring`).
fn avstring(v: &str) -> bool {
    if v == "*" || v == "-" {
        return true;
    }
    let b = v.as_bytes();
    // Leading wildcards: one `*` or a run of `?`.
    let mut start = 0;
    if b.first() == Some(&b'*') {
        start = 1;
    } else {
        while start < b.len() && b[start] == b'?' {
            start += 1;
        }
    }
    // Trailing wildcards, unless escaped.
    let mut end = b.len();
    let escaped_at = |i: usize| {
        let mut n = 0;
        let mut j = i;
        while j > 0 && b[j - 1] == b'\\' {
            n += 1;
            j -= 1;
        }
        n % 2 == 1
    };
    if end > start && b[end - 1] == b'*' && !escaped_at(end - 1) {
        end -= 1;
    } else {
        while end > start && b[end - 1] == b'?' && !escaped_at(end - 1) {
            end -= 1;
        }
    }
    if start >= end {
        return false;
    }
    let body = &b[start..end];
    let mut i = 0;
    while i < body.len() {
        let c = body[i];
        if c == b'\\' {
            match body.get(i + 1) {
                Some(n) if n.is_ascii_punctuation() => i += 2,
                _ => return false,
            }
        } else if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_') {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

// ---------------------------------------------------------------------------------------------
// writing

fn require_manufacturer(conn: &mut DbConnection, org_id: &str) -> Result<(), StorageError> {
    match find_organization(conn, org_id)? {
        Some(org) if org.kind == OrgKind::Manufacturer => Ok(()),
        _ => Err(StorageError::Invalid(format!(
            "catalog: organization {org_id} is not a manufacturer"
        ))),
    }
}

/// Refuses an entry whose identity or UDI-DI another product of the manufacturer already has.
fn refuse_duplicates(
    conn: &mut DbConnection,
    org_id: &str,
    key: &str,
    entry: &CatalogEntry,
    except_id: Option<&str>,
) -> Result<(), StorageError> {
    let same_key: Option<String> = products::table
        .filter(products::manufacturer_org_id.eq(org_id))
        .filter(products::product_key.eq(key))
        .select(products::id)
        .first(conn)
        .optional()?;
    if let Some(id) = same_key.filter(|id| Some(id.as_str()) != except_id) {
        return Err(StorageError::Conflict(format!(
            "the catalog already has this vendor, family, name and version (product {id})"
        )));
    }
    if let Some(udi) = &entry.udi_di {
        let same_udi: Option<String> = products::table
            .filter(products::manufacturer_org_id.eq(org_id))
            .filter(products::udi_di.eq(udi))
            .select(products::id)
            .first(conn)
            .optional()?;
        if let Some(id) = same_udi.filter(|id| Some(id.as_str()) != except_id) {
            return Err(StorageError::Conflict(format!(
                "UDI-DI {udi} already belongs to product {id}"
            )));
        }
    }
    Ok(())
}

/// Unique-key violations that slip past [`refuse_duplicates`] (a concurrent insert) read as the
/// same conflict.
fn conflict_on_key(e: diesel::result::Error) -> StorageError {
    match StorageError::from(e) {
        StorageError::Conflict(_) => StorageError::Conflict(
            "the catalog already has this vendor, family, name and version".into(),
        ),
        other => other,
    }
}

/// Adds a product to the manufacturer's catalog after [`check_catalog_entry`]; a duplicate
/// (same identity or UDI-DI) is a [`StorageError::Conflict`] and nothing is written.
pub fn create_catalog_product(
    conn: &mut DbConnection,
    manufacturer_org_id: &str,
    entry: &CatalogEntry,
    actor: &str,
) -> Result<CatalogProduct, StorageError> {
    let entry = check_catalog_entry(entry)?;
    let key = catalog_key(
        entry.vendor.as_deref(),
        entry.family.as_deref(),
        &entry.name,
        entry.version.as_deref(),
    );
    let id = new_id();
    write_transaction(conn, |conn| {
        require_manufacturer(conn, manufacturer_org_id)?;
        refuse_duplicates(conn, manufacturer_org_id, &key, &entry, None)?;
        diesel::insert_into(products::table)
            .values((
                products::id.eq(&id),
                products::manufacturer_org_id.eq(manufacturer_org_id),
                products::product_key.eq(&key),
                products::vendor.eq(&entry.vendor),
                products::family.eq(&entry.family),
                products::name.eq(&entry.name),
                products::version.eq(&entry.version),
                products::udi_di.eq(&entry.udi_di),
                products::cpe.eq(&entry.cpe),
                products::purl.eq(&entry.purl),
                products::created_at.eq(to_micros(now())),
            ))
            .execute(conn)
            .map_err(conflict_on_key)?;
        append_audit(
            conn,
            actor,
            "product.create",
            &format!("product:{id}"),
            &audit_detail(&entry),
        )?;
        get_catalog_product(conn, manufacturer_org_id, &id)?.ok_or(StorageError::NotFound)
    })
}

/// Replaces every field of a catalog entry (checked as for [`create_catalog_product`]).
/// `NotFound` when the product is not the manufacturer's. Advisories already published keep
/// naming it by id; a later import naming the old identity creates a new entry.
pub fn update_catalog_product(
    conn: &mut DbConnection,
    manufacturer_org_id: &str,
    id: &str,
    entry: &CatalogEntry,
    actor: &str,
) -> Result<CatalogProduct, StorageError> {
    let entry = check_catalog_entry(entry)?;
    let key = catalog_key(
        entry.vendor.as_deref(),
        entry.family.as_deref(),
        &entry.name,
        entry.version.as_deref(),
    );
    write_transaction(conn, |conn| {
        let Some(before) = get_catalog_product(conn, manufacturer_org_id, id)? else {
            return Err(StorageError::NotFound);
        };
        refuse_duplicates(conn, manufacturer_org_id, &key, &entry, Some(id))?;
        diesel::update(products::table.find(id))
            .set((
                products::product_key.eq(&key),
                products::vendor.eq(&entry.vendor),
                products::family.eq(&entry.family),
                products::name.eq(&entry.name),
                products::version.eq(&entry.version),
                products::udi_di.eq(&entry.udi_di),
                products::cpe.eq(&entry.cpe),
                products::purl.eq(&entry.purl),
            ))
            .execute(conn)
            .map_err(conflict_on_key)?;
        append_audit(
            conn,
            actor,
            "product.update",
            &format!("product:{id}"),
            &serde_json::json!({
                "before": audit_detail(&CatalogEntry {
                    vendor: before.vendor,
                    family: before.family,
                    name: before.name,
                    version: before.version,
                    udi_di: before.udi_di,
                    cpe: before.cpe,
                    purl: before.purl,
                }),
                "after": audit_detail(&entry),
            }),
        )?;
        get_catalog_product(conn, manufacturer_org_id, id)?.ok_or(StorageError::NotFound)
    })
}

fn audit_detail(e: &CatalogEntry) -> serde_json::Value {
    serde_json::json!({
        "vendor": e.vendor, "family": e.family, "name": e.name, "version": e.version,
        "udi_di": e.udi_di, "cpe": e.cpe, "purl": e.purl,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpe23_syntax() {
        for ok in [
            "cpe:2.3:a:larkspur:nimbus_pump_firmware:4.2.1:*:*:*:*:*:*:*",
            "cpe:2.3:h:larkspur:nimbus:-:*:*:en:*:*:*:*",
            "cpe:2.3:o:vendor:os:1.0\\:beta:*:*:en\\-us:*:*:*:*",
            "cpe:2.3:a:*:foo*:?1.?:*:*:*:*:*:*:*",
        ] {
            assert!(check_cpe23(ok).is_ok(), "{ok}: {:?}", check_cpe23(ok));
        }
        for bad in [
            "cpe:/a:larkspur:nimbus:4.2",
            "cpe:2.3:x:larkspur:nimbus:*:*:*:*:*:*:*:*",
            "cpe:2.3:a:larkspur:nimbus:*:*:*:*:*:*:*",
            "cpe:2.3:a:lark spur:nimbus:*:*:*:*:*:*:*:*",
            "cpe:2.3:a:larkspur:nimbus:*:*:*:english:*:*:*:*",
            "cpe:2.3:a:larkspur:ni*mbus:*:*:*:*:*:*:*:*",
            "cpe:2.3:a:larkspur:<script>:*:*:*:*:*:*:*:*",
        ] {
            assert!(check_cpe23(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn udi_di_forms() {
        assert_eq!(
            check_udi_di("09506000134352").as_deref(),
            Ok("09506000134352")
        );
        assert_eq!(
            check_udi_di("9506000134352").as_deref(),
            Ok("09506000134352")
        );
        assert!(check_udi_di("09506000134353").is_err());
        assert!(check_udi_di("123").is_err());
        assert!(check_udi_di("abc").is_err());
        assert_eq!(check_udi_di("+h123abc1").as_deref(), Ok("+H123ABC1"));
        assert!(check_udi_di("+1234abc1").is_err());
    }

    #[test]
    fn purl_syntax() {
        assert!(check_purl("pkg:generic/larkspur/nimbus-firmware@4.2.1").is_ok());
        assert!(check_purl("nimbus@4.2.1").is_err());
        assert!(check_purl("pkg:").is_err());
    }

    #[test]
    fn tree_groups_case_insensitively() {
        let p = |id: &str, v: Option<&str>, f: Option<&str>, n: &str, ver: Option<&str>| {
            CatalogProduct {
                id: id.into(),
                vendor: v.map(Into::into),
                family: f.map(Into::into),
                name: n.into(),
                version: ver.map(Into::into),
                udi_di: None,
                cpe: None,
                purl: None,
            }
        };
        let tree = catalog_tree(&[
            p(
                "3",
                Some("Larkspur"),
                Some("Nimbus"),
                "Nimbus Pump",
                Some("4.3"),
            ),
            p(
                "1",
                Some("larkspur"),
                Some("Nimbus"),
                "Nimbus pump",
                Some("4.2"),
            ),
            p(
                "2",
                Some("Larkspur"),
                Some("Cirrus"),
                "Cirrus Ventilator",
                None,
            ),
            p("4", None, None, "Loose", None),
        ]);
        assert_eq!(tree.len(), 2);
        assert_eq!(tree[0].vendor, None);
        let lark = &tree[1];
        assert_eq!(lark.families.len(), 2);
        assert_eq!(lark.families[0].family.as_deref(), Some("Cirrus"));
        let nimbus = &lark.families[1];
        assert_eq!(nimbus.products.len(), 1);
        let versions: Vec<&str> = nimbus.products[0]
            .versions
            .iter()
            .map(|v| v.id.as_str())
            .collect();
        assert_eq!(versions, ["1", "3"]);
    }
}
