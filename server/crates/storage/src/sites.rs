//! A hospital's sites (a campus, a building, a clinic): name unique per hospital, an optional
//! code (the hospital's asset-management reference, unique when given) and address. Installed-
//! base entries ([`crate::installed_base`]) and remediation statuses ([`crate::remediation`]) are
//! per site; a site with entries or a remediation history is kept.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::customers::{optional_text, require_kind};
use crate::schema::{installed_base, remediation_history, sites};
use crate::{
    DbConnection, StorageError, accounts::OrgKind, audit::append_audit, from_micros, new_id, now,
    to_micros, write_transaction,
};

/// Name of the site that entries added without one go to (and that migrated entries went to).
pub const DEFAULT_SITE: &str = "Main site";
const MAX_NAME: usize = 200;

// ---------------------------------------------------------------------------------------------
// sites

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub id: String,
    pub org_id: String,
    pub name: String,
    /// The hospital's own short reference (asset-management code), unique per hospital.
    pub code: Option<String>,
    pub address: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a hospital says about a site.
#[derive(Debug, Clone, Default)]
pub struct SiteInput {
    pub name: String,
    pub code: Option<String>,
    pub address: Option<String>,
}

type SiteTuple = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    i64,
    i64,
);

fn site_from(t: SiteTuple) -> Site {
    let (id, org_id, name, code, address, created_at, updated_at) = t;
    Site {
        id,
        org_id,
        name,
        code,
        address,
        created_at: from_micros(created_at),
        updated_at: from_micros(updated_at),
    }
}

macro_rules! site_select {
    () => {
        (
            sites::id,
            sites::org_id,
            sites::name,
            sites::code,
            sites::address,
            sites::created_at,
            sites::updated_at,
        )
    };
}

/// A short printable name: 1-200 characters, no control characters.
pub(crate) fn check_name(field: &str, v: &str) -> Result<String, StorageError> {
    let v = v.trim();
    if v.is_empty() {
        return Err(StorageError::Invalid(format!("{field} is empty")));
    }
    if v.chars().count() > MAX_NAME || v.chars().any(char::is_control) {
        return Err(StorageError::Invalid(format!(
            "{field} must be 1-{MAX_NAME} printable characters"
        )));
    }
    Ok(v.to_string())
}

impl SiteInput {
    fn checked(&self) -> Result<SiteInput, StorageError> {
        Ok(SiteInput {
            name: check_name("name", &self.name)?,
            code: match self
                .code
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
            {
                Some(c) => Some(check_name("code", c)?),
                None => None,
            },
            address: optional_text("address", self.address.as_deref())?,
        })
    }
}

/// Names the field a unique violation on `sites` is about.
fn site_conflict(input: &SiteInput) -> impl Fn(diesel::result::Error) -> StorageError + '_ {
    move |e| match StorageError::from(e) {
        StorageError::Conflict(m) if m.contains("code") => StorageError::Conflict(format!(
            "code: another site is already coded {:?}",
            input.code.as_deref().unwrap_or_default()
        )),
        StorageError::Conflict(_) => StorageError::Conflict(format!(
            "name: there is already a site named {:?}",
            input.name
        )),
        other => other,
    }
}

fn check_site_unique(
    conn: &mut DbConnection,
    org_id: &str,
    except: Option<&str>,
    input: &SiteInput,
) -> Result<(), StorageError> {
    let same_name: Vec<String> = sites::table
        .filter(sites::org_id.eq(org_id))
        .filter(sites::name.eq(&input.name))
        .select(sites::id)
        .load(conn)?;
    if same_name.iter().any(|id| Some(id.as_str()) != except) {
        return Err(StorageError::Conflict(format!(
            "name: there is already a site named {:?}",
            input.name
        )));
    }
    if let Some(code) = &input.code {
        let same_code: Vec<String> = sites::table
            .filter(sites::org_id.eq(org_id))
            .filter(sites::code.eq(code))
            .select(sites::id)
            .load(conn)?;
        if same_code.iter().any(|id| Some(id.as_str()) != except) {
            return Err(StorageError::Conflict(format!(
                "code: another site is already coded {code:?}"
            )));
        }
    }
    Ok(())
}

/// Adds a site to a hospital. Name (and code, when given) unique per hospital: a conflict names
/// the field.
pub fn create_site(
    conn: &mut DbConnection,
    org_id: &str,
    input: &SiteInput,
    actor: &str,
) -> Result<Site, StorageError> {
    let input = input.checked()?;
    write_transaction(conn, |conn| insert_site(conn, org_id, &input, actor))
}

