//! One export call: a fresh `Store` with its limits (memory, fuel, the epoch deadline), the call
//! itself, how its failure reads, how its result maps onto the delivery contract, and the store's
//! data (`CallState`) that implements the host side of every capability for that one call.

use super::*;

/// One export call of the channel world.
// One value lives per call and is moved straight into the guest call; boxing the notification
// (grown by the rendered templates) would only add an allocation per delivery.
#[allow(clippy::large_enum_variant)]
pub(super) enum Export {
    Describe,
    ValidateConfig(String),
    Deliver(String, wit::Notification),
    Test(String),
}

/// What an [`Export`] returned.
pub(super) enum Returned {
    Info(wit::PluginInfo),
    Validation(Result<(), Vec<wit::ConfigError>>),
    Delivered(Result<wit::Receipt, wit::DeliveryError>),
}

impl Returned {
    pub(super) fn delivered(self) -> Result<Result<wit::Receipt, wit::DeliveryError>, String> {
        match self {
            Returned::Delivered(result) => Ok(result),
            _ => Err(unexpected()),
        }
    }
}

pub(super) fn unexpected() -> String {
    "failed: the host got a result of the wrong kind (a bug in the host)".to_string()
}

/// Instantiate from `pre` in a new limited store and run `export`; failures come back as a
/// sentence.
pub(super) async fn invoke(
    engine: &Engine,
    config: &HostConfig,
    pre: &bindings::ChannelPre<CallState>,
    state: CallState,
    export: Export,
) -> Result<Returned, String> {
    let started = Instant::now();
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.limits);
    store
        .set_fuel(config.fuel_per_call)
        .map_err(|e| format!("failed: cannot set fuel: {e:#}"))?;
    // Every tick the guest yields to the executor (other tasks on this worker get their turn)
    // and goes on, until the call's time is up.
    let deadline = started + config.call_timeout;
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        Ok(if Instant::now() >= deadline {
            UpdateDeadline::Interrupt
        } else {
            UpdateDeadline::Yield(1)
        })
    });
    let run = async {
        let channel = pre.instantiate_async(&mut store).await?;
        Ok(match export {
            Export::Describe => Returned::Info(channel.call_describe(&mut store).await?),
            Export::ValidateConfig(config) => {
                Returned::Validation(channel.call_validate_config(&mut store, &config).await?)
            }
            Export::Deliver(config, notification) => Returned::Delivered(
                channel
                    .call_deliver(&mut store, &config, &notification)
                    .await?,
            ),
            Export::Test(config) => {
                Returned::Delivered(channel.call_test(&mut store, &config).await?)
            }
        })
    };
    run.await
        .map_err(|e: wasmtime::Error| describe_failure(&e, config, started.elapsed()))
}

/// Polls `future` on this thread, parking it while the future waits. For pure plugin calls
/// outside (or inside, without blocking it for long) an async runtime.
pub(super) fn block_on<F: std::future::Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = std::task::Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut context) {
            std::task::Poll::Ready(output) => return output,
            std::task::Poll::Pending => std::thread::park(),
        }
    }
}

/// Turn a wasmtime error into a sentence that says which limit was hit, if any (the full
/// error, with the wasm backtrace, goes to the debug log).
pub(super) fn describe_failure(
    e: &wasmtime::Error,
    config: &HostConfig,
    elapsed: Duration,
) -> String {
    tracing::debug!(error = ?e, "plugin call failed");
    let root = e.root_cause().to_string();
    let what = match e.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => format!(
            "exceeded its time limit of {:.1}s",
            config.call_timeout.as_secs_f64()
        ),
        Some(Trap::OutOfFuel) => format!("ran out of fuel ({} units)", config.fuel_per_call),
        Some(trap) => format!("trapped: {trap}"),
        None if root.contains("growing memory") => format!(
            "exceeded its memory limit of {} MiB ({root})",
            config.memory_limit >> 20
        ),
        None => format!("failed: {root}"),
    };
    format!("{what} (after {}ms)", elapsed.as_millis())
}

