//! Advisory authoring as a service: who may write, approve and publish drafts of the
//! manufacturer's advisories, tracking-id assignment, updates of published advisories, preview,
//! submission, and publication through the one publish path ([`publish_document`]). The REST API
//! (`/api/v1/drafts`) and the portal's authoring pages both call this module; neither has checks
//! of its own.
//!
//! Rules:
//! * only a manufacturer's callers: users with role publisher or admin (or a `publish` token
//!   without a user) write drafts; approvers may read them;
//! * with the organization's four-eyes setting on, a draft is published only after it was
//!   submitted, by a user with role approver or admin who is neither its author nor its last
//!   editor; with it off, any author publishes directly;
//! * publishing builds the document at that moment (version, revision history and dates are
//!   Herald's), refuses a stale update (the advisory moved on since the draft started) with a
//!   conflict, and runs publish + marking the draft published in one transaction: an invalid
//!   document changes nothing and its failed tests are returned.

use chrono::{DateTime, Datelike, Utc};
use herald_csaf::authoring::{
    Draft, DraftError, FieldProblem, PublisherInfo, TrackingInput, build_document, document_bytes,
    draft_from_document, first_revision, next_revision,
};
use herald_csaf::{Finding, Rejection};
use herald_storage::{
    DbConnection, StorageError, accounts::Role, drafts::DraftState, drafts::NewDraft,
    drafts::StoredDraft,
};
use serde::Serialize;

use crate::config::Config;
use crate::error::{FieldError, ServiceError};
use crate::publish::{PublishError, Published, publish_document};
use crate::service::Principal;

/// Who acts, as the authoring rules see it: the service's one principal.
pub type Caller = Principal;

/// People with the admin role of the manufacturer (also through a token made for them).
pub fn is_admin(caller: &Caller) -> bool {
    caller.is_manufacturer() && caller.role == Some(Role::Admin)
}

fn may_read(caller: &Caller) -> bool {
    caller.is_publisher() || caller.is_approver()
}

#[derive(Debug, thiserror::Error)]
pub enum AuthoringError {
    #[error("not found")]
    NotFound,
    /// The caller may not do this; the message says why.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    /// Draft fields the document cannot be built from.
    #[error(transparent)]
    Draft(#[from] DraftError),
    /// The built document is not valid CSAF 2.0.
    #[error(transparent)]
    Invalid(Rejection),
    #[error(transparent)]
    Storage(StorageError),
    #[error(transparent)]
    Publish(PublishError),
}

impl From<StorageError> for AuthoringError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::NotFound => Self::NotFound,
            StorageError::Conflict(m) => Self::Conflict(m),
            other => Self::Storage(other),
        }
    }
}

impl From<PublishError> for AuthoringError {
    fn from(e: PublishError) -> Self {
        match e {
            PublishError::Invalid(r) => Self::Invalid(r),
            PublishError::Conflict(m) => Self::Conflict(m),
            other => Self::Publish(other),
        }
    }
}

impl From<AuthoringError> for ServiceError {
    fn from(e: AuthoringError) -> Self {
        match e {
            AuthoringError::NotFound => ServiceError::NotFound,
            AuthoringError::Forbidden(m) => ServiceError::Refused(m),
            AuthoringError::Conflict(m) => ServiceError::Conflict(m),
            AuthoringError::Draft(d) => ServiceError::InvalidFields(
                d.problems
                    .into_iter()
                    .map(|p| FieldError {
                        field: p.field,
                        message: p.message,
                    })
                    .collect(),
            ),
            AuthoringError::Invalid(r) => ServiceError::Invalid(r.findings),
            AuthoringError::Storage(s) => s.into(),
            AuthoringError::Publish(p) => p.into(),
        }
    }
}

type Result<T, E = AuthoringError> = std::result::Result<T, E>;

fn forbidden(message: &str) -> AuthoringError {
    AuthoringError::Forbidden(message.to_string())
}

/// Drafts belong to the manufacturer: anyone else is refused before any rule is looked at.
pub fn check_caller(caller: &Caller) -> Result<()> {
    if caller.is_manufacturer() {
        Ok(())
    } else {
        Err(forbidden("drafts belong to the manufacturer"))
    }
}

