//! Who is acting: the one [`Principal`] every use case takes, and every authorization decision
//! about it. A principal is built in exactly one place per transport: [`Principal::from_session`]
//! for the portal's session cookie (the portal's adapters, which receive the viewer that cookie
//! resolved to, rebuild it through the same [`Principal::of_user`]), [`Principal::from_bearer`]
//! for an API token. Adapters never look at roles, scopes or organization kinds themselves.
//!
//! Roles and scopes: a person's role (`admin`, `publisher`, `approver`, `viewer`) decides what
//! they may do through the portal. A token's scopes (`read`, `publish`, `admin`) bound what it may
//! do; a token made for a user also acts with that user's role, and stops working once the user
//! is disabled. A token without a user acts for its organization with its scopes alone.

use herald_storage::{
    DbConnection, accounts::ApiToken, accounts::OrgKind, accounts::Role, accounts::Scope,
    accounts::User, entitlement::Reader, sessions::SessionPolicy,
};

use crate::error::ServiceError;

/// The credential a request came with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A signed-in person (portal session cookie).
    Session { user_id: String },
    /// An API token, possibly made for a user.
    Token {
        token_id: String,
        user_id: Option<String>,
        scopes: Vec<Scope>,
    },
}

/// An authenticated caller: its credential, organization and role.
#[derive(Debug, Clone)]
pub struct Principal {
    pub credential: Credential,
    pub org_id: String,
    pub org_name: String,
    pub org_kind: OrgKind,
    /// The person's role; `None` for a token without a user.
    pub role: Option<Role>,
}

impl Principal {
    /// The principal behind a session cookie; `None` when the cookie names no live session (an
    /// unknown or expired session is simply no sign-in).
    /// Each use renews the session's idle timeout (`policy`, the operator's).
    pub fn from_session(
        conn: &mut DbConnection,
        cookie: &str,
        policy: &SessionPolicy,
    ) -> Result<Option<Principal>, ServiceError> {
        if cookie.is_empty() {
            return Ok(None);
        }
        match herald_storage::sessions::resume_session(conn, cookie, policy, chrono::Utc::now())? {
            Some((_, user)) => Self::of_user(conn, &user),
            None => Ok(None),
        }
    }

    /// The principal of a signed-in user (the session resolved it); `None` when the user is
    /// disabled or its organization is gone.
    pub fn of_user(
        conn: &mut DbConnection,
        user: &User,
    ) -> Result<Option<Principal>, ServiceError> {
        if user.disabled {
            return Ok(None);
        }
        let Some(org) = herald_storage::accounts::find_organization(conn, &user.org_id)? else {
            return Ok(None);
        };
        Ok(Some(Principal {
            credential: Credential::Session {
                user_id: user.id.clone(),
            },
            org_id: org.id,
            org_name: org.name,
            org_kind: org.kind,
            role: Some(user.role),
        }))
    }

    /// The principal of a user by id (the portal's adapters get the id from the viewer the
    /// session cookie resolved to).
    pub fn of_user_id(
        conn: &mut DbConnection,
        user_id: &str,
    ) -> Result<Option<Principal>, ServiceError> {
        match herald_storage::accounts::find_user(conn, user_id)? {
            Some(user) => Self::of_user(conn, &user),
            None => Ok(None),
        }
    }

    /// The principal behind a bearer token. An unknown, revoked or expired token, one whose
    /// organization is gone and one made for a user who is disabled or gone are refused (401):
    /// a bad credential is never a silent downgrade.
    pub fn from_bearer(conn: &mut DbConnection, token: &str) -> Result<Principal, ServiceError> {
        let token = herald_storage::accounts::authenticate_api_token(conn, token)?
            .ok_or(ServiceError::Unauthorized)?;
        Self::of_token(conn, &token)
    }

