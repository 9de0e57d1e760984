//! Destinations as use cases: list, get, create, update, disable, send test, replay (one
//! delivery or a destination's dead letters). The REST resources (`web::destinations`) and the
//! portal's destination pages (`portal_destinations`) both call these; neither holds a rule.
//!
//! Rules, decided here and nowhere else:
//! * a caller sees its own organization's destinations, the manufacturer every organization's;
//!   anything else is "not found", exactly like something that does not exist;
//! * a destination is created, changed, tested and its deliveries replayed by the admins of its
//!   own organization only ([`Principal::can_edit_destinations_of`]); the manufacturer sees a
//!   hospital's destinations, their health and delivery log, and may switch one off (audited),
//!   but cannot change where it points or what it is sent with (that would hand the hospital's
//!   stored secrets to a host of the manufacturer's choosing);
//! * the configuration, grants and secret names are shown to the organization's admins only
//!   (URLs may hold credentials); members and the manufacturer see name, channel and health;
//! * changing where a destination points (any URL, host or endpoint of its configuration) drops
//!   its stored secrets unless new ones come in the same request: a secret is only ever sent to
//!   the host it was given for;
//! * a name is 1 to [`MAX_NAME_LEN`] characters, a severity threshold one of [`SEVERITIES`];
//!   the plugin checks the rest of the configuration (`validate-config`) before anything is
//!   stored, and every secret the configuration names must exist;
//! * grants (`http_hosts`, `tcp_endpoints`, `smtp`, `allow_private_addresses`,
//!   `allow_insecure_http`) are stored as given and can only narrow what the operator's outbound
//!   policy lets plugins reach: they never widen it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use herald_delivery::{DestinationConfig, Grants};
use herald_plugin_host::{ConfigFieldKind, HostError, PluginHost};
use herald_storage::{
    DbConnection, delivery_log::DestinationHealth, destinations::Destination,
    destinations::DestinationUpdate, destinations::NewDestination, queue::Delivery,
    write_transaction,
};
use serde_json::Value;

use crate::error::{FieldError, ServiceError};
use crate::service::Principal;
use crate::state::AppState;

/// Longest destination name accepted.
pub const MAX_NAME_LEN: usize = 200;

/// Severity thresholds a destination may have, lowest first.
pub const SEVERITIES: [&str; 5] = ["none", "low", "medium", "high", "critical"];

/// Keys inside an object-valued configuration field (e.g. the email plugin's `smtp`) that say
/// where the plugin connects.
const TARGET_KEYS: [&str; 5] = ["host", "port", "url", "endpoint", "server"];

type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// What only the destination's organization's admins may read.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The plugin's configuration (secrets are referenced by name, never stored here).
    pub config: Value,
    pub grants: Value,
    /// Names of the destination's stored secrets.
    pub secret_names: Vec<String>,
}

/// A destination as the caller may see it.
#[derive(Debug, Clone)]
pub struct DestinationInfo {
    pub id: String,
    pub org_id: String,
    pub org_name: String,
    pub plugin_id: String,
    pub name: String,
    pub enabled: bool,
    pub min_severity: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// `None` unless the caller may read the configuration.
    pub settings: Option<Settings>,
    pub health: DestinationHealth,
    /// The caller may change it, send tests and replay its deliveries.
    pub can_edit: bool,
    /// The caller may switch it off.
    pub can_disable: bool,
}

/// A new destination.
#[derive(Debug, Clone, Default)]
pub struct NewDestinationInput {
    /// The organization it belongs to; `None`: the caller's. Only its own admins may create it.
    pub org_id: Option<String>,
    pub plugin_id: String,
    pub name: String,
    pub config: Value,
    pub grants: Grants,
    pub enabled: bool,
    pub min_severity: Option<String>,
    /// Secret values by name.
    pub secrets: BTreeMap<String, String>,
}

