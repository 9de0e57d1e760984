//! REST resource of the manufacturer's product catalog (`/api/v1/products`): the tree of
//! products as the caller may see it, and creating and editing entries (tokens of the
//! manufacturer with the `publish` or `admin` scope).
//!
//! Who sees which products is storage's rule ([`herald_storage::catalog::list_products_for_reader`]): the
//! manufacturer its whole catalog; a hospital the products of advisories it may read, of its
//! installed base and of its grants; anonymous callers those of TLP:WHITE advisories. A product
//! named only by an AMBER or RED advisory is not listed to anyone not entitled to it: its name
//! alone can be restricted information.

use actix_web::{HttpResponse, web};
use herald_storage::{catalog::CatalogEntry, catalog::CatalogProduct};
use serde::{Deserialize, Serialize};

use crate::error::{ErrorBody, ServiceError};
use crate::state::AppState;
use crate::web::auth::{ApiCaller, ReadCaller};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/products", web::get().to(list_products))
        .route("/products", web::post().to(create_product))
        .route("/products/{id}", web::patch().to(update_product));
}

/// One catalog entry (one version of a product).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProductResource {
    pub id: String,
    pub vendor: Option<String>,
    pub family: Option<String>,
    pub name: String,
    pub version: Option<String>,
    /// GTIN-14 (GS1) or HIBCC UDI-DI.
    pub udi_di: Option<String>,
    /// CPE 2.3 formatted string.
    pub cpe: Option<String>,
    /// Package URL.
    pub purl: Option<String>,
}

impl From<CatalogProduct> for ProductResource {
    fn from(p: CatalogProduct) -> Self {
        Self {
            id: p.id,
            vendor: p.vendor,
            family: p.family,
            name: p.name,
            version: p.version,
            udi_di: p.udi_di,
            cpe: p.cpe,
            purl: p.purl,
        }
    }
}

/// The catalog as a tree: vendor → families → products → versions (each a [`ProductResource`]).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CatalogTree {
    pub vendors: Vec<VendorResource>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VendorResource {
    /// Absent for entries without a vendor.
    pub vendor: Option<String>,
    pub families: Vec<FamilyResource>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FamilyResource {
    /// Absent for entries without a family.
    pub family: Option<String>,
    pub products: Vec<ProductNodeResource>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProductNodeResource {
    pub name: String,
    pub versions: Vec<ProductResource>,
}

/// A new entry. Empty strings count as absent.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProduct {
    pub vendor: Option<String>,
    pub family: Option<String>,
    pub name: String,
    pub version: Option<String>,
    pub udi_di: Option<String>,
    pub cpe: Option<String>,
    pub purl: Option<String>,
}

/// Changes to an entry (JSON merge patch, RFC 7396): a field left out keeps its value, `null`
/// or `""` clears it (`name` cannot be cleared).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProduct {
    #[serde(default, deserialize_with = "patch_field")]
    #[schema(value_type = Option<String>)]
    pub vendor: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch_field")]
    #[schema(value_type = Option<String>)]
    pub family: Option<Option<String>>,
    pub name: Option<String>,
    #[serde(default, deserialize_with = "patch_field")]
    #[schema(value_type = Option<String>)]
    pub version: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch_field")]
    #[schema(value_type = Option<String>)]
    pub udi_di: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch_field")]
    #[schema(value_type = Option<String>)]
    pub cpe: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch_field")]
    #[schema(value_type = Option<String>)]
    pub purl: Option<Option<String>>,
}

/// Present (`Some`) with a value or `null` (`Some(None)`); absent fields stay `None` by default.
fn patch_field<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// The catalog entries the caller may see (see the module docs), as a tree.
#[utoipa::path(get, path = "/api/v1/products",
    responses((status = 200, body = CatalogTree), (status = 401, body = ErrorBody)),
    security((), ("bearer" = [])))]
pub async fn list_products(
    state: web::Data<AppState>,
    caller: ReadCaller,
) -> Result<HttpResponse, ServiceError> {
    let reader = caller.reader.clone();
    let products = state
        .db(move |conn| {
            Ok(herald_storage::catalog::list_products_for_reader(
                conn, &reader,
            )?)
        })
        .await?;
    let mut resp = HttpResponse::Ok();
    crate::web::api::private_if_personal(&mut resp, &caller);
    Ok(resp.json(tree(&products)))
}

pub fn tree(products: &[CatalogProduct]) -> CatalogTree {
    CatalogTree {
        vendors: herald_storage::catalog::catalog_tree(products)
            .into_iter()
            .map(|v| VendorResource {
                vendor: v.vendor,
                families: v
                    .families
                    .into_iter()
                    .map(|f| FamilyResource {
                        family: f.family,
                        products: f
                            .products
                            .into_iter()
                            .map(|p| ProductNodeResource {
                                name: p.name,
                                versions: p.versions.into_iter().map(Into::into).collect(),
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ServiceError> {
    crate::error::parse_json(body)
}

/// Adds an entry to the manufacturer's catalog. Identity (vendor, family, name, version, any
/// case) and UDI-DI must be new: a duplicate is 409 and nothing is written.
#[utoipa::path(post, path = "/api/v1/products", request_body = CreateProduct,
    responses(
        (status = 201, body = ProductResource),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "Same identity or UDI-DI as an existing entry"),
        (status = 422, body = ErrorBody, description = "A field is invalid (CPE 2.3, PURL, UDI-DI syntax, ...); `fields` names it"),
    ),
    security(("bearer" = [])))]
pub async fn create_product(
    state: web::Data<AppState>,
    caller: ApiCaller,
    body: web::Bytes,
) -> Result<HttpResponse, ServiceError> {
    let new: CreateProduct = parse_body(&body)?;
    let entry = CatalogEntry {
        vendor: new.vendor,
        family: new.family,
        name: new.name,
        version: new.version,
        udi_di: new.udi_di,
        cpe: new.cpe,
        purl: new.purl,
    };
    let created = crate::service::catalog::create(&state, caller.principal()?, entry).await?;
    Ok(HttpResponse::Created()
        .insert_header((
            actix_web::http::header::LOCATION,
            format!(
                "{}/api/v1/products/{}",
                state.config.base_url.trim_end_matches('/'),
                created.id
            ),
        ))
        .json(ProductResource::from(created)))
}

/// Changes an entry of the manufacturer's catalog (merge patch). Published advisories keep
/// naming the entry by id.
#[utoipa::path(patch, path = "/api/v1/products/{id}", request_body = UpdateProduct,
    params(("id" = String, Path, description = "Catalog product id")),
    responses(
        (status = 200, body = ProductResource),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "Same identity or UDI-DI as another entry"),
        (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn update_product(
    state: web::Data<AppState>,
    caller: ApiCaller,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ServiceError> {
    let patch: UpdateProduct = parse_body(&body)?;
    let updated =
        crate::service::catalog::update(&state, caller.principal()?, &id, move |p| CatalogEntry {
            vendor: patch.vendor.unwrap_or(p.vendor),
            family: patch.family.unwrap_or(p.family),
            name: patch.name.unwrap_or(p.name),
            version: patch.version.unwrap_or(p.version),
            udi_di: patch.udi_di.unwrap_or(p.udi_di),
            cpe: patch.cpe.unwrap_or(p.cpe),
            purl: patch.purl.unwrap_or(p.purl),
        })
        .await?;
    Ok(HttpResponse::Ok().json(ProductResource::from(updated)))
}
