//! The host side of the `http` capability: the only way a plugin reaches the network over http.
//!
//! Every request must target a host granted to the destination (`host` matches any port,
//! `host:port` only that port), use https unless both the operator's outbound policy and the
//! destination allow plain http to that host, and resolve only to addresses the effective
//! policy allows (public ones, plus the operator's private ranges where the destination allows
//! private addresses; see [`crate::outbound`]). The address check is made on the addresses
//! actually connected to: each client's resolver refuses any name with an answer outside its
//! rule (and IP-literal hosts are checked before sending), so a second DNS answer cannot slip
//! past and every pooled connection of that client was made to a checked address. No redirects
//! are followed (a redirect could lead to an ungranted host) and no proxy is used.
//!
//! The clients ([`HttpClients`]) are shared by all calls of a host: connections are pooled and
//! kept alive across deliveries, while grants and caps are still checked per request. They
//! trust the operator's roots ([`crate::tls`]); a destination with a pinned CA gets a client
//! trusting exactly that CA (one per pin and address rule, cached).
//! Calls per invocation, body sizes and time are capped. `{{secret:NAME}}` in header values, and
//! in `application/x-www-form-urlencoded` request bodies (form-encoded there: OAuth token
//! requests), is replaced here, so the plugin never holds the secret.
//!
//! OAuth client-credentials token answers are kept ([`TokenCache`]): a plugin runs in a fresh
//! instance per call and cannot keep a token itself.

use crate::bindings::herald::delivery::http::{HttpError, Request, Response};
use crate::outbound::{INSECURE_HTTP_SETTING, OutboundPolicy, Reach};
use crate::secrets::Secrets;
use crate::tls::{Pin, TlsRoots};
use herald_channel::Grants;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
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

/// The host's shared HTTP clients, one per address rule, so that a connection made for a
/// destination allowed private addresses is never reused for one that is not.
pub(crate) struct HttpClients {
    policy: Arc<OutboundPolicy>,
    /// Connects only to public addresses.
    public_only: reqwest::Client,
    /// Public addresses and the operator's private ranges, for destinations allowing private
    /// addresses.
    with_private: reqwest::Client,
    /// Clients trusting exactly one destination's pinned CA: by the pin's SHA-256 and whether
    /// private addresses are allowed.
    pinned: Mutex<HashMap<([u8; 32], bool), reqwest::Client>>,
    pub tokens: TokenCache,
}

/// How long an idle pooled connection may be reused: below the 5 s keep-alive of common
/// servers.
const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(4);

/// Pinned clients kept at most; past it the cache starts over.
const MAX_PINNED_CLIENTS: usize = 64;

impl HttpClients {
    pub fn new(policy: Arc<OutboundPolicy>, tls: &TlsRoots) -> Result<Self, String> {
        let operator_roots = tls.rustls_config();
        Ok(Self {
            public_only: build_client(&policy, false, &operator_roots)?,
            with_private: build_client(&policy, true, &operator_roots)?,
            policy,
            pinned: Mutex::new(HashMap::new()),
            tokens: TokenCache::default(),
        })
    }

    /// The client for a destination's address rule and CA pin.
    fn client(&self, allow_private: bool, pin: Option<&Pin>) -> Result<reqwest::Client, String> {
        let Some(pin) = pin else {
            return Ok(if allow_private {
                self.with_private.clone()
            } else {
                self.public_only.clone()
            });
        };
        let mut pinned = self.pinned.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(client) = pinned.get(&(pin.sha256, allow_private)) {
            return Ok(client.clone());
        }
        let client = build_client(&self.policy, allow_private, &pin.rustls)?;
        if pinned.len() >= MAX_PINNED_CLIENTS {
            pinned.clear();
        }
        pinned.insert((pin.sha256, allow_private), client.clone());
        Ok(client)
    }
}

fn build_client(
    policy: &Arc<OutboundPolicy>,
    allow_private: bool,
    tls: &tokio_rustls::rustls::ClientConfig,
) -> Result<reqwest::Client, String> {
    let resolver = PolicyResolver(Reach {
        operator: policy.clone(),
        destination_allows_private: allow_private,
    });
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        // Deliveries to one receiver come in bursts; keep connections warm between
        // them, but for less time than common receivers keep an idle connection open
        // (5 s in Node.js, Apache httpd and actix-web). Otherwise a request can be
        // written into a connection the receiver is closing at that moment and fail
        // with "connection closed before message completed" (hyperium/hyper#2136):
        // retried later, but a spurious failure that counts against the destination.
        .pool_idle_timeout(IDLE_CONNECTION_TIMEOUT)
        .dns_resolver(Arc::new(resolver))
        // The same roots (and explanations of refused certificates) as smtp and tcp.
        .use_preconfigured_tls(tls.clone())
        .build()
        .map_err(|e| format!("cannot build the http client: {e}"))
}

