//! Webhook channel: POSTs each notification as JSON
//! (`{"type": event_kind, "delivery_id", "timestamp", "data": {...}}`) to the destination's `url`
//! as a Standard Webhooks message: `webhook-id: <delivery id>` (the receiver's idempotency key,
//! the same on every retry), `webhook-timestamp` and, when signing secrets are configured,
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, one space-separated
//! signature per secret (two during a key rotation). The host computes the MACs through the
//! `signing` capability; this plugin only ever names the secrets. `user-agent` says which
//! version of this plugin sent the message.
//!
//! TLP: an advisory labelled anything but WHITE/CLEAR (GREEN, AMBER, RED) goes out as a thin
//! notification (`"restricted": true`): event, ids, tracking id, version, TLP, severity, dates
//! and the portal and CSAF document URLs, but no title, CVEs, products or summary. The receiver
//! fetches the document with its own read token, the pattern webhook platforms recommend:
//! webhook bodies end up in logs and queues that the TLP audience does not cover, as email, HL7,
//! FHIR and ServiceNow messages do, which withhold the same details.

use herald_plugin_sdk::config::{check_secret_name, check_url, field, field_error};
use herald_plugin_sdk::{
    Channel, ConfigError, ConfigFieldKind, DeliveryError, Notification, PluginInfo, Problems,
    Receipt, http, log, now_millis, signing,
};
use serde::{Deserialize, Serialize};

const ID: &str = "webhook";
const VERSION: &str = env!("CARGO_PKG_VERSION");
const USER_AGENT: &str = concat!("herald-webhook/", env!("CARGO_PKG_VERSION"));

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

impl Problems for Config {
    fn problems(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        check_url(&mut errors, "url", &self.url);
        if self.signing_secrets.len() > MAX_SIGNING_SECRETS {
            errors.push(field_error(
                "signing_secrets",
                format!(
                    "{} signing secrets given; at most {MAX_SIGNING_SECRETS}",
                    self.signing_secrets.len()
                ),
            ));
        }
        for name in &self.signing_secrets {
            check_secret_name(&mut errors, "signing_secrets", name);
        }
        if let Some(name) = &self.authorization_secret {
            check_secret_name(&mut errors, "authorization_secret", name);
        }
        errors
    }
}

impl Config {
    fn post(&self, delivery_id: &str, body: &impl Serialize) -> Result<Receipt, DeliveryError> {
        let timestamp = (now_millis() / 1000).to_string();
        let body = serde_json::to_vec(body).map_err(|e| {
            DeliveryError::Permanent(format!("cannot encode the webhook body: {e}"))
        })?;
        let authorization = self.authorization_secret.as_deref().map(http::secret_ref);
        let signature = self.signature(delivery_id, &timestamp, &body)?;
        let mut headers = vec![
            ("webhook-id", delivery_id),
            ("webhook-timestamp", timestamp.as_str()),
            // Which plugin version sent it: receivers (and support) can tell after an upgrade.
            ("user-agent", USER_AGENT),
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

/// The message, serialised straight from the notification's fields (no intermediate JSON
/// tree: in Wasm every allocation and map insert costs several times what it does natively).
#[derive(Serialize)]
struct Message<'a, D> {
    #[serde(rename = "type")]
    kind: &'a str,
    delivery_id: &'a str,
    timestamp: u64,
    data: D,
}

#[derive(Serialize)]
struct AdvisoryData<'a> {
    /// Always false here: the receiver can tell a full notice from a thin one.
    restricted: bool,
    tracking_id: &'a str,
    version: &'a str,
    title: &'a str,
    severity: Option<&'a str>,
    cvss_score: Option<f64>,
    cves: &'a [String],
    products: Vec<ProductData<'a>>,
    initial_release_date: &'a str,
    current_release_date: &'a str,
    tlp: &'a str,
    summary: &'a str,
    portal_url: &'a str,
    csaf_url: &'a str,
    previous_receipt: Option<ReceiptData<'a>>,
    attempt: u32,
}

/// A restricted (TLP other than WHITE/CLEAR) advisory's notice: what identifies it and where
/// to fetch it, nothing of its content.
#[derive(Serialize)]
struct RestrictedData<'a> {
    restricted: bool,
    tracking_id: &'a str,
    version: &'a str,
    tlp: &'a str,
    severity: Option<&'a str>,
    cvss_score: Option<f64>,
    initial_release_date: &'a str,
    current_release_date: &'a str,
    portal_url: &'a str,
    csaf_url: &'a str,
    previous_receipt: Option<ReceiptData<'a>>,
    attempt: u32,
}

