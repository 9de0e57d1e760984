//! Herald's settings: defaults, then `herald.toml` (or the file named by `--config`), then
//! `HERALD_*` environment variables. A wrong setting stops start-up with a message naming it.
//!
//! Settings are strings or paths, so each maps onto one variable; the `[outbound]` section's
//! settings are `HERALD_OUTBOUND_<NAME>`. `SSL_CERT_FILE` and `SSL_CERT_DIR` are read too (not
//! settings of Herald's, but the system trust store's location, as for OpenSSL-based tools).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use herald_plugin_host::{Capability, OutboundPolicy, SystemRoots};
use serde::{Deserialize, Serialize};

/// Environment variables with the `HERALD_` prefix that are not settings: tests and build scripts
/// use them. Anything else with the prefix that is not a known setting is a typo and refused.
const NON_SETTING_PREFIXES: &[&str] =
    &["HERALD_TEST_", "HERALD_E2E_", "HERALD_WASM_", "HERALD_CI_"];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `sqlite://PATH`, a plain file path, or `postgres://...`. Default: `<data_dir>/herald.db`.
    pub database_url: Option<String>,
    /// Where Herald keeps its SQLite database and keys.
    pub data_dir: PathBuf,
    /// Address the web server binds.
    pub listen: String,
    /// Public base URL used in every absolute URL Herald publishes. Default: `http://<listen>`.
    pub base_url: Option<String>,
    /// Folder of delivery plugin components (`*.wasm`), as built by `scripts/build-wasm`.
    pub plugin_dir: PathBuf,
    /// Folder holding the hydrate bundle (`pkg/`), as built by `scripts/build-wasm`.
    pub site_root: PathBuf,
    /// Name of the manufacturer that runs this Herald (the CSAF publisher).
    pub publisher_name: String,
    /// The publisher's namespace URL, as in the CSAF documents it publishes.
    pub publisher_namespace: String,
    /// Security contact for security.txt (`mailto:` or `https:` URL).
    pub security_contact: String,
    /// `text` (human readable) or `json` log lines.
    pub log_format: String,
    /// Capabilities beyond http, log, clock and signing that the operator grants a plugin id,
    /// as `id=cap,cap;id=cap`. Destinations still need their own grants to use them.
    pub plugin_grants: String,
    /// Key that encrypts destination secrets at rest: standard base64 of 32 random bytes
    /// (`openssl rand -base64 32`). Unset: generated into `<data_dir>/secret.key` on first use,
    /// which suits one instance only; several instances sharing a database must all set it.
    pub secret_key: Option<String>,
    /// How many HTTP worker threads serve requests. Unset: one per CPU Herald may run on
    /// (actix-web's default, which honours a CPU affinity such as `taskset`).
    pub workers: Option<String>,
    /// Deliveries in flight at once per process (the delivery engine's pool). A slow or
    /// hanging destination holds one of them; the others keep moving.
    pub delivery_concurrency: String,
    /// How long a destination may keep failing before its organization's admins and the
    /// PSIRT are told by mail (`90m`, `24h`, `2d`, or seconds).
    pub escalate_after: String,
    /// The operator's mail relay for Herald's own mail (escalations), as a URL:
    /// `smtp://host:587?tls=required` (STARTTLS), `smtps://host:465` (TLS), `smtp://host:25`
    /// (plain, for a relay on the same host); credentials as `smtp://user:password@host`.
    /// Unset: Herald's own mail waits in its queue (nothing is dropped) and a warning says so.
    pub mail_relay: Option<String>,
    /// The From address of Herald's own mail. Default: `herald@<host of the base URL>`.
    pub mail_from: Option<String>,
    /// Where delivery plugins may connect beyond public https (`[outbound]`).
    pub outbound: OutboundSettings,
    /// A PEM file of CA certificates the plugins' TLS clients trust besides the web roots and
    /// the system store: a hospital's private CA.
    pub tls_extra_roots: Option<PathBuf>,
    /// Plugin instances kept for "Send test", validation and installs, apart from the ones
    /// deliveries use.
    pub plugin_test_instances: String,
    /// Where compiled plugin code is kept between starts, so a start does not compile every
    /// plugin again. Default: `<data_dir>/plugin-cache`; an empty value compiles at every start.
    /// Herald runs the code it finds there: it must be writable by Herald's user alone.
    pub plugin_cache_dir: Option<PathBuf>,
    /// Lead times of end-of-support reminders, in days before the end of security updates
    /// (`0`: on the day), comma-separated.
    pub eos_reminder_days: String,
    /// Sessions (`[accounts]`).
    pub accounts: crate::config_accounts::AccountSettings,
}

