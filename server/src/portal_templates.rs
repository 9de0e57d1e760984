//! The server side of the portal's templates page: what [`HeraldPortal`] answers for
//! `app::templates`, and the one place that page is authorized. Only the manufacturer's users
//! see templates (anyone else: "not allowed"); only its admins save or reset overrides. A saved
//! override passes [`check_override`], the same check as `PUT /api/v1/templates/...`.

use app::model::{PortalError, Viewer};
use app::templates::{TemplateRow, TemplatesView};
use herald_delivery::templates::{self, Part};
use herald_storage::StorageError;

use crate::error::ServiceError;
use crate::portal::{HeraldPortal, portal_error};
use crate::service::Principal;
use crate::web::templates::check_override;

fn time(us: i64) -> String {
    herald_storage::from_micros(us)
        .format("%Y-%m-%d %H:%M:%S UTC")
        .to_string()
}

/// The message a refused override shows next to its field.
fn refusal(e: ServiceError) -> Result<String, PortalError> {
    match e {
        ServiceError::InvalidFields(fields) => Ok(fields
            .into_iter()
            .map(|f| f.message)
            .collect::<Vec<_>>()
            .join("; ")),
        ServiceError::TooLarge(m) | ServiceError::BadRequest(m) => Ok(m),
        other => Err(portal_error(other)),
    }
}

impl HeraldPortal {
    async fn manufacturer_actor(
        &self,
        viewer: &Viewer,
        admin: bool,
    ) -> Result<Principal, PortalError> {
        let actor = self.principal(viewer).await?;
        if !actor.is_manufacturer() || (admin && !actor.is_admin()) {
            return Err(PortalError::Forbidden);
        }
        Ok(actor)
    }

    pub(crate) async fn templates_view(
        &self,
        viewer: &Viewer,
    ) -> Result<TemplatesView, PortalError> {
        let actor = self.manufacturer_actor(viewer, false).await?;
        let overrides = self
            .state
            .db(|conn| Ok(herald_storage::list_template_overrides(conn)?))
            .await
            .map_err(portal_error)?;
        let mut rows: Vec<TemplateRow> = templates::default_templates()
            .into_iter()
            .map(|t| TemplateRow {
                kind: t.kind,
                channel: t.channel,
                part: t.part.as_str().to_string(),
                default_body: Some(t.body),
                override_body: None,
                updated_at: None,
                updated_by: None,
            })
            .collect();
        for o in overrides {
            let slot = rows
                .iter_mut()
                .find(|r| r.kind == o.kind && r.channel == o.channel && r.part == o.part);
            let (updated_at, updated_by) = (Some(time(o.updated_at)), Some(o.updated_by));
            match slot {
                Some(row) => {
                    row.override_body = Some(o.body);
                    row.updated_at = updated_at;
                    row.updated_by = updated_by;
                }
                // An override of a slot without a default (e.g. a plugin's own channel).
                None => rows.push(TemplateRow {
                    kind: o.kind,
                    channel: o.channel,
                    part: o.part,
                    default_body: None,
                    override_body: Some(o.body),
                    updated_at,
                    updated_by,
                }),
            }
        }
        rows.sort_by(|a, b| (&a.kind, &a.channel, &a.part).cmp(&(&b.kind, &b.channel, &b.part)));
        Ok(TemplatesView {
            can_edit: actor.is_admin(),
            rows,
        })
    }

    pub(crate) async fn save_template_override(
        &self,
        viewer: &Viewer,
        kind: &str,
        channel: &str,
        part: &str,
        body: &str,
    ) -> Result<Option<String>, PortalError> {
        let actor = self.manufacturer_actor(viewer, true).await?;
        if let Err(e) = check_override(kind, channel, part, body) {
            return refusal(e).map(Some);
        }
        let (kind, channel, part, body) = (
            kind.to_owned(),
            channel.to_owned(),
            part.to_owned(),
            body.to_owned(),
        );
        let actor = actor.actor();
        self.state
            .db(move |conn| {
                match herald_storage::put_template_override(
                    conn, &kind, &channel, &part, &body, &actor,
                ) {
                    Ok(_) => Ok(None),
                    Err(StorageError::Invalid(m)) => Ok(Some(m)),
                    Err(e) => Err(e.into()),
                }
            })
            .await
            .map_err(portal_error)
    }

    pub(crate) async fn reset_template_override(
        &self,
        viewer: &Viewer,
        kind: &str,
        channel: &str,
        part: &str,
    ) -> Result<(), PortalError> {
        let actor = self.manufacturer_actor(viewer, true).await?;
        if Part::parse(part).is_none() {
            return Err(PortalError::NotFound);
        }
        let (kind, channel, part) = (kind.to_owned(), channel.to_owned(), part.to_owned());
        let actor = actor.actor();
        let removed = self
            .state
            .db(move |conn| {
                Ok(herald_storage::delete_template_override(
                    conn, &kind, &channel, &part, &actor,
                )?)
            })
            .await
            .map_err(portal_error)?;
        if removed {
            Ok(())
        } else {
            Err(PortalError::NotFound)
        }
    }
}
