//! The HTTP transports' credentials: a bearer token (`herald token create`) or the portal's
//! session cookie, each turned into the service's [`Principal`] in one place
//! ([`Principal::from_bearer`], [`Principal::from_session`]). Handlers ask for [`ApiCaller`] (a
//! bearer token or nobody) and hand its principal to a use case; handlers that show advisories
//! ask for [`ReadCaller`], whose [`Reader`] the entitlement rule of storage
//! (`herald_storage::entitlement::visible_to`) judges, the same for tokens and sessions.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use herald_storage::{accounts::Scope, entitlement::Reader};

use crate::error::ServiceError;
use crate::service::Principal;
use crate::state::AppState;

/// Name of the portal's session cookie.
pub const SESSION_COOKIE: &str = "herald_session";

/// An API caller authenticated by a bearer token, or anonymous.
#[derive(Debug, Clone)]
pub enum ApiCaller {
    Anonymous,
    Token(Principal),
}

impl ApiCaller {
    /// The principal; an anonymous caller is refused (401).
    pub fn principal(&self) -> Result<&Principal, ServiceError> {
        match self {
            Self::Anonymous => Err(ServiceError::Unauthorized),
            Self::Token(p) => Ok(p),
        }
    }

    /// Refuses anonymous callers (401) and tokens without the scope (403).
    pub fn require(&self, scope: Scope) -> Result<&Principal, ServiceError> {
        let p = self.principal()?;
        p.require_scope(scope)?;
        Ok(p)
    }
}

impl FromRequest for ApiCaller {
    type Error = ServiceError;
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
            let header = header.map_err(|_| ServiceError::Unauthorized)?;
            let token = header
                .strip_prefix("Bearer ")
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or(ServiceError::Unauthorized)?
                .to_owned();
            let state =
                state.ok_or_else(|| ServiceError::internal(anyhow::anyhow!("no app state")))?;
            let principal = state
                .db(move |conn| Principal::from_bearer(conn, &token))
                .await?;
            Ok(Self::Token(principal))
        })
    }
}

/// Who reads advisories, for the entitlement rule ([`herald_storage::entitlement::visible_to`]), and whether
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
    type Error = ServiceError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let bearer = req
            .headers()
            .contains_key(actix_web::http::header::AUTHORIZATION);
        let api = ApiCaller::from_request(req, payload);
        let cookie = session_cookie(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let state =
                state.ok_or_else(|| ServiceError::internal(anyhow::anyhow!("no app state")))?;
            if bearer {
                let ApiCaller::Token(principal) = api.await? else {
                    return Err(ServiceError::Unauthorized);
                };
                return Ok(ReadCaller {
                    reader: principal.reader(),
                    authenticated: true,
                });
            }
            let Some(cookie) = cookie.filter(|c| !c.is_empty()) else {
                return Ok(ReadCaller::default());
            };
            let policy = state.config.accounts.sessions;
            let principal = state
                .db(move |conn| Principal::from_session(conn, &cookie, &policy))
                .await?;
            Ok(match principal {
                Some(p) => ReadCaller {
                    reader: p.reader(),
                    authenticated: true,
                },
                None => ReadCaller::default(),
            })
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
pub async fn reader_for_org(
    state: &AppState,
    org_id: Option<String>,
) -> Result<Reader, ServiceError> {
    let Some(org_id) = org_id else {
        return Ok(Reader::Anonymous);
    };
    state
        .db(move |conn| Ok(Reader::for_org(conn, &org_id)?))
        .await
}

/// The principal of an API call on organization data: `admin` needs an admin of the
/// organization ([`Principal::require_admin`]), otherwise reading suffices
/// ([`Principal::require_read`]).
pub fn acting(caller: &ApiCaller, admin: bool) -> Result<Principal, ServiceError> {
    let p = caller.principal()?;
    if admin {
        p.require_admin()?;
    } else {
        p.require_read()?;
    }
    Ok(p.clone())
}
