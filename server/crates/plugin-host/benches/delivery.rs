//! Delivery benchmark (not a test; `scripts/bench-delivery` builds it in release mode and runs
//! it): N notifications to a loopback HTTP sink through the Wasm webhook plugin
//! (`target/plugins/webhook.wasm` in the plugin host) and through a native Rust channel of the
//! same behaviour (same JSON body, same Standard Webhooks headers, reqwest), in the same run and
//! with the same concurrency. Prints deliveries per second for each, the cost ratio, and the
//! plugin call overhead measured two ways:
//!
//! - no-op call: a `deliver` that the plugin refuses before any HTTP (its config names no valid
//!   URL), i.e. instantiation + argument passing + the guest's config parsing + teardown;
//! - single-flight latency difference: median of sequential Wasm deliveries minus the median of
//!   sequential native ones (the HTTP round trip cancels out; both use a pooled client).
//!
//! Settings (environment): `BENCH_N` (default 100000), `BENCH_CONCURRENCY` (default 32, the
//! engine's batch and the host's instance pool), `BENCH_SAMPLES` (sequential samples for the
//! medians, default 2000), `BENCH_ROUNDS` (slices the N deliveries are split into, native and
//! Wasm alternating, default 4), `BENCH_ONLY` (`wasm` or `native`: run one side, for
//! profiling), `HERALD_PLUGIN_DIR` (default the workspace's `target/plugins`).
//!
//! Besides wall time it reports the process's CPU time per delivery (all threads, the sink's
//! too, which is the same for both): on a machine shared with other work the CPU cost is the
//! steadier figure.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use herald_delivery::{
    Channel, DeliveryError, DestinationConfig, Grants, Notification, NotifiedProduct, Receipt,
};
use herald_plugin_host::{HostConfig, PluginHost, Secrets, WasmChannel};

use common::{NativeWebhook, SINK_CONNECTIONS, env_usize, process_cpu, start_sink, webhook_wasm};

// ---------------------------------------------------------------------------------------------
// fixtures and measurements

fn notification(i: usize) -> Notification {
    Notification {
        delivery_id: format!("bench-{i:08}"),
        event_kind: "advisory.published".into(),
        tracking_id: "LARK-2026-900".into(),
        version: "1".into(),
        title: "Larkspur Nimbus infusion pump: benchmark advisory".into(),
        severity: Some("critical".into()),
        cvss_score: Some(9.8),
        cves: vec!["CVE-2026-9000".into(), "CVE-2026-9001".into()],
        products: vec![NotifiedProduct {
            product_id: "CSAFPID-0001".into(),
            name: "Larkspur Nimbus Infusion Pump 4.2".into(),
            version: Some("4.2".into()),
            udi_di: Some("00812345000017".into()),
            cpe: None,
            purl: None,
        }],
        initial_release_date: "2026-06-01T10:00:00Z".into(),
        current_release_date: "2026-06-01T10:00:00Z".into(),
        tlp: "WHITE".into(),
        summary: "Update the pump firmware to 4.2.1.".into(),
        portal_url: "https://herald.larkspur.example/advisories/LARK-2026-900".into(),
        csaf_url: "https://herald.larkspur.example/.well-known/csaf/white/2026/lark-2026-900.json"
            .into(),
        previous_receipt: None,
        attempt: 1,
        rendered: None,
        unsubscribe_url: None,
    }
}

fn destination(url: String, port: u16) -> DestinationConfig {
    DestinationConfig {
        destination_id: "bench-destination".into(),
        plugin_id: "webhook".into(),
        config: serde_json::json!({ "url": url }),
        grants: Grants {
            http_hosts: vec![format!("127.0.0.1:{port}")],
            allow_insecure_http: true,
            allow_private_addresses: true,
            ..Grants::default()
        },
    }
}

/// Wall and CPU time of a run.
#[derive(Default, Clone, Copy)]
struct Cost {
    wall: Duration,
    cpu: Duration,
}

impl std::ops::AddAssign for Cost {
    fn add_assign(&mut self, other: Cost) {
        self.wall += other.wall;
        self.cpu += other.cpu;
    }
}

