//! The engine loop: fan out outbox events, claim due deliveries, build each [`Notification`],
//! call the [`Channel`], and record the attempt with the engine's retry decision. Storage is
//! synchronous, so every database call runs in `spawn_blocking`.
//!
//! Scheduling is continuous ([`Engine::run_until`]): a bounded pool of attempts in flight
//! (`max_in_flight`) claims new work as soon as slots free, so a receiver that takes its time,
//! or a plugin that spins until its budget is spent, holds only its own slot; every other
//! destination's notices keep moving. A destination has at most one delivery in flight (the
//! claim only offers the oldest open delivery of each destination, which keeps its order).
//! [`Engine::run_once`] is one claim-and-wait round, for tests and tools.
//!
//! Leases follow the work: a claimed delivery's lease is short (default 10 s) and a heartbeat
//! renews the leases of the calls still running, so after a crash (kill -9) a restarted process,
//! or another one on the same PostgreSQL, resumes the abandoned deliveries within about a lease,
//! while a live call of any length never loses its own.
//!
//! A destination that keeps failing reaches a person: once its failure episode is older than
//! `escalate_after` (default 24 h), the engine queues Herald's own mail to the destination's
//! organization's admins and the manufacturer's PSIRT, once per episode
//! (`herald_storage::outages`). Nothing is dropped meanwhile; the queue waits.
//!
//! A per-destination circuit breaker ([`BreakerSettings`]) stops claiming a destination's
//! deliveries for a cool-down after repeated retryable failures, so that a receiver that is down
//! does not burn the retry budget of the deliveries queued behind the failing one. Its state is
//! stored (`herald_storage::breaker`), so every engine on the database and a restarted one agree.

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::SecondsFormat;
use herald_storage::{
    Backend, Db, DbConnection, StorageError, advisories::tlp_str, breaker::DestinationBreaker,
    breaker::record_breaker_failure, breaker::start_breaker_probes, breaker::stored_breakers,
    outages::Escalation, outages::EscalationPolicy, outages::escalate_due, queue::AttemptOutcome,
    queue::AttemptReport, queue::ClaimedDelivery, queue::FanOutReport, queue::NextStep,
    queue::claim_due_except, queue::fan_out_pending, queue::record_attempt, queue::renew_leases,
};
use rand::Rng;

use crate::templates::Renderer;
use crate::{
    Channel, DeliveryError, DestinationConfig, Grants, Notification, NotifiedProduct, Receipt,
};

