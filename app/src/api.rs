//! Server functions: the only way the pages reach data. Each one finds the server's
//! [`Portal`](crate::model::Portal) in the Leptos context, resolves the viewer from the
//! `herald_session` cookie, and turns [`PortalError`](crate::model::PortalError) into a message a
//! hospital user may read (never internal details; the server logs those).
//!
//! Endpoints are fixed (`/api/...`) so that the server can mount them with
//! `handle_server_fns_with_context` under `/api/{tail:.*}` and plain HTML forms can post to them.

use leptos::prelude::*;

use crate::model::{AdvisoryListPage, AdvisoryQuery, AdvisoryView, Viewer};

/// One page of the advisories the viewer may see, filtered, sorted and paged by `query` (the list
/// page's query string). Invalid parameters answer 400 with a message naming the parameter.
#[server(prefix = "/api", endpoint = "advisories", client = crate::csrf::CsrfClient)]
pub async fn list_advisories(query: AdvisoryQuery) -> Result<AdvisoryListPage, ServerFnError> {
    let portal = ssr::portal()?;
    let viewer = ssr::viewer(portal.as_ref()).await?;
    portal
        .list_advisories(&viewer, &query)
        .await
        .map_err(ssr::user_error)
}

/// One advisory, if the viewer may see it.
#[server(prefix = "/api", endpoint = "advisory", client = crate::csrf::CsrfClient)]
pub async fn get_advisory(tracking_id: String) -> Result<AdvisoryView, ServerFnError> {
    let portal = ssr::portal()?;
    let viewer = ssr::viewer(portal.as_ref()).await?;
    portal
        .advisory(&viewer, &tracking_id)
        .await
        .map_err(ssr::user_error)
}

/// Who is signed in (an anonymous viewer when nobody is).
#[server(prefix = "/api", endpoint = "viewer", client = crate::csrf::CsrfClient)]
pub async fn current_viewer() -> Result<Viewer, ServerFnError> {
    let portal = ssr::portal()?;
    ssr::viewer(portal.as_ref()).await
}

/// Signs in and redirects to `next` (a local path) or the advisory list. Wrong credentials
/// redirect back to `/login?error=credentials`, so the form also works without JavaScript.
#[server(prefix = "/api", endpoint = "login", client = crate::csrf::CsrfClient)]
pub async fn login(
    email: String,
    password: String,
    next: Option<String>,
) -> Result<(), ServerFnError> {
    use crate::model::PortalError;

    let portal = ssr::portal()?;
    let target = next
        .as_deref()
        .and_then(crate::ui::local_path)
        .unwrap_or("/advisories")
        .to_string();
    let client = ssr::client_info().await;
    match portal.login(email.trim(), &password, &client).await {
        Ok(session) => {
            ssr::set_session_cookie(Some(&session)).await?;
            leptos_actix::redirect(&target);
        }
        Err(PortalError::Forbidden) => {
            leptos_actix::redirect(&crate::ui::login_path(
                Some("throttled"),
                None,
                next.as_deref(),
            ));
        }
        Err(PortalError::Internal(reference)) => {
            leptos_actix::redirect(&crate::ui::login_path(
                Some("unavailable"),
                Some(&reference),
                next.as_deref(),
            ));
        }
        Err(_) => {
            leptos_actix::redirect(&crate::ui::login_path(
                Some("credentials"),
                None,
                next.as_deref(),
            ));
        }
    }
    Ok(())
}

/// Ends the session (if any), clears the cookie and goes back to the start page.
#[server(prefix = "/api", endpoint = "logout", client = crate::csrf::CsrfClient)]
pub async fn logout() -> Result<(), ServerFnError> {
    let portal = ssr::portal()?;
    if let Some(cookie) = ssr::session_cookie().await {
        portal.logout(&cookie).await.map_err(ssr::user_error)?;
    }
    ssr::set_session_cookie(None).await?;
    leptos_actix::redirect("/");
    Ok(())
}

/// Server-side helpers shared by the server functions above.
#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use std::sync::Arc;

    use actix_web::{
        HttpRequest,
        cookie::{Cookie, SameSite},
        http::header::{HeaderValue, SET_COOKIE},
    };
    use leptos::prelude::*;
    use leptos_actix::ResponseOptions;

    use crate::{
        SESSION_COOKIE,
        model::{Portal, PortalError, Viewer},
    };

    /// The service the server provided; missing only if the server was wired wrongly.
    pub fn portal() -> Result<Arc<dyn Portal>, ServerFnError> {
        use_context::<Arc<dyn Portal>>().ok_or_else(unavailable)
    }

    /// The value of the session cookie on the current request, if any.
    pub async fn session_cookie() -> Option<String> {
        let request: HttpRequest = leptos_actix::extract().await.ok()?;
        request
            .cookie(SESSION_COOKIE)
            .map(|cookie| cookie.value().to_string())
            .filter(|value| !value.is_empty())
    }

    /// The browser's `User-Agent` and address (the TCP peer's: `Forwarded` headers are not
    /// trusted, since anyone can send them).
    pub async fn client_info() -> crate::model::ClientInfo {
        let Ok(request) = leptos_actix::extract::<HttpRequest>().await else {
            return crate::model::ClientInfo::default();
        };
        crate::model::ClientInfo {
            user_agent: request
                .headers()
                .get(actix_web::http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            address: request.peer_addr().map(|a| a.ip().to_string()),
        }
    }

    pub async fn viewer(portal: &dyn Portal) -> Result<Viewer, ServerFnError> {
        portal
            .viewer(session_cookie().await)
            .await
            .map_err(user_error)
    }

    /// Sets (`Some`) or clears (`None`) the session cookie on the response.
    pub async fn set_session_cookie(value: Option<&str>) -> Result<(), ServerFnError> {
        let response = use_context::<ResponseOptions>().ok_or_else(unavailable)?;
        // Behind TLS the cookie must never travel in clear; on plain loopback HTTP (tests,
        // development) a Secure cookie would simply be dropped by the browser.
        let secure = portal()?.secure_cookies();
        let mut cookie = Cookie::build(SESSION_COOKIE, value.unwrap_or_default())
            .http_only(true)
            .same_site(SameSite::Lax)
            .path("/")
            .secure(secure)
            .finish();
        if value.is_none() {
            cookie.make_removal();
        }
        let header = HeaderValue::from_str(&cookie.to_string()).map_err(|_| unavailable())?;
        response.append_header(SET_COOKIE, header);
        Ok(())
    }

    /// What the user is told, plus the HTTP status of the page or call that failed.
    pub fn user_error(error: PortalError) -> ServerFnError {
        let (status, message) = match error {
            PortalError::NotFound => (
                404,
                "Not found. It may not exist, or it is not shared with your organisation."
                    .to_string(),
            ),
            PortalError::Forbidden => (
                403,
                "You are not allowed to see this. Sign in with an account of an organisation \
                 it is shared with."
                    .to_string(),
            ),
            PortalError::Invalid(what) => (400, format!("Invalid input: {what}")),
            PortalError::Internal(reference) => (
                500,
                format!(
                    "Something went wrong on our side. If it persists, contact support and \
                     quote reference {reference}."
                ),
            ),
        };
        if let Some(response) = use_context::<ResponseOptions>()
            && let Ok(status) = actix_web::http::StatusCode::from_u16(status)
        {
            response.set_status(status);
        }
        ServerFnError::ServerError(message)
    }

    fn unavailable() -> ServerFnError {
        ServerFnError::ServerError(
            "The portal is not available right now. Please try again later.".to_string(),
        )
    }
}
