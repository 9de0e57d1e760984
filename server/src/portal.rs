//! The server side of the portal: implements the app's [`Portal`] service over storage, and maps
//! the stored advisory summary onto the view models the pages render.

use std::collections::HashMap;

use app::model::{
    AdvisoryListItem, AdvisoryListPage, AdvisoryQuery, AdvisoryView, LinkView, Portal, PortalError,
    ProductOption, ProductView, RemediationView, RevisionView, ScoreView, Viewer,
    VulnerabilityView,
};
use herald_csaf::{AdvisorySummary, Tlp};
use herald_storage::advisories::AdvisoryFilter;

use crate::error::ServiceError;
use crate::publish::csaf_url;
use crate::service::Principal;
use crate::state::AppState;

/// Rows per page of the advisory list unless `per_page` says otherwise, and its bounds.
const LIST_PAGE_SIZE: i64 = 25;
const MAX_LIST_PAGE_SIZE: i64 = 100;
const MAX_LIST_PAGE: i64 = 100_000;

pub struct HeraldPortal {
    pub(crate) state: AppState,
}

impl HeraldPortal {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }

    /// The principal of the signed-in viewer (the session cookie resolved it to its user); a
    /// viewer nobody is signed in as, or whose user was disabled meanwhile, is refused.
    pub(crate) async fn principal(&self, viewer: &Viewer) -> Result<Principal, PortalError> {
        let Some(user_id) = viewer.user_id.clone() else {
            return Err(PortalError::Forbidden);
        };
        self.state
            .db(move |conn| Principal::of_user_id(conn, &user_id))
            .await
            .map_err(portal_error)?
            .ok_or(PortalError::Forbidden)
    }
}

/// The one mapping of service errors to what a page may show ([`ServiceError::to_portal`]).
pub(crate) fn portal_error(e: ServiceError) -> PortalError {
    e.to_portal()
}

fn tlp_text(t: Option<Tlp>) -> String {
    t.map(|t| format!("{t:?}").to_ascii_uppercase())
        .unwrap_or_default()
}

fn date(d: chrono::DateTime<chrono::Utc>) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn list_item(s: &AdvisorySummary) -> AdvisoryListItem {
    AdvisoryListItem {
        tracking_id: s.tracking_id.clone(),
        title: s.title.clone(),
        version: s.version.clone(),
        severity: s.severity.clone(),
        cvss_score: s.max_cvss,
        tlp: tlp_text(s.tlp),
        initial_release_date: date(s.initial_release_date),
        current_release_date: date(s.current_release_date),
        cves: s.cves(),
        products: s.products.iter().map(|p| p.name.clone()).collect(),
    }
}

