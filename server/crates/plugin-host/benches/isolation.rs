//! Head-of-line blocking benchmark (not a test; `scripts/bench-delivery` runs it): D destinations
//! x A advisories through Herald's delivery engine with the Wasm webhook plugin on a fresh
//! database, once with every destination answering at once and once with 1% of them (at least
//! one) answering only after 5 s, in the same run. What is measured is the rate at which the
//! other 99% are served: with continuous scheduling a slow receiver holds only its own slot, so
//! the ratio stays near 1. For comparison the same slow scenario also runs round by round
//! (`Engine::run_once`, which waits for a round's slowest call; how the engine worked before),
//! for a bounded time.
//!
//! Settings (environment): `BENCH_DESTINATIONS` (default 500), `BENCH_ADVISORIES` (20),
//! `BENCH_SLOW_PERCENT` (1), `BENCH_BACKEND` (`sqlite`, default, or `postgres` with
//! `HERALD_TEST_POSTGRES_URL`), `BENCH_ROUNDS_SECONDS` (how long the round-by-round comparison
//! runs, 20), `HERALD_PLUGIN_DIR`.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Result, bail, ensure};
use herald_delivery::{Channel, Engine, EngineSettings};
use herald_plugin_host::{HostConfig, PluginHost, Secrets, WasmChannel};
use herald_storage::testing::{
    TestDb, loopback_webhook, loopback_webhook_at, publish_sample, sample_summary,
};
use herald_storage::{Backend, accounts::OrgKind, accounts::ensure_organization};

use common::{SinkStats, env_usize, start_sink, webhook_wasm};

/// Seeds `destinations` destinations, `slow` of them at the sink's slow path, and `advisories`
/// advisories; returns how many deliveries go to the fast ones.
fn seed(
    test: &TestDb,
    port: u16,
    destinations: usize,
    slow: usize,
    advisories: usize,
) -> Result<usize> {
    let mut conn = test.conn()?;
    let conn = &mut *conn;
    let org = ensure_organization(conn, OrgKind::Manufacturer, "Larkspur Medical")?;
    let step = (destinations / slow.max(1)).max(1);
    for i in 0..destinations {
        // Spread the slow ones through the destination list (and so through claim order).
        let is_slow = slow > 0 && i % step == 0 && i / step < slow;
        if is_slow {
            loopback_webhook_at(conn, &org.id, &format!("slow sink {i:04}"), port, "/slow")?;
        } else {
            loopback_webhook(conn, &org.id, &format!("sink {i:04}"), port)?;
        }
    }
    for i in 0..advisories {
        publish_sample(
            conn,
            &org.id,
            &sample_summary(
                &format!("LARK-2026-H{i:04}"),
                &[("1", "2026-08-01T10:00:00Z")],
                Some(("high", 8.1)),
                &[],
            ),
        )?;
    }
    Ok((destinations - slow) * advisories)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Continuous,
    Rounds,
}

