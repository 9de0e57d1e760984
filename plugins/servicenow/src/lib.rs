//! ServiceNow channel: one record per advisory on a customer's instance, kept up to date on
//! revisions.
//!
//! - Table API (`api = "table"`, default): `POST /api/now/table/{table}` creates the record
//!   (default table `incident`); the returned `sys_id` is the receipt's remote id, so a revision
//!   (a notification with a previous receipt) is `PATCH /api/now/table/{table}/{sys_id}`. A retry
//!   with no receipt (attempt > 1: the first answer may have been lost after the record was
//!   created) first looks the record up by `correlation_id` (= tracking id) and PATCHes it when
//!   found, so retries never duplicate.
//! - Import Set API (`api = "import_set"`): `POST /api/now/import/{staging_table}` with `u_`
//!   columns; the customer's transform map (coalescing on `u_correlation_id`) decides insert or
//!   update, so every notification is the same POST. The remote id is the target record's
//!   `sys_id` from the transform result.
//!
//! `DeliveryError` mapping: 200/201 delivered, 400/422 permanent, 401/403 misconfigured (an
//! operator must fix credentials or roles), 429 + Retry-After retry-after, 408/5xx/timeouts
//! retryable. README.md has the field mapping and the ROLIE alternative for Vulnerability
//! Response customers.