/// OAuth 2.0 client-credentials token answers (RFC 6749 section 4.4), replayed to later calls
/// until shortly before they expire. Without it every delivery to a ServiceNow or FHIR
/// destination would fetch a token first, and token endpoints are rate-limited.
///
/// An entry is one destination's exact request: the URL and a SHA-256 of the body as sent (with
/// the secret substituted), so another client, scope or a rotated secret is another entry and
/// the key holds no secret. Only `200` answers with an `access_token` and an `expires_in` of at
/// least two minutes are kept, for `expires_in` less one minute. A `401` from any other request
/// of the destination drops its tokens (a token revoked before its time).
#[derive(Default)]
pub(crate) struct TokenCache {
    entries: Mutex<HashMap<TokenKey, CachedToken>>,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct TokenKey {
    destination: String,
    url: String,
    body_sha256: [u8; 32],
}

struct CachedToken {
    until: Instant,
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Tokens kept at most (one per destination and client, normally): past it, expired ones go,
/// and if that is not enough, all.
const MAX_TOKENS: usize = 4096;

impl TokenCache {
    fn key(destination: &str, url: &str, body: &[u8]) -> TokenKey {
        TokenKey {
            destination: destination.to_string(),
            url: url.to_string(),
            body_sha256: Sha256::digest(body).into(),
        }
    }

    fn get(&self, key: &TokenKey) -> Option<Response> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .filter(|t| Instant::now() < t.until)
            .map(|t| Response {
                status: t.status,
                headers: t.headers.clone(),
                body: t.body.clone(),
            })
    }

    /// Keeps `response` for `key` when it is a token answer worth keeping.
    fn offer(&self, key: TokenKey, response: &Response) {
        if response.status != 200 {
            return;
        }
        let Ok(answer) = serde_json::from_slice::<serde_json::Value>(&response.body) else {
            return;
        };
        let expires_in = answer.get("expires_in").and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        });
        let has_token = answer
            .get("access_token")
            .and_then(serde_json::Value::as_str)
            .is_some_and(|t| !t.is_empty());
        let Some(expires_in) = expires_in.filter(|e| *e >= 120 && has_token) else {
            return;
        };
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_TOKENS {
            let now = Instant::now();
            entries.retain(|_, t| t.until > now);
            if entries.len() >= MAX_TOKENS {
                entries.clear();
            }
        }
        entries.insert(
            key,
            CachedToken {
                until: Instant::now() + Duration::from_secs(expires_in - 60),
                status: response.status,
                headers: response.headers.clone(),
                body: response.body.clone(),
            },
        );
    }

    fn forget_destination(&self, destination: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|k, _| k.destination != destination);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }
}

/// A name that resolved to an address the effective outbound policy does not allow.
#[derive(Debug)]
struct AddressRefused(String);

impl std::fmt::Display for AddressRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AddressRefused {}

/// The resolver of every client: the system resolver, refusing the whole answer when any
/// address in it is outside the client's rule. It runs at connect time, so the check is on the
/// addresses the connection is actually made to.
struct PolicyResolver(Reach);

