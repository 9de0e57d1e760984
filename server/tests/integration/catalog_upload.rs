//! The product catalog (`/api/v1/products` and the `/products` page), publishing by upload in
//! the portal (`/upload`), the per-caller feeds of provider-metadata.json, and the caching
//! headers of portal pages; in process, on SQLite and on PostgreSQL, driven like an API client
//! and like a browser without JavaScript.

use crate::common;

use actix_web::http::StatusCode;
use actix_web::test;
use common::forms::{redirect_target, signed_in};
use common::{BASE, Harness, demo, harness};
use herald_storage::{Backend, accounts::OrgKind, accounts::Role, accounts::Scope};
use serde_json::Value;

/// A hospital organization; a customer of the manufacturer when `customer`.
fn hospital(h: &Harness, name: &str, customer: bool) -> String {
    let mut conn = h.test_db.conn().expect("conn");
    let id = herald_storage::accounts::ensure_organization(&mut conn, OrgKind::Hospital, name)
        .expect("hospital")
        .id;
    if customer {
        herald_storage::customers::add_customer(&mut conn, &h.maker_id, &id, None, "test")
            .expect("customer");
    }
    id
}

fn publish(h: &Harness, bytes: &[u8]) -> herald_server::publish::Published {
    let mut conn = h.test_db.conn().expect("conn");
    herald_server::publish::publish_document(&mut conn, &h.state.config, bytes, &h.maker_id, "test")
        .expect("publish")
}

