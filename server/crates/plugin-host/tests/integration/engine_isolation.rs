//! The delivery engine with the real Wasm host: a plugin that spins until its time limit holds
//! one slot of the engine's pool, and every other destination's notice (the real webhook plugin
//! to a loopback receiver) arrives within half its limit meanwhile. Before continuous
//! scheduling, an unrelated delivery waited for the spinning call to end.

use std::sync::Arc;
use std::time::{Duration, Instant};

use herald_delivery::{Engine, EngineSettings};
use herald_plugin_host::{HostConfig, PluginHost, Secrets, WasmChannel};
use herald_storage::testing::{TestDb, loopback_webhook, publish_sample, sample_summary};
use herald_storage::*;
#[allow(unused_imports)] // the whole crate, as a test sees it
use herald_storage::{
    accounts::*, advisories::*, audit::*, breaker::*, catalog::*, customers::*, delivery_log::*,
    destinations::*, drafts::*, entitlement::*, exposure::*, import_staging::*, installed_base::*,
    keys::*, lifecycle::*, metrics::*, outages::*, queue::*, releases::*, remediation::*,
    reminders::*, secrets::*, sessions::*, sites::*, subscriptions::*, system_mail::*,
    templates::*, throttle::*,
};

use crate::plugins::{Receiver, component};

async fn spinning_plugin_holds_only_its_slot(backend: Backend) {
    let test = tokio::task::spawn_blocking(move || TestDb::new(backend))
        .await
        .expect("join")
        .expect("database");
    let receiver = Receiver::start().await;
    let port = receiver.addr.port();
    let host = PluginHost::new(HostConfig {
        // The spinning plugin holds its instance for this long per attempt; every other delivery
        // must arrive well before it ends (about 0.3 s on an idle machine; the bound of half the
        // limit leaves room for a loaded CI machine).
        call_timeout: Duration::from_secs(6),
        max_instances: 8,
        outbound: herald_plugin_host::OutboundPolicy::loopback(),
        ..HostConfig::default()
    })
    .expect("host");
    host.load_plugin(&component("webhook")).expect("webhook");
    host.load_plugin(&component("spin")).expect("spin");
    let org = {
        let mut conn = test.conn().expect("conn");
        let org =
            ensure_organization(&mut conn, OrgKind::Manufacturer, "Larkspur Medical").expect("org");
        // The spinning destination comes first in claim order.
        create_destination(
            &mut conn,
            &NewDestination {
                org_id: &org.id,
                plugin_id: "test-spin",
                name: "a spinning plugin",
                config: serde_json::json!({}),
                grants: serde_json::json!({}),
                enabled: true,
                min_severity: None,
            },
            "test",
        )
        .expect("spin destination");
        for i in 0..20 {
            loopback_webhook(&mut conn, &org.id, &format!("hospital {i:02}"), port)
                .expect("webhook destination");
        }
        org
    };
    let engine = Engine::new(
        test.db.clone(),
        Arc::new(WasmChannel::new(Arc::new(host), Arc::new(Secrets::new()))),
        EngineSettings {
            worker_id: "isolation-test".into(),
            base_url: "https://herald.larkspur.example".into(),
            max_in_flight: 4,
            poll_interval: Duration::from_millis(20),
            ..EngineSettings::default()
        },
    )
    .expect("engine");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn({
        let engine = engine.clone();
        async move {
            engine
                .run_until(async {
                    let _ = stopped.await;
                })
                .await
        }
    });
    let published = Instant::now();
    publish_sample(
        &mut test.conn().expect("conn"),
        &org.id,
        &sample_summary("LARK-2026-301", &[("1", "2026-08-01T10:00:00Z")], None, &[]),
    )
    .expect("publish");
    let deadline = published + Duration::from_secs(10);
    while receiver.requests().len() < 20 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    let mut lateness: Vec<Duration> = receiver
        .requests()
        .iter()
        .map(|r| r.at - published)
        .collect();
    lateness.sort();
    assert_eq!(lateness.len(), 20, "not every destination was reached");
    let worst = lateness[19];
    eprintln!("timing: 20 webhook deliveries beside a spinning plugin, worst {worst:?}");
    assert!(
        worst < Duration::from_secs(3),
        "deliveries waited for the spinning plugin: {lateness:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spinning_plugin_holds_only_its_slot_sqlite() {
    spinning_plugin_holds_only_its_slot(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spinning_plugin_holds_only_its_slot_postgres() {
    spinning_plugin_holds_only_its_slot(Backend::Postgres).await;
}
