//! Guest SDK for Herald channel plugins. It owns the generated `herald:delivery@0.1.0`
//! bindings (world `channel`) and a small layer over them so a plugin author writes plain Rust:
//! implement [`Channel`], call [`export_channel!`], use [`http`], [`smtp`], [`tcp`],
//! [`signing`], [`log`] and [`now_millis`]. A built component imports only the capabilities
//! its code actually calls. What channels share beyond the capabilities lives here too, once:
//! configuration parsing and checks ([`config`], [`Problems`]), UTC calendar time ([`time`]),
//! HTTP answer classification and query encoding ([`http`]), the OAuth 2.0 client-credentials
//! token fetch ([`oauth`]).
//!
//! ```ignore
//! struct MyChannel;
//! impl herald_plugin_sdk::Channel for MyChannel { /* describe, validate_config, deliver, test */ }
//! herald_plugin_sdk::export_channel!(MyChannel);
//! ```

// The generated code names the runtime by this crate's path so that plugin crates need no
// direct wit-bindgen dependency; this makes that path resolve inside the SDK too.
extern crate self as herald_plugin_sdk;

#[doc(hidden)]
pub use wit_bindgen;

/// The raw generated bindings (imports and export traits), for what the helpers do not cover.
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit/since_v0.1.0",
        world: "channel",
        pub_export_macro: true,
        export_macro_name: "export_channel_raw",
        default_bindings_module: "herald_plugin_sdk::bindings",
        runtime_path: "herald_plugin_sdk::wit_bindgen::rt",
    });
}

pub use bindings::Guest as Channel;
pub use bindings::herald::delivery::types::{
    ConfigError, ConfigField, ConfigFieldKind, DeliveryError, Notification, NotifiedProduct,
    PluginInfo, Receipt, RenderedMessage,
};

/// Export `$ty` (which implements [`Channel`]) as the component's `channel` world.
#[macro_export]
macro_rules! export_channel {
    ($ty:ident) => {
        $crate::bindings::export_channel_raw!($ty with_types_in $crate::bindings);
    };
}

pub mod config;
pub mod oauth;
pub mod time;

pub use config::{Problems, config_or_misconfigured, parse_config};

/// Whether a notification's TLP label keeps the advisory's details (title, CVEs, products,
/// summary) out of a channel's message: every label but none, WHITE and CLEAR. Channels whose
/// messages land in shared systems (integration-engine logs, EHR inboxes) send such a notice
/// as a summary and the portal link, where the reader signs in.
pub fn tlp_restricted(tlp: &str) -> bool {
    let tlp = tlp.trim().to_ascii_uppercase();
    let tlp = tlp.strip_prefix("TLP:").unwrap_or(&tlp);
    !(tlp.is_empty() || tlp == "WHITE" || tlp == "CLEAR")
}

/// Milliseconds since the Unix epoch (the `clock` capability).
pub fn now_millis() -> u64 {
    bindings::herald::delivery::clock::now()
}

/// The `log` capability. The host tags every line with plugin, destination and delivery id
/// and redacts secrets, so plugins log plainly.
pub mod log {
    use crate::bindings::herald::delivery::log::{Level, log};

    pub fn debug(message: &str) {
        log(Level::Debug, message);
    }
    pub fn info(message: &str) {
        log(Level::Info, message);
    }
    pub fn warn(message: &str) {
        log(Level::Warn, message);
    }
    pub fn error(message: &str) {
        log(Level::Error, message);
    }
}

/// The `http` capability with helpers for the usual JSON POST and for classifying answers.
pub mod http {
    pub use crate::bindings::herald::delivery::http::{HttpError, Request, Response};
    use crate::{DeliveryError, Receipt};

    /// Reference a secret held by Herald in a header value; the host substitutes it.
    pub fn secret_ref(name: &str) -> String {
        format!("{{{{secret:{name}}}}}")
    }

    /// Send a request through the host.
    pub fn send(request: &Request) -> Result<Response, HttpError> {
        crate::bindings::herald::delivery::http::send(request)
    }