#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Unique per running engine (host name + process id, say); recorded with every attempt.
    pub worker_id: String,
    /// Public base URL of the portal, e.g. `https://herald.example.com` (no trailing slash needed).
    pub base_url: String,
    /// Deliveries claimed per [`Engine::run_once`] round; also the fan-out batch.
    pub batch: i64,
    /// Attempts in flight at once in [`Engine::run_until`] (the pool). A slow destination holds
    /// one slot; the others keep claiming. Keep it within the plugin host's delivery instances.
    pub max_in_flight: usize,
    /// Pause between rounds that found nothing to do.
    pub poll_interval: Duration,
    /// Attempts before a delivery is dead (counted since its last replay).
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt up to `backoff_cap`, then jittered down by up to
    /// a quarter so that retries of many deliveries spread out. Defaults (30 s, 10 min, 8
    /// attempts) spread the retries of one delivery over roughly 30 minutes.
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// Longest `RetryAfter` honoured; a receiver asking for more gets this.
    pub retry_after_cap: Duration,
    /// How long a claim is held without renewal: after a crash, how long the crashed worker's
    /// deliveries wait before another worker (or the restarted process) takes them over.
    pub lease: Duration,
    /// How often the leases of calls still running are renewed; well below `lease` (at most
    /// half of it), so that a renewal that waits for its database turn still comes in time.
    pub heartbeat: Duration,
    /// A channel call taking longer than this counts as a retryable failure.
    pub attempt_timeout: Duration,
    /// A destination failing for this long (every attempt since then not delivered) is
    /// escalated to people, once per episode.
    pub escalate_after: Duration,
    /// How often [`Engine::run_until`] looks for failure episodes to escalate.
    pub escalation_check: Duration,
    /// The manufacturer's PSIRT address (`mailto:` or plain), told of every escalation.
    pub psirt_contact: Option<String>,
    /// Signs each destination's one-click unsubscribe URL (`Notification::unsubscribe_url`);
    /// without it notifications carry none.
    pub unsubscribe_key: Option<herald_storage::secrets::SecretKey>,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            worker_id: format!("herald-{}", std::process::id()),
            base_url: "http://127.0.0.1:3000".into(),
            // 32 concurrent calls keep a busy queue moving (each call waits mostly on the
            // receiver) and match the plugin host's default delivery instances
            // (`HostConfig::max_instances`; a call beyond them waits for one).
            batch: 32,
            max_in_flight: 32,
            poll_interval: Duration::from_millis(500),
            max_attempts: 8,
            backoff_base: Duration::from_secs(30),
            backoff_cap: Duration::from_secs(600),
            retry_after_cap: Duration::from_secs(3600),
            // The lease is how long a crashed worker's deliveries wait before another worker
            // takes them over, so it is short; the heartbeat keeps a live call's lease however
            // long the call (the attempt timeout covers the plugin host's longest call: 30 s
            // SMTP/TCP timeouts plus the call budget).
            lease: Duration::from_secs(10),
            heartbeat: Duration::from_secs(3),
            attempt_timeout: Duration::from_secs(45),
            escalate_after: Duration::from_secs(24 * 3600),
            escalation_check: Duration::from_secs(60),
            psirt_contact: None,
            unsubscribe_key: None,
        }
    }
}

/// The per-destination circuit breaker: after `threshold` consecutive retryable failures
/// (retryable, retry-after, attempt timeout) to one destination, the engine claims none of that
/// destination's deliveries for `cooldown`; then one attempt is let through (half-open): success
/// closes the breaker, another failure opens it for a further `cooldown`. A delivered or
/// permanently refused attempt (the receiver answered) resets the count.
///
/// The state lives in the database (`destination_health`): every engine on it pauses the same
/// destinations, and a restarted one keeps a destination found down paused for the rest of its
/// cool-down. Paused deliveries stay `queued`, keep their retry budget and their order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Consecutive retryable failures that open the breaker; at least 1.
    pub threshold: u32,
    /// How long an open breaker keeps the destination paused.
    pub cooldown: Duration,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        BreakerSettings {
            threshold: 5,
            cooldown: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("storage task failed: {0}")]
    Task(String),
    #[error("invalid engine settings: {0}")]
    Settings(String),
}

/// How long a freed slot waits for others before the engine claims for it (see
/// [`Engine::run_until`]).
const CLAIM_GATHER: Duration = Duration::from_millis(10);

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunReport {
    pub events_fanned_out: usize,
    pub deliveries_created: usize,
    pub claimed: usize,
    pub delivered: usize,
    pub retry_scheduled: usize,
    pub failed: usize,
    pub dead: usize,
    /// Attempts whose result could not be recorded because the lease was lost.
    pub lease_lost: usize,
}

/// The delivery engine. Cheap to clone; clones share the channel and settings.
#[derive(Clone)]
pub struct Engine {
    db: Db,
    channel: Arc<dyn Channel>,
    settings: Arc<EngineSettings>,
    breaker: BreakerSettings,
    /// Compiled templates, rebuilt only when the stored overrides change (checked each round).
    templates: Arc<Mutex<Arc<Renderer>>>,
    /// On SQLite, the engine's database calls take turns here. They would queue for SQLite's
    /// single write lock anyway, but a waiter there is SQLite's busy handler, which sleeps 1, 2,
    /// 5, 10 ms... between tries, so the lock sat idle while a round's attempts slept (measured:
    /// 6,500 such sleeps of about 1 ms for 10,000 deliveries). Here the next call starts as soon
    /// as the last one ends. `None` on PostgreSQL, where row locks let calls run side by side.
    turns: Option<Arc<tokio::sync::Mutex<()>>>,
    /// Deliveries whose attempt this engine is running now: what the heartbeat renews.
    running: Arc<Mutex<HashSet<String>>>,
    /// When the templates were last compared with the stored overrides.
    templates_checked: Arc<Mutex<Option<Instant>>>,
}

