//! The authoring pages: the draft list (`/authoring`), the draft form (`/authoring/:id`) and the
//! "Update this advisory" button of the advisory page. Views, server functions and the form's
//! field names live in [`crate::authoring`]; these components only render.
//!
//! Every form works without JavaScript. The draft form is one `ActionForm` whose buttons post an
//! `op`; all of them save what was typed first, so adding or removing a row is a round trip that
//! comes back with the draft saved. Everything typed is shown as text (textareas escaped on the
//! server, see [`textarea_text`]), never as markup.

use crate::csrf::CsrfField;
use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;
use leptos_router::{
    components::A,
    hooks::{use_params_map, use_query_map},
};

use crate::authoring::{
    ActOnDraft, AuthoringSave, CvssScore, DraftPage, DraftSummary, DraftsView, FieldError,
    NOT_AFFECTED_JUSTIFICATIONS, NOTE_CATEGORIES, NewDraft, NoteRow, PreviewView,
    REMEDIATION_CATEGORIES, RefRow, RemRow, SetFourEyes, StartUpdate, TLP_LABELS, VulnRow, field,
    get_draft, list_drafts, preview_draft, rem_key, row_key,
};
use crate::destinations::CHECKBOX_KEY_PREFIX;
use crate::model::ProductOption;
use crate::ui::ErrorBox;

/// A textarea's content as the page sends it. Leptos writes a textarea's text into the
/// server-rendered HTML unescaped, and an HTML parser ends a textarea at the first
/// `</textarea>`, so a summary containing `</textarea><script>…` would break out of it: on the
/// server the text is escaped here (the parser decodes the entities back inside a textarea). In
/// the browser the text is set as text, where escaping would show literally.
fn textarea_text(text: String) -> String {
    #[cfg(feature = "ssr")]
    let text = html_escape::encode_text(&text).into_owned();
    text
}

/// Messages of the errors about one field.
fn errors_at(errors: &[FieldError], path: &str) -> Vec<String> {
    errors
        .iter()
        .filter(|e| e.field == path)
        .map(|e| e.message.clone())
        .collect()
}

/// `CRITICAL` → `Critical`.
fn severity_text(severity: &str) -> String {
    let lower = severity.to_ascii_lowercase();
    let mut chars = lower.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// The anchor id of a field's error list.
fn error_id(path: &str) -> String {
    format!("err-{}", path.replace('.', "-"))
}

#[component]
fn FieldErrors(errors: Vec<String>, path: String) -> impl IntoView {
    (!errors.is_empty()).then(|| {
        view! {
            <ul class="field-errors" id=error_id(&path) data-testid="field-error" data-field=path>
                {errors.into_iter().map(|m| view! { <li>{m}</li> }).collect_view()}
            </ul>
        }
    })
}

/// A labelled one-line text field with its errors.
#[component]
fn TextField(
    label: &'static str,
    name: String,
    path: String,
    value: String,
    errors: Vec<String>,
    #[prop(optional)] placeholder: &'static str,
) -> impl IntoView {
    let id = format!("f-{}", path.replace('.', "-"));
    let (field_name, described_by) = (path.clone(), error_id(&path));
    view! {
        <div class="field" data-field=field_name>
            <label for=id.clone()>{label}</label>
            <input
                id=id
                type="text"
                name=name
                value=value
                placeholder=placeholder
                aria-describedby=described_by.clone()
            />
            <FieldErrors errors path/>
        </div>
    }
}

/// A labelled textarea with its errors.
#[component]
fn TextArea(
    label: &'static str,
    name: String,
    path: String,
    value: String,
    errors: Vec<String>,
    #[prop(optional)] hint: &'static str,
) -> impl IntoView {
    let id = format!("f-{}", path.replace('.', "-"));
    let (field_name, described_by) = (path.clone(), error_id(&path));
    view! {
        <div class="field" data-field=field_name>
            <label for=id.clone()>{label}</label>
            {(!hint.is_empty()).then(|| view! { <p class="muted">{hint}</p> })}
            <textarea id=id name=name rows="4" aria-describedby=described_by.clone()>
                {textarea_text(value)}
            </textarea>
            <FieldErrors errors path/>
        </div>
    }
}

/// A labelled select of fixed choices with its errors.
#[component]
fn Choice(
    label: &'static str,
    name: String,
    path: String,
    value: String,
    choices: &'static [&'static str],
    errors: Vec<String>,
) -> impl IntoView {
    let id = format!("f-{}", path.replace('.', "-"));
    // A stored value that is not a choice (e.g. from an imported revision) stays selectable.
    let extra = (!value.is_empty() && !choices.contains(&value.as_str())).then(|| {
        view! { <option value=value.clone() selected>{value.clone()}</option> }
    });
    let options = choices
        .iter()
        .map(|c| view! { <option value=*c selected=*c == value>{*c}</option> })
        .collect_view();
    let (field_name, described_by) = (path.clone(), error_id(&path));
    view! {
        <div class="field" data-field=field_name>
            <label for=id.clone()>{label}</label>
            <select id=id name=name aria-describedby=described_by.clone()>
                {extra}
                {options}
            </select>
            <FieldErrors errors path/>
        </div>
    }
}

