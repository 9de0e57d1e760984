//! A person's own sign-in sessions: list them, end one, end them all ("sign out everywhere").
//! Only a signed-in person (not a token) has sessions, and each sees and ends only their own.
//! Every ending is in the audit log.

use chrono::{DateTime, Utc};
use herald_storage::{DbConnection, sessions::Session, sessions::SessionPolicy};

use crate::error::ServiceError;
use crate::service::Principal;

fn person(p: &Principal) -> Result<&str, ServiceError> {
    match &p.credential {
        crate::service::Credential::Session { user_id } => Ok(user_id),
        crate::service::Credential::Token { .. } => Err(ServiceError::Forbidden),
    }
}

/// The caller's live sessions, each with whether it is the one behind `current_cookie`.
pub fn list_own(
    conn: &mut DbConnection,
    p: &Principal,
    policy: &SessionPolicy,
    current_cookie: &str,
    at: DateTime<Utc>,
) -> Result<Vec<(Session, bool)>, ServiceError> {
    let user = person(p)?;
    let current = herald_storage::sessions::session_id_of(conn, current_cookie)?;
    Ok(
        herald_storage::sessions::list_sessions(conn, user, policy, at)?
            .into_iter()
            .map(|s| {
                let this = current.as_deref() == Some(s.id.as_str());
                (s, this)
            })
            .collect(),
    )
}

/// Ends one of the caller's sessions; another person's session id is not found (404).
pub fn end_own(
    conn: &mut DbConnection,
    p: &Principal,
    session_id: &str,
) -> Result<(), ServiceError> {
    let user = person(p)?;
    herald_storage::write_transaction_as(conn, |conn| {
        if !herald_storage::sessions::end_session(conn, user, session_id)? {
            return Err(ServiceError::NotFound);
        }
        herald_storage::audit::append_audit(
            conn,
            &p.actor(),
            "session.ended",
            &format!("user:{user}"),
            &serde_json::json!({ "session": session_id }),
        )?;
        Ok(())
    })
}

/// Ends every session of the caller; how many there were.
pub fn end_all_own(conn: &mut DbConnection, p: &Principal) -> Result<usize, ServiceError> {
    let user = person(p)?;
    herald_storage::write_transaction_as(conn, |conn| {
        let ended = herald_storage::sessions::end_all_sessions(conn, user)?;
        herald_storage::audit::append_audit(
            conn,
            &p.actor(),
            "session.ended_everywhere",
            &format!("user:{user}"),
            &serde_json::json!({ "sessions": ended }),
        )?;
        Ok(ended)
    })
}

/// How often ended sessions are deleted.
pub const PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

/// Deletes ended sessions every [`PURGE_EVERY`] until `stop` turns true (a failure is logged and
/// tried again next time).
pub async fn purge_until_stopped(
    db: herald_storage::Db,
    policy: SessionPolicy,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let db = db.clone();
        let purged = tokio::task::spawn_blocking(move || {
            let mut conn = db.get()?;
            Ok::<_, anyhow::Error>(herald_storage::sessions::purge_sessions(
                &mut conn,
                &policy,
                Utc::now(),
            )?)
        })
        .await;
        match purged {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(sessions = n, "ended sessions deleted"),
            Ok(Err(e)) => tracing::warn!(error = %format!("{e:#}"), "cannot delete ended sessions"),
            Err(e) => tracing::warn!(error = %e, "session purge task failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(PURGE_EVERY) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
    }
}
