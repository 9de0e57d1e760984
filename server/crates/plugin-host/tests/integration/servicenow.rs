//! The `servicenow` channel plugin (target/plugins/servicenow.wasm, built by `scripts/build-wasm
//! plugins servicenow`) in the real plugin host against a ServiceNow stand-in on 127.0.0.1
//! (tests/peers/servicenow_instance.py: Table API, Import Set API with a coalescing transform,
//! basic and bearer auth, scripted failures). Checks the record's fields, the status mapping,
//! and that retries and revisions never leave a duplicate record.

use crate::peers;

use herald_delivery::{
    DeliveryError, DestinationConfig, Grants, Notification, NotifiedProduct, Receipt,
};
use herald_plugin_host::{PluginHost, Secrets};
use peers::Peer;
use serde_json::{Value, json};

const USER: &str = "herald-int";
const PASSWORD: &str = "pa55word";
/// base64("herald-int:pa55word"): what an operator stores for `auth_scheme = basic`.
const BASIC: &str = "aGVyYWxkLWludDpwYTU1d29yZA==";
const BEARER: &str = "sn-oauth-access-161803";
const TRACKING: &str = "EXMED-SA-2026-0007";

fn host() -> PluginHost {
    peers::host_with("servicenow")
}

fn instance() -> Peer {
    Peer::start(
        "servicenow_instance.py",
        &["--user", USER, "--password", PASSWORD, "--token", BEARER],
    )
}

fn destination(peer: &Peer, config: Value) -> DestinationConfig {
    let mut full = json!({
        "instance_url": peer.url(""),
        "credentials_secret": "sn_credentials",
    });
    for (k, v) in config.as_object().cloned().unwrap_or_default() {
        full[k] = v;
    }
    DestinationConfig {
        destination_id: "dest-servicenow".into(),
        plugin_id: "servicenow".into(),
        config: full,
        grants: Grants {
            http_hosts: vec![peer.host_port()],
            allow_insecure_http: true,
            allow_private_addresses: true,
            ..Grants::default()
        },
    }
}

fn secrets() -> Secrets {
    Secrets::new().with("sn_credentials", BASIC)
}

