//! The email, hl7-mllp and webhook plugins against REAL, independent receivers on 127.0.0.1
//! (Python peers in `tests/peers/`, packages from PyPI, see `scripts/peers-venv`):
//! - `smtp_peer.py`: aiosmtpd with STARTTLS (a self-signed certificate made here with
//!   `openssl req`, trusted only through `HostConfig::extra_root_certificates`), AUTH, scripted
//!   DATA replies; Python's email parser reads what arrived;
//! - `mllp_peer.py`: an MLLP listener parsing with the `hl7` package and answering a scripted
//!   sequence of ACK codes;
//! - `webhook_peer.py`: verifies Standard Webhooks signatures with the `standardwebhooks`
//!   package.
//!
//! Each failure mode ends with exactly the expected receipts, and the receiver's records are
//! counted: nothing is accepted twice.

use crate::peers;

use base64::Engine as _;
use herald_delivery::{
    DeliveryError, DestinationConfig, Grants, Notification, NotifiedProduct, Receipt,
};
use herald_plugin_host::{Capability, HostConfig, OutboundPolicy, PluginHost, Secrets};
use peers::{Peer, component};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

// ---- fixtures --------------------------------------------------------------------------------

/// A title and summary full of what HTML and HL7 must escape.
const TITLE: &str = r#"InfuCare <b>300</b> & "friends": pump|dose^rate~x\y"#;
const SUMMARY: &str =
    "Update to firmware 4.3 & restart | see <portal>.\nThen verify the dose^rate.";

fn notification(delivery_id: &str, attempt: u32) -> Notification {
    Notification {
        delivery_id: delivery_id.into(),
        event_kind: "advisory.published".into(),
        tracking_id: "EXMED-SA-2026-0042".into(),
        version: "1".into(),
        title: TITLE.into(),
        severity: Some("medium".into()),
        cvss_score: Some(6.5),
        cves: vec!["CVE-2026-99911".into(), "CVE-2026-99912".into()],
        products: vec![
            NotifiedProduct {
                product_id: "CSAFPID-0001".into(),
                name: "InfuCare 300".into(),
                version: Some("4.2".into()),
                udi_di: Some("04012345678901".into()),
                ..NotifiedProduct::default()
            },
            NotifiedProduct {
                product_id: "CSAFPID-0002".into(),
                name: "InfuCare 500".into(),
                version: Some("2.0".into()),
                udi_di: Some("04012345678918".into()),
                ..NotifiedProduct::default()
            },
        ],
        initial_release_date: "2026-11-01T08:30:00Z".into(),
        current_release_date: "2026-11-02T09:00:00Z".into(),
        tlp: "WHITE".into(),
        summary: SUMMARY.into(),
        portal_url: "https://advisories.examplemed.test/EXMED-SA-2026-0042".into(),
        csaf_url:
            "https://advisories.examplemed.test/.well-known/csaf/white/2026/exmed-sa-2026-0042.json"
                .into(),
        previous_receipt: None,
        attempt,
        rendered: None,
        unsubscribe_url: None,
    }
}

/// `n` with Herald's default templates rendered for the email channel, as the engine sends it.
fn rendered(mut n: Notification) -> Notification {
    n.rendered = herald_delivery::templates::Renderer::new(&[]).render(&n, "email");
    assert!(n.rendered.is_some(), "templates render {}", n.event_kind);
    n
}

fn host(config: HostConfig, plugin: &str) -> PluginHost {
    let host = PluginHost::new(config).expect("host");
    host.load_plugin(&component(plugin))
        .unwrap_or_else(|e| panic!("load {plugin}: {e}"));
    host
}

fn base_config() -> HostConfig {
    HostConfig {
        call_timeout: Duration::from_secs(10),
        max_instances: 4,
        // The peers are on loopback: the operator lets plugins reach it.
        outbound: OutboundPolicy::loopback(),
        ..HostConfig::default()
    }
}

fn records(path: &Path) -> Vec<Value> {
    match std::fs::read_to_string(path) {
        Ok(text) => text
            .lines()
            .map(|l| serde_json::from_str(l).expect("record line is JSON"))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// A peer writing its records to `<dir>/<name>.jsonl`.
fn start_peer(dir: &Path, script: &str, name: &str, args: &[&str]) -> (Peer, PathBuf) {
    let record = dir.join(format!("{name}.jsonl"));
    let record_arg = record.to_str().expect("utf-8 path").to_string();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--record", &record_arg]);
    (Peer::start(script, &all), record)
}

/// A self-signed certificate for 127.0.0.1 (not a CA), made at test time.
fn self_signed(dir: &Path) -> (PathBuf, PathBuf, String) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl is needed to make the test certificate");
    assert!(
        out.status.success(),
        "openssl req failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pem = std::fs::read_to_string(&cert).expect("cert");
    (cert, key, pem)
}

fn header<'a>(record: &'a Value, name: &str) -> Option<&'a str> {
    record["headers"][name][0].as_str()
}

