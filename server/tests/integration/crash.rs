//! Crash safety of the delivery path with the real `herald serve` binary and the real webhook
//! Wasm plugin: 100 destinations x 100 advisories = 10,000 deliveries to a loopback receiver,
//! the server killed with SIGKILL midway and restarted. Afterwards every delivery is `delivered`,
//! the receiver saw every delivery id at least once and nothing else (a duplicate is a redelivery
//! of the same id, which receivers deduplicate on `webhook-id`), and nothing is dead or lost.
//! On PostgreSQL also with two `herald serve` processes on one database at once: no delivery
//! was in flight in both (attempts of one delivery by different workers never overlap in time,
//! except the `abandoned` attempt a kill leaves behind).
//!
//! Leases follow the work: the deliveries the killed process had in flight are resumed within
//! 15 s of the restarted process serving (their 10 s lease runs out; a live call's lease is renewed by the
//! heartbeat, so the survivor of two never takes over a call still running).
//!
//! Needs `target/plugins/webhook.wasm` (scripts/build-wasm plugins) and PostgreSQL (see
//! herald_storage::testing).

use crate::common;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use common::receiver::Received;
use herald_storage::testing::{TestDb, loopback_webhook, publish_sample, sample_summary};
use herald_storage::*;
#[allow(unused_imports)] // the whole crate, as a test sees it
use herald_storage::{
    accounts::*, advisories::*, audit::*, breaker::*, catalog::*, customers::*, delivery_log::*,
    destinations::*, drafts::*, entitlement::*, exposure::*, import_staging::*, installed_base::*,
    keys::*, lifecycle::*, metrics::*, outages::*, queue::*, releases::*, remediation::*,
    reminders::*, secrets::*, sessions::*, sites::*, subscriptions::*, system_mail::*,
    templates::*, throttle::*,
};

const DESTINATIONS: usize = 100;
const ADVISORIES: usize = 100;
const TOTAL: usize = DESTINATIONS * ADVISORIES;
const PUBLISHER: &str = "Larkspur Medical";
/// How long the whole run may take before the test gives up.
const DEADLINE: Duration = Duration::from_secs(600);

// ---------------------------------------------------------------------------------------------
// herald serve as a child process

/// `HERALD_SECRET_KEY` of every process in a test (32 bytes, base64).
const SHARED_SECRET_KEY: &str = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";

/// A running `herald serve`; SIGKILLed when dropped (a failing test leaves nothing behind).
struct Server {
    child: Child,
    name: String,
    log: PathBuf,
    port: u16,
}

