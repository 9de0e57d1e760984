//! REST resources for notification channels: destinations (with their encrypted secrets and a
//! "send test"), the deliveries to them with every attempt, and replays of dead letters.
//!
//! Who sees what: a token acts for its organization. A hospital's token sees and changes only
//! its own organization's destinations and the deliveries to them; the manufacturer's tokens see
//! every organization's. Something a caller may not see answers 404, exactly like something that
//! does not exist. Reads need the `read` (or `admin`) scope, changes `admin`.
//!
//! Secrets are write-only: requests carry `secrets: {NAME: value}`, responses list the names.

use std::collections::{BTreeMap, BTreeSet};

use actix_web::{HttpResponse, web};
use herald_delivery::{DestinationConfig, Grants};
use herald_plugin_host::{ConfigFieldKind, HostError, PluginHost};
use herald_storage::{
    ApiToken, Delivery, DeliveryAttempt, DeliveryFilter, DeliveryStatus, Destination,
    DestinationUpdate, NewDestination, OrgKind, write_transaction,
};
use serde::{Deserialize, Serialize};

use crate::state::AppState;
use crate::web::auth::ApiCaller;
use crate::web::error::{ErrorBody, FieldError, WebError};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/destinations", web::get().to(list_destinations))
        .route("/destinations", web::post().to(create_destination))
        .route("/destinations/{id}", web::get().to(get_destination))
        .route("/destinations/{id}", web::patch().to(update_destination))
        .route("/destinations/{id}", web::delete().to(disable_destination))
        .route("/destinations/{id}/test", web::post().to(test_destination))
        .route(
            "/destinations/{id}/replay-dead-letters",
            web::post().to(replay_dead_letters),
        )
        .route("/deliveries", web::get().to(list_deliveries))
        .route("/deliveries/{id}", web::get().to(get_delivery))
        .route("/deliveries/{id}/replay", web::post().to(replay_delivery));
}

// ---------------------------------------------------------------------------------------------
// who is acting

/// An authenticated caller with the organization it acts for.
struct Acting {
    token: ApiToken,
    manufacturer: bool,
}

impl Acting {
    fn actor(&self) -> String {
        format!("token:{}", self.token.id)
    }

    fn can_see(&self, org_id: &str) -> bool {
        self.manufacturer || self.token.org_id == org_id
    }

    /// `None`: every organization.
    fn org_filter(&self) -> Option<String> {
        (!self.manufacturer).then(|| self.token.org_id.clone())
    }
}

#[derive(Clone, Copy)]
enum Need {
    Read,
    Admin,
}

async fn acting(state: &AppState, caller: &ApiCaller, need: Need) -> Result<Acting, WebError> {
    let (token, org) =
        crate::web::auth::acting_org(state, caller, matches!(need, Need::Admin)).await?;
    Ok(Acting {
        token,
        manufacturer: org.kind == OrgKind::Manufacturer,
    })
}

pub(crate) fn plugins(state: &AppState) -> Result<std::sync::Arc<PluginHost>, WebError> {
    state.plugins.clone().ok_or_else(|| {
        WebError::Unavailable("no delivery plugins are loaded (HERALD_PLUGIN_DIR)".into())
    })
}

fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, WebError> {
    serde_json::from_slice(body).map_err(|e| WebError::BadRequest(format!("request body: {e}")))
}

fn grants_json(grants: &Grants) -> Result<serde_json::Value, WebError> {
    serde_json::to_value(grants).map_err(WebError::internal)
}

// ---------------------------------------------------------------------------------------------
// resources

