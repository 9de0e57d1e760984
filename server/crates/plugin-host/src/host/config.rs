//! What a [`PluginHost`](super::PluginHost) is configured with (limits, grants, the operator's
//! outbound policy and trust roots) and what it reports (plugin info, summaries, load and install
//! results, errors).

use super::*;

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
    /// Where compiled plugin code is kept between starts (wasmtime's cache, keyed by the
    /// component's bytes and the engine's settings); `None` compiles at every load.
    pub module_cache: Option<PathBuf>,
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
            module_cache: None,
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
pub(super) const MAX_SELF_TEST_CONFIGS: usize = 8;

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
