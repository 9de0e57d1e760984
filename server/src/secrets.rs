//! The instance's secret key (which encrypts destination secrets at rest) and the delivery
//! engine's [`SecretSource`] that decrypts a destination's secrets for each plugin call.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use anyhow::Context;
use herald_delivery::DestinationConfig;
use herald_plugin_host::{SecretSource, Secrets};
use herald_storage::{Db, DbConnection, StorageError, secrets::SecretKey};

use crate::config::Config;

/// Where the generated key lives when `HERALD_SECRET_KEY` is not set.
pub fn key_file(config: &Config) -> PathBuf {
    config.data_dir.join("secret.key")
}

/// Keys read from (or written to) key files, by path: a process reads its key file once, not on
/// every publish, unsubscribe or destination request that needs the key.
static LOADED: OnceLock<Mutex<HashMap<PathBuf, SecretKey>>> = OnceLock::new();

/// `HERALD_SECRET_KEY` if set; otherwise the key in `<data_dir>/secret.key`, generated (mode
/// 0600) the first time. Two processes racing to create it both end up with the one that won.
pub fn secret_key(config: &Config) -> anyhow::Result<SecretKey> {
    if let Some(key) = &config.secret_key {
        return Ok(key.clone());
    }
    let path = key_file(config);
    let loaded = LOADED.get_or_init(Default::default);
    if let Some(key) = lock(loaded)?.get(&path) {
        return Ok(key.clone());
    }
    let key = load_or_create(config, &path)?;
    lock(loaded)?.insert(path, key.clone());
    Ok(key)
}

fn lock(
    loaded: &Mutex<HashMap<PathBuf, SecretKey>>,
) -> anyhow::Result<std::sync::MutexGuard<'_, HashMap<PathBuf, SecretKey>>> {
    loaded
        .lock()
        .map_err(|_| anyhow::anyhow!("the loaded secret keys are poisoned"))
}

/// Reads the key file, or creates it when there is none.
fn load_or_create(config: &Config, path: &Path) -> anyhow::Result<SecretKey> {
    let path = path.to_path_buf();
    if let Some(key) = read_key_file(&path)? {
        return Ok(key);
    }
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating {}", config.data_dir.display()))?;
    let key = SecretKey::generate();
    // Written in full to a private temporary file, then linked into place: a link either
    // appears with the whole key or fails because another process (or thread) linked first,
    // so a reader never sees a half-written or empty key file.
    let tmp = config
        .data_dir
        .join(format!(".secret.key.{}.tmp", uuid::Uuid::new_v4()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options.open(&tmp).and_then(|mut file| {
        file.write_all(format!("{}\n", key.to_base64()).as_bytes())?;
        file.sync_all()
    });
    let linked = written.and_then(|()| std::fs::hard_link(&tmp, &path));
    // The temporary name is removed whatever happened; failing to remove it loses nothing.
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            tracing::warn!(
                path = %path.display(),
                "generated the key that encrypts destination secrets; back it up with the database. \
                 Deployments with more than one Herald instance must set HERALD_SECRET_KEY to one \
                 shared key instead"
            );
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            read_key_file(&path)?.with_context(|| format!("{} exists but is empty", path.display()))
        }
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
}

fn read_key_file(path: &Path) -> anyhow::Result<Option<SecretKey>> {
    match std::fs::read_to_string(path) {
        Ok(text) if text.trim().is_empty() => Ok(None),
        Ok(text) => SecretKey::from_base64(&text)
            .map(Some)
            .map_err(|m| anyhow::anyhow!("secret key file {}: {m}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// A destination's decrypted secrets in the form the plugin host takes.
pub fn destination_secrets(
    conn: &mut DbConnection,
    key: &SecretKey,
    destination_id: &str,
) -> Result<Secrets, StorageError> {
    let mut secrets = Secrets::new();
    for (name, value) in
        herald_storage::secrets::load_destination_secrets(conn, key, destination_id)?
    {
        secrets.insert(name, value);
    }
    Ok(secrets)
}

/// Reads each destination's secrets from the database when the engine delivers to it, so a
/// secret changed through the API is used from the next delivery on.
pub struct DbSecretSource {
    db: Db,
    key: SecretKey,
}

impl DbSecretSource {
    pub fn new(db: Db, key: SecretKey) -> Self {
        Self { db, key }
    }
}

impl SecretSource for DbSecretSource {
    // The trait is synchronous: this is one indexed read on a pooled connection, short enough
    // to run on the calling task.
    fn secrets_for(&self, destination: &DestinationConfig) -> Result<Secrets, String> {
        let mut conn = self.db.get().map_err(|e| e.to_string())?;
        destination_secrets(&mut conn, &self.key, &destination.destination_id)
            .map_err(|e| e.to_string())
    }
}
