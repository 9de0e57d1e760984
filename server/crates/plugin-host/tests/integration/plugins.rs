//! End-to-end tests of the plugin host with the real components built by
//! `scripts/build-wasm plugins` (found in `target/plugins/`), a real loopback HTTP receiver and
//! real hostile plugins: each must be contained and the host must keep delivering afterwards.

use herald_delivery::{
    Channel, DeliveryError, DestinationConfig, Grants, Notification, NotifiedProduct,
};
use herald_plugin_host::{
    Capability, ConfigFieldKind, HostConfig, HostError, OutboundPolicy, PluginHost, Secrets,
    WasmChannel,
};
use std::collections::{BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

// ---- fixtures --------------------------------------------------------------------------------

fn plugins_dir() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..");
    let root = root.canonicalize().unwrap_or(root);
    let dir = root.join("target/plugins");
    assert!(
        dir.join("webhook.wasm").is_file() && dir.join("test/trap.wasm").is_file(),
        "plugin components missing in {}: run `scripts/build-wasm plugins` first",
        dir.display()
    );
    dir
}

pub(crate) fn component(name: &str) -> PathBuf {
    let dir = plugins_dir();
    match name {
        "webhook" => dir.join("webhook.wasm"),
        other => dir.join("test").join(format!("{other}.wasm")),
    }
}

pub(crate) fn test_config() -> HostConfig {
    HostConfig {
        call_timeout: Duration::from_secs(1),
        max_instances: 8,
        // The receivers are on loopback: the operator lets plugins reach it.
        outbound: OutboundPolicy::loopback(),
        ..HostConfig::default()
    }
}

fn host_with(config: HostConfig, plugins: &[&str]) -> PluginHost {
    let host = PluginHost::new(config).expect("host");
    for name in plugins {
        let started = Instant::now();
        host.load_plugin(&component(name))
            .unwrap_or_else(|e| panic!("load {name}: {e}"));
        eprintln!("timing: load+compile {name}: {:?}", started.elapsed());
    }
    host
}

pub(crate) fn notification(delivery_id: &str) -> Notification {
    Notification {
        delivery_id: delivery_id.into(),
        event_kind: "advisory.published".into(),
        tracking_id: "EXMED-SA-2026-0007".into(),
        version: "1".into(),
        title: "Examplemed InfuCare pump: hard-coded service password".into(),
        severity: Some("high".into()),
        cvss_score: Some(8.1),
        cves: vec!["CVE-2026-99901".into()],
        products: vec![NotifiedProduct {
            product_id: "CSAFPID-0001".into(),
            name: "InfuCare 300".into(),
            version: Some("4.2".into()),
            udi_di: Some("04012345678901".into()),
            ..NotifiedProduct::default()
        }],
        initial_release_date: "2026-11-01T00:00:00Z".into(),
        current_release_date: "2026-11-01T00:00:00Z".into(),
        tlp: "WHITE".into(),
        summary: "Update to firmware 4.3.".into(),
        portal_url: "https://advisories.examplemed.test/EXMED-SA-2026-0007".into(),
        csaf_url:
            "https://advisories.examplemed.test/.well-known/csaf/white/2026/exmed-sa-2026-0007.json"
                .into(),
        previous_receipt: None,
        attempt: 1,
        rendered: None,
        unsubscribe_url: None,
    }
}

/// A destination for `plugin` posting to `receiver`, with loopback http allowed.
fn destination(plugin: &str, receiver: &Receiver, config: serde_json::Value) -> DestinationConfig {
    DestinationConfig {
        destination_id: format!("dest-{plugin}"),
        plugin_id: plugin.into(),
        config,
        grants: Grants {
            http_hosts: vec![receiver.host_port()],
            allow_insecure_http: true,
            allow_private_addresses: true,
            ..Grants::default()
        },
    }
}

pub(crate) fn webhook_destination(receiver: &Receiver) -> DestinationConfig {
    destination(
        "webhook",
        receiver,
        serde_json::json!({ "url": receiver.url("/hook"), "authorization_secret": "hook_token" }),
    )
}

