//! Authoring advisories in the portal without hand-written JSON: the view models of the draft
//! list (`/authoring`) and the draft form (`/authoring/:id`), the server functions behind them
//! and the pages. The server's [`Portal`](crate::model::Portal) builds the CSAF document from the
//! form, computes CVSS 3.1 scores, stores drafts, validates and publishes (through the one publish
//! path), and does every authorization check (the manufacturer's publishers, approvers and admins
//! only; with the four-eyes rule on, the approver of a publication is not its author).
//!
//! The form works without JavaScript: it is one `ActionForm` whose submit buttons all post to
//! [`authoring_form`] with an `op` naming what was pressed; every button first saves what was
//! typed, so "Add vulnerability" or "Remove" come back with the draft saved and one row more or
//! fewer. Field errors name the field with the paths of [`field`] and appear next to it.

use std::collections::BTreeMap;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// TLP labels a draft may carry, as the select offers them (CSAF 2.0 `distribution.tlp.label`).
pub const TLP_LABELS: [&str; 4] = ["WHITE", "GREEN", "AMBER", "RED"];

/// CSAF 2.0 note categories the note rows offer.
pub const NOTE_CATEGORIES: [&str; 7] = [
    "summary",
    "description",
    "details",
    "general",
    "faq",
    "legal_disclaimer",
    "other",
];

/// CSAF 2.0 remediation categories the remediation rows offer.
pub const REMEDIATION_CATEGORIES: [&str; 5] = [
    "vendor_fix",
    "mitigation",
    "workaround",
    "no_fix_planned",
    "none_available",
];

/// Why products are known not affected (CSAF 2.0 VEX justification labels), the first choice
/// (none) for a vulnerability with no such product. The server checks the same list.
pub const NOT_AFFECTED_JUSTIFICATIONS: [&str; 6] = [
    "",
    "component_not_present",
    "inline_mitigations_already_exist",
    "vulnerable_code_cannot_be_controlled_by_adversary",
    "vulnerable_code_not_in_execute_path",
    "vulnerable_code_not_present",
];

