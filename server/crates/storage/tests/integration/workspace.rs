//! The hospital's workspace on SQLite and on PostgreSQL: sites, installed-base entries per site
//! with serial numbers, remediation status with its history, isolation between hospitals, the
//! manufacturer's confirmation still being what opens TLP:AMBER, and the migration that moved
//! the one-row-per-product installed base into sites.

use anyhow::{Context, Result, ensure};
use chrono::{Duration, TimeZone, Utc};
use diesel::RunQueryDsl;
use diesel_migrations::{FileBasedMigrations, MigrationHarness};
use herald_csaf::Tlp;
use herald_storage::testing::{TestDb, manufacturer, publish_sample, sample_summary};
use herald_storage::*;
#[allow(unused_imports)] // the whole crate, as a test sees it
use herald_storage::{
    accounts::*, advisories::*, audit::*, breaker::*, catalog::*, customers::*, delivery_log::*,
    destinations::*, drafts::*, entitlement::*, exposure::*, import_staging::*, installed_base::*,
    keys::*, lifecycle::*, metrics::*, outages::*, queue::*, releases::*, remediation::*,
    reminders::*, secrets::*, sessions::*, sites::*, subscriptions::*, system_mail::*,
    templates::*, throttle::*,
};

fn world(conn: &mut DbConnection) -> Result<(Organization, Published, String)> {
    let maker = manufacturer(conn)?;
    let mut s = sample_summary(
        "LARK-WS-1",
        &[("1", "2026-06-01T10:00:00Z")],
        Some(("critical", 9.8)),
        &["CVE-2026-1111"],
    );
    s.tlp = Some(Tlp::Amber);
    let published = publish_sample(conn, &maker.id, &s)?;
    let product = advisory_product_ids(conn, &published.advisory_id)?
        .into_iter()
        .next()
        .context("product")?;
    Ok((maker, published, product))
}

fn site(conn: &mut DbConnection, org: &str, name: &str, code: Option<&str>) -> Result<Site> {
    Ok(create_site(
        conn,
        org,
        &SiteInput {
            name: name.into(),
            code: code.map(Into::into),
            address: Some("1 Main Street".into()),
        },
        "test",
    )?)
}

fn entry(
    conn: &mut DbConnection,
    org: &str,
    site_id: &str,
    product: &str,
    serials: &[&str],
) -> Result<InstalledProduct, StorageError> {
    add_entry(
        conn,
        org,
        &EntryInput {
            site_id: site_id.into(),
            product_id: product.into(),
            quantity: None,
            serials: serials.iter().map(|s| s.to_string()).collect(),
            notes: Some("ward 3".into()),
        },
        "test",
    )
}

