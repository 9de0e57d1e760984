//! REST resources for notification templates: the compiled-in defaults and the manufacturer's
//! overrides (`/api/v1/templates`), an adapter over [`crate::service::templates`] (who may read
//! and change them, and the check a broken override fails with 422 naming the template and the
//! error). The delivery engine picks up changes on its next round.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use crate::error::{ErrorBody, ServiceError};
use crate::service;
use crate::state::AppState;
use crate::web::auth::ApiCaller;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/templates", web::get().to(list_templates))
        .route(
            "/templates/{kind}/{channel}/{part}",
            web::put().to(put_template),
        )
        .route(
            "/templates/{kind}/{channel}/{part}",
            web::delete().to(delete_template),
        );
}

/// One template: a compiled-in default or the manufacturer's override of one.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TemplateResource {
    /// Event kind, e.g. `advisory.published`.
    pub kind: String,
    /// `email`, `default` (any plugin without its own), or a plugin id.
    pub channel: String,
    /// `subject`, `text` or `html`.
    pub part: String,
    /// `default` (compiled in) or `override` (stored by the manufacturer).
    pub origin: String,
    /// Handlebars source.
    pub body: String,
    /// For an override: when and by whom it was saved.
    pub updated_at: Option<String>,
    pub updated_by: Option<String>,
}

/// Defaults and overrides, with what a template can use.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TemplateList {
    pub templates: Vec<TemplateResource>,
    /// The event kinds that have templates.
    pub kinds: Vec<String>,
    /// The template context of a sample TLP:WHITE notification (what `{{...}}` can name).
    /// Under TLP:GREEN/AMBER/RED `details` is null.
    #[schema(value_type = Object)]
    pub sample_context: serde_json::Value,
}

/// A new or replaced override.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutTemplate {
    /// Handlebars source (strict mode: every name must exist).
    pub body: String,
}

fn micros_rfc3339(us: i64) -> String {
    herald_storage::from_micros(us).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn override_resource(o: herald_storage::templates::TemplateOverride) -> TemplateResource {
    TemplateResource {
        kind: o.kind,
        channel: o.channel,
        part: o.part,
        origin: "override".into(),
        body: o.body,
        updated_at: Some(micros_rfc3339(o.updated_at)),
        updated_by: Some(o.updated_by),
    }
}

/// Every compiled-in default and every stored override.
#[utoipa::path(get, path = "/api/v1/templates",
    responses((status = 200, body = TemplateList), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_templates(
    state: web::Data<AppState>,
    caller: ApiCaller,
) -> Result<HttpResponse, ServiceError> {
    let set = service::templates::list(&state, caller.principal()?).await?;
    let mut list: Vec<TemplateResource> = set
        .defaults
        .into_iter()
        .map(|t| TemplateResource {
            kind: t.kind,
            channel: t.channel,
            part: t.part.as_str().to_string(),
            origin: "default".into(),
            body: t.body,
            updated_at: None,
            updated_by: None,
        })
        .collect();
    list.extend(set.overrides.into_iter().map(override_resource));
    Ok(HttpResponse::Ok().json(TemplateList {
        templates: list,
        kinds: service::templates::kinds(),
        sample_context: service::templates::sample_context(),
    }))
}

/// Saves an override after compiling it in strict mode and rendering it against sample
/// notifications (TLP:WHITE, TLP:AMBER without details, one without severity or products).
#[utoipa::path(put, path = "/api/v1/templates/{kind}/{channel}/{part}", request_body = PutTemplate,
    params(("kind" = String, Path, description = "Event kind, e.g. advisory.published"),
        ("channel" = String, Path, description = "email, default or a plugin id"),
        ("part" = String, Path, description = "subject, text or html")),
    responses((status = 200, body = TemplateResource), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "The template does not compile or render; the message names it and the error")),
    security(("bearer" = [])))]
pub async fn put_template(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ServiceError> {
    let (kind, channel, part) = path.into_inner();
    let put: PutTemplate = crate::error::parse_json(&body)?;
    let saved = service::templates::save(
        &state,
        caller.principal()?,
        &kind,
        &channel,
        &part,
        &put.body,
    )
    .await?;
    Ok(HttpResponse::Ok().json(override_resource(saved)))
}

/// Removes an override: the compiled-in default applies again.
#[utoipa::path(delete, path = "/api/v1/templates/{kind}/{channel}/{part}",
    params(("kind" = String, Path, description = "Event kind"),
        ("channel" = String, Path, description = "email, default or a plugin id"),
        ("part" = String, Path, description = "subject, text or html")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_template(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ServiceError> {
    let (kind, channel, part) = path.into_inner();
    service::templates::reset(&state, caller.principal()?, &kind, &channel, &part).await?;
    Ok(HttpResponse::NoContent().finish())
}
