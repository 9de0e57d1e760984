//! Destination secrets (encrypted at rest, bound to their row) and destination updates, on
//! SQLite and on PostgreSQL.

use std::collections::BTreeMap;

use anyhow::{Result, bail, ensure};
use diesel::prelude::*;
use herald_storage::testing::{TestDb, manufacturer};
use herald_storage::*;
#[allow(unused_imports)] // the whole crate, as a test sees it
use herald_storage::{
    accounts::*, advisories::*, audit::*, breaker::*, catalog::*, customers::*, delivery_log::*,
    destinations::*, drafts::*, entitlement::*, exposure::*, import_staging::*, installed_base::*,
    keys::*, lifecycle::*, metrics::*, outages::*, queue::*, releases::*, remediation::*,
    reminders::*, secrets::*, sessions::*, sites::*, subscriptions::*, system_mail::*,
    templates::*, throttle::*,
};

fn destination(conn: &mut DbConnection, org_id: &str, name: &str) -> Result<Destination> {
    Ok(create_destination(
        conn,
        &NewDestination {
            org_id,
            plugin_id: "webhook",
            name,
            config: serde_json::json!({ "url": "https://receiver.example/hook" }),
            grants: serde_json::json!({}),
            enabled: true,
            min_severity: None,
        },
        "test",
    )?)
}

fn set(pairs: &[(&str, Option<&str>)]) -> BTreeMap<String, Option<String>> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.map(str::to_owned)))
        .collect()
}

fn secrets_round_trip_and_stay_bound(db: &TestDb) -> Result<()> {
    let mut conn = db.conn()?;
    let conn = &mut *conn;
    let org = manufacturer(conn)?;
    let a = destination(conn, &org.id, "a")?;
    let b = destination(conn, &org.id, "b")?;
    let key = SecretKey::generate();

    put_destination_secrets(
        conn,
        &key,
        &a.id,
        &set(&[("TOKEN", Some("alpha-value")), ("SIGN", Some("whsec_x"))]),
        "user:1",
    )?;
    put_destination_secrets(
        conn,
        &key,
        &b.id,
        &set(&[("TOKEN", Some("bravo-value"))]),
        "user:1",
    )?;
    ensure!(destination_secret_names(conn, &a.id)? == ["SIGN", "TOKEN"]);
    let loaded = load_destination_secrets(conn, &key, &a.id)?;
    ensure!(loaded.get("TOKEN").map(String::as_str) == Some("alpha-value"));

    // Same value twice encrypts differently (fresh nonce per write).
    put_destination_secrets(
        conn,
        &key,
        &b.id,
        &set(&[("OTHER", Some("alpha-value"))]),
        "user:1",
    )?;
    let ca = stored_destination_secrets(conn, &a.id)?;
    let cb = stored_destination_secrets(conn, &b.id)?;
    let a_token = ca.iter().find(|r| r.name == "TOKEN");
    let b_other = cb.iter().find(|r| r.name == "OTHER");
    let (Some(a_token), Some(b_other)) = (a_token, b_other) else {
        bail!("rows missing: {ca:?} {cb:?}");
    };
    ensure!(a_token.ciphertext != b_other.ciphertext);

    // A ciphertext moved to another destination's row does not decrypt there.
    diesel::update(schema::destination_secrets::table.find((b.id.clone(), "TOKEN".to_owned())))
        .set((
            schema::destination_secrets::nonce.eq(&a_token.nonce),
            schema::destination_secrets::ciphertext.eq(&a_token.ciphertext),
        ))
        .execute(conn)?;
    match load_destination_secrets(conn, &key, &b.id) {
        Err(StorageError::Corrupt(m)) => ensure!(m.contains("TOKEN"), "{m}"),
        other => bail!("swapped row decrypted: {other:?}"),
    }

    // Removal, and refusals that change nothing.
    put_destination_secrets(conn, &key, &a.id, &set(&[("SIGN", None)]), "user:1")?;
    ensure!(destination_secret_names(conn, &a.id)? == ["TOKEN"]);
    for bad in [
        set(&[("NEW", Some("ok")), ("bad name", Some("x"))]),
        set(&[("NEW", Some("ok")), ("EMPTY", Some(""))]),
    ] {
        match put_destination_secrets(conn, &key, &a.id, &bad, "user:1") {
            Err(StorageError::Invalid(_)) => {}
            other => bail!("{bad:?}: expected Invalid, got {other:?}"),
        }
    }
    ensure!(destination_secret_names(conn, &a.id)? == ["TOKEN"]);

    // The audit names secrets, never values.
    let audit = list_audit(conn, Some(&format!("destination:{}", a.id)), 100)?;
    ensure!(audit.iter().any(|e| e.action == "destination.secrets"));
    for e in &audit {
        ensure!(!e.detail.to_string().contains("alpha-value"), "{e:?}");
    }
    Ok(())
}

