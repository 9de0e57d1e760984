//! Which advisories touch which installed products: the rows the hospital's home ("what affects
//! us") and the manufacturer's uptake count exposure from. An advisory touches an installed
//! product when it names that catalog product with an affected status (known, first or last
//! affected, under investigation, or no status at all); a product it only lists as fixed or not
//! affected does not make the hospital's devices exposed.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::schema::{advisories, advisory_products, installed_base};
use crate::{
    DbConnection, StorageError, entitlement::Reader, entitlement::visible_to, from_json,
    from_micros,
};

/// Product status groups of CSAF that mean "this product is (or may be) vulnerable".
const AFFECTED: [&str; 4] = [
    "known_affected",
    "first_affected",
    "last_affected",
    "under_investigation",
];

/// Whether a product with these CSAF status groups is exposed by the advisory.
pub fn statuses_affect(statuses: &[String]) -> bool {
    statuses.is_empty() || statuses.iter().any(|s| AFFECTED.contains(&s.as_str()))
}

/// An advisory that names a product of an installed base as affected.
#[derive(Debug, Clone, PartialEq)]
pub struct Touching {
    pub advisory_id: String,
    pub tracking_id: String,
    pub title: String,
    pub severity: Option<String>,
    pub max_cvss: Option<f64>,
    pub tlp: String,
    pub initial_release_date: DateTime<Utc>,
    pub current_release_date: DateTime<Utc>,
    /// The affected catalog products of this advisory, sorted.
    pub product_ids: Vec<String>,
}

type Row = (
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<f64>,
    String,
    i64,
    i64,
);

macro_rules! touching_select {
    () => {
        (
            advisory_products::advisory_id,
            advisory_products::product_id,
            advisory_products::statuses,
            advisories::tracking_id,
            advisories::title,
            advisories::severity,
            advisories::max_cvss,
            advisories::tlp,
            advisories::initial_release_date,
            advisories::current_release_date,
        )
    };
}

/// The advisories `reader` may read that name a product of `org_id`'s installed base as
/// affected, one row per advisory. `org_id` `None`: any hospital's installed base (the
/// manufacturer's uptake).
pub fn advisories_touching(
    conn: &mut DbConnection,
    reader: &Reader,
    org_id: Option<&str>,
) -> Result<Vec<Touching>, StorageError> {
    let rows: Vec<Row> = match org_id {
        Some(org) => {
            let installed = installed_base::table
                .filter(installed_base::org_id.eq(org.to_string()))
                .select(installed_base::product_id);
            advisory_products::table
                .inner_join(advisories::table)
                .filter(advisory_products::product_id.eq_any(installed))
                .filter(visible_to(reader, None))
                .select(touching_select!())
                .load(conn)?
        }
        None => {
            let installed = installed_base::table.select(installed_base::product_id);
            advisory_products::table
                .inner_join(advisories::table)
                .filter(advisory_products::product_id.eq_any(installed))
                .filter(visible_to(reader, None))
                .select(touching_select!())
                .load(conn)?
        }
    };
    let mut out: BTreeMap<String, Touching> = BTreeMap::new();
    for (
        advisory_id,
        product_id,
        statuses,
        tracking_id,
        title,
        severity,
        max_cvss,
        tlp,
        initial,
        current,
    ) in rows
    {
        let statuses: Vec<String> = from_json("advisory_products.statuses", &statuses)?;
        if !statuses_affect(&statuses) {
            continue;
        }
        let entry = out.entry(advisory_id.clone()).or_insert_with(|| Touching {
            advisory_id,
            tracking_id,
            title,
            severity,
            max_cvss,
            tlp,
            initial_release_date: from_micros(initial),
            current_release_date: from_micros(current),
            product_ids: Vec::new(),
        });
        if !entry.product_ids.contains(&product_id) {
            entry.product_ids.push(product_id);
        }
    }
    let mut out: Vec<Touching> = out.into_values().collect();
    for t in &mut out {
        t.product_ids.sort();
    }
    Ok(out)
}

/// The current summary of an advisory by id (what to do: its remediations).
pub fn advisory_summary(
    conn: &mut DbConnection,
    advisory_id: &str,
) -> Result<herald_csaf::AdvisorySummary, StorageError> {
    let json: String = advisories::table
        .find(advisory_id)
        .select(advisories::summary_json)
        .first(conn)?;
    from_json("advisories.summary_json", &json)
}

/// The catalog products an advisory names as affected (see [`statuses_affect`]).
pub fn affected_product_ids(
    conn: &mut DbConnection,
    advisory_id: &str,
) -> Result<Vec<String>, StorageError> {
    let rows: Vec<(String, String)> = advisory_products::table
        .filter(advisory_products::advisory_id.eq(advisory_id))
        .select((advisory_products::product_id, advisory_products::statuses))
        .load(conn)?;
    let mut out = Vec::new();
    for (product, statuses) in rows {
        let statuses: Vec<String> = from_json("advisory_products.statuses", &statuses)?;
        if statuses_affect(&statuses) && !out.contains(&product) {
            out.push(product);
        }
    }
    out.sort();
    Ok(out)
}

/// Delivery outcomes of an advisory's notices by organization: `(org id, status, count)`
/// (`queued`, `in_flight`, `delivered`, `failed`, `dead`, `withheld`), from the delivery log.
pub fn delivery_outcomes(
    conn: &mut DbConnection,
    advisory_id: &str,
) -> Result<Vec<(String, String, i64)>, StorageError> {
    use crate::schema::{deliveries, destinations};
    let rows: Vec<(String, String)> = deliveries::table
        .inner_join(destinations::table)
        .filter(deliveries::advisory_id.eq(advisory_id))
        .select((destinations::org_id, deliveries::status))
        .load(conn)?;
    let mut counts: BTreeMap<(String, String), i64> = BTreeMap::new();
    for key in rows {
        *counts.entry(key).or_default() += 1;
    }
    Ok(counts.into_iter().map(|((o, s), n)| (o, s, n)).collect())
}
