//! The product catalog page (`/products`): the tree vendor → family → product → versions the
//! viewer may see (the server decides which, see `herald_storage::catalog::list_products_for_reader`),
//! each version linking to the advisory list filtered by it; for the manufacturer's publishers
//! and admins a form to add an entry and one per entry to edit it. The forms are `ActionForm`s
//! that work without JavaScript: the server function redirects back, a refused entry with the
//! typed values and the error naming the field. Every value is rendered as text.

use crate::csrf::CsrfField;
use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::ui::ErrorBox;

/// One catalog entry (one version of a product).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct CatalogItem {
    pub id: String,
    pub vendor: Option<String>,
    pub family: Option<String>,
    pub name: String,
    pub version: Option<String>,
    pub udi_di: Option<String>,
    pub cpe: Option<String>,
    pub purl: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CatalogVendor {
    pub vendor: Option<String>,
    pub families: Vec<CatalogFamily>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CatalogFamily {
    pub family: Option<String>,
    pub products: Vec<CatalogNode>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CatalogNode {
    pub name: String,
    pub versions: Vec<CatalogItem>,
}

/// What the page shows.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct CatalogView {
    /// A publisher or admin of the manufacturer: may add and edit entries.
    pub can_edit: bool,
    /// The viewer belongs to a hospital (links to its subscriptions are shown).
    pub hospital: bool,
    pub vendors: Vec<CatalogVendor>,
}

/// The add/edit form as posted (every field as typed) and as a refused one travels back.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ProductForm {
    /// Empty: a new entry.
    pub id: String,
    pub vendor: String,
    pub family: String,
    pub name: String,
    pub version: String,
    pub udi_di: String,
    pub cpe: String,
    pub purl: String,
}

/// What saving did.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum ProductSaved {
    /// The entry's id.
    Saved(String),
    /// Refused: the field at fault (empty when the entry as a whole, e.g. a duplicate) and why.
    Refused { field: String, message: String },
}

/// A refused form as it travels back in the redirect.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ProductDraft {
    pub form: ProductForm,
    pub field: String,
    pub error: String,
}

/// Anchor of an entry on the page.
pub fn product_anchor(id: &str) -> String {
    let mut out = String::from("p-");
    out.extend(id.chars().map(|c| {
        if c.is_ascii_alphanumeric() || c == '-' {
            c
        } else {
            '_'
        }
    }));
    out
}

// ---------------------------------------------------------------------------------------------
// server functions

/// The catalog as the viewer may see it.
#[server(prefix = "/api", endpoint = "catalog", client = crate::csrf::CsrfClient)]
pub async fn get_catalog() -> Result<CatalogView, ServerFnError> {
    let portal = crate::api::ssr::portal()?;
    let viewer = crate::api::ssr::viewer(portal.as_ref()).await?;
    portal
        .catalog(&viewer)
        .await
        .map_err(crate::api::ssr::user_error)
}

