//! Advisory authoring over `/api/v1/drafts`: a draft becomes a valid CSAF document in the feed,
//! an update becomes version 2 with two revision-history entries, a stale update is a 409, a bad
//! CVSS vector a 422 naming the field, the four-eyes rule keeps an author from approving their
//! own draft, and hospitals cannot touch drafts. Both backends.

use crate::common;

use actix_web::http::StatusCode;
use actix_web::{App, test};
use common::{BASE, Harness, harness};
use herald_storage::{
    Backend, accounts::NewApiToken, accounts::NewUser, accounts::Role, accounts::Scope,
};
use serde_json::{Value, json};

macro_rules! app {
    ($state:expr) => {
        test::init_service(App::new().configure(herald_server::web::configure($state.clone())))
            .await
    };
}

/// `(status, body)` of one request.
macro_rules! call {
    ($app:expr, $method:ident, $uri:expr, $auth:expr) => {
        call!($app, $method, $uri, $auth, Value::Null)
    };
    ($app:expr, $method:ident, $uri:expr, $auth:expr, $body:expr) => {{
        let uri: &str = &$uri;
        let mut req = test::TestRequest::$method()
            .uri(uri)
            .insert_header(("authorization", $auth.as_str()));
        if !$body.is_null() {
            req = req.set_json($body);
        }
        let resp = test::call_service(&$app, req.to_request()).await;
        let status = resp.status();
        let bytes = test::read_body(resp).await;
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, body)
    }};
}

fn draft_json(vector: &str) -> Value {
    json!({
        "title": "Nimbus pump: hard-coded service password <script>alert(1)</script>",
        "tlp": "WHITE",
        "summary": "Update the pump firmware.",
        "references": [{"url": "https://meridian-medical.example/psirt", "summary": "PSIRT"}],
        "products": [
            {"product_id": "CSAFPID-0001", "vendor": "Meridian Medical Systems", "family": "Nimbus",
             "name": "Nimbus Pump", "version": "4.2"},
            {"product_id": "CSAFPID-0002", "vendor": "Meridian Medical Systems", "family": "Nimbus",
             "name": "Nimbus Pump", "version": "4.3"}
        ],
        "vulnerabilities": [{
            "cve": "CVE-2026-20001",
            "cwe_id": "CWE-798",
            "cwe_name": "Use of Hard-coded Credentials",
            "description": "The service port accepts a fixed password.",
            "cvss_v3_vector": vector,
            "known_affected": ["CSAFPID-0001"],
            "fixed": ["CSAFPID-0002"],
            "remediations": [{"category": "vendor_fix", "details": "Update to 4.3.",
                              "url": "https://meridian-medical.example/fw", "product_ids": ["CSAFPID-0001"]}]
        }]
    })
}

const GOOD_VECTOR: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H";

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
    let token = herald_storage::accounts::create_api_token(
        &mut conn,
        &NewApiToken {
            org_id: &h.maker_id,
            user_id: Some(&user.id),
            name: email,
            scopes: &[Scope::Publish],
            expires_at: None,
        },
        "test",
    )
    .expect("token")
    .token;
    format!("Bearer {token}")
}

