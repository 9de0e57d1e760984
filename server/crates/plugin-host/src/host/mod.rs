//! [`PluginHost`]: loading, pinning and capability checks at load, and running one export call
//! in a fresh, limited `Store`. [`WasmChannel`] adapts it to [`herald_channel::Channel`].
//!
//! Isolation, per call: a new `Store` (no state survives between calls), instantiated from a
//! pre-checked `InstancePre` in wasmtime's pooling allocator; fuel; an epoch deadline driven by
//! a ticker thread; a memory cap that traps on growth past it. Calls run on the caller's tokio
//! task (wasmtime async: the guest runs on a fiber, host capabilities await their I/O there),
//! which saves a handoff to a blocking thread per call; at every epoch tick the guest yields to
//! the executor, so a spinning plugin takes a worker for at most one tick at a time until its
//! deadline. Any trap, timeout or limit hit becomes [`DeliveryError::Retryable`] for that one
//! call.
//!
//! Plugins live in a map of `Arc`s behind a lock: [`PluginHost::upgrade`] (self-test against a
//! real destination) and [`PluginHost::install`] (the folder watcher's: a self-test that reaches
//! no one) swap an entry only after the new version passed, and calls already running keep the
//! version they started with (they hold its `Arc`).
//!
//! The `http` capability's clients are shared by all calls of a host (see [`crate::http`]), so
//! connections to a receiver are pooled and kept alive across deliveries.

//!
//! The parts: [`config`] (limits, grants and what the host reports), `call` (one export call in
//! its store, and the store's host side of each capability), `epoch` (the ticker behind the
//! deadlines) and `channel` ([`WasmChannel`]).

mod call;
mod channel;
mod config;
mod epoch;

pub use channel::WasmChannel;
pub use config::*;

use call::{CallState, Export, Returned, block_on, finish, invoke, unexpected};
use channel::to_wit_notification;
use epoch::EpochTicker;

use crate::bindings;
use crate::bindings::herald::delivery::{
    clock, http as wit_http, log, signing, smtp, tcp, types as wit,
};
use crate::capability::{Capability, ImportKind, classify_import};
use crate::http::{HttpClients, HttpContext, HttpLimits};
use crate::manifest::{Manifest, ManifestError};
use crate::outbound::{OutboundPolicy, Reach};
use crate::pool::{Pool, Pools};
use crate::secrets::{SecretSource, Secrets};
use crate::smtp::{SmtpContext, SmtpLimits, SmtpRelay};
use crate::tcp::{TcpContext, TcpLimits};
use crate::tls::{CA_PIN_FIELD, SystemRoots, TlsRoots};
use herald_channel::{DeliveryError, DestinationConfig, Notification, Receipt};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{
    Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, StoreLimits,
    StoreLimitsBuilder, Trap, UpdateDeadline,
};

/// A loaded, checked, pre-instantiated plugin.
struct LoadedPlugin {
    info: PluginInfo,
    sha256: String,
    imports: BTreeSet<Capability>,
    path: PathBuf,
    pre: bindings::ChannelPre<CallState>,
}

impl LoadedPlugin {
    fn summary(&self) -> PluginSummary {
        PluginSummary {
            id: self.info.id.clone(),
            version: self.info.version.clone(),
            display_name: self.info.display_name.clone(),
            sha256: self.sha256.clone(),
            capabilities: self.imports.iter().copied().collect(),
            path: self.path.clone(),
        }
    }
}

/// Bytes of each pooled linear memory (and table) kept resident between calls; what a channel
/// plugin touches in one call (its stack, data and a small heap) fits.
const RESIDENT_MEMORY: usize = 4 << 20;
const RESIDENT_TABLE: usize = 64 << 10;

