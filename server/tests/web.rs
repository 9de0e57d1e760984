//! The whole web application in process, on SQLite and on PostgreSQL: health, the REST API with
//! its refusals, byte-exact CSAF distribution with conditional GET, TLP fencing, the portal
//! pages, and hostile input (forged tokens, invalid and oversized documents, markup in advisory
//! text, path tricks).

mod common;

use actix_web::http::StatusCode;
use actix_web::{App, test};
use common::{BASE, demo, demo_json, harness};
use herald_storage::{Backend, Scope};
use serde_json::Value;

macro_rules! app {
    ($h:expr) => {
        test::init_service(App::new().configure(herald_server::web::configure($h.state.clone())))
            .await
    };
}

async fn body_json<B: actix_web::body::MessageBody>(
    resp: actix_web::dev::ServiceResponse<B>,
) -> Value
where
    B::Error: std::fmt::Debug,
{
    let bytes = test::read_body(resp).await;
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))
}

fn bearer(token: &str) -> (&'static str, String) {
    ("Authorization", format!("Bearer {token}"))
}

async fn health_and_openapi(backend: Backend) {
    let h = harness(backend);
    let app = app!(h);
    let resp =
        test::call_service(&app, test::TestRequest::get().uri("/healthz").to_request()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body = body_json(resp).await;
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], backend.to_string());

    let resp = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/api/v1/openapi.json")
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let doc = body_json(resp).await;
    assert!(
        doc["paths"]["/api/v1/advisories"]["post"].is_object(),
        "{doc}"
    );
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

async fn publish_and_distribute(backend: Backend) {
    let h = harness(backend);
    let app = app!(h);
    let token = h.token(&[Scope::Publish]);
    let bytes = demo("mms-sa-2026-001.json");

    let resp = test::call_service(
        &app,
        test::TestRequest::post()
            .uri("/api/v1/advisories")
            .insert_header(bearer(&token))
            .insert_header(("Content-Type", "application/json"))
            .set_payload(bytes.clone())
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let published = body_json(resp).await;
    assert_eq!(published["tracking_id"], "MMS-SA-2026-001");
    assert_eq!(published["event"], "advisory.published");
    let csaf_url = published["csaf_url"].as_str().expect("csaf_url").to_owned();
    assert_eq!(
        csaf_url,
        format!("{BASE}/.well-known/csaf/white/2026/mms-sa-2026-001.json")
    );
    let path = csaf_url.trim_start_matches(BASE).to_owned();

    // The bytes served are exactly the bytes received.
    let resp = test::call_service(&app, test::TestRequest::get().uri(&path).to_request()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header("access-control-allow-origin"), "*");
    assert_eq!(header("content-type"), "application/json");
    let etag = header("etag");
    assert!(!etag.is_empty());
    assert!(resp.headers().contains_key("last-modified"));
    let served = test::read_body(resp).await;
    assert_eq!(served.as_ref(), bytes.as_slice());

    let resp = test::call_service(
        &app,
        test::TestRequest::get()
            .uri(&path)
            .insert_header(("If-None-Match", etag.clone()))
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);

    use sha2::Digest;
    let resp = test::call_service(
        &app,
        test::TestRequest::get()
            .uri(&format!("{path}.sha512"))
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let text = String::from_utf8(test::read_body(resp).await.to_vec()).expect("utf8");
    assert_eq!(
        text,
        format!(
            "{}  mms-sa-2026-001.json\n",
            hex::encode(sha2::Sha512::digest(&bytes))
        )
    );

    let resp = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/api/v1/advisories")
            .to_request(),
    )
    .await;
    let list = body_json(resp).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["cves"][0], "CVE-2099-10001");

    let resp = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/.well-known/csaf/provider-metadata.json")
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let meta = body_json(resp).await;
    assert_eq!(
        meta["canonical_url"],
        format!("{BASE}/.well-known/csaf/provider-metadata.json")
    );
    assert_eq!(meta["metadata_version"], "2.0");

    // The portal page renders the advisory from the stored summary.
    let resp = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/advisories/MMS-SA-2026-001")
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let html = String::from_utf8(test::read_body(resp).await.to_vec()).expect("utf8");
    assert!(html.contains("CVE-2099-10001"), "{html}");
    let title = demo_json("mms-sa-2026-001.json")["document"]["title"]
        .as_str()
        .expect("title")
        .to_owned();
    assert!(html.contains(&title), "title missing from the page");
}