/// Everything a publisher types (or picks) for one advisory; Herald derives the rest of the CSAF
/// document (tracking id, version, dates, revision history, publisher, product tree, scores).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct AuthoringForm {
    /// Absent: a new draft.
    pub draft_id: Option<String>,
    /// Assigned by Herald; shown read-only (set when the draft updates a published advisory).
    pub tracking_id: Option<String>,
    pub title: String,
    /// One of [`TLP_LABELS`].
    pub tlp: String,
    /// The document's summary note.
    pub summary: String,
    /// Further document notes.
    pub notes: Vec<NoteRow>,
    pub references: Vec<RefRow>,
    /// One acknowledgment (a name or an organisation) per entry.
    pub acknowledgments: Vec<String>,
    /// Catalog product ids the advisory covers (checkboxes of the catalog).
    pub product_ids: Vec<String>,
    pub vulnerabilities: Vec<VulnRow>,
    /// What changed, for the revision-history entry of an update (empty: Herald's default text).
    pub revision_summary: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct NoteRow {
    /// One of [`NOTE_CATEGORIES`].
    pub category: String,
    pub title: String,
    pub text: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct RefRow {
    pub url: String,
    pub summary: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct VulnRow {
    /// `CVE-YYYY-NNNN…`, or empty.
    pub cve: String,
    /// `CWE-79`, or empty.
    pub cwe_id: String,
    pub cwe_name: String,
    pub title: String,
    pub description: String,
    /// A CVSS 3.1 vector string; the score and severity are computed from it.
    pub cvss_vector: String,
    /// Catalog product ids known affected.
    pub affected: Vec<String>,
    /// Catalog product ids fixed.
    pub fixed: Vec<String>,
    /// Catalog product ids known not affected (a VEX statement for them).
    pub not_affected: Vec<String>,
    /// One of [`NOT_AFFECTED_JUSTIFICATIONS`]; needed when `not_affected` is not empty.
    pub not_affected_justification: String,
    pub remediations: Vec<RemRow>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct RemRow {
    /// One of [`REMEDIATION_CATEGORIES`].
    pub category: String,
    pub details: String,
    pub url: String,
    /// Catalog product ids the remediation applies to.
    pub product_ids: Vec<String>,
}

/// A problem with one field of the form, named by its path (see [`field`]), or with the form as
/// a whole (`form`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// Paths that name form fields in [`FieldError::field`]: dotted, with zero-based row indices, e.g.
/// `title`, `tlp`, `summary`, `product_ids`, `acknowledgments`, `revision_summary`,
/// `notes.0.text`, `references.1.url`, `vulnerabilities.0.cvss_vector`,
/// `vulnerabilities.0.affected`, `vulnerabilities.0.remediations.1.url`; `form` for the whole.
pub mod field {
    pub const FORM: &str = "form";

    pub fn note(i: usize, name: &str) -> String {
        format!("notes.{i}.{name}")
    }

    pub fn reference(i: usize, name: &str) -> String {
        format!("references.{i}.{name}")
    }

    pub fn vulnerability(i: usize, name: &str) -> String {
        format!("vulnerabilities.{i}.{name}")
    }

    pub fn remediation(vuln: usize, i: usize, name: &str) -> String {
        format!("vulnerabilities.{vuln}.remediations.{i}.{name}")
    }
}

/// A failed CSAF test of the built document (errors block submitting and publishing; warnings
/// only inform).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ValidationIssue {
    /// e.g. `6.1.1`, or `schema`.
    pub test_id: String,
    /// JSON path in the document, e.g. `/vulnerabilities/0/scores/0`.
    pub path: String,
    pub message: String,
    pub warning: bool,
}

/// A computed CVSS 3.1 base score.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CvssScore {
    pub score: f64,
    /// `NONE`, `LOW`, `MEDIUM`, `HIGH` or `CRITICAL` (as CSAF spells `baseSeverity`).
    pub severity: String,
}

/// One row of the draft list.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DraftSummary {
    pub id: String,
    /// Absent until Herald assigns one (a new advisory's id may be assigned at publication).
    pub tracking_id: Option<String>,
    pub title: String,
    /// `draft`, `submitted` (waiting for approval), `published` or `discarded`.
    pub state: String,
    /// The version publishing it would produce (or produced).
    pub version: Option<String>,
    /// Display name of the author.
    pub author: String,
    /// `YYYY-MM-DD HH:MM:SS UTC`.
    pub updated_at: String,
    /// The viewer may approve and publish it now.
    pub can_approve: bool,
}

/// The draft list.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DraftsView {
    pub drafts: Vec<DraftSummary>,
    /// The four-eyes rule is on (the approver of a publication cannot be its author).
    pub four_eyes: bool,
    /// The viewer may start drafts (a publisher or admin of the manufacturer).
    pub can_author: bool,
    /// The viewer may switch the four-eyes rule (an admin of the manufacturer).
    pub can_configure: bool,
}

/// The draft form page.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DraftPage {
    pub form: AuthoringForm,
    /// `draft`, `submitted`, `published` or `discarded`.
    pub state: String,
    /// The version publishing it would produce.
    pub version: Option<String>,
    /// Display name of the author.
    pub author: String,
    pub updated_at: String,
    /// Catalog products the checkboxes offer.
    pub products: Vec<crate::model::ProductOption>,
    /// Computed score per vulnerability row (same order as `form.vulnerabilities`); `None` when
    /// the row has no vector or an invalid one (its error is in `errors`).
    pub scores: Vec<Option<CvssScore>>,
    /// Problems of the stored draft, next to their fields.
    pub errors: Vec<FieldError>,
    pub four_eyes: bool,
    /// The viewer may change the draft (and so save, add and remove rows, preview).
    pub can_edit: bool,
    /// The viewer may submit it for approval.
    pub can_submit: bool,
    /// The viewer may approve and publish it now.
    pub can_approve: bool,
    /// The viewer may discard it.
    pub can_discard: bool,
    /// Why the viewer may not approve, when that helps (e.g. "you are its author and the
    /// four-eyes rule is on").
    pub approval_note: Option<String>,
}

