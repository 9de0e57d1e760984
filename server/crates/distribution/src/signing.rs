//! The provider's OpenPGP signing key (CSAF 7.1.19 and 7.1.20): generating one, importing an
//! existing one, exporting it, and making the ASCII-armoured detached signatures served as
//! `<document>.asc`.
//!
//! Keys are OpenPGP **v4** (RFC 4880). Generated keys are a single Ed25519 ("EdDSA legacy")
//! primary key flagged for certifying and signing, so the published fingerprint is the fingerprint
//! of the very key that signs. v6 keys (RFC 9580) are refused: gpg 2.2, which Debian 12 and many
//! hospital IT departments still run, cannot read them, and a signature nobody can verify is
//! worse than none.
//!
//! A [`SigningKey`] always holds *unlocked* secret material: an imported passphrase-protected key
//! is unlocked once on import, because the server signs unattended on every publish. Protecting
//! the exported secret at rest is the caller's job (it is a secret like any other).

use std::fmt;

use pgp::composed::{
    ArmorOptions, Deserializable, DetachedSignature, KeyType, SecretKeyParamsBuilder,
    SignedPublicKey, SignedSecretKey,
};
use pgp::crypto::hash::HashAlgorithm;
use pgp::packet::{SecretSubkey, Signature};
use pgp::types::{KeyDetails, KeyVersion, Password, SecretParams, Timestamp};

/// Hash used for every document signature: SHA-512 is what CSAF consumers expect of a
/// "secure algorithm" and what gpg 2.2 accepts for EdDSA and RSA alike.
const SIGNATURE_HASH: HashAlgorithm = HashAlgorithm::Sha512;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("OpenPGP user id must not be empty")]
    EmptyUserId,
    #[error("generating the OpenPGP key failed: {0}")]
    Generate(String),
    #[error("not an ASCII-armoured OpenPGP secret key: {0}")]
    Parse(String),
    #[error("the OpenPGP key's self-signatures do not verify: {0}")]
    Bindings(String),
    #[error(
        "OpenPGP key {fingerprint} is a version {version} key; only v4 keys are supported (gpg 2.2 cannot verify v6 signatures)"
    )]
    UnsupportedVersion {
        fingerprint: String,
        version: String,
    },
    #[error("OpenPGP key {0} is passphrase-protected: a passphrase is needed to import it")]
    PassphraseRequired(String),
    #[error("wrong passphrase for OpenPGP key {0}")]
    WrongPassphrase(String),
    #[error("OpenPGP key {0} is revoked")]
    Revoked(String),
    #[error(
        "OpenPGP key {0} has no usable signing key (no unexpired, unrevoked primary key or subkey flagged for signing with its secret part present)"
    )]
    NoSigningKey(String),
    #[error("signing failed: {0}")]
    Sign(String),
    #[error("not an ASCII-armoured OpenPGP signature: {0}")]
    ParseSignature(String),
    #[error("signature does not verify: {0}")]
    BadSignature(String),
    #[error("writing the OpenPGP armour failed: {0}")]
    Armor(String),
}

/// Which component of the key makes signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signer {
    Primary,
    Subkey(usize),
}

/// The provider's OpenPGP key with unlocked secret material.
#[derive(Clone)]
pub struct SigningKey {
    key: SignedSecretKey,
    signer: Signer,
}

impl fmt::Debug for SigningKey {
    // Never print secret material, not even in a test failure.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("fingerprint", &self.fingerprint())
            .field("signer", &self.signer)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A new v4 Ed25519 key, primary key flagged for certifying and signing, no expiry, no
    /// passphrase. `user_id` is e.g. `"Acme Medical PSIRT <psirt@acme.example>"`.
    pub fn generate(user_id: &str) -> Result<SigningKey, KeyError> {
        if user_id.trim().is_empty() {
            return Err(KeyError::EmptyUserId);
        }
        let mut params = SecretKeyParamsBuilder::default();
        params
            .version(KeyVersion::V4)
            .key_type(KeyType::Ed25519Legacy)
            .can_certify(true)
            .can_sign(true)
            .primary_user_id(user_id.to_string())
            .preferred_hash_algorithms(
                [HashAlgorithm::Sha512, HashAlgorithm::Sha256]
                    .into_iter()
                    .collect(),
            );
        let params = params
            .build()
            .map_err(|e| KeyError::Generate(e.to_string()))?;
        let key = params
            .generate(rand::thread_rng())
            .map_err(|e| KeyError::Generate(e.to_string()))?;
        Self::from_key(key)
    }

    /// A key as written by [`SigningKey::to_armored_secret`] (or any unprotected armoured v4
    /// secret key).
    pub fn from_armored_secret(armored: &str) -> Result<SigningKey, KeyError> {
        Self::import_armored_secret(armored, None)
    }

