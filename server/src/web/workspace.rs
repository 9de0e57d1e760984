//! REST resources of the hospital's workspace: its sites (`/sites`), changes to installed-base
//! entries (`PUT /installed-base/{id}`), and remediation status per advisory and site
//! (`/advisories/{tracking_id}/remediation`). Thin adapters over [`crate::service::installed_base`]
//! and [`crate::service::remediation`]: parse, call one function, map the result. Their OpenAPI
//! description is [`WorkspaceApi`], merged into the API's document.

use actix_web::{HttpResponse, web};
use herald_storage::{
    installed_base::EntryUpdate, remediation::SiteStatus, sites::Site, sites::SiteInput,
};
use serde::{Deserialize, Serialize};

use crate::error::{ErrorBody, ServiceError, parse_json};
use crate::service::remediation::StatusChange;
use crate::service::{installed_base, installed_base_csv, remediation, uptake};
use crate::state::AppState;
use crate::web::auth::ApiCaller;
use crate::web::customers::InstalledProductResource;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/sites", web::get().to(list_sites))
        .route("/sites", web::post().to(create_site))
        .route("/sites/{id}", web::put().to(update_site))
        .route("/sites/{id}", web::delete().to(delete_site))
        .route("/installed-base/{id}", web::put().to(update_entry))
        .service(
            web::resource("/installed-base/import")
                .app_data(web::PayloadConfig::new(installed_base_csv::MAX_BYTES))
                .route(web::post().to(import_csv)),
        )
        .route("/installed-base/export", web::get().to(export_csv))
        .route(
            "/advisories/{tracking_id}/remediation",
            web::get().to(list_statuses),
        )
        .route(
            "/advisories/{tracking_id}/remediation/{site_id}",
            web::put().to(set_status),
        )
        .route(
            "/advisories/{tracking_id}/remediation/{site_id}/history",
            web::get().to(status_history),
        )
        .route(
            "/advisories/{tracking_id}/uptake",
            web::get().to(advisory_uptake),
        );
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list_sites,
        create_site,
        update_site,
        delete_site,
        update_entry,
        list_statuses,
        set_status,
        status_history,
        import_csv,
        export_csv,
        advisory_uptake,
    ),
    components(schemas(
        SiteResource,
        SiteBody,
        UpdateEntry,
        StatusResource,
        StatusBody,
        installed_base_csv::ImportReport,
        installed_base_csv::PlannedEntry,
        installed_base_csv::RowProblem,
        installed_base_csv::ProblemKind,
        uptake::Uptake,
        uptake::CustomerUptake,
    ))
)]
pub struct WorkspaceApi;

// ---------------------------------------------------------------------------------------------
// sites

/// One of the hospital's sites.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SiteResource {
    pub id: String,
    pub name: String,
    /// The hospital's own short reference, unique per hospital.
    pub code: Option<String>,
    pub address: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Site> for SiteResource {
    fn from(s: Site) -> Self {
        Self {
            id: s.id,
            name: s.name,
            code: s.code,
            address: s.address,
            created_at: s.created_at.to_rfc3339(),
            updated_at: s.updated_at.to_rfc3339(),
        }
    }
}

/// A site as the hospital describes it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SiteBody {
    /// 1-200 printable characters, unique per hospital.
    pub name: String,
    pub code: Option<String>,
    pub address: Option<String>,
}

impl From<SiteBody> for SiteInput {
    fn from(b: SiteBody) -> Self {
        SiteInput {
            name: b.name,
            code: b.code,
            address: b.address,
        }
    }
}

/// The caller's sites (hospital tokens).
#[utoipa::path(get, path = "/api/v1/sites",
    responses((status = 200, body = [SiteResource]),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_sites(
    state: web::Data<AppState>,
    caller: ApiCaller,
) -> Result<HttpResponse, ServiceError> {
    let sites = installed_base::list_sites(&state, caller.principal()?).await?;
    let body: Vec<SiteResource> = sites.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(body))
}

/// Adds a site (hospital admin tokens).
#[utoipa::path(post, path = "/api/v1/sites", request_body = SiteBody,
    responses((status = 201, body = SiteResource),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "Name or code taken by another site"),
        (status = 422, body = ErrorBody, description = "Empty or overlong name, bad text")),
    security(("bearer" = [])))]