/// The advisory page's view of a summary; product ids become product names for people.
pub fn advisory_view(s: &AdvisorySummary, csaf_url: String) -> AdvisoryView {
    let names: HashMap<&str, &str> = s
        .products
        .iter()
        .map(|p| (p.product_id.as_str(), p.name.as_str()))
        .collect();
    let name_of = |ids: &[String]| -> Vec<String> {
        ids.iter()
            .map(|id| {
                names
                    .get(id.as_str())
                    .map_or(id.clone(), |n| (*n).to_owned())
            })
            .collect()
    };
    AdvisoryView {
        tracking_id: s.tracking_id.clone(),
        title: s.title.clone(),
        version: s.version.clone(),
        status: s.status.clone(),
        category: s.category.clone(),
        publisher: s.publisher.name.clone(),
        tlp: tlp_text(s.tlp),
        severity: s.severity.clone(),
        cvss_score: s.max_cvss,
        initial_release_date: date(s.initial_release_date),
        current_release_date: date(s.current_release_date),
        summary: s.summary.clone(),
        products: s
            .products
            .iter()
            .map(|p| ProductView {
                product_id: p.product_id.clone(),
                name: p.name.clone(),
                udi_di: p.udi_di.clone(),
                cpe: p.cpe.clone(),
                purl: p.purl.clone(),
            })
            .collect(),
        vulnerabilities: s
            .vulnerabilities
            .iter()
            .map(|v| VulnerabilityView {
                cve: v.cve.clone(),
                title: v.title.clone(),
                cwe: v.cwe_id.as_ref().map(|id| match &v.cwe_name {
                    Some(name) => format!("{id}: {name}"),
                    None => id.clone(),
                }),
                description: v.description.clone(),
                scores: v
                    .scores
                    .iter()
                    .map(|sc| ScoreView {
                        version: sc.cvss_version.clone(),
                        vector: sc.vector.clone(),
                        score: sc.base_score,
                        severity: sc.severity.clone(),
                    })
                    .collect(),
                product_status: v
                    .product_status
                    .iter()
                    .map(|(group, ids)| (group.clone(), name_of(ids)))
                    .collect(),
                remediations: v
                    .remediations
                    .iter()
                    .map(|r| RemediationView {
                        category: r.category.clone(),
                        details: r.details.clone(),
                        url: r.url.clone(),
                        products: name_of(&r.product_ids),
                    })
                    .collect(),
            })
            .collect(),
        acknowledgments: s.acknowledgments.clone(),
        references: s
            .references
            .iter()
            .map(|r| LinkView {
                summary: r.summary.clone(),
                url: r.url.clone(),
            })
            .collect(),
        revisions: s
            .revision_history
            .iter()
            .rev()
            .map(|r| RevisionView {
                number: r.number.clone(),
                date: date(r.date),
                summary: r.summary.clone(),
            })
            .collect(),
        csaf_url,
    }
}

#[async_trait::async_trait]
impl Portal for HeraldPortal {
    async fn viewer(&self, session_cookie: Option<String>) -> Result<Viewer, PortalError> {
        let Some(cookie) = session_cookie.filter(|c| !c.is_empty()) else {
            return Ok(Viewer::default());
        };
        let policy = self.state.config.accounts.sessions;
        let found = self
            .state
            .db(move |conn| {
                let Some(p) = Principal::from_session(conn, &cookie, &policy)? else {
                    return Ok(None);
                };
                let name = match p.user_id() {
                    Some(id) => {
                        herald_storage::accounts::find_user(conn, id)?.map(|u| u.display_name)
                    }
                    None => None,
                };
                Ok(Some((p, name)))
            })
            .await
            .map_err(portal_error)?;
        Ok(match found {
            Some((p, display_name)) => Viewer {
                user_id: p.user_id().map(str::to_owned),
                organization_id: Some(p.org_id.clone()),
                display_name,
                manufacturer: p.is_manufacturer(),
                role: p.role.map(|r| r.as_str().to_string()),
            },
            None => Viewer::default(),
        })
    }

    async fn login(
        &self,
        email: &str,
        password: &str,
        client: &app::model::ClientInfo,
    ) -> Result<String, PortalError> {
        use crate::service::sign_in::{Refusal, sign_in};
        let outcome = sign_in(
            &self.state,
            email,
            password,
            client.user_agent.clone(),
            client.address.clone(),
            chrono::Utc::now(),
        )
        .await
        .map_err(portal_error)?;
        match outcome {
            Ok(session) => Ok(session.token),
            // The page tells "wrong e-mail or password" from "too many attempts", nothing more.
            Err(Refusal::Credentials) => Err(PortalError::Invalid("credentials".into())),
            Err(Refusal::Throttled) => Err(PortalError::Forbidden),
        }
    }

    async fn account(
        &self,
        viewer: &Viewer,
        session_cookie: &str,
    ) -> Result<app::account::AccountView, PortalError> {
        self.account_view(viewer, session_cookie).await
    }

    async fn end_session(&self, viewer: &Viewer, id: &str) -> Result<(), PortalError> {
        self.end_own_session(viewer, id).await
    }

    async fn end_all_sessions(&self, viewer: &Viewer) -> Result<(), PortalError> {
        self.end_all_own_sessions(viewer).await
    }

    fn secure_cookies(&self) -> bool {
        self.state.config.base_url.starts_with("https://")
    }

