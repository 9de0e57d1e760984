//! Watching the plugin folder for hot swap: [`PluginDirWatcher`] notices components
//! (`<name>.wasm`) that appeared, or whose file or `<name>.toml` manifest changed, since it last
//! looked; [`PluginHost::install`](crate::PluginHost::install) then loads a new plugin or swaps
//! in a new version once it passed its checks and self-test.
//!
//! It polls: a folder of a few files every few seconds costs nothing and behaves the same on
//! every file system (bind mounts and network shares included, where change notification is
//! unreliable). A change is reported once it has held still for one poll, so a component that
//! is still being copied is not picked up half-written; if it is anyway (a slow copy), its pin
//! does not match, it is refused, and it is tried again once its files change again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::manifest::Manifest;

/// What a file looked like: enough to notice a replacement without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Fingerprint {
    wasm: Stamp,
    manifest: Option<Stamp>,
}

/// Notices new and changed plugin components in one folder (see the module docs).
#[derive(Debug)]
pub struct PluginDirWatcher {
    dir: PathBuf,
    /// As last reported (or found at the start).
    seen: BTreeMap<PathBuf, Fingerprint>,
    /// Changed since `seen`, as observed at the previous poll; reported when still the same.
    settling: BTreeMap<PathBuf, Fingerprint>,
}

impl PluginDirWatcher {
    /// Watch `dir`, taking what is there now as already handled (the plugins loaded at start).
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            seen: scan(dir),
            settling: BTreeMap::new(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Components that appeared or changed and have held still since the previous call, in
    /// name order. A component that disappears is forgotten (its plugin keeps running: the
    /// host never unloads a plugin on its own).
    pub fn changed(&mut self) -> Vec<PathBuf> {
        let now = scan(&self.dir);
        self.seen.retain(|path, _| now.contains_key(path));
        let mut settled = Vec::new();
        let mut settling = BTreeMap::new();
        for (path, fingerprint) in now {
            if self.seen.get(&path) == Some(&fingerprint) {
                continue;
            }
            if self.settling.get(&path) == Some(&fingerprint) {
                self.seen.insert(path.clone(), fingerprint);
                settled.push(path);
            } else {
                settling.insert(path, fingerprint);
            }
        }
        self.settling = settling;
        settled
    }

    /// Report `path` again (from the next call but one), as if it had just changed: for a
    /// component whose install had to be put off.
    pub fn retry(&mut self, path: &Path) {
        self.seen.remove(path);
    }
}

/// Every `*.wasm` file of `dir` with its fingerprint; an unreadable folder reads as empty (the
/// caller logs nothing new, and picks the files up once it is readable again).
fn scan(dir: &Path) -> BTreeMap<PathBuf, Fingerprint> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return BTreeMap::new();
    };
    entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|x| x == "wasm"))
        .filter_map(|path| {
            let wasm = stamp(&path)?;
            let manifest = stamp(&Manifest::path_for(&path));
            Some((path, Fingerprint { wasm, manifest }))
        })
        .collect()
}

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok().filter(|m| m.is_file())?;
    Some(Stamp {
        len: meta.len(),
        modified: meta.modified().ok(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_new_and_changed_components_once_they_hold_still() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = dir.path().join("a.wasm");
        std::fs::write(&a, b"one").expect("write");
        std::fs::write(dir.path().join("a.toml"), b"id = 1").expect("write");
        let mut watcher = PluginDirWatcher::new(dir.path());
        assert!(watcher.changed().is_empty(), "present at start: not new");

        let b = dir.path().join("b.wasm");
        std::fs::write(&b, b"two").expect("write");
        std::fs::write(dir.path().join("notes.txt"), b"not a component").expect("write");
        assert!(watcher.changed().is_empty(), "first seen: still settling");
        assert_eq!(watcher.changed(), vec![b.clone()]);
        assert!(watcher.changed().is_empty(), "reported once");

        // A changed manifest counts as a change of its component.
        std::fs::write(dir.path().join("a.toml"), b"id = 22").expect("write");
        assert!(watcher.changed().is_empty());
        // ... and a component still changing is not reported until it holds still.
        std::fs::write(dir.path().join("a.toml"), b"id = 333").expect("write");
        assert!(watcher.changed().is_empty());
        assert_eq!(watcher.changed(), vec![a.clone()]);

        std::fs::remove_file(&b).expect("remove");
        assert!(watcher.changed().is_empty());
        std::fs::write(&b, b"two").expect("write");
        watcher.changed();
        assert_eq!(
            watcher.changed(),
            vec![b],
            "a component that comes back is new"
        );
    }
}