pub async fn create_site(
    state: web::Data<AppState>,
    caller: ApiCaller,
    body: web::Bytes,
) -> Result<HttpResponse, ServiceError> {
    let p = caller.principal()?;
    p.require_hospital_admin()?;
    let req: SiteBody = parse_json(&body)?;
    let site = installed_base::create_site(&state, p, req.into()).await?;
    Ok(HttpResponse::Created().json(SiteResource::from(site)))
}

/// Renames or re-addresses a site (hospital admin tokens).
#[utoipa::path(put, path = "/api/v1/sites/{id}", request_body = SiteBody,
    params(("id" = String, Path, description = "Site id")),
    responses((status = 200, body = SiteResource), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_site(
    state: web::Data<AppState>,
    caller: ApiCaller,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ServiceError> {
    let p = caller.principal()?;
    p.require_hospital_admin()?;
    let req: SiteBody = parse_json(&body)?;
    let site = installed_base::update_site(&state, p, &id, req.into()).await?;
    Ok(HttpResponse::Ok().json(SiteResource::from(site)))
}

/// Removes an empty site without remediation history (hospital admin tokens).
#[utoipa::path(delete, path = "/api/v1/sites/{id}",
    params(("id" = String, Path, description = "Site id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The site still has entries or a remediation history")),
    security(("bearer" = [])))]
pub async fn delete_site(
    state: web::Data<AppState>,
    caller: ApiCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ServiceError> {
    installed_base::delete_site(&state, caller.principal()?, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

// ---------------------------------------------------------------------------------------------
// entries

/// New quantity, serial numbers and notes of an entry (the product and the site stay).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEntry {
    /// Units without serial numbers, 1 to 1,000,000; with serials it must match their count.
    pub quantity: Option<i32>,
    /// Serial numbers (unique per hospital and product).
    #[serde(default)]
    pub serials: Vec<String>,
    pub notes: Option<String>,
}

/// Changes an entry of the caller's installed base (hospital admin tokens).
#[utoipa::path(put, path = "/api/v1/installed-base/{id}", request_body = UpdateEntry,
    params(("id" = String, Path, description = "Installed-base entry id")),
    responses((status = 200, body = InstalledProductResource), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "A serial number is already at another entry"),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_entry(
    state: web::Data<AppState>,
    caller: ApiCaller,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ServiceError> {
    let p = caller.principal()?;
    p.require_hospital_admin()?;
    let req: UpdateEntry = parse_json(&body)?;
    let entry = installed_base::update_entry(
        &state,
        p,
        &id,
        EntryUpdate {
            quantity: req.quantity,
            serials: req.serials,
            notes: req.notes,
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(InstalledProductResource::from(entry)))
}

// ---------------------------------------------------------------------------------------------
// remediation status

/// Where one of the caller's sites stands on an advisory.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StatusResource {
    pub site_id: String,
    /// received, under_assessment, mitigated, patched, not_applicable, risk_accepted
    pub status: String,
    pub reason: Option<String>,
    pub note: Option<String>,
    /// The release installed, as the hospital names it.
    pub release: Option<String>,
    /// Who set it (user:<id> or token:<id>).
    pub actor: String,
    pub at: String,
}

impl From<SiteStatus> for StatusResource {
    fn from(s: SiteStatus) -> Self {
        Self {
            site_id: s.site_id,
            status: s.state.as_str().to_owned(),
            reason: s.reason,
            note: s.note,
            release: s.release_ref,
            actor: s.actor,
            at: s.at.to_rfc3339(),
        }
    }
}

/// A site's new status for an advisory.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusBody {
    /// received, under_assessment, mitigated, patched, not_applicable, risk_accepted
    pub status: String,
    /// Why the advisory does not apply (required for not_applicable).
    pub reason: Option<String>,
    pub note: Option<String>,
    /// The release installed (free text).
    pub release: Option<String>,
}

/// The caller's current status per site for an advisory it may read (hospital tokens).
#[utoipa::path(get, path = "/api/v1/advisories/{tracking_id}/remediation",
    params(("tracking_id" = String, Path)),
    responses((status = 200, body = [StatusResource]), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_statuses(
    state: web::Data<AppState>,
    caller: ApiCaller,
    tracking_id: web::Path<String>,
) -> Result<HttpResponse, ServiceError> {
    let list = remediation::statuses(&state, caller.principal()?, &tracking_id).await?;
    let body: Vec<StatusResource> = list.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(body))
}

/// Sets one site's status for an advisory; the history keeps every earlier one (hospital admin
/// tokens).
#[utoipa::path(put, path = "/api/v1/advisories/{tracking_id}/remediation/{site_id}",
    request_body = StatusBody,
    params(("tracking_id" = String, Path), ("site_id" = String, Path)),
    responses((status = 200, body = StatusResource), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "Unknown status, not_applicable without a reason, bad text")),
    security(("bearer" = [])))]
