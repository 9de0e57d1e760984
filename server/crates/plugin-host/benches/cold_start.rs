//! Cold start of the plugin host: loading every channel plugin of the plugin folder (pin check,
//! compile, capability check, self-description) with no compiled-module cache, against a start
//! that finds the cache filled by the previous one, in the same run. Prints both times and the
//! ratio. `HERALD_PLUGIN_DIR` (default `target/plugins`), BENCH_ROUNDS (default 3).

use std::time::Instant;

use anyhow::{Context, Result};
use herald_plugin_host::{Capability, HostConfig, PluginHost};

mod common;

fn load(dir: &std::path::Path, cache: Option<&std::path::Path>) -> Result<(f64, usize)> {
    let started = Instant::now();
    let mut config = HostConfig {
        module_cache: cache.map(std::path::Path::to_path_buf),
        ..HostConfig::default()
    };
    // The operator grants of `herald serve`'s default (`HERALD_PLUGIN_GRANTS`).
    for (id, extra) in [("email", Capability::Smtp), ("hl7-mllp", Capability::Tcp)] {
        let mut granted = config.default_capabilities.clone();
        granted.insert(extra);
        config.capability_grants.insert(id.to_owned(), granted);
    }
    let host = PluginHost::new(config).context("host")?;
    let report = host.load_dir(dir).context("load")?;
    anyhow::ensure!(
        report.refused.is_empty(),
        "plugins refused: {:?}",
        report.refused
    );
    Ok((started.elapsed().as_secs_f64(), report.loaded.len()))
}

fn main() -> Result<()> {
    let dir = common::webhook_wasm()?
        .parent()
        .context("plugin dir")?
        .to_path_buf();
    let rounds = common::env_usize("BENCH_ROUNDS", 3)?.max(1);
    let cache = tempfile::tempdir()?;
    // Fill the cache once (as the first start after an upgrade does).
    load(&dir, Some(cache.path()))?;
    let (mut cold, mut warm, mut plugins) = (Vec::new(), Vec::new(), 0);
    for _ in 0..rounds {
        let (t, n) = load(&dir, None)?;
        cold.push(t);
        plugins = n;
        warm.push(load(&dir, Some(cache.path()))?.0);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (cold, warm) = (median(&mut cold), median(&mut warm));
    println!(
        "plugin host start, {plugins} plugins ({} cores): compiling {:.0} ms, from the cache {:.0} ms: {:.1}x faster",
        std::thread::available_parallelism().map_or(1, usize::from),
        cold * 1000.0,
        warm * 1000.0,
        cold / warm
    );
    Ok(())
}
