//! Hot swap through the real `herald serve` watch loop (server/src/serve.rs `watch_plugins`,
//! polling the plugin folder every 3 s): the server runs with a plugin folder holding the webhook
//! plugin 0.1.0 and delivers to a loopback receiver; a broken replacement dropped into the folder
//! is refused and 0.1.0 keeps delivering; then the webhook plugin 0.2.0 (the test component
//! `webhook-next`: the same source built under a newer version) replaces it, and the next
//! deliveries are made by 0.2.0. The webhook plugin names its version in `user-agent`, so the
//! receiver sees which version sent each delivery.
//!
//! Needs `target/plugins/webhook.wasm` and `target/plugins/test/webhook-next.wasm`
//! (`scripts/build-wasm plugins`). SQLite: the watch loop does not depend on the backend.

use crate::common;

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
use sha2::{Digest, Sha256};

const PUBLISHER: &str = "Larkspur Medical";
/// `HERALD_SECRET_KEY` of the server under test (32 bytes, base64).
const SECRET_KEY: &str = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";
/// Longest wait for one step (a delivery, a swap); the watcher needs two polls (6 s) plus the
/// new version's compile and self-test.
const STEP: Duration = Duration::from_secs(120);

fn built(relative: &str) -> Result<PathBuf> {
    let path =
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/plugins")).join(relative);
    ensure!(
        path.is_file(),
        "{} is missing: run scripts/build-wasm plugins first",
        path.display()
    );
    Ok(path)
}

// ---------------------------------------------------------------------------------------------
// herald serve as a child process, killed when dropped (a failing test leaves nothing behind)

struct Server {
    child: Child,
    log: PathBuf,
}

