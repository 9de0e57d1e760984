//! The security headers of every answer: a Content-Security-Policy, `frame-ancestors 'none'`
//! (and `X-Frame-Options: DENY` for older browsers), `X-Content-Type-Options: nosniff`,
//! `Referrer-Policy`, and HSTS when the base URL is https.
//!
//! The policy allows scripts from Herald itself (`/pkg/herald.js`), WebAssembly compilation
//! (`'wasm-unsafe-eval'`, the hydrate bundle) and inline scripts carrying this answer's nonce.
//! Leptos' server rendering writes inline scripts: the hydration loader (always the same) and
//! the resolved data of each page's resources (different on every page), so a hash cannot cover
//! them; each answer gets a fresh random nonce instead, which the page renders into those
//! scripts (`leptos::nonce`, through [`CspNonce`] in the request's extensions) and the header
//! names. No `'unsafe-inline'`: an injected `<script>` without the nonce does not run. Styles
//! come from `/pkg/herald.css` alone.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};

use crate::state::AppState;

/// The nonce of the answer being rendered, for the inline scripts of the page.
#[derive(Debug, Clone)]
pub struct CspNonce(pub String);

/// The policy for an answer whose inline scripts carry `nonce`.
pub fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' 'nonce-{nonce}'; \
         style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// HSTS for a year on an https base URL (never on plain http, where it would be ignored
/// anyway and would mislead).
fn hsts(base_url: &str) -> Option<HeaderValue> {
    base_url
        .starts_with("https://")
        .then(|| HeaderValue::from_static("max-age=31536000; includeSubDomains"))
}

pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let https = req
        .app_data::<web::Data<AppState>>()
        .and_then(|s| hsts(&s.config.base_url));
    let nonce = herald_storage::accounts::random_password(16);
    req.extensions_mut().insert(CspNonce(nonce.clone()));
    let mut res = next.call(req).await?.map_into_boxed_body();
    let headers = res.headers_mut();
    let set = |headers: &mut header::HeaderMap, name: HeaderName, value: HeaderValue| {
        // A handler that chose its own value (none does today) keeps it.
        if !headers.contains_key(&name) {
            headers.insert(name, value);
        }
    };
    if let Ok(csp) = HeaderValue::from_str(&content_security_policy(&nonce)) {
        set(headers, header::CONTENT_SECURITY_POLICY, csp);
    }
    set(
        headers,
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    set(
        headers,
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("DENY"),
    );
    // Advisory and destination paths say what a hospital runs: never sent to other sites.
    set(
        headers,
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    set(
        headers,
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    if let Some(value) = https {
        set(headers, header::STRICT_TRANSPORT_SECURITY, value);
    }
    Ok(res)
}

/// Provides the answer's nonce to the page being rendered (called in the Leptos context of
/// every page, where the request is known).
pub fn provide_nonce() {
    use actix_web::HttpMessage as _;
    use leptos::prelude::*;
    let nonce = use_context::<leptos_actix::Request>()
        .and_then(|req| req.extensions().get::<CspNonce>().map(|n| n.0.clone()));
    if let Some(nonce) = nonce {
        provide_context(leptos::nonce::Nonce::from_value(nonce));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_has_no_unsafe_inline() {
        let csp = content_security_policy("abc");
        assert!(csp.contains("'nonce-abc'"));
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(!csp.contains("unsafe-inline"));
        assert!(hsts("http://herald.test").is_none());
        assert!(hsts("https://herald.test").is_some());
    }
}
