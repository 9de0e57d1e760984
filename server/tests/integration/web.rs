//! The whole web application in process, on SQLite and on PostgreSQL: health, the REST API with
//! its refusals, byte-exact CSAF distribution with conditional GET, TLP fencing, the portal
//! pages, and hostile input (forged tokens, invalid and oversized documents, markup in advisory
//! text, path tricks).

use crate::common;

use actix_web::http::StatusCode;
use actix_web::{App, test};
use common::{BASE, demo, demo_json, harness};
use herald_storage::{Backend, accounts::Scope};
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

/// Publishes the four demo documents (three WHITE, one GREEN) through the one publish path.
fn publish_demos(h: &common::Harness) {
    let mut conn = h.test_db.conn().expect("conn");
    for name in [
        "mms-sa-2026-001.json",
        "mms-sa-2026-002.json",
        "mms-sa-2026-003.json",
        "mms-ia-2026-001.json",
    ] {
        herald_server::publish::publish_document(
            &mut conn,
            &h.state.config,
            &demo(name),
            &h.maker_id,
            "test",
        )
        .expect("publish");
    }
}

/// GET `uri`: status, headers and body.
macro_rules! get {
    ($app:expr, $uri:expr) => {{
        let resp = test::call_service($app, test::TestRequest::get().uri($uri).to_request()).await;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = test::read_body(resp).await.to_vec();
        (status, headers, body)
    }};
}

fn tracking_ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|a| a["tracking_id"].as_str().expect("id").to_owned())
        .collect()
}

/// The `value`s of the product filter's options, with their labels.
fn product_options(html: &str) -> Vec<(String, String)> {
    let start = html.find("name=\"product\"").expect("product select");
    let end = start + html[start..].find("</select>").expect("select end");
    html[start..end]
        .split("<option value=\"")
        .skip(1)
        .filter_map(|o| {
            let (value, rest) = o.split_once('"')?;
            let label = rest.split_once('>')?.1.split('<').next()?;
            (!value.is_empty()).then(|| (value.to_owned(), label.to_owned()))
        })
        .collect()
}

/// The `<option ...>` tag of `value` in the select named `name`.
fn option_tag<'a>(html: &'a str, name: &str, value: &str) -> &'a str {
    let start = html
        .find(&format!("name=\"{name}\""))
        .unwrap_or_else(|| panic!("select {name}"));
    let at = start
        + html[start..]
            .find(&format!("<option value=\"{value}\""))
            .unwrap_or_else(|| panic!("option {value} of {name}"));
    let end = at + html[at..].find('>').expect("tag end");
    &html[at..=end]
}

