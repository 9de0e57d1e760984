//! The manufacturer's view of how its customers took up an advisory: who was told (from the
//! delivery log: delivered, failed, withheld), who acknowledged (any remediation status counts
//! as acknowledged), sites and devices patched, mitigated, still exposed or silent (no status),
//! days since publication, and the silent customers with their security contacts. This is the
//! only place where several hospitals' data meet, and only in the publisher's aggregate.

use std::collections::{BTreeMap, HashMap};

use herald_storage::remediation::RemediationState;

use crate::error::ServiceError;
use crate::service::Principal;
use crate::state::AppState;

/// One customer's uptake of the advisory.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct CustomerUptake {
    pub org_id: String,
    pub name: String,
    pub slug: String,
    /// `delivered`, `failed`, `withheld`, `pending` or `not_sent` (no delivery at all).
    pub told: String,
    /// Any site of the customer set a status for the advisory.
    pub acknowledged: bool,
    /// Affected devices (the advisory's affected products in the installed base).
    pub devices: i64,
    pub devices_patched: i64,
    pub devices_mitigated: i64,
    /// Devices not patched, mitigated or not applicable (risk accepted included).
    pub devices_exposed: i64,
    /// Devices at sites without any status.
    pub devices_silent: i64,
    pub sites: usize,
    pub sites_patched: usize,
    pub sites_mitigated: usize,
    pub sites_silent: usize,
    /// Names of the customer's destinations marked as security contacts.
    pub security_contacts: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Uptake {
    pub tracking_id: String,
    pub title: String,
    pub severity: Option<String>,
    pub days_since_publication: i64,
    pub customers: usize,
    pub told_delivered: usize,
    pub told_failed: usize,
    pub told_withheld: usize,
    pub acknowledged: usize,
    pub devices: i64,
    pub devices_patched: i64,
    pub devices_mitigated: i64,
    pub devices_exposed: i64,
    pub devices_silent: i64,
    /// Every customer, sorted as asked; [`Uptake::silent`] are those affected that did not
    /// acknowledge.
    pub per_customer: Vec<CustomerUptake>,
}

impl Uptake {
    pub fn silent(&self) -> impl Iterator<Item = &CustomerUptake> {
        self.per_customer
            .iter()
            .filter(|c| c.devices > 0 && !c.acknowledged)
    }
}

/// How the customers are sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UptakeSort {
    /// Silent first, then most exposed devices.
    #[default]
    Silent,
    Exposed,
    Name,
}

impl UptakeSort {
    pub fn parse(s: Option<&str>) -> Result<UptakeSort, ServiceError> {
        match s.map(str::trim).filter(|s| !s.is_empty()) {
            None | Some("silent") => Ok(UptakeSort::Silent),
            Some("exposed") => Ok(UptakeSort::Exposed),
            Some("name") => Ok(UptakeSort::Name),
            Some(other) => Err(ServiceError::field(
                "sort",
                format!("{other:?} is not one of silent, exposed, name"),
            )),
        }
    }
}

