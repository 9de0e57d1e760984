//! Counts for the `/metrics` endpoint, computed from the queue tables on request (so every
//! instance reports the same numbers and nothing is kept in memory).

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::{DbConnection, StorageError};

#[derive(Debug, Clone, PartialEq, QueryableByName)]
pub struct StatusCount {
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = BigInt)]
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, QueryableByName)]
pub struct OutcomeStats {
    #[diesel(sql_type = Text)]
    pub outcome: String,
    #[diesel(sql_type = BigInt)]
    pub count: i64,
    /// Sum of the attempts' durations (the plugin call and its I/O), in milliseconds.
    #[diesel(sql_type = BigInt)]
    pub duration_ms_sum: i64,
}

/// Deliveries per status (statuses without deliveries are absent).
pub fn delivery_status_counts(conn: &mut DbConnection) -> Result<Vec<StatusCount>, StorageError> {
    // CAST: COUNT is BIGINT on PostgreSQL but the portable way to say so is explicit.
    Ok(diesel::sql_query(
        "SELECT status, CAST(COUNT(*) AS BIGINT) AS count FROM deliveries GROUP BY status ORDER BY status",
    )
    .load(conn)?)
}

/// Attempts per outcome with their summed duration.
pub fn attempt_outcome_stats(conn: &mut DbConnection) -> Result<Vec<OutcomeStats>, StorageError> {
    // SUM over BIGINT is NUMERIC on PostgreSQL; the cast keeps one result type on both backends.
    Ok(diesel::sql_query(
        "SELECT outcome, CAST(COUNT(*) AS BIGINT) AS count, \
                CAST(COALESCE(SUM(duration_ms), 0) AS BIGINT) AS duration_ms_sum \
         FROM delivery_attempts GROUP BY outcome ORDER BY outcome",
    )
    .load(conn)?)
}
