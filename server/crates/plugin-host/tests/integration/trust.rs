//! The operator's trust roots: a hospital relay or integration engine whose certificate comes
//! from the hospital's own CA is trusted once that CA is in the system store (`SSL_CERT_FILE`,
//! passed to the host explicitly as the server does from its environment), or in the extra
//! roots (`HERALD_TLS_EXTRA_ROOTS`), or pinned by the destination (`tls_ca_pem`), which trusts
//! exactly that CA. Real peers on 127.0.0.1: aiosmtpd with STARTTLS, an MLLP listener over
//! TLS, and an https receiver (rustls) for the http capability. A refused certificate says
//! which one and which setting would make Herald trust it.

use crate::peers::{Peer, component};
use crate::plugins::notification;
use herald_delivery::{DeliveryError, DestinationConfig, Grants, Receipt};
use herald_plugin_host::{
    Capability, HostConfig, OutboundPolicy, PluginHost, Secrets, SystemRoots,
};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio_rustls::rustls;

/// A test CA, and a server certificate for 127.0.0.1 / localhost that it issued.
struct TestPki {
    ca: PathBuf,
    ca_pem: String,
    cert: PathBuf,
    key: PathBuf,
}

fn openssl(args: &[&str], dir: &Path) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is needed to make the test certificates");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn test_pki(dir: &Path, ca_name: &str) -> TestPki {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let ca_subject = format!("/CN={ca_name}/O=St. Example Hospital");
    let mut args = vec!["req", "-x509"];
    args.extend(ec);
    args.extend(["-days", "2", "-subj", &ca_subject]);
    args.extend(["-addext", "basicConstraints=critical,CA:TRUE"]);
    args.extend(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
    args.extend(["-keyout", "ca.key", "-out", "ca.pem"]);
    openssl(&args, dir);
    let mut args = vec!["req"];
    args.extend(ec);
    args.extend(["-subj", "/CN=relay.hospital.test", "-keyout", "server.key"]);
    args.extend(["-out", "server.csr"]);
    openssl(&args, dir);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=critical,CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write");
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ],
        dir,
    );
    TestPki {
        ca: dir.join("ca.pem"),
        ca_pem: std::fs::read_to_string(dir.join("ca.pem")).expect("ca"),
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
    }
}

/// A host trusting `system` and `extra` (no platform store, so nothing else vouches for the
/// test CA), with loopback allowed.
fn host(system: SystemRoots, extra: Vec<String>, plugin: &str) -> PluginHost {
    let mut config = HostConfig {
        call_timeout: Duration::from_secs(10),
        max_instances: 4,
        outbound: OutboundPolicy::loopback(),
        system_roots: system,
        extra_root_certificates: extra,
        ..HostConfig::default()
    };
    config.capability_grants.insert(
        "email".into(),
        [Capability::Smtp, Capability::Log, Capability::Clock].into(),
    );
    config.capability_grants.insert(
        "hl7-mllp".into(),
        [Capability::Tcp, Capability::Log, Capability::Clock].into(),
    );
    let host = PluginHost::new(config).expect("host");
    host.load_plugin(&component(plugin))
        .unwrap_or_else(|e| panic!("load {plugin}: {e}"));
    host
}

