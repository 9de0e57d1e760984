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

/// Limits and grants of a [`PluginHost`].
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Wall-clock limit of one export call (instantiation and host calls included).
    pub call_timeout: Duration,
    /// How often the epoch ticker advances; the deadline's granularity.
    pub epoch_tick: Duration,
    /// Linear-memory cap of one plugin instance, in bytes.
    pub memory_limit: usize,
    /// Fuel (roughly, wasm instructions) of one export call.
    pub fuel_per_call: u64,
    /// Plugin instances deliveries may use at once. A delivery beyond it waits for one to
    /// free up.
    pub max_instances: u32,
    /// Plugin instances kept for interactive calls: "Send test", validation, plugin installs and
    /// upgrades. Deliveries never use them, and these calls never use the deliveries' ones, so
    /// a burst of send-tests against a slow receiver cannot starve deliveries. The pooling
    /// allocator holds `max_instances + test_instances`.
    pub test_instances: u32,
    pub http: HttpLimits,
    pub smtp: SmtpLimits,
    pub tcp: TcpLimits,
    /// Where plugins may go beyond public https: the operator's outbound policy. Destination
    /// grants only narrow it. Default: public addresses only, https only.
    pub outbound: OutboundPolicy,
    /// The system's trust store, trusted besides the webpki roots by `http`, `smtp` and `tcp`.
    pub system_roots: SystemRoots,
    /// Extra trusted root certificates (PEM texts, each one or more certificates), added to the
    /// webpki and system roots: a private CA, or a test's own CA. Certificate checks are never
    /// switched off; trusting something else must be this explicit.
    pub extra_root_certificates: Vec<String>,
    /// Capabilities a plugin without an entry in `capability_grants` may import.
    pub default_capabilities: BTreeSet<Capability>,
    /// Operator grants per plugin id; replaces `default_capabilities` for that plugin.
    pub capability_grants: BTreeMap<String, BTreeSet<Capability>>,
    /// Write `/tmp/perf-PID.map` so that `perf` names the plugins' compiled functions (for
    /// profiling; off in service).
    pub perf_map: bool,
}

impl Default for HostConfig {
    fn default() -> Self {
        Self {
            call_timeout: Duration::from_secs(10),
            epoch_tick: Duration::from_millis(50),
            memory_limit: 64 << 20,
            fuel_per_call: 10_000_000_000,
            max_instances: 32,
            test_instances: 4,
            http: HttpLimits::default(),
            smtp: SmtpLimits::default(),
            tcp: TcpLimits::default(),
            outbound: OutboundPolicy::default(),
            system_roots: SystemRoots::Platform,
            extra_root_certificates: Vec::new(),
            // smtp and tcp reach beyond http's policy: a plugin importing them needs an
            // explicit grant per plugin id (and its destinations their own grants).
            default_capabilities: [
                Capability::Http,
                Capability::Log,
                Capability::Clock,
                Capability::Signing,
            ]
            .into(),
            capability_grants: BTreeMap::new(),
            perf_map: false,
        }
    }
}

impl HostConfig {
    /// The capabilities plugin `id` may import.
    pub fn granted(&self, id: &str) -> &BTreeSet<Capability> {
        self.capability_grants
            .get(id)
            .unwrap_or(&self.default_capabilities)
    }
}

/// What a plugin says about itself (its `describe` export), cached at load.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PluginInfo {
    pub id: String,
    pub version: String,
    pub display_name: String,
    pub config_fields: Vec<ConfigField>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigField {
    pub name: String,
    pub kind: ConfigFieldKind,
    pub required: bool,
    pub help: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConfigFieldKind {
    Text,
    Url,
    HostPort,
    EmailList,
    SecretRef,
}

/// One problem `validate-config` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigIssue {
    /// The field at fault, or empty for the configuration as a whole.
    pub field: String,
    pub message: String,
}

/// One loaded plugin, as `herald plugins list` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PluginSummary {
    pub id: String,
    pub version: String,
    pub display_name: String,
    /// Hex sha256 of the component file (equal to its manifest's pin).
    pub sha256: String,
    /// Capabilities the component actually imports.
    pub capabilities: Vec<Capability>,
    pub path: PathBuf,
}

/// What [`PluginHost::install`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Installed {
    /// A plugin id that was not loaded before.
    New(PluginSummary),
    /// A new version replaced the running one.
    Upgraded {
        previous: PluginSummary,
        current: PluginSummary,
    },
    /// This very component (same hash) is already running.
    Unchanged(PluginSummary),
}