/// The GREEN demo advisory as an AMBER one with its own tracking id.
fn amber_document() -> Vec<u8> {
    let mut doc: Value = serde_json::from_slice(&demo("mms-sa-2026-003.json")).expect("json");
    doc["document"]["distribution"]["tlp"]["label"] = "AMBER".into();
    doc["document"]["tracking"]["id"] = "MMS-SA-2026-913".into();
    doc["document"]["references"][0]["url"] =
        "https://meridian-medical.example/.well-known/csaf/amber/2026/mms-sa-2026-913.json".into();
    serde_json::to_vec_pretty(&doc).expect("json")
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

fn catalog(h: &Harness) -> Vec<herald_storage::catalog::CatalogProduct> {
    let mut conn = h.test_db.conn().expect("conn");
    herald_storage::catalog::list_products(&mut conn, &h.maker_id).expect("catalog")
}

/// Every product id in a `GET /api/v1/products` tree.
fn tree_ids(tree: &Value) -> Vec<String> {
    let mut ids = Vec::new();
    for v in tree["vendors"].as_array().expect("vendors") {
        for f in v["families"].as_array().expect("families") {
            for p in f["products"].as_array().expect("products") {
                for version in p["versions"].as_array().expect("versions") {
                    ids.push(version["id"].as_str().expect("id").to_owned());
                }
            }
        }
    }
    ids.sort();
    ids
}

// ---------------------------------------------------------------------------------------------
// REST

async fn products_api(backend: Backend) {
    let h = harness(backend);
    let app = app!(h.state);
    let white = publish(&h, &demo("mms-sa-2026-001.json"));
    let green = publish(&h, &demo("mms-sa-2026-003.json"));
    let publisher = h.token(&[Scope::Publish]);
    let reader = h.token(&[Scope::Read]);
    let customer = h.hospital_token("St. Customer", &[Scope::Read, Scope::Publish, Scope::Admin]);
    hospital(&h, "St. Customer", true);
    let stranger = h.hospital_token("St. Stranger", &[Scope::Read]);

    let send = |method: &str, uri: &str, token: Option<&str>, body: Option<Value>| {
        let mut req = match method {
            "POST" => test::TestRequest::post(),
            "PATCH" => test::TestRequest::patch(),
            _ => test::TestRequest::get(),
        }
        .uri(uri);
        if let Some(t) = token {
            req = req.insert_header(("Authorization", format!("Bearer {t}")));
        }
        if let Some(b) = body {
            req = req.set_json(b);
        }
        req.to_request()
    };
    macro_rules! call {
        ($method:expr, $uri:expr, $token:expr, $body:expr) => {{
            let resp = test::call_service(&app, send($method, $uri, $token, $body)).await;
            let status = resp.status();
            let cache = resp
                .headers()
                .get("cache-control")
                .map(|v| v.to_str().expect("header").to_owned());
            let body = test::read_body(resp).await;
            let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            (status, json, cache)
        }};
    }

    // Create: publish scope of the manufacturer.
    let new = serde_json::json!({
        "vendor": "Meridian Medical Systems", "family": "Prototypes", "name": "Unreleased Pump",
        "version": "0.9", "udi_di": "0812345000023",
        "cpe": "cpe:2.3:h:meridian:unreleased_pump:0.9:*:*:*:*:*:*:*",
        "purl": "pkg:generic/meridian/unreleased-pump@0.9"
    });
    let (status, created, _) = call!(
        "POST",
        "/api/v1/products",
        Some(&publisher),
        Some(new.clone())
    );
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["udi_di"], "00812345000023");
    let id = created["id"].as_str().expect("id").to_owned();
    // Duplicate (other case), invalid identifiers, wrong callers: refused, nothing written.
    let before = catalog(&h).len();
    let mut dup = new.clone();
    dup["name"] = "UNRELEASED PUMP".into();
    dup["udi_di"] = Value::Null;
    let (status, body, _) = call!("POST", "/api/v1/products", Some(&publisher), Some(dup));
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    for (field, value) in [
        ("cpe", "cpe:2.3:h:meridian"),
        ("purl", "meridian/pump@1"),
        ("udi_di", "00812345000024"),
    ] {
        let mut bad = serde_json::json!({"name": "Other Pump", "version": "1"});
        bad[field] = value.into();
        let (status, body, _) = call!("POST", "/api/v1/products", Some(&publisher), Some(bad));
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["fields"][0]["field"], field, "{body}");
    }
    let ok = serde_json::json!({"name": "Other Pump"});
    let (status, _, _) = call!("POST", "/api/v1/products", None, Some(ok.clone()));
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = call!("POST", "/api/v1/products", Some(&reader), Some(ok.clone()));
    assert_eq!(status, StatusCode::FORBIDDEN, "read scope does not edit");
    let (status, _, _) = call!(
        "POST",
        "/api/v1/products",
        Some(&customer),
        Some(ok.clone())
    );
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a hospital has no catalog to edit"
    );
    assert_eq!(
        catalog(&h).len(),
        before,
        "nothing written by refused calls"
    );

    // Patch: a merge patch; null clears; the same refusals.
    let uri = format!("/api/v1/products/{id}");
    let (status, patched, _) = call!(
        "PATCH",
        &uri,
        Some(&publisher),
        Some(serde_json::json!({"version": "0.9.1", "cpe": null}))
    );
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["version"], "0.9.1");
    assert!(
        patched["cpe"].is_null() && patched["purl"].is_string(),
        "{patched}"
    );
    let (status, _, _) = call!(
        "PATCH",
        &uri,
        Some(&publisher),
        Some(serde_json::json!({"purl": "nope"}))
    );
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _, _) = call!(
        "PATCH",
        "/api/v1/products/no-such-id",
        Some(&publisher),
        Some(serde_json::json!({"version": "2"}))
    );
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = call!(
        "PATCH",
        &uri,
        Some(&customer),
        Some(serde_json::json!({"version": "2"}))
    );
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Reading: the manufacturer everything; a customer the GREEN and WHITE products but not the
    // product no advisory names; a stranger and anonymous callers the WHITE products.
    let product_ids = |tracking_id: &str| {
        let mut conn = h.test_db.conn().expect("conn");
        let a = herald_storage::advisories::get_advisory(&mut conn, tracking_id)
            .expect("get")
            .expect("advisory");
        herald_storage::entitlement::advisory_product_ids(&mut conn, &a.id).expect("ids")
    };
    let white_ids = product_ids(&white.tracking_id);
    let green_ids = product_ids(&green.tracking_id);
    let (status, all, cache) = call!("GET", "/api/v1/products", Some(&reader), None);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cache.as_deref(), Some("private"));
    assert_eq!(tree_ids(&all).len(), catalog(&h).len());
    assert!(tree_ids(&all).contains(&id));
    let (_, seen, _) = call!("GET", "/api/v1/products", Some(&customer), None);
    let seen = tree_ids(&seen);
    let mut expected: Vec<String> = white_ids.iter().chain(&green_ids).cloned().collect();
    expected.sort();
    expected.dedup();
    assert_eq!(seen, expected, "a customer: WHITE and GREEN products");
    assert!(
        !seen.contains(&id),
        "a hand-added product no advisory names stays hidden"
    );
    for token in [Some(stranger.as_str()), None] {
        let (status, seen, _) = call!("GET", "/api/v1/products", token, None);
        assert_eq!(status, StatusCode::OK);
        let mut w = white_ids.clone();
        w.sort();
        w.dedup();
        assert_eq!(tree_ids(&seen), w, "WHITE products only");
    }

    let (_, doc, _) = call!("GET", "/api/v1/openapi.json", None, None);
    assert!(doc["paths"]["/api/v1/products"]["post"].is_object());
    assert!(doc["paths"]["/api/v1/products/{id}"]["patch"].is_object());
}

