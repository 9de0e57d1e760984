//! The portal's side of CSRF protection (the server's `web::csrf` checks it): every
//! state-changing request the portal sends carries the CSRF token of the browser's session (or,
//! before sign-in, of its pre-session), in one of two ways:
//!
//! - a plain form (no JavaScript) carries it in the hidden field [`CSRF_FIELD`] that
//!   [`CsrfField`] renders into every form that posts;
//! - a server function called by the hydrated app carries it in the [`CSRF_HEADER`] header,
//!   which [`CsrfClient`] (the `client` of every `#[server]` function) copies from the
//!   [`CSRF_COOKIE`] cookie the server keeps equal to the current token. Reading the cookie on
//!   every call (rather than a value rendered into the page) keeps it right after a sign-in or
//!   sign-out that happened without a page load.

use leptos::prelude::*;

/// The cookie holding the current CSRF token (readable by the page's script, unlike the session
/// cookie; a token is worthless without the session cookie it is bound to).
pub const CSRF_COOKIE: &str = "herald_csrf";
/// The header the hydrated app sends the token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The hidden form field a plain form sends the token in.
pub const CSRF_FIELD: &str = "csrf_token";

/// The token of the request being rendered; the server's CSRF middleware puts it into the
/// request's extensions before the page renders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrfToken(pub String);

/// The current token: on the server, the one of the request being rendered; in the browser, the
/// cookie's (the same value: the response that carried the page set it).
pub fn current_token() -> String {
    #[cfg(feature = "ssr")]
    {
        use actix_web::HttpMessage as _;
        use_context::<leptos_actix::Request>()
            .and_then(|req| req.extensions().get::<CsrfToken>().map(|t| t.0.clone()))
            .unwrap_or_default()
    }
    #[cfg(not(feature = "ssr"))]
    {
        cookie_token().unwrap_or_default()
    }
}

/// The token in the [`CSRF_COOKIE`] cookie, in the browser.
#[cfg(feature = "hydrate")]
pub fn cookie_token() -> Option<String> {
    use wasm_bindgen::JsCast;
    let cookies = web_sys::window()?
        .document()?
        .dyn_into::<web_sys::HtmlDocument>()
        .ok()?
        .cookie()
        .ok()?;
    cookies
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == CSRF_COOKIE)
        .map(|(_, value)| value.to_owned())
}

#[cfg(not(feature = "hydrate"))]
pub fn cookie_token() -> Option<String> {
    None
}

/// The hidden field every posting form carries (see the module docs).
#[component]
pub fn CsrfField() -> impl IntoView {
    view! { <input type="hidden" name=CSRF_FIELD value=current_token()/> }
}

/// The browser client of every server function: the ordinary `fetch` client plus the
/// [`CSRF_HEADER`] header (see the module docs).
pub struct CsrfClient;

mod client {
    use std::future::Future;

    use bytes::Bytes;
    use futures::{Sink, Stream};
    use leptos::server_fn::client::{Client, browser::BrowserClient};
    use leptos::server_fn::error::FromServerFnError;
    use leptos::server_fn::request::browser::BrowserRequest;
    use leptos::server_fn::response::browser::BrowserResponse;

    use super::CsrfClient;

    impl<E, IS, OS> Client<E, IS, OS> for CsrfClient
    where
        E: FromServerFnError,
        IS: FromServerFnError,
        OS: FromServerFnError,
    {
        type Request = BrowserRequest;
        type Response = BrowserResponse;

        fn send(req: Self::Request) -> impl Future<Output = Result<Self::Response, E>> + Send {
            if let Some(token) = super::cookie_token() {
                req.headers().set(super::CSRF_HEADER, &token);
            }
            <BrowserClient as Client<E, IS, OS>>::send(req)
        }

        #[allow(clippy::type_complexity)]
        fn open_websocket(
            path: &str,
        ) -> impl Future<
            Output = Result<
                (
                    impl Stream<Item = Result<Bytes, Bytes>> + Send + 'static,
                    impl Sink<Bytes> + Send + 'static,
                ),
                E,
            >,
        > + Send {
            <BrowserClient as Client<E, IS, OS>>::open_websocket(path)
        }

        fn spawn(future: impl Future<Output = ()> + Send + 'static) {
            <BrowserClient as Client<E, IS, OS>>::spawn(future)
        }
    }
}

#[cfg(test)]
mod tests {
    /// Every server function must post with [`super::CsrfClient`], or the hydrated app's calls
    /// of it would be refused (the server checks every one): a function declared without it
    /// fails here rather than in a browser.
    #[test]
    fn every_server_function_sends_the_token() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
        let mut missing = Vec::new();
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).expect("src") {
            let path = entry.expect("entry").path();
            let text = std::fs::read_to_string(&path).expect("source");
            for line in text
                .lines()
                .filter(|l| l.trim_start().starts_with("#[server("))
            {
                seen += 1;
                if !line.contains("client = crate::csrf::CsrfClient") {
                    missing.push(format!("{}: {}", path.display(), line.trim()));
                }
            }
        }
        assert!(seen > 0, "no server functions found under {dir}");
        assert!(
            missing.is_empty(),
            "server functions without CsrfClient:\n{}",
            missing.join("\n")
        );
    }
}