    fn of_token(conn: &mut DbConnection, token: &ApiToken) -> Result<Principal, ServiceError> {
        let org = herald_storage::accounts::find_organization(conn, &token.org_id)?
            .ok_or(ServiceError::Unauthorized)?;
        let role = match &token.user_id {
            None => None,
            Some(user_id) => Some(
                herald_storage::accounts::find_user(conn, user_id)?
                    .filter(|u| !u.disabled && u.org_id == org.id)
                    .ok_or(ServiceError::Unauthorized)?
                    .role,
            ),
        };
        Ok(Principal {
            credential: Credential::Token {
                token_id: token.id.clone(),
                user_id: token.user_id.clone(),
                scopes: token.scopes.clone(),
            },
            org_id: org.id,
            org_name: org.name,
            org_kind: org.kind,
            role,
        })
    }

    // -----------------------------------------------------------------------------------------
    // who

    /// The person behind the credential, if any.
    pub fn user_id(&self) -> Option<&str> {
        match &self.credential {
            Credential::Session { user_id } => Some(user_id),
            Credential::Token { user_id, .. } => user_id.as_deref(),
        }
    }

    /// The name the audit log, drafts and the four-eyes rule record: `user:<id>` for a person
    /// (through the portal or a token made for them), `token:<id>` for a token without a user.
    pub fn actor(&self) -> String {
        match (&self.credential, self.user_id()) {
            (_, Some(user)) => format!("user:{user}"),
            (Credential::Token { token_id, .. }, None) => format!("token:{token_id}"),
            (Credential::Session { .. }, None) => "unknown".into(),
        }
    }

    pub fn is_manufacturer(&self) -> bool {
        self.org_kind == OrgKind::Manufacturer
    }

    /// How this caller reads advisories (the entitlement rule of storage): a token without the
    /// `read` (or `admin`) scope reads as anonymous.
    pub fn reader(&self) -> Reader {
        if self.scope_allows(Scope::Read) {
            Reader::of(self.org_kind, self.org_id.clone())
        } else {
            Reader::Anonymous
        }
    }

    /// A token's scopes bound it; a session is bounded by its role alone. `admin` includes
    /// `read`, so an operator's token need not carry both.
    pub fn scope_allows(&self, scope: Scope) -> bool {
        match &self.credential {
            Credential::Session { .. } => true,
            Credential::Token { scopes, .. } => {
                scopes.contains(&scope) || (scope == Scope::Read && scopes.contains(&Scope::Admin))
            }
        }
    }

    /// Refuses (403) a token without the scope.
    pub fn require_scope(&self, scope: Scope) -> Result<(), ServiceError> {
        if self.scope_allows(scope) {
            Ok(())
        } else {
            Err(ServiceError::Forbidden)
        }
    }

    /// Reading organization data (destinations, deliveries, subscriptions...): any person of the
    /// organization, a token with `read` or `admin`.
    pub fn require_read(&self) -> Result<(), ServiceError> {
        self.require_scope(Scope::Read)
    }

    /// An admin of its organization: a person with the admin role; a token with the `admin`
    /// scope (made for a user: that user must be an admin too).
    pub fn is_admin(&self) -> bool {
        self.scope_allows(Scope::Admin)
            && match (&self.credential, self.role) {
                (Credential::Session { .. }, role) => role == Some(Role::Admin),
                (Credential::Token { .. }, None) => true,
                (Credential::Token { .. }, Some(role)) => role == Role::Admin,
            }
    }

