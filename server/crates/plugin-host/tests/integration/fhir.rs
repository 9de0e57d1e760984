//! The `fhir` channel plugin (target/plugins/fhir.wasm, built by `scripts/build-wasm plugins
//! fhir`) in the real plugin host against a real FHIR receiver on 127.0.0.1
//! (tests/peers/fhir_receiver.py) that validates each Communication with `fhir.resources` (R4B
//! models) and supports conditional create. Checks the resource, the status mapping and that
//! retries never leave a duplicate on the receiver.

use crate::peers;

use herald_delivery::{DeliveryError, DestinationConfig, Grants, Notification, NotifiedProduct};
use herald_plugin_host::{PluginHost, Secrets};
use peers::Peer;
use serde_json::{Value, json};

const TOKEN: &str = "fhir-tok-271828";
const DELIVERY: &str = "0192f3a4-5b6c-7d8e-9f00-112233445566";

fn host() -> PluginHost {
    peers::host_with("fhir")
}

fn receiver() -> Peer {
    Peer::start("fhir_receiver.py", &["--token", TOKEN])
}

fn destination(peer: &Peer) -> DestinationConfig {
    DestinationConfig {
        destination_id: "dest-fhir".into(),
        plugin_id: "fhir".into(),
        config: json!({
            "base_url": peer.url("/fhir"),
            "token_secret": "fhir_token",
            "sender_name": "Examplemed GmbH",
            "sender_identifier_system": "urn:oid:1.3.160",
            "sender_identifier_value": "4012345000009",
            "recipient_reference": "Organization/st-elsewhere",
        }),
        grants: Grants {
            http_hosts: vec![peer.host_port()],
            allow_insecure_http: true,
            allow_private_addresses: true,
            ..Grants::default()
        },
    }
}

fn secrets() -> Secrets {
    Secrets::new().with("fhir_token", TOKEN)
}