async fn create_publish_update_and_conflicts(backend: Backend) {
    let h = harness(backend);
    let app = app!(h.state);
    let publisher = format!("Bearer {}", h.token(&[Scope::Publish]));

    // Create: Herald assigns the tracking id.
    let (status, created) = call!(
        app,
        post,
        "/api/v1/drafts",
        publisher,
        json!({"draft": draft_json(GOOD_VECTOR)})
    );
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().expect("id").to_string();
    let tracking_id = created["tracking_id"]
        .as_str()
        .expect("tracking id")
        .to_string();
    assert!(tracking_id.starts_with("MERIDIAN-20"), "{tracking_id}");
    assert_eq!(created["state"], "draft");

    // Preview: the document it would publish, valid.
    let (status, preview) = call!(app, get, format!("/api/v1/drafts/{id}/preview"), publisher);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(preview["valid"], true, "{preview}");
    assert_eq!(preview["version"], "1");
    let cvss = &preview["document"]["vulnerabilities"][0]["scores"][0]["cvss_v3"];
    assert_eq!(cvss["baseScore"], 9.8);
    assert_eq!(cvss["baseSeverity"], "CRITICAL");

    // Publish (four-eyes off): version 1, served in the feed, valid in process.
    let (status, published) = call!(app, post, format!("/api/v1/drafts/{id}/publish"), publisher);
    assert_eq!(status, StatusCode::CREATED, "{published}");
    assert_eq!(published["published"]["version"], "1");
    assert_eq!(published["draft"]["state"], "published");
    let csaf_url = published["published"]["csaf_url"].as_str().expect("url");
    let path = csaf_url.strip_prefix(BASE).expect("base url");
    let resp = test::call_service(&app, test::TestRequest::get().uri(path).to_request()).await;
    assert_eq!(resp.status(), StatusCode::OK, "{path}");
    let bytes = test::read_body(resp).await;
    let v1 = herald_csaf::validate(&bytes).expect("served document is valid");
    assert_eq!(v1.summary.tracking_id, tracking_id);
    assert_eq!(
        v1.summary.title,
        "Nimbus pump: hard-coded service password <script>alert(1)</script>"
    );
    let index = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/.well-known/csaf/white/index.txt")
            .to_request(),
    )
    .await;
    let index = String::from_utf8(test::read_body(index).await.to_vec()).expect("utf8");
    assert!(index.contains(&tracking_id.to_ascii_lowercase()), "{index}");

    // A published draft is closed.
    let (status, _) = call!(
        app,
        put,
        format!("/api/v1/drafts/{id}"),
        publisher,
        draft_json(GOOD_VECTOR)
    );
    assert_eq!(status, StatusCode::CONFLICT);

    // Update: starts from the published document; version 2 with two revisions.
    let (status, update) = call!(
        app,
        post,
        "/api/v1/drafts",
        publisher,
        json!({"update_of": tracking_id})
    );
    assert_eq!(status, StatusCode::CREATED, "{update}");
    assert_eq!(update["base_version"], "1");
    assert_eq!(update["tracking_id"], tracking_id.as_str());
    let update_id = update["id"].as_str().expect("id").to_string();
    let mut content = update["draft"].clone();
    assert_eq!(
        content["vulnerabilities"][0]["known_affected"],
        json!(["CSAFPID-0001"])
    );
    content["vulnerabilities"][0]["known_affected"] = json!([]);
    content["vulnerabilities"][0]["fixed"] = json!(["CSAFPID-0001", "CSAFPID-0002"]);
    content["revision_summary"] = json!("Fix installed everywhere");
    let (status, _) = call!(
        app,
        put,
        format!("/api/v1/drafts/{update_id}"),
        publisher,
        content
    );
    assert_eq!(status, StatusCode::OK);
    // A second update, also started from version 1, before the first update is published.
    let (_, stale) = call!(
        app,
        post,
        "/api/v1/drafts",
        publisher,
        json!({"update_of": tracking_id})
    );
    let stale_id = stale["id"].as_str().expect("id").to_string();
    let (status, published) = call!(
        app,
        post,
        format!("/api/v1/drafts/{update_id}/publish"),
        publisher
    );
    assert_eq!(status, StatusCode::CREATED, "{published}");
    assert_eq!(published["published"]["version"], "2");
    let path = published["published"]["csaf_url"]
        .as_str()
        .expect("url")
        .strip_prefix(BASE)
        .expect("base")
        .to_string();
    let resp = test::call_service(&app, test::TestRequest::get().uri(&path).to_request()).await;
    let v2_bytes = test::read_body(resp).await;
    let v2 = herald_csaf::validate(&v2_bytes).expect("valid v2").summary;
    assert_eq!(v2.version, "2");
    assert_eq!(v2.revision_history.len(), 2);
    assert_eq!(v2.revision_history[1].summary, "Fix installed everywhere");
    assert!(v2.revision_history[1].date > v2.revision_history[0].date);
    assert_eq!(v2.initial_release_date, v1.summary.initial_release_date);

    // The BSI validator accepts both served revisions (when ../shared is there).
    csaf_tool_validates(&[&bytes, &v2_bytes]);

    // Stale base: the other update started from version 1, which is no longer current.
    let (status, body) = call!(
        app,
        post,
        format!("/api/v1/drafts/{stale_id}/publish"),
        publisher
    );
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("version 2")),
        "{body}"
    );
    let (_, still) = call!(app, get, format!("/api/v1/drafts/{stale_id}"), publisher);
    assert_eq!(still["state"], "draft");

    // Invalid CVSS vector: 422 naming the field; nothing published.
    let (_, bad) = call!(
        app,
        post,
        "/api/v1/drafts",
        publisher,
        json!({"draft": draft_json("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:Q")})
    );
    let bad_id = bad["id"].as_str().expect("id").to_string();
    let (status, body) = call!(
        app,
        post,
        format!("/api/v1/drafts/{bad_id}/publish"),
        publisher
    );
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["fields"][0]["field"], "vulnerabilities[0].cvss_v3_vector",
        "{body}"
    );
    let (_, bad_after) = call!(app, get, format!("/api/v1/drafts/{bad_id}"), publisher);
    assert_eq!(bad_after["state"], "draft");
    let (_, list) = call!(app, get, "/api/v1/advisories", publisher);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");

    // Everything is audited.
    let mut conn = h.test_db.conn().expect("conn");
    let audit = herald_storage::audit::list_audit(&mut conn, Some(&format!("draft:{id}")), 50)
        .expect("audit");
    let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    assert!(
        actions.contains(&"draft.create") && actions.contains(&"draft.publish"),
        "{actions:?}"
    );
}

