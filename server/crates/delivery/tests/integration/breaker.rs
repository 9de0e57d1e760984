//! The engine's per-destination circuit breaker against real databases (SQLite and PostgreSQL)
//! and a real loopback HTTP receiver that is down (503) for one destination and up for another.
//! The breaker's state is stored: a second engine on the same database (another process, or
//! this one restarted) keeps the destination paused, and its half-open probe closes it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use herald_delivery::{
    BreakerSettings, Channel, DeliveryError, DestinationConfig, Engine, EngineSettings,
    Notification, Receipt,
};
use herald_storage::testing::{
    TestDb, loopback_webhook, manufacturer, publish_sample, sample_summary,
};
use herald_storage::*;
#[allow(unused_imports)] // the whole crate, as a test sees it
use herald_storage::{
    accounts::*, advisories::*, audit::*, breaker::*, catalog::*, customers::*, delivery_log::*,
    destinations::*, drafts::*, entitlement::*, exposure::*, import_staging::*, installed_base::*,
    keys::*, lifecycle::*, metrics::*, outages::*, queue::*, releases::*, remediation::*,
    reminders::*, secrets::*, sessions::*, sites::*, subscriptions::*, system_mail::*,
    templates::*, throttle::*,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Requests per path; `/down` answers 503 while `down` is set, everything else 200.
#[derive(Default)]
struct Receiver {
    hits: Mutex<HashMap<String, usize>>,
    down: AtomicBool,
}

impl Receiver {
    fn hits(&self, path: &str) -> usize {
        self.hits
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(path)
            .copied()
            .unwrap_or(0)
    }
}

async fn serve(listener: TcpListener, state: Arc<Receiver>) {
    while let Ok((mut sock, _)) = listener.accept().await {
        let state = state.clone();
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Read the head and a content-length body; the channel sends small requests.
            let path = loop {
                let Ok(n) = sock.read(&mut chunk).await else {
                    return;
                };
                if n == 0 {
                    return;
                }
                buf.extend_from_slice(&chunk[..n]);
                let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                    continue;
                };
                let head = String::from_utf8_lossy(&buf[..end]).to_string();
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                while buf.len() < end + 4 + len {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                break head.split_whitespace().nth(1).unwrap_or("/").to_string();
            };
            *state
                .hits
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry(path.clone())
                .or_default() += 1;
            let status = if path == "/down" && state.down.load(Ordering::SeqCst) {
                "503 Service Unavailable"
            } else {
                "200 OK"
            };
            let response =
                format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = sock.write_all(response.as_bytes()).await;
            let _ = sock.shutdown().await;
        });
    }
}

/// POSTs the notification to the destination's `url`; 5xx is retryable.
struct Webhook {
    client: reqwest::Client,
}

#[async_trait::async_trait]
impl Channel for Webhook {
    async fn deliver(
        &self,
        destination: &DestinationConfig,
        n: &Notification,
    ) -> Result<Receipt, DeliveryError> {
        let url = destination.config["url"]
            .as_str()
            .ok_or_else(|| DeliveryError::Misconfigured("no url".into()))?;
        let response = self
            .client
            .post(url)
            .header("webhook-id", &n.delivery_id)
            .json(n)
            .send()
            .await
            .map_err(|e| DeliveryError::Retryable(e.to_string()))?;
        match response.status().as_u16() {
            s @ 200..=299 => Ok(Receipt {
                remote_id: None,
                detail: format!("HTTP {s}"),
            }),
            s @ 500..=599 => Err(DeliveryError::Retryable(format!("HTTP {s}"))),
            s => Err(DeliveryError::Permanent(format!("HTTP {s}"))),
        }
    }
}

fn deliveries_of(conn: &mut DbConnection, destination: &str) -> Result<Vec<Delivery>> {
    Ok(list_deliveries(
        conn,
        &DeliveryFilter {
            destination_id: Some(destination.to_string()),
            ..Default::default()
        },
    )?)
}