#[derive(Serialize)]
struct ProductData<'a> {
    product_id: &'a str,
    name: &'a str,
    version: Option<&'a str>,
    udi_di: Option<&'a str>,
    cpe: Option<&'a str>,
    purl: Option<&'a str>,
}

#[derive(Serialize)]
struct ReceiptData<'a> {
    remote_id: Option<&'a str>,
    detail: &'a str,
}

#[derive(Serialize)]
struct TestData {
    message: &'static str,
}

struct Webhook;

impl Channel for Webhook {
    fn describe() -> PluginInfo {
        PluginInfo {
            id: ID.into(),
            version: VERSION.into(),
            display_name: "Webhook (JSON POST)".into(),
            config_fields: vec![
                field(
                    "url",
                    ConfigFieldKind::Url,
                    true,
                    "Receiver URL; its host must also be granted to the destination.",
                ),
                field(
                    "authorization_secret",
                    ConfigFieldKind::SecretRef,
                    false,
                    "Herald secret sent as the Authorization header value.",
                ),
                field(
                    "signing_secrets",
                    ConfigFieldKind::SecretRef,
                    false,
                    "Herald secrets (whsec_...) to sign with (Standard Webhooks v1); \
                     list two while the receiver rotates keys.",
                ),
            ],
        }
    }

    fn validate_config(config: String) -> Result<(), Vec<ConfigError>> {
        Config::validate_config(&config)
    }

    fn deliver(config: String, n: Notification) -> Result<Receipt, DeliveryError> {
        let config = Config::checked(&config)?;
        let previous_receipt = n.previous_receipt.as_ref().map(|r| ReceiptData {
            remote_id: r.remote_id.as_deref(),
            detail: &r.detail,
        });
        if herald_plugin_sdk::tlp_restricted(&n.tlp) {
            let body = Message {
                kind: &n.event_kind,
                delivery_id: &n.delivery_id,
                timestamp: now_millis() / 1000,
                data: restricted(&n, previous_receipt),
            };
            return config.post(&n.delivery_id, &body);
        }
        let body = Message {
            kind: &n.event_kind,
            delivery_id: &n.delivery_id,
            timestamp: now_millis() / 1000,
            data: AdvisoryData {
                restricted: false,
                tracking_id: &n.tracking_id,
                version: &n.version,
                title: &n.title,
                severity: n.severity.as_deref(),
                cvss_score: n.cvss_score,
                cves: &n.cves,
                products: n
                    .products
                    .iter()
                    .map(|p| ProductData {
                        product_id: &p.product_id,
                        name: &p.name,
                        version: p.version.as_deref(),
                        udi_di: p.udi_di.as_deref(),
                        cpe: p.cpe.as_deref(),
                        purl: p.purl.as_deref(),
                    })
                    .collect(),
                initial_release_date: &n.initial_release_date,
                current_release_date: &n.current_release_date,
                tlp: &n.tlp,
                summary: &n.summary,
                portal_url: &n.portal_url,
                csaf_url: &n.csaf_url,
                previous_receipt,
                attempt: n.attempt,
            },
        };
        config.post(&n.delivery_id, &body)
    }

    fn test(config: String) -> Result<Receipt, DeliveryError> {
        let config = Config::checked(&config)?;
        let id = format!("herald-test-{}", now_millis());
        let body = Message {
            kind: "herald.test",
            delivery_id: &id,
            timestamp: now_millis() / 1000,
            data: TestData {
                message: "Test message from Herald: this destination is reachable.",
            },
        };
        config.post(&id, &body)
    }
}

/// The thin notice of a restricted advisory.
fn restricted<'a>(
    n: &'a Notification,
    previous_receipt: Option<ReceiptData<'a>>,
) -> RestrictedData<'a> {
    RestrictedData {
        restricted: true,
        tracking_id: &n.tracking_id,
        version: &n.version,
        tlp: &n.tlp,
        severity: n.severity.as_deref(),
        cvss_score: n.cvss_score,
        initial_release_date: &n.initial_release_date,
        current_release_date: &n.current_release_date,
        portal_url: &n.portal_url,
        csaf_url: &n.csaf_url,
        previous_receipt,
        attempt: n.attempt,
    }
}

