//! FHIR channel: creates one HL7 FHIR R4 `Communication` per notification on a hospital's FHIR
//! server (`POST <base_url>/Communication`, `application/fhir+json`).
//!
//! The resource (see README.md for the full mapping): `status` completed; `category` coded as a
//! security advisory; `priority` from the severity; `sender` the manufacturer Organization
//! (display + identifier, from the configuration); `about` one logical reference per affected
//! product with a UDI-DI (identifier system `http://hl7.org/fhir/NamingSystem/gs1-di`); `payload`
//! the summary text plus the CSAF document and portal page as attachments; `identifier` the
//! Herald delivery id as a URI (`urn:uuid:` or `urn:herald:delivery:`) so the receiver can
//! dedupe. Retries (attempt > 1) are conditional creates (`If-None-Exist: identifier=...`): a
//! first attempt that was stored but whose answer was lost does not come back as a duplicate.
//!
//! TLP: for a label other than WHITE/CLEAR the resource carries only a summary (tracking id,
//! version, severity, CVSS, TLP) and the portal link: no title, CVEs, products (`about`),
//! summary text or CSAF attachment, since a Communication is read in shared clinical systems.
//!
//! `DeliveryError` mapping: 200/201 delivered (remote id `Communication/<id>` from `Location`
//! or the returned resource), 400/422 permanent, 401/403 (and 404/405: wrong base URL)
//! misconfigured, 429 + Retry-After retry-after, 408/5xx/timeouts retryable.

use herald_plugin_sdk::config::{check_secret_name, check_url, field, field_error};
use herald_plugin_sdk::http::percent_encode;
use herald_plugin_sdk::oauth::ClientCredentials;
use herald_plugin_sdk::time::UtcDateTime;
use herald_plugin_sdk::{
    Channel, ConfigError, ConfigFieldKind, DeliveryError, Notification, PluginInfo, Problems,
    Receipt, http, log, now_millis,
};
use serde::Deserialize;
use serde_json::{Value, json};

const ID: &str = "fhir";
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Herald's own code system for the communication category (a URN: Herald owns no domain that
/// every installation shares). The FHIR `communication-category` code `alert` is sent beside it
/// so a receiver that only knows the base code system still files the message sensibly.
pub const CATEGORY_SYSTEM: &str = "urn:herald:fhir:CodeSystem:communication-category";
pub const CATEGORY_CODE: &str = "security-advisory";
const BASE_CATEGORY_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/communication-category";
/// GS1 GTIN used as UDI-DI (FHIR's NamingSystem for GS1 device identifiers).
pub const UDI_DI_SYSTEM: &str = "http://hl7.org/fhir/NamingSystem/gs1-di";
/// Identifier system of the delivery id: the value is itself a URI.
pub const DELIVERY_ID_SYSTEM: &str = "urn:ietf:rfc:3986";
const FHIR_JSON: &str = "application/fhir+json";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// FHIR server base, e.g. `https://fhir.hospital.example/r4` (no trailing `/Communication`).
    base_url: String,
    /// Herald secret holding the bearer token (sent as `Authorization: Bearer <token>`).
    #[serde(default)]
    token_secret: Option<String>,
    /// OAuth 2.0 client credentials (SMART Backend Services style without a signed assertion):
    /// the host fills in the client secret and keeps the token answer until it expires.
    #[serde(default)]
    oauth: Option<ClientCredentials>,
    /// The manufacturer, as `sender.display`.
    sender_name: String,
    #[serde(default)]
    sender_identifier_system: Option<String>,
    #[serde(default)]
    sender_identifier_value: Option<String>,
    /// Optional literal reference to the hospital's Organization, e.g. `Organization/123`.
    #[serde(default)]
    recipient_reference: Option<String>,
}