// ---------------------------------------------------------------------------------------------
// the /products page

async fn products_page(backend: Backend) {
    let h = harness(backend);
    let app = app!(h.state);
    publish(&h, &demo("mms-sa-2026-003.json"));
    let publisher = signed_in(&h, &h.maker_id, Role::Publisher, "pub@maker.test");
    let viewer = signed_in(&h, &h.maker_id, Role::Viewer, "viewer@maker.test");
    let org = hospital(&h, "St. Customer", true);
    let nurse = signed_in(&h, &org, Role::Admin, "it@hospital.test");

    let (status, html) = page!(&app, "/products", &publisher).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("data-testid=\"save-product\""),
        "publisher gets the form"
    );
    assert!(html.contains("href=\"/upload\""), "and the way to upload");

    // Add with the form (no JavaScript): redirect back to the entry; it is stored.
    let fields = |id: &str, name: &str, purl: &str| {
        vec![
            ("id".to_owned(), id.to_owned()),
            ("vendor".to_owned(), "Meridian Medical Systems".to_owned()),
            ("family".to_owned(), "Prototypes".to_owned()),
            ("name".to_owned(), name.to_owned()),
            ("version".to_owned(), "1.0".to_owned()),
            ("udi_di".to_owned(), String::new()),
            ("cpe".to_owned(), String::new()),
            ("purl".to_owned(), purl.to_owned()),
        ]
    };
    fn pairs(f: &[(String, String)]) -> Vec<(&str, &str)> {
        f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }
    let xss = "<script>alert(1)</script> Pump";
    let add = fields("", xss, "pkg:generic/meridian/pump@1.0");
    let answer = post_form!(&app, "product_save", &publisher, &pairs(&add)).await;
    let target = redirect_target(&answer);
    assert!(target.starts_with("/products?saved="), "{target}");
    let stored = catalog(&h)
        .into_iter()
        .find(|p| p.name == xss)
        .expect("saved from the form");
    let (_, html) = page!(&app, "/products", &publisher).await;
    assert!(!html.contains("<script>alert(1)"), "names are text");
    assert!(html.contains("&lt;script&gt;alert(1)"), "the name is shown");

    // Refused: back to the form with the value typed and the error next to the field.
    let bad = fields(&stored.id, "Renamed Pump", "not a purl");
    let answer = post_form!(&app, "product_save", &publisher, &pairs(&bad)).await;
    let target = redirect_target(&answer);
    assert!(target.starts_with("/products?draft="), "{target}");
    let (_, html) = page!(&app, &target, &publisher).await;
    assert!(html.contains("data-testid=\"field-error\""), "{html}");
    assert!(html.contains("purl"), "the error names the field");
    assert!(
        html.contains("value=\"not a purl\""),
        "the typed value comes back"
    );
    assert!(
        catalog(&h).iter().all(|p| p.name != "Renamed Pump"),
        "nothing changed"
    );

    // Edit.
    let edit = fields(&stored.id, "Renamed Pump", "");
    redirect_target(&post_form!(&app, "product_save", &publisher, &pairs(&edit)).await);
    assert!(
        catalog(&h)
            .iter()
            .any(|p| p.id == stored.id && p.name == "Renamed Pump")
    );

    // A viewer and a hospital: no form, and a post is refused without change.
    for cookie in [&viewer, &nurse] {
        let (status, html) = page!(&app, "/products", cookie).await;
        assert_eq!(status, StatusCode::OK);
        assert!(!html.contains("data-testid=\"save-product\""));
        assert!(!html.contains("data-testid=\"upload-link\""));
        let sneaky = fields("", "Sneaky Pump", "");
        let answer = post_form!(&app, "product_save", cookie, &pairs(&sneaky)).await;
        assert!(
            !answer.location.as_deref().unwrap_or("").contains("saved="),
            "refused: {:?} {}",
            answer.location,
            answer.body
        );
        assert!(catalog(&h).iter().all(|p| p.name != "Sneaky Pump"));
    }
    // The hospital sees the GREEN advisory's products with links to their advisories, and not
    // the hand-added one.
    let (_, html) = page!(&app, "/products", &nurse).await;
    assert!(html.contains("/advisories?product="), "{html}");
    assert!(!html.contains("Renamed Pump"));
    assert!(
        html.contains("href=\"/destinations\""),
        "subscriptions link"
    );
}

