//! Destinations, deliveries and metrics through the REST API, in process, on SQLite and on
//! PostgreSQL, with the real webhook Wasm component (built by scripts/build-wasm) talking to a
//! loopback receiver: configuration checked by the plugin, secrets encrypted at rest and used by
//! the plugin, scope and organization fencing, and the replay of a dead delivery through the
//! real delivery engine.

use crate::common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, test, web};
use common::{Harness, demo, harness};
use herald_server::state::AppState;
use herald_storage::{Backend, accounts::NewApiToken, accounts::OrgKind, accounts::Scope};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// set-up

fn plugin_host() -> Arc<herald_plugin_host::PluginHost> {
    let dir = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/plugins"));
    assert!(
        dir.join("webhook.wasm").exists(),
        "{} has no webhook.wasm: run scripts/build-wasm plugins first",
        dir.display()
    );
    let host = herald_plugin_host::PluginHost::new(herald_plugin_host::HostConfig {
        // The receivers are on loopback: the operator lets plugins reach it.
        outbound: herald_plugin_host::OutboundPolicy::loopback(),
        ..herald_plugin_host::HostConfig::default()
    })
    .expect("plugin host");
    host.load_plugin(&dir.join("webhook.wasm"))
        .expect("webhook plugin loads");
    Arc::new(host)
}

/// The harness's state with the webhook plugin loaded.
fn with_plugins(h: &Harness) -> AppState {
    AppState {
        plugins: Some(plugin_host()),
        ..h.state.clone()
    }
}

macro_rules! app {
    ($state:expr) => {
        test::init_service(App::new().configure(herald_server::web::configure($state.clone())))
            .await
    };
}

fn token_for(h: &Harness, org_id: &str, scopes: &[Scope]) -> String {
    let mut conn = h.test_db.conn().expect("conn");
    herald_storage::accounts::create_api_token(
        &mut conn,
        &NewApiToken {
            org_id,
            user_id: None,
            name: "test",
            scopes,
            expires_at: None,
        },
        "test",
    )
    .expect("token")
    .token
}

fn hospital(h: &Harness) -> String {
    let mut conn = h.test_db.conn().expect("conn");
    herald_storage::accounts::create_organization(
        &mut conn,
        OrgKind::Hospital,
        "St. Elsewhere Hospital",
        "st-elsewhere",
    )
    .expect("hospital")
    .id
}

/// One POST the receiver saw: its `authorization` header and JSON body.
type Seen = (Option<String>, Value);

/// What the loopback receiver saw: the `authorization` header and the JSON body of each POST.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Seen>>>,
    /// Answer 503 (a retryable failure) while set.
    failing: Arc<AtomicBool>,
}

impl Receiver {
    fn requests(&self) -> Vec<Seen> {
        self.got.lock().expect("lock").clone()
    }
}

async fn receive(req: HttpRequest, body: web::Bytes, r: web::Data<Receiver>) -> HttpResponse {
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    r.got.lock().expect("lock").push((auth, json));
    if r.failing.load(Ordering::SeqCst) {
        HttpResponse::ServiceUnavailable().body("down for maintenance")
    } else {
        HttpResponse::Ok().body("accepted")
    }
}

