//! The hospital's workspace pages: the home's "what affects us" ([`HospitalHome`], shown on `/`
//! for a hospital's people), the installed base by site with its forms and the CSV import
//! (`/installed-base`), and a staged import's preview (`/installed-base/import/:id`). Every form
//! is an `ActionForm` posting to a server function that redirects back, so it works without
//! JavaScript; every value is rendered as text.

use leptos::{form::ActionForm, prelude::*};

use crate::csrf::CsrfField;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::ui::{ErrorBox, SeverityBadge};
use crate::workspace::*;

/// The `?saved=` / `?error=` notice of the page.
#[component]
fn OutcomeNotice() -> impl IntoView {
    let query = use_query_map();
    move || {
        let q = query.read();
        if let Some(e) = q.get("error") {
            Some(view! { <p class="notice notice-error" role="alert" data-testid="form-error">{e}</p> }.into_any())
        } else {
            q.get("saved").map(|s| {
                view! { <p class="notice notice-ok" role="status" data-testid="form-saved">{s}</p> }
                    .into_any()
            })
        }
    }
}

// ---------------------------------------------------------------------------------------------
// home

/// "What affects us" for a hospital's people; nothing for anyone else (the welcome stays).
#[component]
pub fn HospitalHome() -> impl IntoView {
    let home = Resource::new(|| (), |_| workspace_home());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match home.await {
                    Ok(Some(view)) => view! { <HomeBody view/> }.into_any(),
                    Ok(None) => ().into_any(),
                    Err(error) => view! { <ErrorBox error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn HomeBody(view: HomeView) -> impl IntoView {
    let can_edit = view.can_edit;
    let next_step = if view.sites == 0 || view.devices == 0 {
        Some(view! {
            <div class="notice" data-testid="home-empty-base">
                <p>
                    "Herald does not know which devices you run yet, so it cannot tell you which "
                    "advisories affect you. "
                    <a href="/installed-base">"Add your sites and devices"</a>
                    " (one by one, or import a CSV file from your asset-management system)."
                </p>
            </div>
        }.into_any())
    } else if view.advisories.is_empty() {
        Some(view! {
            <div class="notice notice-ok" data-testid="home-nothing">
                <p>
                    "No published advisory affects the " {view.devices} " devices of your installed "
                    "base. Herald notifies your "
                    <a href="/destinations">"destinations"</a>
                    " when one does; "
                    <a href="/advisories">"browse all advisories"</a>
                    "."
                </p>
            </div>
        }.into_any())
    } else {
        None
    };
    let more = (view.more > 0).then(|| {
        view! {
            <p class="muted">
                {view.more} " more advisories affect your installed base; "
                <a href="/advisories">"see the full list"</a> "."
            </p>
        }
    });
    let items = view
        .advisories
        .into_iter()
        .map(|a| view! { <AffectingItem a can_edit/> })
        .collect_view();
    view! {
        <section class="workspace-home" aria-labelledby="home-title">
            <h1 id="home-title">"What affects " {view.org_name}</h1>
            <OutcomeNotice/>
            <p class="lead" data-testid="home-summary">
                <strong data-testid="home-open">{view.open}</strong>
                " open advisories; "
                <strong data-testid="home-exposed">{view.exposed_devices}</strong>
                " device exposures still open, across "
                {view.sites} " sites and " {view.devices} " devices. "
                <a href="/installed-base">"Installed base"</a>
            </p>
            {next_step}
            <ol class="affecting" data-testid="home-advisories">{items}</ol>
            {more}
        </section>
    }
}

#[component]
fn AffectingItem(a: AffectingView, can_edit: bool) -> impl IntoView {
    let id = anchor("adv-", &a.tracking_id);
    let link = crate::ui::advisory_path(&a.tracking_id);
    let state = if a.open { "Open" } else { "Handled" };
    let advice = if a.advice.is_empty() {
        view! { <li>"The advisory names no remediation yet: read it for details."</li> }.into_any()
    } else {
        a.advice
            .into_iter()
            .map(|ad| {
                let url = ad.url.filter(|u| u.starts_with("https://")).map(|u| {
                    view! { " " <a href=u rel="noopener noreferrer">"More"</a> }
                });
                view! { <li><strong>{ad.label} ": "</strong> {ad.details} {url}</li> }
            })
            .collect_view()
            .into_any()
    };
    let tracking_id = a.tracking_id.clone();
    let sites = a
        .sites
        .into_iter()
        .map(|s| {
            let form = can_edit
                .then(|| view! { <StatusForm tracking_id=tracking_id.clone() site=s.clone()/> });
            let status = s
                .status
                .as_deref()
                .map(status_label)
                .unwrap_or("No status yet");
            let when = s
                .status_at
                .clone()
                .map(|t| view! { <span class="muted">" (" {t} ")"</span> });
            let reason = s
                .reason
                .clone()
                .map(|r| view! { <span class="muted">" " {r}</span> });
            view! {
                <tr data-site=s.site_name.clone()>
                    <th scope="row">{s.site_name.clone()}</th>
                    <td class="num">{s.devices}</td>
                    <td data-testid="site-status">{status} {when} {reason}</td>
                    <td>{form}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <li id=id class="affecting-item" data-tracking-id=a.tracking_id.clone()>
            <h2>
                <a href=link>{a.title}</a>
            </h2>
            <p class="badges">
                <SeverityBadge severity=a.severity/>
                <span class="tracking-id">{a.tracking_id.clone()}</span>
                <span>{state}</span>
                <span>"Published " {a.published} " (" {a.age_days} " days ago)"</span>
                <span data-testid="exposed-devices">{a.exposed_devices} " devices exposed"</span>
            </p>
            <h3>"What to do"</h3>
            <ul>{advice}</ul>
            <div class="table-wrap" tabindex="0" role="region" aria-label="Scrollable table">
                <table>
                    <caption>"Our status per site"</caption>
                    <thead>
                        <tr>
                            <th scope="col">"Site"</th>
                            <th scope="col" class="num">"Devices"</th>
                            <th scope="col">"Status"</th>
                            <th scope="col">{can_edit.then_some("Change")}</th>
                        </tr>
                    </thead>
                    <tbody>{sites}</tbody>
                </table>
            </div>
        </li>
    }
}

#[component]
fn StatusForm(tracking_id: String, site: SiteExposureView) -> impl IntoView {
    let save = ServerAction::<SaveStatus>::new();
    let base = anchor("st-", &format!("{tracking_id}-{}", site.site_id));
    let options = STATUS_CHOICES
        .iter()
        .map(|(value, label)| {
            let selected = site.status.as_deref() == Some(*value);
            view! { <option value=*value selected=selected>{*label}</option> }
        })
        .collect_view();
    let (s_id, r_id, n_id, v_id) = (
        format!("{base}-status"),
        format!("{base}-reason"),
        format!("{base}-note"),
        format!("{base}-release"),
    );
    view! {
        <details>
            <summary>"Set status for " {site.site_name.clone()}</summary>
            <ActionForm action=save attr:class="status-form">
                <CsrfField/>
                <input type="hidden" name="tracking_id" value=tracking_id/>
                <input type="hidden" name="site_id" value=site.site_id/>
                <p>
                    <label for=s_id.clone()>"Status"</label>
                    <select id=s_id name="status">{options}</select>
                </p>
                <p>
                    <label for=r_id.clone()>"Reason (required for not applicable)"</label>
                    <input id=r_id name="reason"/>
                </p>
                <p>
                    <label for=n_id.clone()>"Note"</label>
                    <input id=n_id name="note"/>
                </p>
                <p>
                    <label for=v_id.clone()>"Release installed"</label>
                    <input id=v_id name="release"/>
                </p>
                <button type="submit" data-testid="save-status">"Save status"</button>
            </ActionForm>
        </details>
    }
}

// ---------------------------------------------------------------------------------------------
// installed base

#[component]
pub fn InstalledBasePage() -> impl IntoView {
    let base = Resource::new(|| (), |_| get_installed_base());
    view! {
        <Title text="Installed base"/>
        <h1>"Installed base"</h1>
        <OutcomeNotice/>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match base.await {
                    Ok(view) => view! { <InstalledBaseBody view/> }.into_any(),
                    Err(error) => view! { <ErrorBox error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn InstalledBaseBody(view: InstalledBaseView) -> impl IntoView {
    let can_edit = view.can_edit;
    let empty = view.sites.is_empty().then(|| {
        view! {
            <p class="notice" data-testid="no-sites">
                "No sites yet. Add your first site below, or import a CSV file: sites named in it "
                "are created."
            </p>
        }
    });
    let products = view.products.clone();
    let sites = view
        .sites
        .into_iter()
        .map(|s| view! { <SiteSection site=s products=products.clone() can_edit/> })
        .collect_view();
    let forms = can_edit.then(|| {
        let add_site = ServerAction::<SaveSite>::new();
        let stage = ServerAction::<StageImport>::new();
        view! {
            <section id="sites">
                <h2>"Add a site"</h2>
                <ActionForm action=add_site attr:class="site-form">
                    <CsrfField/>
                    <input type="hidden" name="id" value=""/>
                    <p><label for="new-site-name">"Name"</label> <input id="new-site-name" name="name" required=true/></p>
                    <p><label for="new-site-code">"Code (optional)"</label> <input id="new-site-code" name="code"/></p>
                    <p><label for="new-site-address">"Address (optional)"</label> <input id="new-site-address" name="address"/></p>
                    <button type="submit" data-testid="add-site">"Add site"</button>
                </ActionForm>
            </section>
            <section id="import">
                <h2>"Import from CSV"</h2>
                <p class="muted">
                    "Columns: site, site_code, product_id, udi_di, product, version, quantity, serial, "
                    "notes (a header row is required). You see a preview with every row that could "
                    "not be matched before anything is written."
                </p>
                <ActionForm action=stage attr:class="import-form">
                    <CsrfField/>
                    <p>
                        <label for="import-csv">"CSV content (UTF-8)"</label>
                        <textarea id="import-csv" name="csv" rows="8" cols="60" required=true></textarea>
                    </p>
                    <button type="submit" data-testid="preview-import">"Preview import"</button>
                </ActionForm>
            </section>
        }
    });
    view! {
        <p>
            <a href="/api/v1/installed-base/export" rel="external" download="installed-base.csv">
                "Export as CSV"
            </a>
            " (the REST API; sign in with a token)."
        </p>
        {empty}
        <div data-testid="sites">{sites}</div>
        {forms}
    }
}

#[component]
fn SiteSection(site: SiteView, products: Vec<ProductOption>, can_edit: bool) -> impl IntoView {
    let id = anchor("site-", &site.id);
    let entries = if site.entries.is_empty() {
        view! { <p class="muted">"No devices at this site yet."</p> }.into_any()
    } else {
        let rows = site
            .entries
            .into_iter()
            .map(|e| {
                let entry_id = e.id.clone();
                let remove = can_edit.then(move || {
                    let action = ServerAction::<RemoveEntry>::new();
                    view! {
                        <ActionForm action=action attr:class="inline-form">
                            <CsrfField/>
                            <input type="hidden" name="id" value=entry_id/>
                            <button type="submit" class="link-button">"Remove"</button>
                        </ActionForm>
                    }
                });
                view! {
                    <tr data-entry=e.id.clone()>
                        <th scope="row">{e.product} " " {e.version.unwrap_or_default()}</th>
                        <td class="num">{e.devices}</td>
                        <td class="break">{e.serials.join(", ")}</td>
                        <td>{e.notes.unwrap_or_default()}</td>
                        <td>{if e.confirmed { "Confirmed" } else { "Awaiting the manufacturer" }}</td>
                        <td>{remove}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <div class="table-wrap" tabindex="0" role="region" aria-label="Scrollable table">
                <table>
                    <thead>
                        <tr>
                            <th scope="col">"Product"</th>
                            <th scope="col" class="num">"Devices"</th>
                            <th scope="col">"Serial numbers"</th>
                            <th scope="col">"Notes"</th>
                            <th scope="col">"Confirmation"</th>
                            <th scope="col">{can_edit.then_some("Remove")}</th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        }
        .into_any()
    };
    let add = can_edit.then(|| {
        let action = ServerAction::<AddEntry>::new();
        let p = anchor("add-", &site.id);
        let options = products
            .into_iter()
            .map(|o| view! { <option value=o.id>{o.label}</option> })
            .collect_view();
        view! {
            <details>
                <summary>"Add a device to " {site.name.clone()}</summary>
                <ActionForm action=action attr:class="entry-form">
                    <CsrfField/>
                    <input type="hidden" name="site_id" value=site.id.clone()/>
                    <p><label for=format!("{p}-product")>"Product and version"</label>
                        <select id=format!("{p}-product") name="product_id" required=true>{options}</select></p>
                    <p><label for=format!("{p}-quantity")>"Quantity (without serial numbers)"</label>
                        <input id=format!("{p}-quantity") name="quantity" inputmode="numeric"/></p>
                    <p><label for=format!("{p}-serials")>"Serial numbers, one per line"</label>
                        <textarea id=format!("{p}-serials") name="serials" rows="3"></textarea></p>
                    <p><label for=format!("{p}-notes")>"Notes"</label>
                        <input id=format!("{p}-notes") name="notes"/></p>
                    <button type="submit" data-testid="add-entry">"Add"</button>
                </ActionForm>
            </details>
        }
    });
    let details = [site.code.clone(), site.address.clone()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" · ");
    view! {
        <section id=id class="site" data-site=site.name.clone()>
            <h2>{site.name.clone()}</h2>
            <p class="muted">{details}</p>
            {entries}
            {add}
        </section>
    }
}

// ---------------------------------------------------------------------------------------------
// import preview

#[component]
pub fn ImportPreviewPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let preview = Resource::new(id, get_import_preview);
    view! {
        <Title text="Import preview"/>
        <h1>"Import preview"</h1>
        <OutcomeNotice/>
        <Suspense fallback=|| view! { <p class="muted">"Reading the file…"</p> }>
            {move || Suspend::new(async move {
                match preview.await {
                    Ok(view) => view! { <PreviewBody view/> }.into_any(),
                    Err(error) => view! { <ErrorBox error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn PreviewBody(view: ImportPreview) -> impl IntoView {
    let confirm = ServerAction::<ConfirmImport>::new();
    let ok = view.problem_count == 0 && !view.entries.is_empty();
    let problems = view
        .problems
        .iter()
        .map(|p| {
            view! {
                <tr data-kind=p.kind.clone()>
                    <td class="num">{p.line}</td>
                    <td>{p.kind.replace('_', " ")}</td>
                    <td>{p.message.clone()}</td>
                </tr>
            }
        })
        .collect_view();
    let entries = view
        .entries
        .iter()
        .map(|e| {
            view! {
                <tr>
                    <td>{e.site.clone()} {e.new_site.then_some(" (new site)")}</td>
                    <td>{e.product.clone()} " " {e.version.clone().unwrap_or_default()}</td>
                    <td class="num">{e.devices}</td>
                </tr>
            }
        })
        .collect_view();
    let ignored = (!view.ignored_columns.is_empty()).then(|| {
        view! { <p class="muted">"Ignored columns: " {view.ignored_columns.join(", ")}</p> }
    });
    view! {
        <p data-testid="import-summary">
            {view.rows} " rows read: " {view.entries.len()} " entries to add, "
            <strong>{view.problem_count}</strong> " rows that cannot be imported."
        </p>
        {ignored}
        {(view.problem_count > 0).then(|| view! {
            <h2>"Rows that cannot be imported"</h2>
            <div class="table-wrap" tabindex="0" role="region" aria-label="Scrollable table">
                <table data-testid="import-problems">
                    <thead><tr><th scope="col" class="num">"Line"</th><th scope="col">"Problem"</th><th scope="col">"Details"</th></tr></thead>
                    <tbody>{problems}</tbody>
                </table>
            </div>
            <p>"Fix these rows in your file (or remove them) and "<a href="/installed-base#import">"preview it again"</a>"."</p>
        })}
        <h2>"What the import adds"</h2>
        <div class="table-wrap" tabindex="0" role="region" aria-label="Scrollable table">
            <table data-testid="import-entries">
                <thead><tr><th scope="col">"Site"</th><th scope="col">"Product"</th><th scope="col" class="num">"Devices"</th></tr></thead>
                <tbody>{entries}</tbody>
            </table>
        </div>
        {ok.then(|| view! {
            <ActionForm action=confirm>
                <CsrfField/>
                <input type="hidden" name="id" value=view.id.clone()/>
                <button type="submit" data-testid="confirm-import">"Import these entries"</button>
            </ActionForm>
        })}
        <p><a href="/installed-base">"Back to the installed base"</a></p>
    }
}

// ---------------------------------------------------------------------------------------------
// uptake (the manufacturer)

#[component]
pub fn UptakePage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let key = move || {
        (
            params.read().get("tracking_id").unwrap_or_default(),
            query.read().get("sort").unwrap_or_default(),
        )
    };
    let uptake = Resource::new(key, |(t, s)| get_uptake(t, s));
    view! {
        <Title text="Uptake"/>
        <Suspense fallback=|| view! { <p class="muted">"Counting…"</p> }>
            {move || Suspend::new(async move {
                match uptake.await {
                    Ok(view) => view! { <UptakeBody view/> }.into_any(),
                    Err(error) => view! { <h1>"Uptake"</h1> <ErrorBox error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn UptakeBody(view: UptakeView) -> impl IntoView {
    let base = format!("{}/uptake", crate::ui::advisory_path(&view.tracking_id));
    let sort_link = |key: &'static str, label: &'static str, current: &str| {
        let href = format!("{base}?sort={key}");
        let current = (current == key).then_some("page");
        view! { <a href=href aria-current=current>{label}</a> }
    };
    let sorts = view! {
        <p>"Sort: " {sort_link("silent", "silent first", &view.sort)} " · "
            {sort_link("exposed", "most exposed", &view.sort)} " · "
            {sort_link("name", "name", &view.sort)}</p>
    };
    let rows = view
        .rows
        .iter()
        .map(|r| {
            view! {
                <tr data-customer=r.name.clone() data-silent=r.silent.to_string()>
                    <th scope="row">{r.name.clone()}</th>
                    <td>{r.told.replace('_', " ")}</td>
                    <td>{if r.acknowledged { "yes" } else { "no" }}</td>
                    <td class="num">{r.devices}</td>
                    <td class="num" data-testid="row-patched">{r.devices_patched}</td>
                    <td class="num" data-testid="row-mitigated">{r.devices_mitigated}</td>
                    <td class="num">{r.devices_exposed}</td>
                    <td class="num">{r.sites_patched} " / " {r.sites_mitigated} " / " {r.sites_silent} " of " {r.sites}</td>
                    <td>{if r.security_contacts.is_empty() { "none".to_string() } else { r.security_contacts.join(", ") }}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <h1>"Uptake of " {view.tracking_id.clone()}</h1>
        <p class="lead">{view.title.clone()}</p>
        <dl class="uptake-summary" data-testid="uptake-summary">
            <dt>"Days since publication"</dt><dd>{view.days_since_publication}</dd>
            <dt>"Customers told"</dt>
            <dd>{view.told_delivered} " delivered, " {view.told_failed} " failed, " {view.told_withheld} " withheld, of " {view.customers}</dd>
            <dt>"Acknowledged"</dt><dd data-testid="uptake-acknowledged">{view.acknowledged}</dd>
            <dt>"Devices"</dt>
            <dd>
                <span data-testid="uptake-patched">{view.devices_patched}</span> " patched, "
                <span data-testid="uptake-mitigated">{view.devices_mitigated}</span> " mitigated, "
                <span data-testid="uptake-exposed">{view.devices_exposed}</span> " still exposed ("
                {view.devices_silent} " silent), of " {view.devices}
            </dd>
        </dl>
        {sorts}
        <div class="table-wrap" tabindex="0" role="region" aria-label="Scrollable table">
            <table data-testid="uptake-customers">
                <caption>"Customers"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Customer"</th>
                        <th scope="col">"Told"</th>
                        <th scope="col">"Acknowledged"</th>
                        <th scope="col" class="num">"Devices"</th>
                        <th scope="col" class="num">"Patched"</th>
                        <th scope="col" class="num">"Mitigated"</th>
                        <th scope="col" class="num">"Exposed"</th>
                        <th scope="col" class="num">"Sites patched / mitigated / silent"</th>
                        <th scope="col">"Security contacts"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}
