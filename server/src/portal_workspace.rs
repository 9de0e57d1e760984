//! The server side of the portal's workspace pages (`app::workspace`): each method resolves the
//! viewer's principal, calls one service function ([`crate::service::home`],
//! [`crate::service::installed_base`], [`crate::service::installed_base_csv`],
//! [`crate::service::remediation`]) and maps the result to the page's view model. Input the
//! service refuses comes back as [`Outcome::Refused`] with its message (the page shows it);
//! anything else as the portal's error.

use app::model::{PortalError, Viewer};
use app::workspace::{
    AdviceView, AffectingView, EntryView, HomeView, ImportEntryView, ImportPreview,
    ImportProblemView, InstalledBaseView, Outcome, ProductOption, SiteExposureView, SiteView,
    UptakeRow, UptakeView, WorkspacePortal,
};
use herald_storage::{accounts::OrgKind, sites::SiteInput};

use crate::error::ServiceError;
use crate::portal::{HeraldPortal, portal_error};
use crate::service::installed_base::{NewEntry, SiteChoice};
use crate::service::installed_base_csv::{self, ImportReport};
use crate::service::remediation::StatusChange;
use crate::service::{home, installed_base, remediation, uptake};

/// Refused input as the page's message; everything else as the portal's error.
fn outcome<T>(
    r: Result<T, ServiceError>,
    saved: impl FnOnce(T) -> String,
) -> Result<Outcome, PortalError> {
    match r {
        Ok(v) => Ok(Outcome::Saved(saved(v))),
        Err(ServiceError::InvalidFields(fields)) => Ok(Outcome::Refused(
            fields
                .iter()
                .map(|f| {
                    if f.field.is_empty() {
                        f.message.clone()
                    } else {
                        format!("{}: {}", f.field, f.message)
                    }
                })
                .collect::<Vec<_>>()
                .join("; "),
        )),
        Err(
            ServiceError::Conflict(m) | ServiceError::BadRequest(m) | ServiceError::TooLarge(m),
        ) => Ok(Outcome::Refused(m)),
        Err(e) => Err(portal_error(e)),
    }
}