    /// POST exact `body` bytes with `content-type` and extra headers (for bodies that are
    /// signed, where the bytes sent must be the bytes signed).
    pub fn post_bytes(
        url: &str,
        content_type: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Response, HttpError> {
        let mut all: Vec<(String, String)> = vec![("content-type".into(), content_type.into())];
        all.extend(headers.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        send(&Request {
            method: "POST".into(),
            url: url.into(),
            headers: all,
            body,
        })
    }

    /// POST `body` as `application/json` with extra headers.
    pub fn post_json(
        url: &str,
        headers: &[(&str, &str)],
        body: &serde_json::Value,
    ) -> Result<Response, HttpError> {
        let body = serde_json::to_vec(body)
            .map_err(|e| HttpError::InvalidRequest(format!("cannot encode body: {e}")))?;
        post_bytes(url, "application/json", headers, body)
    }

    /// Percent-encode a URL path segment or query parameter value: RFC 3986 unreserved
    /// characters stay as they are, every other byte becomes `%XX`.
    pub fn percent_encode(value: &str) -> String {
        let mut out = String::with_capacity(value.len());
        for byte in value.bytes() {
            if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
                out.push(char::from(byte));
            } else {
                out.push_str(&format!("%{byte:02X}"));
            }
        }
        out
    }

    impl Response {
        /// First value of header `name` (case-insensitive).
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }

        /// The usual HTTP receiver classification: 2xx accepted, 429 with a delta-seconds
        /// `Retry-After` -> retry-after (without it: retryable), 408/5xx retryable, other 4xx
        /// (and anything else) permanent.
        pub fn classify(&self, remote_id: Option<String>) -> Result<Receipt, DeliveryError> {
            let excerpt = body_excerpt(&self.body);
            match self.status {
                200..=299 => Ok(Receipt {
                    remote_id,
                    detail: format!("HTTP {}", self.status),
                }),
                429 => {
                    let message = format!("HTTP 429 rate limited: {excerpt}");
                    match self
                        .header("retry-after")
                        .and_then(|v| v.trim().parse::<u32>().ok())
                    {
                        Some(seconds) => Err(DeliveryError::RetryAfter((seconds, message))),
                        None => Err(DeliveryError::Retryable(message)),
                    }
                }
                408 | 500..=599 => Err(DeliveryError::Retryable(format!(
                    "HTTP {}: {excerpt}",
                    self.status
                ))),
                status => Err(DeliveryError::Permanent(format!(
                    "HTTP {status}: {excerpt}"
                ))),
            }
        }
    }

    impl From<HttpError> for DeliveryError {
        /// Policy refusals need an operator; malformed requests are the plugin's or the
        /// configuration's fault; the rest is worth another try.
        fn from(e: HttpError) -> Self {
            match e {
                HttpError::Denied(m) => DeliveryError::Misconfigured(format!("http denied: {m}")),
                HttpError::InvalidRequest(m) => {
                    DeliveryError::Misconfigured(format!("invalid http request: {m}"))
                }
                HttpError::Timeout(m) => DeliveryError::Retryable(format!("http timeout: {m}")),
                HttpError::Transport(m) => DeliveryError::Retryable(format!("http transport: {m}")),
                HttpError::TooLarge(m) => DeliveryError::Permanent(format!("http too large: {m}")),
            }
        }
    }

    /// At most 200 characters of a response body, for error messages.
    fn body_excerpt(body: &[u8]) -> String {
        let text = String::from_utf8_lossy(body);
        let mut out: String = text.chars().take(200).collect();
        if text.chars().count() > 200 {
            out.push('…');
        }
        out
    }
}

/// The `smtp` capability: Herald's relay sends what the plugin composes.
pub mod smtp {
    use crate::DeliveryError;
    pub use crate::bindings::herald::delivery::smtp::{Message, SmtpError};

    /// Send one mail; returns the relay's final reply.
    pub fn send(message: &Message) -> Result<String, SmtpError> {
        crate::bindings::herald::delivery::smtp::send(message)
    }

    impl From<SmtpError> for DeliveryError {
        /// 5xx is for good, 4xx and transport trouble are worth another try, a refusal by the
        /// host's policy needs an operator.
        fn from(e: SmtpError) -> Self {
            match e {
                SmtpError::Denied(m) => DeliveryError::Misconfigured(format!("smtp denied: {m}")),
                SmtpError::Rejected(m) => {
                    DeliveryError::Permanent(format!("smtp relay rejected the mail: {m}"))
                }
                SmtpError::Transient(m) => {
                    DeliveryError::Retryable(format!("smtp temporary failure: {m}"))
                }
            }
        }
    }
}