/// A checkbox per product (`name[p:ID]`): the offered products, then any checked id the offer
/// lacks (so saving never drops a choice silently).
#[component]
fn ProductBoxes(
    legend: &'static str,
    name: String,
    path: String,
    offered: Vec<ProductOption>,
    checked: Vec<String>,
    errors: Vec<String>,
) -> impl IntoView {
    let mut boxes: Vec<(String, String, bool)> = offered
        .iter()
        .map(|p| (p.id.clone(), p.label.clone(), checked.contains(&p.id)))
        .collect();
    for id in &checked {
        if !offered.iter().any(|p| &p.id == id) {
            boxes.push((id.clone(), id.clone(), true));
        }
    }
    let empty = boxes.is_empty();
    let boxes = boxes
        .into_iter()
        .map(|(id, label, on)| {
            view! {
                <label class="checkbox">
                    <input
                        type="checkbox"
                        name=format!("{name}[{CHECKBOX_KEY_PREFIX}{id}]")
                        value="on"
                        checked=on
                        data-product=id
                    />
                    " "
                    {label}
                </label>
            }
        })
        .collect_view();
    let field_name = path.clone();
    view! {
        <fieldset data-field=field_name>
            <legend>{legend}</legend>
            {empty
                .then(|| {
                    view! {
                        <p class="muted">
                            "Choose the advisory's products above and save to pick them here."
                        </p>
                    }
                })}
            {boxes}
            <FieldErrors errors path/>
        </fieldset>
    }
}

// ---------------------------------------------------------------------------------------------
// the draft list

