//! Destination configuration helpers shared by the channel plugins: parsing a destination's
//! JSON into the plugin's own `Config`, the [`Problems`] trait whose provided methods are the
//! bodies of `validate_config` and of the check at the start of `deliver`/`test`, and the checks
//! several channels make the same way (secret names, `http(s)://` URLs) with their messages.

use crate::{ConfigError, ConfigField, ConfigFieldKind, DeliveryError};
use serde::de::DeserializeOwned;

/// Parse a destination's JSON configuration into `T`, turning serde's complaint into a
/// [`ConfigError`] list the portal can show.
pub fn parse_config<T: DeserializeOwned>(config: &str) -> Result<T, Vec<ConfigError>> {
    serde_json::from_str(config).map_err(|e| {
        vec![ConfigError {
            field: String::new(),
            message: format!("configuration is not valid: {e}"),
        }]
    })
}

/// Like [`parse_config`] but for `deliver`/`test`, where a bad configuration is
/// [`DeliveryError::Misconfigured`].
pub fn config_or_misconfigured<T: DeserializeOwned>(config: &str) -> Result<T, DeliveryError> {
    parse_config(config).map_err(|errors| {
        DeliveryError::Misconfigured(
            errors
                .into_iter()
                .map(|e| e.message)
                .collect::<Vec<_>>()
                .join("; "),
        )
    })
}

/// A plugin's parsed configuration that can name what is wrong with it beyond what serde
/// checks. Implement [`Problems::problems`]; the provided methods are the whole of
/// `Channel::validate_config` and the parse-and-check every `deliver`/`test` starts with.
pub trait Problems: DeserializeOwned {
    /// Every problem of this configuration, each naming its field; empty when it is usable.
    fn problems(&self) -> Vec<ConfigError>;

    /// Parse `config` and return its problems (the body of `Channel::validate_config`).
    fn validate_config(config: &str) -> Result<(), Vec<ConfigError>> {
        let parsed: Self = parse_config(config)?;
        let problems = parsed.problems();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// Parse `config` for `deliver`/`test`: any problem is [`DeliveryError::Misconfigured`]
    /// listing `field: message` pairs.
    fn checked(config: &str) -> Result<Self, DeliveryError> {
        let parsed: Self = config_or_misconfigured(config)?;
        let problems = parsed.problems();
        if problems.is_empty() {
            Ok(parsed)
        } else {
            Err(DeliveryError::Misconfigured(describe_problems(&problems)))
        }
    }
}

/// Problems as one line, `field: message` joined by `; ` (the text of
/// [`DeliveryError::Misconfigured`] for a configuration that parses but is not usable).
pub fn describe_problems(problems: &[ConfigError]) -> String {
    problems
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A problem with configuration field `field`.
pub fn field_error(field: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        field: field.into(),
        message: message.into(),
    }
}

/// One entry of `PluginInfo::config_fields`.
pub fn field(name: &str, kind: ConfigFieldKind, required: bool, help: &str) -> ConfigField {
    ConfigField {
        name: name.into(),
        kind,
        required,
        help: help.into(),
    }
}

/// Herald secret names: non-empty ASCII letters, digits, `_`, `-` and `.`.
pub fn valid_secret_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

/// Record a problem on `field` when `name` is not a valid secret name.
pub fn check_secret_name(errors: &mut Vec<ConfigError>, field: &str, name: &str) {
    if !valid_secret_name(name) {
        errors.push(field_error(
            field,
            format!("secret name {name:?} must be non-empty letters, digits, '_', '-' or '.'"),
        ));
    }
}

/// What follows `https://` or `http://` in `url`; records a problem on `field` (named in the
/// message too) when it has neither scheme.
pub fn url_after_scheme<'a>(
    errors: &mut Vec<ConfigError>,
    field: &str,
    url: &'a str,
) -> Option<&'a str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    if rest.is_none() {
        errors.push(field_error(
            field,
            format!("{field} {url:?} must start with https:// (or http://)"),
        ));
    }
    rest
}