/// `n` deliveries, `concurrency` at a time; returns the wall and process CPU time. Every one
/// must succeed.
async fn throughput(
    channel: Arc<dyn Channel>,
    dest: Arc<DestinationConfig>,
    n: usize,
    concurrency: usize,
) -> Result<Cost> {
    let next = Arc::new(AtomicUsize::new(0));
    let cpu = process_cpu();
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (channel, dest, next) = (channel.clone(), dest.clone(), next.clone());
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<(), DeliveryError>(());
                }
                channel.deliver(&dest, &notification(i)).await?;
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.context("a delivery task panicked")??;
    }
    Ok(Cost {
        wall: started.elapsed(),
        cpu: process_cpu().saturating_sub(cpu),
    })
}

/// Times `samples` sequential calls; returns the sorted durations. `expect_ok` says whether
/// each call must succeed (a delivery) or fail as misconfigured (the no-op call).
async fn sequential(
    channel: &dyn Channel,
    dest: &DestinationConfig,
    samples: usize,
    expect_ok: bool,
) -> Result<Vec<Duration>> {
    let mut times = Vec::with_capacity(samples);
    for i in 0..samples {
        let note = notification(i);
        let t = Instant::now();
        let r = channel.deliver(dest, &note).await;
        times.push(t.elapsed());
        match (expect_ok, r) {
            (true, Ok(_)) | (false, Err(DeliveryError::Misconfigured(_))) => {}
            (_, other) => bail!("sample {i}: unexpected result {other:?}"),
        }
    }
    times.sort();
    Ok(times)
}

