//! The hospital's home page ("what affects us") under load: a hospital with BENCH_DEVICES
//! devices (default 5,000) over BENCH_SITES sites (20) and BENCH_ADVISORIES published advisories
//! (2,000) that all name its products, on a fresh SQLite database (BENCH_BACKEND=postgres for
//! PostgreSQL). The page is rendered by the real application (actix-web and Leptos SSR, in
//! process, as `herald serve` mounts it) for BENCH_REQUESTS signed-in requests (500) after a
//! warm-up; prints p50, p90, p99 and max. It measures, it does not pass or fail.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::test;
use herald_server::config::Config;
use herald_server::state::AppState;
use herald_storage::testing::{TestDb, publish_sample, sample_summary};
use herald_storage::{
    Backend, accounts::OrgKind, accounts::Role, installed_base::EntryInput,
    remediation::RemediationState, remediation::StatusInput, sites::SiteInput,
};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> anyhow::Result<()> {
    let devices = env_or("BENCH_DEVICES", 5_000);
    let sites = env_or("BENCH_SITES", 20).max(1);
    let advisories = env_or("BENCH_ADVISORIES", 2_000);
    let requests = env_or("BENCH_REQUESTS", 500);
    let backend = match std::env::var("BENCH_BACKEND").as_deref() {
        Ok("postgres") => Backend::Postgres,
        _ => Backend::Sqlite,
    };
    let dir = tempfile::tempdir()?;
    let env = vec![
        (
            "HERALD_DATA_DIR".to_owned(),
            dir.path().display().to_string(),
        ),
        (
            "HERALD_BASE_URL".to_owned(),
            "http://127.0.0.1:3000".to_owned(),
        ),
        (
            "HERALD_SITE_ROOT".to_owned(),
            dir.path().join("site").display().to_string(),
        ),
    ];
    let config = Config::load_from(None, &env)?;
    let db = TestDb::new(backend)?;
    let started = Instant::now();
    let cookie = {
        let conn = &mut *db.conn()?;
        let maker = herald_storage::accounts::ensure_organization(
            conn,
            OrgKind::Manufacturer,
            &config.publisher_name,
        )?;
        let hospital = herald_storage::accounts::ensure_organization(
            conn,
            OrgKind::Hospital,
            "Bench Hospital",
        )?;
        herald_storage::customers::add_customer(conn, &maker.id, &hospital.id, None, "bench")?;
        // Advisories over 20 product versions, a quarter of them critical; WHITE and GREEN.
        let mut products: Vec<String> = Vec::new();
        for i in 0..advisories {
            let version = format!("4.{}.0", i % 20);
            let severity = match i % 4 {
                0 => ("critical", 9.8),
                1 => ("high", 7.5),
                2 => ("medium", 5.0),
                _ => ("low", 3.0),
            };
            let day = 1 + (i % 28);
            let date = format!("2026-{:02}-{day:02}T10:00:00Z", 1 + (i / 28) % 11);
            let mut s = sample_summary(
                &format!("BENCH-{i:05}"),
                &[("1", &date)],
                Some(severity),
                &[&format!("CVE-2026-{:05}", 10_000 + i)],
            );
            s.tlp = Some(if i % 2 == 0 {
                herald_csaf::Tlp::White
            } else {
                herald_csaf::Tlp::Green
            });
            for v in &mut s.vulnerabilities {
                v.remediations.push(herald_csaf::Remediation {
                    category: "vendor_fix".into(),
                    details: format!("Update to 5.{}.0.", i % 20),
                    url: None,
                    date: None,
                    product_ids: vec!["CSAFPID-0001".into()],
                    group_ids: vec![],
                });
            }
            for p in &mut s.products {
                p.version = Some(version.clone());
                p.name = format!("Larkspur Nimbus Infusion Pump {version}");
                p.udi_di = None;
            }
            let published = publish_sample(conn, &maker.id, &s)?;
            for id in
                herald_storage::entitlement::advisory_product_ids(conn, &published.advisory_id)?
            {
                if !products.contains(&id) {
                    products.push(id);
                }
            }
        }
        // Sites, and the devices spread over them: one entry per (site, product), with serial
        // numbers.
        let mut site_ids = Vec::new();
        for s in 0..sites {
            site_ids.push(
                herald_storage::sites::create_site(
                    conn,
                    &hospital.id,
                    &SiteInput {
                        name: format!("Site {s:02}"),
                        code: Some(format!("S{s:02}")),
                        address: None,
                    },
                    "bench",
                )?
                .id,
            );
        }
        let pairs = site_ids.len() * products.len().max(1);
        let mut serial = 0usize;
        for (k, (site, product)) in site_ids
            .iter()
            .flat_map(|s| products.iter().map(move |p| (s, p)))
            .enumerate()
        {
            let n = devices / pairs + usize::from(k < devices % pairs);
            if n == 0 {
                continue;
            }
            let serials = (0..n)
                .map(|_| {
                    serial += 1;
                    format!("SN-{serial:06}")
                })
                .collect();
            herald_storage::installed_base::insert_entry(
                conn,
                &hospital.id,
                &EntryInput {
                    site_id: site.clone(),
                    product_id: product.clone(),
                    quantity: None,
                    serials,
                    notes: None,
                },
                "bench",
            )?;
        }
        // A status for a third of the advisories at half of the sites.
        let listed = herald_storage::exposure::advisories_touching(
            conn,
            &herald_storage::entitlement::Reader::Hospital {
                org_id: hospital.id.clone(),
            },
            Some(&hospital.id),
        )?;
        for (i, a) in listed.iter().enumerate().filter(|(i, _)| i % 3 == 0) {
            for site in site_ids.iter().step_by(2) {
                herald_storage::remediation::set_remediation_status(
                    conn,
                    &hospital.id,
                    site,
                    &a.advisory_id,
                    &StatusInput {
                        state: if i % 2 == 0 {
                            RemediationState::Patched
                        } else {
                            RemediationState::UnderAssessment
                        },
                        reason: None,
                        note: None,
                        release_ref: None,
                    },
                    "bench",
                    herald_storage::now(),
                )?;
            }
        }
        println!(
            "seeded in {:.1?}: {advisories} advisories ({} touching), {} devices, {} sites, {} products",
            started.elapsed(),
            listed.len(),
            herald_storage::installed_base::device_counts(conn, Some(&hospital.id), None)?
                .iter()
                .map(|c| c.devices)
                .sum::<i64>(),
            site_ids.len(),
            products.len()
        );
        let user = herald_storage::accounts::create_user(
            conn,
            &herald_storage::accounts::NewUser {
                org_id: &hospital.id,
                email: "bench@hospital.example",
                display_name: "Bench",
                password: "correct horse battery staple",
                role: Role::Admin,
            },
        )?;
        let session =
            herald_storage::sessions::create_session(conn, &user.id, chrono::Duration::hours(1))?;
        format!("{}={}", app::SESSION_COOKIE, session.token)
    };
    let state = AppState {
        config: Arc::new(config),
        db: db.db.clone(),
        plugins: None,
        serving: Default::default(),
    };
    actix_web::rt::System::new().block_on(async move {
        let app = test::init_service(
            actix_web::App::new().configure(herald_server::web::configure(state.clone())),
        )
        .await;
        let get = || {
            test::TestRequest::get()
                .uri("/")
                .insert_header(("Cookie", cookie.clone()))
                .to_request()
        };
        // Warm-up, and a check that the page is the hospital's home with its advisories.
        let resp = test::call_service(&app, get()).await;
        let status = resp.status();
        let body = test::read_body(resp).await;
        let text = String::from_utf8_lossy(&body);
        anyhow::ensure!(status.is_success(), "GET / answered {status}");
        anyhow::ensure!(
            text.contains("data-testid=\"home-advisories\"") && text.contains("BENCH-"),
            "the home page does not list the advisories"
        );
        for _ in 0..20 {
            test::read_body(test::call_service(&app, get()).await).await;
        }
        let mut times: Vec<Duration> = Vec::with_capacity(requests);
        for _ in 0..requests {
            let t = Instant::now();
            let resp = test::call_service(&app, get()).await;
            test::read_body(resp).await;
            times.push(t.elapsed());
        }
        times.sort();
        let at = |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
        println!(
            "home page ({backend}, {requests} requests, one at a time): p50 {:.1?}  p90 {:.1?}  p99 {:.1?}  max {:.1?}  ({} bytes)",
            at(0.50),
            at(0.90),
            at(0.99),
            at(1.0),
            body.len()
        );
        Ok(())
    })
}