/// The operator's outbound network policy for delivery plugins. Default: none of either, i.e.
/// public addresses only, https only. Destination grants can only narrow it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboundSettings {
    /// Non-public address ranges (CIDR, or single addresses) plugins may reach, e.g.
    /// `["10.20.0.0/16"]`; in the environment a comma-separated list.
    pub private_ranges: ListSetting,
    /// Hosts (`host` or `host:port`) plugins may reach over plain http.
    pub insecure_http_hosts: ListSetting,
}

/// A list in herald.toml, or a comma-separated string (the environment's form, also accepted
/// in the file).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ListSetting {
    List(Vec<String>),
    Text(String),
}

impl Default for ListSetting {
    fn default() -> Self {
        ListSetting::List(Vec::new())
    }
}

impl ListSetting {
    fn items(&self) -> Vec<&str> {
        match self {
            ListSetting::List(items) => items.iter().map(String::as_str).collect(),
            ListSetting::Text(text) => text.split(',').collect(),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database_url: None,
            data_dir: PathBuf::from("./data"),
            listen: "127.0.0.1:3000".to_owned(),
            base_url: None,
            plugin_dir: PathBuf::from("./target/plugins"),
            site_root: PathBuf::from("./target/site"),
            publisher_name: "Meridian Medical Systems".to_owned(),
            publisher_namespace: "https://meridian-medical.example".to_owned(),
            security_contact: "mailto:psirt@meridian-medical.example".to_owned(),
            log_format: "text".to_owned(),
            plugin_grants: "email=smtp;hl7-mllp=tcp".to_owned(),
            secret_key: None,
            workers: None,
            delivery_concurrency: "32".to_owned(),
            escalate_after: "24h".to_owned(),
            mail_relay: None,
            mail_from: None,
            outbound: OutboundSettings::default(),
            tls_extra_roots: None,
            plugin_test_instances: "4".to_owned(),
            plugin_cache_dir: None,
            eos_reminder_days: "180,90,30,0".to_owned(),
            accounts: Default::default(),
        }
    }
}

/// Settings after validation: every field is in the shape the rest of Herald needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// Without a trailing slash.
    pub base_url: String,
    pub plugin_dir: PathBuf,
    pub site_root: PathBuf,
    pub publisher_name: String,
    pub publisher_namespace: String,
    pub security_contact: String,
    pub json_logs: bool,
    /// Extra capabilities per plugin id (see [`Settings::plugin_grants`]).
    pub plugin_grants: BTreeMap<String, BTreeSet<Capability>>,
    /// `HERALD_SECRET_KEY` when set; otherwise see [`crate::secrets::secret_key`].
    pub secret_key: Option<herald_storage::secrets::SecretKey>,
    /// `HERALD_WORKERS`; `None` leaves actix-web's default (one per usable CPU).
    pub workers: Option<std::num::NonZeroUsize>,
    /// `HERALD_DELIVERY_CONCURRENCY`: deliveries in flight at once.
    pub delivery_concurrency: usize,
    /// `HERALD_ESCALATE_AFTER`.
    pub escalate_after: std::time::Duration,
    /// `HERALD_MAIL_RELAY` (lettre's SMTP URL form), checked at start-up.
    pub mail_relay: Option<String>,
    /// `HERALD_MAIL_FROM`, or `herald@<base URL host>`.
    pub mail_from: String,
    /// `[outbound]`: where plugins may connect beyond public https.
    pub outbound: OutboundPolicy,
    /// The system trust store: `SSL_CERT_FILE` / `SSL_CERT_DIR` when set, else the platform's.
    pub system_roots: SystemRoots,
    /// The certificates of `HERALD_TLS_EXTRA_ROOTS` (PEM), checked at start-up.
    pub tls_extra_roots: Vec<String>,
    /// `HERALD_PLUGIN_TEST_INSTANCES`.
    pub plugin_test_instances: u32,
    /// `HERALD_PLUGIN_CACHE_DIR`; `None`: compile plugins at every start.
    pub plugin_cache_dir: Option<PathBuf>,
    /// `HERALD_EOS_REMINDER_DAYS`: end-of-support reminder lead times in days, ascending.
    pub eos_reminder_days: Vec<u32>,
    /// `[accounts]`: session timeouts.
    pub accounts: crate::config_accounts::AccountPolicy,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(Box<figment::Error>),
    #[error("configuration: {setting}: {message}")]
    Invalid { setting: String, message: String },
}