async fn four_eyes_and_hospitals(backend: Backend) {
    let h = harness(backend);
    let app = app!(h.state);
    let author = user_token(&h, "author@meridian.example", Role::Publisher);
    let approver = user_token(&h, "approver@meridian.example", Role::Approver);
    let admin = user_token(&h, "admin@meridian.example", Role::Admin);

    // The rule is the admins' to switch.
    let (status, settings) = call!(app, get, "/api/v1/authoring/settings", author);
    assert_eq!(status, StatusCode::OK, "{settings}");
    assert_eq!(settings["four_eyes"], false);
    let on = json!({"four_eyes": true});
    for who in [&author, &approver] {
        let (status, body) = call!(app, put, "/api/v1/authoring/settings", who, on.clone());
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    }
    let (status, settings) = call!(app, put, "/api/v1/authoring/settings", admin, on);
    assert_eq!(status, StatusCode::OK, "{settings}");
    assert_eq!(settings["four_eyes"], true);
    let (_, settings) = call!(app, get, "/api/v1/authoring/settings", approver);
    assert_eq!(settings["four_eyes"], true);

    // A draft nobody wants is discarded, and stays so.
    let (status, unwanted) = call!(
        app,
        post,
        "/api/v1/drafts",
        author,
        json!({"draft": draft_json(GOOD_VECTOR)})
    );
    assert_eq!(status, StatusCode::CREATED, "{unwanted}");
    let unwanted = format!("/api/v1/drafts/{}", unwanted["id"].as_str().expect("id"));
    let (status, _) = call!(app, delete, unwanted, approver);
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "an approver discarded a draft"
    );
    let (status, discarded) = call!(app, delete, unwanted, author);
    assert_eq!(status, StatusCode::OK, "{discarded}");
    assert_eq!(discarded["state"], "discarded");
    let (status, body) = call!(app, put, unwanted, author, draft_json(GOOD_VECTOR));
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, created) = call!(
        app,
        post,
        "/api/v1/drafts",
        author,
        json!({"draft": draft_json(GOOD_VECTOR)})
    );
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().expect("id").to_string();

    // Not submitted yet: even the approver waits.
    let (status, _) = call!(app, post, format!("/api/v1/drafts/{id}/publish"), approver);
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, submitted) = call!(app, post, format!("/api/v1/drafts/{id}/submit"), author);
    assert_eq!(status, StatusCode::OK, "{submitted}");
    assert_eq!(submitted["state"], "submitted");

    // The author cannot approve their own draft.
    let (status, body) = call!(app, post, format!("/api/v1/drafts/{id}/publish"), author);
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("four-eyes")),
        "{body}"
    );
    // A token without a user is nobody's second pair of eyes.
    let machine = format!("Bearer {}", h.token(&[Scope::Publish]));
    let (status, _) = call!(app, post, format!("/api/v1/drafts/{id}/publish"), machine);
    assert_eq!(status, StatusCode::FORBIDDEN);

    // An approver can.
    let (status, published) = call!(app, post, format!("/api/v1/drafts/{id}/publish"), approver);
    assert_eq!(status, StatusCode::CREATED, "{published}");
    assert!(
        published["draft"]["published_by"]
            .as_str()
            .is_some_and(|a| a.starts_with("user:"))
    );
    assert_ne!(published["draft"]["published_by"], created["created_by"]);

    // Hospitals: neither read nor write, whatever their token's scopes.
    let hospital = format!(
        "Bearer {}",
        h.hospital_token(
            "St. Elsewhere",
            &[Scope::Publish, Scope::Read, Scope::Admin]
        )
    );
    let (status, _) = call!(app, get, "/api/v1/drafts", hospital);
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call!(app, get, format!("/api/v1/drafts/{id}"), hospital);
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call!(
        app,
        post,
        "/api/v1/drafts",
        hospital,
        json!({"draft": draft_json(GOOD_VECTOR)})
    );
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call!(
        app,
        put,
        format!("/api/v1/drafts/{id}"),
        hospital,
        draft_json(GOOD_VECTOR)
    );
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A manufacturer token without the publish scope: 403 too.
    let reader = format!("Bearer {}", h.token(&[Scope::Read]));
    let (status, _) = call!(app, get, "/api/v1/drafts", reader);
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The OpenAPI document describes the drafts resources.
    let (_, openapi) = call!(app, get, "/api/v1/openapi.json", reader);
    for p in [
        "/api/v1/drafts",
        "/api/v1/drafts/{id}/publish",
        "/api/v1/drafts/{id}/preview",
    ] {
        assert!(
            openapi["paths"].get(p).is_some(),
            "{p} missing from OpenAPI"
        );
    }
}