/// The CSAF document a draft would produce, as it would be published.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PreviewView {
    /// Pretty-printed CSAF JSON, shown as text.
    pub json: String,
    /// Failed tests (errors and warnings) of the built document.
    pub issues: Vec<ValidationIssue>,
    /// Problems with form fields that kept the document from being built completely.
    pub errors: Vec<FieldError>,
}

/// What saving a draft did: its id (new for a new draft) and problems to show next to fields.
/// The draft is stored as typed even with problems (drafts may be incomplete); a form that cannot
/// be stored at all is refused with [`PortalError::Invalid`](crate::model::PortalError).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SaveOutcome {
    pub id: String,
    pub errors: Vec<FieldError>,
}

/// A published advisory.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PublishedView {
    pub tracking_id: String,
    pub version: String,
    /// Portal path or URL of the advisory page.
    pub portal_url: String,
    /// URL of the CSAF JSON.
    pub csaf_url: String,
}

/// Submitting or publishing was refused because the document is not valid (a missing
/// permission is [`PortalError::Forbidden`](crate::model::PortalError) instead).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Refusal {
    pub errors: Vec<FieldError>,
    pub issues: Vec<ValidationIssue>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum SubmitOutcome {
    Submitted,
    Refused(Refusal),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum PublishOutcome {
    Published(PublishedView),
    Refused(Refusal),
}

// ---------------------------------------------------------------------------------------------
// paths and form rows

/// Portal path of a draft.
pub fn draft_path(id: &str) -> String {
    format!("/authoring/{}", crate::destinations::query_value(id))
}

/// Row keys of the repeated groups in form field names (`note[r0][text]`): a letter first,
/// because the form decoder reads a key that starts with a digit as a list index.
pub fn row_key(i: usize) -> String {
    format!("r{i}")
}

/// Key of a remediation row (`rem[v0r1][details]`): remediations are their own top-level group
/// so that field names stay within the form decoder's nesting limit.
pub fn rem_key(vuln: usize, i: usize) -> String {
    format!("v{vuln}r{i}")
}

/// The row index of a [`row_key`].
pub fn parse_row_key(key: &str) -> Option<usize> {
    key.strip_prefix('r')?.parse().ok()
}

/// The vulnerability and row index of a [`rem_key`].
pub fn parse_rem_key(key: &str) -> Option<(usize, usize)> {
    let (v, r) = key.strip_prefix('v')?.split_once('r')?;
    Some((v.parse().ok()?, r.parse().ok()?))
}

/// A note row as the form posts it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default)]
pub struct NoteInput {
    pub category: String,
    pub title: String,
    pub text: String,
}

/// A reference row as the form posts it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default)]
pub struct RefInput {
    pub url: String,
    pub summary: String,
}

/// A vulnerability row as the form posts it; product checkboxes are `name[p:ID]=on`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default)]
pub struct VulnInput {
    pub cve: String,
    pub cwe_id: String,
    pub cwe_name: String,
    pub title: String,
    pub description: String,
    pub cvss_vector: String,
    pub affected: BTreeMap<String, String>,
    pub fixed: BTreeMap<String, String>,
    pub not_affected: BTreeMap<String, String>,
    pub not_affected_justification: String,
}

/// A remediation row as the form posts it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default)]
pub struct RemInput {
    pub category: String,
    pub details: String,
    pub url: String,
    pub products: BTreeMap<String, String>,
}

/// Everything the draft form posts, before it becomes an [`AuthoringForm`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FormInput {
    pub draft_id: Option<String>,
    pub title: Option<String>,
    pub tlp: Option<String>,
    pub summary: Option<String>,
    pub revision_summary: Option<String>,
    pub acknowledgments: Option<String>,
    pub product: Option<BTreeMap<String, String>>,
    pub note: Option<BTreeMap<String, NoteInput>>,
    pub reference: Option<BTreeMap<String, RefInput>>,
    pub vuln: Option<BTreeMap<String, VulnInput>>,
    pub rem: Option<BTreeMap<String, RemInput>>,
}

