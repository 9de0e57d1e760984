//! The plugin manifest: `<name>.toml` beside `<name>.wasm` in the plugin folder.
//!
//! ```toml
//! id = "webhook"                 # must equal what the component's describe() returns
//! version = "0.1.0"              # likewise
//! sha256 = "9f2c..."             # hex sha256 of the .wasm file: the component is pinned to it
//! capabilities = ["http", "log", "clock"]   # every capability interface the component imports
//! ```
//!
//! `scripts/build-wasm` writes it from the plugin crate's `herald-plugin.toml` plus the hash of
//! the component it just built. A manifest rather than a custom section keeps the pin outside
//! the bytes it pins and lets an operator read and diff it.

use crate::capability::Capability;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub id: String,
    pub version: String,
    pub sha256: String,
    pub capabilities: BTreeSet<Capability>,
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read plugin manifest {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("plugin manifest {path} is invalid: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl Manifest {
    /// The manifest path for a component path (`x/webhook.wasm` -> `x/webhook.toml`).
    pub fn path_for(wasm: &Path) -> PathBuf {
        wasm.with_extension("toml")
    }

    pub fn read(path: &Path) -> Result<Manifest, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text).map_err(|message| ManifestError::Invalid {
            path: path.to_path_buf(),
            message,
        })
    }

    pub fn parse(text: &str) -> Result<Manifest, String> {
        let manifest: Manifest = toml::from_str(text).map_err(|e| e.to_string())?;
        if manifest.id.is_empty()
            || !manifest
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(format!(
                "id {:?} must be non-empty ASCII letters, digits, '-' or '_'",
                manifest.id
            ));
        }
        if manifest.version.is_empty() {
            return Err("version is empty".into());
        }
        if manifest.sha256.len() != 64 || !manifest.sha256.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!("sha256 {:?} is not 64 hex digits", manifest.sha256));
        }
        Ok(manifest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let ok = format!(
            "id = \"webhook\"\nversion = \"0.1.0\"\nsha256 = \"{}\"\ncapabilities = [\"http\", \"log\"]\n",
            "ab".repeat(32)
        );
        let m = Manifest::parse(&ok).expect("valid manifest");
        assert_eq!(m.id, "webhook");
        assert!(m.capabilities.contains(&Capability::Http));

        let bad_cap = ok.replace("\"log\"", "\"fs\"");
        assert!(Manifest::parse(&bad_cap).is_err());
        let bad_hash = ok.replace(&"ab".repeat(32), "abc");
        assert!(
            Manifest::parse(&bad_hash)
                .expect_err("bad hash")
                .contains("sha256")
        );
        let bad_id = ok.replace("webhook", "../evil");
        assert!(Manifest::parse(&bad_id).expect_err("bad id").contains("id"));
        let extra = format!("{ok}extra = 1\n");
        assert!(Manifest::parse(&extra).is_err());
    }
}