/// A stored draft as callers see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DraftView {
    pub id: String,
    pub tracking_id: String,
    /// `draft`, `submitted`, `published` or `discarded`.
    pub state: String,
    /// For an update: the advisory version it was started from.
    pub base_version: Option<String>,
    #[schema(value_type = Object)]
    pub draft: Draft,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
    pub submitted_at: Option<DateTime<Utc>>,
    pub submitted_by: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    pub published_by: Option<String>,
    pub published_version: Option<String>,
    /// For an uploaded document held for approval (four-eyes): the version it publishes. Its
    /// `draft` then carries only the title and TLP; the document is published byte for byte.
    pub uploaded_version: Option<String>,
}

/// Key of the stored draft JSON under which an uploaded document waits for approval (the text of
/// the document, so that the very bytes uploaded are what is signed and published).
const UPLOAD_KEY: &str = "uploaded_document";
/// Key under which a held upload names the release whose fix it carries.
const RELEASE_KEY: &str = "release";

/// The uploaded document a held publication carries, if this draft is one.
fn uploaded(stored: &StoredDraft) -> Option<&str> {
    stored
        .draft
        .get(UPLOAD_KEY)
        .and_then(serde_json::Value::as_str)
}

/// Title, TLP and version of an uploaded document, for lists and previews.
fn upload_facts(text: &str) -> (Draft, Option<String>) {
    let doc: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    let title = doc
        .pointer("/document/title")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_string();
    let tlp = match doc
        .pointer("/document/distribution/tlp/label")
        .and_then(serde_json::Value::as_str)
    {
        Some("GREEN") => herald_csaf::Tlp::Green,
        Some("AMBER") => herald_csaf::Tlp::Amber,
        Some("RED") => herald_csaf::Tlp::Red,
        _ => herald_csaf::Tlp::White,
    };
    let version = doc
        .pointer("/document/tracking/version")
        .and_then(serde_json::Value::as_str)
        .map(str::to_string);
    (
        Draft {
            title,
            tlp,
            ..Draft::default()
        },
        version,
    )
}

fn view(stored: StoredDraft) -> Result<DraftView> {
    let (draft, uploaded_version) = match uploaded(&stored) {
        Some(text) => upload_facts(text),
        None => (
            serde_json::from_value(stored.draft).map_err(|e| {
                AuthoringError::Storage(StorageError::Corrupt(format!("draft {}: {e}", stored.id)))
            })?,
            None,
        ),
    };
    Ok(DraftView {
        uploaded_version,
        id: stored.id,
        tracking_id: stored.tracking_id,
        state: stored.state.as_str().to_string(),
        base_version: stored.base_version,
        draft,
        created_at: stored.created_at,
        created_by: stored.created_by,
        updated_at: stored.updated_at,
        updated_by: stored.updated_by,
        submitted_at: stored.submitted_at,
        submitted_by: stored.submitted_by,
        published_at: stored.published_at,
        published_by: stored.published_by,
        published_version: stored.published_version,
    })
}

fn to_json(draft: &Draft) -> Result<serde_json::Value> {
    serde_json::to_value(draft).map_err(|e| {
        AuthoringError::Storage(StorageError::Invalid(format!(
            "cannot store the draft: {e}"
        )))
    })
}

/// The prefix of tracking ids Herald assigns: the first word of the publisher's name in capitals
/// (`Meridian Medical Systems` → `MERIDIAN`, so `MERIDIAN-2026-0001`), `HERALD` when the name has
/// no ASCII letters or digits.
pub fn tracking_prefix(config: &Config) -> String {
    let word: String = config
        .publisher_name
        .split_whitespace()
        .map(|w| {
            w.chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
        })
        .find(|w| !w.is_empty())
        .unwrap_or_default()
        .to_ascii_uppercase();
    if word.is_empty() {
        "HERALD".into()
    } else {
        word.chars().take(24).collect()
    }
}

pub(crate) fn publisher(config: &Config) -> PublisherInfo {
    PublisherInfo {
        name: config.publisher_name.clone(),
        namespace: config.publisher_namespace.clone(),
        contact_details: Some(config.security_contact.clone()),
    }
}

fn require_author(caller: &Caller) -> Result<()> {
    if caller.is_publisher() {
        Ok(())
    } else {
        Err(forbidden(
            "writing drafts needs the publisher or admin role of the manufacturer",
        ))
    }
}

fn require_reader(caller: &Caller) -> Result<()> {
    if may_read(caller) {
        Ok(())
    } else {
        Err(forbidden(
            "drafts are for the manufacturer's publishers, approvers and admins",
        ))
    }
}

