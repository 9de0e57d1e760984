//! REST resource of a catalog product's end of support (`/api/v1/products/{id}/lifecycle`) and
//! its public OpenEoX record (`/lifecycle/{id}.json`). Thin adapter over
//! [`crate::service::lifecycle`]; described in the OpenAPI document by [`LifecycleApi`].

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use herald_csaf::lifecycle::{EoxDate, LifecycleDates};
use herald_storage::accounts::Scope;
use serde::{Deserialize, Serialize};

use crate::error::{ErrorBody, FieldError, ServiceError};
use crate::publish::Published;
use crate::service::lifecycle::{self as service, LifecycleView};
use crate::service::publish::Submitted;
use crate::state::AppState;
use crate::web::auth::{ApiCaller, ReadCaller};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/products/{id}/lifecycle", web::get().to(get_lifecycle))
        .route("/products/{id}/lifecycle", web::put().to(put_lifecycle));
}

/// The public record, registered at the root (`/lifecycle/{id}.json`).
pub fn configure_public(cfg: &mut web::ServiceConfig) {
    cfg.route("/lifecycle/{file}", web::get().to(openeox_record));
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(get_lifecycle, put_lifecycle, openeox_record),
    components(schemas(LifecycleResource, PutLifecycle, LifecycleSetResource))
)]
pub struct LifecycleApi;

/// A product's lifecycle. Dates are `YYYY-MM-DD`, `tba`, or absent when not announced.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LifecycleResource {
    pub product_id: String,
    pub product: String,
    pub version: Option<String>,
    pub general_availability: Option<String>,
    pub end_of_sales: Option<String>,
    pub end_of_standard_support: Option<String>,
    pub end_of_security_updates: Option<String>,
    pub compensating_controls: String,
    /// The informational advisory announcing the dates.
    pub advisory_tracking_id: Option<String>,
    /// The public OpenEoX record of these dates.
    pub openeox_url: String,
    pub updated_at: DateTime<Utc>,
}

fn resource(state: &AppState, v: LifecycleView) -> LifecycleResource {
    let d = &v.lifecycle.dates;
    let show = |x: Option<EoxDate>| x.map(|x| x.to_string());
    LifecycleResource {
        openeox_url: service::openeox_url(&state.config, &v.product.id),
        product_id: v.product.id,
        product: v.product.name,
        version: v.product.version,
        general_availability: show(d.general_availability),
        end_of_sales: show(d.end_of_sales),
        end_of_standard_support: show(d.end_of_standard_support),
        end_of_security_updates: show(d.end_of_security_updates),
        compensating_controls: d.compensating_controls.clone(),
        advisory_tracking_id: v.lifecycle.advisory_tracking_id,
        updated_at: v.lifecycle.updated_at,
    }
}

/// The dates to announce (each `YYYY-MM-DD` or `tba`; absent or `null`: not announced).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutLifecycle {
    pub general_availability: Option<String>,
    pub end_of_sales: Option<String>,
    pub end_of_standard_support: Option<String>,
    pub end_of_security_updates: Option<String>,
    #[serde(default)]
    pub compensating_controls: String,
}

/// Parses a form's or the API's dates; every bad field is named.
pub fn parse_dates(
    fields: [(&str, Option<&str>); 4],
    compensating_controls: String,
) -> Result<LifecycleDates, ServiceError> {
    let mut problems = Vec::new();
    let mut parsed = [None; 4];
    for (i, (field, value)) in fields.iter().enumerate() {
        match value.map(str::trim).filter(|v| !v.is_empty()) {
            None => {}
            Some(v) => match EoxDate::parse(v) {
                Ok(d) => parsed[i] = Some(d),
                Err(message) => problems.push(FieldError {
                    field: (*field).to_string(),
                    message,
                }),
            },
        }
    }
    if !problems.is_empty() {
        return Err(ServiceError::InvalidFields(problems));
    }
    Ok(LifecycleDates {
        general_availability: parsed[0],
        end_of_sales: parsed[1],
        end_of_standard_support: parsed[2],
        end_of_security_updates: parsed[3],
        compensating_controls,
    })
}

/// What setting the dates did: the lifecycle and the generated informational advisory,
/// published or (four-eyes) held for approval.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LifecycleSetResource {
    pub lifecycle: LifecycleResource,
    pub published: Option<Published>,
    /// The pending publication's draft id (four-eyes).
    pub pending_draft_id: Option<String>,
}

/// A product's lifecycle, for anyone who may see the product (404 otherwise, or when no dates
/// are announced).
#[utoipa::path(get, path = "/api/v1/products/{id}/lifecycle", params(("id" = String, Path)),
    responses((status = 200, body = LifecycleResource), (status = 404, body = ErrorBody)),
    security((), ("bearer" = [])))]
pub async fn get_lifecycle(
    state: web::Data<AppState>,
    caller: ReadCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ServiceError> {
    let reader = caller.reader.clone();
    let id = id.into_inner();
    let view = state
        .db(move |conn| service::get(conn, &reader, &id))
        .await?;
    let mut resp = HttpResponse::Ok();
    crate::web::api::private_if_personal(&mut resp, &caller);
    Ok(resp.json(resource(&state, view)))
}

/// Sets a product's lifecycle dates and publishes the informational advisory generated from
/// them through the one publish path (held for approval under four-eyes). 422 names each bad
/// date.
#[utoipa::path(put, path = "/api/v1/products/{id}/lifecycle", params(("id" = String, Path)),
    request_body = PutLifecycle,
    responses(
        (status = 200, body = LifecycleSetResource), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn put_lifecycle(
    state: web::Data<AppState>,
    api: ApiCaller,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ServiceError> {
    let p = api.require(Scope::Publish)?.clone();
    let put: PutLifecycle = crate::error::parse_json(&body)?;
    let dates = parse_dates(
        [
            ("general_availability", put.general_availability.as_deref()),
            ("end_of_sales", put.end_of_sales.as_deref()),
            (
                "end_of_standard_support",
                put.end_of_standard_support.as_deref(),
            ),
            (
                "end_of_security_updates",
                put.end_of_security_updates.as_deref(),
            ),
        ],
        put.compensating_controls,
    )?;
    let id = id.into_inner();
    let config = state.config.clone();
    let set = state
        .db(move |conn| service::set(conn, &config, &p, &id, &dates, Utc::now()))
        .await?;
    let (published, pending_draft_id) = match set.advisory {
        Submitted::Published(p) => (Some(p), None),
        Submitted::Held(d) => (None, Some(d.id)),
    };
    Ok(HttpResponse::Ok().json(LifecycleSetResource {
        lifecycle: resource(&state, set.view),
        published,
        pending_draft_id,
    }))
}

/// The product's lifecycle as an OASIS OpenEoX Core (draft 1.0) record: public, dates only.
#[utoipa::path(get, path = "/lifecycle/{file}",
    params(("file" = String, Path, description = "`<product id>.json`")),
    responses((status = 200, description = "OpenEoX Core record", content_type = "application/json"),
        (status = 404, body = ErrorBody)))]
pub async fn openeox_record(
    state: web::Data<AppState>,
    file: web::Path<String>,
) -> Result<HttpResponse, ServiceError> {
    let id = file
        .into_inner()
        .strip_suffix(".json")
        .filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .ok_or(ServiceError::NotFound)?
        .to_string();
    let record = state
        .db(move |conn| service::openeox_record(conn, &id))
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((
            actix_web::http::header::CACHE_CONTROL,
            "public, max-age=300",
        ))
        .json(record))
}
