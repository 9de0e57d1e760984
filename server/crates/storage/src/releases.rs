//! Releases and patches: a release of a manufacturer's product line updates some catalog
//! versions (`applies_to`) to the version it produces (a catalog product of the same line,
//! created when missing) and fixes some published advisories. Stored here with its state
//! (`draft`, `pending` while a revision waits for the four-eyes approval, `published`) and, per
//! fixed advisory, the revision that carries the fix or the held publication.
//!
//! The revision itself is written by the one publish path ([`crate::advisories::publish_with_notice`] with a
//! `patch.available` notice); this module records what it did ([`record_fix_published`],
//! [`record_fix_held`]) in the same transaction. Which release brings an installed version to a
//! fixed one is [`fixing_releases`].

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::catalog::{catalog_key, catalog_select, from_row};
use crate::schema::{advisories, products, release_applies_to, release_fixes, releases};
use crate::{
    DbConnection, StorageError, accounts::OrgKind, accounts::find_organization,
    audit::append_audit, catalog::CatalogProduct, from_micros, new_id, now, to_micros,
    write_transaction,
};

/// Longest release name, produced version or URL accepted.
pub const MAX_RELEASE_TEXT: usize = 200;
/// Longest install notes or known issues accepted.
pub const MAX_RELEASE_NOTES: usize = 20_000;
/// Most catalog versions or advisories one release names.
pub const MAX_RELEASE_ITEMS: usize = 200;

/// How a release reaches the device.
pub const DELIVERY_METHODS: [&str; 5] = [
    "over_the_air",
    "service_engineer",
    "hospital_it",
    "download",
    "other",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseState {
    Draft,
    /// Published, but at least one revision waits for the four-eyes approval.
    Pending,
    Published,
}

impl ReleaseState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Pending => "pending",
            Self::Published => "published",
        }
    }

    fn parse(s: &str) -> Result<Self, StorageError> {
        match s {
            "draft" => Ok(Self::Draft),
            "pending" => Ok(Self::Pending),
            "published" => Ok(Self::Published),
            other => Err(StorageError::Corrupt(format!("release state {other:?}"))),
        }
    }
}

/// A release as a form or the API gives it (checked by [`check_release`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewRelease {
    pub name: String,
    /// Catalog product ids of the versions it updates (one product line).
    pub applies_to: Vec<String>,
    pub produced_version: String,
    pub release_date: Option<DateTime<Utc>>,
    pub delivery: String,
    pub regulatory_review: bool,
    pub install_notes: String,
    pub known_issues: String,
    pub url: Option<String>,
    /// Tracking ids of the advisories it fixes.
    pub fixes: Vec<String>,
}

/// One fixed advisory of a release and what publishing did to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseFixRecord {
    pub advisory_id: String,
    pub tracking_id: String,
    pub title: String,
    /// The revision that carries the fix, once published.
    pub revision_version: Option<String>,
    /// The held publication while the four-eyes rule waits for an approver.
    pub draft_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Release {
    pub id: String,
    pub manufacturer_org_id: String,
    pub name: String,
    pub produced: CatalogProduct,
    pub applies_to: Vec<CatalogProduct>,
    pub release_date: DateTime<Utc>,
    pub delivery: String,
    pub regulatory_review: bool,
    pub install_notes: String,
    pub known_issues: String,
    pub url: Option<String>,
    pub state: ReleaseState,
    pub fixes: Vec<ReleaseFixRecord>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub published_at: Option<DateTime<Utc>>,
    pub published_by: Option<String>,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = releases)]
struct ReleaseRow {
    id: String,
    manufacturer_org_id: String,
    name: String,
    produced_product_id: String,
    produced_version: String,
    release_date: i64,
    delivery: String,
    regulatory_review: bool,
    install_notes: String,
    known_issues: String,
    url: Option<String>,
    state: String,
    created_at: i64,
    created_by: String,
    updated_at: i64,
    published_at: Option<i64>,
    published_by: Option<String>,
}

fn invalid(field: &str, message: impl std::fmt::Display) -> StorageError {
    StorageError::Invalid(format!("{field}: {message}"))
}

