//! Signatures made by [`SigningKey`] checked by the real GnuPG (`/usr/bin/gpg`), the tool CSAF
//! consumers and `csaf-tool check-provider` verify with, in a throw-away GNUPGHOME.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use anyhow::{Context, Result, bail};
use herald_distribution::SigningKey;

const GPG: &str = "/usr/bin/gpg";

fn gpg(home: &Path, args: &[&str]) -> Result<Output> {
    Command::new(GPG)
        .arg("--batch")
        .arg("--homedir")
        .arg(home)
        .args(args)
        .output()
        .with_context(|| format!("running {GPG} {args:?}"))
}

/// A temporary GNUPGHOME that stops the gpg-agent gpg may have started in it before the
/// directory goes away, so no test leaves a daemon behind.
struct Home(tempfile::TempDir);

impl Home {
    fn new() -> Result<Home> {
        Ok(Home(tempfile::tempdir()?))
    }

    fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = Command::new("/usr/bin/gpgconf")
            .arg("--homedir")
            .arg(self.0.path())
            .args(["--kill", "all"])
            .output();
    }
}

/// A fresh GNUPGHOME with `key`'s public key imported.
fn keyring(key: &SigningKey) -> Result<Home> {
    let home = Home::new()?;
    let pubfile = home.path().join("key.asc");
    std::fs::write(&pubfile, key.public_key_armored()?)?;
    let out = gpg(
        home.path(),
        &["--import", pubfile.to_str().context("path")?],
    )?;
    if !out.status.success() {
        bail!(
            "gpg --import failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(home)
}

fn verify(home: &Path, data: &[u8], signature: &str) -> Result<Output> {
    let df = home.join("doc.json");
    let sf = home.join("doc.json.asc");
    std::fs::write(&df, data)?;
    std::fs::write(&sf, signature)?;
    gpg(
        home,
        &[
            "--status-fd",
            "1",
            "--verify",
            sf.to_str().context("path")?,
            df.to_str().context("path")?,
        ],
    )
}

fn gpg_available() -> bool {
    if Path::new(GPG).exists() {
        true
    } else {
        println!("SKIPPED: {GPG} not installed");
        false
    }
}

#[test]
fn gpg_verifies_our_signature_and_rejects_a_changed_byte() -> Result<()> {
    if !gpg_available() {
        return Ok(());
    }
    let key = SigningKey::generate("Acme Medical PSIRT <psirt@acme.example>")?;
    let home = keyring(&key)?;

    // gpg knows the key under the fingerprint we publish.
    let listing = gpg(home.path(), &["--with-colons", "--list-keys"])?;
    let listing = String::from_utf8(listing.stdout)?;
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with("fpr:") && l.contains(&key.fingerprint())),
        "{listing}"
    );

    let data = br#"{"document":{"category":"csaf_security_advisory","title":"FlowMax 3"}}"#;
    let sig = key.sign_detached(data)?;
    let out = verify(home.path(), data, &sig)?;
    let status = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "gpg --verify failed: {status}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        status.contains(&format!("[GNUPG:] VALIDSIG {}", key.fingerprint())),
        "{status}"
    );

    let mut changed = data.to_vec();
    changed[20] ^= 0x01;
    let out = verify(home.path(), &changed, &sig)?;
    let status = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "changed data verified: {status}");
    assert!(status.contains("[GNUPG:] BADSIG"), "{status}");
    Ok(())
}

#[test]
fn reimported_key_signs_for_the_same_public_key() -> Result<()> {
    if !gpg_available() {
        return Ok(());
    }
    let key = SigningKey::generate("Acme Medical PSIRT <psirt@acme.example>")?;
    let home = keyring(&key)?;
    let again = SigningKey::from_armored_secret(&key.to_armored_secret()?)?;
    let sig = again.sign_detached(b"bytes as served\n")?;
    let out = verify(home.path(), b"bytes as served\n", &sig)?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// `herald key import`: a key made by gpg itself (RSA-3072 primary that only certifies, a signing
/// subkey, passphrase-protected) is imported with its passphrase, and gpg verifies what it signs.
#[test]
fn imports_a_passphrase_protected_gpg_key_with_signing_subkey() -> Result<()> {
    if !gpg_available() {
        return Ok(());
    }
    let maker = Home::new()?;
    let pass = "correct horse battery staple";
    let out = gpg(
        maker.path(),
        &[
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            pass,
            "--quick-generate-key",
            "Acme Imported <imported@acme.example>",
            "ed25519",
            "cert",
            "never",
        ],
    )?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing = String::from_utf8(gpg(maker.path(), &["--with-colons", "--list-keys"])?.stdout)?;
    let primary_fpr = listing
        .lines()
        .find(|l| l.starts_with("fpr:"))
        .and_then(|l| l.split(':').nth(9))
        .context("no fingerprint")?
        .to_string();
    let out = gpg(
        maker.path(),
        &[
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            pass,
            "--quick-add-key",
            &primary_fpr,
            "rsa3072",
            "sign",
            "never",
        ],
    )?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exported = gpg(
        maker.path(),
        &[
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            pass,
            "--armor",
            "--export-secret-keys",
            &primary_fpr,
        ],
    )?;
    assert!(exported.status.success());
    let armored = String::from_utf8(exported.stdout)?;

    // Without or with the wrong passphrase: a clear refusal.
    let err = SigningKey::import_armored_secret(&armored, None).unwrap_err();
    assert!(err.to_string().contains("passphrase"), "{err}");
    assert!(err.to_string().contains(&primary_fpr), "{err}");
    let err = SigningKey::import_armored_secret(&armored, Some("wrong")).unwrap_err();
    assert!(err.to_string().contains("passphrase"), "{err}");

    let key = SigningKey::import_armored_secret(&armored, Some(pass))?;
    assert_eq!(key.fingerprint(), primary_fpr);
    assert_eq!(
        key.user_ids(),
        vec!["Acme Imported <imported@acme.example>"]
    );

    // Verified with gpg's own copy of the public key (in the maker's keyring) ...
    let data = b"{\"document\":{}}";
    let sig = key.sign_detached(data)?;
    let out = verify(maker.path(), data, &sig)?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // ... and with the public key we would publish, in a fresh keyring.
    let home = keyring(&key)?;
    let out = verify(home.path(), data, &sig)?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The stored form survives a round trip without the passphrase.
    let back = SigningKey::from_armored_secret(&key.to_armored_secret()?)?;
    assert_eq!(back.fingerprint(), primary_fpr);
    Ok(())
}