fn is_on(value: &str) -> bool {
    !value.is_empty() && value != "false" && value != "off"
}

/// Checked keys of a `name[p:ID]=on` checkbox group, in catalog-id order.
pub fn checked_ids(group: &BTreeMap<String, String>) -> Vec<String> {
    group
        .iter()
        .filter(|(_, v)| is_on(v))
        .filter_map(|(k, _)| {
            k.strip_prefix(crate::destinations::CHECKBOX_KEY_PREFIX)
                .map(str::to_string)
        })
        .collect()
}

/// Rows of a `group[rN]` map in row order (by number, so `r10` follows `r9`); keys that are
/// not row keys are ignored.
fn rows_in_order<T: Clone>(group: Option<&BTreeMap<String, T>>) -> Vec<T> {
    let mut rows: Vec<(usize, T)> = group
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| parse_row_key(k).map(|i| (i, v.clone())))
        .collect();
    rows.sort_by_key(|(i, _)| *i);
    rows.into_iter().map(|(_, v)| v).collect()
}

/// Lines of a textarea, trimmed, without empty ones.
fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

impl FormInput {
    /// The form as Herald stores it. Rows keep the order the page showed them in (row numbers
    /// are the page's indices), so that "Remove" buttons name the right row.
    pub fn into_form(self) -> AuthoringForm {
        let vuln_keys: Vec<(usize, VulnInput)> = {
            let mut rows: Vec<(usize, VulnInput)> = self
                .vuln
                .iter()
                .flatten()
                .filter_map(|(k, v)| parse_row_key(k).map(|i| (i, v.clone())))
                .collect();
            rows.sort_by_key(|(i, _)| *i);
            rows
        };
        let mut rems: Vec<((usize, usize), RemInput)> = self
            .rem
            .iter()
            .flatten()
            .filter_map(|(k, v)| parse_rem_key(k).map(|i| (i, v.clone())))
            .collect();
        rems.sort_by_key(|(i, _)| *i);
        let vulnerabilities = vuln_keys
            .into_iter()
            .map(|(i, v)| VulnRow {
                cve: v.cve.trim().to_string(),
                cwe_id: v.cwe_id.trim().to_string(),
                cwe_name: v.cwe_name.trim().to_string(),
                title: v.title.trim().to_string(),
                description: v.description.trim().to_string(),
                cvss_vector: v.cvss_vector.trim().to_string(),
                affected: checked_ids(&v.affected),
                fixed: checked_ids(&v.fixed),
                not_affected: checked_ids(&v.not_affected),
                not_affected_justification: v.not_affected_justification.trim().to_string(),
                remediations: rems
                    .iter()
                    .filter(|((vi, _), _)| *vi == i)
                    .map(|(_, r)| RemRow {
                        category: r.category.trim().to_string(),
                        details: r.details.trim().to_string(),
                        url: r.url.trim().to_string(),
                        product_ids: checked_ids(&r.products),
                    })
                    .collect(),
            })
            .collect();
        AuthoringForm {
            draft_id: self.draft_id.filter(|d| !d.trim().is_empty()),
            tracking_id: None,
            title: self.title.unwrap_or_default().trim().to_string(),
            tlp: self.tlp.unwrap_or_default().trim().to_string(),
            summary: self.summary.unwrap_or_default().trim().to_string(),
            notes: rows_in_order(self.note.as_ref())
                .into_iter()
                .map(|n| NoteRow {
                    category: n.category.trim().to_string(),
                    title: n.title.trim().to_string(),
                    text: n.text.trim().to_string(),
                })
                .collect(),
            references: rows_in_order(self.reference.as_ref())
                .into_iter()
                .map(|r| RefRow {
                    url: r.url.trim().to_string(),
                    summary: r.summary.trim().to_string(),
                })
                .collect(),
            acknowledgments: lines(&self.acknowledgments.unwrap_or_default()),
            product_ids: checked_ids(&self.product.unwrap_or_default()),
            vulnerabilities,
            revision_summary: self.revision_summary.unwrap_or_default().trim().to_string(),
        }
    }
}