/// A change to a destination; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct DestinationChange {
    pub name: Option<String>,
    pub config: Option<Value>,
    pub grants: Option<Grants>,
    pub enabled: Option<bool>,
    /// `Some(None)` removes the threshold.
    pub min_severity: Option<Option<String>>,
    /// Secrets to set (`Some`) or remove (`None`); unnamed secrets stay (unless the target
    /// changes, see the module docs).
    pub secrets: BTreeMap<String, Option<String>>,
}

impl DestinationChange {
    /// Only switches the destination off: what the manufacturer may do to a hospital's.
    fn only_disables(&self) -> bool {
        self.enabled == Some(false)
            && self.name.is_none()
            && self.config.is_none()
            && self.grants.is_none()
            && self.min_severity.is_none()
            && self.secrets.is_empty()
    }
}

/// What a "send test" did. A failed test is a result, not an error.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct TestResult {
    /// The plugin reached the receiver and it accepted the test message.
    pub ok: bool,
    pub remote_id: Option<String>,
    pub detail: Option<String>,
    /// Why the test failed (secrets redacted).
    pub error: Option<String>,
}

fn plugins(state: &AppState) -> Result<std::sync::Arc<PluginHost>> {
    state.plugins.clone().ok_or_else(|| {
        ServiceError::Unavailable("no delivery plugins are loaded (HERALD_PLUGIN_DIR)".into())
    })
}

fn grants_json(grants: &Grants) -> Result<Value> {
    serde_json::to_value(grants).map_err(ServiceError::internal)
}

// ---------------------------------------------------------------------------------------------
// reading

fn info(
    conn: &mut DbConnection,
    p: &Principal,
    d: Destination,
    org_names: &HashMap<String, String>,
) -> Result<DestinationInfo> {
    let settings = if p.can_read_destination_config_of(&d.org_id) {
        Some(Settings {
            secret_names: herald_storage::secrets::destination_secret_names(conn, &d.id)?,
            config: d.config,
            grants: d.grants,
        })
    } else {
        None
    };
    Ok(DestinationInfo {
        health: herald_storage::delivery_log::destination_health(conn, &d.id)?,
        org_name: org_names.get(&d.org_id).cloned().unwrap_or_default(),
        can_edit: p.can_edit_destinations_of(&d.org_id),
        can_disable: p.can_disable_destination_of(&d.org_id),
        id: d.id,
        org_id: d.org_id,
        plugin_id: d.plugin_id,
        name: d.name,
        enabled: d.enabled,
        min_severity: d.min_severity,
        created_at: d.created_at,
        updated_at: d.updated_at,
        settings,
    })
}

fn org_names(conn: &mut DbConnection) -> Result<HashMap<String, String>> {
    Ok(herald_storage::accounts::list_organizations(conn)?
        .into_iter()
        .map(|o| (o.id, o.name))
        .collect())
}

/// A destination the caller may see; anything else is [`ServiceError::NotFound`].
pub fn visible(conn: &mut DbConnection, p: &Principal, id: &str) -> Result<Destination> {
    p.require_read()?;
    herald_storage::destinations::get_destination(conn, id)?
        .filter(|d| p.can_see_org(&d.org_id))
        .ok_or(ServiceError::NotFound)
}

/// Destinations the caller may see (the manufacturer: every organization's).
pub async fn list(state: &AppState, p: &Principal) -> Result<Vec<DestinationInfo>> {
    p.require_read()?;
    let p = p.clone();
    state
        .db(move |conn| {
            let names = org_names(conn)?;
            let mut out = Vec::new();
            for d in
                herald_storage::destinations::list_destinations(conn, p.org_filter().as_deref())?
            {
                out.push(info(conn, &p, d, &names)?);
            }
            Ok(out)
        })
        .await
}

pub async fn get(state: &AppState, p: &Principal, id: &str) -> Result<DestinationInfo> {
    let (p, id) = (p.clone(), id.to_owned());
    state
        .db(move |conn| {
            let d = visible(conn, &p, &id)?;
            let names = org_names(conn)?;
            info(conn, &p, d, &names)
        })
        .await
}