fn csaf_tool_validates(documents: &[&[u8]]) {
    let tool = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/csaf/csaf-tool");
    if !tool.exists() {
        println!("SKIPPED csaf-tool validate: {} not found", tool.display());
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let files: Vec<std::path::PathBuf> = documents
        .iter()
        .enumerate()
        .map(|(i, bytes)| {
            let path = dir.path().join(format!("authored-{i}.json"));
            std::fs::write(&path, bytes).expect("write");
            path
        })
        .collect();
    let out = std::process::Command::new(&tool)
        .arg("validate")
        .args(&files)
        .output()
        .expect("run csaf-tool");
    let report = String::from_utf8_lossy(&out.stdout);
    println!("csaf-tool validate:\n{report}");
    assert!(out.status.success(), "csaf-tool validate failed:\n{report}");
}

/// The portal's authoring pages through the `Portal` trait: a form naming catalog products is
/// saved, previewed, submitted and, with four-eyes on, refused to its author and published by an
/// approver; the product tree comes from the catalog.
async fn portal_form_publishes_with_four_eyes(backend: Backend) {
    use app::authoring::{AuthoringForm, PublishOutcome, RemRow, SubmitOutcome, VulnRow};
    use app::model::{Portal, PortalError, Viewer};
    let h = harness(backend);
    let portal = herald_server::portal::HeraldPortal::new(h.state.clone());
    let (author, approver, pump) = {
        let mut conn = h.test_db.conn().expect("conn");
        let mut user = |email: &str, role| {
            herald_storage::accounts::create_user(
                &mut conn,
                &NewUser {
                    org_id: &h.maker_id,
                    email,
                    display_name: email,
                    password: "correct horse battery",
                    role,
                },
            )
            .expect("user")
        };
        let (a, b) = (
            user("author@meridian.example", Role::Publisher),
            user("approver@meridian.example", Role::Approver),
        );
        let pump = herald_storage::catalog::create_catalog_product(
            &mut conn,
            &h.maker_id,
            &herald_storage::catalog::CatalogEntry {
                vendor: Some("Meridian Medical Systems".into()),
                family: Some("Nimbus".into()),
                name: "Nimbus Pump".into(),
                version: Some("4.2".into()),
                udi_di: Some("00812345000016".into()),
                ..Default::default()
            },
            "test",
        )
        .expect("catalog product");
        herald_storage::drafts::set_four_eyes(&mut conn, &h.maker_id, true, "test")
            .expect("four-eyes");
        (a, b, pump)
    };
    let viewer = |u: &herald_storage::accounts::User| Viewer {
        user_id: Some(u.id.clone()),
        organization_id: Some(u.org_id.clone()),
        display_name: Some(u.display_name.clone()),
        manufacturer: true,
        role: Some(u.role.as_str().to_string()),
    };
    let (author_v, approver_v) = (viewer(&author), viewer(&approver));
    let form = AuthoringForm {
        title: "Nimbus pump: <b>hard-coded</b> password".into(),
        tlp: "GREEN".into(),
        summary: "Update the firmware.".into(),
        product_ids: vec![pump.id.clone()],
        vulnerabilities: vec![VulnRow {
            cve: "CVE-2026-30001".into(),
            cwe_id: "CWE-798".into(),
            cwe_name: "Use of Hard-coded Credentials".into(),
            description: "Fixed password.".into(),
            cvss_vector: "AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H".into(),
            affected: vec![pump.id.clone()],
            remediations: vec![RemRow {
                category: "workaround".into(),
                details: "Block port 2222.".into(),
                product_ids: vec![pump.id.clone()],
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let saved = portal.save_draft(&author_v, form).await.expect("save");
    assert!(saved.errors.is_empty(), "{:?}", saved.errors);
    let page = portal.draft(&author_v, &saved.id).await.expect("page");
    assert_eq!(page.form.product_ids, vec![pump.id.clone()]);
    assert_eq!(page.form.vulnerabilities[0].affected, vec![pump.id.clone()]);
    assert_eq!(page.scores[0].as_ref().map(|s| s.score), Some(10.0));
    assert!(
        !page.can_approve,
        "the author may not approve with four-eyes on"
    );
    let preview = portal
        .preview_draft(&author_v, &saved.id)
        .await
        .expect("preview");
    assert!(
        preview.json.contains("\"product_family\""),
        "{}",
        preview.json
    );
    assert!(
        preview
            .json
            .contains("https://id.gs1.org/01/00812345000016")
    );
    assert!(
        preview.issues.iter().all(|i| i.warning),
        "{:?}",
        preview.issues
    );
    assert_eq!(
        portal
            .submit_draft(&author_v, &saved.id)
            .await
            .expect("submit"),
        SubmitOutcome::Submitted
    );
    assert_eq!(
        portal.publish_draft(&author_v, &saved.id).await,
        Err(PortalError::Forbidden)
    );
    let page = portal.draft(&approver_v, &saved.id).await.expect("page");
    assert!(page.can_approve && !page.can_edit);
    match portal
        .publish_draft(&approver_v, &saved.id)
        .await
        .expect("publish")
    {
        PublishOutcome::Published(p) => assert_eq!(p.version, "1"),
        other => panic!("not published: {other:?}"),
    }
    // A hospital user (even its admin) sees no drafts.
    let mut conn = h.test_db.conn().expect("conn");
    let hospital = herald_storage::accounts::ensure_organization(
        &mut conn,
        herald_storage::accounts::OrgKind::Hospital,
        "St. Elsewhere",
    )
    .expect("hospital");
    let nurse = herald_storage::accounts::create_user(
        &mut conn,
        &NewUser {
            org_id: &hospital.id,
            email: "nurse@elsewhere.example",
            display_name: "Nurse",
            password: "correct horse battery",
            role: Role::Admin,
        },
    )
    .expect("user");
    drop(conn);
    let mut nurse_v = viewer(&nurse);
    nurse_v.manufacturer = false;
    assert_eq!(portal.drafts(&nurse_v).await, Err(PortalError::Forbidden));
    assert_eq!(
        portal.draft(&nurse_v, &saved.id).await,
        Err(PortalError::Forbidden)
    );
}

/// An imported advisory with content the form has no place for (here a relationship) is not
/// updated through the form, which would drop it: 409 naming it, no draft.
async fn form_update_refuses_what_it_would_drop(backend: Backend) {
    let h = harness(backend);
    let app = app!(h.state);
    let publisher = user_token(&h, "author@meridian.example", Role::Publisher);
    let mut doc = common::demo_json("mms-sa-2026-002.json");
    doc["product_tree"]["relationships"] = json!([{
        "category": "installed_on",
        "product_reference": "MMS-MON-200",
        "relates_to_product_reference": "MMS-MON-210",
        "full_product_name": {"name": "Monitor 200 module in Monitor 210", "product_id": "MMS-MON-200-IN-210"}
    }]);
    let importer = format!("Bearer {}", h.token(&[Scope::Publish]));
    let (status, body) = call!(app, post, "/api/v1/advisories", importer, doc);
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = call!(
        app,
        post,
        "/api/v1/drafts",
        publisher,
        json!({"update_of": "MMS-SA-2026-002"})
    );
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("/product_tree/relationships") && message.contains("upload"),
        "{body}"
    );
    let (_, drafts) = call!(app, get, "/api/v1/drafts", publisher);
    assert_eq!(drafts, json!([]), "a draft was left behind");
}

on_both_backends!(
    create_publish_update_and_conflicts,
    four_eyes_and_hospitals,
    form_update_refuses_what_it_would_drop,
    portal_form_publishes_with_four_eyes,
);
