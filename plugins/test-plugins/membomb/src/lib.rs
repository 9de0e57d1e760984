//! Test plugin for herald-plugin-host: allocates without bound in deliver.
//! Only `deliver` misbehaves, so the host can load it and describe it first.

use herald_plugin_sdk::{Channel, ConfigError, DeliveryError, Notification, PluginInfo, Receipt};

struct Plugin;

impl Channel for Plugin {
    fn describe() -> PluginInfo {
        PluginInfo {
            id: "test-membomb".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            display_name: "Test: allocates without bound in deliver".into(),
            config_fields: Vec::new(),
        }
    }

    fn validate_config(_config: String) -> Result<(), Vec<ConfigError>> {
        Ok(())
    }

    fn deliver(_config: String, _n: Notification) -> Result<Receipt, DeliveryError> {
        // Touch every page so the memory is really used, and keep every chunk alive.
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(std::hint::black_box(vec![0xA5u8; 1 << 20]));
            if hoard.len() == usize::MAX {
                return Ok(Receipt {
                    remote_id: None,
                    detail: format!("{}", hoard.len()),
                });
            }
        }
    }

    fn test(_config: String) -> Result<Receipt, DeliveryError> {
        Ok(Receipt {
            remote_id: None,
            detail: "test-membomb self-test".into(),
        })
    }
}

herald_plugin_sdk::export_channel!(Plugin);
