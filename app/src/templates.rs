//! The notification templates page (`/templates`): every event kind × channel × part with its
//! compiled-in default and the manufacturer's override, if any; for the manufacturer's admins a
//! textarea to save an override and a button to reset it to the default. The view models, the
//! server functions and the page live here; the server's [`Portal`](crate::model::Portal) does
//! the work and the authorization (only the manufacturer's users see the page, only its admins
//! change anything) and checks an override exactly as `PUT /api/v1/templates/...` does.
//!
//! Forms are `ActionForm`s that work without JavaScript: the server functions answer with a
//! redirect back to the page, a refused override with the typed text and the error next to its
//! field. Template bodies are shown as text, never as markup.

use crate::csrf::CsrfField;
use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::ui::ErrorBox;

/// Longest typed text a refused form carries back in its redirect; a longer one is not returned
/// (the page says so) rather than making a URL no server accepts.
pub const MAX_DRAFT_LEN: usize = 4096;

/// One template slot: its default and the override, if any.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TemplateRow {
    /// Event kind, e.g. `advisory.published`.
    pub kind: String,
    /// `email`, `default` or a plugin id.
    pub channel: String,
    /// `subject`, `text` or `html`.
    pub part: String,
    /// The compiled-in default (absent for an override of a slot without one).
    pub default_body: Option<String>,
    pub override_body: Option<String>,
    pub updated_at: Option<String>,
    pub updated_by: Option<String>,
}

impl TemplateRow {
    /// The id of the row on the page (also the anchor redirects go to).
    pub fn key(&self) -> String {
        template_key(&self.kind, &self.channel, &self.part)
    }
}

/// `kind/channel/part`.
pub fn template_key(kind: &str, channel: &str, part: &str) -> String {
    format!("{kind}/{channel}/{part}")
}

/// Anchor of a row: the key with `/` and `.` replaced, so it is a plain fragment.
pub fn template_anchor(key: &str) -> String {
    let mut out = String::from("t-");
    for c in key.chars() {
        out.push(if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
            c
        } else {
            '_'
        });
    }
    out
}

/// The templates page.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TemplatesView {
    /// The viewer is an admin of the manufacturer (may save and reset overrides).
    pub can_edit: bool,
    pub rows: Vec<TemplateRow>,
}

/// A refused override as it travels back to the page.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct TemplateDraft {
    /// `kind/channel/part`.
    pub key: String,
    /// What was typed; `None` when too long to carry back.
    pub body: Option<String>,
    pub error: String,
}

// ---------------------------------------------------------------------------------------------
// server functions

/// Defaults and overrides (the manufacturer's users only).
#[server(prefix = "/api", endpoint = "templates", client = crate::csrf::CsrfClient)]
pub async fn list_templates() -> Result<TemplatesView, ServerFnError> {
    let portal = crate::api::ssr::portal()?;
    let viewer = crate::api::ssr::viewer(portal.as_ref()).await?;
    portal
        .templates(&viewer)
        .await
        .map_err(crate::api::ssr::user_error)
}

/// Saves an override if it compiles and renders against the samples; either way back to the
/// page, a refused one with the text and the error.
#[server(prefix = "/api", endpoint = "template_save", client = crate::csrf::CsrfClient)]
pub async fn save_template(
    kind: String,
    channel: String,
    part: String,
    body: String,
) -> Result<(), ServerFnError> {
    let portal = crate::api::ssr::portal()?;
    let viewer = crate::api::ssr::viewer(portal.as_ref()).await?;
    let key = template_key(&kind, &channel, &part);
    match portal
        .save_template(&viewer, &kind, &channel, &part, &body)
        .await
        .map_err(crate::api::ssr::user_error)?
    {
        None => leptos_actix::redirect(&format!(
            "/templates?saved={}#{}",
            crate::destinations::query_value(&key),
            template_anchor(&key)
        )),
        Some(error) => {
            let draft = TemplateDraft {
                key: key.clone(),
                body: (body.len() <= MAX_DRAFT_LEN).then_some(body),
                error,
            };
            let draft = serde_json::to_string(&draft).map_err(|e| -> ServerFnError {
                ServerFnError::ServerError(format!("cannot return the form: {e}"))
            })?;
            leptos_actix::redirect(&format!(
                "/templates?draft={}#{}",
                crate::destinations::query_value(&draft),
                template_anchor(&key)
            ));
        }
    }
    Ok(())
}

