//! The server side of the portal's account page (`app::account`): what [`HeraldPortal`]
//! answers, through [`crate::service::sessions`].

use app::account::{AccountView, SessionView};
use app::model::{PortalError, Viewer};

use crate::portal::{HeraldPortal, portal_error};
use crate::service::sessions;

fn minute(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

impl HeraldPortal {
    pub(crate) async fn account_view(
        &self,
        viewer: &Viewer,
        cookie: &str,
    ) -> Result<AccountView, PortalError> {
        let p = self.principal(viewer).await?;
        let policy = self.state.config.accounts.sessions;
        let cookie = cookie.to_owned();
        let list = self
            .state
            .db(move |conn| sessions::list_own(conn, &p, &policy, &cookie, chrono::Utc::now()))
            .await
            .map_err(portal_error)?;
        Ok(AccountView {
            sessions: list
                .into_iter()
                .map(|(s, current)| SessionView {
                    created_at: minute(s.created_at),
                    last_seen_at: minute(s.last_seen_at),
                    ends_at: minute(s.ends_at(&policy)),
                    id: s.id,
                    user_agent: s.user_agent,
                    current,
                })
                .collect(),
        })
    }

    pub(crate) async fn end_own_session(
        &self,
        viewer: &Viewer,
        id: &str,
    ) -> Result<(), PortalError> {
        let p = self.principal(viewer).await?;
        let id = id.to_owned();
        self.state
            .db(move |conn| sessions::end_own(conn, &p, &id))
            .await
            .map_err(portal_error)
    }

    pub(crate) async fn end_all_own_sessions(&self, viewer: &Viewer) -> Result<(), PortalError> {
        let p = self.principal(viewer).await?;
        self.state
            .db(move |conn| sessions::end_all_own(conn, &p))
            .await
            .map(|_| ())
            .map_err(portal_error)
    }
}
