//! The product catalog on SQLite and on PostgreSQL: entries created, edited and listed as a tree,
//! identifiers checked, duplicates refused with nothing written, identity shared with publishing,
//! and which products a hospital or an anonymous reader may see.

use anyhow::{Result, ensure};
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

fn entry(name: &str, version: &str) -> CatalogEntry {
    CatalogEntry {
        vendor: Some("Larkspur Medical".into()),
        family: Some("Nimbus".into()),
        name: name.into(),
        version: Some(version.into()),
        ..Default::default()
    }
}

fn audit_count(conn: &mut DbConnection, action: &str) -> Result<usize> {
    Ok(list_audit(conn, None, 1000)?
        .into_iter()
        .filter(|e| e.action == action)
        .count())
}

fn create_edit_and_tree(db: &TestDb) -> Result<()> {
    let conn = &mut *db.conn()?;
    let maker = manufacturer(conn)?;
    let a = create_catalog_product(
        conn,
        &maker.id,
        &CatalogEntry {
            udi_di: Some(" 0812345000023 ".into()),
            cpe: Some("cpe:2.3:h:larkspur:nimbus_infusion_pump:5.0:*:*:*:*:*:*:*".into()),
            purl: Some("pkg:generic/larkspur/nimbus-firmware@5.0".into()),
            ..entry("Nimbus Infusion Pump", "5.0")
        },
        "user:test",
    )?;
    ensure!(
        a.udi_di.as_deref() == Some("00812345000023"),
        "a GTIN-13 is stored as GTIN-14: {:?}",
        a.udi_di
    );
    let b = create_catalog_product(
        conn,
        &maker.id,
        &CatalogEntry {
            family: Some("Cirrus".into()),
            ..entry("Cirrus Ventilator", "2.0")
        },
        "user:test",
    )?;
    let c = create_catalog_product(conn, &maker.id, &entry("Nimbus Infusion Pump", "4.9"), "u")?;
    let listed = list_products(conn, &maker.id)?;
    let ids: Vec<&str> = listed.iter().map(|p| p.id.as_str()).collect();
    ensure!(
        ids == [b.id.as_str(), c.id.as_str(), a.id.as_str()],
        "ordered by family, name, version: {ids:?}"
    );
    let tree = catalog_tree(&listed);
    ensure!(tree.len() == 1 && tree[0].vendor.as_deref() == Some("Larkspur Medical"));
    let families: Vec<_> = tree[0]
        .families
        .iter()
        .map(|f| f.family.clone().unwrap_or_default())
        .collect();
    ensure!(families == ["Cirrus", "Nimbus"], "{families:?}");
    let pump = &tree[0].families[1].products;
    ensure!(pump.len() == 1 && pump[0].versions.len() == 2);

    // Edit: every field replaced, audited with before and after.
    let edited = update_catalog_product(
        conn,
        &maker.id,
        &c.id,
        &CatalogEntry {
            purl: Some("pkg:generic/larkspur/nimbus-firmware@4.9.1".into()),
            ..entry("Nimbus Infusion Pump", "4.9.1")
        },
        "user:test",
    )?;
    ensure!(edited.version.as_deref() == Some("4.9.1") && edited.purl.is_some());
    ensure!(get_catalog_product(conn, &maker.id, &c.id)? == Some(edited));
    ensure!(audit_count(conn, "product.create")? == 3);
    ensure!(audit_count(conn, "product.update")? == 1);
    // Another manufacturer's product is not found, for reading and editing.
    let other = create_organization(conn, OrgKind::Manufacturer, "Other Maker", "other")?;
    ensure!(get_catalog_product(conn, &other.id, &c.id)?.is_none());
    ensure!(matches!(
        update_catalog_product(conn, &other.id, &c.id, &entry("X", "1"), "u"),
        Err(StorageError::NotFound)
    ));
    ensure!(list_products(conn, &other.id)?.is_empty());
    Ok(())
}

