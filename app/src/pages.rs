//! The portal's pages: start, advisory list, advisory detail, sign-in, not found, and the
//! session controls in the header. Every field from an advisory is rendered as text (never as
//! HTML), so advisory content cannot inject markup.

use crate::csrf::CsrfField;
use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;
use leptos_router::{
    components::{A, Form},
    hooks::{use_params_map, use_query_map},
};

use crate::{
    api::{Login, Logout, current_viewer, get_advisory, list_advisories},
    authoring_pages::UpdateAdvisoryButton,
    model::{
        AdvisoryListItem, AdvisoryListPage, AdvisoryQuery, AdvisoryView, ProductView,
        RemediationView, VulnerabilityView,
    },
    ui::{ErrorBox, ExternalLink, SeverityBadge, advisory_path, error_text, score_text},
};

/// Sign-in and sign-out actions, shared so that data loaded for a viewer reloads when the
/// viewer changes.
#[derive(Clone, Copy)]
struct Session {
    login: ServerAction<Login>,
    logout: ServerAction<Logout>,
}

/// Creates the sign-in and sign-out actions for the whole app; `App` calls it once, above the
/// header and the routes, so that both see the same actions.
pub fn provide_session() {
    provide_context(Session {
        login: ServerAction::new(),
        logout: ServerAction::new(),
    });
}

impl Session {
    fn get() -> Self {
        // `App` always provides it; a page rendered on its own gets its own actions.
        use_context::<Session>().unwrap_or_else(|| Session {
            login: ServerAction::new(),
            logout: ServerAction::new(),
        })
    }

    /// Changes whenever someone signs in or out; data resources depend on it.
    fn generation(&self) -> (usize, usize) {
        (self.login.version().get(), self.logout.version().get())
    }
}

