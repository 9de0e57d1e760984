//! Publishing: the one path every CSAF document takes into Herald, whether it comes from the
//! REST API, `herald import`, the portal or the demo seed. Validate, hash, then hand everything
//! to the storage layer's publish transaction (document, feed data and outbox event together).

use herald_csaf::{Finding, Rejection};
use herald_storage::{DbConnection, PublishRequest, StorageError};
use sha2::{Digest, Sha256, Sha512};

use crate::config::Config;

/// What a successful publication tells the caller.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Published {
    pub tracking_id: String,
    pub version: String,
    /// The document as distributed (CSAF trusted-provider URL).
    pub csaf_url: String,
    /// The advisory page in the portal.
    pub portal_url: String,
    /// `advisory.published` for a new tracking id, `advisory.updated` for a new revision.
    pub event: String,
    /// Optional tests that did not pass: published anyway, shown to the publisher.
    #[schema(value_type = Vec<crate::web::error::FindingBody>)]
    #[serde(serialize_with = "serialize_findings")]
    pub warnings: Vec<Finding>,
}

fn serialize_findings<S: serde::Serializer>(f: &[Finding], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(f.len()))?;
    for finding in f {
        seq.serialize_element(&crate::web::error::FindingBody::from(finding))?;
    }
    seq.end()
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Invalid(#[from] Rejection),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Storage(StorageError),
}

impl From<StorageError> for PublishError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Conflict(m) => Self::Conflict(m),
            other => Self::Storage(other),
        }
    }
}

impl From<PublishError> for crate::web::error::WebError {
    fn from(e: PublishError) -> Self {
        use crate::web::error::WebError;
        match e {
            PublishError::Invalid(r) => {
                if r.findings
                    .iter()
                    .any(|f| f.test_id == herald_csaf::SIZE_TEST_ID)
                {
                    WebError::TooLarge(r.to_string())
                } else {
                    WebError::Invalid(r.findings)
                }
            }
            PublishError::Conflict(m) => WebError::Conflict(m),
            PublishError::Storage(s) => s.into(),
        }
    }
}

/// The absolute URL of an advisory page.
pub fn portal_url(config: &Config, tracking_id: &str) -> String {
    format!(
        "{}/advisories/{}",
        config.base_url,
        url::form_urlencoded::byte_serialize(tracking_id.as_bytes()).collect::<String>()
    )
}

/// The absolute URL of a distributed CSAF document, from its path under `/.well-known/csaf/`.
pub fn csaf_url(config: &Config, path: &str) -> String {
    format!("{}/.well-known/csaf/{}", config.base_url, path)
}

/// Validates and publishes one CSAF document. Nothing is written unless everything succeeds.
pub fn publish_document(
    conn: &mut DbConnection,
    config: &Config,
    bytes: &[u8],
    publisher_org_id: &str,
    actor: &str,
) -> Result<Published, PublishError> {
    let validated = herald_csaf::validate(bytes)?;
    let summary = validated.summary;
    let path = herald_csaf::document_path(
        summary.distribution_tlp(),
        summary.year(),
        &summary.tracking_id,
    );
    let sha256 = hex::encode(Sha256::digest(bytes));
    let sha512 = hex::encode(Sha512::digest(bytes));
    let published = herald_storage::publish(
        conn,
        &PublishRequest {
            summary: &summary,
            document: bytes,
            sha256: &sha256,
            sha512: &sha512,
            signature: None,
            path: &path,
            publisher_org_id,
            actor,
        },
    )?;
    Ok(Published {
        csaf_url: csaf_url(config, &path),
        portal_url: portal_url(config, &summary.tracking_id),
        tracking_id: summary.tracking_id,
        version: summary.version,
        event: published.event_kind,
        warnings: validated.warnings,
    })
}