fn destinations_update(db: &TestDb) -> Result<()> {
    let mut conn = db.conn()?;
    let conn = &mut *conn;
    let org = manufacturer(conn)?;
    let d = destination(conn, &org.id, "before")?;
    let updated = update_destination(
        conn,
        &d.id,
        &DestinationUpdate {
            name: Some("after"),
            min_severity: Some(Some("HIGH")),
            enabled: Some(false),
            ..Default::default()
        },
        "user:1",
    )?;
    ensure!(updated.name == "after" && !updated.enabled);
    ensure!(updated.min_severity.as_deref() == Some("high"));
    ensure!(updated.config == d.config, "untouched fields stay");
    ensure!(get_destination(conn, &d.id)? == Some(updated.clone()));
    let cleared = update_destination(
        conn,
        &d.id,
        &DestinationUpdate {
            min_severity: Some(None),
            ..Default::default()
        },
        "user:1",
    )?;
    ensure!(cleared.min_severity.is_none());
    match update_destination(
        conn,
        &d.id,
        &DestinationUpdate {
            min_severity: Some(Some("apocalyptic")),
            ..Default::default()
        },
        "user:1",
    ) {
        Err(StorageError::Invalid(m)) => ensure!(m.contains("apocalyptic"), "{m}"),
        other => bail!("expected Invalid, got {other:?}"),
    }
    match update_destination(conn, "no-such-id", &DestinationUpdate::default(), "user:1") {
        Err(StorageError::NotFound) => {}
        other => bail!("expected NotFound, got {other:?}"),
    }
    let audit = list_audit(conn, Some(&format!("destination:{}", d.id)), 100)?;
    ensure!(
        audit
            .iter()
            .filter(|e| e.action == "destination.update")
            .count()
            == 2
    );
    Ok(())
}

fn secret_key_text() -> Result<()> {
    let key = SecretKey::generate();
    ensure!(SecretKey::from_base64(&key.to_base64()).ok() == Some(key.clone()));
    ensure!(!format!("{key:?}").contains(&key.to_base64()));
    ensure!(SecretKey::from_base64("c2hvcnQ=").is_err());
    ensure!(SecretKey::from_base64("***").is_err());
    Ok(())
}

#[test]
fn secret_key_parses_and_hides() -> Result<()> {
    secret_key_text()
}

/// The provider's OpenPGP secret key is sealed at rest under the instance key, bound to its
/// fingerprint; a pre-encryption plaintext row still reads; another instance key cannot open it.
fn signing_key_sealed_at_rest(db: &TestDb) -> Result<()> {
    use herald_storage::schema::signing_keys;
    let mut conn = db.conn()?;
    let conn = &mut *conn;
    let master = SecretKey::generate();
    let secret = "-----BEGIN PGP PRIVATE KEY BLOCK-----\nsecret material\n-----END PGP PRIVATE KEY BLOCK-----\n";
    let fpr = "0123456789ABCDEF0123456789ABCDEF01234567";
    let new = NewSigningKey {
        fingerprint: fpr,
        user_id: "Larkspur PSIRT <psirt@larkspur.example>",
        public_key: "-----BEGIN PGP PUBLIC KEY BLOCK-----\npublic\n-----END PGP PUBLIC KEY BLOCK-----\n",
        secret_key: secret,
        origin: KeyOrigin::Generated,
    };
    let created = create_first_signing_key(conn, &master, &new)?;
    ensure!(created.secret_key == secret);
    let raw: String = signing_keys::table
        .filter(signing_keys::fingerprint.eq(fpr))
        .select(signing_keys::secret_key)
        .first(conn)?;
    ensure!(raw.starts_with(SEALED_PREFIX), "stored in the clear: {raw}");
    ensure!(!raw.contains("secret material") && !raw.contains("BEGIN PGP"));
    ensure!(active_signing_key(conn, &master)?.map(|k| k.secret_key) == Some(secret.to_owned()));
    ensure!(
        matches!(
            active_signing_key(conn, &SecretKey::generate()),
            Err(StorageError::Corrupt(_))
        ),
        "another instance key must not open it"
    );
    // A row written before keys were sealed (armoured plaintext) still signs.
    diesel::update(signing_keys::table.filter(signing_keys::fingerprint.eq(fpr)))
        .set(signing_keys::secret_key.eq(secret))
        .execute(conn)?;
    ensure!(active_signing_key(conn, &master)?.map(|k| k.secret_key) == Some(secret.to_owned()));
    // Re-importing seals it.
    activate_signing_key(conn, &master, &new, "test")?;
    let raw: String = signing_keys::table
        .filter(signing_keys::fingerprint.eq(fpr))
        .select(signing_keys::secret_key)
        .first(conn)?;
    ensure!(raw.starts_with(SEALED_PREFIX));
    Ok(())
}

herald_storage::both_backends!(
    secrets_round_trip_and_stay_bound,
    destinations_update,
    signing_key_sealed_at_rest
);
