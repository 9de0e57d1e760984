//! What the engine tests share: a fresh database per test (SQLite or PostgreSQL), a real
//! loopback HTTP receiver scripted per path (status, header, body, and how long it takes to
//! answer), and a small native webhook channel built on reqwest.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use herald_delivery::{
    Channel, DeliveryError, DestinationConfig, Engine, EngineSettings, Notification, Receipt,
};
use herald_storage::testing::{TestDb, manufacturer};
use herald_storage::*;
#[allow(unused_imports)] // the whole crate, as a test sees it
use herald_storage::{
    accounts::*, advisories::*, audit::*, breaker::*, catalog::*, customers::*, delivery_log::*,
    destinations::*, drafts::*, entitlement::*, exposure::*, import_staging::*, installed_base::*,
    keys::*, lifecycle::*, metrics::*, outages::*, queue::*, releases::*, remediation::*,
    reminders::*, secrets::*, sessions::*, sites::*, subscriptions::*, system_mail::*,
    templates::*, throttle::*,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub const D1: &str = "2026-05-04T08:00:00Z";
pub const D2: &str = "2026-05-20T08:00:00Z";

// ---------------------------------------------------------------------------------------------
// a tiny loopback receiver: per path, a script of responses; remembers every request

#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub webhook_id: String,
    pub body: serde_json::Value,
    /// When the request arrived.
    pub at: std::time::Instant,
}

#[derive(Default)]
pub struct Receiver {
    /// path -> responses still to give (status, extra header, body); the last one repeats.
    pub scripts: HashMap<String, Vec<Reply>>,
    /// path -> how long the receiver takes before it answers (a slow integration engine).
    pub delays: HashMap<String, Duration>,
    pub seen: Vec<Seen>,
}

pub type Shared = Arc<Mutex<Receiver>>;
/// A scripted response: status, an extra header, body.
pub type Reply = (u16, Option<(&'static str, &'static str)>, String);

async fn serve(listener: TcpListener, state: Shared) {
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            return;
        };
        let state = state.clone();
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let (head, body) = loop {
                let Ok(n) = sock.read(&mut chunk).await else {
                    return;
                };
                if n == 0 {
                    return;
                }
                buf.extend_from_slice(&chunk[..n]);
                if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..end]).to_string();
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse().ok())?
                        })
                        .unwrap_or(0);
                    while buf.len() < end + 4 + len {
                        let Ok(n) = sock.read(&mut chunk).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    break (head, buf[end + 4..end + 4 + len].to_vec());
                }
            };
            let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
            let webhook_id = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("webhook-id")
                        .then(|| v.trim().to_string())
                })
                .unwrap_or_default();
            let delay = {
                let st = state.lock().unwrap_or_else(|p| p.into_inner());
                st.delays.get(&path).copied()
            };
            if let Some(delay) = delay {
                tokio::time::sleep(delay).await;
            }
            let (status, header, text) = {
                let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
                st.seen.push(Seen {
                    path: path.clone(),
                    webhook_id,
                    body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
                    at: std::time::Instant::now(),
                });
                let n = st.seen.iter().filter(|s| s.path == path).count();
                match st.scripts.get(&path) {
                    Some(script) if !script.is_empty() => {
                        script[(n - 1).min(script.len() - 1)].clone()
                    }
                    _ => (404, None, String::new()),
                }
            };
            let extra = header
                .map(|(k, v)| format!("{k}: {v}\r\n"))
                .unwrap_or_default();
            let response = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{extra}connection: close\r\n\r\n{text}",
                text.len()
            );
            let _ = sock.write_all(response.as_bytes()).await;
            let _ = sock.shutdown().await;
        });
    }
}

// ---------------------------------------------------------------------------------------------
// a native webhook channel

pub struct Webhook {
    pub client: reqwest::Client,
}