async fn advisory_list_api(backend: Backend) {
    let h = harness(backend);
    let app = app!(h);
    publish_demos(&h);
    let list = |uri: &str| {
        let uri = uri.to_owned();
        let app = &app;
        async move {
            let (status, headers, body) = get!(app, &uri);
            assert_eq!(
                status,
                StatusCode::OK,
                "{uri}: {}",
                String::from_utf8_lossy(&body)
            );
            let total: i64 = headers
                .get("x-total-count")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{uri}: no X-Total-Count"));
            let link = headers
                .get("link")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let json: Value = serde_json::from_slice(&body).expect("json");
            (tracking_ids(&json), total, link)
        }
    };
    let (ids, total, link) = list("/api/v1/advisories").await;
    assert_eq!(
        ids,
        ["MMS-IA-2026-001", "MMS-SA-2026-002", "MMS-SA-2026-001"]
    );
    assert_eq!(
        total, 3,
        "the GREEN advisory is not counted for anonymous callers"
    );
    assert!(
        link.contains("rel=\"first\"") && link.contains("rel=\"last\""),
        "{link}"
    );
    assert!(!link.contains("rel=\"next\""), "{link}");

    let cases: &[(&str, &[&str])] = &[
        ("severity=critical", &["MMS-SA-2026-002"]),
        ("severity=HIGH", &["MMS-SA-2026-001"]),
        ("severity=none", &["MMS-IA-2026-001"]),
        (
            "severity=",
            &["MMS-IA-2026-001", "MMS-SA-2026-002", "MMS-SA-2026-001"],
        ),
        ("cve=cve-2099-10001", &["MMS-SA-2026-001"]),
        ("cve=CVE-2099-10003", &[]),
        ("from=2026-05-01&to=2026-06-30", &["MMS-SA-2026-002"]),
        ("to=2026-03-10", &["MMS-SA-2026-001"]),
        ("from=2026-07-01", &["MMS-IA-2026-001"]),
        (
            "sort=oldest",
            &["MMS-SA-2026-001", "MMS-SA-2026-002", "MMS-IA-2026-001"],
        ),
        (
            "sort=severity",
            &["MMS-SA-2026-002", "MMS-SA-2026-001", "MMS-IA-2026-001"],
        ),
        (
            "sort=title",
            &["MMS-IA-2026-001", "MMS-SA-2026-001", "MMS-SA-2026-002"],
        ),
        (
            "sort=tracking_id",
            &["MMS-IA-2026-001", "MMS-SA-2026-001", "MMS-SA-2026-002"],
        ),
        (
            "q=flowsure&sort=oldest",
            &["MMS-SA-2026-001", "MMS-IA-2026-001"],
        ),
        ("q=FlowSure&severity=high", &["MMS-SA-2026-001"]),
        // Hostile text: LIKE wildcards and markup are literal.
        ("q=%25", &[]),
        ("q=_", &[]),
        ("q=%3Cscript%3E", &[]),
        ("q=%27%20OR%201%3D1%20--", &[]),
    ];
    for (query, want) in cases {
        let (ids, total, _) = list(&format!("/api/v1/advisories?{query}")).await;
        assert_eq!(ids, *want, "{query}");
        assert_eq!(total as usize, want.len(), "{query}");
    }

    // Paging: the total counts every page; Link keeps the query.
    let (ids, total, link) = list("/api/v1/advisories?sort=oldest&limit=1&offset=1").await;
    assert_eq!(
        (ids.as_slice(), total),
        (&["MMS-SA-2026-002".to_owned()][..], 3)
    );
    for rel in ["first", "prev", "next", "last"] {
        assert!(
            link.contains(&format!("rel=\"{rel}\"")),
            "{rel} missing: {link}"
        );
    }
    assert!(
        link.contains(&format!(
            "<{BASE}/api/v1/advisories?sort=oldest&limit=1&offset=2>; rel=\"next\""
        )),
        "{link}"
    );
    assert!(link.contains("offset=2>; rel=\"last\""), "{link}");
    let (ids, total, _) = list("/api/v1/advisories?offset=50").await;
    assert!(
        ids.is_empty() && total == 3,
        "past the end: empty page, same total"
    );

    // The product filter takes catalog ids (as the list page offers them).
    let (_, _, html) = get!(&app, "/advisories");
    let html = String::from_utf8(html).expect("utf8");
    let products = product_options(&html);
    assert!(
        !products.is_empty(),
        "the page offers the catalog's products"
    );
    assert!(
        !products
            .iter()
            .any(|(_, label)| label.contains("ClearScan")),
        "a product named only by a GREEN advisory is not offered to anonymous readers: {products:?}"
    );
    let (id, label) = products
        .iter()
        .find(|(_, label)| label.contains("VitaView"))
        .unwrap_or_else(|| panic!("VitaView in {products:?}"));
    let (ids, _, _) = list(&format!("/api/v1/advisories?product={id}")).await;
    assert_eq!(ids, ["MMS-SA-2026-002"], "product {label}");

    // Invalid parameters: 400 naming the parameter.
    for (query, names) in [
        ("severity=severe", "severity"),
        ("from=2026-13-01", "from"),
        ("to=yesterday", "to"),
        ("from=2026-05-01&to=2026-01-01", "from"),
        ("sort=random", "sort"),
        ("cve=CVE-1", "cve"),
        ("product=%27%20OR%201%3D1", "product"),
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=ten", "limit"),
        ("offset=-1", "offset"),
        ("q=a%00b", "q"),
    ] {
        let (status, _, body) = get!(&app, &format!("/api/v1/advisories?{query}"));
        let text = String::from_utf8_lossy(&body);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {text}");
        assert!(
            text.contains(names),
            "{query}: the message names {names}: {text}"
        );
    }
    let long = "x".repeat(201);
    let (status, _, _) = get!(&app, &format!("/api/v1/advisories?q={long}"));
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The OpenAPI document describes the parameters.
    let (_, _, body) = get!(&app, "/api/v1/openapi.json");
    let doc: Value = serde_json::from_slice(&body).expect("json");
    let params: Vec<&str> = doc["paths"]["/api/v1/advisories"]["get"]["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for name in [
        "q", "cve", "product", "severity", "from", "to", "sort", "limit", "offset",
    ] {
        assert!(params.contains(&name), "{name} not in {params:?}");
    }
}

