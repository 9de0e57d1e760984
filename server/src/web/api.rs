//! REST API under `/api/v1`, described by the OpenAPI document at `/api/v1/openapi.json`, which
//! utoipa generates from these handlers so the two cannot drift apart.

use actix_web::{HttpResponse, web};
use herald_csaf::AdvisorySummary;
use herald_storage::{accounts::Scope, advisories::AdvisoryFilter};
use serde::{Deserialize, Serialize};
use utoipa::OpenApi;

use crate::error::{ErrorBody, FieldError, FindingBody, ServiceError};
use crate::publish::{Published, csaf_url, portal_url};
use crate::service::publish::{Submitted, submit_document};
use crate::state::AppState;
use crate::web::auth::{ApiCaller, ReadCaller};
use crate::web::destinations;

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
        crate::web::customers::list_installed_base, crate::web::customers::add_installed_product,
        crate::web::customers::list_customer_installed_base, crate::web::customers::confirm_installed_product,
        crate::web::customers::remove_installed_product, crate::web::customers::list_subscriptions,
        crate::web::customers::get_subscription, crate::web::customers::put_subscription,
        crate::web::customers::list_customers, crate::web::customers::add_customer,
        crate::web::customers::remove_customer, crate::web::customers::list_grants,
        crate::web::customers::create_grant, crate::web::customers::revoke_grant,
        crate::web::templates::list_templates, crate::web::templates::put_template,
        crate::web::templates::delete_template,
        crate::web::catalog::list_products, crate::web::catalog::create_product,
        crate::web::catalog::update_product,
        crate::web::drafts::list_drafts, crate::web::drafts::create_draft,
        crate::web::drafts::get_draft, crate::web::drafts::put_draft,
        crate::web::drafts::preview_draft, crate::web::drafts::submit_draft,
        crate::web::drafts::publish_draft, crate::web::drafts::discard_draft,
        crate::web::drafts::get_settings, crate::web::drafts::put_settings,
        crate::web::users::unlock_user,
    ),
    components(schemas(
        AdvisoryResource, Published, PendingPublication, ErrorBody, FindingBody, FieldError, crate::web::Health,
        destinations::DestinationResource, destinations::CreateDestination,
        destinations::UpdateDestination, destinations::TestResult, destinations::ReplayCount,
        destinations::DeliveryResource, destinations::AttemptResource,
        crate::web::customers::InstalledProductResource, crate::web::customers::AddInstalledProduct,
        crate::web::customers::SubscriptionBody, crate::web::customers::SubscriptionResource,
        crate::web::customers::CustomerResource, crate::web::customers::AddCustomer,
        crate::web::customers::GrantResource, crate::web::customers::CreateGrant,
        crate::web::templates::TemplateResource, crate::web::templates::TemplateList,
        crate::web::templates::PutTemplate,
        crate::web::catalog::ProductResource, crate::web::catalog::CatalogTree,
        crate::web::catalog::VendorResource, crate::web::catalog::FamilyResource,
        crate::web::catalog::ProductNodeResource, crate::web::catalog::CreateProduct,
        crate::web::catalog::UpdateProduct,
        crate::authoring::DraftView, crate::authoring::Preview,
        crate::web::drafts::CreateDraft, crate::web::drafts::DraftPublished,
        crate::web::drafts::AuthoringSettings,
        crate::web::users::Unlocked,
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
        .configure(destinations::configure)
        .configure(crate::web::customers::configure)
        .configure(crate::web::workspace::configure)
        .configure(crate::web::templates::configure)
        .configure(crate::web::catalog::configure)
        .configure(crate::web::drafts::configure)
        .configure(crate::web::releases::configure)
        .configure(crate::web::lifecycle::configure)
        .configure(crate::web::users::configure);
}

async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(openapi())
}

