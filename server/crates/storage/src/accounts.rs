//! Organizations (manufacturers and hospitals), their users and API tokens (sign-in sessions
//! are [`crate::sessions`]).
//! Secrets are never stored: passwords as argon2 hashes, session and API tokens as sha256.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use rand::RngCore;

use crate::schema::{api_tokens, organizations, users};
use crate::{
    DbConnection, StorageError, audit::append_audit, from_json, from_micros, new_id, now,
    sha256_hex, to_json, to_micros,
};

/// Prefix of every API token, so leaked tokens are recognisable (secret scanners, logs).
pub const API_TOKEN_PREFIX: &str = "hrld_";
/// Shortest password accepted (NIST SP 800-63B minimum).
pub const MIN_PASSWORD_LEN: usize = 8;

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = StorageError;
            fn from_str(s: &str) -> Result<Self, StorageError> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(StorageError::Invalid(format!(
                        concat!("unknown ", stringify!($name), " {:?}"), other
                    ))),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use string_enum;

string_enum!(
    /// What an organization is to Herald.
    OrgKind { Manufacturer = "manufacturer", Hospital = "hospital" }
);
string_enum!(
    Role { Admin = "admin", Publisher = "publisher", Approver = "approver", Viewer = "viewer" }
);
string_enum!(
    /// What an API token may do. `metrics` reads `/metrics` and nothing else.
    Scope { Publish = "publish", Read = "read", Admin = "admin", Metrics = "metrics" }
);

fn parse_stored<T: std::str::FromStr<Err = StorageError>>(
    what: &str,
    s: &str,
) -> Result<T, StorageError> {
    s.parse()
        .map_err(|_| StorageError::Corrupt(format!("{what}: {s:?}")))
}

// ---------------------------------------------------------------------------------------------
// organizations

#[derive(Debug, Clone, PartialEq)]
pub struct Organization {
    pub id: String,
    pub kind: OrgKind,
    pub name: String,
    pub slug: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = organizations)]
struct OrgRow {
    id: String,
    kind: String,
    name: String,
    slug: String,
    created_at: i64,
}

impl OrgRow {
    fn into_model(self) -> Result<Organization, StorageError> {
        Ok(Organization {
            kind: parse_stored("organizations.kind", &self.kind)?,
            id: self.id,
            name: self.name,
            slug: self.slug,
            created_at: from_micros(self.created_at),
        })
    }
}

/// Slugs appear in URLs: lower-case ASCII letters, digits and inner hyphens, 1..=64 chars.
fn validate_slug(slug: &str) -> Result<(), StorageError> {
    let ok = !slug.is_empty()
        && slug.len() <= 64
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(StorageError::Invalid(format!(
            "organization slug {slug:?} must be 1-64 lower-case letters, digits or inner hyphens"
        )))
    }
}

pub fn create_organization(
    conn: &mut DbConnection,
    kind: OrgKind,
    name: &str,
    slug: &str,
) -> Result<Organization, StorageError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(StorageError::Invalid("organization name is empty".into()));
    }
    validate_slug(slug)?;
    let row = OrgRow {
        id: new_id(),
        kind: kind.as_str().to_string(),
        name: name.to_string(),
        slug: slug.to_string(),
        created_at: to_micros(now()),
    };
    diesel::insert_into(organizations::table)
        .values(&row)
        .execute(conn)
        .map_err(|e| match StorageError::from(e) {
            StorageError::Conflict(_) => {
                StorageError::Conflict(format!("organization slug {slug:?} is taken"))
            }
            other => other,
        })?;
    row.into_model()
}

/// The slug Herald derives from an organization name: lower case, runs of anything but letters
/// and digits become one hyphen.
pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.trim().to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    slug.chars()
        .take(64)
        .collect::<String>()
        .trim_end_matches('-')
        .to_owned()
}

/// The organization with this name's slug, created when missing. A different kind under the
/// same name is a conflict, never silently reused.
pub fn ensure_organization(
    conn: &mut DbConnection,
    kind: OrgKind,
    name: &str,
) -> Result<Organization, StorageError> {
    let slug = slugify(name);
    crate::write_transaction(conn, |conn| {
        if let Some(org) = find_organization_by_slug(conn, &slug)? {
            if org.kind != kind {
                return Err(StorageError::Conflict(format!(
                    "organization {:?} exists as a {}, not a {}",
                    org.name, org.kind, kind
                )));
            }
            return Ok(org);
        }
        create_organization(conn, kind, name, &slug)
    })
}