/// The uptake of one of the caller's advisories (the manufacturer's people and read tokens).
/// Another publisher's advisory, or one that does not exist, is 404.
pub async fn advisory_uptake(
    state: &AppState,
    p: &Principal,
    tracking_id: &str,
    sort: UptakeSort,
) -> Result<Uptake, ServiceError> {
    let maker = p.require_manufacturer_reader()?.to_owned();
    let tracking_id = tracking_id.to_owned();
    state
        .db(move |conn| {
            let advisory = herald_storage::advisories::get_advisory(conn, &tracking_id)?
                .ok_or(ServiceError::NotFound)?;
            if advisory.publisher_org_id != maker {
                return Err(ServiceError::NotFound);
            }
            let customers = herald_storage::customers::list_customers(conn, &maker)?;
            let products = herald_storage::exposure::affected_product_ids(conn, &advisory.id)?;
            let counts =
                herald_storage::installed_base::device_counts(conn, None, Some(&products))?;
            let statuses: HashMap<String, RemediationState> =
                herald_storage::remediation::remediation_statuses(conn, None, Some(&advisory.id))?
                    .into_iter()
                    .map(|s| (s.site_id, s.state))
                    .collect();
            let acknowledged: std::collections::HashSet<String> =
                herald_storage::remediation::remediation_statuses(conn, None, Some(&advisory.id))?
                    .into_iter()
                    .map(|s| s.org_id)
                    .collect();
            let mut told: HashMap<String, BTreeMap<String, i64>> = HashMap::new();
            for (org, status, n) in herald_storage::exposure::delivery_outcomes(conn, &advisory.id)?
            {
                told.entry(org).or_default().insert(status, n);
            }
            let subscriptions = herald_storage::subscriptions::all_subscriptions(conn)?;
            let mut contacts: HashMap<String, Vec<String>> = HashMap::new();
            for d in herald_storage::destinations::list_destinations(conn, None)? {
                if subscriptions.get(&d.id).is_some_and(|s| s.security_contact) {
                    contacts.entry(d.org_id).or_default().push(d.name);
                }
            }
            // org -> site -> devices
            let mut devices: HashMap<&str, BTreeMap<&str, i64>> = HashMap::new();
            for c in &counts {
                *devices
                    .entry(c.org_id.as_str())
                    .or_default()
                    .entry(c.site_id.as_str())
                    .or_default() += c.devices;
            }
            let mut per_customer: Vec<CustomerUptake> = customers
                .into_iter()
                .map(|c| {
                    let outcomes = told.get(&c.hospital_org_id);
                    let has = |s: &str| outcomes.is_some_and(|o| o.contains_key(s));
                    let told = if has("delivered") {
                        "delivered"
                    } else if has("failed") || has("dead") {
                        "failed"
                    } else if has("withheld") {
                        "withheld"
                    } else if outcomes.is_some() {
                        "pending"
                    } else {
                        "not_sent"
                    };
                    let mut u = CustomerUptake {
                        acknowledged: acknowledged.contains(&c.hospital_org_id),
                        security_contacts: contacts.remove(&c.hospital_org_id).unwrap_or_default(),
                        org_id: c.hospital_org_id,
                        name: c.hospital_name,
                        slug: c.hospital_slug,
                        told: told.to_owned(),
                        devices: 0,
                        devices_patched: 0,
                        devices_mitigated: 0,
                        devices_exposed: 0,
                        devices_silent: 0,
                        sites: 0,
                        sites_patched: 0,
                        sites_mitigated: 0,
                        sites_silent: 0,
                    };
                    for (site, n) in devices.get(u.org_id.as_str()).into_iter().flatten() {
                        u.sites += 1;
                        u.devices += n;
                        match statuses.get(*site) {
                            None => {
                                u.sites_silent += 1;
                                u.devices_silent += n;
                                u.devices_exposed += n;
                            }
                            Some(RemediationState::Patched) => {
                                u.sites_patched += 1;
                                u.devices_patched += n;
                            }
                            Some(RemediationState::Mitigated) => {
                                u.sites_mitigated += 1;
                                u.devices_mitigated += n;
                            }
                            Some(s) if s.closes_exposure() => {}
                            Some(_) => u.devices_exposed += n,
                        }
                    }
                    u
                })
                .collect();
            per_customer.sort_by(|a, b| match sort {
                UptakeSort::Name => a.name.cmp(&b.name),
                UptakeSort::Exposed => b
                    .devices_exposed
                    .cmp(&a.devices_exposed)
                    .then(a.name.cmp(&b.name)),
                UptakeSort::Silent => {
                    // Affected and silent first (false sorts before true).
                    let silent = |c: &CustomerUptake| c.devices <= 0 || c.acknowledged;
                    (silent(a), -a.devices_exposed, &a.name).cmp(&(
                        silent(b),
                        -b.devices_exposed,
                        &b.name,
                    ))
                }
            });
            let sum = |f: fn(&CustomerUptake) -> i64| per_customer.iter().map(f).sum::<i64>();
            let count =
                |f: fn(&CustomerUptake) -> bool| per_customer.iter().filter(|c| f(c)).count();
            Ok(Uptake {
                tracking_id: advisory.tracking_id,
                title: advisory.title,
                severity: advisory.severity,
                days_since_publication: (herald_storage::now() - advisory.initial_release_date)
                    .num_days(),
                customers: per_customer.len(),
                told_delivered: count(|c| c.told == "delivered"),
                told_failed: count(|c| c.told == "failed"),
                told_withheld: count(|c| c.told == "withheld"),
                acknowledged: count(|c| c.acknowledged),
                devices: sum(|c| c.devices),
                devices_patched: sum(|c| c.devices_patched),
                devices_mitigated: sum(|c| c.devices_mitigated),
                devices_exposed: sum(|c| c.devices_exposed),
                devices_silent: sum(|c| c.devices_silent),
                per_customer,
            })
        })
        .await
}