/// The whole OpenAPI document: [`ApiDoc`] and the parts modules describe themselves.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(crate::web::releases::ReleasesApi::openapi());
    doc.merge(crate::web::lifecycle::LifecycleApi::openapi());
    doc.merge(crate::web::workspace::WorkspaceApi::openapi());
    doc
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

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Free text over title, tracking id, CVE and product names (case-insensitive substring; `%`
    /// and `_` are literal). At most 200 characters.
    pub q: Option<String>,
    /// One CVE id, e.g. `CVE-2026-12345` (exact, any case).
    pub cve: Option<String>,
    /// A catalog product id: only advisories naming that product.
    pub product: Option<String>,
    /// Highest CVSS severity: `critical`, `high`, `medium`, `low` or `none` (`none` also matches
    /// advisories without a score).
    pub severity: Option<String>,
    /// Current release date on or after this day (`YYYY-MM-DD`, UTC).
    pub from: Option<String>,
    /// Current release date on or before this day (`YYYY-MM-DD`, UTC).
    pub to: Option<String>,
    /// `newest` (default), `oldest`, `severity` (highest CVSS first), `title`, `tracking_id`.
    pub sort: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(value_type = Option<i64>)]
    pub limit: Option<String>,
    /// How many matches to skip (default 0). Past the end the answer is an empty list.
    #[param(value_type = Option<i64>)]
    pub offset: Option<String>,
}

/// Largest page the API serves.
const MAX_API_LIMIT: i64 = 200;

/// Lists published advisories the caller may see, newest first unless `sort` says otherwise.
/// The body is one page; `X-Total-Count` gives the number of matches over all pages and `Link`
/// (RFC 8288) the `first`, `prev`, `next` and `last` pages with the same query.
#[utoipa::path(get, path = "/api/v1/advisories", params(ListParams),
    responses(
        (status = 200, body = [AdvisoryResource], headers(
            ("X-Total-Count" = i64, description = "Matches over all pages"),
            ("Link" = String, description = "first, prev, next and last pages (RFC 8288)"),
        )),
        (status = 400, body = ErrorBody, description = "A parameter is invalid; the message names it"),
        (status = 401, body = ErrorBody),
    ),
    security((), ("bearer" = [])))]
pub async fn list_advisories(
    state: web::Data<AppState>,
    // A bad credential is refused (401) even where anonymous callers may read.
    caller: ReadCaller,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, ServiceError> {
    let parsed = crate::advisory_list::parse(&crate::advisory_list::ListParams {
        q: params.q.as_deref(),
        cve: params.cve.as_deref(),
        product: params.product.as_deref(),
        severity: params.severity.as_deref(),
        from: params.from.as_deref(),
        to: params.to.as_deref(),
        sort: params.sort.as_deref(),
    })
    .map_err(ServiceError::BadRequest)?;
    let limit = crate::advisory_list::bounded("limit", params.limit.as_deref(), 50, MAX_API_LIMIT)
        .map_err(ServiceError::BadRequest)?;
    let offset = match params
        .offset
        .as_deref()
        .map(str::trim)
        .filter(|o| !o.is_empty())
    {
        None => 0,
        Some(o) => o
            .parse::<i64>()
            .ok()
            .filter(|o| (0..=i64::from(i32::MAX)).contains(o))
            .ok_or_else(|| {
                ServiceError::BadRequest(format!(
                    "offset must be a whole number from 0 to {}",
                    i32::MAX
                ))
            })?,
    };
    let filter = AdvisoryFilter {
        reader: caller.reader.clone(),
        limit,
        offset,
        ..parsed
    };
    let rows = state
        .db(move |conn| Ok(herald_storage::advisories::list_advisories(conn, &filter)?))
        .await?;
    let body: Vec<AdvisoryResource> = rows
        .items
        .iter()
        .map(|r| AdvisoryResource::new(&state.config, &r.summary, &r.path))
        .collect();
    let mut resp = HttpResponse::Ok();
    resp.insert_header(("X-Total-Count", rows.total.to_string()));
    private_if_personal(&mut resp, &caller);
    resp.insert_header((
        actix_web::http::header::LINK,
        page_links(&state.config.base_url, &params, limit, offset, rows.total),
    ));
    Ok(resp.json(body))
}

/// The RFC 8288 `Link` header of a list page: the same query at other offsets.
fn page_links(base_url: &str, params: &ListParams, limit: i64, offset: i64, total: i64) -> String {
    let url = |at: i64| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in [
            ("q", &params.q),
            ("cve", &params.cve),
            ("product", &params.product),
            ("severity", &params.severity),
            ("from", &params.from),
            ("to", &params.to),
            ("sort", &params.sort),
        ] {
            if let Some(v) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                query.append_pair(key, v);
            }
        }
        query.append_pair("limit", &limit.to_string());
        query.append_pair("offset", &at.to_string());
        format!(
            "<{}/api/v1/advisories?{}>",
            base_url.trim_end_matches('/'),
            query.finish()
        )
    };
    let last = if total == 0 {
        0
    } else {
        (total - 1) / limit * limit
    };
    let mut links = vec![format!("{}; rel=\"first\"", url(0))];
    if offset > 0 {
        links.push(format!(
            "{}; rel=\"prev\"",
            url((offset - limit).clamp(0, last))
        ));
    }
    if offset + limit < total {
        links.push(format!("{}; rel=\"next\"", url(offset + limit)));
    }
    links.push(format!("{}; rel=\"last\"", url(last)));
    links.join(", ")
}

