//! REST resources of advisory authoring (`/api/v1/drafts`): list, create, read, replace and
//! discard drafts, start an update of a published advisory, preview the CSAF document a draft
//! would publish, submit it for approval and approve-and-publish it; and the authoring settings
//! (`/api/v1/authoring/settings`: the four-eyes rule). Bearer tokens of scope `publish`
//! of the manufacturer only; every rule (roles, four-eyes, stale base) is
//! [`crate::authoring`]'s.

use actix_web::{HttpResponse, web};
use herald_csaf::authoring::Draft;
use herald_storage::accounts::Scope;
use serde::{Deserialize, Serialize};

use crate::authoring::{self, Caller, DraftView, Preview};
use crate::error::{ErrorBody, ServiceError};
use crate::publish::Published;
use crate::state::AppState;
use crate::web::auth::ApiCaller;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/drafts", web::get().to(list_drafts))
        .route("/drafts", web::post().to(create_draft))
        .route("/drafts/{id}", web::get().to(get_draft))
        .route("/drafts/{id}", web::put().to(put_draft))
        .route("/drafts/{id}", web::delete().to(discard_draft))
        .route("/drafts/{id}/preview", web::get().to(preview_draft))
        .route("/drafts/{id}/submit", web::post().to(submit_draft))
        .route("/drafts/{id}/publish", web::post().to(publish_draft))
        .route("/authoring/settings", web::get().to(get_settings))
        .route("/authoring/settings", web::put().to(put_settings));
}

async fn caller(state: &AppState, api: &ApiCaller) -> Result<Caller, ServiceError> {
    let _ = state;
    let caller = api.require(Scope::Publish)?.clone();
    authoring::check_caller(&caller)?;
    Ok(caller)
}