/// The `tcp` capability: one request/reply exchange with a granted `host:port`.
pub mod tcp {
    pub use crate::bindings::herald::delivery::tcp::{ExchangeRequest, TcpError};

    /// Connect, write `request.payload`, read until `request.read-until`, close.
    pub fn exchange(request: &ExchangeRequest) -> Result<Vec<u8>, TcpError> {
        crate::bindings::herald::delivery::tcp::exchange(request)
    }
}

/// The `signing` capability: MACs keyed by secrets only Herald holds.
pub mod signing {
    use crate::DeliveryError;
    pub use crate::bindings::herald::delivery::signing::SigningError;

    /// HMAC-SHA256 of `data` keyed by the secret named `secret_ref` (a `whsec_` secret by its
    /// base64-decoded bytes).
    pub fn hmac_sha256(secret_ref: &str, data: &[u8]) -> Result<Vec<u8>, SigningError> {
        crate::bindings::herald::delivery::signing::hmac_sha256(secret_ref, data)
    }

    impl From<SigningError> for DeliveryError {
        fn from(e: SigningError) -> Self {
            match e {
                SigningError::Denied(m) => {
                    DeliveryError::Misconfigured(format!("signing denied: {m}"))
                }
            }
        }
    }

    /// Standard base64 (RFC 4648, with padding), as Standard Webhooks signatures use it.
    pub fn base64(bytes: &[u8]) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                chunk.get(1).copied().unwrap_or(0),
                chunk.get(2).copied().unwrap_or(0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::http::{HttpError, Response};
    use super::{DeliveryError, Receipt};

    fn response(status: u16, headers: &[(&str, &str)]) -> Response {
        Response {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: b"body".to_vec(),
        }
    }

    #[test]
    fn classifies_http_answers() {
        match response(204, &[]).classify(Some("id".into())) {
            Ok(Receipt { remote_id, detail }) => {
                assert_eq!(remote_id.as_deref(), Some("id"));
                assert_eq!(detail, "HTTP 204");
            }
            Err(e) => panic!("204 must be accepted: {e:?}"),
        }
        assert!(matches!(
            response(429, &[("Retry-After", " 17 ")]).classify(None),
            Err(DeliveryError::RetryAfter((17, _)))
        ));
        // An HTTP-date Retry-After is not understood: plain retryable, the engine backs off.
        assert!(matches!(
            response(429, &[("retry-after", "Wed, 21 Oct 2026 07:28:00 GMT")]).classify(None),
            Err(DeliveryError::Retryable(_))
        ));
        for status in [408, 500, 502, 503] {
            assert!(matches!(
                response(status, &[]).classify(None),
                Err(DeliveryError::Retryable(_))
            ));
        }
        for status in [301, 400, 401, 404, 410, 422] {
            assert!(matches!(
                response(status, &[]).classify(None),
                Err(DeliveryError::Permanent(m)) if m.contains(&status.to_string())
            ));
        }
    }

    #[test]
    fn percent_encodes_all_but_unreserved() {
        use super::http::percent_encode;
        assert_eq!(percent_encode("aZ09-._~"), "aZ09-._~");
        assert_eq!(
            percent_encode("urn:ietf:rfc:3986|urn:uuid:1 2"),
            "urn%3Aietf%3Arfc%3A3986%7Curn%3Auuid%3A1%202"
        );
        assert_eq!(
            percent_encode("correlation_id=A/é"),
            "correlation_id%3DA%2F%C3%A9"
        );
    }

    #[test]
    fn base64_matches_rfc4648() {
        use super::signing::base64;
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected);
        }
        assert_eq!(base64(&[0xfb, 0xff]), "+/8=");
    }

    #[test]
    fn maps_http_errors() {
        assert!(matches!(
            DeliveryError::from(HttpError::Denied("x".into())),
            DeliveryError::Misconfigured(_)
        ));
        assert!(matches!(
            DeliveryError::from(HttpError::Transport("x".into())),
            DeliveryError::Retryable(_)
        ));
        assert!(matches!(
            DeliveryError::from(HttpError::Timeout("x".into())),
            DeliveryError::Retryable(_)
        ));
    }
}
