//! Advisories: publishing a CSAF revision (advisory + revision + CVEs + products + outbox event +
//! audit entry in one transaction), and reading them back for the portal, the CSAF provider
//! feed (documents by path and by TLP) and notifications.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use herald_csaf::{AdvisorySummary, Tlp};

use crate::schema::{
    advisories, advisory_cves, advisory_products, advisory_revisions, organizations, outbox_events,
    products,
};
use crate::{
    DbConnection, StorageError, accounts::OrgKind, accounts::find_organization,
    audit::append_audit, from_json, from_micros, new_id, now, sha256_hex, to_json, to_micros,
    write_transaction,
};

/// Event kinds written to the outbox by [`publish`].
pub const EVENT_ADVISORY_PUBLISHED: &str = "advisory.published";
pub const EVENT_ADVISORY_UPDATED: &str = "advisory.updated";
/// A revision that carries a release's fix ([`publish_with_notice`]): announced as the patch,
/// not also as an update.
pub const EVENT_PATCH_AVAILABLE: &str = "patch.available";

/// The notice a revision is announced with instead of [`EVENT_ADVISORY_UPDATED`] (one notice
/// per change): its kind and what it adds to the event payload under `detail_key`.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice<'a> {
    pub kind: &'a str,
    pub detail_key: &'a str,
    pub detail: serde_json::Value,
}

/// The stored spelling of a TLP label (as CSAF writes it).
pub fn tlp_str(tlp: Tlp) -> &'static str {
    tlp.as_str()
}

pub fn parse_tlp(s: &str) -> Result<Tlp, StorageError> {
    Tlp::parse(s).ok_or_else(|| StorageError::Invalid(format!("unknown TLP label {s:?}")))
}

/// Compares two `/document/tracking/version` values the way CSAF orders them
/// ([`herald_csaf::compare_versions`]), as a storage error when they cannot be ordered.
pub fn compare_versions(a: &str, b: &str) -> Result<Ordering, StorageError> {
    herald_csaf::compare_versions(a, b).map_err(|e| StorageError::Invalid(e.to_string()))
}

/// One CSAF document to publish. The caller has validated it and computed its summary; storage
/// checks the hashes against the bytes and the revision rules against what is stored.
#[derive(Debug, Clone)]
pub struct PublishRequest<'a> {
    pub summary: &'a AdvisorySummary,
    /// The document exactly as received.
    pub document: &'a [u8],
    /// Lower-case hex digests of `document`.
    pub sha256: &'a str,
    pub sha512: &'a str,
    /// Detached armored OpenPGP signature, if any.
    pub signature: Option<String>,
    /// Distribution path below `/.well-known/csaf/`, e.g. `white/2026/acme-2026-001.json`.
    pub path: &'a str,
    pub publisher_org_id: &'a str,
    /// `user:<id>` or `token:<id>`.
    pub actor: &'a str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    pub advisory_id: String,
    pub revision_id: String,
    pub event_id: String,
    /// [`EVENT_ADVISORY_PUBLISHED`] or [`EVENT_ADVISORY_UPDATED`].
    pub event_kind: String,
    pub tracking_id: String,
    pub version: String,
    pub path: String,
}

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = advisories)]
#[diesel(treat_none_as_null = true)]
struct AdvisoryRow {
    id: String,
    tracking_id: String,
    publisher_org_id: String,
    title: String,
    category: String,
    status: String,
    tlp: String,
    current_version: String,
    current_revision_id: String,
    initial_release_date: i64,
    current_release_date: i64,
    year: i32,
    file_name: String,
    path: String,
    severity: Option<String>,
    max_cvss: Option<f64>,
    summary_json: String,
    search_text: String,
    created_at: i64,
    updated_at: i64,
}

#[derive(Insertable)]
#[diesel(table_name = products)]
struct ProductRow {
    id: String,
    manufacturer_org_id: String,
    product_key: String,
    vendor: Option<String>,
    family: Option<String>,
    name: String,
    version: Option<String>,
    udi_di: Option<String>,
    cpe: Option<String>,
    purl: Option<String>,
    created_at: i64,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = advisory_revisions)]
struct RevisionRow {
    id: String,
    advisory_id: String,
    version: String,
    release_date: i64,
    tlp: String,
    path: String,
    document: Vec<u8>,
    sha256: String,
    sha512: String,
    signature: Option<String>,
    summary_json: String,
    published_at: i64,
    published_by: String,
}

/// A revision without its document bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct RevisionInfo {
    pub id: String,
    pub advisory_id: String,
    pub version: String,
    pub release_date: DateTime<Utc>,
    pub tlp: Tlp,
    pub path: String,
    pub sha256: String,
    pub sha512: String,
    pub signature: Option<String>,
    pub published_at: DateTime<Utc>,
    pub published_by: String,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = advisory_revisions)]
struct RevisionInfoRow {
    id: String,
    advisory_id: String,
    version: String,
    release_date: i64,
    tlp: String,
    path: String,
    sha256: String,
    sha512: String,
    signature: Option<String>,
    published_at: i64,
    published_by: String,
}

