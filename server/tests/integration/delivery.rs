//! The thin path through every layer, on SQLite and on PostgreSQL: publishing an advisory writes
//! its outbox event, the engine fans it out to a webhook destination, and the real webhook Wasm
//! component (built by scripts/build-wasm) POSTs the notification to a loopback receiver.

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use common::{demo, harness};
use herald_storage::Backend;

/// What the receiver got: the `webhook-id` header and the JSON body of each request.
type Request = (Option<String>, serde_json::Value);

#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<Request>>>);

async fn receive(req: HttpRequest, body: web::Bytes, got: web::Data<Received>) -> HttpResponse {
    let id = req
        .headers()
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    got.0.lock().expect("lock").push((id, json));
    HttpResponse::Ok().body("accepted")
}

fn plugin_dir() -> std::path::PathBuf {
    let dir = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/plugins"));
    assert!(
        dir.join("webhook.wasm").exists(),
        "{} has no webhook.wasm: run scripts/build-wasm plugins first",
        dir.display()
    );
    dir
}

async fn publish_posts_to_webhook(backend: Backend) {
    let received = Received::default();
    let data = web::Data::new(received.clone());
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

    let h = harness(backend);
    let host = herald_plugin_host::PluginHost::new(herald_plugin_host::HostConfig {
        // The receivers are on loopback: the operator lets plugins reach it.
        outbound: herald_plugin_host::OutboundPolicy::loopback(),
        ..herald_plugin_host::HostConfig::default()
    })
    .expect("plugin host");
    host.load_plugin(&plugin_dir().join("webhook.wasm"))
        .expect("webhook plugin loads");
    let host = Arc::new(host);

    let published = {
        let mut conn = h.test_db.conn().expect("conn");
        herald_storage::testing::loopback_webhook(
            &mut conn,
            &h.maker_id,
            "integration engine",
            port,
        )
        .expect("destination");
        herald_server::publish::publish_document(
            &mut conn,
            &h.state.config,
            &demo("mms-sa-2026-001.json"),
            &h.maker_id,
            "test",
        )
        .expect("publish")
    };

    let channel = Arc::new(herald_plugin_host::WasmChannel::new(
        host,
        Arc::new(herald_plugin_host::Secrets::new()),
    ));
    let engine = herald_delivery::Engine::new(
        h.state.db.clone(),
        channel,
        herald_delivery::EngineSettings {
            base_url: common::BASE.to_owned(),
            ..Default::default()
        },
    )
    .expect("engine");
    let mut delivered = 0;
    for _ in 0..50 {
        let report = engine.run_once().await.expect("engine round");
        delivered += report.delivered;
        if delivered > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if delivered != 1 {
        let mut conn = h.test_db.conn().expect("conn");
        let all = herald_storage::queue::list_deliveries(
            &mut conn,
            &herald_storage::queue::DeliveryFilter::default(),
        )
        .expect("deliveries");
        let attempts: Vec<_> = all
            .iter()
            .map(|d| herald_storage::queue::list_attempts(&mut conn, &d.id).expect("attempts"))
            .collect();
        panic!("the notification was not delivered: {all:?} {attempts:?}");
    }

    let got = received.0.lock().expect("lock").clone();
    assert_eq!(got.len(), 1, "{got:?}");
    let (webhook_id, body) = &got[0];
    assert_eq!(body["type"], "advisory.published");
    assert_eq!(body["data"]["tracking_id"], "MMS-SA-2026-001");
    assert_eq!(body["data"]["csaf_url"], published.csaf_url);
    let deliveries = {
        let mut conn = h.test_db.conn().expect("conn");
        herald_storage::queue::list_deliveries(
            &mut conn,
            &herald_storage::queue::DeliveryFilter::default(),
        )
        .expect("deliveries")
    };
    assert_eq!(deliveries.len(), 1);
    assert_eq!(webhook_id.as_deref(), Some(deliveries[0].id.as_str()));
    handle.stop(true).await;
}

on_both_backends!(publish_posts_to_webhook);
