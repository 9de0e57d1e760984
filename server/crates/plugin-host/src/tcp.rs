//! The host side of the `tcp` capability: one request/reply exchange (enough for HL7 MLLP)
//! with a `host:port` the operator granted to the destination.
//!
//! Connect only to an exact grant in `Grants::tcp_endpoints`; the name is resolved here and
//! the connection goes to the checked addresses (non-public ones only inside the operator's
//! outbound policy, and only where the destination allows private addresses too; see
//! [`crate::outbound`]). Optional TLS trusts the operator's roots, or exactly the destination's
//! pinned CA ([`crate::tls`]). Write the payload, then read until the delimiter, with a byte cap
//! and a deadline that never outlives the call's own.

use crate::bindings::herald::delivery::tcp::{ExchangeRequest, TcpError};
use crate::outbound::Reach;
use crate::tls::{Pin, TlsRoots};
use herald_channel::Grants;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_rustls::rustls;

/// Caps on one plugin invocation's TCP use.
#[derive(Debug, Clone)]
pub struct TcpLimits {
    pub max_exchanges_per_invocation: u32,
    pub max_payload: usize,
    /// Bytes read before the delimiter must have arrived.
    pub max_reply: usize,
    /// Per exchange; never more than what is left of the call's own deadline.
    pub max_timeout: Duration,
}

impl Default for TcpLimits {
    fn default() -> Self {
        Self {
            max_exchanges_per_invocation: 4,
            max_payload: 1 << 20,
            max_reply: 64 << 10,
            max_timeout: Duration::from_secs(30),
        }
    }
}

/// What one invocation may do over tcp; lives in the call's `Store`.
pub(crate) struct TcpContext {
    pub grants: Grants,
    /// The operator's policy narrowed by the destination's grants.
    pub reach: Reach,
    /// The destination's pinned CA, if it has one (`Err`: its `tls_ca_pem` is unusable).
    pub pin: Result<Option<Arc<Pin>>, String>,
    pub limits: TcpLimits,
    pub tls: Arc<TlsRoots>,
    pub deadline: Instant,
    pub exchanges: u32,
}

/// `host:port` grants match exactly (case-insensitive); there is no any-port form for tcp.
pub fn endpoint_granted(grants: &[String], host: &str, port: u16) -> bool {
    let wanted = format!("{}:{port}", host.to_ascii_lowercase());
    grants
        .iter()
        .any(|g| g.trim().to_ascii_lowercase() == wanted)
}

/// Split `host:port` (`[v6]:port` too).
fn split_endpoint(endpoint: &str) -> Result<(String, u16), TcpError> {
    let bad = || TcpError::Denied(format!("endpoint {endpoint:?} is not host:port"));
    let (host, port) = endpoint.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || port == 0 {
        return Err(bad());
    }
    Ok((host.to_ascii_lowercase(), port))
}

impl TcpContext {
    pub async fn exchange(&mut self, request: ExchangeRequest) -> Result<Vec<u8>, TcpError> {
        self.exchanges += 1;
        if self.exchanges > self.limits.max_exchanges_per_invocation {
            return Err(TcpError::Denied(format!(
                "more than {} tcp exchanges in one invocation",
                self.limits.max_exchanges_per_invocation
            )));
        }
        let (host, port) = split_endpoint(&request.endpoint)?;
        if !endpoint_granted(&self.grants.tcp_endpoints, &host, port) {
            return Err(TcpError::Denied(format!(
                "endpoint {host}:{port} is not granted to this destination"
            )));
        }
        if request.payload.len() > self.limits.max_payload {
            return Err(TcpError::TooLarge(format!(
                "payload of {} bytes exceeds {} bytes",
                request.payload.len(),
                self.limits.max_payload
            )));
        }
        if request.read_until.is_empty() {
            return Err(TcpError::Denied("read-until delimiter is empty".into()));
        }
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        let timeout = remaining
            .min(self.limits.max_timeout)
            .min(Duration::from_millis(u64::from(request.timeout_ms)));
        if timeout.is_zero() {
            return Err(TcpError::Timeout("no time left for the exchange".into()));
        }
        let tls = if request.tls {
            Some(match self.pin.clone().map_err(TcpError::Denied)? {
                Some(pin) => pin.rustls.clone(),
                None => self.tls.rustls_config(),
            })
        } else {
            None
        };
        let reach = self.reach.clone();
        let max_reply = self.limits.max_reply;
        async move {
            let started = Instant::now();
            let addrs = resolve(&host, port, timeout).await?;
            reach.check(&host, &addrs).map_err(TcpError::Denied)?;
            let left = timeout.saturating_sub(started.elapsed());
            let stream = tokio::time::timeout(left, tokio::net::TcpStream::connect(&addrs[..]))
                .await
                .map_err(|_| TcpError::Transport(format!("connecting to {host}:{port} timed out")))?
                .map_err(|e| {
                    TcpError::Transport(format!("cannot connect to {host}:{port}: {e}"))
                })?;
            match tls {
                None => {
                    talk(
                        stream,
                        &request.payload,
                        &request.read_until,
                        max_reply,
                        timeout,
                        started,
                    )
                    .await
                }
                Some(config) => {
                    let name =
                        rustls::pki_types::ServerName::try_from(host.clone()).map_err(|e| {
                            TcpError::Denied(format!("{host} is not a TLS server name: {e}"))
                        })?;
                    let connector = tokio_rustls::TlsConnector::from(config);
                    let left = timeout.saturating_sub(started.elapsed());
                    let stream = tokio::time::timeout(left, connector.connect(name, stream))
                        .await
                        .map_err(|_| {
                            TcpError::Timeout(format!("TLS handshake with {host}:{port} timed out"))
                        })?
                        .map_err(|e| {
                            TcpError::Transport(format!("TLS with {host}:{port} failed: {e}"))
                        })?;
                    talk(
                        stream,
                        &request.payload,
                        &request.read_until,
                        max_reply,
                        timeout,
                        started,
                    )
                    .await
                }
            }
        }
        .await
    }
}