impl RevisionInfoRow {
    fn into_model(self) -> Result<RevisionInfo, StorageError> {
        Ok(RevisionInfo {
            tlp: parse_tlp(&self.tlp).map_err(|e| StorageError::Corrupt(e.to_string()))?,
            id: self.id,
            advisory_id: self.advisory_id,
            version: self.version,
            release_date: from_micros(self.release_date),
            path: self.path,
            sha256: self.sha256,
            sha512: self.sha512,
            signature: self.signature,
            published_at: from_micros(self.published_at),
            published_by: self.published_by,
        })
    }
}

fn check_digest(name: &str, given: &str, actual: &str) -> Result<(), StorageError> {
    if given.eq_ignore_ascii_case(actual) {
        Ok(())
    } else {
        Err(StorageError::Invalid(format!(
            "{name} {given:?} does not match the document (it is {actual})"
        )))
    }
}

/// The path must be a relative `tlp/year/name.json`-like path: no empty, `.` or `..` segments.
fn validate_path(path: &str) -> Result<&str, StorageError> {
    let ok = !path.is_empty()
        && !path.starts_with('/')
        && path.ends_with(".json")
        && path
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
        && !path.contains('\\');
    if !ok {
        return Err(StorageError::Invalid(format!(
            "document path {path:?} must be a relative path of non-empty segments ending in .json"
        )));
    }
    Ok(path.rsplit('/').next().unwrap_or(path))
}

/// Lower-case text searched by [`list_advisories`].
fn search_text(summary: &AdvisorySummary) -> String {
    let mut parts = vec![summary.title.clone(), summary.tracking_id.clone()];
    parts.extend(summary.cves());
    for p in &summary.products {
        parts.push(p.name.clone());
        parts.extend(p.product_name.clone());
        parts.extend(p.family.clone());
        parts.extend(p.udi_di.clone());
    }
    parts.join("\n").to_lowercase()
}

/// Identity of a catalog product: vendor, family, name and version, case-insensitive.
pub(crate) fn product_key(p: &herald_csaf::Product) -> String {
    crate::catalog::catalog_key(
        p.vendor.as_deref(),
        p.family.as_deref(),
        p.product_name.as_deref().unwrap_or(&p.name),
        p.version.as_deref(),
    )
}

/// Writes one revision. Everything happens in one transaction or not at all:
/// * a new tracking id creates the advisory and an [`EVENT_ADVISORY_PUBLISHED`] event;
/// * a known tracking id must belong to the same publisher, carry a higher version (CSAF
///   integer or semver ordering) and a revision history that contains every stored revision
///   (same number and date); it then becomes the current revision with an
///   [`EVENT_ADVISORY_UPDATED`] event. Otherwise: [`StorageError::Conflict`], nothing written.
pub fn publish(
    conn: &mut DbConnection,
    req: &PublishRequest<'_>,
) -> Result<Published, StorageError> {
    publish_with_notice(conn, req, None)
}

