//! Destination secrets (API tokens, webhook signing keys): stored encrypted at rest with
//! AES-256-GCM under the instance's [`SecretKey`], read back decrypted only for the plugin call
//! that needs them. Nothing here ever returns a secret's value except [`load_destination_secrets`].
//!
//! Each row has its own random 96-bit nonce; the additional authenticated data is
//! `destination_id NUL name`, so a ciphertext copied to another destination or name fails to
//! decrypt instead of leaking into the wrong plugin call.

use std::collections::BTreeMap;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use diesel::prelude::*;
use rand::RngCore;

use crate::schema::destination_secrets;
use crate::{DbConnection, StorageError, audit::append_audit, now, to_micros, write_transaction};

const NONCE_LEN: usize = 12;
/// Longest secret name and value accepted (a name appears in `{{secret:NAME}}` references).
const MAX_NAME_LEN: usize = 64;
const MAX_VALUE_LEN: usize = 8 * 1024;

/// The 32-byte key that encrypts destination secrets. Its `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey([u8; 32]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

impl SecretKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A fresh random key.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// Standard base64 of exactly 32 bytes (surrounding white space ignored). The error says
    /// what is wrong without echoing the input.
    pub fn from_base64(text: &str) -> Result<Self, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|e| format!("is not base64 ({e})"))?;
        let bytes: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
            format!(
                "decodes to {} bytes; it must be 32 (e.g. `openssl rand -base64 32`)",
                bytes.len()
            )
        })?;
        Ok(Self(bytes))
    }

    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }

    /// The token in a destination's one-click unsubscribe URL: HMAC-SHA256 under this key of a
    /// purpose label and the destination id, 128 bits in hex. Anyone holding the URL (every
    /// recipient of its mail) may opt the destination out of routine notices, and nobody can
    /// make one for another destination.
    pub fn unsubscribe_token(&self, destination_id: &str) -> String {
        hex::encode(&self.unsubscribe_mac(destination_id)[..16])
    }

    /// Whether `token` is [`Self::unsubscribe_token`] of `destination_id` (constant time).
    pub fn verify_unsubscribe_token(&self, destination_id: &str, token: &str) -> bool {
        let Ok(given) = hex::decode(token) else {
            return false;
        };
        use hmac::Mac;
        given.len() == 16
            && self
                .unsubscribe_hmac(destination_id)
                .verify_truncated_left(&given)
                .is_ok()
    }

    fn unsubscribe_hmac(&self, destination_id: &str) -> hmac::Hmac<sha2::Sha256> {
        use hmac::Mac;
        // A 32-byte key is always a valid HMAC key; the label keeps these MACs apart from any
        // other use of the key.
        let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(b"herald unsubscribe v1\0");
        mac.update(destination_id.as_bytes());
        mac
    }

    fn unsubscribe_mac(&self, destination_id: &str) -> Vec<u8> {
        use hmac::Mac;
        self.unsubscribe_hmac(destination_id)
            .finalize()
            .into_bytes()
            .to_vec()
    }

    /// A token binding `data` to one `purpose` (HMAC-SHA256 under this key of the purpose label
    /// and the data, 128 bits in hex): the portal's CSRF tokens are made this way, so they need
    /// no storage and nobody without the key can make one for another session.
    pub fn purpose_token(&self, purpose: &str, data: &str) -> String {
        use hmac::Mac;
        hex::encode(&self.purpose_hmac(purpose, data).finalize().into_bytes()[..16])
    }

    /// Whether `token` is [`Self::purpose_token`] of `purpose` and `data` (constant time).
    pub fn verify_purpose_token(&self, purpose: &str, data: &str, token: &str) -> bool {
        let Ok(given) = hex::decode(token) else {
            return false;
        };
        use hmac::Mac;
        given.len() == 16
            && self
                .purpose_hmac(purpose, data)
                .verify_truncated_left(&given)
                .is_ok()
    }

    fn purpose_hmac(&self, purpose: &str, data: &str) -> hmac::Hmac<sha2::Sha256> {
        use hmac::Mac;
        let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        // The label ends with a NUL no purpose contains, so purposes never collide.
        mac.update(b"herald purpose v1\0");
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(data.as_bytes());
        mac
    }

    /// Encrypts `plain` for storage in a text column: [`SEALED_PREFIX`] then base64 of a random
    /// nonce and the AES-256-GCM ciphertext, bound to `label` (additional authenticated data), so
    /// a value copied to another row fails to open.
    pub fn seal_text(&self, label: &str, plain: &str) -> Result<String, StorageError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher()
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: label.as_bytes(),
                },
            )
            .map_err(|_| StorageError::Invalid(format!("cannot encrypt {label}")))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        Ok(format!(
            "{SEALED_PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode(out)
        ))
    }

    /// Opens what [`Self::seal_text`] sealed under the same `label`.
    pub fn open_text(&self, label: &str, sealed: &str) -> Result<String, StorageError> {
        let corrupt = || {
            StorageError::Corrupt(format!(
                "{label} does not decrypt with this instance's secret key (HERALD_SECRET_KEY \
                 differs from the one that stored it, or the row was altered)"
            ))
        };
        let bytes = sealed
            .strip_prefix(SEALED_PREFIX)
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .filter(|b| b.len() > NONCE_LEN)
            .ok_or_else(corrupt)?;
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let plain = self
            .cipher()
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: label.as_bytes(),
                },
            )
            .map_err(|_| corrupt())?;
        String::from_utf8(plain).map_err(|_| corrupt())
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&self.0.into())
    }
}

