//! Herald's own mail (escalations) through a real SMTP relay on loopback: aiosmtpd
//! (`crates/plugin-host/tests/peers/smtp_peer.py`, from the peers venv made by
//! `scripts/peers-venv`). A queued message is sent once with Herald's From and an
//! `Auto-Submitted` header; a relay that refuses it for good ends it `dead`; without a relay it
//! waits in the queue.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, ensure};
use herald_server::config::Config;
use herald_server::mail::{MailSender, SendRound};
use herald_storage::testing::TestDb;
use herald_storage::*;
#[allow(unused_imports)] // the whole crate, as a test sees it
use herald_storage::{
    accounts::*, advisories::*, audit::*, breaker::*, catalog::*, customers::*, delivery_log::*,
    destinations::*, drafts::*, entitlement::*, exposure::*, import_staging::*, installed_base::*,
    keys::*, lifecycle::*, metrics::*, outages::*, queue::*, releases::*, remediation::*,
    reminders::*, secrets::*, sessions::*, sites::*, subscriptions::*, system_mail::*,
    templates::*, throttle::*,
};

fn python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("HERALD_TEST_PEER_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/peers-venv/bin/python");
    venv.is_file().then_some(venv)
}

/// aiosmtpd in plain mode (the relay on the operator's own host), AUTH by user and password,
/// DATA answered by `script`.
struct Relay {
    child: Child,
    port: u16,
    record: PathBuf,
    _dir: tempfile::TempDir,
}

impl Relay {
    fn start(script: &str) -> Result<Relay> {
        let python = python().context(
            "no Python for the SMTP peer: run scripts/peers-venv or set HERALD_TEST_PEER_PYTHON",
        )?;
        let dir = tempfile::tempdir()?;
        let record = dir.path().join("smtp.jsonl");
        let peer = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("crates/plugin-host/tests/peers/smtp_peer.py");
        let mut child = Command::new(python)
            .arg(&peer)
            .args([
                "--mode",
                "plain",
                "--user",
                "herald",
                "--password",
                "relay-secret",
            ])
            .args(["--script", script, "--max-seconds", "120", "--record"])
            .arg(&record)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {}", peer.display()))?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().context("peer stdout")?).read_line(&mut line)?;
        let port = line
            .trim()
            .strip_prefix("LISTENING ")
            .and_then(|p| p.parse().ok())
            .with_context(|| format!("the SMTP peer did not start: {line:?}"))?;
        Ok(Relay {
            child,
            port,
            record,
            _dir: dir,
        })
    }

    fn received(&self) -> Result<Vec<serde_json::Value>> {
        let text = std::fs::read_to_string(&self.record).unwrap_or_default();
        text.lines().map(|l| Ok(serde_json::from_str(l)?)).collect()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config(relay: Option<u16>) -> Result<Config> {
    let mut env = vec![(
        "HERALD_BASE_URL".to_string(),
        "https://herald.larkspur.example".to_string(),
    )];
    if let Some(port) = relay {
        env.push((
            "HERALD_MAIL_RELAY".into(),
            format!("smtp://herald:relay-secret@127.0.0.1:{port}"),
        ));
    }
    Ok(Config::load_from(None, &env)?)
}

fn queue(test: &TestDb, key: &str) -> Result<()> {
    queue_mail(
        &mut *test.conn()?,
        &NewMail {
            kind: "destination.broken",
            dedupe_key: key,
            recipient: "ana.admin@st-brigid.example",
            subject: "Herald: notifications to \"SOC\" have been failing\r\nBcc: evil@example.com",
            body: "Herald has not been able to deliver.\n",
        },
    )?;
    Ok(())
}

async fn sends_once_through_the_relay(backend: Backend) {
    sends_once(backend)
        .await
        .expect("sends once through the relay");
}

async fn sends_once(backend: Backend) -> Result<()> {
    let test = TestDb::new(backend)?;
    let relay = Relay::start("250")?;
    queue(&test, "k1")?;
    ensure!(
        !queue_mail(
            &mut *test.conn()?,
            &NewMail {
                kind: "destination.broken",
                dedupe_key: "k1",
                recipient: "ana.admin@st-brigid.example",
                subject: "again",
                body: "again",
            },
        )?,
        "the same dedupe key was queued twice"
    );
    let sender = MailSender::new(test.db.clone(), &config(Some(relay.port))?)?;
    ensure!(sender.send_due().await? == SendRound::Sent(1));
    ensure!(sender.send_due().await? == SendRound::Sent(0), "sent twice");
    let got = relay.received()?;
    ensure!(got.len() == 1, "{got:?}");
    let m = &got[0];
    ensure!(
        m["rcpt_tos"] == serde_json::json!(["ana.admin@st-brigid.example"]),
        "{m}"
    );
    ensure!(m["mail_from"] == "herald@herald.larkspur.example", "{m}");
    ensure!(m["headers"]["auto-submitted"][0] == "auto-generated", "{m}");
    // The line break in the subject did not become a header of its own.
    ensure!(m["headers"].get("bcc").is_none(), "header injection: {m}");
    let mail = list_system_mail(&mut *test.conn()?, None, 10)?;
    ensure!(mail.len() == 1 && mail[0].status == MailStatus::Sent && mail[0].sent_at.is_some());
    Ok(())
}

async fn refused_for_good_is_dead_and_no_relay_waits(backend: Backend) {
    refused_or_waiting(backend)
        .await
        .expect("refused for good is dead, no relay waits");
}

async fn refused_or_waiting(backend: Backend) -> Result<()> {
    let test = TestDb::new(backend)?;
    let relay = Relay::start("554")?;
    queue(&test, "k2")?;
    let sender = MailSender::new(test.db.clone(), &config(Some(relay.port))?)?;
    ensure!(sender.send_due().await? == SendRound::Sent(0));
    let mail = list_system_mail(&mut *test.conn()?, None, 10)?;
    ensure!(mail[0].status == MailStatus::Dead, "{mail:?}");
    ensure!(
        mail[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("554")),
        "{:?}",
        mail[0].last_error
    );

    queue(&test, "k3")?;
    let unset = MailSender::new(test.db.clone(), &config(None)?)?;
    ensure!(unset.send_due().await? == SendRound::NoRelay(1));
    ensure!(pending_mail_count(&mut *test.conn()?)? == 1);
    Ok(())
}

on_both_backends!(
    sends_once_through_the_relay,
    refused_for_good_is_dead_and_no_relay_waits
);
