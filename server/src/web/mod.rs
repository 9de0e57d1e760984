//! The HTTP surface: the Leptos portal, the REST API under `/api/v1`, the CSAF trusted-provider
//! routes under `/.well-known/`, `/healthz`, and the request log.

pub mod api;
pub mod auth;
pub mod catalog;
pub mod csrf;
pub mod customers;
pub mod destinations;
pub mod distribution;
pub mod drafts;
pub mod lifecycle;
pub mod metrics;
pub mod page_cache;
pub mod releases;
pub mod security_headers;
pub mod serving_cache;
pub mod templates;
pub mod unsubscribe;
pub mod upload;
pub mod users;
pub mod workspace;

use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use leptos::prelude::*;
use leptos_actix::{ActixRouteListing, LeptosRoutes, generate_route_list};

use crate::portal::HeraldPortal;
use crate::state::AppState;

/// The Leptos settings Herald uses; built here rather than read from cargo-leptos' environment so
/// that the binary runs the same however it was built.
pub fn leptos_options(state: &AppState) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("herald")
        .site_root(state.config.site_root.display().to_string())
        .site_pkg_dir("pkg")
        .site_addr(state.config.listen)
        .build()
}

/// Registers every route on an actix `App`. Used by `herald serve` and by the integration tests,
/// so both run exactly the same application.
pub fn configure(state: AppState) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg: &mut web::ServiceConfig| {
        let options = leptos_options(&state);
        let portal: Arc<dyn app::model::Portal> = Arc::new(HeraldPortal::new(state.clone()));
        let workspace: Arc<dyn app::workspace::WorkspacePortal> =
            Arc::new(HeraldPortal::new(state.clone()));
        let fn_workspace = workspace.clone();
        let routes = route_list();
        let site_pkg = state.config.site_root.join("pkg");
        let context_portal = portal.clone();
        let provide = move || {
            provide_context(context_portal.clone());
            provide_context(workspace.clone());
            security_headers::provide_nonce();
        };
        let fn_portal = portal.clone();
        cfg.app_data(web::Data::new(state.clone()))
            .app_data(web::Data::new(options.clone()))
            .app_data(crate::error::json_config())
            .app_data(web::PayloadConfig::new(
                herald_csaf::MAX_DOCUMENT_BYTES + 64 * 1024,
            ))
            .route("/healthz", web::get().to(healthz))
            .route("/metrics", web::get().to(metrics::metrics))
            .service(web::scope("/api/v1").configure(api::configure))
            .service(web::scope("/.well-known").configure(distribution::configure))
            .service(web::scope("/unsubscribe").configure(unsubscribe::configure))
            .configure(upload::configure)
            .configure(lifecycle::configure_public)
            .service(
                web::resource("/api/{tail:.*}")
                    .wrap(actix_web::middleware::from_fn(csrf::guard))
                    .route(leptos_actix::handle_server_fns_with_context(move || {
                        provide_context(fn_portal.clone());
                        provide_context(fn_workspace.clone());
                    })),
            )
            .service(actix_files::Files::new("/pkg", site_pkg))
            // The pages sit in a scope of their own so that their caching headers
            // (`page_cache`) apply to them alone; it must stay the last service, since an empty
            // scope matches every path.
            .service(
                web::scope("")
                    .wrap(actix_web::middleware::from_fn(
                        page_cache::page_cache_headers,
                    ))
                    .wrap(actix_web::middleware::from_fn(csrf::guard))
                    .configure(move |cfg| {
                        cfg.leptos_routes_with_context(routes, provide, {
                            let options = options.clone();
                            move || app::shell(options.clone())
                        });
                    }),
            );
    }
}

/// The portal's routes, walked from the Leptos router once per process.
///
/// Once, not per `App`: while the walk runs, leptos_server sets a process-global flag that parks
/// every resource first polled meanwhile on a future that never wakes (leptos issue #4773). An
/// actix worker started after the first (or a test building its own `App`) would otherwise
/// freeze a page another worker is rendering at that moment. `OnceLock` also makes a second
/// caller wait until the walk is over, so no page renders while the flag is set.
fn route_list() -> Vec<ActixRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<ActixRouteListing>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(app::App)).clone()
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Health {
    pub status: &'static str,
    /// `sqlite` or `postgres`.
    pub database: String,
    pub version: &'static str,
}

/// Answers once Herald can reach its database.
#[utoipa::path(get, path = "/healthz", responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let backend = state.db.backend().to_string();
    let ok = state.db(|conn| Ok(herald_storage::ping(conn)?)).await;
    let health = Health {
        status: if ok.is_ok() { "ok" } else { "unavailable" },
        database: backend,
        version: env!("CARGO_PKG_VERSION"),
    };
    if ok.is_ok() {
        HttpResponse::Ok().json(health)
    } else {
        HttpResponse::ServiceUnavailable().json(health)
    }
}

/// One log line per request: method, path, status and duration.
pub async fn request_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().to_string();
    let path = req.path().to_owned();
    let res = next.call(req).await;
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    match &res {
        Ok(r) => tracing::info!(
            target: "herald::http",
            %method, %path, status = r.status().as_u16(), duration_ms = format!("{millis:.1}"),
            "request"
        ),
        Err(e) => tracing::warn!(
            target: "herald::http",
            %method, %path, error = %e, duration_ms = format!("{millis:.1}"),
            "request failed"
        ),
    }
    res
}