// ---------------------------------------------------------------------------------------------
// checks before storing

fn check_fields(name: Option<&str>, min_severity: Option<Option<&str>>) -> Vec<FieldError> {
    let mut problems = Vec::new();
    if let Some(name) = name {
        let name = name.trim();
        if name.is_empty() {
            problems.push(FieldError {
                field: "name".into(),
                message: "give the destination a name".into(),
            });
        } else if name.chars().count() > MAX_NAME_LEN {
            problems.push(FieldError {
                field: "name".into(),
                message: format!("at most {MAX_NAME_LEN} characters"),
            });
        }
    }
    if let Some(Some(m)) = min_severity
        && !SEVERITIES.contains(&m)
    {
        problems.push(FieldError {
            field: "min_severity".into(),
            message: format!("{m:?} is not one of {}", SEVERITIES.join(", ")),
        });
    }
    problems
}

/// The plugin exists, accepts the configuration, and every secret the configuration names (in
/// its `secret-ref` fields) is among `secret_names`. Each problem is one field error.
async fn check_config(
    plugins: &PluginHost,
    plugin_id: &str,
    config: &Value,
    secret_names: &BTreeSet<String>,
) -> Result<Vec<FieldError>> {
    let info = match plugins.describe(plugin_id) {
        Ok(info) => info,
        Err(HostError::UnknownPlugin(_)) => {
            let installed: Vec<String> = plugins.list().into_iter().map(|p| p.id).collect();
            return Ok(vec![FieldError {
                field: "plugin_id".into(),
                message: format!(
                    "no plugin {plugin_id:?} is installed (installed: {})",
                    installed.join(", ")
                ),
            }]);
        }
        Err(e) => return Err(ServiceError::internal(e)),
    };
    if !config.is_object() {
        return Ok(vec![FieldError {
            field: "config".into(),
            message: "must be a JSON object".into(),
        }]);
    }
    let issues = plugins
        .validate_config(plugin_id, config)
        .await
        .map_err(ServiceError::internal)?;
    let mut problems: Vec<FieldError> = issues
        .into_iter()
        .map(|i| FieldError {
            field: if i.field.is_empty() {
                "config".into()
            } else {
                format!("config.{}", i.field)
            },
            message: i.message,
        })
        .collect();
    for field in info
        .config_fields
        .iter()
        .filter(|f| f.kind == ConfigFieldKind::SecretRef)
    {
        for name in named_secrets(config.get(&field.name))
            .into_iter()
            .filter(|n| !secret_names.contains(n))
        {
            problems.push(FieldError {
                field: format!("config.{}", field.name),
                message: format!(
                    "names secret {name:?}, which this destination does not have; set it under `secrets`"
                ),
            });
        }
    }
    Ok(problems)
}

/// Secret names a configuration value refers to.
pub fn named_secrets(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// Where a configuration makes the plugin connect: the values of its URL and host:port fields,
/// and the host, port, URL or endpoint inside object-valued fields.
fn target(config: &Value, kinds: &HashMap<String, ConfigFieldKind>) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let Some(fields) = config.as_object() else {
        return out;
    };
    for (name, value) in fields {
        if matches!(
            kinds.get(name),
            Some(ConfigFieldKind::Url | ConfigFieldKind::HostPort)
        ) {
            out.insert(name.clone(), value.clone());
        } else if let Some(inner) = value.as_object() {
            for key in TARGET_KEYS {
                if let Some(v) = inner.get(key) {
                    out.insert(format!("{name}.{key}"), v.clone());
                }
            }
        }
    }
    out
}

fn field_kinds(plugins: &PluginHost, plugin_id: &str) -> HashMap<String, ConfigFieldKind> {
    plugins
        .describe(plugin_id)
        .map(|info| {
            info.config_fields
                .into_iter()
                .map(|f| (f.name, f.kind))
                .collect()
        })
        .unwrap_or_default()
}

fn refused(problems: Vec<FieldError>) -> Result<()> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ServiceError::InvalidFields(problems))
    }
}

