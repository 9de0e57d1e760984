//! The service layer's rules seen from both transports, on SQLite and on PostgreSQL: the tenant
//! boundary around a hospital's destinations (the manufacturer sees and may switch off, but does
//! not repoint, test or read the configuration; another hospital sees nothing), secrets dropped
//! when a destination's target changes, configuration shown to admins only, one name limit, one
//! answer to a malformed body, and the four-eyes rule on every publish path.

use crate::common;

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::test;
use common::forms::signed_in;
use common::{Harness, demo, harness};
use herald_server::state::AppState;
use herald_storage::{
    Backend, accounts::NewApiToken, accounts::NewUser, accounts::OrgKind, accounts::Role,
    accounts::Scope,
};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// set-up

fn with_plugins(h: &Harness) -> AppState {
    let dir = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/plugins"));
    let host = herald_plugin_host::PluginHost::new(herald_plugin_host::HostConfig::default())
        .expect("plugin host");
    host.load_plugin(&dir.join("webhook.wasm"))
        .expect("webhook plugin loads (scripts/build-wasm plugins)");
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

/// A user of `org_id` with `role` and a token made for them with `scopes`.
fn user_token(h: &Harness, org_id: &str, role: Role, email: &str, scopes: &[Scope]) -> String {
    let mut conn = h.test_db.conn().expect("conn");
    let user = herald_storage::accounts::create_user(
        &mut conn,
        &NewUser {
            org_id,
            email,
            display_name: email,
            password: "correct horse battery staple",
            role,
        },
    )
    .expect("user");
    herald_storage::accounts::create_api_token(
        &mut conn,
        &NewApiToken {
            org_id,
            user_id: Some(&user.id),
            name: "test",
            scopes,
            expires_at: None,
        },
        "test",
    )
    .expect("token")
    .token
}

fn request(method: &str, uri: &str, token: Option<&str>) -> test::TestRequest {
    let req = match method {
        "GET" => test::TestRequest::get(),
        "POST" => test::TestRequest::post(),
        "PATCH" => test::TestRequest::patch(),
        "PUT" => test::TestRequest::put(),
        "DELETE" => test::TestRequest::delete(),
        other => panic!("method {other}"),
    }
    .uri(uri);
    match token {
        Some(t) => req.insert_header(("Authorization", format!("Bearer {t}"))),
        None => req,
    }
}

/// Sends a JSON request (or none); evaluates to status and the body as JSON (`Null` if empty or
/// not JSON).
macro_rules! rest {
    ($app:expr, $method:expr, $uri:expr, $token:expr, $body:expr $(,)?) => {
        async {
            let uri: &str = &$uri;
            let mut req = request($method, uri, $token);
            let body: Option<Value> = $body;
            if let Some(b) = body {
                req = req.set_json(b);
            }
            let resp = test::call_service($app, req.to_request()).await;
            let status = resp.status();
            let bytes = test::read_body(resp).await;
            (
                status,
                serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
            )
        }
    };
}

fn secret_value(h: &Harness, destination_id: &str, name: &str) -> Option<String> {
    let mut conn = h.test_db.conn().expect("conn");
    let key = herald_server::secrets::secret_key(&h.state.config).expect("key");
    herald_storage::secrets::load_destination_secrets(&mut conn, &key, destination_id)
        .expect("secrets")
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

fn audited(h: &Harness, action: &str) -> Vec<String> {
    let mut conn = h.test_db.conn().expect("conn");
    herald_storage::audit::list_audit(&mut conn, None, 1000)
        .expect("audit")
        .into_iter()
        .filter(|e| e.action == action)
        .map(|e| e.actor)
        .collect()
}

fn webhook(name: &str, host: &str) -> Value {
    json!({
        "name": name, "plugin_id": "webhook",
        "config": { "url": format!("https://{host}/hook"), "authorization_secret": "auth" },
        "grants": { "http_hosts": [host] },
        "secrets": { "auth": "hospital-secret" },
    })
}

// ---------------------------------------------------------------------------------------------
// the tenant boundary

async fn manufacturer_cannot_repoint_a_hospital_destination(backend: Backend) {
    let h = harness(backend);
    let state = with_plugins(&h);
    let app = app!(state);
    let hospital_id = hospital(&h, "St. Elsewhere Hospital");
    let other_id = hospital(&h, "Lakeside Hospital");
    let hospital_admin = h.token_for(&hospital_id, &[Scope::Admin]);
    let other_admin = h.token_for(&other_id, &[Scope::Admin]);
    let maker_admin = h.token(&[Scope::Admin]);

    let (s, d) = rest!(
        &app,
        "POST",
        "/api/v1/destinations",
        Some(&hospital_admin),
        Some(webhook("SOC", "receiver.example"))
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    let id = d["id"].as_str().expect("id").to_owned();
    let uri = format!("/api/v1/destinations/{id}");

    // The manufacturer may not send the hospital's secret to a host of its choosing...
    let (s, e) = rest!(
        &app,
        "PATCH",
        uri,
        Some(&maker_admin),
        Some(json!({
            "config": { "url": "https://collector.example/hook", "authorization_secret": "auth" },
            "grants": { "http_hosts": ["collector.example"] },
        }))
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
    // ...nor press "Send test" on it, nor change its subscription, nor create one for it.
    let (s, e) = rest!(
        &app,
        "POST",
        format!("{uri}/test"),
        Some(&maker_admin),
        None
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
    let (s, e) = rest!(
        &app,
        "PUT",
        format!("/api/v1/subscriptions/{id}"),
        Some(&maker_admin),
        Some(json!({ "event_kinds": ["advisory.published"] }))
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
    let mut for_hospital = webhook("planted", "collector.example");
    for_hospital["org_id"] = json!(hospital_id);
    let (s, e) = rest!(
        &app,
        "POST",
        "/api/v1/destinations",
        Some(&maker_admin),
        Some(for_hospital)
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{e}");

    // Nothing changed: same target, same secret.
    let (s, d) = rest!(&app, "GET", uri, Some(&hospital_admin), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(d["config"]["url"], "https://receiver.example/hook", "{d}");
    assert_eq!(
        secret_value(&h, &id, "auth").as_deref(),
        Some("hospital-secret")
    );
    assert!(audited(&h, "destination.test").is_empty());

    // The manufacturer sees it (not its configuration) and may switch it off, audited.
    let (s, d) = rest!(&app, "GET", uri, Some(&maker_admin), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(d["name"], "SOC");
    assert!(
        d.get("config").is_none() && d.get("secret_names").is_none(),
        "{d}"
    );
    let (s, _) = rest!(&app, "DELETE", uri, Some(&maker_admin), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, d) = rest!(&app, "GET", uri, Some(&hospital_admin), None).await;
    assert_eq!(d["enabled"], false);
    assert!(
        audited(&h, "destination.disable")
            .iter()
            .any(|a| a.starts_with("token:")),
        "the switch-off is audited"
    );

    // Another hospital's admin: not found, whatever it tries.
    for (method, u) in [
        ("GET", uri.clone()),
        ("PATCH", uri.clone()),
        ("DELETE", uri.clone()),
        ("POST", format!("{uri}/test")),
        ("GET", format!("/api/v1/subscriptions/{id}")),
        ("PUT", format!("/api/v1/subscriptions/{id}")),
    ] {
        let body = matches!(method, "PATCH" | "PUT").then(|| json!({ "name": "x" }));
        let body = if method == "PUT" {
            Some(json!({}))
        } else {
            body
        };
        let (s, e) = rest!(&app, method, u, Some(&other_admin), body).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{method} {u}: {e}");
    }

    // The portal: the manufacturer's admin cannot save the hospital's destination either.
    let maker_cookie = signed_in(&h, &h.maker_id, Role::Admin, "maker-admin@example.org");
    let (status, body) = call_fn!(
        &app,
        "destination_save",
        &maker_cookie,
        &[
            ("id", id.as_str()),
            ("plugin_id", "webhook"),
            ("name", "SOC"),
            ("enabled", "on"),
            ("config[url]", "https://collector.example/hook"),
            ("config[authorization_secret]", "auth"),
            ("http_hosts", "collector.example"),
        ],
    )
    .await;
    assert!(!status.is_success(), "{status}: {body}");
    assert_eq!(
        secret_value(&h, &id, "auth").as_deref(),
        Some("hospital-secret")
    );
    let (status, body) = call_fn!(
        &app,
        "destination_test",
        &maker_cookie,
        &[("id", id.as_str())]
    )
    .await;
    assert!(!status.is_success(), "{status}: {body}");
}

async fn host_change_drops_secrets(backend: Backend) {
    let h = harness(backend);
    let state = with_plugins(&h);
    let app = app!(state);
    let hospital_id = hospital(&h, "St. Elsewhere Hospital");
    let admin = h.token_for(&hospital_id, &[Scope::Admin]);
    let (s, d) = rest!(
        &app,
        "POST",
        "/api/v1/destinations",
        Some(&admin),
        Some(webhook("SOC", "receiver.example"))
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    let id = d["id"].as_str().expect("id").to_owned();
    let uri = format!("/api/v1/destinations/{id}");

    // A new host without the secret: refused, naming it; nothing changed.
    let (s, e) = rest!(
        &app,
        "PATCH",
        uri,
        Some(&admin),
        Some(json!({
            "config": { "url": "https://elsewhere.example/hook", "authorization_secret": "auth" },
        }))
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(
        e["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .any(|f| f["field"] == "secrets"),
        "{e}"
    );
    assert_eq!(
        secret_value(&h, &id, "auth").as_deref(),
        Some("hospital-secret")
    );

    // With the secret given again: kept, the new value.
    let (s, d) = rest!(
        &app,
        "PATCH",
        uri,
        Some(&admin),
        Some(json!({
            "config": { "url": "https://elsewhere.example/hook", "authorization_secret": "auth" },
            "secrets": { "auth": "second-secret" },
        }))
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{d}");
    assert_eq!(
        secret_value(&h, &id, "auth").as_deref(),
        Some("second-secret")
    );

    // A new host that names no secret: the stored one is dropped, and that is audited.
    let (s, d) = rest!(
        &app,
        "PATCH",
        uri,
        Some(&admin),
        Some(json!({
            "config": { "url": "https://third.example/hook" },
        }))
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{d}");
    assert_eq!(d["secret_names"], json!([]), "{d}");
    assert_eq!(secret_value(&h, &id, "auth"), None);
    assert_eq!(audited(&h, "destination.secrets_dropped").len(), 1);

    // Same host, other settings: secrets untouched.
    let (s, _) = rest!(
        &app,
        "PATCH",
        uri,
        Some(&admin),
        Some(json!({
            "config": { "url": "https://third.example/hook", "authorization_secret": "auth" },
            "secrets": { "auth": "third-secret" },
        }))
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = rest!(
        &app,
        "PATCH",
        uri,
        Some(&admin),
        Some(json!({
            "config": { "url": "https://third.example/hook", "authorization_secret": "auth" },
            "name": "renamed",
        }))
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        secret_value(&h, &id, "auth").as_deref(),
        Some("third-secret")
    );
}

async fn members_see_no_configuration(backend: Backend) {
    let h = harness(backend);
    let state = with_plugins(&h);
    let app = app!(state);
    let hospital_id = hospital(&h, "St. Elsewhere Hospital");
    let admin = h.token_for(&hospital_id, &[Scope::Admin]);
    let reader = h.token_for(&hospital_id, &[Scope::Read]);
    let (s, d) = rest!(
        &app,
        "POST",
        "/api/v1/destinations",
        Some(&admin),
        Some(webhook("SOC", "receiver.example"))
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    let id = d["id"].as_str().expect("id").to_owned();
    assert_eq!(d["config"]["url"], "https://receiver.example/hook");

    let (s, d) = rest!(
        &app,
        "GET",
        format!("/api/v1/destinations/{id}"),
        Some(&reader),
        None
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(d["name"], "SOC");
    for hidden in ["config", "grants", "secret_names"] {
        assert!(d.get(hidden).is_none(), "{hidden}: {d}");
    }
    let (_, list) = rest!(&app, "GET", "/api/v1/destinations", Some(&reader), None).await;
    assert!(list[0].get("config").is_none(), "{list}");

    // The portal: a member's destination page has name, channel and health, no configuration.
    let member = signed_in(&h, &hospital_id, Role::Viewer, "member@example.org");
    let (status, body) = call_fn!(&app, "destination", &member, &[("id", id.as_str())]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!body.contains("receiver.example"), "{body}");
    let page: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(page["name"], "SOC");
    assert_eq!(page["config"], json!({}));
    assert_eq!(page["secrets"], json!([]));
    let hospital_admin = signed_in(&h, &hospital_id, Role::Admin, "admin@example.org");
    let (_, body) = call_fn!(&app, "destination", &hospital_admin, &[("id", id.as_str())]).await;
    assert!(body.contains("receiver.example"), "{body}");
}

async fn one_name_limit_and_one_answer_to_a_malformed_body(backend: Backend) {
    let h = harness(backend);
    let state = with_plugins(&h);
    let app = app!(state);
    let admin = h.token(&[Scope::Admin]);
    let publisher = h.token(&[Scope::Publish]);
    let long = "n".repeat(201);
    let mut body = webhook(&long, "receiver.example");
    body["secrets"] = json!({ "auth": "x" });
    let (s, e) = rest!(
        &app,
        "POST",
        "/api/v1/destinations",
        Some(&admin),
        Some(body)
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["fields"][0]["field"], "name", "{e}");

    // Not JSON at all: 400 with Herald's error body, on every kind of endpoint.
    for (method, uri, token) in [
        ("POST", "/api/v1/destinations", &admin),
        ("POST", "/api/v1/customers", &admin),
        ("POST", "/api/v1/products", &publisher),
        ("POST", "/api/v1/drafts", &publisher),
        ("PUT", "/api/v1/authoring/settings", &publisher),
        (
            "PUT",
            "/api/v1/templates/advisory.published/email/subject",
            &admin,
        ),
    ] {
        let req = request(method, uri, Some(token))
            .insert_header(("Content-Type", "application/json"))
            .set_payload("{\"name\": ")
            .to_request();
        let resp = test::call_service(&app, req).await;
        let status = resp.status();
        let body: Value =
            serde_json::from_slice(&test::read_body(resp).await).unwrap_or(Value::Null);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {uri}: {body}");
        assert_eq!(body["error"], "bad_request", "{method} {uri}: {body}");
    }
}

// ---------------------------------------------------------------------------------------------
// four eyes on every publish path

fn multipart(file: &[u8], csrf: &str) -> (String, Vec<u8>) {
    let boundary = "----herald-test-boundary-4eyes";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{csrf}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"document\"; filename=\"a.json\"\r\nContent-Type: application/json\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn advisory_count(h: &Harness) -> i64 {
    let mut conn = h.test_db.conn().expect("conn");
    herald_storage::advisories::list_advisories(
        &mut conn,
        &herald_storage::advisories::AdvisoryFilter {
            reader: herald_storage::entitlement::Reader::Manufacturer {
                org_id: h.maker_id.clone(),
            },
            ..Default::default()
        },
    )
    .expect("list")
    .total
}

fn event_count(h: &Harness) -> usize {
    let mut conn = h.test_db.conn().expect("conn");
    herald_storage::queue::list_events(&mut conn, None)
        .expect("events")
        .len()
}

async fn four_eyes_holds_every_publish_path(backend: Backend) {
    let h = harness(backend);
    let app = app!(h.state);
    {
        let mut conn = h.test_db.conn().expect("conn");
        herald_storage::drafts::set_four_eyes(&mut conn, &h.maker_id, true, "test")
            .expect("four eyes");
    }
    let publisher_cookie = signed_in(&h, &h.maker_id, Role::Publisher, "publisher@example.org");
    let publish_token = h.token(&[Scope::Publish]);
    let approver = user_token(
        &h,
        &h.maker_id,
        Role::Approver,
        "approver@example.org",
        &[Scope::Publish],
    );

    // The portal's upload by a publisher: held, not published.
    let (cookie, token) = crate::csrf!(&app, Some(publisher_cookie.clone())).await;
    let (content_type, body) = multipart(&demo("mms-sa-2026-001.json"), &token);
    let req = test::TestRequest::post()
        .uri("/upload")
        .insert_header(("Content-Type", content_type))
        .insert_header(("Origin", crate::common::BASE))
        .insert_header(("Cookie", cookie))
        .set_payload(body)
        .to_request();
    let resp = test::call_service(&app, req).await;
    let status = resp.status();
    let html = String::from_utf8_lossy(&test::read_body(resp).await).into_owned();
    assert_eq!(status, StatusCode::ACCEPTED, "{html}");
    assert!(html.contains("upload-held"), "{html}");
    assert_eq!(advisory_count(&h), 0);
    let upload_draft = html
        .split("/authoring/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page links the pending publication")
        .to_owned();

    // The API's publish by a token: held (202 with the pending id), not published.
    let req = request("POST", "/api/v1/advisories", Some(&publish_token))
        .insert_header(("Content-Type", "application/json"))
        .set_payload(demo("mms-sa-2026-002.json"))
        .to_request();
    let resp = test::call_service(&app, req).await;
    let status = resp.status();
    let held: Value = test::read_body_json(resp).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{held}");
    let api_draft = held["pending"].as_str().expect("pending id").to_owned();
    assert_eq!(held["draft"]["state"], "submitted", "{held}");
    assert_eq!(advisory_count(&h), 0);
    assert_eq!(event_count(&h), 0);

    // Its submitter cannot approve it: the token that sent it, nor the publisher in the portal.
    let (s, e) = rest!(
        &app,
        "POST",
        format!("/api/v1/drafts/{api_draft}/publish"),
        Some(&publish_token),
        None
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
    let (status, body) = call_fn!(
        &app,
        "authoring_act",
        &publisher_cookie,
        &[("id", upload_draft.as_str()), ("op", "publish")]
    )
    .await;
    assert!(!status.is_success(), "{status}: {body}");
    assert_eq!(advisory_count(&h), 0);

    // An approver who is not the submitter publishes each exactly once.
    for draft in [&upload_draft, &api_draft] {
        let (s, p) = rest!(
            &app,
            "POST",
            format!("/api/v1/drafts/{draft}/publish"),
            Some(&approver),
            None
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{p}");
        let (s, e) = rest!(
            &app,
            "POST",
            format!("/api/v1/drafts/{draft}/publish"),
            Some(&approver),
            None
        )
        .await;
        assert_eq!(s, StatusCode::CONFLICT, "{e}");
    }
    assert_eq!(advisory_count(&h), 2);
    assert_eq!(event_count(&h), 2);
    // Published byte for byte as uploaded.
    let mut conn = h.test_db.conn().expect("conn");
    let current = herald_storage::advisories::get_advisory(&mut conn, "MMS-SA-2026-001")
        .expect("read")
        .expect("published")
        .current
        .version;
    let doc =
        herald_storage::advisories::get_revision_document(&mut conn, "MMS-SA-2026-001", &current)
            .expect("read")
            .expect("document");
    assert_eq!(doc.bytes, demo("mms-sa-2026-001.json"));
}

on_both_backends!(
    manufacturer_cannot_repoint_a_hospital_destination,
    host_change_drops_secrets,
    members_see_no_configuration,
    one_name_limit_and_one_answer_to_a_malformed_body,
    four_eyes_holds_every_publish_path,
);
