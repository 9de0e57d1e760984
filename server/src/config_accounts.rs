//! The `[accounts]` section of the configuration (`HERALD_ACCOUNTS_<NAME>`): how long portal
//! sessions last and how failed sign-ins are slowed down. The operator's, never a tenant's.

use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, invalid, parse_duration};

/// `[accounts]` as written in herald.toml or the environment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountSettings {
    /// A session unused this long ends (`30m`, `1h`...).
    pub session_idle_timeout: String,
    /// A session ends this long after sign-in however much it is used.
    pub session_lifetime: String,
    /// The wait after the 4th failed sign-in of an account or address, doubled for each
    /// further one (at most 5 minutes); `0s` turns backoff off.
    pub sign_in_backoff: String,
    /// Failed sign-ins that lock an account (an admin may lift the lockout).
    pub lockout_after: String,
    /// How long a lockout lasts.
    pub lockout_duration: String,
}

impl Default for AccountSettings {
    fn default() -> Self {
        Self {
            session_idle_timeout: "30m".to_owned(),
            session_lifetime: "12h".to_owned(),
            sign_in_backoff: "1s".to_owned(),
            lockout_after: "10".to_owned(),
            lockout_duration: "30m".to_owned(),
        }
    }
}

/// The validated `[accounts]` settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccountPolicy {
    pub sessions: herald_storage::sessions::SessionPolicy,
    pub throttle: herald_storage::throttle::ThrottlePolicy,
}

fn duration(setting: &str, text: &str) -> Result<chrono::Duration, ConfigError> {
    parse_duration(text)
        .filter(|d| !d.is_zero())
        .and_then(|d| chrono::Duration::from_std(d).ok())
        .ok_or_else(|| {
            invalid(
                setting,
                format!("{text:?} is not a duration like 30m, 12h or 2d"),
            )
        })
}

impl AccountSettings {
    pub fn validate(&self) -> Result<AccountPolicy, ConfigError> {
        const IDLE: &str = "HERALD_ACCOUNTS_SESSION_IDLE_TIMEOUT ([accounts] session_idle_timeout)";
        const LIFETIME: &str = "HERALD_ACCOUNTS_SESSION_LIFETIME ([accounts] session_lifetime)";
        let idle = duration(IDLE, &self.session_idle_timeout)?;
        let lifetime = duration(LIFETIME, &self.session_lifetime)?;
        if idle > lifetime {
            return Err(invalid(
                IDLE,
                format!(
                    "{:?} is longer than the session lifetime {:?}",
                    self.session_idle_timeout, self.session_lifetime
                ),
            ));
        }
        const BACKOFF: &str = "HERALD_ACCOUNTS_SIGN_IN_BACKOFF ([accounts] sign_in_backoff)";
        const AFTER: &str = "HERALD_ACCOUNTS_LOCKOUT_AFTER ([accounts] lockout_after)";
        const LOCK_FOR: &str = "HERALD_ACCOUNTS_LOCKOUT_DURATION ([accounts] lockout_duration)";
        let base_delay = parse_duration(&self.sign_in_backoff)
            .and_then(|d| chrono::Duration::from_std(d).ok())
            .ok_or_else(|| {
                invalid(
                    BACKOFF,
                    format!("{:?} is not a duration like 1s or 0s", self.sign_in_backoff),
                )
            })?;
        let lock_account_after: i32 = self
            .lockout_after
            .trim()
            .parse()
            .ok()
            .filter(|n| (3..=1000).contains(n))
            .ok_or_else(|| {
                invalid(
                    AFTER,
                    format!("{:?} is not a number from 3 to 1000", self.lockout_after),
                )
            })?;
        let lock_for = duration(LOCK_FOR, &self.lockout_duration)?;
        let throttle = herald_storage::throttle::ThrottlePolicy {
            base_delay,
            lock_account_after,
            // An address stands for many people (a hospital behind NAT): five times as many.
            lock_address_after: lock_account_after * 5,
            lock_for,
            ..herald_storage::throttle::ThrottlePolicy::default()
        };
        Ok(AccountPolicy {
            sessions: herald_storage::sessions::SessionPolicy { idle, lifetime },
            throttle,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn load(pairs: &[(&str, &str)]) -> Result<Config, String> {
        let env: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::load_from(None, &env).map_err(|e| e.to_string())
    }

    #[test]
    fn session_timeouts_from_the_environment() {
        let c = load(&[]).expect("defaults");
        assert_eq!(c.accounts.sessions.idle, chrono::Duration::minutes(30));
        assert_eq!(c.accounts.sessions.lifetime, chrono::Duration::hours(12));
        let c = load(&[
            ("HERALD_ACCOUNTS_SESSION_IDLE_TIMEOUT", "15m"),
            ("HERALD_ACCOUNTS_SESSION_LIFETIME", "8h"),
        ])
        .expect("set");
        assert_eq!(c.accounts.sessions.idle, chrono::Duration::minutes(15));
        assert_eq!(c.accounts.sessions.lifetime, chrono::Duration::hours(8));
        let e = load(&[("HERALD_ACCOUNTS_SESSION_IDLE_TIMEOUT", "soon")]).expect_err("bad");
        assert!(e.contains("HERALD_ACCOUNTS_SESSION_IDLE_TIMEOUT"), "{e}");
        let e = load(&[("HERALD_ACCOUNTS_SESSION_IDLE_TIMEOUT", "13h")]).expect_err("long");
        assert!(e.contains("longer than the session lifetime"), "{e}");
    }
}