/// A destination as the API returns it. Secret values are never returned, only their names.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DestinationResource {
    pub id: String,
    pub org_id: String,
    pub plugin_id: String,
    pub name: String,
    /// The plugin's configuration (no secrets: those are referenced by name).
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
    /// Capabilities granted to the plugin for this destination (http hosts, tcp endpoints, smtp).
    #[schema(value_type = Object)]
    pub grants: serde_json::Value,
    pub enabled: bool,
    /// `none`, `low`, `medium`, `high`, `critical`; absent: every advisory.
    pub min_severity: Option<String>,
    /// Names of the destination's stored secrets.
    pub secret_names: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl DestinationResource {
    fn new(d: Destination, secret_names: Vec<String>) -> Self {
        Self {
            id: d.id,
            org_id: d.org_id,
            plugin_id: d.plugin_id,
            name: d.name,
            config: d.config,
            grants: d.grants,
            enabled: d.enabled,
            min_severity: d.min_severity,
            secret_names,
            created_at: d.created_at.to_rfc3339(),
            updated_at: d.updated_at.to_rfc3339(),
        }
    }

    fn load(
        conn: &mut herald_storage::DbConnection,
        d: Destination,
    ) -> Result<Self, herald_storage::StorageError> {
        let names = herald_storage::destination_secret_names(conn, &d.id)?;
        Ok(Self::new(d, names))
    }
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

fn yes() -> bool {
    true
}

/// A new destination.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDestination {
    pub name: String,
    /// Id of an installed delivery plugin (`webhook`, `email`, ...).
    pub plugin_id: String,
    /// The plugin's configuration, checked by its `validate-config` before anything is stored.
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
    /// `{http_hosts, allow_insecure_http, allow_private_addresses, tcp_endpoints, smtp}`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub grants: Grants,
    pub min_severity: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Secret values by name; stored encrypted, never returned.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// Organization the destination belongs to; only the manufacturer may name another one.
    pub org_id: Option<String>,
}

fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A change to a destination; absent fields stay as they are. The plugin cannot change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDestination {
    pub name: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub config: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub grants: Option<Grants>,
    pub enabled: Option<bool>,
    /// A severity, or `null` to deliver every advisory.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub min_severity: Option<Option<String>>,
    /// Secrets to set (a string) or remove (`null`); unnamed secrets stay.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub secrets: BTreeMap<String, Option<String>>,
}

/// What a "send test" did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TestResult {
    /// The plugin reached the receiver and it accepted the test message.
    pub ok: bool,
    pub remote_id: Option<String>,
    pub detail: Option<String>,
    /// Why the test failed (secrets redacted).
    pub error: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReplayCount {
    pub replayed: usize,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AttemptResource {
    pub number: i32,
    pub worker: String,
    pub started_at: String,
    pub duration_ms: i64,
    /// `delivered`, `retryable`, `retry_after`, `permanent`, `misconfigured`, `abandoned`.
    pub outcome: String,
    pub error: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub receipt: Option<serde_json::Value>,
}

impl From<DeliveryAttempt> for AttemptResource {
    fn from(a: DeliveryAttempt) -> Self {
        Self {
            number: a.number,
            worker: a.worker,
            started_at: a.started_at.to_rfc3339(),
            duration_ms: a.duration_ms,
            outcome: a.outcome.as_str().to_owned(),
            error: a.error,
            receipt: a.receipt,
        }
    }
}

/// One notification to one destination, with every attempt so far.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeliveryResource {
    pub id: String,
    pub event_id: String,
    pub destination_id: String,
    pub advisory_id: Option<String>,
    /// `queued`, `in_flight`, `delivered`, `failed`, `dead`.
    pub status: String,
    pub attempt_count: i32,
    pub next_attempt_at: String,
    pub last_error: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub receipt: Option<serde_json::Value>,
    pub created_at: String,
    pub updated_at: String,
    pub delivered_at: Option<String>,
    pub attempts: Vec<AttemptResource>,
}

