//! The compiled-module cache: a host with `module_cache` keeps the machine code of what it
//! compiled, a second host (a restart) finds it, a damaged entry is compiled again rather than
//! run, and the directory is the process user's alone.

use crate::plugins::{Receiver, notification, secrets, webhook_destination};
use herald_plugin_host::{HostConfig, OutboundPolicy, PluginHost};
use std::path::Path;

fn host(cache: &Path) -> PluginHost {
    PluginHost::new(HostConfig {
        outbound: OutboundPolicy::loopback(),
        module_cache: Some(cache.to_path_buf()),
        ..HostConfig::default()
    })
    .expect("host")
}

/// Every regular file below `dir` with its length.
fn entries(dir: &Path) -> Vec<(std::path::PathBuf, u64)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("read dir").flatten() {
            let meta = e.metadata().expect("metadata");
            if meta.is_dir() {
                todo.push(e.path());
            } else if meta.len() > 0 {
                out.push((e.path(), meta.len()));
            }
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_loads_compiled_code_from_the_cache_and_recompiles_a_damaged_entry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = dir.path().join("plugin-cache");
    let wasm = crate::peers::component("webhook");

    host(&cache)
        .load_plugin(&wasm)
        .expect("first load compiles");
    let first = entries(&cache);
    assert!(
        first.iter().any(|(_, len)| *len > 10_000),
        "the compiled component was not kept: {first:?}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&cache)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "cache directory mode {mode:o}");
    }

    // A restart: a new engine finds the entry (nothing new is written) and the plugin works.
    let second = host(&cache);
    second.load_plugin(&wasm).expect("second load");
    assert_eq!(
        entries(&cache),
        first,
        "a cached component was compiled again"
    );
    let receiver = Receiver::start().await;
    let receipt = second
        .deliver(
            &webhook_destination(&receiver),
            &notification("d-cache-1"),
            &secrets(),
        )
        .await
        .expect("delivered by cached code");
    assert!(!receipt.detail.is_empty());

    // A damaged entry is not run: wasmtime refuses to load it and compiles the component again.
    let (biggest, _) = first
        .iter()
        .max_by_key(|(_, len)| *len)
        .cloned()
        .expect("an entry");
    std::fs::write(&biggest, b"not machine code").expect("damage the entry");
    let third = host(&cache);
    third.load_plugin(&wasm).expect("loads after recompiling");
    third
        .deliver(
            &webhook_destination(&receiver),
            &notification("d-cache-2"),
            &secrets(),
        )
        .await
        .expect("delivered after recompiling");
}