impl Server {
    fn start(db_url: &str, work: &Path, plugin_dir: &Path) -> Result<Server> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let data_dir = work.join("data");
        std::fs::create_dir_all(&data_dir)?;
        let log = work.join("herald.log");
        let out = std::fs::File::create(&log)?;
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
            .env("HERALD_PLUGIN_DIR", plugin_dir)
            .env("HERALD_SITE_ROOT", work.join("site"))
            .env("HERALD_PUBLISHER_NAME", PUBLISHER)
            // The receivers are on loopback, over plain http: the operator allows exactly that.
            .env("HERALD_OUTBOUND_PRIVATE_RANGES", "127.0.0.0/8")
            .env("HERALD_OUTBOUND_INSECURE_HTTP_HOSTS", "127.0.0.1")
            .env("HERALD_SECRET_KEY", SECRET_KEY)
            // The watch loop's install/refusal lines are what the test waits for.
            .env("RUST_LOG", "warn,herald_server::serve=info")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        let child = cmd.spawn().context("starting herald serve")?;
        Ok(Server { child, log })
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Fails when the process has exited on its own.
    fn check_running(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("herald serve exited with {status}:\n{}", self.log());
        }
        Ok(())
    }

    /// Waits until the log has a line containing every one of `parts`; returns that line.
    fn wait_for_log(&mut self, parts: &[&str]) -> Result<String> {
        let deadline = Instant::now() + STEP;
        loop {
            self.check_running()?;
            if let Some(line) = self
                .log()
                .lines()
                .find(|l| parts.iter().all(|p| l.contains(p)))
            {
                return Ok(line.to_owned());
            }
            ensure!(
                Instant::now() < deadline,
                "no log line with {parts:?} after {STEP:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// the scenario

/// Publishes one advisory; returns the id of its delivery to the one destination.
fn publish(test: &TestDb, org_id: &str, tracking_id: &str) -> Result<String> {
    let mut conn = test.conn()?;
    let conn = &mut *conn;
    let published = publish_sample(
        conn,
        org_id,
        &sample_summary(
            tracking_id,
            &[("1", "2026-09-01T10:00:00Z")],
            Some(("high", 8.1)),
            &[],
        ),
    )?;
    // Fan-out is the server's job; the delivery id exists once it ran.
    let deadline = Instant::now() + STEP;
    loop {
        let found = list_deliveries(conn, &DeliveryFilter::default())?
            .into_iter()
            .find(|d| d.event_id == published.event_id);
        if let Some(d) = found {
            return Ok(d.id);
        }
        ensure!(
            Instant::now() < deadline,
            "{tracking_id} was never fanned out"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until the receiver got `id`; returns the user-agent it came with.
fn wait_delivered(received: &Received, server: &mut Server, id: &str) -> Result<String> {
    let deadline = Instant::now() + STEP;
    loop {
        server.check_running()?;
        if let Some(ua) = received.agents_of(id).into_iter().next() {
            return Ok(ua);
        }
        ensure!(
            Instant::now() < deadline,
            "delivery {id} never arrived:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Writes a component and its manifest into the folder as `webhook.wasm`/`webhook.toml`: the
/// manifest first (the watcher reports a pair once both held still for a poll).
fn put_webhook(dir: &Path, bytes: &[u8], manifest: &str) -> Result<()> {
    std::fs::write(dir.join("webhook.toml"), manifest)?;
    std::fs::write(dir.join("webhook.wasm"), bytes)?;
    Ok(())
}

#[test]
fn serve_swaps_the_webhook_plugin_and_refuses_a_broken_one() -> Result<()> {
    let (port, received) = common::receiver::start(1)?;
    let test = TestDb::new(Backend::Sqlite)?;
    let work = tempfile::tempdir()?;
    let plugin_dir = work.path().join("plugins");
    std::fs::create_dir_all(&plugin_dir)?;
    std::fs::copy(built("webhook.wasm")?, plugin_dir.join("webhook.wasm"))?;
    std::fs::copy(built("webhook.toml")?, plugin_dir.join("webhook.toml"))?;

    let org_id = {
        let mut conn = test.conn()?;
        let conn = &mut *conn;
        let org = ensure_organization(conn, OrgKind::Manufacturer, PUBLISHER)?;
        loopback_webhook(conn, &org.id, "receiver", port)?;
        org.id
    };

    let mut server = Server::start(test.url(), work.path(), &plugin_dir)?;
    let first = publish(&test, &org_id, "LARK-2026-S001")?;
    let ua = wait_delivered(&received, &mut server, &first)?;
    ensure!(ua == "herald-webhook/0.1.0", "before any swap: {ua:?}");

    // A broken replacement: another component (the trapping test plugin) under the webhook's
    // name, its manifest pinning it correctly. The host refuses it (it is not the webhook
    // plugin) and the running version stays.
    let impostor = std::fs::read(built("test/trap.wasm")?)?;
    let manifest = format!(
        "id = \"webhook\"\nversion = \"0.3.0\"\ncapabilities = [\"log\"]\nsha256 = \"{}\"\n",
        hex::encode(Sha256::digest(&impostor))
    );
    put_webhook(&plugin_dir, &impostor, &manifest)?;
    let refused = server.wait_for_log(&["new plugin version refused", "webhook.wasm"])?;
    ensure!(
        refused.contains("test-trap"),
        "refused for the wrong reason: {refused}"
    );
    let second = publish(&test, &org_id, "LARK-2026-S002")?;
    let ua = wait_delivered(&received, &mut server, &second)?;
    ensure!(
        ua == "herald-webhook/0.1.0",
        "after the broken replacement: {ua:?}"
    );

    // The real new version: swapped in after its self-test; the next delivery is made by it.
    let next = std::fs::read(built("test/webhook-next.wasm")?)?;
    let manifest = std::fs::read_to_string(built("test/webhook-next.toml")?)?;
    put_webhook(&plugin_dir, &next, &manifest)?;
    let swapped = server.wait_for_log(&["plugin swapped to a new version", "0.2.0"])?;
    ensure!(
        swapped.contains(&hex::encode(Sha256::digest(&next))),
        "swapped to something else: {swapped}"
    );
    let third = publish(&test, &org_id, "LARK-2026-S003")?;
    let ua = wait_delivered(&received, &mut server, &third)?;
    ensure!(ua == "herald-webhook/0.2.0", "after the swap: {ua:?}");

    // Each delivery arrived exactly once, and is recorded delivered.
    for id in [&first, &second, &third] {
        ensure!(
            received.agents_of(id).len() == 1,
            "{id} arrived more than once"
        );
    }
    // The receiver answers before the server records the outcome: wait for the record while
    // the server still runs (stopping it first could cut the last write short).
    let mut conn = test.conn()?;
    for id in [&first, &second, &third] {
        let deadline = Instant::now() + STEP;
        loop {
            server.check_running()?;
            let d = get_delivery(&mut conn, id)?.context("delivery row")?;
            if d.status == DeliveryStatus::Delivered {
                break;
            }
            ensure!(Instant::now() < deadline, "never recorded delivered: {d:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    drop(server);
    Ok(())
}