/// How a value sealed by [`SecretKey::seal_text`] starts (versioned, so the scheme can change).
pub const SEALED_PREFIX: &str = "herald-sealed:v1:";

fn aad(destination_id: &str, name: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(destination_id.len() + name.len() + 1);
    aad.extend_from_slice(destination_id.as_bytes());
    aad.push(0);
    aad.extend_from_slice(name.as_bytes());
    aad
}

/// Letters, digits, `_`, `-` and `.`, 1 to 64 characters: what plugins may name in references.
pub fn valid_secret_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// One stored row exactly as the database holds it (for key rotation tooling and for tests that
/// prove the plaintext is not stored).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = destination_secrets)]
pub struct StoredSecret {
    pub destination_id: String,
    pub name: String,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Sets (`Some(value)`) or removes (`None`) secrets of one destination, and writes one audit
/// entry naming the changed secrets (never their values). All or nothing.
pub fn put_destination_secrets(
    conn: &mut DbConnection,
    key: &SecretKey,
    destination_id: &str,
    changes: &BTreeMap<String, Option<String>>,
    actor: &str,
) -> Result<(), StorageError> {
    if changes.is_empty() {
        return Ok(());
    }
    for (name, value) in changes {
        if !valid_secret_name(name) {
            return Err(StorageError::Invalid(format!(
                "secret name {name:?} must be 1-{MAX_NAME_LEN} letters, digits, '_', '-' or '.'"
            )));
        }
        if let Some(v) = value {
            if v.is_empty() {
                return Err(StorageError::Invalid(format!(
                    "secret {name:?} is empty (use null to remove a secret)"
                )));
            }
            if v.len() > MAX_VALUE_LEN {
                return Err(StorageError::Invalid(format!(
                    "secret {name:?} is longer than {MAX_VALUE_LEN} bytes"
                )));
            }
        }
    }
    let cipher = key.cipher();
    let at = to_micros(now());
    write_transaction(conn, |conn| {
        let mut set = Vec::new();
        let mut removed = Vec::new();
        for (name, value) in changes {
            let existing = destination_secrets::table
                .find((destination_id, name))
                .select(destination_secrets::created_at)
                .first::<i64>(conn)
                .optional()?;
            diesel::delete(destination_secrets::table.find((destination_id, name)))
                .execute(conn)?;
            let Some(value) = value else {
                if existing.is_some() {
                    removed.push(name.as_str());
                }
                continue;
            };
            let mut nonce = [0u8; NONCE_LEN];
            rand::rngs::OsRng.fill_bytes(&mut nonce);
            let aad = aad(destination_id, name);
            let ciphertext = cipher
                .encrypt(
                    Nonce::from_slice(&nonce),
                    Payload {
                        msg: value.as_bytes(),
                        aad: &aad,
                    },
                )
                .map_err(|_| StorageError::Invalid(format!("cannot encrypt secret {name:?}")))?;
            diesel::insert_into(destination_secrets::table)
                .values(&StoredSecret {
                    destination_id: destination_id.to_string(),
                    name: name.clone(),
                    nonce: nonce.to_vec(),
                    ciphertext,
                    created_at: existing.unwrap_or(at),
                    updated_at: at,
                })
                .execute(conn)?;
            set.push(name.as_str());
        }
        append_audit(
            conn,
            actor,
            "destination.secrets",
            &format!("destination:{destination_id}"),
            &serde_json::json!({ "set": set, "removed": removed }),
        )
    })
}

/// Names of a destination's secrets, sorted.
pub fn destination_secret_names(
    conn: &mut DbConnection,
    destination_id: &str,
) -> Result<Vec<String>, StorageError> {
    Ok(destination_secrets::table
        .filter(destination_secrets::destination_id.eq(destination_id))
        .select(destination_secrets::name)
        .order(destination_secrets::name.asc())
        .load(conn)?)
}

/// The stored rows of one destination, still encrypted.
pub fn stored_destination_secrets(
    conn: &mut DbConnection,
    destination_id: &str,
) -> Result<Vec<StoredSecret>, StorageError> {
    Ok(destination_secrets::table
        .filter(destination_secrets::destination_id.eq(destination_id))
        .select(StoredSecret::as_select())
        .order(destination_secrets::name.asc())
        .load(conn)?)
}

/// Decrypts every secret of a destination (name -> value). A row that does not decrypt under
/// `key` (another instance's key, or a tampered row) is an error naming it.
pub fn load_destination_secrets(
    conn: &mut DbConnection,
    key: &SecretKey,
    destination_id: &str,
) -> Result<BTreeMap<String, String>, StorageError> {
    let cipher = key.cipher();
    let mut out = BTreeMap::new();
    for row in stored_destination_secrets(conn, destination_id)? {
        if row.nonce.len() != NONCE_LEN {
            return Err(StorageError::Corrupt(format!(
                "destination_secrets.nonce of {} / {} has {} bytes",
                row.destination_id,
                row.name,
                row.nonce.len()
            )));
        }
        let aad = aad(&row.destination_id, &row.name);
        let plain = cipher
            .decrypt(
                Nonce::from_slice(&row.nonce),
                Payload {
                    msg: &row.ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| {
                StorageError::Corrupt(format!(
                    "secret {:?} of destination {} does not decrypt with this instance's secret key \
                     (HERALD_SECRET_KEY differs from the one that stored it, or the row was altered)",
                    row.name, row.destination_id
                ))
            })?;
        let value = String::from_utf8(plain).map_err(|_| {
            StorageError::Corrupt(format!(
                "secret {:?} of destination {} is not UTF-8",
                row.name, row.destination_id
            ))
        })?;
        out.insert(row.name, value);
    }
    Ok(out)
}