pub fn find_organization(
    conn: &mut DbConnection,
    id: &str,
) -> Result<Option<Organization>, StorageError> {
    organizations::table
        .find(id)
        .select(OrgRow::as_select())
        .first(conn)
        .optional()?
        .map(OrgRow::into_model)
        .transpose()
}

pub fn find_organization_by_slug(
    conn: &mut DbConnection,
    slug: &str,
) -> Result<Option<Organization>, StorageError> {
    organizations::table
        .filter(organizations::slug.eq(slug))
        .select(OrgRow::as_select())
        .first(conn)
        .optional()?
        .map(OrgRow::into_model)
        .transpose()
}

pub fn list_organizations(conn: &mut DbConnection) -> Result<Vec<Organization>, StorageError> {
    organizations::table
        .select(OrgRow::as_select())
        .order(organizations::name.asc())
        .load(conn)?
        .into_iter()
        .map(OrgRow::into_model)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// users

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: String,
    pub org_id: String,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub(crate) struct UserRow {
    id: String,
    org_id: String,
    email: String,
    display_name: String,
    password_hash: String,
    role: String,
    disabled: bool,
    created_at: i64,
    last_login_at: Option<i64>,
}

impl UserRow {
    pub(crate) fn into_model(self) -> Result<User, StorageError> {
        Ok(User {
            role: parse_stored("users.role", &self.role)?,
            id: self.id,
            org_id: self.org_id,
            email: self.email,
            display_name: self.display_name,
            disabled: self.disabled,
            created_at: from_micros(self.created_at),
            last_login_at: self.last_login_at.map(from_micros),
        })
    }
}

#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    pub org_id: &'a str,
    pub email: &'a str,
    pub display_name: &'a str,
    pub password: &'a str,
    pub role: Role,
}

fn normalize_email(email: &str) -> Result<String, StorageError> {
    let email = email.trim().to_lowercase();
    let valid = match email.split_once('@') {
        Some((local, domain)) => !local.is_empty() && !domain.is_empty() && !domain.contains('@'),
        None => false,
    };
    if valid && !email.chars().any(char::is_whitespace) {
        Ok(email)
    } else {
        Err(StorageError::Invalid(format!(
            "{email:?} is not an e-mail address"
        )))
    }
}

fn hash_password(password: &str) -> Result<String, StorageError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StorageError::Invalid(format!("cannot hash password: {e}")))
}

fn password_matches(hash: &str, password: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

pub fn create_user(conn: &mut DbConnection, new: &NewUser<'_>) -> Result<User, StorageError> {
    let email = normalize_email(new.email)?;
    if new.password.chars().count() < MIN_PASSWORD_LEN {
        return Err(StorageError::Invalid(format!(
            "password must have at least {MIN_PASSWORD_LEN} characters"
        )));
    }
    let display_name = new.display_name.trim();
    if display_name.is_empty() {
        return Err(StorageError::Invalid("display name is empty".into()));
    }
    if find_organization(conn, new.org_id)?.is_none() {
        return Err(StorageError::Invalid(format!(
            "organization {} does not exist",
            new.org_id
        )));
    }
    let row = UserRow {
        id: new_id(),
        org_id: new.org_id.to_string(),
        email: email.clone(),
        display_name: display_name.to_string(),
        password_hash: hash_password(new.password)?,
        role: new.role.as_str().to_string(),
        disabled: false,
        created_at: to_micros(now()),
        last_login_at: None,
    };
    diesel::insert_into(users::table)
        .values(&row)
        .execute(conn)
        .map_err(|e| match StorageError::from(e) {
            StorageError::Conflict(_) => {
                StorageError::Conflict(format!("a user with e-mail {email} exists"))
            }
            other => other,
        })?;
    row.into_model()
}

pub fn find_user(conn: &mut DbConnection, id: &str) -> Result<Option<User>, StorageError> {
    users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)
        .optional()?
        .map(UserRow::into_model)
        .transpose()
}

/// The user if the e-mail exists, the account is enabled and the password matches; records the
/// login time. Unknown e-mails cost the same argon2 work as wrong passwords.
pub fn verify_password(
    conn: &mut DbConnection,
    email: &str,
    password: &str,
) -> Result<Option<User>, StorageError> {
    let candidate = sign_in_candidate(conn, email)?;
    let hash = candidate.as_ref().map(|(_, hash)| hash.as_str());
    if !password_matches_hash(hash, password) {
        return Ok(None);
    }
    let Some((mut user, _)) = candidate.filter(|(user, _)| !user.disabled) else {
        return Ok(None);
    };
    let at = from_micros(to_micros(now()));
    record_login(conn, &user.id, at)?;
    user.last_login_at = Some(at);
    Ok(Some(user))
}

