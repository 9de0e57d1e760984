//! The host side of the `http` capability: the only way a plugin reaches the network.
//!
//! Every request must target a host granted to the destination (`host` matches any port,
//! `host:port` only that port), use https unless the destination allows plain http, and resolve
//! only to public addresses unless the destination allows private ones. The address check is
//! made on the addresses actually connected to: destinations without private addresses use a
//! client whose resolver refuses any name with a non-public answer (and IP-literal hosts are
//! checked before sending), so a second DNS answer cannot slip past and every pooled connection
//! of that client was made to a checked address. No redirects are followed (a redirect could
//! lead to an ungranted host) and no proxy is used.
//!
//! The clients ([`HttpClients`]) are shared by all calls of a host: connections are pooled and
//! kept alive across deliveries, while grants and caps are still checked per request.
//! Calls per invocation, body sizes and time are capped. `{{secret:NAME}}` in header values, and
//! in `application/x-www-form-urlencoded` request bodies (form-encoded there: OAuth token
//! requests), is replaced here, so the plugin never holds the secret.

use crate::bindings::herald::delivery::http::{HttpError, Request, Response};
use crate::secrets::Secrets;
use herald_delivery::Grants;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Caps on one plugin invocation's HTTP use.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    pub max_calls_per_invocation: u32,
    pub max_request_body: usize,
    pub max_response_body: usize,
    /// Per request; never more than what is left of the call's own deadline.
    pub request_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_calls_per_invocation: 8,
            max_request_body: 1 << 20,
            max_response_body: 1 << 20,
            request_timeout: Duration::from_secs(8),
        }
    }
}

/// The host's shared HTTP clients, one per address policy, so that a connection made for a
/// destination allowed private addresses is never reused for one that is not.
pub(crate) struct HttpClients {
    /// Resolves through [`PublicOnlyResolver`]: it connects only to public addresses.
    public_only: reqwest::Client,
    /// For destinations granted private and loopback addresses.
    any_address: reqwest::Client,
}

impl HttpClients {
    pub fn new() -> Result<Self, String> {
        let builder = || {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                // Deliveries to one receiver come in bursts; keep a few connections warm.
                .pool_idle_timeout(Duration::from_secs(60))
        };
        let public_only = builder()
            .dns_resolver(Arc::new(PublicOnlyResolver))
            .build()
            .map_err(|e| format!("cannot build the http client: {e}"))?;
        let any_address = builder()
            .build()
            .map_err(|e| format!("cannot build the http client: {e}"))?;
        Ok(Self {
            public_only,
            any_address,
        })
    }
}

/// A name that resolved to a non-public address, for a destination that does not allow those.
#[derive(Debug)]
struct AddressRefused(String);

impl std::fmt::Display for AddressRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AddressRefused {}

/// The resolver of the public-only client: the system resolver, refusing the whole answer when
/// any address in it is loopback, private or reserved. It runs at connect time, so the check
/// is on the addresses the connection is actually made to.
struct PublicOnlyResolver;

