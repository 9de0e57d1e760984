//! Herald's database: one diesel schema over SQLite (the embedded default) and PostgreSQL, the
//! per-backend migrations, and the repository functions every other layer calls.
//!
//! Storage is synchronous: every function takes `&mut DbConnection`; async callers get a
//! connection from [`Db::get`] inside `tokio::task::spawn_blocking`.
//!
//! Representation choices, identical on both backends:
//! * ids are UUIDv7 text ([`new_id`]): time-ordered, generated here, no sequences to keep in sync;
//! * timestamps are `BIGINT` microseconds since the Unix epoch, UTC, always taken from Herald's
//!   clock ([`now`]). diesel's `Timestamp` is TEXT on SQLite and a native type on PostgreSQL, so
//!   comparison, ordering, precision and "now" would differ between the two; an integer compares
//!   and sorts the same everywhere, indexes well, and lease/retry arithmetic is plain addition;
//! * JSON is TEXT written and read by serde (never queried inside the database);
//! * documents are BLOB/BYTEA holding exactly the bytes received.

pub mod accounts;
pub mod advisories;
pub mod audit;
pub mod breaker;
pub mod catalog;
pub mod customers;
pub mod delivery_log;
pub mod destinations;
pub mod drafts;
pub mod entitlement;
pub mod exposure;
pub mod import_staging;
pub mod installed_base;
pub mod keys;
pub mod lifecycle;
pub mod metrics;
pub mod outages;
pub mod queue;
pub mod releases;
pub mod remediation;
pub mod reminders;
pub mod schema;
pub mod secrets;
pub mod sessions;
pub mod sites;
pub mod subscriptions;
pub mod system_mail;
pub mod templates;
#[cfg(feature = "testing")]
pub mod testing;
pub mod throttle;

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, R2D2Connection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../../migrations/postgres");

/// How long a SQLite connection waits for another writer before giving up with "database is locked".
const SQLITE_BUSY_TIMEOUT_MS: u32 = 10_000;

/// One connection to either backend. Queries written with the diesel DSL run on both.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

impl DbConnection {
    pub fn backend(&self) -> Backend {
        match self {
            DbConnection::Sqlite(_) => Backend::Sqlite,
            DbConnection::Postgres(_) => Backend::Postgres,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The change contradicts what is stored (duplicate key, stale revision, lease lost, ...).
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("not found")]
    NotFound,
    /// The input itself is wrong; the message names what.
    #[error("invalid: {0}")]
    Invalid(String),
    #[error("database error: {0}")]
    Database(diesel::result::Error),
    #[error("cannot connect to the database: {0}")]
    Connection(#[from] diesel::ConnectionError),
    #[error("connection pool: {0}")]
    Pool(#[from] r2d2::PoolError),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl From<diesel::result::Error> for StorageError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => StorageError::NotFound,
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                StorageError::Conflict(info.message().to_string())
            }
            other => StorageError::Database(other),
        }
    }
}

/// Where the database lives, parsed from a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbTarget {
    Sqlite(PathBuf),
    Postgres(String),
}

impl DbTarget {
    /// `postgres://...` / `postgresql://...`, `sqlite://path`, `sqlite:path`, or a plain file path.
    pub fn parse(url: &str) -> Result<DbTarget, StorageError> {
        let url = url.trim();
        if url.is_empty() {
            return Err(StorageError::Invalid("database url is empty".into()));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DbTarget::Postgres(url.to_string()));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        if path.is_empty() || path.contains("://") {
            return Err(StorageError::Invalid(format!(
                "database url {url:?} is neither postgres://... nor a SQLite file path"
            )));
        }
        if path == ":memory:" {
            return Err(StorageError::Invalid(
                "in-memory SQLite is not supported (each pooled connection would see its own database); use a file"
                    .into(),
            ));
        }
        Ok(DbTarget::Sqlite(PathBuf::from(path)))
    }

    pub fn backend(&self) -> Backend {
        match self {
            DbTarget::Sqlite(_) => Backend::Sqlite,
            DbTarget::Postgres(_) => Backend::Postgres,
        }
    }
}

/// r2d2 manager that opens the right variant for the URL (the derived `establish` would try
/// SQLite first, which accepts any string as a file name) and sets SQLite's pragmas.
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    target: DbTarget,
}

impl ConnectionManager {
    fn open(&self) -> Result<DbConnection, r2d2::Error> {
        match &self.target {
            DbTarget::Postgres(url) => PgConnection::establish(url)
                .map(DbConnection::Postgres)
                .map_err(r2d2::Error::ConnectionError),
            DbTarget::Sqlite(path) => {
                let path = path.to_string_lossy();
                let mut conn =
                    SqliteConnection::establish(&path).map_err(r2d2::Error::ConnectionError)?;
                // WAL: readers never block the writer; busy_timeout: writers queue instead of
                // failing; foreign keys are off by default in SQLite.
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS};
                     PRAGMA journal_mode = WAL;
                     PRAGMA foreign_keys = ON;"
                ))
                .map_err(r2d2::Error::QueryError)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

impl ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        self.open()
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

pub type Pool = r2d2::Pool<ConnectionManager>;
pub type PooledConnection = r2d2::PooledConnection<ConnectionManager>;

/// A connection pool for one database. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    backend: Backend,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend)
            .finish()
    }
}

