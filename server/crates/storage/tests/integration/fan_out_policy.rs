//! The fan-out sharing policy (TLP) and the circuit breaker's claim filter, on SQLite and on
//! PostgreSQL (fresh database each, `both_backends!`).

use anyhow::{Context, Result, ensure};
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

const D1: &str = "2026-06-01T10:00:00Z";

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

fn publish_with_tlp(
    conn: &mut DbConnection,
    org: &str,
    tracking_id: &str,
    tlp: Option<Tlp>,
    severity: Option<(&str, f64)>,
) -> Result<Published> {
    let mut summary = sample_summary(tracking_id, &[("1", D1)], severity, &["CVE-2026-4242"]);
    summary.tlp = tlp;
    Ok(publish_sample(conn, org, &summary)?)
}

/// Destination ids with a delivery for `event_id`, sorted.
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

fn withheld_entry(conn: &mut DbConnection, event_id: &str) -> Result<Option<AuditEntry>> {
    Ok(list_audit(conn, Some(&format!("event:{event_id}")), 10)?
        .into_iter()
        .find(|e| e.action == "delivery.withheld"))
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn tlp_policy(db: &TestDb) -> Result<()> {
    let mut conn = db.conn()?;
    let conn = &mut *conn;
    let maker = manufacturer(conn)?;
    let hospital = create_organization(conn, OrgKind::Hospital, "St. Elsewhere", "st-elsewhere")?;
    let own = destination(conn, &maker.id, "Larkspur PSIRT", None)?;
    let own_high = destination(conn, &maker.id, "Larkspur on-call", Some("high"))?;
    let theirs = destination(conn, &hospital.id, "St. Elsewhere SOC", None)?;

    let red = publish_with_tlp(
        conn,
        &maker.id,
        "LARK-2026-101",
        Some(Tlp::Red),
        Some(("critical", 9.8)),
    )?;
    let amber = publish_with_tlp(
        conn,
        &maker.id,
        "LARK-2026-102",
        Some(Tlp::Amber),
        Some(("critical", 9.8)),
    )?;
    let green = publish_with_tlp(
        conn,
        &maker.id,
        "LARK-2026-103",
        Some(Tlp::Green),
        Some(("medium", 5.0)),
    )?;
    let white = publish_with_tlp(
        conn,
        &maker.id,
        "LARK-2026-104",
        Some(Tlp::White),
        Some(("medium", 5.0)),
    )?;
    let unlabeled = publish_with_tlp(
        conn,
        &maker.id,
        "LARK-2026-105",
        None,
        Some(("critical", 9.1)),
    )?;

    let r = fan_out_pending(conn, 100)?;
    // RED: none; AMBER critical: own + own_high; GREEN medium: own; WHITE medium: own + theirs;
    // unlabeled critical: all three.
    ensure!(
        r == FanOutReport {
            events: 5,
            deliveries: 2 + 1 + 2 + 3
        },
        "{r:?}"
    );
    ensure!(
        delivered_to(conn, &red.event_id)?.is_empty(),
        "TLP:RED was fanned out"
    );
    ensure!(
        delivered_to(conn, &amber.event_id)? == sorted(vec![own.id.clone(), own_high.id.clone()]),
        "AMBER went beyond the manufacturer"
    );
    ensure!(
        delivered_to(conn, &green.event_id)? == vec![own.id.clone()],
        "GREEN: manufacturer only, severity threshold still applies"
    );
    ensure!(
        delivered_to(conn, &white.event_id)? == sorted(vec![own.id.clone(), theirs.id.clone()])
    );
    ensure!(
        delivered_to(conn, &unlabeled.event_id)?
            == sorted(vec![own.id.clone(), own_high.id.clone(), theirs.id.clone()]),
        "no label is distributed as WHITE"
    );

    // Why: one audit entry per restricted event, naming the reason and who was left out.
    let e = withheld_entry(conn, &red.event_id)?.context("no audit entry for the RED event")?;
    ensure!(e.detail["tlp"] == "RED", "{:?}", e.detail);
    ensure!(
        e.detail["reason"]
            .as_str()
            .is_some_and(|r| r.contains("TLP:RED")),
        "{:?}",
        e.detail
    );
    let mut left_out: Vec<String> = serde_json::from_value(e.detail["destinations"].clone())?;
    left_out.sort();
    ensure!(left_out == sorted(vec![own.id.clone(), own_high.id.clone(), theirs.id.clone()]));
    ensure!(e.detail["tracking_id"] == "LARK-2026-101");

    for (event, tlp) in [(&amber.event_id, "AMBER"), (&green.event_id, "GREEN")] {
        let e =
            withheld_entry(conn, event)?.with_context(|| format!("no audit entry for {tlp}"))?;
        ensure!(e.detail["tlp"] == tlp, "{:?}", e.detail);
        ensure!(
            e.detail["destinations"] == serde_json::json!([theirs.id.clone()]),
            "{tlp}: {:?}",
            e.detail
        );
    }
    // Nothing withheld, nothing written.
    ensure!(withheld_entry(conn, &white.event_id)?.is_none());
    ensure!(withheld_entry(conn, &unlabeled.event_id)?.is_none());
    Ok(())
}

/// An advisory published by another manufacturer's organization is restricted to that one.
fn amber_follows_the_publisher(db: &TestDb) -> Result<()> {
    let mut conn = db.conn()?;
    let conn = &mut *conn;
    let larkspur = manufacturer(conn)?;
    let other = create_organization(conn, OrgKind::Manufacturer, "Quillon Devices", "quillon")?;
    let lark_dest = destination(conn, &larkspur.id, "Larkspur PSIRT", None)?;
    let quillon_dest = destination(conn, &other.id, "Quillon PSIRT", None)?;
    let p = publish_with_tlp(conn, &other.id, "QUIL-2026-001", Some(Tlp::Amber), None)?;
    fan_out_pending(conn, 10)?;
    ensure!(delivered_to(conn, &p.event_id)? == vec![quillon_dest.id.clone()]);
    let e = withheld_entry(conn, &p.event_id)?.context("no audit entry")?;
    ensure!(e.detail["destinations"] == serde_json::json!([lark_dest.id.clone()]));
    Ok(())
}

/// The policy as a pure function: RED beats everything, AMBER/GREEN follow the entitlement
/// answer fan-out computes per organization (`may_read_as`), the threshold stays.
fn policy_function(db: &TestDb) -> Result<()> {
    let mut conn = db.conn()?;
    let conn = &mut *conn;
    let maker = manufacturer(conn)?;
    let d = destination(conn, &maker.id, "PSIRT", Some("high"))?;
    let facts = |tlp, publisher, severity| EventFacts {
        kind: "advisory.published",
        severity,
        tlp,
        publisher_org_id: publisher,
        product_ids: &[],
        families: &[],
    };
    let subscription = Subscription::default();
    let entitled = Recipient {
        entitled: true,
        installed_base: None,
        subscription: &subscription,
    };
    let not_entitled = Recipient {
        entitled: false,
        ..entitled
    };
    let me = Some(maker.id.as_str());
    ensure!(
        sharing_restriction(&d, &facts(Some(Tlp::Red), me, None), &entitled)
            == Some(Withheld::TlpRed)
    );
    ensure!(!destination_matches(
        &d,
        &facts(Some(Tlp::Red), me, Some("critical")),
        &entitled
    ));
    ensure!(destination_matches(
        &d,
        &facts(Some(Tlp::Amber), me, Some("critical")),
        &entitled
    ));
    ensure!(
        !destination_matches(&d, &facts(Some(Tlp::Amber), me, Some("low")), &entitled),
        "threshold stays"
    );
    ensure!(
        sharing_restriction(
            &d,
            &facts(Some(Tlp::Green), Some("someone-else"), None),
            &not_entitled
        ) == Some(Withheld::TlpRestricted)
    );
    // The organization's entitlement for this very destination's organization, by the rule.
    let amber = publish_with_tlp(conn, &maker.id, "LARK-2026-150", Some(Tlp::Amber), None)?;
    let reader = Reader::for_org(conn, &maker.id)?;
    ensure!(may_read_as(
        conn,
        &reader,
        &amber.advisory_id,
        Some(Tlp::Amber)
    )?);
    ensure!(!may_read_as(
        conn,
        &Reader::Anonymous,
        &amber.advisory_id,
        Some(Tlp::Amber)
    )?);
    ensure!(destination_matches(
        &d,
        &facts(Some(Tlp::White), Some("someone-else"), None),
        &entitled
    ));
    Ok(())
}

/// `claim_due_except` leaves paused destinations' deliveries queued and untouched, and still
/// fills the batch from the other destinations.
fn claim_skips_paused(db: &TestDb) -> Result<()> {
    let mut conn = db.conn()?;
    let conn = &mut *conn;
    let maker = manufacturer(conn)?;
    let a = destination(conn, &maker.id, "a", None)?;
    let b = destination(conn, &maker.id, "b", None)?;
    let c = destination(conn, &maker.id, "c", None)?;
    publish_with_tlp(conn, &maker.id, "LARK-2026-201", None, None)?;
    fan_out_pending(conn, 10)?;
    let lease = chrono::Duration::minutes(5);
    let got = claim_due_except(conn, "w1", 2, lease, std::slice::from_ref(&a.id))?;
    let mut dests: Vec<String> = got.iter().map(|c| c.destination.id.clone()).collect();
    dests.sort();
    ensure!(
        dests == sorted(vec![b.id.clone(), c.id.clone()]),
        "{dests:?}"
    );
    let left = list_deliveries(
        conn,
        &DeliveryFilter {
            destination_id: Some(a.id.clone()),
            ..Default::default()
        },
    )?;
    ensure!(left.len() == 1);
    ensure!(
        left[0].status == DeliveryStatus::Queued && left[0].attempts == 0,
        "{left:?}"
    );
    // Unpaused, it is claimable.
    let got = claim_due_except(conn, "w1", 10, lease, &[])?;
    ensure!(got.len() == 1 && got[0].destination.id == a.id);
    Ok(())
}

herald_storage::both_backends!(
    tlp_policy,
    amber_follows_the_publisher,
    policy_function,
    claim_skips_paused
);