fn parse_draft(body: &[u8]) -> Result<Draft, ServiceError> {
    crate::error::parse_json(body)
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListDraftsParams {
    /// `true`: only drafts still open (`draft`, `submitted`).
    pub open: Option<bool>,
}

/// The manufacturer's drafts, most recently changed first.
#[utoipa::path(get, path = "/api/v1/drafts", params(ListDraftsParams),
    responses((status = 200, body = [DraftView]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_drafts(
    state: web::Data<AppState>,
    api: ApiCaller,
    params: web::Query<ListDraftsParams>,
) -> Result<HttpResponse, ServiceError> {
    let caller = caller(&state, &api).await?;
    let open = params.open.unwrap_or(false);
    let list = state
        .db(move |conn| Ok(authoring::list(conn, &caller, open)?))
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// A new draft: either the content of a new advisory (a tracking id is assigned), or, with
/// `update_of`, the next revision of a published advisory filled from its current revision.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CreateDraft {
    /// Tracking id of a published advisory of this manufacturer to update.
    pub update_of: Option<String>,
    /// The draft content (for a new advisory).
    #[schema(value_type = Option<Object>)]
    pub draft: Option<Draft>,
}

#[utoipa::path(post, path = "/api/v1/drafts", request_body = CreateDraft,
    responses(
        (status = 201, body = DraftView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "update_of names no advisory of this manufacturer"),
        (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn create_draft(
    state: web::Data<AppState>,
    api: ApiCaller,
    body: web::Bytes,
) -> Result<HttpResponse, ServiceError> {
    let caller = caller(&state, &api).await?;
    let req: CreateDraft = crate::error::parse_json(&body)?;
    let config = state.config.clone();
    let created = state
        .db(move |conn| {
            Ok(match req.update_of {
                Some(tracking_id) => authoring::start_update(conn, &caller, &tracking_id)?,
                None => authoring::create(
                    conn,
                    &config,
                    &caller,
                    &req.draft.unwrap_or_default(),
                    chrono::Utc::now(),
                )?,
            })
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("/api/v1/drafts/{}", created.id),
        ))
        .json(created))
}

#[utoipa::path(get, path = "/api/v1/drafts/{id}", params(("id" = String, Path)),
    responses((status = 200, body = DraftView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_draft(
    state: web::Data<AppState>,
    api: ApiCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ServiceError> {
    let caller = caller(&state, &api).await?;
    let id = id.into_inner();
    let found = state
        .db(move |conn| Ok(authoring::get(conn, &caller, &id)?))
        .await?;
    Ok(HttpResponse::Ok().json(found))
}

/// Replaces the draft's content. A submitted draft returns to `draft` (it needs a new
/// submission); a published or discarded one is a conflict.
#[utoipa::path(put, path = "/api/v1/drafts/{id}", params(("id" = String, Path)),
    request_body(content = Object, description = "The draft content"),
    responses(
        (status = 200, body = DraftView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn put_draft(
    state: web::Data<AppState>,
    api: ApiCaller,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ServiceError> {
    let caller = caller(&state, &api).await?;
    let draft = parse_draft(&body)?;
    let id = id.into_inner();
    let saved = state
        .db(move |conn| Ok(authoring::save(conn, &caller, &id, &draft)?))
        .await?;
    Ok(HttpResponse::Ok().json(saved))
}

/// The CSAF document the draft would publish now, with the draft fields that keep it from being
/// built and the failed tests (test id, JSON path, message).
#[utoipa::path(get, path = "/api/v1/drafts/{id}/preview", params(("id" = String, Path)),
    responses((status = 200, body = Preview), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn preview_draft(
    state: web::Data<AppState>,
    api: ApiCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ServiceError> {
    let caller = caller(&state, &api).await?;
    let id = id.into_inner();
    let config = state.config.clone();
    let preview = state
        .db(move |conn| {
            Ok(authoring::preview(
                conn,
                &config,
                &caller,
                &id,
                chrono::Utc::now(),
            )?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(preview))
}

/// Submits the draft for approval; refused (422 with the failed tests or fields) when the
/// document it would publish is not valid.
#[utoipa::path(post, path = "/api/v1/drafts/{id}/submit", params(("id" = String, Path)),
    responses(
        (status = 200, body = DraftView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn submit_draft(
    state: web::Data<AppState>,
    api: ApiCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ServiceError> {
    let caller = caller(&state, &api).await?;
    let id = id.into_inner();
    let config = state.config.clone();
    let submitted = state
        .db(move |conn| {
            Ok(authoring::submit(
                conn,
                &config,
                &caller,
                &id,
                chrono::Utc::now(),
            )?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(submitted))
}

/// What approving and publishing a draft did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DraftPublished {
    pub published: Published,
    pub draft: DraftView,
}

/// Approves and publishes the draft through Herald's one publish path. 403 when the caller may
/// not (with four-eyes on: not an approver or admin, or the draft's author or last editor),
/// 409 when the advisory moved past the version the update started from, 422 with every failed
/// test or draft field when the document is not valid (nothing is published then).
#[utoipa::path(post, path = "/api/v1/drafts/{id}/publish", params(("id" = String, Path)),
    responses(
        (status = 201, body = DraftPublished), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn publish_draft(
    state: web::Data<AppState>,
    api: ApiCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ServiceError> {
    let caller = caller(&state, &api).await?;
    let id = id.into_inner();
    let config = state.config.clone();
    let (published, draft) = state
        .db(move |conn| {
            Ok(authoring::publish(
                conn,
                &config,
                &caller,
                &id,
                chrono::Utc::now(),
            )?)
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            actix_web::http::header::LOCATION,
            published.csaf_url.clone(),
        ))
        .json(DraftPublished { published, draft }))
}

/// Discards a draft (kept, marked `discarded`, for the audit trail); a published draft is a
/// conflict.
#[utoipa::path(delete, path = "/api/v1/drafts/{id}", params(("id" = String, Path)),
    responses(
        (status = 200, body = DraftView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn discard_draft(
    state: web::Data<AppState>,
    api: ApiCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ServiceError> {
    let caller = caller(&state, &api).await?;
    let id = id.into_inner();
    let discarded = state
        .db(move |conn| Ok(authoring::discard(conn, &caller, &id)?))
        .await?;
    Ok(HttpResponse::Ok().json(discarded))
}

/// The manufacturer's authoring rules.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuthoringSettings {
    /// On: whoever approves a publication may not have written or last edited it.
    pub four_eyes: bool,
}

#[utoipa::path(get, path = "/api/v1/authoring/settings",
    responses((status = 200, body = AuthoringSettings), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_settings(
    state: web::Data<AppState>,
    api: ApiCaller,
) -> Result<HttpResponse, ServiceError> {
    let caller = caller(&state, &api).await?;
    let four_eyes = state
        .db(move |conn| Ok(authoring::four_eyes(conn, &caller)?))
        .await?;
    Ok(HttpResponse::Ok().json(AuthoringSettings { four_eyes }))
}

/// Changes the authoring rules: a token of an admin of the manufacturer only (audited).
#[utoipa::path(put, path = "/api/v1/authoring/settings", request_body = AuthoringSettings,
    responses((status = 200, body = AuthoringSettings), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_settings(
    state: web::Data<AppState>,
    api: ApiCaller,
    body: web::Json<AuthoringSettings>,
) -> Result<HttpResponse, ServiceError> {
    let caller = caller(&state, &api).await?;
    let on = body.four_eyes;
    let four_eyes = state
        .db(move |conn| {
            authoring::set_four_eyes(conn, &caller, on)?;
            Ok(authoring::four_eyes(conn, &caller)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(AuthoringSettings { four_eyes }))
}
