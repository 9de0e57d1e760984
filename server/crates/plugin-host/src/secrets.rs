//! Secrets handed to the host for one call: substituted into `{{secret:NAME}}` header values
//! and redacted from everything a plugin can make the host write (logs, receipts, errors).

use herald_channel::DestinationConfig;
use std::collections::BTreeMap;
use std::fmt;

/// Name -> value. Its `Debug` never shows values.
#[derive(Clone, Default)]
pub struct Secrets(BTreeMap<String, String>);

impl Secrets {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.insert(name, value);
        self
    }

    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.insert(name.into(), value.into());
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Replace every occurrence of a secret's value in `text` with `[secret:NAME]`. Longer
    /// values go first so a secret containing another is redacted whole.
    pub fn redact(&self, text: &str) -> String {
        let mut entries: Vec<(&String, &String)> =
            self.0.iter().filter(|(_, v)| !v.is_empty()).collect();
        entries.sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
        let mut out = text.to_string();
        for (name, value) in entries {
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), &format!("[secret:{name}]"));
            }
        }
        out
    }

    /// Substitute every `{{secret:NAME}}` in `value`. An unknown name is an error naming it.
    pub fn substitute(&self, value: &str) -> Result<String, String> {
        self.substitute_encoded(value, str::to_string)
    }

    /// Like [`Secrets::substitute`], with each secret passed through `encode` first (e.g.
    /// form-urlencoding for a request body).
    pub fn substitute_encoded(
        &self,
        value: &str,
        encode: impl Fn(&str) -> String,
    ) -> Result<String, String> {
        const OPEN: &str = "{{secret:";
        let mut out = String::with_capacity(value.len());
        let mut rest = value;
        while let Some(start) = rest.find(OPEN) {
            out.push_str(&rest[..start]);
            let after = &rest[start + OPEN.len()..];
            let end = after
                .find("}}")
                .ok_or_else(|| format!("unterminated {OPEN}...}} reference"))?;
            let name = &after[..end];
            let secret = self
                .get(name)
                .ok_or_else(|| format!("secret {name:?} is not available to this destination"))?;
            out.push_str(&encode(secret));
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// Where [`WasmChannel`](crate::WasmChannel) gets the secrets of a destination for a delivery.
pub trait SecretSource: Send + Sync {
    fn secrets_for(&self, destination: &DestinationConfig) -> Result<Secrets, String>;
}

/// A fixed map serves every destination (tests, single-tenant set-ups).
impl SecretSource for Secrets {
    fn secrets_for(&self, _destination: &DestinationConfig) -> Result<Secrets, String> {
        Ok(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_and_redacts() {
        let s = Secrets::new()
            .with("token", "s3cr3t-value")
            .with("short", "s3cr3t");
        assert_eq!(
            s.substitute("Bearer {{secret:token}}").as_deref(),
            Ok("Bearer s3cr3t-value")
        );
        assert_eq!(s.substitute("plain").as_deref(), Ok("plain"));
        let err = s.substitute("{{secret:nope}}").expect_err("unknown secret");
        assert!(err.contains("\"nope\""), "{err}");
        assert!(s.substitute("{{secret:token").is_err());
        assert_eq!(
            s.redact("got s3cr3t-value and s3cr3t"),
            "got [secret:token] and [secret:short]"
        );
        assert!(!format!("{s:?}").contains("s3cr3t"));
    }
}