fn part<'a>(record: &'a Value, content_type: &str) -> &'a str {
    record["parts"]
        .as_array()
        .expect("parts")
        .iter()
        .find(|p| p["content_type"] == content_type)
        .and_then(|p| p["body"].as_str())
        .unwrap_or_else(|| panic!("no {content_type} part in {record}"))
}

// ---- email ---------------------------------------------------------------------------------------

const SMTP_USER: &str = "herald-relay";
const SMTP_PASSWORD: &str = "pw-2718281828";

fn email_destination(port: u16, tls: &str) -> DestinationConfig {
    DestinationConfig {
        destination_id: "dest-email".into(),
        plugin_id: "email".into(),
        config: json!({
            "to": ["security@hospital.test", "Biomed Team <biomed@hospital.test>"],
            "smtp": {
                "host": "127.0.0.1", "port": port, "tls": tls,
                "username": SMTP_USER, "password_secret": "smtp_password",
                "from": "Examplemed PSIRT <psirt@examplemed.test>"
            },
            "unsubscribe_url": "https://advisories.examplemed.test/unsubscribe/tok-1",
            "unsubscribe_mailto": "mailto:unsubscribe@examplemed.test"
        }),
        grants: Grants {
            smtp: true,
            // The relay is on loopback.
            allow_private_addresses: true,
            ..Grants::default()
        },
    }
}

fn email_config(pem: &str) -> HostConfig {
    let mut config = base_config();
    config.extra_root_certificates = vec![pem.to_string()];
    config.capability_grants.insert(
        "email".into(),
        [Capability::Smtp, Capability::Log, Capability::Clock].into(),
    );
    config
}