fn sites_and_entries(db: &TestDb) -> Result<()> {
    let conn = &mut *db.conn()?;
    let (maker, published, product) = world(conn)?;
    let a = create_organization(conn, OrgKind::Hospital, "Hospital A", "hospital-a")?;
    let b = create_organization(conn, OrgKind::Hospital, "Hospital B", "hospital-b")?;
    let north = site(conn, &a.id, "North campus", Some("N1"))?;
    let south = site(conn, &a.id, "South campus", Some("S1"))?;
    // Names and codes are unique per hospital, and the conflict names the field.
    let dup = create_site(
        conn,
        &a.id,
        &SiteInput {
            name: "North campus".into(),
            ..Default::default()
        },
        "test",
    );
    ensure!(
        matches!(&dup, Err(StorageError::Conflict(m)) if m.starts_with("name:")),
        "{dup:?}"
    );
    let dup = create_site(
        conn,
        &a.id,
        &SiteInput {
            name: "East".into(),
            code: Some("N1".into()),
            ..Default::default()
        },
        "test",
    );
    ensure!(
        matches!(&dup, Err(StorageError::Conflict(m)) if m.starts_with("code:")),
        "{dup:?}"
    );
    // Another hospital may use the same name.
    let b_site = site(conn, &b.id, "North campus", Some("N1"))?;
    for bad in ["", "  ", "tab\there", &"x".repeat(201)] {
        let r = create_site(
            conn,
            &a.id,
            &SiteInput {
                name: bad.into(),
                ..Default::default()
            },
            "test",
        );
        ensure!(matches!(r, Err(StorageError::Invalid(_))), "{bad:?}: {r:?}");
    }
    // A manufacturer has no sites.
    ensure!(matches!(
        create_site(
            conn,
            &maker.id,
            &SiteInput {
                name: "HQ".into(),
                ..Default::default()
            },
            "test"
        ),
        Err(StorageError::Invalid(_))
    ));

    // The same product at two sites; serials make the device count.
    let n = entry(conn, &a.id, &north.id, &product, &["SN-2", "SN-1", "SN-3"])?;
    ensure!(n.serials == ["SN-1", "SN-2", "SN-3"] && n.quantity == Some(3) && n.devices() == 3);
    ensure!(n.site_name == "North campus" && n.confirmed_at.is_none());
    let s = add_entry(
        conn,
        &a.id,
        &EntryInput {
            site_id: south.id.clone(),
            product_id: product.clone(),
            quantity: Some(5),
            ..Default::default()
        },
        "test",
    )?;
    ensure!(s.devices() == 5 && s.serials.is_empty());
    // Twice at one site is a conflict; a serial already at another site too, naming it.
    ensure!(matches!(
        entry(conn, &a.id, &north.id, &product, &[]),
        Err(StorageError::Conflict(_))
    ));
    let moved = update_entry(
        conn,
        &a.id,
        &s.id,
        &EntryUpdate {
            serials: vec!["SN-9".into(), "SN-2".into()],
            ..Default::default()
        },
        "test",
    );
    ensure!(
        matches!(&moved, Err(StorageError::Conflict(m)) if m.contains("SN-2") && m.contains("North campus")),
        "{moved:?}"
    );
    // ... and nothing of the refused change was written.
    ensure!(
        get_installed_product(conn, &a.id, &s.id)?
            .context("s")?
            .quantity
            == Some(5)
    );
    // The same serial listed twice, or with a quantity that disagrees, is refused.
    ensure!(matches!(
        entry(conn, &b.id, &b_site.id, &product, &["X", " X "]),
        Err(StorageError::Invalid(_))
    ));
    ensure!(matches!(
        check_serials_and_quantity(&["A".into(), "B".into()], Some(3)),
        Err(StorageError::Invalid(_))
    ));
    // Hospital B may use the same serial numbers (they are per hospital).
    entry(conn, &b.id, &b_site.id, &product, &["SN-1"])?;
    // An entry at another hospital's site is refused, and B cannot see or change A's.
    ensure!(matches!(
        entry(conn, &b.id, &north.id, &product, &[]),
        Err(StorageError::Invalid(_))
    ));
    ensure!(get_installed_product(conn, &b.id, &n.id)?.is_none());
    ensure!(get_site(conn, &b.id, &north.id)?.is_none());
    ensure!(matches!(
        update_site(
            conn,
            &b.id,
            &north.id,
            &SiteInput {
                name: "Mine".into(),
                ..Default::default()
            },
            "test"
        ),
        Err(StorageError::NotFound)
    ));
    ensure!(matches!(
        delete_site(conn, &b.id, &north.id, "test"),
        Err(StorageError::NotFound)
    ));
    ensure!(list_sites(conn, &a.id)?.len() == 2 && list_sites(conn, &b.id)?.len() == 1);
    let a_list = list_installed_base(conn, &a.id)?;
    ensure!(a_list.len() == 2 && a_list.iter().all(|e| e.org_id == a.id));
    let counts = device_counts(conn, Some(&a.id), None)?;
    ensure!(
        counts.iter().map(|c| c.devices).sum::<i64>() == 8,
        "{counts:?}"
    );

    // A site with entries is not deleted.
    ensure!(matches!(
        delete_site(conn, &a.id, &south.id, "test"),
        Err(StorageError::Conflict(_))
    ));

    // The manufacturer's confirmation is still what opens TLP:AMBER (and only to a customer).
    add_customer(conn, &maker.id, &a.id, None, "test")?;
    let reader = Reader::Hospital {
        org_id: a.id.clone(),
    };
    ensure!(!may_read(conn, &reader, &published.advisory_id)?);
    confirm_installed_product(conn, &maker.id, &a.id, &n.id, "test")?;
    ensure!(may_read(conn, &reader, &published.advisory_id)?);
    // Editing a confirmed entry keeps its confirmation; removing it closes the advisory again.
    let edited = update_entry(
        conn,
        &a.id,
        &n.id,
        &EntryUpdate {
            serials: vec!["SN-1".into()],
            notes: Some("one left".into()),
            ..Default::default()
        },
        "test",
    )?;
    ensure!(edited.confirmed_at.is_some() && edited.devices() == 1);
    remove_installed_product(conn, &a.id, &n.id, "test")?;
    ensure!(!may_read(conn, &reader, &published.advisory_id)?);
    // Its serials went with it: SN-2 is free again.
    update_entry(
        conn,
        &a.id,
        &s.id,
        &EntryUpdate {
            serials: vec!["SN-2".into()],
            ..Default::default()
        },
        "test",
    )?;
    Ok(())
}