    pub fn require_admin(&self) -> Result<(), ServiceError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ServiceError::Forbidden)
        }
    }

    /// May approve publications of its manufacturer: approvers and admins, people only.
    pub fn is_approver(&self) -> bool {
        self.is_manufacturer() && matches!(self.role, Some(Role::Approver | Role::Admin))
    }

    /// May publish and write drafts for its manufacturer: publishers and admins, and `publish`
    /// tokens (a token without a user is machine publishing).
    pub fn is_publisher(&self) -> bool {
        let role_may = matches!(self.role, Some(Role::Publisher | Role::Admin));
        self.is_manufacturer()
            && match &self.credential {
                Credential::Session { .. } => role_may,
                Credential::Token { scopes, .. } => {
                    scopes.contains(&Scope::Publish) && (self.role.is_none() || role_may)
                }
            }
    }

    // -----------------------------------------------------------------------------------------
    // organization data (destinations, subscriptions, deliveries)

    /// Sees the organization's destinations, their health and delivery log: its own people and
    /// tokens, and the manufacturer's.
    pub fn can_see_org(&self, org_id: &str) -> bool {
        self.is_manufacturer() || self.org_id == org_id
    }

    /// Which organization's data a list shows: `None` for every organization (the manufacturer).
    pub fn org_filter(&self) -> Option<String> {
        (!self.is_manufacturer()).then(|| self.org_id.clone())
    }

    /// Creates and changes the organization's destinations and subscriptions, sends tests and
    /// replays deliveries: that organization's admins only. The manufacturer sees a hospital's
    /// destinations but does not steer them (where they point, what is sent with their secrets).
    pub fn can_edit_destinations_of(&self, org_id: &str) -> bool {
        self.is_admin() && self.org_id == org_id
    }

    /// Reads a destination's configuration, grants and secret names (URLs may hold credentials):
    /// the organization's admins. Members and the manufacturer see name, channel and health.
    pub fn can_read_destination_config_of(&self, org_id: &str) -> bool {
        self.can_edit_destinations_of(org_id)
    }

    /// Switches a destination off (audited): its organization's admins, and the manufacturer's
    /// admins (to stop notices going to a receiver that misbehaves).
    pub fn can_disable_destination_of(&self, org_id: &str) -> bool {
        self.is_admin() && self.can_see_org(org_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(kind: OrgKind, credential: Credential, role: Option<Role>) -> Principal {
        Principal {
            credential,
            org_id: "org".into(),
            org_name: "Org".into(),
            org_kind: kind,
            role,
        }
    }

    fn session() -> Credential {
        Credential::Session {
            user_id: "u".into(),
        }
    }

    fn token(scopes: &[Scope], user: bool) -> Credential {
        Credential::Token {
            token_id: "t".into(),
            user_id: user.then(|| "u".to_string()),
            scopes: scopes.to_vec(),
        }
    }

    #[test]
    fn admins_by_role_and_scope() {
        let h = OrgKind::Hospital;
        assert!(principal(h, session(), Some(Role::Admin)).is_admin());
        assert!(!principal(h, session(), Some(Role::Viewer)).is_admin());
        assert!(principal(h, token(&[Scope::Admin], false), None).is_admin());
        assert!(!principal(h, token(&[Scope::Read], false), None).is_admin());
        // A token made for a viewer does not make them an admin.
        assert!(!principal(h, token(&[Scope::Admin], true), Some(Role::Viewer)).is_admin());
    }

    #[test]
    fn only_own_admins_edit_destinations() {
        let maker = principal(OrgKind::Manufacturer, session(), Some(Role::Admin));
        assert!(maker.can_see_org("hospital"));
        assert!(!maker.can_edit_destinations_of("hospital"));
        assert!(!maker.can_read_destination_config_of("hospital"));
        assert!(maker.can_disable_destination_of("hospital"));
        let hospital = principal(OrgKind::Hospital, session(), Some(Role::Admin));
        assert!(hospital.can_edit_destinations_of("org"));
        assert!(!hospital.can_see_org("other"));
        assert!(!hospital.can_disable_destination_of("other"));
    }

    #[test]
    fn approvers_are_people() {
        let m = OrgKind::Manufacturer;
        assert!(principal(m, session(), Some(Role::Approver)).is_approver());
        assert!(!principal(m, token(&[Scope::Publish], false), None).is_approver());
        assert!(!principal(m, session(), Some(Role::Publisher)).is_approver());
        assert!(principal(m, token(&[Scope::Publish], false), None).is_publisher());
        assert!(!principal(m, token(&[Scope::Read], false), None).is_publisher());
        assert!(principal(m, session(), Some(Role::Publisher)).is_publisher());
        assert!(!principal(OrgKind::Hospital, session(), Some(Role::Admin)).is_publisher());
    }
}