/// The three ways the operator can (or does not) trust the test CA.
fn hosts(pki: &TestPki, plugin: &str) -> [(&'static str, PluginHost); 2] {
    [
        (
            "SSL_CERT_FILE",
            host(
                SystemRoots::Paths {
                    file: Some(pki.ca.clone()),
                    dir: None,
                },
                Vec::new(),
                plugin,
            ),
        ),
        (
            "HERALD_TLS_EXTRA_ROOTS",
            host(SystemRoots::Off, vec![pki.ca_pem.clone()], plugin),
        ),
    ]
}

fn untrusting(plugin: &str) -> PluginHost {
    host(SystemRoots::Off, Vec::new(), plugin)
}

fn with_pin(dest: &DestinationConfig, pem: &str) -> DestinationConfig {
    let mut pinned = dest.clone();
    pinned.config["tls_ca_pem"] = json!(pem);
    pinned
}

fn refused(result: Result<Receipt, DeliveryError>) -> String {
    match result {
        Err(DeliveryError::Retryable(m)) => m,
        other => panic!("expected a refused certificate: {other:?}"),
    }
}

fn assert_names_the_settings(message: &str) {
    for setting in ["HERALD_TLS_EXTRA_ROOTS", "SSL_CERT_FILE", "tls_ca_pem"] {
        assert!(message.contains(setting), "{setting} not named: {message}");
    }
}

fn records(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_through_a_starttls_relay_with_a_private_ca() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = test_pki(dir.path(), "St. Example Hospital CA");
    let other = test_pki(&dir.path().join("other").tap_mkdir(), "Some Other CA");
    let record = dir.path().join("smtp.jsonl");
    let peer = Peer::start(
        "smtp_peer.py",
        &[
            "--mode",
            "starttls",
            "--cert",
            pki.cert.to_str().expect("utf-8"),
            "--key",
            pki.key.to_str().expect("utf-8"),
            "--user",
            "herald",
            "--password",
            "pw",
            "--record",
            record.to_str().expect("utf-8"),
        ],
    );
    let dest = DestinationConfig {
        destination_id: "dest-email".into(),
        plugin_id: "email".into(),
        config: json!({
            "to": ["security@hospital.test"],
            "smtp": {
                "host": "127.0.0.1", "port": peer.port, "tls": "starttls",
                "username": "herald", "password_secret": "smtp_password",
                "from": "Examplemed PSIRT <psirt@examplemed.test>"
            }
        }),
        grants: Grants {
            smtp: true,
            allow_private_addresses: true,
            ..Grants::default()
        },
    };
    let secrets = Secrets::new().with("smtp_password", "pw");

    // Not trusted: refused with the settings that would change that, nothing delivered.
    let m = refused(
        untrusting("email")
            .deliver(&dest, &notification("ca-mail-0"), &secrets)
            .await,
    );
    assert!(m.to_lowercase().contains("certificate"), "{m}");
    assert_names_the_settings(&m);
    assert_eq!(records(&record), 0);

    // Trusted through the system store (SSL_CERT_FILE) and through the extra roots.
    for (i, (how, host)) in hosts(&pki, "email").into_iter().enumerate() {
        host.deliver(&dest, &notification(&format!("ca-mail-{how}")), &secrets)
            .await
            .unwrap_or_else(|e| panic!("trusted through {how}: {e}"));
        assert_eq!(records(&record), i + 1, "{how}");
    }

    // The destination's own pin: trusted without any operator setting, and only that CA.
    untrusting("email")
        .deliver(
            &with_pin(&dest, &pki.ca_pem),
            &notification("ca-mail-pin"),
            &secrets,
        )
        .await
        .expect("pinned CA trusted");
    assert_eq!(records(&record), 3);
    // A wrong pin narrows: refused even where the operator trusts the relay's CA.
    let [(_, trusting), _] = hosts(&pki, "email");
    let m = refused(
        trusting
            .deliver(
                &with_pin(&dest, &other.ca_pem),
                &notification("ca-mail-wrong"),
                &secrets,
            )
            .await,
    );
    assert!(m.contains("tls_ca_pem"), "{m}");
    assert_eq!(records(&record), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hl7_over_tls_with_a_private_ca() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = test_pki(dir.path(), "St. Example Hospital CA");
    let other = test_pki(&dir.path().join("other").tap_mkdir(), "Some Other CA");
    let record = dir.path().join("mllp.jsonl");
    let peer = Peer::start(
        "mllp_peer.py",
        &[
            "--cert",
            pki.cert.to_str().expect("utf-8"),
            "--key",
            pki.key.to_str().expect("utf-8"),
            "--record",
            record.to_str().expect("utf-8"),
        ],
    );
    let dest = DestinationConfig {
        destination_id: "dest-hl7".into(),
        plugin_id: "hl7-mllp".into(),
        config: json!({
            "endpoint": peer.host_port(),
            "tls": true,
            "sending_facility": "EXAMPLEMED",
            "receiving_application": "MIRTH",
            "receiving_facility": "HOSPITAL",
            "ack_timeout_ms": 2000
        }),
        grants: Grants {
            tcp_endpoints: vec![peer.host_port()],
            allow_private_addresses: true,
            ..Grants::default()
        },
    };
    let none = Secrets::new();

    let m = refused(
        untrusting("hl7-mllp")
            .deliver(&dest, &notification("ca-hl7-0"), &none)
            .await,
    );
    // Which certificate: its subject and issuer.
    assert!(
        m.contains("CN=relay.hospital.test") && m.contains("CN=St. Example Hospital CA"),
        "{m}"
    );
    assert_names_the_settings(&m);
    assert_eq!(records(&record), 0);

    for (i, (how, host)) in hosts(&pki, "hl7-mllp").into_iter().enumerate() {
        let receipt = host
            .deliver(&dest, &notification(&format!("ca-hl7-{i}")), &none)
            .await
            .unwrap_or_else(|e| panic!("trusted through {how}: {e}"));
        assert_eq!(receipt.detail, "ACK AA: accepted", "{how}");
    }
    assert_eq!(records(&record), 2);

    let pinned = with_pin(&dest, &pki.ca_pem);
    untrusting("hl7-mllp")
        .deliver(&pinned, &notification("ca-hl7-pin"), &none)
        .await
        .expect("pinned CA trusted");
    // The plugin never saw the host's field: its validation accepts the pinned configuration,
    // and the host checks the pin itself.
    let host = untrusting("hl7-mllp");
    assert_eq!(
        host.validate_config("hl7-mllp", &pinned.config)
            .await
            .expect("validate"),
        vec![]
    );
    let issues = host
        .validate_config("hl7-mllp", &with_pin(&dest, "not a certificate").config)
        .await
        .expect("validate");
    let fields: Vec<&str> = issues.iter().map(|i| i.field.as_str()).collect();
    assert_eq!(fields, vec!["tls_ca_pem"], "{issues:?}");

    let [(_, trusting), _] = hosts(&pki, "hl7-mllp");
    let m = refused(
        trusting
            .deliver(
                &with_pin(&dest, &other.ca_pem),
                &notification("ca-hl7-wrong"),
                &none,
            )
            .await,
    );
    assert!(
        m.contains("tls_ca_pem") && m.contains("CN=relay.hospital.test"),
        "{m}"
    );
    assert_eq!(records(&record), 3);
}

/// An https receiver on 127.0.0.1 with `pki`'s server certificate; counts the requests it
/// answered.
async fn https_receiver(pki: &TestPki) -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&pki.cert)
        .expect("cert")
        .collect::<Result<_, _>>()
        .expect("certs");
    let key = PrivateKeyDer::from_pem_file(&pki.key).expect("key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let answered = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = answered.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let (acceptor, count) = (acceptor.clone(), count.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(socket).await else {
                    return;
                };
                if read_request_tls(&mut tls).await {
                    count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let _ = tls
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                        )
                        .await;
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    (port, answered)
}

