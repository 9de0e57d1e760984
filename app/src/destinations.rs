//! Notification destinations and the delivery log in the portal: the view models the pages
//! render, the form a destination is created or changed with, and the server functions behind
//! them. The server's [`Portal`](crate::model::Portal) does the work and every authorization
//! check (a hospital user only ever reaches its own organization's destinations and deliveries;
//! only admins change anything); these functions resolve the viewer and turn results into
//! redirects, so that each form also works as a plain HTML form without JavaScript.
//!
//! Secrets are write-only: a page only ever learns whether a secret is set.

use std::collections::BTreeMap;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Severity thresholds a destination may have, lowest first.
pub const SEVERITIES: [&str; 5] = ["none", "low", "medium", "high", "critical"];

/// Delivery states the log filters by.
pub const STATUSES: [&str; 6] = [
    "queued",
    "in_flight",
    "delivered",
    "failed",
    "dead",
    "withheld",
];

/// Deliveries per page of the log.
pub const LOG_PAGE_SIZE: usize = 25;

/// A delivery plugin as its `describe` export presents it, with the capabilities the operator
/// allows it (the grant fields the form offers).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PluginView {
    pub id: String,
    pub version: String,
    pub display_name: String,
    pub fields: Vec<FieldView>,
    /// May use outbound HTTP (the form asks for hosts).
    pub http: bool,
    /// May use raw TCP (the form asks for host:port endpoints).
    pub tcp: bool,
    /// May send mail through the host's SMTP capability.
    pub smtp: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FieldView {
    pub name: String,
    /// `text`, `url`, `host-port`, `email-list` or `secret-ref`.
    pub kind: String,
    pub required: bool,
    pub help: String,
}

/// What the stored attempts say about a destination.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct HealthView {
    /// `healthy`, `failing` (retryable failures since the receiver last answered), `paused`
    /// (enough of them for the circuit breaker to hold deliveries back), or `unknown` (nothing
    /// attempted yet).
    pub state: String,
    pub consecutive_failures: u32,
    pub last_attempt_at: Option<String>,
    pub last_outcome: Option<String>,
    pub last_delivered_at: Option<String>,
    pub queued: i64,
    pub failed: i64,
    pub dead: i64,
    /// Since when every attempt has failed (the current outage), if it is failing.
    #[serde(default)]
    pub failing_since: Option<String>,
    /// When the outage was escalated by mail to the organization's admins and the PSIRT.
    #[serde(default)]
    pub escalated_at: Option<String>,
}

/// One row of the destinations page.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DestinationSummary {
    pub id: String,
    pub org_name: String,
    pub plugin_id: String,
    pub plugin_name: String,
    pub name: String,
    pub enabled: bool,
    pub min_severity: Option<String>,
    pub health: HealthView,
}

/// The destinations page.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DestinationsView {
    pub org_name: String,
    /// The viewer's organization is the manufacturer (it sees every organization's).
    pub manufacturer: bool,
    /// The viewer is an admin of its organization (may create, change and test).
    pub can_edit: bool,
    pub items: Vec<DestinationSummary>,
}

/// Capabilities granted to a destination, as the form edits them (lists as text).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct GrantsView {
    /// Hosts (`host` or `host:port`), separated by commas, spaces or lines.
    pub http_hosts: String,
    pub allow_insecure_http: bool,
    pub allow_private_addresses: bool,
    /// `host:port` endpoints, separated by commas, spaces or lines.
    pub tcp_endpoints: String,
    pub smtp: bool,
}

/// The outcome of a "send test".
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TestOutcomeView {
    pub ok: bool,
    pub at: String,
    pub remote_id: Option<String>,
    pub detail: Option<String>,
    /// The classified error (`retryable: ...`, `permanent: ...`, `misconfigured: ...`).
    pub error: Option<String>,
}

/// A secret a destination has or names: only whether it is set, never its value.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SecretStatus {
    pub name: String,
    pub set: bool,
}