/// What signing in needs to know of an e-mail address before the password is checked (outside
/// any database connection): the user and its password hash, if the address is an account.
pub fn sign_in_candidate(
    conn: &mut DbConnection,
    email: &str,
) -> Result<Option<(User, String)>, StorageError> {
    let email = email.trim().to_lowercase();
    let row: Option<UserRow> = users::table
        .filter(users::email.eq(&email))
        .select(UserRow::as_select())
        .first(conn)
        .optional()?;
    match row {
        Some(row) => {
            let hash = row.password_hash.clone();
            Ok(Some((row.into_model()?, hash)))
        }
        None => Ok(None),
    }
}

/// Whether `password` matches `hash` (argon2: CPU-heavy, call it off the async runtime). No
/// hash (an unknown account) costs the same work and never matches.
pub fn password_matches_hash(hash: Option<&str>, password: &str) -> bool {
    static DUMMY_HASH: OnceLock<Option<String>> = OnceLock::new();
    match hash {
        Some(hash) => password_matches(hash, password),
        None => {
            if let Some(dummy) = DUMMY_HASH.get_or_init(|| hash_password("not a password").ok()) {
                let _ = password_matches(dummy, password);
            }
            false
        }
    }
}

/// Records a successful sign-in.
pub fn record_login(
    conn: &mut DbConnection,
    user_id: &str,
    at: DateTime<Utc>,
) -> Result<(), StorageError> {
    diesel::update(users::table.find(user_id))
        .set(users::last_login_at.eq(Some(to_micros(at))))
        .execute(conn)?;
    Ok(())
}