/// Answers built for an authenticated caller depend on its entitlements: no shared cache may
/// keep them.
pub(crate) fn private_if_personal(resp: &mut actix_web::HttpResponseBuilder, caller: &ReadCaller) {
    if caller.is_personal() {
        resp.insert_header((actix_web::http::header::CACHE_CONTROL, "private"));
        resp.insert_header((actix_web::http::header::VARY, "Authorization, Cookie"));
    }
}

/// One advisory by tracking id (its current revision).
#[utoipa::path(get, path = "/api/v1/advisories/{tracking_id}",
    params(("tracking_id" = String, Path, description = "CSAF /document/tracking/id")),
    responses((status = 200, body = AdvisoryResource), (status = 404, body = ErrorBody)),
    security((), ("bearer" = [])))]
pub async fn get_advisory(
    state: web::Data<AppState>,
    caller: ReadCaller,
    tracking_id: web::Path<String>,
) -> Result<HttpResponse, ServiceError> {
    let tracking_id = tracking_id.into_inner();
    let reader = caller.reader.clone();
    let row = state
        .db(move |conn| {
            let Some(row) = herald_storage::advisories::get_advisory(conn, &tracking_id)? else {
                return Ok(None);
            };
            // Not entitled looks exactly like not there: the existence of a restricted
            // advisory is itself restricted information.
            Ok(herald_storage::entitlement::may_read(conn, &reader, &row.id)?.then_some(row))
        })
        .await?
        .ok_or(ServiceError::NotFound)?;
    let mut resp = HttpResponse::Ok();
    private_if_personal(&mut resp, &caller);
    Ok(resp.json(AdvisoryResource::new(
        &state.config,
        &row.summary,
        &row.path,
    )))
}

/// A publication held for approval under the four-eyes rule.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PendingPublication {
    /// Id of the pending publication (a submitted draft carrying the document as uploaded).
    pub pending: String,
    /// Where an approver who is not the submitter approves it (`POST`).
    pub approve: String,
    pub draft: crate::authoring::DraftView,
}

/// Publishes a CSAF 2.0 document (a new advisory or a new revision of one). With the four-eyes
/// rule on, a document from someone who is not an approver is held for approval instead (202).
#[utoipa::path(post, path = "/api/v1/advisories",
    request_body(content = Object, content_type = "application/json", description = "A CSAF 2.0 document"),
    responses(
        (status = 201, body = Published),
        (status = 202, body = PendingPublication, description = "Held for approval (four-eyes rule)"),
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
) -> Result<HttpResponse, ServiceError> {
    let p = caller.require(Scope::Publish)?.clone();
    if body.len() > herald_csaf::MAX_DOCUMENT_BYTES {
        return Err(ServiceError::TooLarge(format!(
            "the document has {} bytes; the limit is {}",
            body.len(),
            herald_csaf::MAX_DOCUMENT_BYTES
        )));
    }
    let config = state.config.clone();
    let submitted = state
        .db(move |conn| submit_document(conn, &config, &p, &body))
        .await?;
    Ok(match submitted {
        Submitted::Published(published) => HttpResponse::Created()
            .insert_header((
                actix_web::http::header::LOCATION,
                published.csaf_url.clone(),
            ))
            .json(published),
        Submitted::Held(draft) => {
            let location = format!("/api/v1/drafts/{}", draft.id);
            HttpResponse::Accepted()
                .insert_header((actix_web::http::header::LOCATION, location.clone()))
                .json(PendingPublication {
                    pending: draft.id.clone(),
                    approve: format!("{location}/publish"),
                    draft: *draft,
                })
        }
    })
}
