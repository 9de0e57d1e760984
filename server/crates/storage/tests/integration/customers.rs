//! The hospital data model on SQLite and on PostgreSQL: customers, installed base, grants and
//! subscriptions; the entitlement rule (`visible_to`) as lists, single reads, distribution paths
//! and directories see it; fan-out matching by entitlement, installed base, subscription and
//! security contact, with the audit trail of what was withheld; hostile input.

use anyhow::{Context, Result, ensure};
use herald_csaf::{AdvisorySummary, Tlp};
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

const D1: &str = "2026-06-01T10:00:00Z";

/// An advisory about the Nimbus pump (the fixture's product) or, with `cirrus`, about another
/// product of another family.
fn summary(tracking_id: &str, tlp: Tlp, severity: &str, cirrus: bool) -> AdvisorySummary {
    let score = if severity == "critical" { 9.8 } else { 5.0 };
    let mut s = sample_summary(
        tracking_id,
        &[("1", D1)],
        Some((severity, score)),
        &["CVE-2026-7777"],
    );
    s.tlp = Some(tlp);
    if cirrus {
        let p = &mut s.products[0];
        p.name = "Larkspur Cirrus Ventilator 2.0".into();
        p.family = Some("Cirrus".into());
        p.product_name = Some("Cirrus Ventilator".into());
        p.version = Some("2.0".into());
        p.udi_di = None;
    }
    s
}

struct World {
    maker: Organization,
    white: Published,
    green: Published,
    amber_nimbus: Published,
    amber_cirrus: Published,
    red: Published,
    nimbus: String,
    cirrus: String,
}

fn world(conn: &mut DbConnection) -> Result<World> {
    let maker = manufacturer(conn)?;
    let white = publish_sample(
        conn,
        &maker.id,
        &summary("LARK-W", Tlp::White, "medium", false),
    )?;
    let green = publish_sample(
        conn,
        &maker.id,
        &summary("LARK-G", Tlp::Green, "medium", false),
    )?;
    let amber_nimbus = publish_sample(
        conn,
        &maker.id,
        &summary("LARK-A1", Tlp::Amber, "critical", false),
    )?;
    let amber_cirrus = publish_sample(
        conn,
        &maker.id,
        &summary("LARK-A2", Tlp::Amber, "medium", true),
    )?;
    let red = publish_sample(
        conn,
        &maker.id,
        &summary("LARK-R", Tlp::Red, "critical", false),
    )?;
    let nimbus = advisory_product_ids(conn, &amber_nimbus.advisory_id)?
        .into_iter()
        .next()
        .context("nimbus product")?;
    let cirrus = advisory_product_ids(conn, &amber_cirrus.advisory_id)?
        .into_iter()
        .next()
        .context("cirrus product")?;
    ensure!(
        nimbus != cirrus,
        "the two fixtures must be different products"
    );
    Ok(World {
        maker,
        white,
        green,
        amber_nimbus,
        amber_cirrus,
        red,
        nimbus,
        cirrus,
    })
}

fn hospital(conn: &mut DbConnection, slug: &str) -> Result<Organization> {
    Ok(create_organization(conn, OrgKind::Hospital, slug, slug)?)
}

fn install(conn: &mut DbConnection, org: &str, product: &str) -> Result<InstalledProduct> {
    Ok(add_installed_product(
        conn,
        org,
        &NewInstalledProduct {
            product_id: product,
            quantity: Some(2),
            site: Some("ICU"),
            notes: None,
        },
        "test",
    )?)
}

/// Installs and has the manufacturer confirm the entry (what opens TLP:AMBER).
fn install_confirmed(
    conn: &mut DbConnection,
    maker: &str,
    org: &str,
    product: &str,
) -> Result<InstalledProduct> {
    let entry = install(conn, org, product)?;
    ensure!(
        entry.confirmed_at.is_none(),
        "a declared entry starts unconfirmed"
    );
    let confirmed = confirm_installed_product(conn, maker, org, &entry.id, "test")?;
    ensure!(confirmed.confirmed_at.is_some() && confirmed.confirmed_by.as_deref() == Some("test"));
    Ok(confirmed)
}

