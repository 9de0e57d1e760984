//! Notification templates through the REST API, in process, on SQLite and on PostgreSQL:
//! listing defaults and overrides, saving an override only after it compiles and renders in
//! strict mode (422 naming the template otherwise), deleting it, and who may do what.

use crate::common;

use actix_web::http::StatusCode;
use actix_web::{App, test};
use common::harness;
use herald_storage::{Backend, accounts::Scope};
use serde_json::{Value, json};

macro_rules! app {
    ($state:expr) => {
        test::init_service(App::new().configure(herald_server::web::configure($state.clone())))
            .await
    };
}

const PATH: &str = "/api/v1/templates/advisory.published/email/subject";

async fn templates_rest(backend: Backend) {
    let h = harness(backend);
    let app = app!(h.state);
    let admin = format!("Bearer {}", h.token(&[Scope::Admin]));
    let reader = format!("Bearer {}", h.token(&[Scope::Read]));
    let hospital = format!(
        "Bearer {}",
        h.hospital_token("St. Elsewhere", &[Scope::Admin])
    );

    // Defaults are listed, with the context a template can use.
    let req = test::TestRequest::get()
        .uri("/api/v1/templates")
        .insert_header(("authorization", reader.as_str()))
        .to_request();
    let list: Value = test::call_and_read_body_json(&app, req).await;
    let all = list["templates"].as_array().expect("templates");
    assert!(all.iter().any(|t| t["kind"] == "advisory.updated"
        && t["channel"] == "email"
        && t["part"] == "html"
        && t["origin"] == "default"));
    assert!(all.iter().all(|t| t["origin"] == "default"));
    assert_eq!(list["sample_context"]["tracking_id"], "EXMED-SA-2026-0042");

    // A template that does not compile: 422 naming the template and the error; nothing stored.
    let req = test::TestRequest::put()
        .uri(PATH)
        .insert_header(("authorization", admin.as_str()))
        .set_json(json!({ "body": "{{#if restricted}}unclosed" }))
        .to_request();
    let resp = test::call_service(&app, req).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = test::read_body_json(resp).await;
    let field = &body["fields"][0];
    assert_eq!(field["field"], "advisory.published/email/subject");
    assert!(
        field["message"]
            .as_str()
            .is_some_and(|m| m.contains("does not compile")),
        "{body}"
    );
    // One that renders details without checking the TLP: refused against the AMBER sample.
    let req = test::TestRequest::put()
        .uri(PATH)
        .insert_header(("authorization", admin.as_str()))
        .set_json(json!({ "body": "{{details.title}}" }))
        .to_request();
    let resp = test::call_service(&app, req).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = test::read_body_json(resp).await;
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("TLP:AMBER")),
        "{body}"
    );
    // Unknown kind and part are refused too.
    for uri in [
        "/api/v1/templates/advisory.retracted/email/subject",
        "/api/v1/templates/advisory.published/email/body",
    ] {
        let req = test::TestRequest::put()
            .uri(uri)
            .insert_header(("authorization", admin.as_str()))
            .set_json(json!({ "body": "x" }))
            .to_request();
        assert_eq!(
            test::call_service(&app, req).await.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{uri}"
        );
    }

    // Who may change templates: not a read token, not a hospital, not anonymous.
    for (auth, status) in [
        (Some(reader.as_str()), StatusCode::FORBIDDEN),
        (Some(hospital.as_str()), StatusCode::FORBIDDEN),
        (None, StatusCode::UNAUTHORIZED),
    ] {
        let mut req = test::TestRequest::put()
            .uri(PATH)
            .set_json(json!({ "body": "{{tracking_id}}" }));
        if let Some(a) = auth {
            req = req.insert_header(("authorization", a));
        }
        assert_eq!(
            test::call_service(&app, req.to_request()).await.status(),
            status
        );
    }
    let req = test::TestRequest::get()
        .uri("/api/v1/templates")
        .insert_header(("authorization", hospital.as_str()))
        .to_request();
    assert_eq!(
        test::call_service(&app, req).await.status(),
        StatusCode::FORBIDDEN
    );

    // A good override is saved and listed.
    let good = "[{{severity}}] {{tracking_id}} v{{version}}{{#unless restricted}}: {{details.title}}{{/unless}}";
    let req = test::TestRequest::put()
        .uri(PATH)
        .insert_header(("authorization", admin.as_str()))
        .set_json(json!({ "body": good }))
        .to_request();
    let resp = test::call_service(&app, req).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let saved: Value = test::read_body_json(resp).await;
    assert_eq!(saved["origin"], "override");
    assert_eq!(saved["body"], good);
    let req = test::TestRequest::get()
        .uri("/api/v1/templates")
        .insert_header(("authorization", admin.as_str()))
        .to_request();
    let list: Value = test::call_and_read_body_json(&app, req).await;
    let overrides: Vec<&Value> = list["templates"]
        .as_array()
        .expect("templates")
        .iter()
        .filter(|t| t["origin"] == "override")
        .collect();
    assert_eq!(overrides.len(), 1);
    assert_eq!(overrides[0]["body"], good);

    // Deleting restores the default; a second delete is 404.
    for status in [StatusCode::NO_CONTENT, StatusCode::NOT_FOUND] {
        let req = test::TestRequest::delete()
            .uri(PATH)
            .insert_header(("authorization", admin.as_str()))
            .to_request();
        assert_eq!(test::call_service(&app, req).await.status(), status);
    }
    let mut conn = h.test_db.conn().expect("conn");
    assert!(
        herald_storage::templates::list_template_overrides(&mut conn)
            .expect("list")
            .is_empty()
    );

    // The OpenAPI document describes the resources.
    let req = test::TestRequest::get()
        .uri("/api/v1/openapi.json")
        .to_request();
    let doc: Value = test::call_and_read_body_json(&app, req).await;
    assert!(doc["paths"]["/api/v1/templates/{kind}/{channel}/{part}"]["put"].is_object());
    assert!(doc["paths"]["/api/v1/templates"]["get"].is_object());
}

on_both_backends!(templates_rest);
