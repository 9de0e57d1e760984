//! [`WasmChannel`]: the plugin host as the delivery engine's [`herald_channel::Channel`], and the
//! notification as the WIT world spells it.

use super::*;

/// Adapts a [`PluginHost`] to the delivery engine's [`herald_channel::Channel`]: the
/// destination's `plugin_id` picks the plugin, `secrets` supplies its secrets.
pub struct WasmChannel {
    host: Arc<PluginHost>,
    secrets: Arc<dyn SecretSource>,
}

impl WasmChannel {
    pub fn new(host: Arc<PluginHost>, secrets: Arc<dyn SecretSource>) -> Self {
        Self { host, secrets }
    }

    pub fn host(&self) -> &Arc<PluginHost> {
        &self.host
    }
}

#[async_trait::async_trait]
impl herald_channel::Channel for WasmChannel {
    async fn deliver(
        &self,
        destination: &DestinationConfig,
        notification: &Notification,
    ) -> Result<Receipt, DeliveryError> {
        let secrets = self.secrets.secrets_for(destination).map_err(|e| {
            DeliveryError::Misconfigured(format!(
                "secrets of destination {}: {e}",
                destination.destination_id
            ))
        })?;
        self.host.deliver(destination, notification, &secrets).await
    }
}

pub(super) fn to_wit_notification(n: &Notification) -> wit::Notification {
    wit::Notification {
        delivery_id: n.delivery_id.clone(),
        event_kind: n.event_kind.clone(),
        tracking_id: n.tracking_id.clone(),
        version: n.version.clone(),
        title: n.title.clone(),
        severity: n.severity.clone(),
        cvss_score: n.cvss_score,
        cves: n.cves.clone(),
        products: n
            .products
            .iter()
            .map(|p| wit::NotifiedProduct {
                product_id: p.product_id.clone(),
                name: p.name.clone(),
                version: p.version.clone(),
                udi_di: p.udi_di.clone(),
                cpe: p.cpe.clone(),
                purl: p.purl.clone(),
            })
            .collect(),
        initial_release_date: n.initial_release_date.clone(),
        current_release_date: n.current_release_date.clone(),
        tlp: n.tlp.clone(),
        summary: n.summary.clone(),
        portal_url: n.portal_url.clone(),
        csaf_url: n.csaf_url.clone(),
        previous_receipt: n.previous_receipt.as_ref().map(|r| wit::Receipt {
            remote_id: r.remote_id.clone(),
            detail: r.detail.clone(),
        }),
        attempt: n.attempt,
        rendered: n.rendered.as_ref().map(|r| wit::RenderedMessage {
            subject: r.subject.clone(),
            text: r.text.clone(),
            html: r.html.clone(),
        }),
        unsubscribe_url: n.unsubscribe_url.clone(),
    }
}
