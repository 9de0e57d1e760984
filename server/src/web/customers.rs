//! REST resources of the hospital data model that entitlement and notification matching read:
//!
//! * a hospital's installed base (`/installed-base`) and its destinations' subscriptions
//!   (`/subscriptions`), managed by the hospital itself;
//! * the manufacturer's customers (`/customers`) and the grants it makes them
//!   (`/customers/{org}/grants`).
//!
//! Who may do what: a token acts for its organization. Reads need the `read` (or `admin`) scope,
//! changes `admin`. The installed base belongs to hospitals; customers and grants to the
//! manufacturer. Subscriptions follow destinations: a hospital sees its own, the manufacturer
//! every organization's. Something a caller may not see answers 404, like something that does
//! not exist. Input that storage refuses answers 422 naming the field.

use actix_web::{HttpResponse, web};
use herald_storage::{
    customers::Customer, customers::GrantTarget, installed_base::InstalledProduct,
    subscriptions::Subscription,
};
use serde::{Deserialize, Serialize};

use crate::error::{ErrorBody, ServiceError};
use crate::service::installed_base::{self, NewEntry, SiteChoice};
use crate::state::AppState;
use crate::web::auth::ApiCaller;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/installed-base", web::get().to(list_installed_base))
        .route("/installed-base", web::post().to(add_installed_product))
        .route(
            "/installed-base/{id}",
            web::delete().to(remove_installed_product),
        )
        .route("/subscriptions", web::get().to(list_subscriptions))
        .route(
            "/subscriptions/{destination_id}",
            web::get().to(get_subscription),
        )
        .route(
            "/subscriptions/{destination_id}",
            web::put().to(put_subscription),
        )
        .route("/customers", web::get().to(list_customers))
        .route("/customers", web::post().to(add_customer))
        .route("/customers/{org}", web::delete().to(remove_customer))
        .route(
            "/customers/{org}/installed-base",
            web::get().to(list_customer_installed_base),
        )
        .route(
            "/customers/{org}/installed-base/{id}/confirm",
            web::post().to(confirm_installed_product),
        )
        .route("/customers/{org}/grants", web::get().to(list_grants))
        .route("/customers/{org}/grants", web::post().to(create_grant))
        .route(
            "/customers/{org}/grants/{id}",
            web::delete().to(revoke_grant),
        );
}

fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ServiceError> {
    crate::error::parse_json(body)
}

// ---------------------------------------------------------------------------------------------
// installed base

/// A catalog product in a hospital's installed base.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InstalledProductResource {
    /// Id of this installed-base entry (for DELETE).
    pub id: String,
    pub product_id: String,
    pub vendor: Option<String>,
    pub family: Option<String>,
    pub name: String,
    pub version: Option<String>,
    pub udi_di: Option<String>,
    /// Units; with serial numbers, their count.
    pub quantity: Option<i32>,
    /// Serial numbers of the devices, sorted.
    pub serials: Vec<String>,
    /// Devices this entry stands for: its serials, else its quantity, else one.
    pub devices: i64,
    pub site_id: String,
    /// The site's name.
    pub site: String,
    pub notes: Option<String>,
    pub created_at: String,
    /// When the manufacturer confirmed the entry (RFC 3339). Only confirmed entries open
    /// TLP:AMBER advisories about the product; every entry routes notifications.
    pub confirmed_at: Option<String>,
}

impl From<InstalledProduct> for InstalledProductResource {
    fn from(i: InstalledProduct) -> Self {
        let devices = i.devices();
        Self {
            devices,
            id: i.id,
            product_id: i.product.id,
            vendor: i.product.vendor,
            family: i.product.family,
            name: i.product.name,
            version: i.product.version,
            udi_di: i.product.udi_di,
            quantity: i.quantity,
            serials: i.serials,
            site_id: i.site_id,
            site: i.site_name,
            notes: i.notes,
            created_at: i.created_at.to_rfc3339(),
            confirmed_at: i.confirmed_at.map(|t| t.to_rfc3339()),
        }
    }
}

/// A product to add to the caller's installed base.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddInstalledProduct {
    /// A catalog product id (`product` of the advisory list's filter, `products.id`).
    pub product_id: String,
    /// How many units run, 1 to 1,000,000 (with `serials`: their count, or absent).
    pub quantity: Option<i32>,
    /// One of the hospital's sites by id (see `/api/v1/sites`).
    pub site_id: Option<String>,
    /// A site by name, created when missing (instead of `site_id`; neither: the default site).
    pub site: Option<String>,
    /// Serial numbers of the devices (unique per hospital and product).
    #[serde(default)]
    pub serials: Vec<String>,
    pub notes: Option<String>,
}

