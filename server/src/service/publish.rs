//! Publishing an uploaded CSAF document as a use case: the portal's `/upload` and `POST
//! /api/v1/advisories` both call [`submit_document`], so the four-eyes rule holds on every path.
//!
//! Rules:
//! * publishing needs a manufacturer's publisher or admin (or a `publish` token);
//! * with the organization's four-eyes setting off, or for an approver (approver or admin), the
//!   document is published at once through the one publish path
//!   ([`crate::publish::publish_document`]);
//! * with it on, anyone else's document is validated (an invalid one is refused with every
//!   failed test, nothing held) and held as a pending publication: a submitted draft carrying the
//!   document as uploaded ([`crate::authoring::hold_upload`]). An approver who is not its
//!   submitter publishes it through the authoring flow (`/authoring/{id}` in the portal,
//!   `POST /api/v1/drafts/{id}/publish`), exactly once; nothing else publishes it.

use herald_storage::DbConnection;

use crate::authoring::DraftView;
use crate::config::Config;
use crate::error::ServiceError;
use crate::publish::{Published, publish_document};
use crate::service::Principal;

/// What became of an uploaded document.
#[derive(Debug)]
pub enum Submitted {
    Published(Published),
    /// Held for approval under the four-eyes rule: the pending publication.
    Held(Box<DraftView>),
}

/// Publishes `document` for the caller's organization, or holds it for approval (see the module
/// docs). Nothing is written when the document is invalid.
pub fn submit_document(
    conn: &mut DbConnection,
    config: &Config,
    p: &Principal,
    document: &[u8],
) -> Result<Submitted, ServiceError> {
    if !p.is_publisher() {
        return Err(ServiceError::Refused(
            "publishing needs the publisher or admin role of the manufacturer".into(),
        ));
    }
    let four_eyes = herald_storage::drafts::four_eyes(conn, &p.org_id)?;
    if !four_eyes || p.is_approver() {
        let published = publish_document(conn, config, document, &p.org_id, &p.actor())?;
        return Ok(Submitted::Published(published));
    }
    let validated = herald_csaf::validate(document).map_err(crate::publish::PublishError::from)?;
    let text = std::str::from_utf8(document)
        .map_err(|e| ServiceError::BadRequest(format!("the document is not UTF-8: {e}")))?;
    let held = crate::authoring::hold_upload(conn, p, text, &validated.summary.tracking_id)?;
    Ok(Submitted::Held(Box::new(held)))
}