impl Db {
    /// Opens a pool (10 connections). See [`DbTarget::parse`] for the accepted URLs; for SQLite
    /// the parent directory is created.
    pub fn connect(url: &str) -> Result<Db, StorageError> {
        Db::connect_with(url, 10)
    }

    pub fn connect_with(url: &str, max_connections: u32) -> Result<Db, StorageError> {
        let target = DbTarget::parse(url)?;
        if let DbTarget::Sqlite(path) = &target
            && let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|e| {
                StorageError::Invalid(format!(
                    "cannot create directory {} for the SQLite database: {e}",
                    parent.display()
                ))
            })?;
        }
        let backend = target.backend();
        let manager = ConnectionManager { target };
        // Open one connection first so a wrong URL fails here with the real reason instead of
        // an r2d2 timeout.
        manager.open().map_err(|e| match e {
            r2d2::Error::ConnectionError(c) => StorageError::Connection(c),
            r2d2::Error::QueryError(q) => StorageError::from(q),
        })?;
        let pool = r2d2::Pool::builder()
            .max_size(max_connections.max(1))
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(30))
            .build(manager)?;
        Ok(Db { pool, backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn get(&self) -> Result<PooledConnection, StorageError> {
        Ok(self.pool.get()?)
    }

    /// Runs the pending embedded migrations of this backend; returns the versions applied.
    pub fn migrate(&self) -> Result<Vec<String>, StorageError> {
        let mut conn = self.get()?;
        let applied = match &mut *conn {
            DbConnection::Sqlite(c) => c
                .run_pending_migrations(SQLITE_MIGRATIONS)
                .map(|v| v.iter().map(|m| m.to_string()).collect()),
            DbConnection::Postgres(c) => c
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|v| v.iter().map(|m| m.to_string()).collect()),
        };
        applied.map_err(|e| StorageError::Migration(e.to_string()))
    }
}

/// A new UUIDv7 id as text.
/// Answers when the database does (for `/healthz`).
pub fn ping(conn: &mut DbConnection) -> Result<(), StorageError> {
    use diesel::RunQueryDsl;
    diesel::sql_query("SELECT 1").execute(conn)?;
    Ok(())
}

pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Herald's clock, truncated to the microsecond so that what is stored reads back equal.
pub fn now() -> DateTime<Utc> {
    from_micros(to_micros(Utc::now()))
}

/// The stored form of a timestamp: microseconds since the Unix epoch.
pub fn to_micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// Reads a stored timestamp. Every i64 stored by Herald came from [`to_micros`]; out-of-range
/// values (only possible by editing the database by hand) clamp to the representable range.
pub fn from_micros(us: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(us).single().unwrap_or(if us < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}

/// Runs `f` in a write transaction: `BEGIN IMMEDIATE` on SQLite (takes the write lock up front,
/// so a read-then-write transaction queues behind other writers instead of failing with
/// SQLITE_BUSY), a plain transaction on PostgreSQL. Inside an open transaction it nests as a
/// savepoint.
pub fn write_transaction<T, F>(conn: &mut DbConnection, f: F) -> Result<T, StorageError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, StorageError>,
{
    let depth = match conn {
        DbConnection::Sqlite(c) => {
            AnsiTransactionManager::transaction_manager_status_mut(c).transaction_depth()?
        }
        DbConnection::Postgres(c) => {
            AnsiTransactionManager::transaction_manager_status_mut(c).transaction_depth()?
        }
    };
    if depth.is_some() {
        return conn.transaction(f);
    }
    match conn {
        DbConnection::Sqlite(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?
        }
        DbConnection::Postgres(c) => AnsiTransactionManager::begin_transaction(c)?,
    }
    match f(conn) {
        Ok(value) => {
            <DbConnection as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(e) => {
            match <DbConnection as Connection>::TransactionManager::rollback_transaction(conn) {
                Ok(()) | Err(diesel::result::Error::BrokenTransactionManager) => Err(e),
                Err(rollback) => {
                    tracing::error!(error = %rollback, "rollback failed after: {e}");
                    Err(e)
                }
            }
        }
    }
}

/// [`write_transaction`] for work that fails with the caller's own error type (the server's
/// publish errors, say): any `Err` rolls everything back and is returned as it was.
pub fn write_transaction_as<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    E: From<StorageError>,
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
{
    let mut failure: Option<E> = None;
    let result = write_transaction(conn, |conn| {
        f(conn).map_err(|e| {
            failure = Some(e);
            // Only a marker for the rollback; the caller gets `failure`.
            StorageError::Conflict("rolled back".into())
        })
    });
    result.map_err(|e| failure.unwrap_or_else(|| e.into()))
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StorageError> {
    serde_json::to_string(value)
        .map_err(|e| StorageError::Invalid(format!("cannot serialise JSON: {e}")))
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(
    what: &str,
    text: &str,
) -> Result<T, StorageError> {
    serde_json::from_str(text).map_err(|e| StorageError::Corrupt(format!("{what}: {e}")))
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
