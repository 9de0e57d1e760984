//! Publishing: the one path every CSAF document takes into Herald, whether it comes from the
//! REST API, `herald import`, the portal or the demo seed. Validate, hash, sign the exact bytes
//! with the provider's OpenPGP key, then hand everything to the storage layer's publish
//! transaction (document, hashes, signature, feed data and outbox event together), so a reader
//! never sees a document with another revision's signature.
//!
//! Also owns the provider's signing key as the server uses it ([`signing_key`]): read from the
//! database, generated there on first use.

use herald_csaf::{Finding, Rejection};
use herald_distribution::{KeyError, SigningKey};
use herald_storage::{
    DbConnection, StorageError, advisories::PublishRequest, keys::KeyOrigin, keys::NewSigningKey,
};
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
    /// `advisory.published` for a new tracking id, `advisory.updated` for a new revision,
    /// `patch.available` for a revision that carries a release's fix.
    pub event: String,
    /// Optional tests that did not pass: published anyway, shown to the publisher.
    #[schema(value_type = Vec<crate::error::FindingBody>)]
    #[serde(serialize_with = "serialize_findings")]
    pub warnings: Vec<Finding>,
}

fn serialize_findings<S: serde::Serializer>(f: &[Finding], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(f.len()))?;
    for finding in f {
        seq.serialize_element(&crate::error::FindingBody::from(finding))?;
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
    /// The stored signing key is unusable or signing failed.
    #[error(transparent)]
    Signing(#[from] KeyError),
    /// The instance secret key, which seals the signing key at rest, cannot be loaded.
    #[error("the instance secret key: {0}")]
    MasterKey(String),
}

impl From<StorageError> for PublishError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Conflict(m) => Self::Conflict(m),
            other => Self::Storage(other),
        }
    }
}

impl From<PublishError> for crate::error::ServiceError {
    fn from(e: PublishError) -> Self {
        use crate::error::ServiceError;
        match e {
            PublishError::Invalid(r) => {
                if r.findings
                    .iter()
                    .any(|f| f.test_id == herald_csaf::SIZE_TEST_ID)
                {
                    ServiceError::TooLarge(r.to_string())
                } else {
                    ServiceError::Invalid(r.findings)
                }
            }
            PublishError::Conflict(m) => ServiceError::Conflict(m),
            PublishError::Storage(s) => s.into(),
            PublishError::Signing(k) => ServiceError::internal(k),
            PublishError::MasterKey(m) => ServiceError::internal(anyhow::anyhow!(m)),
        }
    }
}

/// The absolute URL of an advisory page.
pub fn portal_url(config: &Config, tracking_id: &str) -> String {
    herald_csaf::urls::advisory_page_url(&config.base_url, tracking_id)
}

/// The absolute URL of a distributed CSAF document, from its path under `/.well-known/csaf/`.
pub fn csaf_url(config: &Config, path: &str) -> String {
    herald_csaf::urls::csaf_document_url(&config.base_url, path)
}

/// Validates and publishes one CSAF document. Nothing is written unless everything succeeds.
pub fn publish_document(
    conn: &mut DbConnection,
    config: &Config,
    bytes: &[u8],
    publisher_org_id: &str,
    actor: &str,
) -> Result<Published, PublishError> {
    publish_document_with(conn, config, bytes, publisher_org_id, actor, None)
}

/// [`publish_document`], announcing the revision with `notice` instead of `advisory.updated`
/// (a release's fix is announced as `patch.available`, once).
pub fn publish_document_with(
    conn: &mut DbConnection,
    config: &Config,
    bytes: &[u8],
    publisher_org_id: &str,
    actor: &str,
    notice: Option<&herald_storage::advisories::Notice<'_>>,
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
    // Sign exactly the bytes that are stored and served; check the signature before storing it,
    // since consumers reject a provider whose `.asc` does not verify.
    let key = signing_key(conn, config)?;
    let signature = key.sign_detached(bytes)?;
    key.verify_detached(bytes, &signature)?;
    let published = herald_storage::advisories::publish_with_notice(
        conn,
        &PublishRequest {
            summary: &summary,
            document: bytes,
            sha256: &sha256,
            sha512: &sha512,
            signature: Some(signature),
            path: &path,
            publisher_org_id,
            actor,
        },
        notice,
    )?;
    // Committed: serving caches of this process drop what they hold now (other processes'
    // caches notice within their poll interval).
    crate::published::note_local_change();
    Ok(Published {
        csaf_url: csaf_url(config, &path),
        portal_url: portal_url(config, &summary.tracking_id),
        tracking_id: summary.tracking_id,
        version: summary.version,
        event: published.event_kind,
        warnings: validated.warnings,
    })
}