impl Server {
    fn start(name: &str, db_url: &str, work: &Path) -> Result<Server> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let data_dir = work.join(format!("data-{name}"));
        std::fs::create_dir_all(&data_dir)?;
        let log = unique(work.join(format!("{name}.log")));
        let out = std::fs::File::create(&log)?;
        let plugin_dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/plugins"));
        ensure!(
            plugin_dir.join("webhook.wasm").is_file(),
            "{} has no webhook.wasm: run scripts/build-wasm plugins first",
            plugin_dir.display()
        );
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_herald"));
        // Only this test's settings: an unknown HERALD_* variable stops herald.
        for (k, _) in std::env::vars() {
            if k.starts_with("HERALD_") {
                cmd.env_remove(k);
            }
        }
        cmd.arg("serve")
            .current_dir(work)
            .env("HERALD_DATABASE_URL", db_url)
            .env("HERALD_DATA_DIR", &data_dir)
            .env("HERALD_LISTEN", format!("127.0.0.1:{port}"))
            .env("HERALD_PLUGIN_DIR", &plugin_dir)
            .env("HERALD_SITE_ROOT", work.join("site"))
            .env("HERALD_PUBLISHER_NAME", PUBLISHER)
            // The receivers are on loopback, over plain http: the operator allows exactly that.
            .env("HERALD_OUTBOUND_PRIVATE_RANGES", "127.0.0.0/8")
            .env("HERALD_OUTBOUND_INSECURE_HTTP_HOSTS", "127.0.0.1")
            // Every process on one database must share the instance key (it seals the signing
            // key and destination secrets), as a multi-instance deployment does; each has its
            // own data dir, so none may generate its own.
            .env("HERALD_SECRET_KEY", SHARED_SECRET_KEY)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        let child = cmd.spawn().context("starting herald serve")?;
        Ok(Server {
            child,
            name: name.to_owned(),
            log,
            port,
        })
    }

    /// Waits until `/healthz` answers 200: migrations checked, plugins compiled, the engine
    /// started.
    fn wait_ready(&mut self) -> Result<()> {
        use std::io::{Read, Write};
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            self.check_running()?;
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                let _ =
                    s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
                let mut answer = String::new();
                let _ = s.read_to_string(&mut answer);
                if answer.starts_with("HTTP/1.1 200") {
                    return Ok(());
                }
            }
            ensure!(
                Instant::now() < deadline,
                "herald serve {} never became ready",
                self.name
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The delivery engine's worker id in this process (`herald-<pid>`).
    fn worker(&self) -> String {
        format!("herald-{}", self.child.id())
    }

    /// SIGKILL (`Child::kill` on Unix), then reap.
    fn kill(&mut self) -> Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// Fails when the process has exited on its own.
    fn check_running(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: String = log
                .lines()
                .rev()
                .take(30)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n");
            bail!("herald serve {} exited with {status}:\n{tail}", self.name);
        }
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unique(path: PathBuf) -> PathBuf {
    if !path.exists() {
        return path;
    }
    let mut n = 1;
    loop {
        let p = path.with_extension(format!("{n}.log"));
        if !p.exists() {
            return p;
        }
        n += 1;
    }
}

// ---------------------------------------------------------------------------------------------
// the scenario

fn seed(test: &TestDb, port: u16) -> Result<()> {
    let mut conn = test.conn()?;
    let conn = &mut *conn;
    let org = ensure_organization(conn, OrgKind::Manufacturer, PUBLISHER)?;
    for i in 0..DESTINATIONS {
        loopback_webhook(conn, &org.id, &format!("receiver {i:03}"), port)?;
    }
    for i in 0..ADVISORIES {
        publish_sample(
            conn,
            &org.id,
            &sample_summary(
                &format!("LARK-2026-C{i:03}"),
                &[("1", "2026-08-01T10:00:00Z")],
                Some(("high", 8.1)),
                &[],
            ),
        )?;
    }
    Ok(())
}

fn delivered_count(test: &TestDb) -> Result<usize> {
    let mut conn = test.conn()?;
    Ok(list_deliveries(
        &mut conn,
        &DeliveryFilter {
            status: Some(DeliveryStatus::Delivered),
            ..Default::default()
        },
    )?
    .len())
}

/// Waits until the receiver has seen at least `n` requests.
fn wait_received(received: &Received, n: usize, servers: &mut [&mut Server]) -> Result<()> {
    let deadline = Instant::now() + DEADLINE;
    while received.count() < n {
        for s in servers.iter_mut() {
            s.check_running()?;
        }
        ensure!(
            Instant::now() < deadline,
            "only {} of {n} requests arrived",
            received.count()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

fn wait_all_delivered(test: &TestDb, servers: &mut [&mut Server]) -> Result<()> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let n = delivered_count(test)?;
        if n >= TOTAL {
            return Ok(());
        }
        for s in servers.iter_mut() {
            s.check_running()?;
        }
        ensure!(Instant::now() < deadline, "only {n} of {TOTAL} delivered");
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Waits until every delivery in `ids` has left `in_flight` under its old lease: delivered, or
/// claimed and delivered by a live process.
fn wait_resumed(test: &TestDb, ids: &[String], servers: &mut [&mut Server]) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut conn = test.conn()?;
        let mut waiting = 0;
        for id in ids {
            let d = get_delivery(&mut conn, id)?.context("a stranded delivery vanished")?;
            if d.status != DeliveryStatus::Delivered {
                waiting += 1;
            }
        }
        if waiting == 0 {
            return Ok(());
        }
        for s in servers.iter_mut() {
            s.check_running()?;
        }
        ensure!(
            Instant::now() < deadline,
            "{waiting} of {} stranded deliveries not resumed within 60 s",
            ids.len()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The assertions every scenario shares; returns (duplicates, distinct workers, attempts per
/// outcome).
fn check_outcome(
    test: &TestDb,
    received: &Received,
) -> Result<(usize, usize, std::collections::BTreeMap<String, usize>)> {
    let mut conn = test.conn()?;
    let conn = &mut *conn;
    let all = list_deliveries(conn, &DeliveryFilter::default())?;
    ensure!(
        all.len() == TOTAL,
        "{} deliveries, expected {TOTAL}",
        all.len()
    );
    let mut by_status: HashMap<&str, usize> = HashMap::new();
    for d in &all {
        *by_status.entry(d.status.as_str()).or_default() += 1;
    }
    ensure!(
        by_status.get("delivered") == Some(&TOTAL),
        "not all delivered: {by_status:?}"
    );
    let expected: HashSet<&str> = all.iter().map(|d| d.id.as_str()).collect();
    let got = received.ids();
    let seen: HashSet<&str> = got.iter().map(String::as_str).collect();
    let missing = expected.difference(&seen).count();
    let unknown = seen.difference(&expected).count();
    ensure!(
        missing == 0 && unknown == 0,
        "{missing} delivery ids never arrived, {unknown} unknown ids arrived"
    );
    let duplicates = got.len() - seen.len();

    // Attempts: none dead or failed; no two attempts of one delivery by different workers in
    // flight at the same time (an abandoned one may overlap: its worker was killed).
    let mut workers = HashSet::new();
    let mut outcomes = std::collections::BTreeMap::new();
    for d in &all {
        let attempts = list_attempts(conn, &d.id)?;
        for a in &attempts {
            *outcomes.entry(a.outcome.as_str().to_owned()).or_insert(0) += 1;
        }
        ensure!(
            attempts
                .iter()
                .any(|a| a.outcome == AttemptOutcome::Delivered),
            "delivery {} has no delivered attempt: {attempts:?}",
            d.id
        );
        let live: Vec<_> = attempts
            .iter()
            .filter(|a| a.outcome != AttemptOutcome::Abandoned)
            .collect();
        for a in &live {
            workers.insert(a.worker.clone());
        }
        for (i, a) in live.iter().enumerate() {
            for b in &live[i + 1..] {
                if a.worker == b.worker {
                    continue;
                }
                let a_end = a.started_at + chrono::Duration::milliseconds(a.duration_ms);
                let b_end = b.started_at + chrono::Duration::milliseconds(b.duration_ms);
                ensure!(
                    a_end <= b.started_at || b_end <= a.started_at,
                    "delivery {}: attempts by {} and {} overlap: {a:?} {b:?}",
                    d.id,
                    a.worker,
                    b.worker
                );
            }
        }
    }
    Ok((duplicates, workers.len(), outcomes))
}

/// One `herald serve` killed midway and restarted (or, with `two`, a second one running
/// alongside the whole time).
fn kill_and_restart(backend: Backend, two: bool) -> Result<()> {
    let started = Instant::now();
    let (port, received) = common::receiver::start(2)?;
    let test = TestDb::new(backend)?;
    seed(&test, port)?;
    let work = tempfile::tempdir()?;
    let seeded = started.elapsed();

    let mut first = Server::start("a", test.url(), work.path())?;
    let mut second = if two {
        Some(Server::start("b", test.url(), work.path())?)
    } else {
        None
    };
    // Kill once a fifth has arrived: surely some in flight, surely not all done.
    {
        let mut running: Vec<&mut Server> = vec![&mut first];
        if let Some(s) = second.as_mut() {
            running.push(s);
        }
        wait_received(&received, TOTAL / 5, &mut running)?;
    }
    let killed_worker = first.worker();
    first.kill()?;
    let at_kill = received.count();
    let delivered_at_kill = delivered_count(&test)?;
    // What the killed process had in flight: stranded until its leases run out.
    let stranded: Vec<String> = list_deliveries(
        &mut *test.conn()?,
        &DeliveryFilter {
            status: Some(DeliveryStatus::InFlight),
            ..Default::default()
        },
    )?
    .into_iter()
    .filter(|d| d.lease_owner.as_deref() == Some(killed_worker.as_str()))
    .map(|d| d.id)
    .collect();
    ensure!(
        !stranded.is_empty(),
        "the killed process had nothing in flight; the test proves nothing"
    );
    ensure!(
        delivered_at_kill < TOTAL,
        "everything was delivered before the kill; the test proves nothing"
    );
    let killed_after = started.elapsed();

    let restart_at = Instant::now();
    let mut restarted = Server::start("a-restarted", test.url(), work.path())?;
    // The bound is on the queue, from the moment the restarted process serves: its own start
    // (compiling five plugin components, 3.6 s on an idle 2-core machine, much longer while
    // other tests' servers load it too) is not what the lease decides.
    restarted.wait_ready()?;
    let started_in = restart_at.elapsed();
    let ready_at = Instant::now();
    let resumed_after = {
        let mut running: Vec<&mut Server> = vec![&mut restarted];
        if let Some(s) = second.as_mut() {
            running.push(s);
        }
        wait_resumed(&test, &stranded, &mut running)?;
        ready_at.elapsed()
    };
    ensure!(
        resumed_after < Duration::from_secs(15),
        "the {} deliveries in flight at the kill were resumed only {resumed_after:?} after the restarted server was ready ({started_in:?} after the restart)",
        stranded.len()
    );
    {
        let mut running: Vec<&mut Server> = vec![&mut restarted];
        if let Some(s) = second.as_mut() {
            running.push(s);
        }
        wait_all_delivered(&test, &mut running)?;
    }
    let done_after = started.elapsed();
    restarted.kill()?;
    if let Some(mut s) = second.take() {
        s.kill()?;
    }
    let (duplicates, workers, outcomes) = check_outcome(&test, &received)?;
    if two {
        ensure!(workers >= 2, "only {workers} worker(s) recorded attempts");
    }
    eprintln!(
        "crash test {backend}{}: seeded in {:.1}s, killed after {:.1}s with {at_kill} requests received, {delivered_at_kill} recorded delivered and {} in flight, the restarted server ready {:.1}s after the restart and those resumed {:.1}s later, all {TOTAL} delivered after {:.1}s; {duplicates} duplicate requests (same delivery id), {workers} workers, attempts {outcomes:?}",
        if two { " with two servers" } else { "" },
        seeded.as_secs_f64(),
        killed_after.as_secs_f64(),
        stranded.len(),
        started_in.as_secs_f64(),
        resumed_after.as_secs_f64(),
        done_after.as_secs_f64(),
    );
    Ok(())
}

#[test]
fn sqlite_kill_and_restart() -> Result<()> {
    kill_and_restart(Backend::Sqlite, false)
}

#[test]
fn postgres_kill_and_restart() -> Result<()> {
    kill_and_restart(Backend::Postgres, false)
}

#[test]
fn postgres_two_servers_kill_one() -> Result<()> {
    kill_and_restart(Backend::Postgres, true)
}
