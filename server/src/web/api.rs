//! REST API under `/api/v1`, described by the OpenAPI document at `/api/v1/openapi.json`, which
//! utoipa generates from these handlers so the two cannot drift apart.

use actix_web::{HttpResponse, web};
use herald_csaf::AdvisorySummary;
use herald_storage::{AdvisoryFilter, Scope};
use serde::{Deserialize, Serialize};
use utoipa::OpenApi;

use crate::publish::{Published, csaf_url, portal_url, publish_document};
use crate::state::AppState;
use crate::web::auth::ApiCaller;
use crate::web::destinations;
use crate::web::error::{ErrorBody, FieldError, FindingBody, WebError};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Herald API",
        description = "Security advisories (CSAF 2.0) of a medical-device manufacturer for its hospital customers."
    ),
    paths(
        list_advisories, get_advisory, create_advisory, crate::web::healthz,
        crate::web::metrics::metrics,
        destinations::list_destinations, destinations::create_destination,
        destinations::get_destination, destinations::update_destination,
        destinations::disable_destination, destinations::test_destination,
        destinations::replay_dead_letters, destinations::list_deliveries,
        destinations::get_delivery, destinations::replay_delivery,
    ),
    components(schemas(
        AdvisoryResource, Published, ErrorBody, FindingBody, FieldError, crate::web::Health,
        destinations::DestinationResource, destinations::CreateDestination,
        destinations::UpdateDestination, destinations::TestResult, destinations::ReplayCount,
        destinations::DeliveryResource, destinations::AttemptResource,
    )),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/openapi.json", web::get().to(openapi_json))
        .route("/advisories", web::get().to(list_advisories))
        .route("/advisories", web::post().to(create_advisory))
        .route("/advisories/{tracking_id}", web::get().to(get_advisory))
        .configure(destinations::configure);
}

async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

/// An advisory as the API returns it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdvisoryResource {
    pub tracking_id: String,
    pub title: String,
    pub version: String,
    pub status: String,
    pub category: String,
    /// `WHITE`, `GREEN`, `AMBER`, `RED`, or absent when the document carries no label.
    pub tlp: Option<String>,
    pub severity: Option<String>,
    pub cvss_score: Option<f64>,
    pub initial_release_date: String,
    pub current_release_date: String,
    pub cves: Vec<String>,
    pub csaf_url: String,
    pub portal_url: String,
}

impl AdvisoryResource {
    fn new(config: &crate::config::Config, summary: &AdvisorySummary, path: &str) -> Self {
        Self {
            tracking_id: summary.tracking_id.clone(),
            title: summary.title.clone(),
            version: summary.version.clone(),
            status: summary.status.clone(),
            category: summary.category.clone(),
            tlp: summary.tlp.map(|t| format!("{t:?}").to_ascii_uppercase()),
            severity: summary.severity.clone(),
            cvss_score: summary.max_cvss,
            initial_release_date: summary.initial_release_date.to_rfc3339(),
            current_release_date: summary.current_release_date.to_rfc3339(),
            cves: summary.cves(),
            csaf_url: csaf_url(config, path),
            portal_url: portal_url(config, &summary.tracking_id),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ListParams {
    /// Free text over title, tracking id, CVE and product names.
    pub q: Option<String>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// Lists published advisories, newest first.
#[utoipa::path(get, path = "/api/v1/advisories", params(ListParams),
    responses((status = 200, body = [AdvisoryResource]), (status = 401, body = ErrorBody)),
    security((), ("bearer" = [])))]
pub async fn list_advisories(
    state: web::Data<AppState>,
    // Extracted so that a bad credential is refused (401) even where anonymous callers may read.
    _caller: ApiCaller,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, WebError> {
    let limit = params.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(WebError::BadRequest(
            "limit must be between 1 and 200".into(),
        ));
    }
    let filter = AdvisoryFilter {
        text: params.q.clone().filter(|q| !q.trim().is_empty()),
        tlps: crate::web::auth::listed_tlps(),
        limit,
        offset: params.offset.unwrap_or(0).max(0),
    };
    let rows = state
        .db(move |conn| Ok(herald_storage::list_advisories(conn, &filter)?))
        .await?;
    let body: Vec<AdvisoryResource> = rows
        .items
        .iter()
        .map(|r| AdvisoryResource::new(&state.config, &r.summary, &r.path))
        .collect();
    Ok(HttpResponse::Ok().json(body))
}

/// One advisory by tracking id (its current revision).
#[utoipa::path(get, path = "/api/v1/advisories/{tracking_id}",
    params(("tracking_id" = String, Path, description = "CSAF /document/tracking/id")),
    responses((status = 200, body = AdvisoryResource), (status = 404, body = ErrorBody)),
    security((), ("bearer" = [])))]
pub async fn get_advisory(
    state: web::Data<AppState>,
    _caller: ApiCaller,
    tracking_id: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let tracking_id = tracking_id.into_inner();
    let row = state
        .db(move |conn| Ok(herald_storage::get_advisory(conn, &tracking_id)?))
        .await?
        .ok_or(WebError::NotFound)?;
    // Not entitled looks exactly like not there: the existence of a restricted advisory is itself
    // restricted information.
    if !crate::web::auth::listed_tlps().contains(&row.summary.distribution_tlp()) {
        return Err(WebError::NotFound);
    }
    Ok(HttpResponse::Ok().json(AdvisoryResource::new(
        &state.config,
        &row.summary,
        &row.path,
    )))
}

/// Publishes a CSAF 2.0 document (a new advisory or a new revision of one).
#[utoipa::path(post, path = "/api/v1/advisories",
    request_body(content = Object, content_type = "application/json", description = "A CSAF 2.0 document"),
    responses(
        (status = 201, body = Published),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "Same or older version of a known advisory"),
        (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "Invalid: every failed test with id, JSON path and message"),
    ),
    security(("bearer" = [])))]
pub async fn create_advisory(
    state: web::Data<AppState>,
    caller: ApiCaller,
    body: web::Bytes,
) -> Result<HttpResponse, WebError> {
    let token = caller.require(Scope::Publish)?.clone();
    if body.len() > herald_csaf::MAX_DOCUMENT_BYTES {
        return Err(WebError::TooLarge(format!(
            "the document has {} bytes; the limit is {}",
            body.len(),
            herald_csaf::MAX_DOCUMENT_BYTES
        )));
    }
    let config = state.config.clone();
    let published = state
        .db(move |conn| {
            let actor = format!("token:{}", token.id);
            Ok(publish_document(
                conn,
                &config,
                &body,
                &token.org_id,
                &actor,
            )?)
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            actix_web::http::header::LOCATION,
            published.csaf_url.clone(),
        ))
        .json(published))
}