/// Map a call's outcome onto the delivery contract: a plugin failure (trap, timeout, limit)
/// is retryable for this delivery only; everything is redacted.
pub(super) fn finish(
    plugin_id: &str,
    result: Result<Result<wit::Receipt, wit::DeliveryError>, String>,
    secrets: &Secrets,
) -> Result<Receipt, DeliveryError> {
    match result {
        Ok(Ok(receipt)) => Ok(Receipt {
            remote_id: receipt.remote_id.map(|r| secrets.redact(&r)),
            detail: secrets.redact(&receipt.detail),
        }),
        Ok(Err(error)) => Err(match error {
            wit::DeliveryError::Retryable(m) => DeliveryError::Retryable(secrets.redact(&m)),
            wit::DeliveryError::RetryAfter((seconds, m)) => DeliveryError::RetryAfter {
                seconds,
                message: secrets.redact(&m),
            },
            wit::DeliveryError::Permanent(m) => DeliveryError::Permanent(secrets.redact(&m)),
            wit::DeliveryError::Misconfigured(m) => {
                DeliveryError::Misconfigured(secrets.redact(&m))
            }
        }),
        Err(message) => {
            let message = secrets.redact(&message);
            tracing::warn!(plugin = %plugin_id, %message, "plugin call failed");
            Err(DeliveryError::Retryable(format!(
                "plugin {plugin_id} {message}"
            )))
        }
    }
}

/// Per-call store data: limits, who is calling for whom, and the capabilities' state.
pub(crate) struct CallState {
    plugin_id: String,
    destination_id: String,
    delivery_id: String,
    limits: StoreLimits,
    /// `None` in pure calls (describe, validate-config): http, smtp and tcp are denied there;
    /// also `None` for a capability the plugin does not import.
    http: Option<HttpContext>,
    smtp: Option<SmtpContext>,
    tcp: Option<TcpContext>,
    secrets: Arc<Secrets>,
    signatures: u32,
    log_lines: u32,
}

/// Log lines one call may write, and their length; a chatty plugin cannot flood the log.
pub(super) const MAX_LOG_LINES: u32 = 200;
pub(super) const MAX_LOG_LINE: usize = 4096;

impl CallState {
    fn limits(config: &HostConfig) -> StoreLimits {
        StoreLimitsBuilder::new()
            .memory_size(config.memory_limit)
            .trap_on_grow_failure(true)
            .build()
    }

    pub(super) fn pure(plugin_id: &str, config: &HostConfig) -> Self {
        Self {
            plugin_id: plugin_id.to_string(),
            destination_id: String::new(),
            delivery_id: String::new(),
            limits: Self::limits(config),
            http: None,
            smtp: None,
            tcp: None,
            secrets: Arc::new(Secrets::new()),
            signatures: 0,
            log_lines: 0,
        }
    }

    /// The state of a call that may reach the network: a context for each I/O capability the
    /// plugin imports (one it does not import it cannot call; the load check saw to that), so
    /// a webhook delivery builds no SMTP relay from a configuration that has none.
    pub(super) fn with_http(
        host: &PluginHost,
        plugin: &LoadedPlugin,
        destination: &DestinationConfig,
        delivery_id: &str,
        secrets: Arc<Secrets>,
    ) -> Self {
        let (config, imports) = (&host.config, &plugin.imports);
        let deadline = Instant::now() + config.call_timeout;
        let reach = Reach {
            operator: host.outbound.clone(),
            destination_allows_private: destination.grants.allow_private_addresses,
        };
        // Only a plugin that reaches the network reads the destination's CA pin.
        let network = [Capability::Http, Capability::Smtp, Capability::Tcp]
            .iter()
            .any(|c| imports.contains(c));
        let pin = if network {
            host.tls.destination_pin(&destination.config)
        } else {
            Ok(None)
        };
        let http = imports.contains(&Capability::Http).then(|| HttpContext {
            destination_id: destination.destination_id.clone(),
            grants: destination.grants.clone(),
            pin: pin.clone(),
            secrets: secrets.clone(),
            limits: config.http.clone(),
            clients: host.http.clone(),
            deadline,
            calls: 0,
        });
        let smtp = imports.contains(&Capability::Smtp).then(|| SmtpContext {
            allowed: destination.grants.smtp,
            relay: SmtpRelay::from_destination(destination),
            secrets: secrets.clone(),
            limits: config.smtp.clone(),
            reach: reach.clone(),
            tls: host.tls.clone(),
            pin: pin.clone(),
            deadline,
            messages: 0,
        });
        let tcp = imports.contains(&Capability::Tcp).then(|| TcpContext {
            grants: destination.grants.clone(),
            reach,
            pin,
            limits: config.tcp.clone(),
            tls: host.tls.clone(),
            deadline,
            exchanges: 0,
        });
        Self {
            plugin_id: plugin.info.id.clone(),
            destination_id: destination.destination_id.clone(),
            delivery_id: delivery_id.to_string(),
            limits: Self::limits(config),
            http,
            smtp,
            tcp,
            secrets,
            signatures: 0,
            log_lines: 0,
        }
    }
}

