//! Signing in to the portal: the throttle (per account and per client address, exponential
//! backoff, temporary lockout), the password check and the new session, every outcome in the
//! audit log.
//!
//! Unknown and known accounts are answered alike: the throttle counts e-mail addresses, not
//! users, and an unknown address costs the same argon2 work as a wrong password. argon2 runs
//! between two short database uses, never while holding a connection, on a bounded share of the
//! blocking pool ([`ARGON2_SLOTS`]), so a flood of sign-ins queues on that share instead of
//! taking every connection and every core from the rest of Herald.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use herald_storage::{sessions::NewSession, throttle::Gate, throttle::ThrottlePolicy};
use tokio::sync::Semaphore;

use crate::error::ServiceError;
use crate::state::AppState;

/// The audit log keeps this much of a refused e-mail address (attackers send anything).
const AUDIT_SUBJECT_CHARS: usize = 64;

/// Why a sign-in was refused. The portal says the same for unknown accounts and wrong passwords.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Wrong e-mail or password (or a disabled account).
    Credentials,
    /// Too many failures: wait (backoff) or ask an admin (lockout).
    Throttled,
}

/// How many argon2 checks run at once: half the cores (at least one), so sign-ins can never
/// take every core.
pub fn argon2_slots() -> usize {
    std::thread::available_parallelism()
        .map(|n| (n.get() / 2).max(1))
        .unwrap_or(1)
}

/// The shared bound of argon2 work ([`argon2_slots`] permits).
static ARGON2_SLOTS: OnceLock<Semaphore> = OnceLock::new();

async fn password_ok(hash: Option<String>, password: String) -> Result<bool, ServiceError> {
    let slots = ARGON2_SLOTS.get_or_init(|| Semaphore::new(argon2_slots()));
    let _permit = slots.acquire().await.map_err(ServiceError::internal)?;
    tokio::task::spawn_blocking(move || {
        herald_storage::accounts::password_matches_hash(hash.as_deref(), &password)
    })
    .await
    .map_err(ServiceError::internal)
}

fn truncated(email: &str) -> String {
    email.trim().chars().take(AUDIT_SUBJECT_CHARS).collect()
}

/// Checks the credentials and opens a session (see the module docs). `address` is the client's
/// address; `at` the time the attempt is judged at.
pub async fn sign_in(
    state: &AppState,
    email: &str,
    password: &str,
    user_agent: Option<String>,
    address: Option<String>,
    at: DateTime<Utc>,
) -> Result<Result<NewSession, Refusal>, ServiceError> {
    let policy: ThrottlePolicy = state.config.accounts.throttle;
    let sessions = state.config.accounts.sessions;
    let account = herald_storage::throttle::account_key(email);
    let mut keys = vec![account.clone()];
    if let Some(a) = &address {
        keys.push(herald_storage::throttle::address_key(a));
    }
    let subject = truncated(email);
    let email = email.to_owned();
    let (gate, candidate) = {
        let keys = keys.clone();
        let subject = subject.clone();
        state
            .db(move |conn| {
                let gate = herald_storage::throttle::sign_in_gate(conn, &keys, &policy, at)?;
                if gate != Gate::Open {
                    herald_storage::audit::append_audit(
                        conn,
                        "anonymous",
                        "session.throttled",
                        &subject,
                        &serde_json::json!({ "locked": matches!(gate, Gate::Locked(_)) }),
                    )?;
                    return Ok((gate, None));
                }
                Ok((
                    gate,
                    herald_storage::accounts::sign_in_candidate(conn, &email)?,
                ))
            })
            .await?
    };
    if gate != Gate::Open {
        return Ok(Err(Refusal::Throttled));
    }
    let hash = candidate.as_ref().map(|(_, hash)| hash.clone());
    let matches = password_ok(hash, password.to_owned()).await?;
    let user = candidate
        .map(|(user, _)| user)
        .filter(|u| matches && !u.disabled);
    state
        .db(move |conn| {
            herald_storage::write_transaction_as(conn, |conn| match user {
                Some(user) => {
                    for key in &keys {
                        herald_storage::throttle::clear_failures(conn, key)?;
                    }
                    herald_storage::accounts::record_login(conn, &user.id, at)?;
                    let session = herald_storage::sessions::open_session(
                        conn,
                        &user.id,
                        &sessions,
                        user_agent.as_deref(),
                        at,
                    )?;
                    herald_storage::audit::append_audit(
                        conn,
                        &format!("user:{}", user.id),
                        "session.opened",
                        &format!("user:{}", user.id),
                        &serde_json::json!({ "session": session.session.id }),
                    )?;
                    Ok(Ok(session))
                }
                None => {
                    let mut locked = None;
                    for key in &keys {
                        let after = if key.starts_with("account:") {
                            policy.lock_account_after
                        } else {
                            policy.lock_address_after
                        };
                        if let Some(until) =
                            herald_storage::throttle::record_failure(conn, key, after, &policy, at)?
                        {
                            locked = Some((key.clone(), until));
                        }
                    }
                    herald_storage::audit::append_audit(
                        conn,
                        "anonymous",
                        "session.refused",
                        &subject,
                        &serde_json::json!({}),
                    )?;
                    if let Some((key, until)) = locked {
                        let key: String = key.chars().take(AUDIT_SUBJECT_CHARS + 8).collect();
                        herald_storage::audit::append_audit(
                            conn,
                            "system",
                            "account.locked",
                            &key,
                            &serde_json::json!({ "until": until.to_rfc3339() }),
                        )?;
                    }
                    Ok(Err(Refusal::Credentials))
                }
            })
        })
        .await
}