// ---------------------------------------------------------------------------------------------
// upload

fn multipart(file: &[u8], csrf: &str) -> (String, Vec<u8>) {
    let boundary = "----herald-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{csrf}\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"document\"; filename=\"a.json\"\r\nContent-Type: application/json\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

macro_rules! upload {
    ($app:expr, $cookie:expr, $file:expr, $origin:expr) => {{
        let (cookie, token) = $crate::csrf!($app, $cookie.map(|c| c.to_string())).await;
        let (ct, body) = multipart($file, &token);
        let req = test::TestRequest::post()
            .uri("/upload")
            .insert_header(("Content-Type", ct))
            .insert_header(("Cookie", cookie))
            // A browser sends the page's origin with every POST.
            .insert_header(("Origin", $origin.unwrap_or(BASE)))
            .set_payload(body);
        let resp = test::call_service($app, req.to_request()).await;
        let status = resp.status();
        let location = resp
            .headers()
            .get("location")
            .map(|v| v.to_str().expect("header").to_owned());
        let body = String::from_utf8_lossy(&test::read_body(resp).await).into_owned();
        (status, location, body)
    }};
}

async fn upload_in_the_portal(backend: Backend) {
    let h = harness(backend);
    let app = app!(h.state);
    let publisher = signed_in(&h, &h.maker_id, Role::Publisher, "pub@maker.test");
    let viewer = signed_in(&h, &h.maker_id, Role::Viewer, "viewer@maker.test");
    let org = hospital(&h, "St. Customer", true);
    let hospital_admin = signed_in(&h, &org, Role::Admin, "it@hospital.test");

    let (status, html) = page!(&app, "/upload", &publisher).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("enctype=\"multipart/form-data\""));

    // Valid: published, URLs shown, and it is there.
    let (status, _, html) = upload!(
        &app,
        Some(&publisher),
        &demo("mms-sa-2026-001.json"),
        Some(BASE)
    );
    assert_eq!(status, StatusCode::CREATED, "{html}");
    assert!(
        html.contains(&format!("{BASE}/.well-known/csaf/white/")),
        "{html}"
    );
    assert!(html.contains("data-testid=\"portal-url\""));
    assert_eq!(advisory_count(&h), 1);
    let (status, _) = page!(&app, "/advisories/MMS-SA-2026-001", None::<&str>).await;
    assert_eq!(status, StatusCode::OK);

    // Broken, with markup in a value the validator quotes: every failure listed as text,
    // nothing stored.
    let mut doc: Value = serde_json::from_slice(&demo("mms-sa-2026-002.json")).expect("json");
    doc["vulnerabilities"][0]["cve"] = "<script>alert(1)</script>".into();
    doc["document"]["tracking"]["version"] = "not-a-version".into();
    let bytes = serde_json::to_vec(&doc).expect("json");
    let (status, _, html) = upload!(&app, Some(&publisher), &bytes, None::<&str>);
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains("data-testid=\"upload-findings\""), "{html}");
    assert!(
        html.contains("/vulnerabilities/0/cve"),
        "the JSON path is listed: {html}"
    );
    assert!(
        html.contains("/document/tracking/version"),
        "every failure is listed: {html}"
    );
    assert!(
        !html.contains("<script>alert(1)"),
        "document text is escaped"
    );
    assert!(
        html.contains("&lt;script&gt;alert(1)"),
        "the message quotes the value: {html}"
    );
    assert_eq!(advisory_count(&h), 1, "nothing stored");

    // Oversize: a clear error, nothing stored.
    let big = vec![b' '; herald_csaf::MAX_DOCUMENT_BYTES + 1];
    let (status, _, html) = upload!(&app, Some(&publisher), &big, None::<&str>);
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        html.contains("too large") && html.contains("10 MiB"),
        "{html}"
    );
    assert_eq!(advisory_count(&h), 1);

    // Not a publisher, not signed in, another site: refused.
    let doc3 = demo("mms-sa-2026-003.json");
    for cookie in [&viewer, &hospital_admin] {
        let (status, _, _) = upload!(&app, Some(cookie), &doc3, None::<&str>);
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let (status, location, _) = upload!(&app, None::<&String>, &doc3, None::<&str>);
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.expect("location").starts_with("/login"));
    let (status, _, _) = upload!(&app, Some(&publisher), &doc3, Some("https://evil.example"));
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(advisory_count(&h), 1, "no refused upload stored anything");
    let (status, _) = page!(&app, "/upload", &viewer).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

