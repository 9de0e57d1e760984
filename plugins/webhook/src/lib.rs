//! Webhook channel: POSTs each notification as JSON
//! (`{"type": event_kind, "delivery_id", "timestamp", "data": {...}}`) to the destination's `url`
//! with `webhook-id: <delivery id>` (the receiver's idempotency key) and `webhook-timestamp`
//! headers, as Standard Webhooks names them. Signing is not done yet.

use herald_plugin_sdk::{
    Channel, ConfigError, ConfigField, ConfigFieldKind, DeliveryError, Notification, PluginInfo,
    Receipt, config_or_misconfigured, http, log, now_millis, parse_config,
};
use serde::Deserialize;
use serde_json::json;

const ID: &str = "webhook";
const VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    url: String,
    /// Name of a Herald secret sent as the `authorization` header value.
    #[serde(default)]
    authorization_secret: Option<String>,
}

impl Config {
    fn problems(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        let rest = self
            .url
            .strip_prefix("https://")
            .or_else(|| self.url.strip_prefix("http://"));
        match rest {
            None => errors.push(ConfigError {
                field: "url".into(),
                message: format!("url {:?} must start with https:// (or http://)", self.url),
            }),
            Some(rest) => {
                let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
                if authority.is_empty() || authority.contains('@') || authority.contains(' ') {
                    errors.push(ConfigError {
                        field: "url".into(),
                        message: format!("url {:?} has no valid host", self.url),
                    });
                }
            }
        }
        if let Some(name) = &self.authorization_secret
            && (name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.'))
        {
            errors.push(ConfigError {
                field: "authorization_secret".into(),
                message: format!(
                    "secret name {name:?} must be non-empty letters, digits, '_', '-' or '.'"
                ),
            });
        }
        errors
    }

    fn checked(config: &str) -> Result<Config, DeliveryError> {
        let parsed: Config = config_or_misconfigured(config)?;
        let problems = parsed.problems();
        if problems.is_empty() {
            Ok(parsed)
        } else {
            Err(DeliveryError::Misconfigured(
                problems
                    .into_iter()
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            ))
        }
    }

    fn post(&self, delivery_id: &str, body: &serde_json::Value) -> Result<Receipt, DeliveryError> {
        let timestamp = (now_millis() / 1000).to_string();
        let authorization = self.authorization_secret.as_deref().map(http::secret_ref);
        let mut headers = vec![
            ("webhook-id", delivery_id),
            ("webhook-timestamp", timestamp.as_str()),
        ];
        if let Some(value) = authorization.as_deref() {
            headers.push(("authorization", value));
        }
        let response = http::post_json(&self.url, &headers, body)?;
        log::debug(&format!("webhook answered HTTP {}", response.status));
        response.classify(Some(delivery_id.to_string()))
    }
}

struct Webhook;

impl Channel for Webhook {
    fn describe() -> PluginInfo {
        PluginInfo {
            id: ID.into(),
            version: VERSION.into(),
            display_name: "Webhook (JSON POST)".into(),
            config_fields: vec![
                ConfigField {
                    name: "url".into(),
                    kind: ConfigFieldKind::Url,
                    required: true,
                    help: "Receiver URL; its host must also be granted to the destination.".into(),
                },
                ConfigField {
                    name: "authorization_secret".into(),
                    kind: ConfigFieldKind::SecretRef,
                    required: false,
                    help: "Herald secret sent as the Authorization header value.".into(),
                },
            ],
        }
    }

    fn validate_config(config: String) -> Result<(), Vec<ConfigError>> {
        let parsed: Config = parse_config(&config)?;
        let problems = parsed.problems();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    fn deliver(config: String, n: Notification) -> Result<Receipt, DeliveryError> {
        let config = Config::checked(&config)?;
        let products: Vec<serde_json::Value> = n
            .products
            .iter()
            .map(|p| {
                json!({
                    "product_id": p.product_id,
                    "name": p.name,
                    "version": p.version,
                    "udi_di": p.udi_di,
                    "cpe": p.cpe,
                    "purl": p.purl,
                })
            })
            .collect();
        let previous = n
            .previous_receipt
            .as_ref()
            .map(|r| json!({ "remote_id": r.remote_id, "detail": r.detail }));
        let body = json!({
            "type": n.event_kind,
            "delivery_id": n.delivery_id,
            "timestamp": now_millis() / 1000,
            "data": {
                "tracking_id": n.tracking_id,
                "version": n.version,
                "title": n.title,
                "severity": n.severity,
                "cvss_score": n.cvss_score,
                "cves": n.cves,
                "products": products,
                "initial_release_date": n.initial_release_date,
                "current_release_date": n.current_release_date,
                "tlp": n.tlp,
                "summary": n.summary,
                "portal_url": n.portal_url,
                "csaf_url": n.csaf_url,
                "previous_receipt": previous,
                "attempt": n.attempt,
            }
        });
        config.post(&n.delivery_id, &body)
    }

    fn test(config: String) -> Result<Receipt, DeliveryError> {
        let config = Config::checked(&config)?;
        let id = format!("herald-test-{}", now_millis());
        let body = json!({
            "type": "herald.test",
            "delivery_id": id,
            "timestamp": now_millis() / 1000,
            "data": { "message": "Test message from Herald: this destination is reachable." }
        });
        config.post(&id, &body)
    }
}

herald_plugin_sdk::export_channel!(Webhook);