/// The list page without JavaScript: a GET form whose fields show the query, server-side
/// filtering, sorting and paging, page links that keep the query, clear errors.
async fn advisory_list_page(backend: Backend) {
    let h = harness(backend);
    let app = app!(h);
    publish_demos(&h);
    let page = |uri: &str| {
        let uri = uri.to_owned();
        let app = &app;
        async move {
            let (status, _, body) = get!(app, &uri);
            (status, String::from_utf8(body).expect("utf8"))
        }
    };
    let rows = |html: &str| -> Vec<String> {
        html.split("data-testid=\"advisory-row\" data-tracking-id=\"")
            .skip(1)
            .filter_map(|r| r.split('"').next())
            .map(str::to_owned)
            .collect()
    };

    let (status, html) = page("/advisories").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("<form")
            && html.contains("method=\"get\"")
            && html.contains("action=\"/advisories\"")
    );
    for field in [
        "name=\"q\"",
        "name=\"cve\"",
        "name=\"product\"",
        "name=\"severity\"",
        "name=\"from\"",
        "name=\"to\"",
        "name=\"sort\"",
        "name=\"per_page\"",
    ] {
        assert!(html.contains(field), "{field} missing from the form");
    }
    assert_eq!(
        rows(&html),
        ["MMS-IA-2026-001", "MMS-SA-2026-002", "MMS-SA-2026-001"]
    );

    let (status, html) = page("/advisories?severity=critical&sort=oldest&from=2026-01-01").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rows(&html), ["MMS-SA-2026-002"]);
    assert!(
        option_tag(&html, "severity", "critical").contains("selected"),
        "the form keeps the severity"
    );
    assert!(!option_tag(&html, "severity", "high").contains("selected"));
    assert!(
        option_tag(&html, "sort", "oldest").contains("selected"),
        "the form keeps the sort"
    );
    assert!(
        html.contains("value=\"2026-01-01\""),
        "the form keeps the date"
    );

    // Paging keeps the query in its links.
    let (_, html) = page("/advisories?q=FlowSure&per_page=1&sort=oldest").await;
    assert_eq!(rows(&html), ["MMS-SA-2026-001"]);
    assert!(html.contains("page 1 of 2"), "{html}");
    assert!(
        html.contains("href=\"/advisories?q=FlowSure&amp;sort=oldest&amp;per_page=1&amp;page=2\"")
            || html.contains("href=\"/advisories?q=FlowSure&sort=oldest&per_page=1&page=2\""),
        "the next page link keeps the query"
    );
    let (_, html) = page("/advisories?q=FlowSure&per_page=1&sort=oldest&page=2").await;
    assert_eq!(rows(&html), ["MMS-IA-2026-001"]);
    assert!(
        html.contains("value=\"FlowSure\""),
        "the search box keeps the text"
    );

    // Past the last page: a clear answer with a way back.
    let (status, html) = page("/advisories?q=FlowSure&per_page=1&page=9").await;
    assert_eq!(status, StatusCode::OK);
    assert!(rows(&html).is_empty());
    assert!(html.contains("There is no page 9"), "{html}");
    assert!(html.contains("page=2\""), "links to the last page");

    // Invalid parameters: 400 and a message naming the field; the form is still there.
    for (query, says) in [
        ("from=2026-02-30", "from must be a date"),
        ("severity=severe", "severity must be one of"),
        ("page=0", "page must be"),
        ("per_page=1000", "per_page must be"),
        ("sort=%3Cscript%3E", "sort must be one of"),
    ] {
        let (status, html) = page(&format!("/advisories?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert!(html.contains(says), "{query}: {says}");
        assert!(
            html.contains("name=\"q\""),
            "{query}: the form is shown with the error"
        );
        assert!(!html.contains("<script>"), "{query}: markup escaped");
    }

    // Hostile search text is shown as text in the box and finds nothing.
    let (status, html) = page("/advisories?q=%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E%25_").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !html.contains("<script>alert(1)"),
        "markup from the query escaped"
    );
    assert!(rows(&html).is_empty());
}

