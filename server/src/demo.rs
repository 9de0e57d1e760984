//! Demo data for `herald serve --demo` on an empty database: the fictional manufacturer Meridian
//! Medical Systems, a hospital, their sign-ins, and a few advisories written for Herald (never
//! copied from real advisories). Seeding goes through the normal publish path.

use anyhow::Context;
use herald_storage::{Db, accounts::NewUser, accounts::OrgKind, accounts::Role};

use crate::config::Config;

/// The demo advisories, compiled in so that the binary seeds the same data wherever it runs.
const DEMO_DOCUMENTS: &[(&str, &[u8])] = &[
    (
        "mms-ia-2026-001.json",
        include_bytes!("../demo/mms-ia-2026-001.json"),
    ),
    (
        "mms-sa-2026-001.json",
        include_bytes!("../demo/mms-sa-2026-001.json"),
    ),
    (
        "mms-sa-2026-002.json",
        include_bytes!("../demo/mms-sa-2026-002.json"),
    ),
    (
        "mms-sa-2026-003.json",
        include_bytes!("../demo/mms-sa-2026-003.json"),
    ),
];

pub const DEMO_HOSPITAL: &str = "St. Example General Hospital";

/// Seeds the demo when no advisory exists yet; returns the sign-ins to print.
pub fn seed_if_empty(db: &Db, config: &Config) -> anyhow::Result<Option<String>> {
    let mut conn = db.get()?;
    if herald_storage::advisories::count_advisories(&mut conn)? > 0 {
        tracing::info!("database has advisories: demo data not seeded");
        return Ok(None);
    }
    let maker = herald_storage::accounts::ensure_organization(
        &mut conn,
        OrgKind::Manufacturer,
        &config.publisher_name,
    )?;
    let hospital =
        herald_storage::accounts::ensure_organization(&mut conn, OrgKind::Hospital, DEMO_HOSPITAL)?;
    for (name, bytes) in DEMO_DOCUMENTS {
        crate::publish::publish_document(&mut conn, config, bytes, &maker.id, "demo")
            .with_context(|| format!("publishing demo document {name}"))?;
    }
    // The demo hospital is a customer (it reads the TLP:GREEN advisory) and runs the products
    // of the first security advisory (what its notifications are narrowed to).
    herald_storage::customers::add_customer(
        &mut conn,
        &maker.id,
        &hospital.id,
        Some("DEMO-0001"),
        "demo",
    )
    .context("making the demo hospital a customer")?;
    crate::demo_workspace::seed(&mut conn, &maker.id, &hospital.id)
        .context("seeding the demo hospital's workspace")?;
    let mut lines = vec![format!(
        "Demo data seeded: {} advisories. Sign in at {}/login with:",
        DEMO_DOCUMENTS.len(),
        config.base_url
    )];
    let mut publisher_id = None;
    for (org, email, name, role) in [
        (
            &maker,
            "psirt@meridian-medical.example",
            "Meridian PSIRT",
            Role::Publisher,
        ),
        (
            &hospital,
            "it-security@st-example.example",
            "Hospital IT Security",
            Role::Admin,
        ),
    ] {
        let password = herald_storage::accounts::random_password(18);
        let new = NewUser {
            org_id: &org.id,
            email,
            display_name: name,
            password: &password,
            role,
        };
        let user = herald_storage::accounts::create_user(&mut conn, &new)
            .with_context(|| format!("creating demo user {email}"))?;
        if role == Role::Publisher {
            publisher_id = Some(user.id);
        }
        lines.push(format!("  {email}  password: {password}  ({})", org.name));
    }
    // A patch and an end-of-support date, through the same use cases as the portal.
    if let Some(publisher) = publisher_id {
        crate::demo_lifecycle::seed(&mut conn, config, &publisher)?;
    }
    lines.push(crate::demo_workspace::seed_other_hospital(&mut conn)?);
    Ok(Some(lines.join("\n")))
}
