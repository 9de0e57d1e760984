//! Engine-level delivery benchmark (not a test; `scripts/bench-delivery` runs it after the
//! channel benchmark): the same fan-out through Herald's real delivery engine, once with the Wasm
//! webhook plugin and once with the native channel of the same behaviour, each on a fresh
//! database: D destinations x A advisories published, then `Engine::run_once` until every
//! delivery is recorded delivered. This is the path a delivery takes in `herald serve` (claim,
//! render templates, call the channel, record the attempt), so the ratio here says what the
//! plugin's isolation costs in service, next to the channel-only ratio of `benches/delivery.rs`.
//!
//! Settings (environment): `BENCH_DESTINATIONS` (default 100), `BENCH_ADVISORIES` (1000: 100,000 deliveries per side),
//! `BENCH_BATCH` (the engine's batch, 32), `BENCH_BACKEND` (`sqlite`, default, or `postgres`
//! with `HERALD_TEST_POSTGRES_URL`), `HERALD_PLUGIN_DIR`.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail, ensure};
use herald_delivery::{Channel, Engine, EngineSettings};
use herald_plugin_host::{HostConfig, PluginHost, Secrets, WasmChannel};
use herald_storage::testing::{TestDb, loopback_webhook, publish_sample, sample_summary};
use herald_storage::{Backend, OrgKind, ensure_organization};

use common::{NativeWebhook, env_usize, process_cpu, start_sink, webhook_wasm};

/// D destinations (all on the sink) and A advisories of the manufacturer: D x A deliveries.
fn seed(test: &TestDb, port: u16, destinations: usize, advisories: usize) -> Result<usize> {
    let mut conn = test.conn()?;
    let conn = &mut *conn;
    let org = ensure_organization(conn, OrgKind::Manufacturer, "Larkspur Medical")?;
    for i in 0..destinations {
        loopback_webhook(conn, &org.id, &format!("sink {i:04}"), port)?;
    }
    for i in 0..advisories {
        publish_sample(
            conn,
            &org.id,
            &sample_summary(
                &format!("LARK-2026-B{i:04}"),
                &[("1", "2026-08-01T10:00:00Z")],
                Some(("high", 8.1)),
                &["CVE-2026-9000"],
            ),
        )?;
    }
    Ok(destinations * advisories)
}

/// Runs the engine over a freshly seeded database until `total` deliveries are delivered;
/// returns wall and process CPU time.
fn drain(
    runtime: &tokio::runtime::Runtime,
    backend: Backend,
    channel: Arc<dyn Channel>,
    port: u16,
    sizes: (usize, usize, i64),
) -> Result<(usize, Duration, Duration)> {
    let (destinations, advisories, batch) = sizes;
    let test = TestDb::new(backend)?;
    let total = seed(&test, port, destinations, advisories)?;
    let engine = Engine::new(
        test.db.clone(),
        channel,
        EngineSettings {
            worker_id: "bench".into(),
            base_url: "https://herald.larkspur.example".into(),
            batch,
            poll_interval: Duration::from_millis(5),
            ..EngineSettings::default()
        },
    )?;
    let cpu = process_cpu();
    let started = Instant::now();
    let mut delivered = 0;
    runtime.block_on(async {
        while delivered < total {
            let report = engine.run_once().await?;
            if report.failed + report.dead + report.retry_scheduled > 0 {
                let mut conn = test.conn()?;
                let errors: Vec<String> =
                    herald_storage::list_deliveries(&mut conn, &Default::default())?
                        .into_iter()
                        .filter_map(|d| d.last_error)
                        .take(3)
                        .collect();
                bail!("deliveries failed: {report:?}: {errors:?}");
            }
            delivered += report.delivered;
            if report.claimed == 0 && report.events_fanned_out == 0 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            ensure!(
                started.elapsed() < Duration::from_secs(900),
                "only {delivered} of {total} delivered after 15 minutes"
            );
        }
        Ok(())
    })?;
    Ok((total, started.elapsed(), process_cpu().saturating_sub(cpu)))
}

fn main() -> Result<()> {
    let destinations = env_usize("BENCH_DESTINATIONS", 100)?.max(1);
    let advisories = env_usize("BENCH_ADVISORIES", 1000)?.max(1);
    let batch = i64::try_from(env_usize("BENCH_BATCH", 32)?.max(1))?;
    let backend = match std::env::var("BENCH_BACKEND").as_deref() {
        Err(_) | Ok("sqlite") => Backend::Sqlite,
        Ok("postgres") => Backend::Postgres,
        Ok(other) => bail!("BENCH_BACKEND={other:?}: expected sqlite or postgres"),
    };
    let wasm = webhook_wasm()?;

    let (port, stats) = start_sink()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let host = PluginHost::new(HostConfig {
        max_instances: u32::try_from(batch).unwrap_or(u32::MAX).max(32),
        ..HostConfig::default()
    })?;
    host.load_plugin(&wasm)?;
    let wasm_channel: Arc<dyn Channel> =
        Arc::new(WasmChannel::new(Arc::new(host), Arc::new(Secrets::new())));
    let native_channel: Arc<dyn Channel> = Arc::new(NativeWebhook {
        client: reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(usize::try_from(batch).unwrap_or(32))
            .build()?,
    });
    println!(
        "engine benchmark on {backend}: {destinations} destinations x {advisories} advisories, batch {batch}"
    );
    let sizes = (destinations, advisories, batch);
    let native = drain(&runtime, backend, native_channel, port, sizes)?;
    let wasm = drain(&runtime, backend, wasm_channel, port, sizes)?;
    let report = |name: &str, (n, wall, cpu): (usize, Duration, Duration)| {
        println!(
            "{name}: {n} deliveries in {:.2} s = {:.0} deliveries/s, {:.0} us CPU per delivery (this process: engine, channel, sink, and on SQLite the database)",
            wall.as_secs_f64(),
            n as f64 / wall.as_secs_f64(),
            cpu.as_secs_f64() * 1e6 / n as f64
        );
    };
    report("native channel through the engine", native);
    report("wasm plugin through the engine   ", wasm);
    println!(
        "engine-level cost ratio wasm/native: wall {:.3}x, CPU {:.3}x (channel-only ratio: benches/delivery.rs)",
        wasm.1.as_secs_f64() / native.1.as_secs_f64(),
        wasm.2.as_secs_f64() / native.2.as_secs_f64().max(1e-9)
    );
    let received = stats.received.load(std::sync::atomic::Ordering::Relaxed);
    ensure!(
        received >= native.0 + wasm.0,
        "the sink saw {received} requests for {} deliveries",
        native.0 + wasm.0
    );
    Ok(())
}