fn remediation_history_and_isolation(db: &TestDb) -> Result<()> {
    let conn = &mut *db.conn()?;
    let (_maker, published, product) = world(conn)?;
    let a = create_organization(conn, OrgKind::Hospital, "Hospital A", "hospital-a")?;
    let b = create_organization(conn, OrgKind::Hospital, "Hospital B", "hospital-b")?;
    let north = site(conn, &a.id, "North", None)?;
    let south = site(conn, &a.id, "South", None)?;
    let b_site = site(conn, &b.id, "Main", None)?;
    entry(conn, &a.id, &north.id, &product, &["1", "2"])?;
    let t0 = Utc
        .with_ymd_and_hms(2026, 6, 2, 8, 0, 0)
        .single()
        .context("t0")?;
    let set = |conn: &mut DbConnection, org: &str, site: &str, state, reason: Option<&str>, at| {
        set_remediation_status(
            conn,
            org,
            site,
            &published.advisory_id,
            &StatusInput {
                state,
                reason: reason.map(Into::into),
                note: Some("<script>alert(1)</script>".into()),
                release_ref: None,
            },
            "user:alice",
            at,
        )
    };
    set(conn, &a.id, &north.id, RemediationState::Received, None, t0)?;
    set(
        conn,
        &a.id,
        &north.id,
        RemediationState::UnderAssessment,
        None,
        t0 + Duration::hours(1),
    )?;
    let patched = set_remediation_status(
        conn,
        &a.id,
        &north.id,
        &published.advisory_id,
        &StatusInput {
            state: RemediationState::Patched,
            reason: None,
            note: None,
            release_ref: Some("4.3.1".into()),
        },
        "user:bob",
        t0 + Duration::hours(2),
    )?;
    ensure!(patched.release_ref.as_deref() == Some("4.3.1"));
    // not applicable needs a reason.
    ensure!(matches!(
        set(conn, &a.id, &south.id, RemediationState::NotApplicable, None, t0),
        Err(StorageError::Invalid(m)) if m.starts_with("reason")
    ));
    set(
        conn,
        &a.id,
        &south.id,
        RemediationState::NotApplicable,
        Some("no such device at this site"),
        t0,
    )?;
    // Another hospital cannot set a status on A's site.
    ensure!(matches!(
        set(conn, &b.id, &north.id, RemediationState::Patched, None, t0),
        Err(StorageError::NotFound)
    ));
    set(
        conn,
        &b.id,
        &b_site.id,
        RemediationState::RiskAccepted,
        None,
        t0,
    )?;

    let current = remediation_statuses(conn, Some(&a.id), Some(&published.advisory_id))?;
    ensure!(current.len() == 2, "{current:?}");
    ensure!(current.iter().all(|s| s.org_id == a.id));
    let north_now = current
        .iter()
        .find(|s| s.site_id == north.id)
        .context("north")?;
    ensure!(north_now.state == RemediationState::Patched && north_now.actor == "user:bob");
    let history = remediation_history(conn, &a.id, &north.id, &published.advisory_id)?;
    let states: Vec<_> = history.iter().map(|h| h.state).collect();
    ensure!(
        states
            == [
                RemediationState::Received,
                RemediationState::UnderAssessment,
                RemediationState::Patched
            ],
        "{states:?}"
    );
    ensure!(history[0].note.as_deref() == Some("<script>alert(1)</script>"));
    ensure!(history[0].at == t0);
    // B sees only its own; its view of A's site history is empty.
    ensure!(remediation_statuses(conn, Some(&b.id), None)?.len() == 1);
    ensure!(remediation_history(conn, &b.id, &north.id, &published.advisory_id)?.is_empty());
    // Every hospital's statuses of the advisory: the manufacturer's aggregate.
    ensure!(remediation_statuses(conn, None, Some(&published.advisory_id))?.len() == 3);
    // A site with a history is kept (rename it instead).
    let first = list_installed_base(conn, &a.id)?[0].id.clone();
    remove_installed_product(conn, &a.id, &first, "test")?;
    ensure!(matches!(
        delete_site(conn, &a.id, &north.id, "test"),
        Err(StorageError::Conflict(_))
    ));
    // An empty site without history goes.
    let spare = site(conn, &a.id, "Spare", None)?;
    delete_site(conn, &a.id, &spare.id, "test")?;
    Ok(())
}