pub(crate) fn secrets() -> Secrets {
    Secrets::new().with("hook_token", "Bearer tok-3141592653")
}

// ---- a tiny loopback HTTP receiver -------------------------------------------------------------

#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// When the request had arrived whole.
    pub(crate) at: Instant,
}

impl Recorded {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("receiver got JSON")
    }
}

type Reply = (u16, Vec<(String, String)>);

pub(crate) struct Receiver {
    pub(crate) addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    replies: Arc<Mutex<VecDeque<Reply>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// Answers 200 unless replies were queued with [`Receiver::reply`].
    pub(crate) async fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let replies: Arc<Mutex<VecDeque<Reply>>> = Arc::new(Mutex::new(VecDeque::new()));
        let (req, rep) = (requests.clone(), replies.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (req, rep) = (req.clone(), rep.clone());
                tokio::spawn(async move {
                    let Some(recorded) = read_request(&mut socket).await else {
                        return;
                    };
                    // A reply header `x-echo: authorization` makes the body echo that request
                    // header, as a careless receiver's error page might.
                    let (status, headers) = rep
                        .lock()
                        .expect("lock")
                        .pop_front()
                        .unwrap_or((200, Vec::new()));
                    let body = match headers.iter().find(|(k, _)| k == "x-echo") {
                        Some((_, h)) => format!("you sent {}", recorded.header(h).unwrap_or("")),
                        None => "ok".to_string(),
                    };
                    req.lock().expect("lock").push(recorded);
                    let mut out = format!(
                        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n",
                        body.len()
                    );
                    for (k, v) in headers {
                        out.push_str(&format!("{k}: {v}\r\n"));
                    }
                    out.push_str("\r\n");
                    out.push_str(&body);
                    let _ = socket.write_all(out.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Receiver {
            addr,
            requests,
            replies,
            task,
        }
    }

    pub(crate) fn host_port(&self) -> String {
        format!("127.0.0.1:{}", self.addr.port())
    }
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.addr.port())
    }
    fn reply(&self, status: u16, headers: &[(&str, &str)]) {
        self.replies.lock().expect("lock").push_back((
            status,
            headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ));
    }
    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().expect("lock").clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub(crate) async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<Recorded> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let path = first.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Recorded {
        method,
        path,
        headers,
        body,
        at: Instant::now(),
    })
}