fn notification(delivery_id: &str, version: &str) -> Notification {
    Notification {
        delivery_id: delivery_id.into(),
        event_kind: if version == "1" {
            "advisory.published".into()
        } else {
            "advisory.updated".into()
        },
        tracking_id: TRACKING.into(),
        version: version.into(),
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
        summary: format!("Update to firmware 4.3 (revision {version})."),
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

fn records(state: &Value, table: &str) -> Vec<Value> {
    state["tables"][table]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// How many token requests the instance got.
fn token_requests(state: &Value) -> usize {
    calls(state)
        .iter()
        .filter(|c| c.starts_with("POST /oauth_token.do"))
        .count()
}

/// `METHOD path` of every API request the instance got.
fn calls(state: &Value) -> Vec<String> {
    state["requests"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["method"].as_str().unwrap_or(""),
                r["path"].as_str().unwrap_or("")
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_api_creates_an_incident_and_a_revision_patches_the_same_sys_id() {
    let peer = instance();
    let host = host();
    let dest = destination(&peer, json!({}));

    let first = host
        .deliver(&dest, &notification("dlv-1", "1"), &secrets())
        .await
        .expect("created");
    let state = peer.state().await;
    let incidents = records(&state, "incident");
    assert_eq!(incidents.len(), 1, "{state:#}");
    let incident = &incidents[0];
    let sys_id = incident["sys_id"].as_str().expect("sys_id");
    assert_eq!(first.remote_id.as_deref(), Some(sys_id));
    assert!(
        first.detail.starts_with("HTTP 201: created incident INC"),
        "{}",
        first.detail
    );
    assert_eq!(
        incident["short_description"],
        format!("[{TRACKING}] Examplemed InfuCare pump: hard-coded service password")
    );
    assert_eq!(incident["correlation_id"], TRACKING);
    assert_eq!(incident["correlation_display"], "Herald");
    assert_eq!(
        (&incident["urgency"], &incident["impact"]),
        (&json!("1"), &json!("2"))
    );
    let description = incident["description"].as_str().expect("description");
    for expected in [
        "CVE-2026-99901",
        "InfuCare 300 4.2 (UDI-DI 04012345678901)",
        "Severity: high (CVSS 8.1)",
        "Update to firmware 4.3 (revision 1).",
        "CSAF document: https://advisories.examplemed.test/.well-known/csaf/white/2026/exmed-sa-2026-0007.json",
    ] {
        assert!(
            description.contains(expected),
            "{expected:?} not in {description:?}"
        );
    }
    let request = &state["requests"][0];
    assert_eq!(
        request["headers"]["authorization"],
        format!("Basic {BASIC}")
    );
    assert_eq!(request["headers"]["accept"], "application/json");
    assert_eq!(calls(&state), ["POST /api/now/table/incident"]);

    // Revision 2, with the receipt of the first delivery: PATCH, no new record.
    let mut revision = notification("dlv-2", "2");
    revision.previous_receipt = Some(first.clone());
    let second = host
        .deliver(&dest, &revision, &secrets())
        .await
        .expect("updated");
    assert_eq!(second.remote_id, first.remote_id);
    assert!(
        second.detail.starts_with("HTTP 200: updated incident"),
        "{}",
        second.detail
    );
    let state = peer.state().await;
    let incidents = records(&state, "incident");
    assert_eq!(incidents.len(), 1, "{state:#}");
    assert!(
        incidents[0]["description"]
            .as_str()
            .is_some_and(|d| d.contains("version 2") && d.contains("revision 2")),
        "{:?}",
        incidents[0]["description"]
    );
    assert_eq!(
        incidents[0]["work_notes_list"],
        json!([format!(
            "Herald: advisory {TRACKING} updated to version 2 (advisory.updated)."
        )])
    );
    assert_eq!(
        calls(&state)[1],
        format!("PATCH /api/now/table/incident/{sys_id}")
    );

    // The record was deleted on the instance meanwhile: the revision creates a new one.
    let mut orphan = notification("dlv-3", "3");
    orphan.previous_receipt = Some(Receipt {
        remote_id: Some("0123456789abcdef0123456789abcdef".into()),
        detail: "HTTP 201".into(),
    });
    let third = host
        .deliver(&dest, &orphan, &secrets())
        .await
        .expect("recreated");
    assert_ne!(third.remote_id, first.remote_id);
    assert_eq!(records(&peer.state().await, "incident").len(), 2);
}

/// Herald's rendered subject and text (the manufacturer's templates) become the record's short
/// description and description; a TLP:AMBER notice without them carries no details.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rendered_templates_and_restricted_tlp() {
    let peer = instance();
    let host = host();
    let dest = destination(&peer, json!({}));

    let mut templated = notification("dlv-r1", "1");
    templated.rendered = Some(herald_delivery::RenderedMessage {
        subject: "[high] EXMED-SA-2026-0007 v1: from the manufacturer's template".into(),
        text: "Rendered by Herald's templates.\nPortal: https://advisories.examplemed.test/x"
            .into(),
        html: "<p>Rendered</p>".into(),
    });
    host.deliver(&dest, &templated, &secrets())
        .await
        .expect("created");

    let mut amber = notification("dlv-r2", "1");
    amber.tracking_id = "EXMED-SA-2026-0008".into();
    amber.tlp = "AMBER".into();
    host.deliver(&dest, &amber, &secrets())
        .await
        .expect("created");

    let state = peer.state().await;
    let incidents = records(&state, "incident");
    assert_eq!(incidents.len(), 2, "{state:#}");
    assert_eq!(
        incidents[0]["short_description"],
        "[high] EXMED-SA-2026-0007 v1: from the manufacturer's template"
    );
    assert_eq!(
        incidents[0]["description"],
        "Rendered by Herald's templates.\nPortal: https://advisories.examplemed.test/x"
    );
    let restricted = incidents[1].to_string();
    for detail in [
        "InfuCare",
        "hard-coded",
        "CVE-2026-99901",
        "04012345678901",
        "firmware",
    ] {
        assert!(
            !restricted.contains(detail),
            "{detail} leaked under TLP:AMBER: {restricted}"
        );
    }
    assert!(restricted.contains("TLP:AMBER"), "{restricted}");
    assert!(restricted.contains(&amber.portal_url), "{restricted}");
    assert_eq!(incidents[1]["correlation_id"], "EXMED-SA-2026-0008");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_then_created_leaves_exactly_one_incident() {
    let peer = instance();
    let host = host();
    let dest = destination(&peer, json!({}));
    let mut n = notification("dlv-1", "1");

    peer.script(json!([{ "status": 429, "retry_after": "2" }]))
        .await;
    match host.deliver(&dest, &n, &secrets()).await {
        Err(DeliveryError::RetryAfter { seconds: 2, .. }) => {}
        other => panic!("429 + Retry-After: {other:?}"),
    }
    n.attempt = 2;
    let receipt = host.deliver(&dest, &n, &secrets()).await.expect("created");
    let state = peer.state().await;
    let incidents = records(&state, "incident");
    assert_eq!(incidents.len(), 1, "{state:#}");
    assert_eq!(
        receipt.remote_id.as_ref(),
        incidents[0]["sys_id"].as_str().map(str::to_string).as_ref()
    );
    let query = format!(
        "GET /api/now/table/incident?sysparm_query=correlation_id%3D{TRACKING}&sysparm_limit=1&sysparm_fields=sys_id%2Ccorrelation_id"
    );
    assert_eq!(
        calls(&state),
        [
            "POST /api/now/table/incident".to_string(),
            query,
            "POST /api/now/table/incident".to_string(),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_a_lost_answer_finds_the_record_and_patches_it() {
    let peer = instance();
    let host = host();
    let dest = destination(&peer, json!({}));
    let mut n = notification("dlv-1", "1");

    // The instance creates the incident but the answer does not arrive in time.
    peer.script(json!([{ "status": "apply_then_hang", "seconds": 3 }]))
        .await;
    match host.deliver(&dest, &n, &secrets()).await {
        Err(DeliveryError::Retryable(m)) => assert!(m.contains("timeout"), "{m}"),
        other => panic!("lost answer: {other:?}"),
    }
    assert_eq!(records(&peer.state().await, "incident").len(), 1);

    n.attempt = 2;
    let receipt = host.deliver(&dest, &n, &secrets()).await.expect("retry");
    let state = peer.state().await;
    let incidents = records(&state, "incident");
    assert_eq!(incidents.len(), 1, "no duplicate: {state:#}");
    let sys_id = incidents[0]["sys_id"].as_str().expect("sys_id");
    assert_eq!(receipt.remote_id.as_deref(), Some(sys_id));
    assert_eq!(
        calls(&state).last().map(String::as_str),
        Some(format!("PATCH /api/now/table/incident/{sys_id}").as_str())
    );
    assert_eq!(calls(&state).len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classifies_failures_and_supports_bearer_tokens() {
    let peer = instance();
    let host = host();
    let dest = destination(&peer, json!({ "table": "sn_si_incident" }));
    let n = notification("dlv-1", "1");

    peer.script(json!([
        { "status": 500 },
        { "status": 503, "retry_after": "5" },
        { "status": 403 },
        { "status": 400 },
        { "status": 422 },
        { "status": 429 },
    ]))
    .await;
    assert!(matches!(
        host.deliver(&dest, &n, &secrets()).await,
        Err(DeliveryError::Retryable(m)) if m.contains("500")
    ));
    assert!(matches!(
        host.deliver(&dest, &n, &secrets()).await,
        Err(DeliveryError::Retryable(m)) if m.contains("503")
    ));
    assert!(matches!(
        host.deliver(&dest, &n, &secrets()).await,
        Err(DeliveryError::Misconfigured(m)) if m.contains("403")
    ));
    for status in ["400", "422"] {
        match host.deliver(&dest, &n, &secrets()).await {
            Err(DeliveryError::Permanent(m)) => {
                assert!(m.contains(status) && m.contains("scripted failure"), "{m}")
            }
            other => panic!("{status}: {other:?}"),
        }
    }
    assert!(matches!(
        host.deliver(&dest, &n, &secrets()).await,
        Err(DeliveryError::Retryable(m)) if m.contains("429")
    ));
    // The instance's own 401 for wrong credentials; the secret is not echoed.
    let wrong = Secrets::new().with("sn_credentials", "d3Jvbmc6d3Jvbmc=");
    match host.deliver(&dest, &n, &wrong).await {
        Err(DeliveryError::Misconfigured(m)) => {
            assert!(
                m.contains("401") && m.contains("User Not Authenticated"),
                "{m}"
            )
        }
        other => panic!("401: {other:?}"),
    }
    assert!(records(&peer.state().await, "sn_si_incident").is_empty());

    // OAuth bearer token, into the configured table.
    let mut bearer = dest.clone();
    bearer.config["auth_scheme"] = json!("bearer");
    let token = Secrets::new().with("sn_credentials", BEARER);
    let receipt = host.deliver(&bearer, &n, &token).await.expect("created");
    let state = peer.state().await;
    let rows = records(&state, "sn_si_incident");
    assert_eq!(rows.len(), 1, "{state:#}");
    assert_eq!(
        receipt.remote_id.as_ref(),
        rows[0]["sys_id"].as_str().map(str::to_string).as_ref()
    );
    let last = state["requests"]
        .as_array()
        .and_then(|r| r.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(last["headers"]["authorization"], format!("Bearer {BEARER}"));

    // Nobody listening: retryable.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let mut gone = dest.clone();
    gone.config["instance_url"] = json!(format!("http://127.0.0.1:{port}"));
    gone.grants.http_hosts = vec![format!("127.0.0.1:{port}")];
    assert!(matches!(
        host.deliver(&gone, &n, &secrets()).await,
        Err(DeliveryError::Retryable(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_set_api_lets_the_transform_map_coalesce_revisions() {
    let peer = instance();
    let host = host();
    let dest = destination(
        &peer,
        json!({ "api": "import_set", "staging_table": "u_herald_advisory" }),
    );

    let first = host
        .deliver(&dest, &notification("dlv-1", "1"), &secrets())
        .await
        .expect("imported");
    assert!(
        first.detail.contains("row inserted INC"),
        "{}",
        first.detail
    );
    let mut revision = notification("dlv-2", "2");
    revision.previous_receipt = Some(first.clone());
    let second = host
        .deliver(&dest, &revision, &secrets())
        .await
        .expect("imported");
    assert!(second.detail.contains("row updated"), "{}", second.detail);
    assert_eq!(second.remote_id, first.remote_id);

    let state = peer.state().await;
    let incidents = records(&state, "incident");
    assert_eq!(incidents.len(), 1, "{state:#}");
    assert_eq!(first.remote_id.as_deref(), incidents[0]["sys_id"].as_str());
    assert_eq!(incidents[0]["correlation_id"], TRACKING);
    assert_eq!(
        calls(&state),
        [
            "POST /api/now/import/u_herald_advisory",
            "POST /api/now/import/u_herald_advisory"
        ]
    );
    let row = &state["import_rows"][1]["row"];
    assert_eq!(row["u_version"], "2");
    assert_eq!(row["u_cves"], "CVE-2026-99901");
    assert_eq!(row["u_correlation_display"], "Herald");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_export_reads_the_table_and_config_is_checked() {
    let peer = instance();
    let host = host();
    let dest = destination(&peer, json!({}));
    let receipt = host.test(&dest, &secrets()).await.expect("test");
    assert!(
        receipt.detail.contains("incident is readable"),
        "{receipt:?}"
    );
    assert!(records(&peer.state().await, "incident").is_empty());
    assert!(matches!(
        host.test(&dest, &Secrets::new().with("sn_credentials", "bm86bm8="))
            .await,
        Err(DeliveryError::Misconfigured(_))
    ));

    assert!(
        host.validate_config("servicenow", &dest.config)
            .await
            .expect("validate")
            .is_empty()
    );
    let bad = json!({
        "instance_url": "https://acme.service-now.com/api/now",
        "api": "import_set",
        "table": "Incident",
        "credentials_secret": "",
    });
    let issues = host
        .validate_config("servicenow", &bad)
        .await
        .expect("validate");
    let fields: Vec<&str> = issues.iter().map(|i| i.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "instance_url",
            "table",
            "staging_table",
            "credentials_secret"
        ],
        "{issues:?}"
    );
    let wrong_api = host
        .validate_config(
            "servicenow",
            &json!({ "instance_url": "https://a.test", "credentials_secret": "x", "api": "soap" }),
        )
        .await
        .expect("validate");
    assert!(
        wrong_api.iter().any(|i| i.message.contains("soap")),
        "{wrong_api:?}"
    );
}

const CLIENT_ID: &str = "herald-client";
/// Characters that must be form-encoded on the way to the token endpoint.
const CLIENT_SECRET: &str = "cs&=+/ 9%z";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_client_credentials_fetch_a_token_the_host_fills_in_the_secret() {
    let peer = Peer::start(
        "servicenow_instance.py",
        &["--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET],
    );
    let host = host();
    let dest = destination(
        &peer,
        json!({
            "auth_scheme": "oauth_client_credentials",
            "oauth": {
                "token_url": peer.url("/oauth_token.do"),
                "client_id": CLIENT_ID,
                "client_secret_secret": "sn_client_secret",
                "scope": "useraccount"
            }
        }),
    );
    assert_eq!(
        host.validate_config("servicenow", &dest.config)
            .await
            .expect("validate"),
        vec![]
    );
    let secrets = Secrets::new().with("sn_client_secret", CLIENT_SECRET);

    let receipt = host
        .deliver(&dest, &notification("dlv-oauth-1", "1"), &secrets)
        .await
        .expect("token fetched, record created");
    let state = peer.state().await;
    assert_eq!(
        calls(&state),
        vec!["POST /oauth_token.do", "POST /api/now/table/incident"],
        "{state:#}"
    );
    let token_request = &state["requests"][0];
    assert_eq!(
        token_request["headers"]["content-type"],
        "application/x-www-form-urlencoded"
    );
    // The host substituted the secret, form-encoded, into the body the plugin wrote.
    assert_eq!(
        token_request["body"],
        "grant_type=client_credentials&client_id=herald-client\
         &client_secret=cs%26%3D%2B%2F%209%25z&scope=useraccount"
    );
    let authorization = state["requests"][1]["headers"]["authorization"]
        .as_str()
        .expect("authorization");
    assert!(authorization.starts_with("Bearer sn-"), "{authorization}");
    let incidents = records(&state, "incident");
    assert_eq!(incidents.len(), 1);
    assert_eq!(
        receipt.remote_id.as_deref(),
        incidents[0]["sys_id"].as_str()
    );
    assert!(!format!("{receipt:?}").contains(CLIENT_SECRET));

    // The next delivery reuses the token: the host kept the answer (the plugin's instance is
    // gone), so no second token request.
    host.deliver(&dest, &notification("dlv-oauth-1b", "2"), &secrets)
        .await
        .expect("token reused");
    let state = peer.state().await;
    assert_eq!(token_requests(&state), 1, "{state:#}");

    // A 401 from the API (the token was revoked early): the token is dropped, and the next
    // delivery fetches a new one.
    peer.script(json!([{ "status": 401 }])).await;
    match host
        .deliver(&dest, &notification("dlv-oauth-1c", "1"), &secrets)
        .await
    {
        Err(DeliveryError::Misconfigured(m)) => assert!(m.contains("401"), "{m}"),
        other => panic!("revoked token: {other:?}"),
    }
    host.deliver(&dest, &notification("dlv-oauth-1d", "1"), &secrets)
        .await
        .expect("a new token");
    let state = peer.state().await;
    assert_eq!(token_requests(&state), 2, "{state:#}");

    // A wrong client secret: misconfigured, nothing created, the secret not echoed.
    let wrong = Secrets::new().with("sn_client_secret", "not-the-secret");
    match host
        .deliver(&dest, &notification("dlv-oauth-2", "1"), &wrong)
        .await
    {
        Err(DeliveryError::Misconfigured(m)) => {
            assert!(m.contains("401") && m.contains("access_denied"), "{m}");
            assert!(!m.contains("not-the-secret"), "{m}");
        }
        other => panic!("refused client: {other:?}"),
    }
    // A secret the destination does not have: refused by the host, nothing sent.
    match host
        .deliver(&dest, &notification("dlv-oauth-3", "1"), &Secrets::new())
        .await
    {
        Err(DeliveryError::Misconfigured(m)) => assert!(m.contains("sn_client_secret"), "{m}"),
        other => panic!("missing secret: {other:?}"),
    }
    let state = peer.state().await;
    // Records from the first, second and fourth deliveries; none from the refused ones.
    assert_eq!(records(&state, "incident").len(), 3, "{state:#}");
    assert_eq!(
        calls(&state).last().map(String::as_str),
        Some("POST /oauth_token.do"),
        "{state:#}"
    );
    assert_eq!(token_requests(&state), 3, "{state:#}");
}