/// Runs channel plugins. Create one per process; share it behind an `Arc`.
pub struct PluginHost {
    engine: Engine,
    linker: Linker<CallState>,
    config: Arc<HostConfig>,
    plugins: RwLock<BTreeMap<String, Arc<LoadedPlugin>>>,
    /// Shared by every call: pooled, kept-alive connections (grants are checked per request).
    http: Arc<HttpClients>,
    /// Shared by every call: the roots the `http`, `smtp` and `tcp` capabilities trust, read
    /// once.
    tls: Arc<TlsRoots>,
    /// The operator's outbound policy, shared by every call.
    outbound: Arc<OutboundPolicy>,
    /// Instances for deliveries, and for interactive calls.
    pools: Pools,
    _ticker: EpochTicker,
}

impl PluginHost {
    /// Set up the engine (pooling allocator, fuel, epochs) and start the epoch ticker.
    pub fn new(config: HostConfig) -> Result<Self, HostError> {
        let pools = Pools::new(config.max_instances, config.test_instances);
        let n = pools.instances();
        let mut pool = PoolingAllocationConfig::default();
        // A component built by wit-component holds its module plus small shim/fixup modules.
        pool.total_component_instances(n)
            .total_core_instances(n * 4)
            .total_memories(n)
            .total_tables(n * 4)
            .total_stacks(n)
            .max_memory_size(config.memory_limit)
            // A fresh instance per call must be cheap: when a slot is reused, reset the pages the
            // last call dirtied (found with PAGEMAP_SCAN where the kernel has it) with memset
            // instead of unmapping them, so the next call takes no page faults for them.
            .linear_memory_keep_resident(RESIDENT_MEMORY)
            .table_keep_resident(RESIDENT_TABLE)
            .pagemap_scan(wasmtime::Enabled::Auto);
        let mut wasm = wasmtime::Config::new();
        // (With wasmtime's `async` feature, async calls need no switch here any more.)
        wasm.wasm_component_model(true)
            .consume_fuel(true)
            .epoch_interruption(true)
            // No virtual-memory tricks per call: with guard pages (signal-based bounds checks)
            // every call that grows its heap mprotects pages open, and the next instantiation
            // in that slot mprotects them shut again; each mprotect flushes the TLB of every
            // core running this process (an IPI each). Profiled, that was a fifth of a
            // delivery's CPU. Compiled-in bounds checks instead (as safe: every access is
            // checked against the memory's current size) and a slot that stays accessible.
            // The memory cap is still enforced on growth by the store's limiter.
            .signals_based_traps(false)
            .memory_guard_size(0)
            .memory_reservation(u64::try_from(config.memory_limit).unwrap_or(u64::MAX))
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        if config.perf_map {
            wasm.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        if let Some(dir) = &config.module_cache {
            wasm.cache(Some(module_cache(dir)?));
        }
        let engine = Engine::new(&wasm).map_err(|e| HostError::Engine(format!("{e:#}")))?;
        let mut linker = Linker::new(&engine);
        bindings::Channel::add_to_linker::<CallState, HasSelf<CallState>>(&mut linker, |s| s)
            .map_err(|e| HostError::Engine(format!("{e:#}")))?;
        let tls = Arc::new(
            TlsRoots::new(&config.system_roots, &config.extra_root_certificates)
                .map_err(HostError::Tls)?,
        );
        let outbound = Arc::new(config.outbound.clone());
        let http = HttpClients::new(outbound.clone(), &tls).map_err(HostError::Tls)?;
        let ticker = EpochTicker::start(&engine, config.epoch_tick);
        Ok(Self {
            engine,
            linker,
            config: Arc::new(config),
            plugins: RwLock::new(BTreeMap::new()),
            http: Arc::new(http),
            tls,
            outbound,
            pools,
            _ticker: ticker,
        })
    }

    pub fn config(&self) -> &HostConfig {
        &self.config
    }

    /// Load every `*.wasm` in `dir` (each with its `.toml` manifest). A refused component does
    /// not stop the others; the report says why it was refused. Compiles: call at start-up or
    /// from a blocking thread.
    pub fn load_dir(&self, dir: &Path) -> Result<LoadReport, HostError> {
        let entries = std::fs::read_dir(dir).map_err(|source| HostError::ReadDir {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "wasm") && p.is_file())
            .collect();
        paths.sort();
        let mut report = LoadReport::default();
        for path in paths {
            match self.load_plugin(&path) {
                Ok(summary) => report.loaded.push(summary),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "plugin refused");
                    report.refused.push((path, e));
                }
            }
        }
        Ok(report)
    }

    /// Load one component (`x/name.wasm` with `x/name.toml`): check its pin, imports and
    /// identity, pre-instantiate it and make it available under its id. Compiles: call at
    /// start-up or from a blocking thread.
    pub fn load_plugin(&self, wasm_path: &Path) -> Result<PluginSummary, HostError> {
        let plugin = prepare(
            &self.engine,
            &self.linker,
            &self.config,
            &self.pools,
            wasm_path,
        )?;
        let mut plugins = self
            .plugins
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if plugins.contains_key(&plugin.info.id) {
            return Err(HostError::Duplicate {
                id: plugin.info.id.clone(),
            });
        }
        let summary = plugin.summary();
        tracing::info!(plugin = %summary.id, version = %summary.version, sha256 = %summary.sha256, "plugin loaded");
        plugins.insert(summary.id.clone(), Arc::new(plugin));
        Ok(summary)
    }

    /// Replace (or add) a plugin with the component at `wasm_path`, but only once its `test`
    /// export succeeded against `self_test` (a destination of that plugin). Calls already
    /// running finish on the old version; later calls get the new one.
    pub async fn upgrade(
        &self,
        wasm_path: &Path,
        self_test: &DestinationConfig,
        secrets: &Secrets,
    ) -> Result<PluginSummary, HostError> {
        let (engine, linker, config, pools) = (
            self.engine.clone(),
            self.linker.clone(),
            self.config.clone(),
            self.pools.clone(),
        );
        let path = wasm_path.to_path_buf();
        let candidate =
            tokio::task::spawn_blocking(move || prepare(&engine, &linker, &config, &pools, &path))
                .await
                .map_err(|e| {
                    HostError::Engine(format!("loading the new version panicked: {e}"))
                })??;
        let candidate = Arc::new(candidate);
        if candidate.info.id != self_test.plugin_id {
            return Err(HostError::SelfTestFailed {
                id: candidate.info.id.clone(),
                version: candidate.info.version.clone(),
                error: DeliveryError::Misconfigured(format!(
                    "self-test destination {} is for plugin {}, not {}",
                    self_test.destination_id, self_test.plugin_id, candidate.info.id
                )),
            });
        }
        if let Err(error) = self.run_test(candidate.clone(), self_test, secrets).await {
            return Err(HostError::SelfTestFailed {
                id: candidate.info.id.clone(),
                version: candidate.info.version.clone(),
                error,
            });
        }
        let summary = candidate.summary();
        let previous = self
            .plugins
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(summary.id.clone(), candidate);
        tracing::info!(
            plugin = %summary.id,
            version = %summary.version,
            previous = previous.as_ref().map(|p| p.info.version.as_str()).unwrap_or("none"),
            "plugin upgraded after passing its self-test"
        );
        Ok(summary)
    }

    /// Install the component at `wasm_path` into the running host (what the plugin folder
    /// watcher calls, see [`crate::watch`]). It must pass the load checks (pin, imports,
    /// identity) and a self-test that reaches no one, with each of `configs` (the
    /// configurations of the plugin's destinations; `{}` when it has none): `validate-config`
    /// must accept what the running version accepts, and `test` and `deliver` of a sample
    /// notification, run without any grant, must return normally (the plugin's own errors are
    /// fine: every capability is denied to it; a trap, timeout or limit hit is not). Only then
    /// is it swapped in, atomically; calls already running finish on the old version.
    pub async fn install(
        &self,
        wasm_path: &Path,
        configs: &[serde_json::Value],
    ) -> Result<Installed, HostError> {
        let (engine, linker, config, pools) = (
            self.engine.clone(),
            self.linker.clone(),
            self.config.clone(),
            self.pools.clone(),
        );
        let path = wasm_path.to_path_buf();
        let candidate =
            tokio::task::spawn_blocking(move || prepare(&engine, &linker, &config, &pools, &path))
                .await
                .map_err(|e| {
                    HostError::Engine(format!("loading the new version panicked: {e}"))
                })??;
        let current = self.plugin(&candidate.info.id).ok();
        if let Some(current) = &current
            && current.sha256 == candidate.sha256
        {
            return Ok(Installed::Unchanged(current.summary()));
        }
        if let Err(message) = self.dry_run(current.as_deref(), &candidate, configs).await {
            return Err(HostError::SelfTestFailed {
                id: candidate.info.id.clone(),
                version: candidate.info.version.clone(),
                error: DeliveryError::Permanent(message),
            });
        }
        let summary = candidate.summary();
        let previous = self
            .plugins
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(summary.id.clone(), Arc::new(candidate));
        tracing::info!(
            plugin = %summary.id,
            version = %summary.version,
            sha256 = %summary.sha256,
            previous = previous.as_ref().map(|p| p.sha256.as_str()).unwrap_or("none"),
            "plugin installed after passing its self-test"
        );
        Ok(match previous {
            Some(previous) => Installed::Upgraded {
                previous: previous.summary(),
                current: summary,
            },
            None => Installed::New(summary),
        })
    }

    /// The self-test of [`install`](Self::install); says what failed.
    async fn dry_run(
        &self,
        current: Option<&LoadedPlugin>,
        candidate: &LoadedPlugin,
        configs: &[serde_json::Value],
    ) -> Result<(), String> {
        let empty = [serde_json::json!({})];
        let configs = if configs.is_empty() {
            &empty[..]
        } else {
            &configs[..configs.len().min(MAX_SELF_TEST_CONFIGS)]
        };
        let id = &candidate.info.id;
        // One interactive instance at a time for the whole self-test.
        let _permit = self.pools.acquire(Pool::Interactive).await?;
        let sample: Notification = serde_json::from_value(serde_json::json!({
            "delivery_id": "self-test",
            "event_kind": "advisory.published",
            "tracking_id": "HERALD-SELF-TEST",
            "version": "1",
            "title": "Herald plugin self-test",
            "severity": "low",
            "cvss_score": 1.0,
            "cves": [],
            "products": [],
            "initial_release_date": "2026-01-01T00:00:00Z",
            "current_release_date": "2026-01-01T00:00:00Z",
            "tlp": "WHITE",
            "summary": "A plugin self-test; nothing is sent.",
            "portal_url": "https://herald.invalid/self-test",
            "csaf_url": "https://herald.invalid/self-test.json",
            "previous_receipt": null,
            "attempt": 1,
        }))
        .map_err(|e| format!("cannot build the sample notification: {e}"))?;
        for (i, config) in configs.iter().enumerate() {
            let text = plugin_config(config);
            let accepted_before = match current {
                Some(current) => matches!(
                    self.call(
                        current,
                        CallState::pure(id, &self.config),
                        Export::ValidateConfig(text.clone())
                    )
                    .await,
                    Ok(Returned::Validation(Ok(())))
                ),
                None => false,
            };
            let validated = self
                .call(
                    candidate,
                    CallState::pure(id, &self.config),
                    Export::ValidateConfig(text.clone()),
                )
                .await;
            match validated {
                Ok(Returned::Validation(Err(issues))) if accepted_before => {
                    let issues: Vec<String> = issues
                        .iter()
                        .map(|e| format!("{}: {}", e.field, e.message))
                        .collect();
                    return Err(format!(
                        "validate-config rejects configuration {} that the running version accepts ({})",
                        i + 1,
                        issues.join("; ")
                    ));
                }
                Ok(_) => {}
                Err(message) => return Err(format!("validate-config {message}")),
            }
            // No grants, no secrets: every capability is denied, nothing leaves the host.
            let sandbox = DestinationConfig {
                destination_id: "self-test".into(),
                plugin_id: id.clone(),
                config: config.clone(),
                grants: herald_channel::Grants::default(),
            };
            for (name, export) in [
                ("test", Export::Test(text.clone())),
                (
                    "deliver",
                    Export::Deliver(text.clone(), to_wit_notification(&sample)),
                ),
            ] {
                let state = CallState::with_http(
                    self,
                    candidate,
                    &sandbox,
                    "self-test",
                    Arc::new(Secrets::new()),
                );
                if let Err(message) = self.call(candidate, state, export).await {
                    return Err(format!("{name} {message}"));
                }
            }
        }
        Ok(())
    }

    /// Every loaded plugin, by id.
    pub fn list(&self) -> Vec<PluginSummary> {
        self.plugins
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .map(|p| p.summary())
            .collect()
    }

    /// The plugin's self-description (cached from its `describe` export at load).
    pub fn describe(&self, plugin_id: &str) -> Result<PluginInfo, HostError> {
        Ok(self.plugin(plugin_id)?.info.clone())
    }

    /// Run the plugin's pure `validate-config` (no capability does I/O during it). An empty
    /// list means the configuration is valid.
    pub async fn validate_config(
        &self,
        plugin_id: &str,
        config: &serde_json::Value,
    ) -> Result<Vec<ConfigIssue>, HostError> {
        let plugin = self.plugin(plugin_id)?;
        // The host's own field: checked here, never shown to the plugin.
        let pin_issue = self
            .tls
            .destination_pin(config)
            .err()
            .map(|message| ConfigIssue {
                field: CA_PIN_FIELD.to_string(),
                message,
            });
        let config = plugin_config(config);
        let _permit = self
            .pools
            .acquire(Pool::Interactive)
            .await
            .map_err(|message| HostError::PluginFailed {
                id: plugin.info.id.clone(),
                message,
            })?;
        let state = CallState::pure(&plugin.info.id, &self.config);
        let result = match self
            .call(&plugin, state, Export::ValidateConfig(config))
            .await
        {
            Ok(Returned::Validation(result)) => Ok(result),
            Ok(_) => Err(unexpected()),
            Err(message) => Err(message),
        }
        .map_err(|message| HostError::PluginFailed {
            id: plugin.info.id.clone(),
            message,
        })?;
        let mut issues: Vec<ConfigIssue> = match result {
            Ok(()) => Vec::new(),
            Err(errors) => errors
                .into_iter()
                .map(|e| ConfigIssue {
                    field: e.field,
                    message: e.message,
                })
                .collect(),
        };
        issues.extend(pin_issue);
        Ok(issues)
    }

    /// Run the plugin's `test` export for a destination (sends a harmless test message).
    pub async fn test(
        &self,
        destination: &DestinationConfig,
        secrets: &Secrets,
    ) -> Result<Receipt, DeliveryError> {
        let plugin = self
            .plugin(&destination.plugin_id)
            .map_err(|e| DeliveryError::Misconfigured(e.to_string()))?;
        self.run_test(plugin, destination, secrets).await
    }

    /// Deliver one notification through the destination's plugin. `secrets` are what
    /// `{{secret:NAME}}` header references may use, and are redacted from the plugin's logs,
    /// receipt and errors.
    pub async fn deliver(
        &self,
        destination: &DestinationConfig,
        notification: &Notification,
        secrets: &Secrets,
    ) -> Result<Receipt, DeliveryError> {
        let plugin = self
            .plugin(&destination.plugin_id)
            .map_err(|e| DeliveryError::Misconfigured(e.to_string()))?;
        // Waits for a delivery instance (never an interactive one); the call's time starts
        // once it has one.
        let _permit = self
            .pools
            .acquire(Pool::Deliveries)
            .await
            .map_err(DeliveryError::Retryable)?;
        let config = plugin_config(&destination.config);
        let wit_notification = to_wit_notification(notification);
        let secrets = Arc::new(secrets.clone());
        let state = CallState::with_http(
            self,
            &plugin,
            destination,
            &notification.delivery_id,
            secrets.clone(),
        );
        let result = self
            .call(&plugin, state, Export::Deliver(config, wit_notification))
            .await
            .and_then(Returned::delivered);
        finish(&plugin.info.id, result, &secrets)
    }

    async fn run_test(
        &self,
        plugin: Arc<LoadedPlugin>,
        destination: &DestinationConfig,
        secrets: &Secrets,
    ) -> Result<Receipt, DeliveryError> {
        // Send-tests and upgrade self-tests use the interactive instances only.
        let _permit = self
            .pools
            .acquire(Pool::Interactive)
            .await
            .map_err(DeliveryError::Retryable)?;
        let config = plugin_config(&destination.config);
        let secrets = Arc::new(secrets.clone());
        let state = CallState::with_http(self, &plugin, destination, "self-test", secrets.clone());
        let result = self
            .call(&plugin, state, Export::Test(config))
            .await
            .and_then(Returned::delivered);
        finish(&plugin.info.id, result, &secrets)
    }

    fn plugin(&self, id: &str) -> Result<Arc<LoadedPlugin>, HostError> {
        self.plugins
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(id)
            .cloned()
            .ok_or_else(|| HostError::UnknownPlugin(id.to_string()))
    }

    /// Run one export in a fresh instance, on this task.
    async fn call(
        &self,
        plugin: &LoadedPlugin,
        state: CallState,
        export: Export,
    ) -> Result<Returned, String> {
        // The epoch deadline ends the call; this outer limit only guards against a host call
        // that never returns.
        let grace = self.config.call_timeout
            + self
                .config
                .http
                .request_timeout
                .max(self.config.smtp.timeout)
                .max(self.config.tcp.max_timeout);
        let call = invoke(&self.engine, &self.config, &plugin.pre, state, export);
        match tokio::time::timeout(grace, call).await {
            Ok(result) => result,
            Err(_) => Err(format!("did not finish within {}s", grace.as_secs())),
        }
    }
}

