//! The server side of the portal's destination pages and delivery log: what
//! [`HeraldPortal`](crate::portal::HeraldPortal) answers for `app::destinations`. An adapter: it
//! turns the form's text into typed input, calls one use case of
//! [`crate::service::destinations`] (where every rule of who sees and changes what lives, the
//! same the REST API uses) and maps the result onto the pages' view models.
//!
//! Secrets are write-only: the pages learn secret names and whether each is set, never a value;
//! configuration, grants and secret names only reach the destination's organization's admins.

use std::collections::{BTreeMap, HashMap};

use app::destinations::{
    AttemptView, DeliveryLogQuery, DeliveryLogView, DeliveryView, DestinationDetail,
    DestinationForm, DestinationSummary, DestinationsView, FieldIssue, FieldView, GrantsView,
    HealthView, LOG_PAGE_SIZE, PluginView, SaveResult, SecretStatus, TestOutcomeView,
};
use app::model::{PortalError, Viewer};
use chrono::{DateTime, Utc};
use herald_delivery::Grants;
use herald_plugin_host::{Capability, ConfigFieldKind, PluginHost};
use herald_storage::{
    breaker::BreakerState, delivery_log::DestinationHealth, queue::DeliveryStatus,
};
use serde_json::Value;

use crate::error::ServiceError;
use crate::portal::{HeraldPortal, portal_error};
use crate::service::destinations::{
    self as service, DestinationChange, DestinationInfo, NewDestinationInput, named_secrets,
};

fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn kind_text(kind: ConfigFieldKind) -> &'static str {
    match kind {
        ConfigFieldKind::Text => "text",
        ConfigFieldKind::Url => "url",
        ConfigFieldKind::HostPort => "host-port",
        ConfigFieldKind::EmailList => "email-list",
        ConfigFieldKind::SecretRef => "secret-ref",
    }
}

/// A loaded plugin as the form needs it. The capabilities a loaded component imports are
/// exactly those the operator granted it (the host refuses to load anything more), so they
/// decide which grant fields the form offers.
fn plugin_view(host: &PluginHost, id: &str) -> Option<PluginView> {
    let info = host.describe(id).ok()?;
    let capabilities = host
        .list()
        .into_iter()
        .find(|p| p.id == id)
        .map(|p| p.capabilities)
        .unwrap_or_default();
    Some(PluginView {
        id: info.id,
        version: info.version,
        display_name: info.display_name,
        fields: info
            .config_fields
            .into_iter()
            .map(|f| FieldView {
                name: f.name,
                kind: kind_text(f.kind).to_string(),
                required: f.required,
                help: f.help,
            })
            .collect(),
        http: capabilities.contains(&Capability::Http),
        tcp: capabilities.contains(&Capability::Tcp),
        smtp: capabilities.contains(&Capability::Smtp),
    })
}

fn health_view(h: &DestinationHealth) -> HealthView {
    // The engine's stored breaker says whether deliveries are held back (open, or half-open
    // while its probe runs); the attempts say the rest.
    let held = h
        .breaker
        .as_ref()
        .is_some_and(|b| b.state != BreakerState::Closed);
    let state = match h.last_attempt {
        _ if held => "paused",
        None => "unknown",
        Some(_) if h.consecutive_failures == 0 => "healthy",
        Some(_) => "failing",
    };
    HealthView {
        state: state.to_string(),
        consecutive_failures: h.consecutive_failures,
        last_attempt_at: h.last_attempt.map(|(at, _)| time(at)),
        last_outcome: h.last_attempt.map(|(_, o)| o.as_str().to_string()),
        last_delivered_at: h.last_delivered_at.map(time),
        queued: h.queued,
        failed: h.failed,
        dead: h.dead,
        failing_since: h.outage.as_ref().map(|o| time(o.failing_since)),
        escalated_at: h.outage.as_ref().and_then(|o| o.escalated_at).map(time),
    }
}