/// Adds (empty `id`) or replaces an entry, then back to the page: to the entry when saved, to
/// the form with the typed values and the error when refused.
#[server(prefix = "/api", endpoint = "product_save", client = crate::csrf::CsrfClient)]
#[allow(clippy::too_many_arguments)]
pub async fn save_product(
    id: String,
    vendor: String,
    family: String,
    name: String,
    version: String,
    udi_di: String,
    cpe: String,
    purl: String,
) -> Result<(), ServerFnError> {
    let form = ProductForm {
        id,
        vendor,
        family,
        name,
        version,
        udi_di,
        cpe,
        purl,
    };
    let portal = crate::api::ssr::portal()?;
    let viewer = crate::api::ssr::viewer(portal.as_ref()).await?;
    match portal
        .save_product(&viewer, form.clone())
        .await
        .map_err(crate::api::ssr::user_error)?
    {
        ProductSaved::Saved(id) => leptos_actix::redirect(&format!(
            "/products?saved={}#{}",
            crate::destinations::query_value(&id),
            product_anchor(&id)
        )),
        ProductSaved::Refused { field, message } => {
            let anchor = if form.id.is_empty() {
                "new-product".to_string()
            } else {
                product_anchor(&form.id)
            };
            let draft = ProductDraft {
                form,
                field,
                error: message,
            };
            let draft = serde_json::to_string(&draft).map_err(|e| -> ServerFnError {
                ServerFnError::ServerError(format!("cannot return the form: {e}"))
            })?;
            leptos_actix::redirect(&format!(
                "/products?draft={}#{anchor}",
                crate::destinations::query_value(&draft)
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// the page

#[component]
pub fn CatalogPage() -> impl IntoView {
    let query = use_query_map();
    let save = ServerAction::<SaveProduct>::new();
    let draft = move || {
        query
            .read()
            .get("draft")
            .and_then(|d| serde_json::from_str::<ProductDraft>(&d).ok())
    };
    let saved = move || query.read().get("saved");
    let catalog = Resource::new(move || (save.version().get(), saved()), |_| get_catalog());
    let action_error = move || {
        save.value()
            .get()
            .and_then(|r| r.err())
            .map(|error| view! { <ErrorBox error/> })
    };
    view! {
        <Title text="Products"/>
        <h1>"Products"</h1>
        {action_error}
        {move || {
            saved()
                .map(|_| view! { <p class="notice" role="status" data-testid="product-saved">"Saved."</p> })
        }}
        <Suspense fallback=|| view! { <p class="muted">"Loading the catalog…"</p> }>
            {move || Suspend::new(async move {
                match catalog.await {
                    Ok(view) => view! { <CatalogTree view draft=draft() save/> }.into_any(),
                    Err(error) => view! { <ErrorBox error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn CatalogTree(
    view: CatalogView,
    draft: Option<ProductDraft>,
    save: ServerAction<SaveProduct>,
) -> impl IntoView {
    let can_edit = view.can_edit;
    let hospital = view.hospital;
    let empty = view.vendors.is_empty();
    let new_draft = draft.clone().filter(|d| d.form.id.is_empty());
    let add_form = can_edit.then(|| {
        let form = new_draft.clone().map(|d| d.form).unwrap_or_default();
        let error = new_draft.map(|d| (d.field, d.error));
        view! {
            <p class="muted">
                // Not a route of this app: a full page load, not client-side navigation.
                <a href="/upload" rel="external" data-testid="upload-link">"Publish a CSAF file"</a>
                " (products named in its product tree join the catalog)."
            </p>
            <section id="new-product">
                <h2>"Add a product"</h2>
                <ProductFields form error save/>
            </section>
        }
    });
    let vendors = view
        .vendors
        .into_iter()
        .map(|v| {
            let families = v
                .families
                .into_iter()
                .map(|f| {
                    let products = f
                        .products
                        .into_iter()
                        .map(|p| {
                            let versions = p
                                .versions
                                .into_iter()
                                .map(|item| {
                                    let draft = draft.clone().filter(|d| d.form.id == item.id);
                                    view! { <CatalogEntryRow item draft can_edit hospital save/> }
                                })
                                .collect_view();
                            view! {
                                <li class="catalog-product">
                                    <span data-testid="product-name">{p.name}</span>
                                    <ul>{versions}</ul>
                                </li>
                            }
                        })
                        .collect_view();
                    view! {
                        <li class="catalog-family">
                            <span data-testid="family-name">
                                {f.family.unwrap_or_else(|| "(no family)".into())}
                            </span>
                            <ul>{products}</ul>
                        </li>
                    }
                })
                .collect_view();
            view! {
                <li class="catalog-vendor">
                    <span data-testid="vendor-name">
                        {v.vendor.unwrap_or_else(|| "(no vendor)".into())}
                    </span>
                    <ul>{families}</ul>
                </li>
            }
        })
        .collect_view();
    view! {
        {hospital
            .then(|| {
                view! {
                    <p class="muted">
                        "Products named by advisories you may read, in your installed base, or "
                        "granted to your organization. Choose which products a channel notifies "
                        "about on its "
                        <a href="/destinations">"destination page"</a>
                        "."
                    </p>
                }
            })}
        {empty.then(|| view! { <p class="muted" data-testid="catalog-empty">"No products to show."</p> })}
        <ul class="catalog" data-testid="catalog">{vendors}</ul>
        {add_form}
    }
}

#[component]
fn CatalogEntryRow(
    item: CatalogItem,
    draft: Option<ProductDraft>,
    can_edit: bool,
    hospital: bool,
    save: ServerAction<SaveProduct>,
) -> impl IntoView {
    let anchor = product_anchor(&item.id);
    let advisories = format!(
        "/advisories?product={}",
        crate::destinations::query_value(&item.id)
    );
    let ids = [
        ("UDI-DI", item.udi_di.clone()),
        ("CPE", item.cpe.clone()),
        ("PURL", item.purl.clone()),
    ]
    .into_iter()
    .filter_map(|(label, v)| {
        v.map(|v| view! { <span class="muted">" " {label} " "<code>{v}</code></span> })
    })
    .collect_view();
    let editor = can_edit.then(|| {
        let open = draft.is_some();
        let error = draft.as_ref().map(|d| (d.field.clone(), d.error.clone()));
        let form = draft.map(|d| d.form).unwrap_or_else(|| ProductForm {
            id: item.id.clone(),
            vendor: item.vendor.clone().unwrap_or_default(),
            family: item.family.clone().unwrap_or_default(),
            name: item.name.clone(),
            version: item.version.clone().unwrap_or_default(),
            udi_di: item.udi_di.clone().unwrap_or_default(),
            cpe: item.cpe.clone().unwrap_or_default(),
            purl: item.purl.clone().unwrap_or_default(),
        });
        view! {
            <details open=open>
                <summary>"Edit"</summary>
                <ProductFields form error save/>
            </details>
        }
    });
    view! {
        <li id=anchor data-product=item.id.clone()>
            <span data-testid="product-version">
                {item.version.clone().unwrap_or_else(|| "(no version)".into())}
            </span>
            {ids}
            " "
            <a href=advisories data-testid="product-advisories">"Advisories"</a>
            {hospital.then(|| view! { " " <a href="/destinations">"Subscriptions"</a> })}
            {editor}
        </li>
    }
}

#[component]
fn ProductFields(
    form: ProductForm,
    error: Option<(String, String)>,
    save: ServerAction<SaveProduct>,
) -> impl IntoView {
    let prefix = if form.id.is_empty() {
        "new".to_string()
    } else {
        product_anchor(&form.id)
    };
    let (error_field, error_text) = error.unzip();
    let fields = [
        ("vendor", "Vendor", form.vendor.clone(), false),
        ("family", "Family", form.family.clone(), false),
        ("name", "Product name", form.name.clone(), true),
        ("version", "Version", form.version.clone(), false),
        ("udi_di", "UDI-DI (GS1 GTIN or HIBCC)", form.udi_di.clone(), false),
        ("cpe", "CPE 2.3", form.cpe.clone(), false),
        ("purl", "Package URL", form.purl.clone(), false),
    ]
    .into_iter()
    .map(|(name, label, value, required)| {
        let id = format!("{prefix}-{name}");
        let err_id = format!("{id}-err");
        let message = error_text
            .clone()
            .filter(|_| error_field.as_deref() == Some(name));
        let invalid = message.is_some().then_some("true");
        view! {
            <p>
                <label for=id.clone()>{label}</label>
                <input
                    id=id
                    name=name
                    value=value
                    required=required
                    aria-invalid=invalid
                    aria-describedby=err_id.clone()
                />
                {message.map(|m| view! { <span class="field-error" id=err_id data-testid="field-error">{m}</span> })}
            </p>
        }
    })
    .collect_view();
    // An error not tied to one field (a duplicate) shows above the fields.
    let general = error_text
        .clone()
        .filter(|_| error_field.as_deref().is_none_or(str::is_empty))
        .map(|m| view! { <p class="field-errors" role="alert" data-testid="form-error">{m}</p> });
    view! {
        <ActionForm action=save attr:class="product-form">
            <CsrfField/>
            <input type="hidden" name="id" value=form.id.clone()/>
            {general}
            {fields}
            <button type="submit" data-testid="save-product">"Save"</button>
        </ActionForm>
    }
}
