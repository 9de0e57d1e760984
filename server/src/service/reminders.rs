//! The end-of-support reminder scheduler: every few minutes (and at start) the storage scan
//! ([`herald_storage::reminders::scan_end_of_support`]) queues the reminders due today at the operator's
//! lead times (`HERALD_EOS_REMINDER_DAYS`), idempotently, and the delivery engine delivers them.
//! The scan takes the day as an argument ([`scan`]), so tests drive it with their own clock.

use chrono::{NaiveDate, Utc};

use crate::error::ServiceError;
use crate::state::AppState;

/// How often the scan runs. A reminder is due for a whole day; this bounds how late in the day
/// it goes out after a restart.
pub const SCAN_INTERVAL: std::time::Duration = std::time::Duration::from_secs(600);

/// Queues the reminders due on `today`; returns how many were queued by this call.
pub async fn scan(state: &AppState, today: NaiveDate) -> Result<usize, ServiceError> {
    let leads = state.config.eos_reminder_days.clone();
    state
        .db(move |conn| {
            Ok(herald_storage::reminders::scan_end_of_support(
                conn, today, &leads,
            )?)
        })
        .await
}

/// Runs the scan until `stop` turns true.
pub async fn run(state: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(SCAN_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        match scan(&state, Utc::now().date_naive()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(queued = n, "end-of-support reminders queued"),
            // The next scan retries; nothing was half-written (one transaction per reminder).
            Err(e) => tracing::warn!(error = %e, "end-of-support reminder scan failed"),
        }
    }
}