/// "Signed in as ..." with a sign-out button, or a sign-in link.
#[component]
pub fn SessionControls() -> impl IntoView {
    let session = Session::get();
    let viewer = Resource::new(move || session.generation(), |_| current_viewer());
    let sign_in = || view! { <A href="/login">"Sign in"</A> };
    view! {
        <Suspense fallback=sign_in>
            {move || Suspend::new(async move {
                match viewer.await {
                    Ok(viewer) if viewer.user_id.is_some() => {
                        // Authoring is for the manufacturer's publishers, approvers and admins.
                        let authoring = viewer
                            .may_use_authoring()
                            .then(|| view! { <A href="/authoring">"Authoring"</A> });
                        let name = viewer
                            .display_name
                            .or(viewer.user_id)
                            .unwrap_or_default();
                        // Templates are the manufacturer's; the page itself refuses anyone else.
                        let templates = viewer
                            .manufacturer
                            .then(|| view! { <A href="/templates">"Templates"</A> });
                        view! {
                            {authoring}
                            {templates}
                            <span class="viewer" data-testid="viewer">
                                "Signed in as " <A href="/account" attr:data-testid="account-link"><strong>{name}</strong></A>
                            </span>
                            <ActionForm action=session.logout attr:class="inline-form">
                                <CsrfField/>
                                <button type="submit" class="link-button" data-testid="sign-out">"Sign out"</button>
                            </ActionForm>
                        }
                            .into_any()
                    }
                    _ => sign_in().into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn HomePage() -> impl IntoView {
    view! {
        <Title text=""/>
        <crate::workspace_pages::HospitalHome/>
        <section class="hero">
            <h1>"Security advisories"</h1>
            <p class="lead">
                "Herald publishes security advisories for our medical devices: what is affected, "
                "how severe it is, and what to do about it."
            </p>
            <p>
                <A href="/advisories" attr:class="button">"Browse advisories"</A>
            </p>
            <p class="muted">
                "Hospital staff: sign in to also see advisories shared only with your organisation."
            </p>
        </section>
    }
}

/// Lower-case text a row is searched in by the live filter.
fn haystack(item: &AdvisoryListItem) -> String {
    let mut text = format!(
        "{} {} {} {}",
        item.tracking_id,
        item.title,
        item.severity.as_deref().unwrap_or_default(),
        item.tlp
    );
    for value in item.cves.iter().chain(item.products.iter()) {
        text.push(' ');
        text.push_str(value);
    }
    text.to_lowercase()
}

/// Whether every word of the filter occurs in the row's text.
fn matches_filter(haystack: &str, filter: &str) -> bool {
    filter
        .to_lowercase()
        .split_whitespace()
        .all(|word| haystack.contains(word))
}

/// The choices of the severity and sort selects: (value, label).
const SEVERITY_CHOICES: [(&str, &str); 6] = [
    ("", "Any severity"),
    ("critical", "Critical"),
    ("high", "High"),
    ("medium", "Medium"),
    ("low", "Low"),
    ("none", "None / not scored"),
];
const SORT_CHOICES: [(&str, &str); 5] = [
    ("newest", "Newest first"),
    ("oldest", "Oldest first"),
    ("severity", "Highest severity (CVSS)"),
    ("title", "Title"),
    ("tracking_id", "Tracking ID"),
];
const PAGE_SIZE_CHOICES: [&str; 3] = ["25", "50", "100"];

/// `<option>`s of a select, the one matching `current` selected (so the form shows the query
/// it was submitted with, also without JavaScript).
fn options(
    choices: &'static [(&'static str, &'static str)],
    current: &str,
) -> impl IntoView + use<> {
    choices
        .iter()
        .map(|(value, label)| {
            let selected = *value == current;
            view! { <option value=*value selected=selected>{*label}</option> }
        })
        .collect_view()
}

#[component]
pub fn ListPage() -> impl IntoView {
    let session = Session::get();
    let query_map = use_query_map();
    let query = Memo::new(move |_| query_map.with(|m| AdvisoryQuery::from_lookup(|k| m.get(k))));
    let advisories = Resource::new(
        move || (query.get(), session.generation()),
        |(query, _)| list_advisories(query),
    );
    // `None` until the user types: the server already filtered by `q`, and the rows it sent
    // must hydrate unchanged.
    let (filter, set_filter) = signal(None::<String>);
    // A new query (the form submitted, a page link followed) shows new rows: the live filter
    // starts over from the box's new value.
    Effect::new(move |_| {
        query.track();
        set_filter.set(None);
    });
    let field = move |get: fn(&AdvisoryQuery) -> Option<String>| {
        move || query.with(|q| get(q).unwrap_or_default())
    };

    view! {
        <Title text="Advisories"/>
        <h1>"Security advisories"</h1>
        <Suspense fallback=|| view! { <p class="muted">"Loading advisories…"</p> }>
            {move || Suspend::new(async move {
                let result = advisories.await;
                let products = result
                    .as_ref()
                    .map(|page| page.products.clone())
                    .unwrap_or_default();
                let current = query.get_untracked();
                let q = current.q.clone().unwrap_or_default();
                let product = current.product.clone().unwrap_or_default();
                let severity = current.severity.clone().unwrap_or_default();
                let sort = current.sort.clone().unwrap_or_else(|| "newest".to_string());
                let per_page = current.per_page.clone().unwrap_or_else(|| "25".to_string());
                let product_options = products
                    .into_iter()
                    .map(|p| {
                        let selected = p.id == product;
                        view! { <option value=p.id selected=selected>{p.label}</option> }
                    })
                    .collect_view();
                let page_sizes = PAGE_SIZE_CHOICES
                    .iter()
                    .map(|n| {
                        let selected = *n == per_page;
                        view! { <option value=*n selected=selected>{*n}</option> }
                    })
                    .collect_view();
                let form = view! {
                    // A plain GET form: without JavaScript it loads `/advisories?q=...&...`; once
                    // hydrated the router navigates to the same URL without a reload, and typing
                    // in the search box filters the rows already shown.
                    <Form method="get" action="/advisories" attr:role="search" attr:class="filter-form">
                        <label for="advisory-filter">"Search by title, tracking ID, CVE or product"</label>
                        <div class="filter-row">
                            <input
                                id="advisory-filter"
                                type="search"
                                name="q"
                                maxlength="200"
                                autocomplete="off"
                                data-testid="advisory-filter"
                                value=q
                                on:input=move |ev| set_filter.set(Some(event_target_value(&ev)))
                            />
                            <button type="submit" data-testid="advisory-search">"Search"</button>
                        </div>
                        <div class="filter-grid">
                            <label>
                                "CVE"
                                <input type="text" name="cve" placeholder="CVE-2026-12345" value=field(|q| q.cve.clone()) data-testid="filter-cve"/>
                            </label>
                            <label>
                                "Product"
                                <select name="product" data-testid="filter-product">
                                    <option value="">"Any product"</option>
                                    {product_options}
                                </select>
                            </label>
                            <label>
                                "Severity"
                                <select name="severity" data-testid="filter-severity">
                                    {options(&SEVERITY_CHOICES, &severity)}
                                </select>
                            </label>
                            <label>
                                "Released from"
                                <input type="date" name="from" value=field(|q| q.from.clone()) data-testid="filter-from"/>
                            </label>
                            <label>
                                "Released to"
                                <input type="date" name="to" value=field(|q| q.to.clone()) data-testid="filter-to"/>
                            </label>
                            <label>
                                "Sort"
                                <select name="sort" data-testid="filter-sort">
                                    {options(&SORT_CHOICES, &sort)}
                                </select>
                            </label>
                            <label>
                                "Per page"
                                <select name="per_page" data-testid="filter-per-page">{page_sizes}</select>
                            </label>
                        </div>
                        <p class="filter-actions">
                            <button type="submit">"Apply filters"</button>
                            " "
                            <A href="/advisories">"Clear"</A>
                        </p>
                    </Form>
                };
                let body = match result {
                    Ok(page) => view! { <AdvisoryTable page query=current filter/> }.into_any(),
                    Err(error) => view! { <ErrorBox error/> }.into_any(),
                };
                view! { {form} {body} }
            })}
        </Suspense>
    }
}

#[component]
fn AdvisoryTable(
    page: AdvisoryListPage,
    query: AdvisoryQuery,
    filter: ReadSignal<Option<String>>,
) -> impl IntoView {
    let AdvisoryListPage {
        items,
        total,
        page: number,
        pages,
        per_page,
        ..
    } = page;
    if items.is_empty() {
        // Past the last page: say so and link to the pages that exist.
        if total > 0 {
            let last = query.with_page(pages).list_path();
            return view! {
                <p class="notice" data-testid="advisory-empty">
                    {format!("There is no page {number}: {total} advisories match, on {pages} pages. ")}
                    <A href=last>"Go to the last page"</A>
                </p>
            }
            .into_any();
        }
        return view! {
            <p class="notice" data-testid="advisory-empty">"No advisories match."</p>
        }
        .into_any();
    }
    let on_page = items.len();
    let first_row = (number - 1) * per_page + 1;
    let haystacks: Vec<String> = items.iter().map(haystack).collect();
    let shown = move || {
        filter.with(|f| match f {
            Some(f) => haystacks.iter().filter(|h| matches_filter(h, f)).count(),
            None => on_page,
        })
    };
    let rows = items
        .into_iter()
        .map(|item| {
            let text = haystack(&item);
            let hidden =
                move || filter.with(|f| f.as_deref().is_some_and(|f| !matches_filter(&text, f)));
            let href = advisory_path(&item.tracking_id);
            let id_attr = item.tracking_id.clone();
            let products = item.products.join(", ");
            let cves = item
                .cves
                .into_iter()
                .map(|cve| view! { <li>{cve}</li> })
                .collect_view();
            view! {
                <tr data-testid="advisory-row" data-tracking-id=id_attr hidden=hidden>
                    <td class="nowrap">
                        <A href=href>{item.tracking_id}</A>
                    </td>
                    <td>
                        <span class="advisory-title">{item.title}</span>
                        {(!products.is_empty())
                            .then(|| view! { <span class="products muted">{products}</span> })}
                    </td>
                    <td>
                        <SeverityBadge severity=item.severity/>
                    </td>
                    <td class="num">{score_text(item.cvss_score)}</td>
                    <td>
                        <TlpLabel tlp=item.tlp/>
                    </td>
                    <td class="nowrap">
                        <time datetime=item.current_release_date.clone()>
                            {date_text(&item.current_release_date)}
                        </time>
                    </td>
                    <td>
                        <ul class="plain cves">{cves}</ul>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <p class="muted" aria-live="polite" data-testid="advisory-count">
            {move || {
                format!(
                    "Showing {} of {} {}",
                    shown(),
                    total,
                    if total == 1 { "advisory" } else { "advisories" },
                )
            }}
            <span data-testid="advisory-range">
                {format!(" (rows {}–{}, page {number} of {pages})", first_row, first_row + on_page as u64 - 1)}
            </span>
        </p>
        <div class="table-wrap">
            <table class="advisories">
                <thead>
                    <tr>
                        <th scope="col">"Tracking ID"</th>
                        <th scope="col">"Title"</th>
                        <th scope="col">"Severity"</th>
                        <th scope="col" class="num">"CVSS"</th>
                        <th scope="col">"TLP"</th>
                        <th scope="col">"Released"</th>
                        <th scope="col">"CVEs"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        <Pager query number pages/>
    }
    .into_any()
}

/// Links to the first, previous, nearby, next and last pages; each keeps the query.
#[component]
fn Pager(query: AdvisoryQuery, number: u64, pages: u64) -> impl IntoView {
    if pages <= 1 {
        return ().into_any();
    }
    let link = |to: u64, label: String, rel: Option<&'static str>| {
        let href = query.with_page(to).list_path();
        if to == number {
            view! { <li><span aria-current="page" class="current">{label}</span></li> }.into_any()
        } else {
            view! { <li><A href=href attr:rel=rel>{label}</A></li> }.into_any()
        }
    };
    let mut parts = Vec::new();
    if number > 1 {
        parts.push(link(1, "« First".to_string(), None));
        parts.push(link(
            number.min(pages + 1) - 1,
            "‹ Previous".to_string(),
            Some("prev"),
        ));
    }
    let low = number.saturating_sub(2).max(1);
    let high = (number + 2).min(pages);
    for n in low..=high {
        parts.push(link(n, n.to_string(), None));
    }
    if number < pages {
        parts.push(link(number + 1, "Next ›".to_string(), Some("next")));
        parts.push(link(pages, "Last »".to_string(), None));
    }
    view! {
        <nav class="pager" aria-label="Pages" data-testid="pager">
            <ul class="plain">{parts}</ul>
        </nav>
    }
    .into_any()
}

/// An RFC 3339 timestamp as people read it: `2026-03-01 10:00 UTC` (other offsets stay as given).
fn datetime_text(timestamp: &str) -> String {
    match (
        timestamp.get(..10),
        timestamp.get(11..16),
        timestamp.get(10..11),
    ) {
        (Some(date), Some(time), Some("T" | "t" | " ")) => {
            let zone = timestamp
                .find(['Z', 'z', '+'])
                .or_else(|| {
                    timestamp
                        .get(11..)
                        .and_then(|t| t.find('-'))
                        .map(|i| i + 11)
                })
                .map(|i| &timestamp[i..]);
            match zone {
                Some("Z" | "z" | "+00:00" | "-00:00") | None => format!("{date} {time} UTC"),
                Some(offset) => format!("{date} {time} {offset}"),
            }
        }
        _ => timestamp.to_string(),
    }
}

/// The date part of an RFC 3339 timestamp (what a reader needs); the full value stays in the
/// `datetime` attribute.
fn date_text(timestamp: &str) -> String {
    timestamp.get(..10).unwrap_or(timestamp).to_string()
}

/// Traffic Light Protocol label; the class comes from a fixed list, the text always shows.
#[component]
fn TlpLabel(tlp: String) -> impl IntoView {
    let upper = tlp.to_ascii_uppercase();
    let key = match upper.trim_start_matches("TLP:") {
        "WHITE" | "CLEAR" => "white",
        "GREEN" => "green",
        "AMBER" | "AMBER+STRICT" => "amber",
        "RED" => "red",
        _ => "unknown",
    };
    let text = if upper.starts_with("TLP:") {
        upper.clone()
    } else {
        format!("TLP:{upper}")
    };
    view! { <span class=format!("tlp tlp-{key}")>{text}</span> }
}

#[component]
pub fn DetailPage() -> impl IntoView {
    let session = Session::get();
    let params = use_params_map();
    let tracking_id = move || params.read().get("tracking_id").unwrap_or_default();
    let advisory = Resource::new(
        move || (tracking_id(), session.generation()),
        |(id, _)| get_advisory(id),
    );
    view! {
        <p class="breadcrumb">
            <A href="/advisories">"← All advisories"</A>
        </p>
        <Suspense fallback=|| view! { <p class="muted">"Loading advisory…"</p> }>
            {move || Suspend::new(async move {
                match advisory.await {
                    Ok(advisory) => view! { <AdvisoryDetail advisory/> }.into_any(),
                    Err(error) => {
                        view! {
                            <Title text="Advisory not available"/>
                            <h1>"Advisory not available"</h1>
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
fn AdvisoryDetail(advisory: AdvisoryView) -> impl IntoView {
    let AdvisoryView {
        tracking_id,
        title,
        version,
        status,
        category,
        publisher,
        tlp,
        severity,
        cvss_score,
        initial_release_date,
        current_release_date,
        summary,
        products,
        vulnerabilities,
        acknowledgments,
        references,
        revisions,
        csaf_url,
    } = advisory;

    let downloads = [
        ("CSAF document (JSON)", csaf_url.clone()),
        ("OpenPGP signature (.asc)", format!("{csaf_url}.asc")),
        ("SHA-256 checksum", format!("{csaf_url}.sha256")),
        ("SHA-512 checksum", format!("{csaf_url}.sha512")),
    ]
    .into_iter()
    .map(|(label, url)| view! { <li><ExternalLink url label/></li> })
    .collect_view();

    view! {
        <Title text=title.clone()/>
        <article class="advisory" data-testid="advisory-detail">
            <header class="advisory-header">
                <p class="tracking-id" data-testid="tracking-id">{tracking_id.clone()}</p>
                <h1 data-testid="advisory-title">{title}</h1>
                <div class="badges">
                    <SeverityBadge severity/>
                    <span class="score">"CVSS " {score_text(cvss_score)}</span>
                    <TlpLabel tlp/>
                </div>
                <UpdateAdvisoryButton tracking_id=tracking_id.clone()/>
            </header>
            <dl class="facts">
                <dt>"Version"</dt>
                <dd>{version}</dd>
                <dt>"Status"</dt>
                <dd>{status}</dd>
                <dt>"Initial release"</dt>
                <dd>
                    <time datetime=initial_release_date.clone()>{datetime_text(&initial_release_date)}</time>
                </dd>
                <dt>"Current release"</dt>
                <dd>
                    <time datetime=current_release_date.clone()>{datetime_text(&current_release_date)}</time>
                </dd>
                <dt>"Publisher"</dt>
                <dd>{publisher}</dd>
                <dt>"Document category"</dt>
                <dd>{category}</dd>
            </dl>
            {summary
                .map(|summary| {
                    view! {
                        <section aria-labelledby="summary-h">
                            <h2 id="summary-h">"Summary"</h2>
                            <p class="prose">{summary}</p>
                        </section>
                    }
                })}
            <section aria-labelledby="products-h">
                <h2 id="products-h">"Affected products"</h2>
                <ProductTable products/>
            </section>
            <section aria-labelledby="vulns-h">
                <h2 id="vulns-h">"Vulnerabilities"</h2>
                {if vulnerabilities.is_empty() {
                    view! { <p class="muted">"No vulnerabilities listed."</p> }.into_any()
                } else {
                    vulnerabilities
                        .into_iter()
                        .enumerate()
                        .map(|(index, vulnerability)| view! { <Vulnerability index vulnerability/> })
                        .collect_view()
                        .into_any()
                }}
            </section>
            {(!acknowledgments.is_empty())
                .then(|| {
                    view! {
                        <section aria-labelledby="ack-h">
                            <h2 id="ack-h">"Acknowledgments"</h2>
                            <ul>
                                {acknowledgments
                                    .into_iter()
                                    .map(|a| view! { <li>{a}</li> })
                                    .collect_view()}
                            </ul>
                        </section>
                    }
                })}
            {(!references.is_empty())
                .then(|| {
                    view! {
                        <section aria-labelledby="refs-h">
                            <h2 id="refs-h">"References"</h2>
                            <ul>
                                {references
                                    .into_iter()
                                    .map(|r| view! { <li><ExternalLink url=r.url label=r.summary/></li> })
                                    .collect_view()}
                            </ul>
                        </section>
                    }
                })}
            <section aria-labelledby="history-h">
                <h2 id="history-h">"Revision history"</h2>
                <table class="compact">
                    <thead>
                        <tr>
                            <th scope="col">"Version"</th>
                            <th scope="col">"Date"</th>
                            <th scope="col">"Summary"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {revisions
                            .into_iter()
                            .map(|r| {
                                view! {
                                    <tr>
                                        <td>{r.number}</td>
                                        <td class="nowrap">
                                            <time datetime=r.date.clone()>{date_text(&r.date)}</time>
                                        </td>
                                        <td>{r.summary}</td>
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </tbody>
                </table>
            </section>
            <section aria-labelledby="downloads-h">
                <h2 id="downloads-h">"Downloads"</h2>
                <ul class="downloads" data-testid="downloads">{downloads}</ul>
            </section>
        </article>
    }
}

#[component]
fn ProductTable(products: Vec<ProductView>) -> impl IntoView {
    if products.is_empty() {
        return view! { <p class="muted">"No products listed."</p> }.into_any();
    }
    let optional = |value: Option<String>| match value {
        Some(value) => view! { <code>{value}</code> }.into_any(),
        None => view! { <span class="muted">"–"</span> }.into_any(),
    };
    view! {
        <div class="table-wrap">
            <table class="compact">
                <thead>
                    <tr>
                        <th scope="col">"Product"</th>
                        <th scope="col">"ID"</th>
                        <th scope="col">"UDI-DI"</th>
                        <th scope="col">"CPE"</th>
                        <th scope="col">"PURL"</th>
                    </tr>
                </thead>
                <tbody>
                    {products
                        .into_iter()
                        .map(|p| {
                            view! {
                                <tr>
                                    <td>{p.name}</td>
                                    <td><code>{p.product_id}</code></td>
                                    <td>{optional(p.udi_di)}</td>
                                    <td class="break">{optional(p.cpe)}</td>
                                    <td class="break">{optional(p.purl)}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

/// Readable name of a CSAF product status group or remediation category.
fn category_label(category: &str) -> String {
    match category {
        "known_affected" => "Known affected".to_string(),
        "known_not_affected" => "Known not affected".to_string(),
        "fixed" => "Fixed".to_string(),
        "first_fixed" => "First fixed".to_string(),
        "first_affected" => "First affected".to_string(),
        "last_affected" => "Last affected".to_string(),
        "recommended" => "Recommended".to_string(),
        "under_investigation" => "Under investigation".to_string(),
        "vendor_fix" => "Vendor fix".to_string(),
        "mitigation" => "Mitigation".to_string(),
        "workaround" => "Workaround".to_string(),
        "no_fix_planned" => "No fix planned".to_string(),
        "none_available" => "None available".to_string(),
        other => other.replace('_', " "),
    }
}

/// Remediations grouped by category, in the order a reader should act on them.
fn group_remediations(remediations: Vec<RemediationView>) -> Vec<(String, Vec<RemediationView>)> {
    const ORDER: [&str; 5] = [
        "vendor_fix",
        "mitigation",
        "workaround",
        "no_fix_planned",
        "none_available",
    ];
    let mut groups: Vec<(String, Vec<RemediationView>)> = Vec::new();
    for remediation in remediations {
        match groups.iter_mut().find(|(c, _)| *c == remediation.category) {
            Some((_, group)) => group.push(remediation),
            None => groups.push((remediation.category.clone(), vec![remediation])),
        }
    }
    groups.sort_by_key(|(category, _)| {
        ORDER
            .iter()
            .position(|c| c == category)
            .unwrap_or(ORDER.len())
    });
    groups
}

#[component]
fn Vulnerability(index: usize, vulnerability: VulnerabilityView) -> impl IntoView {
    let VulnerabilityView {
        cve,
        title,
        cwe,
        description,
        scores,
        product_status,
        remediations,
    } = vulnerability;
    let heading = match (&cve, &title) {
        (Some(cve), Some(title)) => format!("{cve}: {title}"),
        (Some(cve), None) => cve.clone(),
        (None, Some(title)) => title.clone(),
        (None, None) => format!("Vulnerability {}", index + 1),
    };
    let scores = (!scores.is_empty()).then(|| {
        view! {
            <table class="compact scores">
                <thead>
                    <tr>
                        <th scope="col">"CVSS"</th>
                        <th scope="col">"Vector"</th>
                        <th scope="col" class="num">"Score"</th>
                        <th scope="col">"Severity"</th>
                    </tr>
                </thead>
                <tbody>
                    {scores
                        .into_iter()
                        .map(|s| {
                            view! {
                                <tr>
                                    <td>{s.version}</td>
                                    <td class="break"><code>{s.vector}</code></td>
                                    <td class="num">{format!("{:.1}", s.score)}</td>
                                    <td><SeverityBadge severity=Some(s.severity)/></td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        }
    });
    let status = (!product_status.is_empty()).then(|| {
        view! {
            <h4>"Product status"</h4>
            <dl class="status">
                {product_status
                    .into_iter()
                    .map(|(group, names)| {
                        view! {
                            <dt>{category_label(&group)}</dt>
                            <dd>{names.join(", ")}</dd>
                        }
                    })
                    .collect_view()}
            </dl>
        }
    });
    let remediations = (!remediations.is_empty()).then(|| {
        let groups = group_remediations(remediations)
            .into_iter()
            .map(|(category, items)| {
                view! {
                    <div class="remediation-group">
                        <h5>{category_label(&category)}</h5>
                        <ul>
                            {items
                                .into_iter()
                                .map(|r| {
                                    view! {
                                        <li>
                                            <p class="prose">{r.details}</p>
                                            {(!r.products.is_empty())
                                                .then(|| {
                                                    view! {
                                                        <p class="muted">"Products: " {r.products.join(", ")}</p>
                                                    }
                                                })}
                                            {r.url.map(|url| view! { <p><ExternalLink url/></p> })}
                                        </li>
                                    }
                                })
                                .collect_view()}
                        </ul>
                    </div>
                }
            })
            .collect_view();
        view! {
            <h4>"Remediations"</h4>
            {groups}
        }
    });
    view! {
        <article class="vulnerability" data-testid="vulnerability">
            <h3>{heading}</h3>
            <dl class="facts">
                <dt>"CVE"</dt>
                <dd data-testid="cve">{cve.unwrap_or_else(|| "–".to_string())}</dd>
                <dt>"CWE"</dt>
                <dd>{cwe.unwrap_or_else(|| "–".to_string())}</dd>
            </dl>
            {description.map(|d| view! { <p class="prose">{d}</p> })}
            {scores}
            {status}
            {remediations}
        </article>
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let session = Session::get();
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_default();
    let problem = move || {
        let query = query.read();
        match query.get("error").as_deref() {
            Some("credentials") => Some("The email address or password is not right.".to_string()),
            Some("throttled") => Some(
                "Too many failed sign-ins. Wait a moment and try again; an account that stays \
                 locked can be unlocked by an administrator of its organisation."
                    .to_string(),
            ),
            Some("unavailable") => Some(match query.get("ref") {
                Some(reference) => format!(
                    "Signing in is not possible right now. If it persists, contact support and \
                     quote reference {reference}."
                ),
                None => "Signing in is not possible right now.".to_string(),
            }),
            _ => None,
        }
    };
    let action_error = move || {
        session
            .login
            .value()
            .get()
            .and_then(|result| result.err())
            .map(|error| error_text(&error))
    };
    view! {
        <Title text="Sign in"/>
        <section class="login">
            <h1>"Sign in"</h1>
            <p class="muted">
                "Sign in to see advisories shared with your organisation. Public advisories need no account."
            </p>
            {move || {
                problem()
                    .or_else(action_error)
                    .map(|message| {
                        view! {
                            <div class="notice notice-error" role="alert" data-testid="login-error">
                                <p>{message}</p>
                            </div>
                        }
                    })
            }}
            <ActionForm action=session.login attr:class="login-form">
                <CsrfField/>
                <label for="login-email">"Email address"</label>
                <input id="login-email" type="email" name="email" autocomplete="username" required/>
                <label for="login-password">"Password"</label>
                <input
                    id="login-password"
                    type="password"
                    name="password"
                    autocomplete="current-password"
                    required
                />
                <input type="hidden" name="next" value=next/>
                <button type="submit">"Sign in"</button>
            </ActionForm>
        </section>
    }
}

/// Any path no route matches; answers with status 404.
#[component]
pub fn NotFoundPage() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_actix::ResponseOptions>() {
        response.set_status(actix_web::http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Page not found"/>
        <h1>"Page not found"</h1>
        <p>
            "There is no page at this address. " <A href="/advisories">"See all advisories"</A> "."
        </p>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(tracking_id: &str, title: &str, cves: &[&str], products: &[&str]) -> AdvisoryListItem {
        AdvisoryListItem {
            tracking_id: tracking_id.to_string(),
            title: title.to_string(),
            version: "1".to_string(),
            severity: Some("high".to_string()),
            cvss_score: Some(7.5),
            tlp: "WHITE".to_string(),
            initial_release_date: "2026-01-01T00:00:00Z".to_string(),
            current_release_date: "2026-01-02T00:00:00Z".to_string(),
            cves: cves.iter().map(|s| s.to_string()).collect(),
            products: products.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn filter_matches_every_word_case_insensitively() {
        let h = haystack(&item(
            "ACME-2026-001",
            "Infusion pump overflow",
            &["CVE-2026-1234"],
            &["Pump X1"],
        ));
        assert!(matches_filter(&h, "infusion"));
        assert!(matches_filter(&h, "PUMP cve-2026-1234"));
        assert!(matches_filter(&h, "x1"));
        assert!(matches_filter(&h, "  "));
        assert!(!matches_filter(&h, "pump monitor"));
    }

    #[test]
    fn timestamps_read_as_date_time_and_zone() {
        assert_eq!(
            datetime_text("2026-03-01T10:00:00Z"),
            "2026-03-01 10:00 UTC"
        );
        assert_eq!(
            datetime_text("2026-03-01T10:00:00.000+00:00"),
            "2026-03-01 10:00 UTC"
        );
        assert_eq!(
            datetime_text("2026-03-01T10:00:00+02:00"),
            "2026-03-01 10:00 +02:00"
        );
        assert_eq!(
            datetime_text("2026-03-01T10:00:00-05:00"),
            "2026-03-01 10:00 -05:00"
        );
        assert_eq!(datetime_text("yesterday"), "yesterday");
        assert_eq!(date_text("2026-03-01T10:00:00Z"), "2026-03-01");
    }

    #[test]
    fn remediations_are_grouped_in_action_order() {
        let r = |category: &str, details: &str| RemediationView {
            category: category.to_string(),
            details: details.to_string(),
            url: None,
            products: vec![],
        };
        let groups = group_remediations(vec![
            r("workaround", "a"),
            r("vendor_fix", "b"),
            r("workaround", "c"),
            r("something_new", "d"),
        ]);
        let shape: Vec<(String, Vec<String>)> = groups
            .into_iter()
            .map(|(c, items)| (c, items.into_iter().map(|i| i.details).collect()))
            .collect();
        assert_eq!(
            shape,
            vec![
                ("vendor_fix".to_string(), vec!["b".to_string()]),
                (
                    "workaround".to_string(),
                    vec!["a".to_string(), "c".to_string()]
                ),
                ("something_new".to_string(), vec!["d".to_string()]),
            ]
        );
    }
}