impl Problems for Config {
    fn problems(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if let Some(rest) = check_url(&mut errors, "base_url", &self.base_url) {
            if rest.contains(['?', '#']) {
                errors.push(field_error(
                    "base_url",
                    format!(
                        "base_url {:?} must not have a query or fragment",
                        self.base_url
                    ),
                ));
            }
            if self
                .base_url
                .trim_end_matches('/')
                .ends_with("/Communication")
            {
                errors.push(field_error(
                    "base_url",
                    "base_url is the server base; leave /Communication off",
                ));
            }
        }
        if let Some(name) = &self.token_secret {
            check_secret_name(&mut errors, "token_secret", name);
        }
        if let Some(oauth) = &self.oauth {
            errors.extend(oauth.problems("oauth"));
            if self.token_secret.is_some() {
                errors.push(field_error(
                    "oauth",
                    "use either token_secret or oauth, not both",
                ));
            }
        }
        if self.sender_name.trim().is_empty() {
            errors.push(field_error(
                "sender_name",
                "sender_name (the manufacturer's name) must not be empty",
            ));
        }
        match (
            &self.sender_identifier_system,
            &self.sender_identifier_value,
        ) {
            (Some(system), Some(value)) => {
                if !system.contains(':') {
                    errors.push(field_error(
                        "sender_identifier_system",
                        format!("{system:?} is not a URI (e.g. urn:oid:... or https://...)"),
                    ));
                }
                if value.trim().is_empty() {
                    errors.push(field_error("sender_identifier_value", "must not be empty"));
                }
            }
            (None, None) => {}
            (Some(_), None) => errors.push(field_error(
                "sender_identifier_value",
                "required when sender_identifier_system is set",
            )),
            (None, Some(_)) => errors.push(field_error(
                "sender_identifier_system",
                "required when sender_identifier_value is set",
            )),
        }
        if let Some(reference) = &self.recipient_reference {
            let ok = reference
                .split_once('/')
                .is_some_and(|(kind, id)| kind == "Organization" && !id.is_empty());
            if !ok {
                errors.push(field_error(
                    "recipient_reference",
                    format!("{reference:?} must look like Organization/<id>"),
                ));
            }
        }
        errors
    }
}

impl Config {
    fn base(&self) -> &str {
        self.base_url.trim_end_matches('/')
    }

    /// `token` is the OAuth access token of this delivery, when `oauth` is configured.
    fn headers(&self, token: Option<&str>) -> Vec<(String, String)> {
        let mut headers = vec![("accept".to_string(), FHIR_JSON.to_string())];
        if let Some(token) = token {
            headers.push(("authorization".into(), format!("Bearer {token}")));
        } else if let Some(name) = &self.token_secret {
            headers.push((
                "authorization".into(),
                format!("Bearer {}", http::secret_ref(name)),
            ));
        }
        headers
    }

    /// A fresh OAuth access token when `oauth` is configured.
    fn token(&self) -> Result<Option<String>, DeliveryError> {
        self.oauth
            .as_ref()
            .map(ClientCredentials::fetch_token)
            .transpose()
    }
}

/// The delivery id as an absolute URI: `urn:uuid:<id>` when it is a UUID, otherwise
/// `urn:herald:delivery:<id>`.
pub fn delivery_uri(delivery_id: &str) -> String {
    if is_uuid(delivery_id) {
        format!("urn:uuid:{}", delivery_id.to_ascii_lowercase())
    } else {
        format!("urn:herald:delivery:{delivery_id}")
    }
}

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// FHIR `Communication.priority` from Herald's severity.
pub fn priority(severity: Option<&str>) -> &'static str {
    match severity.map(str::to_ascii_lowercase).as_deref() {
        Some("critical") => "stat",
        Some("high") => "asap",
        Some("medium") => "urgent",
        _ => "routine",
    }
}

