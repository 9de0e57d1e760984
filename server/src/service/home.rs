//! The hospital's home, "what affects us", as one use case: the advisories it may read that name
//! a product of its installed base as affected, open ones first (by severity, then age), each
//! with what to do (from the advisory's remediations), its remediation status per site and the
//! number of its devices still exposed. Empty states are the page's; this says which one applies
//! (no sites, no installed base, nothing affecting it).
//!
//! A site's devices stop counting as exposed once it is patched, mitigated or not applicable;
//! risk accepted keeps them exposed (knowingly). An advisory is open while any affected site has
//! no status, or is only received or under assessment.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use herald_storage::{exposure::Touching, remediation::RemediationState};

use crate::error::ServiceError;
use crate::service::Principal;
use crate::state::AppState;

/// How many advisories the home lists in full (with what to do); the counts cover all.
pub const HOME_LIMIT: usize = 50;

/// One affected site of an advisory.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteExposure {
    pub site_id: String,
    pub site_name: String,
    pub devices: i64,
    pub status: Option<RemediationState>,
    pub status_at: Option<DateTime<Utc>>,
    pub reason: Option<String>,
}

/// What the publisher says to do, one line per remediation category present.
#[derive(Debug, Clone, PartialEq)]
pub struct Advice {
    /// `vendor_fix`, `mitigation`, `workaround`, `no_fix_planned`, `none_available`.
    pub category: String,
    pub details: String,
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AffectingAdvisory {
    pub tracking_id: String,
    pub title: String,
    pub severity: Option<String>,
    pub tlp: String,
    pub published: DateTime<Utc>,
    pub open: bool,
    pub exposed_devices: i64,
    pub sites: Vec<SiteExposure>,
    /// Filled for the first [`HOME_LIMIT`] advisories.
    pub advice: Vec<Advice>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Home {
    pub org_name: String,
    pub sites: usize,
    pub devices: i64,
    /// Advisories touching the installed base, open first by severity then age.
    pub advisories: Vec<AffectingAdvisory>,
    pub open: usize,
    pub exposed_devices: i64,
}

/// Sort rank of a severity: critical first, unscored last.
pub fn severity_rank(s: Option<&str>) -> u8 {
    match s {
        Some("critical") => 0,
        Some("high") => 1,
        Some("medium") => 2,
        Some("low") => 3,
        Some("none") => 4,
        _ => 5,
    }
}

/// The caller's home (hospital people and read tokens).
pub async fn home(state: &AppState, p: &Principal) -> Result<Home, ServiceError> {
    let org = p.require_hospital_reader()?.to_owned();
    let (reader, org_name) = (p.reader(), p.org_name.clone());
    state
        .db(move |conn| {
            let sites: HashMap<String, String> = herald_storage::sites::list_sites(conn, &org)?
                .into_iter()
                .map(|s| (s.id, s.name))
                .collect();
            let counts = herald_storage::installed_base::device_counts(conn, Some(&org), None)?;
            let devices = counts.iter().map(|c| c.devices).sum();
            // product -> [(site, devices)]
            let mut by_product: HashMap<&str, Vec<(&str, i64)>> = HashMap::new();
            for c in &counts {
                by_product
                    .entry(c.product_id.as_str())
                    .or_default()
                    .push((c.site_id.as_str(), c.devices));
            }
            let touching =
                herald_storage::exposure::advisories_touching(conn, &reader, Some(&org))?;
            let statuses: HashMap<(String, String), herald_storage::remediation::SiteStatus> =
                herald_storage::remediation::remediation_statuses(conn, Some(&org), None)?
                    .into_iter()
                    .map(|s| ((s.advisory_id.clone(), s.site_id.clone()), s))
                    .collect();
            let mut list: Vec<(AffectingAdvisory, String)> = touching
                .into_iter()
                .map(|t| {
                    let a = affecting(&t, &by_product, &sites, &statuses);
                    (a, t.advisory_id)
                })
                .collect();
            list.sort_by(|(a, _), (b, _)| {
                (
                    !a.open,
                    severity_rank(a.severity.as_deref()),
                    a.published,
                    &a.tracking_id,
                )
                    .cmp(&(
                        !b.open,
                        severity_rank(b.severity.as_deref()),
                        b.published,
                        &b.tracking_id,
                    ))
            });
            // What to do, from the current summary, for the advisories shown in full.
            for (a, id) in list.iter_mut().take(HOME_LIMIT) {
                let summary = herald_storage::exposure::advisory_summary(conn, id)?;
                a.advice = advice(&summary);
            }
            let advisories: Vec<AffectingAdvisory> = list.into_iter().map(|(a, _)| a).collect();
            Ok(Home {
                org_name,
                sites: sites.len(),
                devices,
                open: advisories.iter().filter(|a| a.open).count(),
                exposed_devices: advisories.iter().map(|a| a.exposed_devices).sum(),
                advisories,
            })
        })
        .await
}

fn affecting(
    t: &Touching,
    by_product: &HashMap<&str, Vec<(&str, i64)>>,
    sites: &HashMap<String, String>,
    statuses: &HashMap<(String, String), herald_storage::remediation::SiteStatus>,
) -> AffectingAdvisory {
    let mut per_site: BTreeMap<&str, i64> = BTreeMap::new();
    for product in &t.product_ids {
        for &(site, n) in by_product.get(product.as_str()).into_iter().flatten() {
            *per_site.entry(site).or_default() += n;
        }
    }
    let mut open = false;
    let mut exposed = 0;
    let mut out = Vec::with_capacity(per_site.len());
    for (site, devices) in per_site {
        let status = statuses.get(&(t.advisory_id.clone(), site.to_string()));
        let state = status.map(|s| s.state);
        if !state.is_some_and(RemediationState::closes_exposure) {
            exposed += devices;
        }
        if matches!(
            state,
            None | Some(RemediationState::Received | RemediationState::UnderAssessment)
        ) {
            open = true;
        }
        out.push(SiteExposure {
            site_id: site.to_string(),
            site_name: sites.get(site).cloned().unwrap_or_default(),
            devices,
            status: state,
            status_at: status.map(|s| s.at),
            reason: status.and_then(|s| s.reason.clone()),
        });
    }
    out.sort_by(|a, b| a.site_name.cmp(&b.site_name));
    AffectingAdvisory {
        tracking_id: t.tracking_id.clone(),
        title: t.title.clone(),
        severity: t.severity.clone(),
        tlp: t.tlp.clone(),
        published: t.initial_release_date,
        open,
        exposed_devices: exposed,
        sites: out,
        advice: Vec::new(),
    }
}

/// One line per remediation category of the advisory, in the order a reader acts on them.
fn advice(summary: &herald_csaf::AdvisorySummary) -> Vec<Advice> {
    const ORDER: [&str; 5] = [
        "vendor_fix",
        "mitigation",
        "workaround",
        "no_fix_planned",
        "none_available",
    ];
    let mut seen: BTreeMap<usize, Advice> = BTreeMap::new();
    for v in &summary.vulnerabilities {
        for r in &v.remediations {
            let rank = ORDER
                .iter()
                .position(|c| *c == r.category)
                .unwrap_or(ORDER.len());
            seen.entry(rank).or_insert_with(|| Advice {
                category: r.category.clone(),
                details: r.details.clone(),
                url: r.url.clone(),
            });
        }
    }
    seen.into_values().collect()
}