fn text(field: &str, s: &str, max: usize, required: bool) -> Result<String, StorageError> {
    let s = s.trim();
    if required && s.is_empty() {
        return Err(invalid(field, "is required"));
    }
    if s.chars().count() > max {
        return Err(invalid(field, format!("is longer than {max} characters")));
    }
    // Notes may hold line breaks; nothing else that is a control character.
    if s.chars()
        .any(|c| c.is_control() && !(max == MAX_RELEASE_NOTES && matches!(c, '\n' | '\r' | '\t')))
    {
        return Err(invalid(field, "holds control characters"));
    }
    Ok(s.to_string())
}

/// The release with every field checked and trimmed; messages start with the field name.
pub fn check_release(r: &NewRelease) -> Result<NewRelease, StorageError> {
    let url = match r.url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        None => None,
        Some(u) => {
            let u = text("url", u, MAX_RELEASE_TEXT, true)?;
            let host = u
                .strip_prefix("https://")
                .or_else(|| u.strip_prefix("http://"))
                .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or(""))
                .unwrap_or("");
            if host.is_empty()
                || u.chars()
                    .any(|c| c.is_whitespace() || matches!(c, '<' | '>' | '"'))
            {
                return Err(invalid(
                    "url",
                    format!("{u:?} is not an http(s) URL with a host"),
                ));
            }
            Some(u)
        }
    };
    let delivery = r.delivery.trim().to_string();
    if !DELIVERY_METHODS.contains(&delivery.as_str()) {
        return Err(invalid(
            "delivery",
            format!("{delivery:?} is not one of {}", DELIVERY_METHODS.join(", ")),
        ));
    }
    let produced_version = text(
        "produced_version",
        &r.produced_version,
        MAX_RELEASE_TEXT,
        true,
    )?;
    if herald_csaf::authoring::version_branch_category(&produced_version) != "product_version" {
        return Err(invalid(
            "produced_version",
            format!("{produced_version:?} is a range; a release produces one version"),
        ));
    }
    let list = |field: &str, v: &[String]| -> Result<Vec<String>, StorageError> {
        if v.len() > MAX_RELEASE_ITEMS {
            return Err(invalid(
                field,
                format!("names more than {MAX_RELEASE_ITEMS}"),
            ));
        }
        let mut out: Vec<String> = Vec::new();
        for s in v {
            let s = text(field, s, MAX_RELEASE_TEXT, true)?;
            if !out.contains(&s) {
                out.push(s);
            }
        }
        Ok(out)
    };
    let applies_to = list("applies_to", &r.applies_to)?;
    if applies_to.is_empty() {
        return Err(invalid(
            "applies_to",
            "name at least one catalog version it updates",
        ));
    }
    Ok(NewRelease {
        name: text("name", &r.name, MAX_RELEASE_TEXT, true)?,
        applies_to,
        produced_version,
        release_date: r.release_date,
        delivery,
        regulatory_review: r.regulatory_review,
        install_notes: text("install_notes", &r.install_notes, MAX_RELEASE_NOTES, false)?,
        known_issues: text("known_issues", &r.known_issues, MAX_RELEASE_NOTES, false)?,
        url,
        fixes: list("fixes", &r.fixes)?,
    })
}

