//! One-click unsubscribe (RFC 8058) for routine notices: the URL each notification carries in
//! `unsubscribe_url` (and the email plugin in `List-Unsubscribe`), `/unsubscribe/{destination}/
//! {token}`, the token being the destination's HMAC under the instance key
//! ([`herald_storage::secrets::SecretKey::unsubscribe_token`]).
//!
//! * `POST` (a mail client's one-click request, body `List-Unsubscribe=One-Click`, or the button
//!   below) opts the destination out of routine notices at once: no page, no sign-in. Critical
//!   notices still reach it if it is a designated security contact (the fan-out rule).
//! * `GET` changes nothing (mail scanners follow links): it answers a small page with a button
//!   that POSTs.
//!
//! A wrong token or unknown destination answers 404 either way, so the endpoint tells nobody
//! which destinations exist. Every opt-out is audited with the subscription change.

use actix_web::{HttpResponse, http::header, web};

use crate::error::ServiceError;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/{destination}/{token}", web::get().to(confirm_page))
        .route("/{destination}/{token}", web::post().to(unsubscribe));
}

/// Checks the token; `NotFound` for a wrong one or a destination that does not exist.
async fn verified(state: &AppState, destination: &str, token: &str) -> Result<(), ServiceError> {
    let key = crate::secrets::secret_key(&state.config).map_err(ServiceError::internal)?;
    if !key.verify_unsubscribe_token(destination, token) {
        return Err(ServiceError::NotFound);
    }
    let id = destination.to_owned();
    let exists = state
        .db(move |conn| Ok(herald_storage::destinations::get_destination(conn, &id)?.is_some()))
        .await?;
    if exists {
        Ok(())
    } else {
        Err(ServiceError::NotFound)
    }
}

async fn confirm_page(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ServiceError> {
    let (destination, token) = path.into_inner();
    verified(&state, &destination, &token).await?;
    // Both parts were checked (hex token, existing destination id), so they are safe in markup;
    // they are escaped anyway.
    let action = format!(
        "/unsubscribe/{}/{}",
        html_escape(&destination),
        html_escape(&token)
    );
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Unsubscribe from routine notices · Herald</title></head><body>\
         <h1>Unsubscribe from routine notices</h1>\
         <p>Stop routine security notices to this destination. Critical notices still reach \
         designated security contacts.</p>\
         <form method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\
         <button type=\"submit\">Unsubscribe</button></form></body></html>"
    );
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("text/html; charset=utf-8")
        .body(body))
}

async fn unsubscribe(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ServiceError> {
    let (destination, token) = path.into_inner();
    verified(&state, &destination, &token).await?;
    state
        .db(move |conn| {
            let mut subscription =
                herald_storage::subscriptions::get_subscription(conn, &destination)?;
            if !subscription.routine_opt_out {
                subscription.routine_opt_out = true;
                herald_storage::subscriptions::set_subscription(
                    conn,
                    &destination,
                    &subscription,
                    "unsubscribe:one-click",
                )?;
            }
            Ok(())
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("text/plain; charset=utf-8")
        .body(
            "Unsubscribed from routine notices. Critical notices still reach designated \
             security contacts.\n",
        ))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