    async fn logout(&self, session_cookie: &str) -> Result<(), PortalError> {
        let cookie = session_cookie.to_owned();
        self.state
            .db(move |conn| Ok(herald_storage::sessions::delete_session(conn, &cookie)?))
            .await
            .map(|_| ())
            .map_err(portal_error)
    }

    async fn list_advisories(
        &self,
        viewer: &Viewer,
        query: &AdvisoryQuery,
    ) -> Result<AdvisoryListPage, PortalError> {
        let parsed = crate::advisory_list::parse(&crate::advisory_list::ListParams {
            q: query.q.as_deref(),
            cve: query.cve.as_deref(),
            product: query.product.as_deref(),
            severity: query.severity.as_deref(),
            from: query.from.as_deref(),
            to: query.to.as_deref(),
            sort: query.sort.as_deref(),
        })
        .map_err(PortalError::Invalid)?;
        let per_page = crate::advisory_list::bounded(
            "per_page",
            query.per_page.as_deref(),
            LIST_PAGE_SIZE,
            MAX_LIST_PAGE_SIZE,
        )
        .map_err(PortalError::Invalid)?;
        let page = crate::advisory_list::bounded("page", query.page.as_deref(), 1, MAX_LIST_PAGE)
            .map_err(PortalError::Invalid)?;
        let filter = AdvisoryFilter {
            reader: crate::web::auth::reader_for_org(&self.state, viewer.organization_id.clone())
                .await
                .map_err(portal_error)?,
            limit: per_page,
            offset: (page - 1) * per_page,
            ..parsed
        };
        let (rows, products) = self
            .state
            .db(move |conn| {
                Ok((
                    herald_storage::advisories::list_advisories(conn, &filter)?,
                    herald_storage::advisories::list_listed_products(conn, &filter)?,
                ))
            })
            .await
            .map_err(portal_error)?;
        let total = u64::try_from(rows.total).unwrap_or_default();
        let per_page = u64::try_from(per_page).unwrap_or(1).max(1);
        Ok(AdvisoryListPage {
            items: rows.items.iter().map(|r| list_item(&r.summary)).collect(),
            total,
            page: u64::try_from(page).unwrap_or(1),
            per_page,
            pages: total.div_ceil(per_page),
            products: products
                .into_iter()
                .map(|p| ProductOption {
                    label: match &p.version {
                        Some(v) if !v.is_empty() => format!("{} {v}", p.name),
                        _ => p.name.clone(),
                    },
                    id: p.id,
                })
                .collect(),
        })
    }

    async fn advisory(
        &self,
        viewer: &Viewer,
        tracking_id: &str,
    ) -> Result<AdvisoryView, PortalError> {
        let id = tracking_id.to_owned();
        let reader = crate::web::auth::reader_for_org(&self.state, viewer.organization_id.clone())
            .await
            .map_err(portal_error)?;
        let row = self
            .state
            .db(move |conn| {
                let Some(row) = herald_storage::advisories::get_advisory(conn, &id)? else {
                    return Ok(None);
                };
                // Not entitled looks exactly like not there (the entitlement rule of storage).
                Ok(herald_storage::entitlement::may_read(conn, &reader, &row.id)?.then_some(row))
            })
            .await
            .map_err(portal_error)?
            .ok_or(PortalError::NotFound)?;
        Ok(advisory_view(
            &row.summary,
            csaf_url(&self.state.config, &row.path),
        ))
    }

    async fn destinations(
        &self,
        viewer: &Viewer,
    ) -> Result<app::destinations::DestinationsView, PortalError> {
        self.destinations_view(viewer).await
    }

    async fn destination_plugins(
        &self,
        viewer: &Viewer,
    ) -> Result<Vec<app::destinations::PluginView>, PortalError> {
        self.plugins_view(viewer).await
    }

    async fn destination(
        &self,
        viewer: &Viewer,
        id: &str,
    ) -> Result<app::destinations::DestinationDetail, PortalError> {
        self.destination_detail(viewer, id).await
    }

