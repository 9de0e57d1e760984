//! The stored circuit breaker state machine (`destination_health`), on SQLite and PostgreSQL:
//! threshold, open, probe (half-open), reopen, close; and what the destination health shows.

use anyhow::{Result, ensure};
use herald_storage::testing::{TestDb, manufacturer};
use herald_storage::*;

fn breaker_opens_probes_and_closes(db: &TestDb) -> Result<()> {
    let mut conn = db.conn()?;
    let conn = &mut *conn;
    let org = manufacturer(conn)?;
    let dest = create_destination(
        conn,
        &NewDestination {
            org_id: &org.id,
            plugin_id: "webhook",
            name: "down",
            config: serde_json::json!({ "url": "https://receiver.example/hook" }),
            grants: serde_json::json!({}),
            enabled: true,
            min_severity: None,
        },
        "test",
    )?;
    let id = dest.id.clone();
    let cooldown = chrono::Duration::seconds(60);
    let fail = |conn: &mut DbConnection| {
        record_breaker_outcome(conn, &id, BreakerSignal::Failing, 3, cooldown)
    };

    ensure!(destination_breaker(conn, &id)?.state == BreakerState::Closed);
    ensure!(
        record_breaker_outcome(conn, &id, BreakerSignal::Failing, 0, cooldown).is_err(),
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
    record_breaker_outcome(conn, &id, BreakerSignal::Answered, 3, cooldown)?;
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
    let b = record_breaker_outcome(conn, &id, BreakerSignal::Answered, 3, cooldown)?;
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

herald_storage::both_backends!(breaker_opens_probes_and_closes);