    /// Imports an existing armoured secret key (e.g. exported with
    /// `gpg --export-secret-keys --armor`), for `herald key import`. A passphrase-protected key
    /// needs `passphrase`; it is unlocked here and held unlocked from then on.
    pub fn import_armored_secret(
        armored: &str,
        passphrase: Option<&str>,
    ) -> Result<SigningKey, KeyError> {
        let (mut key, _headers) =
            SignedSecretKey::from_string(armored).map_err(|e| KeyError::Parse(e.to_string()))?;
        let fingerprint = upper_hex(&key.fingerprint());
        if key.version() != KeyVersion::V4 {
            return Err(KeyError::UnsupportedVersion {
                fingerprint,
                version: format!("{:?}", key.version()),
            });
        }
        key.verify_bindings()
            .map_err(|e| KeyError::Bindings(e.to_string()))?;
        if let Some(pass) = passphrase {
            let password = Password::from(pass);
            key.primary_key
                .remove_password(&password)
                .map_err(|_| KeyError::WrongPassphrase(fingerprint.clone()))?;
            for sub in &mut key.secret_subkeys {
                // A protected subkey that this passphrase does not open stays locked and is
                // skipped when choosing the signer below.
                let _ = sub.key.remove_password(&password);
            }
        }
        Self::from_key(key)
    }

    fn from_key(key: SignedSecretKey) -> Result<SigningKey, KeyError> {
        let fingerprint = upper_hex(&key.fingerprint());
        if !key.details.revocation_signatures.is_empty() {
            return Err(KeyError::Revoked(fingerprint));
        }
        let now = Timestamp::now();
        let primary_sig = newest(
            key.details
                .direct_signatures
                .iter()
                .chain(key.details.users.iter().flat_map(|u| u.signatures.iter())),
        );
        // The primary key's expiry binds its subkeys too.
        if primary_sig.is_some_and(|sig| expired(sig, key.created_at(), now)) {
            return Err(KeyError::NoSigningKey(fingerprint));
        }
        let primary_locked = is_locked(key.primary_key.secret_params());
        if primary_sig.is_some_and(|sig| sig.key_flags().sign()) {
            if primary_locked {
                return Err(KeyError::PassphraseRequired(fingerprint));
            }
            return Ok(SigningKey {
                key,
                signer: Signer::Primary,
            });
        }
        let mut locked_candidate = false;
        let mut chosen = None;
        for (i, sub) in key.secret_subkeys.iter().enumerate() {
            let Some(binding) = newest(sub.signatures.iter()) else {
                continue;
            };
            if binding.typ() == Some(pgp::packet::SignatureType::SubkeyRevocation)
                || !binding.key_flags().sign()
                || expired(binding, sub.key.created_at(), now)
            {
                continue;
            }
            if is_locked(sub.key.secret_params()) {
                locked_candidate = true;
                continue;
            }
            // Prefer the newest usable signing subkey, as gpg does.
            let newer = chosen.is_none_or(|(_, created): (usize, Timestamp)| {
                sub.key.created_at().as_secs() >= created.as_secs()
            });
            if newer {
                chosen = Some((i, sub.key.created_at()));
            }
        }
        match chosen {
            Some((i, _)) => Ok(SigningKey {
                key,
                signer: Signer::Subkey(i),
            }),
            None if locked_candidate || primary_locked => {
                Err(KeyError::PassphraseRequired(fingerprint))
            }
            None => Err(KeyError::NoSigningKey(fingerprint)),
        }
    }

    /// The whole key, secret parts included and unprotected, ASCII-armoured.
    pub fn to_armored_secret(&self) -> Result<String, KeyError> {
        self.key
            .to_armored_string(ArmorOptions::default())
            .map_err(|e| KeyError::Armor(e.to_string()))
    }

    /// The public key (certificate) served at `/.well-known/csaf/openpgp/<FPR>.asc`.
    pub fn public_key_armored(&self) -> Result<String, KeyError> {
        self.public_key()
            .to_armored_string(ArmorOptions::default())
            .map_err(|e| KeyError::Armor(e.to_string()))
    }

    fn public_key(&self) -> SignedPublicKey {
        self.key.to_public_key()
    }

    /// Fingerprint of the primary key, upper-case hex (40 characters for a v4 key): what
    /// provider-metadata.json lists and what `gpg --list-keys` shows.
    pub fn fingerprint(&self) -> String {
        upper_hex(&self.key.fingerprint())
    }

    /// The key's user ids (those that are valid UTF-8).
    pub fn user_ids(&self) -> Vec<String> {
        self.key
            .details
            .users
            .iter()
            .filter_map(|u| u.id.as_str().map(str::to_string))
            .collect()
    }

    /// An ASCII-armoured detached binary signature over exactly `data` (the `.asc` file).
    pub fn sign_detached(&self, data: &[u8]) -> Result<String, KeyError> {
        let none = Password::empty();
        let rng = rand::thread_rng();
        let sig = match self.signer {
            Signer::Primary => DetachedSignature::sign_binary_data(
                rng,
                &self.key.primary_key,
                &none,
                SIGNATURE_HASH,
                data,
            ),
            Signer::Subkey(i) => {
                let sub = self.subkey(i)?;
                DetachedSignature::sign_binary_data(rng, sub, &none, SIGNATURE_HASH, data)
            }
        }
        .map_err(|e| KeyError::Sign(e.to_string()))?;
        sig.to_armored_string(ArmorOptions::default())
            .map_err(|e| KeyError::Armor(e.to_string()))
    }