/// Destination configurations an install's self-test tries, at most (each costs a few calls).
const MAX_SELF_TEST_CONFIGS: usize = 8;

/// What [`PluginHost::load_dir`] did with each component of a folder.
#[derive(Debug, Default)]
pub struct LoadReport {
    pub loaded: Vec<PluginSummary>,
    pub refused: Vec<(PathBuf, HostError)>,
}

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("cannot set up the wasm engine: {0}")]
    Engine(String),
    #[error("cannot set up the trusted TLS roots: {0}")]
    Tls(String),
    #[error("cannot read plugin folder {path}: {source}")]
    ReadDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error("cannot read plugin component {path}: {source}")]
    ReadComponent {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("plugin component {path} has sha256 {actual}, but its manifest pins {expected}")]
    HashMismatch {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("plugin component {path} is not a valid component: {message}")]
    Compile { path: PathBuf, message: String },
    #[error("plugin component {path}: {message}")]
    UnknownImport { path: PathBuf, message: String },
    #[error(
        "plugin component {path} imports the {capability} capability, which its manifest does not declare"
    )]
    UndeclaredImport {
        path: PathBuf,
        capability: Capability,
    },
    #[error(
        "plugin {id} ({path}) imports the {capability} capability, which the operator has not granted it"
    )]
    NotGranted {
        path: PathBuf,
        id: String,
        capability: Capability,
    },
    #[error(
        "plugin component {path} does not implement the herald:delivery channel world: {message}"
    )]
    WrongWorld { path: PathBuf, message: String },
    #[error(
        "plugin component {path} describes itself as {actual_id} {actual_version}, but its manifest says {manifest_id} {manifest_version}"
    )]
    IdentityMismatch {
        path: PathBuf,
        manifest_id: String,
        manifest_version: String,
        actual_id: String,
        actual_version: String,
    },
    #[error("plugin {id} is already loaded (use upgrade to replace it)")]
    Duplicate { id: String },
    #[error("no plugin with id {0:?} is loaded")]
    UnknownPlugin(String),
    #[error("plugin {id} failed: {message}")]
    PluginFailed { id: String, message: String },
    #[error(
        "new version {version} of plugin {id} failed its self-test, the old one stays: {error}"
    )]
    SelfTestFailed {
        id: String,
        version: String,
        error: DeliveryError,
    },
}

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

/// One export call of the channel world.
// One value lives per call and is moved straight into the guest call; boxing the notification
// (grown by the rendered templates) would only add an allocation per delivery.
#[allow(clippy::large_enum_variant)]
enum Export {
    Describe,
    ValidateConfig(String),
    Deliver(String, wit::Notification),
    Test(String),
}

/// What an [`Export`] returned.
enum Returned {
    Info(wit::PluginInfo),
    Validation(Result<(), Vec<wit::ConfigError>>),
    Delivered(Result<wit::Receipt, wit::DeliveryError>),
}

impl Returned {
    fn delivered(self) -> Result<Result<wit::Receipt, wit::DeliveryError>, String> {
        match self {
            Returned::Delivered(result) => Ok(result),
            _ => Err(unexpected()),
        }
    }
}

fn unexpected() -> String {
    "failed: the host got a result of the wrong kind (a bug in the host)".to_string()
}

/// Instantiate from `pre` in a new limited store and run `export`; failures come back as a
/// sentence.
async fn invoke(
    engine: &Engine,
    config: &HostConfig,
    pre: &bindings::ChannelPre<CallState>,
    state: CallState,
    export: Export,
) -> Result<Returned, String> {
    let started = Instant::now();
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.limits);
    store
        .set_fuel(config.fuel_per_call)
        .map_err(|e| format!("failed: cannot set fuel: {e:#}"))?;
    // Every tick the guest yields to the executor (other tasks on this worker get their turn)
    // and goes on, until the call's time is up.
    let deadline = started + config.call_timeout;
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        Ok(if Instant::now() >= deadline {
            UpdateDeadline::Interrupt
        } else {
            UpdateDeadline::Yield(1)
        })
    });
    let run = async {
        let channel = pre.instantiate_async(&mut store).await?;
        Ok(match export {
            Export::Describe => Returned::Info(channel.call_describe(&mut store).await?),
            Export::ValidateConfig(config) => {
                Returned::Validation(channel.call_validate_config(&mut store, &config).await?)
            }
            Export::Deliver(config, notification) => Returned::Delivered(
                channel
                    .call_deliver(&mut store, &config, &notification)
                    .await?,
            ),
            Export::Test(config) => {
                Returned::Delivered(channel.call_test(&mut store, &config).await?)
            }
        })
    };
    run.await
        .map_err(|e: wasmtime::Error| describe_failure(&e, config, started.elapsed()))
}