pub(crate) fn invalid(setting: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting: setting.to_owned(),
        message: message.into(),
    }
}

impl Config {
    /// Loads from defaults, the optional TOML file and the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let vars: Vec<(String, String)> = std::env::vars().collect();
        Self::load_from(file, &vars)
    }

    /// Like [`Config::load`] with an explicit environment, so tests need not touch the process's.
    pub fn load_from(file: Option<&Path>, env: &[(String, String)]) -> Result<Self, ConfigError> {
        let known = known_settings();
        let sections = sections();
        for (key, _) in env {
            let Some(rest) = key.strip_prefix("HERALD_") else {
                continue;
            };
            if NON_SETTING_PREFIXES.iter().any(|p| key.starts_with(p)) {
                continue;
            }
            if !known.contains(&rest.to_ascii_lowercase()) {
                return Err(invalid(
                    key,
                    format!("unknown setting (known: {})", known_env_names().join(", ")),
                ));
            }
        }

        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        match file {
            Some(path) => {
                if !path.exists() {
                    return Err(invalid(
                        "--config",
                        format!("file {} does not exist", path.display()),
                    ));
                }
                figment = figment.merge(Toml::file(path));
            }
            None => figment = figment.merge(Toml::file("herald.toml")),
        }
        // Every setting is a string or a path, so the environment maps onto them one to one;
        // `HERALD_<SECTION>_<NAME>` goes into the section's table.
        let mut env_map = serde_json::Map::new();
        for (key, value) in env {
            if NON_SETTING_PREFIXES.iter().any(|p| key.starts_with(p)) {
                continue;
            }
            let Some(rest) = key.strip_prefix("HERALD_") else {
                continue;
            };
            let name = rest.to_ascii_lowercase();
            let value = serde_json::Value::String(value.clone());
            let section = sections.iter().find_map(|section| {
                name.strip_prefix(&format!("{section}_"))
                    .map(|field| (section.clone(), field.to_owned()))
            });
            match section {
                Some((section, field)) => {
                    let table = env_map
                        .entry(section)
                        .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
                    if let serde_json::Value::Object(table) = table {
                        table.insert(field, value);
                    }
                }
                None => {
                    env_map.insert(name, value);
                }
            }
        }
        figment = figment.merge(Serialized::globals(serde_json::Value::Object(env_map)));
        let settings: Settings = figment
            .extract()
            .map_err(|e| ConfigError::Load(Box::new(e)))?;
        let system_roots = system_roots(env)?;
        Self::validate(settings, system_roots)
    }

    fn validate(s: Settings, system_roots: SystemRoots) -> Result<Self, ConfigError> {
        let listen: SocketAddr = s.listen.parse().map_err(|e| {
            invalid(
                "HERALD_LISTEN",
                format!(
                    "{:?} is not a socket address like 127.0.0.1:3000 ({e})",
                    s.listen
                ),
            )
        })?;
        let base_url = match s.base_url {
            Some(u) => {
                let parsed = url::Url::parse(&u)
                    .map_err(|e| invalid("HERALD_BASE_URL", format!("{u:?} is not a URL ({e})")))?;
                if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
                    return Err(invalid(
                        "HERALD_BASE_URL",
                        format!("{u:?} must be an http or https URL with a host"),
                    ));
                }
                if parsed.query().is_some() || parsed.fragment().is_some() {
                    return Err(invalid(
                        "HERALD_BASE_URL",
                        format!("{u:?} must not have a query or fragment"),
                    ));
                }
                u.trim_end_matches('/').to_owned()
            }
            None => format!("http://{listen}"),
        };
        let database_url = match s.database_url {
            Some(u) if u.trim().is_empty() => {
                return Err(invalid("HERALD_DATABASE_URL", "is empty"));
            }
            Some(u) => {
                if u.contains("://")
                    && !(u.starts_with("sqlite://")
                        || u.starts_with("postgres://")
                        || u.starts_with("postgresql://"))
                {
                    return Err(invalid(
                        "HERALD_DATABASE_URL",
                        format!(
                            "{:?}: only sqlite:// (or a file path) and postgres:// are supported",
                            redact_url(&u)
                        ),
                    ));
                }
                u
            }
            None => s.data_dir.join("herald.db").display().to_string(),
        };
        let json_logs = match s.log_format.as_str() {
            "text" => false,
            "json" => true,
            other => {
                return Err(invalid(
                    "HERALD_LOG_FORMAT",
                    format!("{other:?}: use \"text\" or \"json\""),
                ));
            }
        };
        for (name, value) in [
            ("HERALD_PUBLISHER_NAME", &s.publisher_name),
            ("HERALD_PUBLISHER_NAMESPACE", &s.publisher_namespace),
            ("HERALD_SECURITY_CONTACT", &s.security_contact),
        ] {
            if value.trim().is_empty() {
                return Err(invalid(name, "is empty"));
            }
        }
        url::Url::parse(&s.publisher_namespace).map_err(|e| {
            invalid(
                "HERALD_PUBLISHER_NAMESPACE",
                format!("{:?} is not a URL ({e})", s.publisher_namespace),
            )
        })?;
        let plugin_grants = parse_plugin_grants(&s.plugin_grants)
            .map_err(|m| invalid("HERALD_PLUGIN_GRANTS", m))?;
        let secret_key = match s.secret_key.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(
                herald_storage::secrets::SecretKey::from_base64(text)
                    .map_err(|m| invalid("HERALD_SECRET_KEY", m))?,
            ),
        };
        let workers = match s.workers.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(text.parse::<std::num::NonZeroUsize>().map_err(|_| {
                invalid(
                    "HERALD_WORKERS",
                    format!("{text:?} is not a positive number of worker threads"),
                )
            })?),
        };
        let delivery_concurrency = count_setting(
            "HERALD_DELIVERY_CONCURRENCY",
            &s.delivery_concurrency,
            "deliveries",
            1024,
        )?;
        let escalate_after = parse_duration(&s.escalate_after)
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                invalid(
                    "HERALD_ESCALATE_AFTER",
                    format!(
                        "{:?} is not a duration like 90m, 24h or 2d",
                        s.escalate_after
                    ),
                )
            })?;
        let mail_relay = match s.mail_relay.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(u) => {
                let parsed = url::Url::parse(u).map_err(|e| {
                    invalid(
                        "HERALD_MAIL_RELAY",
                        format!("{:?} is not a URL ({e})", redact_url(u)),
                    )
                })?;
                if !matches!(parsed.scheme(), "smtp" | "smtps") || parsed.host().is_none() {
                    return Err(invalid(
                        "HERALD_MAIL_RELAY",
                        format!(
                            "{:?} must be smtp://host[:port][?tls=required] or smtps://host[:port]",
                            redact_url(u)
                        ),
                    ));
                }
                Some(u.to_owned())
            }
        };
        let mail_from = match s.mail_from.as_deref().map(str::trim) {
            Some(from) if !from.is_empty() => {
                from.parse::<lettre::message::Mailbox>().map_err(|e| {
                    invalid(
                        "HERALD_MAIL_FROM",
                        format!("{from:?} is not a mail address ({e})"),
                    )
                })?;
                from.to_owned()
            }
            _ => {
                let host = url::Url::parse(&base_url)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_owned))
                    .filter(|h| h.contains('.') && h.parse::<std::net::IpAddr>().is_err())
                    .unwrap_or_else(|| "localhost".to_owned());
                format!("Herald <herald@{host}>")
            }
        };
        let outbound = OutboundPolicy {
            private_ranges: OutboundPolicy::parse_ranges(s.outbound.private_ranges.items())
                .map_err(|m| {
                    invalid(
                        "HERALD_OUTBOUND_PRIVATE_RANGES ([outbound] private_ranges)",
                        m,
                    )
                })?,
            insecure_http_hosts: OutboundPolicy::parse_hosts(
                s.outbound.insecure_http_hosts.items(),
            )
            .map_err(|m| {
                invalid(
                    "HERALD_OUTBOUND_INSECURE_HTTP_HOSTS ([outbound] insecure_http_hosts)",
                    m,
                )
            })?,
        };
        let tls_extra_roots = match &s.tls_extra_roots {
            None => Vec::new(),
            Some(path) if path.as_os_str().is_empty() => Vec::new(),
            Some(path) => {
                let pem = std::fs::read_to_string(path).map_err(|e| {
                    invalid(
                        "HERALD_TLS_EXTRA_ROOTS",
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?;
                herald_plugin_host::parse_root_pems(&pem).map_err(|m| {
                    invalid("HERALD_TLS_EXTRA_ROOTS", format!("{}: {m}", path.display()))
                })?;
                vec![pem]
            }
        };
        let plugin_test_instances = count_setting(
            "HERALD_PLUGIN_TEST_INSTANCES",
            &s.plugin_test_instances,
            "plugin instances",
            256,
        )?;
        let plugin_cache_dir = match s.plugin_cache_dir {
            None => Some(s.data_dir.join("plugin-cache")),
            Some(path) if path.as_os_str().is_empty() => None,
            Some(path) => Some(path),
        };
        let eos_reminder_days = parse_reminder_days(&s.eos_reminder_days)
            .map_err(|m| invalid("HERALD_EOS_REMINDER_DAYS", m))?;
        let accounts = s.accounts.validate()?;
        Ok(Self {
            plugin_cache_dir,
            eos_reminder_days,
            accounts,
            outbound,
            system_roots,
            tls_extra_roots,
            plugin_test_instances,
            workers,
            delivery_concurrency,
            escalate_after,
            mail_relay,
            mail_from,
            plugin_grants,
            secret_key,
            database_url,
            data_dir: s.data_dir,
            listen,
            base_url,
            plugin_dir: s.plugin_dir,
            site_root: s.site_root,
            publisher_name: s.publisher_name,
            publisher_namespace: s.publisher_namespace,
            security_contact: s.security_contact,
            json_logs,
        })
    }

    /// The database URL with any password hidden, for logs and /healthz.
    pub fn database_url_redacted(&self) -> String {
        redact_url(&self.database_url)
    }
}

/// Reminder lead times: whole days from 0 to 3650, comma-separated, at least one.
fn parse_reminder_days(text: &str) -> Result<Vec<u32>, String> {
    let mut days = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.parse::<u32>() {
            Ok(d) if d <= 3650 => days.push(d),
            _ => return Err(format!("{part:?} is not a number of days from 0 to 3650")),
        }
    }
    if days.is_empty() {
        return Err("names no lead time (e.g. 180,90,30,0)".into());
    }
    days.sort_unstable();
    days.dedup();
    Ok(days)
}

