//! Sign-in sessions (idle timeout, absolute lifetime, renewal on use, ending one or all, purge)
//! and sign-in throttling (backoff, lockout, clearing), with the clock passed in, on SQLite and
//! on PostgreSQL.

use anyhow::{Context, Result, ensure};
use chrono::{Duration, TimeZone, Utc};
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

fn person(conn: &mut DbConnection, org: &Organization, email: &str) -> Result<User> {
    Ok(create_user(
        conn,
        &NewUser {
            org_id: &org.id,
            email,
            display_name: email,
            password: "correct horse battery staple",
            role: Role::Viewer,
        },
    )?)
}

fn sessions_time_out(db: &TestDb) -> Result<()> {
    let mut conn = db.conn()?;
    let conn = &mut *conn;
    let org = manufacturer(conn)?;
    let user = person(conn, &org, "ada@larkspur.example")?;
    let policy = SessionPolicy::default();
    let t0 = Utc
        .with_ymd_and_hms(2026, 12, 8, 8, 0, 0)
        .single()
        .context("time")?;
    let s = open_session(conn, &user.id, &policy, Some("Firefox\u{7}<b>"), t0)?;
    ensure!(
        s.session.user_agent.as_deref() == Some("Firefox<b>"),
        "control characters dropped"
    );

    // Used every 20 minutes it lives on (each use renews the idle timeout)...
    let mut at = t0;
    for _ in 0..35 {
        at += Duration::minutes(20);
        ensure!(
            resume_session(conn, &s.token, &policy, at)?.is_some(),
            "alive at {at}"
        );
    }
    // ... until its lifetime is over (11 h 40 min in, last used 20 minutes ago).
    ensure!(resume_session(conn, &s.token, &policy, t0 + Duration::hours(12))?.is_none());

    // Left alone for the idle timeout: ended.
    let idle = open_session(conn, &user.id, &policy, None, t0)?;
    ensure!(resume_session(conn, &idle.token, &policy, t0 + Duration::minutes(29))?.is_some());
    ensure!(
        resume_session(conn, &idle.token, &policy, t0 + Duration::minutes(29 + 31))?.is_none(),
        "31 minutes idle"
    );
    // A shorter operator setting applies to sessions already open.
    let short = SessionPolicy {
        idle: Duration::minutes(5),
        ..policy
    };
    let fresh = open_session(conn, &user.id, &policy, None, t0)?;
    ensure!(resume_session(conn, &fresh.token, &short, t0 + Duration::minutes(6))?.is_none());

    // The list shows the live ones; purge deletes the others.
    let live = list_sessions(conn, &user.id, &policy, t0 + Duration::minutes(10))?;
    ensure!(live.len() == 3, "{live:?}");
    let purged = purge_sessions(conn, &policy, t0 + Duration::hours(13))?;
    ensure!(purged == 3, "purged {purged}");
    Ok(())
}

fn sessions_end(db: &TestDb) -> Result<()> {
    let mut conn = db.conn()?;
    let conn = &mut *conn;
    let org = manufacturer(conn)?;
    let ada = person(conn, &org, "ada@larkspur.example")?;
    let bob = person(conn, &org, "bob@larkspur.example")?;
    let policy = SessionPolicy::default();
    let now = Utc::now();
    let a1 = open_session(conn, &ada.id, &policy, None, now)?;
    let a2 = open_session(conn, &ada.id, &policy, None, now)?;
    let b1 = open_session(conn, &bob.id, &policy, None, now)?;
    ensure!(
        !end_session(conn, &ada.id, &b1.session.id)?,
        "another user's session is not ada's to end"
    );
    ensure!(resume_session(conn, &b1.token, &policy, now)?.is_some());
    ensure!(end_session(conn, &ada.id, &a1.session.id)?);
    ensure!(resume_session(conn, &a1.token, &policy, now)?.is_none());
    ensure!(resume_session(conn, &a2.token, &policy, now)?.is_some());
    let open = open_session(conn, &ada.id, &policy, None, now)?;
    ensure!(end_all_sessions(conn, &ada.id)? == 2);
    ensure!(resume_session(conn, &open.token, &policy, now)?.is_none());
    ensure!(
        resume_session(conn, &b1.token, &policy, now)?.is_some(),
        "bob's stays"
    );
    Ok(())
}

fn throttle(db: &TestDb) -> Result<()> {
    let mut conn = db.conn()?;
    let conn = &mut *conn;
    let policy = ThrottlePolicy::default();
    let t0 = Utc
        .with_ymd_and_hms(2026, 12, 8, 8, 0, 0)
        .single()
        .context("time")?;
    let account = account_key("Ada@Larkspur.example");
    let address = address_key("192.0.2.7");
    let keys = vec![account.clone(), address.clone()];
    ensure!(sign_in_gate(conn, &keys, &policy, t0)? == Gate::Open);
    // Three failures are answered at once; from the fourth, the wait doubles.
    let mut at = t0;
    for _ in 0..3 {
        record_failure(conn, &account, policy.lock_account_after, &policy, at)?;
        ensure!(sign_in_gate(conn, &keys, &policy, at)? == Gate::Open);
    }
    record_failure(conn, &account, policy.lock_account_after, &policy, at)?;
    ensure!(sign_in_gate(conn, &keys, &policy, at)? == Gate::Wait(at + Duration::seconds(1)));
    at += Duration::seconds(1);
    ensure!(sign_in_gate(conn, &keys, &policy, at)? == Gate::Open);
    let mut locked = None;
    for _ in 4..policy.lock_account_after {
        at += Duration::minutes(10);
        locked = record_failure(conn, &account, policy.lock_account_after, &policy, at)?;
    }
    let until = locked.context("the tenth failure locks")?;
    ensure!(until == at + policy.lock_for);
    ensure!(is_locked(conn, &account, at)?);
    ensure!(matches!(
        sign_in_gate(conn, &keys, &policy, at + Duration::minutes(29))?,
        Gate::Locked(_)
    ));
    // A further failure while locked keeps the lockout where it was.
    ensure!(record_failure(conn, &account, policy.lock_account_after, &policy, at)?.is_none());
    // The address was not counted here, and other accounts are not affected.
    ensure!(sign_in_gate(conn, std::slice::from_ref(&address), &policy, at)? == Gate::Open);
    ensure!(sign_in_gate(conn, &[account_key("bob@larkspur.example")], &policy, at)? == Gate::Open);
    // The lockout runs out; an admin may lift it before.
    ensure!(sign_in_gate(conn, &keys, &policy, until)? != Gate::Locked(until));
    ensure!(clear_failures(conn, &account)?);
    ensure!(sign_in_gate(conn, &keys, &policy, at)? == Gate::Open);
    ensure!(!is_locked(conn, &account, at)?);
    Ok(())
}

herald_storage::both_backends!(sessions_time_out, sessions_end, throttle);
