//! What every request handler and background task shares: settings, the database pool and the
//! plugin host.

use std::sync::Arc;

use herald_storage::{Db, DbConnection};

use crate::config::Config;
use crate::error::ServiceError;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub plugins: Option<Arc<herald_plugin_host::PluginHost>>,
    /// Rendered CSAF distribution replies (see `web::serving_cache`).
    pub serving: Arc<crate::web::serving_cache::ServingCache>,
}

impl AppState {
    /// Runs blocking database work off the async executor.
    pub async fn db<T, F>(&self, f: F) -> Result<T, ServiceError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, ServiceError> + Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = db.get().map_err(ServiceError::from)?;
            f(&mut conn)
        })
        .await
        .map_err(ServiceError::internal)?
    }
}
