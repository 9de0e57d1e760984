//! The advisory list query (`list_advisories`, `list_listed_products`) on both backends: every
//! filter (text, CVE, product, severity, release dates), every sort order, paging with totals,
//! and hostile search text (LIKE wildcards, quotes, markup) taken literally.

use anyhow::{Context, Result, ensure};
use chrono::{DateTime, Utc};
use herald_csaf::{AdvisorySummary, Product, Tlp};
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

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_else(|e| panic!("bad date {s:?}: {e}"))
}

fn ids(p: &AdvisoryPage) -> Vec<String> {
    p.items.iter().map(|i| i.tracking_id.clone()).collect()
}

/// The publishing manufacturer (`larkspur`, created by `seed`) reads every label.
fn everything() -> AdvisoryFilter {
    AdvisoryFilter {
        reader: MAKER.with(|m| Reader::Manufacturer {
            org_id: m.borrow().clone(),
        }),
        limit: 100,
        ..Default::default()
    }
}

thread_local! {
    /// The manufacturer `seed` created in this test's database (each test runs on its thread).
    static MAKER: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

fn with_product(mut s: AdvisorySummary, name: &str, version: &str) -> AdvisorySummary {
    s.products = vec![Product {
        product_id: "CSAFPID-0001".into(),
        name: format!("Larkspur {name} {version}"),
        vendor: Some("Larkspur Medical".into()),
        family: None,
        product_name: Some(name.into()),
        version: Some(version.into()),
        udi_di: None,
        cpe: None,
        purl: None,
    }];
    s
}

/// Five advisories:
/// * A-1 2026-01-10 critical 9.8 pump 4.2, CVE-2026-1001
/// * B-2 2026-02-10 high 7.5 monitor 1.0, CVE-2026-1002, CVE-2026-1003
/// * c-3 2026-03-10 no score, pump 4.2 (title "alpha ..." sorts first by title)
/// * D-4 2026-04-10 low 3.1, monitor 1.0
/// * E-5 2026-05-10 critical 9.1 AMBER, "Secret Ventilator" only here
fn seed(conn: &mut DbConnection) -> Result<String> {
    let org = manufacturer(conn)?;
    let mut a = with_product(
        sample_summary(
            "A-1",
            &[("1", "2026-01-10T08:00:00Z")],
            Some(("critical", 9.8)),
            &["CVE-2026-1001"],
        ),
        "Nimbus Pump",
        "4.2",
    );
    a.title = "Pump: buffer overflow".into();
    let mut b = with_product(
        sample_summary(
            "B-2",
            &[("1", "2026-02-10T08:00:00Z")],
            Some(("high", 7.5)),
            &["CVE-2026-1002", "CVE-2026-1003"],
        ),
        "Cirrus Monitor",
        "1.0",
    );
    b.title = "monitor: weak TLS".into();
    let mut c = with_product(
        sample_summary("c-3", &[("1", "2026-03-10T08:00:00Z")], None, &[]),
        "Nimbus Pump",
        "4.2",
    );
    c.title = "Alpha: 100% of 5_users affected <b>bold</b> 'quoted'".into();
    let mut d = with_product(
        sample_summary(
            "D-4",
            &[("1", "2026-04-10T08:00:00Z")],
            Some(("low", 3.1)),
            &[],
        ),
        "Cirrus Monitor",
        "1.0",
    );
    d.title = "Monitor: log noise".into();
    let mut e = with_product(
        sample_summary(
            "E-5",
            &[("1", "2026-05-10T08:00:00Z")],
            Some(("critical", 9.1)),
            &["CVE-2026-1005"],
        ),
        "Secret Ventilator",
        "2.0",
    );
    e.tlp = Some(Tlp::Amber);
    e.title = "Ventilator: restricted".into();
    for s in [&a, &b, &c, &d, &e] {
        publish_sample(conn, &org.id, s)?;
    }
    MAKER.with(|m| *m.borrow_mut() = org.id.clone());
    Ok(org.id)
}

fn product_id(conn: &mut DbConnection, name: &str) -> Result<String> {
    let products = list_listed_products(conn, &everything())?;
    products
        .into_iter()
        .find(|p| p.name == name)
        .map(|p| p.id)
        .with_context(|| format!("product {name} not in the catalog"))
}

fn advisory_list_filters(db: &TestDb) -> Result<()> {
    let mut conn = db.conn()?;
    let conn = &mut *conn;
    seed(conn)?;
    let list = |conn: &mut DbConnection, f: AdvisoryFilter| list_advisories(conn, &f);

    // CVE: exact id, any case; a CVE of a restricted advisory finds nothing for WHITE readers.
    let p = list(
        conn,
        AdvisoryFilter {
            cve: Some(" cve-2026-1003 ".into()),
            ..everything()
        },
    )?;
    ensure!(ids(&p) == ["B-2"] && p.total == 1, "cve: {:?}", ids(&p));
    let p = list(
        conn,
        AdvisoryFilter {
            cve: Some("CVE-2026-100".into()),
            ..everything()
        },
    )?;
    ensure!(p.total == 0, "a CVE filter is exact, not a prefix");
    let p = list(
        conn,
        AdvisoryFilter {
            cve: Some("CVE-2026-1005".into()),
            reader: Reader::Anonymous,
            ..everything()
        },
    )?;
    ensure!(p.total == 0, "visibility applies to the CVE filter");

    // Product from the catalog.
    let pump = product_id(conn, "Nimbus Pump")?;
    let p = list(
        conn,
        AdvisoryFilter {
            product_id: Some(pump.clone()),
            ..everything()
        },
    )?;
    ensure!(ids(&p) == ["c-3", "A-1"], "product: {:?}", ids(&p));
    let p = list(
        conn,
        AdvisoryFilter {
            product_id: Some("no-such-product".into()),
            ..everything()
        },
    )?;
    ensure!(p.total == 0);

    // Severity; `none` also matches advisories without a score.
    for (sev, want) in [
        (CvssSeverity::Critical, vec!["E-5", "A-1"]),
        (CvssSeverity::High, vec!["B-2"]),
        (CvssSeverity::Medium, vec![]),
        (CvssSeverity::Low, vec!["D-4"]),
        (CvssSeverity::None, vec!["c-3"]),
    ] {
        let p = list(
            conn,
            AdvisoryFilter {
                severity: Some(sev),
                ..everything()
            },
        )?;
        ensure!(ids(&p) == want, "severity {sev:?}: {:?}", ids(&p));
    }

    // Release dates: from inclusive, before exclusive.
    let p = list(
        conn,
        AdvisoryFilter {
            released_from: Some(at("2026-02-10T08:00:00Z")),
            released_before: Some(at("2026-04-10T08:00:00Z")),
            ..everything()
        },
    )?;
    ensure!(ids(&p) == ["c-3", "B-2"], "dates: {:?}", ids(&p));

    // Filters combine (AND), with free text too.
    let p = list(
        conn,
        AdvisoryFilter {
            text: Some("monitor".into()),
            severity: Some(CvssSeverity::Low),
            released_from: Some(at("2026-01-01T00:00:00Z")),
            ..everything()
        },
    )?;
    ensure!(ids(&p) == ["D-4"], "combined: {:?}", ids(&p));

    // The product filter offers only products of advisories the reader may see.
    let white = AdvisoryFilter {
        reader: Reader::Anonymous,
        ..everything()
    };
    let names: Vec<String> = list_listed_products(conn, &white)?
        .into_iter()
        .map(|p| format!("{} {}", p.name, p.version.unwrap_or_default()))
        .collect();
    ensure!(
        names == ["Cirrus Monitor 1.0", "Nimbus Pump 4.2"],
        "products for WHITE readers: {names:?}"
    );
    ensure!(
        list_listed_products(conn, &everything())?.len() == 3,
        "an AMBER reader sees the restricted product"
    );
    Ok(())
}

fn advisory_list_sort_and_paging(db: &TestDb) -> Result<()> {
    let mut conn = db.conn()?;
    let conn = &mut *conn;
    seed(conn)?;
    for (sort, want) in [
        (AdvisorySort::Newest, ["E-5", "D-4", "c-3", "B-2", "A-1"]),
        (AdvisorySort::Oldest, ["A-1", "B-2", "c-3", "D-4", "E-5"]),
        // Highest score first, unscored last.
        (AdvisorySort::Severity, ["A-1", "E-5", "B-2", "D-4", "c-3"]),
        // Case-insensitive: "Alpha", "monitor", "Monitor: log", "Pump", "Ventilator".
        (AdvisorySort::Title, ["c-3", "D-4", "B-2", "A-1", "E-5"]),
        (
            AdvisorySort::TrackingId,
            ["A-1", "B-2", "D-4", "E-5", "c-3"],
        ),
    ] {
        let p = list_advisories(
            conn,
            &AdvisoryFilter {
                sort,
                ..everything()
            },
        )?;
        // Tracking id order is byte order (upper case before lower case) on both backends,
        // unless the PostgreSQL collation says otherwise: compare case-folded then.
        let got = ids(&p);
        if sort == AdvisorySort::TrackingId {
            let mut sorted = got.clone();
            sorted.sort();
            let mut folded = got.clone();
            folded.sort_by_key(|s| s.to_lowercase());
            ensure!(got == sorted || got == folded, "{sort:?}: {got:?}");
        } else {
            ensure!(got == want, "{sort:?}: {got:?}");
        }
        ensure!(p.total == 5);
    }

    // Pages of two in every order add up to the whole list, without repeats.
    for sort in AdvisorySort::ALL {
        let mut seen = Vec::new();
        for page in 0..3 {
            let p = list_advisories(
                conn,
                &AdvisoryFilter {
                    sort,
                    limit: 2,
                    offset: page * 2,
                    ..everything()
                },
            )?;
            ensure!(p.total == 5, "total is over all pages");
            ensure!(p.items.len() == if page < 2 { 2 } else { 1 });
            seen.extend(ids(&p));
        }
        let all = ids(&list_advisories(
            conn,
            &AdvisoryFilter {
                sort,
                ..everything()
            },
        )?);
        ensure!(seen == all, "{sort:?} pages {seen:?} != {all:?}");
    }
    // Past the end: an empty page that still counts the matches.
    let p = list_advisories(
        conn,
        &AdvisoryFilter {
            offset: 50,
            ..everything()
        },
    )?;
    ensure!(p.items.is_empty() && p.total == 5);
    for bad in [
        AdvisoryFilter {
            limit: 0,
            ..everything()
        },
        AdvisoryFilter {
            limit: 1001,
            ..everything()
        },
        AdvisoryFilter {
            offset: -1,
            ..everything()
        },
    ] {
        match list_advisories(conn, &bad) {
            Err(StorageError::Invalid(_)) => {}
            other => anyhow::bail!("{bad:?}: expected Invalid, got {other:?}"),
        }
    }
    ensure!(AdvisorySort::parse("TRACKING_ID") == Some(AdvisorySort::TrackingId));
    ensure!(AdvisorySort::parse("random").is_none());
    ensure!(CvssSeverity::parse(" High ") == Some(CvssSeverity::High));
    ensure!(CvssSeverity::parse("severe").is_none());
    Ok(())
}

fn advisory_list_hostile_text(db: &TestDb) -> Result<()> {
    let mut conn = db.conn()?;
    let conn = &mut *conn;
    seed(conn)?;
    let search = |conn: &mut DbConnection, text: &str| -> Result<Vec<String>> {
        Ok(ids(&list_advisories(
            conn,
            &AdvisoryFilter {
                text: Some(text.into()),
                ..everything()
            },
        )?))
    };
    // LIKE wildcards are literal characters.
    ensure!(search(conn, "100%")? == ["c-3"]);
    ensure!(
        search(conn, "%")? == ["c-3"],
        "only the title with a % matches"
    );
    ensure!(search(conn, "5_u")? == ["c-3"]);
    ensure!(search(conn, "_")? == ["c-3"]);
    ensure!(search(conn, "p%p")?.is_empty(), "% is not a wildcard");
    ensure!(search(conn, "pum_")?.is_empty(), "_ is not a wildcard");
    // Escape characters, quotes and markup are plain text too.
    ensure!(search(conn, "\\")?.is_empty());
    ensure!(search(conn, "\\%")?.is_empty());
    ensure!(search(conn, "'quoted'")? == ["c-3"]);
    ensure!(search(conn, "<b>bold</b>")? == ["c-3"]);
    ensure!(search(conn, "'; DROP TABLE advisories; --")?.is_empty());
    // The other text filters take hostile input literally as well.
    for cve in ["%", "_", "' OR 1=1 --"] {
        let p = list_advisories(
            conn,
            &AdvisoryFilter {
                cve: Some(cve.into()),
                ..everything()
            },
        )?;
        ensure!(p.total == 0, "cve {cve:?}");
        let p = list_advisories(
            conn,
            &AdvisoryFilter {
                product_id: Some(cve.into()),
                ..everything()
            },
        )?;
        ensure!(p.total == 0, "product {cve:?}");
    }
    ensure!(count_advisories(conn)? == 5, "nothing was dropped");
    Ok(())
}

herald_storage::both_backends!(
    advisory_list_filters,
    advisory_list_sort_and_paging,
    advisory_list_hostile_text,
);