/// The destination page.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DestinationDetail {
    pub id: String,
    pub org_name: String,
    pub plugin: Option<PluginView>,
    pub plugin_id: String,
    pub name: String,
    pub enabled: bool,
    pub min_severity: Option<String>,
    /// The configuration as the form shows it: field name to text.
    pub config: BTreeMap<String, String>,
    pub secrets: Vec<SecretStatus>,
    pub grants: GrantsView,
    pub can_edit: bool,
    pub health: HealthView,
    pub last_test: Option<TestOutcomeView>,
    pub created_at: String,
    pub updated_at: String,
    /// What the destination is sent.
    pub subscription: SubscriptionView,
}

/// Notice kinds a subscription can choose on the page (the REST API knows more).
pub const SUBSCRIPTION_KINDS: [&str; 2] = ["advisory.published", "advisory.updated"];

/// A destination's subscription as its page shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct SubscriptionView {
    /// Chosen catalog product ids (none and no families: no product filter).
    pub product_ids: Vec<String>,
    /// Product family names, as one comma-separated text.
    pub families: String,
    /// Chosen notice kinds (none: every kind).
    pub event_kinds: Vec<String>,
    pub security_contact: bool,
    pub routine_opt_out: bool,
    /// Catalog products the destination's organization may see, to choose from (and any
    /// chosen one that is not among them, by id).
    pub products: Vec<crate::model::ProductOption>,
    /// The viewer is an admin of the destination's organization.
    pub can_edit: bool,
}

/// What the subscription form submits.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct SubscriptionForm {
    pub destination_id: String,
    pub product_ids: Vec<String>,
    /// Comma-separated family names as typed.
    pub families: String,
    pub event_kinds: Vec<String>,
    pub security_contact: bool,
    pub routine_opt_out: bool,
}

/// A refused subscription form as it travels back to the page: what was typed and the problems
/// (`product_ids`, `families`, `event_kinds` or `subscription`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct SubscriptionDraft {
    pub product_ids: Vec<String>,
    pub families: String,
    pub event_kinds: Vec<String>,
    pub security_contact: bool,
    pub routine_opt_out: bool,
    pub issues: Vec<FieldIssue>,
}

/// What a create or edit form submits. `id` absent: a new destination.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct DestinationForm {
    pub id: Option<String>,
    pub plugin_id: String,
    pub name: String,
    pub enabled: bool,
    pub min_severity: Option<String>,
    /// Field name to text as typed (lists separated by commas).
    pub config: BTreeMap<String, String>,
    /// Secret-reference field name to a new value for the (one) secret it names.
    pub secret_values: BTreeMap<String, String>,
    pub grants: GrantsView,
}

/// A problem with one form field (`name`, `plugin_id`, `min_severity`, `grants`, or a plugin
/// configuration field's name), or with the form as a whole (`form`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FieldIssue {
    pub field: String,
    pub message: String,
}

/// Saved (`id`), or refused with the problems to show next to the fields.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum SaveResult {
    Saved { id: String },
    Rejected { issues: Vec<FieldIssue> },
}

/// A refused form as it travels back to the page in the redirect: everything typed except the
/// secret values, and the problems.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Draft {
    pub name: String,
    pub enabled: bool,
    pub min_severity: Option<String>,
    pub config: BTreeMap<String, String>,
    pub grants: GrantsView,
    pub issues: Vec<FieldIssue>,
}

/// Which deliveries the log shows.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct DeliveryLogQuery {
    pub status: Option<String>,
    pub destination_id: Option<String>,
    /// Zero-based page.
    pub page: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AttemptView {
    pub number: i32,
    pub worker: String,
    pub started_at: String,
    pub duration_ms: i64,
    pub outcome: String,
    pub error: Option<String>,
    pub receipt: Option<String>,
}

