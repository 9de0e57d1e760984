//! `/api/v1/users`: an organization's admins acting on its people (a bearer token with the
//! `admin` scope). The rules are [`crate::service::users`]'.

use actix_web::{HttpResponse, web};

use crate::error::ServiceError;
use crate::state::AppState;
use crate::web::auth::ApiCaller;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/users/{id}/unlock", web::post().to(unlock_user));
}

/// Whether the user was locked out when unlocked.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Unlocked {
    pub was_locked: bool,
}

/// Lifts a user's sign-in lockout (admins of the user's organization).
#[utoipa::path(post, path = "/api/v1/users/{id}/unlock",
    params(("id" = String, Path, description = "the user's id")),
    responses((status = 200, body = Unlocked), (status = 401), (status = 403), (status = 404)),
    security(("bearer" = ["admin"])))]
pub async fn unlock_user(
    state: web::Data<AppState>,
    caller: ApiCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ServiceError> {
    let p = caller
        .require(herald_storage::accounts::Scope::Admin)?
        .clone();
    let id = id.into_inner();
    let was_locked = state
        .db(move |conn| crate::service::users::unlock(conn, &p, &id, chrono::Utc::now()))
        .await?;
    Ok(HttpResponse::Ok().json(Unlocked { was_locked }))
}
