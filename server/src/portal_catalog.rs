//! The server side of the portal's product catalog page (`app::catalog`): which products a
//! viewer sees (storage's [`herald_storage::catalog::list_products_for_reader`], the same rule as
//! `GET /api/v1/products`), and saving an entry with the same checks as
//! `POST`/`PATCH /api/v1/products`. Only publishers and admins of a manufacturer edit.

use app::catalog::{
    CatalogFamily, CatalogItem, CatalogNode, CatalogVendor, CatalogView, ProductForm, ProductSaved,
};
use app::model::{PortalError, Viewer};
use herald_storage::{catalog::CatalogEntry, catalog::CatalogProduct, entitlement::Reader};

use crate::error::ServiceError;
use crate::portal::{HeraldPortal, portal_error};

/// Who looks at the catalog: how they read, and whether they may edit (for which manufacturer).
struct CatalogViewer {
    reader: Reader,
    editor_of: Option<String>,
}

fn item(p: CatalogProduct) -> CatalogItem {
    CatalogItem {
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

fn optional(s: String) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

impl HeraldPortal {
    async fn catalog_viewer(&self, viewer: &Viewer) -> Result<CatalogViewer, PortalError> {
        let anonymous = CatalogViewer {
            reader: Reader::Anonymous,
            editor_of: None,
        };
        if viewer.user_id.is_none() {
            return Ok(anonymous);
        }
        // A user disabled meanwhile reads as anonymous.
        let p = match self.principal(viewer).await {
            Ok(p) => p,
            Err(PortalError::Forbidden) => return Ok(anonymous),
            Err(e) => return Err(e),
        };
        let editor = crate::service::catalog::editor_of(&p).is_ok();
        Ok(CatalogViewer {
            reader: p.reader(),
            editor_of: editor.then(|| p.org_id.clone()),
        })
    }

    pub(crate) async fn catalog_view(&self, viewer: &Viewer) -> Result<CatalogView, PortalError> {
        let who = self.catalog_viewer(viewer).await?;
        let reader = who.reader.clone();
        let products = self
            .state
            .db(move |conn| {
                Ok(herald_storage::catalog::list_products_for_reader(
                    conn, &reader,
                )?)
            })
            .await
            .map_err(portal_error)?;
        let vendors = herald_storage::catalog::catalog_tree(&products)
            .into_iter()
            .map(|v| CatalogVendor {
                vendor: v.vendor,
                families: v
                    .families
                    .into_iter()
                    .map(|f| CatalogFamily {
                        family: f.family,
                        products: f
                            .products
                            .into_iter()
                            .map(|p| CatalogNode {
                                name: p.name,
                                versions: p.versions.into_iter().map(item).collect(),
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect();
        Ok(CatalogView {
            can_edit: who.editor_of.is_some(),
            hospital: matches!(who.reader, Reader::Hospital { .. }),
            vendors,
        })
    }

    pub(crate) async fn save_product_form(
        &self,
        viewer: &Viewer,
        form: ProductForm,
    ) -> Result<ProductSaved, PortalError> {
        let p = self.principal(viewer).await?;
        let id = optional(form.id);
        let entry = CatalogEntry {
            vendor: optional(form.vendor),
            family: optional(form.family),
            name: form.name,
            version: optional(form.version),
            udi_di: optional(form.udi_di),
            cpe: optional(form.cpe),
            purl: optional(form.purl),
        };
        let saved = match id {
            None => crate::service::catalog::create(&self.state, &p, entry).await,
            Some(id) => crate::service::catalog::update(&self.state, &p, &id, move |_| entry).await,
        };
        match saved {
            Ok(p) => Ok(ProductSaved::Saved(p.id)),
            Err(ServiceError::InvalidFields(fields)) => {
                let field = fields.first().map(|f| f.field.clone()).unwrap_or_default();
                let message = fields
                    .into_iter()
                    .map(|f| f.message)
                    .collect::<Vec<_>>()
                    .join("; ");
                Ok(ProductSaved::Refused { field, message })
            }
            Err(ServiceError::Conflict(message)) => Ok(ProductSaved::Refused {
                field: String::new(),
                message,
            }),
            Err(other) => Err(portal_error(other)),
        }
    }
}
