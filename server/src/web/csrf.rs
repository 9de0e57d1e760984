//! CSRF protection of every state-changing browser request: the portal's server functions
//! (the hydrated app's calls and plain form posts, sign-in and sign-out among them) and
//! `/upload`. The bearer-token REST API (`/api/v1`) and the signed one-click unsubscribe links
//! are outside it: a cookie confers no authority there.
//!
//! A POST (or any method other than GET, HEAD, OPTIONS) passes only if both hold:
//! - it is same-origin: its `Origin` is the base URL's origin (or the origin the browser used
//!   for this very server), or, without an `Origin`, `Sec-Fetch-Site: same-origin`. A request
//!   with neither is refused: every browser in use sends one of them with a POST.
//! - it carries the CSRF token of the browser's session: in the `x-csrf-token` header (the
//!   hydrated app, `app::csrf::CsrfClient`) or the `csrf_token` field of a urlencoded form (no
//!   JavaScript; `/upload`'s multipart form is checked by its handler with [`verify`]).
//!
//! The token is not stored: for a session it is an HMAC under the server's secret key of the
//! session cookie's value, so it is bound to that session and nobody without the key can make
//! one. Before sign-in (the login form) it is a pre-session token, a random nonce with its HMAC,
//! that must equal the `herald_csrf` cookie of the same browser; so a login form posted from
//! another site (login CSRF) fails on both counts. The middleware keeps the `herald_csrf` cookie
//! equal to the current token (set when a session starts or ends) and hands the token to the
//! page being rendered (request extensions), which puts it into each form's hidden field.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use app::csrf::{CSRF_COOKIE, CSRF_FIELD, CSRF_HEADER, CsrfToken};
use herald_storage::secrets::SecretKey;

use crate::state::AppState;
use crate::web::auth::{SESSION_COOKIE, session_cookie};

const SESSION_PURPOSE: &str = "csrf session";
const PRE_SESSION_PURPOSE: &str = "csrf pre-session";

/// The token a request must carry, and whether the browser's `herald_csrf` cookie must be
/// (re)set to it.
#[derive(Debug, Clone)]
struct Expected {
    token: String,
    /// A session token (bound to the session cookie) rather than a pre-session one.
    session: bool,
    /// The browser's cookie does not hold it yet.
    set_cookie: bool,
}

fn key(state: &AppState) -> Result<SecretKey, actix_web::Error> {
    crate::secrets::secret_key(&state.config).map_err(|e| {
        tracing::error!(error = %format!("{e:#}"), "no secret key for CSRF tokens");
        actix_web::error::ErrorInternalServerError("the server is not available right now")
    })
}

/// The CSRF token of the session whose cookie value is `session`.
pub fn session_token(key: &SecretKey, session: &str) -> String {
    key.purpose_token(SESSION_PURPOSE, session)
}

/// A fresh pre-session token: a random nonce and its HMAC.
fn new_pre_session_token(key: &SecretKey) -> String {
    let nonce = herald_storage::accounts::random_password(16);
    let mac = key.purpose_token(PRE_SESSION_PURPOSE, &nonce);
    format!("{nonce}.{mac}")
}

fn valid_pre_session_token(key: &SecretKey, token: &str) -> bool {
    token
        .split_once('.')
        .is_some_and(|(nonce, mac)| key.verify_purpose_token(PRE_SESSION_PURPOSE, nonce, mac))
}

fn cookie(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.trim_matches('"').to_owned())
        .filter(|v| !v.is_empty())
}

fn expected(key: &SecretKey, req: &HttpRequest) -> Expected {
    let current = cookie(req, CSRF_COOKIE);
    if let Some(session) = session_cookie(req).filter(|s| !s.is_empty()) {
        let token = session_token(key, &session);
        return Expected {
            set_cookie: current.as_deref() != Some(token.as_str()),
            token,
            session: true,
        };
    }
    match current.filter(|c| valid_pre_session_token(key, c)) {
        Some(token) => Expected {
            token,
            session: false,
            set_cookie: false,
        },
        None => Expected {
            token: new_pre_session_token(key),
            session: false,
            set_cookie: true,
        },
    }
}

/// Whether `submitted` is the token `req` must carry (constant time for session tokens). A
/// pre-session token must also be the one the browser's cookie already held: one minted for
/// this very request proves nothing.
fn accepts(key: &SecretKey, req: &HttpRequest, submitted: &str) -> bool {
    let expected = expected(key, req);
    if expected.session {
        let Some(session) = session_cookie(req) else {
            return false;
        };
        return key.verify_purpose_token(SESSION_PURPOSE, &session, submitted);
    }
    !expected.set_cookie && expected.token == submitted
}

/// Whether the request comes from a page of this server (see the module docs).
pub fn same_origin(state: &AppState, req: &HttpRequest) -> bool {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    if let Some(origin) = header("origin") {
        let ours = url::Url::parse(&state.config.base_url)
            .map(|u| u.origin().ascii_serialization())
            .ok();
        // The origin the browser saw the page under: the base URL, or the host it used.
        let info = req.connection_info();
        let direct = format!("{}://{}", info.scheme(), info.host());
        return ours.as_deref() == Some(origin.as_str()) || origin == direct;
    }
    header("sec-fetch-site").as_deref() == Some("same-origin")
}

/// The check `/upload`'s handler makes with the hidden field of its multipart form (the
/// middleware has already checked the origin).
pub fn verify(req: &HttpRequest, submitted: Option<&str>) -> bool {
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return false;
    };
    let Ok(key) = key(state) else {
        return false;
    };
    submitted.is_some_and(|s| accepts(&key, req, s))
}

