//! A hospital's installed base as use cases: its sites, and per site the products it runs
//! (quantity or serial numbers, notes). The REST resources (`/api/v1/sites`,
//! `/api/v1/installed-base`), the CSV import and the portal's forms all call these, so they
//! accept and refuse the same input.
//!
//! Who may do what (decided by the methods on [`Principal`] below): a hospital's people and read
//! tokens see its own sites and entries; its admins change them. The manufacturer sees a
//! customer's installed base and confirms entries (only confirmed entries open TLP:AMBER), but
//! does not edit it. Another hospital's site or entry answers 404, like one that does not exist.

use herald_storage::{
    DbConnection, StorageError, accounts::OrgKind, accounts::Organization,
    installed_base::EntryInput, installed_base::EntryUpdate, installed_base::InstalledProduct,
    sites::Site, sites::SiteInput,
};

use crate::error::ServiceError;
use crate::service::Principal;
use crate::state::AppState;

impl Principal {
    /// Reads its own hospital's workspace (sites, installed base, remediation status): the
    /// hospital's people, and its tokens with `read`. The manufacturer's views of a customer
    /// go through [`Principal::require_manufacturer_reader`].
    pub fn require_hospital_reader(&self) -> Result<&str, ServiceError> {
        self.require_read()?;
        if self.org_kind == OrgKind::Hospital {
            Ok(&self.org_id)
        } else {
            Err(ServiceError::Forbidden)
        }
    }

    /// Changes its own hospital's sites, installed base and remediation status: the hospital's
    /// admins (people with the admin role, `admin` tokens).
    pub fn require_hospital_admin(&self) -> Result<&str, ServiceError> {
        self.require_admin()?;
        self.require_hospital_reader()
    }

    /// Reads the manufacturer's aggregate and per-customer views: the manufacturer's people and
    /// its `read` tokens.
    pub fn require_manufacturer_reader(&self) -> Result<&str, ServiceError> {
        self.require_read()?;
        if self.is_manufacturer() {
            Ok(&self.org_id)
        } else {
            Err(ServiceError::Forbidden)
        }
    }

    /// Confirms customers' entries: the manufacturer's admins.
    pub fn require_manufacturer_admin(&self) -> Result<&str, ServiceError> {
        self.require_admin()?;
        self.require_manufacturer_reader()
    }
}

/// Storage's refusal as a 422 naming the field: storage writes "field: problem" where it knows
/// the field, anything else is attributed to `default`. Conflicts stay 409.
pub(crate) fn refused(
    fields: &'static [&'static str],
    default: &'static str,
) -> impl Fn(StorageError) -> ServiceError {
    move |e| match e {
        StorageError::Invalid(message) => match message.split_once(": ") {
            Some((field, rest)) if fields.contains(&field) => ServiceError::field(field, rest),
            _ => ServiceError::field(default, message),
        },
        other => other.into(),
    }
}

const SITE_FIELDS: &[&str] = &["name", "code", "address"];
const ENTRY_FIELDS: &[&str] = &[
    "site_id",
    "product_id",
    "quantity",
    "serials",
    "notes",
    "site",
];

/// Where a new entry goes: an existing site by id, or a site by name (created when missing).
#[derive(Debug, Clone)]
pub enum SiteChoice {
    Id(String),
    Name(String),
}

impl SiteChoice {
    /// The site a request names by `site_id` or by `site` (a name): at most one of the two;
    /// neither (or a blank name) leaves the choice to the default site.
    pub fn from_request(
        site_id: Option<String>,
        site: Option<String>,
    ) -> Result<Option<Self>, ServiceError> {
        match (site_id, site) {
            (Some(_), Some(_)) => Err(ServiceError::field(
                "site_id",
                "give at most one of `site_id` and `site`",
            )),
            (Some(id), None) => Ok(Some(SiteChoice::Id(id))),
            (None, Some(name)) if !name.trim().is_empty() => Ok(Some(SiteChoice::Name(name))),
            (None, _) => Ok(None),
        }
    }
}

/// A new installed-base entry as a caller gives it.
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub site: Option<SiteChoice>,
    pub product_id: String,
    pub quantity: Option<i32>,
    pub serials: Vec<String>,
    pub notes: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// sites

pub async fn list_sites(state: &AppState, p: &Principal) -> Result<Vec<Site>, ServiceError> {
    let org = p.require_hospital_reader()?.to_owned();
    state
        .db(move |conn| Ok(herald_storage::sites::list_sites(conn, &org)?))
        .await
}

pub async fn create_site(
    state: &AppState,
    p: &Principal,
    input: SiteInput,
) -> Result<Site, ServiceError> {
    let org = p.require_hospital_admin()?.to_owned();
    let actor = p.actor();
    state
        .db(move |conn| {
            herald_storage::sites::create_site(conn, &org, &input, &actor)
                .map_err(refused(SITE_FIELDS, "name"))
        })
        .await
}

pub async fn update_site(
    state: &AppState,
    p: &Principal,
    site_id: &str,
    input: SiteInput,
) -> Result<Site, ServiceError> {
    let org = p.require_hospital_admin()?.to_owned();
    let (actor, id) = (p.actor(), site_id.to_owned());
    state
        .db(move |conn| {
            herald_storage::sites::update_site(conn, &org, &id, &input, &actor)
                .map_err(refused(SITE_FIELDS, "name"))
        })
        .await
}

pub async fn delete_site(
    state: &AppState,
    p: &Principal,
    site_id: &str,
) -> Result<(), ServiceError> {
    let org = p.require_hospital_admin()?.to_owned();
    let (actor, id) = (p.actor(), site_id.to_owned());
    state
        .db(move |conn| Ok(herald_storage::sites::delete_site(conn, &org, &id, &actor)?))
        .await
}