/// A whole number from 1 to `max` of `what`, or an error naming `setting`.
fn count_setting<T: TryFrom<usize>>(
    setting: &str,
    text: &str,
    what: &str,
    max: usize,
) -> Result<T, ConfigError> {
    text.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| {
            invalid(
                setting,
                format!("{text:?} is not a number of {what} from 1 to {max}"),
            )
        })
}

/// Parses `90s`, `90m`, `24h`, `2d`, or a plain number of seconds.
pub(crate) fn parse_duration(text: &str) -> Option<std::time::Duration> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = number.parse().ok()?;
    let seconds = match unit.trim() {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86_400)?,
        _ => return None,
    };
    Some(std::time::Duration::from_secs(seconds))
}

/// Parses `id=cap,cap;id=cap`.
fn parse_plugin_grants(text: &str) -> Result<BTreeMap<String, BTreeSet<Capability>>, String> {
    let mut out = BTreeMap::new();
    for item in text.split(';').map(str::trim).filter(|i| !i.is_empty()) {
        let (id, caps) = item
            .split_once('=')
            .ok_or_else(|| format!("{item:?} is not `plugin-id=capability,...`"))?;
        let caps = caps
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(|c| {
                c.parse::<Capability>().map_err(|_| {
                    format!("{c:?} is not a capability (http, log, clock, signing, smtp, tcp)")
                })
            })
            .collect::<Result<BTreeSet<_>, _>>()?;
        out.insert(id.trim().to_owned(), caps);
    }
    Ok(out)
}