/// Starts the receiver; returns it, its port and the server handle (stop it at the end).
fn start_receiver() -> (Receiver, u16, actix_web::dev::ServerHandle) {
    let receiver = Receiver::default();
    let data = web::Data::new(receiver.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/hook", web::post().to(receive))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .expect("bind");
    let port = server.addrs()[0].port();
    let running = server.run();
    let handle = running.handle();
    actix_web::rt::spawn(running);
    (receiver, port, handle)
}

fn loopback_grants(port: u16) -> Value {
    json!({
        "http_hosts": [format!("127.0.0.1:{port}")],
        "allow_insecure_http": true,
        "allow_private_addresses": true,
    })
}

fn request(method: &str, uri: &str, token: Option<&str>, body: Option<Value>) -> test::TestRequest {
    let mut req = match method {
        "GET" => test::TestRequest::get(),
        "POST" => test::TestRequest::post(),
        "PATCH" => test::TestRequest::patch(),
        "DELETE" => test::TestRequest::delete(),
        other => panic!("method {other}"),
    }
    .uri(uri);
    if let Some(t) = token {
        req = req.insert_header(("Authorization", format!("Bearer {t}")));
    }
    if let Some(b) = body {
        req = req.set_json(b);
    }
    req
}

/// Sends a request; evaluates to status and raw body text.
macro_rules! call {
    ($app:expr, $method:expr, $uri:expr, $token:expr, $body:expr $(,)?) => {
        async {
            let req = request($method, $uri, $token, $body).to_request();
            let resp = test::call_service($app, req).await;
            let status = resp.status();
            let bytes = test::read_body(resp).await;
            (status, String::from_utf8_lossy(&bytes).into_owned())
        }
    };
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn audit_actions(h: &Harness) -> Vec<(String, String, String)> {
    let mut conn = h.test_db.conn().expect("conn");
    herald_storage::audit::list_audit(&mut conn, None, 1000)
        .expect("audit")
        .into_iter()
        .map(|e| (e.actor, e.action, e.detail.to_string()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// tests

async fn invalid_config_is_refused(backend: Backend) {
    let h = harness(backend);
    let state = with_plugins(&h);
    let app = app!(state);
    let admin = h.token(&[Scope::Admin]);

    // The plugin's own checks, each reported against its field.
    let (status, text) = call!(
        &app,
        "POST",
        "/api/v1/destinations",
        Some(&admin),
        Some(json!({
            "name": "broken",
            "plugin_id": "webhook",
            "config": { "url": "ftp://receiver.example", "signing_secrets": ["bad name!"] },
            "grants": loopback_grants(1),
        })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
    let body = parse(&text);
    assert_eq!(body["error"], "invalid_fields", "{body}");
    let fields: Vec<&str> = body["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    assert!(fields.contains(&"config.url"), "{body}");
    assert!(fields.contains(&"config.signing_secrets"), "{body}");

    // A plugin that is not installed.
    let (status, text) = call!(
        &app,
        "POST",
        "/api/v1/destinations",
        Some(&admin),
        Some(json!({ "name": "x", "plugin_id": "carrier-pigeon", "config": {} })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
    assert_eq!(parse(&text)["fields"][0]["field"], "plugin_id", "{text}");

    // A configuration that names a secret the request does not provide.
    let (status, text) = call!(
        &app,
        "POST",
        "/api/v1/destinations",
        Some(&admin),
        Some(json!({
            "name": "x", "plugin_id": "webhook",
            "config": { "url": "https://receiver.example/hook", "authorization_secret": "TOKEN" },
        })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
    assert_eq!(
        parse(&text)["fields"][0]["field"],
        "config.authorization_secret"
    );

    // Grants are herald-delivery's Grants: a typo is refused, not ignored.
    let (status, text) = call!(
        &app,
        "POST",
        "/api/v1/destinations",
        Some(&admin),
        Some(json!({
            "name": "x", "plugin_id": "webhook",
            "config": { "url": "https://receiver.example/hook" },
            "grants": { "http_host": ["receiver.example"] },
        })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.contains("http_host"), "{text}");

    // Nothing was stored, nothing was audited as created.
    let (status, text) = call!(&app, "GET", "/api/v1/destinations", Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(parse(&text), json!([]));
    assert!(
        !audit_actions(&h)
            .iter()
            .any(|(_, a, _)| a.starts_with("destination.")),
        "{:?}",
        audit_actions(&h)
    );
}

async fn secrets_are_encrypted_write_only_and_used(backend: Backend) {
    let (receiver, port, server) = start_receiver();
    let h = harness(backend);
    let state = with_plugins(&h);
    let app = app!(state);
    let admin = h.token(&[Scope::Admin]);
    let secret = format!("Bearer tok-{}", uuid::Uuid::new_v4().simple());

    let (status, text) = call!(
        &app,
        "POST",
        "/api/v1/destinations",
        Some(&admin),
        Some(json!({
            "name": "integration engine",
            "plugin_id": "webhook",
            "config": {
                "url": format!("http://127.0.0.1:{port}/hook"),
                "authorization_secret": "HOOK_TOKEN",
            },
            "grants": loopback_grants(port),
            "min_severity": "medium",
            "secrets": { "HOOK_TOKEN": secret },
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    assert!(
        !text.contains(&secret),
        "secret in the create response: {text}"
    );
    let created = parse(&text);
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(created["secret_names"], json!(["HOOK_TOKEN"]));
    assert_eq!(created["min_severity"], "medium");
    assert_eq!(created["org_id"], h.maker_id.as_str());

    for uri in [
        "/api/v1/destinations".to_owned(),
        format!("/api/v1/destinations/{id}"),
    ] {
        let (status, text) = call!(&app, "GET", &uri, Some(&admin), None).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {text}");
        assert!(text.contains("HOOK_TOKEN"), "{uri}: {text}");
        assert!(!text.contains(&secret), "secret in {uri}: {text}");
    }

    // At rest: ciphertext only, under the generated key file (0600), bound to its row.
    {
        let mut conn = h.test_db.conn().expect("conn");
        let rows =
            herald_storage::secrets::stored_destination_secrets(&mut conn, &id).expect("rows");
        assert_eq!(rows.len(), 1);
        let raw = [rows[0].nonce.as_slice(), rows[0].ciphertext.as_slice()].concat();
        assert!(
            !raw.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "plaintext stored"
        );
        assert!(!raw.windows(8).any(|w| w == &secret.as_bytes()[..8]));
        let key_file = herald_server::secrets::key_file(&h.state.config);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key_file)
                .expect("key file")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{}", key_file.display());
        }
        let key = herald_server::secrets::secret_key(&h.state.config).expect("key");
        let plain =
            herald_storage::secrets::load_destination_secrets(&mut conn, &key, &id).expect("load");
        assert_eq!(plain.get("HOOK_TOKEN"), Some(&secret));
        let wrong = herald_storage::secrets::SecretKey::generate();
        let err = herald_storage::secrets::load_destination_secrets(&mut conn, &wrong, &id)
            .expect_err("another key cannot decrypt");
        assert!(err.to_string().contains("HOOK_TOKEN"), "{err}");
    }

    // "Send test": the plugin puts the decrypted secret into the Authorization header.
    let (status, text) = call!(
        &app,
        "POST",
        &format!("/api/v1/destinations/{id}/test"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(parse(&text)["ok"], true, "{text}");
    assert!(!text.contains(&secret), "{text}");
    let got = receiver.requests();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0.as_deref(), Some(secret.as_str()));

    // Rotating the secret through PATCH: the next test uses the new value.
    let rotated = format!("Bearer tok-{}", uuid::Uuid::new_v4().simple());
    let (status, text) = call!(
        &app,
        "PATCH",
        &format!("/api/v1/destinations/{id}"),
        Some(&admin),
        Some(json!({ "secrets": { "HOOK_TOKEN": rotated }, "min_severity": null })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(!text.contains(&rotated), "{text}");
    assert_eq!(parse(&text)["min_severity"], Value::Null, "{text}");
    let (status, text) = call!(
        &app,
        "POST",
        &format!("/api/v1/destinations/{id}/test"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let got = receiver.requests();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[1].0.as_deref(), Some(rotated.as_str()));

    // Removing a secret the configuration still names is refused field by field.
    let (status, text) = call!(
        &app,
        "PATCH",
        &format!("/api/v1/destinations/{id}"),
        Some(&admin),
        Some(json!({ "secrets": { "HOOK_TOKEN": null } })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");

    // DELETE disables (the delivery record stays complete).
    let (status, _) = call!(
        &app,
        "DELETE",
        &format!("/api/v1/destinations/{id}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, text) = call!(
        &app,
        "GET",
        &format!("/api/v1/destinations/{id}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(parse(&text)["enabled"], false, "{text}");

    // Every change is audited with its actor, and no audit entry holds a secret.
    let audit = audit_actions(&h);
    for action in [
        "destination.create",
        "destination.secrets",
        "destination.test",
        "destination.update",
        "destination.disable",
    ] {
        assert!(
            audit
                .iter()
                .any(|(actor, a, _)| a == action && actor.starts_with("token:")),
            "{action} missing: {audit:?}"
        );
    }
    for (_, _, detail) in &audit {
        assert!(
            !detail.contains(&secret) && !detail.contains(&rotated),
            "{detail}"
        );
    }
    server.stop(true).await;
}

async fn scopes_and_organizations(backend: Backend) {
    let h = harness(backend);
    let state = with_plugins(&h);
    let app = app!(state);
    let maker_admin = h.token(&[Scope::Admin]);
    let maker_reader = h.token(&[Scope::Read]);
    let publisher = h.token(&[Scope::Publish]);
    let hospital_id = hospital(&h);
    let hospital_admin = token_for(&h, &hospital_id, &[Scope::Admin]);
    let new = |name: &str| {
        json!({
            "name": name, "plugin_id": "webhook",
            "config": { "url": "https://receiver.example/hook" },
            "grants": { "http_hosts": ["receiver.example"] },
        })
    };

    // Refusals by scope.
    let (status, _) = call!(&app, "GET", "/api/v1/destinations", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = call!(&app, "GET", "/api/v1/deliveries", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = call!(&app, "GET", "/api/v1/destinations", Some(&publisher), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call!(
        &app,
        "POST",
        "/api/v1/destinations",
        Some(&maker_reader),
        Some(new("by reader")),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call!(
        &app,
        "POST",
        "/api/v1/destinations",
        Some("hrld_forged"),
        Some(new("forged")),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, text) = call!(
        &app,
        "POST",
        "/api/v1/destinations",
        Some(&maker_admin),
        Some(new("maker's own")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let maker_dest = parse(&text)["id"].as_str().expect("id").to_owned();
    let (status, text) = call!(
        &app,
        "POST",
        "/api/v1/destinations",
        Some(&hospital_admin),
        Some(new("hospital's own")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let hospital_dest = parse(&text)["id"].as_str().expect("id").to_owned();
    assert_eq!(parse(&text)["org_id"], hospital_id.as_str());

    // A hospital sees only its own, cannot touch the manufacturer's, cannot create for it.
    let (_, text) = call!(
        &app,
        "GET",
        "/api/v1/destinations",
        Some(&hospital_admin),
        None
    )
    .await;
    let ids: Vec<Value> = parse(&text)
        .as_array()
        .expect("list")
        .iter()
        .map(|d| d["id"].clone())
        .collect();
    assert_eq!(ids, vec![json!(hospital_dest)]);
    for (method, uri, body) in [
        ("GET", format!("/api/v1/destinations/{maker_dest}"), None),
        (
            "PATCH",
            format!("/api/v1/destinations/{maker_dest}"),
            Some(json!({ "name": "taken over" })),
        ),
        ("DELETE", format!("/api/v1/destinations/{maker_dest}"), None),
        (
            "POST",
            format!("/api/v1/destinations/{maker_dest}/test"),
            None,
        ),
        (
            "POST",
            format!("/api/v1/destinations/{maker_dest}/replay-dead-letters"),
            None,
        ),
    ] {
        let (status, text) = call!(&app, method, &uri, Some(&hospital_admin), body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {uri}: {text}");
    }
    let mut for_maker = new("for the maker");
    for_maker["org_id"] = json!(h.maker_id);
    let (status, _) = call!(
        &app,
        "POST",
        "/api/v1/destinations",
        Some(&hospital_admin),
        Some(for_maker),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, text) = call!(
        &app,
        "GET",
        &format!("/api/v1/destinations/{maker_dest}"),
        Some(&maker_reader),
        None,
    )
    .await;
    assert_eq!(parse(&text)["name"], "maker's own", "{text}");

    // The manufacturer sees every organization's destinations.
    let (_, text) = call!(
        &app,
        "GET",
        "/api/v1/destinations",
        Some(&maker_reader),
        None
    )
    .await;
    assert_eq!(parse(&text).as_array().map(Vec::len), Some(2), "{text}");

    // Every operation is in the OpenAPI document.
    let (_, text) = call!(&app, "GET", "/api/v1/openapi.json", None, None).await;
    let doc = parse(&text);
    for (path, method) in [
        ("/api/v1/destinations", "get"),
        ("/api/v1/destinations", "post"),
        ("/api/v1/destinations/{id}", "get"),
        ("/api/v1/destinations/{id}", "patch"),
        ("/api/v1/destinations/{id}", "delete"),
        ("/api/v1/destinations/{id}/test", "post"),
        ("/api/v1/destinations/{id}/replay-dead-letters", "post"),
        ("/api/v1/deliveries", "get"),
        ("/api/v1/deliveries/{id}", "get"),
        ("/api/v1/deliveries/{id}/replay", "post"),
        ("/metrics", "get"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }
}

fn metric(text: &str, series: &str) -> i64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{series} missing:\n{text}"))
}

async fn dead_delivery_is_replayed(backend: Backend) {
    let (receiver, port, server) = start_receiver();
    receiver.failing.store(true, Ordering::SeqCst);
    let h = harness(backend);
    let state = with_plugins(&h);
    let app = app!(state);
    let admin = h.token(&[Scope::Admin]);
    let reader = h.token(&[Scope::Read]);
    let hospital_id = hospital(&h);
    let hospital_admin = token_for(&h, &hospital_id, &[Scope::Admin, Scope::Read]);
    let secret = format!("Bearer tok-{}", uuid::Uuid::new_v4().simple());

    let (status, text) = call!(
        &app,
        "POST",
        "/api/v1/destinations",
        Some(&admin),
        Some(json!({
            "name": "integration engine", "plugin_id": "webhook",
            "config": {
                "url": format!("http://127.0.0.1:{port}/hook"),
                "authorization_secret": "HOOK_TOKEN",
            },
            "grants": loopback_grants(port),
            "secrets": { "HOOK_TOKEN": secret },
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let dest = parse(&text)["id"].as_str().expect("id").to_owned();
    {
        let mut conn = h.test_db.conn().expect("conn");
        herald_server::publish::publish_document(
            &mut conn,
            &h.state.config,
            &demo("mms-sa-2026-001.json"),
            &h.maker_id,
            "test",
        )
        .expect("publish");
    }

    // The real engine, reading the destination's secrets as `herald serve` wires it; one
    // attempt is its whole budget, so the receiver's 503 makes the delivery dead.
    let key = herald_server::secrets::secret_key(&h.state.config).expect("key");
    let channel = Arc::new(herald_plugin_host::WasmChannel::new(
        state.plugins.clone().expect("plugins"),
        Arc::new(herald_server::secrets::DbSecretSource::new(
            h.state.db.clone(),
            key,
        )),
    ));
    let engine = herald_delivery::Engine::new(
        h.state.db.clone(),
        channel,
        herald_delivery::EngineSettings {
            base_url: common::BASE.to_owned(),
            max_attempts: 1,
            ..Default::default()
        },
    )
    .expect("engine");
    let run_until = |want: &'static str| {
        let engine = &engine;
        let h = &h;
        async move {
            for _ in 0..100 {
                engine.run_once().await.expect("engine round");
                let mut conn = h.test_db.conn().expect("conn");
                let all = herald_storage::queue::list_deliveries(
                    &mut conn,
                    &herald_storage::queue::DeliveryFilter::default(),
                )
                .expect("deliveries");
                if all.len() == 1 && all[0].status.as_str() == want {
                    return all[0].id.clone();
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("no delivery became {want}");
        }
    };
    let delivery = run_until("dead").await;

    // `/metrics` takes a token with the `metrics` scope.
    let metrics_token = h.token(&[Scope::Metrics]);
    let (status, text) = call!(&app, "GET", "/metrics", Some(metrics_token.as_str()), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        metric(&text, "herald_deliveries{status=\"dead\"}"),
        1,
        "{text}"
    );
    assert_eq!(metric(&text, "herald_deliveries{status=\"delivered\"}"), 0);
    assert_eq!(
        metric(
            &text,
            "herald_delivery_attempts_total{outcome=\"retryable\"}"
        ),
        1
    );
    assert_eq!(
        metric(&text, "herald_delivery_attempt_duration_seconds_count"),
        1
    );

    // Listed with its attempts, filtered by status, destination and advisory.
    let (status, text) = call!(
        &app,
        "GET",
        &format!("/api/v1/deliveries?status=dead&destination_id={dest}&advisory=MMS-SA-2026-001"),
        Some(&reader),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let list = parse(&text);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["id"], delivery.as_str());
    assert_eq!(list[0]["attempts"][0]["outcome"], "retryable", "{list}");
    assert!(
        list[0]["attempts"][0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("503")),
        "{list}"
    );
    for query in ["status=delivered", "advisory=MMS-SA-1999-404"] {
        let (_, text) = call!(
            &app,
            "GET",
            &format!("/api/v1/deliveries?{query}"),
            Some(&reader),
            None,
        )
        .await;
        assert_eq!(parse(&text), json!([]), "{query}");
    }
    let (status, _) = call!(
        &app,
        "GET",
        "/api/v1/deliveries?status=lost",
        Some(&reader),
        None
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The hospital neither sees nor replays the manufacturer's delivery.
    let (_, text) = call!(
        &app,
        "GET",
        "/api/v1/deliveries",
        Some(&hospital_admin),
        None
    )
    .await;
    assert_eq!(parse(&text), json!([]));
    for (method, uri) in [
        ("GET", format!("/api/v1/deliveries/{delivery}")),
        ("POST", format!("/api/v1/deliveries/{delivery}/replay")),
    ] {
        let (status, _) = call!(&app, method, &uri, Some(&hospital_admin), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {uri}");
    }
    let (status, _) = call!(
        &app,
        "POST",
        &format!("/api/v1/deliveries/{delivery}/replay"),
        Some(&reader),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Replay: queued again, audited; the receiver is back and the engine delivers it, with the
    // destination's secret in the Authorization header.
    let (status, text) = call!(
        &app,
        "POST",
        &format!("/api/v1/deliveries/{delivery}/replay"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(parse(&text)["status"], "queued", "{text}");
    let (status, _) = call!(
        &app,
        "POST",
        &format!("/api/v1/deliveries/{delivery}/replay"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a queued delivery is not replayed"
    );
    receiver.failing.store(false, Ordering::SeqCst);
    assert_eq!(run_until("delivered").await, delivery);
    let got = receiver.requests();
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        got.iter()
            .all(|(auth, _)| auth.as_deref() == Some(secret.as_str()))
    );
    assert_eq!(got[1].1["data"]["tracking_id"], "MMS-SA-2026-001");

    let (_, text) = call!(
        &app,
        "GET",
        &format!("/api/v1/deliveries/{delivery}"),
        Some(&reader),
        None,
    )
    .await;
    let one = parse(&text);
    assert_eq!(one["status"], "delivered", "{one}");
    let outcomes: Vec<&str> = one["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .filter_map(|a| a["outcome"].as_str())
        .collect();
    assert_eq!(outcomes, vec!["retryable", "delivered"]);

    // Nothing dead is left to replay; the request is audited all the same.
    let (status, text) = call!(
        &app,
        "POST",
        &format!("/api/v1/destinations/{dest}/replay-dead-letters"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(parse(&text)["replayed"], 0);
    let audit = audit_actions(&h);
    for action in ["delivery.replay", "destination.replay_dead_letters"] {
        assert!(
            audit
                .iter()
                .any(|(actor, a, _)| a == action && actor.starts_with("token:")),
            "{action}: {audit:?}"
        );
    }

    let (_, text) = call!(&app, "GET", "/metrics", Some(metrics_token.as_str()), None).await;
    assert_eq!(
        metric(&text, "herald_deliveries{status=\"dead\"}"),
        0,
        "{text}"
    );
    assert_eq!(metric(&text, "herald_deliveries{status=\"delivered\"}"), 1);
    server.stop(true).await;
}

on_both_backends!(
    invalid_config_is_refused,
    secrets_are_encrypted_write_only_and_used,
    scopes_and_organizations,
    dead_delivery_is_replayed,
);