/// Fills catalog-backed products from the catalog and gives products without a CSAF product id
/// the next free `CSAFPID-NNNN`; product references (statuses, remediations) may name a product
/// by its catalog id and are rewritten to its product id. An unknown catalog id is a field error.
pub fn resolve_products(
    conn: &mut DbConnection,
    config: &Config,
    org_id: &str,
    draft: &mut Draft,
) -> Result<()> {
    let mut problems = Vec::new();
    for (i, p) in draft.products.iter_mut().enumerate() {
        let Some(catalog_id) = p.catalog_id.clone().filter(|c| !c.trim().is_empty()) else {
            continue;
        };
        match herald_storage::catalog::get_catalog_product(conn, org_id, catalog_id.trim())? {
            Some(c) => {
                p.vendor = c.vendor.unwrap_or_else(|| config.publisher_name.clone());
                p.family = c.family;
                p.name = c.name;
                p.version = c.version.unwrap_or_default();
                p.udi_di = c.udi_di;
                p.cpe = c.cpe;
                p.purl = c.purl;
            }
            None => problems.push(FieldProblem {
                field: format!("products[{i}].catalog_id"),
                message: format!("{catalog_id:?} is not a product of the catalog"),
            }),
        }
    }
    if !problems.is_empty() {
        return Err(DraftError { problems }.into());
    }
    let mut next = 1;
    let taken: Vec<String> = draft
        .products
        .iter()
        .map(|p| p.product_id.trim().to_string())
        .collect();
    let mut renames: Vec<(String, String)> = Vec::new();
    for p in draft.products.iter_mut() {
        if p.product_id.trim().is_empty() {
            let id = loop {
                let candidate = format!("CSAFPID-{next:04}");
                next += 1;
                if !taken.contains(&candidate) {
                    break candidate;
                }
            };
            p.product_id = id;
        }
        if let Some(c) = p
            .catalog_id
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            && c != p.product_id
        {
            renames.push((c.to_string(), p.product_id.clone()));
        }
    }
    let rename = |ids: &mut Vec<String>| {
        for id in ids.iter_mut() {
            if let Some((_, to)) = renames.iter().find(|(from, _)| from == id.trim()) {
                *id = to.clone();
            }
        }
    };
    for v in &mut draft.vulnerabilities {
        rename(&mut v.known_affected);
        rename(&mut v.fixed);
        rename(&mut v.known_not_affected);
        for r in &mut v.remediations {
            rename(&mut r.product_ids);
        }
    }
    Ok(())
}

/// The tracking the draft would be published with at `now`.
fn tracking_for(
    conn: &mut DbConnection,
    config: &Config,
    stored: &StoredDraft,
    draft: &Draft,
    now: DateTime<Utc>,
) -> Result<TrackingInput> {
    let mut tracking = match &stored.base_version {
        Some(base) => {
            let doc =
                herald_storage::advisories::get_revision_document(conn, &stored.tracking_id, base)?
                    .ok_or(AuthoringError::NotFound)?;
            let (_, previous) = draft_from_document(&doc.bytes)?;
            next_revision(&previous, now, &draft.revision_summary)?
        }
        None => first_revision(&stored.tracking_id, now, &draft.revision_summary),
    };
    let path = herald_csaf::document_path(
        draft.tlp,
        tracking.initial_release_date.year(),
        &tracking.id,
    );
    tracking.canonical_url = Some(crate::publish::csaf_url(config, &path));
    Ok(tracking)
}

/// Builds the document the draft would publish at `now` (catalog products resolved) and the
/// version it gets; a held upload is its uploaded document as it is.
fn build(
    conn: &mut DbConnection,
    config: &Config,
    stored: &StoredDraft,
    now: DateTime<Utc>,
) -> Result<(Vec<u8>, String)> {
    if let Some(text) = uploaded(stored) {
        let (_, version) = upload_facts(text);
        return Ok((text.as_bytes().to_vec(), version.unwrap_or_default()));
    }
    let mut draft: Draft = view(stored.clone())?.draft;
    resolve_products(conn, config, &stored.manufacturer_org_id, &mut draft)?;
    let tracking = tracking_for(conn, config, stored, &draft, now)?;
    let doc = build_document(&draft, &publisher(config), &tracking)?;
    Ok((document_bytes(&doc), tracking.version))
}

fn load(conn: &mut DbConnection, caller: &Caller, id: &str) -> Result<StoredDraft> {
    herald_storage::drafts::get_draft(conn, &caller.org_id, id)?.ok_or(AuthoringError::NotFound)
}

