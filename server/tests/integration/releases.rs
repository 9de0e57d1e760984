//! Releases and patches over `/api/v1/releases` (issue 16): a release that fixes an imported
//! ICSMA advisory revises it through the one publish path (vendor_fix, fixed version, version
//! bumped, re-signed, in index.txt, changes.csv and the ROLIE feed, valid by the BSI validator)
//! and is announced once as `patch.available` per subscribed destination; a document that
//! cannot take the fix is refused naming the JSON path with nothing changed; under the
//! four-eyes rule the revision waits for an approver. Both backends.

use crate::common;

use actix_web::http::StatusCode;
use actix_web::{App, test};
use common::{Harness, catalog_id, csaf_tool_validates, demo, harness};
use herald_storage::{
    Backend, accounts::NewApiToken, accounts::NewUser, accounts::OrgKind, accounts::Role,
    accounts::Scope, queue::DeliveryFilter,
};
use serde_json::{Value, json};
use sha2::Digest;

const WK: &str = "/.well-known/csaf";
const ICSMA: &str = "icsma-24-151-01.json";

macro_rules! app {
    ($state:expr) => {
        test::init_service(App::new().configure(herald_server::web::configure($state.clone())))
            .await
    };
}

/// `(status, body bytes)` of one request with an optional bearer token and JSON body.
macro_rules! call {
    ($app:expr, $method:ident, $uri:expr, $token:expr, $body:expr) => {{
        let uri: &str = &$uri;
        let mut req = test::TestRequest::$method().uri(uri);
        let token: Option<&str> = $token;
        if let Some(t) = token {
            req = req.insert_header(("authorization", format!("Bearer {t}")));
        }
        let body: Value = $body;
        if !body.is_null() {
            req = req.set_json(body);
        }
        let resp = test::call_service(&$app, req.to_request()).await;
        let status = resp.status();
        let bytes = test::read_body(resp).await.to_vec();
        (status, bytes)
    }};
}

fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}

fn icsma_document() -> Option<Vec<u8>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/csaf/corpus/icsma")
        .join(ICSMA);
    std::fs::read(path).ok()
}

fn publish(h: &Harness, bytes: &[u8]) -> herald_server::publish::Published {
    let mut conn = h.test_db.conn().expect("conn");
    herald_server::publish::publish_document(&mut conn, &h.state.config, bytes, &h.maker_id, "test")
        .expect("publish")
}

/// A user of the manufacturer with `role` and a `publish` token bound to it.
fn user_token(h: &Harness, email: &str, role: Role) -> String {
    let mut conn = h.test_db.conn().expect("conn");
    let user = herald_storage::accounts::create_user(
        &mut conn,
        &NewUser {
            org_id: &h.maker_id,
            email,
            display_name: email,
            password: "correct horse battery",
            role,
        },
    )
    .expect("user");
    herald_storage::accounts::create_api_token(
        &mut conn,
        &NewApiToken {
            org_id: &h.maker_id,
            user_id: Some(&user.id),
            name: "t",
            scopes: &[Scope::Publish, Scope::Read],
            expires_at: None,
        },
        "test",
    )
    .expect("token")
    .token
}

