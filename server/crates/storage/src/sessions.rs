//! Portal sign-in sessions. The browser holds a random token (the session cookie); only its
//! sha256 is stored. A session ends at the first of: its absolute lifetime after sign-in, the
//! idle timeout after its last use (each use renews it), sign-out (this one, or every session of
//! the user), and the user being disabled. Both limits are the operator's
//! ([`SessionPolicy`]) and judged when the session is used, so a shorter setting applies to
//! sessions already open. Time is passed in, so tests move it without waiting.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;

use crate::accounts::{UserRow, random_secret};
use crate::schema::{sessions, users};
use crate::{
    DbConnection, StorageError, accounts::User, from_micros, new_id, now, sha256_hex, to_micros,
};

/// How long sessions last (the operator's `[accounts]` settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A session not used for this long ends.
    pub idle: Duration,
    /// A session ends this long after sign-in, however much it is used.
    pub lifetime: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle: Duration::minutes(30),
            lifetime: Duration::hours(12),
        }
    }
}

/// Use is recorded at most this often, so a page with many calls writes once.
const TOUCH_EVERY: Duration = Duration::seconds(30);
/// The browser description kept for the session list.
const MAX_USER_AGENT: usize = 200;

#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: String,
    pub user_id: String,
    pub created_at: DateTime<Utc>,
    /// The absolute end (sign-in plus the lifetime).
    pub expires_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    /// The browser's `User-Agent` at sign-in (shortened), for telling sessions apart.
    pub user_agent: Option<String>,
}

impl Session {
    /// When the session ends if it is not used again.
    pub fn ends_at(&self, policy: &SessionPolicy) -> DateTime<Utc> {
        self.expires_at.min(self.last_seen_at + policy.idle)
    }
}

/// A new session; `token` goes to the browser (cookie) and is not stored anywhere.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token: String,
    pub session: Session,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions)]
struct SessionRow {
    id: String,
    token_hash: String,
    user_id: String,
    created_at: i64,
    expires_at: i64,
    last_seen_at: i64,
    user_agent: Option<String>,
}

impl SessionRow {
    fn into_model(self) -> Session {
        Session {
            id: self.id,
            user_id: self.user_id,
            created_at: from_micros(self.created_at),
            expires_at: from_micros(self.expires_at),
            last_seen_at: from_micros(self.last_seen_at),
            user_agent: self.user_agent,
        }
    }
}

/// Opens a session for `user_id` at `at`, lasting at most `policy.lifetime`.
pub fn open_session(
    conn: &mut DbConnection,
    user_id: &str,
    policy: &SessionPolicy,
    user_agent: Option<&str>,
    at: DateTime<Utc>,
) -> Result<NewSession, StorageError> {
    if policy.lifetime <= Duration::zero() || policy.idle <= Duration::zero() {
        return Err(StorageError::Invalid(
            "session lifetime and idle timeout must be positive".into(),
        ));
    }
    let token = random_secret();
    let row = SessionRow {
        id: new_id(),
        token_hash: sha256_hex(token.as_bytes()),
        user_id: user_id.to_string(),
        created_at: to_micros(at),
        expires_at: to_micros(at + policy.lifetime),
        last_seen_at: to_micros(at),
        user_agent: user_agent.map(|ua| {
            ua.chars()
                .filter(|c| !c.is_control())
                .take(MAX_USER_AGENT)
                .collect()
        }),
    };
    diesel::insert_into(sessions::table)
        .values(&row)
        .execute(conn)
        .map_err(|e| match e {
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::ForeignKeyViolation,
                _,
            ) => StorageError::Invalid(format!("user {user_id} does not exist")),
            other => other.into(),
        })?;
    Ok(NewSession {
        token,
        session: row.into_model(),
    })
}

/// A session lasting `ttl` (idle as long), from now: for tests and tools.
pub fn create_session(
    conn: &mut DbConnection,
    user_id: &str,
    ttl: Duration,
) -> Result<NewSession, StorageError> {
    let policy = SessionPolicy {
        idle: ttl,
        lifetime: ttl,
    };
    open_session(conn, user_id, &policy, None, now())
}

