//! The host's two shares of plugin instances: one for deliveries, one for interactive calls
//! ("Send test" from the portal and the REST API, `validate-config`, plugin installs and
//! upgrades). Each call takes a permit from its share before it instantiates, so the pooling
//! allocator (sized to both shares together) always has a slot for it: a call beyond its share
//! waits for a permit instead of failing to instantiate, and 32 send-tests against a slow
//! receiver wait among themselves while deliveries go on.

use std::sync::Arc;
use tokio::sync::{Semaphore, SemaphorePermit};

/// Which share a call draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pool {
    Deliveries,
    Interactive,
}

#[derive(Clone)]
pub(crate) struct Pools {
    deliveries: Arc<Semaphore>,
    interactive: Arc<Semaphore>,
    instances: u32,
}

impl Pools {
    /// `deliveries` and `interactive` instances (each at least one).
    pub fn new(deliveries: u32, interactive: u32) -> Self {
        let (deliveries, interactive) = (deliveries.max(1), interactive.max(1));
        Self {
            deliveries: Arc::new(Semaphore::new(deliveries as usize)),
            interactive: Arc::new(Semaphore::new(interactive as usize)),
            instances: deliveries.saturating_add(interactive),
        }
    }

    /// Instances the pooling allocator must hold: both shares.
    pub fn instances(&self) -> u32 {
        self.instances
    }

    /// Waits for a free instance of `pool`.
    pub async fn acquire(&self, pool: Pool) -> Result<SemaphorePermit<'_>, String> {
        let semaphore = match pool {
            Pool::Deliveries => &self.deliveries,
            Pool::Interactive => &self.interactive,
        };
        // The semaphores are never closed; the error is only the type's.
        semaphore
            .acquire()
            .await
            .map_err(|_| "the plugin host is shutting down".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shares_are_separate() {
        let pools = Pools::new(2, 1);
        assert_eq!(pools.instances(), 3);
        let _test = pools.acquire(Pool::Interactive).await.expect("permit");
        // The interactive share is used up; deliveries still get theirs at once.
        let _a = pools.acquire(Pool::Deliveries).await.expect("permit");
        let _b = pools.acquire(Pool::Deliveries).await.expect("permit");
        let more = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            pools.acquire(Pool::Interactive),
        )
        .await;
        assert!(more.is_err(), "a second interactive call waits");
        assert_eq!(
            Pools::new(0, 0).instances(),
            2,
            "each share has one at least"
        );
    }
}