async fn release_revises_icsma_advisory(backend: Backend) {
    let Some(original) = icsma_document() else {
        println!("SKIPPED: ../shared/csaf/corpus/icsma/{ICSMA} not found beside the repository");
        return;
    };
    let h = harness(backend);
    let app = app!(h.state);
    let token = h.token(&[Scope::Publish, Scope::Read]);
    let first = publish(&h, &original);
    let path = first.csaf_url.split(WK).nth(1).expect("path").to_owned();

    // Three hospital destinations: one default subscription, one for patches only, one for
    // advisory updates only (gets nothing: a patch is announced as a patch).
    let (all, patches, updates) = {
        let mut conn = h.test_db.conn().expect("conn");
        let mut dest = |hospital: &str, kinds: &[&str]| {
            let org = herald_storage::accounts::ensure_organization(
                &mut conn,
                OrgKind::Hospital,
                hospital,
            )
            .expect("hospital");
            let d = herald_storage::testing::loopback_webhook(&mut conn, &org.id, hospital, 9)
                .expect("destination");
            if !kinds.is_empty() {
                herald_storage::subscriptions::set_subscription(
                    &mut conn,
                    &d.id,
                    &herald_storage::subscriptions::Subscription {
                        event_kinds: kinds.iter().map(|k| k.to_string()).collect(),
                        ..Default::default()
                    },
                    "test",
                )
                .expect("subscription");
            }
            d.id
        };
        let all = dest("St. Anna", &[]);
        let patches = dest("St. Brigid", &["patch.available"]);
        let updates = dest("St. Clare", &["advisory.updated"]);
        // The import's own notice is fanned out first.
        herald_storage::queue::fan_out_pending(&mut conn, 100).expect("fan out");
        (all, patches, updates)
    };

    let affected = catalog_id(&h, "Welch Allyn Product Configuration Tool", "<=1.9.4.1");
    let (status, body) = call!(
        app,
        post,
        "/api/v1/releases",
        Some(&token),
        json!({
            "name": "Product Configuration Tool 1.9.4.2 <b>hotfix</b>",
            "applies_to": [affected],
            "produced_version": "1.9.4.2",
            "release_date": "2024-07-15T00:00:00Z",
            "delivery": "download",
            "regulatory_review": false,
            "install_notes": "Uninstall the old tool first.\nThen run the installer.",
            "url": "https://baxter.example/pct/1.9.4.2",
            "fixes": ["ICSMA-24-151-01"],
        })
    );
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let created = json_of(&body);
    assert_eq!(created["state"], "draft");
    assert_eq!(created["produced"]["version"], "1.9.4.2");
    // Markup is data: stored and returned as given, JSON-escaped.
    assert_eq!(
        created["name"],
        "Product Configuration Tool 1.9.4.2 <b>hotfix</b>"
    );
    let id = created["id"].as_str().expect("id").to_owned();

    let (status, body) = call!(
        app,
        post,
        format!("/api/v1/releases/{id}/publish"),
        Some(&token),
        Value::Null
    );
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let done = json_of(&body);
    assert_eq!(done["release"]["state"], "published");
    assert_eq!(done["release"]["fixes"][0]["revision_version"], "2");
    let published = &done["fixes"][0]["published"];
    assert_eq!(published["version"], "2");
    assert_eq!(published["event"], "patch.available");

    // The revised document as served.
    let (status, served) = call!(app, get, format!("{WK}{path}"), None, Value::Null);
    assert_eq!(status, StatusCode::OK);
    let doc = json_of(&served);
    let tracking = &doc["document"]["tracking"];
    assert_eq!(tracking["version"], "2");
    assert_eq!(
        tracking["revision_history"]
            .as_array()
            .expect("history")
            .len(),
        2
    );
    let original_doc = json_of(&original);
    assert_eq!(doc["document"]["notes"], original_doc["document"]["notes"]);
    let vuln = &doc["vulnerabilities"][0];
    assert_eq!(
        vuln["product_status"]["known_affected"],
        json!(["CSAFPID-0001"])
    );
    let fixed_id = vuln["product_status"]["fixed"][0]
        .as_str()
        .expect("fixed")
        .to_owned();
    let remediations = vuln["remediations"].as_array().expect("remediations");
    assert_eq!(
        remediations.len(),
        original_doc["vulnerabilities"][0]["remediations"]
            .as_array()
            .expect("original")
            .len()
            + 1
    );
    let fix = remediations.last().expect("vendor fix");
    assert_eq!(fix["category"], "vendor_fix");
    assert_eq!(fix["url"], "https://baxter.example/pct/1.9.4.2");
    assert_eq!(fix["product_ids"], json!(["CSAFPID-0001"]));
    assert!(
        serde_json::to_string(&doc["product_tree"])
            .expect("tree")
            .contains(&fixed_id)
    );
    csaf_tool_validates(&served);

    // Hashes and signature match the served bytes.
    for (ext, digest) in [
        ("sha256", hex::encode(sha2::Sha256::digest(&served))),
        ("sha512", hex::encode(sha2::Sha512::digest(&served))),
    ] {
        let (status, body) = call!(app, get, format!("{WK}{path}.{ext}"), None, Value::Null);
        assert_eq!(status, StatusCode::OK);
        let text = String::from_utf8(body).expect("utf8");
        assert!(text.starts_with(&digest), "{ext}: {text}");
    }
    let (status, asc) = call!(app, get, format!("{WK}{path}.asc"), None, Value::Null);
    assert_eq!(status, StatusCode::OK);
    {
        let mut conn = h.test_db.conn().expect("conn");
        let key = herald_server::publish::signing_key(&mut conn, &h.state.config).expect("key");
        key.verify_detached(&served, &String::from_utf8(asc).expect("asc"))
            .expect("signature verifies over the revised document");
    }

    // index.txt, changes.csv and the ROLIE feed show the new revision.
    let new_date = tracking["current_release_date"]
        .as_str()
        .expect("date")
        .to_owned();
    let rel = path.trim_start_matches("/white/");
    let (_, index) = call!(app, get, format!("{WK}/white/index.txt"), None, Value::Null);
    assert!(String::from_utf8_lossy(&index).contains(rel));
    let (_, changes) = call!(
        app,
        get,
        format!("{WK}/white/changes.csv"),
        None,
        Value::Null
    );
    let changes = String::from_utf8(changes).expect("csv");
    let line = changes
        .lines()
        .find(|l| l.contains(rel))
        .expect("changes line");
    let new_day = &new_date[..10];
    assert!(line.contains(new_day), "{line} should carry {new_date}");
    let (_, feed) = call!(
        app,
        get,
        format!("{WK}/white/feed-tlp-white.json"),
        None,
        Value::Null
    );
    let feed = json_of(&feed);
    let entry = feed["feed"]["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["id"] == "ICSMA-24-151-01")
        .expect("feed entry")
        .clone();
    assert!(
        entry["updated"]
            .as_str()
            .expect("updated")
            .starts_with(new_day),
        "{entry}"
    );

    // One patch.available delivery per subscribed destination, no advisory.updated at all.
    let mut conn = h.test_db.conn().expect("conn");
    herald_storage::queue::fan_out_pending(&mut conn, 100).expect("fan out");
    let events = herald_storage::queue::list_events(&mut conn, None).expect("events");
    let patch_events: Vec<_> = events
        .iter()
        .filter(|e| e.kind == "patch.available")
        .collect();
    assert_eq!(patch_events.len(), 1);
    assert!(
        events.iter().all(|e| e.kind != "advisory.updated"),
        "{events:?}"
    );
    assert_eq!(
        patch_events[0].payload["release"]["url"],
        "https://baxter.example/pct/1.9.4.2"
    );
    for (dest, expected) in [(&all, 1), (&patches, 1), (&updates, 0)] {
        let n = herald_storage::queue::list_deliveries(
            &mut conn,
            &DeliveryFilter {
                destination_id: Some(dest.clone()),
                event_id: Some(patch_events[0].id.clone()),
                ..Default::default()
            },
        )
        .expect("deliveries")
        .len();
        assert_eq!(n, expected, "destination {dest}");
    }
    drop(conn);

    // Published once: a second publish is a conflict; the advisory stays at version 2.
    let (status, _) = call!(
        app,
        post,
        format!("/api/v1/releases/{id}/publish"),
        Some(&token),
        Value::Null
    );
    assert_eq!(status, StatusCode::CONFLICT);
    // The installed-base question: which release fixes the affected version.
    let mut conn = h.test_db.conn().expect("conn");
    let fixing = herald_server::service::releases::fixing_release(&mut conn, &affected)
        .expect("fixing")
        .expect("a release");
    assert_eq!(fixing.id, id);
}

/// A document that cannot take the fix is refused with the JSON path; nothing changes.
async fn release_refusals(backend: Backend) {
    let h = harness(backend);
    let app = app!(h.state);
    let token = h.token(&[Scope::Publish, Scope::Read]);
    publish(&h, &demo("mms-sa-2026-001.json"));
    publish(&h, &demo("mms-ia-2026-001.json"));
    let v420 = catalog_id(&h, "Meridian FlowSure 300", "4.2.0");
    let v431 = catalog_id(&h, "Meridian FlowSure 300", "4.3.1");
    let release = |fixes: Vec<&str>, applies: Vec<&str>, extra: Value| {
        let mut body = json!({
            "name": "FlowSure 4.3.2",
            "applies_to": applies,
            "produced_version": "4.3.2",
            "delivery": "service_engineer",
            "fixes": fixes,
        });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        body
    };
    // Field checks name the field.
    for (body, field) in [
        (
            release(vec![], vec!["no-such-product"], json!({})),
            "applies_to",
        ),
        (release(vec!["NOPE-1"], vec![&v420], json!({})), "fixes"),
        (
            release(vec![], vec![&v420], json!({"produced_version": "<=5.0"})),
            "produced_version",
        ),
        (
            release(vec![], vec![&v420], json!({"delivery": "pigeon"})),
            "delivery",
        ),
        (
            release(vec![], vec![&v420], json!({"url": "javascript:alert(1)"})),
            "url",
        ),
        (
            release(vec![], vec![&v420], json!({"name": "x".repeat(201)})),
            "name",
        ),
        (
            release(vec![], vec![&v420], json!({"name": "a\u{7}b"})),
            "name",
        ),
    ] {
        let (status, bytes) = call!(app, post, "/api/v1/releases", Some(&token), body);
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            String::from_utf8_lossy(&bytes)
        );
        assert_eq!(json_of(&bytes)["fields"][0]["field"], field);
    }
    // Unknown fields and non-JSON are malformed bodies.
    let (status, _) = call!(
        app,
        post,
        "/api/v1/releases",
        Some(&token),
        json!({"nme": 1})
    );
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Hospitals and read-only tokens may not create or read releases.
    let hospital = h.hospital_token("St. Anna", &[Scope::Read, Scope::Admin]);
    let (status, _) = call!(
        app,
        post,
        "/api/v1/releases",
        Some(&hospital),
        release(vec![], vec![&v420], json!({}))
    );
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call!(app, get, "/api/v1/releases", Some(&hospital), Value::Null);
    assert_eq!(status, StatusCode::FORBIDDEN);
    let reader = h.token(&[Scope::Read]);
    let (status, _) = call!(
        app,
        post,
        "/api/v1/releases",
        Some(&reader),
        release(vec![], vec![&v420], json!({}))
    );
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call!(app, get, "/api/v1/releases", None, Value::Null);
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // 4.3.1 is fixed already, not affected: the advisory cannot take a fix from it.
    let (status, bytes) = call!(
        app,
        post,
        "/api/v1/releases",
        Some(&token),
        release(vec!["MMS-SA-2026-001"], vec![&v431], json!({}))
    );
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    let id = json_of(&bytes)["id"].as_str().expect("id").to_owned();
    let (status, bytes) = call!(
        app,
        post,
        format!("/api/v1/releases/{id}/publish"),
        Some(&token),
        Value::Null
    );
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let message = json_of(&bytes)["fields"][0]["message"]
        .as_str()
        .expect("message")
        .to_owned();
    assert!(
        message.contains("MMS-SA-2026-001")
            && message.contains("/vulnerabilities/*/product_status/known_affected"),
        "{message}"
    );
    let (_, bytes) = call!(
        app,
        get,
        format!("/api/v1/releases/{id}"),
        Some(&token),
        Value::Null
    );
    assert_eq!(json_of(&bytes)["state"], "draft");
    let (_, bytes) = call!(
        app,
        get,
        "/api/v1/advisories/MMS-SA-2026-001",
        Some(&token),
        Value::Null
    );
    assert_eq!(json_of(&bytes)["version"], "1");

    // An informational advisory has no vulnerabilities to fix.
    let (status, bytes) = call!(
        app,
        post,
        "/api/v1/releases",
        Some(&token),
        release(vec!["MMS-IA-2026-001"], vec![&v420], json!({}))
    );
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    let id = json_of(&bytes)["id"].as_str().expect("id").to_owned();
    let (status, bytes) = call!(
        app,
        post,
        format!("/api/v1/releases/{id}/publish"),
        Some(&token),
        Value::Null
    );
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let message = json_of(&bytes)["fields"][0]["message"]
        .as_str()
        .expect("message")
        .to_owned();
    assert!(message.contains("at /vulnerabilities:"), "{message}");

    // Another release id is not found; the OpenAPI document describes the resources.
    let (status, _) = call!(app, get, "/api/v1/releases/nope", Some(&token), Value::Null);
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, bytes) = call!(app, get, "/api/v1/openapi.json", None, Value::Null);
    let openapi = json_of(&bytes);
    for p in [
        "/api/v1/releases",
        "/api/v1/releases/{id}",
        "/api/v1/releases/{id}/publish",
    ] {
        assert!(
            openapi["paths"].get(p).is_some(),
            "{p} missing from OpenAPI"
        );
    }
}