#[async_trait::async_trait]
impl Channel for Webhook {
    async fn deliver(
        &self,
        dest: &DestinationConfig,
        note: &Notification,
    ) -> Result<Receipt, DeliveryError> {
        let url = dest
            .config
            .get("url")
            .and_then(|u| u.as_str())
            .ok_or_else(|| DeliveryError::Misconfigured("config has no url".into()))?;
        let host = url
            .split("://")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .ok_or_else(|| DeliveryError::Misconfigured(format!("bad url {url}")))?;
        if !dest.grants.http_hosts.iter().any(|h| h == host) {
            return Err(DeliveryError::Misconfigured(format!(
                "host {host} not granted"
            )));
        }
        let resp = self
            .client
            .post(url)
            .header("webhook-id", &note.delivery_id)
            .json(note)
            .send()
            .await
            .map_err(|e| DeliveryError::Retryable(e.to_string()))?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u32>().ok());
        let body = resp.text().await.unwrap_or_default();
        match status.as_u16() {
            200..=299 => {
                let id = serde_json::from_str::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v.get("id").and_then(|i| i.as_str()).map(str::to_string));
                Ok(Receipt {
                    remote_id: id,
                    detail: format!("HTTP {}", status.as_u16()),
                })
            }
            429 => Err(DeliveryError::RetryAfter {
                seconds: retry_after.unwrap_or(60),
                message: "HTTP 429".into(),
            }),
            500..=599 => Err(DeliveryError::Retryable(format!(
                "HTTP {}",
                status.as_u16()
            ))),
            other => Err(DeliveryError::Permanent(format!("HTTP {other}"))),
        }
    }
}

// ---------------------------------------------------------------------------------------------

pub struct Rig {
    pub test: TestDb,
    pub receiver: Shared,
    pub port: u16,
    pub org_id: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.server.abort();
    }
}

pub async fn rig(backend: Backend) -> Result<Rig> {
    let test = tokio::task::spawn_blocking(move || TestDb::new(backend)).await??;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let receiver: Shared = Arc::default();
    let server = tokio::spawn(serve(listener, receiver.clone()));
    let org_id = manufacturer(&mut *test.conn()?)?.id;
    Ok(Rig {
        test,
        receiver,
        port,
        org_id,
        server,
    })
}

impl Rig {
    pub fn destination(&self, path: &str, script: Vec<Reply>) -> Result<Destination> {
        self.destination_of(&self.org_id, path, script)
    }

    /// A destination of organization `org_id` answering at `path` by `script`.
    pub fn destination_of(
        &self,
        org_id: &str,
        path: &str,
        script: Vec<Reply>,
    ) -> Result<Destination> {
        self.receiver
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .scripts
            .insert(path.to_string(), script);
        Ok(create_destination(
            &mut *self.test.conn()?,
            &NewDestination {
                org_id,
                plugin_id: "native-webhook",
                name: path,
                config: serde_json::json!({ "url": format!("http://127.0.0.1:{}{path}", self.port) }),
                grants: serde_json::json!({
                    "http_hosts": [format!("127.0.0.1:{}", self.port)],
                    "allow_insecure_http": true,
                    "allow_private_addresses": true,
                    "tcp_endpoints": [],
                    "smtp": false,
                }),
                enabled: true,
                min_severity: None,
            },
            "test",
        )?)
    }

    pub fn engine(&self, max_attempts: u32) -> Result<Engine> {
        self.engine_with(Self::settings(max_attempts))
    }

    /// The tests' engine settings: quick polls and backoff.
    pub fn settings(max_attempts: u32) -> EngineSettings {
        EngineSettings {
            worker_id: "engine-test".into(),
            base_url: "https://herald.larkspur.example/".into(),
            batch: 8,
            max_in_flight: 8,
            poll_interval: Duration::from_millis(20),
            max_attempts,
            backoff_base: Duration::from_millis(100),
            backoff_cap: Duration::from_millis(200),
            retry_after_cap: Duration::from_secs(3600),
            lease: Duration::from_secs(30),
            heartbeat: Duration::from_secs(3),
            attempt_timeout: Duration::from_secs(5),
            unsubscribe_key: Some(SecretKey::from_bytes([7; 32])),
            ..EngineSettings::default()
        }
    }

    pub fn engine_with(&self, settings: EngineSettings) -> Result<Engine> {
        Ok(Engine::new(
            self.test.db.clone(),
            Arc::new(Webhook {
                client: reqwest::Client::new(),
            }),
            settings,
        )?)
    }

    /// Makes `path` answer only after `delay`.
    pub fn slow(&self, path: &str, delay: Duration) {
        self.receiver
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .delays
            .insert(path.to_string(), delay);
    }

    pub fn seen(&self, path: &str) -> Vec<Seen> {
        self.receiver
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .seen
            .iter()
            .filter(|s| s.path == path)
            .cloned()
            .collect()
    }

    pub fn deliveries(&self, dest: &Destination) -> Result<Vec<Delivery>> {
        Ok(list_deliveries(
            &mut *self.test.conn()?,
            &DeliveryFilter {
                destination_id: Some(dest.id.clone()),
                ..Default::default()
            },
        )?)
    }
}