fn smtp_secrets() -> Secrets {
    Secrets::new().with("smtp_password", SMTP_PASSWORD)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_over_starttls_with_auth_4xx_then_success_threading_amber_and_5xx() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key, pem) = self_signed(dir.path());
    let (cert, key) = (cert.to_str().expect("path"), key.to_str().expect("path"));
    // Replies to successive DATA: deferred, then accepted four times, then refused for good.
    let (peer, record) = start_peer(
        dir.path(),
        "smtp_peer.py",
        "smtp",
        &[
            "--mode",
            "starttls",
            "--cert",
            cert,
            "--key",
            key,
            "--user",
            SMTP_USER,
            "--password",
            SMTP_PASSWORD,
            "--script",
            "451,250,250,250,250,554",
        ],
    );
    let host = host(email_config(&pem), "email");
    let dest = email_destination(peer.port, "starttls");
    let secrets = smtp_secrets();

    // 1. 4xx: retryable; the same delivery then goes through.
    match host
        .deliver(&dest, &rendered(notification("dlv-mail-1", 1)), &secrets)
        .await
    {
        Err(DeliveryError::Retryable(m)) => assert!(m.contains("451"), "{m}"),
        other => panic!("451 must be retryable: {other:?}"),
    }
    let first = host
        .deliver(&dest, &rendered(notification("dlv-mail-1", 2)), &secrets)
        .await
        .expect("second attempt delivered");
    assert_eq!(first.remote_id.as_deref(), Some("<dlv-mail-1@herald>"));
    assert!(first.detail.starts_with("SMTP 250"), "{}", first.detail);

    let seen = records(&record);
    assert_eq!(seen.len(), 2, "{seen:#?}");
    assert_eq!(
        (seen[0]["reply"].as_str(), seen[1]["reply"].as_str()),
        (Some("451"), Some("250"))
    );
    // The retry is the same message: same Message-ID on both attempts.
    assert_eq!(header(&seen[0], "message-id"), Some("<dlv-mail-1@herald>"));
    assert_eq!(header(&seen[1], "message-id"), Some("<dlv-mail-1@herald>"));
    let mail = &seen[1];
    assert_eq!(mail["tls"], true, "STARTTLS was on");
    assert_eq!(mail["auth_login"], SMTP_USER);
    assert_eq!(mail["mail_from"], "psirt@examplemed.test");
    assert_eq!(
        mail["rcpt_tos"],
        json!(["security@hospital.test", "biomed@hospital.test"])
    );
    assert_eq!(mail["top_content_type"], "multipart/alternative");
    assert_eq!(header(mail, "auto-submitted"), Some("auto-generated"));
    assert_eq!(
        header(mail, "list-unsubscribe"),
        Some(
            "<https://advisories.examplemed.test/unsubscribe/tok-1>, <mailto:unsubscribe@examplemed.test>"
        )
    );
    assert_eq!(
        header(mail, "list-unsubscribe-post"),
        Some("List-Unsubscribe=One-Click")
    );
    let subject = header(mail, "subject").expect("subject");
    assert!(
        subject.contains("EXMED-SA-2026-0042") && subject.contains("[MEDIUM]"),
        "{subject}"
    );
    assert!(header(mail, "in-reply-to").is_none());
    let text = part(mail, "text/plain");
    assert!(text.contains(TITLE), "{text}");
    assert!(
        text.contains("CVE-2026-99911") && text.contains("UDI-DI 04012345678918"),
        "{text}"
    );
    assert!(text.contains("https://advisories.examplemed.test/EXMED-SA-2026-0042"));
    // The body is Herald's rendered template, with the plugin's unsubscribe footer appended.
    assert!(
        text.contains("A new security advisory concerns products you use."),
        "{text}"
    );
    assert!(
        text.contains("https://advisories.examplemed.test/unsubscribe/tok-1"),
        "{text}"
    );
    let html = part(mail, "text/html");
    assert!(
        html.contains("InfuCare &lt;b&gt;300&lt;/b&gt; &amp; &quot;friends&quot;"),
        "{html}"
    );
    assert!(
        !html.contains("<b>300</b>") && !html.contains("<portal>"),
        "{html}"
    );
    assert!(html.contains("restart | see &lt;portal&gt;."), "{html}");

    // 2. A revision threads under the first mail.
    let mut revision = notification("dlv-mail-2", 1);
    revision.event_kind = "advisory.updated".into();
    revision.version = "2".into();
    revision.previous_receipt = Some(first.clone());
    let second = host
        .deliver(&dest, &rendered(revision.clone()), &secrets)
        .await
        .expect("revision delivered");
    let seen = records(&record);
    let mail = seen.last().expect("revision mail");
    assert_eq!(header(mail, "message-id"), second.remote_id.as_deref());
    assert_eq!(header(mail, "in-reply-to"), Some("<dlv-mail-1@herald>"));
    assert_eq!(header(mail, "references"), Some("<dlv-mail-1@herald>"));
    assert!(
        header(mail, "subject")
            .expect("subject")
            .starts_with("Updated: ")
    );

    // 3. A destination without its own unsubscribe URL uses Herald's signed one-click URL that
    //    comes with the notification (RFC 8058 headers and the footer).
    let mut herald_unsub = dest.clone();
    herald_unsub
        .config
        .as_object_mut()
        .expect("object")
        .remove("unsubscribe_url");
    let herald_url =
        "https://herald.examplemed.test/unsubscribe/dest-email/0123456789abcdef0123456789abcdef";
    let mut amber = notification("dlv-mail-3", 1);
    amber.unsubscribe_url = Some(herald_url.into());

    //    And TLP:AMBER: the advisory's content stays out of the mail.
    amber.tlp = "AMBER".into();
    host.deliver(&herald_unsub, &rendered(amber.clone()), &secrets)
        .await
        .expect("amber delivered");
    let seen = records(&record);
    let mail = seen.last().expect("amber mail");
    let everything = mail.to_string();
    for secret_content in [
        "InfuCare",
        "CVE-2026-99911",
        "firmware 4.3",
        "04012345678901",
    ] {
        assert!(
            !everything.contains(secret_content),
            "{secret_content} leaked: {mail}"
        );
    }
    assert!(part(mail, "text/plain").contains(&amber.portal_url));
    assert_eq!(
        header(mail, "list-unsubscribe"),
        Some(format!("<{herald_url}>, <mailto:unsubscribe@examplemed.test>").as_str())
    );
    assert_eq!(
        header(mail, "list-unsubscribe-post"),
        Some("List-Unsubscribe=One-Click")
    );
    assert!(part(mail, "text/plain").contains(herald_url), "{mail}");
    assert!(
        header(mail, "subject")
            .expect("subject")
            .contains("TLP:AMBER")
    );

    // 4. A critical notice is mandatory: no unsubscribe headers.
    let mut critical = notification("dlv-mail-4", 1);
    critical.severity = Some("critical".into());
    host.deliver(&dest, &rendered(critical.clone()), &secrets)
        .await
        .expect("critical delivered");
    let seen = records(&record);
    let mail = seen.last().expect("critical mail");
    assert!(header(mail, "list-unsubscribe").is_none(), "{mail}");
    assert!(header(mail, "list-unsubscribe-post").is_none(), "{mail}");

    // 5. 5xx: permanent.
    match host
        .deliver(&dest, &rendered(notification("dlv-mail-5", 1)), &secrets)
        .await
    {
        Err(DeliveryError::Permanent(m)) => assert!(m.contains("554"), "{m}"),
        other => panic!("554 must be permanent: {other:?}"),
    }

    // 6. Refusals before anything is sent: smtp not granted to the destination, the password
    //    secret missing, and a host that does not trust the self-signed certificate.
    let mut ungranted = dest.clone();
    ungranted.grants.smtp = false;
    match host
        .deliver(
            &ungranted,
            &rendered(notification("dlv-mail-6", 1)),
            &secrets,
        )
        .await
    {
        Err(DeliveryError::Misconfigured(m)) => assert!(m.contains("not granted"), "{m}"),
        other => panic!("ungranted smtp: {other:?}"),
    }
    match host
        .deliver(
            &dest,
            &rendered(notification("dlv-mail-6", 1)),
            &Secrets::new(),
        )
        .await
    {
        Err(DeliveryError::Misconfigured(m)) => assert!(m.contains("smtp_password"), "{m}"),
        other => panic!("missing password secret: {other:?}"),
    }
    let wrong_password = Secrets::new().with("smtp_password", "not-the-password");
    match host
        .deliver(
            &dest,
            &rendered(notification("dlv-mail-6", 1)),
            &wrong_password,
        )
        .await
    {
        Err(DeliveryError::Misconfigured(m)) => {
            assert!(
                m.contains("refused authentication") && m.contains("535"),
                "{m}"
            )
        }
        other => panic!("wrong password: {other:?}"),
    }
    let untrusting = {
        let mut config = email_config(&pem);
        config.extra_root_certificates.clear();
        host_with_config(config)
    };
    match untrusting
        .deliver(&dest, &rendered(notification("dlv-mail-6", 1)), &secrets)
        .await
    {
        Err(DeliveryError::Retryable(m)) => {
            assert!(m.to_lowercase().contains("certificate"), "{m}")
        }
        other => panic!("untrusted certificate: {other:?}"),
    }

    // Exactly the expected mails arrived: 6 DATA commands, 4 accepted, one per delivery.
    let seen = records(&record);
    assert_eq!(seen.len(), 6, "{seen:#?}");
    let accepted: Vec<&str> = seen
        .iter()
        .filter(|r| r["accepted"] == true)
        .map(|r| header(r, "message-id").expect("message-id"))
        .collect();
    assert_eq!(
        accepted,
        vec![
            "<dlv-mail-1@herald>",
            "<dlv-mail-2@herald>",
            "<dlv-mail-3@herald>",
            "<dlv-mail-4@herald>"
        ]
    );
    // The password never shows up in anything the engine would record.
    assert!(!format!("{first:?}{second:?}").contains(SMTP_PASSWORD));
}