pub fn list(conn: &mut DbConnection, caller: &Caller, open_only: bool) -> Result<Vec<DraftView>> {
    require_reader(caller)?;
    herald_storage::drafts::list_drafts(conn, &caller.org_id, open_only)?
        .into_iter()
        .map(view)
        .collect()
}

pub fn get(conn: &mut DbConnection, caller: &Caller, id: &str) -> Result<DraftView> {
    require_reader(caller)?;
    view(load(conn, caller, id)?)
}

/// A new draft of a new advisory, with a freshly assigned tracking id.
pub fn create(
    conn: &mut DbConnection,
    config: &Config,
    caller: &Caller,
    draft: &Draft,
    now: DateTime<Utc>,
) -> Result<DraftView> {
    require_author(caller)?;
    let json = to_json(draft)?;
    let stored = herald_storage::write_transaction_as(conn, |conn| {
        let tracking_id = herald_storage::drafts::allocate_tracking_id(
            conn,
            &tracking_prefix(config),
            now.year(),
        )?;
        herald_storage::drafts::create_draft(
            conn,
            &NewDraft {
                manufacturer_org_id: &caller.org_id,
                tracking_id: &tracking_id,
                advisory_id: None,
                base_version: None,
                draft: &json,
                actor: &caller.actor(),
            },
        )
        .map_err(AuthoringError::from)
    })?;
    view(stored)
}

/// A draft of the next revision of a published advisory of the caller's organization, filled
/// from its current revision (an imported advisory as far as the draft model goes).
pub fn start_update(
    conn: &mut DbConnection,
    caller: &Caller,
    tracking_id: &str,
) -> Result<DraftView> {
    require_author(caller)?;
    let advisory = herald_storage::advisories::get_advisory(conn, tracking_id)?
        .filter(|a| a.publisher_org_id == caller.org_id)
        .ok_or(AuthoringError::NotFound)?;
    let doc = herald_storage::advisories::get_revision_document(
        conn,
        tracking_id,
        &advisory.current.version,
    )?
    .ok_or(AuthoringError::NotFound)?;
    let parsed: serde_json::Value = serde_json::from_slice(&doc.bytes)
        .map_err(|e| AuthoringError::Conflict(format!("the stored document is not JSON: {e}")))?;
    let dropped = herald_csaf::authoring::form_would_drop(&parsed);
    if !dropped.is_empty() {
        // Updating it through the form would publish a revision without this content.
        let shown = dropped
            .iter()
            .take(8)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        let more = dropped.len().saturating_sub(8);
        return Err(AuthoringError::Conflict(format!(
            "{tracking_id} holds what the authoring form cannot carry ({shown}{}); publish its next revision by uploading the revised CSAF document instead",
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        )));
    }
    let (mut draft, _) = herald_csaf::authoring::draft_from_value(&parsed)?;
    // Link products to the catalog where the catalog knows them (publishing filled it).
    let catalog = herald_storage::catalog::list_products(conn, &caller.org_id)?;
    for p in &mut draft.products {
        let same = |a: &Option<String>, b: &str| a.as_deref().unwrap_or("").eq_ignore_ascii_case(b);
        let family = p.family.clone().unwrap_or_default();
        p.catalog_id = catalog
            .iter()
            .find(|c| {
                same(&c.vendor, &p.vendor)
                    && same(&c.family, &family)
                    && c.name.eq_ignore_ascii_case(&p.name)
                    && same(&c.version, &p.version)
            })
            .map(|c| c.id.clone());
    }
    let json = to_json(&draft)?;
    let stored = herald_storage::drafts::create_draft(
        conn,
        &NewDraft {
            manufacturer_org_id: &caller.org_id,
            tracking_id: &advisory.tracking_id,
            advisory_id: Some(&advisory.id),
            base_version: Some(&advisory.current.version),
            draft: &json,
            actor: &caller.actor(),
        },
    )?;
    view(stored)
}

/// Replaces the draft's content (a submitted draft returns to `draft`).
pub fn save(
    conn: &mut DbConnection,
    caller: &Caller,
    id: &str,
    draft: &Draft,
) -> Result<DraftView> {
    require_author(caller)?;
    if uploaded(&load(conn, caller, id)?).is_some() {
        return Err(AuthoringError::Conflict(format!(
            "draft {id} holds an uploaded document awaiting approval; it is not edited through \
             the form: discard it and upload the corrected document"
        )));
    }
    let json = to_json(draft)?;
    view(herald_storage::drafts::update_draft(
        conn,
        &caller.org_id,
        id,
        &json,
        &caller.actor(),
    )?)
}