/// Reads one request's head (enough for the webhook's small body to have been sent).
async fn read_request_tls<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if let Some(head) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let text = String::from_utf8_lossy(&buf[..head]).to_ascii_lowercase();
            let length: usize = text
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= head + 4 + length {
                return true;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_over_https_with_a_private_ca() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = test_pki(dir.path(), "St. Example Hospital CA");
    let other = test_pki(&dir.path().join("other").tap_mkdir(), "Some Other CA");
    let (port, answered) = https_receiver(&pki).await;
    let dest = DestinationConfig {
        destination_id: "dest-https".into(),
        plugin_id: "webhook".into(),
        config: json!({ "url": format!("https://127.0.0.1:{port}/hook") }),
        grants: Grants {
            http_hosts: vec![format!("127.0.0.1:{port}")],
            allow_private_addresses: true,
            ..Grants::default()
        },
    };
    let none = Secrets::new();
    let m = refused(
        untrusting("webhook")
            .deliver(&dest, &notification("ca-https-0"), &none)
            .await,
    );
    assert!(
        m.contains("CN=relay.hospital.test") && m.contains("CN=St. Example Hospital CA"),
        "{m}"
    );
    assert_names_the_settings(&m);
    for (how, host) in hosts(&pki, "webhook") {
        host.deliver(&dest, &notification("ca-https-1"), &none)
            .await
            .unwrap_or_else(|e| panic!("trusted through {how}: {e}"));
    }
    untrusting("webhook")
        .deliver(
            &with_pin(&dest, &pki.ca_pem),
            &notification("ca-https-2"),
            &none,
        )
        .await
        .expect("pinned CA trusted");
    let [(_, trusting), _] = hosts(&pki, "webhook");
    let m = refused(
        trusting
            .deliver(
                &with_pin(&dest, &other.ca_pem),
                &notification("ca-https-3"),
                &none,
            )
            .await,
    );
    assert!(m.contains("tls_ca_pem"), "{m}");
    // The same host still trusts the CA for destinations without a pin.
    trusting
        .deliver(&dest, &notification("ca-https-4"), &none)
        .await
        .expect("unpinned destination unaffected");
    assert_eq!(answered.load(std::sync::atomic::Ordering::SeqCst), 4);
}

trait TapMkdir {
    fn tap_mkdir(self) -> Self;
}

impl TapMkdir for PathBuf {
    fn tap_mkdir(self) -> Self {
        std::fs::create_dir_all(&self).expect("mkdir");
        self
    }
}