/// Under the four-eyes rule the revision waits for an approver, then goes out as the patch.
async fn release_waits_for_approval(backend: Backend) {
    let h = harness(backend);
    let app = app!(h.state);
    publish(&h, &demo("mms-sa-2026-001.json"));
    {
        let mut conn = h.test_db.conn().expect("conn");
        herald_storage::drafts::set_four_eyes(&mut conn, &h.maker_id, true, "test")
            .expect("four eyes");
    }
    let publisher = user_token(&h, "pub@meridian.example", Role::Publisher);
    let approver = user_token(&h, "approver@meridian.example", Role::Approver);
    let v420 = catalog_id(&h, "Meridian FlowSure 300", "4.2.0");
    let v421 = catalog_id(&h, "Meridian FlowSure 300", "4.2.1");
    let (status, bytes) = call!(
        app,
        post,
        "/api/v1/releases",
        Some(&publisher),
        json!({
            "name": "FlowSure 4.3.2", "applies_to": [v420, v421], "produced_version": "4.3.2",
            "delivery": "over_the_air", "regulatory_review": true,
            "url": "https://meridian-medical.example/fw/4.3.2", "fixes": ["MMS-SA-2026-001"],
        })
    );
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    let id = json_of(&bytes)["id"].as_str().expect("id").to_owned();
    let (status, bytes) = call!(
        app,
        post,
        format!("/api/v1/releases/{id}/publish"),
        Some(&publisher),
        Value::Null
    );
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    let done = json_of(&bytes);
    assert_eq!(done["release"]["state"], "pending");
    let draft = done["fixes"][0]["pending_draft_id"]
        .as_str()
        .expect("held")
        .to_owned();
    let (_, bytes) = call!(
        app,
        get,
        "/api/v1/advisories/MMS-SA-2026-001",
        Some(&publisher),
        Value::Null
    );
    assert_eq!(
        json_of(&bytes)["version"],
        "1",
        "nothing published before approval"
    );
    // The submitter cannot approve it; the approver can.
    let (status, _) = call!(
        app,
        post,
        format!("/api/v1/drafts/{draft}/publish"),
        Some(&publisher),
        Value::Null
    );
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, bytes) = call!(
        app,
        post,
        format!("/api/v1/drafts/{draft}/publish"),
        Some(&approver),
        Value::Null
    );
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    assert_eq!(json_of(&bytes)["published"]["event"], "patch.available");
    let (_, bytes) = call!(
        app,
        get,
        format!("/api/v1/releases/{id}"),
        Some(&approver),
        Value::Null
    );
    let release = json_of(&bytes);
    assert_eq!(release["state"], "published");
    assert_eq!(release["fixes"][0]["revision_version"], "2");
    let mut conn = h.test_db.conn().expect("conn");
    let kinds: Vec<String> = herald_storage::queue::list_events(&mut conn, None)
        .expect("events")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, vec!["advisory.published", "patch.available"]);
}

on_both_backends!(
    release_revises_icsma_advisory,
    release_refusals,
    release_waits_for_approval,
);
