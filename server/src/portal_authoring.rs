//! The server side of the portal's authoring pages: what [`HeraldPortal`] answers for
//! `app::authoring` (draft list, draft form, preview, submit, approve-and-publish, four-eyes
//! setting). Every rule is the authoring service's ([`crate::authoring`]); this module only maps
//! the form's view models to the service's [`Draft`] and back. The form names products by their
//! catalog ids; the service resolves them into the product tree.

use app::authoring::{
    AuthoringForm, CvssScore, DraftPage, DraftSummary, DraftsView, FieldError as FormFieldError,
    NoteRow, PreviewView, PublishOutcome, PublishedView, RefRow, Refusal, RemRow, SaveOutcome,
    SubmitOutcome, ValidationIssue, VulnRow,
};
use app::model::{PortalError, ProductOption, Viewer};
use herald_csaf::Tlp;
use herald_csaf::authoring::{
    Draft, DraftAcknowledgment, DraftNote, DraftProduct, DraftReference, DraftRemediation,
    DraftVulnerability, RemediationCategory, cvss_v31,
};
use herald_storage::DbConnection;

use crate::authoring::{self as service, AuthoringError, Caller, DraftView};
use crate::error::ServiceError;
use crate::portal::{HeraldPortal, portal_error};

fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn opt(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// The service's field path (`vulnerabilities[0].cvss_v3_vector`) as the form names the field
/// (`vulnerabilities.0.cvss_vector`).
fn form_field(path: &str) -> String {
    if path.starts_with("products") {
        return "product_ids".into();
    }
    path.replace('[', ".")
        .replace(']', "")
        .replace("cvss_v3_vector", "cvss_vector")
        .replace("known_affected", "affected")
        .replace("known_not_affected", "not_affected")
}

fn form_errors(errors: Vec<crate::error::FieldError>) -> Vec<FormFieldError> {
    errors
        .into_iter()
        .map(|e| FormFieldError {
            field: if e.field.is_empty() {
                "form".into()
            } else {
                form_field(&e.field)
            },
            message: e.message,
        })
        .collect()
}

fn issues(findings: &[herald_csaf::Finding]) -> Vec<ValidationIssue> {
    findings
        .iter()
        .map(|f| ValidationIssue {
            test_id: f.test_id.clone(),
            path: f.path.clone(),
            message: f.message.clone(),
            warning: f.severity != herald_csaf::Severity::Error,
        })
        .collect()
}

fn tlp_of(s: &str) -> Tlp {
    match s.trim().to_ascii_uppercase().as_str() {
        "GREEN" => Tlp::Green,
        "AMBER" => Tlp::Amber,
        "RED" => Tlp::Red,
        _ => Tlp::White,
    }
}

fn tlp_text(t: Tlp) -> String {
    format!("{t:?}").to_ascii_uppercase()
}

/// The form as the service's draft. Products keep the CSAF product ids `previous` gave them
/// (so ids stay stable across revisions); new ones get theirs when the document is built.
fn draft_of(form: &AuthoringForm, previous: Option<&Draft>) -> Draft {
    let products = form
        .product_ids
        .iter()
        .filter(|id| !id.trim().is_empty())
        .map(|catalog_id| {
            let kept = previous.and_then(|d| {
                d.products
                    .iter()
                    .find(|p| p.catalog_id.as_deref() == Some(catalog_id.as_str()))
            });
            DraftProduct {
                product_id: kept.map(|p| p.product_id.clone()).unwrap_or_default(),
                catalog_id: Some(catalog_id.clone()),
                ..DraftProduct::default()
            }
        })
        .collect();
    Draft {
        title: form.title.clone(),
        tlp: tlp_of(&form.tlp),
        summary: form.summary.clone(),
        notes: form
            .notes
            .iter()
            .map(|n| DraftNote {
                category: n.category.clone(),
                title: n.title.clone(),
                text: n.text.clone(),
            })
            .collect(),
        references: form
            .references
            .iter()
            .map(|r| DraftReference {
                url: r.url.clone(),
                summary: r.summary.clone(),
            })
            .collect(),
        acknowledgments: form
            .acknowledgments
            .iter()
            .filter_map(|a| opt(a))
            .map(|a| DraftAcknowledgment {
                names: vec![a],
                organization: None,
            })
            .collect(),
        products,
        vulnerabilities: form
            .vulnerabilities
            .iter()
            .map(|v| DraftVulnerability {
                cve: opt(&v.cve),
                cwe_id: opt(&v.cwe_id),
                cwe_name: opt(&v.cwe_name),
                title: opt(&v.title),
                description: v.description.clone(),
                cvss_v3_vector: opt(&v.cvss_vector),
                known_affected: v.affected.clone(),
                fixed: v.fixed.clone(),
                known_not_affected: v.not_affected.clone(),
                not_affected_justification: opt(&v.not_affected_justification),
                remediations: v
                    .remediations
                    .iter()
                    .map(|r| DraftRemediation {
                        // The form's select offers only valid categories; anything else is
                        // tampering and falls back to the first one.
                        category: RemediationCategory::parse(&r.category).unwrap_or_default(),
                        details: r.details.clone(),
                        url: opt(&r.url),
                        product_ids: r.product_ids.clone(),
                    })
                    .collect(),
            })
            .collect(),
        revision_summary: form.revision_summary.clone(),
    }
}

/// The draft as the form shows it: products by catalog id (product references mapped back).
fn form_of(view: &DraftView) -> AuthoringForm {
    let d = &view.draft;
    let to_catalog = |ids: &[String]| -> Vec<String> {
        ids.iter()
            .filter_map(|id| {
                d.products
                    .iter()
                    .find(|p| &p.product_id == id || p.catalog_id.as_deref() == Some(id))
                    .and_then(|p| p.catalog_id.clone())
            })
            .collect()
    };
    AuthoringForm {
        draft_id: Some(view.id.clone()),
        tracking_id: Some(view.tracking_id.clone()),
        title: d.title.clone(),
        tlp: tlp_text(d.tlp),
        summary: d.summary.clone(),
        notes: d
            .notes
            .iter()
            .map(|n| NoteRow {
                category: n.category.clone(),
                title: n.title.clone(),
                text: n.text.clone(),
            })
            .collect(),
        references: d
            .references
            .iter()
            .map(|r| RefRow {
                url: r.url.clone(),
                summary: r.summary.clone(),
            })
            .collect(),
        acknowledgments: d
            .acknowledgments
            .iter()
            .flat_map(|a| {
                let mut names = a.names.clone();
                names.extend(a.organization.clone());
                names
            })
            .collect(),
        product_ids: d
            .products
            .iter()
            .filter_map(|p| p.catalog_id.clone())
            .collect(),
        vulnerabilities: d
            .vulnerabilities
            .iter()
            .map(|v| VulnRow {
                cve: v.cve.clone().unwrap_or_default(),
                cwe_id: v.cwe_id.clone().unwrap_or_default(),
                cwe_name: v.cwe_name.clone().unwrap_or_default(),
                title: v.title.clone().unwrap_or_default(),
                description: v.description.clone(),
                cvss_vector: v.cvss_v3_vector.clone().unwrap_or_default(),
                affected: to_catalog(&v.known_affected),
                fixed: to_catalog(&v.fixed),
                not_affected: to_catalog(&v.known_not_affected),
                not_affected_justification: v
                    .not_affected_justification
                    .clone()
                    .unwrap_or_default(),
                remediations: v
                    .remediations
                    .iter()
                    .map(|r| RemRow {
                        category: r.category.as_str().to_string(),
                        details: r.details.clone(),
                        url: r.url.clone().unwrap_or_default(),
                        product_ids: to_catalog(&r.product_ids),
                    })
                    .collect(),
            })
            .collect(),
        revision_summary: d.revision_summary.clone(),
    }
}

/// A display name for a draft's recorded actor.
fn actor_name(conn: &mut DbConnection, actor: &str) -> String {
    match actor.strip_prefix("user:") {
        Some(id) => herald_storage::accounts::find_user(conn, id)
            .ok()
            .flatten()
            .map(|u| u.display_name)
            .unwrap_or_else(|| actor.to_string()),
        None => "API token".into(),
    }
}

fn caller_of(conn: &mut DbConnection, user_id: &str) -> Result<Caller, ServiceError> {
    let caller =
        crate::service::Principal::of_user_id(conn, user_id)?.ok_or(ServiceError::Forbidden)?;
    service::check_caller(&caller)?;
    Ok(caller)
}

fn refusal(e: AuthoringError) -> Result<Refusal, PortalError> {
    match e {
        AuthoringError::Invalid(r) => Ok(Refusal {
            errors: Vec::new(),
            issues: issues(&r.findings),
        }),
        AuthoringError::Draft(d) => Ok(Refusal {
            errors: form_errors(
                d.problems
                    .into_iter()
                    .map(|p| crate::error::FieldError {
                        field: p.field,
                        message: p.message,
                    })
                    .collect(),
            ),
            issues: Vec::new(),
        }),
        other => Err(portal_error(other.into())),
    }
}

impl HeraldPortal {
    /// Runs `f` with the viewer's authoring caller (a manufacturer user), off the executor.
    async fn with_caller<T, F>(&self, viewer: &Viewer, f: F) -> Result<T, PortalError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection, &Caller) -> Result<T, ServiceError> + Send + 'static,
    {
        let Some(user_id) = viewer.user_id.clone() else {
            return Err(PortalError::Forbidden);
        };
        self.state
            .db(move |conn| {
                let caller = caller_of(conn, &user_id)?;
                f(conn, &caller)
            })
            .await
            .map_err(portal_error)
    }

    pub(crate) async fn drafts_view(&self, viewer: &Viewer) -> Result<DraftsView, PortalError> {
        self.with_caller(viewer, |conn, caller| {
            let four_eyes = service::four_eyes(conn, caller)?;
            let list = service::list(conn, caller, false)?;
            let mut drafts = Vec::new();
            for d in list {
                let stored = herald_storage::drafts::get_draft(conn, &caller.org_id, &d.id)?
                    .ok_or(ServiceError::NotFound)?;
                drafts.push(DraftSummary {
                    can_approve: service::approval_refusal(caller, &stored, four_eyes).is_none(),
                    author: actor_name(conn, &d.created_by),
                    id: d.id,
                    tracking_id: Some(d.tracking_id),
                    title: d.draft.title,
                    state: d.state,
                    version: d.published_version.or(d.base_version),
                    updated_at: time(d.updated_at),
                });
            }
            Ok(DraftsView {
                drafts,
                four_eyes,
                can_author: caller.is_publisher(),
                can_configure: service::is_admin(caller),
            })
        })
        .await
    }

    pub(crate) async fn draft_page(
        &self,
        viewer: &Viewer,
        id: &str,
    ) -> Result<DraftPage, PortalError> {
        let id = id.to_owned();
        let config = self.state.config.clone();
        self.with_caller(viewer, move |conn, caller| {
            let view = service::get(conn, caller, &id)?;
            let stored = herald_storage::drafts::get_draft(conn, &caller.org_id, &id)?
                .ok_or(ServiceError::NotFound)?;
            let four_eyes = service::four_eyes(conn, caller)?;
            let preview = if stored.state.is_open() {
                Some(service::preview(
                    conn,
                    &config,
                    caller,
                    &id,
                    chrono::Utc::now(),
                )?)
            } else {
                None
            };
            let products = herald_storage::catalog::list_products(conn, &caller.org_id)?
                .into_iter()
                .map(|p| ProductOption {
                    label: [
                        p.vendor.as_deref(),
                        p.family.as_deref(),
                        Some(p.name.as_str()),
                        p.version.as_deref(),
                    ]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" "),
                    id: p.id,
                })
                .collect();
            let scores = view
                .draft
                .vulnerabilities
                .iter()
                .map(|v| {
                    v.cvss_v3_vector
                        .as_deref()
                        .and_then(|vector| cvss_v31(vector).ok())
                        .map(|s| CvssScore {
                            score: s.base_score,
                            severity: s.base_severity.to_string(),
                        })
                })
                .collect();
            let refusal = service::approval_refusal(caller, &stored, four_eyes);
            let open = stored.state.is_open();
            Ok(DraftPage {
                form: form_of(&view),
                state: view.state.clone(),
                version: view
                    .published_version
                    .clone()
                    .or_else(|| preview.as_ref().and_then(|p| p.version.clone())),
                author: actor_name(conn, &view.created_by),
                updated_at: time(view.updated_at),
                products,
                scores,
                errors: preview
                    .map(|p| form_errors(p.field_errors))
                    .unwrap_or_default(),
                four_eyes,
                can_edit: open && caller.is_publisher(),
                can_submit: stored.state == herald_storage::drafts::DraftState::Draft
                    && caller.is_publisher(),
                can_approve: refusal.is_none(),
                can_discard: open && caller.is_publisher(),
                approval_note: if open {
                    refusal.map(str::to_string)
                } else {
                    None
                },
            })
        })
        .await
    }

    pub(crate) async fn create_draft(&self, viewer: &Viewer) -> Result<String, PortalError> {
        let config = self.state.config.clone();
        self.with_caller(viewer, move |conn, caller| {
            Ok(service::create(conn, &config, caller, &Draft::default(), chrono::Utc::now())?.id)
        })
        .await
    }

    pub(crate) async fn start_update_draft(
        &self,
        viewer: &Viewer,
        tracking_id: &str,
    ) -> Result<String, PortalError> {
        let tracking_id = tracking_id.to_owned();
        self.with_caller(viewer, move |conn, caller| {
            Ok(service::start_update(conn, caller, &tracking_id)?.id)
        })
        .await
    }

    pub(crate) async fn save_draft_form(
        &self,
        viewer: &Viewer,
        form: AuthoringForm,
    ) -> Result<SaveOutcome, PortalError> {
        let config = self.state.config.clone();
        self.with_caller(viewer, move |conn, caller| {
            let saved = match form.draft_id.as_deref().filter(|id| !id.is_empty()) {
                Some(id) => {
                    let previous = service::get(conn, caller, id)?;
                    let draft = draft_of(&form, Some(&previous.draft));
                    service::save(conn, caller, id, &draft)?
                }
                None => service::create(
                    conn,
                    &config,
                    caller,
                    &draft_of(&form, None),
                    chrono::Utc::now(),
                )?,
            };
            let preview = service::preview(conn, &config, caller, &saved.id, chrono::Utc::now())?;
            Ok(SaveOutcome {
                id: saved.id,
                errors: form_errors(preview.field_errors),
            })
        })
        .await
    }

    pub(crate) async fn preview_draft_view(
        &self,
        viewer: &Viewer,
        id: &str,
    ) -> Result<PreviewView, PortalError> {
        let id = id.to_owned();
        let config = self.state.config.clone();
        self.with_caller(viewer, move |conn, caller| {
            let p = service::preview(conn, &config, caller, &id, chrono::Utc::now())?;
            Ok(PreviewView {
                json: p
                    .document
                    .as_ref()
                    .and_then(|d| serde_json::to_string_pretty(d).ok())
                    .unwrap_or_default(),
                issues: issues(&p.findings),
                errors: form_errors(p.field_errors),
            })
        })
        .await
    }

    pub(crate) async fn submit_draft_now(
        &self,
        viewer: &Viewer,
        id: &str,
    ) -> Result<SubmitOutcome, PortalError> {
        let id = id.to_owned();
        let config = self.state.config.clone();
        let result = self
            .with_caller(viewer, move |conn, caller| {
                Ok(service::submit(
                    conn,
                    &config,
                    caller,
                    &id,
                    chrono::Utc::now(),
                ))
            })
            .await?;
        match result {
            Ok(_) => Ok(SubmitOutcome::Submitted),
            Err(e) => refusal(e).map(SubmitOutcome::Refused),
        }
    }

    pub(crate) async fn publish_draft_now(
        &self,
        viewer: &Viewer,
        id: &str,
    ) -> Result<PublishOutcome, PortalError> {
        let id = id.to_owned();
        let config = self.state.config.clone();
        let result = self
            .with_caller(viewer, move |conn, caller| {
                Ok(service::publish(
                    conn,
                    &config,
                    caller,
                    &id,
                    chrono::Utc::now(),
                ))
            })
            .await?;
        match result {
            Ok((published, _)) => Ok(PublishOutcome::Published(PublishedView {
                tracking_id: published.tracking_id,
                version: published.version,
                portal_url: published.portal_url,
                csaf_url: published.csaf_url,
            })),
            Err(e) => refusal(e).map(PublishOutcome::Refused),
        }
    }

    pub(crate) async fn discard_draft_now(
        &self,
        viewer: &Viewer,
        id: &str,
    ) -> Result<(), PortalError> {
        let id = id.to_owned();
        self.with_caller(viewer, move |conn, caller| {
            service::discard(conn, caller, &id)?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn set_four_eyes_rule(
        &self,
        viewer: &Viewer,
        enabled: bool,
    ) -> Result<(), PortalError> {
        self.with_caller(viewer, move |conn, caller| {
            Ok(service::set_four_eyes(conn, caller, enabled)?)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    /// The form offers exactly the justifications the CSAF layer accepts (plus "none").
    #[test]
    fn the_form_offers_the_justifications_csaf_accepts() {
        let offered: Vec<&str> = app::authoring::NOT_AFFECTED_JUSTIFICATIONS
            .iter()
            .copied()
            .filter(|j| !j.is_empty())
            .collect();
        assert_eq!(
            offered,
            herald_csaf::authoring::NOT_AFFECTED_JUSTIFICATIONS.to_vec()
        );
    }

    #[test]
    fn service_paths_name_the_form_fields() {
        assert_eq!(
            super::form_field("vulnerabilities[1].known_not_affected"),
            "vulnerabilities.1.not_affected"
        );
        assert_eq!(
            super::form_field("vulnerabilities[0].not_affected_justification"),
            "vulnerabilities.0.not_affected_justification"
        );
        assert_eq!(
            super::form_field("vulnerabilities[0].known_affected"),
            "vulnerabilities.0.affected"
        );
    }
}
