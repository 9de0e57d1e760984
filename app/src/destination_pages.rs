//! The portal pages for notification destinations and the delivery log: the list of an
//! organization's destinations with their health, a destination's page (its settings, the edit
//! form for admins, "send test" and the last test's outcome), the create form, and the delivery
//! log with its filters, attempts, replay buttons and paging.
//!
//! Every form is an `ActionForm`: rendered as a plain `<form method="post" action="/api/...">`,
//! it works without JavaScript (the server function answers with a redirect), and once hydrated
//! it submits in the background and the router follows the same redirect. Everything shown is
//! rendered as text; secret values are never part of any page.

use crate::csrf::CsrfField;
use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;
use leptos_router::{
    components::A,
    hooks::{use_params_map, use_query_map},
};

use crate::{
    destinations::{
        CHECKBOX_KEY_PREFIX, DeliveryLogView, DeliveryView, DestinationDetail, DestinationsView,
        Draft, FieldIssue, FieldView, GrantsView, HealthView, PluginView, ReplayDelivery,
        SEVERITIES, STATUSES, SUBSCRIPTION_KINDS, SaveDestination, SaveSubscription, SecretStatus,
        SendTest, SubscriptionDraft, SubscriptionView, TestOutcomeView, delivery_log,
        delivery_log_path, destination_path, get_destination, list_destinations, list_plugins,
    },
    ui::ErrorBox,
};

fn severity_text(min: Option<&str>) -> String {
    match min {
        Some(m) => format!("{m} and above"),
        None => "every advisory".to_string(),
    }
}

fn health_label(state: &str) -> &'static str {
    match state {
        "healthy" => "Healthy",
        "failing" => "Failing",
        "paused" => "Paused (circuit breaker)",
        _ => "No deliveries yet",
    }
}

/// Health class from a fixed list, so no stored text ever becomes a class name.
fn health_key(state: &str) -> &'static str {
    match state {
        "healthy" => "healthy",
        "failing" => "failing",
        "paused" => "paused",
        _ => "unknown",
    }
}

fn status_key(status: &str) -> &'static str {
    match status {
        "queued" => "queued",
        "in_flight" => "in_flight",
        "delivered" => "delivered",
        "failed" => "failed",
        "dead" => "dead",
        "withheld" => "withheld",
        _ => "unknown",
    }
}

#[component]
fn Health(health: HealthView) -> impl IntoView {
    let key = health_key(&health.state);
    let last = match (&health.last_attempt_at, &health.last_outcome) {
        (Some(at), Some(outcome)) => format!("last attempt {at}: {outcome}"),
        _ => String::new(),
    };
    let delivered = health
        .last_delivered_at
        .as_ref()
        .map(|at| format!("last delivered {at}"))
        .unwrap_or_default();
    let failures = if health.consecutive_failures > 0 {
        format!("{} failures in a row", health.consecutive_failures)
    } else {
        String::new()
    };
    let backlog = format!(
        "{} queued, {} failed, {} dead",
        health.queued, health.failed, health.dead
    );
    let outage = match (&health.failing_since, &health.escalated_at) {
        (Some(since), Some(told)) => {
            format!("failing since {since} (admins and PSIRT told {told})")
        }
        (Some(since), None) => format!("failing since {since}"),
        _ => String::new(),
    };
    view! {
        <span class=format!("health health-{key}") data-health=key>
            {health_label(key)}
        </span>
        <span class="muted health-detail">
            {[outage, failures, last, delivered, backlog]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" · ")}
        </span>
    }
}

// ---------------------------------------------------------------------------------------------
// the destinations page

#[component]
pub fn DestinationsPage() -> impl IntoView {
    let list = Resource::new(|| (), |_| list_destinations());
    view! {
        <Title text="Destinations"/>
        <h1>"Notification destinations"</h1>
        <Suspense fallback=|| view! { <p class="muted">"Loading destinations…"</p> }>
            {move || Suspend::new(async move {
                match list.await {
                    Ok(view) => view! { <DestinationTable view/> }.into_any(),
                    Err(error) => {
                        view! {
                            <ErrorBox error/>
                            <p>
                                <A href="/login?next=/destinations">"Sign in"</A>
                            </p>
                        }
                            .into_any()
                    }
                }
            })}
        </Suspense>
    }
}

