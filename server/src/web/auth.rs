//! Who is calling: API clients with a bearer token (`herald token create`), portal users with a
//! session cookie. Handlers ask for [`ApiCaller`] and check scopes with [`ApiCaller::require`];
//! handlers that show advisories ask for [`ReadCaller`], whose [`Reader`] the entitlement rule
//! of storage (`herald_storage::visible_to`) judges, the same for tokens and sessions.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use herald_storage::{ApiToken, Reader, Scope};

use crate::state::AppState;
use crate::web::error::WebError;

/// Name of the portal's session cookie.
pub const SESSION_COOKIE: &str = "herald_session";

/// An API caller authenticated by a bearer token, or anonymous.
#[derive(Debug, Clone)]
pub enum ApiCaller {
    Anonymous,
    Token(ApiToken),
}

impl ApiCaller {
    /// Refuses anonymous callers (401) and tokens without the scope (403).
    pub fn require(&self, scope: Scope) -> Result<&ApiToken, WebError> {
        match self {
            Self::Anonymous => Err(WebError::Unauthorized),
            Self::Token(t) if t.has_scope(scope) => Ok(t),
            Self::Token(_) => Err(WebError::Forbidden),
        }
    }
}

impl FromRequest for ApiCaller {
    type Error = WebError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let header = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .map(|v| v.to_str().map(str::to_owned));
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let Some(header) = header else {
                return Ok(Self::Anonymous);
            };
            // A malformed or unknown credential is an error, never a silent downgrade to anonymous.
            let header = header.map_err(|_| WebError::Unauthorized)?;
            let token = header
                .strip_prefix("Bearer ")
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or(WebError::Unauthorized)?
                .to_owned();
            let state = state.ok_or_else(|| WebError::internal(anyhow::anyhow!("no app state")))?;
            let found = state
                .db(move |conn| Ok(herald_storage::authenticate_api_token(conn, &token)?))
                .await?;
            found.map(Self::Token).ok_or(WebError::Unauthorized)
        })
    }
}

/// The token of an API call that manages something, and the organization it acts for: with
/// `admin`, the token must carry the `admin` scope; otherwise `read` or `admin` (admin includes
/// reading, so an operator's token need not carry both). A token whose organization is gone is
/// refused like one without the scope.
pub async fn acting_org(
    state: &AppState,
    caller: &ApiCaller,
    admin: bool,
) -> Result<(ApiToken, herald_storage::Organization), WebError> {
    let token = if admin {
        caller.require(Scope::Admin)?.clone()
    } else {
        match caller.require(Scope::Read) {
            Ok(t) => t.clone(),
            Err(WebError::Forbidden) => caller.require(Scope::Admin)?.clone(),
            Err(e) => return Err(e),
        }
    };
    let org_id = token.org_id.clone();
    let org = state
        .db(move |conn| Ok(herald_storage::find_organization(conn, &org_id)?))
        .await?
        .ok_or(WebError::Forbidden)?;
    Ok((token, org))
}

/// Who reads advisories, for the entitlement rule ([`herald_storage::visible_to`]), and whether
/// the request carried a credential at all (restricted distribution paths answer 401 to
/// anonymous callers and 404 to authenticated ones that are not entitled).
///
/// The reader comes from, in order: a bearer token (it must carry the `read` scope to read as
/// its organization; a token without it reads as anonymous but still counts as authenticated),
/// then the portal's session cookie. A malformed or unknown bearer token is refused (401); an
/// unknown or expired session cookie is simply no sign-in.
#[derive(Debug, Clone, Default)]
pub struct ReadCaller {
    pub reader: Reader,
    pub authenticated: bool,
}

impl ReadCaller {
    /// Answers built for this caller must not be served to others by a shared cache.
    pub fn is_personal(&self) -> bool {
        self.authenticated
    }
}

impl FromRequest for ReadCaller {
    type Error = WebError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let bearer = req
            .headers()
            .contains_key(actix_web::http::header::AUTHORIZATION);
        let api = ApiCaller::from_request(req, payload);
        let cookie = session_cookie(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let state = state.ok_or_else(|| WebError::internal(anyhow::anyhow!("no app state")))?;
            if bearer {
                let token = match api.await? {
                    ApiCaller::Token(t) => t,
                    ApiCaller::Anonymous => return Err(WebError::Unauthorized),
                };
                if !token.has_scope(Scope::Read) {
                    return Ok(ReadCaller {
                        reader: Reader::Anonymous,
                        authenticated: true,
                    });
                }
                let reader = reader_for_org(&state, Some(token.org_id)).await?;
                return Ok(ReadCaller {
                    reader,
                    authenticated: true,
                });
            }
            let Some(cookie) = cookie.filter(|c| !c.is_empty()) else {
                return Ok(ReadCaller::default());
            };
            let session = state
                .db(move |conn| Ok(herald_storage::lookup_session(conn, &cookie)?))
                .await?;
            match session {
                Some((_, user)) => Ok(ReadCaller {
                    reader: reader_for_org(&state, Some(user.org_id)).await?,
                    authenticated: true,
                }),
                None => Ok(ReadCaller::default()),
            }
        })
    }
}

/// The portal's session cookie, parsed from the `Cookie` headers (actix-web's cookie feature is
/// not compiled in).
pub fn session_cookie(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get_all(actix_web::http::header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim_matches('"').to_owned())
}

/// The reader an organization reads as (by its kind); no organization reads as anonymous.
pub async fn reader_for_org(state: &AppState, org_id: Option<String>) -> Result<Reader, WebError> {
    let Some(org_id) = org_id else {
        return Ok(Reader::Anonymous);
    };
    state
        .db(move |conn| Ok(Reader::for_org(conn, &org_id)?))
        .await
}
