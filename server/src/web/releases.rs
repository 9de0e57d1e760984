//! REST resources of releases and patches (`/api/v1/releases`): the manufacturer's releases,
//! creating one, and publishing it (which revises every advisory it fixes through the one
//! publish path and announces each revision as `patch.available`). Thin adapter over
//! [`crate::service::releases`]; described in the OpenAPI document by [`ReleasesApi`].

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use herald_storage::{
    accounts::Scope, catalog::CatalogProduct, releases::NewRelease, releases::Release,
};
use serde::{Deserialize, Serialize};

use crate::error::{ErrorBody, ServiceError};
use crate::publish::Published;
use crate::service::releases::{self as service, FixOutcome};
use crate::state::AppState;
use crate::web::auth::ApiCaller;
use crate::web::catalog::ProductResource;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/releases", web::get().to(list_releases))
        .route("/releases", web::post().to(create_release))
        .route("/releases/{id}", web::get().to(get_release))
        .route("/releases/{id}/publish", web::post().to(publish_release));
}

/// This module's part of the OpenAPI document (merged into [`crate::web::api::ApiDoc`]'s).
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list_releases, create_release, get_release, publish_release),
    components(schemas(
        ReleaseResource,
        ReleaseFixResource,
        CreateRelease,
        ReleasePublishedResource,
        FixOutcomeResource
    ))
)]
pub struct ReleasesApi;

/// A release of a product line.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReleaseResource {
    pub id: String,
    pub name: String,
    /// The catalog version it produces (created in the catalog when missing).
    pub produced: ProductResource,
    /// The catalog versions it updates.
    pub applies_to: Vec<ProductResource>,
    pub release_date: DateTime<Utc>,
    /// `over_the_air`, `service_engineer`, `hospital_it`, `download` or `other`.
    pub delivery: String,
    /// Whether the release needed regulatory review before it shipped.
    pub regulatory_review: bool,
    pub install_notes: String,
    pub known_issues: String,
    /// Where to download or order it.
    pub url: Option<String>,
    /// `draft`, `pending` (a revision waits for the four-eyes approval) or `published`.
    pub state: String,
    pub fixes: Vec<ReleaseFixResource>,
    pub created_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
}

/// An advisory the release fixes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReleaseFixResource {
    pub tracking_id: String,
    pub title: String,
    /// The advisory's revision that carries the fix, once published.
    pub revision_version: Option<String>,
    /// The pending publication (draft id) while the four-eyes rule waits for an approver.
    pub pending_draft_id: Option<String>,
}

fn product(p: CatalogProduct) -> ProductResource {
    p.into()
}

impl From<Release> for ReleaseResource {
    fn from(r: Release) -> Self {
        Self {
            id: r.id,
            name: r.name,
            produced: product(r.produced),
            applies_to: r.applies_to.into_iter().map(product).collect(),
            release_date: r.release_date,
            delivery: r.delivery,
            regulatory_review: r.regulatory_review,
            install_notes: r.install_notes,
            known_issues: r.known_issues,
            url: r.url,
            state: r.state.as_str().to_string(),
            fixes: r
                .fixes
                .into_iter()
                .map(|f| ReleaseFixResource {
                    tracking_id: f.tracking_id,
                    title: f.title,
                    revision_version: f.revision_version,
                    pending_draft_id: f.draft_id,
                })
                .collect(),
            created_at: r.created_at,
            published_at: r.published_at,
        }
    }
}

/// A new release (state `draft`; publish it with `POST /api/v1/releases/{id}/publish`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRelease {
    pub name: String,
    /// Catalog product ids of the versions it updates (one product line).
    pub applies_to: Vec<String>,
    /// The version it produces, e.g. `4.3.1`.
    pub produced_version: String,
    /// Defaults to now.
    pub release_date: Option<DateTime<Utc>>,
    /// `over_the_air`, `service_engineer`, `hospital_it`, `download` or `other`.
    pub delivery: String,
    #[serde(default)]
    pub regulatory_review: bool,
    #[serde(default)]
    pub install_notes: String,
    #[serde(default)]
    pub known_issues: String,
    pub url: Option<String>,
    /// Tracking ids of the published advisories it fixes.
    #[serde(default)]
    pub fixes: Vec<String>,
}

