//! The contract between Herald's delivery engine and its channels: the fully resolved
//! [`Notification`] a channel receives, the [`DestinationConfig`] and operator [`Grants`] it sends
//! under, and how an attempt ends ([`Receipt`] or a classified [`DeliveryError`]).
//!
//! It sits below storage on purpose: the plugin host implements [`Channel`] without linking the
//! database or the engine (`scripts/test` checks that), and the engine (herald-delivery, which
//! re-exports all of this) drives any [`Channel`] without knowing about Wasm.

use serde::{Deserialize, Serialize};

/// One fully resolved notification, as a channel receives it. Everything a receiver needs is
/// here so that a channel never has to call back into Herald.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Notification {
    /// Idempotency key: the same on every retry, sent to the receiver (webhook-id, MSH-10, ...).
    pub delivery_id: String,
    /// `advisory.published`, `advisory.updated`, ...
    pub event_kind: String,
    pub tracking_id: String,
    pub version: String,
    pub title: String,
    /// Highest CVSS severity in the document (`critical`, `high`, `medium`, `low`, `none`), if any.
    pub severity: Option<String>,
    pub cvss_score: Option<f64>,
    pub cves: Vec<String>,
    pub products: Vec<NotifiedProduct>,
    pub initial_release_date: String,
    pub current_release_date: String,
    /// `WHITE`, `GREEN`, `AMBER`, `RED` or empty when the document carries no label.
    pub tlp: String,
    pub summary: String,
    pub portal_url: String,
    pub csaf_url: String,
    /// Receipt of the previous successful delivery of the same advisory to the same destination.
    pub previous_receipt: Option<Receipt>,
    /// 1 on the first try.
    pub attempt: u32,
    /// The notification rendered by Herald's templates for the destination's channel (the
    /// manufacturer's overrides or the compiled-in defaults, see `herald_delivery::templates`);
    /// `None` for an event kind without templates. Restricted TLP labels render without the details.
    #[serde(default)]
    pub rendered: Option<RenderedMessage>,
    /// Herald's signed one-click unsubscribe URL for this destination (RFC 8058), set by the
    /// engine per destination; `None` when the engine has no key to sign it.
    #[serde(default)]
    pub unsubscribe_url: Option<String>,
}

/// Subject, plain text and HTML of a notification, rendered by the host.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct RenderedMessage {
    /// One line, no line breaks.
    pub subject: String,
    pub text: String,
    /// HTML; every value in it was escaped by the template engine.
    pub html: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct NotifiedProduct {
    pub product_id: String,
    pub name: String,
    pub version: Option<String>,
    pub udi_di: Option<String>,
    pub cpe: Option<String>,
    pub purl: Option<String>,
}

/// What the receiver said when it accepted a notification.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Receipt {
    pub remote_id: Option<String>,
    pub detail: String,
}

/// A failed attempt, classified by the channel; the engine decides what happens next.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Serialize, Deserialize)]
pub enum DeliveryError {
    #[error("retryable: {0}")]
    Retryable(String),
    #[error("retry after {seconds}s: {message}")]
    RetryAfter { seconds: u32, message: String },
    #[error("permanent: {0}")]
    Permanent(String),
    #[error("misconfigured: {0}")]
    Misconfigured(String),
}

/// A destination as a channel sees it: which plugin, its (non-secret) configuration, and what the
/// operator granted it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct DestinationConfig {
    pub destination_id: String,
    pub plugin_id: String,
    /// Plugin-specific configuration as a JSON object (validated by the plugin's validate-config).
    pub config: serde_json::Value,
    pub grants: Grants,
}

/// Capabilities an operator granted one plugin for one destination. Anything not named is not
/// granted.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Grants {
    /// Hosts (`host` or `host:port`) the plugin may reach over the `http` capability.
    pub http_hosts: Vec<String>,
    /// Plain http (not https) allowed for the granted hosts, where the operator's outbound
    /// policy allows it too (`HERALD_OUTBOUND_INSECURE_HTTP_HOSTS`): a grant only narrows it.
    pub allow_insecure_http: bool,
    /// Loopback and private addresses allowed (on-premise receivers), inside the operator's
    /// outbound policy only (`HERALD_OUTBOUND_PRIVATE_RANGES`): a grant only narrows it.
    pub allow_private_addresses: bool,
    /// `host:port` pairs for the `tcp` capability.
    pub tcp_endpoints: Vec<String>,
    /// May the plugin send mail through the host's SMTP capability.
    pub smtp: bool,
}

/// A delivery channel. The Wasm plugin host implements it; so may a native channel in benchmarks.
#[async_trait::async_trait]
pub trait Channel: Send + Sync {
    async fn deliver(
        &self,
        destination: &DestinationConfig,
        notification: &Notification,
    ) -> Result<Receipt, DeliveryError>;
}