/// The system trust store the way OpenSSL-based tools find it: `SSL_CERT_FILE` and/or
/// `SSL_CERT_DIR` replace the platform's bundle. A path that does not exist stops start-up (an
/// OpenSSL tool would silently trust nothing).
fn system_roots(env: &[(String, String)]) -> Result<SystemRoots, ConfigError> {
    let get = |name: &str| {
        env.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| PathBuf::from(v))
            .filter(|p| !p.as_os_str().is_empty())
    };
    let (file, dir) = (get("SSL_CERT_FILE"), get("SSL_CERT_DIR"));
    if let Some(file) = &file
        && !file.is_file()
    {
        return Err(invalid(
            "SSL_CERT_FILE",
            format!("{} is not a file", file.display()),
        ));
    }
    if let Some(dir) = &dir
        && !dir.is_dir()
    {
        return Err(invalid(
            "SSL_CERT_DIR",
            format!("{} is not a folder", dir.display()),
        ));
    }
    Ok(if file.is_none() && dir.is_none() {
        SystemRoots::Platform
    } else {
        SystemRoots::Paths { file, dir }
    })
}

/// Every setting's name, with a section's settings as `section_name`.
fn known_settings() -> Vec<String> {
    match serde_json::to_value(Settings::default()) {
        Ok(serde_json::Value::Object(map)) => map
            .iter()
            .flat_map(|(key, value)| match value {
                serde_json::Value::Object(fields) => {
                    fields.keys().map(|f| format!("{key}_{f}")).collect()
                }
                _ => vec![key.clone()],
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The settings that are tables (`[outbound]`).
fn sections() -> Vec<String> {
    match serde_json::to_value(Settings::default()) {
        Ok(serde_json::Value::Object(map)) => map
            .iter()
            .filter(|(_, value)| value.is_object())
            .map(|(key, _)| key.clone())
            .collect(),
        _ => Vec::new(),
    }
}

fn known_env_names() -> Vec<String> {
    known_settings()
        .iter()
        .map(|k| format!("HERALD_{}", k.to_ascii_uppercase()))
        .collect()
}

/// Hides the password of `scheme://user:password@host/...`.
pub fn redact_url(u: &str) -> String {
    match url::Url::parse(u) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => u.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn err(pairs: &[(&str, &str)]) -> String {
        match Config::load_from(None, &env(pairs)) {
            Ok(c) => panic!("expected an error, got {c:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn defaults() {
        let c = Config::load_from(None, &[]).expect("defaults load");
        assert_eq!(c.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(c.base_url, "http://127.0.0.1:3000");
        assert!(c.database_url.ends_with("herald.db"), "{}", c.database_url);
    }

    #[test]
    fn environment_overrides() {
        let c = Config::load_from(
            None,
            &env(&[
                ("HERALD_LISTEN", "127.0.0.1:4000"),
                ("HERALD_BASE_URL", "https://psirt.example.com/"),
                ("HERALD_DATABASE_URL", "postgres://u:secret@db/herald"),
                ("HERALD_TEST_POSTGRES_URL", "ignored"),
            ]),
        )
        .expect("loads");
        assert_eq!(c.listen.port(), 4000);
        assert_eq!(c.base_url, "https://psirt.example.com");
        assert!(!c.database_url_redacted().contains("secret"));
    }

    #[test]
    fn wrong_settings_are_named() {
        assert!(err(&[("HERALD_LISTEN", "nowhere")]).contains("HERALD_LISTEN"));
        assert!(err(&[("HERALD_BASE_URL", "ftp://x")]).contains("HERALD_BASE_URL"));
        assert!(err(&[("HERALD_DATABASE_URL", "mysql://x")]).contains("HERALD_DATABASE_URL"));
        assert!(err(&[("HERALD_DATABSE_URL", "x")]).contains("HERALD_DATABSE_URL"));
        assert!(err(&[("HERALD_LOG_FORMAT", "xml")]).contains("HERALD_LOG_FORMAT"));
        assert!(
            err(&[("HERALD_PLUGIN_GRANTS", "email=teleport")]).contains("HERALD_PLUGIN_GRANTS")
        );
        let short = err(&[("HERALD_SECRET_KEY", "c2hvcnQ=")]);
        assert!(
            short.contains("HERALD_SECRET_KEY") && short.contains("32"),
            "{short}"
        );
        assert!(err(&[("HERALD_SECRET_KEY", "not base64!")]).contains("HERALD_SECRET_KEY"));
        assert!(err(&[("HERALD_WORKERS", "0")]).contains("HERALD_WORKERS"));
        assert!(
            err(&[("HERALD_DELIVERY_CONCURRENCY", "0")]).contains("HERALD_DELIVERY_CONCURRENCY")
        );
        assert!(err(&[("HERALD_ESCALATE_AFTER", "soon")]).contains("HERALD_ESCALATE_AFTER"));
        assert!(err(&[("HERALD_ESCALATE_AFTER", "0h")]).contains("HERALD_ESCALATE_AFTER"));
        assert!(err(&[("HERALD_MAIL_RELAY", "http://relay")]).contains("HERALD_MAIL_RELAY"));
        assert!(err(&[("HERALD_MAIL_FROM", "not an address")]).contains("HERALD_MAIL_FROM"));
        let c = Config::load_from(
            None,
            &env(&[
                ("HERALD_ESCALATE_AFTER", "90m"),
                ("HERALD_DELIVERY_CONCURRENCY", "64"),
                ("HERALD_MAIL_RELAY", "smtp://relay.example:587?tls=required"),
                ("HERALD_BASE_URL", "https://herald.meridian.example"),
            ]),
        )
        .expect("loads");
        assert_eq!(c.escalate_after, std::time::Duration::from_secs(5400));
        assert_eq!(c.delivery_concurrency, 64);
        assert_eq!(c.mail_from, "Herald <herald@herald.meridian.example>");
        let c = Config::load_from(None, &[]).expect("loads");
        assert_eq!(c.escalate_after, std::time::Duration::from_secs(86_400));
        assert_eq!(c.mail_relay, None);
        assert_eq!(c.mail_from, "Herald <herald@localhost>");
        assert!(err(&[("HERALD_WORKERS", "many")]).contains("HERALD_WORKERS"));
        let c = Config::load_from(None, &env(&[("HERALD_WORKERS", "3")])).expect("loads");
        assert_eq!(c.workers.map(|n| n.get()), Some(3));
        let c = Config::load_from(None, &[]).expect("loads");
        assert_eq!(c.workers, None, "unset leaves actix-web's default");
        let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let c = Config::load_from(None, &env(&[("HERALD_SECRET_KEY", key)])).expect("loads");
        assert_eq!(c.secret_key.map(|k| k.to_base64()).as_deref(), Some(key));
    }

    #[test]
    fn toml_file_is_read_and_env_wins() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("herald.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:5000\"\npublisher_name = \"ACME\"\n",
        )
        .expect("write");
        let c = Config::load_from(Some(&path), &env(&[("HERALD_LISTEN", "127.0.0.1:6000")]))
            .expect("loads");
        assert_eq!(c.listen.port(), 6000);
        assert_eq!(c.publisher_name, "ACME");
        std::fs::write(&path, "lisen = \"x\"\n").expect("write");
        let e = Config::load_from(Some(&path), &[]).expect_err("typo refused");
        assert!(e.to_string().contains("lisen"), "{e}");
    }

    #[test]
    fn outbound_policy_from_env_and_toml() {
        let c = Config::load_from(None, &[]).expect("defaults");
        assert_eq!(c.outbound, OutboundPolicy::default(), "public https only");
        let c = Config::load_from(
            None,
            &env(&[
                (
                    "HERALD_OUTBOUND_PRIVATE_RANGES",
                    "127.0.0.0/8, 10.20.0.0/16",
                ),
                (
                    "HERALD_OUTBOUND_INSECURE_HTTP_HOSTS",
                    "127.0.0.1,Mirth.Hospital.Test:8080",
                ),
            ]),
        )
        .expect("loads");
        assert!(c.outbound.allows_private("127.0.0.1".parse().expect("ip")));
        assert!(c.outbound.allows_private("10.20.9.9".parse().expect("ip")));
        assert!(!c.outbound.allows_private("10.21.0.1".parse().expect("ip")));
        assert!(c.outbound.allows_insecure_http("mirth.hospital.test", 8080));
        assert!(!c.outbound.allows_insecure_http("mirth.hospital.test", 80));

        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("herald.toml");
        std::fs::write(
            &path,
            "[outbound]\nprivate_ranges = [\"192.168.7.0/24\"]\ninsecure_http_hosts = [\"mirth.lan\"]\n",
        )
        .expect("write");
        let c = Config::load_from(Some(&path), &[]).expect("loads");
        assert!(
            c.outbound
                .allows_private("192.168.7.3".parse().expect("ip"))
        );
        assert!(c.outbound.allows_insecure_http("mirth.lan", 80));
        // The environment wins over the file, as for every setting.
        let c = Config::load_from(
            Some(&path),
            &env(&[("HERALD_OUTBOUND_PRIVATE_RANGES", "10.0.0.0/8")]),
        )
        .expect("loads");
        assert!(
            !c.outbound
                .allows_private("192.168.7.3".parse().expect("ip"))
        );
        assert!(c.outbound.allows_insecure_http("mirth.lan", 80));

        let e = err(&[("HERALD_OUTBOUND_PRIVATE_RANGES", "intranet")]);
        assert!(
            e.contains("HERALD_OUTBOUND_PRIVATE_RANGES") && e.contains("intranet"),
            "{e}"
        );
        let e = err(&[("HERALD_OUTBOUND_INSECURE_HTTP_HOSTS", "http://x/")]);
        assert!(e.contains("HERALD_OUTBOUND_INSECURE_HTTP_HOSTS"), "{e}");
        let e = err(&[("HERALD_OUTBOUND_PRIVATE_RANGE", "10.0.0.0/8")]);
        assert!(
            e.contains("HERALD_OUTBOUND_PRIVATE_RANGE"),
            "typo named: {e}"
        );
        std::fs::write(&path, "[outbound]\nprivate_range = [\"10.0.0.0/8\"]\n").expect("write");
        let e = Config::load_from(Some(&path), &[]).expect_err("typo in the file");
        assert!(e.to_string().contains("private_range"), "{e}");
    }

    /// A CA certificate made with openssl, for the trust settings.
    fn ca_pem(dir: &Path) -> PathBuf {
        let (cert, key) = (dir.join("ca.pem"), dir.join("ca.key"));
        let out = std::process::Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
            .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
            .args(["-subj", "/CN=Herald Config Test CA"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("openssl is needed to make the test certificate");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        cert
    }

    #[test]
    fn the_plugin_cache_defaults_to_the_data_dir_and_can_be_switched_off() {
        let c =
            Config::load_from(None, &env(&[("HERALD_DATA_DIR", "/srv/herald")])).expect("loads");
        assert_eq!(
            c.plugin_cache_dir,
            Some(PathBuf::from("/srv/herald/plugin-cache"))
        );
        let c = Config::load_from(None, &env(&[("HERALD_PLUGIN_CACHE_DIR", "/var/cache/h")]))
            .expect("loads");
        assert_eq!(c.plugin_cache_dir, Some(PathBuf::from("/var/cache/h")));
        let c = Config::load_from(None, &env(&[("HERALD_PLUGIN_CACHE_DIR", "")])).expect("loads");
        assert_eq!(c.plugin_cache_dir, None);
    }

    #[test]
    fn trust_settings_are_read_and_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = ca_pem(dir.path());
        let ca_text = ca.to_str().expect("utf-8 path");
        let c = Config::load_from(None, &[]).expect("defaults");
        assert_eq!(c.system_roots, SystemRoots::Platform);
        assert!(c.tls_extra_roots.is_empty());
        assert_eq!(c.plugin_test_instances, 4);

        // SSL_CERT_FILE / SSL_CERT_DIR replace the platform's store, as for OpenSSL tools.
        let c = Config::load_from(None, &env(&[("SSL_CERT_FILE", ca_text)])).expect("loads");
        assert_eq!(
            c.system_roots,
            SystemRoots::Paths {
                file: Some(ca.clone()),
                dir: None
            }
        );
        let dir_text = dir.path().to_str().expect("utf-8 path");
        let c = Config::load_from(None, &env(&[("SSL_CERT_DIR", dir_text)])).expect("loads");
        assert_eq!(
            c.system_roots,
            SystemRoots::Paths {
                file: None,
                dir: Some(dir.path().to_path_buf())
            }
        );
        assert!(err(&[("SSL_CERT_FILE", "/nonexistent/ca.pem")]).contains("SSL_CERT_FILE"));
        assert!(err(&[("SSL_CERT_DIR", ca_text)]).contains("SSL_CERT_DIR"));

        let c =
            Config::load_from(None, &env(&[("HERALD_TLS_EXTRA_ROOTS", ca_text)])).expect("loads");
        assert_eq!(c.tls_extra_roots.len(), 1);
        assert!(c.tls_extra_roots[0].contains("BEGIN CERTIFICATE"));
        let missing = err(&[("HERALD_TLS_EXTRA_ROOTS", "/nonexistent/roots.pem")]);
        assert!(missing.contains("HERALD_TLS_EXTRA_ROOTS"), "{missing}");
        let not_pem = dir.path().join("not.pem");
        std::fs::write(&not_pem, "hello").expect("write");
        let bad = err(&[(
            "HERALD_TLS_EXTRA_ROOTS",
            not_pem.to_str().expect("utf-8 path"),
        )]);
        assert!(
            bad.contains("HERALD_TLS_EXTRA_ROOTS") && bad.contains("no PEM certificate"),
            "{bad}"
        );

        let c =
            Config::load_from(None, &env(&[("HERALD_PLUGIN_TEST_INSTANCES", "2")])).expect("loads");
        assert_eq!(c.plugin_test_instances, 2);
        for bad in ["0", "many", "1000"] {
            assert!(
                err(&[("HERALD_PLUGIN_TEST_INSTANCES", bad)])
                    .contains("HERALD_PLUGIN_TEST_INSTANCES")
            );
        }
    }
}