/// One notification to one destination with every attempt.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeliveryView {
    pub id: String,
    pub event_id: String,
    /// `advisory.published`, ...
    pub event_kind: Option<String>,
    /// Tracking id and version of the advisory the event is about.
    pub advisory: Option<String>,
    pub destination_id: String,
    pub destination_name: String,
    pub org_name: String,
    pub status: String,
    pub attempt_count: i32,
    pub created_at: String,
    pub next_attempt_at: Option<String>,
    pub delivered_at: Option<String>,
    pub last_error: Option<String>,
    pub receipt: Option<String>,
    pub attempts: Vec<AttemptView>,
}

/// One page of the delivery log.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeliveryLogView {
    pub items: Vec<DeliveryView>,
    pub total: u64,
    pub page: usize,
    pub page_size: usize,
    pub manufacturer: bool,
    /// The viewer may replay dead and failed deliveries.
    pub can_replay: bool,
    /// Destinations the filter offers: id and name.
    pub destinations: Vec<(String, String)>,
}

// ---------------------------------------------------------------------------------------------
// query strings (shared by the pages and the redirects)

/// Percent-encodes a query parameter value.
pub fn query_value(value: &str) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Portal path of a destination (`new` for the create form).
pub fn destination_path(id: &str) -> String {
    format!("/destinations/{}", query_value(id))
}

/// Path of the delivery log with a filter and page.
pub fn delivery_log_path(
    status: Option<&str>,
    destination_id: Option<&str>,
    page: usize,
) -> String {
    let mut params = Vec::new();
    if let Some(s) = status.filter(|s| !s.is_empty()) {
        params.push(format!("status={}", query_value(s)));
    }
    if let Some(d) = destination_id.filter(|d| !d.is_empty()) {
        params.push(format!("destination={}", query_value(d)));
    }
    if page > 0 {
        params.push(format!("page={}", page + 1));
    }
    if params.is_empty() {
        "/deliveries".to_string()
    } else {
        format!("/deliveries?{}", params.join("&"))
    }
}

// ---------------------------------------------------------------------------------------------
// server functions

/// The destinations the viewer may see.
#[server(prefix = "/api", endpoint = "destinations", client = crate::csrf::CsrfClient)]
pub async fn list_destinations() -> Result<DestinationsView, ServerFnError> {
    let portal = crate::api::ssr::portal()?;
    let viewer = crate::api::ssr::viewer(portal.as_ref()).await?;
    portal
        .destinations(&viewer)
        .await
        .map_err(crate::api::ssr::user_error)
}

/// The plugins a new destination can use.
#[server(prefix = "/api", endpoint = "destination_plugins", client = crate::csrf::CsrfClient)]
pub async fn list_plugins() -> Result<Vec<PluginView>, ServerFnError> {
    let portal = crate::api::ssr::portal()?;
    let viewer = crate::api::ssr::viewer(portal.as_ref()).await?;
    portal
        .destination_plugins(&viewer)
        .await
        .map_err(crate::api::ssr::user_error)
}

/// One destination, if the viewer may see it.
#[server(prefix = "/api", endpoint = "destination", client = crate::csrf::CsrfClient)]
pub async fn get_destination(id: String) -> Result<DestinationDetail, ServerFnError> {
    let portal = crate::api::ssr::portal()?;
    let viewer = crate::api::ssr::viewer(portal.as_ref()).await?;
    portal
        .destination(&viewer, &id)
        .await
        .map_err(crate::api::ssr::user_error)
}

#[cfg(feature = "ssr")]
fn checked(value: Option<String>) -> bool {
    value.is_some_and(|v| !v.is_empty() && v != "false" && v != "off")
}

pub use save_form::{SaveDestination, save_destination};

/// The save function on its own: a plain form sends every field as its own argument, more than
/// clippy likes on one function (the allow must cover what the `server` macro generates).
mod save_form {
    #![allow(clippy::too_many_arguments)]

    use super::*;

