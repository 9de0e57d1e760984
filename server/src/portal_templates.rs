//! The server side of the portal's templates page: what [`HeraldPortal`] answers for
//! `app::templates`, an adapter over [`crate::service::templates`] (the same rules and checks as
//! `PUT /api/v1/templates/...`).

use crate::error::ServiceError;
use crate::portal::{HeraldPortal, portal_error};
use crate::service;
use app::model::{PortalError, Viewer};
use app::templates::{TemplateRow, TemplatesView};

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
    pub(crate) async fn templates_view(
        &self,
        viewer: &Viewer,
    ) -> Result<TemplatesView, PortalError> {
        let actor = self.principal(viewer).await?;
        let set = service::templates::list(&self.state, &actor)
            .await
            .map_err(portal_error)?;
        let mut rows: Vec<TemplateRow> = set
            .defaults
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
        for o in set.overrides {
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
            can_edit: set.can_edit,
            rows,
        })
    }

    /// `Ok(Some(message))`: the override was refused, and why (shown next to it).
    pub(crate) async fn save_template_override(
        &self,
        viewer: &Viewer,
        kind: &str,
        channel: &str,
        part: &str,
        body: &str,
    ) -> Result<Option<String>, PortalError> {
        let actor = self.principal(viewer).await?;
        match service::templates::save(&self.state, &actor, kind, channel, part, body).await {
            Ok(_) => Ok(None),
            Err(e) => refusal(e).map(Some),
        }
    }

    pub(crate) async fn reset_template_override(
        &self,
        viewer: &Viewer,
        kind: &str,
        channel: &str,
        part: &str,
    ) -> Result<(), PortalError> {
        let actor = self.principal(viewer).await?;
        service::templates::reset(&self.state, &actor, kind, channel, part)
            .await
            .map_err(portal_error)
    }
}
