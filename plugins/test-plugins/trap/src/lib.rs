//! Test plugin for herald-plugin-host: panics (traps) in deliver.
//! Only `deliver` misbehaves, so the host can load it and describe it first.

use herald_plugin_sdk::{Channel, ConfigError, DeliveryError, Notification, PluginInfo, Receipt};

struct Plugin;

impl Channel for Plugin {
    fn describe() -> PluginInfo {
        PluginInfo {
            id: "test-trap".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            display_name: "Test: panics (traps) in deliver".into(),
            config_fields: Vec::new(),
        }
    }

    fn validate_config(_config: String) -> Result<(), Vec<ConfigError>> {
        Ok(())
    }

    fn deliver(_config: String, n: Notification) -> Result<Receipt, DeliveryError> {
        herald_plugin_sdk::log::error("about to trap");
        panic!("test-trap refuses delivery {}", n.delivery_id)
    }

    fn test(_config: String) -> Result<Receipt, DeliveryError> {
        Ok(Receipt {
            remote_id: None,
            detail: "test-trap self-test".into(),
        })
    }
}

herald_plugin_sdk::export_channel!(Plugin);
