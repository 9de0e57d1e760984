//! The host side of the `signing` capability: MACs keyed by the destination's secrets, so a
//! plugin signs (Standard Webhooks `v1` signatures) without ever holding the key.

use crate::bindings::herald::delivery::signing::SigningError;
use crate::secrets::Secrets;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// MACs one invocation may ask for, and the data size of each.
pub const MAX_SIGNATURES_PER_INVOCATION: u32 = 16;
pub const MAX_SIGNED_BYTES: usize = 4 << 20;

/// The key bytes of a secret: a Standard Webhooks `whsec_<base64>` secret is keyed by its
/// decoded bytes, any other secret by its UTF-8 bytes.
pub fn key_bytes(secret: &str) -> Result<Vec<u8>, String> {
    match secret.strip_prefix("whsec_") {
        Some(encoded) => base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|e| format!("is a whsec_ secret but not valid base64: {e}")),
        None if secret.is_empty() => Err("is empty".into()),
        None => Ok(secret.as_bytes().to_vec()),
    }
}

/// HMAC-SHA256 of `data` keyed by the secret named `secret_ref`.
pub fn hmac_sha256(
    secrets: &Secrets,
    secret_ref: &str,
    data: &[u8],
) -> Result<Vec<u8>, SigningError> {
    if data.len() > MAX_SIGNED_BYTES {
        return Err(SigningError::Denied(format!(
            "{} bytes to sign exceed {MAX_SIGNED_BYTES} bytes",
            data.len()
        )));
    }
    let secret = secrets.get(secret_ref).ok_or_else(|| {
        SigningError::Denied(format!(
            "secret {secret_ref:?} is not available to this destination"
        ))
    })?;
    let key = key_bytes(secret)
        .map_err(|e| SigningError::Denied(format!("secret {secret_ref:?} {e}")))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key)
        .map_err(|e| SigningError::Denied(format!("secret {secret_ref:?}: {e}")))?;
    mac.update(data);
    Ok(mac.finalize().into_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_webhooks_example_signature() {
        // The example of the Standard Webhooks specification (spec/standard-webhooks.md).
        let secrets = Secrets::new().with("s", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let signed = br#"msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}"#;
        let mac = hmac_sha256(&secrets, "s", signed).expect("mac");
        assert_eq!(
            base64::engine::general_purpose::STANDARD.encode(mac),
            "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert!(matches!(
            hmac_sha256(&secrets, "nope", b"x"),
            Err(SigningError::Denied(m)) if m.contains("nope")
        ));
        let bad = Secrets::new().with("b", "whsec_***");
        assert!(matches!(
            hmac_sha256(&bad, "b", b"x"),
            Err(SigningError::Denied(m)) if m.contains("base64")
        ));
    }
}