impl DeliveryResource {
    fn load(
        conn: &mut herald_storage::DbConnection,
        d: Delivery,
    ) -> Result<Self, herald_storage::StorageError> {
        let attempts = herald_storage::list_attempts(conn, &d.id)?
            .into_iter()
            .map(AttemptResource::from)
            .collect();
        Ok(Self {
            id: d.id,
            event_id: d.event_id,
            destination_id: d.destination_id,
            advisory_id: d.advisory_id,
            status: d.status.as_str().to_owned(),
            attempt_count: d.attempts,
            next_attempt_at: d.next_attempt_at.to_rfc3339(),
            last_error: d.last_error,
            receipt: d.receipt,
            created_at: d.created_at.to_rfc3339(),
            updated_at: d.updated_at.to_rfc3339(),
            delivered_at: d.delivered_at.map(|t| t.to_rfc3339()),
            attempts,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// checks before storing

/// The plugin exists, accepts the configuration, and every secret the configuration names (in
/// its `secret-ref` fields) is among `secret_names`. Each problem is one field error.
pub(crate) async fn check_config(
    plugins: &PluginHost,
    plugin_id: &str,
    config: &serde_json::Value,
    secret_names: &BTreeSet<String>,
) -> Result<(), WebError> {
    let info = match plugins.describe(plugin_id) {
        Ok(info) => info,
        Err(HostError::UnknownPlugin(_)) => {
            let installed: Vec<String> = plugins.list().into_iter().map(|p| p.id).collect();
            return Err(WebError::InvalidFields(vec![FieldError {
                field: "plugin_id".into(),
                message: format!(
                    "no plugin {plugin_id:?} is installed (installed: {})",
                    installed.join(", ")
                ),
            }]));
        }
        Err(e) => return Err(WebError::internal(e)),
    };
    if !config.is_object() {
        return Err(WebError::InvalidFields(vec![FieldError {
            field: "config".into(),
            message: "must be a JSON object".into(),
        }]));
    }
    let issues = plugins
        .validate_config(plugin_id, config)
        .await
        .map_err(WebError::internal)?;
    if !issues.is_empty() {
        return Err(WebError::InvalidFields(
            issues
                .into_iter()
                .map(|i| FieldError {
                    field: if i.field.is_empty() {
                        "config".into()
                    } else {
                        format!("config.{}", i.field)
                    },
                    message: i.message,
                })
                .collect(),
        ));
    }
    let mut missing = Vec::new();
    for field in info
        .config_fields
        .iter()
        .filter(|f| f.kind == ConfigFieldKind::SecretRef)
    {
        let named: Vec<&str> = match config.get(&field.name) {
            Some(serde_json::Value::String(s)) => vec![s.as_str()],
            Some(serde_json::Value::Array(items)) => {
                items.iter().filter_map(serde_json::Value::as_str).collect()
            }
            _ => Vec::new(),
        };
        for name in named.into_iter().filter(|n| !secret_names.contains(*n)) {
            missing.push(FieldError {
                field: format!("config.{}", field.name),
                message: format!(
                    "names secret {name:?}, which this destination does not have; set it under `secrets`"
                ),
            });
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(WebError::InvalidFields(missing))
    }
}

/// Loads a destination the caller may see; anything else is 404.
async fn visible_destination(
    state: &AppState,
    acting: &Acting,
    id: String,
) -> Result<Destination, WebError> {
    let found = state
        .db(move |conn| Ok(herald_storage::get_destination(conn, &id)?))
        .await?
        .ok_or(WebError::NotFound)?;
    if acting.can_see(&found.org_id) {
        Ok(found)
    } else {
        Err(WebError::NotFound)
    }
}

fn secret_key(state: &AppState) -> Result<herald_storage::SecretKey, WebError> {
    crate::secrets::secret_key(&state.config).map_err(WebError::internal)
}

// ---------------------------------------------------------------------------------------------
// destinations

/// Destinations of the caller's organization (the manufacturer: of every organization).
#[utoipa::path(get, path = "/api/v1/destinations",
    responses((status = 200, body = [DestinationResource]),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_destinations(
    state: web::Data<AppState>,
    caller: ApiCaller,
) -> Result<HttpResponse, WebError> {
    let acting = acting(&state, &caller, Need::Read).await?;
    let org = acting.org_filter();
    let body = state
        .db(move |conn| {
            let mut out = Vec::new();
            for d in herald_storage::list_destinations(conn, org.as_deref())? {
                out.push(DestinationResource::load(conn, d)?);
            }
            Ok(out)
        })
        .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// Creates a destination after the plugin accepted its configuration; its secrets are stored
/// encrypted in the same transaction.
#[utoipa::path(post, path = "/api/v1/destinations", request_body = CreateDestination,
    responses((status = 201, body = DestinationResource),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "Rejected fields: unknown plugin, the plugin's configuration errors, missing secrets"),
        (status = 503, body = ErrorBody, description = "No plugins loaded")),
    security(("bearer" = [])))]
pub async fn create_destination(
    state: web::Data<AppState>,
    caller: ApiCaller,
    body: web::Bytes,
) -> Result<HttpResponse, WebError> {
    let acting = acting(&state, &caller, Need::Admin).await?;
    let req: CreateDestination = parse_body(&body)?;
    let org_id = match req.org_id.clone() {
        Some(org) if org != acting.token.org_id && !acting.manufacturer => {
            return Err(WebError::Forbidden);
        }
        Some(org) => org,
        None => acting.token.org_id.clone(),
    };
    let plugins = plugins(&state)?;
    let names: BTreeSet<String> = req.secrets.keys().cloned().collect();
    check_config(&plugins, &req.plugin_id, &req.config, &names).await?;
    let grants = grants_json(&req.grants)?;
    let config = state.config.clone();
    let actor = acting.actor();
    let created = state
        .db(move |conn| {
            let key = crate::secrets::secret_key(&config).map_err(WebError::internal)?;
            let changes: BTreeMap<String, Option<String>> =
                req.secrets.into_iter().map(|(k, v)| (k, Some(v))).collect();
            let d = write_transaction(conn, |conn| {
                let d = herald_storage::create_destination(
                    conn,
                    &NewDestination {
                        org_id: &org_id,
                        plugin_id: &req.plugin_id,
                        name: &req.name,
                        config: req.config.clone(),
                        grants: grants.clone(),
                        enabled: req.enabled,
                        min_severity: req.min_severity.as_deref(),
                    },
                    &actor,
                )?;
                herald_storage::put_destination_secrets(conn, &key, &d.id, &changes, &actor)?;
                Ok(d)
            })?;
            Ok(DestinationResource::load(conn, d)?)
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("/api/v1/destinations/{}", created.id),
        ))
        .json(created))
}

/// One destination.
#[utoipa::path(get, path = "/api/v1/destinations/{id}",
    params(("id" = String, Path, description = "Destination id")),
    responses((status = 200, body = DestinationResource), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_destination(
    state: web::Data<AppState>,
    caller: ApiCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let acting = acting(&state, &caller, Need::Read).await?;
    let d = visible_destination(&state, &acting, id.into_inner()).await?;
    let body = state
        .db(move |conn| Ok(DestinationResource::load(conn, d)?))
        .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// Changes a destination. A new configuration (or a change to the secrets it names) is checked
/// by the plugin again before anything is stored.
#[utoipa::path(patch, path = "/api/v1/destinations/{id}", request_body = UpdateDestination,
    params(("id" = String, Path, description = "Destination id")),
    responses((status = 200, body = DestinationResource), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_destination(
    state: web::Data<AppState>,
    caller: ApiCaller,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, WebError> {
    let acting = acting(&state, &caller, Need::Admin).await?;
    let req: UpdateDestination = parse_body(&body)?;
    let current = visible_destination(&state, &acting, id.into_inner()).await?;
    if req.config.is_some() || !req.secrets.is_empty() {
        let plugins = plugins(&state)?;
        let id = current.id.clone();
        let mut names: BTreeSet<String> = state
            .db(move |conn| Ok(herald_storage::destination_secret_names(conn, &id)?))
            .await?
            .into_iter()
            .collect();
        for (name, value) in &req.secrets {
            if value.is_some() {
                names.insert(name.clone());
            } else {
                names.remove(name);
            }
        }
        let config = req.config.as_ref().unwrap_or(&current.config);
        check_config(&plugins, &current.plugin_id, config, &names).await?;
    }
    let grants = req.grants.as_ref().map(grants_json).transpose()?;
    let config = state.config.clone();
    let actor = acting.actor();
    let body = state
        .db(move |conn| {
            let key = if req.secrets.is_empty() {
                None
            } else {
                Some(crate::secrets::secret_key(&config).map_err(WebError::internal)?)
            };
            let update = DestinationUpdate {
                name: req.name.as_deref(),
                config: req.config.clone(),
                grants,
                enabled: req.enabled,
                min_severity: req.min_severity.as_ref().map(|m| m.as_deref()),
            };
            let touches_fields = update.name.is_some()
                || update.config.is_some()
                || update.grants.is_some()
                || update.enabled.is_some()
                || update.min_severity.is_some();
            let d = write_transaction(conn, |conn| {
                let mut d = current;
                if touches_fields {
                    d = herald_storage::update_destination(conn, &d.id, &update, &actor)?;
                }
                if let Some(key) = &key {
                    herald_storage::put_destination_secrets(
                        conn,
                        key,
                        &d.id,
                        &req.secrets,
                        &actor,
                    )?;
                }
                Ok(d)
            })?;
            Ok(DestinationResource::load(conn, d)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// Disables a destination: it receives nothing more. Destinations are never erased, so the
/// record of what was delivered to them stays complete; `PATCH {"enabled": true}` undoes this.
#[utoipa::path(delete, path = "/api/v1/destinations/{id}",
    params(("id" = String, Path, description = "Destination id")),
    responses((status = 204, description = "Disabled"), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn disable_destination(
    state: web::Data<AppState>,
    caller: ApiCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let acting = acting(&state, &caller, Need::Admin).await?;
    let d = visible_destination(&state, &acting, id.into_inner()).await?;
    let actor = acting.actor();
    state
        .db(move |conn| {
            Ok(herald_storage::set_destination_enabled(
                conn, &d.id, false, &actor,
            )?)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Sends a test message through the destination's plugin (its `test` export) with the
/// destination's grants and secrets. A failed test is a result (`ok: false`), not an error.
#[utoipa::path(post, path = "/api/v1/destinations/{id}/test",
    params(("id" = String, Path, description = "Destination id")),
    responses((status = 200, body = TestResult), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn test_destination(
    state: web::Data<AppState>,
    caller: ApiCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let acting = acting(&state, &caller, Need::Admin).await?;
    let d = visible_destination(&state, &acting, id.into_inner()).await?;
    let result = run_test(&state, &d).await?;
    let detail = serde_json::json!({ "ok": result.ok, "error": result.error, "remote_id": result.remote_id });
    let actor = acting.actor();
    state
        .db(move |conn| {
            Ok(herald_storage::append_audit(
                conn,
                &actor,
                "destination.test",
                &format!("destination:{}", d.id),
                &detail,
            )?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(result))
}

/// Runs the plugin's `test` for a destination with its grants and secrets (shared with the
/// portal's "send test"); the caller checks who may, and records it.
pub(crate) async fn run_test(state: &AppState, d: &Destination) -> Result<TestResult, WebError> {
    let plugins = plugins(state)?;
    let key = secret_key(state)?;
    let dest_id = d.id.clone();
    let secrets = state
        .db(move |conn| Ok(crate::secrets::destination_secrets(conn, &key, &dest_id)?))
        .await?;
    let grants: Grants = serde_json::from_value(d.grants.clone()).map_err(|e| {
        WebError::internal(anyhow::anyhow!(
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
    Ok(result)
}

/// Requeues every failed or dead delivery of a destination with a fresh retry budget.
#[utoipa::path(post, path = "/api/v1/destinations/{id}/replay-dead-letters",
    params(("id" = String, Path, description = "Destination id")),
    responses((status = 200, body = ReplayCount), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn replay_dead_letters(
    state: web::Data<AppState>,
    caller: ApiCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let acting = acting(&state, &caller, Need::Admin).await?;
    let d = visible_destination(&state, &acting, id.into_inner()).await?;
    let actor = acting.actor();
    let replayed = state
        .db(move |conn| {
            Ok(write_transaction(conn, |conn| {
                // Each replayed delivery is audited on its own; this entry records the request.
                let n = herald_storage::replay_dead_letters(conn, &d.id, &actor)?;
                herald_storage::append_audit(
                    conn,
                    &actor,
                    "destination.replay_dead_letters",
                    &format!("destination:{}", d.id),
                    &serde_json::json!({ "replayed": n }),
                )?;
                Ok(n)
            })?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(ReplayCount { replayed }))
}

// ---------------------------------------------------------------------------------------------
// deliveries

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DeliveryParams {
    /// `queued`, `in_flight`, `delivered`, `failed` or `dead`.
    pub status: Option<String>,
    pub destination_id: Option<String>,
    /// Tracking id of the advisory (e.g. `MMS-SA-2026-001`).
    pub advisory: Option<String>,
    /// Page size, 1 to 1000 (default 200), in event order.
    pub limit: Option<usize>,
    pub offset: Option<usize>,
}

/// Deliveries (with their attempts) to the destinations the caller may see, in event order.
#[utoipa::path(get, path = "/api/v1/deliveries", params(DeliveryParams),
    responses((status = 200, body = [DeliveryResource]), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_deliveries(
    state: web::Data<AppState>,
    caller: ApiCaller,
    params: web::Query<DeliveryParams>,
) -> Result<HttpResponse, WebError> {
    let acting = acting(&state, &caller, Need::Read).await?;
    let params = params.into_inner();
    let limit = params.limit.unwrap_or(200);
    if !(1..=1000).contains(&limit) {
        return Err(WebError::BadRequest(
            "limit must be between 1 and 1000".into(),
        ));
    }
    let status = params
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<DeliveryStatus>().map_err(|_| {
                WebError::BadRequest(format!(
                    "status {s:?} is not one of queued, in_flight, delivered, failed, dead"
                ))
            })
        })
        .transpose()?;
    let org = acting.org_filter();
    let body = state
        .db(move |conn| {
            let advisory_id = match params.advisory.as_deref().filter(|a| !a.is_empty()) {
                Some(tracking_id) => match herald_storage::get_advisory(conn, tracking_id)? {
                    Some(a) => Some(a.id),
                    None => return Ok(Vec::new()),
                },
                None => None,
            };
            let filter = DeliveryFilter {
                destination_id: params.destination_id.clone().filter(|d| !d.is_empty()),
                advisory_id,
                event_id: None,
                status,
            };
            let page = herald_storage::list_deliveries_page(
                conn,
                &filter,
                org.as_deref(),
                i64::try_from(limit).unwrap_or(1000),
                i64::try_from(params.offset.unwrap_or(0)).unwrap_or(i64::MAX),
            )?;
            let mut out = Vec::with_capacity(page.len());
            for d in page {
                out.push(DeliveryResource::load(conn, d)?);
            }
            Ok(out)
        })
        .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// Loads a delivery the caller may see (through its destination's organization).
async fn visible_delivery(
    state: &AppState,
    acting: &Acting,
    id: String,
) -> Result<Delivery, WebError> {
    let (delivery, org_id) = state
        .db(move |conn| {
            let d = herald_storage::get_delivery(conn, &id)?.ok_or(WebError::NotFound)?;
            let dest = herald_storage::get_destination(conn, &d.destination_id)?
                .ok_or(WebError::NotFound)?;
            Ok((d, dest.org_id))
        })
        .await?;
    if acting.can_see(&org_id) {
        Ok(delivery)
    } else {
        Err(WebError::NotFound)
    }
}

/// One delivery with all its attempts.
#[utoipa::path(get, path = "/api/v1/deliveries/{id}",
    params(("id" = String, Path, description = "Delivery id")),
    responses((status = 200, body = DeliveryResource), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_delivery(
    state: web::Data<AppState>,
    caller: ApiCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let acting = acting(&state, &caller, Need::Read).await?;
    let d = visible_delivery(&state, &acting, id.into_inner()).await?;
    let body = state
        .db(move |conn| Ok(DeliveryResource::load(conn, d)?))
        .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// Requeues a failed or dead delivery now, with a fresh retry budget.
#[utoipa::path(post, path = "/api/v1/deliveries/{id}/replay",
    params(("id" = String, Path, description = "Delivery id")),
    responses((status = 200, body = DeliveryResource), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The delivery is not failed or dead")),
    security(("bearer" = [])))]
pub async fn replay_delivery(
    state: web::Data<AppState>,
    caller: ApiCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let acting = acting(&state, &caller, Need::Admin).await?;
    let d = visible_delivery(&state, &acting, id.into_inner()).await?;
    let actor = acting.actor();
    let body = state
        .db(move |conn| {
            let replayed = herald_storage::replay_delivery(conn, &d.id, &actor)?;
            Ok(DeliveryResource::load(conn, replayed)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(body))
}