/// Polls `future` on this thread, parking it while the future waits. For pure plugin calls
/// outside (or inside, without blocking it for long) an async runtime.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = std::task::Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut context) {
            std::task::Poll::Ready(output) => return output,
            std::task::Poll::Pending => std::thread::park(),
        }
    }
}

/// Turn a wasmtime error into a sentence that says which limit was hit, if any (the full
/// error, with the wasm backtrace, goes to the debug log).
fn describe_failure(e: &wasmtime::Error, config: &HostConfig, elapsed: Duration) -> String {
    tracing::debug!(error = ?e, "plugin call failed");
    let root = e.root_cause().to_string();
    let what = match e.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => format!(
            "exceeded its time limit of {:.1}s",
            config.call_timeout.as_secs_f64()
        ),
        Some(Trap::OutOfFuel) => format!("ran out of fuel ({} units)", config.fuel_per_call),
        Some(trap) => format!("trapped: {trap}"),
        None if root.contains("growing memory") => format!(
            "exceeded its memory limit of {} MiB ({root})",
            config.memory_limit >> 20
        ),
        None => format!("failed: {root}"),
    };
    format!("{what} (after {}ms)", elapsed.as_millis())
}

/// Map a call's outcome onto the delivery contract: a plugin failure (trap, timeout, limit)
/// is retryable for this delivery only; everything is redacted.
fn finish(
    plugin_id: &str,
    result: Result<Result<wit::Receipt, wit::DeliveryError>, String>,
    secrets: &Secrets,
) -> Result<Receipt, DeliveryError> {
    match result {
        Ok(Ok(receipt)) => Ok(Receipt {
            remote_id: receipt.remote_id.map(|r| secrets.redact(&r)),
            detail: secrets.redact(&receipt.detail),
        }),
        Ok(Err(error)) => Err(match error {
            wit::DeliveryError::Retryable(m) => DeliveryError::Retryable(secrets.redact(&m)),
            wit::DeliveryError::RetryAfter((seconds, m)) => DeliveryError::RetryAfter {
                seconds,
                message: secrets.redact(&m),
            },
            wit::DeliveryError::Permanent(m) => DeliveryError::Permanent(secrets.redact(&m)),
            wit::DeliveryError::Misconfigured(m) => {
                DeliveryError::Misconfigured(secrets.redact(&m))
            }
        }),
        Err(message) => {
            let message = secrets.redact(&message);
            tracing::warn!(plugin = %plugin_id, %message, "plugin call failed");
            Err(DeliveryError::Retryable(format!(
                "plugin {plugin_id} {message}"
            )))
        }
    }
}

/// Per-call store data: limits, who is calling for whom, and the capabilities' state.
pub(crate) struct CallState {
    plugin_id: String,
    destination_id: String,
    delivery_id: String,
    limits: StoreLimits,
    /// `None` in pure calls (describe, validate-config): http, smtp and tcp are denied there;
    /// also `None` for a capability the plugin does not import.
    http: Option<HttpContext>,
    smtp: Option<SmtpContext>,
    tcp: Option<TcpContext>,
    secrets: Arc<Secrets>,
    signatures: u32,
    log_lines: u32,
}

/// Log lines one call may write, and their length; a chatty plugin cannot flood the log.
const MAX_LOG_LINES: u32 = 200;
const MAX_LOG_LINE: usize = 4096;

impl CallState {
    fn limits(config: &HostConfig) -> StoreLimits {
        StoreLimitsBuilder::new()
            .memory_size(config.memory_limit)
            .trap_on_grow_failure(true)
            .build()
    }

    fn pure(plugin_id: &str, config: &HostConfig) -> Self {
        Self {
            plugin_id: plugin_id.to_string(),
            destination_id: String::new(),
            delivery_id: String::new(),
            limits: Self::limits(config),
            http: None,
            smtp: None,
            tcp: None,
            secrets: Arc::new(Secrets::new()),
            signatures: 0,
            log_lines: 0,
        }
    }