// ---------------------------------------------------------------------------------------------
// entries

pub async fn list_entries(
    state: &AppState,
    p: &Principal,
) -> Result<Vec<InstalledProduct>, ServiceError> {
    let org = p.require_hospital_reader()?.to_owned();
    state
        .db(move |conn| {
            Ok(herald_storage::installed_base::list_installed_base(
                conn, &org,
            )?)
        })
        .await
}

/// Adds an entry to the caller's installed base. Without a site it goes to the default site.
pub async fn add_entry(
    state: &AppState,
    p: &Principal,
    new: NewEntry,
) -> Result<InstalledProduct, ServiceError> {
    let org = p.require_hospital_admin()?.to_owned();
    let actor = p.actor();
    if new.product_id.trim().is_empty() {
        return Err(ServiceError::field("product_id", "is empty"));
    }
    state
        .db(move |conn| {
            herald_storage::write_transaction_as(conn, |conn| {
                let site_id = resolve_site(conn, &org, new.site.as_ref(), &actor)?;
                herald_storage::installed_base::add_entry(
                    conn,
                    &org,
                    &EntryInput {
                        site_id,
                        product_id: new.product_id.trim().to_owned(),
                        quantity: new.quantity,
                        serials: new.serials,
                        notes: new.notes,
                    },
                    &actor,
                )
                .map_err(refused(ENTRY_FIELDS, "product_id"))
            })
        })
        .await
}

/// The site id of a [`SiteChoice`]: an id must be one of the hospital's sites (422 otherwise),
/// a name is created when missing.
fn resolve_site(
    conn: &mut DbConnection,
    org: &str,
    site: Option<&SiteChoice>,
    actor: &str,
) -> Result<String, ServiceError> {
    match site {
        Some(SiteChoice::Id(id)) => herald_storage::sites::get_site(conn, org, id)?
            .map(|s| s.id)
            .ok_or_else(|| ServiceError::field("site_id", "is not one of your sites")),
        Some(SiteChoice::Name(name)) => {
            Ok(herald_storage::sites::ensure_site(conn, org, name, actor)
                .map_err(refused(ENTRY_FIELDS, "site"))?
                .id)
        }
        None => Ok(herald_storage::sites::ensure_site(
            conn,
            org,
            herald_storage::sites::DEFAULT_SITE,
            actor,
        )?
        .id),
    }
}

pub async fn update_entry(
    state: &AppState,
    p: &Principal,
    entry_id: &str,
    update: EntryUpdate,
) -> Result<InstalledProduct, ServiceError> {
    let org = p.require_hospital_admin()?.to_owned();
    let (actor, id) = (p.actor(), entry_id.to_owned());
    state
        .db(move |conn| {
            herald_storage::installed_base::update_entry(conn, &org, &id, &update, &actor)
                .map_err(refused(ENTRY_FIELDS, "quantity"))
        })
        .await
}

pub async fn remove_entry(
    state: &AppState,
    p: &Principal,
    entry_id: &str,
) -> Result<(), ServiceError> {
    let org = p.require_hospital_admin()?.to_owned();
    let (actor, id) = (p.actor(), entry_id.to_owned());
    state
        .db(move |conn| {
            Ok(herald_storage::installed_base::remove_installed_product(
                conn, &org, &id, &actor,
            )?)
        })
        .await
}

// ---------------------------------------------------------------------------------------------
// the manufacturer's side

/// Resolves `{org}` (id or slug) to an organization; unknown is 404.
pub(crate) fn find_org(conn: &mut DbConnection, org: &str) -> Result<Organization, ServiceError> {
    if let Some(o) = herald_storage::accounts::find_organization(conn, org)? {
        return Ok(o);
    }
    herald_storage::accounts::find_organization_by_slug(conn, org)?.ok_or(ServiceError::NotFound)
}

/// A customer of the manufacturer by id or slug; anything else (not a customer, unknown) is 404.
pub(crate) fn customer_of(
    conn: &mut DbConnection,
    maker: &str,
    org: &str,
) -> Result<Organization, ServiceError> {
    let hospital = find_org(conn, org)?;
    if herald_storage::customers::get_customer(conn, maker, &hospital.id)?.is_none() {
        return Err(ServiceError::NotFound);
    }
    Ok(hospital)
}

/// A customer's installed base as the hospital declared it (the manufacturer).
pub async fn customer_entries(
    state: &AppState,
    p: &Principal,
    org: &str,
) -> Result<Vec<InstalledProduct>, ServiceError> {
    let maker = p.require_manufacturer_reader()?.to_owned();
    let org = org.to_owned();
    state
        .db(move |conn| {
            let hospital = customer_of(conn, &maker, &org)?;
            Ok(herald_storage::installed_base::list_installed_base(
                conn,
                &hospital.id,
            )?)
        })
        .await
}

/// Confirms a customer's entry, which from then on opens TLP:AMBER advisories about that
/// product to the hospital (the manufacturer's admins). Confirming twice is harmless.
pub async fn confirm_entry(
    state: &AppState,
    p: &Principal,
    org: &str,
    entry_id: &str,
) -> Result<InstalledProduct, ServiceError> {
    let maker = p.require_manufacturer_admin()?.to_owned();
    let (actor, org, id) = (p.actor(), org.to_owned(), entry_id.to_owned());
    state
        .db(move |conn| {
            let hospital = find_org(conn, &org)?;
            Ok(herald_storage::installed_base::confirm_installed_product(
                conn,
                &maker,
                &hospital.id,
                &id,
                &actor,
            )?)
        })
        .await
}