fn notification(delivery_id: &str, severity: Option<&str>) -> Notification {
    Notification {
        delivery_id: delivery_id.into(),
        event_kind: "advisory.published".into(),
        tracking_id: "EXMED-SA-2026-0007".into(),
        version: "1".into(),
        title: "Examplemed InfuCare pump: hard-coded service password".into(),
        severity: severity.map(str::to_string),
        cvss_score: Some(8.1),
        cves: vec!["CVE-2026-99901".into(), "CVE-2026-99902".into()],
        products: vec![
            NotifiedProduct {
                product_id: "CSAFPID-0001".into(),
                // A CSAF full product name carries the version already.
                name: "InfuCare 300 4.2".into(),
                version: Some("4.2".into()),
                udi_di: Some("04012345678901".into()),
                ..NotifiedProduct::default()
            },
            NotifiedProduct {
                product_id: "CSAFPID-0002".into(),
                name: "InfuCare Gateway".into(),
                version: None,
                udi_di: None,
                ..NotifiedProduct::default()
            },
        ],
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

fn resources(state: &Value) -> Vec<Value> {
    state["resources"].as_array().cloned().unwrap_or_default()
}

fn fhir_requests(state: &Value) -> Vec<Value> {
    state["requests"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_a_valid_r4_communication_the_receiver_accepts() {
    let peer = receiver();
    let host = host();
    let dest = destination(&peer);

    let receipt = host
        .deliver(&dest, &notification(DELIVERY, Some("high")), &secrets())
        .await
        .expect("delivered");
    assert_eq!(receipt.remote_id.as_deref(), Some("Communication/1001"));
    assert_eq!(receipt.detail, "HTTP 201");

    let state = peer.state().await;
    let stored = resources(&state);
    assert_eq!(stored.len(), 1, "{state:#}");
    let c = &stored[0];
    assert_eq!(c["status"], "completed");
    assert_eq!(c["priority"], "asap");
    assert_eq!(
        c["identifier"],
        json!([{ "system": "urn:ietf:rfc:3986", "value": format!("urn:uuid:{DELIVERY}") }])
    );
    let codings = c["category"][0]["coding"].as_array().expect("codings");
    assert!(
        codings.iter().any(
            |k| k["system"] == "urn:herald:fhir:CodeSystem:communication-category"
                && k["code"] == "security-advisory"
        ),
        "{codings:?}"
    );
    assert_eq!(c["sender"]["display"], "Examplemed GmbH");
    assert_eq!(
        c["sender"]["identifier"],
        json!({ "system": "urn:oid:1.3.160", "value": "4012345000009" })
    );
    assert_eq!(c["recipient"][0]["reference"], "Organization/st-elsewhere");
    // Only the product with a UDI-DI is referenced.
    assert_eq!(c["about"].as_array().map(Vec::len), Some(1), "{c:#}");
    assert_eq!(
        c["about"][0]["identifier"],
        json!({ "system": "http://hl7.org/fhir/NamingSystem/gs1-di", "value": "04012345678901" })
    );
    // The full name once, not "InfuCare 300 4.2 4.2".
    assert_eq!(c["about"][0]["display"], "InfuCare 300 4.2");
    let text = c["payload"][0]["contentString"].as_str().expect("text");
    assert!(
        text.contains("InfuCare 300 4.2 (UDI-DI 04012345678901)") && !text.contains("4.2 4.2"),
        "{text}"
    );
    for expected in [
        "Update to firmware 4.3.",
        "CVE-2026-99901, CVE-2026-99902",
        "EXMED-SA-2026-0007",
        "InfuCare Gateway",
    ] {
        assert!(text.contains(expected), "{expected:?} not in {text:?}");
    }
    assert_eq!(
        c["payload"][1]["contentAttachment"]["url"],
        "https://advisories.examplemed.test/.well-known/csaf/white/2026/exmed-sa-2026-0007.json"
    );
    let sent = c["sent"].as_str().expect("sent");
    assert!(
        sent.len() == 20 && sent.starts_with("20") && sent.ends_with('Z'),
        "{sent}"
    );

    let requests = fhir_requests(&state);
    assert_eq!(requests.len(), 1);
    let headers = &requests[0]["headers"];
    assert_eq!(requests[0]["path"], "/fhir/Communication");
    assert_eq!(headers["authorization"], format!("Bearer {TOKEN}"));
    assert_eq!(headers["content-type"], "application/fhir+json");
    assert!(
        headers.get("if-none-exist").is_none(),
        "first attempt is a plain create"
    );

    // Priority from severity; a non-UUID delivery id becomes a urn:herald:delivery: URI.
    for (i, (severity, priority)) in [
        (Some("critical"), "stat"),
        (Some("medium"), "urgent"),
        (Some("low"), "routine"),
        (Some("none"), "routine"),
        (None, "routine"),
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("dlv-{i}");
        host.deliver(&dest, &notification(&id, severity), &secrets())
            .await
            .expect("delivered");
        let stored = resources(&peer.state().await);
        let last = stored.last().expect("stored");
        assert_eq!(last["priority"], priority, "{severity:?}");
        assert_eq!(
            last["identifier"][0]["value"],
            format!("urn:herald:delivery:{id}")
        );
    }
}

/// TLP:AMBER: the receiver gets a valid Communication with only a summary and the portal link;
/// no title, CVE, product, UDI-DI, summary text or CSAF attachment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restricted_tlp_sends_only_a_summary_and_the_link() {
    let peer = receiver();
    let host = host();
    let dest = destination(&peer);
    let mut amber = notification("0192f3a4-5b6c-7d8e-9f00-aaaaaaaaaaaa", Some("critical"));
    amber.tlp = "AMBER".into();
    amber.csaf_url =
        "https://advisories.examplemed.test/.well-known/csaf/amber/2026/exmed-sa-2026-0007.json"
            .into();
    host.deliver(&dest, &amber, &secrets())
        .await
        .expect("delivered");
    let state = peer.state().await;
    let stored = resources(&state);
    assert_eq!(stored.len(), 1, "{state:#}");
    let raw = stored[0].to_string();
    for detail in [
        "InfuCare",
        "hard-coded",
        "CVE-2026-99901",
        "04012345678901",
        "firmware 4.3",
        "/csaf/amber/",
    ] {
        assert!(
            !raw.contains(detail),
            "{detail} leaked under TLP:AMBER: {raw}"
        );
    }
    assert!(stored[0].get("about").is_none(), "{raw}");
    assert!(raw.contains(&amber.portal_url), "no portal link: {raw}");
    assert!(raw.contains("TLP:AMBER"), "{raw}");
    assert_eq!(stored[0]["priority"], "stat");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_a_lost_answer_is_a_conditional_create_and_no_duplicate() {
    let peer = receiver();
    let host = host();
    let dest = destination(&peer);

    // The receiver stores the resource but its answer never arrives in time.
    peer.script(json!([{ "status": "store_then_hang", "seconds": 3 }]))
        .await;
    let mut n = notification(DELIVERY, Some("critical"));
    match host.deliver(&dest, &n, &secrets()).await {
        Err(DeliveryError::Retryable(m)) => assert!(m.contains("timeout"), "{m}"),
        other => panic!("lost answer must be retryable: {other:?}"),
    }
    assert_eq!(resources(&peer.state().await).len(), 1);

    n.attempt = 2;
    let receipt = host.deliver(&dest, &n, &secrets()).await.expect("retry");
    assert_eq!(receipt.remote_id.as_deref(), Some("Communication/1001"));
    assert!(receipt.detail.starts_with("HTTP 200"), "{}", receipt.detail);

    let state = peer.state().await;
    assert_eq!(resources(&state).len(), 1, "no duplicate: {state:#}");
    let requests = fhir_requests(&state);
    assert_eq!(requests.len(), 2);
    let condition = requests[1]["headers"]["if-none-exist"]
        .as_str()
        .expect("If-None-Exist on the retry");
    assert_eq!(
        condition,
        format!("identifier=urn%3Aietf%3Arfc%3A3986%7Curn%3Auuid%3A{DELIVERY}")
    );

    // A retry of a delivery that never reached the receiver still creates it.
    let mut other = notification("dlv-never-arrived", Some("low"));
    other.attempt = 3;
    let receipt = host.deliver(&dest, &other, &secrets()).await.expect("new");
    assert_eq!(receipt.remote_id.as_deref(), Some("Communication/1002"));
    assert_eq!(resources(&peer.state().await).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classifies_the_receivers_answers() {
    let peer = receiver();
    let host = host();
    let dest = destination(&peer);
    let mut n = notification(DELIVERY, Some("high"));

    peer.script(json!([
        { "status": 429, "retry_after": "7" },
        { "status": 429 },
        { "status": 503 },
        { "status": 400 },
        { "status": 422 },
        { "status": 403 },
    ]))
    .await;
    match host.deliver(&dest, &n, &secrets()).await {
        Err(DeliveryError::RetryAfter { seconds: 7, .. }) => {}
        other => panic!("429 + Retry-After: {other:?}"),
    }
    n.attempt += 1;
    assert!(matches!(
        host.deliver(&dest, &n, &secrets()).await,
        Err(DeliveryError::Retryable(m)) if m.contains("429")
    ));
    assert!(matches!(
        host.deliver(&dest, &n, &secrets()).await,
        Err(DeliveryError::Retryable(m)) if m.contains("503")
    ));
    for status in ["400", "422"] {
        match host.deliver(&dest, &n, &secrets()).await {
            Err(DeliveryError::Permanent(m)) => assert!(m.contains(status), "{m}"),
            other => panic!("{status}: {other:?}"),
        }
    }
    assert!(matches!(
        host.deliver(&dest, &n, &secrets()).await,
        Err(DeliveryError::Misconfigured(m)) if m.contains("403")
    ));
    // A wrong token: the receiver's own 401.
    let wrong = Secrets::new().with("fhir_token", "not-the-token");
    assert!(matches!(
        host.deliver(&dest, &n, &wrong).await,
        Err(DeliveryError::Misconfigured(m)) if m.contains("401")
    ));
    assert!(
        resources(&peer.state().await).is_empty(),
        "nothing stored yet"
    );

    // 429 ... then accepted: exactly one Communication.
    let receipt = host
        .deliver(&dest, &n, &secrets())
        .await
        .expect("delivered");
    assert_eq!(receipt.remote_id.as_deref(), Some("Communication/1001"));
    n.attempt += 1;
    host.deliver(&dest, &n, &secrets())
        .await
        .expect("a repeat is answered from the stored one");
    assert_eq!(resources(&peer.state().await).len(), 1);

    // Nobody listening: transport error, retryable.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let mut gone = dest.clone();
    gone.config["base_url"] = json!(format!("http://127.0.0.1:{port}/fhir"));
    gone.grants.http_hosts = vec![format!("127.0.0.1:{port}")];
    assert!(matches!(
        host.deliver(&gone, &n, &secrets()).await,
        Err(DeliveryError::Retryable(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_export_reads_the_capability_statement_and_config_is_checked() {
    let peer = receiver();
    let host = host();
    let dest = destination(&peer);
    let receipt = host.test(&dest, &secrets()).await.expect("test");
    assert!(receipt.detail.contains("FHIR version 4.0.1"), "{receipt:?}");
    assert!(resources(&peer.state().await).is_empty());

    assert!(
        host.validate_config("fhir", &dest.config)
            .await
            .expect("validate")
            .is_empty()
    );
    let bad = json!({
        "base_url": "ftp://fhir.example/Communication",
        "token_secret": "has space",
        "sender_name": " ",
        "sender_identifier_system": "urn:oid:1.3.160",
        "recipient_reference": "Patient/1",
    });
    let issues = host.validate_config("fhir", &bad).await.expect("validate");
    let fields: Vec<&str> = issues.iter().map(|i| i.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "base_url",
            "token_secret",
            "sender_name",
            "sender_identifier_value",
            "recipient_reference"
        ],
        "{issues:?}"
    );
    let unknown = host
        .validate_config(
            "fhir",
            &json!({ "base_url": "https://x.test", "sender_name": "M", "url": 1 }),
        )
        .await
        .expect("validate");
    assert!(
        unknown.iter().any(|i| i.message.contains("url")),
        "{unknown:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_client_credentials_token_then_communication() {
    const CLIENT_SECRET: &str = "fhir client&secret=1";
    let peer = Peer::start(
        "fhir_receiver.py",
        &[
            "--token",
            TOKEN,
            "--client-id",
            "herald",
            "--client-secret",
            CLIENT_SECRET,
        ],
    );
    let host = host();
    let mut dest = destination(&peer);
    dest.config
        .as_object_mut()
        .expect("object")
        .remove("token_secret");
    dest.config["oauth"] = json!({
        "token_url": peer.url("/auth/token"),
        "client_id": "herald",
        "client_secret_secret": "fhir_client_secret",
        "scope": "system/Communication.write",
    });
    assert_eq!(
        host.validate_config("fhir", &dest.config)
            .await
            .expect("validate"),
        vec![]
    );
    let secrets = Secrets::new().with("fhir_client_secret", CLIENT_SECRET);
    let receipt = host
        .deliver(&dest, &notification(DELIVERY, Some("high")), &secrets)
        .await
        .expect("token fetched, Communication created");
    assert_eq!(receipt.remote_id.as_deref(), Some("Communication/1001"));
    let state = peer.state().await;
    let requests = fhir_requests(&state);
    let paths: Vec<&str> = requests
        .iter()
        .map(|r| r["path"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(paths, vec!["/auth/token", "/fhir/Communication"]);
    assert_eq!(
        requests[1]["headers"]["authorization"],
        format!("Bearer {TOKEN}")
    );
    assert_eq!(resources(&state).len(), 1);

    // Wrong client secret: misconfigured, nothing stored.
    let wrong = Secrets::new().with("fhir_client_secret", "nope");
    match host
        .deliver(&dest, &notification("dlv-oauth-wrong", None), &wrong)
        .await
    {
        Err(DeliveryError::Misconfigured(m)) => assert!(m.contains("invalid_client"), "{m}"),
        other => panic!("refused client: {other:?}"),
    }
    assert_eq!(resources(&peer.state().await).len(), 1);
}