// ---- tests -------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_posts_json_with_webhook_id_to_a_real_receiver() {
    let receiver = Receiver::start().await;
    let host = Arc::new(host_with(test_config(), &["webhook"]));
    let channel = WasmChannel::new(host.clone(), Arc::new(secrets()));
    let dest = webhook_destination(&receiver);

    let started = Instant::now();
    let receipt = channel
        .deliver(&dest, &notification("dlv-0001"))
        .await
        .expect("delivered");
    eprintln!(
        "timing: first webhook deliver (instantiate + http): {:?}",
        started.elapsed()
    );
    assert_eq!(receipt.remote_id.as_deref(), Some("dlv-0001"));
    assert_eq!(receipt.detail, "HTTP 200");

    let seen = receiver.requests();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let req = &seen[0];
    assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/hook"));
    assert_eq!(req.header("webhook-id"), Some("dlv-0001"));
    assert_eq!(req.header("content-type"), Some("application/json"));
    // The plugin asked for {{secret:hook_token}}; only the host knew the value.
    assert_eq!(req.header("authorization"), Some("Bearer tok-3141592653"));
    let ts: u64 = req
        .header("webhook-timestamp")
        .expect("timestamp")
        .parse()
        .expect("seconds");
    assert!(ts > 1_700_000_000, "{ts}");
    let body = req.json();
    assert_eq!(body["type"], "advisory.published");
    assert_eq!(body["delivery_id"], "dlv-0001");
    assert_eq!(body["data"]["tracking_id"], "EXMED-SA-2026-0007");
    assert_eq!(body["data"]["cves"][0], "CVE-2026-99901");
    assert_eq!(body["data"]["products"][0]["udi_di"], "04012345678901");
    assert_eq!(body["data"]["cvss_score"], 8.1);

    // Later calls reuse the pre-instantiated component: time them.
    let started = Instant::now();
    for i in 0..10 {
        channel
            .deliver(&dest, &notification(&format!("dlv-1{i:03}")))
            .await
            .expect("delivered");
    }
    eprintln!(
        "timing: webhook deliver, mean of 10: {:?}",
        started.elapsed() / 10
    );
    assert_eq!(receiver.requests().len(), 11);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_classifies_receiver_answers() {
    let receiver = Receiver::start().await;
    let host = host_with(test_config(), &["webhook"]);
    let dest = webhook_destination(&receiver);
    let n = notification("dlv-0002");

    receiver.reply(429, &[("retry-after", "30")]);
    match host.deliver(&dest, &n, &secrets()).await {
        Err(DeliveryError::RetryAfter { seconds: 30, .. }) => {}
        other => panic!("429 with Retry-After: {other:?}"),
    }
    receiver.reply(503, &[]);
    assert!(matches!(
        host.deliver(&dest, &n, &secrets()).await,
        Err(DeliveryError::Retryable(m)) if m.contains("503")
    ));
    receiver.reply(404, &[]);
    assert!(matches!(
        host.deliver(&dest, &n, &secrets()).await,
        Err(DeliveryError::Permanent(m)) if m.contains("404")
    ));
    // A receiver echoing the secret back: the error the engine records has it redacted.
    receiver.reply(401, &[("x-echo", "authorization")]);
    match host.deliver(&dest, &n, &secrets()).await {
        Err(DeliveryError::Permanent(m)) => {
            assert!(m.contains("you sent [secret:hook_token]"), "{m}");
            assert!(!m.contains("tok-3141592653"), "{m}");
        }
        other => panic!("401: {other:?}"),
    }
    assert!(host.deliver(&dest, &n, &secrets()).await.is_ok());
    assert_eq!(receiver.requests().len(), 5);

    // Nobody listening: a transport error, worth retrying.
    let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let mut gone = dest.clone();
    gone.config = serde_json::json!({ "url": format!("http://127.0.0.1:{port}/hook") });
    gone.grants.http_hosts = vec![format!("127.0.0.1:{port}")];
    assert!(matches!(
        host.deliver(&gone, &n, &secrets()).await,
        Err(DeliveryError::Retryable(m)) if m.contains("transport")
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_policy_refuses_before_anything_is_sent() {
    let receiver = Receiver::start().await;
    let host = host_with(test_config(), &["webhook"]);
    let n = notification("dlv-0003");
    let good = webhook_destination(&receiver);

    let mut other_host = good.clone();
    other_host.grants.http_hosts = vec!["hooks.examplemed.test".into()];
    let mut other_port = good.clone();
    other_port.grants.http_hosts = vec!["127.0.0.1:1".into()];
    let mut no_plain_http = good.clone();
    no_plain_http.grants.allow_insecure_http = false;
    let mut no_private = good.clone();
    no_private.grants.allow_private_addresses = false;
    let mut via_localhost = good.clone();
    via_localhost.config =
        serde_json::json!({ "url": format!("http://localhost:{}/hook", receiver.addr.port()) });
    via_localhost.grants.http_hosts = vec!["localhost".into()];
    via_localhost.grants.allow_private_addresses = false;

    for (dest, expected) in [
        (&other_host, "is not granted"),
        (&other_port, "is not granted"),
        (&no_plain_http, "plain http"),
        (&no_private, "allow_private_addresses"),
        (&via_localhost, "allow_private_addresses"),
    ] {
        match host.deliver(dest, &n, &secrets()).await {
            Err(DeliveryError::Misconfigured(m)) => assert!(m.contains(expected), "{m}"),
            other => panic!("expected a refusal containing {expected:?}: {other:?}"),
        }
    }
    // A secret the destination does not have.
    match host.deliver(&good, &n, &Secrets::new()).await {
        Err(DeliveryError::Misconfigured(m)) => assert!(m.contains("hook_token"), "{m}"),
        other => panic!("missing secret: {other:?}"),
    }
    assert!(receiver.requests().is_empty(), "{:?}", receiver.requests());
    // The same host and plugin still deliver where allowed.
    host.deliver(&good, &n, &secrets())
        .await
        .expect("delivered");
    assert_eq!(receiver.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_plugins_are_contained_and_the_host_keeps_working() {
    let receiver = Receiver::start().await;
    let exfil = Receiver::start().await;
    let config = test_config();
    let host = host_with(
        config.clone(),
        &["webhook", "trap", "spin", "membomb", "sneaky-http"],
    );
    let good = webhook_destination(&receiver);
    let mut delivered = 0;
    let mut check_good_delivery = async |after: &str| {
        delivered += 1;
        host.deliver(&good, &notification(&format!("after-{after}")), &secrets())
            .await
            .unwrap_or_else(|e| panic!("good delivery after {after} failed: {e}"));
        assert_eq!(receiver.requests().len(), delivered);
    };

    // 1. A trap (panic -> unreachable).
    let dest = destination("test-trap", &receiver, serde_json::json!({}));
    match host.deliver(&dest, &notification("t-1"), &secrets()).await {
        Err(DeliveryError::Retryable(m)) => {
            eprintln!("contained: {m}");
            assert!(m.contains("test-trap") && m.contains("trapped"), "{m}")
        }
        other => panic!("trap: {other:?}"),
    }
    check_good_delivery("trap").await;

    // 2. An endless loop: stopped by the epoch deadline, not left running.
    let dest = destination("test-spin", &receiver, serde_json::json!({}));
    let started = Instant::now();
    match host.deliver(&dest, &notification("t-2"), &secrets()).await {
        Err(DeliveryError::Retryable(m)) => {
            eprintln!("contained: {m}");
            assert!(m.contains("time limit"), "{m}")
        }
        other => panic!("spin: {other:?}"),
    }
    let took = started.elapsed();
    eprintln!(
        "timing: spinning plugin stopped after {took:?} (limit {:?})",
        config.call_timeout
    );
    assert!(
        took >= config.call_timeout && took < config.call_timeout * 3,
        "{took:?}"
    );
    check_good_delivery("spin").await;

    // 3. A memory bomb: stopped at the memory cap.
    let dest = destination("test-membomb", &receiver, serde_json::json!({}));
    match host.deliver(&dest, &notification("t-3"), &secrets()).await {
        Err(DeliveryError::Retryable(m)) => {
            eprintln!("contained: {m}");
            assert!(m.contains("memory limit of 64 MiB"), "{m}")
        }
        other => panic!("membomb: {other:?}"),
    }
    check_good_delivery("membomb").await;

    // 4. A plugin posting to a host its destination was not granted.
    let dest = destination(
        "test-sneaky-http",
        &receiver,
        serde_json::json!({ "exfil_url": exfil.url("/steal") }),
    );
    match host.deliver(&dest, &notification("t-4"), &secrets()).await {
        Err(DeliveryError::Misconfigured(m)) => {
            eprintln!("contained: {m}");
            assert!(m.contains("not granted"), "{m}")
        }
        other => panic!("sneaky-http: {other:?}"),
    }
    assert!(exfil.requests().is_empty(), "{:?}", exfil.requests());
    check_good_delivery("sneaky-http").await;

    // Each hostile call failed alone, over and over: still nothing leaks or sticks.
    for round in 0..3 {
        let dest = destination("test-trap", &receiver, serde_json::json!({}));
        assert!(
            host.deliver(&dest, &notification("t-5"), &secrets())
                .await
                .is_err()
        );
        let dest = destination("test-membomb", &receiver, serde_json::json!({}));
        assert!(
            host.deliver(&dest, &notification("t-6"), &secrets())
                .await
                .is_err()
        );
        check_good_delivery(&format!("round-{round}")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ungranted_import_is_refused_at_load() {
    let path = component("tcp-import");
    let host = PluginHost::new(test_config()).expect("host");
    match host.load_plugin(&path) {
        Err(HostError::NotGranted { id, capability, .. }) => {
            assert_eq!(
                (id.as_str(), capability),
                ("test-tcp-import", Capability::Tcp)
            );
        }
        other => panic!("tcp import without grant: {other:?}"),
    }
    assert!(host.list().is_empty());

    // A whole folder: the others load, tcp-import is reported refused.
    let report = host.load_dir(&plugins_dir().join("test")).expect("folder");
    let loaded: BTreeSet<String> = report.loaded.iter().map(|p| p.id.clone()).collect();
    assert!(
        loaded.contains("test-trap") && loaded.contains("test-spin"),
        "{loaded:?}"
    );
    assert!(!loaded.contains("test-tcp-import"));
    assert_eq!(report.refused.len(), 1, "{:?}", report.refused);
    assert!(
        report.refused[0]
            .1
            .to_string()
            .contains("has not granted it")
    );

    // With an explicit grant it loads; its destination has no tcp endpoint granted, so the
    // exchange it attempts is refused.
    let mut config = test_config();
    config
        .capability_grants
        .insert("test-tcp-import".into(), [Capability::Tcp].into());
    let host = PluginHost::new(config).expect("host");
    host.load_plugin(&path).expect("granted tcp");
    let receiver = Receiver::start().await;
    let dest = destination("test-tcp-import", &receiver, serde_json::json!({}));
    match host
        .deliver(&dest, &notification("t-7"), &Secrets::new())
        .await
    {
        Err(DeliveryError::Retryable(m)) => {
            assert!(m.contains("127.0.0.1:2575 is not granted"), "{m}")
        }
        other => panic!("tcp call: {other:?}"),
    }
}

/// Copy a component and its manifest into `dir`, editing the manifest text.
fn staged(dir: &Path, name: &str, edit: impl Fn(String) -> String) -> PathBuf {
    let src = component(name);
    let dst = dir.join(src.file_name().expect("file name"));
    std::fs::copy(&src, &dst).expect("copy wasm");
    let manifest = std::fs::read_to_string(src.with_extension("toml")).expect("manifest");
    std::fs::write(dst.with_extension("toml"), edit(manifest)).expect("write manifest");
    dst
}

#[test]
fn components_are_pinned_and_checked_against_their_manifest() {
    let host = PluginHost::new(test_config()).expect("host");

    let dir = tempfile::tempdir().expect("tempdir");
    let path = staged(dir.path(), "webhook", |m| m);
    let mut bytes = std::fs::read(&path).expect("read");
    bytes.push(0);
    std::fs::write(&path, bytes).expect("tamper");
    assert!(matches!(
        host.load_plugin(&path),
        Err(HostError::HashMismatch { .. })
    ));

    let dir = tempfile::tempdir().expect("tempdir");
    let path = staged(dir.path(), "webhook", |m| {
        m.replace(
            r#"["http", "log", "clock", "signing"]"#,
            r#"["log", "clock", "signing"]"#,
        )
    });
    match host.load_plugin(&path) {
        Err(HostError::UndeclaredImport { capability, .. }) => {
            assert_eq!(capability, Capability::Http)
        }
        other => panic!("undeclared http: {other:?}"),
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let path = staged(dir.path(), "webhook", |m| {
        m.replace("id = \"webhook\"", "id = \"hook2\"")
    });
    assert!(matches!(
        host.load_plugin(&path),
        Err(HostError::IdentityMismatch { .. })
    ));

    let dir = tempfile::tempdir().expect("tempdir");
    let path = staged(dir.path(), "webhook", |m| m);
    std::fs::remove_file(path.with_extension("toml")).expect("rm manifest");
    assert!(matches!(
        host.load_plugin(&path),
        Err(HostError::Manifest(_))
    ));

    // The operator withheld http from the webhook plugin.
    let mut config = test_config();
    config.capability_grants.insert(
        "webhook".into(),
        [Capability::Log, Capability::Clock].into(),
    );
    let strict = PluginHost::new(config).expect("host");
    assert!(matches!(
        strict.load_plugin(&component("webhook")),
        Err(HostError::NotGranted {
            capability: Capability::Http,
            ..
        })
    ));

    assert!(host.list().is_empty() && strict.list().is_empty());
    host.load_plugin(&component("webhook"))
        .expect("untouched webhook loads");
    assert!(matches!(
        host.load_plugin(&component("webhook")),
        Err(HostError::Duplicate { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_describe_validate_and_test() {
    let receiver = Receiver::start().await;
    let host = host_with(test_config(), &["webhook"]);

    let list = host.list();
    assert_eq!(list.len(), 1);
    let manifest =
        std::fs::read_to_string(component("webhook").with_extension("toml")).expect("manifest");
    assert!(manifest.contains(&list[0].sha256), "{manifest}");
    assert_eq!(
        list[0].capabilities,
        vec![
            Capability::Http,
            Capability::Log,
            Capability::Clock,
            Capability::Signing
        ]
    );

    let info = host.describe("webhook").expect("describe");
    assert_eq!(
        (info.id.as_str(), info.version.as_str()),
        ("webhook", "0.1.0")
    );
    let url = info
        .config_fields
        .iter()
        .find(|f| f.name == "url")
        .expect("url field");
    assert!(url.required && url.kind == ConfigFieldKind::Url);
    assert!(matches!(
        host.describe("nope"),
        Err(HostError::UnknownPlugin(_))
    ));

    let ok = serde_json::json!({ "url": "https://hooks.examplemed.test/in" });
    assert_eq!(
        host.validate_config("webhook", &ok)
            .await
            .expect("validate"),
        vec![]
    );
    let bad = serde_json::json!({ "url": "ftp://x" });
    let issues = host
        .validate_config("webhook", &bad)
        .await
        .expect("validate");
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].field, "url");
    let wrong_shape = serde_json::json!({ "uri": "https://x" });
    assert!(
        !host
            .validate_config("webhook", &wrong_shape)
            .await
            .expect("validate")
            .is_empty()
    );

    let dest = webhook_destination(&receiver);
    host.test(&dest, &secrets()).await.expect("self-test");
    let seen = receiver.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].json()["type"], "herald.test");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_swaps_only_after_the_self_test_passes() {
    let receiver = Receiver::start().await;
    let host = host_with(test_config(), &["webhook"]);
    let original = host.list()[0].path.clone();
    let dir = tempfile::tempdir().expect("tempdir");
    let candidate = staged(dir.path(), "webhook", |m| m);
    let dest = webhook_destination(&receiver);

    receiver.reply(500, &[]);
    match host.upgrade(&candidate, &dest, &secrets()).await {
        Err(HostError::SelfTestFailed {
            error: DeliveryError::Retryable(m),
            ..
        }) => {
            assert!(m.contains("500"), "{m}")
        }
        other => panic!("failing self-test: {other:?}"),
    }
    assert_eq!(host.list()[0].path, original, "old version must stay");

    let summary = host
        .upgrade(&candidate, &dest, &secrets())
        .await
        .expect("upgrade");
    assert_eq!(summary.path, candidate);
    assert_eq!(host.list()[0].path, candidate);
    host.deliver(&dest, &notification("after-upgrade"), &secrets())
        .await
        .expect("delivered by the new version");
    assert_eq!(receiver.requests().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuel_stops_a_spinning_plugin_before_its_deadline() {
    let receiver = Receiver::start().await;
    let config = HostConfig {
        call_timeout: Duration::from_secs(30),
        fuel_per_call: 50_000_000,
        ..test_config()
    };
    let host = host_with(config, &["spin", "webhook"]);
    let dest = destination("test-spin", &receiver, serde_json::json!({}));
    let started = Instant::now();
    match host
        .deliver(&dest, &notification("f-1"), &Secrets::new())
        .await
    {
        Err(DeliveryError::Retryable(m)) => assert!(m.contains("ran out of fuel"), "{m}"),
        other => panic!("spin with little fuel: {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    // The webhook needs far less than that budget.
    host.deliver(
        &webhook_destination(&receiver),
        &notification("f-2"),
        &secrets(),
    )
    .await
    .expect("delivered within the same fuel budget");
}
