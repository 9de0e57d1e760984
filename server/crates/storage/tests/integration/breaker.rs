//! The stored circuit breaker state machine (`destination_health`), on SQLite and PostgreSQL:
//! threshold, open, probe (half-open), reopen, close; and what the destination health shows.

use anyhow::{Result, ensure};
use herald_storage::testing::{TestDb, manufacturer};
use herald_storage::*;
#[allow(unused_imports)] // the whole crate, as a test sees it
use herald_storage::{
    accounts::*, advisories::*, audit::*, breaker::*, catalog::*, customers::*, delivery_log::*,
    destinations::*, drafts::*, entitlement::*, exposure::*, import_staging::*, installed_base::*,
    keys::*, lifecycle::*, metrics::*, outages::*, queue::*, releases::*, remediation::*,
    reminders::*, secrets::*, sessions::*, sites::*, subscriptions::*, system_mail::*,
    templates::*, throttle::*,
};

/// A webhook destination of `org_id`; these tests never contact it.
fn destination(conn: &mut DbConnection, org_id: &str, name: &str) -> Result<Destination> {
    Ok(create_destination(
        conn,
        &NewDestination {
            org_id,
            plugin_id: "webhook",
            name,
            config: serde_json::json!({ "url": "https://receiver.example/hook" }),
            grants: serde_json::json!({}),
            enabled: true,
            min_severity: None,
        },
        "test",
    )?)
}

fn breaker_opens_probes_and_closes(db: &TestDb) -> Result<()> {
    let mut conn = db.conn()?;
    let conn = &mut *conn;
    let org = manufacturer(conn)?;
    let dest = destination(conn, &org.id, "down")?;
    let id = dest.id.clone();
    let cooldown = chrono::Duration::seconds(60);
    let fail = |conn: &mut DbConnection| record_breaker_failure(conn, &id, 3, cooldown);

    ensure!(destination_breaker(conn, &id)?.state == BreakerState::Closed);
    ensure!(
        record_breaker_failure(conn, &id, 0, cooldown).is_err(),
        "threshold 0 is refused"
    );
    // Two failures: still closed, but counted (and stored).
    fail(conn)?;
    let b = fail(conn)?;
    ensure!(
        b.state == BreakerState::Closed && b.consecutive_failures == 2,
        "{b:?}"
    );
    ensure!(destination_health(conn, &id)?.breaker == Some(b.clone()));
    // An answer resets the count and removes the row.
    close_breaker(conn, &id)?;
    ensure!(stored_breakers(conn)?.is_empty());
    ensure!(destination_health(conn, &id)?.breaker.is_none());

    // Three in a row open it for the cool-down.
    for _ in 0..3 {
        fail(conn)?;
    }
    let b = destination_breaker(conn, &id)?;
    let at = now();
    ensure!(b.state == BreakerState::Open, "{b:?}");
    ensure!(b.is_paused_at(at) && !b.probe_due_at(at), "{b:?}");
    let (Some(opened), Some(probe)) = (b.opened_at, b.next_probe_at) else {
        anyhow::bail!("an open breaker has its times: {b:?}");
    };
    ensure!(probe - opened == cooldown, "{b:?}");
    // Not due yet: no probe starts.
    ensure!(start_breaker_probes(conn, std::slice::from_ref(&id))? == 0);

    // After the cool-down (seen from a later clock) the probe is due; claiming it makes the
    // breaker half-open. A backdated row stands in for the wait.
    let later = probe + chrono::Duration::seconds(1);
    ensure!(b.probe_due_at(later) && !b.is_paused_at(later));
    backdate(conn, &id, cooldown)?;
    ensure!(start_breaker_probes(conn, std::slice::from_ref(&id))? == 1);
    let b = destination_breaker(conn, &id)?;
    ensure!(
        b.state == BreakerState::HalfOpen && !b.is_paused_at(now()),
        "{b:?}"
    );
    // The probe fails: open again, for a new cool-down.
    let b = fail(conn)?;
    ensure!(
        b.state == BreakerState::Open && b.consecutive_failures == 4 && b.is_paused_at(now()),
        "{b:?}"
    );
    // Next probe succeeds: closed.
    backdate(conn, &id, cooldown)?;
    ensure!(start_breaker_probes(conn, std::slice::from_ref(&id))? == 1);
    close_breaker(conn, &id)?;
    let b = destination_breaker(conn, &id)?;
    ensure!(
        b.state == BreakerState::Closed && b.consecutive_failures == 0,
        "{b:?}"
    );
    ensure!(stored_breakers(conn)?.is_empty());
    Ok(())
}

