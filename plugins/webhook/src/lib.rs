//! Webhook channel: POSTs each notification as JSON
//! (`{"type": event_kind, "delivery_id", "timestamp", "data": {...}}`) to the destination's `url`
//! as a Standard Webhooks message: `webhook-id: <delivery id>` (the receiver's idempotency key,
//! the same on every retry), `webhook-timestamp` and, when signing secrets are configured,
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, one space-separated
//! signature per secret (two during a key rotation). The host computes the MACs through the
//! `signing` capability; this plugin only ever names the secrets.

use herald_plugin_sdk::{
    Channel, ConfigError, ConfigField, ConfigFieldKind, DeliveryError, Notification, PluginInfo,
    Receipt, config_or_misconfigured, http, log, now_millis, parse_config, signing,
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
    /// Names of Herald secrets (`whsec_<base64>`) to sign with: one normally, two while the
    /// receiver rotates from the old to the new key.
    #[serde(default)]
    signing_secrets: Vec<String>,
}

/// At most this many signatures per message (current, next, and one spare).
const MAX_SIGNING_SECRETS: usize = 3;

fn valid_secret_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
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
        if self.signing_secrets.len() > MAX_SIGNING_SECRETS {
            errors.push(ConfigError {
                field: "signing_secrets".into(),
                message: format!(
                    "{} signing secrets given; at most {MAX_SIGNING_SECRETS}",
                    self.signing_secrets.len()
                ),
            });
        }
        for name in &self.signing_secrets {
            if !valid_secret_name(name) {
                errors.push(ConfigError {
                    field: "signing_secrets".into(),
                    message: format!(
                        "secret name {name:?} must be non-empty letters, digits, '_', '-' or '.'"
                    ),
                });
            }
        }
        if let Some(name) = &self.authorization_secret
            && !valid_secret_name(name)
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
        let body = serde_json::to_vec(body).map_err(|e| {
            DeliveryError::Permanent(format!("cannot encode the webhook body: {e}"))
        })?;
        let authorization = self.authorization_secret.as_deref().map(http::secret_ref);
        let signature = self.signature(delivery_id, &timestamp, &body)?;
        let mut headers = vec![
            ("webhook-id", delivery_id),
            ("webhook-timestamp", timestamp.as_str()),
        ];
        if let Some(value) = signature.as_deref() {
            headers.push(("webhook-signature", value));
        }
        if let Some(value) = authorization.as_deref() {
            headers.push(("authorization", value));
        }
        let response = http::post_bytes(&self.url, "application/json", &headers, body)?;
        log::debug(&format!("webhook answered HTTP {}", response.status));
        response.classify(Some(delivery_id.to_string()))
    }
}

impl Config {
    /// `v1,<base64>` per configured secret, space-separated; `None` when signing is off.
    fn signature(
        &self,
        id: &str,
        timestamp: &str,
        body: &[u8],
    ) -> Result<Option<String>, DeliveryError> {
        if self.signing_secrets.is_empty() {
            return Ok(None);
        }
        let mut signed = Vec::with_capacity(id.len() + timestamp.len() + body.len() + 2);
        signed.extend_from_slice(id.as_bytes());
        signed.push(b'.');
        signed.extend_from_slice(timestamp.as_bytes());
        signed.push(b'.');
        signed.extend_from_slice(body);
        let mut signatures = Vec::with_capacity(self.signing_secrets.len());
        for secret in &self.signing_secrets {
            let mac = signing::hmac_sha256(secret, &signed)?;
            signatures.push(format!("v1,{}", signing::base64(&mac)));
        }
        Ok(Some(signatures.join(" ")))
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
                ConfigField {
                    name: "signing_secrets".into(),
                    kind: ConfigFieldKind::SecretRef,
                    required: false,
                    help: "Herald secrets (whsec_...) to sign with (Standard Webhooks v1); \
                           list two while the receiver rotates keys."
                        .into(),
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