/// Aborts the heartbeat task when the run that started it ends (or is dropped).
struct Heartbeat(tokio::task::JoinHandle<()>);

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Removes a delivery from the heartbeat's set when its attempt ends, however it ends.
struct Running {
    set: Arc<Mutex<HashSet<String>>>,
    id: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.id);
    }
}

enum Decided {
    Delivered,
    Retry,
    Failed,
    Dead,
    LeaseLost,
}

impl Engine {
    pub fn new(
        db: Db,
        channel: Arc<dyn Channel>,
        settings: EngineSettings,
    ) -> Result<Engine, EngineError> {
        if settings.worker_id.trim().is_empty() {
            return Err(EngineError::Settings("worker_id is empty".into()));
        }
        if settings.max_attempts == 0 || settings.batch < 1 || settings.max_in_flight == 0 {
            return Err(EngineError::Settings(
                "max_attempts, batch and max_in_flight must be at least 1".into(),
            ));
        }
        if settings.heartbeat.is_zero() || settings.heartbeat.saturating_mul(2) > settings.lease {
            return Err(EngineError::Settings(format!(
                "heartbeat ({:?}) must be positive and at most half the lease ({:?})",
                settings.heartbeat, settings.lease
            )));
        }
        if settings.escalate_after.is_zero() || settings.escalation_check.is_zero() {
            return Err(EngineError::Settings(
                "escalate_after and escalation_check must be positive".into(),
            ));
        }
        if settings.backoff_base.is_zero() || settings.backoff_cap < settings.backoff_base {
            return Err(EngineError::Settings(
                "backoff_base must be positive and not above backoff_cap".into(),
            ));
        }
        Ok(Engine {
            channel,
            settings: Arc::new(settings),
            breaker: BreakerSettings::default(),
            templates: Arc::new(Mutex::new(Arc::new(Renderer::new(&[])))),
            turns: (db.backend() == Backend::Sqlite).then(|| Arc::new(tokio::sync::Mutex::new(()))),
            db,
            running: Arc::default(),
            templates_checked: Arc::default(),
        })
    }

