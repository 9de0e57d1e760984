//! `herald serve`: opens the database, loads the plugins, starts the delivery engine, the plugin
//! folder watcher (hot swap) and the web server, and shuts them down cleanly on Ctrl-C or
//! SIGTERM.

use std::sync::Arc;

use actix_web::middleware::{Compress, from_fn};
use actix_web::{App, HttpServer};
use anyhow::Context;

use crate::config::Config;
use crate::state::AppState;

/// Loads every plugin component from the configured folder. Components that fail their checks
/// are left out; the others load.
pub fn load_plugins(config: &Config) -> anyhow::Result<herald_plugin_host::PluginHost> {
    let mut host_config = herald_plugin_host::HostConfig {
        // Every delivery the engine may have in flight gets a plugin instance (send-tests have
        // their own share, `test_instances`).
        max_instances: u32::try_from(config.delivery_concurrency).unwrap_or(u32::MAX),
        // Reach and trust are the operator's: the destinations' grants only narrow them.
        outbound: config.outbound.clone(),
        system_roots: config.system_roots.clone(),
        extra_root_certificates: config.tls_extra_roots.clone(),
        test_instances: config.plugin_test_instances,
        module_cache: config.plugin_cache_dir.clone(),
        ..herald_plugin_host::HostConfig::default()
    };
    for (id, extra) in &config.plugin_grants {
        let mut granted = host_config.default_capabilities.clone();
        granted.extend(extra.iter().copied());
        host_config.capability_grants.insert(id.clone(), granted);
    }
    let host =
        herald_plugin_host::PluginHost::new(host_config).context("starting the plugin host")?;
    // The host logs each refused component with its reason; the others load.
    host.load_dir(&config.plugin_dir)
        .with_context(|| format!("loading plugins from {}", config.plugin_dir.display()))?;
    Ok(host)
}

/// How often the plugin folder is looked at for new or changed components.
pub const PLUGIN_POLL: std::time::Duration = std::time::Duration::from_secs(3);

/// Hot swap: polls the plugin folder and installs each new or changed component (with its
/// manifest and matching pin) through [`herald_plugin_host::PluginHost::install`], which
/// self-tests it against the configurations of the plugin's destinations before swapping it
/// in. A refused version is logged and the running one stays; deliveries in flight finish on
/// the version they started with. Runs until `stop` turns true.
pub async fn watch_plugins(
    host: Arc<herald_plugin_host::PluginHost>,
    db: herald_storage::Db,
    dir: std::path::PathBuf,
    poll: std::time::Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    use herald_plugin_host::Installed;
    let mut watcher = herald_plugin_host::PluginDirWatcher::new(&dir);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
        for path in watcher.changed() {
            let manifest = herald_plugin_host::Manifest::path_for(&path);
            let id = match herald_plugin_host::Manifest::read(&manifest) {
                Ok(m) => m.id,
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "new plugin version refused: its manifest is unusable; the running version stays");
                    continue;
                }
            };
            let db = db.clone();
            let plugin = id.clone();
            let configs = tokio::task::spawn_blocking(move || {
                let mut conn = db.get()?;
                let destinations =
                    herald_storage::destinations::list_destinations(&mut conn, None)?;
                Ok::<_, anyhow::Error>(
                    destinations
                        .into_iter()
                        .filter(|d| d.plugin_id == plugin)
                        .map(|d| d.config)
                        .collect::<Vec<_>>(),
                )
            })
            .await
            .map_err(anyhow::Error::from)
            .and_then(|r| r);
            let configs = match configs {
                Ok(configs) => configs,
                Err(e) => {
                    // Without its destinations the self-test would prove less: try next time.
                    tracing::warn!(plugin = %id, error = %format!("{e:#}"), "cannot read the plugin's destinations for its self-test; install postponed");
                    watcher.retry(&path);
                    continue;
                }
            };
            match host.install(&path, &configs).await {
                Ok(Installed::New(p)) => {
                    tracing::info!(plugin = %p.id, version = %p.version, sha256 = %p.sha256, "new plugin installed")
                }
                Ok(Installed::Upgraded { previous, current }) => tracing::info!(
                    plugin = %current.id,
                    version = %current.version,
                    sha256 = %current.sha256,
                    previous_version = %previous.version,
                    previous_sha256 = %previous.sha256,
                    "plugin swapped to a new version after its self-test"
                ),
                Ok(Installed::Unchanged(p)) => {
                    tracing::debug!(plugin = %p.id, sha256 = %p.sha256, "plugin component unchanged")
                }
                Err(e) => tracing::warn!(
                    path = %path.display(),
                    error = %e,
                    "new plugin version refused; the running version stays"
                ),
            }
        }
    }
}

pub fn serve(config: Config, demo: bool) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve_async(config, demo))
}

