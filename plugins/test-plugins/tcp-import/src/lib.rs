//! Test plugin for herald-plugin-host: imports the tcp capability.
//! Only `deliver` misbehaves, so the host can load it and describe it first.

use herald_plugin_sdk::{Channel, ConfigError, DeliveryError, Notification, PluginInfo, Receipt};

struct Plugin;

impl Channel for Plugin {
    fn describe() -> PluginInfo {
        PluginInfo {
            id: "test-tcp-import".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            display_name: "Test: imports the tcp capability".into(),
            config_fields: Vec::new(),
        }
    }

    fn validate_config(_config: String) -> Result<(), Vec<ConfigError>> {
        Ok(())
    }

    fn deliver(_config: String, n: Notification) -> Result<Receipt, DeliveryError> {
        use herald_plugin_sdk::bindings::herald::delivery::tcp;
        let request = tcp::ExchangeRequest {
            endpoint: "127.0.0.1:2575".into(),
            tls: false,
            payload: n.delivery_id.into_bytes(),
            read_until: vec![0x1c, 0x0d],
            timeout_ms: 1000,
        };
        match tcp::exchange(&request) {
            Ok(reply) => Ok(Receipt {
                remote_id: None,
                detail: format!("{} bytes", reply.len()),
            }),
            Err(e) => Err(DeliveryError::Retryable(format!("{e:?}"))),
        }
    }

    fn test(_config: String) -> Result<Receipt, DeliveryError> {
        Ok(Receipt {
            remote_id: None,
            detail: "test-tcp-import self-test".into(),
        })
    }
}

herald_plugin_sdk::export_channel!(Plugin);