/// Check an `http(s)://` URL with a host (no user info, no spaces): records the problems on
/// `field` and returns what follows the scheme when the scheme is right (even when the host is
/// not), so the caller can check the rest.
pub fn check_url<'a>(errors: &mut Vec<ConfigError>, field: &str, url: &'a str) -> Option<&'a str> {
    let rest = url_after_scheme(errors, field, url)?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') || authority.contains(' ') {
        errors.push(field_error(
            field,
            format!("{field} {url:?} has no valid host"),
        ));
    }
    Some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Sample {
        url: String,
        #[serde(default)]
        secret: Option<String>,
    }

    impl Problems for Sample {
        fn problems(&self) -> Vec<ConfigError> {
            let mut errors = Vec::new();
            check_url(&mut errors, "url", &self.url);
            if let Some(name) = &self.secret {
                check_secret_name(&mut errors, "secret", name);
            }
            errors
        }
    }

    fn messages(errors: &[ConfigError]) -> Vec<(String, String)> {
        errors
            .iter()
            .map(|e| (e.field.clone(), e.message.clone()))
            .collect()
    }

    #[test]
    fn secret_names() {
        for good in ["a", "whsec_1", "x-y.z", "A9"] {
            assert!(valid_secret_name(good), "{good}");
        }
        for bad in ["", "a b", "a/b", "{{secret:x}}", "é"] {
            assert!(!valid_secret_name(bad), "{bad}");
        }
        let mut errors = Vec::new();
        check_secret_name(&mut errors, "token_secret", "a b");
        check_secret_name(&mut errors, "token_secret", "ok");
        assert_eq!(
            messages(&errors),
            [(
                "token_secret".to_string(),
                r#"secret name "a b" must be non-empty letters, digits, '_', '-' or '.'"#
                    .to_string()
            )]
        );
    }

    #[test]
    fn urls() {
        let mut errors = Vec::new();
        assert_eq!(
            check_url(&mut errors, "url", "https://h.example/p?q"),
            Some("h.example/p?q")
        );
        assert_eq!(
            check_url(&mut errors, "url", "http://127.0.0.1:8080"),
            Some("127.0.0.1:8080")
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(check_url(&mut errors, "base_url", "ftp://h"), None);
        assert_eq!(
            check_url(&mut errors, "url", "https://user@h/"),
            Some("user@h/")
        );
        assert_eq!(check_url(&mut errors, "url", "https:///p"), Some("/p"));
        assert_eq!(
            messages(&errors),
            [
                (
                    "base_url".to_string(),
                    r#"base_url "ftp://h" must start with https:// (or http://)"#.to_string()
                ),
                (
                    "url".to_string(),
                    r#"url "https://user@h/" has no valid host"#.to_string()
                ),
                (
                    "url".to_string(),
                    r#"url "https:///p" has no valid host"#.to_string()
                ),
            ]
        );
    }

    #[test]
    fn problems_drive_validate_and_checked() {
        assert!(Sample::validate_config(r#"{"url": "https://h"}"#).is_ok());
        assert!(Sample::checked(r#"{"url": "https://h"}"#).is_ok());

        let errors = match Sample::validate_config(r#"{"url": "h", "secret": ""}"#) {
            Err(errors) => errors,
            Ok(()) => panic!("a bad url and secret must be refused"),
        };
        assert_eq!(errors.len(), 2);
        match Sample::checked(r#"{"url": "h", "secret": ""}"#) {
            Err(DeliveryError::Misconfigured(m)) => assert_eq!(
                m,
                "url: url \"h\" must start with https:// (or http://); \
                 secret: secret name \"\" must be non-empty letters, digits, '_', '-' or '.'"
            ),
            other => panic!("expected misconfigured, got {other:?}"),
        }

        match Sample::validate_config(r#"{"url": "https://h", "extra": 1}"#) {
            Err(errors) => {
                assert_eq!(errors.len(), 1);
                assert_eq!(errors[0].field, "");
                assert!(
                    errors[0]
                        .message
                        .starts_with("configuration is not valid: unknown field `extra`"),
                    "{}",
                    errors[0].message
                );
            }
            Ok(()) => panic!("unknown fields must be refused"),
        }
        assert!(matches!(
            Sample::checked("not json"),
            Err(DeliveryError::Misconfigured(m)) if m.starts_with("configuration is not valid: ")
        ));
    }
}
