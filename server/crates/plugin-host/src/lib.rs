//! Herald's Wasm plugin host: loads channel plugins (Wasm components implementing the
//! `herald:delivery@0.1.0` world `channel`, see `plugins/wit/since_v0.1.0/`) and runs them in
//! wasmtime with only what the operator granted.
//!
//! What it owns:
//! - loading: each `<name>.wasm` is pinned by the sha256 in the `<name>.toml` manifest beside it,
//!   and is refused when its actual component imports exceed the capabilities it declares or
//!   the operator granted ([`manifest`], [`capability`]);
//! - isolation: pooling allocator, pre-instantiation, a fresh `Store` per call, fuel, an epoch
//!   deadline and a memory cap, on the caller's tokio task (yielding at every epoch tick);
//!   a trap, timeout or limit hit fails that one delivery as
//!   [`DeliveryError::Retryable`](herald_channel::DeliveryError::Retryable) ([`host`]);
//! - the host side of each capability: `http` with host grants, address checks, caps and
//!   `{{secret:NAME}}` substitution ([`http`]); `smtp` through the destination's relay with
//!   STARTTLS or implicit TLS ([`smtp`]); `tcp` request/reply exchanges with granted endpoints
//!   ([`tcp`]); `signing`, HMACs keyed by secrets the plugin never sees ([`signing`]); `log` and
//!   `clock`;
//! - the operator's outbound policy, which destination grants only narrow, checked by http,
//!   smtp and tcp on the addresses they connect to ([`outbound`]), and the TLS roots all three
//!   trust: webpki, the system store, the operator's extra roots, or a destination's pinned CA
//!   ([`tls`]);
//! - two shares of instances, for deliveries and for interactive calls such as "Send test"
//!   (`pool`), so neither can use up the other's;
//! - [`herald_channel::Channel`] for the delivery engine ([`WasmChannel`]);
//! - hot swap: [`PluginDirWatcher`] notices new versions in the plugin folder,
//!   [`PluginHost::install`] self-tests them and swaps them in atomically ([`watch`]).

pub mod capability;
pub mod host;
pub mod http;
pub mod manifest;
pub mod outbound;
mod pool;
pub mod secrets;
pub mod signing;
pub mod smtp;
pub mod tcp;
pub mod tls;
pub mod watch;

pub use capability::Capability;
pub use host::{
    ConfigField, ConfigFieldKind, ConfigIssue, HostConfig, HostError, Installed, LoadReport,
    PluginHost, PluginInfo, PluginSummary, WasmChannel,
};
pub use http::HttpLimits;
pub use manifest::Manifest;
pub use outbound::OutboundPolicy;
pub use secrets::{SecretSource, Secrets};
pub use smtp::{SmtpLimits, SmtpRelay, SmtpTlsMode};
pub use tcp::TcpLimits;
pub use tls::{CA_PIN_FIELD, SystemRoots, parse_root_pems};
pub use watch::PluginDirWatcher;

/// Host bindings generated from the WIT contract (the same files the guest SDK uses).
pub(crate) mod bindings {
    wasmtime::component::bindgen!({
        path: "../../../plugins/wit/since_v0.1.0",
        world: "channel",
        // Exports run on the caller's async task (a wasmtime fiber), and the capabilities that
        // do I/O await it there: no handoff to a blocking thread per call.
        imports: {
            "herald:delivery/http.send": async,
            "herald:delivery/smtp.send": async,
            "herald:delivery/tcp.exchange": async,
        },
        exports: { default: async },
    });
}
