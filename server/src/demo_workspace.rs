//! The demo hospital's workspace: two sites running the FlowSure 300 pumps of the first security
//! advisory (serial numbers at one, a quantity at the other), confirmed by the manufacturer, and
//! a remediation status at each site, so that a newcomer signed in as the hospital sees "what
//! affects us" filled in, and the manufacturer sees the advisory's uptake.

use anyhow::Context;
use herald_storage::{
    DbConnection, installed_base::EntryInput, remediation::RemediationState,
    remediation::StatusInput, sites::SiteInput,
};

pub fn seed(conn: &mut DbConnection, maker_id: &str, hospital_id: &str) -> anyhow::Result<()> {
    let Some(advisory) = herald_storage::advisories::get_advisory(conn, "MMS-SA-2026-001")? else {
        return Ok(());
    };
    let north = herald_storage::sites::create_site(
        conn,
        hospital_id,
        &SiteInput {
            name: "North campus".into(),
            code: Some("NC".into()),
            address: Some("1 Example Road, Springfield".into()),
        },
        "demo",
    )?;
    let south = herald_storage::sites::create_site(
        conn,
        hospital_id,
        &SiteInput {
            name: "South clinic".into(),
            code: Some("SC".into()),
            address: Some("20 Harbour Street, Springfield".into()),
        },
        "demo",
    )?;
    let products = herald_storage::exposure::affected_product_ids(conn, &advisory.id)?;
    for (i, product_id) in products.iter().enumerate() {
        let (site, serials, quantity) = if i == 0 {
            (
                &north.id,
                vec!["FS3-10021".into(), "FS3-10022".into(), "FS3-10023".into()],
                None,
            )
        } else {
            (&south.id, Vec::new(), Some(6))
        };
        let id = herald_storage::installed_base::insert_entry(
            conn,
            hospital_id,
            &EntryInput {
                site_id: site.clone(),
                product_id: product_id.clone(),
                quantity,
                serials,
                notes: Some("Intensive care unit".into()),
            },
            "demo",
        )
        .context("adding the demo installed base")?;
        herald_storage::installed_base::confirm_installed_product(
            conn,
            maker_id,
            hospital_id,
            &id,
            "demo",
        )
        .context("confirming the demo installed base")?;
    }
    let now = herald_storage::now();
    for (site, state, note) in [
        (
            &north.id,
            RemediationState::Mitigated,
            "Pumps moved to the isolated clinical VLAN.",
        ),
        (
            &south.id,
            RemediationState::UnderAssessment,
            "Biomedical engineering is checking the firmware.",
        ),
    ] {
        herald_storage::remediation::set_remediation_status(
            conn,
            hospital_id,
            site,
            &advisory.id,
            &StatusInput {
                state,
                reason: None,
                note: Some(note.into()),
                release_ref: None,
            },
            "demo",
            now,
        )?;
    }
    Ok(())
}

/// A second hospital, not a customer, with an admin: what it sees (nothing of the first one's
/// workspace) is the isolation a newcomer can check. Its sign-in line.
pub fn seed_other_hospital(conn: &mut DbConnection) -> anyhow::Result<String> {
    let other = herald_storage::accounts::ensure_organization(
        conn,
        herald_storage::accounts::OrgKind::Hospital,
        "Harbour Clinic",
    )?;
    let email = "it@harbour-clinic.example";
    let password = herald_storage::accounts::random_password(18);
    herald_storage::accounts::create_user(
        conn,
        &herald_storage::accounts::NewUser {
            org_id: &other.id,
            email,
            display_name: "Harbour Clinic IT",
            password: &password,
            role: herald_storage::accounts::Role::Admin,
        },
    )
    .with_context(|| format!("creating demo user {email}"))?;
    Ok(format!("  {email}  password: {password}  ({})", other.name))
}