pub fn discard(conn: &mut DbConnection, caller: &Caller, id: &str) -> Result<DraftView> {
    require_author(caller)?;
    view(herald_storage::drafts::discard_draft(
        conn,
        &caller.org_id,
        id,
        &caller.actor(),
    )?)
}

/// What publishing the draft now would publish, and what stands in its way.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Preview {
    /// The CSAF document; absent when draft fields keep it from being built.
    #[schema(value_type = Option<Object>)]
    pub document: Option<serde_json::Value>,
    /// The version it would get.
    pub version: Option<String>,
    /// Draft fields the document cannot be built from.
    pub field_errors: Vec<FieldError>,
    /// Failed tests of the built document: errors block publication, warnings do not.
    #[schema(value_type = Vec<crate::error::FindingBody>)]
    #[serde(serialize_with = "serialize_findings")]
    pub findings: Vec<Finding>,
    /// Nothing blocks publication.
    pub valid: bool,
}

fn serialize_findings<S: serde::Serializer>(f: &[Finding], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(f.len()))?;
    for finding in f {
        seq.serialize_element(&crate::error::FindingBody::from(finding))?;
    }
    seq.end()
}

fn preview_of(
    conn: &mut DbConnection,
    config: &Config,
    stored: &StoredDraft,
    now: DateTime<Utc>,
) -> Result<Preview> {
    match build(conn, config, stored, now) {
        Ok((bytes, version)) => {
            let (findings, valid) = match herald_csaf::validate(&bytes) {
                Ok(v) => (v.warnings, true),
                Err(r) => (r.findings, false),
            };
            Ok(Preview {
                document: serde_json::from_slice(&bytes).ok(),
                version: Some(version),
                field_errors: Vec::new(),
                findings,
                valid,
            })
        }
        Err(AuthoringError::Draft(d)) => Ok(Preview {
            document: None,
            version: None,
            field_errors: d
                .problems
                .into_iter()
                .map(|p| FieldError {
                    field: p.field,
                    message: p.message,
                })
                .collect(),
            findings: Vec::new(),
            valid: false,
        }),
        Err(e) => Err(e),
    }
}

pub fn preview(
    conn: &mut DbConnection,
    config: &Config,
    caller: &Caller,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Preview> {
    require_reader(caller)?;
    let stored = load(conn, caller, id)?;
    preview_of(conn, config, &stored, now)
}

/// Submits the draft for approval. Refused when the document it would publish is not valid
/// (the preview's problems are returned) or when the draft is no longer open.
pub fn submit(
    conn: &mut DbConnection,
    config: &Config,
    caller: &Caller,
    id: &str,
    now: DateTime<Utc>,
) -> Result<DraftView> {
    require_author(caller)?;
    let stored = load(conn, caller, id)?;
    if !stored.state.is_open() {
        return Err(AuthoringError::Conflict(format!(
            "draft {id} is {}; it can no longer be submitted",
            stored.state
        )));
    }
    let (bytes, _) = build(conn, config, &stored, now)?;
    herald_csaf::validate(&bytes).map_err(AuthoringError::Invalid)?;
    view(herald_storage::drafts::submit_draft(
        conn,
        &caller.org_id,
        id,
        &caller.actor(),
    )?)
}

/// Why `caller` may not publish `stored` now, if so (the four-eyes rule and roles).
pub fn approval_refusal(
    caller: &Caller,
    stored: &StoredDraft,
    four_eyes: bool,
) -> Option<&'static str> {
    if !stored.state.is_open() {
        return Some("the draft is no longer open");
    }
    if !four_eyes {
        return (!caller.is_publisher() && !caller.is_approver())
            .then_some("publishing needs the publisher, approver or admin role");
    }
    if !caller.is_approver() {
        return Some("the four-eyes rule is on: publishing needs an approver or admin");
    }
    if stored.created_by == caller.actor() || stored.updated_by == caller.actor() {
        return Some(
            "the four-eyes rule is on: the author or last editor of a draft cannot approve it",
        );
    }
    if stored.state != DraftState::Submitted {
        return Some("the four-eyes rule is on: the draft must be submitted for approval first");
    }
    None
}