use herald_plugin_sdk::config::{check_secret_name, field, field_error, url_after_scheme};
use herald_plugin_sdk::http::percent_encode;
use herald_plugin_sdk::oauth::ClientCredentials;
use herald_plugin_sdk::{
    Channel, ConfigError, ConfigFieldKind, DeliveryError, Notification, PluginInfo, Problems,
    Receipt, http, log,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::cell::RefCell;

const ID: &str = "servicenow";
const VERSION: &str = env!("CARGO_PKG_VERSION");
/// `task.correlation_display`: tells the customer which integration owns the record.
pub const CORRELATION_DISPLAY: &str = "Herald";
/// Column lengths of the `task` table (ServiceNow's defaults).
const SHORT_DESCRIPTION_MAX: usize = 160;
const CORRELATION_ID_MAX: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
enum Api {
    #[default]
    Table,
    ImportSet,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
enum AuthScheme {
    /// The secret holds base64(`user:password`) of a least-privilege integration user.
    #[default]
    Basic,
    /// The secret holds an OAuth 2.0 access token from the instance's `/oauth_token.do`.
    Bearer,
    /// OAuth 2.0 client credentials (the `oauth` block): a token is fetched from the instance's
    /// `/oauth_token.do` for each delivery; the host fills in the client secret.
    OauthClientCredentials,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// `https://<instance>.service-now.com`
    instance_url: String,
    #[serde(default)]
    api: Api,
    /// Target table of the Table API (and of look-ups and PATCHes).
    #[serde(default = "default_table")]
    table: String,
    /// Staging table of the Import Set API (required when `api = "import_set"`).
    #[serde(default)]
    staging_table: Option<String>,
    #[serde(default)]
    auth_scheme: AuthScheme,
    /// Herald secret holding the credentials (see [`AuthScheme`]); not used with
    /// `oauth_client_credentials`.
    #[serde(default)]
    credentials_secret: String,
    /// The OAuth client, for `auth_scheme = "oauth_client_credentials"`.
    #[serde(default)]
    oauth: Option<ClientCredentials>,
    /// The access token of this delivery, fetched on first use.
    #[serde(skip)]
    token: RefCell<Option<String>>,
    /// Optional `assignment_group` (sys_id or name) set on created records.
    #[serde(default)]
    assignment_group: Option<String>,
    /// Optional `category` set on created records.
    #[serde(default)]
    category: Option<String>,
}

fn default_table() -> String {
    "incident".into()
}

/// ServiceNow table names: lower-case letters, digits and `_`.
fn valid_table(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 80
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl Problems for Config {
    fn problems(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if let Some(rest) = url_after_scheme(&mut errors, "instance_url", &self.instance_url) {
            let rest = rest.trim_end_matches('/');
            if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
                errors.push(field_error(
                    "instance_url",
                    format!(
                        "instance_url {:?} must be just the instance, e.g. https://acme.service-now.com",
                        self.instance_url
                    ),
                ));
            }
        }
        if !valid_table(&self.table) {
            errors.push(field_error(
                "table",
                format!(
                    "table {:?} must be lower-case letters, digits or '_'",
                    self.table
                ),
            ));
        }
        match (&self.api, &self.staging_table) {
            (Api::ImportSet, None) => errors.push(field_error(
                "staging_table",
                "required when api is import_set",
            )),
            (_, Some(staging)) if !valid_table(staging) => errors.push(field_error(
                "staging_table",
                format!("staging_table {staging:?} must be lower-case letters, digits or '_'"),
            )),
            _ => {}
        }
        match (self.auth_scheme, &self.oauth) {
            (AuthScheme::OauthClientCredentials, Some(oauth)) => {
                errors.extend(oauth.problems("oauth"))
            }
            (AuthScheme::OauthClientCredentials, None) => errors.push(field_error(
                "oauth",
                "required for auth_scheme oauth_client_credentials: {token_url, client_id, client_secret_secret}",
            )),
            (_, Some(_)) => errors.push(field_error(
                "oauth",
                "only used with auth_scheme oauth_client_credentials",
            )),
            (_, None) => {
                check_secret_name(&mut errors, "credentials_secret", &self.credentials_secret)
            }
        }
        errors
    }
}

impl Config {
    /// The OAuth access token for this delivery (fetched once, then reused).
    fn access_token(&self) -> Result<String, DeliveryError> {
        if let Some(token) = self.token.borrow().as_ref() {
            return Ok(token.clone());
        }
        let oauth = self.oauth.as_ref().ok_or_else(|| {
            DeliveryError::Misconfigured("auth_scheme oauth_client_credentials needs oauth".into())
        })?;
        let token = oauth.fetch_token()?;
        *self.token.borrow_mut() = Some(token.clone());
        Ok(token)
    }

    fn base(&self) -> &str {
        self.instance_url.trim_end_matches('/')
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Request, DeliveryError> {
        let authorization = match self.auth_scheme {
            AuthScheme::Basic => format!("Basic {}", http::secret_ref(&self.credentials_secret)),
            AuthScheme::Bearer => format!("Bearer {}", http::secret_ref(&self.credentials_secret)),
            AuthScheme::OauthClientCredentials => format!("Bearer {}", self.access_token()?),
        };
        let mut headers = vec![
            ("accept".to_string(), "application/json".to_string()),
            ("authorization".to_string(), authorization),
        ];
        let body = match body {
            Some(value) => {
                headers.push(("content-type".into(), "application/json".into()));
                serde_json::to_vec(value).map_err(|e| {
                    DeliveryError::Permanent(format!("cannot encode request body: {e}"))
                })?
            }
            None => Vec::new(),
        };
        Ok(Request {
            what: format!("{method} {path}"),
            inner: http::Request {
                method: method.into(),
                url: format!("{}{path}", self.base()),
                headers,
                body,
            },
        })
    }
}

struct Request {
    what: String,
    inner: http::Request,
}

impl Request {
    /// Send it; a non-2xx answer becomes the classified error.
    fn send(self) -> Result<(u16, Value), DeliveryError> {
        let response = http::send(&self.inner)?;
        log::debug(&format!(
            "ServiceNow answered HTTP {} to {}",
            response.status, self.what
        ));
        classify(&response, &self.what)?;
        let body = if response.body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&response.body).map_err(|e| {
                DeliveryError::Retryable(format!(
                    "{}: HTTP {} with a body that is not JSON ({e})",
                    self.what, response.status
                ))
            })?
        };
        Ok((response.status, body))
    }
}

/// ServiceNow's answer classified (see the module doc); `Ok` for 2xx.
fn classify(response: &http::Response, what: &str) -> Result<(), DeliveryError> {
    match response.status {
        200..=299 => Ok(()),
        401 | 403 => Err(DeliveryError::Misconfigured(format!(
            "ServiceNow refused {what} with HTTP {}: check credentials_secret and the integration user's roles/ACLs ({})",
            response.status,
            error_message(&response.body)
        ))),
        400 | 422 => Err(DeliveryError::Permanent(format!(
            "ServiceNow rejected {what} with HTTP {}: {}",
            response.status,
            error_message(&response.body)
        ))),
        _ => response.classify(None).map(|_| ()).map_err(|e| match e {
            DeliveryError::Retryable(m) => DeliveryError::Retryable(format!("{what}: {m}")),
            DeliveryError::RetryAfter((s, m)) => {
                DeliveryError::RetryAfter((s, format!("{what}: {m}")))
            }
            DeliveryError::Permanent(m) => DeliveryError::Permanent(format!("{what}: {m}")),
            DeliveryError::Misconfigured(m) => DeliveryError::Misconfigured(format!("{what}: {m}")),
        }),
    }
}

/// `error.message` (and `detail`) of ServiceNow's error body, or a body excerpt.
fn error_message(body: &[u8]) -> String {
    if let Ok(value) = serde_json::from_slice::<Value>(body)
        && let Some(error) = value.get("error")
    {
        let message = error.get("message").and_then(Value::as_str).unwrap_or("");
        let detail = error.get("detail").and_then(Value::as_str).unwrap_or("");
        return if detail.is_empty() {
            message.to_string()
        } else {
            format!("{message}: {detail}")
        };
    }
    String::from_utf8_lossy(body).chars().take(200).collect()
}

/// ServiceNow urgency and impact (1 high, 2 medium, 3 low) from Herald's severity; the
/// instance's priority lookup turns them into P1 (critical) .. P5 (low/none).
pub fn urgency_impact(severity: Option<&str>) -> (&'static str, &'static str) {
    match severity.map(str::to_ascii_lowercase).as_deref() {
        Some("critical") => ("1", "1"),
        Some("high") => ("1", "2"),
        Some("medium") => ("2", "2"),
        _ => ("3", "3"),
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// The record's fields, named as on the `incident` (task) table.
///
/// `short_description` and `description` are Herald's rendered subject and text for this channel
/// (the manufacturer's templates, or the defaults), so template overrides reach ServiceNow too;
/// without them (an older host) they are built here. Either way a TLP label other than
/// WHITE/CLEAR keeps the advisory's details out of the record (the rendered text of such a notice
/// has none): a summary and the portal link, where the reader signs in.
fn fields(n: &Notification) -> Map<String, Value> {
    let restricted = herald_plugin_sdk::tlp_restricted(&n.tlp);
    let rendered = n
        .rendered
        .as_ref()
        .filter(|r| !r.subject.trim().is_empty() && !r.text.trim().is_empty());
    let (short_description, description) = match rendered {
        Some(r) => (r.subject.trim().to_string(), r.text.trim().to_string()),
        None if restricted => (
            format!(
                "[{}] Security advisory {} version {}",
                n.tlp.trim().to_ascii_uppercase(),
                n.tracking_id,
                n.version
            ),
            restricted_description(n),
        ),
        None => (
            format!("[{}] {}", n.tracking_id, n.title),
            detailed_description(n),
        ),
    };
    let (urgency, impact) = urgency_impact(n.severity.as_deref());
    let mut map = Map::new();
    map.insert(
        "short_description".into(),
        json!(truncate(&short_description, SHORT_DESCRIPTION_MAX)),
    );
    map.insert("description".into(), json!(description));
    map.insert("correlation_id".into(), json!(n.tracking_id));
    map.insert("correlation_display".into(), json!(CORRELATION_DISPLAY));
    map.insert("urgency".into(), json!(urgency));
    map.insert("impact".into(), json!(impact));
    map
}

/// The description of a TLP GREEN/AMBER/RED notice without a rendered text.
fn restricted_description(n: &Notification) -> String {
    let mut text = format!(
        "Security advisory {} version {} ({}) is labelled TLP:{}; its content is not transmitted.\n",
        n.tracking_id,
        n.version,
        n.event_kind,
        n.tlp.trim().to_ascii_uppercase()
    );
    match (&n.severity, n.cvss_score) {
        (Some(severity), Some(score)) => {
            text.push_str(&format!("Severity: {severity} (CVSS {score:.1})\n"))
        }
        (Some(severity), None) => text.push_str(&format!("Severity: {severity}\n")),
        _ => {}
    }
    text.push_str(&format!(
        "Read it in the portal (sign-in required): {}\n",
        n.portal_url
    ));
    text
}

/// The description of a WHITE/CLEAR notice without a rendered text: every detail.
fn detailed_description(n: &Notification) -> String {
    let mut description = format!(
        "{}\n\nAdvisory: {} version {} ({})\n",
        n.title, n.tracking_id, n.version, n.event_kind
    );
    match (&n.severity, n.cvss_score) {
        (Some(severity), Some(score)) => {
            description.push_str(&format!("Severity: {severity} (CVSS {score:.1})\n"))
        }
        (Some(severity), None) => description.push_str(&format!("Severity: {severity}\n")),
        _ => {}
    }
    if !n.cves.is_empty() {
        description.push_str(&format!("CVEs: {}\n", n.cves.join(", ")));
    }
    if !n.products.is_empty() {
        description.push_str("Affected products:\n");
        for p in &n.products {
            description.push_str(&format!("- {}", p.name));
            if let Some(v) = &p.version {
                description.push_str(&format!(" {v}"));
            }
            if let Some(di) = &p.udi_di {
                description.push_str(&format!(" (UDI-DI {di})"));
            }
            description.push('\n');
        }
    }
    description.push_str(&format!(
        "Released: {}; current: {}\n",
        n.initial_release_date, n.current_release_date
    ));
    if !n.tlp.is_empty() {
        description.push_str(&format!("TLP: {}\n", n.tlp));
    }
    if !n.summary.trim().is_empty() {
        description.push_str(&format!("\n{}\n", n.summary.trim()));
    }
    description.push_str(&format!("\nCSAF document: {}\n", n.csaf_url));
    if !n.portal_url.is_empty() {
        description.push_str(&format!("Portal: {}\n", n.portal_url));
    }
    description
}

fn sys_id_of(record: &Value) -> Option<String> {
    record
        .get("sys_id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn receipt(action: &str, status: u16, record: &Value) -> Receipt {
    let number = record
        .get("number")
        .and_then(Value::as_str)
        .map(|n| format!(" {n}"))
        .unwrap_or_default();
    Receipt {
        remote_id: sys_id_of(record),
        detail: format!("HTTP {status}: {action}{number}"),
    }
}

impl Config {
    fn table_path(&self) -> String {
        format!("/api/now/table/{}", self.table)
    }

    fn create(&self, fields: Map<String, Value>) -> Result<Receipt, DeliveryError> {
        let mut fields = fields;
        if let Some(group) = &self.assignment_group {
            fields.insert("assignment_group".into(), json!(group));
        }
        if let Some(category) = &self.category {
            fields.insert("category".into(), json!(category));
        }
        let (status, body) = self
            .request("POST", &self.table_path(), Some(&Value::Object(fields)))?
            .send()?;
        let record = body.get("result").cloned().unwrap_or(Value::Null);
        if sys_id_of(&record).is_none() {
            log::warn("ServiceNow created a record but its answer has no result.sys_id");
        }
        Ok(receipt(&format!("created {}", self.table), status, &record))
    }

    /// PATCH the record; `Ok(None)` when it no longer exists (404).
    fn update(
        &self,
        sys_id: &str,
        fields: Map<String, Value>,
        note: &str,
    ) -> Result<Option<Receipt>, DeliveryError> {
        let mut fields = fields;
        fields.insert("work_notes".into(), json!(note));
        let path = format!("{}/{}", self.table_path(), percent_encode(sys_id));
        let request = self.request("PATCH", &path, Some(&Value::Object(fields)))?;
        match request.send() {
            Ok((status, body)) => {
                let mut record = body.get("result").cloned().unwrap_or(Value::Null);
                if sys_id_of(&record).is_none() {
                    record["sys_id"] = json!(sys_id);
                }
                Ok(Some(receipt(
                    &format!("updated {}", self.table),
                    status,
                    &record,
                )))
            }
            Err(DeliveryError::Permanent(m)) if m.contains("HTTP 404") => {
                log::warn(&format!("{} record {sys_id} is gone: {m}", self.table));
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// The `sys_id` of the record whose `correlation_id` is `tracking_id`, if any.
    fn find(&self, tracking_id: &str) -> Result<Option<String>, DeliveryError> {
        if tracking_id.contains('^') {
            // `^` separates encoded-query terms and cannot be escaped: do not risk a wrong match.
            log::warn("tracking id contains '^': no correlation_id look-up");
            return Ok(None);
        }
        let path = format!(
            "{}?sysparm_query={}&sysparm_limit=1&sysparm_fields=sys_id%2Ccorrelation_id",
            self.table_path(),
            percent_encode(&format!("correlation_id={tracking_id}"))
        );
        let (_, body) = self.request("GET", &path, None)?.send()?;
        let found = body
            .get("result")
            .and_then(Value::as_array)
            .and_then(|rows| {
                rows.iter().find(|row| {
                    row.get("correlation_id").and_then(Value::as_str) == Some(tracking_id)
                })
            })
            .and_then(sys_id_of);
        Ok(found)
    }

    fn deliver_table(&self, n: &Notification) -> Result<Receipt, DeliveryError> {
        let fields = fields(n);
        if fields
            .get("correlation_id")
            .and_then(Value::as_str)
            .is_some_and(|c| c.chars().count() > CORRELATION_ID_MAX)
        {
            return Err(DeliveryError::Permanent(format!(
                "tracking id {:?} is longer than correlation_id's {CORRELATION_ID_MAX} characters",
                n.tracking_id
            )));
        }
        let note = format!(
            "Herald: advisory {} updated to version {} ({}).",
            n.tracking_id, n.version, n.event_kind
        );
        if let Some(sys_id) = n
            .previous_receipt
            .as_ref()
            .and_then(|r| r.remote_id.as_deref())
            .filter(|s| !s.is_empty())
        {
            if let Some(receipt) = self.update(sys_id, fields.clone(), &note)? {
                return Ok(receipt);
            }
        } else if n.attempt > 1
            && let Some(sys_id) = self.find(&n.tracking_id)?
        {
            // An earlier attempt created it but its answer was lost.
            log::info(&format!(
                "found {} {sys_id} by correlation_id: updating",
                self.table
            ));
            let note = format!(
                "Herald: advisory {} version {} re-sent (attempt {}).",
                n.tracking_id, n.version, n.attempt
            );
            if let Some(receipt) = self.update(&sys_id, fields.clone(), &note)? {
                return Ok(receipt);
            }
        }
        self.create(fields)
    }

    fn deliver_import_set(&self, n: &Notification) -> Result<Receipt, DeliveryError> {
        let staging = self.staging_table.as_deref().unwrap_or_default();
        let mut row = Map::new();
        for (key, value) in fields(n) {
            row.insert(format!("u_{key}"), value);
        }
        row.insert("u_tracking_id".into(), json!(n.tracking_id));
        row.insert("u_version".into(), json!(n.version));
        row.insert("u_severity".into(), json!(n.severity));
        row.insert("u_cvss_score".into(), json!(n.cvss_score));
        row.insert("u_cves".into(), json!(n.cves.join(",")));
        row.insert("u_csaf_url".into(), json!(n.csaf_url));
        row.insert("u_portal_url".into(), json!(n.portal_url));
        row.insert("u_delivery_id".into(), json!(n.delivery_id));
        if let Some(group) = &self.assignment_group {
            row.insert("u_assignment_group".into(), json!(group));
        }
        if let Some(category) = &self.category {
            row.insert("u_category".into(), json!(category));
        }
        let path = format!("/api/now/import/{staging}");
        let (status, body) = self
            .request("POST", &path, Some(&Value::Object(row)))?
            .send()?;
        // {"import_set": "ISET..", "staging_table": "..", "result": [{"status": "inserted",
        //  "sys_id": "<target record>", "table": "incident", "display_value": "INC..", ..}]}
        let result = match body.get("result") {
            Some(Value::Array(rows)) => rows.first().cloned().unwrap_or(Value::Null),
            Some(row) => row.clone(),
            None => Value::Null,
        };
        let transform = result.get("status").and_then(Value::as_str).unwrap_or("");
        if transform == "error" {
            let message = result
                .get("error_message")
                .and_then(Value::as_str)
                .unwrap_or("no error_message");
            return Err(DeliveryError::Permanent(format!(
                "ServiceNow transform of {staging} failed: {message}"
            )));
        }
        let display = result
            .get("display_value")
            .and_then(Value::as_str)
            .map(|d| format!(" {d}"))
            .unwrap_or_default();
        let set = body
            .get("import_set")
            .and_then(Value::as_str)
            .unwrap_or("?");
        Ok(Receipt {
            remote_id: sys_id_of(&result),
            detail: format!("HTTP {status}: import set {set} row {transform}{display}"),
        })
    }
}

struct ServiceNow;

impl Channel for ServiceNow {
    fn describe() -> PluginInfo {
        PluginInfo {
            id: ID.into(),
            version: VERSION.into(),
            display_name: "ServiceNow (Table or Import Set API)".into(),
            config_fields: vec![
                field(
                    "instance_url",
                    ConfigFieldKind::Url,
                    true,
                    "Instance URL, e.g. https://acme.service-now.com; its host must be granted.",
                ),
                field(
                    "api",
                    ConfigFieldKind::Text,
                    false,
                    "table (default: Table API) or import_set (Import Set API, the customer's transform map decides).",
                ),
                field(
                    "table",
                    ConfigFieldKind::Text,
                    false,
                    "Target table (default incident), e.g. sn_si_incident.",
                ),
                field(
                    "staging_table",
                    ConfigFieldKind::Text,
                    false,
                    "Import set staging table (required for api import_set), e.g. u_herald_advisory.",
                ),
                field(
                    "auth_scheme",
                    ConfigFieldKind::Text,
                    false,
                    "basic (default; the secret is base64 of user:password), bearer (the secret is an OAuth access token) or oauth_client_credentials (see oauth).",
                ),
                field(
                    "credentials_secret",
                    ConfigFieldKind::SecretRef,
                    false,
                    "Herald secret with the integration user's credentials (see auth_scheme; required unless oauth_client_credentials).",
                ),
                field(
                    "oauth",
                    ConfigFieldKind::Text,
                    false,
                    "For oauth_client_credentials: {token_url (https://<instance>/oauth_token.do), client_id, client_secret_secret (Herald secret with the client secret), scope}; the token URL's host must be granted too.",
                ),
                field(
                    "assignment_group",
                    ConfigFieldKind::Text,
                    false,
                    "assignment_group set on new records (sys_id or name).",
                ),
                field(
                    "category",
                    ConfigFieldKind::Text,
                    false,
                    "category set on new records.",
                ),
            ],
        }
    }

    fn validate_config(config: String) -> Result<(), Vec<ConfigError>> {
        Config::validate_config(&config)
    }

    fn deliver(config: String, n: Notification) -> Result<Receipt, DeliveryError> {
        let config = Config::checked(&config)?;
        match config.api {
            Api::Table => config.deliver_table(&n),
            Api::ImportSet => config.deliver_import_set(&n),
        }
    }

    fn test(config: String) -> Result<Receipt, DeliveryError> {
        // Harmless: read one row of the table, which checks the credentials and read ACLs.
        let config = Config::checked(&config)?;
        let table = match config.api {
            Api::Table => config.table.clone(),
            Api::ImportSet => config.staging_table.clone().unwrap_or_default(),
        };
        let path = format!("/api/now/table/{table}?sysparm_limit=1&sysparm_fields=sys_id");
        let (status, _) = config.request("GET", &path, None)?.send()?;
        Ok(Receipt {
            remote_id: None,
            detail: format!("HTTP {status}: {table} is readable with these credentials"),
        })
    }
}

herald_plugin_sdk::export_channel!(ServiceNow);

#[cfg(test)]
mod tests {
    use super::*;
    use herald_plugin_sdk::config::describe_problems;

    /// What `validate_config` says, as the one-line text `deliver` would report.
    fn problems(config: &str) -> Result<(), String> {
        ServiceNow::validate_config(config.to_string()).map_err(|e| describe_problems(&e))
    }

    #[test]
    fn config_problems_name_field_and_value() {
        assert_eq!(
            problems(
                r#"{"instance_url": "https://acme.service-now.com/", "credentials_secret": "sn"}"#
            ),
            Ok(())
        );
        assert_eq!(
            problems(r#"{"instance_url": "acme", "credentials_secret": "", "api": "import_set"}"#),
            Err(concat!(
                r#"instance_url: instance_url "acme" must start with https:// (or http://); "#,
                "staging_table: required when api is import_set; ",
                r#"credentials_secret: secret name "" must be non-empty letters, digits, '_', '-' or '.'"#
            )
            .to_string())
        );
        assert_eq!(
            problems(
                r#"{"instance_url": "https://acme.service-now.com/x", "credentials_secret": "sn"}"#
            ),
            Err(concat!(
                r#"instance_url: instance_url "https://acme.service-now.com/x" must be just the "#,
                "instance, e.g. https://acme.service-now.com"
            )
            .to_string())
        );
        let config = r#"{"instance_url": "https://a", "credentials_secret": "s", "table": "Inc"}"#;
        match ServiceNow::test(config.to_string()) {
            Err(DeliveryError::Misconfigured(m)) => assert_eq!(
                m,
                r#"table: table "Inc" must be lower-case letters, digits or '_'"#
            ),
            other => panic!("expected misconfigured, got {other:?}"),
        }
    }
}
