//! The portal's destination pages and delivery log, in process, on SQLite and on PostgreSQL,
//! driven the way a browser without JavaScript drives them: url-encoded form POSTs to the
//! server functions under `/api/`, following their redirects to the pages. With the real
//! webhook Wasm component (built by scripts/build-wasm) and a loopback receiver: the plugin's
//! validation shown on the form, secrets that are used but never shown, "send test", the
//! delivery log with replay through the real delivery engine, organization fencing that a
//! crafted server function call cannot get around, and markup in names rendered as text.

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use common::forms::{redirect_target, signed_in};
use common::{Harness, demo, harness};
use herald_server::state::AppState;
use herald_storage::{Backend, accounts::OrgKind, accounts::Role};
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// set-up

fn with_plugins(h: &Harness) -> AppState {
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
    AppState {
        plugins: Some(Arc::new(host)),
        ..h.state.clone()
    }
}

fn hospital(h: &Harness, name: &str) -> String {
    let mut conn = h.test_db.conn().expect("conn");
    herald_storage::accounts::ensure_organization(&mut conn, OrgKind::Hospital, name)
        .expect("hospital")
        .id
}

/// Authorization headers the receiver saw, one per POST.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Option<String>>>>,
    failing: Arc<std::sync::atomic::AtomicBool>,
}

impl Receiver {
    fn requests(&self) -> Vec<Option<String>> {
        self.got.lock().expect("lock").clone()
    }
}

async fn receive(req: HttpRequest, r: web::Data<Receiver>) -> HttpResponse {
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    r.got.lock().expect("lock").push(auth);
    if r.failing.load(std::sync::atomic::Ordering::SeqCst) {
        HttpResponse::ServiceUnavailable().body("down for maintenance")
    } else {
        HttpResponse::Ok().body("accepted")
    }
}

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

fn destinations(h: &Harness) -> Vec<herald_storage::destinations::Destination> {
    let mut conn = h.test_db.conn().expect("conn");
    herald_storage::destinations::list_destinations(&mut conn, None).expect("destinations")
}

fn webhook_form<'a>(
    name: &'a str,
    url: &'a str,
    host: &'a str,
    secret: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("id", ""),
        ("plugin_id", "webhook"),
        ("name", name),
        ("enabled", "on"),
        ("min_severity", ""),
        ("config[url]", url),
        ("config[authorization_secret]", ""),
        ("secret[authorization_secret]", secret),
        ("config[signing_secrets]", ""),
        ("secret[signing_secrets]", ""),
        ("http_hosts", host),
        ("allow_insecure_http", "on"),
        ("allow_private_addresses", "on"),
    ]
}

// ---------------------------------------------------------------------------------------------
// tests

