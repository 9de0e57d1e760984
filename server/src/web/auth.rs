//! Who is calling: API clients with a bearer token (`herald token create`), portal users with a
//! session cookie. Handlers ask for [`ApiCaller`] and check scopes with [`ApiCaller::require`].

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use herald_storage::{ApiToken, Scope};

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

/// TLP labels that the advisory list, the API and the portal pages show. Entitlement of hospital
/// customers to GREEN and AMBER (installed base, grants) comes with the customer portal; until
/// then everyone reads the public (WHITE and unlabeled) documents there, and the manufacturer
/// reads its restricted documents through the CSAF distribution paths.
pub fn listed_tlps() -> Vec<herald_csaf::Tlp> {
    vec![herald_csaf::Tlp::White]
}