/// A configuration value as the form shows it.
fn config_text(kind: Option<ConfigFieldKind>, value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) if items.iter().all(Value::is_string) => {
            let names: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            match kind {
                // A list of one must stay a list when the form comes back.
                Some(ConfigFieldKind::SecretRef) if names.len() == 1 => format!("{},", names[0]),
                Some(ConfigFieldKind::SecretRef | ConfigFieldKind::EmailList) => names.join(", "),
                _ => value.to_string(),
            }
        }
        other => other.to_string(),
    }
}

fn split_list(text: &str, separators: &[char]) -> Vec<Value> {
    text.split(|c: char| separators.contains(&c) || c.is_whitespace())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| Value::String(s.to_string()))
        .collect()
}

/// A configuration value from the form's text, by the field's kind; `None` when left empty.
fn config_value(kind: ConfigFieldKind, text: &str) -> Result<Option<Value>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let json =
        |t: &str| serde_json::from_str::<Value>(t).map_err(|e| format!("is not valid JSON: {e}"));
    Ok(Some(match kind {
        ConfigFieldKind::EmailList => Value::Array(split_list(text, &[',', ';'])),
        ConfigFieldKind::SecretRef if text.starts_with('[') => json(text)?,
        ConfigFieldKind::SecretRef if text.contains(',') => Value::Array(split_list(text, &[','])),
        ConfigFieldKind::Text if text.starts_with('{') || text.starts_with('[') => json(text)?,
        ConfigFieldKind::Text if text == "true" || text == "false" => Value::Bool(text == "true"),
        _ => Value::String(text.to_string()),
    }))
}

