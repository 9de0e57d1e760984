//! The hospital's workspace through REST, on SQLite and on PostgreSQL: sites, installed-base
//! entries per site with serial numbers, remediation status per advisory and site with its
//! history; who may change what; and isolation: another hospital never sees or touches a
//! hospital's sites, devices or statuses, and hostile text comes back as the same inert text.

use crate::common;

use actix_web::http::StatusCode;
use actix_web::test;
use common::{demo, harness};
use herald_storage::{Backend, accounts::OrgKind, accounts::Scope};
use serde_json::{Value, json};

fn request(method: &str, uri: &str, token: Option<&str>) -> test::TestRequest {
    let req = match method {
        "GET" => test::TestRequest::get(),
        "POST" => test::TestRequest::post(),
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

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("no {key} in {v}"))
}

async fn workspace_rest(backend: Backend) {
    let h = harness(backend);
    let app = app!(h.state);
    let maker = h.token(&[Scope::Read, Scope::Publish, Scope::Admin]);
    let a_admin = h.hospital_token("Hospital A", &[Scope::Read, Scope::Admin]);
    let a_reader = h.hospital_token("Hospital A", &[Scope::Read]);
    let b_admin = h.hospital_token("Hospital B", &[Scope::Read, Scope::Admin]);
    let (a_id, _b_id) = {
        let mut conn = h.test_db.conn().expect("conn");
        let a = herald_storage::accounts::ensure_organization(
            &mut conn,
            OrgKind::Hospital,
            "Hospital A",
        )
        .expect("a")
        .id;
        let b = herald_storage::accounts::ensure_organization(
            &mut conn,
            OrgKind::Hospital,
            "Hospital B",
        )
        .expect("b")
        .id;
        (a, b)
    };
    // The demo advisory (WHITE) about the FlowSure 300 pump: 4.2.x affected, 4.3.1 fixed.
    let resp = test::call_service(
        &app,
        request("POST", "/api/v1/advisories", Some(&maker))
            .insert_header(("Content-Type", "application/json"))
            .set_payload(demo("mms-sa-2026-001.json"))
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let tracking = "MMS-SA-2026-001";
    let pump = {
        let mut conn = h.test_db.conn().expect("conn");
        herald_storage::catalog::list_products(&mut conn, &h.maker_id)
            .expect("catalog")
            .into_iter()
            .find(|p| p.version.as_deref() == Some("4.2.0"))
            .expect("the 4.2.0 pump")
            .id
    };
    rest!(
        &app,
        "POST",
        "/api/v1/customers",
        Some(&maker),
        Some(json!({ "org": a_id }))
    )
    .await;

    // Sites: hostile text is stored and returned as text; names unique.
    let (s, north) = rest!(
        &app,
        "POST",
        "/api/v1/sites",
        Some(&a_admin),
        Some(json!({ "name": "North <b>campus</b>", "code": "N1", "address": "1 Main St" })),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{north}");
    assert_eq!(north["name"], "North <b>campus</b>");
    let north_id = str_of(&north, "id").to_owned();
    let (s, south) = rest!(
        &app,
        "POST",
        "/api/v1/sites",
        Some(&a_admin),
        Some(json!({ "name": "South" })),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let south_id = str_of(&south, "id").to_owned();
    let (s, body) = rest!(
        &app,
        "POST",
        "/api/v1/sites",
        Some(&a_admin),
        Some(json!({ "name": "South" })),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");
    let (s, body) = rest!(
        &app,
        "POST",
        "/api/v1/sites",
        Some(&a_admin),
        Some(json!({ "name": "" })),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["fields"][0]["field"], "name");
    let (s, _) = rest!(
        &app,
        "POST",
        "/api/v1/sites",
        Some(&a_admin),
        Some(json!({ "name": "X", "owner": "someone else" })),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "unknown fields are refused");
    // Readers read, only admins write; the manufacturer does not see a hospital's sites.
    let (s, _) = rest!(
        &app,
        "POST",
        "/api/v1/sites",
        Some(&a_reader),
        Some(json!({ "name": "Reader's" })),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, list) = rest!(&app, "GET", "/api/v1/sites", Some(&a_reader), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list.as_array().map(Vec::len), Some(2));
    let (s, _) = rest!(&app, "GET", "/api/v1/sites", Some(&maker), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Entries: by site id, with serials; the same serial at the other site is a conflict.
    let (s, entry) = rest!(
        &app,
        "POST",
        "/api/v1/installed-base",
        Some(&a_admin),
        Some(json!({ "product_id": pump, "site_id": north_id, "serials": ["SN-1", "SN-2"] })),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{entry}");
    assert_eq!(entry["devices"], 2);
    assert_eq!(entry["site"], "North <b>campus</b>");
    let entry_id = str_of(&entry, "id").to_owned();
    let (s, body) = rest!(
        &app,
        "POST",
        "/api/v1/installed-base",
        Some(&a_admin),
        Some(json!({ "product_id": pump, "site_id": south_id, "serials": ["SN-2"] })),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");
    assert!(str_of(&body, "message").contains("SN-2"), "{body}");
    let (s, body) = rest!(
        &app,
        "POST",
        "/api/v1/installed-base",
        Some(&a_admin),
        Some(json!({ "product_id": pump, "site_id": south_id, "quantity": 4 })),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    // A site id of another hospital is refused as a field.
    let (s, body) = rest!(
        &app,
        "POST",
        "/api/v1/installed-base",
        Some(&b_admin),
        Some(json!({ "product_id": pump, "site_id": north_id })),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["fields"][0]["field"], "site_id");
    // A change of serials.
    let (s, body) = rest!(
        &app,
        "PUT",
        &format!("/api/v1/installed-base/{entry_id}"),
        Some(&a_admin),
        Some(json!({ "serials": ["SN-1", "SN-2", "SN-3"], "notes": "ward 3" })),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["devices"], 3);
    let (s, _) = rest!(
        &app,
        "PUT",
        &format!("/api/v1/installed-base/{entry_id}"),
        Some(&b_admin),
        Some(json!({ "quantity": 1 })),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "another hospital's entry");

    // Remediation status: one site patched with a release, one mitigated; history kept.
    let status_uri = |site: &str| format!("/api/v1/advisories/{tracking}/remediation/{site}");
    for (status, body) in [
        ("received", json!({ "status": "received" })),
        (
            "patched",
            json!({ "status": "patched", "release": "4.3.1", "note": "<img src=x onerror=alert(1)>" }),
        ),
    ] {
        let (s, got) = rest!(
            &app,
            "PUT",
            status_uri(&north_id),
            Some(&a_admin),
            Some(body)
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{status}: {got}");
        assert_eq!(got["status"], status);
    }
    let (s, body) = rest!(
        &app,
        "PUT",
        status_uri(&south_id),
        Some(&a_admin),
        Some(json!({ "status": "not_applicable" })),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["fields"][0]["field"], "reason");
    let (s, body) = rest!(
        &app,
        "PUT",
        status_uri(&south_id),
        Some(&a_admin),
        Some(json!({ "status": "fixed-ish" })),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["fields"][0]["field"], "status");
    let (s, _) = rest!(
        &app,
        "PUT",
        status_uri(&south_id),
        Some(&a_admin),
        Some(json!({ "status": "mitigated", "note": "network segmented" })),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, now) = rest!(
        &app,
        "GET",
        format!("/api/v1/advisories/{tracking}/remediation"),
        Some(&a_reader),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(now.as_array().map(Vec::len), Some(2), "{now}");
    let (s, history) = rest!(
        &app,
        "GET",
        format!("{}/history", status_uri(&north_id)),
        Some(&a_reader),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let states: Vec<&str> = history
        .as_array()
        .expect("history")
        .iter()
        .map(|h| str_of(h, "status"))
        .collect();
    assert_eq!(states, ["received", "patched"]);
    assert_eq!(history[1]["note"], "<img src=x onerror=alert(1)>");
    assert_eq!(history[1]["release"], "4.3.1");
    // Readers do not set statuses; unknown advisories are 404.
    let (s, _) = rest!(
        &app,
        "PUT",
        status_uri(&north_id),
        Some(&a_reader),
        Some(json!({ "status": "received" })),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = rest!(
        &app,
        "PUT",
        format!("/api/v1/advisories/NO-SUCH/remediation/{north_id}"),
        Some(&a_admin),
        Some(json!({ "status": "received" })),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Isolation: hospital B sees none of A's sites, devices or statuses, and cannot touch them.
    let (_, b_sites) = rest!(&app, "GET", "/api/v1/sites", Some(&b_admin), None).await;
    assert_eq!(b_sites, json!([]));
    let (_, b_entries) = rest!(&app, "GET", "/api/v1/installed-base", Some(&b_admin), None).await;
    assert_eq!(b_entries, json!([]));
    let (_, b_statuses) = rest!(
        &app,
        "GET",
        format!("/api/v1/advisories/{tracking}/remediation"),
        Some(&b_admin),
        None,
    )
    .await;
    assert_eq!(b_statuses, json!([]));
    for (method, uri, body) in [
        (
            "PUT",
            status_uri(&north_id),
            Some(json!({ "status": "risk_accepted" })),
        ),
        ("GET", format!("{}/history", status_uri(&north_id)), None),
        (
            "PUT",
            format!("/api/v1/sites/{north_id}"),
            Some(json!({ "name": "Taken" })),
        ),
        ("DELETE", format!("/api/v1/sites/{south_id}"), None),
        ("DELETE", format!("/api/v1/installed-base/{entry_id}"), None),
    ] {
        let (s, got) = rest!(&app, method, uri, Some(&b_admin), body).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{method} {uri}: {got}");
    }
    // The manufacturer sees the customer's installed base (to confirm it), not its statuses.
    let (s, listed) = rest!(
        &app,
        "GET",
        format!("/api/v1/customers/{a_id}/installed-base"),
        Some(&maker),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(listed.as_array().map(Vec::len), Some(2));
    let (s, _) = rest!(
        &app,
        "GET",
        format!("/api/v1/advisories/{tracking}/remediation"),
        Some(&maker),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // A site with entries or history stays.
    let (s, _) = rest!(
        &app,
        "DELETE",
        format!("/api/v1/sites/{north_id}"),
        Some(&a_admin),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
}

on_both_backends!(workspace_rest);
