//! REST resources for notification channels: destinations (with their encrypted secrets and a
//! "send test"), the deliveries to them with every attempt, and replays of dead letters. A thin
//! adapter: each handler parses, calls one use case of [`crate::service::destinations`] (where
//! every rule of who sees and changes what lives) and maps the result.
//!
//! Reads need the `read` (or `admin`) scope, changes `admin`. Something a caller may not see
//! answers 404, exactly like something that does not exist.
//!
//! Secrets are write-only: requests carry `secrets: {NAME: value}`, responses list the names (to
//! the organization's admins, who alone see the configuration).

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use herald_delivery::Grants;
use herald_storage::{queue::Delivery, queue::DeliveryAttempt};

use crate::service::deliveries::DeliveryQuery;
use serde::{Deserialize, Serialize};

use crate::error::{ErrorBody, ServiceError, parse_json};
pub use crate::service::destinations::TestResult;
use crate::service::destinations::{
    self as service, DestinationChange, DestinationInfo, NewDestinationInput,
};
use crate::state::AppState;
use crate::web::auth::ApiCaller;

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
// resources

/// A destination as the API returns it. Secret values are never returned; the configuration,
/// grants and secret names only to the admins of the destination's organization.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DestinationResource {
    pub id: String,
    pub org_id: String,
    pub plugin_id: String,
    pub name: String,
    /// The plugin's configuration (no secrets: those are referenced by name). Admins of the
    /// destination's organization only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub config: Option<serde_json::Value>,
    /// Capabilities granted to the plugin for this destination (http hosts, tcp endpoints,
    /// smtp); they narrow what the operator's outbound policy allows, never widen it. Admins of
    /// the destination's organization only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub grants: Option<serde_json::Value>,
    pub enabled: bool,
    /// `none`, `low`, `medium`, `high`, `critical`; absent: every advisory.
    pub min_severity: Option<String>,
    /// Names of the destination's stored secrets (admins of its organization only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_names: Option<Vec<String>>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<DestinationInfo> for DestinationResource {
    fn from(d: DestinationInfo) -> Self {
        let (config, grants, secret_names) = match d.settings {
            Some(s) => (Some(s.config), Some(s.grants), Some(s.secret_names)),
            None => (None, None, None),
        };
        Self {
            id: d.id,
            org_id: d.org_id,
            plugin_id: d.plugin_id,
            name: d.name,
            config,
            grants,
            enabled: d.enabled,
            min_severity: d.min_severity,
            secret_names,
            created_at: d.created_at.to_rfc3339(),
            updated_at: d.updated_at.to_rfc3339(),
        }
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
    /// `{http_hosts, allow_insecure_http, allow_private_addresses, tcp_endpoints, smtp}`: they
    /// can only narrow what the operator's outbound policy lets plugins reach.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub grants: Grants,
    pub min_severity: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Secret values by name; stored encrypted, never returned.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// Organization the destination belongs to: the caller's own (the default). Another
    /// organization's destinations are created by its own admins.
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
    /// `queued`, `in_flight`, `delivered`, `failed`, `dead`, `withheld`.
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
        let attempts = herald_storage::queue::list_attempts(conn, &d.id)?;
        Ok(Self::new(d, attempts))
    }

    fn new(d: Delivery, attempts: Vec<DeliveryAttempt>) -> Self {
        let attempts = attempts.into_iter().map(AttemptResource::from).collect();
        Self {
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
        }
    }
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
) -> Result<HttpResponse, ServiceError> {
    let p = caller.principal()?;
    let list = service::list(&state, p).await?;
    let body: Vec<DestinationResource> = list.into_iter().map(Into::into).collect();
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
) -> Result<HttpResponse, ServiceError> {
    let p = caller.principal()?;
    let req: CreateDestination = parse_json(&body)?;
    let created = service::create(
        &state,
        p,
        NewDestinationInput {
            org_id: req.org_id,
            plugin_id: req.plugin_id,
            name: req.name,
            config: req.config,
            grants: req.grants,
            enabled: req.enabled,
            min_severity: req.min_severity,
            secrets: req.secrets,
        },
    )
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("/api/v1/destinations/{}", created.id),
        ))
        .json(DestinationResource::from(created)))
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
) -> Result<HttpResponse, ServiceError> {
    let p = caller.principal()?;
    let d = service::get(&state, p, &id).await?;
    Ok(HttpResponse::Ok().json(DestinationResource::from(d)))
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
) -> Result<HttpResponse, ServiceError> {
    let p = caller.principal()?;
    let req: UpdateDestination = parse_json(&body)?;
    let changed = service::update(
        &state,
        p,
        &id,
        DestinationChange {
            name: req.name,
            config: req.config,
            grants: req.grants,
            enabled: req.enabled,
            min_severity: req.min_severity,
            secrets: req.secrets,
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(DestinationResource::from(changed)))
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
) -> Result<HttpResponse, ServiceError> {
    let p = caller.principal()?;
    service::disable(&state, p, &id).await?;
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
) -> Result<HttpResponse, ServiceError> {
    let p = caller.principal()?;
    let result = service::send_test(&state, p, &id).await?;
    Ok(HttpResponse::Ok().json(result))
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
) -> Result<HttpResponse, ServiceError> {
    let p = caller.principal()?;
    let replayed = service::replay_dead_letters(&state, p, &id).await?;
    Ok(HttpResponse::Ok().json(ReplayCount { replayed }))
}

// ---------------------------------------------------------------------------------------------
// deliveries

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DeliveryParams {
    /// `queued`, `in_flight`, `delivered`, `failed`, `dead` or `withheld`.
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
) -> Result<HttpResponse, ServiceError> {
    let params = params.into_inner();
    let query = DeliveryQuery {
        status: params.status,
        destination_id: params.destination_id,
        advisory: params.advisory,
        limit: params.limit.unwrap_or(200),
        offset: params.offset.unwrap_or(0),
    };
    let page = crate::service::deliveries::list(&state, caller.principal()?, query).await?;
    let body: Vec<DeliveryResource> = page
        .into_iter()
        .map(|(d, attempts)| DeliveryResource::new(d, attempts))
        .collect();
    Ok(HttpResponse::Ok().json(body))
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
) -> Result<HttpResponse, ServiceError> {
    let p = caller.principal()?.clone();
    let id = id.into_inner();
    let body = state
        .db(move |conn| {
            let (d, _) = service::visible_delivery(conn, &p, &id)?;
            Ok(DeliveryResource::load(conn, d)?)
        })
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
) -> Result<HttpResponse, ServiceError> {
    let p = caller.principal()?;
    let replayed = service::replay_delivery(&state, p, &id).await?;
    let body = state
        .db(move |conn| Ok(DeliveryResource::load(conn, replayed)?))
        .await?;
    Ok(HttpResponse::Ok().json(body))
}