/// The serving cache: hits answer byte-exact with validators; a publish by another process is
/// picked up by the poll, a local publish at once; document and signature always match; the
/// access decision still comes first for restricted documents.
async fn serving_cache_consistency(backend: Backend) {
    use sha2::Digest;
    let h = harness(backend);
    let app = app!(h);
    let publish = h.token(&[Scope::Publish]);
    let v1 = demo("mms-sa-2026-001.json");
    let resp = test::call_service(
        &app,
        test::TestRequest::post()
            .uri("/api/v1/advisories")
            .insert_header(bearer(&publish))
            .set_payload(v1.clone())
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let path = "/.well-known/csaf/white/2026/mms-sa-2026-001.json";
    let key = {
        let mut conn = h.test_db.conn().expect("conn");
        herald_server::publish::signing_key(&mut conn, &h.state.config).expect("key")
    };
    // A document, its hashes and its signature always belong together.
    let consistent = |doc: &[u8], sha: &[u8], asc: &[u8]| {
        let sha = String::from_utf8_lossy(sha);
        sha.starts_with(&hex::encode(sha2::Sha256::digest(doc)))
            && key
                .verify_detached(doc, &String::from_utf8_lossy(asc))
                .is_ok()
    };
    for _ in 0..3 {
        let (status, headers, doc) = get!(&app, path);
        assert_eq!(status, StatusCode::OK);
        assert_eq!(doc, v1);
        assert_eq!(
            headers
                .get("access-control-allow-origin")
                .map(|v| v.as_bytes()),
            Some(&b"*"[..])
        );
        assert!(headers.contains_key("etag") && headers.contains_key("last-modified"));
        let etag = headers.get("etag").cloned().expect("etag");
        let resp = test::call_service(
            &app,
            test::TestRequest::get()
                .uri(path)
                .insert_header(("If-None-Match", etag))
                .to_request(),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);
    }
    assert!(!h.state.serving.is_empty(), "the document is cached");
    // A client that asks for gzip gets the cached gzip body: the same bytes once decoded, with
    // its own strong validator (other bytes), which revalidates to 304; one that refuses gzip
    // gets the plain bytes and the plain validator. Both vary on the header.
    let (_, plain_headers, _) = get!(&app, path);
    for (accept, gzipped) in [
        ("gzip", true),
        ("br;q=1.0, gzip;q=0.8, *;q=0.1", true),
        ("gzip;q=0, identity", false),
    ] {
        let resp = test::call_service(
            &app,
            test::TestRequest::get()
                .uri(path)
                .insert_header(("Accept-Encoding", accept))
                .to_request(),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::OK, "{accept}");
        let headers = resp.headers().clone();
        let body = test::read_body(resp).await;
        let decoded = if gzipped {
            assert_eq!(
                headers.get("content-encoding").map(|v| v.as_bytes()),
                Some(&b"gzip"[..]),
                "{accept}"
            );
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&body[..]), &mut out)
                .expect("gzip body");
            out
        } else {
            assert!(!headers.contains_key("content-encoding"), "{accept}");
            body.to_vec()
        };
        assert_eq!(decoded, v1, "{accept}");
        let etag = headers.get("etag").cloned().expect("etag");
        if gzipped {
            assert_ne!(Some(&etag), plain_headers.get("etag"), "{accept}");
        } else {
            assert_eq!(Some(&etag), plain_headers.get("etag"), "{accept}");
        }
        let resp = test::call_service(
            &app,
            test::TestRequest::get()
                .uri(path)
                .insert_header(("Accept-Encoding", accept))
                .insert_header(("If-None-Match", etag.clone()))
                .to_request(),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::NOT_MODIFIED, "{accept}");
        assert_eq!(resp.headers().get("etag"), Some(&etag), "{accept}");
        assert_eq!(
            headers.get("vary").map(|v| v.as_bytes()),
            Some(&b"accept-encoding"[..]),
            "{accept}"
        );
    }
    let (_, _, index) = get!(&app, "/.well-known/csaf/white/index.txt");
    assert_eq!(
        String::from_utf8_lossy(&index).trim(),
        "2026/mms-sa-2026-001.json"
    );
    // The poll's first look records where the database stands (and starts over).
    h.state.serving.poll(&h.state).await.expect("poll");
    assert!(
        !h.state.serving.poll(&h.state).await.expect("poll"),
        "nothing new"
    );

    // Revision 2 written by "another process": straight into storage, no local notice.
    let mut doc: Value = serde_json::from_slice(&v1).expect("json");
    let tracking = &mut doc["document"]["tracking"];
    tracking["version"] = "2".into();
    tracking["current_release_date"] = "2026-03-11T09:00:00.000Z".into();
    tracking["revision_history"]
        .as_array_mut()
        .expect("history")
        .push(serde_json::json!({ "date": "2026-03-11T09:00:00.000Z", "number": "2", "summary": "Second." }));
    let v2 = serde_json::to_vec_pretty(&doc).expect("json");
    {
        let mut conn = h.test_db.conn().expect("conn");
        let summary = herald_csaf::validate(&v2).expect("valid").summary;
        let signature = key.sign_detached(&v2).expect("sign");
        herald_storage::advisories::publish(
            &mut conn,
            &herald_storage::advisories::PublishRequest {
                summary: &summary,
                document: &v2,
                sha256: &hex::encode(sha2::Sha256::digest(&v2)),
                sha512: &hex::encode(sha2::Sha512::digest(&v2)),
                signature: Some(signature),
                path: "white/2026/mms-sa-2026-001.json",
                publisher_org_id: &h.maker_id,
                actor: "other-process",
            },
        )
        .expect("publish v2");
    }
    // Before the poll: the old or the new unit, never a mix.
    let (_, _, doc) = get!(&app, path);
    let (_, _, sha) = get!(&app, &format!("{path}.sha256"));
    let (_, _, asc) = get!(&app, &format!("{path}.asc"));
    assert!(doc == v1 || doc == v2);
    assert!(
        consistent(&doc, &sha, &asc),
        "document, hash and signature of one revision"
    );
    // The poll sees the other process's publication and drops the cache.
    assert!(
        h.state.serving.poll(&h.state).await.expect("poll"),
        "the mark moved"
    );
    let (_, _, doc) = get!(&app, path);
    let (_, _, sha) = get!(&app, &format!("{path}.sha256"));
    let (_, _, asc) = get!(&app, &format!("{path}.asc"));
    assert_eq!(doc, v2, "after the poll the new revision is served");
    assert!(consistent(&doc, &sha, &asc));
    assert!(
        !h.state.serving.poll(&h.state).await.expect("poll"),
        "nothing new"
    );

    // Revision 3 through the API: served at once, no poll needed.
    let tracking = &mut doc_mut(&v2);
    let v3 = {
        let t = &mut tracking["document"]["tracking"];
        t["version"] = "3".into();
        t["current_release_date"] = "2026-03-12T09:00:00.000Z".into();
        t["revision_history"]
            .as_array_mut()
            .expect("history")
            .push(serde_json::json!({ "date": "2026-03-12T09:00:00.000Z", "number": "3", "summary": "Third." }));
        serde_json::to_vec_pretty(&*tracking).expect("json")
    };
    let resp = test::call_service(
        &app,
        test::TestRequest::post()
            .uri("/api/v1/advisories")
            .insert_header(bearer(&publish))
            .set_payload(v3.clone())
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let (_, _, doc) = get!(&app, path);
    let (_, _, sha) = get!(&app, &format!("{path}.sha256"));
    let (_, _, asc) = get!(&app, &format!("{path}.asc"));
    assert_eq!(doc, v3, "a local publish is served at once");
    assert!(consistent(&doc, &sha, &asc));

    // A restricted document in the cache is still fenced by the access decision.
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
    let green = "/.well-known/csaf/green/2026/mms-sa-2026-003.json";
    let maker = h.token(&[Scope::Read]);
    let hospital = h.hospital_token("St. Example General Hospital", &[Scope::Read]);
    let resp = test::call_service(
        &app,
        test::TestRequest::get()
            .uri(green)
            .insert_header(bearer(&maker))
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers().get("cache-control").map(|v| v.as_bytes()),
        Some(&b"private"[..])
    );
    let (status, _, _) = get!(&app, green);
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "cached, still not for anonymous callers"
    );
    let resp = test::call_service(
        &app,
        test::TestRequest::get()
            .uri(&format!("{green}.asc"))
            .insert_header(bearer(&hospital))
            .to_request(),
    )
    .await;
    assert_ne!(
        resp.status(),
        StatusCode::OK,
        "cached, still not for the unentitled"
    );
}

