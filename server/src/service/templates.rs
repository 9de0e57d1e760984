//! Notification templates: the compiled-in defaults (`herald_delivery::templates`) and the
//! manufacturer's overrides. Only the manufacturer's people and tokens read them (anyone else is
//! refused: templates are the manufacturer's voice, and an override may hold wording it has not
//! published yet); only its admins save or reset an override. An override is saved only after it
//! compiles in strict mode and renders against the sample notifications (restricted and
//! unrestricted), so a broken template never reaches the delivery engine. The REST resource and
//! the portal's templates page both call these functions.

use herald_delivery::templates::{self, Part};
use herald_storage::templates::TemplateOverride;

use crate::error::{FieldError, ServiceError};
use crate::service::Principal;
use crate::state::AppState;

type Result<T> = std::result::Result<T, ServiceError>;

/// Every template there is: the defaults, the stored overrides, and whether the caller may change
/// them.
pub struct Templates {
    pub defaults: Vec<templates::TemplateSource>,
    pub overrides: Vec<TemplateOverride>,
    pub can_edit: bool,
}

/// Reading templates: the manufacturer's people, and its tokens with `read` or `admin`.
fn may_read(p: &Principal) -> Result<()> {
    p.require_read()?;
    if p.is_manufacturer() {
        Ok(())
    } else {
        Err(ServiceError::Forbidden)
    }
}

/// Changing templates: the manufacturer's admins.
fn may_edit(p: &Principal) -> Result<()> {
    may_read(p)?;
    p.require_admin()
}

pub async fn list(state: &AppState, p: &Principal) -> Result<Templates> {
    may_read(p)?;
    let overrides = state
        .db(|conn| Ok(herald_storage::templates::list_template_overrides(conn)?))
        .await?;
    Ok(Templates {
        defaults: templates::default_templates(),
        overrides,
        can_edit: may_edit(p).is_ok(),
    })
}

/// Whether an override may be stored: not too long, compiles in strict mode and renders against
/// the sample notifications. A refusal names the template (`kind/channel/part`) as the field.
pub fn check_override(kind: &str, channel: &str, part: &str, body: &str) -> Result<()> {
    if body.len() > herald_storage::templates::MAX_TEMPLATE_LEN {
        return Err(ServiceError::TooLarge(format!(
            "template {kind}/{channel}/{part} is longer than {} bytes",
            herald_storage::templates::MAX_TEMPLATE_LEN
        )));
    }
    templates::validate_override(kind, channel, part, body)
        .map_err(|e| refused(&e.to_string(), kind, channel, part))
}

fn refused(message: &str, kind: &str, channel: &str, part: &str) -> ServiceError {
    ServiceError::InvalidFields(vec![FieldError {
        field: format!("{kind}/{channel}/{part}"),
        message: message.to_owned(),
    }])
}

/// Saves (or replaces) an override after [`check_override`]; audited by storage.
pub async fn save(
    state: &AppState,
    p: &Principal,
    kind: &str,
    channel: &str,
    part: &str,
    body: &str,
) -> Result<TemplateOverride> {
    may_edit(p)?;
    check_override(kind, channel, part, body)?;
    let (kind, channel, part, body) = (
        kind.to_owned(),
        channel.to_owned(),
        part.to_owned(),
        body.to_owned(),
    );
    let actor = p.actor();
    state
        .db(move |conn| {
            herald_storage::templates::put_template_override(
                conn, &kind, &channel, &part, &body, &actor,
            )
            .map_err(|e| match e {
                // A malformed kind or channel name: a field error like any other refusal.
                herald_storage::StorageError::Invalid(m) => refused(&m, &kind, &channel, &part),
                other => other.into(),
            })
        })
        .await
}

/// Removes an override, so the compiled-in default applies again; 404 when there was none (or
/// the part is not a template part).
pub async fn reset(
    state: &AppState,
    p: &Principal,
    kind: &str,
    channel: &str,
    part: &str,
) -> Result<()> {
    may_edit(p)?;
    if Part::parse(part).is_none() {
        return Err(ServiceError::NotFound);
    }
    let (kind, channel, part) = (kind.to_owned(), channel.to_owned(), part.to_owned());
    let actor = p.actor();
    let removed = state
        .db(move |conn| {
            Ok(herald_storage::templates::delete_template_override(
                conn, &kind, &channel, &part, &actor,
            )?)
        })
        .await?;
    if removed {
        Ok(())
    } else {
        Err(ServiceError::NotFound)
    }
}

/// The template context of a sample TLP:WHITE notification: what `{{...}}` can name.
pub fn sample_context() -> serde_json::Value {
    templates::context(&templates::sample_notification(
        herald_storage::advisories::EVENT_ADVISORY_PUBLISHED,
        "WHITE",
    ))
}

/// The event kinds that have templates.
pub fn kinds() -> Vec<String> {
    templates::KINDS.iter().map(|k| k.to_string()).collect()
}
