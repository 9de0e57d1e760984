//! What the delivery benchmarks share: the loopback sink, the native webhook channel of the
//! same behaviour as plugins/webhook, and process CPU time.

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use herald_delivery::{Channel, DeliveryError, DestinationConfig, Notification, Receipt};

/// The webhook plugin component both benchmarks load: `HERALD_PLUGIN_DIR` or the build
/// script's `target/plugins`.
pub fn webhook_wasm() -> Result<std::path::PathBuf> {
    let plugin_dir = std::env::var_os("HERALD_PLUGIN_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../target/plugins")
        });
    let wasm = plugin_dir.join("webhook.wasm");
    anyhow::ensure!(
        wasm.is_file(),
        "{} is missing: run scripts/build-wasm plugins",
        wasm.display()
    );
    Ok(wasm)
}

/// `name` from the environment as a whole number, `default` when unset.
pub fn env_usize(name: &str, default: usize) -> Result<usize> {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .with_context(|| format!("{name}={v:?} is not a whole number")),
        Err(_) => Ok(default),
    }
}

// ---------------------------------------------------------------------------------------------
// the sink: accepts every POST /hook with 200, counts them and the webhook-ids it saw

/// Connections the sink accepted (kept-alive clients open few).
pub static SINK_CONNECTIONS: AtomicUsize = AtomicUsize::new(0);

#[derive(Default)]
pub struct SinkStats {
    pub received: AtomicUsize,
    pub with_id: AtomicUsize,
    /// Requests to `/slow`, answered after [`SLOW_ANSWER`].
    pub slow_received: AtomicUsize,
}

/// How long `/slow` takes to answer: a hospital's integration engine in trouble.
pub const SLOW_ANSWER: Duration = Duration::from_secs(5);

pub async fn slow_hook(stats: actix_web::web::Data<SinkStats>) -> actix_web::HttpResponse {
    stats.slow_received.fetch_add(1, Ordering::Relaxed);
    actix_web::rt::time::sleep(SLOW_ANSWER).await;
    actix_web::HttpResponse::Ok()
        .content_type("application/json")
        .body("{}")
}

pub async fn hook(
    req: actix_web::HttpRequest,
    body: actix_web::web::Bytes,
    stats: actix_web::web::Data<SinkStats>,
) -> actix_web::HttpResponse {
    stats.received.fetch_add(1, Ordering::Relaxed);
    if req.headers().contains_key("webhook-id") && !body.is_empty() {
        stats.with_id.fetch_add(1, Ordering::Relaxed);
    }
    actix_web::HttpResponse::Ok()
        .content_type("application/json")
        .body("{}")
}

/// Starts the sink on its own thread (actix runtime); returns its port and counters.
pub fn start_sink() -> Result<(u16, Arc<SinkStats>)> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("binding the sink")?;
    let port = listener.local_addr()?.port();
    let stats = Arc::new(SinkStats::default());
    let data = actix_web::web::Data::from(stats.clone());
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(data.clone())
            .route("/hook", actix_web::web::post().to(hook))
            .route("/slow", actix_web::web::post().to(slow_hook))
    })
    .on_connect(|_, _| {
        SINK_CONNECTIONS.fetch_add(1, Ordering::Relaxed);
    })
    .workers(1)
    .backlog(4096)
    .listen(listener)
    .context("starting the sink")?
    .run();
    std::thread::spawn(move || actix_web::rt::System::new().block_on(server));
    Ok((port, stats))
}

// ---------------------------------------------------------------------------------------------
// the native channel: what plugins/webhook does, in Rust

pub struct NativeWebhook {
    pub client: reqwest::Client,
}

#[derive(serde::Deserialize)]
pub struct NativeConfig {
    url: String,
}

/// The webhook plugin's message layout (see plugins/webhook), for the native channel.
#[derive(serde::Serialize)]
pub struct Message<'a, D> {
    #[serde(rename = "type")]
    kind: &'a str,
    delivery_id: &'a str,
    timestamp: u64,
    data: D,
}