/// Pages keep rendering while another `App` is being built on another thread (as actix starts
/// its workers, and as these tests run side by side). leptos_server parks resources first polled
/// during a route-list walk for good (leptos issue #4773); Herald walks the routes once per
/// process, so no page can hang on it.
async fn pages_render_while_apps_are_built(backend: Backend) {
    let h = harness(backend);
    let app = app!(h);
    let state = h.state.clone();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let builder = {
        let done = done.clone();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                for _ in 0..40 {
                    let _other = test::init_service(
                        App::new().configure(herald_server::web::configure(state.clone())),
                    )
                    .await;
                }
            });
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        })
    };
    let mut rendered = 0;
    while !done.load(std::sync::atomic::Ordering::SeqCst) || rendered < 5 {
        let page = test::call_service(
            &app,
            test::TestRequest::get().uri("/advisories").to_request(),
        );
        let resp = tokio::time::timeout(std::time::Duration::from_secs(30), page)
            .await
            .expect("the list page hung while another App was being built");
        assert_eq!(resp.status(), StatusCode::OK);
        rendered += 1;
    }
    builder.join().expect("builder thread");
}

fn doc_mut(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("json")
}

on_both_backends!(
    advisory_list_api,
    advisory_list_page,
    serving_cache_consistency,
);

on_both_backends!(
    health_and_openapi,
    publish_and_distribute,
    refusals,
    hostile_text_and_paths,
    restricted_labels_stay_fenced,
    pages_render_while_apps_are_built,
);