fn refused(why: &'static str) -> HttpResponse {
    tracing::warn!(target: "herald::security", reason = why, "state-changing request refused (CSRF)");
    HttpResponse::Forbidden()
        .content_type("text/plain; charset=utf-8")
        .body(format!(
            "Refused: {why}. Reload the page you came from and try again."
        ))
}

fn content_type(req: &ServiceRequest) -> String {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// The sign-in server function, whose body is bounded by [`MAX_SIGN_IN_BODY`].
const SIGN_IN_PATH: &str = "/api/login";
/// An e-mail address, a password and the form's few other fields fit well within this.
pub const MAX_SIGN_IN_BODY: usize = 4 * 1024;
/// The largest form the portal posts (a draft advisory with every field) is far below this.
const MAX_FORM_BODY: usize = herald_csaf::MAX_DOCUMENT_BYTES;

/// The body, or `None` when it is larger than `limit` (read no further than that).
async fn read_body(
    req: &mut ServiceRequest,
    limit: usize,
) -> Result<Option<web::Bytes>, actix_web::Error> {
    use futures_util::StreamExt as _;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Ok(None);
    }
    let mut payload = req.take_payload();
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk?;
        if body.len() + chunk.len() > limit {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body.freeze()))
}

/// The `herald_session` value a response sets: `Some("")` when it clears it.
fn session_set_by(res: &ServiceResponse<impl MessageBody>) -> Option<String> {
    res.headers()
        .get_all(header::SET_COOKIE)
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.strip_prefix(SESSION_COOKIE)?.strip_prefix('='))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
        .next_back()
}

fn csrf_cookie(state: &AppState, token: &str) -> Option<HeaderValue> {
    // Readable by the page's script (the hydrated app sends it back in a header); `Secure`
    // whenever the portal is served over https.
    let secure = if state.config.base_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{CSRF_COOKIE}={token}; Path=/; SameSite=Lax{secure}"
    ))
    .ok()
}

/// The middleware (see the module docs). Safe methods pass and get the token for their page;
/// others are checked first.
pub async fn guard(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Err(actix_web::error::ErrorInternalServerError("no app state"));
    };
    let key = key(&state)?;
    let expected = expected(&key, req.request());
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe {
        if !same_origin(&state, req.request()) {
            return Ok(req.into_response(refused("the request came from another site")));
        }
        let mut submitted = req
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let kind = content_type(&req);
        let sign_in = req.path() == SIGN_IN_PATH;
        if sign_in || (submitted.is_none() && kind.starts_with("application/x-www-form-urlencoded"))
        {
            // A plain form: the token is a field of the body, which the handler reads again.
            // A sign-in is read here whatever it holds, to bound it: it is the one form anyone
            // may post, and it is small.
            let limit = if sign_in {
                MAX_SIGN_IN_BODY
            } else {
                MAX_FORM_BODY
            };
            let Some(body) = read_body(&mut req, limit).await? else {
                return Ok(req.into_response(
                    HttpResponse::PayloadTooLarge()
                        .content_type("text/plain; charset=utf-8")
                        .body(format!("Refused: the form is larger than {limit} bytes.")),
                ));
            };
            if submitted.is_none() {
                submitted = url::form_urlencoded::parse(&body)
                    .find(|(name, _)| name == CSRF_FIELD)
                    .map(|(_, value)| value.into_owned());
            }
            req.set_payload(actix_web::dev::Payload::from(body));
        }
        let deferred = submitted.is_none()
            && kind.starts_with("multipart/form-data")
            && req.path() == "/upload";
        if !deferred && !submitted.is_some_and(|s| accepts(&key, req.request(), &s)) {
            return Ok(req.into_response(refused(
                "the request did not carry this session's form token",
            )));
        }
    }
    let login_page = req.path() == "/login";
    req.extensions_mut()
        .insert(CsrfToken(expected.token.clone()));
    let mut res = next.call(req).await?.map_into_boxed_body();
    // A session that starts or ends here changes the token; otherwise the browser keeps (or
    // gets) the current one.
    let token = match session_set_by(&res) {
        Some(session) if !session.is_empty() => Some(session_token(&key, &session)),
        Some(_) => Some(new_pre_session_token(&key)),
        None => expected.set_cookie.then_some(expected.token),
    };
    let set = token.and_then(|t| csrf_cookie(&state, &t));
    // An answer that sets a browser's own token, or shows it in a form (the sign-in page), is
    // that browser's alone: no shared cache may keep it.
    let private = res
        .headers()
        .get(header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("private") || v.contains("no-store"));
    if (set.is_some() || login_page) && !private {
        res.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        );
    }
    if let Some(value) = set {
        res.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pre_session_tokens_are_signed() {
        let key = SecretKey::generate();
        let token = new_pre_session_token(&key);
        assert!(valid_pre_session_token(&key, &token));
        assert!(!valid_pre_session_token(&SecretKey::generate(), &token));
        let (nonce, _) = token.split_once('.').expect("nonce.mac");
        assert!(!valid_pre_session_token(&key, &format!("{nonce}.00")));
        assert!(!valid_pre_session_token(&key, nonce));
    }

    #[test]
    fn session_tokens_are_bound_to_their_session() {
        let key = SecretKey::generate();
        assert_ne!(session_token(&key, "a"), session_token(&key, "b"));
        assert_eq!(session_token(&key, "a"), session_token(&key, "a"));
        assert!(!key.verify_purpose_token(PRE_SESSION_PURPOSE, "a", &session_token(&key, "a")));
    }
}
