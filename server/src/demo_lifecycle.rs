//! Demo data for releases and end of support (issue 16), seeded after the demo advisories and
//! sign-ins through the same use cases the portal and the API call: a release of the Meridian
//! FlowSure 300 firmware that fixes MMS-SA-2026-001 (so the advisory shows its vendor fix and
//! revision 2, and the hospital's delivery log its `patch.available` notice), and end-of-support
//! dates for the FlowSure 300 4.2.0 (an informational advisory, an OpenEoX record, reminders).

use anyhow::Context;
use chrono::Utc;
use herald_csaf::lifecycle::{EoxDate, LifecycleDates};
use herald_storage::{DbConnection, releases::NewRelease};

use crate::config::Config;
use crate::service::Principal;

/// Seeds the demo release and lifecycle dates as `publisher` (a user of the manufacturer).
pub fn seed(
    conn: &mut DbConnection,
    config: &Config,
    publisher_user_id: &str,
) -> anyhow::Result<()> {
    let p = Principal::of_user_id(conn, publisher_user_id)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .context("the demo publisher")?;
    let catalog = herald_storage::catalog::list_products(conn, &p.org_id)?;
    let version = |v: &str| {
        catalog
            .iter()
            .find(|c| c.name == "Meridian FlowSure 300" && c.version.as_deref() == Some(v))
            .map(|c| c.id.clone())
    };
    let (Some(v420), Some(v421)) = (version("4.2.0"), version("4.2.1")) else {
        return Ok(());
    };
    let release = crate::service::releases::create(
        conn,
        &p,
        &NewRelease {
            name: "FlowSure 300 firmware 4.3.2".into(),
            applies_to: vec![v420.clone(), v421],
            produced_version: "4.3.2".into(),
            release_date: Some(Utc::now()),
            delivery: "service_engineer".into(),
            regulatory_review: true,
            install_notes: "A Meridian service engineer installs the update during the pump's \
                            next preventive maintenance; the pump keeps its drug library."
                .into(),
            known_issues: "None known.".into(),
            url: Some("https://meridian-medical.example/support/flowsure-300/4.3.2".into()),
            fixes: vec!["MMS-SA-2026-001".into()],
        },
    )
    .map_err(|e| anyhow::anyhow!("{e}"))
    .context("creating the demo release")?;
    crate::service::releases::publish(conn, config, &p, &release.id, Utc::now())
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("publishing the demo release")?;
    let today = Utc::now().date_naive();
    crate::service::lifecycle::set(
        conn,
        config,
        &p,
        &v420,
        &LifecycleDates {
            general_availability: None,
            end_of_sales: Some(EoxDate::Day(today - chrono::Duration::days(30))),
            end_of_standard_support: Some(EoxDate::Tba),
            end_of_security_updates: Some(EoxDate::Day(today + chrono::Duration::days(75))),
            compensating_controls: "Keep the pumps on the isolated medical-device VLAN, disable \
                                    the service port when not in use, and update to firmware \
                                    4.3.2."
                .into(),
        },
        Utc::now(),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))
    .context("setting the demo end-of-support dates")?;
    Ok(())
}