/// wasmtime's compiled-code cache in `dir`, which only this process's user may read or write.
///
/// Compiling the five channel components takes seconds at every start; with the cache a start
/// loads the machine code compiled last time. The key is a hash of the component's bytes and
/// of everything about the engine that shapes the code (wasmtime's version, its settings), so a
/// new plugin version, a different memory limit or a wasmtime upgrade compiles afresh. Loading
/// cached machine code trusts the directory as much as the binary: it is the operator's
/// (`HERALD_PLUGIN_CACHE_DIR`), created owner-only, and never a tenant's setting.
fn module_cache(dir: &Path) -> Result<wasmtime::Cache, HostError> {
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        HostError::Engine(format!(
            "compiled-module cache {}: {what}: {e}",
            dir.display()
        ))
    };
    std::fs::create_dir_all(dir).map_err(|e| fail("cannot create it", &e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| fail("cannot make it owner-only", &e))?;
    }
    let mut cache = wasmtime::CacheConfig::new();
    cache.with_directory(dir);
    wasmtime::Cache::new(cache).map_err(|e| fail("cannot use it", &format!("{e:#}")))
}

/// Everything `load_plugin` checks, without registering the plugin.
fn prepare(
    engine: &Engine,
    linker: &Linker<CallState>,
    config: &HostConfig,
    pools: &Pools,
    wasm_path: &Path,
) -> Result<LoadedPlugin, HostError> {
    let path = wasm_path.to_path_buf();
    let manifest = Manifest::read(&Manifest::path_for(wasm_path))?;
    let bytes = std::fs::read(wasm_path).map_err(|source| HostError::ReadComponent {
        path: path.clone(),
        source,
    })?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    if !sha256.eq_ignore_ascii_case(&manifest.sha256) {
        return Err(HostError::HashMismatch {
            path,
            expected: manifest.sha256.to_ascii_lowercase(),
            actual: sha256,
        });
    }
    let component = Component::new(engine, &bytes).map_err(|e| HostError::Compile {
        path: path.clone(),
        message: format!("{e:#}"),
    })?;

    // What the component really imports decides, not what its manifest claims.
    let mut imports = BTreeSet::new();
    for (name, _) in component.component_type().imports(engine) {
        match classify_import(name) {
            Ok(ImportKind::Types) => {}
            Ok(ImportKind::Capability(c)) => {
                imports.insert(c);
            }
            Err(message) => return Err(HostError::UnknownImport { path, message }),
        }
    }
    let granted = config.granted(&manifest.id);
    for &capability in &imports {
        if !manifest.capabilities.contains(&capability) {
            return Err(HostError::UndeclaredImport { path, capability });
        }
        if !granted.contains(&capability) {
            return Err(HostError::NotGranted {
                path,
                id: manifest.id.clone(),
                capability,
            });
        }
    }

    let instance_pre = linker
        .instantiate_pre(&component)
        .map_err(|e| HostError::WrongWorld {
            path: path.clone(),
            message: format!("{e:#}"),
        })?;
    let pre = bindings::ChannelPre::new(instance_pre).map_err(|e| HostError::WrongWorld {
        path: path.clone(),
        message: format!("{e:#}"),
    })?;

    let state = CallState::pure(&manifest.id, config);
    // A pure call (no capability does I/O), so a plain thread-parking executor runs it, also
    // where no tokio runtime is (start-up, `herald plugins list`).
    let info = match block_on(async {
        let _permit = pools.acquire(Pool::Interactive).await?;
        invoke(engine, config, &pre, state, Export::Describe).await
    }) {
        Ok(Returned::Info(info)) => Ok(info),
        Ok(_) => Err(unexpected()),
        Err(message) => Err(message),
    }
    .map_err(|message| HostError::PluginFailed {
        id: manifest.id.clone(),
        message: format!("describe: {message}"),
    })?;
    let info = from_wit_info(info);
    if info.id != manifest.id || info.version != manifest.version {
        return Err(HostError::IdentityMismatch {
            path,
            manifest_id: manifest.id,
            manifest_version: manifest.version,
            actual_id: info.id,
            actual_version: info.version,
        });
    }
    Ok(LoadedPlugin {
        info,
        sha256,
        imports,
        path,
        pre,
    })
}