impl reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        let reach = self.0.clone();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if addrs.is_empty() {
                return Err(format!("{host} has no addresses").into());
            }
            if let Err(refusal) = reach.check(&host, &addrs) {
                return Err(
                    Box::new(AddressRefused(refusal)) as Box<dyn std::error::Error + Send + Sync>
                );
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// What one invocation may do over http; lives in the call's `Store`.
pub(crate) struct HttpContext {
    /// Whose call this is: scopes the token cache.
    pub destination_id: String,
    pub grants: Grants,
    /// The destination's pinned CA, if it has one (`Err`: its `tls_ca_pem` is unusable).
    pub pin: Result<Option<Arc<Pin>>, String>,
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
        if !matches!(url.scheme(), "https" | "http") {
            return Err(HttpError::InvalidRequest(format!(
                "scheme {:?} is not http or https",
                url.scheme()
            )));
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
        if url.scheme() == "http" {
            // The operator's policy first: it decides; the destination can only narrow it.
            if !self.clients.policy.allows_insecure_http(&host, port) {
                return Err(HttpError::Denied(format!(
                    "plain http to {host} is not allowed by the operator's outbound policy \
                     ({INSECURE_HTTP_SETTING}); use https"
                )));
            }
            if !self.grants.allow_insecure_http {
                return Err(HttpError::Denied(format!(
                    "plain http to {host} is not allowed for this destination (use https)"
                )));
            }
        }
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
        let token_request = method == reqwest::Method::POST
            && is_form(&headers)
            && request
                .body
                .windows(29)
                .any(|w| w == b"grant_type=client_credentials");
        let body = self.form_body(&headers, request.body)?;
        let token_key =
            token_request.then(|| TokenCache::key(&self.destination_id, url.as_str(), &body));
        if let Some(cached) = token_key.as_ref().and_then(|k| self.clients.tokens.get(k)) {
            return Ok(cached);
        }

        let remaining = self.deadline.saturating_duration_since(Instant::now());
        let timeout = remaining.min(self.limits.request_timeout);
        if timeout.is_zero() {
            return Err(HttpError::Timeout("the call's time is used up".into()));
        }
        let max_response = self.limits.max_response_body;
        // A name is checked by the client's resolver when it connects; an IP literal
        // never reaches a resolver, so it is checked here.
        // (The url parser has normalised every IPv4 spelling, and brackets IPv6.)
        let reach = Reach {
            operator: self.clients.policy.clone(),
            destination_allows_private: self.grants.allow_private_addresses,
        };
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = literal.parse::<IpAddr>() {
            reach.check_ip(&host, ip).map_err(HttpError::Denied)?;
        }
        let pin = self.pin.clone().map_err(HttpError::Denied)?;
        let client = self
            .clients
            .client(self.grants.allow_private_addresses, pin.as_deref())
            .map_err(HttpError::Denied)?;
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
            let response = Response {
                status,
                headers,
                body,
            };
            match token_key {
                Some(key) => self.clients.tokens.offer(key, &response),
                None if status == 401 => {
                    self.clients.tokens.forget_destination(&self.destination_id)
                }
                None => {}
            }
            Ok(response)
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

/// Whether the request's content type is `application/x-www-form-urlencoded`.
fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
}

impl HttpContext {
    /// A form-encoded body with its `{{secret:NAME}}` references replaced by the form-encoded
    /// secrets (any other body is sent as it is). reqwest never logs bodies; errors name only
    /// the reference.
    fn form_body(&self, headers: &HeaderMap, body: Vec<u8>) -> Result<Vec<u8>, HttpError> {
        if !is_form(headers) || !body.windows(9).any(|w| w == b"{{secret:") {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn token_answers_are_kept_per_destination_and_request() {
        let cache = TokenCache::default();
        let url = "https://sn.example/oauth_token.do";
        let key = TokenCache::key("a", url, b"grant_type=client_credentials&client_secret=x");
        let good = answer(200, r#"{"access_token": "t1", "expires_in": 1799}"#);
        cache.offer(key.clone(), &good);
        assert_eq!(cache.get(&key).map(|r| r.body), Some(good.body.clone()));
        // Another destination, another secret: other entries.
        assert!(
            cache
                .get(&TokenCache::key(
                    "b",
                    url,
                    b"grant_type=client_credentials&client_secret=x"
                ))
                .is_none()
        );
        assert!(
            cache
                .get(&TokenCache::key(
                    "a",
                    url,
                    b"grant_type=client_credentials&client_secret=y"
                ))
                .is_none()
        );
        // Not worth keeping: refusals, short-lived or token-less answers.
        for (status, body) in [
            (401, r#"{"error": "access_denied"}"#),
            (200, r#"{"access_token": "t2", "expires_in": 90}"#),
            (200, r#"{"expires_in": 1799}"#),
            (200, "not json"),
        ] {
            let other = TokenCache::key("c", url, body.as_bytes());
            cache.offer(other.clone(), &answer(status, body));
            assert!(cache.get(&other).is_none(), "{status} {body}");
        }
        assert_eq!(cache.len(), 1);
        cache.forget_destination("a");
        assert!(cache.get(&key).is_none());
    }

    #[test]
    fn form_bodies_get_encoded_secrets_other_bodies_do_not() {
        let ctx = HttpContext {
            destination_id: "dest".into(),
            grants: Grants::default(),
            pin: Ok(None),
            secrets: Arc::new(Secrets::new().with("client", "s3c&r=t +%")),
            limits: HttpLimits::default(),
            clients: Arc::new(
                HttpClients::new(
                    Arc::default(),
                    &TlsRoots::new(&crate::tls::SystemRoots::Off, &[]).expect("roots"),
                )
                .expect("http clients"),
            ),
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
