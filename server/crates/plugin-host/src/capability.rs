//! The capabilities a plugin can import, one per host interface of the WIT world, and how a
//! component's import names map onto them.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The WIT package every Herald host interface lives in.
pub const WIT_PACKAGE: &str = "herald:delivery";
/// The WIT contract version this host serves.
pub const WIT_VERSION: &str = "0.1.0";

/// One host interface a plugin may import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Capability {
    /// Outbound HTTP(S) to the destination's granted hosts.
    Http,
    /// Writing to Herald's log.
    Log,
    /// Wall-clock time.
    Clock,
    /// Mail through the destination's SMTP relay (only where the destination grants smtp).
    Smtp,
    /// Raw TCP exchange with the destination's granted endpoints.
    Tcp,
    /// HMACs keyed by the destination's secrets (the plugin never holds the key).
    Signing,
}

impl Capability {
    pub const ALL: [Capability; 6] = [
        Capability::Http,
        Capability::Log,
        Capability::Clock,
        Capability::Smtp,
        Capability::Tcp,
        Capability::Signing,
    ];

    /// The WIT interface name (`http`, `log`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Capability::Http => "http",
            Capability::Log => "log",
            Capability::Clock => "clock",
            Capability::Smtp => "smtp",
            Capability::Tcp => "tcp",
            Capability::Signing => "signing",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Capability {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Capability::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| {
                format!("unknown capability {s:?} (known: http, log, clock, smtp, tcp, signing)")
            })
    }
}

/// What one import of a component is, as far as the host is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportKind {
    /// A capability interface.
    Capability(Capability),
    /// The shared `types` interface: type definitions only, nothing to grant.
    Types,
}

/// Classify a component import name such as `herald:delivery/http@0.1.0`. Anything not from
/// this package and version (WASI, another contract version, a bare function) is an error
/// naming the import.
pub fn classify_import(name: &str) -> Result<ImportKind, String> {
    let unknown = || {
        format!(
            "import {name:?} is not a {WIT_PACKAGE}@{WIT_VERSION} host interface \
             (plugins may import only http, log, clock, smtp, tcp, signing; no WASI)"
        )
    };
    let rest = name
        .strip_prefix(WIT_PACKAGE)
        .and_then(|r| r.strip_prefix('/'))
        .ok_or_else(unknown)?;
    let (interface, version) = rest.split_once('@').ok_or_else(unknown)?;
    if version != WIT_VERSION {
        return Err(unknown());
    }
    if interface == "types" {
        return Ok(ImportKind::Types);
    }
    interface
        .parse::<Capability>()
        .map(ImportKind::Capability)
        .map_err(|_| unknown())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_imports() {
        assert_eq!(
            classify_import("herald:delivery/http@0.1.0"),
            Ok(ImportKind::Capability(Capability::Http))
        );
        assert_eq!(
            classify_import("herald:delivery/types@0.1.0"),
            Ok(ImportKind::Types)
        );
        for bad in [
            "wasi:io/streams@0.2.0",
            "herald:delivery/http@0.2.0",
            "herald:delivery/fs@0.1.0",
            "herald:delivery/http",
            "http",
        ] {
            let err = classify_import(bad).expect_err(bad);
            assert!(err.contains(bad), "{err}");
        }
    }
}