impl reqwest::dns::Resolve for PublicOnlyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if addrs.is_empty() {
                return Err(format!("{host} has no addresses").into());
            }
            if let Some(bad) = addrs.iter().find(|a| !is_public(a.ip())) {
                return Err(Box::new(AddressRefused(refusal(&host, bad.ip())))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

fn refusal(host: &str, ip: IpAddr) -> String {
    format!(
        "{host} resolves to {ip}, a loopback/private/reserved address, which this destination does not allow"
    )
}

/// What one invocation may do over http; lives in the call's `Store`.
pub(crate) struct HttpContext {
    pub grants: Grants,
    pub secrets: Arc<Secrets>,
    pub limits: HttpLimits,
    pub clients: Arc<HttpClients>,
    pub deadline: Instant,
    pub calls: u32,
}

impl HttpContext {
    pub async fn send(&mut self, request: Request) -> Result<Response, HttpError> {
        self.calls += 1;
        if self.calls > self.limits.max_calls_per_invocation {
            return Err(HttpError::Denied(format!(
                "more than {} http calls in one invocation",
                self.limits.max_calls_per_invocation
            )));
        }
        let url = reqwest::Url::parse(&request.url)
            .map_err(|e| HttpError::InvalidRequest(format!("url {:?}: {e}", request.url)))?;
        match url.scheme() {
            "https" => {}
            "http" if self.grants.allow_insecure_http => {}
            "http" => {
                return Err(HttpError::Denied(format!(
                    "plain http to {} is not allowed for this destination (use https)",
                    url.host_str().unwrap_or_default()
                )));
            }
            other => {
                return Err(HttpError::InvalidRequest(format!(
                    "scheme {other:?} is not http or https"
                )));
            }
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(HttpError::InvalidRequest(
                "credentials in the url are not allowed; use a {{secret:NAME}} header".into(),
            ));
        }
        let host = url
            .host_str()
            .ok_or_else(|| HttpError::InvalidRequest(format!("url {:?} has no host", url)))?
            .to_ascii_lowercase();
        let port = url
            .port_or_known_default()
            .ok_or_else(|| HttpError::InvalidRequest(format!("url {:?} has no port", url)))?;
        if !host_granted(&self.grants.http_hosts, &host, port) {
            return Err(HttpError::Denied(format!(
                "host {host}:{port} is not granted to this destination"
            )));
        }
        let method = reqwest::Method::from_bytes(request.method.as_bytes()).map_err(|_| {
            HttpError::InvalidRequest(format!("method {:?} is not valid", request.method))
        })?;
        if request.body.len() > self.limits.max_request_body {
            return Err(HttpError::TooLarge(format!(
                "request body of {} bytes exceeds {} bytes",
                request.body.len(),
                self.limits.max_request_body
            )));
        }
        let headers = self.headers(&request.headers)?;
        let body = self.form_body(&headers, request.body)?;

        let remaining = self.deadline.saturating_duration_since(Instant::now());
        let timeout = remaining.min(self.limits.request_timeout);
        if timeout.is_zero() {
            return Err(HttpError::Timeout("the call's time is used up".into()));
        }
        let max_response = self.limits.max_response_body;
        let client = if self.grants.allow_private_addresses {
            &self.clients.any_address
        } else {
            // A name is checked by the client's resolver when it connects; an IP literal
            // never reaches a resolver, so it is checked here.
            // (The url parser has normalised every IPv4 spelling, and brackets IPv6.)
            let literal = host.trim_start_matches('[').trim_end_matches(']');
            if let Ok(ip) = literal.parse::<IpAddr>()
                && !is_public(ip)
            {
                return Err(HttpError::Denied(refusal(&host, ip)));
            }
            &self.clients.public_only
        };
        {
            let mut response = client
                .request(method, url)
                .headers(headers)
                .body(body)
                .timeout(timeout)
                .send()
                .await
                .map_err(transport_error)?;
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
                if body.len() + chunk.len() > max_response {
                    return Err(HttpError::TooLarge(format!(
                        "response body exceeds {max_response} bytes"
                    )));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Response {
                status,
                headers,
                body,
            })
        }
    }

    fn headers(&self, pairs: &[(String, String)]) -> Result<HeaderMap, HttpError> {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| HttpError::InvalidRequest(format!("header name {name:?}")))?;
            // The host decides where a request goes and how long it is.
            if header == reqwest::header::HOST || header == reqwest::header::CONTENT_LENGTH {
                return Err(HttpError::InvalidRequest(format!(
                    "header {name:?} is set by the host"
                )));
            }
            let substituted = self.secrets.substitute(value).map_err(HttpError::Denied)?;
            let mut header_value = HeaderValue::from_str(&substituted).map_err(|_| {
                HttpError::InvalidRequest(format!("header {name:?} has an invalid value"))
            })?;
            // A header that carried a secret is kept out of reqwest's debug output.
            if substituted != *value {
                header_value.set_sensitive(true);
            }
            map.append(header, header_value);
        }
        Ok(map)
    }
}

