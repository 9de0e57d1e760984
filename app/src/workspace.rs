//! The hospital's workspace in the portal: view models, the server-side [`WorkspacePortal`]
//! service the server provides in the Leptos context, and the server functions the pages
//! (`workspace_pages`) call. Each server function resolves the viewer, calls one method (which
//! calls one service function on the server) and redirects back, so every form works without
//! JavaScript: a refusal travels back as `?error=` with the message, success as `?saved=`.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

// ---------------------------------------------------------------------------------------------
// view models

/// The hospital's home: what affects it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct HomeView {
    pub org_name: String,
    /// May change statuses and the installed base (an admin).
    pub can_edit: bool,
    pub sites: usize,
    pub devices: i64,
    pub open: usize,
    pub exposed_devices: i64,
    pub advisories: Vec<AffectingView>,
    /// Advisories beyond those listed in full (counted, not shown).
    pub more: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct AffectingView {
    pub tracking_id: String,
    pub title: String,
    pub severity: Option<String>,
    pub tlp: String,
    /// `YYYY-MM-DD`.
    pub published: String,
    pub age_days: i64,
    pub open: bool,
    pub exposed_devices: i64,
    pub sites: Vec<SiteExposureView>,
    pub advice: Vec<AdviceView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct SiteExposureView {
    pub site_id: String,
    pub site_name: String,
    pub devices: i64,
    /// The status's name (`patched`, ...), absent when none was set.
    pub status: Option<String>,
    pub status_at: Option<String>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct AdviceView {
    pub label: String,
    pub details: String,
    pub url: Option<String>,
}

/// The installed base by site.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct InstalledBaseView {
    pub can_edit: bool,
    pub sites: Vec<SiteView>,
    /// Catalog products an entry may name.
    pub products: Vec<ProductOption>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct SiteView {
    pub id: String,
    pub name: String,
    pub code: Option<String>,
    pub address: Option<String>,
    pub entries: Vec<EntryView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct EntryView {
    pub id: String,
    pub product: String,
    pub version: Option<String>,
    pub devices: i64,
    pub serials: Vec<String>,
    pub notes: Option<String>,
    /// Confirmed by the manufacturer (what opens TLP:AMBER advisories).
    pub confirmed: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ProductOption {
    pub id: String,
    pub label: String,
}

/// A staged CSV import and what it would do.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ImportPreview {
    pub id: String,
    pub rows: u64,
    pub entries: Vec<ImportEntryView>,
    pub problems: Vec<ImportProblemView>,
    pub problem_count: usize,
    pub ignored_columns: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ImportEntryView {
    pub site: String,
    pub new_site: bool,
    pub product: String,
    pub version: Option<String>,
    pub devices: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ImportProblemView {
    pub line: u64,
    /// `unknown_product`, `ambiguous_version`, `duplicate_serial`, ...
    pub kind: String,
    pub message: String,
}

/// The manufacturer's uptake of one advisory.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct UptakeView {
    pub tracking_id: String,
    pub title: String,
    pub severity: Option<String>,
    pub days_since_publication: i64,
    pub customers: usize,
    pub told_delivered: usize,
    pub told_failed: usize,
    pub told_withheld: usize,
    pub acknowledged: usize,
    pub devices: i64,
    pub devices_patched: i64,
    pub devices_mitigated: i64,
    pub devices_exposed: i64,
    pub devices_silent: i64,
    pub sort: String,
    pub rows: Vec<UptakeRow>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct UptakeRow {
    pub name: String,
    pub told: String,
    pub acknowledged: bool,
    pub silent: bool,
    pub devices: i64,
    pub devices_patched: i64,
    pub devices_mitigated: i64,
    pub devices_exposed: i64,
    pub sites: usize,
    pub sites_patched: usize,
    pub sites_mitigated: usize,
    pub sites_silent: usize,
    pub security_contacts: Vec<String>,
}

/// The remediation statuses a form offers: (value, label).
pub const STATUS_CHOICES: [(&str, &str); 6] = [
    ("received", "Received"),
    ("under_assessment", "Under assessment"),
    ("mitigated", "Mitigated"),
    ("patched", "Patched"),
    ("not_applicable", "Not applicable"),
    ("risk_accepted", "Risk accepted"),
];

/// The label of a status value.
pub fn status_label(value: &str) -> &'static str {
    STATUS_CHOICES
        .iter()
        .find(|(v, _)| *v == value)
        .map(|(_, l)| *l)
        .unwrap_or("Unknown")
}

/// What a form did, as the redirect after it says.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum Outcome {
    Saved(String),
    Refused(String),
}

// ---------------------------------------------------------------------------------------------
// the service the server provides

/// Server-side services of the workspace pages. The server implements it (every method calls one
/// service function with the viewer's principal) and provides an `Arc<dyn WorkspacePortal>`.
#[cfg(feature = "ssr")]
#[async_trait::async_trait]
pub trait WorkspacePortal: Send + Sync {
    /// `None` when the viewer is not a hospital's person (the home shows the public welcome).
    async fn home(
        &self,
        viewer: &crate::model::Viewer,
    ) -> Result<Option<HomeView>, crate::model::PortalError>;
    #[allow(clippy::too_many_arguments)]
    async fn set_status(
        &self,
        viewer: &crate::model::Viewer,
        tracking_id: &str,
        site_id: &str,
        status: &str,
        reason: &str,
        note: &str,
        release: &str,
    ) -> Result<Outcome, crate::model::PortalError>;
    async fn installed_base(
        &self,
        viewer: &crate::model::Viewer,
    ) -> Result<InstalledBaseView, crate::model::PortalError>;
    async fn save_site(
        &self,
        viewer: &crate::model::Viewer,
        id: &str,
        name: &str,
        code: &str,
        address: &str,
    ) -> Result<Outcome, crate::model::PortalError>;
    async fn add_entry(
        &self,
        viewer: &crate::model::Viewer,
        site_id: &str,
        product_id: &str,
        quantity: &str,
        serials: &str,
        notes: &str,
    ) -> Result<Outcome, crate::model::PortalError>;
    async fn remove_entry(
        &self,
        viewer: &crate::model::Viewer,
        id: &str,
    ) -> Result<Outcome, crate::model::PortalError>;
    /// Stages a CSV file (nothing enters the installed base); `Saved(id)` of the staged import.
    async fn stage_import(
        &self,
        viewer: &crate::model::Viewer,
        csv: &str,
    ) -> Result<Outcome, crate::model::PortalError>;
    async fn import_preview(
        &self,
        viewer: &crate::model::Viewer,
        id: &str,
    ) -> Result<ImportPreview, crate::model::PortalError>;
    async fn confirm_import(
        &self,
        viewer: &crate::model::Viewer,
        id: &str,
    ) -> Result<Outcome, crate::model::PortalError>;
    /// The manufacturer's uptake of one of its advisories, sorted by `sort`.
    async fn uptake(
        &self,
        viewer: &crate::model::Viewer,
        tracking_id: &str,
        sort: &str,
    ) -> Result<UptakeView, crate::model::PortalError>;
}

#[cfg(feature = "ssr")]
pub(crate) fn workspace() -> Result<std::sync::Arc<dyn WorkspacePortal>, ServerFnError> {
    use_context::<std::sync::Arc<dyn WorkspacePortal>>().ok_or_else(|| {
        ServerFnError::ServerError(
            "The portal is not available right now. Please try again later.".to_string(),
        )
    })
}

/// `path` with `?saved=` or `?error=` (and the anchor) for an outcome.
pub fn outcome_path(path: &str, anchor: &str, outcome: &Outcome) -> String {
    let (key, value) = match outcome {
        Outcome::Saved(v) => ("saved", v),
        Outcome::Refused(v) => ("error", v),
    };
    let sep = if path.contains('?') { '&' } else { '?' };
    let anchor = if anchor.is_empty() {
        String::new()
    } else {
        format!("#{anchor}")
    };
    format!(
        "{path}{sep}{key}={}{anchor}",
        crate::destinations::query_value(value)
    )
}

/// An element id from arbitrary text (tracking ids, site ids).
pub fn anchor(prefix: &str, id: &str) -> String {
    let mut out = String::from(prefix);
    out.extend(id.chars().map(|c| {
        if c.is_ascii_alphanumeric() || c == '-' {
            c
        } else {
            '_'
        }
    }));
    out
}

// ---------------------------------------------------------------------------------------------
// server functions

#[cfg(feature = "ssr")]
macro_rules! with_viewer {
    () => {{
        let portal = crate::api::ssr::portal()?;
        let viewer = crate::api::ssr::viewer(portal.as_ref()).await?;
        (workspace()?, viewer)
    }};
}

/// The hospital's home, or `None` for anyone else.
#[server(prefix = "/api", endpoint = "workspace_home", client = crate::csrf::CsrfClient)]
pub async fn workspace_home() -> Result<Option<HomeView>, ServerFnError> {
    let (ws, viewer) = with_viewer!();
    if viewer.user_id.is_none() {
        return Ok(None);
    }
    ws.home(&viewer).await.map_err(crate::api::ssr::user_error)
}

/// Sets one site's status for an advisory, then back to the advisory on the home page.
#[server(prefix = "/api", endpoint = "remediation_save", client = crate::csrf::CsrfClient)]
pub async fn save_status(
    tracking_id: String,
    site_id: String,
    status: String,
    reason: String,
    note: String,
    release: String,
) -> Result<(), ServerFnError> {
    let (ws, viewer) = with_viewer!();
    let outcome = ws
        .set_status(
            &viewer,
            &tracking_id,
            &site_id,
            &status,
            &reason,
            &note,
            &release,
        )
        .await
        .map_err(crate::api::ssr::user_error)?;
    leptos_actix::redirect(&outcome_path("/", &anchor("adv-", &tracking_id), &outcome));
    Ok(())
}

#[server(prefix = "/api", endpoint = "installed_base", client = crate::csrf::CsrfClient)]
pub async fn get_installed_base() -> Result<InstalledBaseView, ServerFnError> {
    let (ws, viewer) = with_viewer!();
    ws.installed_base(&viewer)
        .await
        .map_err(crate::api::ssr::user_error)
}

/// Adds (empty `id`) or changes a site.
#[server(prefix = "/api", endpoint = "site_save", client = crate::csrf::CsrfClient)]
pub async fn save_site(
    id: String,
    name: String,
    code: String,
    address: String,
) -> Result<(), ServerFnError> {
    let (ws, viewer) = with_viewer!();
    let outcome = ws
        .save_site(&viewer, &id, &name, &code, &address)
        .await
        .map_err(crate::api::ssr::user_error)?;
    leptos_actix::redirect(&outcome_path("/installed-base", "sites", &outcome));
    Ok(())
}

/// Adds a product at a site (serial numbers one per line, or a quantity).
#[server(prefix = "/api", endpoint = "entry_add", client = crate::csrf::CsrfClient)]
pub async fn add_entry(
    site_id: String,
    product_id: String,
    quantity: String,
    serials: String,
    notes: String,
) -> Result<(), ServerFnError> {
    let (ws, viewer) = with_viewer!();
    let outcome = ws
        .add_entry(&viewer, &site_id, &product_id, &quantity, &serials, &notes)
        .await
        .map_err(crate::api::ssr::user_error)?;
    leptos_actix::redirect(&outcome_path(
        "/installed-base",
        &anchor("site-", &site_id),
        &outcome,
    ));
    Ok(())
}

#[server(prefix = "/api", endpoint = "entry_remove", client = crate::csrf::CsrfClient)]
pub async fn remove_entry(id: String) -> Result<(), ServerFnError> {
    let (ws, viewer) = with_viewer!();
    let outcome = ws
        .remove_entry(&viewer, &id)
        .await
        .map_err(crate::api::ssr::user_error)?;
    leptos_actix::redirect(&outcome_path("/installed-base", "", &outcome));
    Ok(())
}

/// Stages a pasted CSV file and shows its preview; nothing enters the installed base.
#[server(prefix = "/api", endpoint = "import_stage", client = crate::csrf::CsrfClient)]
pub async fn stage_import(csv: String) -> Result<(), ServerFnError> {
    let (ws, viewer) = with_viewer!();
    match ws
        .stage_import(&viewer, &csv)
        .await
        .map_err(crate::api::ssr::user_error)?
    {
        Outcome::Saved(id) => leptos_actix::redirect(&format!(
            "/installed-base/import/{}",
            crate::destinations::query_value(&id)
        )),
        refused => leptos_actix::redirect(&outcome_path("/installed-base", "import", &refused)),
    }
    Ok(())
}

#[server(prefix = "/api", endpoint = "import_preview", client = crate::csrf::CsrfClient)]
pub async fn get_import_preview(id: String) -> Result<ImportPreview, ServerFnError> {
    let (ws, viewer) = with_viewer!();
    ws.import_preview(&viewer, &id)
        .await
        .map_err(crate::api::ssr::user_error)
}

/// Writes a staged import (refused, writing nothing, while any row has a problem).
#[server(prefix = "/api", endpoint = "import_confirm", client = crate::csrf::CsrfClient)]
pub async fn confirm_import(id: String) -> Result<(), ServerFnError> {
    let (ws, viewer) = with_viewer!();
    let outcome = ws
        .confirm_import(&viewer, &id)
        .await
        .map_err(crate::api::ssr::user_error)?;
    match &outcome {
        Outcome::Saved(_) => leptos_actix::redirect(&outcome_path("/installed-base", "", &outcome)),
        Outcome::Refused(_) => leptos_actix::redirect(&outcome_path(
            &format!(
                "/installed-base/import/{}",
                crate::destinations::query_value(&id)
            ),
            "",
            &outcome,
        )),
    }
    Ok(())
}

#[server(prefix = "/api", endpoint = "advisory_uptake", client = crate::csrf::CsrfClient)]
pub async fn get_uptake(tracking_id: String, sort: String) -> Result<UptakeView, ServerFnError> {
    let (ws, viewer) = with_viewer!();
    ws.uptake(&viewer, &tracking_id, &sort)
        .await
        .map_err(crate::api::ssr::user_error)
}