/// Moves a breaker's times back by `by`, as if its cool-down had passed.
fn backdate(conn: &mut DbConnection, id: &str, by: chrono::Duration) -> Result<()> {
    use diesel::prelude::*;
    use herald_storage::schema::destination_health as h;
    let shift = by.num_microseconds().unwrap_or(i64::MAX) + 1;
    diesel::update(h::table.find(id))
        .set((
            h::opened_at.eq(h::opened_at - shift),
            h::next_probe_at.eq(h::next_probe_at - shift),
        ))
        .execute(conn)?;
    Ok(())
}

/// Recording an attempt in which the receiver answered closes the breaker in the same
/// transaction, whatever was stored before; a failure leaves it to the engine's count; a record
/// refused for a lost lease changes nothing.
fn recorded_answer_closes_the_breaker(db: &TestDb) -> Result<()> {
    use herald_storage::testing::{publish_sample, sample_summary};
    let mut conn = db.conn()?;
    let conn = &mut *conn;
    let org = manufacturer(conn)?;
    let dest = destination(conn, &org.id, "flaky")?;
    publish_sample(
        conn,
        &org.id,
        &sample_summary("LARK-2026-320", &[("1", "2026-07-01T10:00:00Z")], None, &[]),
    )?;
    fan_out_pending(conn, 10)?;
    let cooldown = chrono::Duration::seconds(60);
    let lease = chrono::Duration::seconds(60);
    let id = dest.id.clone();
    let fail = |conn: &mut DbConnection| record_breaker_failure(conn, &id, 3, cooldown);
    let record = |conn: &mut DbConnection,
                  claimed: &ClaimedDelivery,
                  worker: &str,
                  outcome: AttemptOutcome,
                  next: NextStep| {
        record_attempt(
            conn,
            &AttemptReport {
                delivery_id: &claimed.delivery.id,
                worker,
                number: claimed.delivery.attempts,
                started_at: now(),
                duration_ms: 1,
                outcome,
                error: None,
                next,
            },
        )
    };

    fail(conn)?;
    fail(conn)?;
    let claimed = claim_due(conn, "w1", 10, lease)?;
    ensure!(claimed.len() == 1, "{claimed:?}");
    // A failure recorded: the stored count is the engine's to raise, not record_attempt's.
    record(
        conn,
        &claimed[0],
        "w1",
        AttemptOutcome::Retryable,
        NextStep::RetryAt(now()),
    )?;
    ensure!(destination_breaker(conn, &dest.id)?.consecutive_failures == 2);

    let claimed = claim_due(conn, "w1", 10, lease)?;
    ensure!(claimed.len() == 1, "{claimed:?}");
    // Another worker's late failure opens the breaker while this attempt runs.
    fail(conn)?;
    ensure!(destination_breaker(conn, &dest.id)?.state == BreakerState::Open);
    // A record under a lease this worker does not hold is refused and closes nothing.
    ensure!(matches!(
        record(
            conn,
            &claimed[0],
            "someone-else",
            AttemptOutcome::Delivered,
            NextStep::Delivered {
                receipt: serde_json::json!({ "detail": "HTTP 200" })
            },
        ),
        Err(StorageError::Conflict(_))
    ));
    ensure!(destination_breaker(conn, &dest.id)?.state == BreakerState::Open);
    // The answer, recorded by the lease holder, closes it.
    record(
        conn,
        &claimed[0],
        "w1",
        AttemptOutcome::Delivered,
        NextStep::Delivered {
            receipt: serde_json::json!({ "detail": "HTTP 200" }),
        },
    )?;
    ensure!(stored_breakers(conn)?.is_empty());
    ensure!(destination_breaker(conn, &dest.id)?.state == BreakerState::Closed);
    Ok(())
}

herald_storage::both_backends!(
    breaker_opens_probes_and_closes,
    recorded_answer_closes_the_breaker
);