/// What a button of the draft form asks for, from its `op` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormOp {
    Save,
    Preview,
    Submit,
    Publish,
    Discard,
    AddNote,
    RemoveNote(usize),
    AddReference,
    RemoveReference(usize),
    AddVulnerability,
    RemoveVulnerability(usize),
    AddRemediation(usize),
    RemoveRemediation(usize, usize),
}

impl FormOp {
    /// The `op` value of a button; unknown values are `None` (the form refuses them).
    pub fn parse(op: &str) -> Option<Self> {
        let mut parts = op.split(':');
        let name = parts.next()?;
        let mut num = || parts.next().and_then(|p| p.parse::<usize>().ok());
        Some(match name {
            "" | "save" => FormOp::Save,
            "preview" => FormOp::Preview,
            "submit" => FormOp::Submit,
            "publish" => FormOp::Publish,
            "discard" => FormOp::Discard,
            "add_note" => FormOp::AddNote,
            "remove_note" => FormOp::RemoveNote(num()?),
            "add_ref" => FormOp::AddReference,
            "remove_ref" => FormOp::RemoveReference(num()?),
            "add_vuln" => FormOp::AddVulnerability,
            "remove_vuln" => FormOp::RemoveVulnerability(num()?),
            "add_rem" => FormOp::AddRemediation(num()?),
            "remove_rem" => {
                let v = num()?;
                FormOp::RemoveRemediation(v, num()?)
            }
            _ => return None,
        })
    }