impl wit::Host for CallState {}

impl wit_http::Host for CallState {
    async fn send(
        &mut self,
        request: wit_http::Request,
    ) -> Result<wit_http::Response, wit_http::HttpError> {
        let result = match self.http.as_mut() {
            Some(http) => http.send(request).await,
            None => Err(wit_http::HttpError::Denied(
                "http is not available in this call (describe and validate-config reach no one)"
                    .into(),
            )),
        };
        if let Err(e) = &result {
            tracing::info!(
                target: "herald::plugin",
                plugin = %self.plugin_id,
                destination = %self.destination_id,
                delivery = %self.delivery_id,
                error = %self.secrets.redact(&format!("{e:?}")),
                "plugin http request failed"
            );
        }
        result
    }
}

impl log::Host for CallState {
    fn log(&mut self, level: log::Level, message: String) {
        self.log_lines += 1;
        if self.log_lines > MAX_LOG_LINES {
            return;
        }
        let mut message = self.secrets.redact(&message);
        if message.len() > MAX_LOG_LINE {
            let mut cut = MAX_LOG_LINE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        if self.log_lines == MAX_LOG_LINES {
            message.push_str(" (log line limit reached; further lines of this call dropped)");
        }
        let (plugin, destination, delivery) =
            (&self.plugin_id, &self.destination_id, &self.delivery_id);
        match level {
            log::Level::Trace => {
                tracing::trace!(target: "herald::plugin", %plugin, %destination, %delivery, "{message}")
            }
            log::Level::Debug => {
                tracing::debug!(target: "herald::plugin", %plugin, %destination, %delivery, "{message}")
            }
            log::Level::Info => {
                tracing::info!(target: "herald::plugin", %plugin, %destination, %delivery, "{message}")
            }
            log::Level::Warn => {
                tracing::warn!(target: "herald::plugin", %plugin, %destination, %delivery, "{message}")
            }
            log::Level::Error => {
                tracing::error!(target: "herald::plugin", %plugin, %destination, %delivery, "{message}")
            }
        }
    }
}

impl clock::Host for CallState {
    fn now(&mut self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }
}

impl CallState {
    /// Log a failed capability call (redacted) with who made it.
    fn log_failure(&self, capability: &str, error: &dyn std::fmt::Debug) {
        tracing::info!(
            target: "herald::plugin",
            plugin = %self.plugin_id,
            destination = %self.destination_id,
            delivery = %self.delivery_id,
            error = %self.secrets.redact(&format!("{error:?}")),
            "plugin {capability} call failed"
        );
    }
}

impl smtp::Host for CallState {
    async fn send(&mut self, message: smtp::Message) -> Result<String, smtp::SmtpError> {
        let result = match self.smtp.as_mut() {
            Some(smtp) => smtp.send(message).await,
            None => Err(smtp::SmtpError::Denied(
                "smtp is not available in this call (describe and validate-config reach no one)"
                    .into(),
            )),
        };
        match &result {
            Ok(reply) => tracing::info!(
                target: "herald::plugin",
                plugin = %self.plugin_id,
                destination = %self.destination_id,
                delivery = %self.delivery_id,
                reply = %self.secrets.redact(reply),
                "plugin mail accepted by the relay"
            ),
            Err(e) => self.log_failure("smtp", e),
        }
        result
    }
}

impl tcp::Host for CallState {
    async fn exchange(&mut self, request: tcp::ExchangeRequest) -> Result<Vec<u8>, tcp::TcpError> {
        let result = match self.tcp.as_mut() {
            Some(tcp) => tcp.exchange(request).await,
            None => Err(tcp::TcpError::Denied(
                "tcp is not available in this call (describe and validate-config reach no one)"
                    .into(),
            )),
        };
        if let Err(e) = &result {
            self.log_failure("tcp", e);
        }
        result
    }
}

impl signing::Host for CallState {
    fn hmac_sha256(
        &mut self,
        secret_ref: String,
        data: Vec<u8>,
    ) -> Result<Vec<u8>, signing::SigningError> {
        self.signatures += 1;
        let result = if self.signatures > crate::signing::MAX_SIGNATURES_PER_INVOCATION {
            Err(signing::SigningError::Denied(format!(
                "more than {} signatures in one invocation",
                crate::signing::MAX_SIGNATURES_PER_INVOCATION
            )))
        } else {
            crate::signing::hmac_sha256(&self.secrets, &secret_ref, &data)
        };
        if let Err(e) = &result {
            self.log_failure("signing", e);
        }
        result
    }
}