fn secret_key(state: &AppState) -> Result<herald_storage::secrets::SecretKey> {
    crate::secrets::secret_key(&state.config).map_err(ServiceError::internal)
}

// ---------------------------------------------------------------------------------------------
// changing

/// Creates a destination after the plugin accepted its configuration; its secrets are stored
/// encrypted in the same transaction.
pub async fn create(
    state: &AppState,
    p: &Principal,
    input: NewDestinationInput,
) -> Result<DestinationInfo> {
    p.require_admin()?;
    let org_id = input.org_id.clone().unwrap_or_else(|| p.org_id.clone());
    if !p.can_edit_destinations_of(&org_id) {
        return Err(ServiceError::Refused(
            "a destination is created by an admin of the organization it belongs to".into(),
        ));
    }
    let mut problems = check_fields(Some(&input.name), Some(input.min_severity.as_deref()));
    let plugins = plugins(state)?;
    let names: BTreeSet<String> = input.secrets.keys().cloned().collect();
    problems.extend(check_config(&plugins, &input.plugin_id, &input.config, &names).await?);
    refused(problems)?;
    let grants = grants_json(&input.grants)?;
    let key = secret_key(state)?;
    let (p, actor) = (p.clone(), p.actor());
    state
        .db(move |conn| {
            let changes: BTreeMap<String, Option<String>> = input
                .secrets
                .into_iter()
                .map(|(k, v)| (k, Some(v)))
                .collect();
            let d = write_transaction(conn, |conn| {
                let d = herald_storage::destinations::create_destination(
                    conn,
                    &NewDestination {
                        org_id: &org_id,
                        plugin_id: &input.plugin_id,
                        name: input.name.trim(),
                        config: input.config.clone(),
                        grants: grants.clone(),
                        enabled: input.enabled,
                        min_severity: input.min_severity.as_deref(),
                    },
                    &actor,
                )?;
                herald_storage::secrets::put_destination_secrets(
                    conn, &key, &d.id, &changes, &actor,
                )?;
                Ok(d)
            })?;
            let names = org_names(conn)?;
            info(conn, &p, d, &names)
        })
        .await
}