async fn serve_async(config: Config, demo: bool) -> anyhow::Result<()> {
    let db = crate::cli::open_db(&config)?;
    // The CSAF signing key exists from the first start on (generated and stored if missing),
    // and every document has its signature (older databases may hold unsigned ones).
    crate::publish::signing_key(&mut *db.get()?, &config).context("preparing the signing key")?;
    let signed = crate::publish::sign_unsigned_revisions(&mut *db.get()?, &config)
        .context("signing documents published without a signature")?;
    if signed > 0 {
        tracing::info!(
            signed,
            "signed documents that were published without a signature"
        );
    }
    tracing::info!(
        database = %config.database_url_redacted(),
        backend = %db.backend(),
        "database ready"
    );
    if demo {
        let seeded = crate::demo::seed_if_empty(&db, &config)?;
        if let Some(sign_ins) = seeded {
            println!("{sign_ins}");
        }
    }
    let plugins = match load_plugins(&config) {
        Ok(host) => {
            for p in host.list() {
                tracing::info!(plugin = %p.id, version = %p.version, sha256 = %p.sha256, "plugin loaded");
            }
            Some(Arc::new(host))
        }
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "no delivery plugins: deliveries wait until plugins are installed");
            None
        }
    };
    let state = AppState {
        config: Arc::new(config.clone()),
        db: db.clone(),
        plugins: plugins.clone(),
        serving: Arc::new(crate::web::serving_cache::ServingCache::new()),
    };

    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let watcher = plugins.clone().map(|host| {
        tokio::spawn(watch_plugins(
            host,
            db.clone(),
            config.plugin_dir.clone(),
            PLUGIN_POLL,
            stop_tx.subscribe(),
        ))
    });
    let engine = match plugins {
        Some(host) => {
            // Each delivery decrypts its destination's secrets (encrypted at rest) just for
            // that plugin call; the same key signs the destinations' unsubscribe URLs.
            let key = crate::secrets::secret_key(&config)
                .context("loading the key that encrypts destination secrets")?;
            let settings = herald_delivery::EngineSettings {
                base_url: config.base_url.clone(),
                unsubscribe_key: Some(key.clone()),
                max_in_flight: config.delivery_concurrency,
                escalate_after: config.escalate_after,
                psirt_contact: Some(config.security_contact.clone())
                    .filter(|c| c.starts_with("mailto:")),
                ..herald_delivery::EngineSettings::default()
            };
            let channel = Arc::new(herald_plugin_host::WasmChannel::new(
                host,
                Arc::new(crate::secrets::DbSecretSource::new(db.clone(), key)),
            ));
            let engine = herald_delivery::Engine::new(db.clone(), channel, settings)
                .context("starting the delivery engine")?;
            Some(tokio::spawn(async move {
                engine
                    .run_until(async move {
                        let _ = stop_rx.wait_for(|stop| *stop).await;
                    })
                    .await;
            }))
        }
        None => None,
    };

    // Herald's own mail (escalations): queued in the database, sent through the operator's relay.
    let mail = tokio::spawn(
        crate::mail::MailSender::new(db.clone(), &config)
            .context("setting up Herald's own mail (HERALD_MAIL_RELAY, HERALD_MAIL_FROM)")?
            .run(stop_tx.subscribe()),
    );
    // Ended sessions (idle or past their lifetime) are deleted, not just ignored.
    let session_purge = tokio::spawn(crate::service::sessions::purge_until_stopped(
        db.clone(),
        config.accounts.sessions,
        stop_tx.subscribe(),
    ));
    // Other processes publishing to the same database reach this one's serving cache here.
    let cache_watch = tokio::spawn(crate::web::serving_cache::watch(
        state.clone(),
        stop_tx.subscribe(),
    ));
    // End-of-support reminders: queued idempotently, delivered by the engine.
    let reminders = tokio::spawn(crate::service::reminders::run(
        state.clone(),
        stop_tx.subscribe(),
    ));
    let server_state = state.clone();
    let mut server = HttpServer::new(move || {
        App::new()
            .wrap(from_fn(crate::web::security_headers::security_headers))
            .wrap(from_fn(crate::web::request_log))
            .wrap(Compress::default())
            .configure(crate::web::configure(server_state.clone()))
    });
    if let Some(workers) = config.workers {
        server = server.workers(workers.get());
    }
    let server = server
        .bind(config.listen)
        .with_context(|| format!("binding {} (HERALD_LISTEN)", config.listen))?
        .shutdown_timeout(10)
        .run();
    tracing::info!(listen = %config.listen, base_url = %config.base_url, "herald is serving");
    let result = server.await.context("web server");
    let _ = stop_tx.send(true);
    let _ = cache_watch.await;
    let _ = reminders.await;
    let _ = session_purge.await;
    let _ = mail.await;
    if let Some(handle) = engine {
        let _ = handle.await;
    }
    if let Some(handle) = watcher {
        let _ = handle.await;
    }
    // The last request log lines may still be buffered.
    crate::telemetry::flush();
    result
}