async fn create_validate_and_send_test(backend: Backend) {
    let (receiver, port, server) = start_receiver();
    let h = harness(backend);
    let state = with_plugins(&h);
    let app = app!(state);
    let hospital_id = hospital(&h, "St. Example General");
    let admin = signed_in(&h, &hospital_id, Role::Admin, "admin@st-example.test");
    let secret = format!("Bearer tok-{}", uuid::Uuid::new_v4().simple());
    let host = format!("127.0.0.1:{port}");
    let url = format!("http://127.0.0.1:{port}/hook");

    // The form offers the plugin's fields and the grants it may have.
    let (status, html) = page!(&app, "/destinations/new?plugin=webhook", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    for wanted in [
        r#"name="config[url]""#,
        r#"name="secret[authorization_secret]""#,
        r#"name="http_hosts""#,
        r#"action="/api/destination_save""#,
    ] {
        assert!(html.contains(wanted), "{wanted} missing from the form");
    }
    assert!(
        !html.contains(r#"name="tcp_endpoints""#),
        "webhook has no tcp"
    );

    // The plugin refuses the URL: back to the form with the problem next to the field, what
    // was typed kept (but never the secret), nothing stored.
    let mut bad = webhook_form("receiver", "ftp://receiver.example/hook", &host, &secret);
    bad[8] = ("config[signing_secrets]", "bad name!,");
    let answer = post_form!(&app, "destination_save", Some(&admin), &bad).await;
    let back = redirect_target(&answer);
    assert!(
        back.starts_with("/destinations/new?plugin=webhook&draft="),
        "{back}"
    );
    assert!(
        !back.contains("tok-"),
        "the secret travelled in the URL: {back}"
    );
    assert!(destinations(&h).is_empty(), "a refused form was stored");
    let (status, html) = page!(&app, &back, Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"data-testid="form-rejected""#), "{html}");
    let url_field = html
        .split(r#"data-field="url""#)
        .nth(1)
        .and_then(|rest| rest.split("data-field=").next())
        .expect("url field");
    assert!(
        url_field.contains(r#"data-testid="field-error""#),
        "no error next to the url: {url_field}"
    );
    assert!(
        html.contains("ftp://receiver.example/hook"),
        "typed URL lost"
    );

    // A valid form creates the destination in the user's organization.
    let answer = post_form!(
        &app,
        "destination_save",
        Some(&admin),
        &webhook_form("Integration engine", &url, &host, &secret),
    )
    .await;
    let target = redirect_target(&answer);
    let all = destinations(&h);
    assert_eq!(all.len(), 1);
    let d = &all[0];
    assert_eq!(target, format!("/destinations/{}?saved=1", d.id));
    assert_eq!(d.org_id, hospital_id);
    assert_eq!(d.config["url"], url.as_str());
    assert_eq!(d.config["authorization_secret"], "authorization_secret");
    assert_eq!(d.grants["http_hosts"], serde_json::json!([host]));
    {
        let mut conn = h.test_db.conn().expect("conn");
        assert_eq!(
            herald_storage::secrets::destination_secret_names(&mut conn, &d.id).expect("names"),
            vec!["authorization_secret".to_string()]
        );
    }

    // The secret is never shown again: not on the page, not in the server function's JSON.
    let (status, html) = page!(&app, &target, Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Integration engine"));
    assert!(
        html.contains(r#"data-secret="authorization_secret""#),
        "{html}"
    );
    assert!(!html.contains("tok-"), "secret on the page");
    let (status, json) =
        call_fn!(&app, "destination", Some(&admin), &[("id", d.id.as_str())]).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert!(!json.contains("tok-"), "secret in the JSON: {json}");
    let detail: Value = serde_json::from_str(&json).expect("json");
    assert_eq!(
        detail["secrets"],
        serde_json::json!([{"name": "authorization_secret", "set": true}])
    );

    // Send test: the plugin reaches the receiver with the stored secret; the page shows it.
    let answer = post_form!(
        &app,
        "destination_test",
        Some(&admin),
        &[("id", d.id.as_str())]
    )
    .await;
    let target = redirect_target(&answer);
    assert!(
        target.starts_with(&format!("/destinations/{}", d.id)),
        "{target}"
    );
    assert_eq!(receiver.requests(), vec![Some(secret.clone())]);
    let (_, html) = page!(&app, &target, Some(&admin)).await;
    assert!(
        html.contains(r#"data-testid="test-outcome" data-ok="true""#),
        "{html}"
    );

    // Changing the name keeps the secret (an empty secret field means "keep").
    let mut rename = webhook_form("Integration engine 2", &url, &host, "");
    rename[0] = ("id", d.id.as_str());
    rename[6] = ("config[authorization_secret]", "authorization_secret");
    let answer = post_form!(&app, "destination_save", Some(&admin), &rename).await;
    redirect_target(&answer);
    assert_eq!(destinations(&h)[0].name, "Integration engine 2");
    receiver
        .failing
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let (status, json) = call_fn!(
        &app,
        "destination_test",
        Some(&admin),
        &[("id", d.id.as_str())]
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let outcome: Value = serde_json::from_str(&json).expect("json");
    assert_eq!(outcome["ok"], false, "{outcome}");
    assert!(
        outcome["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("retryable")),
        "{outcome}"
    );
    assert_eq!(receiver.requests().last(), Some(&Some(secret.clone())));
    server.stop(true).await;
}

async fn other_organizations_are_fenced(backend: Backend) {
    let (receiver, port, server) = start_receiver();
    receiver
        .failing
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let h = harness(backend);
    let state = with_plugins(&h);
    let app = app!(state);
    let host = format!("127.0.0.1:{port}");
    let url = format!("http://127.0.0.1:{port}/hook");
    let maker_admin = signed_in(&h, &h.maker_id, Role::Admin, "psirt@maker.test");
    let maker_viewer = signed_in(&h, &h.maker_id, Role::Viewer, "viewer@maker.test");
    let a = hospital(&h, "Hospital A");
    let b = hospital(&h, "Hospital B");
    let a_admin = signed_in(&h, &a, Role::Admin, "admin@a.test");
    let a_viewer = signed_in(&h, &a, Role::Viewer, "viewer@a.test");
    let b_admin = signed_in(&h, &b, Role::Admin, "admin@b.test");

    for (cookie, name) in [(&maker_admin, "Maker hook"), (&a_admin, "A hook")] {
        let answer = post_form!(
            &app,
            "destination_save",
            Some(cookie.as_str()),
            &webhook_form(name, &url, &host, "s3cret-value"),
        )
        .await;
        redirect_target(&answer);
    }
    let all = destinations(&h);
    let id_of = |name: &str| {
        all.iter()
            .find(|d| d.name == name)
            .map(|d| d.id.clone())
            .expect("destination")
    };
    let (maker_dest, a_dest) = (id_of("Maker hook"), id_of("A hook"));

    // Hospital B neither reads, changes nor tests A's destination, by page or crafted call.
    let (status, html) = page!(&app, &format!("/destinations/{a_dest}"), Some(&b_admin)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!html.contains("A hook"));
    let (status, _) = call_fn!(
        &app,
        "destination",
        Some(&b_admin),
        &[("id", a_dest.as_str())]
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let mut hijack = webhook_form("hijacked", "https://evil.example/hook", "evil.example", "x");
    hijack[0] = ("id", a_dest.as_str());
    let (status, _) = call_fn!(&app, "destination_save", Some(&b_admin), &hijack).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call_fn!(
        &app,
        "destination_test",
        Some(&b_admin),
        &[("id", a_dest.as_str())]
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        receiver.requests().is_empty(),
        "B's test reached A's receiver"
    );
    assert!(destinations(&h).iter().all(|d| d.name != "hijacked"));
    let (_, list) = call_fn!(&app, "destinations", Some(&b_admin), &[]).await;
    assert!(
        !list.contains(&a_dest) && !list.contains(&maker_dest),
        "{list}"
    );
    let (_, list) = call_fn!(&app, "destinations", Some(&a_admin), &[]).await;
    assert!(
        list.contains(&a_dest) && !list.contains(&maker_dest),
        "{list}"
    );
    let (_, list) = call_fn!(&app, "destinations", Some(&maker_admin), &[]).await;
    assert!(
        list.contains(&a_dest) && list.contains(&maker_dest),
        "{list}"
    );

    // A's viewer reads but neither changes nor tests; nobody signed in sees nothing.
    let (status, _) = call_fn!(
        &app,
        "destination",
        Some(&a_viewer),
        &[("id", a_dest.as_str())]
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let mut change = webhook_form("renamed", &url, &host, "");
    change[0] = ("id", a_dest.as_str());
    let (status, _) = call_fn!(&app, "destination_save", Some(&a_viewer), &change).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call_fn!(
        &app,
        "destination_test",
        Some(&a_viewer),
        &[("id", a_dest.as_str())]
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call_fn!(&app, "destinations", None::<&str>, &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call_fn!(&app, "deliveries", None::<&str>, &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A dead delivery to the manufacturer's destination, through the real engine.
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
    let mut dead = None;
    for _ in 0..100 {
        engine.run_once().await.expect("engine round");
        let mut conn = h.test_db.conn().expect("conn");
        let found = herald_storage::queue::list_deliveries(
            &mut conn,
            &herald_storage::queue::DeliveryFilter {
                destination_id: Some(maker_dest.clone()),
                ..Default::default()
            },
        )
        .expect("deliveries");
        if let Some(d) = found.iter().find(|d| d.status.as_str() == "dead") {
            dead = Some(d.id.clone());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let dead = dead.expect("a dead delivery to the manufacturer's destination");

    // The manufacturer's log shows it with its attempt; filters narrow it.
    let (status, html) = page!(&app, "/deliveries?status=dead", Some(&maker_admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(&format!(r#"data-delivery-id="{dead}""#)),
        "{html}"
    );
    assert!(html.contains("retryable"), "attempt outcome missing");
    assert!(html.contains(r#"data-testid="replay""#), "no replay button");
    let (_, json) = call_fn!(
        &app,
        "deliveries",
        Some(&maker_admin),
        &[("status", "delivered")],
    )
    .await;
    let log: Value = serde_json::from_str(&json).expect("json");
    assert_eq!(log["items"], serde_json::json!([]), "{log}");
    assert_eq!(log["total"], 0, "{log}");
    let (_, json) = call_fn!(
        &app,
        "deliveries",
        Some(&maker_admin),
        &[("status", "dead"), ("destination", maker_dest.as_str())]
    )
    .await;
    let log: Value = serde_json::from_str(&json).expect("json");
    assert_eq!(log["total"], 1, "{log}");
    assert_eq!(log["items"][0]["id"], dead.as_str(), "{log}");
    assert_eq!(
        log["items"][0]["attempts"][0]["outcome"], "retryable",
        "{log}"
    );
    assert!(log["items"][0]["event_kind"].is_string(), "{log}");
    // Its health on the destinations page comes from the recorded attempts.
    let (_, json) = call_fn!(&app, "destinations", Some(&maker_admin), &[]).await;
    let list: Value = serde_json::from_str(&json).expect("json");
    let health = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|d| d["id"] == maker_dest.as_str())
        .map(|d| d["health"].clone())
        .expect("maker destination listed");
    assert_eq!(health["state"], "failing", "{health}");
    assert_eq!(health["consecutive_failures"], 1, "{health}");
    assert_eq!(health["last_outcome"], "retryable", "{health}");
    assert_eq!(health["dead"], 1, "{health}");
    let (status, _) = call_fn!(
        &app,
        "deliveries",
        Some(&maker_admin),
        &[("status", "lost")]
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Hospitals see only their own destinations' deliveries, even when they ask for another's.
    for cookie in [&a_admin, &b_admin] {
        for pairs in [
            vec![],
            vec![("destination", maker_dest.as_str())],
            vec![("status", "dead")],
        ] {
            let (status, json) = call_fn!(&app, "deliveries", Some(cookie.as_str()), &pairs).await;
            assert_eq!(status, StatusCode::OK, "{json}");
            let log: Value = serde_json::from_str(&json).expect("json");
            assert!(
                !json.contains(&dead),
                "a hospital saw the manufacturer's delivery"
            );
            assert!(
                log["items"]
                    .as_array()
                    .expect("items")
                    .iter()
                    .all(|d| d["destination_id"] == a_dest.as_str() && cookie == &a_admin),
                "{log}"
            );
            assert!(!json.contains(&maker_dest), "{json}");
        }
        let (status, _) = call_fn!(
            &app,
            "delivery_replay",
            Some(cookie.as_str()),
            &[("id", dead.as_str())],
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let (status, _) = call_fn!(
        &app,
        "delivery_replay",
        Some(&maker_viewer),
        &[("id", dead.as_str())],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The manufacturer's admin replays it from the page's form and comes back to the page.
    let answer = post_form!(
        &app,
        "delivery_replay",
        Some(&maker_admin),
        &[("id", dead.as_str()), ("back", "/deliveries?status=dead")],
    )
    .await;
    assert_eq!(redirect_target(&answer), "/deliveries?status=dead");
    {
        let mut conn = h.test_db.conn().expect("conn");
        let d = herald_storage::queue::get_delivery(&mut conn, &dead)
            .expect("get")
            .expect("delivery");
        assert_eq!(d.status.as_str(), "queued");
    }
    // Only dead and failed deliveries are replayed.
    let (status, _) = call_fn!(
        &app,
        "delivery_replay",
        Some(&maker_admin),
        &[("id", dead.as_str())],
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a queued delivery is not replayed"
    );
    server.stop(true).await;
}

async fn markup_in_names_is_text(backend: Backend) {
    let h = harness(backend);
    let state = with_plugins(&h);
    let app = app!(state);
    let admin = signed_in(&h, &h.maker_id, Role::Admin, "psirt@maker.test");
    let name = "<script>alert('x')</script><img src=x onerror=alert(1)>";
    let answer = post_form!(
        &app,
        "destination_save",
        Some(&admin),
        &webhook_form(
            name,
            "https://receiver.example/hook",
            "receiver.example",
            ""
        ),
    )
    .await;
    let target = redirect_target(&answer);
    let id = destinations(&h)[0].id.clone();
    // A refused form carries the name back through the URL: it must stay text there too.
    let answer = post_form!(
        &app,
        "destination_save",
        Some(&admin),
        &webhook_form(name, "ftp://bad", "receiver.example", ""),
    )
    .await;
    let refused = redirect_target(&answer);
    for uri in [
        target.as_str(),
        "/destinations",
        &format!("/deliveries?destination={id}"),
        refused.as_str(),
    ] {
        let (status, html) = page!(&app, uri, Some(&admin)).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        if let Some(at) = html.find("<script>alert") {
            let from = at.saturating_sub(80);
            panic!(
                "{uri} let markup through: ...{}...",
                &html[from..(at + 200).min(html.len())]
            );
        }
        assert!(!html.contains("<img src=x"), "{uri} let markup through");
        assert!(html.contains("&lt;script&gt;"), "{uri} lost the name");
    }
}

on_both_backends!(
    create_validate_and_send_test,
    other_organizations_are_fenced,
    markup_in_names_is_text,
);