/// What publishing a release did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReleasePublishedResource {
    pub release: ReleaseResource,
    pub fixes: Vec<FixOutcomeResource>,
}

/// One fixed advisory: its new revision, or the pending publication under four-eyes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FixOutcomeResource {
    pub tracking_id: String,
    /// The published revision (absent while held for approval).
    pub published: Option<Published>,
    /// The pending publication's draft id (four-eyes).
    pub pending_draft_id: Option<String>,
}

/// The manufacturer's releases, newest first.
#[utoipa::path(get, path = "/api/v1/releases",
    responses((status = 200, body = [ReleaseResource]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_releases(
    state: web::Data<AppState>,
    api: ApiCaller,
) -> Result<HttpResponse, ServiceError> {
    let p = api.require(Scope::Read)?.clone();
    let releases = state.db(move |conn| service::list(conn, &p)).await?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "private, no-store"))
        .json(
            releases
                .into_iter()
                .map(ReleaseResource::from)
                .collect::<Vec<_>>(),
        ))
}

/// Creates a release of the caller's manufacturer (state `draft`). 422 names the field at
/// fault (a version not in the catalog, versions of two product lines, an advisory that is not
/// the manufacturer's, a range as the produced version, ...); nothing is written then.
#[utoipa::path(post, path = "/api/v1/releases", request_body = CreateRelease,
    responses(
        (status = 201, body = ReleaseResource), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn create_release(
    state: web::Data<AppState>,
    api: ApiCaller,
    body: web::Bytes,
) -> Result<HttpResponse, ServiceError> {
    let p = api.require(Scope::Publish)?.clone();
    let new: CreateRelease = crate::error::parse_json(&body)?;
    let release = NewRelease {
        name: new.name,
        applies_to: new.applies_to,
        produced_version: new.produced_version,
        release_date: new.release_date,
        delivery: new.delivery,
        regulatory_review: new.regulatory_review,
        install_notes: new.install_notes,
        known_issues: new.known_issues,
        url: new.url,
        fixes: new.fixes,
    };
    let created = state
        .db(move |conn| service::create(conn, &p, &release))
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            actix_web::http::header::LOCATION,
            format!(
                "{}/api/v1/releases/{}",
                state.config.base_url.trim_end_matches('/'),
                created.id
            ),
        ))
        .json(ReleaseResource::from(created)))
}

/// One release of the caller's manufacturer.
#[utoipa::path(get, path = "/api/v1/releases/{id}", params(("id" = String, Path)),
    responses((status = 200, body = ReleaseResource), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_release(
    state: web::Data<AppState>,
    api: ApiCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ServiceError> {
    let p = api.require(Scope::Read)?.clone();
    let id = id.into_inner();
    let release = state.db(move |conn| service::get(conn, &p, &id)).await?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "private, no-store"))
        .json(ReleaseResource::from(release)))
}

/// Publishes the release: every advisory it fixes gets a new revision with a `vendor_fix`
/// remediation, the produced version as `fixed`, validated, signed, in the feeds, announced once
/// as `patch.available`. Under the four-eyes rule a caller who is not an approver gets each
/// revision held for approval (the release is `pending`). 409 when it is no longer a draft;
/// 422 naming the advisory and JSON path when a document cannot take the fix (nothing changes).
#[utoipa::path(post, path = "/api/v1/releases/{id}/publish", params(("id" = String, Path)),
    responses(
        (status = 201, body = ReleasePublishedResource), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn publish_release(
    state: web::Data<AppState>,
    api: ApiCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ServiceError> {
    let p = api.require(Scope::Publish)?.clone();
    let id = id.into_inner();
    let config = state.config.clone();
    let done = state
        .db(move |conn| service::publish(conn, &config, &p, &id, Utc::now()))
        .await?;
    Ok(HttpResponse::Created().json(ReleasePublishedResource {
        release: done.release.into(),
        fixes: done
            .fixes
            .into_iter()
            .map(|f| match f {
                FixOutcome::Published(published) => FixOutcomeResource {
                    tracking_id: published.tracking_id.clone(),
                    published: Some(published),
                    pending_draft_id: None,
                },
                FixOutcome::Held {
                    tracking_id,
                    draft_id,
                } => FixOutcomeResource {
                    tracking_id,
                    published: None,
                    pending_draft_id: Some(draft_id),
                },
            })
            .collect(),
    }))
}