/// Tracking ids the reader lists, sorted.
fn listed(conn: &mut DbConnection, reader: &Reader) -> Result<Vec<String>> {
    let mut ids: Vec<String> = list_advisories(
        conn,
        &AdvisoryFilter {
            reader: reader.clone(),
            limit: 100,
            ..Default::default()
        },
    )?
    .items
    .into_iter()
    .map(|i| i.tracking_id)
    .collect();
    ids.sort();
    Ok(ids)
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn entitlement_rule(db: &TestDb) -> Result<()> {
    let mut conn = db.conn()?;
    let conn = &mut *conn;
    let w = world(conn)?;
    let customer = hospital(conn, "customer")?;
    add_customer(conn, &w.maker.id, &customer.id, Some("ACME-1"), "test")?;
    let runs_nimbus = hospital(conn, "runs-nimbus")?;
    add_customer(conn, &w.maker.id, &runs_nimbus.id, None, "test")?;
    install_confirmed(conn, &w.maker.id, &runs_nimbus.id, &w.nimbus)?;
    // A customer's own, unconfirmed declaration routes its notices but opens no AMBER advisory.
    let declared = hospital(conn, "declared")?;
    add_customer(conn, &w.maker.id, &declared.id, None, "test")?;
    let declared_entry = install(conn, &declared.id, &w.nimbus)?;
    // Another manufacturer cannot confirm it, nor anyone confirm a non-customer's entry.
    let quillon = create_organization(conn, OrgKind::Manufacturer, "Quillon Two", "quillon-two")?;
    ensure!(
        matches!(
            confirm_installed_product(conn, &quillon.id, &declared.id, &declared_entry.id, "x"),
            Err(StorageError::NotFound)
        ),
        "only the product's manufacturer confirms"
    );
    // Declares an installed base but is no customer: its own list does not entitle it.
    let self_declared = hospital(conn, "self-declared")?;
    install(conn, &self_declared.id, &w.nimbus)?;
    let product_grant = hospital(conn, "product-grant")?;
    create_grant(
        conn,
        &w.maker.id,
        &product_grant.id,
        &GrantTarget::Product(w.cirrus.clone()),
        Some("pilot"),
        "test",
    )?;
    let advisory_grant = hospital(conn, "advisory-grant")?;
    create_grant(
        conn,
        &w.maker.id,
        &advisory_grant.id,
        &GrantTarget::Advisory(w.amber_nimbus.advisory_id.clone()),
        None,
        "test",
    )?;
    let stranger = hospital(conn, "stranger")?;
    let other_maker = create_organization(conn, OrgKind::Manufacturer, "Quillon", "quillon")?;

    let h = |o: &Organization| Reader::Hospital {
        org_id: o.id.clone(),
    };
    let cases: Vec<(&str, Reader, Vec<String>)> = vec![
        ("anonymous", Reader::Anonymous, strs(&["LARK-W"])),
        (
            "manufacturer",
            Reader::Manufacturer {
                org_id: w.maker.id.clone(),
            },
            strs(&["LARK-A1", "LARK-A2", "LARK-G", "LARK-R", "LARK-W"]),
        ),
        (
            "another manufacturer",
            Reader::Manufacturer {
                org_id: other_maker.id.clone(),
            },
            strs(&["LARK-W"]),
        ),
        ("customer", h(&customer), strs(&["LARK-G", "LARK-W"])),
        (
            "customer running nimbus",
            h(&runs_nimbus),
            strs(&["LARK-A1", "LARK-G", "LARK-W"]),
        ),
        ("self-declared", h(&self_declared), strs(&["LARK-W"])),
        (
            "customer with an unconfirmed declaration",
            h(&declared),
            strs(&["LARK-G", "LARK-W"]),
        ),
        // GREEN's audience includes AMBER's: the grant's product is named only by LARK-A2.
        (
            "product grant",
            h(&product_grant),
            strs(&["LARK-A2", "LARK-W"]),
        ),
        (
            "advisory grant",
            h(&advisory_grant),
            strs(&["LARK-A1", "LARK-W"]),
        ),
        ("stranger", h(&stranger), strs(&["LARK-W"])),
        (
            "hostile id",
            Reader::Hospital {
                org_id: "' OR 1=1 --".into(),
            },
            strs(&["LARK-W"]),
        ),
    ];
    let all = [
        (&w.white, Tlp::White),
        (&w.green, Tlp::Green),
        (&w.amber_nimbus, Tlp::Amber),
        (&w.amber_cirrus, Tlp::Amber),
        (&w.red, Tlp::Red),
    ];
    for (name, reader, want) in &cases {
        let got = listed(conn, reader)?;
        ensure!(&got == want, "{name}: lists {got:?}, expected {want:?}");
        // The same rule for single reads, distribution paths and per-caller documents.
        for (p, tlp) in all {
            let visible = want.contains(&p.tracking_id);
            ensure!(
                may_read(conn, reader, &p.advisory_id)? == visible,
                "{name}: may_read {}",
                p.tracking_id
            );
            if tlp != Tlp::Red {
                ensure!(
                    may_read_path(conn, reader, tlp, &p.path)? == visible,
                    "{name}: may_read_path {}",
                    p.path
                );
                let docs: Vec<String> = list_visible_documents(conn, tlp, reader)?
                    .into_iter()
                    .map(|d| d.tracking_id)
                    .collect();
                ensure!(
                    docs.contains(&p.tracking_id) == visible,
                    "{name}: documents of {tlp:?}: {docs:?}"
                );
            }
        }
        ensure!(!may_open_directory(conn, reader, Tlp::Red)?, "{name}: RED");
        ensure!(may_open_directory(conn, reader, Tlp::White)?);
    }
    // A path under the wrong label is never readable.
    ensure!(!may_read_path(
        conn,
        &Reader::Manufacturer {
            org_id: w.maker.id.clone()
        },
        Tlp::White,
        &w.green.path
    )?);
    // Directories: customers and grant holders open them; strangers and self-declared do not.
    for (reader, green, amber) in [
        (h(&customer), true, true),
        (h(&product_grant), true, true),
        (h(&stranger), false, false),
        (h(&self_declared), false, false),
        (Reader::Anonymous, false, false),
    ] {
        ensure!(
            may_open_directory(conn, &reader, Tlp::Green)? == green,
            "{reader:?}"
        );
        ensure!(
            may_open_directory(conn, &reader, Tlp::Amber)? == amber,
            "{reader:?}"
        );
    }
    // A label narrows the list (the distribution tree's category documents).
    let amber_only = list_advisories(
        conn,
        &AdvisoryFilter {
            reader: h(&runs_nimbus),
            tlp: Some(Tlp::Amber),
            ..Default::default()
        },
    )?;
    ensure!(amber_only.total == 1 && amber_only.items[0].tracking_id == "LARK-A1");

    // Ending the relation and revoking a grant take effect at once.
    remove_customer(conn, &w.maker.id, &runs_nimbus.id, "test")?;
    ensure!(listed(conn, &h(&runs_nimbus))? == strs(&["LARK-W"]));
    let grants = list_grants(conn, &w.maker.id, &advisory_grant.id)?;
    ensure!(grants.len() == 1);
    revoke_grant(conn, &w.maker.id, &advisory_grant.id, &grants[0].id, "test")?;
    ensure!(listed(conn, &h(&advisory_grant))? == strs(&["LARK-W"]));
    ensure!(matches!(
        revoke_grant(conn, &w.maker.id, &advisory_grant.id, &grants[0].id, "test"),
        Err(StorageError::NotFound)
    ));
    // Customers list and audit.
    let customers = list_customers(conn, &w.maker.id)?;
    ensure!(
        customers.len() == 2
            && customers[0].hospital_slug == "customer"
            && customers[0].reference.as_deref() == Some("ACME-1")
            && customers[1].hospital_slug == "declared",
        "{customers:?}"
    );
    let audit = list_audit(conn, Some(&format!("organization:{}", customer.id)), 10)?;
    ensure!(audit.iter().any(|e| e.action == "customer.add"));
    Ok(())
}

fn data_model_refuses_hostile_input(db: &TestDb) -> Result<()> {
    let mut conn = db.conn()?;
    let conn = &mut *conn;
    let w = world(conn)?;
    let h = hospital(conn, "st-hostile")?;
    let other_maker = create_organization(conn, OrgKind::Manufacturer, "Quillon", "quillon")?;
    let invalid = |r: Result<(), StorageError>, what: &str| -> Result<()> {
        ensure!(
            matches!(r, Err(StorageError::Invalid(_))),
            "{what}: expected Invalid, got {r:?}"
        );
        Ok(())
    };
    let add = |conn: &mut DbConnection, org: &str, new: NewInstalledProduct<'_>| {
        add_installed_product(conn, org, &new, "test").map(|_| ())
    };
    invalid(
        add(
            conn,
            &h.id,
            NewInstalledProduct {
                product_id: "no-such-product",
                ..Default::default()
            },
        ),
        "unknown product",
    )?;
    invalid(
        add(
            conn,
            &h.id,
            NewInstalledProduct {
                product_id: &w.nimbus,
                quantity: Some(0),
                ..Default::default()
            },
        ),
        "quantity 0",
    )?;
    invalid(
        add(
            conn,
            &h.id,
            NewInstalledProduct {
                product_id: &w.nimbus,
                notes: Some("bell\u{7}"),
                ..Default::default()
            },
        ),
        "control characters",
    )?;
    invalid(
        add(
            conn,
            &h.id,
            NewInstalledProduct {
                product_id: &w.nimbus,
                site: Some(&"x".repeat(5000)),
                ..Default::default()
            },
        ),
        "long site",
    )?;
    invalid(
        add(
            conn,
            &w.maker.id,
            NewInstalledProduct {
                product_id: &w.nimbus,
                ..Default::default()
            },
        ),
        "a manufacturer has no installed base",
    )?;
    let entry = install(conn, &h.id, &w.nimbus)?;
    ensure!(entry.product.family.as_deref() == Some("Nimbus") && entry.quantity == Some(2));
    ensure!(
        matches!(
            install(conn, &h.id, &w.nimbus)
                .map(|_| ())
                .map_err(|e| e.downcast::<StorageError>()),
            Err(Ok(StorageError::Conflict(_)))
        ),
        "the same product twice"
    );
    // Another organization's entry is not found, and stays.
    let other = hospital(conn, "st-other")?;
    ensure!(matches!(
        remove_installed_product(conn, &other.id, &entry.id, "test"),
        Err(StorageError::NotFound)
    ));
    ensure!(list_installed_base(conn, &h.id)?.len() == 1);
    remove_installed_product(conn, &h.id, &entry.id, "test")?;
    ensure!(list_installed_base(conn, &h.id)?.is_empty());

    invalid(
        add_customer(conn, &h.id, &other.id, None, "test").map(|_| ()),
        "a hospital as the manufacturer",
    )?;
    invalid(
        add_customer(conn, &w.maker.id, &other_maker.id, None, "test").map(|_| ()),
        "a manufacturer as the customer",
    )?;
    invalid(
        create_grant(
            conn,
            &other_maker.id,
            &h.id,
            &GrantTarget::Product(w.nimbus.clone()),
            None,
            "test",
        )
        .map(|_| ()),
        "another manufacturer's product",
    )?;
    invalid(
        create_grant(
            conn,
            &other_maker.id,
            &h.id,
            &GrantTarget::Advisory(w.amber_nimbus.advisory_id.clone()),
            None,
            "test",
        )
        .map(|_| ()),
        "another manufacturer's advisory",
    )?;
    create_grant(
        conn,
        &w.maker.id,
        &h.id,
        &GrantTarget::Product(w.nimbus.clone()),
        None,
        "test",
    )?;
    ensure!(matches!(
        create_grant(
            conn,
            &w.maker.id,
            &h.id,
            &GrantTarget::Product(w.nimbus.clone()),
            None,
            "test"
        ),
        Err(StorageError::Conflict(_))
    ));

    let dest = create_destination(
        conn,
        &NewDestination {
            org_id: &h.id,
            plugin_id: "webhook",
            name: "SOC",
            config: serde_json::json!({}),
            grants: serde_json::json!({}),
            enabled: true,
            min_severity: None,
        },
        "test",
    )?;
    ensure!(get_subscription(conn, &dest.id)? == Subscription::default());
    for (bad, what) in [
        (
            Subscription {
                event_kinds: vec!["advisory.deleted".into()],
                ..Default::default()
            },
            "unknown kind",
        ),
        (
            Subscription {
                product_ids: vec!["nope".into()],
                ..Default::default()
            },
            "unknown product",
        ),
        (
            Subscription {
                families: vec!["  ".into()],
                ..Default::default()
            },
            "blank family",
        ),
        (
            Subscription {
                families: vec!["a\u{0}b".into()],
                ..Default::default()
            },
            "NUL in a family",
        ),
    ] {
        invalid(
            set_subscription(conn, &dest.id, &bad, "test").map(|_| ()),
            what,
        )?;
    }
    ensure!(matches!(
        set_subscription(
            conn,
            "no-such-destination",
            &Subscription::default(),
            "test"
        ),
        Err(StorageError::NotFound)
    ));
    let stored = set_subscription(
        conn,
        &dest.id,
        &Subscription {
            product_ids: vec![w.cirrus.clone(), w.cirrus.clone()],
            families: vec![" NIMBUS ".into()],
            event_kinds: vec!["advisory.updated".into(), "advisory.published".into()],
            security_contact: true,
            routine_opt_out: false,
        },
        "test",
    )?;
    ensure!(
        stored.product_ids == vec![w.cirrus.clone()]
            && stored.families == vec!["nimbus".to_string()]
            && stored.event_kinds == strs(&["advisory.published", "advisory.updated"]),
        "normalised: {stored:?}"
    );
    ensure!(get_subscription(conn, &dest.id)? == stored);
    Ok(())
}

