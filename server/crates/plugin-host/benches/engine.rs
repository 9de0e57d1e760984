//! Engine-level delivery benchmark (not a test; `scripts/bench-delivery` runs it after the
//! channel benchmark): the same fan-out through Herald's real delivery engine, once with the Wasm
//! webhook plugin and once with the native channel of the same behaviour, each on a fresh
//! database: D destinations x A advisories published, then `Engine::run_once` until every
//! delivery is recorded delivered. This is the path a delivery takes in `herald serve` (claim,
//! render templates, call the channel, record the attempt), so the ratio here says what the
//! plugin's isolation costs in service, next to the channel-only ratio of `benches/delivery.rs`.
//!
//! Settings (environment): `BENCH_DESTINATIONS` (default 100), `BENCH_ADVISORIES` (1000: 100,000 deliveries per side),
//! `BENCH_BATCH` (the engine's batch, 32), `BENCH_ROUNDS` (slices per side, alternating which side
//! goes first, each on a fresh database; default 4), `BENCH_BACKEND` (`sqlite`, default, or `postgres`
//! with `HERALD_TEST_POSTGRES_URL`), `HERALD_PLUGIN_DIR`.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail, ensure};
use herald_delivery::{Channel, Engine, EngineSettings};
use herald_plugin_host::{HostConfig, PluginHost, Secrets, WasmChannel};
use herald_storage::testing::{TestDb, loopback_webhook, publish_sample, sample_summary};
use herald_storage::{Backend, accounts::OrgKind, accounts::ensure_organization};

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

/// One side's deliveries, wall and process CPU time, summed over rounds.
#[derive(Default)]
struct Side {
    n: usize,
    wall: Duration,
    cpu: Duration,
}

impl Side {
    fn add(&mut self, (n, wall, cpu): (usize, Duration, Duration)) {
        self.n += n;
        self.wall += wall;
        self.cpu += cpu;
    }
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
                    herald_storage::queue::list_deliveries(&mut conn, &Default::default())?
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
        // The sink is on loopback.
        outbound: herald_plugin_host::OutboundPolicy::loopback(),
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
    let rounds = env_usize("BENCH_ROUNDS", 4)?.clamp(1, advisories);
    println!(
        "engine benchmark on {backend}: {destinations} destinations x {advisories} advisories, batch {batch}, {rounds} rounds per side"
    );
    // The database's own cost (fsync above all) drifts during a run and between runs; so each
    // side runs in `rounds` slices, alternating which goes first, and each slice on a fresh
    // database, so that drift and growing tables weigh on both alike.
    let mut native = Side::default();
    let mut wasm = Side::default();
    let mut ratios = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let part = advisories / rounds + usize::from(round < advisories % rounds);
        let sizes = (destinations, part, batch);
        let (n, w) = if round % 2 == 0 {
            let n = drain(&runtime, backend, native_channel.clone(), port, sizes)?;
            (
                n,
                drain(&runtime, backend, wasm_channel.clone(), port, sizes)?,
            )
        } else {
            let w = drain(&runtime, backend, wasm_channel.clone(), port, sizes)?;
            (
                drain(&runtime, backend, native_channel.clone(), port, sizes)?,
                w,
            )
        };
        let ratio = w.1.as_secs_f64() / n.1.as_secs_f64();
        println!(
            "  round {}: {} deliveries per side: native {:.0}/s, wasm {:.0}/s, wall ratio {ratio:.3}x",
            round + 1,
            n.0,
            n.0 as f64 / n.1.as_secs_f64(),
            w.0 as f64 / w.1.as_secs_f64()
        );
        ratios.push(ratio);
        native.add(n);
        wasm.add(w);
    }
    let report = |name: &str, side: &Side| {
        println!(
            "{name}: {} deliveries in {:.2} s = {:.0} deliveries/s, {:.0} us CPU per delivery (this process: engine, channel, sink, and on SQLite the database)",
            side.n,
            side.wall.as_secs_f64(),
            side.n as f64 / side.wall.as_secs_f64(),
            side.cpu.as_secs_f64() * 1e6 / side.n as f64
        );
    };
    report("native channel through the engine", &native);
    report("wasm plugin through the engine   ", &wasm);
    ratios.sort_by(f64::total_cmp);
    let ratio = wasm.wall.as_secs_f64() / native.wall.as_secs_f64();
    println!(
        "engine-level cost ratio wasm/native: wall {ratio:.3}x (target <= 1.15x): {}; CPU {:.3}x; per round wall {:.3}x to {:.3}x (channel-only ratio: benches/delivery.rs)",
        if ratio <= 1.15 { "met" } else { "NOT met" },
        wasm.cpu.as_secs_f64() / native.cpu.as_secs_f64().max(1e-9),
        ratios.first().copied().unwrap_or_default(),
        ratios.last().copied().unwrap_or_default(),
    );
    let received = stats.received.load(std::sync::atomic::Ordering::Relaxed);
    ensure!(
        received >= native.n + wasm.n,
        "the sink saw {received} requests for {} deliveries",
        native.n + wasm.n
    );
    Ok(())
}
