//! End of support (issue 16): lifecycle dates over `/api/v1/products/{id}/lifecycle`, the public
//! OpenEoX record, the generated informational advisory (valid by the BSI validator when
//! ../shared is there), and the reminders: each lead time once per destination whose
//! organization runs the product (installed base or subscription), never twice after a
//! restart or with two scanners at once, rescheduled when the date changes. The clock is the
//! scan's `today` argument. Both backends.

use crate::common;

use actix_web::http::StatusCode;
use actix_web::{App, test};
use chrono::NaiveDate;
use common::{Harness, catalog_id, csaf_tool_validates, demo, harness};
use herald_storage::{
    Backend, accounts::OrgKind, accounts::Scope, installed_base::NewInstalledProduct,
    queue::DeliveryFilter,
};
use serde_json::{Value, json};

macro_rules! app {
    ($state:expr) => {
        test::init_service(App::new().configure(herald_server::web::configure($state.clone())))
            .await
    };
}

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
        let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, json, bytes)
    }};
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("day")
}

async fn lifecycle_dates_and_generated_advisory(backend: Backend) {
    let h = harness(backend);
    let app = app!(h.state);
    let token = h.token(&[Scope::Publish, Scope::Read]);
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
    let v420 = catalog_id(&h, "Meridian FlowSure 300", "4.2.0");
    let uri = format!("/api/v1/products/{v420}/lifecycle");

    // Each bad date is named; nothing is stored.
    let (status, body, _) = call!(
        app,
        put,
        uri,
        Some(&token),
        json!({"end_of_sales": "30.06.2026", "end_of_security_updates": "<script>"})
    );
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let fields: Vec<&str> = body["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    assert_eq!(fields, vec!["end_of_sales", "end_of_security_updates"]);
    let (status, _, _) = call!(app, get, uri, None, Value::Null);
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = call!(
        app,
        put,
        uri,
        Some(&token),
        json!({"compensating_controls": "x".repeat(20_001)})
    );
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // Hospitals do not set a manufacturer's dates; unknown products are not found.
    let hospital = h.hospital_token("St. Anna", &[Scope::Read, Scope::Admin]);
    let (status, _, _) = call!(
        app,
        put,
        uri,
        Some(&hospital),
        json!({"end_of_sales": "tba"})
    );
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = call!(
        app,
        put,
        "/api/v1/products/nope/lifecycle",
        Some(&token),
        json!({"end_of_sales": "tba"})
    );
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, body, _) = call!(
        app,
        put,
        uri,
        Some(&token),
        json!({
            "end_of_sales": "2026-06-30",
            "end_of_standard_support": "tba",
            "end_of_security_updates": "2027-06-30",
            "compensating_controls": "Isolate the pump VLAN.\n<script>alert(1)</script>",
        })
    );
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["published"]["event"], "advisory.published");
    let tracking_id = body["lifecycle"]["advisory_tracking_id"]
        .as_str()
        .expect("tracking id")
        .to_owned();
    assert!(tracking_id.starts_with("MERIDIAN-EOS-"), "{tracking_id}");

    // Anyone who may see the product reads its lifecycle; the OpenEoX record is public.
    let (status, body, _) = call!(app, get, uri, None, Value::Null);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["end_of_standard_support"], "tba");
    assert_eq!(body["end_of_security_updates"], "2027-06-30");
    let openeox_url = body["openeox_url"].as_str().expect("url").to_owned();
    assert_eq!(
        openeox_url,
        format!("{}/lifecycle/{v420}.json", common::BASE)
    );
    let (status, record, _) = call!(
        app,
        get,
        format!("/lifecycle/{v420}.json"),
        None,
        Value::Null
    );
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        record["$schema"],
        "https://docs.oasis-open.org/openeox/v1.0/schema/core.json"
    );
    assert_eq!(record["end_of_life"], "tba");
    assert_eq!(record["end_of_security_support"], "2027-06-30T23:59:59Z");
    assert_eq!(record["end_of_sales"], "2026-06-30T23:59:59Z");
    for bad in [
        "/lifecycle/nope.json",
        "/lifecycle/..%2Fsecret.json",
        "/lifecycle/x",
    ] {
        let (status, _, _) = call!(app, get, bad, None, Value::Null);
        assert_eq!(status, StatusCode::NOT_FOUND, "{bad}");
    }

    // The generated informational advisory: valid, about the product, not a vulnerability.
    let (status, advisory, _) = call!(
        app,
        get,
        format!("/api/v1/advisories/{tracking_id}"),
        None,
        Value::Null
    );
    assert_eq!(status, StatusCode::OK, "{advisory}");
    assert_eq!(advisory["category"], "csaf_informational_advisory");
    let path = advisory["csaf_url"]
        .as_str()
        .expect("url")
        .strip_prefix(common::BASE)
        .expect("local")
        .to_owned();
    let (status, doc, bytes) = call!(app, get, path, None, Value::Null);
    assert_eq!(status, StatusCode::OK);
    assert!(doc.get("vulnerabilities").is_none());
    let notes = serde_json::to_string(&doc["document"]["notes"]).expect("notes");
    assert!(notes.contains("not thereby affected"), "{notes}");
    assert!(
        notes.contains("2027-06-30") && notes.contains("to be announced"),
        "{notes}"
    );
    let references = serde_json::to_string(&doc["document"]["references"]).expect("refs");
    assert!(references.contains(&openeox_url), "{references}");
    csaf_tool_validates(&bytes);
    // It names the catalog product itself (not a new one), so installed bases match it.
    {
        let mut conn = h.test_db.conn().expect("conn");
        let detail = herald_storage::advisories::get_advisory(&mut conn, &tracking_id)
            .expect("advisory")
            .expect("exists");
        let ids =
            herald_storage::entitlement::advisory_product_ids(&mut conn, &detail.id).expect("ids");
        assert_eq!(ids, vec![v420.clone()]);
    }

    // Changing the dates revises the same advisory.
    let (status, body, _) = call!(
        app,
        put,
        uri,
        Some(&token),
        json!({"end_of_security_updates": "2027-12-31"})
    );
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["published"]["version"], "2");
    assert_eq!(body["published"]["tracking_id"], tracking_id.as_str());
}