/// [`publish`], announcing an update of a published advisory with `notice` (its kind and
/// payload detail) instead of [`EVENT_ADVISORY_UPDATED`]. A notice for a tracking id not yet
/// published is refused: a patch revises an advisory, it does not introduce one.
pub fn publish_with_notice(
    conn: &mut DbConnection,
    req: &PublishRequest<'_>,
    notice: Option<&Notice<'_>>,
) -> Result<Published, StorageError> {
    use sha2::Digest;
    let s = req.summary;
    if s.tracking_id.trim().is_empty() {
        return Err(StorageError::Invalid("tracking id is empty".into()));
    }
    // Rejects versions that are neither integer nor semver.
    compare_versions(&s.version, &s.version)?;
    check_digest("sha256", req.sha256, &sha256_hex(req.document))?;
    check_digest(
        "sha512",
        req.sha512,
        &hex::encode(sha2::Sha512::digest(req.document)),
    )?;
    let file_name = validate_path(req.path)?.to_string();
    let summary_json = to_json(s)?;
    let tlp = tlp_str(s.distribution_tlp());
    let cves = s.cves();
    let at = to_micros(now());

    write_transaction(conn, |conn| {
        match find_organization(conn, req.publisher_org_id)? {
            Some(org) if org.kind == OrgKind::Manufacturer => {}
            Some(org) => {
                return Err(StorageError::Invalid(format!(
                    "organization {} is a {}, only manufacturers publish advisories",
                    org.slug, org.kind
                )));
            }
            None => {
                return Err(StorageError::Invalid(format!(
                    "organization {} does not exist",
                    req.publisher_org_id
                )));
            }
        }
        let existing: Option<AdvisoryRow> = advisories::table
            .filter(advisories::tracking_id.eq(&s.tracking_id))
            .select(AdvisoryRow::as_select())
            .first(conn)
            .optional()?;
        if let Some(old) = &existing {
            check_update(old, s, req.publisher_org_id)?;
        } else if let Some(n) = notice {
            return Err(StorageError::Invalid(format!(
                "a {} notice revises a published advisory; {} is not published",
                n.kind, s.tracking_id
            )));
        }
        let other_at_path: Option<String> = advisories::table
            .filter(advisories::path.eq(req.path))
            .filter(advisories::tracking_id.ne(&s.tracking_id))
            .select(advisories::tracking_id)
            .first(conn)
            .optional()?;
        if let Some(other) = other_at_path {
            return Err(StorageError::Conflict(format!(
                "path {} already holds advisory {other}",
                req.path
            )));
        }

        let advisory_id = existing
            .as_ref()
            .map(|a| a.id.clone())
            .unwrap_or_else(new_id);
        let revision_id = new_id();
        let row = AdvisoryRow {
            id: advisory_id.clone(),
            tracking_id: s.tracking_id.clone(),
            publisher_org_id: req.publisher_org_id.to_string(),
            title: s.title.clone(),
            category: s.category.clone(),
            status: s.status.clone(),
            tlp: tlp.to_string(),
            current_version: s.version.clone(),
            current_revision_id: revision_id.clone(),
            initial_release_date: to_micros(s.initial_release_date),
            current_release_date: to_micros(s.current_release_date),
            year: s.year(),
            file_name: file_name.clone(),
            path: req.path.to_string(),
            severity: s.severity.clone(),
            max_cvss: s.max_cvss,
            summary_json: summary_json.clone(),
            search_text: search_text(s),
            created_at: existing.as_ref().map(|a| a.created_at).unwrap_or(at),
            updated_at: at,
        };
        if existing.is_some() {
            diesel::update(advisories::table.find(&advisory_id))
                .set(&row)
                .execute(conn)?;
            diesel::delete(
                advisory_cves::table.filter(advisory_cves::advisory_id.eq(&advisory_id)),
            )
            .execute(conn)?;
            diesel::delete(
                advisory_products::table.filter(advisory_products::advisory_id.eq(&advisory_id)),
            )
            .execute(conn)?;
        } else {
            diesel::insert_into(advisories::table)
                .values(&row)
                .execute(conn)?;
        }
        diesel::insert_into(advisory_revisions::table)
            .values(&RevisionRow {
                id: revision_id.clone(),
                advisory_id: advisory_id.clone(),
                version: s.version.clone(),
                release_date: to_micros(s.current_release_date),
                tlp: tlp.to_string(),
                path: req.path.to_string(),
                document: req.document.to_vec(),
                sha256: req.sha256.to_lowercase(),
                sha512: req.sha512.to_lowercase(),
                signature: req.signature.clone(),
                summary_json: summary_json.clone(),
                published_at: at,
                published_by: req.actor.to_string(),
            })
            .execute(conn)?;
        // One row per statement: diesel's multi-backend connection has no batch insert.
        for cve in &cves {
            diesel::insert_into(advisory_cves::table)
                .values((
                    advisory_cves::advisory_id.eq(&advisory_id),
                    advisory_cves::cve.eq(cve),
                ))
                .execute(conn)?;
        }
        link_products(conn, &advisory_id, req.publisher_org_id, s, at)?;

        let event_kind = match (notice, &existing) {
            (Some(n), _) => n.kind,
            (None, Some(_)) => EVENT_ADVISORY_UPDATED,
            (None, None) => EVENT_ADVISORY_PUBLISHED,
        };
        let event_id = new_id();
        let mut payload = serde_json::json!({
            "tracking_id": s.tracking_id,
            "version": s.version,
            "previous_version": existing.as_ref().map(|a| a.current_version.clone()),
            "path": req.path,
            "tlp": tlp,
        });
        if let (Some(n), Some(map)) = (notice, payload.as_object_mut()) {
            map.insert(n.detail_key.to_string(), n.detail.clone());
        }
        diesel::insert_into(outbox_events::table)
            .values((
                outbox_events::id.eq(&event_id),
                outbox_events::kind.eq(event_kind),
                outbox_events::advisory_id.eq(Some(&advisory_id)),
                outbox_events::revision_id.eq(Some(&revision_id)),
                outbox_events::payload.eq(to_json(&payload)?),
                outbox_events::created_at.eq(at),
                outbox_events::fanned_out_at.eq(None::<i64>),
            ))
            .execute(conn)?;
        append_audit(
            conn,
            req.actor,
            if existing.is_some() {
                "advisory.update"
            } else {
                "advisory.publish"
            },
            &format!("advisory:{}", s.tracking_id),
            &serde_json::json!({
                "version": s.version,
                "revision_id": revision_id,
                "path": req.path,
                "sha256": req.sha256.to_lowercase(),
                "signed": req.signature.is_some(),
                "event_id": event_id,
                "event_kind": event_kind,
            }),
        )?;
        Ok(Published {
            advisory_id,
            revision_id,
            event_id,
            event_kind: event_kind.to_string(),
            tracking_id: s.tracking_id.clone(),
            version: s.version.clone(),
            path: req.path.to_string(),
        })
    })
}