fn bad_input_and_duplicates(db: &TestDb) -> Result<()> {
    let conn = &mut *db.conn()?;
    let maker = manufacturer(conn)?;
    let first = create_catalog_product(
        conn,
        &maker.id,
        &CatalogEntry {
            udi_di: Some("00812345000016".into()),
            ..entry("Nimbus Infusion Pump", "4.2")
        },
        "u",
    )?;
    let refused: Vec<(CatalogEntry, &str)> = vec![
        (entry("  ", "1"), "name"),
        (
            CatalogEntry {
                cpe: Some("cpe:/h:larkspur:nimbus:4.3".into()),
                ..entry("Nimbus Infusion Pump", "4.3")
            },
            "cpe",
        ),
        (
            CatalogEntry {
                purl: Some("nimbus-firmware@4.3".into()),
                ..entry("Nimbus Infusion Pump", "4.3")
            },
            "purl",
        ),
        (
            CatalogEntry {
                udi_di: Some("00812345000019".into()),
                ..entry("Nimbus Infusion Pump", "4.3")
            },
            "udi_di",
        ),
        (
            CatalogEntry {
                vendor: Some("Lark\u{7}spur".into()),
                ..entry("Nimbus Infusion Pump", "4.3")
            },
            "vendor",
        ),
    ];
    for (bad, field) in refused {
        match create_catalog_product(conn, &maker.id, &bad, "u") {
            Err(StorageError::Invalid(m)) => {
                ensure!(m.starts_with(field), "message names {field}: {m}")
            }
            other => anyhow::bail!("{field}: expected Invalid, got {other:?}"),
        }
    }
    // Same identity in another case and spacing: a duplicate.
    let dup = CatalogEntry {
        vendor: Some("LARKSPUR MEDICAL ".into()),
        family: Some("nimbus".into()),
        ..entry("nimbus infusion pump", "4.2")
    };
    ensure!(matches!(
        create_catalog_product(conn, &maker.id, &dup, "u"),
        Err(StorageError::Conflict(_))
    ));
    // The same UDI-DI on another entry: a duplicate too (it names one device model).
    let same_udi = CatalogEntry {
        udi_di: Some("00812345000016".into()),
        ..entry("Nimbus Infusion Pump", "4.3")
    };
    ensure!(matches!(
        create_catalog_product(conn, &maker.id, &same_udi, "u"),
        Err(StorageError::Conflict(_))
    ));
    // An edit into another entry's identity is refused and changes nothing.
    let second =
        create_catalog_product(conn, &maker.id, &entry("Nimbus Infusion Pump", "4.4"), "u")?;
    ensure!(matches!(
        update_catalog_product(
            conn,
            &maker.id,
            &second.id,
            &entry("Nimbus Infusion Pump", "4.2"),
            "u"
        ),
        Err(StorageError::Conflict(_))
    ));
    ensure!(
        get_catalog_product(conn, &maker.id, &second.id)?.and_then(|p| p.version)
            == Some("4.4".into())
    );
    // Editing an entry without changing its identity or UDI-DI is not a duplicate of itself.
    update_catalog_product(
        conn,
        &maker.id,
        &first.id,
        &CatalogEntry {
            udi_di: Some("00812345000016".into()),
            cpe: Some("cpe:2.3:h:larkspur:nimbus:4.2:*:*:*:*:*:*:*".into()),
            ..entry("Nimbus Infusion Pump", "4.2")
        },
        "u",
    )?;
    ensure!(
        list_products(conn, &maker.id)?.len() == 2,
        "nothing else written"
    );
    ensure!(audit_count(conn, "product.create")? == 2);
    // A hospital has no catalog.
    let h = create_organization(conn, OrgKind::Hospital, "H", "h")?;
    ensure!(matches!(
        create_catalog_product(conn, &h.id, &entry("X", "1"), "u"),
        Err(StorageError::Invalid(_))
    ));
    Ok(())
}

/// A product entered by hand and then named by an advisory is one catalog entry.
fn publishing_shares_identity(db: &TestDb) -> Result<()> {
    let conn = &mut *db.conn()?;
    let maker = manufacturer(conn)?;
    let by_hand = create_catalog_product(
        conn,
        &maker.id,
        &CatalogEntry {
            vendor: Some("larkspur medical".into()),
            ..entry("NIMBUS Infusion Pump", "4.2")
        },
        "u",
    )?;
    let published = publish_sample(
        conn,
        &maker.id,
        &sample_summary("LARK-1", &[("1", "2026-06-01T10:00:00Z")], None, &[]),
    )?;
    ensure!(advisory_product_ids(conn, &published.advisory_id)? == vec![by_hand.id.clone()]);
    let all = list_products(conn, &maker.id)?;
    ensure!(all.len() == 1, "{all:?}");
    ensure!(
        all[0].udi_di.as_deref() == Some("00812345000017"),
        "the document's UDI-DI is learnt"
    );
    Ok(())
}

