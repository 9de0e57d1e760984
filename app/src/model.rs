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

/// Query of the advisory list; every field optional and kept as typed, so that a plain GET form
/// fills it and the server validates it (with a message naming the field when it is wrong).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct AdvisoryQuery {
    /// Free text over title, tracking id, CVE and product names.
    pub q: Option<String>,
    /// One CVE id.
    pub cve: Option<String>,
    /// A catalog product id.
    pub product: Option<String>,
    /// `critical`, `high`, `medium`, `low` or `none`.
    pub severity: Option<String>,
    /// Current release date from / to, `YYYY-MM-DD`, inclusive.
    pub from: Option<String>,
    pub to: Option<String>,
    /// `newest` (default), `oldest`, `severity`, `title`, `tracking_id`.
    pub sort: Option<String>,
    /// 1-based page number.
    pub page: Option<String>,
    /// Rows per page (bounded by the server).
    pub per_page: Option<String>,
}

impl AdvisoryQuery {
    /// The parameters in URL order, with their names as the form and the query string use them.
    pub fn pairs(&self) -> [(&'static str, Option<&str>); 9] {
        [
            ("q", self.q.as_deref()),
            ("cve", self.cve.as_deref()),
            ("product", self.product.as_deref()),
            ("severity", self.severity.as_deref()),
            ("from", self.from.as_deref()),
            ("to", self.to.as_deref()),
            ("sort", self.sort.as_deref()),
            ("per_page", self.per_page.as_deref()),
            ("page", self.page.as_deref()),
        ]
    }

    /// Reads the parameters from a query string's key/value lookup.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        AdvisoryQuery {
            q: get("q"),
            cve: get("cve"),
            product: get("product"),
            severity: get("severity"),
            from: get("from"),
            to: get("to"),
            sort: get("sort"),
            page: get("page"),
            per_page: get("per_page"),
        }
    }

    /// The same query on another page.
    pub fn with_page(&self, page: u64) -> Self {
        AdvisoryQuery {
            page: (page > 1).then(|| page.to_string()),
            ..self.clone()
        }
    }

    /// `/advisories` with this query (empty values left out, values percent-encoded), for links
    /// that keep the query.
    pub fn list_path(&self) -> String {
        let mut out = String::from("/advisories");
        let mut first = true;
        for (key, value) in self.pairs() {
            let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
                continue;
            };
            out.push(if first { '?' } else { '&' });
            first = false;
            out.push_str(key);
            out.push('=');
            for byte in value.bytes() {
                if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
                    out.push(char::from(byte));
                } else {
                    out.push_str(&format!("%{byte:02X}"));
                }
            }
        }
        out
    }
}

/// One page of the advisory list with what the filter form offers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct AdvisoryListPage {
    pub items: Vec<AdvisoryListItem>,
    /// Matches over all pages.
    pub total: u64,
    /// The page shown (1-based); may lie past `pages` when the query asked for that.
    pub page: u64,
    pub per_page: u64,
    /// Number of pages (0 when nothing matches).
    pub pages: u64,
    /// Catalog products the viewer may filter by.
    pub products: Vec<ProductOption>,
}

/// A product of the catalog as the filter's choice list shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProductOption {
    pub id: String,
    pub label: String,
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
    /// The viewer's organization is the manufacturer: decides only which links the header
    /// shows; every server function checks authorization on its own.
    #[serde(default)]
    pub manufacturer: bool,
    /// The viewer's role (`admin`, `publisher`, `approver`, `viewer`): like `manufacturer`, it
    /// decides only which links and buttons show (e.g. "Authoring").
    #[serde(default)]
    pub role: Option<String>,
}

impl Viewer {
    /// A manufacturer's publisher or admin: may author advisories (the server checks again).
    pub fn may_author(&self) -> bool {
        self.manufacturer && matches!(self.role.as_deref(), Some("admin" | "publisher"))
    }

    /// May author or approve advisories: the header shows "Authoring".
    pub fn may_use_authoring(&self) -> bool {
        self.may_author() || (self.manufacturer && self.role.as_deref() == Some("approver"))
    }
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

/// What the server knows of the browser signing in: its `User-Agent` (shown in the list of
/// sessions) and its address (sign-in throttling).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    pub user_agent: Option<String>,
    pub address: Option<String>,
}