    /// Creates (no `id`) or changes a destination from the form; then goes to its page. A refused
    /// form goes back to the form with what was typed (except secret values) and the problems.
    #[server(prefix = "/api", endpoint = "destination_save", client = crate::csrf::CsrfClient)]
    pub async fn save_destination(
        id: Option<String>,
        plugin_id: String,
        name: String,
        enabled: Option<String>,
        min_severity: Option<String>,
        config: Option<BTreeMap<String, String>>,
        secret: Option<BTreeMap<String, String>>,
        http_hosts: Option<String>,
        allow_insecure_http: Option<String>,
        allow_private_addresses: Option<String>,
        tcp_endpoints: Option<String>,
        smtp: Option<String>,
    ) -> Result<(), ServerFnError> {
        let portal = crate::api::ssr::portal()?;
        let viewer = crate::api::ssr::viewer(portal.as_ref()).await?;
        let id = id.filter(|i| !i.is_empty());
        let form = DestinationForm {
            id: id.clone(),
            plugin_id: plugin_id.trim().to_string(),
            name: name.trim().to_string(),
            enabled: checked(enabled),
            min_severity: min_severity.filter(|m| !m.is_empty()),
            config: config.unwrap_or_default(),
            secret_values: secret
                .unwrap_or_default()
                .into_iter()
                .filter(|(_, v)| !v.is_empty())
                .collect(),
            grants: GrantsView {
                http_hosts: http_hosts.unwrap_or_default(),
                allow_insecure_http: checked(allow_insecure_http),
                allow_private_addresses: checked(allow_private_addresses),
                tcp_endpoints: tcp_endpoints.unwrap_or_default(),
                smtp: checked(smtp),
            },
        };
        match portal
            .save_destination(&viewer, form.clone())
            .await
            .map_err(crate::api::ssr::user_error)?
        {
            SaveResult::Saved { id } => {
                leptos_actix::redirect(&format!("{}?saved=1", destination_path(&id)));
            }
            SaveResult::Rejected { issues } => {
                let draft = Draft {
                    name: form.name,
                    enabled: form.enabled,
                    min_severity: form.min_severity,
                    config: form.config,
                    grants: form.grants,
                    issues,
                };
                let draft = serde_json::to_string(&draft).map_err(|e| -> ServerFnError {
                    ServerFnError::ServerError(format!("cannot return the form: {e}"))
                })?;
                leptos_actix::redirect(&format!(
                    "{}?plugin={}&draft={}",
                    destination_path(id.as_deref().unwrap_or("new")),
                    query_value(&form.plugin_id),
                    query_value(&draft)
                ));
            }
        }
        Ok(())
    }
}

/// Prefix of the keys of a `name[p:key]` checkbox group. The form decoder reads a key that
/// starts with a digit (as UUIDv7 product ids do) as a list index, so every key gets a letter.
pub const CHECKBOX_KEY_PREFIX: &str = "p:";

/// Keys (without [`CHECKBOX_KEY_PREFIX`]) of a `name[p:key]=on` checkbox group that are
/// checked; keys without the prefix are ignored.
#[cfg(feature = "ssr")]
fn checked_keys(group: Option<BTreeMap<String, String>>) -> Vec<String> {
    group
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, v)| checked(Some(v.clone())))
        .filter_map(|(k, _)| k.strip_prefix(CHECKBOX_KEY_PREFIX).map(str::to_string))
        .collect()
}