/// Write `payload`, then read until `delimiter` (included in the reply), `max` bytes or the
/// deadline, whichever comes first.
async fn talk<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    payload: &[u8],
    delimiter: &[u8],
    max: usize,
    timeout: Duration,
    started: Instant,
) -> Result<Vec<u8>, TcpError> {
    let left = timeout.saturating_sub(started.elapsed());
    tokio::time::timeout(left, async {
        stream.write_all(payload).await?;
        stream.flush().await
    })
    .await
    .map_err(|_| TcpError::Timeout("writing the payload timed out".into()))?
    .map_err(|e| TcpError::Transport(format!("writing the payload failed: {e}")))?;
    let mut reply = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let left = timeout.saturating_sub(started.elapsed());
        let n = tokio::time::timeout(left, stream.read(&mut chunk))
            .await
            .map_err(|_| {
                TcpError::Timeout(format!(
                    "no complete reply within {}ms ({} bytes received)",
                    timeout.as_millis(),
                    reply.len()
                ))
            })?
            .map_err(|e| TcpError::Transport(format!("reading the reply failed: {e}")))?;
        if n == 0 {
            return Err(TcpError::Transport(format!(
                "the peer closed the connection before the delimiter ({} bytes received)",
                reply.len()
            )));
        }
        let search_from = reply.len().saturating_sub(delimiter.len() - 1);
        reply.extend_from_slice(&chunk[..n]);
        if let Some(i) = reply[search_from..]
            .windows(delimiter.len())
            .position(|w| w == delimiter)
        {
            reply.truncate(search_from + i + delimiter.len());
            let _ = stream.shutdown().await;
            return Ok(reply);
        }
        if reply.len() > max {
            return Err(TcpError::TooLarge(format!(
                "reply exceeds {max} bytes without the delimiter"
            )));
        }
    }
}

async fn resolve(host: &str, port: u16, timeout: Duration) -> Result<Vec<SocketAddr>, TcpError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let addrs: Vec<SocketAddr> =
        tokio::time::timeout(timeout, tokio::net::lookup_host((host, port)))
            .await
            .map_err(|_| TcpError::Timeout(format!("resolving {host} took too long")))?
            .map_err(|e| TcpError::Transport(format!("cannot resolve {host}: {e}")))?
            .collect();
    if addrs.is_empty() {
        return Err(TcpError::Transport(format!("{host} has no addresses")));
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_match_exactly() {
        let grants = vec![
            "HL7.hospital.test:2575".to_string(),
            "127.0.0.1:6661".into(),
        ];
        assert!(endpoint_granted(&grants, "hl7.hospital.test", 2575));
        assert!(endpoint_granted(&grants, "127.0.0.1", 6661));
        assert!(!endpoint_granted(&grants, "hl7.hospital.test", 2576));
        assert!(!endpoint_granted(&grants, "127.0.0.1", 2575));
        assert!(split_endpoint("nohost").is_err());
        assert!(split_endpoint(":25").is_err());
        assert_eq!(
            split_endpoint("[::1]:2575").ok(),
            Some(("::1".to_string(), 2575))
        );
    }
}