herald_plugin_sdk::export_channel!(Webhook);

#[cfg(test)]
mod tests {
    use super::*;
    use herald_plugin_sdk::config::describe_problems;

    /// What `validate_config` says, as the one-line text `deliver` would report.
    fn problems(config: &str) -> Result<(), String> {
        Webhook::validate_config(config.to_string()).map_err(|e| describe_problems(&e))
    }

    fn note(tlp: &str) -> Notification {
        Notification {
            delivery_id: "dlv-1".into(),
            event_kind: "advisory.published".into(),
            tracking_id: "EXMED-SA-2026-0042".into(),
            version: "2".into(),
            title: "InfuCare 300 pump: hard-coded password".into(),
            severity: Some("high".into()),
            cvss_score: Some(8.1),
            cves: vec!["CVE-2026-99911".into()],
            products: vec![herald_plugin_sdk::NotifiedProduct {
                product_id: "CSAFPID-0001".into(),
                name: "InfuCare 300".into(),
                version: Some("4.2".into()),
                udi_di: Some("04012345678901".into()),
                cpe: None,
                purl: None,
            }],
            initial_release_date: "2026-11-01T00:00:00Z".into(),
            current_release_date: "2026-11-02T00:00:00Z".into(),
            tlp: tlp.into(),
            summary: "Update to firmware 4.3.".into(),
            portal_url: "https://advisories.example/EXMED-SA-2026-0042".into(),
            csaf_url: "https://advisories.example/.well-known/csaf/amber/2026/x.json".into(),
            previous_receipt: None,
            attempt: 1,
            rendered: None,
            unsubscribe_url: None,
        }
    }

    #[test]
    fn restricted_advisories_go_out_thin() {
        let n = note("AMBER");
        let thin = serde_json::to_string(&restricted(&n, None)).expect("json");
        for detail in [
            "InfuCare",
            "CVE-2026-99911",
            "firmware",
            "04012345678901",
            "password",
        ] {
            assert!(!thin.contains(detail), "{detail} in {thin}");
        }
        for kept in [
            "EXMED-SA-2026-0042",
            "\"tlp\":\"AMBER\"",
            "\"restricted\":true",
            &n.portal_url,
            &n.csaf_url,
        ] {
            assert!(thin.contains(kept), "{kept} missing from {thin}");
        }
        for tlp in ["GREEN", "AMBER+STRICT", "TLP:RED"] {
            assert!(herald_plugin_sdk::tlp_restricted(tlp), "{tlp}");
        }
        for tlp in ["WHITE", "CLEAR", ""] {
            assert!(!herald_plugin_sdk::tlp_restricted(tlp), "{tlp}");
        }
    }

    #[test]
    fn config_problems_name_field_and_value() {
        assert_eq!(
            problems(r#"{"url": "https://hooks.example/in", "signing_secrets": ["whsec.a"]}"#),
            Ok(())
        );
        assert_eq!(
            problems(r#"{"url": "ftp://x", "authorization_secret": "a b"}"#),
            Err(concat!(
                r#"url: url "ftp://x" must start with https:// (or http://); "#,
                r#"authorization_secret: secret name "a b" must be non-empty letters, digits, '_', '-' or '.'"#
            )
            .to_string())
        );
        assert_eq!(
            problems(r#"{"url": "https://u@h/", "signing_secrets": ["a", "b", "c", ""]}"#),
            Err(concat!(
                r#"url: url "https://u@h/" has no valid host; "#,
                "signing_secrets: 4 signing secrets given; at most 3; ",
                r#"signing_secrets: secret name "" must be non-empty letters, digits, '_', '-' or '.'"#
            )
            .to_string())
        );
        match Webhook::test(r#"{"url": "http://"}"#.to_string()) {
            Err(DeliveryError::Misconfigured(m)) => {
                assert_eq!(m, r#"url: url "http://" has no valid host"#)
            }
            other => panic!("expected misconfigured, got {other:?}"),
        }
    }
}
