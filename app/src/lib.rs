//! Herald web UI: the Leptos pages hospital staff read advisories on, and the server functions
//! behind them. Rendered on the server (`ssr`) so every page works without JavaScript, then
//! hydrated in the browser (`hydrate`) for interactive parts such as the live list filter.
//!
//! The app never touches the database: server functions call the [`model::Portal`] the server
//! puts into the Leptos context. Assets the server must serve from the site root
//! (`target/site`): `/pkg/herald.css`, `/pkg/herald.js`, `/pkg/herald_bg.wasm`.

// The advisory page's view type is deep; the hydrate build needs more than the default 128.
#![recursion_limit = "256"]

pub mod account;
pub mod api;
pub mod authoring;
mod authoring_pages;
pub mod catalog;
pub mod csrf;
mod destination_pages;
pub mod destinations;
pub mod model;
mod pages;
pub mod templates;
mod ui;
pub mod workspace;
mod workspace_pages;

/// The portal link of an advisory. The server builds absolute links with
/// `herald_csaf::urls::advisory_page_path`, which the browser bundle cannot link; a server test
/// checks that both agree.
pub use ui::advisory_path;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::{
    SsrMode,
    components::{A, Route, Router, Routes},
    path,
};

/// Name of the cookie that carries the session; HttpOnly, SameSite=Lax, Path=/.
pub const SESSION_COOKIE: &str = "herald_session";

/// The HTML document around the app. The server passes it to `leptos_routes_with_context`.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <link rel="stylesheet" id="herald-css" href="/pkg/herald.css"/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The document title for a page title. leptos_meta writes it into the server-rendered `<title>`
/// without escaping, and `<title>` is raw text to an HTML parser, so an advisory titled
/// `</title><script>…` would break out of it: on the server it is escaped here. In the browser the
/// title is set as text, where escaping would show literally.
fn title_text(page: &str) -> String {
    let full = if page.is_empty() {
        "Herald".to_string()
    } else {
        format!("{page} · Herald")
    };
    #[cfg(feature = "ssr")]
    let full = html_escape::encode_text(&full).into_owned();
    full
}

/// The whole portal: header, routes and footer.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    pages::provide_session();

    // Effects only run in the browser, so this marks the page as interactive once hydrated:
    // end-to-end tests (and curious people) can wait for `body[data-hydrated="true"]`.
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            // A page without the marker still works; nothing to report if the DOM refuses.
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });

    view! {
        <Title formatter=|page: String| title_text(&page)/>
        <Router>
            <a class="skip-link" href="#main">"Skip to content"</a>
            <header class="site-header">
                <nav class="site-nav" aria-label="Main">
                    <A href="/" attr:class="brand">"Herald"</A>
                    <A href="/advisories">"Advisories"</A>
                    <A href="/products">"Products"</A>
                    <A href="/destinations">"Destinations"</A>
                    <A href="/deliveries">"Delivery log"</A>
                    <span class="spacer"></span>
                    <pages::SessionControls/>
                </nav>
            </header>
            <main id="main" class="content">
                <Routes fallback=pages::NotFoundPage>
                    // Async: the whole page (header included) is rendered before it is sent, so
                    // it needs no script to show its data and a missing advisory can answer 404.
                    <Route path=path!("") view=pages::HomePage ssr=SsrMode::Async/>
                    <Route path=path!("/advisories") view=pages::ListPage ssr=SsrMode::Async/>
                    <Route
                        path=path!("/advisories/:tracking_id")
                        view=pages::DetailPage
                        ssr=SsrMode::Async
                    />
                    <Route path=path!("/login") view=pages::LoginPage ssr=SsrMode::Async/>
                    <Route path=path!("/account") view=account::AccountPage ssr=SsrMode::Async/>
                    <Route
                        path=path!("/destinations")
                        view=destination_pages::DestinationsPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/destinations/:id")
                        view=destination_pages::DestinationPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/deliveries")
                        view=destination_pages::DeliveryLogPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/authoring")
                        view=authoring_pages::DraftsPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/authoring/:id")
                        view=authoring_pages::DraftFormPage
                        ssr=SsrMode::Async
                    />
                    <Route path=path!("/products") view=catalog::CatalogPage ssr=SsrMode::Async/>
                    <Route
                        path=path!("/advisories/:tracking_id/uptake")
                        view=workspace_pages::UptakePage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/installed-base")
                        view=workspace_pages::InstalledBasePage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/installed-base/import/:id")
                        view=workspace_pages::ImportPreviewPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/templates")
                        view=templates::TemplatesPage
                        ssr=SsrMode::Async
                    />
                </Routes>
            </main>
            <footer class="site-footer">
                <p>
                    "Security advisories in CSAF 2.0. Machine-readable feed: "
                    <a href="/.well-known/csaf/provider-metadata.json">"provider metadata"</a> "."
                </p>
            </footer>
        </Router>
    }
}

/// Entry point of the browser bundle: attaches to the server-rendered body.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