pub fn set_user_disabled(
    conn: &mut DbConnection,
    user_id: &str,
    disabled: bool,
) -> Result<(), StorageError> {
    let n = diesel::update(users::table.find(user_id))
        .set(users::disabled.eq(disabled))
        .execute(conn)?;
    if n == 0 {
        Err(StorageError::NotFound)
    } else {
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// secrets

/// A random secret of `bytes` bytes as URL-safe text (for generated passwords and tokens).
pub fn random_password(bytes: usize) -> String {
    use base64::Engine as _;
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// 32 random bytes from the OS, hex.
pub(crate) fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

// ---------------------------------------------------------------------------------------------
// API tokens

#[derive(Debug, Clone, PartialEq)]
pub struct ApiToken {
    pub id: String,
    pub org_id: String,
    pub user_id: Option<String>,
    pub name: String,
    /// The first characters of the token (`hrld_1a2b3c4d`), for telling tokens apart.
    pub token_prefix: String,
    pub scopes: Vec<Scope>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl ApiToken {
    pub fn has_scope(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }
}

#[derive(Debug, Clone)]
pub struct NewApiToken<'a> {
    pub org_id: &'a str,
    pub user_id: Option<&'a str>,
    pub name: &'a str,
    pub scopes: &'a [Scope],
    pub expires_at: Option<DateTime<Utc>>,
}

/// A new token: `token` is shown to its owner once and never again.
#[derive(Debug, Clone)]
pub struct CreatedApiToken {
    pub token: String,
    pub info: ApiToken,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = api_tokens)]
struct ApiTokenRow {
    id: String,
    org_id: String,
    user_id: Option<String>,
    name: String,
    token_hash: String,
    token_prefix: String,
    scopes: String,
    created_at: i64,
    expires_at: Option<i64>,
    revoked_at: Option<i64>,
    last_used_at: Option<i64>,
}

impl ApiTokenRow {
    fn into_model(self) -> Result<ApiToken, StorageError> {
        Ok(ApiToken {
            scopes: from_json("api_tokens.scopes", &self.scopes)?,
            id: self.id,
            org_id: self.org_id,
            user_id: self.user_id,
            name: self.name,
            token_prefix: self.token_prefix,
            created_at: from_micros(self.created_at),
            expires_at: self.expires_at.map(from_micros),
            revoked_at: self.revoked_at.map(from_micros),
            last_used_at: self.last_used_at.map(from_micros),
        })
    }
}

pub fn create_api_token(
    conn: &mut DbConnection,
    new: &NewApiToken<'_>,
    actor: &str,
) -> Result<CreatedApiToken, StorageError> {
    let name = new.name.trim();
    if name.is_empty() {
        return Err(StorageError::Invalid("token name is empty".into()));
    }
    if new.scopes.is_empty() {
        return Err(StorageError::Invalid(
            "a token needs at least one scope".into(),
        ));
    }
    let created = now();
    if let Some(exp) = new.expires_at
        && exp <= created
    {
        return Err(StorageError::Invalid("token expiry is in the past".into()));
    }
    let mut scopes: Vec<Scope> = Vec::new();
    for s in new.scopes {
        if !scopes.contains(s) {
            scopes.push(*s);
        }
    }
    let token = format!("{API_TOKEN_PREFIX}{}", random_secret());
    let row = ApiTokenRow {
        id: new_id(),
        org_id: new.org_id.to_string(),
        user_id: new.user_id.map(str::to_string),
        name: name.to_string(),
        token_hash: sha256_hex(token.as_bytes()),
        token_prefix: token.chars().take(API_TOKEN_PREFIX.len() + 8).collect(),
        scopes: to_json(&scopes)?,
        created_at: to_micros(created),
        expires_at: new.expires_at.map(to_micros),
        revoked_at: None,
        last_used_at: None,
    };
    crate::write_transaction(conn, |conn| {
        if find_organization(conn, new.org_id)?.is_none() {
            return Err(StorageError::Invalid(format!(
                "organization {} does not exist",
                new.org_id
            )));
        }
        if let Some(user_id) = new.user_id {
            match find_user(conn, user_id)? {
                Some(u) if u.org_id == new.org_id => {}
                Some(_) => {
                    return Err(StorageError::Invalid(format!(
                        "user {user_id} does not belong to organization {}",
                        new.org_id
                    )));
                }
                None => {
                    return Err(StorageError::Invalid(format!(
                        "user {user_id} does not exist"
                    )));
                }
            }
        }
        diesel::insert_into(api_tokens::table)
            .values(&row)
            .execute(conn)?;
        append_audit(
            conn,
            actor,
            "api_token.create",
            &format!("api_token:{}", row.id),
            &serde_json::json!({ "org_id": row.org_id, "name": row.name, "scopes": scopes }),
        )
    })?;
    Ok(CreatedApiToken {
        token,
        info: row.into_model()?,
    })
}

/// The token's record if it is known, not revoked and not expired; records its use.
pub fn authenticate_api_token(
    conn: &mut DbConnection,
    token: &str,
) -> Result<Option<ApiToken>, StorageError> {
    if !token.starts_with(API_TOKEN_PREFIX) {
        return Ok(None);
    }
    let at = to_micros(now());
    let row: Option<ApiTokenRow> = api_tokens::table
        .filter(api_tokens::token_hash.eq(sha256_hex(token.as_bytes())))
        .filter(api_tokens::revoked_at.is_null())
        .filter(
            api_tokens::expires_at
                .is_null()
                .or(api_tokens::expires_at.gt(at)),
        )
        .select(ApiTokenRow::as_select())
        .first(conn)
        .optional()?;
    let Some(row) = row else { return Ok(None) };
    diesel::update(api_tokens::table.find(&row.id))
        .set(api_tokens::last_used_at.eq(Some(at)))
        .execute(conn)?;
    let mut info = row.into_model()?;
    info.last_used_at = Some(from_micros(at));
    Ok(Some(info))
}

/// All tokens of an organization (revoked and expired ones too), newest first.
pub fn list_api_tokens(
    conn: &mut DbConnection,
    org_id: &str,
) -> Result<Vec<ApiToken>, StorageError> {
    api_tokens::table
        .filter(api_tokens::org_id.eq(org_id))
        .select(ApiTokenRow::as_select())
        .order((api_tokens::created_at.desc(), api_tokens::id.desc()))
        .load(conn)?
        .into_iter()
        .map(ApiTokenRow::into_model)
        .collect()
}

/// Revokes a token of `org_id`. Revoking twice is fine; a token of another organization is
/// `NotFound`.
pub fn revoke_api_token(
    conn: &mut DbConnection,
    org_id: &str,
    token_id: &str,
    actor: &str,
) -> Result<(), StorageError> {
    crate::write_transaction(conn, |conn| {
        let token = api_tokens::table
            .filter(api_tokens::id.eq(token_id))
            .filter(api_tokens::org_id.eq(org_id));
        let revoked_at: Option<Option<i64>> = token
            .select(api_tokens::revoked_at)
            .first(conn)
            .optional()?;
        match revoked_at {
            None => return Err(StorageError::NotFound),
            // Already revoked: keep the original time.
            Some(Some(_)) => return Ok(()),
            Some(None) => {}
        }
        diesel::update(token)
            .set(api_tokens::revoked_at.eq(Some(to_micros(now()))))
            .execute(conn)?;
        append_audit(
            conn,
            actor,
            "api_token.revoke",
            &format!("api_token:{token_id}"),
            &serde_json::json!({}),
        )
    })
}