fn median(sorted: &[Duration]) -> Duration {
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

fn p99(sorted: &[Duration]) -> Duration {
    sorted
        .get(sorted.len() * 99 / 100)
        .copied()
        .unwrap_or_default()
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() -> Result<()> {
    let n = env_usize("BENCH_N", 100_000)?;
    let concurrency = env_usize("BENCH_CONCURRENCY", 32)?.max(1);
    let samples = env_usize("BENCH_SAMPLES", 2000)?.max(1);
    let rounds = env_usize("BENCH_ROUNDS", 4)?;
    let only = std::env::var("BENCH_ONLY").ok();
    let only = match only.as_deref() {
        None | Some("") => None,
        Some("wasm") => Some("wasm"),
        Some("native") => Some("native"),
        Some(other) => bail!("BENCH_ONLY={other:?}: expected wasm or native"),
    };
    let wasm = webhook_wasm()?;

    let (port, stats) = start_sink()?;
    let url = format!("http://127.0.0.1:{port}/hook");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;

    let loaded = Instant::now();
    let host = PluginHost::new(HostConfig {
        max_instances: u32::try_from(concurrency).unwrap_or(u32::MAX).max(32),
        // BENCH_PERFMAP=1: let `perf record` name the plugin's functions.
        perf_map: std::env::var_os("BENCH_PERFMAP").is_some(),
        // The sink is on loopback.
        outbound: herald_plugin_host::OutboundPolicy::loopback(),
        ..HostConfig::default()
    })
    .context("starting the plugin host")?;
    host.load_plugin(&wasm)
        .with_context(|| format!("loading {}", wasm.display()))?;
    let load_time = loaded.elapsed();
    let wasm_channel: Arc<dyn Channel> =
        Arc::new(WasmChannel::new(Arc::new(host), Arc::new(Secrets::new())));
    let native_channel: Arc<dyn Channel> = Arc::new(NativeWebhook {
        client: reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(concurrency)
            .build()?,
    });
    let native_fresh_client = Arc::new(FreshClientWebhook);
    let dest = Arc::new(destination(url.clone(), port));
    let noop_dest = destination("ftp://not-a-webhook".into(), port);

    println!(
        "delivery benchmark: N={n}, concurrency={concurrency}, samples={samples}, plugin {} (loaded in {:.0} ms)",
        wasm.display(),
        load_time.as_secs_f64() * 1e3
    );
    runtime.block_on(async {
        // warm-up: connections, caches, lazily initialised code
        throughput(wasm_channel.clone(), dest.clone(), 500, concurrency).await?;
        throughput(native_channel.clone(), dest.clone(), 500, concurrency).await?;

        // Alternate slices so that drift (other builds on a shared machine) hits both alike.
        let slices = rounds.max(1);
        let mut wasm = Cost::default();
        let mut native = Cost::default();
        for i in 0..slices {
            let part = n / slices + usize::from(i < n % slices);
            if only != Some("wasm") {
                native += throughput(native_channel.clone(), dest.clone(), part, concurrency).await?;
            }
            if only != Some("native") {
                wasm += throughput(wasm_channel.clone(), dest.clone(), part, concurrency).await?;
            }
        }
        let per = |c: Cost| {
            (
                n as f64 / c.wall.as_secs_f64(),
                c.cpu.as_secs_f64() * 1e6 / n as f64,
            )
        };
        let (wasm_rate, wasm_cpu) = per(wasm);
        let (native_rate, native_cpu) = per(native);
        println!(
            "wasm webhook plugin:    {n} deliveries in {:.2} s = {wasm_rate:.0} deliveries/s, {wasm_cpu:.1} us CPU per delivery (process, sink included)",
            wasm.wall.as_secs_f64()
        );
        println!(
            "native reqwest channel: {n} deliveries in {:.2} s = {native_rate:.0} deliveries/s, {native_cpu:.1} us CPU per delivery (process, sink included)",
            native.wall.as_secs_f64()
        );
        if only.is_none() {
            let ratio = wasm.wall.as_secs_f64() / native.wall.as_secs_f64();
            let cpu_ratio = wasm.cpu.as_secs_f64() / native.cpu.as_secs_f64().max(1e-9);
            println!(
                "cost ratio wasm/native: wall {ratio:.3}x (target <= 1.15x): {}; CPU {cpu_ratio:.3}x",
                if ratio <= 1.15 { "met" } else { "NOT met" }
            );
        }

        let noop = sequential(wasm_channel.as_ref(), &noop_dest, samples, false).await?;
        let wasm_seq = sequential(wasm_channel.as_ref(), &dest, samples, true).await?;
        let native_seq = sequential(native_channel.as_ref(), &dest, samples, true).await?;
        let fresh_seq = sequential(native_fresh_client.as_ref(), &dest, samples, true).await?;
        println!(
            "plugin no-op call (instantiate, call, refuse config, drop): median {:.1} us, p99 {:.1} us (target median < 50 us): {}",
            us(median(&noop)),
            us(p99(&noop)),
            if median(&noop) < Duration::from_micros(50) { "met" } else { "NOT met" }
        );
        println!(
            "single delivery, sequential: wasm median {:.1} us, native (pooled client) {:.1} us, native (new client per call, as the host did before it shared one) {:.1} us",
            us(median(&wasm_seq)),
            us(median(&native_seq)),
            us(median(&fresh_seq))
        );
        println!(
            "plugin overhead per delivery (wasm median - native pooled median): {:.1} us; vs native with a new client per call: {:.1} us",
            us(median(&wasm_seq)) - us(median(&native_seq)),
            us(median(&wasm_seq)) - us(median(&fresh_seq))
        );
        Ok::<(), anyhow::Error>(())
    })?;
    let received = stats.received.load(Ordering::Relaxed);
    let with_id = stats.with_id.load(Ordering::Relaxed);
    println!(
        "sink received {received} requests, {with_id} with a webhook-id and a body, over {} connections",
        SINK_CONNECTIONS.load(Ordering::Relaxed)
    );
    ensure!(
        received == with_id,
        "some requests came without webhook-id or body"
    );
    Ok(())
}

/// The native channel with a new reqwest client per call, as the plugin host's `http`
/// capability did before it shared one client per host: shows what that used to cost.
struct FreshClientWebhook;

#[async_trait::async_trait]
impl Channel for FreshClientWebhook {
    async fn deliver(
        &self,
        destination: &DestinationConfig,
        n: &Notification,
    ) -> Result<Receipt, DeliveryError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(|e| DeliveryError::Retryable(e.to_string()))?;
        NativeWebhook { client }.deliver(destination, n).await
    }
}