    /// Applies a row change to the form; returns the anchor the page should scroll to.
    pub fn apply(self, form: &mut AuthoringForm) -> Option<String> {
        fn remove<T>(rows: &mut Vec<T>, i: usize) {
            if i < rows.len() {
                rows.remove(i);
            }
        }
        match self {
            FormOp::AddNote => {
                form.notes.push(NoteRow {
                    category: "details".into(),
                    ..NoteRow::default()
                });
                Some(format!("note-{}", form.notes.len() - 1))
            }
            FormOp::RemoveNote(i) => {
                remove(&mut form.notes, i);
                Some("notes".into())
            }
            FormOp::AddReference => {
                form.references.push(RefRow::default());
                Some(format!("ref-{}", form.references.len() - 1))
            }
            FormOp::RemoveReference(i) => {
                remove(&mut form.references, i);
                Some("references".into())
            }
            FormOp::AddVulnerability => {
                form.vulnerabilities.push(VulnRow::default());
                Some(format!("vuln-{}", form.vulnerabilities.len() - 1))
            }
            FormOp::RemoveVulnerability(i) => {
                remove(&mut form.vulnerabilities, i);
                Some("vulnerabilities".into())
            }
            FormOp::AddRemediation(v) => {
                let vuln = form.vulnerabilities.get_mut(v)?;
                vuln.remediations.push(RemRow {
                    category: "vendor_fix".into(),
                    ..RemRow::default()
                });
                Some(format!("rem-{v}-{}", vuln.remediations.len() - 1))
            }
            FormOp::RemoveRemediation(v, i) => {
                let vuln = form.vulnerabilities.get_mut(v)?;
                remove(&mut vuln.remediations, i);
                Some(format!("vuln-{v}"))
            }
            FormOp::Save | FormOp::Preview | FormOp::Submit | FormOp::Publish | FormOp::Discard => {
                None
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// server functions

/// The draft list (the manufacturer's publishers, approvers and admins).
#[server(prefix = "/api", endpoint = "authoring_drafts", client = crate::csrf::CsrfClient)]
pub async fn list_drafts() -> Result<DraftsView, ServerFnError> {
    let portal = crate::api::ssr::portal()?;
    let viewer = crate::api::ssr::viewer(portal.as_ref()).await?;
    portal
        .drafts(&viewer)
        .await
        .map_err(crate::api::ssr::user_error)
}

/// One draft with what its form offers.
#[server(prefix = "/api", endpoint = "authoring_draft", client = crate::csrf::CsrfClient)]
pub async fn get_draft(id: String) -> Result<DraftPage, ServerFnError> {
    let portal = crate::api::ssr::portal()?;
    let viewer = crate::api::ssr::viewer(portal.as_ref()).await?;
    portal
        .draft(&viewer, &id)
        .await
        .map_err(crate::api::ssr::user_error)
}

/// The CSAF document a draft would produce, with its failed tests.
#[server(prefix = "/api", endpoint = "authoring_preview", client = crate::csrf::CsrfClient)]
pub async fn preview_draft(id: String) -> Result<PreviewView, ServerFnError> {
    let portal = crate::api::ssr::portal()?;
    let viewer = crate::api::ssr::viewer(portal.as_ref()).await?;
    portal
        .preview_draft(&viewer, &id)
        .await
        .map_err(crate::api::ssr::user_error)
}

/// Starts a new advisory and opens its form.
#[server(prefix = "/api", endpoint = "authoring_new", client = crate::csrf::CsrfClient)]
pub async fn new_draft() -> Result<(), ServerFnError> {
    let portal = crate::api::ssr::portal()?;
    let viewer = crate::api::ssr::viewer(portal.as_ref()).await?;
    let id = portal
        .new_draft(&viewer)
        .await
        .map_err(crate::api::ssr::user_error)?;
    leptos_actix::redirect(&draft_path(&id));
    Ok(())
}

/// Starts the next revision of a published advisory and opens its form.
#[server(prefix = "/api", endpoint = "authoring_update", client = crate::csrf::CsrfClient)]
pub async fn start_update(tracking_id: String) -> Result<(), ServerFnError> {
    let portal = crate::api::ssr::portal()?;
    let viewer = crate::api::ssr::viewer(portal.as_ref()).await?;
    let id = portal
        .start_update(&viewer, &tracking_id)
        .await
        .map_err(crate::api::ssr::user_error)?;
    leptos_actix::redirect(&draft_path(&id));
    Ok(())
}

/// Switches the four-eyes rule (`enabled` is a checkbox: absent means off), then back to the list.
#[server(prefix = "/api", endpoint = "authoring_four_eyes", client = crate::csrf::CsrfClient)]
pub async fn set_four_eyes(enabled: Option<String>) -> Result<(), ServerFnError> {
    let portal = crate::api::ssr::portal()?;
    let viewer = crate::api::ssr::viewer(portal.as_ref()).await?;
    let enabled = enabled.as_deref().is_some_and(is_on);
    portal
        .set_four_eyes(&viewer, enabled)
        .await
        .map_err(crate::api::ssr::user_error)?;
    leptos_actix::redirect("/authoring?four_eyes_changed=1");
    Ok(())
}

/// Submits, publishes or discards a draft without changing it (the buttons of a draft the viewer
/// may not edit, e.g. one waiting for approval).
#[server(prefix = "/api", endpoint = "authoring_act", client = crate::csrf::CsrfClient)]
pub async fn act_on_draft(id: String, op: String) -> Result<(), ServerFnError> {
    let portal = crate::api::ssr::portal()?;
    let viewer = crate::api::ssr::viewer(portal.as_ref()).await?;
    let op = match FormOp::parse(&op) {
        Some(op @ (FormOp::Submit | FormOp::Publish | FormOp::Discard | FormOp::Preview)) => op,
        _ => {
            return Err(crate::api::ssr::user_error(
                crate::model::PortalError::Invalid(format!("unknown action {op:?}")),
            ));
        }
    };
    ssr::finish(portal.as_ref(), &viewer, &id, op, None).await
}

pub use form_fn::{AuthoringSave, authoring_save};

/// The form's server function on its own: a plain form sends every group as its own argument,
/// more than clippy likes on one function (the allow must cover what the `server` macro
/// generates).
mod form_fn {
    #![allow(clippy::too_many_arguments)]

    use super::*;

    /// Every button of the draft form: saves what was typed (with the row added or removed that
    /// the button asks for), then previews, submits, publishes or just comes back to the form.
    #[server(prefix = "/api", endpoint = "authoring_save", client = crate::csrf::CsrfClient)]
    pub async fn authoring_save(
        draft_id: Option<String>,
        title: Option<String>,
        tlp: Option<String>,
        summary: Option<String>,
        revision_summary: Option<String>,
        acknowledgments: Option<String>,
        product: Option<BTreeMap<String, String>>,
        note: Option<BTreeMap<String, NoteInput>>,
        reference: Option<BTreeMap<String, RefInput>>,
        vuln: Option<BTreeMap<String, VulnInput>>,
        rem: Option<BTreeMap<String, RemInput>>,
        op: Option<String>,
    ) -> Result<(), ServerFnError> {
        use crate::model::PortalError;

        let portal = crate::api::ssr::portal()?;
        let viewer = crate::api::ssr::viewer(portal.as_ref()).await?;
        let op_text = op.unwrap_or_default();
        let op = FormOp::parse(&op_text).ok_or_else(|| {
            crate::api::ssr::user_error(PortalError::Invalid(format!("unknown action {op_text:?}")))
        })?;
        if op == FormOp::Discard {
            // Discarding keeps nothing, so what was typed is not saved first.
            let id = draft_id.unwrap_or_default();
            return ssr::finish(portal.as_ref(), &viewer, &id, op, None).await;
        }
        let mut form = FormInput {
            draft_id,
            title,
            tlp,
            summary,
            revision_summary,
            acknowledgments,
            product,
            note,
            reference,
            vuln,
            rem,
        }
        .into_form();
        let anchor = op.apply(&mut form);
        if op == FormOp::Publish
            && let Some(id) = form.draft_id.clone()
            && ssr::unchanged(portal.as_ref(), &viewer, &id, &form).await
        {
            // Saving would make the approver the draft's last editor, whom the four-eyes rule
            // keeps from approving it: an approver who changed nothing only approves.
            return ssr::finish(portal.as_ref(), &viewer, &id, op, None).await;
        }
        let saved = portal
            .save_draft(&viewer, form)
            .await
            .map_err(crate::api::ssr::user_error)?;
        ssr::finish(portal.as_ref(), &viewer, &saved.id, op, anchor).await
    }
}

#[cfg(feature = "ssr")]
mod ssr {
    use leptos::prelude::ServerFnError;

    use super::{AuthoringForm, FormOp, PublishOutcome, SubmitOutcome, draft_path};
    use crate::model::{Portal, Viewer};

    /// The posted form says what the stored draft says (so saving would change nothing).
    pub async fn unchanged(
        portal: &dyn Portal,
        viewer: &Viewer,
        id: &str,
        posted: &AuthoringForm,
    ) -> bool {
        let Ok(stored) = portal.draft(viewer, id).await else {
            return false;
        };
        // Only what the form edits counts: the tracking id is not posted.
        let stored = AuthoringForm {
            tracking_id: None,
            draft_id: Some(id.to_string()),
            ..stored.form
        };
        let posted = AuthoringForm {
            tracking_id: None,
            draft_id: Some(id.to_string()),
            ..posted.clone()
        };
        stored == posted
    }

    /// Does what the button asked after the draft is saved, and redirects to where its result
    /// shows.
    pub async fn finish(
        portal: &dyn Portal,
        viewer: &Viewer,
        id: &str,
        op: FormOp,
        anchor: Option<String>,
    ) -> Result<(), ServerFnError> {
        let err = crate::api::ssr::user_error;
        let page = draft_path(id);
        let target = match op {
            FormOp::Preview => format!("{page}?preview=1#preview"),
            FormOp::Submit => match portal.submit_draft(viewer, id).await.map_err(err)? {
                SubmitOutcome::Submitted => format!("{page}?submitted=1"),
                SubmitOutcome::Refused(_) => format!("{page}?refused=submit#preview"),
            },
            FormOp::Publish => match portal.publish_draft(viewer, id).await.map_err(err)? {
                PublishOutcome::Published(p) => {
                    format!(
                        "{}?published={}",
                        crate::advisory_path(&p.tracking_id),
                        crate::destinations::query_value(&p.version)
                    )
                }
                PublishOutcome::Refused(_) => format!("{page}?refused=publish#preview"),
            },
            FormOp::Discard => {
                portal.discard_draft(viewer, id).await.map_err(err)?;
                "/authoring?discarded=1".to_string()
            }
            _ => match anchor {
                Some(anchor) => format!("{page}?saved=1#{anchor}"),
                None => format!("{page}?saved=1"),
            },
        };
        leptos_actix::redirect(&target);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_parse_and_change_rows() {
        assert_eq!(
            FormOp::parse("remove_rem:1:2"),
            Some(FormOp::RemoveRemediation(1, 2))
        );
        assert_eq!(FormOp::parse("remove_rem:1"), None);
        assert_eq!(FormOp::parse("frobnicate"), None);
        let mut form = AuthoringForm::default();
        assert_eq!(FormOp::AddRemediation(0).apply(&mut form), None);
        assert_eq!(
            FormOp::AddVulnerability.apply(&mut form).as_deref(),
            Some("vuln-0")
        );
        FormOp::AddRemediation(0).apply(&mut form);
        FormOp::AddRemediation(0).apply(&mut form);
        form.vulnerabilities[0].remediations[0].details = "first".into();
        FormOp::RemoveRemediation(0, 0).apply(&mut form);
        assert_eq!(form.vulnerabilities[0].remediations.len(), 1);
        assert_eq!(form.vulnerabilities[0].remediations[0].details, "");
        FormOp::RemoveVulnerability(5).apply(&mut form);
        assert_eq!(form.vulnerabilities.len(), 1);
    }

    #[test]
    fn posted_rows_keep_the_page_order() {
        let mut vuln = BTreeMap::new();
        for i in [10usize, 2, 0] {
            vuln.insert(
                row_key(i),
                VulnInput {
                    cve: format!(" CVE-2026-{i:04} "),
                    affected: BTreeMap::from([
                        ("p:a".to_string(), "on".to_string()),
                        ("b".to_string(), "on".to_string()),
                    ]),
                    ..VulnInput::default()
                },
            );
        }
        let rem = BTreeMap::from([
            (
                rem_key(10, 1),
                RemInput {
                    details: "second".into(),
                    ..RemInput::default()
                },
            ),
            (
                rem_key(10, 0),
                RemInput {
                    details: "first".into(),
                    ..RemInput::default()
                },
            ),
        ]);
        let form = FormInput {
            vuln: Some(vuln),
            rem: Some(rem),
            acknowledgments: Some("Ada\n\n  Grace \n".into()),
            ..FormInput::default()
        }
        .into_form();
        let cves: Vec<&str> = form
            .vulnerabilities
            .iter()
            .map(|v| v.cve.as_str())
            .collect();
        assert_eq!(cves, ["CVE-2026-0000", "CVE-2026-0002", "CVE-2026-0010"]);
        assert_eq!(form.vulnerabilities[0].affected, ["a"]);
        let details: Vec<&str> = form.vulnerabilities[2]
            .remediations
            .iter()
            .map(|r| r.details.as_str())
            .collect();
        assert_eq!(details, ["first", "second"]);
        assert_eq!(form.acknowledgments, ["Ada", "Grace"]);
    }
}