/// What a hospital or an anonymous reader sees of the catalog: products of advisories it may
/// read, its installed base and grants; never a product named only by an AMBER advisory it is
/// not entitled to, nor one entered by hand that no advisory names.
fn hospital_visibility(db: &TestDb) -> Result<()> {
    let conn = &mut *db.conn()?;
    let maker = manufacturer(conn)?;
    let with = |name: &str, family: &str, tlp: Tlp, id: &str| {
        let mut s = sample_summary(id, &[("1", "2026-06-01T10:00:00Z")], None, &[]);
        s.tlp = Some(tlp);
        let p = &mut s.products[0];
        p.product_name = Some(name.into());
        p.family = Some(family.into());
        p.udi_di = None;
        s
    };
    let white = publish_sample(
        conn,
        &maker.id,
        &with("Public Pump", "P", Tlp::White, "W-1"),
    )?;
    let green = publish_sample(
        conn,
        &maker.id,
        &with("Green Monitor", "G", Tlp::Green, "G-1"),
    )?;
    let amber = publish_sample(
        conn,
        &maker.id,
        &with("Secret Pump", "S", Tlp::Amber, "A-1"),
    )?;
    let amber2 = publish_sample(
        conn,
        &maker.id,
        &with("Granted Pump", "S", Tlp::Amber, "A-2"),
    )?;
    let red = publish_sample(conn, &maker.id, &with("Red Pump", "R", Tlp::Red, "R-1"))?;
    let hand = create_catalog_product(conn, &maker.id, &entry("Unreleased Pump", "0.9"), "u")?;
    let pid = |conn: &mut DbConnection, p: &Published| -> Result<String> {
        Ok(advisory_product_ids(conn, &p.advisory_id)?.remove(0))
    };
    let (w, g, a, a2, r) = (
        pid(conn, &white)?,
        pid(conn, &green)?,
        pid(conn, &amber)?,
        pid(conn, &amber2)?,
        pid(conn, &red)?,
    );
    let names = |conn: &mut DbConnection, reader: &Reader| -> Result<Vec<String>> {
        Ok(list_products_for_reader(conn, reader)?
            .into_iter()
            .map(|p| p.id)
            .collect())
    };
    let sorted = |mut v: Vec<&String>| {
        v.sort();
        v.into_iter().cloned().collect::<Vec<String>>()
    };

    let anon = names(conn, &Reader::Anonymous)?;
    ensure!(
        anon == vec![w.clone()],
        "anonymous: WHITE products only: {anon:?}"
    );

    let stranger = create_organization(conn, OrgKind::Hospital, "Stranger", "stranger")?;
    let seen = names(
        conn,
        &Reader::Hospital {
            org_id: stranger.id.clone(),
        },
    )?;
    ensure!(
        seen == vec![w.clone()],
        "not a customer: WHITE only: {seen:?}"
    );

    let customer = create_organization(conn, OrgKind::Hospital, "Customer", "cust")?;
    add_customer(conn, &maker.id, &customer.id, None, "u")?;
    let reader = Reader::Hospital {
        org_id: customer.id.clone(),
    };
    let mut seen = names(conn, &reader)?;
    seen.sort();
    ensure!(
        seen == sorted(vec![&w, &g]),
        "customer: WHITE and GREEN: {seen:?}"
    );
    ensure!(!seen.contains(&a) && !seen.contains(&r) && !seen.contains(&hand.id));

    // Declared (unconfirmed) installed base: the hospital sees its own entry, but the AMBER
    // advisory stays closed, and so does the other AMBER product.
    add_installed_product(
        conn,
        &customer.id,
        &NewInstalledProduct {
            product_id: &a,
            ..Default::default()
        },
        "u",
    )?;
    create_grant(
        conn,
        &maker.id,
        &customer.id,
        &GrantTarget::Product(a2.clone()),
        None,
        "u",
    )?;
    let mut seen = names(conn, &reader)?;
    seen.sort();
    ensure!(
        seen == sorted(vec![&w, &g, &a, &a2]),
        "installed and granted: {seen:?}"
    );
    ensure!(
        !seen.contains(&r) && !seen.contains(&hand.id),
        "never RED-only or unnamed products"
    );

    let all = names(
        conn,
        &Reader::Manufacturer {
            org_id: maker.id.clone(),
        },
    )?;
    ensure!(
        all.len() == 6,
        "the manufacturer sees its whole catalog: {all:?}"
    );
    Ok(())
}

herald_storage::both_backends!(
    create_edit_and_tree,
    bad_input_and_duplicates,
    publishing_shares_identity,
    hospital_visibility,
);