pub async fn set_status(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ServiceError> {
    let p = caller.principal()?;
    p.require_hospital_admin()?;
    let req: StatusBody = parse_json(&body)?;
    let (tracking_id, site_id) = path.into_inner();
    let status = remediation::set_status(
        &state,
        p,
        &tracking_id,
        &site_id,
        StatusChange {
            status: req.status,
            reason: req.reason,
            note: req.note,
            release: req.release,
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(StatusResource::from(status)))
}

/// Every status one of the caller's sites has had for an advisory, oldest first.
#[utoipa::path(get, path = "/api/v1/advisories/{tracking_id}/remediation/{site_id}/history",
    params(("tracking_id" = String, Path), ("site_id" = String, Path)),
    responses((status = 200, body = [StatusResource]), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn status_history(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ServiceError> {
    let (tracking_id, site_id) = path.into_inner();
    let list = remediation::history(&state, caller.principal()?, &tracking_id, &site_id).await?;
    let body: Vec<StatusResource> = list.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(body))
}

// ---------------------------------------------------------------------------------------------
// CSV

/// `?confirm=true` writes; without it the import is a preview.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ImportQuery {
    /// Write the import (refused with 422, writing nothing, while any row has a problem).
    #[serde(default)]
    pub confirm: bool,
}

/// Imports installed-base entries from CSV (UTF-8; columns `site`, `site_code`, `product_id`,
/// `udi_di`, `product`, `version`, `quantity`, `serial`, `notes`): without `confirm` a preview
/// with a row-by-row report, with `confirm=true` the same, written in one transaction (hospital
/// admin tokens). At most 100,000 rows and 16 MiB.
#[utoipa::path(post, path = "/api/v1/installed-base/import", params(ImportQuery),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = installed_base_csv::ImportReport),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody, description = "More than 100,000 rows or 16 MiB"),
        (status = 422, body = ErrorBody, description = "Not UTF-8, no product column, or (confirmed) rows with problems")),
    security(("bearer" = [])))]
pub async fn import_csv(
    state: web::Data<AppState>,
    caller: ApiCaller,
    query: web::Query<ImportQuery>,
    body: web::Bytes,
) -> Result<HttpResponse, ServiceError> {
    let report =
        installed_base_csv::import(&state, caller.principal()?, body.to_vec(), query.confirm)
            .await?;
    Ok(HttpResponse::Ok().json(report))
}

/// The caller's installed base as CSV, in the import's columns (hospital tokens). Cells a
/// spreadsheet would run as formulas start with `'`.
#[utoipa::path(get, path = "/api/v1/installed-base/export",
    responses((status = 200, content_type = "text/csv", body = String),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn export_csv(
    state: web::Data<AppState>,
    caller: ApiCaller,
) -> Result<HttpResponse, ServiceError> {
    let csv = installed_base_csv::export(&state, caller.principal()?).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            "attachment; filename=\"installed-base.csv\"",
        ))
        .body(csv))
}

// ---------------------------------------------------------------------------------------------
// uptake (the manufacturer)

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct UptakeQuery {
    /// `silent` (default: affected customers without acknowledgement first), `exposed`, `name`.
    pub sort: Option<String>,
}

/// How the manufacturer's customers took up one of its advisories: told (delivery log),
/// acknowledged, devices patched / mitigated / exposed / silent, and every customer with its
/// security contacts (manufacturer tokens).
#[utoipa::path(get, path = "/api/v1/advisories/{tracking_id}/uptake",
    params(("tracking_id" = String, Path), UptakeQuery),
    responses((status = 200, body = uptake::Uptake), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "Unknown sort")),
    security(("bearer" = [])))]
pub async fn advisory_uptake(
    state: web::Data<AppState>,
    caller: ApiCaller,
    tracking_id: web::Path<String>,
    query: web::Query<UptakeQuery>,
) -> Result<HttpResponse, ServiceError> {
    let p = caller.principal()?;
    let sort = uptake::UptakeSort::parse(query.sort.as_deref())?;
    let body = uptake::advisory_uptake(&state, p, &tracking_id, sort).await?;
    Ok(HttpResponse::Ok().json(body))
}