    async fn save_destination(
        &self,
        viewer: &Viewer,
        form: app::destinations::DestinationForm,
    ) -> Result<app::destinations::SaveResult, PortalError> {
        self.save_destination_form(viewer, form).await
    }

    async fn test_destination(
        &self,
        viewer: &Viewer,
        id: &str,
    ) -> Result<app::destinations::TestOutcomeView, PortalError> {
        self.test_destination_now(viewer, id).await
    }

    async fn delivery_log(
        &self,
        viewer: &Viewer,
        query: &app::destinations::DeliveryLogQuery,
    ) -> Result<app::destinations::DeliveryLogView, PortalError> {
        self.delivery_log_view(viewer, query).await
    }

    async fn replay_delivery(&self, viewer: &Viewer, id: &str) -> Result<(), PortalError> {
        self.replay_delivery_now(viewer, id).await
    }

    async fn save_subscription(
        &self,
        viewer: &Viewer,
        form: app::destinations::SubscriptionForm,
    ) -> Result<app::destinations::SaveResult, PortalError> {
        self.save_subscription_form(viewer, form).await
    }

    async fn templates(
        &self,
        viewer: &Viewer,
    ) -> Result<app::templates::TemplatesView, PortalError> {
        self.templates_view(viewer).await
    }

    async fn save_template(
        &self,
        viewer: &Viewer,
        kind: &str,
        channel: &str,
        part: &str,
        body: &str,
    ) -> Result<Option<String>, PortalError> {
        self.save_template_override(viewer, kind, channel, part, body)
            .await
    }

    async fn catalog(&self, viewer: &Viewer) -> Result<app::catalog::CatalogView, PortalError> {
        self.catalog_view(viewer).await
    }

    async fn save_product(
        &self,
        viewer: &Viewer,
        form: app::catalog::ProductForm,
    ) -> Result<app::catalog::ProductSaved, PortalError> {
        self.save_product_form(viewer, form).await
    }

    async fn reset_template(
        &self,
        viewer: &Viewer,
        kind: &str,
        channel: &str,
        part: &str,
    ) -> Result<(), PortalError> {
        self.reset_template_override(viewer, kind, channel, part)
            .await
    }

    async fn drafts(&self, viewer: &Viewer) -> Result<app::authoring::DraftsView, PortalError> {
        self.drafts_view(viewer).await
    }

    async fn draft(
        &self,
        viewer: &Viewer,
        id: &str,
    ) -> Result<app::authoring::DraftPage, PortalError> {
        self.draft_page(viewer, id).await
    }

    async fn new_draft(&self, viewer: &Viewer) -> Result<String, PortalError> {
        self.create_draft(viewer).await
    }

    async fn start_update(
        &self,
        viewer: &Viewer,
        tracking_id: &str,
    ) -> Result<String, PortalError> {
        self.start_update_draft(viewer, tracking_id).await
    }

    async fn save_draft(
        &self,
        viewer: &Viewer,
        form: app::authoring::AuthoringForm,
    ) -> Result<app::authoring::SaveOutcome, PortalError> {
        self.save_draft_form(viewer, form).await
    }

    async fn preview_draft(
        &self,
        viewer: &Viewer,
        id: &str,
    ) -> Result<app::authoring::PreviewView, PortalError> {
        self.preview_draft_view(viewer, id).await
    }

    async fn submit_draft(
        &self,
        viewer: &Viewer,
        id: &str,
    ) -> Result<app::authoring::SubmitOutcome, PortalError> {
        self.submit_draft_now(viewer, id).await
    }

    async fn publish_draft(
        &self,
        viewer: &Viewer,
        id: &str,
    ) -> Result<app::authoring::PublishOutcome, PortalError> {
        self.publish_draft_now(viewer, id).await
    }

    async fn discard_draft(&self, viewer: &Viewer, id: &str) -> Result<(), PortalError> {
        self.discard_draft_now(viewer, id).await
    }

    async fn set_four_eyes(&self, viewer: &Viewer, enabled: bool) -> Result<(), PortalError> {
        self.set_four_eyes_rule(viewer, enabled).await
    }
}