/// Changes a destination (see the module docs for who may and what a new target does to its
/// secrets). A new configuration, or a change to the secrets it names, is checked by the
/// plugin again before anything is stored.
pub async fn update(
    state: &AppState,
    p: &Principal,
    id: &str,
    mut change: DestinationChange,
) -> Result<DestinationInfo> {
    p.require_admin()?;
    let current = {
        let (p, id) = (p.clone(), id.to_owned());
        state.db(move |conn| visible(conn, &p, &id)).await?
    };
    if change.only_disables() {
        return disable(state, p, id).await;
    }
    if !p.can_edit_destinations_of(&current.org_id) {
        return Err(ServiceError::Refused(
            "only an admin of the destination's organization changes it; the manufacturer may \
             switch it off"
                .into(),
        ));
    }
    let mut problems = check_fields(
        change.name.as_deref(),
        change.min_severity.as_ref().map(|m| m.as_deref()),
    );
    let mut dropped = Vec::new();
    if change.config.is_some() || !change.secrets.is_empty() {
        let plugins = plugins(state)?;
        let dest_id = current.id.clone();
        let stored: Vec<String> = state
            .db(move |conn| {
                Ok(herald_storage::secrets::destination_secret_names(
                    conn, &dest_id,
                )?)
            })
            .await?;
        if let Some(config) = &change.config {
            let kinds = field_kinds(&plugins, &current.plugin_id);
            if target(config, &kinds) != target(&current.config, &kinds) {
                // A secret goes only to the host it was given for.
                for name in &stored {
                    if !matches!(change.secrets.get(name), Some(Some(_))) {
                        change.secrets.insert(name.clone(), None);
                        dropped.push(name.clone());
                    }
                }
            }
        }
        let mut names: BTreeSet<String> = stored.into_iter().collect();
        for (name, value) in &change.secrets {
            if value.is_some() {
                names.insert(name.clone());
            } else {
                names.remove(name);
            }
        }
        let config = change.config.as_ref().unwrap_or(&current.config);
        let config_problems = check_config(&plugins, &current.plugin_id, config, &names).await?;
        if !config_problems.is_empty() && !dropped.is_empty() {
            problems.push(FieldError {
                field: "secrets".into(),
                message: format!(
                    "the destination now points elsewhere, so its stored secrets ({}) are not \
                     kept: give them again in the same change",
                    dropped.join(", ")
                ),
            });
        }
        problems.extend(config_problems);
    }
    refused(problems)?;
    let grants = change.grants.as_ref().map(grants_json).transpose()?;
    let key = if change.secrets.is_empty() {
        None
    } else {
        Some(secret_key(state)?)
    };
    let (p, actor) = (p.clone(), p.actor());
    state
        .db(move |conn| {
            let name = change.name.as_deref().map(str::trim);
            let update = DestinationUpdate {
                name,
                config: change.config.clone(),
                grants,
                enabled: change.enabled,
                min_severity: change.min_severity.as_ref().map(|m| m.as_deref()),
            };
            let touches_fields = update.name.is_some()
                || update.config.is_some()
                || update.grants.is_some()
                || update.enabled.is_some()
                || update.min_severity.is_some();
            let d = write_transaction(conn, |conn| {
                let mut d = current;
                if touches_fields {
                    d = herald_storage::destinations::update_destination(
                        conn, &d.id, &update, &actor,
                    )?;
                }
                if let Some(key) = &key {
                    herald_storage::secrets::put_destination_secrets(
                        conn,
                        key,
                        &d.id,
                        &change.secrets,
                        &actor,
                    )?;
                }
                if !dropped.is_empty() {
                    herald_storage::audit::append_audit(
                        conn,
                        &actor,
                        "destination.secrets_dropped",
                        &format!("destination:{}", d.id),
                        &serde_json::json!({ "reason": "target changed", "secrets": dropped }),
                    )?;
                }
                Ok(d)
            })?;
            let names = org_names(conn)?;
            info(conn, &p, d, &names)
        })
        .await
}

/// Switches a destination off: it receives nothing more (destinations are never erased, so the
/// record of what was delivered to them stays complete). Its own admins and the manufacturer's
/// admins may; audited.
pub async fn disable(state: &AppState, p: &Principal, id: &str) -> Result<DestinationInfo> {
    p.require_admin()?;
    let (p, id) = (p.clone(), id.to_owned());
    state
        .db(move |conn| {
            let d = visible(conn, &p, &id)?;
            if !p.can_disable_destination_of(&d.org_id) {
                return Err(ServiceError::Forbidden);
            }
            herald_storage::destinations::set_destination_enabled(conn, &d.id, false, &p.actor())?;
            let d = herald_storage::destinations::get_destination(conn, &d.id)?
                .ok_or(ServiceError::NotFound)?;
            let names = org_names(conn)?;
            info(conn, &p, d, &names)
        })
        .await
}

/// A destination the caller may steer (send tests to, replay deliveries of): 404 when it may
/// not see it, 403 when it sees it but it is another organization's.
fn steerable(conn: &mut DbConnection, p: &Principal, id: &str) -> Result<Destination> {
    p.require_admin()?;
    let d = visible(conn, p, id)?;
    if p.can_edit_destinations_of(&d.org_id) {
        Ok(d)
    } else {
        Err(ServiceError::Refused(
            "only an admin of the destination's organization sends tests and replays its deliveries"
                .into(),
        ))
    }
}