/// The rules for replacing the stored current revision of `old` by `new`.
fn check_update(
    old: &AdvisoryRow,
    new: &AdvisorySummary,
    publisher_org_id: &str,
) -> Result<(), StorageError> {
    if old.publisher_org_id != publisher_org_id {
        return Err(StorageError::Conflict(format!(
            "advisory {} belongs to another publisher",
            old.tracking_id
        )));
    }
    let order = compare_versions(&new.version, &old.current_version).map_err(|e| match e {
        StorageError::Invalid(m) => StorageError::Conflict(m),
        other => other,
    })?;
    if order != Ordering::Greater {
        return Err(StorageError::Conflict(format!(
            "advisory {} is at version {}; version {} is not newer",
            old.tracking_id, old.current_version, new.version
        )));
    }
    let stored: AdvisorySummary = from_json("advisories.summary_json", &old.summary_json)?;
    for rev in &stored.revision_history {
        let kept = new.revision_history.iter().any(|r| {
            r.date == rev.date
                && compare_versions(&r.number, &rev.number)
                    .map(|o| o == Ordering::Equal)
                    .unwrap_or(false)
        });
        if !kept {
            return Err(StorageError::Conflict(format!(
                "version {} of advisory {} drops or changes stored revision {} ({}) from its revision history",
                new.version, old.tracking_id, rev.number, rev.date
            )));
        }
    }
    if new.initial_release_date != stored.initial_release_date {
        return Err(StorageError::Conflict(format!(
            "version {} of advisory {} changes the initial release date",
            new.version, old.tracking_id
        )));
    }
    Ok(())
}