#[derive(serde::Serialize)]
pub struct AdvisoryData<'a> {
    tracking_id: &'a str,
    version: &'a str,
    title: &'a str,
    severity: Option<&'a str>,
    cvss_score: Option<f64>,
    cves: &'a [String],
    products: Vec<ProductData<'a>>,
    initial_release_date: &'a str,
    current_release_date: &'a str,
    tlp: &'a str,
    summary: &'a str,
    portal_url: &'a str,
    csaf_url: &'a str,
    previous_receipt: Option<ReceiptData<'a>>,
    attempt: u32,
}

#[derive(serde::Serialize)]
pub struct ProductData<'a> {
    product_id: &'a str,
    name: &'a str,
    version: Option<&'a str>,
    udi_di: Option<&'a str>,
    cpe: Option<&'a str>,
    purl: Option<&'a str>,
}

#[derive(serde::Serialize)]
pub struct ReceiptData<'a> {
    remote_id: Option<&'a str>,
    detail: &'a str,
}

#[async_trait::async_trait]
impl Channel for NativeWebhook {
    async fn deliver(
        &self,
        destination: &DestinationConfig,
        n: &Notification,
    ) -> Result<Receipt, DeliveryError> {
        let config: NativeConfig = serde_json::from_value(destination.config.clone())
            .map_err(|e| DeliveryError::Misconfigured(e.to_string()))?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|e| DeliveryError::Retryable(e.to_string()))?
            .as_secs();
        // Serialised straight from the notification, as the webhook plugin does.
        let body = Message {
            kind: &n.event_kind,
            delivery_id: &n.delivery_id,
            timestamp: now,
            data: AdvisoryData {
                tracking_id: &n.tracking_id,
                version: &n.version,
                title: &n.title,
                severity: n.severity.as_deref(),
                cvss_score: n.cvss_score,
                cves: &n.cves,
                products: n
                    .products
                    .iter()
                    .map(|p| ProductData {
                        product_id: &p.product_id,
                        name: &p.name,
                        version: p.version.as_deref(),
                        udi_di: p.udi_di.as_deref(),
                        cpe: p.cpe.as_deref(),
                        purl: p.purl.as_deref(),
                    })
                    .collect(),
                initial_release_date: &n.initial_release_date,
                current_release_date: &n.current_release_date,
                tlp: &n.tlp,
                summary: &n.summary,
                portal_url: &n.portal_url,
                csaf_url: &n.csaf_url,
                previous_receipt: n.previous_receipt.as_ref().map(|r| ReceiptData {
                    remote_id: r.remote_id.as_deref(),
                    detail: &r.detail,
                }),
                attempt: n.attempt,
            },
        };
        let body =
            serde_json::to_vec(&body).map_err(|e| DeliveryError::Permanent(e.to_string()))?;
        let response = self
            .client
            .post(&config.url)
            .header("content-type", "application/json")
            .header("webhook-id", &n.delivery_id)
            .header("webhook-timestamp", now.to_string())
            .header("user-agent", "herald-webhook/0.1.0")
            .body(body)
            .send()
            .await
            .map_err(|e| DeliveryError::Retryable(e.to_string()))?;
        let status = response.status().as_u16();
        let _ = response.bytes().await;
        match status {
            200..=299 => Ok(Receipt {
                remote_id: Some(n.delivery_id.clone()),
                detail: format!("HTTP {status}"),
            }),
            408 | 429 | 500..=599 => Err(DeliveryError::Retryable(format!("HTTP {status}"))),
            _ => Err(DeliveryError::Permanent(format!("HTTP {status}"))),
        }
    }
}

/// CPU time (user + system) used so far by this whole process, all threads (the sink's
/// included, which costs the same for both channels): from `/proc/self/stat`, in clock ticks
/// of 10 ms, so only runs of a second or more are measured meaningfully.
pub fn process_cpu() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // Fields after the command name (which may hold spaces, hence the last ')').
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|v| v.parse::<u64>().ok()))
        .sum();
    Duration::from_millis(ticks * 10)
}
