//! Sign-in throttling: failed sign-ins counted per key (an account's e-mail address, a client
//! address), with exponential backoff after a few failures and a temporary lockout after many.
//! Keys are counted whether or not an account exists, so an unknown address is answered exactly
//! like a known one. A successful sign-in clears its keys; an admin may lift a lockout
//! ([`clear_failures`]). Time is passed in.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;

use crate::schema::sign_in_throttle;
use crate::{DbConnection, StorageError, from_micros, to_micros, write_transaction};

/// How failures slow sign-in down (the operator's `[accounts]` settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures answered at once before backoff starts.
    pub free_failures: i32,
    /// The wait after the first failure past the free ones; doubled for each further one.
    pub base_delay: Duration,
    /// The longest wait between attempts.
    pub max_delay: Duration,
    /// Failures of one account that lock it.
    pub lock_account_after: i32,
    /// Failures from one client address that lock it (higher: a hospital's people may share one
    /// address behind its NAT).
    pub lock_address_after: i32,
    /// How long a lockout lasts unless an admin lifts it.
    pub lock_for: Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            free_failures: 3,
            base_delay: Duration::seconds(1),
            max_delay: Duration::minutes(5),
            lock_account_after: 10,
            lock_address_after: 50,
            lock_for: Duration::minutes(30),
        }
    }
}

/// Whether an attempt may be checked now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    Open,
    /// Backoff: not before this time.
    Wait(DateTime<Utc>),
    /// Locked out until this time (or until an admin lifts it).
    Locked(DateTime<Utc>),
}

/// The key of an account (its e-mail address, lower case; at most 320 characters).
pub fn account_key(email: &str) -> String {
    let email: String = email.trim().to_lowercase().chars().take(320).collect();
    format!("account:{email}")
}

/// The key of a client address.
pub fn address_key(address: &str) -> String {
    let address: String = address.chars().take(64).collect();
    format!("address:{address}")
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = sign_in_throttle)]
struct ThrottleRow {
    key: String,
    failures: i32,
    last_failure_at: i64,
    locked_until: Option<i64>,
}

fn delay(policy: &ThrottlePolicy, failures: i32) -> Duration {
    let over = failures - policy.free_failures;
    if over <= 0 {
        return Duration::zero();
    }
    let factor = 1i32 << (over - 1).min(20);
    (policy.base_delay * factor).min(policy.max_delay)
}

/// The gate of one key at `at`.
fn gate_of(row: &ThrottleRow, policy: &ThrottlePolicy, at: DateTime<Utc>) -> Gate {
    if let Some(until) = row.locked_until.map(from_micros)
        && until > at
    {
        return Gate::Locked(until);
    }
    let next = from_micros(row.last_failure_at) + delay(policy, row.failures);
    if next > at {
        Gate::Wait(next)
    } else {
        Gate::Open
    }
}

/// The strictest gate of `keys` at `at`: a lockout before a wait before open.
pub fn sign_in_gate(
    conn: &mut DbConnection,
    keys: &[String],
    policy: &ThrottlePolicy,
    at: DateTime<Utc>,
) -> Result<Gate, StorageError> {
    let rows: Vec<ThrottleRow> = sign_in_throttle::table
        .filter(sign_in_throttle::key.eq_any(keys))
        .select(ThrottleRow::as_select())
        .load(conn)?;
    let mut gate = Gate::Open;
    for row in &rows {
        gate = match (gate, gate_of(row, policy, at)) {
            (Gate::Locked(a), Gate::Locked(b)) => Gate::Locked(a.max(b)),
            (Gate::Locked(a), _) | (_, Gate::Locked(a)) => Gate::Locked(a),
            (Gate::Wait(a), Gate::Wait(b)) => Gate::Wait(a.max(b)),
            (Gate::Wait(a), Gate::Open) | (Gate::Open, Gate::Wait(a)) => Gate::Wait(a),
            (Gate::Open, Gate::Open) => Gate::Open,
        };
    }
    Ok(gate)
}

/// Counts a failure of `key` at `at`; locks it once it reaches `lock_after` failures. Returns
/// the lockout's end when this failure locked it.
pub fn record_failure(
    conn: &mut DbConnection,
    key: &str,
    lock_after: i32,
    policy: &ThrottlePolicy,
    at: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, StorageError> {
    write_transaction(conn, |conn| {
        let row: Option<ThrottleRow> = sign_in_throttle::table
            .find(key)
            .select(ThrottleRow::as_select())
            .first(conn)
            .optional()?;
        // A lockout that has run out starts the count again.
        let expired = row
            .as_ref()
            .and_then(|r| r.locked_until)
            .is_some_and(|until| from_micros(until) <= at);
        let failures = match &row {
            Some(r) if !expired => r.failures + 1,
            _ => 1,
        };
        let already_locked = row
            .as_ref()
            .and_then(|r| r.locked_until)
            .filter(|until| from_micros(*until) > at);
        let locked_until = match already_locked {
            Some(until) => Some(until),
            None if failures >= lock_after => Some(to_micros(at + policy.lock_for)),
            None => None,
        };
        let new = ThrottleRow {
            key: key.to_owned(),
            failures,
            last_failure_at: to_micros(at),
            locked_until,
        };
        if row.is_some() {
            diesel::update(sign_in_throttle::table.find(key))
                .set((
                    sign_in_throttle::failures.eq(new.failures),
                    sign_in_throttle::last_failure_at.eq(new.last_failure_at),
                    sign_in_throttle::locked_until.eq(new.locked_until),
                ))
                .execute(conn)?;
        } else {
            diesel::insert_into(sign_in_throttle::table)
                .values(&new)
                .execute(conn)?;
        }
        Ok((already_locked.is_none())
            .then_some(locked_until)
            .flatten()
            .map(from_micros))
    })
}

/// Forgets the failures of `key` (a successful sign-in; an admin lifting a lockout). True when
/// there were any.
pub fn clear_failures(conn: &mut DbConnection, key: &str) -> Result<bool, StorageError> {
    Ok(diesel::delete(sign_in_throttle::table.find(key)).execute(conn)? > 0)
}

/// Whether `key` is locked out at `at`.
pub fn is_locked(
    conn: &mut DbConnection,
    key: &str,
    at: DateTime<Utc>,
) -> Result<bool, StorageError> {
    let until: Option<Option<i64>> = sign_in_throttle::table
        .find(key)
        .select(sign_in_throttle::locked_until)
        .first(conn)
        .optional()?;
    Ok(until.flatten().is_some_and(|u| from_micros(u) > at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = ThrottlePolicy::default();
        assert_eq!(delay(&p, 3), Duration::zero());
        assert_eq!(delay(&p, 4), Duration::seconds(1));
        assert_eq!(delay(&p, 5), Duration::seconds(2));
        assert_eq!(delay(&p, 8), Duration::seconds(16));
        assert_eq!(delay(&p, 40), Duration::minutes(5));
    }
}