/// Stores a new release (state `draft`) after [`check_release`]: the versions it applies to
/// must be catalog products of the manufacturer, of one product line (vendor, family, name);
/// the produced version becomes a catalog product of that line when missing; the fixed
/// advisories must be the manufacturer's published advisories. Nothing is written otherwise.
pub fn create_release(
    conn: &mut DbConnection,
    manufacturer_org_id: &str,
    release: &NewRelease,
    actor: &str,
) -> Result<Release, StorageError> {
    let r = check_release(release)?;
    let id = new_id();
    write_transaction(conn, |conn| {
        match find_organization(conn, manufacturer_org_id)? {
            Some(org) if org.kind == OrgKind::Manufacturer => {}
            _ => {
                return Err(StorageError::Invalid(
                    "only a manufacturer publishes releases".into(),
                ));
            }
        }
        let mut applies = Vec::new();
        for pid in &r.applies_to {
            let p = crate::catalog::get_catalog_product(conn, manufacturer_org_id, pid)?
                .ok_or_else(|| invalid("applies_to", format!("{pid:?} is not in the catalog")))?;
            applies.push(p);
        }
        let line = |p: &CatalogProduct| {
            catalog_key(p.vendor.as_deref(), p.family.as_deref(), &p.name, None)
        };
        let first = &applies[0];
        if let Some(other) = applies.iter().find(|p| line(p) != line(first)) {
            return Err(invalid(
                "applies_to",
                format!(
                    "{} and {} are different product lines; a release updates one line",
                    first.name, other.name
                ),
            ));
        }
        let produced =
            ensure_version(conn, manufacturer_org_id, first, &r.produced_version, actor)?;
        if applies.iter().any(|p| p.id == produced.id) {
            return Err(invalid(
                "produced_version",
                "is one of the versions the release applies to",
            ));
        }
        let mut advisory_ids = Vec::new();
        for tracking_id in &r.fixes {
            let found: Option<(String, String)> = advisories::table
                .filter(advisories::tracking_id.eq(tracking_id))
                .select((advisories::id, advisories::publisher_org_id))
                .first(conn)
                .optional()?;
            match found {
                Some((aid, org)) if org == manufacturer_org_id => advisory_ids.push(aid),
                _ => {
                    return Err(invalid(
                        "fixes",
                        format!("{tracking_id:?} is not a published advisory of this manufacturer"),
                    ));
                }
            }
        }
        let at = to_micros(now());
        diesel::insert_into(releases::table)
            .values(&ReleaseRow {
                id: id.clone(),
                manufacturer_org_id: manufacturer_org_id.to_string(),
                name: r.name.clone(),
                produced_product_id: produced.id.clone(),
                produced_version: r.produced_version.clone(),
                release_date: to_micros(r.release_date.unwrap_or_else(now)),
                delivery: r.delivery.clone(),
                regulatory_review: r.regulatory_review,
                install_notes: r.install_notes.clone(),
                known_issues: r.known_issues.clone(),
                url: r.url.clone(),
                state: ReleaseState::Draft.as_str().into(),
                created_at: at,
                created_by: actor.to_string(),
                updated_at: at,
                published_at: None,
                published_by: None,
            })
            .execute(conn)?;
        for p in &applies {
            diesel::insert_into(release_applies_to::table)
                .values((
                    release_applies_to::release_id.eq(&id),
                    release_applies_to::product_id.eq(&p.id),
                ))
                .execute(conn)?;
        }
        for aid in &advisory_ids {
            diesel::insert_into(release_fixes::table)
                .values((
                    release_fixes::release_id.eq(&id),
                    release_fixes::advisory_id.eq(aid),
                ))
                .execute(conn)?;
        }
        append_audit(
            conn,
            actor,
            "release.create",
            &format!("release:{id}"),
            &serde_json::json!({
                "name": r.name, "produced_version": r.produced_version,
                "applies_to": r.applies_to, "fixes": r.fixes,
            }),
        )?;
        get_release(conn, manufacturer_org_id, &id)?.ok_or(StorageError::NotFound)
    })
}

/// The catalog product of `line`'s vendor, family and name at `version`, created when missing.
fn ensure_version(
    conn: &mut DbConnection,
    org: &str,
    line: &CatalogProduct,
    version: &str,
    actor: &str,
) -> Result<CatalogProduct, StorageError> {
    let key = catalog_key(
        line.vendor.as_deref(),
        line.family.as_deref(),
        &line.name,
        Some(version),
    );
    let found = products::table
        .filter(products::manufacturer_org_id.eq(org))
        .filter(products::product_key.eq(&key))
        .select(catalog_select!())
        .first(conn)
        .optional()?;
    if let Some(row) = found {
        return Ok(from_row(row));
    }
    crate::catalog::create_catalog_product(
        conn,
        org,
        &crate::catalog::CatalogEntry {
            vendor: line.vendor.clone(),
            family: line.family.clone(),
            name: line.name.clone(),
            version: Some(version.to_string()),
            ..Default::default()
        },
        actor,
    )
}

/// One release of the manufacturer; `None` when it is not there or not theirs.
pub fn get_release(
    conn: &mut DbConnection,
    manufacturer_org_id: &str,
    id: &str,
) -> Result<Option<Release>, StorageError> {
    let row: Option<ReleaseRow> = releases::table
        .find(id)
        .filter(releases::manufacturer_org_id.eq(manufacturer_org_id))
        .select(ReleaseRow::as_select())
        .first(conn)
        .optional()?;
    row.map(|r| load(conn, r)).transpose()
}

