//! The signed-in person's own account page (`/account`): their open sessions (this browser and
//! others: when each started, was last used and ends, and which browser), a button to end any of
//! them and one to sign out everywhere. The server's [`Portal`](crate::model::Portal) does the
//! work; one person sees and ends only their own sessions.

use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::csrf::CsrfField;
use crate::ui::ErrorBox;

/// One open session of the viewer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SessionView {
    pub id: String,
    /// UTC, `YYYY-MM-DD HH:MM`.
    pub created_at: String,
    pub last_seen_at: String,
    /// When it ends if not used again (the idle timeout or the lifetime, whichever is first).
    pub ends_at: String,
    pub user_agent: Option<String>,
    /// The session of this browser.
    pub current: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AccountView {
    pub sessions: Vec<SessionView>,
}

// ---------------------------------------------------------------------------------------------
// server functions

/// The viewer's open sessions.
#[server(prefix = "/api", endpoint = "account_sessions", client = crate::csrf::CsrfClient)]
pub async fn account_sessions() -> Result<AccountView, ServerFnError> {
    let portal = crate::api::ssr::portal()?;
    let viewer = crate::api::ssr::viewer(portal.as_ref()).await?;
    let cookie = crate::api::ssr::session_cookie().await;
    portal
        .account(&viewer, cookie.as_deref().unwrap_or_default())
        .await
        .map_err(crate::api::ssr::user_error)
}

/// Ends one of the viewer's sessions, then back to the page (ending this browser's own session
/// signs it out).
#[server(prefix = "/api", endpoint = "session_end", client = crate::csrf::CsrfClient)]
pub async fn end_session(id: String) -> Result<(), ServerFnError> {
    let portal = crate::api::ssr::portal()?;
    let viewer = crate::api::ssr::viewer(portal.as_ref()).await?;
    portal
        .end_session(&viewer, &id)
        .await
        .map_err(crate::api::ssr::user_error)?;
    leptos_actix::redirect("/account?ended=1");
    Ok(())
}

/// Ends every session of the viewer, this one included, and clears the cookie.
#[server(prefix = "/api", endpoint = "logout_everywhere", client = crate::csrf::CsrfClient)]
pub async fn logout_everywhere() -> Result<(), ServerFnError> {
    let portal = crate::api::ssr::portal()?;
    let viewer = crate::api::ssr::viewer(portal.as_ref()).await?;
    portal
        .end_all_sessions(&viewer)
        .await
        .map_err(crate::api::ssr::user_error)?;
    crate::api::ssr::set_session_cookie(None).await?;
    leptos_actix::redirect("/login?signed_out=everywhere");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// the page

#[component]
pub fn AccountPage() -> impl IntoView {
    let query = use_query_map();
    let end = ServerAction::<EndSession>::new();
    let everywhere = ServerAction::<LogoutEverywhere>::new();
    let ended = move || query.read().get("ended").is_some();
    let list = Resource::new(
        move || (end.version().get(), ended()),
        |_| account_sessions(),
    );
    let action_error = move || {
        end.value()
            .get()
            .and_then(|r| r.err())
            .or_else(|| everywhere.value().get().and_then(|r| r.err()))
            .map(|error| view! { <ErrorBox error/> })
    };
    view! {
        <Title text="Your account"/>
        <h1>"Your account"</h1>
        {action_error}
        {move || {
            ended()
                .then(|| view! { <p class="notice" role="status" data-testid="session-ended">"The session was ended."</p> })
        }}
        <h2>"Where you are signed in"</h2>
        <Suspense fallback=|| view! { <p class="muted">"Loading sessions…"</p> }>
            {move || Suspend::new(async move {
                match list.await {
                    Ok(view) => view! { <SessionTable view end/> }.into_any(),
                    Err(error) => view! { <ErrorBox error/> }.into_any(),
                }
            })}
        </Suspense>
        <ActionForm action=everywhere attr:class="inline-form">
            <CsrfField/>
            <button type="submit" data-testid="sign-out-everywhere">"Sign out everywhere"</button>
        </ActionForm>
    }
}

#[component]
fn SessionTable(view: AccountView, end: ServerAction<EndSession>) -> impl IntoView {
    let rows = view
        .sessions
        .into_iter()
        .map(|s| {
            let browser = s
                .user_agent
                .clone()
                .unwrap_or_else(|| "unknown browser".into());
            let this = s
                .current
                .then(|| view! { <strong>" (this browser)"</strong> });
            view! {
                <tr data-testid="session-row">
                    <td>{browser}{this}</td>
                    <td>{s.created_at}</td>
                    <td>{s.last_seen_at}</td>
                    <td>{s.ends_at}</td>
                    <td>
                        <ActionForm action=end attr:class="inline-form">
                            <CsrfField/>
                            <input type="hidden" name="id" value=s.id/>
                            <button type="submit" data-testid="end-session">"Sign out"</button>
                        </ActionForm>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="sessions" data-testid="sessions">
            <thead>
                <tr>
                    <th scope="col">"Browser"</th>
                    <th scope="col">"Signed in (UTC)"</th>
                    <th scope="col">"Last used"</th>
                    <th scope="col">"Ends unless used"</th>
                    <th scope="col"></th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
}
