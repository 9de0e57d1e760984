//! Hot swap with the real components built by `scripts/build-wasm plugins`: a copy of the
//! plugin folder in a temp dir, watched by [`PluginDirWatcher`], new versions installed with
//! [`PluginHost::install`] while a delivery is in flight to a real loopback receiver that holds
//! its answer; broken versions (wrong pin, wrong identity, a self-test that traps) are refused
//! and the running version keeps delivering.

use herald_delivery::{DeliveryError, DestinationConfig, Grants, Notification};
use herald_plugin_host::{HostConfig, HostError, Installed, PluginDirWatcher, PluginHost, Secrets};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

fn built(relative: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../target/plugins");
    let path = root.join(relative);
    assert!(
        path.is_file(),
        "{} missing: run `scripts/build-wasm plugins` first",
        path.display()
    );
    path
}

/// Copies a built component and its manifest into `dir` as `<name>.wasm`/`<name>.toml`.
fn install_copy(src: &Path, dir: &Path, name: &str) -> PathBuf {
    let wasm = dir.join(format!("{name}.wasm"));
    std::fs::copy(src, &wasm).expect("copy wasm");
    std::fs::copy(src.with_extension("toml"), wasm.with_extension("toml")).expect("copy toml");
    wasm
}

/// Writes `bytes` as the component `wasm`, with its manifest taken from `manifest_of` and its
/// pin set to `pin` (the bytes' own hash when `None`).
fn write_version(wasm: &Path, bytes: &[u8], manifest_of: &Path, pin: Option<&str>) {
    let own = hex(&Sha256::digest(bytes));
    let manifest = std::fs::read_to_string(manifest_of.with_extension("toml")).expect("manifest");
    let manifest: String = manifest
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("sha256") {
                format!("sha256 = \"{}\"", pin.unwrap_or(&own))
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(wasm, bytes).expect("write wasm");
    std::fs::write(wasm.with_extension("toml"), manifest + "\n").expect("write toml");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The component with a custom section appended: the same code, a different file and hash,
/// which is what a rebuilt new version looks like to the host.
fn rebuilt(src: &Path, label: &str) -> Vec<u8> {
    let mut bytes = std::fs::read(src).expect("read component");
    let name = b"herald-test-build";
    let mut contents = vec![u8::try_from(name.len()).expect("short name")];
    contents.extend_from_slice(name);
    contents.extend_from_slice(label.as_bytes());
    bytes.push(0); // custom section
    let mut len = contents.len();
    loop {
        let byte = u8::try_from(len & 0x7f).expect("7 bits");
        len >>= 7;
        if len == 0 {
            bytes.push(byte);
            break;
        }
        bytes.push(byte | 0x80);
    }
    bytes.extend_from_slice(&contents);
    bytes
}

/// Polls until the watcher reports something (a change is reported once it held still).
fn settled(watcher: &mut PluginDirWatcher) -> Vec<PathBuf> {
    for _ in 0..3 {
        let changed = watcher.changed();
        if !changed.is_empty() {
            return changed;
        }
    }
    Vec::new()
}

/// A loopback receiver that answers each request with 200 only when the test lets it
/// (`gate`), so a delivery can be held in flight.
struct Receiver {
    port: u16,
    gate: Arc<Semaphore>,
    received: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let gate = Arc::new(Semaphore::new(0));
        let received = Arc::new(AtomicUsize::new(0));
        let (g, r) = (gate.clone(), received.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (gate, received) = (g.clone(), r.clone());
                tokio::spawn(async move {
                    if !read_request(&mut socket).await {
                        return;
                    }
                    received.fetch_add(1, Ordering::SeqCst);
                    let Ok(permit) = gate.acquire().await else {
                        return;
                    };
                    permit.forget();
                    let _ = socket
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                        )
                        .await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Receiver {
            port,
            gate,
            received,
            task,
        }
    }

    fn destination(&self) -> DestinationConfig {
        DestinationConfig {
            destination_id: "dest-hot-swap".into(),
            plugin_id: "webhook".into(),
            config: serde_json::json!({ "url": format!("http://127.0.0.1:{}/hook", self.port) }),
            grants: Grants {
                http_hosts: vec![format!("127.0.0.1:{}", self.port)],
                allow_insecure_http: true,
                allow_private_addresses: true,
                ..Grants::default()
            },
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one request (head and content-length body); false when the peer went away.
async fn read_request(socket: &mut tokio::net::TcpStream) -> bool {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let Ok(n) = socket.read(&mut chunk).await else {
            return false;
        };
        if n == 0 {
            return false;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while buf.len() < end + 4 + length {
                match socket.read(&mut chunk).await {
                    Ok(0) | Err(_) => return false,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            return true;
        }
    }
}

fn notification(id: &str) -> Notification {
    serde_json::from_value(serde_json::json!({
        "delivery_id": id,
        "event_kind": "advisory.published",
        "tracking_id": "EXMED-SA-2026-0042",
        "version": "1",
        "title": "Hot swap test advisory",
        "severity": "high",
        "cvss_score": 8.1,
        "cves": ["CVE-2026-99942"],
        "products": [],
        "initial_release_date": "2026-11-01T00:00:00Z",
        "current_release_date": "2026-11-01T00:00:00Z",
        "tlp": "WHITE",
        "summary": "Update.",
        "portal_url": "https://advisories.examplemed.test/EXMED-SA-2026-0042",
        "csaf_url": "https://advisories.examplemed.test/exmed-sa-2026-0042.json",
        "previous_receipt": null,
        "attempt": 1,
    }))
    .expect("notification")
}

fn sha_of(host: &PluginHost, id: &str) -> String {
    host.list()
        .into_iter()
        .find(|p| p.id == id)
        .map(|p| p.sha256)
        .unwrap_or_else(|| panic!("{id} not loaded"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folder_watch_swaps_new_versions_and_refuses_broken_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let webhook = install_copy(&built("webhook.wasm"), dir.path(), "webhook");
    let trap = install_copy(&built("test/trap.wasm"), dir.path(), "trap");
    let host = Arc::new(
        PluginHost::new(HostConfig {
            // The held delivery must outlast compiling the new version (slow in debug builds).
            call_timeout: Duration::from_secs(60),
            max_instances: 8,
            outbound: herald_plugin_host::OutboundPolicy::loopback(),
            ..HostConfig::default()
        })
        .expect("host"),
    );
    let report = host.load_dir(dir.path()).expect("load");
    assert_eq!(report.loaded.len(), 2, "{:?}", report.refused);
    let mut watcher = PluginDirWatcher::new(dir.path());
    assert!(settled(&mut watcher).is_empty(), "nothing changed yet");

    let receiver = Receiver::start().await;
    let dest = receiver.destination();
    let original = sha_of(&host, "webhook");

    // A delivery in flight: the receiver holds its answer.
    let in_flight = {
        let (host, dest) = (host.clone(), dest.clone());
        tokio::spawn(async move {
            host.deliver(&dest, &notification("in-flight"), &Secrets::new())
                .await
        })
    };
    for _ in 0..500 {
        if receiver.received.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(receiver.received.load(Ordering::SeqCst), 1, "request sent");

    // A new version arrives and is swapped in while that delivery waits.
    let new_version = rebuilt(&built("webhook.wasm"), "v2");
    write_version(&webhook, &new_version, &built("webhook.wasm"), None);
    assert_eq!(settled(&mut watcher), vec![webhook.clone()]);
    match host
        .install(&webhook, std::slice::from_ref(&dest.config))
        .await
    {
        Ok(Installed::Upgraded { previous, current }) => {
            assert_eq!(previous.sha256, original);
            assert_eq!(current.sha256, hex(&Sha256::digest(&new_version)));
        }
        other => panic!("upgrade: {other:?}"),
    }
    let upgraded = sha_of(&host, "webhook");
    assert_ne!(upgraded, original);
    if in_flight.is_finished() {
        panic!("the held delivery finished early: {:?}", in_flight.await);
    }
    receiver.gate.add_permits(1);
    let receipt = in_flight
        .await
        .expect("join")
        .expect("the delivery in flight finished on the version it started with");
    assert_eq!(receipt.detail, "HTTP 200");
    // Installing the same component again changes nothing.
    assert!(matches!(
        host.install(&webhook, std::slice::from_ref(&dest.config))
            .await,
        Ok(Installed::Unchanged(_))
    ));

    // New deliveries run on the new version.
    receiver.gate.add_permits(1);
    host.deliver(&dest, &notification("after-swap"), &Secrets::new())
        .await
        .expect("delivered by the new version");
    assert_eq!(receiver.received.load(Ordering::SeqCst), 2);

    // Broken: a half-copied component, whose bytes do not match the manifest's pin.
    let half = rebuilt(&built("webhook.wasm"), "v3");
    write_version(
        &webhook,
        &half[..half.len() / 2],
        &built("webhook.wasm"),
        Some(&hex(&Sha256::digest(&half))),
    );
    assert_eq!(settled(&mut watcher), vec![webhook.clone()]);
    match host
        .install(&webhook, std::slice::from_ref(&dest.config))
        .await
    {
        Err(e @ HostError::HashMismatch { .. }) => eprintln!("refused: {e}"),
        other => panic!("half-copied component: {other:?}"),
    }
    // Broken: another plugin's code under the webhook's name (its identity does not match).
    let impostor = std::fs::read(built("test/trap.wasm")).expect("read");
    write_version(&webhook, &impostor, &built("webhook.wasm"), None);
    assert_eq!(settled(&mut watcher), vec![webhook.clone()]);
    match host
        .install(&webhook, std::slice::from_ref(&dest.config))
        .await
    {
        Err(e @ HostError::IdentityMismatch { .. }) => eprintln!("refused: {e}"),
        other => panic!("impostor: {other:?}"),
    }
    // Broken: loads and describes itself fine, but traps in deliver: the self-test finds it.
    let trapping = rebuilt(&built("test/trap.wasm"), "v2");
    write_version(&trap, &trapping, &built("test/trap.wasm"), None);
    assert_eq!(settled(&mut watcher), vec![trap.clone()]);
    let trap_before = sha_of(&host, "test-trap");
    match host.install(&trap, &[]).await {
        Err(HostError::SelfTestFailed {
            error: DeliveryError::Permanent(m),
            ..
        }) => {
            eprintln!("refused: {m}");
            assert!(m.contains("deliver") && m.contains("trapped"), "{m}");
        }
        other => panic!("trapping version: {other:?}"),
    }
    assert_eq!(sha_of(&host, "test-trap"), trap_before, "old version stays");

    // Through all that the running webhook version kept delivering.
    assert_eq!(sha_of(&host, "webhook"), upgraded);
    receiver.gate.add_permits(1);
    host.deliver(&dest, &notification("after-refusals"), &Secrets::new())
        .await
        .expect("the running version still delivers");
    assert_eq!(receiver.received.load(Ordering::SeqCst), 3);
    // The self-tests reached no one: every request the receiver saw was a real delivery.
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_plugin_in_the_folder_is_loaded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = PluginHost::new(HostConfig::default()).expect("host");
    host.load_dir(dir.path()).expect("load empty folder");
    let mut watcher = PluginDirWatcher::new(dir.path());
    let webhook = install_copy(&built("webhook.wasm"), dir.path(), "webhook");
    assert_eq!(settled(&mut watcher), vec![webhook.clone()]);
    match host.install(&webhook, &[]).await {
        Ok(Installed::New(summary)) => assert_eq!(summary.id, "webhook"),
        other => panic!("new plugin: {other:?}"),
    }
    assert_eq!(host.list().len(), 1);
}
