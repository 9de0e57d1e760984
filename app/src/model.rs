//! View models the pages render and the server-side [`Portal`] service that fills them. The app
//! never touches the database: server functions call the `Portal` that the server puts into the
//! Leptos context.

use serde::{Deserialize, Serialize};

/// One row of the advisory list.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AdvisoryListItem {
    pub tracking_id: String,
    pub title: String,
    pub version: String,
    /// `critical`, `high`, `medium`, `low`, `none`, or absent.
    pub severity: Option<String>,
    pub cvss_score: Option<f64>,
    pub tlp: String,
    pub initial_release_date: String,
    pub current_release_date: String,
    pub cves: Vec<String>,
    pub products: Vec<String>,
}

/// Query of the advisory list; every field optional so that a plain GET form fills it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct AdvisoryQuery {
    /// Free text over title, tracking id, CVE and product names.
    pub q: Option<String>,
}

/// Everything the advisory page shows.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AdvisoryView {
    pub tracking_id: String,
    pub title: String,
    pub version: String,
    pub status: String,
    pub category: String,
    pub publisher: String,
    pub tlp: String,
    pub severity: Option<String>,
    pub cvss_score: Option<f64>,
    pub initial_release_date: String,
    pub current_release_date: String,
    pub summary: Option<String>,
    pub products: Vec<ProductView>,
    pub vulnerabilities: Vec<VulnerabilityView>,
    pub acknowledgments: Vec<String>,
    pub references: Vec<LinkView>,
    pub revisions: Vec<RevisionView>,
    /// URL of the CSAF JSON as published (and of its `.asc`, `.sha256`, `.sha512` beside it).
    pub csaf_url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProductView {
    pub product_id: String,
    pub name: String,
    pub udi_di: Option<String>,
    pub cpe: Option<String>,
    pub purl: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VulnerabilityView {
    pub cve: Option<String>,
    pub title: Option<String>,
    pub cwe: Option<String>,
    pub description: Option<String>,
    pub scores: Vec<ScoreView>,
    /// Status group (`known_affected`, `fixed`, ...) with the product names in it.
    pub product_status: Vec<(String, Vec<String>)>,
    pub remediations: Vec<RemediationView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ScoreView {
    pub version: String,
    pub vector: String,
    pub score: f64,
    pub severity: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RemediationView {
    /// CSAF category: `vendor_fix`, `mitigation`, `workaround`, `no_fix_planned`, `none_available`.
    pub category: String,
    pub details: String,
    pub url: Option<String>,
    pub products: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LinkView {
    pub summary: String,
    pub url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RevisionView {
    pub number: String,
    pub date: String,
    pub summary: String,
}

/// Who is looking: decides which TLP levels and organisations' data a request may see.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Viewer {
    pub user_id: Option<String>,
    pub organization_id: Option<String>,
    pub display_name: Option<String>,
}

/// What went wrong, as the user may see it; the cause is logged on the server.
#[derive(Debug, Clone, thiserror::Error, Serialize, Deserialize, PartialEq)]
pub enum PortalError {
    #[error("not found")]
    NotFound,
    #[error("not allowed")]
    Forbidden,
    #[error("invalid input: {0}")]
    Invalid(String),
    #[error("internal error (reference {0})")]
    Internal(String),
}

/// Server-side services the pages call through server functions. The server implements it and
/// provides an `Arc<dyn Portal>` in the Leptos context.
#[cfg(feature = "ssr")]
#[async_trait::async_trait]
pub trait Portal: Send + Sync {
    /// Resolves the session cookie (if any) to the viewer; anonymous viewers see TLP:WHITE only.
    async fn viewer(&self, session_cookie: Option<String>) -> Result<Viewer, PortalError>;
    /// Checks the credentials and opens a session; returns the session cookie value.
    async fn login(&self, email: &str, password: &str) -> Result<String, PortalError>;
    /// Ends the session behind the cookie value.
    async fn logout(&self, session_cookie: &str) -> Result<(), PortalError>;
    async fn list_advisories(
        &self,
        viewer: &Viewer,
        query: &AdvisoryQuery,
    ) -> Result<Vec<AdvisoryListItem>, PortalError>;
    async fn advisory(
        &self,
        viewer: &Viewer,
        tracking_id: &str,
    ) -> Result<AdvisoryView, PortalError>;
}