/// A destination's configuration as its plugin sees it: without the fields the host reads for
/// itself (`tls_ca_pem`), which plugins (whose configurations refuse unknown fields) know
/// nothing about.
fn plugin_config(config: &serde_json::Value) -> String {
    match config.as_object() {
        Some(map) if map.contains_key(CA_PIN_FIELD) => {
            let mut map = map.clone();
            map.remove(CA_PIN_FIELD);
            serde_json::Value::Object(map).to_string()
        }
        _ => config.to_string(),
    }
}

fn from_wit_info(info: wit::PluginInfo) -> PluginInfo {
    PluginInfo {
        id: info.id,
        version: info.version,
        display_name: info.display_name,
        config_fields: info
            .config_fields
            .into_iter()
            .map(|f| ConfigField {
                name: f.name,
                kind: match f.kind {
                    wit::ConfigFieldKind::Text => ConfigFieldKind::Text,
                    wit::ConfigFieldKind::Url => ConfigFieldKind::Url,
                    wit::ConfigFieldKind::HostPort => ConfigFieldKind::HostPort,
                    wit::ConfigFieldKind::EmailList => ConfigFieldKind::EmailList,
                    wit::ConfigFieldKind::SecretRef => ConfigFieldKind::SecretRef,
                },
                required: f.required,
                help: f.help,
            })
            .collect(),
    }
}