#[component]
pub fn DraftsPage() -> impl IntoView {
    let query = use_query_map();
    let create = ServerAction::<NewDraft>::new();
    let four_eyes = ServerAction::<SetFourEyes>::new();
    let notice = move || {
        let q = query.read();
        if q.get("discarded").is_some() {
            Some("The draft was discarded.")
        } else if q.get("four_eyes_changed").is_some() {
            Some("The four-eyes setting was changed.")
        } else {
            None
        }
    };
    let drafts = Resource::new(
        move || (create.version().get(), four_eyes.version().get(), notice()),
        |_| list_drafts(),
    );
    let action_error = move || {
        create
            .value()
            .get()
            .and_then(|r| r.err())
            .or_else(|| four_eyes.value().get().and_then(|r| r.err()))
            .map(|error| view! { <ErrorBox error/> })
    };
    view! {
        <Title text="Authoring"/>
        <h1>"Authoring"</h1>
        {action_error}
        {move || notice().map(|m| view! { <p class="notice" role="status" data-testid="authoring-notice">{m}</p> })}
        <Suspense fallback=|| view! { <p class="muted">"Loading drafts…"</p> }>
            {move || Suspend::new(async move {
                match drafts.await {
                    Ok(view) => view! { <DraftList view create four_eyes/> }.into_any(),
                    Err(error) => view! { <ErrorBox error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn DraftList(
    view: DraftsView,
    create: ServerAction<NewDraft>,
    four_eyes: ServerAction<SetFourEyes>,
) -> impl IntoView {
    let DraftsView {
        drafts,
        four_eyes: rule_on,
        can_author,
        can_configure,
    } = view;
    let rule_text = if rule_on {
        "Four-eyes rule: on. An advisory is published by an approver who is not its author."
    } else {
        "Four-eyes rule: off. A publisher may publish their own advisory."
    };
    let switch = can_configure.then(|| {
        view! {
            <ActionForm action=four_eyes attr:class="inline-form">
                <CsrfField/>
                {(!rule_on).then(|| view! { <input type="hidden" name="enabled" value="on"/> })}
                <button type="submit" data-testid="toggle-four-eyes">
                    {if rule_on { "Turn the four-eyes rule off" } else { "Turn the four-eyes rule on" }}
                </button>
            </ActionForm>
        }
    });
    let new_button = can_author.then(|| {
        view! {
            <ActionForm action=create attr:class="inline-form">
                <CsrfField/>
                <button type="submit" class="button" data-testid="new-draft">"New advisory"</button>
            </ActionForm>
        }
    });
    let table = if drafts.is_empty() {
        view! { <p class="muted" data-testid="no-drafts">"No drafts."</p> }.into_any()
    } else {
        let rows = drafts
            .into_iter()
            .map(|d| view! { <DraftRow d/> })
            .collect_view();
        view! {
            <div class="table-wrap">
                <table class="compact" data-testid="drafts">
                    <thead>
                        <tr>
                            <th>"Title"</th>
                            <th>"Tracking id"</th>
                            <th>"State"</th>
                            <th>"Version"</th>
                            <th>"Author"</th>
                            <th>"Updated"</th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        }
        .into_any()
    };
    view! {
        <p data-testid="four-eyes" data-on=rule_on.to_string()>{rule_text}</p>
        {switch}
        {new_button}
        {table}
    }
}

#[component]
fn DraftRow(d: DraftSummary) -> impl IntoView {
    let title = if d.title.is_empty() {
        "(untitled)".to_string()
    } else {
        d.title.clone()
    };
    let (draft_id, state, link) = (
        d.id.clone(),
        d.state.clone(),
        crate::authoring::draft_path(&d.id),
    );
    view! {
        <tr data-draft=draft_id data-state=state>
            <td>
                <a href=link>{title}</a>
                {d.can_approve
                    .then(|| view! { " " <span class="badge" data-testid="awaiting-approval">"awaiting your approval"</span> })}
            </td>
            <td>{d.tracking_id.unwrap_or_default()}</td>
            <td>{d.state}</td>
            <td>{d.version.unwrap_or_default()}</td>
            <td>{d.author}</td>
            <td class="nowrap">{d.updated_at}</td>
        </tr>
    }
}

// ---------------------------------------------------------------------------------------------
// the draft form

#[component]
pub fn DraftFormPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let save = ServerAction::<AuthoringSave>::new();
    let act = ServerAction::<ActOnDraft>::new();
    let id = move || params.read().get("id").unwrap_or_default();
    // Every redirect back changes the query, which reloads the draft.
    let query_key = move || {
        let q = query.read();
        ["saved", "preview", "submitted", "refused"]
            .map(|k| q.get(k))
            .to_vec()
    };
    let wants_preview = move || {
        let q = query.read();
        q.get("preview").is_some() || q.get("refused").is_some()
    };
    let draft = Resource::new(
        move || (id(), query_key(), save.version().get(), act.version().get()),
        |(id, _, _, _)| get_draft(id),
    );
    let preview = Resource::new(
        move || (id(), wants_preview(), query_key(), save.version().get()),
        |(id, wanted, _, _)| async move {
            if wanted {
                Some(preview_draft(id).await)
            } else {
                None
            }
        },
    );
    let notice = move || {
        let q = query.read();
        if q.get("submitted").is_some() {
            Some("Submitted for approval.".to_string())
        } else if let Some(what) = q.get("refused") {
            Some(format!(
                "Not {}: the document has problems (listed below the form).",
                if what == "publish" {
                    "published"
                } else {
                    "submitted"
                }
            ))
        } else if q.get("saved").is_some() {
            Some("Draft saved.".to_string())
        } else {
            None
        }
    };
    let action_error = move || {
        save.value()
            .get()
            .and_then(|r| r.err())
            .or_else(|| act.value().get().and_then(|r| r.err()))
            .map(|error| view! { <ErrorBox error/> })
    };
    view! {
        <p class="breadcrumb">
            <A href="/authoring">"← All drafts"</A>
        </p>
        {action_error}
        {move || notice().map(|m| view! { <p class="notice" role="status" data-testid="draft-notice">{m}</p> })}
        <Suspense fallback=|| view! { <p class="muted">"Loading draft…"</p> }>
            {move || Suspend::new(async move {
                match draft.await {
                    Ok(page) => view! { <DraftView page save act/> }.into_any(),
                    Err(error) => {
                        view! {
                            <Title text="Draft not available"/>
                            <h1>"Draft not available"</h1>
                            <ErrorBox error/>
                        }
                            .into_any()
                    }
                }
            })}
        </Suspense>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match preview.await {
                    Some(Ok(preview)) => view! { <Preview preview/> }.into_any(),
                    Some(Err(error)) => view! { <ErrorBox error/> }.into_any(),
                    None => ().into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn DraftView(
    page: DraftPage,
    save: ServerAction<AuthoringSave>,
    act: ServerAction<ActOnDraft>,
) -> impl IntoView {
    let DraftPage {
        form,
        state,
        version,
        author,
        updated_at,
        products,
        scores,
        errors,
        four_eyes,
        can_edit,
        can_submit,
        can_approve,
        can_discard,
        approval_note,
    } = page;
    let id = form.draft_id.clone().unwrap_or_default();
    let heading = if form.title.is_empty() {
        "Untitled draft".to_string()
    } else {
        form.title.clone()
    };
    let facts = view! {
        <dl class="facts" data-testid="draft-facts">
            <dt>"State"</dt>
            <dd data-testid="draft-state">{state.clone()}</dd>
            <dt>"Tracking id"</dt>
            <dd data-testid="draft-tracking-id">
                {form.tracking_id.clone().unwrap_or_else(|| "assigned when published".into())}
            </dd>
            <dt>"Version"</dt>
            <dd>{version.clone().unwrap_or_default()}</dd>
            <dt>"Author"</dt>
            <dd>{author}</dd>
            <dt>"Last saved"</dt>
            <dd>{updated_at}</dd>
            <dt>"Four-eyes rule"</dt>
            <dd>{if four_eyes { "on" } else { "off" }}</dd>
        </dl>
    };
    let note =
        approval_note.map(|n| view! { <p class="muted" data-testid="approval-note">{n}</p> });
    let general = errors
        .iter()
        .filter(|e| e.field == field::FORM)
        .map(|e| e.message.clone())
        .collect::<Vec<_>>();
    let problem_count = errors.len();
    let summary = (problem_count > 0).then(|| {
        view! {
            <div class="notice notice-error" role="alert" data-testid="draft-problems">
                <p>{format!("{problem_count} problem(s); each is shown next to its field.")}</p>
                <FieldErrors errors=general path=field::FORM.to_string()/>
            </div>
        }
    });
    let body = if can_edit {
        view! {
            <EditForm
                form
                version=version.clone()
                products
                scores
                errors
                can_submit
                can_approve
                can_discard
                save
            />
        }
        .into_any()
    } else {
        view! {
            <ReadOnlyDraft form scores/>
            <ActionForm action=act attr:class="draft-actions">
                <CsrfField/>
                <input type="hidden" name="id" value=id/>
                <button type="submit" name="op" value="preview" data-testid="preview">"Preview"</button>
                {can_submit
                    .then(|| view! { <button type="submit" name="op" value="submit" data-testid="submit">"Submit for approval"</button> })}
                {can_approve
                    .then(|| view! { <button type="submit" name="op" value="publish" data-testid="publish">"Approve and publish"</button> })}
                {can_discard
                    .then(|| view! { <button type="submit" name="op" value="discard" data-testid="discard">"Discard"</button> })}
            </ActionForm>
        }
        .into_any()
    };
    view! {
        <Title text=heading.clone()/>
        <h1 data-testid="draft-title">{heading}</h1>
        {facts}
        {note}
        {summary}
        {body}
    }
}

/// A draft the viewer may not change (e.g. waiting for approval): what it says, as text.
#[component]
fn ReadOnlyDraft(
    form: crate::authoring::AuthoringForm,
    scores: Vec<Option<CvssScore>>,
) -> impl IntoView {
    let vulns = form
        .vulnerabilities
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let score = scores.get(i).cloned().flatten();
            view! {
                <li>
                    <strong>{if v.cve.is_empty() { "(no CVE)".to_string() } else { v.cve }}</strong>
                    " " {v.title} " " <code>{v.cvss_vector}</code> " " <ScoreText score/>
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="draft-readonly" data-testid="draft-readonly">
            <p>"TLP: " {form.tlp}</p>
            <p class="prose">{form.summary}</p>
            <h2>"Vulnerabilities"</h2>
            <ul>{vulns}</ul>
        </section>
    }
}

#[component]
fn ScoreText(score: Option<CvssScore>) -> impl IntoView {
    score.map(|s| {
        view! {
            <span class="score" data-testid="cvss-score" data-severity=s.severity.clone()>
                {format!("{:.1} {}", s.score, severity_text(&s.severity))}
            </span>
        }
    })
}

#[component]
#[allow(clippy::too_many_arguments)]
fn EditForm(
    form: crate::authoring::AuthoringForm,
    version: Option<String>,
    products: Vec<ProductOption>,
    scores: Vec<Option<CvssScore>>,
    errors: Vec<FieldError>,
    can_submit: bool,
    can_approve: bool,
    can_discard: bool,
    save: ServerAction<AuthoringSave>,
) -> impl IntoView {
    let chosen: Vec<ProductOption> = form
        .product_ids
        .iter()
        .map(|id| {
            products
                .iter()
                .find(|p| &p.id == id)
                .cloned()
                .unwrap_or_else(|| ProductOption {
                    id: id.clone(),
                    label: id.clone(),
                })
        })
        .collect();
    let notes = form
        .notes
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, note)| view! { <NoteFields i note errors=errors.clone()/> })
        .collect_view();
    let references = form
        .references
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, reference)| view! { <RefFields i reference errors=errors.clone()/> })
        .collect_view();
    let vulns = form
        .vulnerabilities
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, vuln)| {
            let score = scores.get(i).cloned().flatten();
            view! { <VulnFields i vuln score chosen=chosen.clone() errors=errors.clone()/> }
        })
        .collect_view();
    // A draft of a new advisory is published as version 1 (or 1.0.0): only an update has a
    // revision to describe.
    let update = !matches!(version.as_deref(), None | Some("1" | "1.0.0"));
    view! {
        <ActionForm action=save attr:class="authoring-form" attr:data-testid="draft-form">
            <CsrfField/>
            <input type="hidden" name="draft_id" value=form.draft_id.clone().unwrap_or_default()/>
            <TextField
                label="Title"
                name="title".into()
                path="title".into()
                value=form.title.clone()
                errors=errors_at(&errors, "title")
            />
            <Choice
                label="TLP"
                name="tlp".into()
                path="tlp".into()
                value=form.tlp.clone()
                choices=&TLP_LABELS
                errors=errors_at(&errors, "tlp")
            />
            <TextArea
                label="Summary"
                name="summary".into()
                path="summary".into()
                value=form.summary.clone()
                errors=errors_at(&errors, "summary")
            />
            {update
                .then(|| {
                    view! {
                        <TextField
                            label="What changed in this revision"
                            name="revision_summary".into()
                            path="revision_summary".into()
                            value=form.revision_summary.clone()
                            errors=errors_at(&errors, "revision_summary")
                        />
                    }
                })}
            <ProductBoxes
                legend="Products (from the catalog)"
                name="product".into()
                path="product_ids".into()
                offered=products
                checked=form.product_ids.clone()
                errors=errors_at(&errors, "product_ids")
            />
            <fieldset id="vulnerabilities">
                <legend>"Vulnerabilities"</legend>
                {vulns}
                <button type="submit" name="op" value="add_vuln" data-testid="add-vuln">"Add vulnerability"</button>
            </fieldset>
            <fieldset id="notes">
                <legend>"Notes"</legend>
                {notes}
                <button type="submit" name="op" value="add_note" data-testid="add-note">"Add note"</button>
            </fieldset>
            <fieldset id="references">
                <legend>"References"</legend>
                {references}
                <button type="submit" name="op" value="add_ref" data-testid="add-ref">"Add reference"</button>
            </fieldset>
            <TextArea
                label="Acknowledgments"
                name="acknowledgments".into()
                path="acknowledgments".into()
                value=form.acknowledgments.join("\n")
                errors=errors_at(&errors, "acknowledgments")
                hint="One name or organisation per line."
            />
            <div class="draft-actions">
                // The first submit button is what Enter in a text field presses: saving.
                <button type="submit" name="op" value="save" data-testid="save">"Save draft"</button>
                <button type="submit" name="op" value="preview" data-testid="preview">"Preview"</button>
                {can_submit
                    .then(|| view! { <button type="submit" name="op" value="submit" data-testid="submit">"Submit for approval"</button> })}
                {can_approve
                    .then(|| view! { <button type="submit" name="op" value="publish" data-testid="publish">"Approve and publish"</button> })}
                {can_discard
                    .then(|| view! { <button type="submit" name="op" value="discard" data-testid="discard">"Discard"</button> })}
            </div>
        </ActionForm>
    }
}

#[component]
fn NoteFields(i: usize, note: NoteRow, errors: Vec<FieldError>) -> impl IntoView {
    let key = row_key(i);
    view! {
        <div class="row-group" id=format!("note-{i}")>
            <Choice
                label="Category"
                name=format!("note[{key}][category]")
                path=field::note(i, "category")
                value=note.category
                choices=&NOTE_CATEGORIES
                errors=errors_at(&errors, &field::note(i, "category"))
            />
            <TextField
                label="Title"
                name=format!("note[{key}][title]")
                path=field::note(i, "title")
                value=note.title
                errors=errors_at(&errors, &field::note(i, "title"))
            />
            <TextArea
                label="Text"
                name=format!("note[{key}][text]")
                path=field::note(i, "text")
                value=note.text
                errors=errors_at(&errors, &field::note(i, "text"))
            />
            <button type="submit" name="op" value=format!("remove_note:{i}") data-testid="remove-note">
                "Remove note"
            </button>
        </div>
    }
}

#[component]
fn RefFields(i: usize, reference: RefRow, errors: Vec<FieldError>) -> impl IntoView {
    let key = row_key(i);
    view! {
        <div class="row-group" id=format!("ref-{i}")>
            <TextField
                label="URL"
                name=format!("reference[{key}][url]")
                path=field::reference(i, "url")
                value=reference.url
                errors=errors_at(&errors, &field::reference(i, "url"))
                placeholder="https://"
            />
            <TextField
                label="Summary"
                name=format!("reference[{key}][summary]")
                path=field::reference(i, "summary")
                value=reference.summary
                errors=errors_at(&errors, &field::reference(i, "summary"))
            />
            <button type="submit" name="op" value=format!("remove_ref:{i}") data-testid="remove-ref">
                "Remove reference"
            </button>
        </div>
    }
}

#[component]
fn VulnFields(
    i: usize,
    vuln: VulnRow,
    score: Option<CvssScore>,
    chosen: Vec<ProductOption>,
    errors: Vec<FieldError>,
) -> impl IntoView {
    let key = row_key(i);
    let name = |f: &str| format!("vuln[{key}][{f}]");
    let path = |f: &str| field::vulnerability(i, f);
    let errs = |f: &str| errors_at(&errors, &field::vulnerability(i, f));
    let remediations = vuln
        .remediations
        .iter()
        .cloned()
        .enumerate()
        .map(|(r, rem)| {
            view! { <RemFields v=i r rem chosen=chosen.clone() errors=errors.clone()/> }
        })
        .collect_view();
    view! {
        <div class="row-group vulnerability" id=format!("vuln-{i}") data-testid="vuln-row">
            <h3>{format!("Vulnerability {}", i + 1)}</h3>
            <TextField
                label="CVE"
                name=name("cve")
                path=path("cve")
                value=vuln.cve
                errors=errs("cve")
                placeholder="CVE-2026-12345"
            />
            <TextField
                label="CWE id"
                name=name("cwe_id")
                path=path("cwe_id")
                value=vuln.cwe_id
                errors=errs("cwe_id")
                placeholder="CWE-79"
            />
            <TextField
                label="CWE name"
                name=name("cwe_name")
                path=path("cwe_name")
                value=vuln.cwe_name
                errors=errs("cwe_name")
            />
            <TextField
                label="Title"
                name=name("title")
                path=path("title")
                value=vuln.title
                errors=errs("title")
            />
            <TextArea
                label="Description"
                name=name("description")
                path=path("description")
                value=vuln.description
                errors=errs("description")
            />
            <TextField
                label="CVSS 3.1 vector"
                name=name("cvss_vector")
                path=path("cvss_vector")
                value=vuln.cvss_vector
                errors=errs("cvss_vector")
                placeholder="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
            />
            <p class="muted">"Score: " <ScoreText score/></p>
            <ProductBoxes
                legend="Known affected"
                name=name("affected")
                path=path("affected")
                offered=chosen.clone()
                checked=vuln.affected
                errors=errs("affected")
            />
            <ProductBoxes
                legend="Fixed"
                name=name("fixed")
                path=path("fixed")
                offered=chosen.clone()
                checked=vuln.fixed
                errors=errs("fixed")
            />
            <ProductBoxes
                legend="Known not affected"
                name=name("not_affected")
                path=path("not_affected")
                offered=chosen.clone()
                checked=vuln.not_affected
                errors=errs("not_affected")
            />
            <Choice
                label="Why not affected"
                name=name("not_affected_justification")
                path=path("not_affected_justification")
                value=vuln.not_affected_justification
                choices=&NOT_AFFECTED_JUSTIFICATIONS
                errors=errs("not_affected_justification")
            />
            <div class="remediations" id=format!("vuln-{i}-remediations")>
                <h4>"Remediations"</h4>
                {remediations}
                <button type="submit" name="op" value=format!("add_rem:{i}") data-testid="add-rem">
                    "Add remediation"
                </button>
            </div>
            <button type="submit" name="op" value=format!("remove_vuln:{i}") data-testid="remove-vuln">
                "Remove vulnerability"
            </button>
        </div>
    }
}

#[component]
fn RemFields(
    v: usize,
    r: usize,
    rem: RemRow,
    chosen: Vec<ProductOption>,
    errors: Vec<FieldError>,
) -> impl IntoView {
    let key = rem_key(v, r);
    let name = |f: &str| format!("rem[{key}][{f}]");
    let path = |f: &str| field::remediation(v, r, f);
    let errs = |f: &str| errors_at(&errors, &field::remediation(v, r, f));
    view! {
        <div class="row-group remediation" id=format!("rem-{v}-{r}") data-testid="rem-row">
            <Choice
                label="Category"
                name=name("category")
                path=path("category")
                value=rem.category
                choices=&REMEDIATION_CATEGORIES
                errors=errs("category")
            />
            <TextArea
                label="Details"
                name=name("details")
                path=path("details")
                value=rem.details
                errors=errs("details")
            />
            <TextField
                label="URL"
                name=name("url")
                path=path("url")
                value=rem.url
                errors=errs("url")
                placeholder="https://"
            />
            <ProductBoxes
                legend="Applies to"
                name=name("products")
                path=path("product_ids")
                offered=chosen
                checked=rem.product_ids
                errors=errs("product_ids")
            />
            <button type="submit" name="op" value=format!("remove_rem:{v}:{r}") data-testid="remove-rem">
                "Remove remediation"
            </button>
        </div>
    }
}

/// The built CSAF document as text, with its failed tests.
#[component]
fn Preview(preview: PreviewView) -> impl IntoView {
    let PreviewView {
        json,
        issues,
        errors,
    } = preview;
    let failed = issues.iter().filter(|i| !i.warning).count();
    let issue_rows = issues
        .into_iter()
        .map(|i| {
            let test = i.test_id.clone();
            view! {
                <tr data-test=test>
                    <td>{if i.warning { "warning" } else { "error" }}</td>
                    <td><code>{i.test_id}</code></td>
                    <td><code>{i.path}</code></td>
                    <td>{i.message}</td>
                </tr>
            }
        })
        .collect_view();
    let field_rows = errors
        .into_iter()
        .map(|e| view! { <li><code>{e.field}</code> ": " {e.message}</li> })
        .collect_view();
    view! {
        <section id="preview" class="preview" data-testid="preview-section">
            <h2>"Preview"</h2>
            <p data-testid="preview-verdict">
                {if failed == 0 {
                    "The document passes validation.".to_string()
                } else {
                    format!("{failed} failed test(s).")
                }}
            </p>
            <ul class="field-errors" data-testid="preview-field-errors">{field_rows}</ul>
            <div class="table-wrap">
                <table class="compact" data-testid="preview-issues">
                    <thead>
                        <tr>
                            <th>"Kind"</th>
                            <th>"Test"</th>
                            <th>"Path"</th>
                            <th>"Message"</th>
                        </tr>
                    </thead>
                    <tbody>{issue_rows}</tbody>
                </table>
            </div>
            <pre class="csaf-json" data-testid="preview-json">{json}</pre>
        </section>
    }
}

/// "Update this advisory" on the advisory page, for the manufacturer's publishers and admins
/// (the server checks again when it is pressed).
#[component]
pub fn UpdateAdvisoryButton(tracking_id: String) -> impl IntoView {
    let start = ServerAction::<StartUpdate>::new();
    let viewer = Resource::new(|| (), |_| crate::api::current_viewer());
    view! {
        <Suspense fallback=|| ()>
            {move || {
                let tracking_id = tracking_id.clone();
                Suspend::new(async move {
                    match viewer.await {
                        Ok(v) if v.may_author() => {
                            view! {
                                <ActionForm action=start attr:class="inline-form">
                                    <CsrfField/>
                                    <input type="hidden" name="tracking_id" value=tracking_id/>
                                    <button type="submit" data-testid="update-advisory">
                                        "Update this advisory"
                                    </button>
                                </ActionForm>
                            }
                                .into_any()
                        }
                        _ => ().into_any(),
                    }
                })
            }}
        </Suspense>
        {move || start.value().get().and_then(|r| r.err()).map(|error| view! { <ErrorBox error/> })}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_reads_as_a_word() {
        assert_eq!(severity_text("CRITICAL"), "Critical");
        assert_eq!(severity_text(""), "");
    }
}
