//! `GET /metrics`: delivery counts in the Prometheus text format, counted from the database on
//! each scrape, so every instance of a cluster reports the same totals.
//!
//! It needs a bearer token with the `metrics` scope (`herald token create --scope metrics`):
//! counts reveal how many hospitals are notified and how often deliveries fail, which is not
//! for everyone on the network. No other scope includes it, and it includes nothing else.

use std::fmt::Write;

use actix_web::{HttpResponse, web};
use herald_storage::{
    metrics::OutcomeStats, metrics::StatusCount, queue::AttemptOutcome, queue::DeliveryStatus,
};

use crate::error::ServiceError;
use crate::state::AppState;

const STATUSES: [DeliveryStatus; 6] = [
    DeliveryStatus::Queued,
    DeliveryStatus::InFlight,
    DeliveryStatus::Delivered,
    DeliveryStatus::Failed,
    DeliveryStatus::Dead,
    DeliveryStatus::Withheld,
];

const OUTCOMES: [AttemptOutcome; 6] = [
    AttemptOutcome::Delivered,
    AttemptOutcome::Retryable,
    AttemptOutcome::RetryAfter,
    AttemptOutcome::Permanent,
    AttemptOutcome::Misconfigured,
    AttemptOutcome::Abandoned,
];

/// Renders the exposition text. Every known status and outcome appears (0 when there is none),
/// so series do not come and go.
pub fn render(statuses: &[StatusCount], outcomes: &[OutcomeStats]) -> String {
    let mut out = String::new();
    let status_count = |s: &str| {
        statuses
            .iter()
            .find(|c| c.status == s)
            .map_or(0, |c| c.count)
    };
    let outcome = |o: &str| outcomes.iter().find(|c| c.outcome == o);
    let _ = writeln!(
        out,
        "# HELP herald_deliveries Deliveries by current status.\n# TYPE herald_deliveries gauge"
    );
    for s in STATUSES {
        let _ = writeln!(
            out,
            "herald_deliveries{{status=\"{}\"}} {}",
            s.as_str(),
            status_count(s.as_str())
        );
    }
    let _ = writeln!(
        out,
        "# HELP herald_delivery_attempts_total Delivery attempts by outcome.\n# TYPE herald_delivery_attempts_total counter"
    );
    for o in OUTCOMES {
        let _ = writeln!(
            out,
            "herald_delivery_attempts_total{{outcome=\"{}\"}} {}",
            o.as_str(),
            outcome(o.as_str()).map_or(0, |c| c.count)
        );
    }
    let _ = writeln!(
        out,
        "# HELP herald_delivery_attempt_duration_seconds Time spent in delivery attempts (the plugin call and its I/O).\n# TYPE herald_delivery_attempt_duration_seconds summary"
    );
    let total_ms: i64 = outcomes.iter().map(|c| c.duration_ms_sum).sum();
    let total: i64 = outcomes.iter().map(|c| c.count).sum();
    let _ = writeln!(
        out,
        "herald_delivery_attempt_duration_seconds_sum {}",
        total_ms as f64 / 1000.0
    );
    let _ = writeln!(
        out,
        "herald_delivery_attempt_duration_seconds_count {total}"
    );
    out
}

/// Delivery metrics in the Prometheus text format.
#[utoipa::path(get, path = "/metrics",
    responses((status = 200, content_type = "text/plain; version=0.0.4", body = String),
        (status = 401, description = "no token"), (status = 403, description = "a token without the metrics scope")),
    security(("bearer" = ["metrics"])))]
pub async fn metrics(
    state: web::Data<AppState>,
    caller: crate::web::auth::ApiCaller,
) -> Result<HttpResponse, ServiceError> {
    caller.require(herald_storage::accounts::Scope::Metrics)?;
    let (statuses, outcomes) = state
        .db(|conn| {
            Ok((
                herald_storage::metrics::delivery_status_counts(conn)?,
                herald_storage::metrics::attempt_outcome_stats(conn)?,
            ))
        })
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(render(&statuses, &outcomes)))
}
