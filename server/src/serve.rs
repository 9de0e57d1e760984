//! `herald serve`: opens the database, loads the plugins, starts the delivery engine and the web
//! server, and shuts both down cleanly on Ctrl-C or SIGTERM.

use std::sync::Arc;

use actix_web::middleware::{Compress, from_fn};
use actix_web::{App, HttpServer};
use anyhow::Context;

use crate::config::Config;
use crate::state::AppState;

/// Loads every plugin component from the configured folder. Components that fail their checks
/// are left out; the others load.
pub fn load_plugins(config: &Config) -> anyhow::Result<herald_plugin_host::PluginHost> {
    let mut host_config = herald_plugin_host::HostConfig::default();
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
    };

    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let engine = match plugins {
        Some(host) => {
            let settings = herald_delivery::EngineSettings {
                base_url: config.base_url.clone(),
                ..herald_delivery::EngineSettings::default()
            };
            // Each delivery decrypts its destination's secrets (encrypted at rest) just for
            // that plugin call.
            let key = crate::secrets::secret_key(&config)
                .context("loading the key that encrypts destination secrets")?;
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

    let server_state = state.clone();
    let server = HttpServer::new(move || {
        App::new()
            .wrap(from_fn(crate::web::request_log))
            .wrap(Compress::default())
            .configure(crate::web::configure(server_state.clone()))
    })
    .bind(config.listen)
    .with_context(|| format!("binding {} (HERALD_LISTEN)", config.listen))?
    .shutdown_timeout(10)
    .run();
    tracing::info!(listen = %config.listen, base_url = %config.base_url, "herald is serving");
    let result = server.await.context("web server");
    let _ = stop_tx.send(true);
    if let Some(handle) = engine {
        let _ = handle.await;
    }
    result
}