/// Upserts the catalog products named by `s` and links them to the advisory.
fn link_products(
    conn: &mut DbConnection,
    advisory_id: &str,
    org_id: &str,
    s: &AdvisorySummary,
    at: i64,
) -> Result<(), StorageError> {
    let mut seen: Vec<&str> = Vec::new();
    for p in &s.products {
        if seen.contains(&p.product_id.as_str()) {
            continue;
        }
        seen.push(&p.product_id);
        let key = product_key(p);
        let row = ProductRow {
            id: new_id(),
            manufacturer_org_id: org_id.to_string(),
            product_key: key.clone(),
            vendor: p.vendor.clone(),
            family: p.family.clone(),
            name: p.product_name.clone().unwrap_or_else(|| p.name.clone()),
            version: p.version.clone(),
            udi_di: p.udi_di.clone(),
            cpe: p.cpe.clone(),
            purl: p.purl.clone(),
            created_at: at,
        };
        // Insert-if-absent in one statement: two publishers naming the same new product at once
        // must not fail on the unique key (a select-then-insert would race on PostgreSQL).
        // diesel's multi-backend connection has no ON CONFLICT, so each backend runs it natively.
        let conflict = (products::manufacturer_org_id, products::product_key);
        match conn {
            DbConnection::Sqlite(c) => diesel::insert_into(products::table)
                .values(&row)
                .on_conflict(conflict)
                .do_nothing()
                .execute(c)?,
            DbConnection::Postgres(c) => diesel::insert_into(products::table)
                .values(&row)
                .on_conflict(conflict)
                .do_nothing()
                .execute(c)?,
        };
        let product_id: String = products::table
            .filter(products::manufacturer_org_id.eq(org_id))
            .filter(products::product_key.eq(&key))
            .select(products::id)
            .first(conn)?;
        if product_id != row.id {
            // Known product: keep identifiers learnt earlier, add ones this document gives.
            if let Some(v) = &p.udi_di {
                diesel::update(products::table.find(&product_id))
                    .set(products::udi_di.eq(v))
                    .execute(conn)?;
            }
            if let Some(v) = &p.cpe {
                diesel::update(products::table.find(&product_id))
                    .set(products::cpe.eq(v))
                    .execute(conn)?;
            }
            if let Some(v) = &p.purl {
                diesel::update(products::table.find(&product_id))
                    .set(products::purl.eq(v))
                    .execute(conn)?;
            }
        }
        let mut statuses: Vec<&str> = Vec::new();
        for v in &s.vulnerabilities {
            for (group, ids) in &v.product_status {
                if ids.iter().any(|i| i == &p.product_id) && !statuses.contains(&group.as_str()) {
                    statuses.push(group);
                }
            }
        }
        diesel::insert_into(advisory_products::table)
            .values((
                advisory_products::advisory_id.eq(advisory_id),
                advisory_products::csaf_product_id.eq(&p.product_id),
                advisory_products::product_id.eq(&product_id),
                advisory_products::statuses.eq(to_json(&statuses)?),
            ))
            .execute(conn)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// reading

/// A row of the advisory list.
#[derive(Debug, Clone, PartialEq)]
pub struct AdvisoryListItem {
    pub id: String,
    pub tracking_id: String,
    pub title: String,
    pub status: String,
    pub tlp: Tlp,
    pub current_version: String,
    pub initial_release_date: DateTime<Utc>,
    pub current_release_date: DateTime<Utc>,
    pub severity: Option<String>,
    pub max_cvss: Option<f64>,
    pub path: String,
    /// The current revision's summary (lists show CVEs and products).
    pub summary: AdvisorySummary,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = advisories)]
struct ListRow {
    id: String,
    tracking_id: String,
    title: String,
    status: String,
    tlp: String,
    current_version: String,
    initial_release_date: i64,
    current_release_date: i64,
    severity: Option<String>,
    max_cvss: Option<f64>,
    path: String,
    summary_json: String,
}

impl ListRow {
    fn into_model(self) -> Result<AdvisoryListItem, StorageError> {
        Ok(AdvisoryListItem {
            summary: from_json("advisories.summary_json", &self.summary_json)?,
            tlp: parse_tlp(&self.tlp).map_err(|e| StorageError::Corrupt(e.to_string()))?,
            id: self.id,
            tracking_id: self.tracking_id,
            title: self.title,
            status: self.status,
            current_version: self.current_version,
            initial_release_date: from_micros(self.initial_release_date),
            current_release_date: from_micros(self.current_release_date),
            severity: self.severity,
            max_cvss: self.max_cvss,
            path: self.path,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AdvisoryFilter {
    /// Case-insensitive substring of title, tracking id, a CVE or a product name.
    pub text: Option<String>,
    /// Who reads: the entitlement rule ([`crate::entitlement::visible_to`]) decides which advisories exist
    /// for this reader. The default is an anonymous reader (TLP:WHITE only).
    pub reader: crate::entitlement::Reader,
    /// Only advisories with this label (the distribution tree lists one label at a time).
    pub tlp: Option<Tlp>,
    pub limit: i64,
    pub offset: i64,
    /// Only advisories naming this CVE id (compared case-insensitively).
    pub cve: Option<String>,
    /// Only advisories that name this catalog product (`products.id`).
    pub product_id: Option<String>,
    /// Only advisories of this (highest CVSS) severity; [`CvssSeverity::None`] also matches
    /// advisories without any score.
    pub severity: Option<CvssSeverity>,
    /// Current release date at or after this instant.
    pub released_from: Option<DateTime<Utc>>,
    /// Current release date strictly before this instant.
    pub released_before: Option<DateTime<Utc>>,
    pub sort: AdvisorySort,
}

/// The qualitative CVSS severity an advisory is filtered by (its highest score's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CvssSeverity {
    None,
    Low,
    Medium,
    High,
    Critical,
}

impl CvssSeverity {
    pub const ALL: [CvssSeverity; 5] = [
        CvssSeverity::Critical,
        CvssSeverity::High,
        CvssSeverity::Medium,
        CvssSeverity::Low,
        CvssSeverity::None,
    ];

    /// The stored spelling (lower case, as CSAF's CVSS `baseSeverity` lower-cased).
    pub fn as_str(self) -> &'static str {
        match self {
            CvssSeverity::None => "none",
            CvssSeverity::Low => "low",
            CvssSeverity::Medium => "medium",
            CvssSeverity::High => "high",
            CvssSeverity::Critical => "critical",
        }
    }

    /// Parses `critical`, `high`, `medium`, `low` or `none` (any case).
    pub fn parse(s: &str) -> Option<CvssSeverity> {
        let s = s.trim();
        CvssSeverity::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
    }
}

/// Order of the advisory list. Every order ends with the tracking id, so pages are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AdvisorySort {
    /// Current release date, newest first.
    #[default]
    Newest,
    /// Current release date, oldest first.
    Oldest,
    /// Highest CVSS score first; advisories without a score last.
    Severity,
    /// Title A-Z, case-insensitive.
    Title,
    /// Tracking id A-Z.
    TrackingId,
}

impl AdvisorySort {
    pub const ALL: [AdvisorySort; 5] = [
        AdvisorySort::Newest,
        AdvisorySort::Oldest,
        AdvisorySort::Severity,
        AdvisorySort::Title,
        AdvisorySort::TrackingId,
    ];

    /// The query-string spelling: `newest`, `oldest`, `severity`, `title`, `tracking_id`.
    pub fn as_str(self) -> &'static str {
        match self {
            AdvisorySort::Newest => "newest",
            AdvisorySort::Oldest => "oldest",
            AdvisorySort::Severity => "severity",
            AdvisorySort::Title => "title",
            AdvisorySort::TrackingId => "tracking_id",
        }
    }

    pub fn parse(s: &str) -> Option<AdvisorySort> {
        let s = s.trim();
        AdvisorySort::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
    }
}

diesel::define_sql_function! {
    /// SQL `lower()`: case-insensitive ordering by title on both backends.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

impl Default for AdvisoryFilter {
    fn default() -> Self {
        AdvisoryFilter {
            text: None,
            reader: crate::entitlement::Reader::Anonymous,
            tlp: None,
            limit: 50,
            offset: 0,
            cve: None,
            product_id: None,
            severity: None,
            released_from: None,
            released_before: None,
            sort: AdvisorySort::Newest,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AdvisoryPage {
    pub items: Vec<AdvisoryListItem>,
    /// Matches over all pages.
    pub total: i64,
}

type BoxedAdvisories<'a> = advisories::BoxedQuery<'a, crate::MultiBackend>;

/// The advisories the reader of `filter` may see: the one place list queries decide visibility.
fn visible(filter: &AdvisoryFilter) -> BoxedAdvisories<'static> {
    let mut q = advisories::table
        .filter(crate::entitlement::visible_to(&filter.reader, None))
        .into_boxed();
    if let Some(tlp) = filter.tlp {
        q = q.filter(advisories::tlp.eq(tlp_str(tlp)));
    }
    q
}

/// The catalog products named by at least one advisory the reader of `filter` may see (only
/// its visibility counts), by name and version: a product that appears only in advisories the
/// reader may not see is not offered, since its name alone can be restricted information.
pub fn list_listed_products(
    conn: &mut DbConnection,
    filter: &AdvisoryFilter,
) -> Result<Vec<crate::catalog::CatalogProduct>, StorageError> {
    // Not `visible(filter)` as a subquery: diesel's multi-backend connection cannot nest a
    // boxed query, so the same visibility rule is joined in as a plain expression.
    let linked = advisory_products::table
        .inner_join(advisories::table)
        .filter(crate::entitlement::visible_to(&filter.reader, None))
        .select(advisory_products::product_id);
    let rows = products::table
        .filter(products::id.eq_any(linked))
        .select(crate::catalog::catalog_select!())
        .order((
            lower(products::name).asc(),
            products::version.asc(),
            products::id.asc(),
        ))
        .load(conn)?;
    Ok(rows.into_iter().map(crate::catalog::from_row).collect())
}

/// The filters of [`AdvisoryFilter`] besides visibility and free text.
fn narrow<'a>(mut q: BoxedAdvisories<'a>, filter: &AdvisoryFilter) -> BoxedAdvisories<'a> {
    if let Some(cve) = filter.cve.as_deref().map(str::trim) {
        // CSAF writes CVE ids upper case (`^CVE-[0-9]{4}-[0-9]{4,}$`).
        q = q.filter(
            advisories::id.eq_any(
                advisory_cves::table
                    .filter(advisory_cves::cve.eq(cve.to_uppercase()))
                    .select(advisory_cves::advisory_id),
            ),
        );
    }
    if let Some(product) = &filter.product_id {
        q = q.filter(
            advisories::id.eq_any(
                advisory_products::table
                    .filter(advisory_products::product_id.eq(product.clone()))
                    .select(advisory_products::advisory_id),
            ),
        );
    }
    match filter.severity {
        None => {}
        Some(CvssSeverity::None) => {
            q = q.filter(
                advisories::severity
                    .eq(CvssSeverity::None.as_str())
                    .or(advisories::severity.is_null()),
            );
        }
        Some(s) => q = q.filter(advisories::severity.eq(s.as_str())),
    }
    if let Some(from) = filter.released_from {
        q = q.filter(advisories::current_release_date.ge(to_micros(from)));
    }
    if let Some(before) = filter.released_before {
        q = q.filter(advisories::current_release_date.lt(to_micros(before)));
    }
    q
}

/// [`AdvisorySort`] as ORDER BY, ending with the tracking id so that paging is stable.
fn order(q: BoxedAdvisories<'_>, sort: AdvisorySort) -> BoxedAdvisories<'_> {
    let q = match sort {
        AdvisorySort::Newest => q.order(advisories::current_release_date.desc()),
        // The exact reverse of newest first, ties included (advisories published in one moment,
        // like a release's revision and a generated notice, keep their places).
        AdvisorySort::Oldest => {
            return q
                .order(advisories::current_release_date.asc())
                .then_order_by(advisories::tracking_id.desc());
        }
        // NULL sorts differently on SQLite and PostgreSQL: put unscored advisories last on both.
        AdvisorySort::Severity => q
            .order(advisories::max_cvss.is_null().asc())
            .then_order_by(advisories::max_cvss.desc())
            .then_order_by(advisories::current_release_date.desc()),
        AdvisorySort::Title => q.order(lower(advisories::title).asc()),
        AdvisorySort::TrackingId => q.order(advisories::tracking_id.asc()),
    };
    q.then_order_by(advisories::tracking_id.asc())
}

/// One page of the advisories `filter` selects, in its order (newest first by default).
pub fn list_advisories(
    conn: &mut DbConnection,
    filter: &AdvisoryFilter,
) -> Result<AdvisoryPage, StorageError> {
    if filter.limit < 1 || filter.limit > 1000 || filter.offset < 0 {
        return Err(StorageError::Invalid(
            "page limit must be 1..=1000 and offset not negative".into(),
        ));
    }
    let pattern = filter
        .text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            let escaped = t
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{escaped}%")
        });
    let build = |pattern: &Option<String>| {
        let mut q = visible(filter);
        if let Some(p) = pattern {
            q = q.filter(advisories::search_text.like(p.clone()).escape('\\'));
        }
        narrow(q, filter)
    };
    let total: i64 = build(&pattern).count().get_result(conn)?;
    let items = order(build(&pattern), filter.sort)
        .select(ListRow::as_select())
        .limit(filter.limit)
        .offset(filter.offset)
        .load(conn)?
        .into_iter()
        .map(ListRow::into_model)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(AdvisoryPage { items, total })
}

/// An advisory with its current revision (without document bytes).
#[derive(Debug, Clone, PartialEq)]
pub struct AdvisoryDetail {
    pub id: String,
    pub tracking_id: String,
    pub publisher_org_id: String,
    pub publisher_name: String,
    pub title: String,
    pub category: String,
    pub status: String,
    pub tlp: Tlp,
    pub year: i32,
    pub file_name: String,
    pub path: String,
    pub severity: Option<String>,
    pub max_cvss: Option<f64>,
    pub initial_release_date: DateTime<Utc>,
    pub current_release_date: DateTime<Utc>,
    pub summary: AdvisorySummary,
    pub cves: Vec<String>,
    pub current: RevisionInfo,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub fn get_advisory(
    conn: &mut DbConnection,
    tracking_id: &str,
) -> Result<Option<AdvisoryDetail>, StorageError> {
    let found: Option<(AdvisoryRow, String)> = advisories::table
        .inner_join(organizations::table)
        .filter(advisories::tracking_id.eq(tracking_id))
        .select((AdvisoryRow::as_select(), organizations::name))
        .first(conn)
        .optional()?;
    let Some((a, publisher_name)) = found else {
        return Ok(None);
    };
    let current = advisory_revisions::table
        .find(&a.current_revision_id)
        .select(RevisionInfoRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| {
            StorageError::Corrupt(format!(
                "advisory {} has no current revision",
                a.tracking_id
            ))
        })?
        .into_model()?;
    let cves: Vec<String> = advisory_cves::table
        .filter(advisory_cves::advisory_id.eq(&a.id))
        .select(advisory_cves::cve)
        .order(advisory_cves::cve.asc())
        .load(conn)?;
    Ok(Some(AdvisoryDetail {
        summary: from_json("advisories.summary_json", &a.summary_json)?,
        tlp: parse_tlp(&a.tlp).map_err(|e| StorageError::Corrupt(e.to_string()))?,
        id: a.id,
        tracking_id: a.tracking_id,
        publisher_org_id: a.publisher_org_id,
        publisher_name,
        title: a.title,
        category: a.category,
        status: a.status,
        year: a.year,
        file_name: a.file_name,
        path: a.path,
        severity: a.severity,
        max_cvss: a.max_cvss,
        initial_release_date: from_micros(a.initial_release_date),
        current_release_date: from_micros(a.current_release_date),
        cves,
        current,
        created_at: from_micros(a.created_at),
        updated_at: from_micros(a.updated_at),
    }))
}

/// Every stored revision of an advisory, oldest first.
pub fn list_revisions(
    conn: &mut DbConnection,
    tracking_id: &str,
) -> Result<Vec<RevisionInfo>, StorageError> {
    advisory_revisions::table
        .inner_join(advisories::table)
        .filter(advisories::tracking_id.eq(tracking_id))
        .select(RevisionInfoRow::as_select())
        .order((
            advisory_revisions::published_at.asc(),
            advisory_revisions::id.asc(),
        ))
        .load(conn)?
        .into_iter()
        .map(RevisionInfoRow::into_model)
        .collect()
}

/// A stored document with what the provider serves beside it (`.sha256`, `.sha512`, `.asc`).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredDocument {
    pub tracking_id: String,
    pub version: String,
    pub tlp: Tlp,
    pub path: String,
    pub bytes: Vec<u8>,
    pub sha256: String,
    pub sha512: String,
    pub signature: Option<String>,
    pub release_date: DateTime<Utc>,
}

/// The current document served at `path` (below `/.well-known/csaf/`).
pub fn get_document(
    conn: &mut DbConnection,
    path: &str,
) -> Result<Option<StoredDocument>, StorageError> {
    let found: Option<(String, RevisionRow)> = advisories::table
        .inner_join(
            advisory_revisions::table
                .on(advisory_revisions::id.eq(advisories::current_revision_id)),
        )
        .filter(advisories::path.eq(path))
        .select((advisories::tracking_id, RevisionRow::as_select()))
        .first(conn)
        .optional()?;
    found
        .map(|(tracking_id, r)| stored_document(tracking_id, r))
        .transpose()
}

/// The document of one revision, by tracking id and version.
pub fn get_revision_document(
    conn: &mut DbConnection,
    tracking_id: &str,
    version: &str,
) -> Result<Option<StoredDocument>, StorageError> {
    let found: Option<(String, RevisionRow)> = advisories::table
        .inner_join(
            advisory_revisions::table.on(advisory_revisions::advisory_id.eq(advisories::id)),
        )
        .filter(advisories::tracking_id.eq(tracking_id))
        .filter(advisory_revisions::version.eq(version))
        .select((advisories::tracking_id, RevisionRow::as_select()))
        .first(conn)
        .optional()?;
    found
        .map(|(tracking_id, r)| stored_document(tracking_id, r))
        .transpose()
}

fn stored_document(tracking_id: String, r: RevisionRow) -> Result<StoredDocument, StorageError> {
    Ok(StoredDocument {
        tlp: parse_tlp(&r.tlp).map_err(|e| StorageError::Corrupt(e.to_string()))?,
        tracking_id,
        version: r.version,
        path: r.path,
        bytes: r.document,
        sha256: r.sha256,
        sha512: r.sha512,
        signature: r.signature,
        release_date: from_micros(r.release_date),
    })
}

pub use herald_csaf::DocumentEntry;

/// Every advisory whose current revision carries `tlp`, newest first (as `changes.csv` wants).
pub fn list_current_documents(
    conn: &mut DbConnection,
    tlp: Tlp,
) -> Result<Vec<DocumentEntry>, StorageError> {
    documents_where(conn, tlp, crate::entitlement::Visibility::everything())
}

/// [`list_current_documents`] limited to what `reader` may read ([`crate::entitlement::visible_to`]): the
/// per-caller index, changes, listings and feeds of the restricted distribution directories.
pub fn list_visible_documents(
    conn: &mut DbConnection,
    tlp: Tlp,
    reader: &crate::entitlement::Reader,
) -> Result<Vec<DocumentEntry>, StorageError> {
    documents_where(conn, tlp, crate::entitlement::visible_to(reader, None))
}

fn documents_where(
    conn: &mut DbConnection,
    tlp: Tlp,
    visibility: crate::entitlement::Visibility,
) -> Result<Vec<DocumentEntry>, StorageError> {
    #[allow(clippy::type_complexity)]
    let rows: Vec<(
        String,
        String,
        String,
        String,
        i64,
        i64,
        String,
        String,
        Option<String>,
        Option<String>,
        String,
    )> = advisories::table
        .inner_join(
            advisory_revisions::table
                .on(advisory_revisions::id.eq(advisories::current_revision_id)),
        )
        .filter(advisories::tlp.eq(tlp_str(tlp)))
        .filter(visibility)
        .select((
            advisories::tracking_id,
            advisories::title,
            advisories::current_version,
            advisories::path,
            advisories::initial_release_date,
            advisories::current_release_date,
            advisory_revisions::sha256,
            advisory_revisions::sha512,
            advisory_revisions::signature,
            advisories::severity,
            advisories::summary_json,
        ))
        .order((
            advisories::current_release_date.desc(),
            advisories::tracking_id.asc(),
        ))
        .load(conn)?;
    rows.into_iter()
        .map(
            |(
                tracking_id,
                title,
                version,
                path,
                initial,
                current,
                sha256,
                sha512,
                signature,
                severity,
                json,
            )| {
                let summary: AdvisorySummary = from_json("advisories.summary_json", &json)?;
                Ok(DocumentEntry {
                    tracking_id,
                    title,
                    version,
                    path,
                    initial_release_date: from_micros(initial),
                    current_release_date: from_micros(current),
                    sha256,
                    sha512,
                    signed: signature.is_some(),
                    severity,
                    summary: summary.summary,
                })
            },
        )
        .collect()
}

/// The summary stored with one revision.
pub fn revision_summary(
    conn: &mut DbConnection,
    revision_id: &str,
) -> Result<AdvisorySummary, StorageError> {
    let json: String = advisory_revisions::table
        .find(revision_id)
        .select(advisory_revisions::summary_json)
        .first(conn)?;
    from_json("advisory_revisions.summary_json", &json)
}

/// How many advisories exist (any label).
pub fn count_advisories(conn: &mut DbConnection) -> Result<i64, StorageError> {
    Ok(advisories::table.count().get_result(conn)?)
}

/// When the newest revision was published: the provider's `last_updated`.
pub fn last_published_at(conn: &mut DbConnection) -> Result<Option<DateTime<Utc>>, StorageError> {
    let newest: Option<i64> = advisory_revisions::table
        .select(diesel::dsl::max(advisory_revisions::published_at))
        .first(conn)?;
    Ok(newest.map(from_micros))
}

/// A cheap fingerprint of everything the CSAF provider serves: it changes whenever a revision is
/// published, a signature is added, or a signing key is created or retired (in this process or
/// any other one sharing the database). Serving caches poll it to bound their staleness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicationMark {
    pub revisions: i64,
    pub signed_revisions: i64,
    pub newest_published_at: Option<i64>,
    pub keys: i64,
    pub retired_keys: i64,
    pub newest_key_at: Option<i64>,
}

pub fn publication_mark(conn: &mut DbConnection) -> Result<PublicationMark, StorageError> {
    use crate::schema::signing_keys;
    // Counts as well as maxima: clocks of several processes may disagree, counts only grow.
    let (revisions, newest_published_at): (i64, Option<i64>) = advisory_revisions::table
        .select((
            diesel::dsl::count_star(),
            diesel::dsl::max(advisory_revisions::published_at),
        ))
        .first(conn)?;
    let signed_revisions: i64 = advisory_revisions::table
        .filter(advisory_revisions::signature.is_not_null())
        .count()
        .get_result(conn)?;
    let (keys, newest_key_at): (i64, Option<i64>) = signing_keys::table
        .select((
            diesel::dsl::count_star(),
            diesel::dsl::max(signing_keys::created_at),
        ))
        .first(conn)?;
    let retired_keys: i64 = signing_keys::table
        .filter(signing_keys::retired_at.is_not_null())
        .count()
        .get_result(conn)?;
    Ok(PublicationMark {
        revisions,
        signed_revisions,
        newest_published_at,
        keys,
        retired_keys,
        newest_key_at,
    })
}
