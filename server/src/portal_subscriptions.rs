//! The server side of the subscription section of a destination's portal page: what it shows
//! and the one place its form is authorized. Anyone who may see the destination sees its
//! subscription; only an admin of the destination's own organization changes it (a hospital
//! never reaches another organization's destination at all: "not found"). Saving goes through
//! [`crate::service::subscriptions::save`], the same use case as `PUT /api/v1/subscriptions/{id}`.

use app::destinations::{FieldIssue, SaveResult, SubscriptionForm, SubscriptionView};
use app::model::{PortalError, ProductOption, Viewer};
use herald_storage::{advisories::AdvisoryFilter, subscriptions::Subscription};

use crate::error::ServiceError;
use crate::portal::{HeraldPortal, portal_error};
use crate::service::Principal;
use crate::service::subscriptions as service;

/// Family names from the form's text: separated by commas or lines.
fn family_list(text: &str) -> Vec<String> {
    text.split([',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

impl HeraldPortal {
    /// The destination's subscription with the products its organization may choose from.
    pub(crate) async fn subscription_view(
        &self,
        p: &Principal,
        destination_id: &str,
        org_id: &str,
    ) -> Result<SubscriptionView, PortalError> {
        let filter = AdvisoryFilter {
            reader: crate::web::auth::reader_for_org(&self.state, Some(org_id.to_owned()))
                .await
                .map_err(portal_error)?,
            ..AdvisoryFilter::default()
        };
        let dest_id = destination_id.to_owned();
        let (s, listed) = self
            .state
            .db(move |conn| {
                Ok((
                    herald_storage::subscriptions::get_subscription(conn, &dest_id)?,
                    herald_storage::advisories::list_listed_products(conn, &filter)?,
                ))
            })
            .await
            .map_err(portal_error)?;
        let mut products: Vec<ProductOption> = listed
            .into_iter()
            .map(|p| ProductOption {
                label: match &p.version {
                    Some(v) if !v.is_empty() => format!("{} {v}", p.name),
                    _ => p.name.clone(),
                },
                id: p.id,
            })
            .collect();
        for id in &s.product_ids {
            if !products.iter().any(|p| &p.id == id) {
                products.push(ProductOption {
                    id: id.clone(),
                    label: id.clone(),
                });
            }
        }
        Ok(SubscriptionView {
            product_ids: s.product_ids,
            families: s.families.join(", "),
            event_kinds: s.event_kinds,
            security_contact: s.security_contact,
            routine_opt_out: s.routine_opt_out,
            products,
            can_edit: p.can_edit_destinations_of(org_id),
        })
    }

    pub(crate) async fn save_subscription_form(
        &self,
        viewer: &Viewer,
        form: SubscriptionForm,
    ) -> Result<SaveResult, PortalError> {
        let p = self.principal(viewer).await?;
        let subscription = Subscription {
            product_ids: form.product_ids,
            families: family_list(&form.families),
            event_kinds: form.event_kinds,
            security_contact: form.security_contact,
            routine_opt_out: form.routine_opt_out,
        };
        match service::save(&self.state, &p, &form.destination_id, subscription).await {
            Ok((d, _)) => Ok(SaveResult::Saved { id: d.id }),
            Err(ServiceError::InvalidFields(fields)) => Ok(SaveResult::Rejected {
                issues: fields
                    .into_iter()
                    .map(|f| FieldIssue {
                        field: f.field,
                        message: f.message,
                    })
                    .collect(),
            }),
            Err(other) => Err(portal_error(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_split_on_commas_and_lines() {
        assert_eq!(
            family_list(" Infusion, ,Imaging\nMonitors "),
            vec!["Infusion", "Imaging", "Monitors"]
        );
        assert!(family_list(" , \n").is_empty());
    }
}
