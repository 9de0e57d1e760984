//! The server side of the subscription section of a destination's portal page: what it shows
//! and the one place its form is authorized. Anyone who may see the destination sees its
//! subscription; only an admin of the destination's own organization changes it (a hospital
//! never reaches another organization's destination at all: "not found"). Saving goes through
//! [`store_subscription`], the same checks and storage call as `PUT /api/v1/subscriptions/{id}`.

use app::destinations::{FieldIssue, SaveResult, SubscriptionForm, SubscriptionView};
use app::model::{PortalError, ProductOption, Viewer};
use herald_storage::{AdvisoryFilter, Destination, Subscription};

use crate::portal::{HeraldPortal, portal_error};
use crate::portal_destinations::Actor;
use crate::web::customers::store_subscription;
use crate::web::error::WebError;

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
        actor: &Actor,
        d: &Destination,
    ) -> Result<SubscriptionView, PortalError> {
        let filter = AdvisoryFilter {
            reader: crate::web::auth::reader_for_org(&self.state, Some(d.org_id.clone()))
                .await
                .map_err(portal_error)?,
            ..AdvisoryFilter::default()
        };
        let dest_id = d.id.clone();
        let (s, listed) = self
            .state
            .db(move |conn| {
                Ok((
                    herald_storage::get_subscription(conn, &dest_id)?,
                    herald_storage::list_listed_products(conn, &filter)?,
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
            can_edit: actor.admin && actor.org_id == d.org_id,
        })
    }

    pub(crate) async fn save_subscription_form(
        &self,
        viewer: &Viewer,
        form: SubscriptionForm,
    ) -> Result<SaveResult, PortalError> {
        let actor = self.actor(viewer).await?;
        let d = self
            .visible_destination(&actor, &form.destination_id)
            .await?;
        // Seeing another organization's destination (the manufacturer) is not owning it.
        if !actor.admin || actor.org_id != d.org_id {
            return Err(PortalError::Forbidden);
        }
        let subscription = Subscription {
            product_ids: form.product_ids,
            families: family_list(&form.families),
            event_kinds: form.event_kinds,
            security_contact: form.security_contact,
            routine_opt_out: form.routine_opt_out,
        };
        let (dest_id, actor_name) = (d.id.clone(), actor.audit_name());
        let stored = self
            .state
            .db(move |conn| {
                Ok(store_subscription(
                    conn,
                    &dest_id,
                    &subscription,
                    &actor_name,
                ))
            })
            .await
            .map_err(portal_error)?;
        match stored {
            Ok(_) => Ok(SaveResult::Saved { id: d.id }),
            Err(WebError::InvalidFields(fields)) => Ok(SaveResult::Rejected {
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
