//! Test plugin for herald-plugin-host: loops forever in deliver.
//! Only `deliver` misbehaves, so the host can load it and describe it first.

use herald_plugin_sdk::{Channel, ConfigError, DeliveryError, Notification, PluginInfo, Receipt};

struct Plugin;

impl Channel for Plugin {
    fn describe() -> PluginInfo {
        PluginInfo {
            id: "test-spin".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            display_name: "Test: loops forever in deliver".into(),
            config_fields: Vec::new(),
        }
    }

    fn validate_config(_config: String) -> Result<(), Vec<ConfigError>> {
        Ok(())
    }

    fn deliver(_config: String, n: Notification) -> Result<Receipt, DeliveryError> {
        // black_box keeps the optimiser from proving the loop pointless.
        let mut i: u64 = u64::from(n.attempt);
        loop {
            i = std::hint::black_box(i.wrapping_add(1));
        }
    }

    fn test(_config: String) -> Result<Receipt, DeliveryError> {
        Ok(Receipt {
            remote_id: None,
            detail: "test-spin self-test".into(),
        })
    }
}

herald_plugin_sdk::export_channel!(Plugin);