fn load(conn: &mut DbConnection, r: ReleaseRow) -> Result<Release, StorageError> {
    let produced = products::table
        .find(&r.produced_product_id)
        .select(catalog_select!())
        .first(conn)
        .map(from_row)?;
    let applies_to: Vec<CatalogProduct> = release_applies_to::table
        .inner_join(products::table)
        .filter(release_applies_to::release_id.eq(&r.id))
        .select(catalog_select!())
        .order(products::version.asc())
        .load(conn)?
        .into_iter()
        .map(from_row)
        .collect();
    let fixes = release_fixes::table
        .inner_join(advisories::table)
        .filter(release_fixes::release_id.eq(&r.id))
        .select((
            release_fixes::advisory_id,
            advisories::tracking_id,
            advisories::title,
            release_fixes::revision_version,
            release_fixes::draft_id,
        ))
        .order(advisories::tracking_id.asc())
        .load::<(String, String, String, Option<String>, Option<String>)>(conn)?
        .into_iter()
        .map(
            |(advisory_id, tracking_id, title, revision_version, draft_id)| ReleaseFixRecord {
                advisory_id,
                tracking_id,
                title,
                revision_version,
                draft_id,
            },
        )
        .collect();
    Ok(Release {
        state: ReleaseState::parse(&r.state)?,
        id: r.id,
        manufacturer_org_id: r.manufacturer_org_id,
        name: r.name,
        produced,
        applies_to,
        release_date: from_micros(r.release_date),
        delivery: r.delivery,
        regulatory_review: r.regulatory_review,
        install_notes: r.install_notes,
        known_issues: r.known_issues,
        url: r.url,
        fixes,
        created_at: from_micros(r.created_at),
        created_by: r.created_by,
        published_at: r.published_at.map(from_micros),
        published_by: r.published_by,
    })
}

/// The manufacturer's releases, newest release date first.
pub fn list_releases(
    conn: &mut DbConnection,
    manufacturer_org_id: &str,
) -> Result<Vec<Release>, StorageError> {
    let rows: Vec<ReleaseRow> = releases::table
        .filter(releases::manufacturer_org_id.eq(manufacturer_org_id))
        .select(ReleaseRow::as_select())
        .order((releases::release_date.desc(), releases::id.desc()))
        .load(conn)?;
    rows.into_iter().map(|r| load(conn, r)).collect()
}

/// The product ids of a CSAF document (its summary) that are the given catalog products: the
/// same identity rule (vendor, family, name, version, any case) publishing links products by.
pub fn document_product_ids(
    summary: &herald_csaf::AdvisorySummary,
    catalog: &[CatalogProduct],
) -> std::collections::BTreeSet<String> {
    let keys: Vec<String> = catalog
        .iter()
        .map(|c| {
            catalog_key(
                c.vendor.as_deref(),
                c.family.as_deref(),
                &c.name,
                c.version.as_deref(),
            )
        })
        .collect();
    summary
        .products
        .iter()
        .filter(|p| keys.contains(&crate::advisories::product_key(p)))
        .map(|p| p.product_id.clone())
        .collect()
}

/// Published releases that fix the advisory (for its page), newest first.
pub fn releases_fixing(
    conn: &mut DbConnection,
    advisory_id: &str,
) -> Result<Vec<Release>, StorageError> {
    let rows: Vec<ReleaseRow> = releases::table
        .inner_join(release_fixes::table)
        .filter(release_fixes::advisory_id.eq(advisory_id))
        .filter(release_fixes::revision_version.is_not_null())
        .select(ReleaseRow::as_select())
        .order((releases::release_date.desc(), releases::id.desc()))
        .load(conn)?;
    rows.into_iter().map(|r| load(conn, r)).collect()
}

/// Published releases (any state but `draft`) that update the catalog version `product_id`,
/// newest release date first: the first is the release that brings an installed device of that
/// version to a fixed one (for the hospital's installed base). Only releases of the product's
/// own manufacturer exist for it, so no tenant rule is needed beyond who may see the product.
pub fn fixing_releases(
    conn: &mut DbConnection,
    product_id: &str,
) -> Result<Vec<Release>, StorageError> {
    let rows: Vec<ReleaseRow> = releases::table
        .inner_join(release_applies_to::table)
        .filter(release_applies_to::product_id.eq(product_id))
        .filter(releases::state.ne(ReleaseState::Draft.as_str()))
        .select(ReleaseRow::as_select())
        .order((releases::release_date.desc(), releases::id.desc()))
        .load(conn)?;
    rows.into_iter().map(|r| load(conn, r)).collect()
}