impl HttpContext {
    /// A form-encoded body with its `{{secret:NAME}}` references replaced by the form-encoded
    /// secrets (any other body is sent as it is). reqwest never logs bodies; errors name only
    /// the reference.
    fn form_body(&self, headers: &HeaderMap, body: Vec<u8>) -> Result<Vec<u8>, HttpError> {
        let form = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.trim()
                    .to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded")
            });
        if !form || !body.windows(9).any(|w| w == b"{{secret:") {
            return Ok(body);
        }
        let text = String::from_utf8(body).map_err(|_| {
            HttpError::InvalidRequest("form body with a secret reference is not UTF-8".into())
        })?;
        let substituted = self
            .secrets
            .substitute_encoded(&text, form_encode)
            .map_err(HttpError::Denied)?;
        if substituted.len() > self.limits.max_request_body {
            return Err(HttpError::TooLarge(format!(
                "request body exceeds {} bytes",
                self.limits.max_request_body
            )));
        }
        Ok(substituted.into_bytes())
    }
}

/// `application/x-www-form-urlencoded` encoding of one value: unreserved characters stay, every
/// other byte is `%XX`.
fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn transport_error(e: reqwest::Error) -> HttpError {
    // The public-only resolver's refusal is a policy decision, not a network failure.
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        if let Some(refused) = s.downcast_ref::<AddressRefused>() {
            return HttpError::Denied(refused.0.clone());
        }
        source = s.source();
    }
    if e.is_timeout() {
        HttpError::Timeout(e.to_string())
    } else {
        // reqwest's Display hides the cause chain, which is what says what went wrong.
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        HttpError::Transport(message)
    }
}

/// `host` matches any port, `host:port` only that port; case-insensitive.
pub fn host_granted(grants: &[String], host: &str, port: u16) -> bool {
    let host = host.to_ascii_lowercase();
    let with_port = format!("{host}:{port}");
    grants.iter().any(|g| {
        let g = g.trim().to_ascii_lowercase();
        g == host || g == with_port
    })
}

/// Whether an address is globally routable, i.e. not loopback, private, link-local, shared,
/// documentation, benchmarking, multicast or otherwise reserved.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            let nat64 = s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0];
            if nat64 {
                let o = v6.octets();
                return is_public_v4(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || v6 == Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0))
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // shared address space 100.64/10
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // benchmarking 198.18/15
        || o[0] >= 240)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_addresses() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "64:ff9b::10.0.0.1",
        ] {
            let ip: IpAddr = private.parse().expect("address");
            assert!(!is_public(ip), "{private} must not count as public");
        }
        for public in ["93.184.216.34", "1.1.1.1", "2606:4700::1111"] {
            let ip: IpAddr = public.parse().expect("address");
            assert!(is_public(ip), "{public} is public");
        }
    }

    #[test]
    fn form_bodies_get_encoded_secrets_other_bodies_do_not() {
        let ctx = HttpContext {
            grants: Grants::default(),
            secrets: Arc::new(Secrets::new().with("client", "s3c&r=t +%")),
            limits: HttpLimits::default(),
            clients: Arc::new(HttpClients::new().expect("http clients")),
            deadline: Instant::now(),
            calls: 0,
        };
        let mut form = HeaderMap::new();
        form.insert(
            reqwest::header::CONTENT_TYPE,
            HeaderValue::from_static("Application/X-WWW-Form-Urlencoded; charset=utf-8"),
        );
        let body = b"grant_type=client_credentials&client_secret={{secret:client}}".to_vec();
        assert_eq!(
            ctx.form_body(&form, body.clone()).expect("substituted"),
            b"grant_type=client_credentials&client_secret=s3c%26r%3Dt%20%2B%25".to_vec()
        );
        let mut json = HeaderMap::new();
        json.insert(
            reqwest::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        assert_eq!(ctx.form_body(&json, body.clone()).expect("as is"), body);
        assert!(matches!(
            ctx.form_body(&form, b"a={{secret:other}}".to_vec()),
            Err(HttpError::Denied(m)) if m.contains("\"other\"")
        ));
    }

    #[test]
    fn grants_match_host_and_port() {
        let grants = vec![
            "Hooks.Example.org".to_string(),
            "127.0.0.1:8080".to_string(),
        ];
        assert!(host_granted(&grants, "hooks.example.org", 443));
        assert!(host_granted(&grants, "hooks.example.org", 8443));
        assert!(host_granted(&grants, "127.0.0.1", 8080));
        assert!(!host_granted(&grants, "127.0.0.1", 8081));
        assert!(!host_granted(&grants, "evil.example.org", 443));
        assert!(!host_granted(&grants, "hooks.example.org.evil.net", 443));
    }
}
