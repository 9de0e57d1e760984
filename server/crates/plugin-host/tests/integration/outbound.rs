//! The operator's outbound policy decides where plugins may go; a destination's grants only
//! narrow it. A hospital admin who ticks "allow private addresses" and "allow plain http" on
//! its own destination still reaches nothing the operator did not allow, through http
//! (webhook), smtp (email) or tcp (HL7), and the refusals name the operator's setting without
//! revealing internal addresses or whether a port is open.

use crate::peers::component;
use crate::plugins::{Receiver, notification, secrets, test_config, webhook_destination};
use herald_delivery::{DeliveryError, DestinationConfig, Grants};
use herald_plugin_host::outbound::{INSECURE_HTTP_SETTING, PRIVATE_RANGES_SETTING};
use herald_plugin_host::{Capability, HostConfig, OutboundPolicy, PluginHost, Secrets};
use serde_json::json;
use std::time::Duration;
use tokio::net::TcpListener;

fn host_with(outbound: OutboundPolicy, plugin: &str) -> PluginHost {
    let mut config = HostConfig {
        outbound,
        ..test_config()
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

/// Plain http to loopback allowed by the operator, but no private range.
fn http_only() -> OutboundPolicy {
    OutboundPolicy {
        insecure_http_hosts: vec!["127.0.0.1".into(), "localhost".into()],
        ..OutboundPolicy::default()
    }
}

fn refusal(result: Result<herald_delivery::Receipt, DeliveryError>) -> String {
    match result {
        Err(DeliveryError::Misconfigured(m)) => m,
        other => panic!("expected a policy refusal: {other:?}"),
    }
}

/// A listener nobody should reach: `None` when nothing connected within a moment.
async fn connected(listener: &TcpListener) -> bool {
    tokio::time::timeout(Duration::from_millis(200), listener.accept())
        .await
        .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loopback_probe_is_refused_unless_the_operator_allows_loopback() {
    let receiver = Receiver::start().await;
    // What the hospital admin saved: its own grants allow everything.
    let probe = webhook_destination(&receiver);
    assert!(probe.grants.allow_private_addresses && probe.grants.allow_insecure_http);
    let n = notification("probe-1");

    // Default policy: public https only. Neither a delivery nor "Send test" gets through.
    let default = host_with(OutboundPolicy::default(), "webhook");
    let m = refusal(default.deliver(&probe, &n, &secrets()).await);
    assert!(m.contains(INSECURE_HTTP_SETTING), "{m}");
    let m = refusal(default.test(&probe, &secrets()).await);
    assert!(m.contains(INSECURE_HTTP_SETTING), "{m}");

    // Plain http allowed, loopback not: the address is refused, naming the operator's setting
    // and not the address the name resolved to.
    let http = host_with(http_only(), "webhook");
    let m = refusal(http.test(&probe, &secrets()).await);
    assert!(m.contains(PRIVATE_RANGES_SETTING), "{m}");
    let mut by_name = probe.clone();
    by_name.config = json!({ "url": format!("http://localhost:{}/internal", receiver.addr.port()), "authorization_secret": "hook_token" });
    by_name.grants.http_hosts = vec!["localhost".into()];
    let open = refusal(http.deliver(&by_name, &n, &secrets()).await);
    assert!(
        open.contains("host localhost") && open.contains(PRIVATE_RANGES_SETTING),
        "{open}"
    );
    assert!(!open.contains("127.0.0.1"), "no internal address: {open}");
    // A closed port answers exactly the same: no port scanning through refusals.
    let closed_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let mut closed = by_name.clone();
    closed.config["url"] = json!(format!("http://localhost:{closed_port}/internal"));
    assert_eq!(refusal(http.deliver(&closed, &n, &secrets()).await), open);
    // A range that is not loopback does not open loopback.
    let lan = host_with(
        OutboundPolicy {
            private_ranges: OutboundPolicy::parse_ranges(["10.0.0.0/8"]).expect("range"),
            ..http_only()
        },
        "webhook",
    );
    let m = refusal(lan.deliver(&probe, &n, &secrets()).await);
    assert!(m.contains(PRIVATE_RANGES_SETTING), "{m}");
    assert!(receiver.requests().is_empty(), "{:?}", receiver.requests());

    // The operator allows 127.0.0.0/8: the same destination now gets through.
    let allowed = host_with(OutboundPolicy::loopback(), "webhook");
    allowed
        .deliver(&probe, &n, &secrets())
        .await
        .expect("operator allowed loopback");
    allowed
        .test(&probe, &secrets())
        .await
        .expect("send test allowed too");
    assert_eq!(receiver.requests().len(), 2);

    // And the destination's grants still narrow what the operator allows.
    let mut no_private = probe.clone();
    no_private.grants.allow_private_addresses = false;
    let m = refusal(allowed.deliver(&no_private, &n, &secrets()).await);
    assert!(m.contains("allow_private_addresses"), "{m}");
    let mut no_plain = probe.clone();
    no_plain.grants.allow_insecure_http = false;
    let m = refusal(allowed.deliver(&no_plain, &n, &secrets()).await);
    assert!(m.contains("not allowed for this destination"), "{m}");
    // Plain http to a host the operator did not list stays refused, whatever the destination.
    let mut other_host = probe.clone();
    other_host.config["url"] = json!(format!("http://127.0.0.2:{}/hook", receiver.addr.port()));
    other_host.grants.http_hosts = vec![format!("127.0.0.2:{}", receiver.addr.port())];
    let m = refusal(allowed.deliver(&other_host, &n, &secrets()).await);
    assert!(m.contains(INSECURE_HTTP_SETTING), "{m}");
    assert_eq!(receiver.requests().len(), 2);
}

fn email_destination(host: &str, port: u16, allow_private: bool) -> DestinationConfig {
    DestinationConfig {
        destination_id: "dest-email".into(),
        plugin_id: "email".into(),
        config: json!({
            "to": ["security@hospital.test"],
            "smtp": {
                "host": host, "port": port, "tls": "starttls",
                "from": "Examplemed PSIRT <psirt@examplemed.test>"
            }
        }),
        grants: Grants {
            smtp: true,
            allow_private_addresses: allow_private,
            ..Grants::default()
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_to_a_private_address_is_refused_before_connecting() {
    let relay = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = relay.local_addr().expect("addr").port();
    let n = notification("mail-probe-1");

    let default = host_with(OutboundPolicy::default(), "email");
    for host in ["127.0.0.1", "localhost"] {
        let dest = email_destination(host, port, true);
        let m = refusal(default.deliver(&dest, &n, &Secrets::new()).await);
        assert!(
            m.contains(PRIVATE_RANGES_SETTING) && m.contains(&format!("host {host}")),
            "{m}"
        );
        let m = refusal(default.test(&dest, &Secrets::new()).await);
        assert!(m.contains(PRIVATE_RANGES_SETTING), "{m}");
    }
    // Not even the relay's banner was asked for.
    assert!(!connected(&relay).await, "nothing may connect to the relay");
    // The same refusal for a port nobody listens on.
    let closed = refusal(
        default
            .deliver(
                &email_destination("localhost", 1, true),
                &n,
                &Secrets::new(),
            )
            .await,
    );
    let open = refusal(
        default
            .deliver(
                &email_destination("localhost", port, true),
                &n,
                &Secrets::new(),
            )
            .await,
    );
    assert_eq!(closed, open);
    assert!(!open.contains("127.0.0.1"), "{open}");

    // The operator allows loopback, the destination does not: still refused.
    let loopback = host_with(OutboundPolicy::loopback(), "email");
    let m = refusal(
        loopback
            .deliver(
                &email_destination("127.0.0.1", port, false),
                &n,
                &Secrets::new(),
            )
            .await,
    );
    assert!(m.contains("allow_private_addresses"), "{m}");
    assert!(!connected(&relay).await, "nothing may connect to the relay");
    // Both allow it: the session starts (this listener speaks no SMTP, so it then fails).
    let attempt = loopback
        .deliver(
            &email_destination("127.0.0.1", port, true),
            &n,
            &Secrets::new(),
        )
        .await;
    assert!(
        connected(&relay).await,
        "the allowed relay is contacted: {attempt:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_to_a_private_address_needs_the_operators_range() {
    let engine = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let endpoint = format!("127.0.0.1:{}", engine.local_addr().expect("addr").port());
    let dest = DestinationConfig {
        destination_id: "dest-hl7".into(),
        plugin_id: "hl7-mllp".into(),
        config: json!({
            "endpoint": endpoint,
            "sending_facility": "EXAMPLEMED",
            "receiving_application": "MIRTH",
            "receiving_facility": "HOSPITAL",
            "ack_timeout_ms": 300
        }),
        grants: Grants {
            tcp_endpoints: vec![endpoint.clone()],
            allow_private_addresses: true,
            ..Grants::default()
        },
    };
    let n = notification("hl7-probe-1");
    let default = host_with(OutboundPolicy::default(), "hl7-mllp");
    let m = refusal(default.deliver(&dest, &n, &Secrets::new()).await);
    assert!(m.contains(PRIVATE_RANGES_SETTING), "{m}");
    assert!(!connected(&engine).await, "nothing may connect");
    let loopback = host_with(OutboundPolicy::loopback(), "hl7-mllp");
    let attempt = loopback.deliver(&dest, &n, &Secrets::new()).await;
    assert!(connected(&engine).await, "allowed: {attempt:?}");
}