/// Sends a test message through the destination's plugin (its `test` export) with the
/// destination's grants and secrets, and audits it.
pub async fn send_test(state: &AppState, p: &Principal, id: &str) -> Result<TestResult> {
    let d = {
        let (p, id) = (p.clone(), id.to_owned());
        state.db(move |conn| steerable(conn, &p, &id)).await?
    };
    let plugins = plugins(state)?;
    let key = secret_key(state)?;
    let dest_id = d.id.clone();
    let secrets = state
        .db(move |conn| Ok(crate::secrets::destination_secrets(conn, &key, &dest_id)?))
        .await?;
    let grants: Grants = serde_json::from_value(d.grants.clone()).map_err(|e| {
        ServiceError::internal(anyhow::anyhow!(
            "stored grants of destination {}: {e}",
            d.id
        ))
    })?;
    let destination = DestinationConfig {
        destination_id: d.id.clone(),
        plugin_id: d.plugin_id.clone(),
        config: d.config.clone(),
        grants,
    };
    let result = match plugins.test(&destination, &secrets).await {
        Ok(receipt) => TestResult {
            ok: true,
            remote_id: receipt.remote_id,
            detail: Some(receipt.detail),
            error: None,
        },
        Err(e) => TestResult {
            ok: false,
            remote_id: None,
            detail: None,
            error: Some(e.to_string()),
        },
    };
    let detail = serde_json::json!({
        "ok": result.ok,
        "error": result.error,
        "remote_id": result.remote_id,
        "detail": result.detail,
    });
    let actor = p.actor();
    state
        .db(move |conn| {
            Ok(herald_storage::audit::append_audit(
                conn,
                &actor,
                "destination.test",
                &format!("destination:{}", d.id),
                &detail,
            )?)
        })
        .await?;
    Ok(result)
}

/// Requeues every failed or dead delivery of a destination with a fresh retry budget.
pub async fn replay_dead_letters(state: &AppState, p: &Principal, id: &str) -> Result<usize> {
    let (p, id) = (p.clone(), id.to_owned());
    state
        .db(move |conn| {
            let d = steerable(conn, &p, &id)?;
            let actor = p.actor();
            Ok(write_transaction(conn, |conn| {
                // Each replayed delivery is audited on its own; this entry records the request.
                let n = herald_storage::queue::replay_dead_letters(conn, &d.id, &actor)?;
                herald_storage::audit::append_audit(
                    conn,
                    &actor,
                    "destination.replay_dead_letters",
                    &format!("destination:{}", d.id),
                    &serde_json::json!({ "replayed": n }),
                )?;
                Ok(n)
            })?)
        })
        .await
}

/// A delivery the caller may see (through its destination's organization), with that
/// destination.
pub fn visible_delivery(
    conn: &mut DbConnection,
    p: &Principal,
    id: &str,
) -> Result<(Delivery, Destination)> {
    p.require_read()?;
    let d = herald_storage::queue::get_delivery(conn, id)?.ok_or(ServiceError::NotFound)?;
    let dest = herald_storage::destinations::get_destination(conn, &d.destination_id)?
        .filter(|dest| p.can_see_org(&dest.org_id))
        .ok_or(ServiceError::NotFound)?;
    Ok((d, dest))
}

/// Requeues a failed or dead delivery now, with a fresh retry budget (a delivery in another
/// state is a conflict).
pub async fn replay_delivery(state: &AppState, p: &Principal, id: &str) -> Result<Delivery> {
    let (p, id) = (p.clone(), id.to_owned());
    state
        .db(move |conn| {
            let (delivery, dest) = visible_delivery(conn, &p, &id)?;
            steerable(conn, &p, &dest.id)?;
            Ok(herald_storage::queue::replay_delivery(
                conn,
                &delivery.id,
                &p.actor(),
            )?)
        })
        .await
}

/// The delivery log's status filter (REST `?status=` and the portal's select) as typed input;
/// empty means no filter.
pub fn parse_status_filter(
    status: Option<&str>,
) -> Result<Option<herald_storage::queue::DeliveryStatus>, ServiceError> {
    status
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<herald_storage::queue::DeliveryStatus>().map_err(|_| {
                ServiceError::BadRequest(format!(
                    "status {s:?} is not one of queued, in_flight, delivered, failed, dead, withheld"
                ))
            })
        })
        .transpose()
}