/// The session behind `token` and its user, if it is live at `at` under `policy` and the user is
/// enabled; its use is recorded (which renews the idle timeout).
pub fn resume_session(
    conn: &mut DbConnection,
    token: &str,
    policy: &SessionPolicy,
    at: DateTime<Utc>,
) -> Result<Option<(Session, User)>, StorageError> {
    let found: Option<(SessionRow, UserRow)> = sessions::table
        .inner_join(users::table)
        .filter(sessions::token_hash.eq(sha256_hex(token.as_bytes())))
        .filter(sessions::expires_at.gt(to_micros(at)))
        .filter(sessions::last_seen_at.gt(to_micros(at - policy.idle)))
        .filter(users::disabled.eq(false))
        .select((SessionRow::as_select(), UserRow::as_select()))
        .first(conn)
        .optional()?;
    let Some((row, user)) = found else {
        return Ok(None);
    };
    let mut session = row.into_model();
    if at - session.last_seen_at >= TOUCH_EVERY {
        diesel::update(sessions::table.find(&session.id))
            .set(sessions::last_seen_at.eq(to_micros(at)))
            .execute(conn)?;
        session.last_seen_at = at;
    }
    Ok(Some((session, user.into_model()?)))
}

/// [`resume_session`] now, under the default policy.
pub fn lookup_session(
    conn: &mut DbConnection,
    token: &str,
) -> Result<Option<(Session, User)>, StorageError> {
    resume_session(conn, token, &SessionPolicy::default(), now())
}

/// The live sessions of a user, most recently used first.
pub fn list_sessions(
    conn: &mut DbConnection,
    user_id: &str,
    policy: &SessionPolicy,
    at: DateTime<Utc>,
) -> Result<Vec<Session>, StorageError> {
    let rows: Vec<SessionRow> = sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::expires_at.gt(to_micros(at)))
        .filter(sessions::last_seen_at.gt(to_micros(at - policy.idle)))
        .order((sessions::last_seen_at.desc(), sessions::id))
        .select(SessionRow::as_select())
        .load(conn)?;
    Ok(rows.into_iter().map(SessionRow::into_model).collect())
}

/// The id of the session behind `token`, live or not.
pub fn session_id_of(conn: &mut DbConnection, token: &str) -> Result<Option<String>, StorageError> {
    Ok(sessions::table
        .filter(sessions::token_hash.eq(sha256_hex(token.as_bytes())))
        .select(sessions::id)
        .first(conn)
        .optional()?)
}

/// Logs out; true when the token named a session.
pub fn delete_session(conn: &mut DbConnection, token: &str) -> Result<bool, StorageError> {
    let n = diesel::delete(
        sessions::table.filter(sessions::token_hash.eq(sha256_hex(token.as_bytes()))),
    )
    .execute(conn)?;
    Ok(n > 0)
}

/// Ends one session of a user (the session list's "sign out"); false when the user has no
/// session with that id (another user's session is not theirs to end).
pub fn end_session(
    conn: &mut DbConnection,
    user_id: &str,
    session_id: &str,
) -> Result<bool, StorageError> {
    let n = diesel::delete(
        sessions::table
            .filter(sessions::id.eq(session_id))
            .filter(sessions::user_id.eq(user_id)),
    )
    .execute(conn)?;
    Ok(n > 0)
}

/// Ends every session of a user ("sign out everywhere", a disabled account); how many.
pub fn end_all_sessions(conn: &mut DbConnection, user_id: &str) -> Result<usize, StorageError> {
    Ok(diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(conn)?)
}

/// Deletes the sessions that have ended at `at` under `policy`; how many.
pub fn purge_sessions(
    conn: &mut DbConnection,
    policy: &SessionPolicy,
    at: DateTime<Utc>,
) -> Result<usize, StorageError> {
    Ok(diesel::delete(
        sessions::table.filter(
            sessions::expires_at
                .le(to_micros(at))
                .or(sessions::last_seen_at.le(to_micros(at - policy.idle))),
        ),
    )
    .execute(conn)?)
}

/// [`purge_sessions`] now, under the default policy.
pub fn delete_expired_sessions(conn: &mut DbConnection) -> Result<usize, StorageError> {
    purge_sessions(conn, &SessionPolicy::default(), now())
}