#[component]
fn DestinationTable(view: DestinationsView) -> impl IntoView {
    let DestinationsView {
        org_name,
        manufacturer,
        can_edit,
        items,
    } = view;
    let intro = if manufacturer {
        format!("Every organization's channels ({org_name} sees them all).")
    } else {
        format!("The channels through which {org_name} is notified.")
    };
    let create = can_edit.then(|| {
        view! {
            <p>
                <A href="/destinations/new" attr:class="button" attr:data-testid="new-destination">
                    "New destination"
                </A>
            </p>
        }
    });
    let body = if items.is_empty() {
        view! { <p class="notice" data-testid="destinations-empty">"No destinations yet."</p> }
            .into_any()
    } else {
        let rows = items
            .into_iter()
            .map(|d| {
                let href = destination_path(&d.id);
                view! {
                    <tr data-testid="destination-row" data-destination-id=d.id.clone()>
                        <td>
                            <A href=href>{d.name}</A>
                        </td>
                        {manufacturer.then(|| view! { <td>{d.org_name}</td> })}
                        <td>{d.plugin_name}</td>
                        <td>{if d.enabled { "Enabled" } else { "Disabled" }}</td>
                        <td>{severity_text(d.min_severity.as_deref())}</td>
                        <td>
                            <Health health=d.health/>
                        </td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <div class="table-wrap">
                <table class="compact destinations">
                    <thead>
                        <tr>
                            <th scope="col">"Name"</th>
                            {manufacturer.then(|| view! { <th scope="col">"Organization"</th> })}
                            <th scope="col">"Channel"</th>
                            <th scope="col">"State"</th>
                            <th scope="col">"Severity"</th>
                            <th scope="col">"Health"</th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        }
        .into_any()
    };
    view! {
        <p class="muted">{intro}</p>
        {create}
        {body}
        <p>
            <A href="/deliveries">"Delivery log"</A>
        </p>
    }
}

// ---------------------------------------------------------------------------------------------
// one destination (or the create form)

#[component]
pub fn DestinationPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let test = ServerAction::<SendTest>::new();
    let save = ServerAction::<SaveDestination>::new();
    let draft = move || {
        query
            .read()
            .get("draft")
            .and_then(|d| serde_json::from_str::<Draft>(&d).ok())
    };
    let plugin = move || query.read().get("plugin").unwrap_or_default();
    let saved = move || query.read().get("saved").is_some();
    let subscribe = ServerAction::<SaveSubscription>::new();
    let sub_draft = move || {
        query
            .read()
            .get("sub_draft")
            .and_then(|d| serde_json::from_str::<SubscriptionDraft>(&d).ok())
    };
    let subscribed = move || query.read().get("subscribed").is_some();
    let detail = Resource::new(
        move || {
            (
                id(),
                test.version().get(),
                save.version().get(),
                saved(),
                (subscribe.version().get(), subscribed()),
            )
        },
        |(id, _, _, _, _)| async move {
            if id == "new" {
                Ok(None)
            } else {
                get_destination(id).await.map(Some)
            }
        },
    );
    let plugins = Resource::new(|| (), |_| list_plugins());
    let action_error = move || {
        let failed = save
            .value()
            .get()
            .and_then(|r| r.err())
            .or_else(|| test.value().get().and_then(|r| r.err()))
            .or_else(|| subscribe.value().get().and_then(|r| r.err()));
        failed.map(|error| view! { <ErrorBox error/> })
    };
    view! {
        <p class="breadcrumb">
            <A href="/destinations">"← All destinations"</A>
        </p>
        {action_error}
        <Suspense fallback=|| view! { <p class="muted">"Loading destination…"</p> }>
            {move || Suspend::new(async move {
                let (detail, plugins) = (detail.await, plugins.await);
                match (detail, plugins) {
                    (Ok(None), Ok(plugins)) => {
                        view! { <NewDestination plugins plugin=plugin() draft=draft() save/> }
                            .into_any()
                    }
                    (Ok(Some(detail)), _) => {
                        let (dest_id, subscription) = (
                            detail.id.clone(),
                            detail.subscription.clone(),
                        );
                        view! {
                            <DestinationView detail draft=draft() saved=saved() save test/>
                            <SubscriptionSection
                                id=dest_id
                                view=subscription
                                draft=sub_draft()
                                saved=subscribed()
                                subscribe
                            />
                        }
                            .into_any()
                    }
                    (Err(error), _) | (_, Err(error)) => {
                        view! {
                            <Title text="Destination not available"/>
                            <h1>"Destination not available"</h1>
                            <ErrorBox error/>
                        }
                            .into_any()
                    }
                }
            })}
        </Suspense>
    }
}

#[component]
fn NewDestination(
    plugins: Vec<PluginView>,
    plugin: String,
    draft: Option<Draft>,
    save: ServerAction<SaveDestination>,
) -> impl IntoView {
    let chosen = plugins.iter().find(|p| p.id == plugin).cloned();
    let chooser = {
        let options = plugins
            .iter()
            .map(|p| {
                let selected = p.id == plugin;
                view! {
                    <option value=p.id.clone() selected=selected>
                        {format!("{} ({} {})", p.display_name, p.id, p.version)}
                    </option>
                }
            })
            .collect_view();
        view! {
            <form method="get" action="/destinations/new" class="filter-form">
                <label for="plugin-choice">"Channel"</label>
                <div class="filter-row">
                    <select id="plugin-choice" name="plugin" data-testid="plugin-choice">
                        {options}
                    </select>
                    <button type="submit">"Choose"</button>
                </div>
            </form>
        }
    };
    let form = match chosen {
        Some(plugin) => {
            let draft = draft.unwrap_or_else(|| Draft {
                enabled: true,
                ..Draft::default()
            });
            view! {
                <DestinationFormView
                    plugin
                    id=None
                    draft
                    secrets=Vec::new()
                    save
                />
            }
            .into_any()
        }
        None if plugins.is_empty() => view! {
            <p class="notice">"No delivery plugins are installed; ask the operator."</p>
        }
        .into_any(),
        None => {
            view! { <p class="muted">"Choose the channel the destination uses."</p> }.into_any()
        }
    };
    view! {
        <Title text="New destination"/>
        <h1>"New destination"</h1>
        {chooser}
        {form}
    }
}

#[component]
fn DestinationView(
    detail: DestinationDetail,
    draft: Option<Draft>,
    saved: bool,
    save: ServerAction<SaveDestination>,
    test: ServerAction<SendTest>,
) -> impl IntoView {
    let DestinationDetail {
        id,
        org_name,
        plugin,
        plugin_id,
        name,
        enabled,
        min_severity,
        config,
        secrets,
        grants,
        can_edit,
        health,
        last_test,
        created_at,
        updated_at,
        subscription: _,
    } = detail;
    let plugin_name = plugin
        .as_ref()
        .map(|p| format!("{} ({} {})", p.display_name, p.id, p.version))
        .unwrap_or_else(|| format!("{plugin_id} (not installed)"));
    let settings = config
        .iter()
        .map(|(k, v)| {
            view! {
                <dt>{k.clone()}</dt>
                <dd><code>{v.clone()}</code></dd>
            }
        })
        .collect_view();
    let secret_list = secrets
        .iter()
        .map(|s| {
            view! {
                <li data-testid="secret-status" data-secret=s.name.clone()>
                    <code>{s.name.clone()}</code>
                    ": "
                    {if s.set { "set" } else { "not set" }}
                </li>
            }
        })
        .collect_view();
    let log_href = delivery_log_path(None, Some(&id), 0);
    let edit = match (can_edit, plugin.clone()) {
        (true, Some(plugin)) => {
            let draft = draft.unwrap_or_else(|| Draft {
                name: name.clone(),
                enabled,
                min_severity: min_severity.clone(),
                config: config.clone(),
                grants: grants.clone(),
                issues: Vec::new(),
            });
            view! {
                <section aria-labelledby="edit-h">
                    <h2 id="edit-h">"Change settings"</h2>
                    <DestinationFormView
                        plugin
                        id=Some(id.clone())
                        draft
                        secrets=secrets.clone()
                        save
                    />
                </section>
            }
            .into_any()
        }
        (true, None) => view! {
            <p class="notice">"Its plugin is not installed, so it cannot be changed here."</p>
        }
        .into_any(),
        (false, _) => view! {
            <p class="muted">"Only an administrator of the organization can change it."</p>
        }
        .into_any(),
    };
    let test_form = can_edit.then(|| {
        let id = id.clone();
        view! {
            <ActionForm action=test attr:class="inline-form">
                <CsrfField/>
                <input type="hidden" name="id" value=id/>
                <button type="submit" data-testid="send-test">"Send test"</button>
            </ActionForm>
        }
    });
    view! {
        <Title text=name.clone()/>
        <h1 data-testid="destination-name">{name.clone()}</h1>
        {saved.then(|| view! { <p class="notice" role="status" data-testid="saved">"Saved."</p> })}
        <dl class="facts">
            <dt>"Organization"</dt>
            <dd>{org_name}</dd>
            <dt>"Channel"</dt>
            <dd>{plugin_name}</dd>
            <dt>"State"</dt>
            <dd>{if enabled { "Enabled" } else { "Disabled" }}</dd>
            <dt>"Severity"</dt>
            <dd>{severity_text(min_severity.as_deref())}</dd>
            <dt>"Health"</dt>
            <dd><Health health/></dd>
            <dt>"Created"</dt>
            <dd>{created_at}</dd>
            <dt>"Changed"</dt>
            <dd>{updated_at}</dd>
        </dl>
        <section aria-labelledby="config-h">
            <h2 id="config-h">"Configuration"</h2>
            <dl class="facts" data-testid="destination-config">{settings}</dl>
            <h3>"Secrets"</h3>
            {if secrets.is_empty() {
                view! { <p class="muted">"No secrets."</p> }.into_any()
            } else {
                view! { <ul class="plain">{secret_list}</ul> }.into_any()
            }}
        </section>
        <section aria-labelledby="test-h" id="test-outcome">
            <h2 id="test-h">"Send test"</h2>
            <p class="muted">"Sends a test message through the channel with these settings."</p>
            {test_form}
            {last_test.map(|outcome| view! { <TestOutcome outcome/> })}
        </section>
        <p>
            <A href=log_href>"Deliveries to this destination"</A>
        </p>
        {edit}
    }
}

/// The destination's subscription, and for an admin of its organization the form to change it.
#[component]
fn SubscriptionSection(
    id: String,
    view: SubscriptionView,
    draft: Option<SubscriptionDraft>,
    saved: bool,
    subscribe: ServerAction<SaveSubscription>,
) -> impl IntoView {
    let label_of = |pid: &str| {
        view.products
            .iter()
            .find(|p| p.id == pid)
            .map_or_else(|| pid.to_string(), |p| p.label.clone())
    };
    let products_text = if view.product_ids.is_empty() {
        "any product".to_string()
    } else {
        view.product_ids
            .iter()
            .map(|p| label_of(p))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let families_text = if view.families.is_empty() {
        "any family".to_string()
    } else {
        view.families.clone()
    };
    let kinds_text = if view.event_kinds.is_empty() {
        "every kind".to_string()
    } else {
        view.event_kinds.join(", ")
    };
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let facts = view! {
        <dl class="facts" data-testid="subscription">
            <dt>"Products"</dt>
            <dd data-testid="sub-products">{products_text}</dd>
            <dt>"Families"</dt>
            <dd data-testid="sub-families">{families_text}</dd>
            <dt>"Notices"</dt>
            <dd data-testid="sub-kinds">{kinds_text}</dd>
            <dt>"Security contact"</dt>
            <dd>{yes_no(view.security_contact)}</dd>
            <dt>"Routine notices"</dt>
            <dd>{if view.routine_opt_out { "opted out" } else { "received" }}</dd>
        </dl>
    };
    let form = if view.can_edit {
        let SubscriptionDraft {
            product_ids,
            families,
            event_kinds,
            security_contact,
            routine_opt_out,
            issues,
        } = draft.unwrap_or_else(|| SubscriptionDraft {
            product_ids: view.product_ids.clone(),
            families: view.families.clone(),
            event_kinds: view.event_kinds.clone(),
            security_contact: view.security_contact,
            routine_opt_out: view.routine_opt_out,
            issues: Vec::new(),
        });
        let known = ["product_ids", "families", "event_kinds"];
        let general: Vec<String> = issues
            .iter()
            .filter(|i| !known.contains(&i.field.as_str()))
            .map(|i| i.message.clone())
            .collect();
        let refused = (!issues.is_empty()).then(|| {
            view! {
                <div class="notice notice-error" role="alert" data-testid="subscription-rejected">
                    <p>"The subscription was not saved. Correct the fields marked below."</p>
                    <ul>{general.into_iter().map(|m| view! { <li>{m}</li> }).collect_view()}</ul>
                </div>
            }
        });
        // Chosen ids that are not offered stay in the form, so saving does not drop them.
        let product_boxes = view
            .products
            .iter()
            .map(|p| {
                let checked = product_ids.contains(&p.id);
                view! {
                    <label class="checkbox">
                        <input
                            type="checkbox"
                            name=format!("product[{CHECKBOX_KEY_PREFIX}{}]", p.id)
                            value="on"
                            checked=checked
                        />
                        " "
                        {p.label.clone()}
                    </label>
                }
            })
            .collect_view();
        let unknown_boxes = product_ids
            .iter()
            .filter(|pid| !view.products.iter().any(|p| &&p.id == pid))
            .map(|pid| {
                view! {
                    <label class="checkbox">
                        <input type="checkbox" name=format!("product[{CHECKBOX_KEY_PREFIX}{pid}]") value="on" checked/>
                        " "
                        {pid.clone()}
                    </label>
                }
            })
            .collect_view();
        let kind_boxes = SUBSCRIPTION_KINDS
            .iter()
            .map(|k| {
                let checked = event_kinds.iter().any(|e| e == k);
                view! {
                    <label class="checkbox">
                        <input type="checkbox" name=format!("kind[{CHECKBOX_KEY_PREFIX}{k}]") value="on" checked=checked/>
                        " "
                        {*k}
                    </label>
                }
            })
            .collect_view();
        let product_messages = issues_for(&issues, "product_ids");
        let family_messages = issues_for(&issues, "families");
        let kind_messages = issues_for(&issues, "event_kinds");
        view! {
            {refused}
            <ActionForm
                action=subscribe
                attr:class="subscription-form"
                attr:data-testid="subscription-form"
            >
                <CsrfField/>
                <input type="hidden" name="id" value=id.clone()/>
                <fieldset data-field="product_ids">
                    <legend>"Products (none chosen: any product)"</legend>
                    {product_boxes}
                    {unknown_boxes}
                    <FieldErrors messages=product_messages id="err-product_ids".to_string()/>
                </fieldset>
                <div data-field="families">
                    <label for="sub-families">"Product families (comma-separated)"</label>
                    <input
                        id="sub-families"
                        name="families"
                        value=families
                        aria-describedby="err-families"
                    />
                    <FieldErrors messages=family_messages id="err-families".to_string()/>
                </div>
                <fieldset data-field="event_kinds">
                    <legend>"Notices (none chosen: every kind)"</legend>
                    {kind_boxes}
                    <FieldErrors messages=kind_messages id="err-event_kinds".to_string()/>
                </fieldset>
                <label class="checkbox">
                    <input
                        type="checkbox"
                        name="security_contact"
                        value="on"
                        checked=security_contact
                    />
                    " Security contact (critical notices arrive even when routine ones do not)"
                </label>
                <label class="checkbox">
                    <input type="checkbox" name="routine_opt_out" value="on" checked=routine_opt_out/>
                    " No routine notices"
                </label>
                <button type="submit" data-testid="save-subscription">"Save subscription"</button>
            </ActionForm>
        }
        .into_any()
    } else {
        view! {
            <p class="muted">
                "Only an administrator of the destination's organization can change it."
            </p>
        }
        .into_any()
    };
    view! {
        <section aria-labelledby="subscription-h" id="subscription">
            <h2 id="subscription-h">"Subscription"</h2>
            {saved
                .then(|| {
                    view! {
                        <p class="notice" role="status" data-testid="subscription-saved">
                            "Subscription saved."
                        </p>
                    }
                })}
            {facts}
            {form}
        </section>
    }
}

#[component]
fn TestOutcome(outcome: TestOutcomeView) -> impl IntoView {
    let TestOutcomeView {
        ok,
        at,
        remote_id,
        detail,
        error,
    } = outcome;
    let class = if ok {
        "notice notice-ok"
    } else {
        "notice notice-error"
    };
    view! {
        <div class=class role="status" data-testid="test-outcome" data-ok=ok.to_string()>
            <p>
                <strong>{if ok { "Test delivered" } else { "Test failed" }}</strong>
                " (" {at} ")"
            </p>
            {remote_id.map(|r| view! { <p>"Receipt: " <code>{r}</code></p> })}
            {detail.map(|d| view! { <p>{d}</p> })}
            {error.map(|e| view! { <p data-testid="test-error">{e}</p> })}
        </div>
    }
}

/// Problems for `field`, shown under it.
fn issues_for(issues: &[FieldIssue], field: &str) -> Vec<String> {
    issues
        .iter()
        .filter(|i| i.field == field)
        .map(|i| i.message.clone())
        .collect()
}

#[component]
fn FieldErrors(messages: Vec<String>, id: String) -> impl IntoView {
    (!messages.is_empty()).then(|| {
        view! {
            <ul class="field-errors" id=id data-testid="field-error">
                {messages.into_iter().map(|m| view! { <li>{m}</li> }).collect_view()}
            </ul>
        }
    })
}

#[component]
fn DestinationFormView(
    plugin: PluginView,
    id: Option<String>,
    draft: Draft,
    secrets: Vec<SecretStatus>,
    save: ServerAction<SaveDestination>,
) -> impl IntoView {
    let Draft {
        name,
        enabled,
        min_severity,
        config,
        grants,
        issues,
    } = draft;
    let known: Vec<String> = ["name", "plugin_id", "min_severity", "grants"]
        .into_iter()
        .map(str::to_string)
        .chain(plugin.fields.iter().map(|f| f.name.clone()))
        .collect();
    let general: Vec<String> = issues
        .iter()
        .filter(|i| !known.contains(&i.field))
        .map(|i| i.message.clone())
        .collect();
    let refused = (!issues.is_empty()).then(|| {
        view! {
            <div class="notice notice-error" role="alert" data-testid="form-rejected">
                <p>
                    "The destination was not saved. Correct the fields marked below. "
                    "Secret values are never sent back: enter them again."
                </p>
                <ul>{general.into_iter().map(|m| view! { <li>{m}</li> }).collect_view()}</ul>
            </div>
        }
    });
    let severity_options = SEVERITIES
        .iter()
        .map(|s| {
            let selected = min_severity.as_deref() == Some(*s);
            view! { <option value=*s selected=selected>{format!("{s} and above")}</option> }
        })
        .collect_view();
    let fields = plugin
        .fields
        .iter()
        .map(|f| {
            let value = config.get(&f.name).cloned().unwrap_or_default();
            view! {
                <PluginField
                    field=f.clone()
                    value
                    secrets=secrets.clone()
                    messages=issues_for(&issues, &f.name)
                />
            }
        })
        .collect_view();
    let grant_messages = issues_for(&issues, "grants");
    let name_messages = issues_for(&issues, "name");
    let severity_messages = issues_for(&issues, "min_severity");
    let plugin_messages = issues_for(&issues, "plugin_id");
    let id_value = id.clone().unwrap_or_default();
    let submit = if id.is_some() {
        "Save changes"
    } else {
        "Create destination"
    };
    view! {
        {refused}
        <ActionForm action=save attr:class="destination-form" attr:data-testid="destination-form">
            <CsrfField/>
            <input type="hidden" name="id" value=id_value/>
            <input type="hidden" name="plugin_id" value=plugin.id.clone()/>
            <FieldErrors messages=plugin_messages id="err-plugin_id".to_string()/>
            <label for="dest-name">"Name"</label>
            <input
                id="dest-name"
                name="name"
                value=name
                required
                maxlength="200"
                aria-describedby="err-name"
            />
            <FieldErrors messages=name_messages id="err-name".to_string()/>
            <label class="checkbox">
                <input type="checkbox" name="enabled" value="on" checked=enabled/>
                " Enabled"
            </label>
            <label for="dest-severity">"Notify about"</label>
            <select id="dest-severity" name="min_severity" aria-describedby="err-min_severity">
                <option value="" selected=min_severity.is_none()>"every advisory"</option>
                {severity_options}
            </select>
            <FieldErrors messages=severity_messages id="err-min_severity".to_string()/>
            <fieldset>
                <legend>{format!("{} settings", plugin.display_name)}</legend>
                {fields}
            </fieldset>
            <GrantFields plugin=plugin.clone() grants messages=grant_messages/>
            <button type="submit" data-testid="save-destination">{submit}</button>
        </ActionForm>
    }
}

#[component]
fn PluginField(
    field: FieldView,
    value: String,
    secrets: Vec<SecretStatus>,
    messages: Vec<String>,
) -> impl IntoView {
    let input_id = format!("cfg-{}", field.name);
    let error_id = format!("err-{}", field.name);
    let label = if field.required {
        format!("{} (required)", field.name)
    } else {
        field.name.clone()
    };
    let input_name = format!("config[{}]", field.name);
    let (kind_hint, input_type) = match field.kind.as_str() {
        "url" => ("URL", "url"),
        "host-port" => ("host:port", "text"),
        "email-list" => ("email addresses, separated by commas", "text"),
        "secret-ref" => (
            "name of a secret (several: separate with commas; a list of one: end with a comma)",
            "text",
        ),
        _ => ("text, or JSON for structured values", "text"),
    };
    let secret_input = (field.kind == "secret-ref").then(|| {
        let named: Vec<String> = value
            .split(',')
            .map(|n| n.trim().trim_matches(|c| c == '"' || c == '[' || c == ']'))
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect();
        let status = named
            .iter()
            .map(|n| {
                let set = secrets.iter().any(|s| &s.name == n && s.set);
                format!("{n}: {}", if set { "set" } else { "not set" })
            })
            .collect::<Vec<_>>()
            .join(", ");
        let secret_id = format!("secret-{}", field.name);
        view! {
            <label for=secret_id.clone()>
                {format!("Value of the secret named in {} (write-only)", field.name)}
            </label>
            <input
                id=secret_id
                type="password"
                name=format!("secret[{}]", field.name)
                autocomplete="new-password"
                placeholder="leave empty to keep"
            />
            {(!status.is_empty())
                .then(|| view! { <p class="muted" data-testid="secret-state">{status}</p> })}
        }
    });
    view! {
        <div class="field" data-field=field.name.clone()>
            <label for=input_id.clone()>{label}</label>
            <input
                id=input_id
                type=input_type
                name=input_name
                value=value
                aria-describedby=error_id.clone()
            />
            <p class="muted">{field.help} " (" {kind_hint} ")"</p>
            {secret_input}
            <FieldErrors messages id=error_id/>
        </div>
    }
}

#[component]
fn GrantFields(plugin: PluginView, grants: GrantsView, messages: Vec<String>) -> impl IntoView {
    let GrantsView {
        http_hosts,
        allow_insecure_http,
        allow_private_addresses,
        tcp_endpoints,
        smtp,
    } = grants;
    let http = plugin.http.then(|| {
        view! {
            <label for="grant-http-hosts">"Hosts it may reach over HTTP (host or host:port)"</label>
            <input id="grant-http-hosts" name="http_hosts" value=http_hosts/>
            <label class="checkbox">
                <input
                    type="checkbox"
                    name="allow_insecure_http"
                    value="on"
                    checked=allow_insecure_http
                />
                " Allow plain http (not https)"
            </label>
            <label class="checkbox">
                <input
                    type="checkbox"
                    name="allow_private_addresses"
                    value="on"
                    checked=allow_private_addresses
                />
                " Allow private and loopback addresses (on-premise receivers)"
            </label>
        }
    });
    let tcp = plugin.tcp.then(|| {
        view! {
            <label for="grant-tcp">"TCP endpoints (host:port)"</label>
            <input id="grant-tcp" name="tcp_endpoints" value=tcp_endpoints/>
        }
    });
    let mail = plugin.smtp.then(|| {
        view! {
            <label class="checkbox">
                <input type="checkbox" name="smtp" value="on" checked=smtp/>
                " Send mail through the SMTP relay"
            </label>
        }
    });
    let any = plugin.http || plugin.tcp || plugin.smtp;
    any.then(|| {
        view! {
            <fieldset>
                <legend>"What the channel may reach"</legend>
                {http}
                {tcp}
                {mail}
                <FieldErrors messages id="err-grants".to_string()/>
            </fieldset>
        }
    })
}

// ---------------------------------------------------------------------------------------------
// the delivery log

#[component]
pub fn DeliveryLogPage() -> impl IntoView {
    let query = use_query_map();
    let replay = ServerAction::<ReplayDelivery>::new();
    let status = move || query.read().get("status").filter(|s| !s.is_empty());
    let destination = move || query.read().get("destination").filter(|s| !s.is_empty());
    let page = move || {
        query
            .read()
            .get("page")
            .and_then(|p| p.parse::<usize>().ok())
            .unwrap_or(1)
    };
    let log = Resource::new(
        move || (status(), destination(), page(), replay.version().get()),
        |(status, destination, page, _)| delivery_log(status, destination, Some(page)),
    );
    let replay_error = move || {
        replay
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|error| view! { <ErrorBox error/> })
    };
    view! {
        <Title text="Delivery log"/>
        <h1>"Delivery log"</h1>
        {replay_error}
        <Suspense fallback=|| view! { <p class="muted">"Loading deliveries…"</p> }>
            {move || Suspend::new(async move {
                match log.await {
                    Ok(log) => {
                        view! { <DeliveryLog log status=status() destination=destination() replay/> }
                            .into_any()
                    }
                    Err(error) => {
                        view! {
                            <ErrorBox error/>
                            <p>
                                <A href="/login?next=/deliveries">"Sign in"</A>
                            </p>
                        }
                            .into_any()
                    }
                }
            })}
        </Suspense>
    }
}

#[component]
fn DeliveryLog(
    log: DeliveryLogView,
    status: Option<String>,
    destination: Option<String>,
    replay: ServerAction<ReplayDelivery>,
) -> impl IntoView {
    let DeliveryLogView {
        items,
        total,
        page,
        page_size,
        manufacturer,
        can_replay,
        destinations,
    } = log;
    let status_options = STATUSES
        .iter()
        .map(|s| {
            let selected = status.as_deref() == Some(*s);
            view! { <option value=*s selected=selected>{s.replace('_', " ")}</option> }
        })
        .collect_view();
    let destination_options = destinations
        .into_iter()
        .map(|(id, name)| {
            let selected = destination.as_deref() == Some(id.as_str());
            view! { <option value=id selected=selected>{name}</option> }
        })
        .collect_view();
    let here = delivery_log_path(status.as_deref(), destination.as_deref(), page);
    let pages = (total as usize).div_ceil(page_size.max(1)).max(1);
    let prev = (page > 0).then(|| {
        let href = delivery_log_path(status.as_deref(), destination.as_deref(), page - 1);
        view! { <A href=href attr:rel="prev" attr:data-testid="page-prev">"← Newer"</A> }
    });
    let next = (page + 1 < pages).then(|| {
        let href = delivery_log_path(status.as_deref(), destination.as_deref(), page + 1);
        view! { <A href=href attr:rel="next" attr:data-testid="page-next">"Older →"</A> }
    });
    let rows = if items.is_empty() {
        view! { <p class="notice" data-testid="deliveries-empty">"No deliveries match."</p> }
            .into_any()
    } else {
        items
            .into_iter()
            .map(|d| view! { <DeliveryRow delivery=d manufacturer can_replay back=here.clone() replay/> })
            .collect_view()
            .into_any()
    };
    view! {
        <p class="muted">
            {if manufacturer {
                "Every event, destination and attempt."
            } else {
                "Deliveries to your organization's destinations."
            }}
        </p>
        <form method="get" action="/deliveries" class="filter-form" role="search">
            <div class="filter-row">
                <label for="log-status">"Status"</label>
                <select id="log-status" name="status" data-testid="status-filter">
                    <option value="" selected=status.is_none()>"any"</option>
                    {status_options}
                </select>
                <label for="log-destination">"Destination"</label>
                <select id="log-destination" name="destination" data-testid="destination-filter">
                    <option value="" selected=destination.is_none()>"any"</option>
                    {destination_options}
                </select>
                <button type="submit">"Filter"</button>
            </div>
        </form>
        <p class="muted" data-testid="delivery-count">
            {format!("{total} deliveries · page {} of {pages}", page + 1)}
        </p>
        <div class="deliveries">{rows}</div>
        <nav class="pager" aria-label="Pages">{prev} " " {next}</nav>
    }
}

#[component]
fn DeliveryRow(
    delivery: DeliveryView,
    manufacturer: bool,
    can_replay: bool,
    back: String,
    replay: ServerAction<ReplayDelivery>,
) -> impl IntoView {
    let DeliveryView {
        id,
        event_id,
        event_kind,
        advisory,
        destination_id,
        destination_name,
        org_name,
        status,
        attempt_count,
        created_at,
        next_attempt_at,
        delivered_at,
        last_error,
        receipt,
        attempts,
    } = delivery;
    let key = status_key(&status);
    let replayable = can_replay && matches!(key, "dead" | "failed");
    let replay_form = replayable.then(|| {
        let id = id.clone();
        view! {
            <ActionForm action=replay attr:class="inline-form">
                <CsrfField/>
                <input type="hidden" name="id" value=id/>
                <input type="hidden" name="back" value=back/>
                <button type="submit" data-testid="replay">"Replay"</button>
            </ActionForm>
        }
    });
    let attempts = attempts
        .into_iter()
        .map(|a| {
            view! {
                <tr>
                    <td class="num">{a.number}</td>
                    <td class="nowrap">{a.started_at}</td>
                    <td class="num">{format!("{} ms", a.duration_ms)}</td>
                    <td>{a.outcome}</td>
                    <td class="break">{a.receipt.unwrap_or_default()}</td>
                    <td class="break">{a.error.unwrap_or_default()}</td>
                    <td class="muted">{a.worker}</td>
                </tr>
            }
        })
        .collect_view();
    let what = match (event_kind, advisory) {
        (Some(kind), Some(advisory)) => format!("{kind}: {advisory}"),
        (Some(kind), None) => kind,
        (None, Some(advisory)) => advisory,
        (None, None) => format!("event {event_id}"),
    };
    let destination_href = destination_path(&destination_id);
    view! {
        <article
            class=format!("delivery delivery-{key}")
            data-testid="delivery"
            data-delivery-id=id.clone()
            data-status=key
        >
            <header>
                <span class=format!("status status-{key}")>{status.replace('_', " ")}</span>
                " "
                <strong>{what}</strong>
                " → "
                <A href=destination_href>{destination_name}</A>
                {manufacturer.then(|| view! { <span class="muted">" (" {org_name} ")"</span> })}
            </header>
            <p class="muted">
                {format!("created {created_at} · {attempt_count} attempts")}
                {next_attempt_at.map(|t| format!(" · next attempt {t}"))}
                {delivered_at.map(|t| format!(" · delivered {t}"))}
            </p>
            {receipt.map(|r| view! { <p>"Receipt: " <code>{r}</code></p> })}
            {last_error.map(|e| view! { <p class="error-text">"Last error: " {e}</p> })}
            {replay_form}
            <details>
                <summary>{format!("Attempts of delivery {id}")}</summary>
                <table class="compact">
                    <thead>
                        <tr>
                            <th scope="col" class="num">"#"</th>
                            <th scope="col">"Started"</th>
                            <th scope="col" class="num">"Duration"</th>
                            <th scope="col">"Outcome"</th>
                            <th scope="col">"Receipt"</th>
                            <th scope="col">"Error"</th>
                            <th scope="col">"Worker"</th>
                        </tr>
                    </thead>
                    <tbody>{attempts}</tbody>
                </table>
            </details>
        </article>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_come_from_fixed_lists() {
        assert_eq!(health_key("x\" onclick=\"y"), "unknown");
        assert_eq!(status_key("<script>"), "unknown");
        assert_eq!(status_key("dead"), "dead");
    }

    #[test]
    fn issues_are_matched_to_their_field() {
        let issues = vec![
            FieldIssue {
                field: "url".into(),
                message: "bad".into(),
            },
            FieldIssue {
                field: "name".into(),
                message: "empty".into(),
            },
        ];
        assert_eq!(issues_for(&issues, "url"), vec!["bad".to_string()]);
        assert!(issues_for(&issues, "other").is_empty());
    }
}