    /// The state of a call that may reach the network: a context for each I/O capability the
    /// plugin imports (one it does not import it cannot call; the load check saw to that), so
    /// a webhook delivery builds no SMTP relay from a configuration that has none.
    fn with_http(
        host: &PluginHost,
        plugin: &LoadedPlugin,
        destination: &DestinationConfig,
        delivery_id: &str,
        secrets: Arc<Secrets>,
    ) -> Self {
        let (config, imports) = (&host.config, &plugin.imports);
        let deadline = Instant::now() + config.call_timeout;
        let reach = Reach {
            operator: host.outbound.clone(),
            destination_allows_private: destination.grants.allow_private_addresses,
        };
        // Only a plugin that reaches the network reads the destination's CA pin.
        let network = [Capability::Http, Capability::Smtp, Capability::Tcp]
            .iter()
            .any(|c| imports.contains(c));
        let pin = if network {
            host.tls.destination_pin(&destination.config)
        } else {
            Ok(None)
        };
        let http = imports.contains(&Capability::Http).then(|| HttpContext {
            destination_id: destination.destination_id.clone(),
            grants: destination.grants.clone(),
            pin: pin.clone(),
            secrets: secrets.clone(),
            limits: config.http.clone(),
            clients: host.http.clone(),
            deadline,
            calls: 0,
        });
        let smtp = imports.contains(&Capability::Smtp).then(|| SmtpContext {
            allowed: destination.grants.smtp,
            relay: SmtpRelay::from_destination(destination),
            secrets: secrets.clone(),
            limits: config.smtp.clone(),
            reach: reach.clone(),
            tls: host.tls.clone(),
            pin: pin.clone(),
            deadline,
            messages: 0,
        });
        let tcp = imports.contains(&Capability::Tcp).then(|| TcpContext {
            grants: destination.grants.clone(),
            reach,
            pin,
            limits: config.tcp.clone(),
            tls: host.tls.clone(),
            deadline,
            exchanges: 0,
        });
        Self {
            plugin_id: plugin.info.id.clone(),
            destination_id: destination.destination_id.clone(),
            delivery_id: delivery_id.to_string(),
            limits: Self::limits(config),
            http,
            smtp,
            tcp,
            secrets,
            signatures: 0,
            log_lines: 0,
        }
    }
}

impl wit::Host for CallState {}

impl wit_http::Host for CallState {
    async fn send(
        &mut self,
        request: wit_http::Request,
    ) -> Result<wit_http::Response, wit_http::HttpError> {
        let result = match self.http.as_mut() {
            Some(http) => http.send(request).await,
            None => Err(wit_http::HttpError::Denied(
                "http is not available in this call (describe and validate-config reach no one)"
                    .into(),
            )),
        };
        if let Err(e) = &result {
            tracing::info!(
                target: "herald::plugin",
                plugin = %self.plugin_id,
                destination = %self.destination_id,
                delivery = %self.delivery_id,
                error = %self.secrets.redact(&format!("{e:?}")),
                "plugin http request failed"
            );
        }
        result
    }
}