/// Replaces a destination's subscription from its page's form (checkboxes `product[p:ID]` and
/// `kind[p:KIND]`), then goes back to the page; a refused form goes back with what was chosen and
/// the problems.
#[server(prefix = "/api", endpoint = "subscription_save", client = crate::csrf::CsrfClient)]
pub async fn save_subscription(
    id: String,
    product: Option<BTreeMap<String, String>>,
    families: Option<String>,
    kind: Option<BTreeMap<String, String>>,
    security_contact: Option<String>,
    routine_opt_out: Option<String>,
) -> Result<(), ServerFnError> {
    let portal = crate::api::ssr::portal()?;
    let viewer = crate::api::ssr::viewer(portal.as_ref()).await?;
    let form = SubscriptionForm {
        destination_id: id.clone(),
        product_ids: checked_keys(product),
        families: families.unwrap_or_default(),
        event_kinds: checked_keys(kind),
        security_contact: checked(security_contact),
        routine_opt_out: checked(routine_opt_out),
    };
    match portal
        .save_subscription(&viewer, form.clone())
        .await
        .map_err(crate::api::ssr::user_error)?
    {
        SaveResult::Saved { id } => {
            leptos_actix::redirect(&format!(
                "{}?subscribed=1#subscription",
                destination_path(&id)
            ));
        }
        SaveResult::Rejected { issues } => {
            let draft = SubscriptionDraft {
                product_ids: form.product_ids,
                families: form.families,
                event_kinds: form.event_kinds,
                security_contact: form.security_contact,
                routine_opt_out: form.routine_opt_out,
                issues,
            };
            let draft = serde_json::to_string(&draft).map_err(|e| -> ServerFnError {
                ServerFnError::ServerError(format!("cannot return the form: {e}"))
            })?;
            leptos_actix::redirect(&format!(
                "{}?sub_draft={}#subscription",
                destination_path(&id),
                query_value(&draft)
            ));
        }
    }
    Ok(())
}

/// Runs the destination's plugin `test`; the page shows the outcome (kept in the audit log).
#[server(prefix = "/api", endpoint = "destination_test", client = crate::csrf::CsrfClient)]
pub async fn send_test(id: String) -> Result<TestOutcomeView, ServerFnError> {
    let portal = crate::api::ssr::portal()?;
    let viewer = crate::api::ssr::viewer(portal.as_ref()).await?;
    let outcome = portal
        .test_destination(&viewer, &id)
        .await
        .map_err(crate::api::ssr::user_error)?;
    leptos_actix::redirect(&format!("{}?tested=1#test-outcome", destination_path(&id)));
    Ok(outcome)
}

/// One page of the delivery log. `page` is one-based, as in the page's URL.
#[server(prefix = "/api", endpoint = "deliveries", client = crate::csrf::CsrfClient)]
pub async fn delivery_log(
    status: Option<String>,
    destination: Option<String>,
    page: Option<usize>,
) -> Result<DeliveryLogView, ServerFnError> {
    let portal = crate::api::ssr::portal()?;
    let viewer = crate::api::ssr::viewer(portal.as_ref()).await?;
    let query = DeliveryLogQuery {
        status: status.filter(|s| !s.is_empty()),
        destination_id: destination.filter(|d| !d.is_empty()),
        page: page.unwrap_or(1).saturating_sub(1),
    };
    portal
        .delivery_log(&viewer, &query)
        .await
        .map_err(crate::api::ssr::user_error)
}

/// Requeues a dead or failed delivery, then goes back to the log page it was pressed on.
#[server(prefix = "/api", endpoint = "delivery_replay", client = crate::csrf::CsrfClient)]
pub async fn replay_delivery(id: String, back: Option<String>) -> Result<(), ServerFnError> {
    let portal = crate::api::ssr::portal()?;
    let viewer = crate::api::ssr::viewer(portal.as_ref()).await?;
    portal
        .replay_delivery(&viewer, &id)
        .await
        .map_err(crate::api::ssr::user_error)?;
    let back = back
        .as_deref()
        .and_then(crate::ui::local_path)
        .unwrap_or("/deliveries")
        .to_string();
    leptos_actix::redirect(&back);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_escape_their_parts() {
        assert_eq!(destination_path("a/b?c"), "/destinations/a%2Fb%3Fc");
        assert_eq!(delivery_log_path(None, None, 0), "/deliveries");
        assert_eq!(
            delivery_log_path(Some("dead"), Some("x&y"), 2),
            "/deliveries?status=dead&destination=x%26y&page=3"
        );
    }
}