/// The caller's installed base (hospital tokens).
#[utoipa::path(get, path = "/api/v1/installed-base",
    responses((status = 200, body = [InstalledProductResource]),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_installed_base(
    state: web::Data<AppState>,
    caller: ApiCaller,
) -> Result<HttpResponse, ServiceError> {
    let items = installed_base::list_entries(&state, caller.principal()?).await?;
    let body: Vec<InstalledProductResource> = items.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(body))
}

/// Adds a catalog product to the caller's installed base (hospital admin tokens).
#[utoipa::path(post, path = "/api/v1/installed-base", request_body = AddInstalledProduct,
    responses((status = 201, body = InstalledProductResource),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The product is in the installed base already"),
        (status = 422, body = ErrorBody, description = "Unknown product, bad quantity or text")),
    security(("bearer" = [])))]
pub async fn add_installed_product(
    state: web::Data<AppState>,
    caller: ApiCaller,
    body: web::Bytes,
) -> Result<HttpResponse, ServiceError> {
    let p = caller.principal()?;
    // Who may change anything is decided before the body is read (403 before 400).
    p.require_hospital_admin()?;
    let req: AddInstalledProduct = parse_body(&body)?;
    let site = SiteChoice::from_request(req.site_id, req.site)?;
    let added = installed_base::add_entry(
        &state,
        p,
        NewEntry {
            site,
            product_id: req.product_id,
            quantity: req.quantity,
            serials: req.serials,
            notes: req.notes,
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(InstalledProductResource::from(added)))
}

/// Removes an entry from the caller's installed base (hospital admin tokens).
#[utoipa::path(delete, path = "/api/v1/installed-base/{id}",
    params(("id" = String, Path, description = "Installed-base entry id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn remove_installed_product(
    state: web::Data<AppState>,
    caller: ApiCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ServiceError> {
    installed_base::remove_entry(&state, caller.principal()?, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

// ---------------------------------------------------------------------------------------------
// subscriptions

/// What one destination wants to hear about.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionBody {
    /// Catalog product ids. With `families` empty too: no product filter (every product the
    /// organization may read, narrowed to its installed base when it has one).
    #[serde(default)]
    pub product_ids: Vec<String>,
    /// Product family names (case-insensitive).
    #[serde(default)]
    pub families: Vec<String>,
    /// `advisory.published`, `advisory.updated`, `patch.available`, `end_of_support`; empty:
    /// every kind.
    #[serde(default)]
    pub event_kinds: Vec<String>,
    /// A designated security contact: critical notices arrive even with `routine_opt_out`.
    #[serde(default)]
    pub security_contact: bool,
    /// No routine notices.
    #[serde(default)]
    pub routine_opt_out: bool,
}

impl From<Subscription> for SubscriptionBody {
    fn from(s: Subscription) -> Self {
        Self {
            product_ids: s.product_ids,
            families: s.families,
            event_kinds: s.event_kinds,
            security_contact: s.security_contact,
            routine_opt_out: s.routine_opt_out,
        }
    }
}

/// A destination's subscription.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SubscriptionResource {
    pub destination_id: String,
    pub destination_name: String,
    pub org_id: String,
    /// The destination's severity threshold (set on the destination itself).
    pub min_severity: Option<String>,
    pub subscription: SubscriptionBody,
}

/// Subscriptions of the caller's destinations (the manufacturer: every organization's).
#[utoipa::path(get, path = "/api/v1/subscriptions",
    responses((status = 200, body = [SubscriptionResource]),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_subscriptions(
    state: web::Data<AppState>,
    caller: ApiCaller,
) -> Result<HttpResponse, ServiceError> {
    let list = crate::service::subscriptions::list(&state, caller.principal()?).await?;
    let body: Vec<SubscriptionResource> = list
        .into_iter()
        .map(|(d, s)| SubscriptionResource {
            destination_id: d.id,
            destination_name: d.name,
            org_id: d.org_id,
            min_severity: d.min_severity,
            subscription: s.into(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(body))
}

/// One destination's subscription.
#[utoipa::path(get, path = "/api/v1/subscriptions/{destination_id}",
    params(("destination_id" = String, Path)),
    responses((status = 200, body = SubscriptionResource), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_subscription(
    state: web::Data<AppState>,
    caller: ApiCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ServiceError> {
    let (d, s) = crate::service::subscriptions::get(&state, caller.principal()?, &id).await?;
    Ok(HttpResponse::Ok().json(SubscriptionResource {
        destination_id: d.id,
        destination_name: d.name,
        org_id: d.org_id,
        min_severity: d.min_severity,
        subscription: s.into(),
    }))
}

/// Replaces one destination's subscription (admin tokens of its own organization; the
/// manufacturer's tokens see a hospital's subscriptions but do not change them).
#[utoipa::path(put, path = "/api/v1/subscriptions/{destination_id}",
    params(("destination_id" = String, Path)), request_body = SubscriptionBody,
    responses((status = 200, body = SubscriptionResource), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "Unknown product, notice kind or bad text")),
    security(("bearer" = [])))]
pub async fn put_subscription(
    state: web::Data<AppState>,
    caller: ApiCaller,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ServiceError> {
    let p = caller.principal()?;
    let req: SubscriptionBody = parse_body(&body)?;
    let subscription = Subscription {
        product_ids: req.product_ids,
        families: req.families,
        event_kinds: req.event_kinds,
        security_contact: req.security_contact,
        routine_opt_out: req.routine_opt_out,
    };
    let (d, s) = crate::service::subscriptions::save(&state, p, &id, subscription).await?;
    Ok(HttpResponse::Ok().json(SubscriptionResource {
        destination_id: d.id,
        destination_name: d.name,
        org_id: d.org_id,
        min_severity: d.min_severity,
        subscription: s.into(),
    }))
}

// ---------------------------------------------------------------------------------------------
// customers and grants (the manufacturer)

/// A hospital that is a customer of the manufacturer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CustomerResource {
    pub org_id: String,
    pub name: String,
    pub slug: String,
    /// The manufacturer's own reference for the account.
    pub reference: Option<String>,
    pub created_at: String,
}

impl From<Customer> for CustomerResource {
    fn from(c: Customer) -> Self {
        Self {
            org_id: c.hospital_org_id,
            name: c.hospital_name,
            slug: c.hospital_slug,
            reference: c.reference,
            created_at: c.created_at.to_rfc3339(),
        }
    }
}

/// Makes a hospital a customer: an existing hospital organization by `org` (id or slug), or a
/// new one by `name`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddCustomer {
    /// Id or slug of an existing hospital organization.
    pub org: Option<String>,
    /// Name of a hospital organization, created when missing.
    pub name: Option<String>,
    pub reference: Option<String>,
}

/// A customer's installed base as the hospital declared it (manufacturer tokens).
#[utoipa::path(get, path = "/api/v1/customers/{org}/installed-base",
    params(("org" = String, Path, description = "Hospital organization id or slug")),
    responses((status = 200, body = [InstalledProductResource]), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_customer_installed_base(
    state: web::Data<AppState>,
    caller: ApiCaller,
    org: web::Path<String>,
) -> Result<HttpResponse, ServiceError> {
    let items = installed_base::customer_entries(&state, caller.principal()?, &org).await?;
    let body: Vec<InstalledProductResource> = items.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(body))
}

/// Confirms an entry of a customer's installed base: from then on it opens TLP:AMBER advisories
/// about that product to the hospital (manufacturer admin tokens). Confirming twice is harmless.
#[utoipa::path(post, path = "/api/v1/customers/{org}/installed-base/{id}/confirm",
    params(("org" = String, Path, description = "Hospital organization id or slug"),
        ("id" = String, Path, description = "Installed-base entry id")),
    responses((status = 200, body = InstalledProductResource), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn confirm_installed_product(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ServiceError> {
    let (org, id) = path.into_inner();
    let confirmed = installed_base::confirm_entry(&state, caller.principal()?, &org, &id).await?;
    Ok(HttpResponse::Ok().json(InstalledProductResource::from(confirmed)))
}

/// The manufacturer's customers (manufacturer tokens).
#[utoipa::path(get, path = "/api/v1/customers",
    responses((status = 200, body = [CustomerResource]),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_customers(
    state: web::Data<AppState>,
    caller: ApiCaller,
) -> Result<HttpResponse, ServiceError> {
    let list = crate::service::customers::list(&state, caller.principal()?).await?;
    let body: Vec<CustomerResource> = list.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(body))
}

/// Makes a hospital a customer (manufacturer admin tokens): it may then read TLP:GREEN
/// advisories, and TLP:AMBER ones for its installed base.
#[utoipa::path(post, path = "/api/v1/customers", request_body = AddCustomer,
    responses((status = 201, body = CustomerResource),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "No organization `org`"),
        (status = 422, body = ErrorBody, description = "Neither or both of org and name; not a hospital")),
    security(("bearer" = [])))]
pub async fn add_customer(
    state: web::Data<AppState>,
    caller: ApiCaller,
    body: web::Bytes,
) -> Result<HttpResponse, ServiceError> {
    let req: AddCustomer = parse_body(&body)?;
    let customer = crate::service::customers::add(
        &state,
        caller.principal()?,
        req.org,
        req.name,
        req.reference,
    )
    .await?;
    Ok(HttpResponse::Created().json(CustomerResource::from(customer)))
}

/// Ends the customer relation (manufacturer admin tokens).
#[utoipa::path(delete, path = "/api/v1/customers/{org}",
    params(("org" = String, Path, description = "Hospital organization id or slug")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn remove_customer(
    state: web::Data<AppState>,
    caller: ApiCaller,
    org: web::Path<String>,
) -> Result<HttpResponse, ServiceError> {
    crate::service::customers::remove(&state, caller.principal()?, &org).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Access the manufacturer granted a hospital beyond its installed base.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GrantResource {
    pub id: String,
    pub org_id: String,
    /// Every advisory naming this catalog product (set, or `tracking_id`).
    pub product_id: Option<String>,
    /// This one advisory.
    pub tracking_id: Option<String>,
    pub note: Option<String>,
    pub created_at: String,
}

/// A new grant: exactly one of `product_id` and `tracking_id`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGrant {
    pub product_id: Option<String>,
    pub tracking_id: Option<String>,
    pub note: Option<String>,
}

fn grant_resource(g: crate::service::customers::GrantInfo) -> GrantResource {
    let product_id = match g.grant.target {
        GrantTarget::Product(p) => Some(p),
        GrantTarget::Advisory(_) => None,
    };
    GrantResource {
        id: g.grant.id,
        org_id: g.grant.hospital_org_id,
        product_id,
        tracking_id: g.tracking_id,
        note: g.grant.note,
        created_at: g.grant.created_at.to_rfc3339(),
    }
}

/// Grants to one hospital (manufacturer tokens).
#[utoipa::path(get, path = "/api/v1/customers/{org}/grants",
    params(("org" = String, Path, description = "Hospital organization id or slug")),
    responses((status = 200, body = [GrantResource]), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_grants(
    state: web::Data<AppState>,
    caller: ApiCaller,
    org: web::Path<String>,
) -> Result<HttpResponse, ServiceError> {
    let grants = crate::service::customers::grants(&state, caller.principal()?, &org).await?;
    let body: Vec<GrantResource> = grants.into_iter().map(grant_resource).collect();
    Ok(HttpResponse::Ok().json(body))
}

/// Grants a hospital access to a product's advisories or to one advisory, TLP:AMBER included
/// (manufacturer admin tokens).
#[utoipa::path(post, path = "/api/v1/customers/{org}/grants", request_body = CreateGrant,
    params(("org" = String, Path, description = "Hospital organization id or slug")),
    responses((status = 201, body = GrantResource), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The grant exists already"),
        (status = 422, body = ErrorBody, description = "Unknown product or advisory, not a hospital")),
    security(("bearer" = [])))]
pub async fn create_grant(
    state: web::Data<AppState>,
    caller: ApiCaller,
    org: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ServiceError> {
    let req: CreateGrant = parse_body(&body)?;
    let grant = crate::service::customers::grant(
        &state,
        caller.principal()?,
        &org,
        req.product_id,
        req.tracking_id,
        req.note,
    )
    .await?;
    Ok(HttpResponse::Created().json(grant_resource(grant)))
}

/// Revokes a grant (manufacturer admin tokens).
#[utoipa::path(delete, path = "/api/v1/customers/{org}/grants/{id}",
    params(("org" = String, Path, description = "Hospital organization id or slug"),
        ("id" = String, Path, description = "Grant id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn revoke_grant(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ServiceError> {
    let (org, id) = path.into_inner();
    crate::service::customers::revoke(&state, caller.principal()?, &org, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}