/// Server-side services the pages call through server functions. The server implements it and
/// provides an `Arc<dyn Portal>` in the Leptos context.
#[cfg(feature = "ssr")]
#[async_trait::async_trait]
pub trait Portal: Send + Sync {
    /// Resolves the session cookie (if any) to the viewer; anonymous viewers see TLP:WHITE only.
    async fn viewer(&self, session_cookie: Option<String>) -> Result<Viewer, PortalError>;
    /// Checks the credentials and opens a session; returns the session cookie value.
    async fn login(
        &self,
        email: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<String, PortalError>;
    /// Ends the session behind the cookie value.
    async fn logout(&self, session_cookie: &str) -> Result<(), PortalError>;
    /// The viewer's own account: their open sessions (`session_cookie` marks this browser's).
    async fn account(
        &self,
        viewer: &Viewer,
        session_cookie: &str,
    ) -> Result<crate::account::AccountView, PortalError>;
    /// Ends one of the viewer's own sessions.
    async fn end_session(&self, viewer: &Viewer, id: &str) -> Result<(), PortalError>;
    /// Ends every session of the viewer.
    async fn end_all_sessions(&self, viewer: &Viewer) -> Result<(), PortalError>;
    /// Whether the portal's cookies are `Secure`: the operator's base URL is https (not the
    /// scheme of the request, which a TLS-terminating proxy hides).
    fn secure_cookies(&self) -> bool {
        false
    }
    async fn list_advisories(
        &self,
        viewer: &Viewer,
        query: &AdvisoryQuery,
    ) -> Result<AdvisoryListPage, PortalError>;
    async fn advisory(
        &self,
        viewer: &Viewer,
        tracking_id: &str,
    ) -> Result<AdvisoryView, PortalError>;

    // Destinations and the delivery log (views in `crate::destinations`). Each method checks
    // who the viewer is: a hospital's users reach only their organization's destinations and
    // deliveries, the manufacturer's every organization's; only admins change or test anything.
    async fn destinations(
        &self,
        viewer: &Viewer,
    ) -> Result<crate::destinations::DestinationsView, PortalError>;
    /// The loaded plugins a destination can use, with the capabilities the operator allows them.
    async fn destination_plugins(
        &self,
        viewer: &Viewer,
    ) -> Result<Vec<crate::destinations::PluginView>, PortalError>;
    async fn destination(
        &self,
        viewer: &Viewer,
        id: &str,
    ) -> Result<crate::destinations::DestinationDetail, PortalError>;
    /// Checks the form (the plugin's validate-config included) and stores it, or says why not.
    async fn save_destination(
        &self,
        viewer: &Viewer,
        form: crate::destinations::DestinationForm,
    ) -> Result<crate::destinations::SaveResult, PortalError>;
    /// Runs the plugin's `test` for the destination and records the outcome.
    async fn test_destination(
        &self,
        viewer: &Viewer,
        id: &str,
    ) -> Result<crate::destinations::TestOutcomeView, PortalError>;
    async fn delivery_log(
        &self,
        viewer: &Viewer,
        query: &crate::destinations::DeliveryLogQuery,
    ) -> Result<crate::destinations::DeliveryLogView, PortalError>;
    /// Requeues a dead or failed delivery.
    async fn replay_delivery(&self, viewer: &Viewer, id: &str) -> Result<(), PortalError>;
    /// Replaces a destination's subscription (admins of the destination's organization only),
    /// with the same checks as the REST API, or says which fields are wrong.
    async fn save_subscription(
        &self,
        viewer: &Viewer,
        form: crate::destinations::SubscriptionForm,
    ) -> Result<crate::destinations::SaveResult, PortalError>;

    // Notification templates (views in `crate::templates`): the manufacturer's users only
    // (anyone else: forbidden); only its admins change anything.
    async fn templates(
        &self,
        viewer: &Viewer,
    ) -> Result<crate::templates::TemplatesView, PortalError>;
    /// Checks an override as the REST API does and stores it: `Some(message)` when refused.
    async fn save_template(
        &self,
        viewer: &Viewer,
        kind: &str,
        channel: &str,
        part: &str,
        body: &str,
    ) -> Result<Option<String>, PortalError>;
    // The product catalog (views in `crate::catalog`): everyone sees the products they may
    // (the server's rule); the manufacturer's publishers and admins add and edit entries.
    async fn catalog(&self, viewer: &Viewer) -> Result<crate::catalog::CatalogView, PortalError>;
    /// Checks an entry as `POST`/`PATCH /api/v1/products` do and stores it, or says which field
    /// is wrong.
    async fn save_product(
        &self,
        viewer: &Viewer,
        form: crate::catalog::ProductForm,
    ) -> Result<crate::catalog::ProductSaved, PortalError>;

    /// Deletes an override; "not found" when there is none.
    async fn reset_template(
        &self,
        viewer: &Viewer,
        kind: &str,
        channel: &str,
        part: &str,
    ) -> Result<(), PortalError>;

    // Authoring (views in crate::authoring): the manufacturer's publishers and admins write
    // drafts, its approvers and admins (and, with the four-eyes rule off, publishers) publish
    // them; anyone else is forbidden. Each method checks the viewer itself.
    async fn drafts(&self, viewer: &Viewer) -> Result<crate::authoring::DraftsView, PortalError>;
    async fn draft(
        &self,
        viewer: &Viewer,
        id: &str,
    ) -> Result<crate::authoring::DraftPage, PortalError>;
    /// Creates an empty draft of a new advisory; returns its id.
    async fn new_draft(&self, viewer: &Viewer) -> Result<String, PortalError>;
    /// Creates a draft of the next revision of a published advisory, filled from its current
    /// revision; returns the draft's id.
    async fn start_update(&self, viewer: &Viewer, tracking_id: &str)
    -> Result<String, PortalError>;
    /// Stores the form as typed (a new draft when `form.draft_id` is absent).
    async fn save_draft(
        &self,
        viewer: &Viewer,
        form: crate::authoring::AuthoringForm,
    ) -> Result<crate::authoring::SaveOutcome, PortalError>;
    /// The CSAF document the stored draft would produce, with its failed tests.
    async fn preview_draft(
        &self,
        viewer: &Viewer,
        id: &str,
    ) -> Result<crate::authoring::PreviewView, PortalError>;
    /// Asks for approval; refused (with the problems) when the document is not valid.
    async fn submit_draft(
        &self,
        viewer: &Viewer,
        id: &str,
    ) -> Result<crate::authoring::SubmitOutcome, PortalError>;
    /// Approves and publishes through the one publish path; `Forbidden` when the viewer may not
    /// (e.g. its author with the four-eyes rule on).
    async fn publish_draft(
        &self,
        viewer: &Viewer,
        id: &str,
    ) -> Result<crate::authoring::PublishOutcome, PortalError>;
    async fn discard_draft(&self, viewer: &Viewer, id: &str) -> Result<(), PortalError>;
    /// Switches the four-eyes rule (the manufacturer's admins only).
    async fn set_four_eyes(&self, viewer: &Viewer, enabled: bool) -> Result<(), PortalError>;
}