/// Releases that update or produce any version of the catalog product `product_id`'s line
/// (for the product page), newest first, drafts left out.
pub fn releases_of_product(
    conn: &mut DbConnection,
    manufacturer_org_id: &str,
    product_id: &str,
) -> Result<Vec<Release>, StorageError> {
    let rows: Vec<ReleaseRow> = releases::table
        .filter(releases::manufacturer_org_id.eq(manufacturer_org_id))
        .filter(releases::state.ne(ReleaseState::Draft.as_str()))
        .filter(
            releases::produced_product_id
                .eq(product_id)
                .or(releases::id.eq_any(
                    release_applies_to::table
                        .filter(release_applies_to::product_id.eq(product_id))
                        .select(release_applies_to::release_id),
                )),
        )
        .select(ReleaseRow::as_select())
        .order((releases::release_date.desc(), releases::id.desc()))
        .load(conn)?;
    rows.into_iter().map(|r| load(conn, r)).collect()
}

/// Marks the release published (or `pending` while a revision waits for approval), once: a
/// release that is no longer a draft is a [`StorageError::Conflict`].
pub fn mark_release_published(
    conn: &mut DbConnection,
    manufacturer_org_id: &str,
    id: &str,
    actor: &str,
) -> Result<(), StorageError> {
    write_transaction(conn, |conn| {
        let n = diesel::update(
            releases::table
                .find(id)
                .filter(releases::manufacturer_org_id.eq(manufacturer_org_id))
                .filter(releases::state.eq(ReleaseState::Draft.as_str())),
        )
        .set((
            releases::state.eq(ReleaseState::Published.as_str()),
            releases::published_at.eq(Some(to_micros(now()))),
            releases::published_by.eq(Some(actor)),
            releases::updated_at.eq(to_micros(now())),
        ))
        .execute(conn)?;
        if n == 0 {
            return Err(StorageError::Conflict(format!(
                "release {id} is already published"
            )));
        }
        append_audit(
            conn,
            actor,
            "release.publish",
            &format!("release:{id}"),
            &serde_json::json!({}),
        )
    })
}

/// Records the revision that carries the release's fix of `advisory_id`; the release leaves
/// `pending` when no held publication remains.
pub fn record_fix_published(
    conn: &mut DbConnection,
    release_id: &str,
    advisory_id: &str,
    version: &str,
) -> Result<(), StorageError> {
    write_transaction(conn, |conn| {
        diesel::update(
            release_fixes::table
                .filter(release_fixes::release_id.eq(release_id))
                .filter(release_fixes::advisory_id.eq(advisory_id)),
        )
        .set((
            release_fixes::revision_version.eq(Some(version)),
            release_fixes::draft_id.eq(None::<String>),
        ))
        .execute(conn)?;
        let waiting: i64 = release_fixes::table
            .filter(release_fixes::release_id.eq(release_id))
            .filter(release_fixes::revision_version.is_null())
            .filter(release_fixes::draft_id.is_not_null())
            .count()
            .get_result(conn)?;
        if waiting == 0 {
            diesel::update(
                releases::table
                    .find(release_id)
                    .filter(releases::state.eq(ReleaseState::Pending.as_str())),
            )
            .set(releases::state.eq(ReleaseState::Published.as_str()))
            .execute(conn)?;
        }
        Ok(())
    })
}

/// Records the held publication (four-eyes) of the release's fix of `advisory_id`; the release
/// is `pending` until it is approved.
pub fn record_fix_held(
    conn: &mut DbConnection,
    release_id: &str,
    advisory_id: &str,
    draft_id: &str,
) -> Result<(), StorageError> {
    write_transaction(conn, |conn| {
        diesel::update(
            release_fixes::table
                .filter(release_fixes::release_id.eq(release_id))
                .filter(release_fixes::advisory_id.eq(advisory_id)),
        )
        .set(release_fixes::draft_id.eq(Some(draft_id)))
        .execute(conn)?;
        diesel::update(releases::table.find(release_id))
            .set(releases::state.eq(ReleaseState::Pending.as_str()))
            .execute(conn)?;
        Ok(())
    })
}
