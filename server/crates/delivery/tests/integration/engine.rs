//! The engine against real databases (SQLite and PostgreSQL, fresh each) and a real loopback
//! HTTP receiver, through a small native webhook channel built on reqwest (see [`crate::rig`]).

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use herald_storage::testing::{publish_sample, sample_summary};
use herald_storage::*;
#[allow(unused_imports)] // the whole crate, as a test sees it
use herald_storage::{
    accounts::*, advisories::*, audit::*, breaker::*, catalog::*, customers::*, delivery_log::*,
    destinations::*, drafts::*, entitlement::*, exposure::*, import_staging::*, installed_base::*,
    keys::*, lifecycle::*, metrics::*, outages::*, queue::*, releases::*, remediation::*,
    reminders::*, secrets::*, sessions::*, sites::*, subscriptions::*, system_mail::*,
    templates::*, throttle::*,
};

use crate::rig::{D1, D2, rig};

async fn retries_then_delivers(backend: Backend) -> Result<()> {
    let rig = rig(backend).await?;
    let ok = r#"{"id":"rcpt-1"}"#.to_string();
    let flaky = rig.destination(
        "/flaky",
        vec![(503, None, String::new()), (200, None, ok.clone())],
    )?;
    let engine = rig.engine(8)?;
    let v1 = sample_summary(
        "LARK-2026-101",
        &[("1", D1)],
        Some(("critical", 9.1)),
        &["CVE-2026-4101"],
    );
    publish_sample(&mut *rig.test.conn()?, &rig.org_id, &v1)?;

    let r = engine.run_once().await?;
    ensure!(
        r.events_fanned_out == 1 && r.claimed == 1 && r.retry_scheduled == 1,
        "first round: {r:?}"
    );
    let d = rig.deliveries(&flaky)?;
    ensure!(
        d.len() == 1 && d[0].status == DeliveryStatus::Queued && d[0].attempts == 1,
        "{d:?}"
    );
    let wait = d[0].next_attempt_at - now();
    ensure!(
        wait > chrono::Duration::milliseconds(40) && wait <= chrono::Duration::milliseconds(100),
        "backoff {wait:?} outside [75ms, 100ms] minus elapsed"
    );
    // Not due yet: nothing happens.
    ensure!(engine.run_once().await?.claimed == 0);
    tokio::time::sleep(Duration::from_millis(150)).await;
    let r = engine.run_once().await?;
    ensure!(r.delivered == 1, "second round: {r:?}");

    let d = &rig.deliveries(&flaky)?[0];
    ensure!(d.status == DeliveryStatus::Delivered && d.attempts == 2);
    ensure!(d.receipt == Some(serde_json::json!({ "remote_id": "rcpt-1", "detail": "HTTP 200" })));
    let attempts = list_attempts(&mut *rig.test.conn()?, &d.id)?;
    ensure!(
        attempts
            .iter()
            .map(|a| (a.number, a.outcome, a.error.clone()))
            .collect::<Vec<_>>()
            == [
                (1, AttemptOutcome::Retryable, Some("HTTP 503".to_string())),
                (2, AttemptOutcome::Delivered, None)
            ],
        "{attempts:?}"
    );
    ensure!(attempts.iter().all(|a| a.worker == "engine-test"));

    let seen = rig.seen("/flaky");
    ensure!(seen.len() == 2);
    ensure!(
        seen.iter().all(|s| s.webhook_id == d.id),
        "idempotency key changed between retries"
    );
    let body = &seen[1].body;
    ensure!(body["attempt"] == 2 && seen[0].body["attempt"] == 1);
    ensure!(
        body["event_kind"] == EVENT_ADVISORY_PUBLISHED && body["tracking_id"] == "LARK-2026-101"
    );
    ensure!(body["portal_url"] == "https://herald.larkspur.example/advisories/LARK-2026-101");
    ensure!(
        body["csaf_url"]
            == "https://herald.larkspur.example/.well-known/csaf/white/2026/lark-2026-101.json"
    );
    ensure!(body["cves"] == serde_json::json!(["CVE-2026-4101"]) && body["severity"] == "critical");
    ensure!(body["products"][0]["udi_di"] == "00812345000017" && body["tlp"] == "WHITE");
    ensure!(body["current_release_date"] == "2026-05-04T08:00:00Z");
    ensure!(body["previous_receipt"].is_null());
    // The destination's own signed one-click unsubscribe URL, the same on every attempt.
    let key = SecretKey::from_bytes([7; 32]);
    let dest_id = d.destination_id.as_str();
    ensure!(
        body["unsubscribe_url"]
            == format!(
                "https://herald.larkspur.example/unsubscribe/{dest_id}/{}",
                key.unsubscribe_token(dest_id)
            )
            && seen[0].body["unsubscribe_url"] == body["unsubscribe_url"],
        "{}",
        body["unsubscribe_url"]
    );
    ensure!(key.verify_unsubscribe_token(dest_id, &key.unsubscribe_token(dest_id)));
    ensure!(!key.verify_unsubscribe_token("another-destination", &key.unsubscribe_token(dest_id)));
    ensure!(
        !SecretKey::from_bytes([8; 32])
            .verify_unsubscribe_token(dest_id, &key.unsubscribe_token(dest_id))
    );
    ensure!(!key.verify_unsubscribe_token(dest_id, "not hex"));

    // An update of the same advisory carries the first delivery's receipt.
    let v2 = sample_summary(
        "LARK-2026-101",
        &[("1", D1), ("2", D2)],
        Some(("critical", 9.1)),
        &["CVE-2026-4101"],
    );
    publish_sample(&mut *rig.test.conn()?, &rig.org_id, &v2)?;
    let r = engine.run_once().await?;
    ensure!(r.delivered == 1, "update round: {r:?}");
    let seen = rig.seen("/flaky");
    ensure!(
        seen.len() == 3
            && seen[2].body["event_kind"] == EVENT_ADVISORY_UPDATED
            && seen[2].body["version"] == "2"
    );
    ensure!(
        seen[2].body["previous_receipt"]
            == serde_json::json!({ "remote_id": "rcpt-1", "detail": "HTTP 200" })
    );
    ensure!(seen[2].webhook_id != d.id);
    Ok(())
}