/// The migration moved the old one-row-per-product entries to sites named after their old
/// free-text `site` (or "Main site"), confirmation kept; the down migration goes back.
fn migration_moves_entries_to_sites(db: &TestDb) -> Result<()> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../migrations/");
    let conn = &mut *db.conn()?;
    let (maker, _published, product) = world(conn)?;
    let a = create_organization(conn, OrgKind::Hospital, "Hospital A", "hospital-a")?;
    let product2 = create_catalog_product(
        conn,
        &maker.id,
        &CatalogEntry {
            name: "Other Pump".into(),
            ..Default::default()
        },
        "test",
    )?
    .id;
    let migrations = |backend| {
        FileBasedMigrations::from_path(format!(
            "{dir}{}",
            match backend {
                Backend::Sqlite => "sqlite",
                Backend::Postgres => "postgres",
            }
        ))
    };
    let migrations = migrations(db.backend())?;
    let revert = |conn: &mut DbConnection| -> Result<()> {
        loop {
            let version = match conn {
                DbConnection::Sqlite(c) => c.revert_last_migration(migrations.clone()),
                DbConnection::Postgres(c) => c.revert_last_migration(migrations.clone()),
            }
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            if version
                .to_string()
                .replace('-', "")
                .starts_with("20261208000300")
            {
                return Ok(());
            }
        }
    };
    revert(conn)?;
    diesel::sql_query(format!(
        "INSERT INTO installed_base (id, org_id, product_id, quantity, site, notes, created_at, \
         updated_at, confirmed_at, confirmed_by) VALUES \
         ('e1', '{a}', '{product}', 2, 'ICU', NULL, 1, 1, 5, 'demo'), \
         ('e2', '{a}', '{product2}', NULL, NULL, 'n', 1, 1, NULL, NULL)",
        a = a.id
    ))
    .execute(conn)?;
    match conn {
        DbConnection::Sqlite(c) => c.run_pending_migrations(migrations.clone()).map(|_| ()),
        DbConnection::Postgres(c) => c.run_pending_migrations(migrations.clone()).map(|_| ()),
    }
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut names: Vec<String> = list_sites(conn, &a.id)?
        .into_iter()
        .map(|s| s.name)
        .collect();
    names.sort();
    ensure!(names == ["ICU", DEFAULT_SITE], "{names:?}");
    let e1 = get_installed_product(conn, &a.id, "e1")?.context("e1")?;
    ensure!(e1.site_name == "ICU" && e1.quantity == Some(2) && e1.confirmed_at.is_some());
    let e2 = get_installed_product(conn, &a.id, "e2")?.context("e2")?;
    ensure!(e2.site_name == DEFAULT_SITE && e2.notes.as_deref() == Some("n"));
    // The same product at a second site is possible now.
    let second = site(conn, &a.id, "Second", None)?;
    entry(conn, &a.id, &second.id, &product, &["Z"])?;
    Ok(())
}

herald_storage::both_backends!(
    sites_and_entries,
    remediation_history_and_isolation,
    migration_moves_entries_to_sites
);