fn host_with_config(config: HostConfig) -> PluginHost {
    host(config, "email")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_refuses_a_relay_without_starttls_and_works_with_implicit_tls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key, pem) = self_signed(dir.path());
    let (cert, key) = (cert.to_str().expect("path"), key.to_str().expect("path"));
    let host = host(email_config(&pem), "email");

    // A relay that offers no STARTTLS: Herald neither downgrades nor sends credentials.
    let (plain, plain_record) = start_peer(
        dir.path(),
        "smtp_peer.py",
        "plain",
        &[
            "--mode",
            "plain",
            "--user",
            SMTP_USER,
            "--password",
            SMTP_PASSWORD,
        ],
    );
    match host
        .deliver(
            &email_destination(plain.port, "starttls"),
            &notification("dlv-p", 1),
            &smtp_secrets(),
        )
        .await
    {
        Err(DeliveryError::Retryable(m)) => assert!(m.to_lowercase().contains("starttls"), "{m}"),
        other => panic!("relay without STARTTLS: {other:?}"),
    }
    assert!(records(&plain_record).is_empty());

    // Implicit TLS (port-465 style).
    let (implicit, implicit_record) = start_peer(
        dir.path(),
        "smtp_peer.py",
        "implicit",
        &[
            "--mode",
            "implicit",
            "--cert",
            cert,
            "--key",
            key,
            "--user",
            SMTP_USER,
            "--password",
            SMTP_PASSWORD,
        ],
    );
    let receipt: Receipt = host
        .deliver(
            &email_destination(implicit.port, "tls"),
            &notification("dlv-i", 1),
            &smtp_secrets(),
        )
        .await
        .expect("implicit TLS delivery");
    assert_eq!(receipt.remote_id.as_deref(), Some("<dlv-i@herald>"));
    let seen = records(&implicit_record);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["tls"], true);
    assert_eq!(seen[0]["auth_login"], SMTP_USER);

    // The operator's self-test sends a harmless mail through the same path.
    let test = host
        .test(&email_destination(implicit.port, "tls"), &smtp_secrets())
        .await
        .expect("self-test mail");
    assert!(
        test.remote_id
            .as_deref()
            .is_some_and(|id| id.starts_with("<herald-test-"))
    );
    let seen = records(&implicit_record);
    assert_eq!(seen.len(), 2);
    assert_eq!(header(&seen[1], "subject"), Some("Herald test message"));

    // validate-config names what is wrong.
    let mut bad = email_destination(implicit.port, "none").config;
    // An own unsubscribe URL must be https (RFC 8058); leaving it out is fine: Herald's signed
    // one-click URL comes with each notification.
    bad.as_object_mut()
        .expect("object")
        .insert("unsubscribe_url".into(), "http://lists.example/u".into());
    let issues = host.validate_config("email", &bad).await.expect("validate");
    let fields: Vec<&str> = issues.iter().map(|i| i.field.as_str()).collect();
    assert_eq!(fields, vec!["smtp", "unsubscribe_url"], "{issues:?}");
    assert_eq!(
        host.validate_config("email", &email_destination(1, "tls").config)
            .await
            .expect("validate"),
        vec![]
    );
}