/// The user id of a key Herald generates: `<publisher> PSIRT <e-mail>` when the security contact
/// is a `mailto:` address, else `<publisher> PSIRT`.
pub fn generated_key_user_id(config: &Config) -> String {
    let name = format!("{} PSIRT", config.publisher_name.trim());
    match config
        .security_contact
        .strip_prefix("mailto:")
        .map(|m| m.split('?').next().unwrap_or(m).trim())
        .filter(|m| m.contains('@') && !m.contains(['<', '>']))
    {
        Some(mail) => format!("{name} <{mail}>"),
        None => name,
    }
}

/// The active signing key from the database; on first use a new v4 Ed25519 key is generated and
/// stored (when several Herald processes race, all of them end up with the one that was stored
/// first). The secret key is stored unencrypted for now (see `herald_storage::keys`).
/// The key that seals the signing key at rest (the instance secret key).
fn master_key(config: &Config) -> Result<herald_storage::secrets::SecretKey, PublishError> {
    crate::secrets::secret_key(config).map_err(|e| PublishError::MasterKey(format!("{e:#}")))
}

pub fn signing_key(conn: &mut DbConnection, config: &Config) -> Result<SigningKey, PublishError> {
    let master = master_key(config)?;
    if let Some(stored) = herald_storage::keys::active_signing_key(conn, &master)? {
        return Ok(SigningKey::from_armored_secret(&stored.secret_key)?);
    }
    let generated = SigningKey::generate(&generated_key_user_id(config))?;
    let secret = generated.to_armored_secret()?;
    let public = generated.public_key_armored()?;
    let fingerprint = generated.fingerprint();
    let user_id = generated.user_ids().into_iter().next().unwrap_or_default();
    let stored = herald_storage::keys::create_first_signing_key(
        conn,
        &master,
        &NewSigningKey {
            fingerprint: &fingerprint,
            user_id: &user_id,
            public_key: &public,
            secret_key: &secret,
            origin: KeyOrigin::Generated,
        },
    )?;
    if stored.info.fingerprint == fingerprint {
        tracing::info!(%fingerprint, "generated the provider's OpenPGP signing key");
        Ok(generated)
    } else {
        Ok(SigningKey::from_armored_secret(&stored.secret_key)?)
    }
}

/// Signs every stored revision that has no signature yet (documents published before Herald
/// signed): a trusted provider must serve an `.asc` for each document. Returns how many were
/// signed. Run at start; safe to run in several processes at once.
pub fn sign_unsigned_revisions(
    conn: &mut DbConnection,
    config: &Config,
) -> Result<usize, PublishError> {
    let mut signed = 0;
    let mut key = None;
    loop {
        let batch = herald_storage::keys::unsigned_revisions(conn, 100)?;
        if batch.is_empty() {
            return Ok(signed);
        }
        let key = match &mut key {
            Some(k) => k,
            None => key.insert(signing_key(conn, config)?),
        };
        // Each row leaves the unsigned set whether this process or a concurrent one signs it.
        for (revision_id, bytes) in batch {
            let signature = key.sign_detached(&bytes)?;
            key.verify_detached(&bytes, &signature)?;
            if herald_storage::keys::add_revision_signature(conn, &revision_id, &signature)? {
                signed += 1;
                crate::published::note_local_change();
            }
        }
    }
}

/// Stores an armoured secret key (`herald key import`) as the active signing key; the previous
/// key is retired but stays published so older signatures keep verifying.
pub fn import_signing_key(
    conn: &mut DbConnection,
    config: &Config,
    armored: &str,
    passphrase: Option<&str>,
    actor: &str,
) -> Result<SigningKey, PublishError> {
    let key = SigningKey::import_armored_secret(armored, passphrase)?;
    let secret = key.to_armored_secret()?;
    let public = key.public_key_armored()?;
    let fingerprint = key.fingerprint();
    let user_id = key.user_ids().into_iter().next().unwrap_or_default();
    herald_storage::keys::activate_signing_key(
        conn,
        &master_key(config)?,
        &NewSigningKey {
            fingerprint: &fingerprint,
            user_id: &user_id,
            public_key: &public,
            secret_key: &secret,
            origin: KeyOrigin::Imported,
        },
        actor,
    )?;
    crate::published::note_local_change();
    Ok(key)
}