/// Approves and publishes the draft (see the module docs). Returns what was published and the
/// draft, now `published`.
pub fn publish(
    conn: &mut DbConnection,
    config: &Config,
    caller: &Caller,
    id: &str,
    now: DateTime<Utc>,
) -> Result<(Published, DraftView)> {
    let result = herald_storage::write_transaction_as(conn, |conn| {
        let stored = load(conn, caller, id)?;
        let four_eyes = herald_storage::drafts::four_eyes(conn, &caller.org_id)?;
        if let Some(why) = approval_refusal(caller, &stored, four_eyes) {
            return Err(if stored.state.is_open() {
                forbidden(why)
            } else {
                AuthoringError::Conflict(format!("draft {id} is {}", stored.state))
            });
        }
        herald_storage::drafts::check_draft_base(conn, &stored)?;
        let (bytes, _) = build(conn, config, &stored, now)?;
        let release = stored
            .draft
            .get(RELEASE_KEY)
            .and_then(serde_json::Value::as_str)
            .map(str::to_string);
        let published = match release {
            Some(release_id) => crate::service::releases::publish_held_fix(
                conn,
                config,
                caller,
                &release_id,
                &stored.tracking_id,
                &bytes,
            )?,
            None => publish_document(conn, config, &bytes, &caller.org_id, &caller.actor())?,
        };
        let marked = herald_storage::drafts::mark_draft_published(
            conn,
            &caller.org_id,
            id,
            &published.version,
            &caller.actor(),
        )?;
        Ok((published, view(marked)?))
    });
    if result.is_ok() {
        // publish_document told the serving cache before the outer transaction committed; a
        // reader in between may have cached the old state, so tell it again now.
        crate::published::note_local_change();
    }
    result
}

/// Holds an uploaded, valid CSAF document for approval: a draft of the caller's organization,
/// already submitted, that carries the document as uploaded (published byte for byte by
/// [`publish`] once an approver who is not its submitter approves it). An update of a published
/// advisory records the version it was uploaded against, so that an approval after the advisory
/// moved on is refused like any stale update.
pub fn hold_upload(
    conn: &mut DbConnection,
    caller: &Caller,
    document: &str,
    tracking_id: &str,
) -> Result<DraftView> {
    hold(conn, caller, document, tracking_id, None)
}

/// Holds a release's revision of a published advisory for approval, like [`hold_upload`]; the
/// held publication names the release, so that its approval announces the revision as the
/// release's `patch.available` notice and records it on the release
/// ([`crate::service::releases::publish_held_fix`]).
pub fn hold_release_revision(
    conn: &mut DbConnection,
    caller: &Caller,
    document: &str,
    tracking_id: &str,
    release_id: &str,
) -> Result<DraftView> {
    hold(conn, caller, document, tracking_id, Some(release_id))
}

fn hold(
    conn: &mut DbConnection,
    caller: &Caller,
    document: &str,
    tracking_id: &str,
    release_id: Option<&str>,
) -> Result<DraftView> {
    require_author(caller)?;
    let existing = herald_storage::advisories::get_advisory(conn, tracking_id)?;
    let mut json = serde_json::json!({ UPLOAD_KEY: document });
    if let (Some(r), Some(map)) = (release_id, json.as_object_mut()) {
        map.insert(RELEASE_KEY.into(), r.into());
    }
    let stored = herald_storage::write_transaction_as(conn, |conn| {
        let created = herald_storage::drafts::create_draft(
            conn,
            &NewDraft {
                manufacturer_org_id: &caller.org_id,
                tracking_id,
                advisory_id: existing.as_ref().map(|a| a.id.as_str()),
                base_version: existing.as_ref().map(|a| a.current.version.as_str()),
                draft: &json,
                actor: &caller.actor(),
            },
        )?;
        herald_storage::drafts::submit_draft(conn, &caller.org_id, &created.id, &caller.actor())
            .map_err(AuthoringError::from)
    })?;
    view(stored)
}

/// Turns the four-eyes rule on or off (the manufacturer's admins only; audited).
pub fn set_four_eyes(conn: &mut DbConnection, caller: &Caller, on: bool) -> Result<()> {
    if !is_admin(caller) {
        return Err(forbidden(
            "only an admin of the manufacturer changes the four-eyes rule",
        ));
    }
    Ok(herald_storage::drafts::set_four_eyes(
        conn,
        &caller.org_id,
        on,
        &caller.actor(),
    )?)
}

pub fn four_eyes(conn: &mut DbConnection, caller: &Caller) -> Result<bool> {
    Ok(herald_storage::drafts::four_eyes(conn, &caller.org_id)?)
}