    /// The templates in use now.
    pub fn renderer(&self) -> Arc<Renderer> {
        self.templates
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Reloads the manufacturer's template overrides; recompiles only if they changed.
    pub async fn refresh_templates(&self) -> Result<(), EngineError> {
        let overrides = self
            .blocking(herald_storage::templates::list_template_overrides)
            .await?;
        let fingerprint = crate::templates::fingerprint(&overrides);
        if self.renderer().fingerprint() != fingerprint {
            let renderer = Arc::new(Renderer::new(&overrides));
            *self
                .templates
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = renderer;
        }
        Ok(())
    }

    /// Replaces the circuit breaker settings (default: [`BreakerSettings::default`]).
    pub fn with_breaker(mut self, breaker: BreakerSettings) -> Result<Engine, EngineError> {
        if breaker.threshold == 0 {
            return Err(EngineError::Settings(
                "circuit breaker threshold must be at least 1".into(),
            ));
        }
        self.breaker = breaker;
        Ok(self)
    }

    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    pub fn breaker_settings(&self) -> BreakerSettings {
        self.breaker
    }

    /// Destinations whose breaker is open now (their deliveries are not claimed), by id.
    pub async fn paused_destinations(&self) -> Result<Vec<String>, EngineError> {
        let at = herald_storage::now();
        Ok(self
            .blocking(stored_breakers)
            .await?
            .into_iter()
            .filter(|b| b.is_paused_at(at))
            .map(|b| b.destination_id)
            .collect())
    }

    /// Counts a failure of the destination's receiver (down, overloaded, too slow) against its
    /// breaker. An answer needs no call here: recording the attempt closes the breaker in the
    /// same transaction (`record_attempt`).
    async fn observe_failure(&self, destination_id: &str) -> Result<(), EngineError> {
        let cooldown = chrono::Duration::from_std(self.breaker.cooldown)
            .map_err(|e| EngineError::Settings(format!("breaker cooldown: {e}")))?;
        let (threshold, id) = (self.breaker.threshold, destination_id.to_string());
        let breaker = self
            .blocking(move |c| record_breaker_failure(c, &id, threshold, cooldown))
            .await?;
        if breaker.state == herald_storage::breaker::BreakerState::Open {
            tracing::warn!(
                destination = %destination_id,
                failures = breaker.consecutive_failures,
                cooldown_s = self.breaker.cooldown.as_secs_f64(),
                "circuit breaker open: destination paused"
            );
        }
        Ok(())
    }

    /// Runs the engine until `shutdown` completes: continuous scheduling with at most
    /// `max_in_flight` attempts in flight, new work claimed as soon as slots free. Attempts in
    /// flight when `shutdown` completes are finished and recorded before returning. Storage
    /// errors are logged and retried after the poll interval.
    pub async fn run_until<F: Future<Output = ()>>(&self, shutdown: F) {
        tokio::pin!(shutdown);
        let _heartbeat = self.start_heartbeat();
        let pool = self.settings.max_in_flight;
        let poll = self.settings.poll_interval;
        // Claims are batched a little: one claim per freed slot would cost a claim query per
        // delivery (it probes every destination's head). A claim waits for a quarter of the pool
        // to free, or for `CLAIM_GATHER` after the first slot freed, whichever comes first.
        let claim_min = (pool / 4).max(1);
        let mut tasks: tokio::task::JoinSet<Result<Decided, EngineError>> =
            tokio::task::JoinSet::new();
        let start = Instant::now();
        let mut next_fan_out = start;
        let mut next_claim = start;
        let mut next_escalation = start;
        let mut report = RunReport::default();
        loop {
            let now = Instant::now();
            if now >= next_fan_out {
                next_fan_out = match self.fan_out().await {
                    // More may be waiting: go again at once, and claim what it created.
                    Ok(fan) if fan.events > 0 => {
                        next_claim = now;
                        now
                    }
                    Ok(_) => now + poll,
                    Err(e) => {
                        tracing::error!(error = %e, worker = %self.settings.worker_id, "fan-out failed");
                        now + poll
                    }
                };
            }
            if now >= next_escalation {
                if let Err(e) = self.escalate(herald_storage::now()).await {
                    tracing::error!(error = %e, "escalating broken destinations failed");
                }
                next_escalation = now + self.settings.escalation_check;
            }
            let free = pool.saturating_sub(tasks.len());
            if free > 0 && Instant::now() >= next_claim {
                match self.claim(i64::try_from(free).unwrap_or(i64::MAX)).await {
                    Ok(claimed) => {
                        let n = claimed.len();
                        report.claimed += n;
                        for c in claimed {
                            let engine = self.clone();
                            tasks.spawn(async move { engine.attempt(c).await });
                        }
                        // A full claim may have left more due; a short one drained what is
                        // due now, so wait for a timer or a freed slot.
                        next_claim = if n == free {
                            Instant::now()
                        } else {
                            Instant::now() + poll
                        };
                    }
                    Err(e) => {
                        tracing::error!(error = %e, worker = %self.settings.worker_id, "claiming deliveries failed");
                        next_claim = Instant::now() + poll;
                    }
                }
            }
            let free = pool.saturating_sub(tasks.len());
            let mut wake = next_fan_out.min(next_escalation);
            if free > 0 {
                wake = wake.min(next_claim);
            }
            tokio::select! {
                _ = &mut shutdown => break,
                Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                    self.tally(&mut report, joined);
                    while let Some(joined) = tasks.try_join_next() {
                        self.tally(&mut report, joined);
                    }
                    // A slot freed, and the destination that just answered may have its next
                    // delivery due: claim once a quarter of the pool is free, or when no
                    // further slot frees within CLAIM_GATHER.
                    let free = pool.saturating_sub(tasks.len());
                    let gather = if free >= claim_min || tasks.is_empty() {
                        Duration::ZERO
                    } else {
                        CLAIM_GATHER
                    };
                    next_claim = Instant::now() + gather;
                }
                _ = tokio::time::sleep_until(wake.into()) => {}
            }
        }
        while let Some(joined) = tasks.join_next().await {
            self.tally(&mut report, joined);
        }
        tracing::info!(
            worker = %self.settings.worker_id,
            claimed = report.claimed,
            delivered = report.delivered,
            retries = report.retry_scheduled,
            failed = report.failed,
            dead = report.dead,
            "delivery engine stopped"
        );
    }