/// Runs one scenario on a fresh database until the fast destinations got all `fast_total` or
/// `cap` passed; returns fast deliveries received and the time taken.
#[allow(clippy::too_many_arguments)]
fn scenario(
    runtime: &tokio::runtime::Runtime,
    backend: Backend,
    channel: Arc<dyn Channel>,
    (port, stats): (u16, &SinkStats),
    destinations: usize,
    slow: usize,
    advisories: usize,
    mode: Mode,
    cap: Duration,
) -> Result<(usize, Duration)> {
    let test = TestDb::new(backend)?;
    let fast_total = seed(&test, port, destinations, slow, advisories)?;
    let engine = Engine::new(
        test.db.clone(),
        channel,
        EngineSettings {
            worker_id: "bench".into(),
            base_url: "https://herald.larkspur.example".into(),
            poll_interval: Duration::from_millis(5),
            ..EngineSettings::default()
        },
    )?;
    let before = stats.received.load(Ordering::Relaxed);
    let fast = || stats.received.load(Ordering::Relaxed) - before;
    let started = Instant::now();
    runtime.block_on(async {
        match mode {
            Mode::Continuous => {
                let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
                let task = tokio::spawn({
                    let engine = engine.clone();
                    async move {
                        engine
                            .run_until(async {
                                let _ = stopped.await;
                            })
                            .await
                    }
                });
                while fast() < fast_total && started.elapsed() < cap {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                let _ = stop.send(());
                let _ = task.await;
            }
            Mode::Rounds => {
                while fast() < fast_total && started.elapsed() < cap {
                    let report = engine.run_once().await?;
                    if report.failed + report.dead > 0 {
                        bail!("deliveries failed: {report:?}");
                    }
                }
            }
        }
        Ok(())
    })?;
    let took = started.elapsed();
    let got = fast();
    if mode == Mode::Continuous {
        ensure!(
            got >= fast_total,
            "only {got} of {fast_total} fast deliveries within {cap:?}"
        );
    }
    Ok((got.min(fast_total), took))
}

fn main() -> Result<()> {
    let destinations = env_usize("BENCH_DESTINATIONS", 500)?.max(2);
    let advisories = env_usize("BENCH_ADVISORIES", 20)?.max(1);
    let percent = env_usize("BENCH_SLOW_PERCENT", 1)?.min(50);
    let slow = (destinations * percent / 100).max(1);
    let rounds_cap = Duration::from_secs(env_usize("BENCH_ROUNDS_SECONDS", 20)? as u64);
    let backend = match std::env::var("BENCH_BACKEND").as_deref() {
        Err(_) | Ok("sqlite") => Backend::Sqlite,
        Ok("postgres") => Backend::Postgres,
        Ok(other) => bail!("BENCH_BACKEND={other:?}: expected sqlite or postgres"),
    };
    let (port, stats) = start_sink()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let host = PluginHost::new(HostConfig {
        outbound: herald_plugin_host::OutboundPolicy::loopback(),
        ..HostConfig::default()
    })?;
    host.load_plugin(&webhook_wasm()?)?;
    let channel: Arc<dyn Channel> =
        Arc::new(WasmChannel::new(Arc::new(host), Arc::new(Secrets::new())));
    println!(
        "isolation benchmark on {backend}: {destinations} destinations x {advisories} advisories, {slow} destination(s) answering after {:?}, engine pool {}",
        common::SLOW_ANSWER,
        EngineSettings::default().max_in_flight
    );
    let cap = Duration::from_secs(900);
    let sink = (port, stats.as_ref());
    let (all_n, all_t) = scenario(
        &runtime,
        backend,
        channel.clone(),
        sink,
        destinations,
        0,
        advisories,
        Mode::Continuous,
        cap,
    )?;
    let (slow_n, slow_t) = scenario(
        &runtime,
        backend,
        channel.clone(),
        sink,
        destinations,
        slow,
        advisories,
        Mode::Continuous,
        cap,
    )?;
    let all_rate = all_n as f64 / all_t.as_secs_f64();
    let slow_rate = slow_n as f64 / slow_t.as_secs_f64();
    println!(
        "all answering at once: {all_n} deliveries in {:.2} s = {all_rate:.0}/s",
        all_t.as_secs_f64()
    );
    println!(
        "{percent}% answering after {:?}: the other {slow_n} in {:.2} s = {slow_rate:.0}/s",
        common::SLOW_ANSWER,
        slow_t.as_secs_f64()
    );
    println!(
        "ratio (with slow receivers / without): {:.3}x",
        slow_rate / all_rate
    );
    if !rounds_cap.is_zero() {
        let (n, t) = scenario(
            &runtime,
            backend,
            channel,
            sink,
            destinations,
            slow,
            advisories,
            Mode::Rounds,
            rounds_cap,
        )?;
        let rate = n as f64 / t.as_secs_f64();
        println!(
            "for comparison, round by round (each round waits for its slowest call), same slow scenario: {n} fast deliveries in {:.2} s = {rate:.0}/s, {:.3}x of all-at-once",
            t.as_secs_f64(),
            rate / all_rate
        );
    }
    Ok(())
}