impl log::Host for CallState {
    fn log(&mut self, level: log::Level, message: String) {
        self.log_lines += 1;
        if self.log_lines > MAX_LOG_LINES {
            return;
        }
        let mut message = self.secrets.redact(&message);
        if message.len() > MAX_LOG_LINE {
            let mut cut = MAX_LOG_LINE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        if self.log_lines == MAX_LOG_LINES {
            message.push_str(" (log line limit reached; further lines of this call dropped)");
        }
        let (plugin, destination, delivery) =
            (&self.plugin_id, &self.destination_id, &self.delivery_id);
        match level {
            log::Level::Trace => {
                tracing::trace!(target: "herald::plugin", %plugin, %destination, %delivery, "{message}")
            }
            log::Level::Debug => {
                tracing::debug!(target: "herald::plugin", %plugin, %destination, %delivery, "{message}")
            }
            log::Level::Info => {
                tracing::info!(target: "herald::plugin", %plugin, %destination, %delivery, "{message}")
            }
            log::Level::Warn => {
                tracing::warn!(target: "herald::plugin", %plugin, %destination, %delivery, "{message}")
            }
            log::Level::Error => {
                tracing::error!(target: "herald::plugin", %plugin, %destination, %delivery, "{message}")
            }
        }
    }
}

impl clock::Host for CallState {
    fn now(&mut self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }
}

impl CallState {
    /// Log a failed capability call (redacted) with who made it.
    fn log_failure(&self, capability: &str, error: &dyn std::fmt::Debug) {
        tracing::info!(
            target: "herald::plugin",
            plugin = %self.plugin_id,
            destination = %self.destination_id,
            delivery = %self.delivery_id,
            error = %self.secrets.redact(&format!("{error:?}")),
            "plugin {capability} call failed"
        );
    }
}

impl smtp::Host for CallState {
    async fn send(&mut self, message: smtp::Message) -> Result<String, smtp::SmtpError> {
        let result = match self.smtp.as_mut() {
            Some(smtp) => smtp.send(message).await,
            None => Err(smtp::SmtpError::Denied(
                "smtp is not available in this call (describe and validate-config reach no one)"
                    .into(),
            )),
        };
        match &result {
            Ok(reply) => tracing::info!(
                target: "herald::plugin",
                plugin = %self.plugin_id,
                destination = %self.destination_id,
                delivery = %self.delivery_id,
                reply = %self.secrets.redact(reply),
                "plugin mail accepted by the relay"
            ),
            Err(e) => self.log_failure("smtp", e),
        }
        result
    }
}

impl tcp::Host for CallState {
    async fn exchange(&mut self, request: tcp::ExchangeRequest) -> Result<Vec<u8>, tcp::TcpError> {
        let result = match self.tcp.as_mut() {
            Some(tcp) => tcp.exchange(request).await,
            None => Err(tcp::TcpError::Denied(
                "tcp is not available in this call (describe and validate-config reach no one)"
                    .into(),
            )),
        };
        if let Err(e) = &result {
            self.log_failure("tcp", e);
        }
        result
    }
}

impl signing::Host for CallState {
    fn hmac_sha256(
        &mut self,
        secret_ref: String,
        data: Vec<u8>,
    ) -> Result<Vec<u8>, signing::SigningError> {
        self.signatures += 1;
        let result = if self.signatures > crate::signing::MAX_SIGNATURES_PER_INVOCATION {
            Err(signing::SigningError::Denied(format!(
                "more than {} signatures in one invocation",
                crate::signing::MAX_SIGNATURES_PER_INVOCATION
            )))
        } else {
            crate::signing::hmac_sha256(&self.secrets, &secret_ref, &data)
        };
        if let Err(e) = &result {
            self.log_failure("signing", e);
        }
        result
    }
}

/// Advances the engine's epoch every tick until dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: &Engine, tick: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let weak = engine.weak();
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("herald-plugin-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .ok();
        if thread.is_none() {
            tracing::error!(
                "cannot start the plugin epoch ticker: plugin calls will only stop on fuel"
            );
        }
        Self { stop, thread }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Adapts a [`PluginHost`] to the delivery engine's [`herald_channel::Channel`]: the
/// destination's `plugin_id` picks the plugin, `secrets` supplies its secrets.
pub struct WasmChannel {
    host: Arc<PluginHost>,
    secrets: Arc<dyn SecretSource>,
}

impl WasmChannel {
    pub fn new(host: Arc<PluginHost>, secrets: Arc<dyn SecretSource>) -> Self {
        Self { host, secrets }
    }

    pub fn host(&self) -> &Arc<PluginHost> {
        &self.host
    }
}

#[async_trait::async_trait]
impl herald_channel::Channel for WasmChannel {
    async fn deliver(
        &self,
        destination: &DestinationConfig,
        notification: &Notification,
    ) -> Result<Receipt, DeliveryError> {
        let secrets = self.secrets.secrets_for(destination).map_err(|e| {
            DeliveryError::Misconfigured(format!(
                "secrets of destination {}: {e}",
                destination.destination_id
            ))
        })?;
        self.host.deliver(destination, notification, &secrets).await
    }
}

fn to_wit_notification(n: &Notification) -> wit::Notification {
    wit::Notification {
        delivery_id: n.delivery_id.clone(),
        event_kind: n.event_kind.clone(),
        tracking_id: n.tracking_id.clone(),
        version: n.version.clone(),
        title: n.title.clone(),
        severity: n.severity.clone(),
        cvss_score: n.cvss_score,
        cves: n.cves.clone(),
        products: n
            .products
            .iter()
            .map(|p| wit::NotifiedProduct {
                product_id: p.product_id.clone(),
                name: p.name.clone(),
                version: p.version.clone(),
                udi_di: p.udi_di.clone(),
                cpe: p.cpe.clone(),
                purl: p.purl.clone(),
            })
            .collect(),
        initial_release_date: n.initial_release_date.clone(),
        current_release_date: n.current_release_date.clone(),
        tlp: n.tlp.clone(),
        summary: n.summary.clone(),
        portal_url: n.portal_url.clone(),
        csaf_url: n.csaf_url.clone(),
        previous_receipt: n.previous_receipt.as_ref().map(|r| wit::Receipt {
            remote_id: r.remote_id.clone(),
            detail: r.detail.clone(),
        }),
        attempt: n.attempt,
        rendered: n.rendered.as_ref().map(|r| wit::RenderedMessage {
            subject: r.subject.clone(),
            text: r.text.clone(),
            html: r.html.clone(),
        }),
        unsubscribe_url: n.unsubscribe_url.clone(),
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