    /// Checks an armoured detached signature over `data` against this key. The server uses it
    /// to refuse storing a signature that consumers would reject.
    pub fn verify_detached(&self, data: &[u8], armored_signature: &str) -> Result<(), KeyError> {
        let (sig, _headers) = DetachedSignature::from_string(armored_signature)
            .map_err(|e| KeyError::ParseSignature(e.to_string()))?;
        let result = match self.signer {
            Signer::Primary => sig.verify(self.key.primary_key.public_key(), data),
            Signer::Subkey(i) => sig.verify(self.subkey(i)?.public_key(), data),
        };
        result.map_err(|e| KeyError::BadSignature(e.to_string()))
    }

    fn subkey(&self, i: usize) -> Result<&SecretSubkey, KeyError> {
        self.key
            .secret_subkeys
            .get(i)
            .map(|s| &s.key)
            .ok_or_else(|| KeyError::NoSigningKey(self.fingerprint()))
    }

    /// The primary secret key packet; only for tests that need to inspect it.
    #[cfg(test)]
    fn primary(&self) -> &pgp::packet::SecretKey {
        &self.key.primary_key
    }
}

fn upper_hex(fingerprint: &pgp::types::Fingerprint) -> String {
    format!("{fingerprint:X}")
}

fn is_locked(params: &SecretParams) -> bool {
    matches!(params, SecretParams::Encrypted(_))
}

/// The most recent of some self-signatures (later ones supersede earlier ones).
fn newest<'a>(sigs: impl Iterator<Item = &'a Signature>) -> Option<&'a Signature> {
    sigs.max_by_key(|s| s.created().map(Timestamp::as_secs).unwrap_or(0))
}

fn expired(sig: &Signature, created: Timestamp, now: Timestamp) -> bool {
    match sig.key_expiration_time().map(|d| d.as_secs()) {
        None | Some(0) => false,
        Some(secs) => u64::from(created.as_secs()) + u64::from(secs) <= u64::from(now.as_secs()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn generated_key_is_v4_ed25519_and_round_trips() {
        let key = SigningKey::generate("Acme Medical PSIRT <psirt@acme.example>").unwrap();
        let fpr = key.fingerprint();
        assert_eq!(fpr.len(), 40, "{fpr}");
        assert!(
            fpr.chars()
                .all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c))
        );
        assert_eq!(key.primary().version(), KeyVersion::V4);
        assert_eq!(
            key.user_ids(),
            vec!["Acme Medical PSIRT <psirt@acme.example>".to_string()]
        );

        let secret = key.to_armored_secret().unwrap();
        assert!(secret.starts_with("-----BEGIN PGP PRIVATE KEY BLOCK-----"));
        let back = SigningKey::from_armored_secret(&secret).unwrap();
        assert_eq!(back.fingerprint(), fpr);

        let public = key.public_key_armored().unwrap();
        assert!(public.starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----"));
        assert!(!public.contains("PRIVATE"));

        // A signature made by the re-imported key verifies with the original.
        let sig = back.sign_detached(b"hello").unwrap();
        assert!(sig.starts_with("-----BEGIN PGP SIGNATURE-----"));
        key.verify_detached(b"hello", &sig).unwrap();
        assert!(matches!(
            key.verify_detached(b"hellO", &sig),
            Err(KeyError::BadSignature(_))
        ));
    }

    #[test]
    fn bad_inputs_are_named() {
        assert!(matches!(
            SigningKey::generate("  "),
            Err(KeyError::EmptyUserId)
        ));
        assert!(matches!(
            SigningKey::from_armored_secret("not a key"),
            Err(KeyError::Parse(_))
        ));
        let key = SigningKey::generate("x <x@acme.example>").unwrap();
        // A public key is not a secret key.
        assert!(matches!(
            SigningKey::from_armored_secret(&key.public_key_armored().unwrap()),
            Err(KeyError::Parse(_))
        ));
        assert!(matches!(
            key.verify_detached(b"x", "garbage"),
            Err(KeyError::ParseSignature(_))
        ));
    }

    #[test]
    fn v6_keys_are_refused() {
        let mut params = SecretKeyParamsBuilder::default();
        params
            .version(KeyVersion::V6)
            .key_type(KeyType::Ed25519)
            .can_certify(true)
            .can_sign(true)
            .primary_user_id("v6 <v6@acme.example>".into());
        let v6 = params
            .build()
            .unwrap()
            .generate(rand::thread_rng())
            .unwrap();
        let armored = v6.to_armored_string(ArmorOptions::default()).unwrap();
        let err = SigningKey::from_armored_secret(&armored).unwrap_err();
        assert!(matches!(err, KeyError::UnsupportedVersion { .. }), "{err}");
        assert!(err.to_string().contains("only v4"), "{err}");
    }

    #[test]
    fn debug_does_not_print_secret_material() {
        let key = SigningKey::generate("x <x@acme.example>").unwrap();
        let debug = format!("{key:?}");
        assert!(debug.contains(&key.fingerprint()));
        assert!(!debug.contains("secret_params"), "{debug}");
    }
}