// ---------------------------------------------------------------------------------------------
// provider-metadata.json per caller

async fn provider_metadata_feeds(backend: Backend) {
    let h = harness(backend);
    let app = app!(h.state);
    publish(&h, &demo("mms-sa-2026-001.json"));
    publish(&h, &demo("mms-sa-2026-003.json"));
    publish(&h, &amber_document());
    hospital(&h, "St. Customer", true);
    let customer = h.hospital_token("St. Customer", &[Scope::Read]);
    let customer_org = hospital(&h, "St. Customer", true);
    let customer_session = signed_in(&h, &customer_org, Role::Viewer, "it@customer.test");
    hospital(&h, "St. Stranger", false);
    let stranger = h.hospital_token("St. Stranger", &[Scope::Read]);
    let maker = h.token(&[Scope::Read]);

    const PM: &str = "/.well-known/csaf/provider-metadata.json";
    macro_rules! metadata {
        ($auth:expr, $cookie:expr) => {{
            let mut req = test::TestRequest::get().uri(PM);
            if let Some(t) = $auth {
                req = req.insert_header(("Authorization", format!("Bearer {t}")));
            }
            if let Some(c) = $cookie {
                req = req.insert_header(("Cookie", c));
            }
            let resp = test::call_service(&app, req.to_request()).await;
            assert_eq!(resp.status(), StatusCode::OK);
            let header = |n: &str| {
                resp.headers()
                    .get(n)
                    .map(|v| v.to_str().expect("header").to_owned())
            };
            let (cache, vary) = (header("cache-control"), header("vary"));
            let doc: Value = serde_json::from_slice(&test::read_body(resp).await).expect("json");
            let feeds: Vec<(String, String)> = doc["distributions"]
                .as_array()
                .expect("distributions")
                .iter()
                .filter_map(|d| d["rolie"]["feeds"].as_array())
                .flatten()
                .map(|f| {
                    (
                        f["tlp_label"].as_str().expect("label").to_owned(),
                        f["url"].as_str().expect("url").to_owned(),
                    )
                })
                .collect();
            (feeds, cache, vary)
        }};
    }
    let labels = |feeds: &[(String, String)]| feeds.iter().map(|f| f.0.clone()).collect::<Vec<_>>();

    let (feeds, cache, vary) = metadata!(None::<&str>, None::<&str>);
    assert_eq!(labels(&feeds), ["WHITE"], "anonymous: the public feed only");
    assert!(!cache.unwrap_or_default().contains("private"));
    assert!(vary.unwrap_or_default().contains("Authorization"));
    let (feeds, _, _) = metadata!(Some(&stranger), None::<&str>);
    assert_eq!(
        labels(&feeds),
        ["WHITE"],
        "not entitled: the public feed only"
    );

    for (auth, cookie) in [
        (Some(customer.as_str()), None),
        (None, Some(customer_session.as_str())),
        (Some(maker.as_str()), None),
    ] {
        let (feeds, cache, vary) = metadata!(auth, cookie);
        assert_eq!(labels(&feeds), ["WHITE", "GREEN", "AMBER"]);
        assert_eq!(cache.as_deref(), Some("private"));
        assert_eq!(vary.as_deref(), Some("Authorization, Cookie"));
        // Every announced feed answers this caller.
        for (_, url) in &feeds {
            let mut req = test::TestRequest::get().uri(url.trim_start_matches(BASE));
            if let Some(t) = auth {
                req = req.insert_header(("Authorization", format!("Bearer {t}")));
            }
            if let Some(c) = cookie {
                req = req.insert_header(("Cookie", c));
            }
            let resp = test::call_service(&app, req.to_request()).await;
            assert_eq!(resp.status(), StatusCode::OK, "{url}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// caching of portal pages

async fn page_cache_headers(backend: Backend) {
    let h = harness(backend);
    let app = app!(h.state);
    let user = signed_in(&h, &h.maker_id, Role::Admin, "admin@maker.test");
    let get = |uri: &str, cookie: Option<&str>| {
        let mut req = test::TestRequest::get().uri(uri);
        if let Some(c) = cookie {
            req = req.insert_header(("Cookie", c.to_owned()));
        }
        req.to_request()
    };
    let header = |resp: &actix_web::dev::ServiceResponse, n: &str| {
        resp.headers()
            .get_all(n)
            .map(|v| v.to_str().expect("header").to_owned())
            .collect::<Vec<_>>()
            .join(", ")
    };
    // A browser's first answer sets its own CSRF cookie: that one answer is private.
    let resp = test::call_service(&app, get("/advisories", None)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(header(&resp, "cache-control").contains("private"));
    let csrf = header(&resp, "set-cookie")
        .split(';')
        .next()
        .expect("the CSRF cookie")
        .to_owned();
    let resp = test::call_service(&app, get("/advisories", Some(&csrf))).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        !header(&resp, "cache-control").contains("private"),
        "anonymous pages stay cacheable"
    );
    assert!(header(&resp, "vary").contains("Cookie"));
    let resp = test::call_service(&app, get("/advisories", Some(&user))).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "cache-control"), "private, no-cache");
    assert!(header(&resp, "vary").contains("Cookie"));
    let resp = test::call_service(&app, get("/products", Some(&user))).await;
    assert_eq!(header(&resp, "cache-control"), "private, no-cache");
    let resp = test::call_service(&app, get("/destinations", Some(&user))).await;
    assert_eq!(header(&resp, "cache-control"), "private, no-store");
    // Not HTML: untouched (the API sets its own).
    let resp = test::call_service(&app, get("/healthz", Some(&user))).await;
    assert!(header(&resp, "cache-control").is_empty());
}

on_both_backends!(
    products_api,
    products_page,
    upload_in_the_portal,
    provider_metadata_feeds,
    page_cache_headers,
);