fn optional(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

fn advice_label(category: &str) -> String {
    match category {
        "vendor_fix" => "Fix available",
        "mitigation" => "Mitigation",
        "workaround" => "Workaround",
        "no_fix_planned" => "No fix planned",
        "none_available" => "No fix available yet",
        _ => "Remediation",
    }
    .to_owned()
}

fn preview(id: String, r: ImportReport) -> ImportPreview {
    ImportPreview {
        id,
        rows: r.rows,
        entries: r
            .entries
            .into_iter()
            .map(|e| ImportEntryView {
                site: e.site,
                new_site: e.new_site,
                product: e.product,
                version: e.version,
                devices: e.devices,
            })
            .collect(),
        problems: r
            .problems
            .into_iter()
            .map(|p| ImportProblemView {
                line: p.line,
                kind: serde_json::to_value(p.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                message: p.message,
            })
            .collect(),
        problem_count: r.problem_count,
        ignored_columns: r.ignored_columns,
    }
}

#[async_trait::async_trait]
impl WorkspacePortal for HeraldPortal {
    async fn home(&self, viewer: &Viewer) -> Result<Option<HomeView>, PortalError> {
        let p = match self.principal(viewer).await {
            Ok(p) => p,
            Err(PortalError::Forbidden) => return Ok(None),
            Err(e) => return Err(e),
        };
        if p.org_kind != OrgKind::Hospital {
            return Ok(None);
        }
        let can_edit = p.is_admin();
        let h = home::home(&self.state, &p).await.map_err(portal_error)?;
        let now = herald_storage::now();
        let more = h.advisories.len().saturating_sub(home::HOME_LIMIT);
        Ok(Some(HomeView {
            org_name: h.org_name,
            can_edit,
            sites: h.sites,
            devices: h.devices,
            open: h.open,
            exposed_devices: h.exposed_devices,
            more,
            advisories: h
                .advisories
                .into_iter()
                .take(home::HOME_LIMIT)
                .map(|a| AffectingView {
                    tracking_id: a.tracking_id,
                    title: a.title,
                    severity: a.severity,
                    tlp: a.tlp,
                    published: a.published.format("%Y-%m-%d").to_string(),
                    age_days: (now - a.published).num_days(),
                    open: a.open,
                    exposed_devices: a.exposed_devices,
                    sites: a
                        .sites
                        .into_iter()
                        .map(|s| SiteExposureView {
                            site_id: s.site_id,
                            site_name: s.site_name,
                            devices: s.devices,
                            status: s.status.map(|s| s.as_str().to_owned()),
                            status_at: s
                                .status_at
                                .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
                            reason: s.reason,
                        })
                        .collect(),
                    advice: a
                        .advice
                        .into_iter()
                        .map(|ad| AdviceView {
                            label: advice_label(&ad.category),
                            details: ad.details,
                            url: ad.url,
                        })
                        .collect(),
                })
                .collect(),
        }))
    }

    #[allow(clippy::too_many_arguments)]
    async fn set_status(
        &self,
        viewer: &Viewer,
        tracking_id: &str,
        site_id: &str,
        status: &str,
        reason: &str,
        note: &str,
        release: &str,
    ) -> Result<Outcome, PortalError> {
        let p = self.principal(viewer).await?;
        let r = remediation::set_status(
            &self.state,
            &p,
            tracking_id,
            site_id,
            StatusChange {
                status: status.to_owned(),
                reason: optional(reason),
                note: optional(note),
                release: optional(release),
            },
        )
        .await;
        outcome(r, |s| {
            format!(
                "Status set: {}",
                app::workspace::status_label(s.state.as_str())
            )
        })
    }

    async fn installed_base(&self, viewer: &Viewer) -> Result<InstalledBaseView, PortalError> {
        let p = self.principal(viewer).await?;
        let sites = installed_base::list_sites(&self.state, &p)
            .await
            .map_err(portal_error)?;
        let entries = installed_base::list_entries(&self.state, &p)
            .await
            .map_err(portal_error)?;
        let reader = p.reader();
        let products = self
            .state
            .db(move |conn| {
                Ok(herald_storage::catalog::list_products_for_reader(
                    conn, &reader,
                )?)
            })
            .await
            .map_err(portal_error)?;
        Ok(InstalledBaseView {
            can_edit: p.is_admin(),
            products: products
                .into_iter()
                .map(|c| ProductOption {
                    label: [Some(c.name), c.version]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" "),
                    id: c.id,
                })
                .collect(),
            sites: sites
                .into_iter()
                .map(|s| SiteView {
                    entries: entries
                        .iter()
                        .filter(|e| e.site_id == s.id)
                        .map(|e| EntryView {
                            id: e.id.clone(),
                            product: e.product.name.clone(),
                            version: e.product.version.clone(),
                            devices: e.devices(),
                            serials: e.serials.clone(),
                            notes: e.notes.clone(),
                            confirmed: e.confirmed_at.is_some(),
                        })
                        .collect(),
                    id: s.id,
                    name: s.name,
                    code: s.code,
                    address: s.address,
                })
                .collect(),
        })
    }

    async fn save_site(
        &self,
        viewer: &Viewer,
        id: &str,
        name: &str,
        code: &str,
        address: &str,
    ) -> Result<Outcome, PortalError> {
        let p = self.principal(viewer).await?;
        let input = SiteInput {
            name: name.to_owned(),
            code: optional(code),
            address: optional(address),
        };
        let r = if id.trim().is_empty() {
            installed_base::create_site(&self.state, &p, input).await
        } else {
            installed_base::update_site(&self.state, &p, id, input).await
        };
        outcome(r, |s| format!("Site {} saved", s.name))
    }

    async fn add_entry(
        &self,
        viewer: &Viewer,
        site_id: &str,
        product_id: &str,
        quantity: &str,
        serials: &str,
        notes: &str,
    ) -> Result<Outcome, PortalError> {
        let p = self.principal(viewer).await?;
        let quantity = match optional(quantity) {
            None => None,
            Some(q) => match q.parse::<i32>() {
                Ok(n) => Some(n),
                Err(_) => {
                    return Ok(Outcome::Refused(format!(
                        "quantity: {q:?} is not a whole number"
                    )));
                }
            },
        };
        let r = installed_base::add_entry(
            &self.state,
            &p,
            NewEntry {
                site: Some(SiteChoice::Id(site_id.to_owned())),
                product_id: product_id.to_owned(),
                quantity,
                serials: serials
                    .lines()
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
                notes: optional(notes),
            },
        )
        .await;
        outcome(r, |e| {
            format!("{} added at {}", e.product.name, e.site_name)
        })
    }

    async fn remove_entry(&self, viewer: &Viewer, id: &str) -> Result<Outcome, PortalError> {
        let p = self.principal(viewer).await?;
        let r = installed_base::remove_entry(&self.state, &p, id).await;
        outcome(r, |()| "Removed".to_owned())
    }

    async fn stage_import(&self, viewer: &Viewer, csv: &str) -> Result<Outcome, PortalError> {
        let p = self.principal(viewer).await?;
        let r = installed_base_csv::stage(&self.state, &p, csv.as_bytes().to_vec()).await;
        outcome(r, |id| id)
    }

    async fn import_preview(
        &self,
        viewer: &Viewer,
        id: &str,
    ) -> Result<ImportPreview, PortalError> {
        let p = self.principal(viewer).await?;
        match installed_base_csv::staged(&self.state, &p, id, false).await {
            Ok(r) => Ok(preview(id.to_owned(), r)),
            // A file that cannot be read at all (encoding, no product column) is a report of
            // one problem, so the page can say what to fix.
            Err(ServiceError::InvalidFields(f)) => Ok(ImportPreview {
                id: id.to_owned(),
                problem_count: 1,
                problems: vec![ImportProblemView {
                    line: 0,
                    kind: "file".into(),
                    message: f
                        .into_iter()
                        .map(|f| f.message)
                        .collect::<Vec<_>>()
                        .join("; "),
                }],
                ..ImportPreview::default()
            }),
            Err(e) => Err(portal_error(e)),
        }
    }

    async fn confirm_import(&self, viewer: &Viewer, id: &str) -> Result<Outcome, PortalError> {
        let p = self.principal(viewer).await?;
        let r = installed_base_csv::staged(&self.state, &p, id, true).await;
        outcome(r, |r| {
            format!(
                "Imported {} entries ({} devices)",
                r.entries.len(),
                r.entries.iter().map(|e| e.devices).sum::<i64>()
            )
        })
    }

    async fn uptake(
        &self,
        viewer: &Viewer,
        tracking_id: &str,
        sort: &str,
    ) -> Result<UptakeView, PortalError> {
        let p = self.principal(viewer).await?;
        let sort_key = match sort.trim() {
            "" => "silent",
            s => s,
        };
        let order = uptake::UptakeSort::parse(Some(sort_key)).map_err(portal_error)?;
        let u = uptake::advisory_uptake(&self.state, &p, tracking_id, order)
            .await
            .map_err(portal_error)?;
        let rows = u
            .per_customer
            .iter()
            .map(|c| UptakeRow {
                name: c.name.clone(),
                told: c.told.clone(),
                acknowledged: c.acknowledged,
                silent: c.devices > 0 && !c.acknowledged,
                devices: c.devices,
                devices_patched: c.devices_patched,
                devices_mitigated: c.devices_mitigated,
                devices_exposed: c.devices_exposed,
                sites: c.sites,
                sites_patched: c.sites_patched,
                sites_mitigated: c.sites_mitigated,
                sites_silent: c.sites_silent,
                security_contacts: c.security_contacts.clone(),
            })
            .collect();
        Ok(UptakeView {
            tracking_id: u.tracking_id,
            title: u.title,
            severity: u.severity,
            days_since_publication: u.days_since_publication,
            customers: u.customers,
            told_delivered: u.told_delivered,
            told_failed: u.told_failed,
            told_withheld: u.told_withheld,
            acknowledged: u.acknowledged,
            devices: u.devices,
            devices_patched: u.devices_patched,
            devices_mitigated: u.devices_mitigated,
            devices_exposed: u.devices_exposed,
            devices_silent: u.devices_silent,
            sort: sort_key.to_owned(),
            rows,
        })
    }
}
