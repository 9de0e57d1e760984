//! OAuth 2.0 client-credentials grant (RFC 6749 section 4.4) without holding the client secret:
//! the token request is a form-encoded POST whose `client_secret` is a `{{secret:NAME}}`
//! reference, which the host substitutes (form-encoded) on its way out. The plugin only ever
//! sees the short-lived access token in the answer. The plugin asks for a token on every call
//! (each runs in a fresh instance and keeps nothing); the host answers from its token cache
//! while the last answer for the same destination and request is still valid, so the token
//! endpoint sees one request per token lifetime.

use crate::config::{check_secret_name, check_url, field_error};
use crate::http::{self, Request, percent_encode, secret_ref};
use crate::{ConfigError, DeliveryError};
use serde::Deserialize;
use serde_json::Value;

/// A destination's OAuth client: where to get tokens and with which client.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ClientCredentials {
    /// Token endpoint, e.g. `https://acme.service-now.com/oauth_token.do`; its host must be
    /// granted to the destination like the API's.
    pub token_url: String,
    pub client_id: String,
    /// Name of the Herald secret holding the client secret.
    pub client_secret_secret: String,
    /// Optional `scope` parameter.
    #[serde(default)]
    pub scope: Option<String>,
}

impl ClientCredentials {
    /// Problems of this block, reported on `field` (the block's name in the configuration).
    pub fn problems(&self, field: &str) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if let Some(rest) = check_url(&mut errors, field, &self.token_url)
            && rest.contains('#')
        {
            errors.push(field_error(field, "token_url must not have a fragment"));
        }
        if self.client_id.trim().is_empty() {
            errors.push(field_error(field, "client_id must not be empty"));
        }
        check_secret_name(&mut errors, field, &self.client_secret_secret);
        errors
    }

    /// The form body of the token request (the secret as a reference).
    pub fn request_body(&self) -> String {
        let mut body = format!(
            "grant_type=client_credentials&client_id={}&client_secret={}",
            percent_encode(&self.client_id),
            secret_ref(&self.client_secret_secret)
        );
        if let Some(scope) = self.scope.as_deref().filter(|s| !s.is_empty()) {
            body.push_str("&scope=");
            body.push_str(&percent_encode(scope));
        }
        body
    }

    /// Fetch an access token. A refusal of the client (400/401/403, e.g. `invalid_client`) is
    /// misconfigured; 429, 408, 5xx and transport trouble are retryable.
    pub fn fetch_token(&self) -> Result<String, DeliveryError> {
        let response = http::send(&Request {
            method: "POST".into(),
            url: self.token_url.clone(),
            headers: vec![
                (
                    "content-type".into(),
                    "application/x-www-form-urlencoded".into(),
                ),
                ("accept".into(), "application/json".into()),
            ],
            body: self.request_body().into_bytes(),
        })?;
        match response.status {
            200..=299 => access_token(&response.body),
            400 | 401 | 403 => Err(DeliveryError::Misconfigured(format!(
                "OAuth token endpoint refused client {:?} (HTTP {}): {}; check the client id and secret",
                self.client_id,
                response.status,
                oauth_error(&response.body)
            ))),
            _ => response
                .classify(None)
                .map(|_| String::new())
                .map_err(|e| match e {
                    DeliveryError::Retryable(m) => {
                        DeliveryError::Retryable(format!("OAuth token: {m}"))
                    }
                    DeliveryError::RetryAfter((s, m)) => {
                        DeliveryError::RetryAfter((s, format!("OAuth token: {m}")))
                    }
                    DeliveryError::Permanent(m) => {
                        DeliveryError::Misconfigured(format!("OAuth token: {m}"))
                    }
                    other => other,
                }),
        }
    }
}

/// `access_token` of a token response: a non-empty string usable in a header, with a
/// `token_type` of Bearer when one is given.
pub fn access_token(body: &[u8]) -> Result<String, DeliveryError> {
    let bad = |why: &str| {
        DeliveryError::Retryable(format!(
            "OAuth token endpoint answered without a usable token: {why}"
        ))
    };
    let value: Value = serde_json::from_slice(body).map_err(|_| bad("not JSON"))?;
    if let Some(kind) = value.get("token_type").and_then(Value::as_str)
        && !kind.eq_ignore_ascii_case("bearer")
    {
        return Err(DeliveryError::Misconfigured(format!(
            "OAuth token endpoint issued a {kind:?} token; only Bearer is supported"
        )));
    }
    let token = value
        .get("access_token")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("no access_token"))?;
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad("access_token is empty or not printable ASCII"));
    }
    Ok(token.to_string())
}

/// `error` and `error_description` of an OAuth error body (RFC 6749 5.2), or an excerpt.
fn oauth_error(body: &[u8]) -> String {
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        let error = value.get("error").and_then(Value::as_str).unwrap_or("");
        let description = value
            .get("error_description")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !error.is_empty() || !description.is_empty() {
            return format!("{error} {description}").trim().to_string();
        }
    }
    String::from_utf8_lossy(body).chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> ClientCredentials {
        ClientCredentials {
            token_url: "https://acme.service-now.com/oauth_token.do".into(),
            client_id: "id with&=".into(),
            client_secret_secret: "sn_client_secret".into(),
            scope: Some("useraccount system/Communication.write".into()),
        }
    }

    #[test]
    fn body_references_the_secret_and_encodes_the_rest() {
        assert_eq!(
            client().request_body(),
            "grant_type=client_credentials&client_id=id%20with%26%3D\
             &client_secret={{secret:sn_client_secret}}\
             &scope=useraccount%20system%2FCommunication.write"
        );
        assert!(client().problems("oauth").is_empty());
        let mut bad = client();
        bad.token_url = "ftp://x".into();
        bad.client_id = " ".into();
        bad.client_secret_secret = "a b".into();
        assert_eq!(bad.problems("oauth").len(), 3);
    }

    #[test]
    fn reads_token_responses() {
        let ok = br#"{"access_token":"tok-1","scope":"useraccount","token_type":"Bearer","expires_in":1799}"#;
        assert_eq!(access_token(ok).ok().as_deref(), Some("tok-1"));
        assert!(matches!(
            access_token(br#"{"access_token":"t","token_type":"mac"}"#),
            Err(DeliveryError::Misconfigured(_))
        ));
        for bad in [
            &b"nope"[..],
            br#"{"token_type":"Bearer"}"#,
            br#"{"access_token":"a\r\nb"}"#,
        ] {
            assert!(matches!(
                access_token(bad),
                Err(DeliveryError::Retryable(_))
            ));
        }
        assert_eq!(
            oauth_error(br#"{"error":"invalid_client","error_description":"bad secret"}"#),
            "invalid_client bad secret"
        );
    }
}
