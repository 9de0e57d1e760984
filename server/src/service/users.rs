//! An organization's admins acting on its people: lifting a sign-in lockout. Only the admins of
//! the person's own organization; anyone else's user is not found.

use chrono::{DateTime, Utc};
use herald_storage::DbConnection;

use crate::error::ServiceError;
use crate::service::Principal;

/// Lifts the sign-in lockout (and forgets the failures) of a user of the caller's organization.
/// True when the user was locked out at `at`.
pub fn unlock(
    conn: &mut DbConnection,
    p: &Principal,
    user_id: &str,
    at: DateTime<Utc>,
) -> Result<bool, ServiceError> {
    p.require_admin()?;
    let user = herald_storage::accounts::find_user(conn, user_id)?
        .filter(|u| u.org_id == p.org_id)
        .ok_or(ServiceError::NotFound)?;
    herald_storage::write_transaction_as(conn, |conn| {
        let key = herald_storage::throttle::account_key(&user.email);
        let was_locked = herald_storage::throttle::is_locked(conn, &key, at)?;
        herald_storage::throttle::clear_failures(conn, &key)?;
        herald_storage::audit::append_audit(
            conn,
            &p.actor(),
            "account.unlocked",
            &format!("user:{}", user.id),
            &serde_json::json!({ "was_locked": was_locked }),
        )?;
        Ok(was_locked)
    })
}