/// `YYYY-MM-DDThh:mm:ssZ` for milliseconds since the epoch (FHIR `dateTime`).
fn iso8601(millis: u64) -> String {
    let t = UtcDateTime::from_millis(millis);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// The payload text of a notice whose TLP label keeps its details out: Herald's rendered text
/// (its templates see no details for such a label) or, without one, a fixed sentence.
fn restricted_text(n: &Notification) -> String {
    match &n.rendered {
        Some(r) if !r.text.trim().is_empty() => r.text.trim().to_string(),
        _ => {
            let mut text = format!(
                "Security advisory {} version {} is labelled TLP:{}; its content is not transmitted. Read it in the portal (sign-in required): {}",
                n.tracking_id,
                n.version,
                n.tlp.trim().to_ascii_uppercase(),
                n.portal_url
            );
            if let Some(severity) = &n.severity {
                text.push_str(&format!("\nSeverity: {severity}"));
                if let Some(score) = n.cvss_score {
                    text.push_str(&format!(" (CVSS {score:.1})"));
                }
            }
            text
        }
    }
}

/// The `Communication` resource for one notification.
fn communication(config: &Config, n: &Notification) -> Value {
    let restricted = herald_plugin_sdk::tlp_restricted(&n.tlp);
    let mut sender = json!({ "display": config.sender_name });
    if let (Some(system), Some(value)) = (
        &config.sender_identifier_system,
        &config.sender_identifier_value,
    ) {
        sender["type"] = json!("Organization");
        sender["identifier"] = json!({ "system": system, "value": value });
    }
    let about: Vec<Value> = n
        .products
        .iter()
        .filter(|_| !restricted)
        .filter_map(|p| {
            let udi_di = p.udi_di.as_deref()?.trim();
            if udi_di.is_empty() {
                return None;
            }
            let display = full_name(&p.name, p.version.as_deref());
            Some(json!({
                "type": "DeviceDefinition",
                "identifier": { "system": UDI_DI_SYSTEM, "value": udi_di },
                "display": display,
            }))
        })
        .collect();
    let text = if restricted {
        restricted_text(n)
    } else {
        detailed_text(n)
    };
    let mut payload = vec![json!({ "contentString": text })];
    if !restricted {
        payload.push(json!({ "contentAttachment": {
            "contentType": "application/json",
            "url": n.csaf_url,
            "title": format!("CSAF 2.0 advisory {} v{}", n.tracking_id, n.version),
        }}));
    }
    if !n.portal_url.is_empty() {
        payload.push(json!({ "contentAttachment": {
            "contentType": "text/html",
            "url": n.portal_url,
            "title": format!("Advisory {} on the manufacturer's portal", n.tracking_id),
        }}));
    }
    let topic = if restricted {
        format!(
            "{} v{} (TLP:{})",
            n.tracking_id,
            n.version,
            n.tlp.trim().to_ascii_uppercase()
        )
    } else {
        format!("{}: {}", n.tracking_id, n.title)
    };
    let mut resource = json!({
        "resourceType": "Communication",
        "identifier": [{ "system": DELIVERY_ID_SYSTEM, "value": delivery_uri(&n.delivery_id) }],
        "status": "completed",
        "category": [{
            "coding": [
                {
                    "system": CATEGORY_SYSTEM,
                    "code": CATEGORY_CODE,
                    "display": "Security advisory",
                },
                { "system": BASE_CATEGORY_SYSTEM, "code": "alert", "display": "Alert" },
            ],
            "text": "Medical device security advisory",
        }],
        "priority": priority(n.severity.as_deref()),
        "topic": { "text": topic },
        "sent": iso8601(now_millis()),
        "sender": sender,
        "payload": payload,
    });
    if !about.is_empty() {
        resource["about"] = Value::Array(about);
    }
    if let Some(reference) = &config.recipient_reference {
        resource["recipient"] = json!([{ "reference": reference }]);
    }
    resource
}

/// A product's full name, printed once. A CSAF `full_product_name` usually carries the version
/// already ("InfuBar Pump 1.0", version "1.0"), and appending it printed "InfuBar Pump 1.0
/// 1.0"; the version is added only where the name does not end with it.
fn full_name(name: &str, version: Option<&str>) -> String {
    let name = name.trim();
    match version.map(str::trim).filter(|v| !v.is_empty()) {
        Some(version)
            if !name
                .split_whitespace()
                .next_back()
                .is_some_and(|last| last.eq_ignore_ascii_case(version)) =>
        {
            format!("{name} {version}")
        }
        _ => name.to_string(),
    }
}

/// The payload text of a WHITE/CLEAR notice: title, severity, CVEs, products, summary, TLP.
fn detailed_text(n: &Notification) -> String {
    let mut text = format!("{} ({} v{})", n.title, n.tracking_id, n.version);
    if let Some(severity) = &n.severity {
        text.push_str(&format!("\nSeverity: {severity}"));
        if let Some(score) = n.cvss_score {
            text.push_str(&format!(" (CVSS {score:.1})"));
        }
    }
    if !n.cves.is_empty() {
        text.push_str(&format!("\nCVEs: {}", n.cves.join(", ")));
    }
    if !n.products.is_empty() {
        let products: Vec<String> = n
            .products
            .iter()
            .map(|p| {
                let mut s = full_name(&p.name, p.version.as_deref());
                if let Some(di) = &p.udi_di {
                    s.push_str(&format!(" (UDI-DI {di})"));
                }
                s
            })
            .collect();
        text.push_str(&format!("\nAffected products: {}", products.join("; ")));
    }
    if !n.summary.trim().is_empty() {
        text.push_str(&format!("\n\n{}", n.summary.trim()));
    }
    if !n.tlp.is_empty() {
        text.push_str(&format!("\n\nTLP:{}", n.tlp));
    }
    text
}

/// The logical id (`Communication/<id>`) from a `Location` such as
/// `https://fhir.example/r4/Communication/123/_history/1`, or from the returned resource.
fn remote_id(response: &http::Response) -> Option<String> {
    if let Some(location) = response.header("location") {
        let mut segments = location.split('/');
        while let Some(segment) = segments.next() {
            if segment == "Communication"
                && let Some(id) = segments.next().filter(|id| !id.is_empty())
            {
                return Some(format!("Communication/{id}"));
            }
        }
    }
    let body: Value = serde_json::from_slice(&response.body).ok()?;
    let id = body.get("id")?.as_str()?;
    Some(format!("Communication/{id}"))
}

/// The FHIR receiver's answer as a receipt or classified error (see the module doc).
fn classify(response: &http::Response, what: &str) -> Result<Receipt, DeliveryError> {
    match response.status {
        401 | 403 => Err(DeliveryError::Misconfigured(format!(
            "FHIR server refused the credentials (HTTP {}) for {what}: check token_secret and the token's scopes",
            response.status
        ))),
        404 | 405 => Err(DeliveryError::Misconfigured(format!(
            "FHIR server answered HTTP {} for {what}: check base_url (is Communication supported?)",
            response.status
        ))),
        200..=299 => Ok(Receipt {
            remote_id: remote_id(response),
            detail: format!(
                "HTTP {}{}",
                response.status,
                if response.status == 200 {
                    " (already stored: conditional create matched)"
                } else {
                    ""
                }
            ),
        }),
        _ => response.classify(None),
    }
}

struct Fhir;

impl Channel for Fhir {
    fn describe() -> PluginInfo {
        PluginInfo {
            id: ID.into(),
            version: VERSION.into(),
            display_name: "HL7 FHIR R4 (Communication)".into(),
            config_fields: vec![
                field(
                    "base_url",
                    ConfigFieldKind::Url,
                    true,
                    "FHIR server base URL (Communication is POSTed to <base_url>/Communication); its host must be granted.",
                ),
                field(
                    "token_secret",
                    ConfigFieldKind::SecretRef,
                    false,
                    "Herald secret holding the bearer token (Authorization: Bearer <token>).",
                ),
                field(
                    "oauth",
                    ConfigFieldKind::Text,
                    false,
                    "Instead of token_secret: OAuth client credentials {token_url, client_id, client_secret_secret (Herald secret with the client secret), scope}; a token is fetched per delivery, the token URL's host must be granted.",
                ),
                field(
                    "sender_name",
                    ConfigFieldKind::Text,
                    true,
                    "Manufacturer name shown as the Communication's sender.",
                ),
                field(
                    "sender_identifier_system",
                    ConfigFieldKind::Text,
                    false,
                    "Identifier system (URI) of the manufacturer Organization, e.g. urn:oid:1.3.160 for a GS1 GLN.",
                ),
                field(
                    "sender_identifier_value",
                    ConfigFieldKind::Text,
                    false,
                    "The manufacturer's identifier in that system (e.g. its GLN).",
                ),
                field(
                    "recipient_reference",
                    ConfigFieldKind::Text,
                    false,
                    "The hospital's Organization on that server, e.g. Organization/123.",
                ),
            ],
        }
    }

    fn validate_config(config: String) -> Result<(), Vec<ConfigError>> {
        Config::validate_config(&config)
    }

    fn deliver(config: String, n: Notification) -> Result<Receipt, DeliveryError> {
        let config = Config::checked(&config)?;
        let resource = communication(&config, &n);
        let body = serde_json::to_vec(&resource)
            .map_err(|e| DeliveryError::Permanent(format!("cannot encode Communication: {e}")))?;
        let mut headers = config.headers(config.token()?.as_deref());
        headers.push(("content-type".into(), FHIR_JSON.into()));
        if n.attempt > 1 {
            // A previous attempt may have been stored with its answer lost: create only if no
            // Communication carries this delivery's identifier yet.
            let search = format!("{DELIVERY_ID_SYSTEM}|{}", delivery_uri(&n.delivery_id));
            headers.push((
                "if-none-exist".into(),
                format!("identifier={}", percent_encode(&search)),
            ));
        }
        let response = http::send(&http::Request {
            method: "POST".into(),
            url: format!("{}/Communication", config.base()),
            headers,
            body,
        })?;
        log::debug(&format!(
            "FHIR server answered HTTP {} (attempt {})",
            response.status, n.attempt
        ));
        classify(&response, "POST Communication")
    }

    fn test(config: String) -> Result<Receipt, DeliveryError> {
        // Harmless: read the server's CapabilityStatement, which also checks the token.
        let config = Config::checked(&config)?;
        let response = http::send(&http::Request {
            method: "GET".into(),
            url: format!("{}/metadata", config.base()),
            headers: config.headers(config.token()?.as_deref()),
            body: Vec::new(),
        })?;
        let mut receipt = classify(&response, "GET metadata")?;
        let version = serde_json::from_slice::<Value>(&response.body)
            .ok()
            .and_then(|v| v.get("fhirVersion")?.as_str().map(str::to_string));
        receipt.remote_id = None;
        receipt.detail = match version {
            Some(v) => format!("{}; FHIR version {v}", receipt.detail),
            None => format!("{}; no fhirVersion in CapabilityStatement", receipt.detail),
        };
        Ok(receipt)
    }
}

herald_plugin_sdk::export_channel!(Fhir);

#[cfg(test)]
mod tests {
    use super::*;
    use herald_plugin_sdk::config::describe_problems;

    /// What `validate_config` says, as the one-line text `deliver` would report.
    fn problems(config: &str) -> Result<(), String> {
        Fhir::validate_config(config.to_string()).map_err(|e| describe_problems(&e))
    }

    #[test]
    fn config_problems_name_field_and_value() {
        assert_eq!(
            problems(r#"{"base_url": "https://fhir.example/r4", "sender_name": "Acme"}"#),
            Ok(())
        );
        assert_eq!(
            problems(r#"{"base_url": "fhir.example", "sender_name": " ", "token_secret": "x/y"}"#),
            Err(concat!(
                r#"base_url: base_url "fhir.example" must start with https:// (or http://); "#,
                r#"token_secret: secret name "x/y" must be non-empty letters, digits, '_', '-' or '.'; "#,
                "sender_name: sender_name (the manufacturer's name) must not be empty"
            )
            .to_string())
        );
        assert_eq!(
            problems(r#"{"base_url": "https://a b/r4/Communication?x", "sender_name": "Acme"}"#),
            Err(concat!(
                r#"base_url: base_url "https://a b/r4/Communication?x" has no valid host; "#,
                r#"base_url: base_url "https://a b/r4/Communication?x" must not have a query or fragment"#
            )
            .to_string())
        );
        assert_eq!(
            problems(r#"{"base_url": "https://h/r4/Communication/", "sender_name": "Acme"}"#),
            Err("base_url: base_url is the server base; leave /Communication off".to_string())
        );
        match Fhir::test(r#"{"base_url": "https://h", "sender_name": ""}"#.to_string()) {
            Err(DeliveryError::Misconfigured(m)) => assert_eq!(
                m,
                "sender_name: sender_name (the manufacturer's name) must not be empty"
            ),
            other => panic!("expected misconfigured, got {other:?}"),
        }
    }

    #[test]
    fn a_product_name_carrying_its_version_is_printed_once() {
        assert_eq!(
            full_name("InfuBar Pump 1.0", Some("1.0")),
            "InfuBar Pump 1.0"
        );
        assert_eq!(full_name("InfuCare 300", Some("4.2")), "InfuCare 300 4.2");
        assert_eq!(full_name("InfuCare 300", None), "InfuCare 300");
        assert_eq!(full_name("Gateway", Some(" ")), "Gateway");
        // 1.0 in another place of the name is not the version at its end.
        assert_eq!(full_name("Pump 1.0 Mini", Some("1.0")), "Pump 1.0 Mini 1.0");
    }

    #[test]
    fn sent_time_is_fhir_datetime() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_795_825_800_000), "2026-11-28T00:30:00Z");
    }
}