// ---- HL7 over MLLP -------------------------------------------------------------------------------

fn hl7_config() -> HostConfig {
    let mut config = base_config();
    config.capability_grants.insert(
        "hl7-mllp".into(),
        [Capability::Tcp, Capability::Log, Capability::Clock].into(),
    );
    config
}

fn hl7_destination(peer: &Peer) -> DestinationConfig {
    DestinationConfig {
        destination_id: "dest-hl7".into(),
        plugin_id: "hl7-mllp".into(),
        config: json!({
            "endpoint": peer.host_port(),
            "sending_facility": "EXAMPLEMED",
            "receiving_application": "MIRTH",
            "receiving_facility": "HOSPITAL",
            "ack_timeout_ms": 800
        }),
        grants: Grants {
            tcp_endpoints: vec![peer.host_port()],
            allow_private_addresses: true,
            ..Grants::default()
        },
    }
}

fn segment<'a>(record: &'a Value, name: &str) -> &'a Vec<Value> {
    record["segments"][name]
        .as_array()
        .unwrap_or_else(|| panic!("no {name} segment in {record}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hl7_mllp_ae_then_aa_then_ar_and_no_ack() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (peer, record) = start_peer(
        dir.path(),
        "mllp_peer.py",
        "mllp",
        &["--script", "AE,AA,AR,NONE,AA,AA"],
    );
    let host = host(hl7_config(), "hl7-mllp");
    let dest = hl7_destination(&peer);
    let secrets = Secrets::new();

    // AE: retryable; the retry with the same MSH-10 gets AA.
    match host
        .deliver(&dest, &notification("dlv-hl7-1", 1), &secrets)
        .await
    {
        Err(DeliveryError::Retryable(m)) => assert!(m.contains("AE"), "{m}"),
        other => panic!("AE must be retryable: {other:?}"),
    }
    let receipt = host
        .deliver(&dest, &notification("dlv-hl7-1", 2), &secrets)
        .await
        .expect("AA on the retry");
    // MSH-10 is derived from the delivery id: at most 20 characters (HL7 v2.5 ST), the same
    // on the retry; the receipt carries it.
    let control_id = receipt.remote_id.clone().expect("control id");
    assert_eq!(control_id.len(), 20, "{control_id}");
    assert_eq!(receipt.detail, "ACK AA: accepted");

    // AR: permanent.
    match host
        .deliver(&dest, &notification("dlv-hl7-2", 1), &secrets)
        .await
    {
        Err(DeliveryError::Permanent(m)) => assert!(m.contains("AR"), "{m}"),
        other => panic!("AR must be permanent: {other:?}"),
    }
    // No ACK in time: retryable; the retry (same MSH-10) is acknowledged.
    match host
        .deliver(&dest, &notification("dlv-hl7-3", 1), &secrets)
        .await
    {
        Err(DeliveryError::Retryable(m)) => assert!(m.contains("no ACK in time"), "{m}"),
        other => panic!("missing ACK must be retryable: {other:?}"),
    }
    host.deliver(&dest, &notification("dlv-hl7-3", 2), &secrets)
        .await
        .expect("AA after the timeout");

    // An endpoint the destination was not granted: refused, nothing sent.
    let mut ungranted = dest.clone();
    ungranted.grants.tcp_endpoints = vec!["127.0.0.1:1".into()];
    match host
        .deliver(&ungranted, &notification("dlv-hl7-4", 1), &secrets)
        .await
    {
        Err(DeliveryError::Misconfigured(m)) => assert!(m.contains("not granted"), "{m}"),
        other => panic!("ungranted endpoint: {other:?}"),
    }

    // TLP:AMBER: only a summary and the portal link, no details.
    let mut amber = notification("dlv-hl7-5", 1);
    amber.tlp = "AMBER".into();
    host.deliver(&dest, &amber, &secrets)
        .await
        .expect("amber acknowledged");

    let seen = records(&record);
    // ZSA-13 carries the full delivery id; MSH-10 is its short, stable control id.
    let mut ids = std::collections::BTreeMap::new();
    for r in &seen {
        let zsa = &segment(r, "ZSA")[0];
        let delivery = zsa[13].as_str().expect("ZSA-13").to_string();
        let control = r["control_id"].as_str().expect("id").to_string();
        assert!(control.len() <= 20, "{control}");
        let previous = ids.insert(delivery.clone(), control.clone());
        assert!(
            previous.is_none() || previous.as_ref() == Some(&control),
            "{delivery}: control id changed between retries"
        );
    }
    let distinct: std::collections::BTreeSet<&String> = ids.values().collect();
    assert_eq!(
        distinct.len(),
        ids.len(),
        "control ids are distinct: {ids:?}"
    );
    assert_eq!(ids.get("dlv-hl7-1"), Some(&control_id));
    let summary: Vec<(&str, &str)> = seen
        .iter()
        .map(|r| {
            (
                segment(r, "ZSA")[0][13].as_str().expect("ZSA-13"),
                r["ack"].as_str().expect("ack"),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("dlv-hl7-1", "AE"),
            ("dlv-hl7-1", "AA"),
            ("dlv-hl7-2", "AR"),
            ("dlv-hl7-3", "NONE"),
            ("dlv-hl7-3", "AA"),
            ("dlv-hl7-5", "AA"),
        ]
    );
    // Each message id was accepted once.
    let accepted: Vec<&str> = summary
        .iter()
        .filter(|(_, a)| *a == "AA")
        .map(|(i, _)| *i)
        .collect();
    assert_eq!(accepted, vec!["dlv-hl7-1", "dlv-hl7-3", "dlv-hl7-5"]);
    let amber_seen = seen.last().expect("amber message");
    let raw = amber_seen["raw"].as_str().expect("raw");
    for detail in [
        "InfuCare",
        "CVE-2026-99911",
        "firmware",
        "exmed-sa-2026-0042.json",
    ] {
        assert!(
            !raw.contains(detail),
            "{detail} leaked under TLP:AMBER: {raw}"
        );
    }
    assert!(amber_seen["segments"].get("ZAP").is_none(), "{amber_seen}");
    let nte = segment(amber_seen, "NTE")[0][3].as_str().expect("NTE-3");
    assert!(
        nte.contains(&amber.portal_url) && nte.contains("TLP:AMBER"),
        "{nte}"
    );

    // What the hl7 package read from the accepted message.
    let m = &seen[1];
    assert_eq!(m["framed"], true, "MLLP start block");
    assert_eq!(m["message_type"], "ZSA^Z01");
    let raw = m["raw"].as_str().expect("raw");
    assert!(
        raw.ends_with('\r') && !raw.contains('\n'),
        "segments end with CR: {raw:?}"
    );
    assert!(
        raw.contains(r"pump\F\dose\S\rate\R\x\E\y") && raw.contains(r"\T\ "),
        "{raw}"
    );
    let msh = &segment(m, "MSH")[0];
    assert_eq!(msh[3], "HERALD");
    assert_eq!(msh[4], "EXAMPLEMED");
    assert_eq!(msh[10].as_str(), Some(control_id.as_str()));
    assert_eq!(msh[12], "2.5");
    assert_eq!(segment(m, "EVN")[0][1], "Z01");
    let zsa = &segment(m, "ZSA")[0];
    assert_eq!(zsa[1], "EXMED-SA-2026-0042");
    assert_eq!(
        zsa[4], TITLE,
        "HL7 escaping round-trips through the hl7 package"
    );
    assert_eq!(zsa[5], "medium");
    assert_eq!(zsa[6], "6.5");
    assert_eq!(zsa[8], "20261101083000+0000");
    let zap = segment(m, "ZAP");
    assert_eq!(zap.len(), 2);
    assert_eq!(
        (zap[1][3].as_str(), zap[1][4].as_str(), zap[1][5].as_str()),
        (Some("InfuCare 500"), Some("2.0"), Some("04012345678918"))
    );
    let zcv = segment(m, "ZCV");
    assert_eq!(
        (zcv[0][2].as_str(), zcv[1][2].as_str()),
        (Some("CVE-2026-99911"), Some("CVE-2026-99912"))
    );
    let nte = &segment(m, "NTE")[0];
    // python-hl7 turns the \.br\ line break back into a CR.
    assert_eq!(nte[3].as_str(), Some(SUMMARY.replace('\n', "\r").as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hl7_mllp_over_tls_trusts_only_the_configured_extra_root() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key, pem) = self_signed(dir.path());
    let (cert, key) = (cert.to_str().expect("path"), key.to_str().expect("path"));
    let (peer, record) = start_peer(
        dir.path(),
        "mllp_peer.py",
        "mllp-tls",
        &["--cert", cert, "--key", key],
    );
    let mut dest = hl7_destination(&peer);
    dest.config["tls"] = json!(true);

    // Without the extra root the self-signed certificate is refused: nothing is delivered.
    let untrusting = host(hl7_config(), "hl7-mllp");
    match untrusting
        .deliver(&dest, &notification("dlv-tls-1", 1), &Secrets::new())
        .await
    {
        Err(DeliveryError::Retryable(m)) => {
            assert!(m.to_lowercase().contains("certificate"), "{m}")
        }
        other => panic!("untrusted certificate: {other:?}"),
    }
    let mut config = hl7_config();
    config.extra_root_certificates = vec![pem];
    let trusting = host(config, "hl7-mllp");
    let receipt = trusting
        .deliver(&dest, &notification("dlv-tls-1", 2), &Secrets::new())
        .await
        .expect("delivered over TLS");
    assert_eq!(receipt.detail, "ACK AA: accepted");
    // The operator's self-test goes the same way and is acknowledged.
    trusting
        .test(&dest, &Secrets::new())
        .await
        .expect("self-test");
    let seen = records(&record);
    assert_eq!(seen.len(), 2, "{seen:#?}");
    assert_eq!(segment(&seen[0], "ZSA")[0][13], "dlv-tls-1");
    assert_eq!(segment(&seen[1], "ZSA")[0][3], "herald.test");

    let issues = trusting
        .validate_config(
            "hl7-mllp",
            &json!({ "endpoint": "no-port", "processing_id": "X" }),
        )
        .await
        .expect("validate");
    let fields: Vec<&str> = issues.iter().map(|i| i.field.as_str()).collect();
    assert_eq!(fields, vec!["endpoint", "processing_id"], "{issues:?}");
}

// ---- webhook (Standard Webhooks) -----------------------------------------------------------------

fn whsec(key: &[u8]) -> String {
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_signed_receiver_down_then_up_with_key_rotation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let new_key = whsec(b"herald-webhook-key-new-2026-0001");
    let old_key = whsec(b"herald-webhook-key-old-2025-0001");
    let secrets = Secrets::new()
        .with("hook_key_new", new_key.clone())
        .with("hook_key_old", old_key.clone())
        .with("hook_key_wrong", whsec(b"not-the-receiver-s-key-000000000"));
    let host = host(base_config(), "webhook");

    // A port nobody listens on yet.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let dest = |signing: &[&str]| DestinationConfig {
        destination_id: "dest-webhook".into(),
        plugin_id: "webhook".into(),
        config: json!({ "url": format!("http://127.0.0.1:{port}/hook"), "signing_secrets": signing }),
        grants: Grants {
            http_hosts: vec![format!("127.0.0.1:{port}")],
            allow_insecure_http: true,
            allow_private_addresses: true,
            ..Grants::default()
        },
    };
    let rotating = dest(&["hook_key_new", "hook_key_old"]);

    // Receiver down: retryable.
    match host
        .deliver(&rotating, &notification("dlv-hook-1", 1), &secrets)
        .await
    {
        Err(DeliveryError::Retryable(m)) => assert!(m.contains("transport"), "{m}"),
        other => panic!("receiver down must be retryable: {other:?}"),
    }
    // Receiver up (it knows both keys, as during a rotation): the retry is accepted.
    let port_arg = port.to_string();
    let (_peer, record) = start_peer(
        dir.path(),
        "webhook_peer.py",
        "webhook",
        &[
            "--port", &port_arg, "--secret", &new_key, "--secret", &old_key,
        ],
    );
    let receipt = host
        .deliver(&rotating, &notification("dlv-hook-1", 2), &secrets)
        .await
        .expect("delivered once the receiver is up");
    assert_eq!(receipt.remote_id.as_deref(), Some("dlv-hook-1"));

    // After the rotation: one signature, with the new key only.
    host.deliver(
        &dest(&["hook_key_new"]),
        &notification("dlv-hook-2", 1),
        &secrets,
    )
    .await
    .expect("signed with the new key");
    // A key the receiver does not know: it refuses (401), permanent.
    match host
        .deliver(
            &dest(&["hook_key_wrong"]),
            &notification("dlv-hook-3", 1),
            &secrets,
        )
        .await
    {
        Err(DeliveryError::Permanent(m)) => assert!(m.contains("401"), "{m}"),
        other => panic!("wrong key: {other:?}"),
    }
    // A signing secret the destination does not have: refused before sending.
    match host
        .deliver(
            &dest(&["hook_key_missing"]),
            &notification("dlv-hook-4", 1),
            &secrets,
        )
        .await
    {
        Err(DeliveryError::Misconfigured(m)) => assert!(m.contains("hook_key_missing"), "{m}"),
        other => panic!("missing signing secret: {other:?}"),
    }

    // TLP:AMBER: a thin, still signed notification; the receiver fetches the document with its
    // own read token.
    let mut amber = notification("dlv-hook-5", 1);
    amber.tlp = "AMBER".into();
    amber.csaf_url =
        "https://advisories.examplemed.test/.well-known/csaf/amber/2026/exmed-sa-2026-0042.json"
            .into();
    host.deliver(&dest(&["hook_key_new"]), &amber, &secrets)
        .await
        .expect("amber delivered");

    let seen = records(&record);
    assert_eq!(seen.len(), 4, "{seen:#?}");
    let thin = &seen[3];
    assert_eq!(thin["id"], "dlv-hook-5");
    assert_eq!(thin["verified"], json!([true, false]), "{thin}");
    let body = thin["body"].to_string();
    for detail in [
        "InfuCare",
        "CVE-2026-99911",
        "firmware 4.3",
        "04012345678901",
        "friends",
    ] {
        assert!(
            !body.contains(detail),
            "{detail} sent under TLP:AMBER: {body}"
        );
    }
    let data = &thin["body"]["data"];
    assert_eq!(data["restricted"], true);
    assert_eq!(data["tlp"], "AMBER");
    assert_eq!(data["tracking_id"], "EXMED-SA-2026-0042");
    assert_eq!(data["portal_url"], amber.portal_url.as_str());
    assert_eq!(data["csaf_url"], amber.csaf_url.as_str());
    assert!(
        data.get("title").is_none() && data.get("products").is_none(),
        "{data}"
    );
    let rotated = &seen[0];
    assert_eq!(rotated["id"], "dlv-hook-1");
    assert_eq!(rotated["verified"], json!([true, true]), "{rotated}");
    let signatures: Vec<&str> = rotated["signature"]
        .as_str()
        .expect("signature")
        .split(' ')
        .collect();
    assert_eq!(signatures.len(), 2);
    assert!(
        signatures.iter().all(|s| s.starts_with("v1,")),
        "{signatures:?}"
    );
    assert_eq!(rotated["body"]["data"]["tracking_id"], "EXMED-SA-2026-0042");
    assert_eq!(rotated["body"]["data"]["title"], TITLE);
    assert_eq!(rotated["body"]["data"]["restricted"], false);

    assert_eq!(seen[1]["id"], "dlv-hook-2");
    assert_eq!(seen[1]["verified"], json!([true, false]));
    assert_eq!(seen[2]["id"], "dlv-hook-3");
    assert_eq!(seen[2]["verified"], json!([false, false]));
    // One record per delivery id: the receiver-down attempt left nothing behind.
    let ids: Vec<&str> = seen.iter().map(|r| r["id"].as_str().expect("id")).collect();
    assert_eq!(
        ids,
        vec!["dlv-hook-1", "dlv-hook-2", "dlv-hook-3", "dlv-hook-5"]
    );
    // The keys never leave the host.
    let everything = serde_json::to_string(&seen).expect("json");
    assert!(!everything.contains(&new_key) && !everything.contains(&old_key));
}