fn grant_list(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn grants_view(grants: &Value) -> GrantsView {
    let g: Grants = serde_json::from_value(grants.clone()).unwrap_or_default();
    GrantsView {
        http_hosts: g.http_hosts.join(", "),
        allow_insecure_http: g.allow_insecure_http,
        allow_private_addresses: g.allow_private_addresses,
        tcp_endpoints: g.tcp_endpoints.join(", "),
        smtp: g.smtp,
    }
}

fn receipt_text(receipt: &Value) -> String {
    let remote = receipt.get("remote_id").and_then(Value::as_str);
    let detail = receipt.get("detail").and_then(Value::as_str);
    match (remote, detail) {
        (Some(r), Some(d)) if !d.is_empty() => format!("{r} · {d}"),
        (Some(r), _) => r.to_string(),
        (None, Some(d)) => d.to_string(),
        (None, None) => receipt.to_string(),
    }
}

fn issue(field: &str, message: impl Into<String>) -> FieldIssue {
    FieldIssue {
        field: field.to_string(),
        message: message.into(),
    }
}

/// The form's text as typed input: the configuration, grants and secret changes it asks for,
/// and what in it cannot be read as such (the service checks everything else).
struct CheckedForm {
    issues: Vec<FieldIssue>,
    config: Value,
    grants: Grants,
    secrets: BTreeMap<String, Option<String>>,
}

fn check_form(
    form: &DestinationForm,
    plugin: &PluginView,
    info: &herald_plugin_host::PluginInfo,
    current: Option<&Value>,
) -> CheckedForm {
    let mut issues = Vec::new();
    // Keys the form does not show (set through the API) stay as they are.
    let mut config = current
        .and_then(|c| c.as_object().cloned())
        .unwrap_or_default();
    for field in &info.config_fields {
        let text = form
            .config
            .get(&field.name)
            .map(String::as_str)
            .unwrap_or("");
        match config_value(field.kind, text) {
            Ok(Some(value)) => {
                config.insert(field.name.clone(), value);
            }
            Ok(None) => {
                config.remove(&field.name);
            }
            Err(message) => issues.push(issue(&field.name, message)),
        }
    }
    let mut secrets = BTreeMap::new();
    for (field, value) in &form.secret_values {
        let is_secret_field = info
            .config_fields
            .iter()
            .any(|f| &f.name == field && f.kind == ConfigFieldKind::SecretRef);
        if !is_secret_field {
            issues.push(issue(
                "form",
                format!("{field:?} is not a secret field of this channel."),
            ));
            continue;
        }
        let names = named_secrets(config.get(field));
        let name = match names.as_slice() {
            // Nothing named yet: the secret takes the field's name.
            [] => {
                config.insert(field.clone(), Value::String(field.clone()));
                field.clone()
            }
            [one] => one.clone(),
            _ => {
                issues.push(issue(
                    field,
                    "Several secrets are named here: to set a value, name only the one to set.",
                ));
                continue;
            }
        };
        if !herald_storage::secrets::valid_secret_name(&name) {
            issues.push(issue(
                field,
                format!("{name:?} is not a valid secret name (letters, digits, _ - . only)."),
            ));
            continue;
        }
        secrets.insert(name, Some(value.clone()));
    }
    let mut grants = Grants::default();
    if plugin.http {
        grants.http_hosts = grant_list(&form.grants.http_hosts);
        grants.allow_insecure_http = form.grants.allow_insecure_http;
        grants.allow_private_addresses = form.grants.allow_private_addresses;
    }
    if plugin.tcp {
        grants.tcp_endpoints = grant_list(&form.grants.tcp_endpoints);
    }
    grants.smtp = plugin.smtp && form.grants.smtp;
    for host in grants.http_hosts.iter().chain(grants.tcp_endpoints.iter()) {
        if host.contains('/') || host.contains('@') {
            issues.push(issue(
                "grants",
                format!("{host:?}: give a host or host:port, not a URL."),
            ));
        }
    }
    CheckedForm {
        issues,
        config: Value::Object(config),
        grants,
        secrets,
    }
}

impl HeraldPortal {
    fn plugin_name(&self, plugin_id: &str) -> String {
        self.state
            .plugins
            .as_ref()
            .and_then(|p| p.describe(plugin_id).ok())
            .map_or_else(|| plugin_id.to_string(), |i| i.display_name)
    }

    pub(crate) async fn destinations_view(
        &self,
        viewer: &Viewer,
    ) -> Result<DestinationsView, PortalError> {
        let p = self.principal(viewer).await?;
        let list = service::list(&self.state, &p).await.map_err(portal_error)?;
        Ok(DestinationsView {
            org_name: p.org_name.clone(),
            manufacturer: p.is_manufacturer(),
            // Creating: an admin, for its own organization.
            can_edit: p.can_edit_destinations_of(&p.org_id),
            items: list
                .into_iter()
                .map(|d| DestinationSummary {
                    plugin_name: self.plugin_name(&d.plugin_id),
                    health: health_view(&d.health),
                    id: d.id,
                    org_name: d.org_name,
                    plugin_id: d.plugin_id,
                    name: d.name,
                    enabled: d.enabled,
                    min_severity: d.min_severity,
                })
                .collect(),
        })
    }

    pub(crate) async fn plugins_view(
        &self,
        viewer: &Viewer,
    ) -> Result<Vec<PluginView>, PortalError> {
        self.principal(viewer).await?;
        let Some(host) = self.state.plugins.as_ref() else {
            return Ok(Vec::new());
        };
        let mut ids: Vec<String> = host.list().into_iter().map(|p| p.id).collect();
        ids.sort();
        Ok(ids.iter().filter_map(|id| plugin_view(host, id)).collect())
    }

    pub(crate) async fn destination_detail(
        &self,
        viewer: &Viewer,
        id: &str,
    ) -> Result<DestinationDetail, PortalError> {
        let p = self.principal(viewer).await?;
        let d: DestinationInfo = service::get(&self.state, &p, id)
            .await
            .map_err(portal_error)?;
        let dest_id = d.id.clone();
        let audit = self
            .state
            .db(move |conn| {
                Ok(herald_storage::audit::list_audit(
                    conn,
                    Some(&format!("destination:{dest_id}")),
                    200,
                )?)
            })
            .await
            .map_err(portal_error)?;
        let plugin = self
            .state
            .plugins
            .as_ref()
            .and_then(|host| plugin_view(host, &d.plugin_id));
        let kinds: HashMap<String, ConfigFieldKind> = self
            .state
            .plugins
            .as_ref()
            .and_then(|host| host.describe(&d.plugin_id).ok())
            .map(|info| {
                info.config_fields
                    .into_iter()
                    .map(|f| (f.name, f.kind))
                    .collect()
            })
            .unwrap_or_default();
        // Configuration, grants and secrets: only for those who may read them.
        let (config, secrets, grants) = match &d.settings {
            Some(settings) => {
                let config: BTreeMap<String, String> = settings
                    .config
                    .as_object()
                    .map(|o| {
                        o.iter()
                            .map(|(k, v)| (k.clone(), config_text(kinds.get(k).copied(), v)))
                            .collect()
                    })
                    .unwrap_or_default();
                // Every secret the destination has, and any its configuration names but lacks.
                let mut secrets: BTreeMap<String, bool> = settings
                    .secret_names
                    .iter()
                    .map(|n| (n.clone(), true))
                    .collect();
                for (field, kind) in &kinds {
                    if *kind == ConfigFieldKind::SecretRef {
                        for name in named_secrets(settings.config.get(field)) {
                            secrets.entry(name).or_insert(false);
                        }
                    }
                }
                (config, secrets, grants_view(&settings.grants))
            }
            None => (BTreeMap::new(), BTreeMap::new(), GrantsView::default()),
        };
        let last_test = audit
            .iter()
            .find(|e| e.action == "destination.test")
            .map(|e| TestOutcomeView {
                ok: e.detail.get("ok").and_then(Value::as_bool).unwrap_or(false),
                at: time(e.at),
                remote_id: e
                    .detail
                    .get("remote_id")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                detail: e
                    .detail
                    .get("detail")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                error: e
                    .detail
                    .get("error")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            });
        let subscription = self.subscription_view(&p, &d.id, &d.org_id).await?;
        Ok(DestinationDetail {
            subscription,
            health: health_view(&d.health),
            can_edit: d.can_edit,
            id: d.id,
            org_name: d.org_name,
            plugin,
            plugin_id: d.plugin_id,
            name: d.name,
            enabled: d.enabled,
            min_severity: d.min_severity,
            config,
            secrets: secrets
                .into_iter()
                .map(|(name, set)| SecretStatus { name, set })
                .collect(),
            grants,
            last_test,
            created_at: time(d.created_at),
            updated_at: time(d.updated_at),
        })
    }

    pub(crate) async fn save_destination_form(
        &self,
        viewer: &Viewer,
        form: DestinationForm,
    ) -> Result<SaveResult, PortalError> {
        let p = self.principal(viewer).await?;
        let current = match form.id.as_deref() {
            Some(id) => Some(
                service::get(&self.state, &p, id)
                    .await
                    .map_err(portal_error)?,
            ),
            None => None,
        };
        let Some(host) = self.state.plugins.clone() else {
            return Ok(SaveResult::Rejected {
                issues: vec![issue(
                    "form",
                    "No delivery plugins are loaded right now, so nothing can be checked or saved.",
                )],
            });
        };
        // The plugin of an existing destination cannot change.
        let plugin_id = current
            .as_ref()
            .map_or_else(|| form.plugin_id.clone(), |d| d.plugin_id.clone());
        let (Some(plugin), Ok(info)) = (plugin_view(&host, &plugin_id), host.describe(&plugin_id))
        else {
            return Ok(SaveResult::Rejected {
                issues: vec![issue(
                    "plugin_id",
                    format!("No channel plugin {plugin_id:?} is installed."),
                )],
            });
        };
        let base = current
            .as_ref()
            .and_then(|d| d.settings.as_ref())
            .map(|s| &s.config);
        let CheckedForm {
            issues,
            config,
            grants,
            secrets,
        } = check_form(&form, &plugin, &info, base);
        if !issues.is_empty() {
            return Ok(SaveResult::Rejected { issues });
        }
        let saved = match current {
            Some(current) => {
                service::update(
                    &self.state,
                    &p,
                    &current.id,
                    DestinationChange {
                        name: Some(form.name.clone()),
                        config: Some(config),
                        grants: Some(grants),
                        enabled: Some(form.enabled),
                        min_severity: Some(form.min_severity.clone()),
                        secrets,
                    },
                )
                .await
            }
            None => {
                service::create(
                    &self.state,
                    &p,
                    NewDestinationInput {
                        org_id: None,
                        plugin_id,
                        name: form.name.clone(),
                        config,
                        grants,
                        enabled: form.enabled,
                        min_severity: form.min_severity.clone(),
                        secrets: secrets
                            .into_iter()
                            .filter_map(|(k, v)| v.map(|v| (k, v)))
                            .collect(),
                    },
                )
                .await
            }
        };
        match saved {
            Ok(d) => Ok(SaveResult::Saved { id: d.id }),
            Err(ServiceError::InvalidFields(found)) => Ok(SaveResult::Rejected {
                issues: found
                    .into_iter()
                    .map(|f| {
                        // The form names a configuration field by its own name.
                        let field = match f.field.strip_prefix("config.") {
                            Some(name) => name.to_string(),
                            None if ["plugin_id", "name", "min_severity"]
                                .contains(&f.field.as_str()) =>
                            {
                                f.field
                            }
                            None => "form".to_string(),
                        };
                        FieldIssue {
                            field,
                            message: f.message,
                        }
                    })
                    .collect(),
            }),
            Err(e) => Err(portal_error(e)),
        }
    }

    pub(crate) async fn test_destination_now(
        &self,
        viewer: &Viewer,
        id: &str,
    ) -> Result<TestOutcomeView, PortalError> {
        let p = self.principal(viewer).await?;
        let result = service::send_test(&self.state, &p, id)
            .await
            .map_err(portal_error)?;
        Ok(TestOutcomeView {
            ok: result.ok,
            at: time(Utc::now()),
            remote_id: result.remote_id,
            detail: result.detail,
            error: result.error,
        })
    }

    pub(crate) async fn delivery_log_view(
        &self,
        viewer: &Viewer,
        query: &DeliveryLogQuery,
    ) -> Result<DeliveryLogView, PortalError> {
        let actor = self.principal(viewer).await?;
        let page = query.page.min(1_000_000);
        let log = crate::service::deliveries::log_page(
            &self.state,
            &actor,
            query.destination_id.clone(),
            query.status.as_deref(),
            page,
            LOG_PAGE_SIZE,
        )
        .await
        .map_err(portal_error)?;
        let (rows, total, destinations, orgs, events, manufacturer) = (
            log.rows,
            log.total,
            log.destinations,
            log.org_names,
            log.events,
            log.manufacturer,
        );
        let names: HashMap<&str, (&str, &str)> = destinations
            .iter()
            .map(|d| {
                (
                    d.id.as_str(),
                    (
                        d.name.as_str(),
                        orgs.get(&d.org_id).map_or("", String::as_str),
                    ),
                )
            })
            .collect();
        let items = rows
            .into_iter()
            .map(|(d, attempts)| {
                let (destination_name, org_name) = names
                    .get(d.destination_id.as_str())
                    .copied()
                    .unwrap_or(("", ""));
                let event = events.get(&d.event_id);
                let advisory = event.and_then(|e| {
                    let id = e.payload.get("tracking_id").and_then(Value::as_str)?;
                    Some(match e.payload.get("version").and_then(Value::as_str) {
                        Some(v) => format!("{id} version {v}"),
                        None => id.to_string(),
                    })
                });
                let waiting = matches!(d.status, DeliveryStatus::Queued);
                DeliveryView {
                    event_kind: event.map(|e| e.kind.clone()),
                    advisory,
                    destination_name: destination_name.to_string(),
                    org_name: org_name.to_string(),
                    status: d.status.as_str().to_string(),
                    attempt_count: d.attempts,
                    created_at: time(d.created_at),
                    next_attempt_at: waiting.then(|| time(d.next_attempt_at)),
                    delivered_at: d.delivered_at.map(time),
                    last_error: d.last_error,
                    receipt: d.receipt.as_ref().map(receipt_text),
                    attempts: attempts
                        .into_iter()
                        .map(|a| AttemptView {
                            number: a.number,
                            worker: a.worker,
                            started_at: time(a.started_at),
                            duration_ms: a.duration_ms,
                            outcome: a.outcome.as_str().to_string(),
                            error: a.error,
                            receipt: a.receipt.as_ref().map(receipt_text),
                        })
                        .collect(),
                    id: d.id,
                    event_id: d.event_id,
                    destination_id: d.destination_id,
                }
            })
            .collect();
        Ok(DeliveryLogView {
            items,
            total: u64::try_from(total).unwrap_or(0),
            page,
            page_size: LOG_PAGE_SIZE,
            manufacturer,
            can_replay: log.can_replay,
            destinations: destinations
                .iter()
                .map(|d| {
                    let label = if manufacturer {
                        let org = orgs.get(&d.org_id).map_or("", String::as_str);
                        format!("{} ({org})", d.name)
                    } else {
                        d.name.clone()
                    };
                    (d.id.clone(), label)
                })
                .collect(),
        })
    }

    pub(crate) async fn replay_delivery_now(
        &self,
        viewer: &Viewer,
        id: &str,
    ) -> Result<(), PortalError> {
        let p = self.principal(viewer).await?;
        service::replay_delivery(&self.state, &p, id)
            .await
            .map(|_| ())
            .map_err(portal_error)
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_text_becomes_config_values_by_kind() {
        assert_eq!(config_value(ConfigFieldKind::Url, "  "), Ok(None));
        assert_eq!(
            config_value(ConfigFieldKind::EmailList, "a@x.org, b@x.org;c@x.org"),
            Ok(Some(serde_json::json!(["a@x.org", "b@x.org", "c@x.org"])))
        );
        assert_eq!(
            config_value(ConfigFieldKind::SecretRef, "sig,"),
            Ok(Some(serde_json::json!(["sig"])))
        );
        assert_eq!(
            config_value(ConfigFieldKind::SecretRef, "auth"),
            Ok(Some(serde_json::json!("auth")))
        );
        assert_eq!(
            config_value(ConfigFieldKind::Text, r#"{"host": "mail"}"#),
            Ok(Some(serde_json::json!({"host": "mail"})))
        );
        assert!(config_value(ConfigFieldKind::Text, "{broken").is_err());
        assert_eq!(
            config_value(ConfigFieldKind::Text, "true"),
            Ok(Some(Value::Bool(true)))
        );
    }

    #[test]
    fn config_values_round_trip_through_the_form() {
        for (kind, value) in [
            (ConfigFieldKind::SecretRef, serde_json::json!(["sig"])),
            (ConfigFieldKind::SecretRef, serde_json::json!(["a", "b"])),
            (ConfigFieldKind::SecretRef, serde_json::json!("auth")),
            (ConfigFieldKind::EmailList, serde_json::json!(["a@x.org"])),
            (ConfigFieldKind::Text, serde_json::json!({"port": 25})),
            (ConfigFieldKind::Url, serde_json::json!("https://x.org/")),
        ] {
            let text = config_text(Some(kind), &value);
            assert_eq!(config_value(kind, &text), Ok(Some(value.clone())), "{text}");
        }
    }
}