async fn breaker_pauses_a_failing_destination(backend: Backend) -> Result<()> {
    let test = TestDb::new(backend)?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let receiver = Arc::new(Receiver::default());
    receiver.down.store(true, Ordering::SeqCst);
    tokio::spawn(serve(listener, receiver.clone()));

    let (down, up) = {
        let mut conn = test.conn()?;
        let conn = &mut *conn;
        let org = manufacturer(conn)?;
        let mut made = Vec::new();
        for path in ["down", "up"] {
            made.push(create_destination(
                conn,
                &NewDestination {
                    org_id: &org.id,
                    plugin_id: "webhook",
                    name: path,
                    config: serde_json::json!({ "url": format!("http://127.0.0.1:{port}/{path}") }),
                    grants: serde_json::json!({ "http_hosts": [format!("127.0.0.1:{port}")] }),
                    enabled: true,
                    min_severity: None,
                },
                "test",
            )?);
        }
        for i in 0..3 {
            publish_sample(
                conn,
                &org.id,
                &sample_summary(
                    &format!("LARK-2026-30{i}"),
                    &[("1", "2026-07-01T10:00:00Z")],
                    None,
                    &[],
                ),
            )?;
        }
        (made[0].id.clone(), made[1].id.clone())
    };

    let cooldown = Duration::from_millis(1500);
    let new_engine = |worker: &str| -> Result<Engine> {
        Ok(Engine::new(
            test.db.clone(),
            Arc::new(Webhook {
                client: reqwest::Client::new(),
            }),
            EngineSettings {
                worker_id: worker.into(),
                max_attempts: 100,
                // Retries are due at once: only the breaker holds the failing destination back.
                backoff_base: Duration::from_millis(1),
                backoff_cap: Duration::from_millis(1),
                ..EngineSettings::default()
            },
        )?
        .with_breaker(BreakerSettings {
            threshold: 3,
            cooldown,
        })?)
    };
    let engine = new_engine("breaker-test")?;

    // Many rounds inside one cool-down: three failures open the breaker, then nothing more
    // goes to the failing receiver, while the healthy destination gets all three.
    let started = Instant::now();
    for _ in 0..30 {
        engine.run_once().await?;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    ensure!(
        started.elapsed() < cooldown,
        "the rounds took longer than the cool-down; the test cannot tell"
    );
    ensure!(
        receiver.hits("/down") == 3,
        "hits while open: {}",
        receiver.hits("/down")
    );
    ensure!(receiver.hits("/up") == 3);
    ensure!(engine.paused_destinations().await? == vec![down.clone()]);
    let opened = {
        let mut conn = test.conn()?;
        let b = destination_breaker(&mut conn, &down)?;
        ensure!(
            b.state == BreakerState::Open && b.consecutive_failures == 3,
            "{b:?}"
        );
        ensure!(
            destination_breaker(&mut conn, &up)?.state == BreakerState::Closed,
            "the healthy destination has no breaker"
        );
        b.opened_at
    };

    // "Restart": this engine goes away; a new one on the same database (as another process
    // would) knows the destination is paused and sends it nothing during the cool-down.
    drop(engine);
    let engine = new_engine("breaker-test-restarted")?;
    ensure!(engine.paused_destinations().await? == vec![down.clone()]);
    for _ in 0..10 {
        engine.run_once().await?;
    }
    ensure!(
        receiver.hits("/down") == 3,
        "the restarted engine sent to a paused destination: {}",
        receiver.hits("/down")
    );
    ensure!(
        started.elapsed() < cooldown,
        "the restart took longer than the cool-down; the test cannot tell"
    );
    {
        let mut conn = test.conn()?;
        let d = deliveries_of(&mut conn, &down)?;
        ensure!(d.len() == 3, "{d:?}");
        // Nothing lost, nothing dead: the head delivery is queued with its three attempts, the
        // later ones untouched.
        ensure!(
            d.iter().all(|x| x.status == DeliveryStatus::Queued),
            "{d:?}"
        );
        ensure!(
            d[0].attempts == 3 && d[1].attempts == 0 && d[2].attempts == 0,
            "{d:?}"
        );
        let u = deliveries_of(&mut conn, &up)?;
        ensure!(
            u.iter().all(|x| x.status == DeliveryStatus::Delivered),
            "{u:?}"
        );
    }

    // After the cool-down one attempt goes through (half-open); it fails and reopens at once.
    tokio::time::sleep(cooldown + Duration::from_millis(100)).await;
    for _ in 0..10 {
        engine.run_once().await?;
    }
    ensure!(
        receiver.hits("/down") == 4,
        "half-open: {}",
        receiver.hits("/down")
    );
    ensure!(engine.paused_destinations().await? == vec![down.clone()]);
    {
        let mut conn = test.conn()?;
        let b = destination_breaker(&mut conn, &down)?;
        ensure!(
            b.state == BreakerState::Open && b.consecutive_failures == 4 && b.opened_at > opened,
            "a failed probe reopens the breaker for a new cool-down: {b:?}"
        );
    }

    // The receiver recovers: after the next cool-down everything queued is delivered, in order.
    receiver.down.store(false, Ordering::SeqCst);
    tokio::time::sleep(cooldown + Duration::from_millis(100)).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        engine.run_once().await?;
        let mut conn = test.conn()?;
        let d = deliveries_of(&mut conn, &down)?;
        if d.iter().all(|x| x.status == DeliveryStatus::Delivered) {
            ensure!(
                d[0].attempts == 5 && d[1].attempts == 1 && d[2].attempts == 1,
                "{d:?}"
            );
            let times: Vec<_> = d.iter().map(|x| x.delivered_at).collect();
            ensure!(
                times.windows(2).all(|w| w[0] <= w[1]),
                "out of order: {times:?}"
            );
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "not delivered after recovery: {d:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    ensure!(engine.paused_destinations().await?.is_empty());
    ensure!(receiver.hits("/down") == 7);
    {
        let mut conn = test.conn()?;
        let b = destination_breaker(&mut conn, &down)?;
        ensure!(
            b.state == BreakerState::Closed && b.consecutive_failures == 0,
            "the successful probe closed the breaker: {b:?}"
        );
        ensure!(stored_breakers(&mut conn)?.is_empty());
    }
    Ok(())
}

/// Answers every delivery, but first stores a failure of the destination's receiver as another
/// worker would whose attempt stalled past its lease (a paused VM) and came back late: the store
/// happens during this attempt, after every read the round made.
struct LateFailureThenAnswer {
    db: Db,
}

#[async_trait::async_trait]
impl Channel for LateFailureThenAnswer {
    async fn deliver(
        &self,
        destination: &DestinationConfig,
        _: &Notification,
    ) -> Result<Receipt, DeliveryError> {
        let (db, id) = (self.db.clone(), destination.destination_id.clone());
        tokio::task::spawn_blocking(move || -> Result<DestinationBreaker> {
            let mut conn = db.get()?;
            Ok(record_breaker_failure(
                &mut conn,
                &id,
                3,
                chrono::Duration::seconds(60),
            )?)
        })
        .await
        .map_err(|e| DeliveryError::Permanent(e.to_string()))?
        .map_err(|e| DeliveryError::Permanent(format!("{e:#}")))?;
        Ok(Receipt {
            remote_id: None,
            detail: "HTTP 200".into(),
        })
    }
}

/// A failure stored by another worker while an attempt runs is reset by that attempt's answer:
/// the answer closes the breaker when the attempt is recorded, not according to what the round
/// read before it. (Closing only destinations read as failing at the start of the round left
/// such a count standing, so later failures opened the breaker early.)
async fn late_failure_is_reset_by_the_answer(backend: Backend) -> Result<()> {
    let test = TestDb::new(backend)?;
    let destination = {
        let mut conn = test.conn()?;
        let conn = &mut *conn;
        let org = manufacturer(conn)?;
        // Never contacted: the channel answers by itself.
        let destination = loopback_webhook(conn, &org.id, "stalled elsewhere", 9)?;
        publish_sample(
            conn,
            &org.id,
            &sample_summary("LARK-2026-310", &[("1", "2026-07-01T10:00:00Z")], None, &[]),
        )?;
        destination
    };
    let engine = Engine::new(
        test.db.clone(),
        Arc::new(LateFailureThenAnswer {
            db: test.db.clone(),
        }),
        EngineSettings {
            worker_id: "breaker-late".into(),
            ..EngineSettings::default()
        },
    )?;
    let report = engine.run_once().await?;
    ensure!(report.delivered == 1, "{report:?}");
    let mut conn = test.conn()?;
    let breaker = destination_breaker(&mut conn, &destination.id)?;
    ensure!(
        breaker.state == BreakerState::Closed && breaker.consecutive_failures == 0,
        "the answer left the late failure standing: {breaker:?}"
    );
    ensure!(stored_breakers(&mut conn)?.is_empty());
    Ok(())
}

on_both!(
    breaker_pauses_a_failing_destination,
    late_failure_is_reset_by_the_answer
);

#[test]
fn zero_threshold_is_refused() -> Result<()> {
    let test = TestDb::new(Backend::Sqlite)?;
    let engine = Engine::new(
        test.db.clone(),
        Arc::new(Webhook {
            client: reqwest::Client::new(),
        }),
        EngineSettings::default(),
    )?;
    ensure!(engine.breaker_settings() == BreakerSettings::default());
    ensure!(
        engine
            .with_breaker(BreakerSettings {
                threshold: 0,
                cooldown: Duration::from_secs(1)
            })
            .is_err()
    );
    Ok(())
}