    /// One round: fan out pending events, claim up to `batch` due deliveries, deliver them
    /// concurrently and record every attempt (waiting for the slowest).
    pub async fn run_once(&self) -> Result<RunReport, EngineError> {
        let _heartbeat = self.start_heartbeat();
        let fan = self.fan_out().await?;
        let claimed = self.claim(self.settings.batch).await?;
        let mut report = RunReport {
            events_fanned_out: fan.events,
            deliveries_created: fan.deliveries,
            claimed: claimed.len(),
            ..Default::default()
        };
        let mut tasks = tokio::task::JoinSet::new();
        for c in claimed {
            let engine = self.clone();
            tasks.spawn(async move { engine.attempt(c).await });
        }
        let mut first_error = None;
        while let Some(joined) = tasks.join_next().await {
            if let Some(e) = self.tally(&mut report, joined) {
                first_error.get_or_insert(e);
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }

    /// Counts one finished attempt into `report`; returns its error, logged.
    fn tally(
        &self,
        report: &mut RunReport,
        joined: Result<Result<Decided, EngineError>, tokio::task::JoinError>,
    ) -> Option<EngineError> {
        match joined {
            Ok(Ok(Decided::Delivered)) => report.delivered += 1,
            Ok(Ok(Decided::Retry)) => report.retry_scheduled += 1,
            Ok(Ok(Decided::Failed)) => report.failed += 1,
            Ok(Ok(Decided::Dead)) => report.dead += 1,
            Ok(Ok(Decided::LeaseLost)) => report.lease_lost += 1,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "recording a delivery attempt failed");
                return Some(e);
            }
            Err(e) => {
                tracing::error!(error = %e, "a delivery attempt task failed");
                return Some(EngineError::Task(e.to_string()));
            }
        }
        None
    }

    /// Fans out up to `batch` pending outbox events.
    async fn fan_out(&self) -> Result<FanOutReport, EngineError> {
        let batch = self.settings.batch;
        self.blocking(move |c| fan_out_pending(c, batch)).await
    }

    /// Claims up to `limit` due deliveries of destinations whose breaker lets them through,
    /// marks the probes of breakers whose cool-down is over, and has the templates current.
    async fn claim(&self, limit: i64) -> Result<Vec<ClaimedDelivery>, EngineError> {
        let worker = self.settings.worker_id.clone();
        let lease = chrono::Duration::from_std(self.settings.lease)
            .map_err(|e| EngineError::Settings(format!("lease: {e}")))?;
        // Only destinations that failed lately have a stored breaker: usually none.
        let breakers: Vec<DestinationBreaker> = self.blocking(stored_breakers).await?;
        let at = herald_storage::now();
        let paused: Vec<String> = breakers
            .iter()
            .filter(|b| b.is_paused_at(at))
            .map(|b| b.destination_id.clone())
            .collect();
        let claimed = self
            .blocking(move |c| claim_due_except(c, &worker, limit, lease, &paused))
            .await?;
        // A claimed delivery of a destination whose cool-down is over is its probe.
        let probes: Vec<String> = claimed
            .iter()
            .map(|c| &c.destination.id)
            .filter(|id| {
                breakers
                    .iter()
                    .any(|b| &b.destination_id == *id && b.probe_due_at(at))
            })
            .cloned()
            .collect();
        if !probes.is_empty() {
            self.blocking(move |c| start_breaker_probes(c, &probes))
                .await?;
        }
        if !claimed.is_empty() {
            // At most once per poll interval: with continuous claims, once per claim would
            // read the overrides for every few deliveries.
            let due = {
                let mut checked = self
                    .templates_checked
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let due = checked.is_none_or(|t| t.elapsed() >= self.settings.poll_interval);
                if due {
                    *checked = Some(Instant::now());
                }
                due
            };
            if due {
                self.refresh_templates().await?;
            }
        }
        Ok(claimed)
    }