/// [`create_site`] inside the caller's transaction (the input is checked).
fn insert_site(
    conn: &mut DbConnection,
    org_id: &str,
    input: &SiteInput,
    actor: &str,
) -> Result<Site, StorageError> {
    require_kind(conn, org_id, OrgKind::Hospital, "sites")?;
    check_site_unique(conn, org_id, None, input)?;
    let id = new_id();
    let at = to_micros(now());
    diesel::insert_into(sites::table)
        .values((
            sites::id.eq(&id),
            sites::org_id.eq(org_id),
            sites::name.eq(&input.name),
            sites::code.eq(&input.code),
            sites::address.eq(&input.address),
            sites::created_at.eq(at),
            sites::updated_at.eq(at),
        ))
        .execute(conn)
        .map_err(site_conflict(input))?;
    append_audit(
        conn,
        actor,
        "site.create",
        &format!("organization:{org_id}"),
        &serde_json::json!({ "site_id": id, "name": input.name, "code": input.code }),
    )?;
    get_site(conn, org_id, &id)?.ok_or(StorageError::NotFound)
}

/// Renames or re-addresses a site of the hospital; another hospital's site is `NotFound`.
pub fn update_site(
    conn: &mut DbConnection,
    org_id: &str,
    site_id: &str,
    input: &SiteInput,
    actor: &str,
) -> Result<Site, StorageError> {
    let input = input.checked()?;
    write_transaction(conn, |conn| {
        if get_site(conn, org_id, site_id)?.is_none() {
            return Err(StorageError::NotFound);
        }
        check_site_unique(conn, org_id, Some(site_id), &input)?;
        diesel::update(sites::table.find(site_id))
            .set((
                sites::name.eq(&input.name),
                sites::code.eq(&input.code),
                sites::address.eq(&input.address),
                sites::updated_at.eq(to_micros(now())),
            ))
            .execute(conn)
            .map_err(site_conflict(&input))?;
        append_audit(
            conn,
            actor,
            "site.update",
            &format!("organization:{org_id}"),
            &serde_json::json!({ "site_id": site_id, "name": input.name, "code": input.code }),
        )?;
        get_site(conn, org_id, site_id)?.ok_or(StorageError::NotFound)
    })
}

/// Removes an empty site. A site that still has entries, or whose remediation history would be
/// lost, is a conflict saying so.
pub fn delete_site(
    conn: &mut DbConnection,
    org_id: &str,
    site_id: &str,
    actor: &str,
) -> Result<(), StorageError> {
    write_transaction(conn, |conn| {
        let Some(site) = get_site(conn, org_id, site_id)? else {
            return Err(StorageError::NotFound);
        };
        let entries: i64 = installed_base::table
            .filter(installed_base::site_id.eq(site_id))
            .count()
            .get_result(conn)?;
        if entries > 0 {
            return Err(StorageError::Conflict(format!(
                "site {:?} still has {entries} installed-base entries; remove them first",
                site.name
            )));
        }
        let history: i64 = remediation_history::table
            .filter(remediation_history::site_id.eq(site_id))
            .count()
            .get_result(conn)?;
        if history > 0 {
            return Err(StorageError::Conflict(format!(
                "site {:?} has a remediation history, which is kept; rename the site instead",
                site.name
            )));
        }
        diesel::delete(sites::table.find(site_id)).execute(conn)?;
        append_audit(
            conn,
            actor,
            "site.delete",
            &format!("organization:{org_id}"),
            &serde_json::json!({ "site_id": site_id, "name": site.name }),
        )
    })
}

/// One site of the hospital (another hospital's is `None`).
pub fn get_site(
    conn: &mut DbConnection,
    org_id: &str,
    site_id: &str,
) -> Result<Option<Site>, StorageError> {
    let found: Option<SiteTuple> = sites::table
        .filter(sites::org_id.eq(org_id))
        .filter(sites::id.eq(site_id))
        .select(site_select!())
        .first(conn)
        .optional()?;
    Ok(found.map(site_from))
}

/// The hospital's sites by name.
pub fn list_sites(conn: &mut DbConnection, org_id: &str) -> Result<Vec<Site>, StorageError> {
    let rows: Vec<SiteTuple> = sites::table
        .filter(sites::org_id.eq(org_id))
        .select(site_select!())
        .order((sites::name.asc(), sites::id.asc()))
        .load(conn)?;
    Ok(rows.into_iter().map(site_from).collect())
}

/// The site named `name` (compared exactly), created when missing (inside the caller's
/// transaction, or its own).
pub fn ensure_site(
    conn: &mut DbConnection,
    org_id: &str,
    name: &str,
    actor: &str,
) -> Result<Site, StorageError> {
    let name = check_name("site", name)?;
    write_transaction(conn, |conn| {
        let found: Option<SiteTuple> = sites::table
            .filter(sites::org_id.eq(org_id))
            .filter(sites::name.eq(&name))
            .select(site_select!())
            .first(conn)
            .optional()?;
        match found {
            Some(t) => Ok(site_from(t)),
            None => insert_site(
                conn,
                org_id,
                &SiteInput {
                    name: name.clone(),
                    ..SiteInput::default()
                },
                actor,
            ),
        }
    })
}
