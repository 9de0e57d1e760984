//! Caching headers of the portal's HTML pages. A page rendered for a signed-in user shows what
//! that user's organization may see (restricted advisories, its destinations), so no shared
//! cache may keep it: `Cache-Control: private, no-cache`, and `private, no-store` on the
//! destination pages, whose forms carry channel configuration (webhook URLs may embed
//! credentials) that should not stay on disk either. Anonymous pages keep the default
//! (cacheable); every page says `Vary: Cookie` so a cache never answers a signed-in request
//! with the anonymous copy or the other way round.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;

/// Path prefixes of pages whose forms hold configuration that must not be stored.
const NO_STORE: [&str; 1] = ["/destinations"];

pub async fn page_cache_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let signed_in = crate::web::auth::session_cookie(req.request()).is_some_and(|c| !c.is_empty());
    let no_store = NO_STORE.iter().any(|p| req.path().starts_with(p));
    let mut res = next.call(req).await?;
    let html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if html {
        let headers = res.headers_mut();
        headers.append(header::VARY, HeaderValue::from_static("Cookie"));
        if signed_in {
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static(if no_store {
                    "private, no-store"
                } else {
                    "private, no-cache"
                }),
            );
        }
    }
    Ok(res)
}