    /// Starts renewing the leases of this engine's running attempts every `heartbeat`, until
    /// the returned guard is dropped.
    fn start_heartbeat(&self) -> Heartbeat {
        let engine = self.clone();
        Heartbeat(tokio::spawn(async move {
            let mut tick = tokio::time::interval(engine.settings.heartbeat);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(e) = engine.renew().await {
                    tracing::error!(error = %e, worker = %engine.settings.worker_id, "renewing delivery leases failed");
                }
            }
        }))
    }

    /// Renews the leases of every attempt running now; returns how many were renewed.
    pub async fn renew(&self) -> Result<usize, EngineError> {
        let ids: Vec<String> = self
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .cloned()
            .collect();
        if ids.is_empty() {
            return Ok(0);
        }
        let worker = self.settings.worker_id.clone();
        let lease = chrono::Duration::from_std(self.settings.lease)
            .map_err(|e| EngineError::Settings(format!("lease: {e}")))?;
        let asked = ids.len();
        let renewed = self
            .blocking(move |c| renew_leases(c, &worker, &ids, lease))
            .await?;
        if renewed < asked {
            // Lost leases are not an error here: the attempt's record will be refused and the
            // delivery's new holder records its own.
            tracing::warn!(
                worker = %self.settings.worker_id,
                lost = asked - renewed,
                "delivery leases lost before renewal (this worker stalled past them)"
            );
        }
        Ok(renewed)
    }

    /// Escalates the failure episodes older than `escalate_after` at `at` (Herald's own mail to
    /// the destination's organization's admins and the PSIRT, once per episode).
    pub async fn escalate(
        &self,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<Escalation>, EngineError> {
        let after = chrono::Duration::from_std(self.settings.escalate_after)
            .map_err(|e| EngineError::Settings(format!("escalate_after: {e}")))?;
        let settings = self.settings.clone();
        let made = self
            .blocking(move |c| {
                escalate_due(
                    c,
                    at,
                    &EscalationPolicy {
                        after,
                        psirt: settings.psirt_contact.as_deref(),
                        base_url: &settings.base_url,
                    },
                    100,
                )
            })
            .await?;
        for e in &made {
            tracing::warn!(
                destination = %e.destination_id,
                org = %e.org_id,
                failing_since = %e.failing_since.to_rfc3339(),
                recipients = e.recipients.len(),
                "destination failing for longer than the escalation time: people told"
            );
        }
        Ok(made)
    }

    /// One delivery attempt.
    async fn attempt(&self, claimed: ClaimedDelivery) -> Result<Decided, EngineError> {
        // The heartbeat renews this delivery's lease while the attempt runs, and no longer:
        // registered here rather than at the claim, so that a claim whose deliveries never
        // start (an error right after it) leaves leases that run out and are taken over.
        self.running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(claimed.delivery.id.clone());
        let _running = Running {
            set: self.running.clone(),
            id: claimed.delivery.id.clone(),
        };
        let started_at = herald_storage::now();
        let clock = Instant::now();
        let attempt_in_round =
            u32::try_from(claimed.delivery.attempts - claimed.delivery.replay_base)
                .unwrap_or(1)
                .max(1);
        let result = match (
            self.destination_config(&claimed),
            self.notification(&claimed, attempt_in_round),
        ) {
            (Err(e), _) | (_, Err(e)) => Err(e),
            (Ok(dest), Ok(mut note)) => {
                note.rendered = self.renderer().render(&note, &dest.plugin_id);
                note.unsubscribe_url = self.settings.unsubscribe_key.as_ref().map(|key| {
                    herald_csaf::urls::unsubscribe_url(
                        self.settings.base_url.trim_end_matches('/'),
                        &dest.destination_id,
                        &key.unsubscribe_token(&dest.destination_id),
                    )
                });
                match tokio::time::timeout(
                    self.settings.attempt_timeout,
                    self.channel.deliver(&dest, &note),
                )
                .await
                {
                    Ok(r) => r,
                    Err(_) => Err(DeliveryError::Retryable(format!(
                        "channel did not answer within {:?}",
                        self.settings.attempt_timeout
                    ))),
                }
            }
        };
        let duration_ms = i64::try_from(clock.elapsed().as_millis()).unwrap_or(i64::MAX);
        let (outcome, error, next, decided) = self.decide(result, attempt_in_round)?;
        // A failure counts against the breaker even if recording the attempt fails below: the
        // receiver's silence is what it counts. Failing to store it is logged, not fatal: the
        // attempt itself must still be recorded.
        if outcome.is_receiver_failure()
            && let Err(e) = self.observe_failure(&claimed.destination.id).await
        {
            tracing::error!(destination = %claimed.destination.id, error = %e, "circuit breaker state not stored");
        }
        tracing::info!(
            delivery = %claimed.delivery.id,
            destination = %claimed.destination.id,
            attempt = claimed.delivery.attempts,
            outcome = %outcome,
            error = error.as_deref().unwrap_or(""),
            "delivery attempt"
        );
        let delivery_id = claimed.delivery.id.clone();
        let worker = self.settings.worker_id.clone();
        let number = claimed.delivery.attempts;
        let recorded = self
            .blocking(move |c| {
                record_attempt(
                    c,
                    &AttemptReport {
                        delivery_id: &delivery_id,
                        worker: &worker,
                        number,
                        started_at,
                        duration_ms,
                        outcome,
                        error,
                        next,
                    },
                )
            })
            .await;
        match recorded {
            Ok(_) => Ok(decided),
            Err(EngineError::Storage(StorageError::Conflict(m))) => {
                tracing::warn!(delivery = %claimed.delivery.id, "attempt result not recorded: {m}");
                Ok(Decided::LeaseLost)
            }
            Err(e) => Err(e),
        }
    }

    /// The retry decision for one attempt's result.
    fn decide(
        &self,
        result: Result<Receipt, DeliveryError>,
        attempt_in_round: u32,
    ) -> Result<(AttemptOutcome, Option<String>, NextStep, Decided), EngineError> {
        let exhausted = attempt_in_round >= self.settings.max_attempts;
        let retry = |delay: Duration| -> Result<(NextStep, Decided), EngineError> {
            if exhausted {
                return Ok((NextStep::Dead, Decided::Dead));
            }
            let delay = chrono::Duration::from_std(delay)
                .map_err(|e| EngineError::Settings(e.to_string()))?;
            Ok((
                NextStep::RetryAt(herald_storage::now() + delay),
                Decided::Retry,
            ))
        };
        Ok(match result {
            Ok(receipt) => {
                let receipt = serde_json::to_value(&receipt)
                    .map_err(|e| EngineError::Task(format!("cannot serialise receipt: {e}")))?;
                (
                    AttemptOutcome::Delivered,
                    None,
                    NextStep::Delivered { receipt },
                    Decided::Delivered,
                )
            }
            Err(DeliveryError::Retryable(m)) => {
                let (next, d) = retry(self.backoff(attempt_in_round))?;
                (AttemptOutcome::Retryable, Some(m), next, d)
            }
            Err(DeliveryError::RetryAfter { seconds, message }) => {
                let (next, d) = retry(
                    Duration::from_secs(u64::from(seconds)).min(self.settings.retry_after_cap),
                )?;
                (AttemptOutcome::RetryAfter, Some(message), next, d)
            }
            Err(DeliveryError::Permanent(m)) => (
                AttemptOutcome::Permanent,
                Some(m),
                NextStep::Failed,
                Decided::Failed,
            ),
            Err(DeliveryError::Misconfigured(m)) => (
                AttemptOutcome::Misconfigured,
                Some(m),
                NextStep::Failed,
                Decided::Failed,
            ),
        })
    }

    /// Delay before retry after attempt `n` (1-based): base * 2^(n-1), capped, times a random
    /// factor in [0.75, 1.0].
    pub fn backoff(&self, n: u32) -> Duration {
        let exp = self
            .settings
            .backoff_base
            .saturating_mul(1u32 << n.saturating_sub(1).min(20));
        let capped = exp.min(self.settings.backoff_cap);
        capped.mul_f64(rand::thread_rng().gen_range(0.75..=1.0))
    }

    fn destination_config(&self, c: &ClaimedDelivery) -> Result<DestinationConfig, DeliveryError> {
        let grants: Grants = serde_json::from_value(c.destination.grants.clone()).map_err(|e| {
            DeliveryError::Misconfigured(format!("destination grants are not valid: {e}"))
        })?;
        Ok(DestinationConfig {
            destination_id: c.destination.id.clone(),
            plugin_id: c.destination.plugin_id.clone(),
            config: c.destination.config.clone(),
            grants,
        })
    }

    /// Builds the notification from the stored summary of the event's revision.
    pub fn notification(
        &self,
        c: &ClaimedDelivery,
        attempt: u32,
    ) -> Result<Notification, DeliveryError> {
        let (Some(summary), Some(tracking_id), Some(path)) = (&c.summary, &c.tracking_id, &c.path)
        else {
            return Err(DeliveryError::Permanent(format!(
                "event {} names no advisory revision",
                c.event.id
            )));
        };
        let base = self.settings.base_url.trim_end_matches('/');
        let previous_receipt = match &c.previous_receipt {
            Some(v) => match serde_json::from_value::<Receipt>(v.clone()) {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::warn!(delivery = %c.delivery.id, "stored receipt unreadable: {e}");
                    None
                }
            },
            None => None,
        };
        Ok(Notification {
            delivery_id: c.delivery.id.clone(),
            event_kind: c.event.kind.clone(),
            tracking_id: tracking_id.clone(),
            version: summary.version.clone(),
            title: summary.title.clone(),
            severity: summary.severity.clone(),
            cvss_score: summary.max_cvss,
            cves: summary.cves(),
            products: summary
                .products
                .iter()
                .map(|p| NotifiedProduct {
                    product_id: p.product_id.clone(),
                    name: p.name.clone(),
                    version: p.version.clone(),
                    udi_di: p.udi_di.clone(),
                    cpe: p.cpe.clone(),
                    purl: p.purl.clone(),
                })
                .collect(),
            initial_release_date: summary
                .initial_release_date
                .to_rfc3339_opts(SecondsFormat::AutoSi, true),
            current_release_date: summary
                .current_release_date
                .to_rfc3339_opts(SecondsFormat::AutoSi, true),
            tlp: summary.tlp.map(tlp_str).unwrap_or("").to_string(),
            summary: summary.summary.clone().unwrap_or_default(),
            portal_url: herald_csaf::urls::advisory_page_url(base, tracking_id),
            csaf_url: herald_csaf::urls::csaf_document_url(base, path),
            previous_receipt,
            attempt,
            // Filled in per destination channel by the caller (see `Renderer::render`).
            rendered: None,
            unsubscribe_url: None,
        })
    }

    async fn blocking<T, F>(&self, f: F) -> Result<T, EngineError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, StorageError> + Send + 'static,
    {
        // Held until the call is done (or this future is dropped, after which SQLite's own
        // busy handling still keeps the calls apart).
        let _turn = match &self.turns {
            Some(turns) => Some(turns.lock().await),
            None => None,
        };
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = db.get()?;
            f(&mut conn)
        })
        .await
        .map_err(|e| EngineError::Task(e.to_string()))?
        .map_err(EngineError::from)
    }
}