fn destination(
    conn: &mut DbConnection,
    org: &str,
    name: &str,
    min: Option<&str>,
) -> Result<Destination> {
    Ok(create_destination(
        conn,
        &NewDestination {
            org_id: org,
            plugin_id: "webhook",
            name,
            config: serde_json::json!({ "url": "http://127.0.0.1:9/hook" }),
            grants: serde_json::json!({ "http_hosts": ["127.0.0.1:9"] }),
            enabled: true,
            min_severity: min,
        },
        "test",
    )?)
}

fn delivered_to(conn: &mut DbConnection, event_id: &str) -> Result<Vec<String>> {
    let mut ids: Vec<String> = list_deliveries(
        conn,
        &DeliveryFilter {
            event_id: Some(event_id.to_string()),
            ..Default::default()
        },
    )?
    .into_iter()
    .map(|d| d.destination_id)
    .collect();
    ids.sort();
    Ok(ids)
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// `(code, destinations)` of every `delivery.withheld` entry of an event, sorted.
fn withheld(conn: &mut DbConnection, event_id: &str) -> Result<Vec<(String, Vec<String>)>> {
    let mut out: Vec<(String, Vec<String>)> =
        list_audit(conn, Some(&format!("event:{event_id}")), 50)?
            .into_iter()
            .filter(|e| e.action == "delivery.withheld")
            .map(|e| {
                let mut d: Vec<String> =
                    serde_json::from_value(e.detail["destinations"].clone()).unwrap_or_default();
                d.sort();
                (e.detail["code"].as_str().unwrap_or("").to_string(), d)
            })
            .collect();
    out.sort();
    Ok(out)
}

fn fan_out_matching(db: &TestDb) -> Result<()> {
    let mut conn = db.conn()?;
    let conn = &mut *conn;
    let maker = manufacturer(conn)?;
    // Hospitals and their destinations, before anything is published.
    let runs_nimbus = hospital(conn, "runs-nimbus")?;
    let customer = hospital(conn, "customer")?;
    let stranger = hospital(conn, "stranger")?;
    add_customer(conn, &maker.id, &runs_nimbus.id, None, "test")?;
    add_customer(conn, &maker.id, &customer.id, None, "test")?;
    let psirt = destination(conn, &maker.id, "PSIRT", None)?;
    let soc = destination(conn, &runs_nimbus.id, "SOC", None)?;
    let oncall = destination(conn, &runs_nimbus.id, "On-call", None)?;
    let updates_only = destination(conn, &customer.id, "Updates only", None)?;
    let cirrus_family = destination(conn, &customer.id, "Cirrus team", None)?;
    let everything = destination(conn, &customer.id, "Everything", None)?;
    let outsider = destination(conn, &stranger.id, "Outsider", None)?;
    // The first publication creates the catalog products; install before fan-out runs.
    let green = publish_sample(
        conn,
        &maker.id,
        &summary("LARK-G", Tlp::Green, "medium", false),
    )?;
    let amber_nimbus = publish_sample(
        conn,
        &maker.id,
        &summary("LARK-A1", Tlp::Amber, "critical", false),
    )?;
    let amber_cirrus = publish_sample(
        conn,
        &maker.id,
        &summary("LARK-A2", Tlp::Amber, "medium", true),
    )?;
    let white_cirrus = publish_sample(
        conn,
        &maker.id,
        &summary("LARK-W2", Tlp::White, "critical", true),
    )?;
    let nimbus = advisory_product_ids(conn, &amber_nimbus.advisory_id)?[0].clone();
    let cirrus = advisory_product_ids(conn, &amber_cirrus.advisory_id)?[0].clone();
    install_confirmed(conn, &maker.id, &runs_nimbus.id, &nimbus)?;
    // The on-call pager is a security contact that opted out of routine notices.
    set_subscription(
        conn,
        &oncall.id,
        &Subscription {
            security_contact: true,
            routine_opt_out: true,
            ..Default::default()
        },
        "test",
    )?;
    set_subscription(
        conn,
        &updates_only.id,
        &Subscription {
            event_kinds: vec![EVENT_ADVISORY_UPDATED.into()],
            ..Default::default()
        },
        "test",
    )?;
    set_subscription(
        conn,
        &cirrus_family.id,
        &Subscription {
            families: vec!["cirrus".into()],
            ..Default::default()
        },
        "test",
    )?;
    let _ = cirrus;

    let report = fan_out_pending(conn, 100)?;
    ensure!(report.events == 4, "{report:?}");

    // GREEN (Nimbus, medium): the manufacturer; the nimbus hospital's SOC (customer, installed);
    // the customer's catch-all. Not: on-call (routine opt-out), updates-only (kind), cirrus
    // team (family), the stranger (not entitled).
    ensure!(
        delivered_to(conn, &green.event_id)?
            == sorted(vec![
                psirt.id.clone(),
                soc.id.clone(),
                everything.id.clone()
            ]),
        "GREEN"
    );
    ensure!(
        withheld(conn, &green.event_id)?
            == vec![
                ("not_entitled".to_string(), vec![outsider.id.clone()]),
                (
                    "not_subscribed".to_string(),
                    sorted(vec![updates_only.id.clone(), cirrus_family.id.clone()])
                ),
                ("routine_opt_out".to_string(), vec![oncall.id.clone()]),
            ],
        "GREEN withheld: {:?}",
        withheld(conn, &green.event_id)?
    );
    // AMBER Nimbus, critical: the manufacturer, and the hospital running it on both
    // destinations (the security contact despite its opt-out). The plain customer is not
    // entitled to AMBER.
    ensure!(
        delivered_to(conn, &amber_nimbus.event_id)?
            == sorted(vec![psirt.id.clone(), soc.id.clone(), oncall.id.clone()]),
        "AMBER critical"
    );
    let w = withheld(conn, &amber_nimbus.event_id)?;
    ensure!(
        w == vec![(
            "not_entitled".to_string(),
            sorted(vec![
                updates_only.id.clone(),
                cirrus_family.id.clone(),
                everything.id.clone(),
                outsider.id.clone()
            ])
        )],
        "AMBER withheld: {w:?}"
    );
    // AMBER Cirrus: nobody but the manufacturer is entitled.
    ensure!(delivered_to(conn, &amber_cirrus.event_id)? == vec![psirt.id.clone()]);
    // WHITE Cirrus, critical: everyone may read it; the nimbus hospital runs no Cirrus, so its
    // security contact too hears nothing (installed base first); the customer's cirrus team
    // and catch-all get it, updates-only does not; the stranger does.
    ensure!(
        delivered_to(conn, &white_cirrus.event_id)?
            == sorted(vec![
                psirt.id.clone(),
                cirrus_family.id.clone(),
                everything.id.clone(),
                outsider.id.clone()
            ]),
        "WHITE critical"
    );
    let w = withheld(conn, &white_cirrus.event_id)?;
    ensure!(
        w == vec![
            (
                "not_installed".to_string(),
                sorted(vec![soc.id.clone(), oncall.id.clone()])
            ),
            ("not_subscribed".to_string(), vec![updates_only.id.clone()]),
        ],
        "WHITE withheld: {w:?}"
    );

    // An update reaches the updates-only destination (the customer may read GREEN).
    let mut updated = summary("LARK-G", Tlp::Green, "medium", false);
    updated.revision_history.push(herald_csaf::Revision {
        number: "2".into(),
        date: chrono::DateTime::parse_from_rfc3339("2026-06-02T10:00:00Z")?
            .with_timezone(&chrono::Utc),
        summary: "Revision 2".into(),
    });
    updated.version = "2".into();
    updated.current_release_date = updated.revision_history[1].date;
    let update = publish_sample(conn, &maker.id, &updated)?;
    fan_out_pending(conn, 100)?;
    ensure!(
        delivered_to(conn, &update.event_id)?
            == sorted(vec![
                psirt.id.clone(),
                soc.id.clone(),
                updates_only.id.clone(),
                everything.id.clone()
            ]),
        "update"
    );
    Ok(())
}

/// The matching functions on their own: the security contact, routine opt-out and filters.
fn matching_functions(db: &TestDb) -> Result<()> {
    let mut conn = db.conn()?;
    let conn = &mut *conn;
    let maker = manufacturer(conn)?;
    let d = destination(conn, &maker.id, "PSIRT", Some("high"))?;
    let products = vec!["p1".to_string()];
    let families = vec!["nimbus".to_string()];
    let facts = |severity: Option<&'static str>, tlp| EventFacts {
        kind: EVENT_ADVISORY_PUBLISHED,
        severity,
        tlp,
        publisher_org_id: None,
        product_ids: &products,
        families: &families,
    };
    let plain = Subscription::default();
    let contact = Subscription {
        security_contact: true,
        routine_opt_out: true,
        ..Default::default()
    };
    let installed_elsewhere: std::collections::BTreeSet<String> =
        ["p2".to_string()].into_iter().collect();
    let r = |entitled, installed_base, subscription| Recipient {
        entitled,
        installed_base,
        subscription,
    };
    ensure!(
        sharing_restriction(&d, &facts(None, Some(Tlp::Red)), &r(true, None, &plain))
            == Some(Withheld::TlpRed)
    );
    ensure!(
        sharing_restriction(&d, &facts(None, Some(Tlp::Amber)), &r(false, None, &plain))
            == Some(Withheld::TlpRestricted)
    );
    ensure!(destination_matches(
        &d,
        &facts(Some("critical"), Some(Tlp::Amber)),
        &r(true, None, &plain)
    ));
    ensure!(
        !destination_matches(&d, &facts(Some("low"), None), &r(true, None, &plain)),
        "threshold stays"
    );
    ensure!(destination_matches(
        &d,
        &facts(Some("CRITICAL"), None),
        &r(true, None, &contact)
    ));
    ensure!(
        subscription_restriction(&d, &facts(Some("high"), None), &r(true, None, &contact))
            == Some(Withheld::RoutineOptOut)
    );
    ensure!(
        subscription_restriction(
            &d,
            &facts(Some("critical"), None),
            &r(true, Some(&installed_elsewhere), &contact)
        ) == Some(Withheld::NotInstalled),
        "installed base before the security contact"
    );
    let by_family = Subscription {
        families: vec!["nimbus".into()],
        event_kinds: vec![EVENT_ADVISORY_PUBLISHED.into()],
        ..Default::default()
    };
    ensure!(subscription_restriction(&d, &facts(None, None), &r(true, None, &by_family)).is_none());
    let by_product = Subscription {
        product_ids: vec!["p9".into()],
        ..Default::default()
    };
    ensure!(
        subscription_restriction(&d, &facts(None, None), &r(true, None, &by_product))
            == Some(Withheld::NotSubscribed)
    );
    Ok(())
}

herald_storage::both_backends!(
    entitlement_rule,
    data_model_refuses_hostile_input,
    fan_out_matching,
    matching_functions
);