async fn refusals(backend: Backend) {
    let h = harness(backend);
    let app = app!(h);
    let publish = h.token(&[Scope::Publish]);
    let read_only = h.token(&[Scope::Read]);
    let bytes = demo("mms-sa-2026-001.json");
    let post = |token: Option<&str>, body: Vec<u8>| {
        let mut req = test::TestRequest::post()
            .uri("/api/v1/advisories")
            .insert_header(("Content-Type", "application/json"))
            .set_payload(body);
        if let Some(t) = token {
            req = req.insert_header(bearer(t));
        }
        req.to_request()
    };

    let resp = test::call_service(&app, post(None, bytes.clone())).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(resp.headers().contains_key("www-authenticate"));
    // A forged token that looks right is refused, never treated as anonymous.
    let forged = format!("hrld_{}", "0".repeat(64));
    let resp = test::call_service(&app, post(Some(&forged), bytes.clone())).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/api/v1/advisories")
            .insert_header(("Authorization", "Basic Zm9vOmJhcg=="))
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = test::call_service(&app, post(Some(&read_only), bytes.clone())).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    // Invalid: every failed test with id, JSON path and message; nothing written.
    let mut doc = demo_json("mms-sa-2026-001.json");
    doc["document"]
        .as_object_mut()
        .expect("document")
        .remove("title");
    let resp = test::call_service(
        &app,
        post(Some(&publish), serde_json::to_vec(&doc).expect("json")),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = body_json(resp).await;
    assert_eq!(body["error"], "invalid");
    let findings = body["findings"].as_array().expect("findings");
    assert!(
        findings.iter().any(|f| f["test_id"] == "schema"
            && f["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("/document"))),
        "{body}"
    );
    let mut doc = demo_json("mms-sa-2026-001.json");
    doc["product_tree"]["branches"] = serde_json::json!([]);
    let resp = test::call_service(
        &app,
        post(Some(&publish), serde_json::to_vec(&doc).expect("json")),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = body_json(resp).await;
    assert!(
        body["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .any(|f| f["test_id"] == "6.1.1"),
        "{body}"
    );
    let resp = test::call_service(&app, post(Some(&publish), b"{not json".to_vec())).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let resp = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/api/v1/advisories")
            .to_request(),
    )
    .await;
    assert_eq!(
        body_json(resp).await,
        serde_json::json!([]),
        "a refused document left traces"
    );

    // Oversized.
    let mut big = bytes.clone();
    big.resize(herald_csaf::MAX_DOCUMENT_BYTES + 1, b' ');
    let resp = test::call_service(&app, post(Some(&publish), big)).await;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // The same version twice is a conflict.
    let resp = test::call_service(&app, post(Some(&publish), bytes.clone())).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let resp = test::call_service(&app, post(Some(&publish), bytes.clone())).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
}

async fn hostile_text_and_paths(backend: Backend) {
    let h = harness(backend);
    let app = app!(h);
    let publish = h.token(&[Scope::Publish]);
    let mut doc = demo_json("mms-sa-2026-001.json");
    doc["document"]["title"] =
        Value::String("<script>alert('x')</script><img src=x onerror=alert(1)>".into());
    doc["document"]["tracking"]["id"] = Value::String("MMS-SA-2026-666".into());
    // The self reference must follow the tracking id (6.2.11 is only a warning, but keep it tidy).
    let resp = test::call_service(
        &app,
        test::TestRequest::post()
            .uri("/api/v1/advisories")
            .insert_header(bearer(&publish))
            .set_payload(serde_json::to_vec(&doc).expect("json"))
            .to_request(),
    )
    .await;
    assert_eq!(
        resp.status(),
        StatusCode::CREATED,
        "{}",
        body_json(resp).await
    );
    for uri in ["/advisories/MMS-SA-2026-666", "/advisories"] {
        let resp = test::call_service(&app, test::TestRequest::get().uri(uri).to_request()).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let html = String::from_utf8(test::read_body(resp).await.to_vec()).expect("utf8");
        if let Some(at) = html.find("<script>alert") {
            let from = at.saturating_sub(60);
            panic!(
                "{uri} let markup through: ...{}...",
                &html[from..(at + 400).min(html.len())]
            );
        }
        assert!(!html.contains("<img src=x"), "{uri} let markup through");
        assert!(html.contains("&lt;script&gt;"), "{uri} lost the title");
        assert!(!html.contains("&amp;lt;"), "{uri} escaped the title twice");
    }

    for uri in [
        "/.well-known/csaf/white/2026/..%2F..%2Fetc%2Fpasswd",
        "/.well-known/csaf/white/2026/../../../Cargo.toml",
        "/.well-known/csaf/white/..%2F2026/mms-sa-2026-666.json",
        "/.well-known/csaf/WHITE/2026/mms-sa-2026-666.json",
        "/.well-known/csaf/red/2026/mms-sa-2026-666.json",
    ] {
        let resp = test::call_service(&app, test::TestRequest::get().uri(uri).to_request()).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{uri}");
    }
}

async fn restricted_labels_stay_fenced(backend: Backend) {
    let h = harness(backend);
    let app = app!(h);
    let publish = h.token(&[Scope::Publish]);
    // A hospital customer is not entitled to GREEN yet (entitlement comes with the customer
    // portal); only the manufacturer reads its own restricted documents.
    let read = h.hospital_token("St. Example General Hospital", &[Scope::Read]);
    let maker_read = h.token(&[Scope::Read]);
    let resp = test::call_service(
        &app,
        test::TestRequest::post()
            .uri("/api/v1/advisories")
            .insert_header(bearer(&publish))
            .set_payload(demo("mms-sa-2026-003.json"))
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let published = body_json(resp).await;
    let path = published["csaf_url"]
        .as_str()
        .expect("url")
        .trim_start_matches(BASE)
        .to_owned();
    assert!(path.starts_with("/.well-known/csaf/green/"), "{path}");
    let tracking = published["tracking_id"].as_str().expect("id").to_owned();
    for token in [None, Some(read.as_str())] {
        for uri in [
            path.clone(),
            format!("/api/v1/advisories/{tracking}"),
            format!("/advisories/{tracking}"),
        ] {
            let mut req = test::TestRequest::get().uri(&uri);
            if let Some(t) = token {
                req = req.insert_header(bearer(t));
            }
            let resp = test::call_service(&app, req.to_request()).await;
            let status = resp.status();
            let body = test::read_body(resp).await;
            assert!(
                status == StatusCode::NOT_FOUND
                    || !String::from_utf8_lossy(&body).contains("CVE-2099"),
                "{uri} leaked a GREEN advisory ({status})"
            );
        }
        let mut req = test::TestRequest::get().uri(&format!("/api/v1/advisories?q={tracking}"));
        if let Some(t) = token {
            req = req.insert_header(bearer(t));
        }
        let resp = test::call_service(&app, req.to_request()).await;
        assert_eq!(body_json(resp).await, serde_json::json!([]));
    }
    let resp = test::call_service(
        &app,
        test::TestRequest::get()
            .uri(&path)
            .insert_header(bearer(&maker_read))
            .to_request(),
    )
    .await;
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "the manufacturer reads its GREEN document"
    );
    assert_eq!(
        test::read_body(resp).await.as_ref(),
        demo("mms-sa-2026-003.json").as_slice()
    );
}

/// The portal builds advisory links in the browser bundle, the server in herald-csaf: they must
/// name the same page for any tracking id.
#[actix_web::test]
async fn portal_links_agree_with_published_urls() {
    for id in [
        "MMS-SA-2026-001",
        "RHSA-2021:5217",
        "Example Company - 2019-YH3234",
        "a/b?c#d",
        "ü+~",
    ] {
        assert_eq!(
            app::advisory_path(id),
            herald_csaf::urls::advisory_page_path(id),
            "{id}"
        );
    }
}

on_both_backends!(
    health_and_openapi,
    publish_and_distribute,
    refusals,
    hostile_text_and_paths,
    restricted_labels_stay_fenced,
);