/// Deletes an override (the default applies again), then back to the page.
#[server(prefix = "/api", endpoint = "template_reset", client = crate::csrf::CsrfClient)]
pub async fn reset_template(
    kind: String,
    channel: String,
    part: String,
) -> Result<(), ServerFnError> {
    let portal = crate::api::ssr::portal()?;
    let viewer = crate::api::ssr::viewer(portal.as_ref()).await?;
    portal
        .reset_template(&viewer, &kind, &channel, &part)
        .await
        .map_err(crate::api::ssr::user_error)?;
    let key = template_key(&kind, &channel, &part);
    leptos_actix::redirect(&format!(
        "/templates?reset={}#{}",
        crate::destinations::query_value(&key),
        template_anchor(&key)
    ));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// the page

#[component]
pub fn TemplatesPage() -> impl IntoView {
    let query = use_query_map();
    let save = ServerAction::<SaveTemplate>::new();
    let reset = ServerAction::<ResetTemplate>::new();
    let draft = move || {
        query
            .read()
            .get("draft")
            .and_then(|d| serde_json::from_str::<TemplateDraft>(&d).ok())
    };
    let done = move || {
        let q = query.read();
        q.get("saved")
            .map(|k| format!("Saved the override of {k}."))
            .or_else(|| {
                q.get("reset")
                    .map(|k| format!("{k} uses its default again."))
            })
    };
    let list = Resource::new(
        move || (save.version().get(), reset.version().get(), done()),
        |_| list_templates(),
    );
    let action_error = move || {
        save.value()
            .get()
            .and_then(|r| r.err())
            .or_else(|| reset.value().get().and_then(|r| r.err()))
            .map(|error| view! { <ErrorBox error/> })
    };
    view! {
        <Title text="Notification templates"/>
        <h1>"Notification templates"</h1>
        {action_error}
        {move || {
            done().map(|m| view! { <p class="notice" role="status" data-testid="template-done">{m}</p> })
        }}
        <Suspense fallback=|| view! { <p class="muted">"Loading templates…"</p> }>
            {move || Suspend::new(async move {
                match list.await {
                    Ok(view) => view! { <TemplateTable view draft=draft() save reset/> }.into_any(),
                    Err(error) => view! { <ErrorBox error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn TemplateTable(
    view: TemplatesView,
    draft: Option<TemplateDraft>,
    save: ServerAction<SaveTemplate>,
    reset: ServerAction<ResetTemplate>,
) -> impl IntoView {
    let can_edit = view.can_edit;
    let rows = view
        .rows
        .into_iter()
        .map(|row| {
            let draft = draft.clone().filter(|d| d.key == row.key());
            view! { <TemplateSlot row draft can_edit save reset/> }
        })
        .collect_view();
    view! {
        <p class="muted">
            "Handlebars in strict mode: an override is saved only if it compiles and renders "
            "against sample notifications (with and without details)."
        </p>
        {(!can_edit)
            .then(|| {
                view! { <p class="muted">"Only an administrator can change templates."</p> }
            })}
        <div data-testid="templates">{rows}</div>
    }
}

#[component]
fn TemplateSlot(
    row: TemplateRow,
    draft: Option<TemplateDraft>,
    can_edit: bool,
    save: ServerAction<SaveTemplate>,
    reset: ServerAction<ResetTemplate>,
) -> impl IntoView {
    let key = row.key();
    let anchor = template_anchor(&key);
    let field_id = format!("{anchor}-body");
    let error_id = format!("{anchor}-err");
    let origin = if row.override_body.is_some() {
        "override"
    } else {
        "default"
    };
    let changed = match (&row.updated_at, &row.updated_by) {
        (Some(at), Some(by)) => format!("Overridden {at} by {by}."),
        _ => String::new(),
    };
    let default_view = match row.default_body.clone() {
        Some(body) => view! {
            <details>
                <summary>"Default"</summary>
                <pre data-testid="template-default">{body}</pre>
            </details>
        }
        .into_any(),
        None => view! { <p class="muted">"No default for this slot."</p> }.into_any(),
    };
    let current = row
        .override_body
        .clone()
        .or_else(|| row.default_body.clone())
        .unwrap_or_default();
    let editor = if can_edit {
        let (text, error, lost) = match draft {
            Some(d) => {
                let lost = d.body.is_none();
                (d.body.unwrap_or(current), Some(d.error), lost)
            }
            None => (current, None, false),
        };
        let (kind, channel, part) = (row.kind.clone(), row.channel.clone(), row.part.clone());
        let reset_form = row.override_body.is_some().then(|| {
            view! {
                <ActionForm action=reset attr:class="inline-form">
                    <CsrfField/>
                    <input type="hidden" name="kind" value=kind/>
                    <input type="hidden" name="channel" value=channel/>
                    <input type="hidden" name="part" value=part/>
                    <button type="submit" data-testid="reset-template">"Reset to default"</button>
                </ActionForm>
            }
        });
        view! {
            <ActionForm action=save attr:class="template-form">
                <CsrfField/>
                <input type="hidden" name="kind" value=row.kind.clone()/>
                <input type="hidden" name="channel" value=row.channel.clone()/>
                <input type="hidden" name="part" value=row.part.clone()/>
                <label for=field_id.clone()>"Override"</label>
                <textarea
                    id=field_id
                    name="body"
                    rows="8"
                    aria-describedby=error_id.clone()
                    data-testid="template-body"
                >
                    {textarea_text(text)}
                </textarea>
                {error.map(|e| {
                    view! {
                        <ul class="field-errors" id=error_id data-testid="field-error">
                            <li>{e}</li>
                            {lost
                                .then(|| {
                                    view! {
                                        <li>"The text was too long to return: the stored one is shown."</li>
                                    }
                                })}
                        </ul>
                    }
                })}
                <button type="submit" data-testid="save-template">"Save override"</button>
            </ActionForm>
            {reset_form}
        }
        .into_any()
    } else {
        view! { <pre data-testid="template-current">{current}</pre> }.into_any()
    };
    view! {
        <section class="template-slot" id=anchor data-template=key.clone()>
            <h2>
                <code>{key.clone()}</code>
                " "
                <span class="muted" data-testid="template-origin" data-origin=origin>
                    {origin}
                </span>
            </h2>
            {(!changed.is_empty()).then(|| view! { <p class="muted">{changed}</p> })}
            {default_view}
            {editor}
        </section>
    }
}

/// A textarea's content as the page sends it. Leptos writes a textarea's text into the
/// server-rendered HTML unescaped, and an HTML parser ends a textarea at the first
/// `</textarea>`, so a template containing `</textarea><script>…` would break out of it: on the
/// server the text is escaped here (the parser decodes the entities back inside a textarea). In
/// the browser the text is set as text, where escaping would show literally.
fn textarea_text(text: String) -> String {
    #[cfg(feature = "ssr")]
    let text = html_escape::encode_text(&text).into_owned();
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_are_plain_fragments() {
        assert_eq!(
            template_anchor("advisory.published/hl7-mllp/text"),
            "t-advisory_published_hl7-mllp_text"
        );
        assert_eq!(template_anchor("a\"><b"), "t-a___b");
    }
}