async fn failures_and_dead_letters(backend: Backend) -> Result<()> {
    let rig = rig(backend).await?;
    let down = rig.destination("/down", vec![(500, None, String::new())])?;
    let rejects = rig.destination("/rejects", vec![(400, None, String::new())])?;
    let busy = rig.destination(
        "/busy",
        vec![(429, Some(("retry-after", "120")), String::new())],
    )?;
    let engine = rig.engine(2)?;
    publish_sample(
        &mut *rig.test.conn()?,
        &rig.org_id,
        &sample_summary("LARK-2026-102", &[("1", D1)], None, &[]),
    )?;

    let r = engine.run_once().await?;
    ensure!(
        r.claimed == 3 && r.failed == 1 && r.retry_scheduled == 2,
        "{r:?}"
    );
    let rej = &rig.deliveries(&rejects)?[0];
    ensure!(rej.status == DeliveryStatus::Failed && rej.last_error.as_deref() == Some("HTTP 400"));
    let b = &rig.deliveries(&busy)?[0];
    let wait = b.next_attempt_at - now();
    ensure!(
        wait > chrono::Duration::seconds(110) && wait <= chrono::Duration::seconds(120),
        "retry-after ignored: {wait:?}"
    );

    tokio::time::sleep(Duration::from_millis(250)).await;
    let r = engine.run_once().await?;
    ensure!(r.claimed == 1 && r.dead == 1, "budget of 2 attempts: {r:?}");
    let dd = &rig.deliveries(&down)?[0];
    ensure!(dd.status == DeliveryStatus::Dead && dd.attempts == 2);
    ensure!(
        rig.seen("/down").len() == 2
            && rig.seen("/rejects").len() == 1
            && rig.seen("/busy").len() == 1
    );

    // Replay: the receiver recovered; the delivery goes out with a fresh budget.
    rig.receiver
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .scripts
        .insert("/down".into(), vec![(200, None, r#"{"id":"late"}"#.into())]);
    replay_delivery(&mut *rig.test.conn()?, &dd.id, "user:ops")?;
    let r = engine.run_once().await?;
    ensure!(r.delivered == 1, "{r:?}");
    let attempts = list_attempts(&mut *rig.test.conn()?, &dd.id)?;
    ensure!(attempts.len() == 3 && attempts[2].outcome == AttemptOutcome::Delivered);
    ensure!(
        rig.seen("/down")[2].body["attempt"] == 1,
        "attempt count restarts after replay"
    );
    Ok(())
}

async fn run_until_stops(backend: Backend) -> Result<()> {
    let rig = rig(backend).await?;
    let dest = rig.destination("/ok", vec![(200, None, r#"{"id":"x"}"#.into())])?;
    let engine = rig.engine(8)?;
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
    publish_sample(
        &mut *rig.test.conn()?,
        &rig.org_id,
        &sample_summary("LARK-2026-103", &[("1", D1)], None, &[]),
    )?;
    let mut delivered = false;
    for _ in 0..200 {
        if rig
            .deliveries(&dest)?
            .first()
            .is_some_and(|d| d.status == DeliveryStatus::Delivered)
        {
            delivered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    ensure!(delivered, "run_until did not deliver within 4 s");
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .context("run_until did not stop")??;
    Ok(())
}

/// The notification carries the templates rendered for the destination's channel, with the
/// manufacturer's stored overrides; a changed override is picked up on the next round.
async fn renders_templates_with_overrides(backend: Backend) -> Result<()> {
    let rig = rig(backend).await?;
    let dest = rig.destination("/tpl", vec![(200, None, r#"{"id":"t"}"#.into())])?;
    let engine = rig.engine(8)?;
    put_template_override(
        &mut *rig.test.conn()?,
        EVENT_ADVISORY_PUBLISHED,
        "native-webhook",
        "subject",
        "Custom {{tracking_id}} v{{version}}",
        "test",
    )?;
    let v1 = sample_summary(
        "LARK-2026-104",
        &[("1", D1)],
        Some(("high", 7.5)),
        &["CVE-2026-4104"],
    );
    publish_sample(&mut *rig.test.conn()?, &rig.org_id, &v1)?;
    ensure!(engine.run_once().await?.delivered == 1);
    let seen = rig.seen("/tpl");
    let rendered = &seen[0].body["rendered"];
    ensure!(
        rendered["subject"] == "Custom LARK-2026-104 v1",
        "{rendered}"
    );
    // The other parts come from the `default` channel's compiled-in templates.
    let text = rendered["text"].as_str().unwrap_or_default();
    ensure!(
        text.contains("CVE-2026-4104") && text.contains("https://herald.larkspur.example/"),
        "{text}"
    );

    put_template_override(
        &mut *rig.test.conn()?,
        EVENT_ADVISORY_UPDATED,
        "default",
        "subject",
        "Changed {{tracking_id}} v{{version}}",
        "test",
    )?;
    let v2 = sample_summary(
        "LARK-2026-104",
        &[("1", D1), ("2", D2)],
        Some(("high", 7.5)),
        &["CVE-2026-4104"],
    );
    publish_sample(&mut *rig.test.conn()?, &rig.org_id, &v2)?;
    ensure!(engine.run_once().await?.delivered == 1);
    let seen = rig.seen("/tpl");
    ensure!(seen.len() == 2, "{seen:?}");
    ensure!(
        seen[1].body["rendered"]["subject"] == "Changed LARK-2026-104 v2",
        "{}",
        seen[1].body
    );
    ensure!(rig.deliveries(&dest)?.len() == 2);
    Ok(())
}

on_both!(
    retries_then_delivers,
    failures_and_dead_letters,
    run_until_stops,
    renders_templates_with_overrides
);