/// Counts `end_of_support` deliveries per destination.
fn eos_deliveries(h: &Harness, destination: &str) -> usize {
    let mut conn = h.test_db.conn().expect("conn");
    herald_storage::queue::fan_out_pending(&mut conn, 1000).expect("fan out");
    let eos: Vec<String> = herald_storage::queue::list_events(&mut conn, None)
        .expect("events")
        .into_iter()
        .filter(|e| e.kind == "end_of_support")
        .map(|e| e.id)
        .collect();
    herald_storage::queue::list_deliveries(
        &mut conn,
        &DeliveryFilter {
            destination_id: Some(destination.to_owned()),
            ..Default::default()
        },
    )
    .expect("deliveries")
    .into_iter()
    .filter(|d| eos.contains(&d.event_id))
    .count()
}

async fn reminders_fire_once_per_destination_and_lead(backend: Backend) {
    let h = harness(backend);
    let app = app!(h.state);
    let token = h.token(&[Scope::Publish, Scope::Read]);
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
    let v420 = catalog_id(&h, "Meridian FlowSure 300", "4.2.0");
    let v431 = catalog_id(&h, "Meridian FlowSure 300", "4.3.1");
    let uri = format!("/api/v1/products/{v420}/lifecycle");
    let (status, body, _) = call!(
        app,
        put,
        uri,
        Some(&token),
        json!({"end_of_security_updates": "2027-06-30"})
    );
    assert_eq!(status, StatusCode::OK, "{body}");

    // Who runs it: A (installed base), B (subscribed to it); C reads everything but runs
    // nothing; D runs only another version.
    let (a, b, c, d) = {
        let mut conn = h.test_db.conn().expect("conn");
        let mut hospital = |name: &str, installed: Option<&str>| {
            let org =
                herald_storage::accounts::ensure_organization(&mut conn, OrgKind::Hospital, name)
                    .expect("hospital");
            if let Some(product) = installed {
                herald_storage::installed_base::add_installed_product(
                    &mut conn,
                    &org.id,
                    &NewInstalledProduct {
                        product_id: product,
                        quantity: Some(3),
                        site: None,
                        notes: None,
                    },
                    "test",
                )
                .expect("installed");
            }
            herald_storage::testing::loopback_webhook(&mut conn, &org.id, name, 9)
                .expect("destination")
                .id
        };
        let a = hospital("St. Anna", Some(&v420));
        let b = hospital("St. Brigid", None);
        let c = hospital("St. Clare", None);
        let d = hospital("St. Dymphna", Some(&v431));
        herald_storage::subscriptions::set_subscription(
            &mut conn,
            &b,
            &herald_storage::subscriptions::Subscription {
                product_ids: vec![v420.clone()],
                ..Default::default()
            },
            "test",
        )
        .expect("subscription");
        (a, b, c, d)
    };

    let scan = |today: &str| {
        let mut conn = h.test_db.conn().expect("conn");
        herald_storage::reminders::scan_end_of_support(&mut conn, day(today), &[180, 90, 30, 0])
            .expect("scan")
    };
    assert_eq!(scan("2026-12-31"), 0, "nothing due 181 days before");
    assert_eq!(scan("2027-01-01"), 1, "the 180-day reminder");
    assert_eq!(scan("2027-01-01"), 0, "a restart scans again: nothing new");
    assert_eq!(scan("2027-02-15"), 0, "the 180-day reminder was sent");
    // Two processes scanning at the same moment queue the 90-day reminder once.
    let barrier = std::sync::Barrier::new(2);
    let counts: Vec<usize> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let mut conn = h.test_db.conn().expect("conn");
                    barrier.wait();
                    herald_storage::reminders::scan_end_of_support(
                        &mut conn,
                        day("2027-04-01"),
                        &[180, 90, 30, 0],
                    )
                    .expect("scan")
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("scanner"))
            .collect()
    });
    assert_eq!(counts.iter().sum::<usize>(), 1, "{counts:?}");
    assert_eq!(eos_deliveries(&h, &a), 2);
    assert_eq!(eos_deliveries(&h, &b), 2);
    assert_eq!(eos_deliveries(&h, &c), 0, "not running the product");
    assert_eq!(eos_deliveries(&h, &d), 0, "running another version");

    // Moving the date reschedules: the 30-day reminder counts down to the new day.
    let (status, _, _) = call!(
        app,
        put,
        uri,
        Some(&token),
        json!({"end_of_security_updates": "2027-07-31"})
    );
    assert_eq!(status, StatusCode::OK);
    // 60 days before the new day: the new day's 90-day reminder (a new key) tells of the move.
    assert_eq!(scan("2027-06-01"), 1, "the reminder due for the new day");
    assert_eq!(scan("2027-06-01"), 0);
    assert_eq!(scan("2027-07-01"), 1, "30 days before the new day");
    assert_eq!(scan("2027-07-31"), 1, "on the day");
    assert_eq!(scan("2027-08-01"), 0);
    assert_eq!(eos_deliveries(&h, &a), 5);
    assert_eq!(eos_deliveries(&h, &b), 5);
    assert_eq!(eos_deliveries(&h, &c), 0);
    // One event per lead time and day, each reaching each destination once (counted above).
    let mut conn = h.test_db.conn().expect("conn");
    let events = herald_storage::queue::list_events(&mut conn, None).expect("events");
    let eos: Vec<_> = events
        .iter()
        .filter(|e| e.kind == "end_of_support")
        .collect();
    assert_eq!(eos.len(), 5);
    let leads: Vec<i64> = eos
        .iter()
        .map(|e| e.payload["lead_days"].as_i64().expect("lead"))
        .collect();
    assert_eq!(leads, vec![180, 90, 90, 30, 0]);
}

on_both_backends!(
    lifecycle_dates_and_generated_advisory,
    reminders_fire_once_per_destination_and_lead,
);
