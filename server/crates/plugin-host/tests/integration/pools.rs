//! Send-tests and deliveries draw from separate shares of plugin instances: a burst of
//! "Send test" presses against a slow receiver waits among itself while deliveries go on, and a
//! delivery beyond its share waits for an instance instead of failing to instantiate.

use crate::plugins::{Receiver, notification, read_request, secrets, webhook_destination};
use herald_plugin_host::{HostConfig, HttpLimits, OutboundPolicy, PluginHost};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

/// A loopback receiver that answers every request after `delay`.
async fn slow_receiver(delay: Duration) -> (u16, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let task = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                if read_request(&mut socket).await.is_none() {
                    return;
                }
                tokio::time::sleep(delay).await;
                let _ = socket
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (port, task)
}

fn host(deliveries: u32, tests: u32) -> Arc<PluginHost> {
    let host = PluginHost::new(HostConfig {
        call_timeout: Duration::from_secs(10),
        max_instances: deliveries,
        test_instances: tests,
        http: HttpLimits {
            request_timeout: Duration::from_secs(8),
            ..HttpLimits::default()
        },
        outbound: OutboundPolicy::loopback(),
        ..HostConfig::default()
    })
    .expect("host");
    host.load_plugin(&crate::peers::component("webhook"))
        .expect("webhook loads");
    Arc::new(host)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_tests_against_a_slow_receiver_do_not_starve_deliveries() {
    let (slow_port, slow) = slow_receiver(Duration::from_millis(500)).await;
    let fast = Receiver::start().await;
    let host = host(2, 4);
    let mut slow_dest = webhook_destination(&fast);
    slow_dest.config["url"] = serde_json::json!(format!("http://127.0.0.1:{slow_port}/hook"));
    slow_dest.grants.http_hosts = vec![format!("127.0.0.1:{slow_port}")];

    // 32 presses of "Send test" at once, each taking 0.5 s at the receiver.
    let started = Instant::now();
    let tests: Vec<_> = (0..32)
        .map(|_| {
            let (host, dest) = (host.clone(), slow_dest.clone());
            tokio::spawn(async move { host.test(&dest, &secrets()).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A delivery to another hospital goes through at once.
    let delivery = Instant::now();
    host.deliver(
        &webhook_destination(&fast),
        &notification("d-1"),
        &secrets(),
    )
    .await
    .expect("delivered while the test pool is busy");
    let took = delivery.elapsed();
    assert!(took < Duration::from_secs(1), "delivery waited {took:?}");
    assert_eq!(fast.requests().len(), 1);

    // The tests waited for their own instances, four at a time, and all succeeded.
    for test in tests {
        test.await.expect("task").expect("send test succeeded");
    }
    assert!(
        started.elapsed() >= Duration::from_secs(4),
        "32 tests of 0.5 s through 4 instances: {:?}",
        started.elapsed()
    );
    slow.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_beyond_its_share_waits_for_an_instance() {
    let (port, slow) = slow_receiver(Duration::from_millis(400)).await;
    let fast = Receiver::start().await;
    let host = host(1, 1);
    let mut dest = webhook_destination(&fast);
    dest.config["url"] = serde_json::json!(format!("http://127.0.0.1:{port}/hook"));
    dest.grants.http_hosts = vec![format!("127.0.0.1:{port}")];
    let started = Instant::now();
    let deliveries: Vec<_> = (0..3)
        .map(|i| {
            let (host, dest) = (host.clone(), dest.clone());
            tokio::spawn(async move {
                host.deliver(&dest, &notification(&format!("w-{i}")), &secrets())
                    .await
            })
        })
        .collect();
    for delivery in deliveries {
        delivery
            .await
            .expect("task")
            .expect("waited for an instance, then delivered");
    }
    assert!(
        started.elapsed() >= Duration::from_millis(1200),
        "one at a time: {:?}",
        started.elapsed()
    );
    slow.abort();
}
