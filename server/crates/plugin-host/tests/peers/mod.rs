//! Runs the Python receiver stand-ins in this folder (`fhir_receiver.py`,
//! `servicenow_instance.py`) as child processes on 127.0.0.1 for the channel plugin tests, and
//! reaches their `/_control/` endpoints. Python comes from `HERALD_TEST_PEER_PYTHON` or the
//! repository's `target/peers-venv/bin/python` (made by `scripts/peers-venv`).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub fn repo_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..");
    root.canonicalize().unwrap_or(root)
}

/// The Python that runs the peers; panics with what to do when there is none.
pub fn python() -> PathBuf {
    if let Some(path) = std::env::var_os("HERALD_TEST_PEER_PYTHON") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "HERALD_TEST_PEER_PYTHON={} is not a file",
            path.display()
        );
        return path;
    }
    let venv = repo_root().join("target/peers-venv/bin/python");
    assert!(
        venv.is_file(),
        "no Python for the test peers: {} is missing. Run scripts/peers-venv (or \
         `python3 -m venv target/peers-venv && target/peers-venv/bin/pip install \
         fhir.resources==8.3.0`), or set HERALD_TEST_PEER_PYTHON",
        venv.display()
    );
    venv
}

/// The built component `target/plugins/<name>.wasm`.
pub fn component(name: &str) -> PathBuf {
    let path = repo_root()
        .join("target/plugins")
        .join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "{} missing: run `scripts/build-wasm plugins {name}` first",
        path.display()
    );
    path
}

/// One running peer; killed when dropped.
pub struct Peer {
    child: Child,
    pub port: u16,
    client: reqwest::Client,
}

impl Peer {
    /// Start `tests/peers/<script>` with `args` and wait for its `LISTENING <port>` line.
    pub fn start(script: &str, args: &[&str]) -> Peer {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/peers")
            .join(script);
        let mut child = Command::new(python())
            .arg(&path)
            .args(args)
            .args(["--max-seconds", "300"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
        let mut line = String::new();
        let stdout = child.stdout.take().expect("peer stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read peer stdout");
        let Some(port) = line
            .trim()
            .strip_prefix("LISTENING ")
            .and_then(|p| p.parse().ok())
        else {
            let _ = child.kill();
            let mut err = String::new();
            if let Some(mut stderr) = child.stderr.take() {
                let _ = stderr.read_to_string(&mut err);
            }
            let _ = child.wait();
            panic!("{script} did not start (stdout {line:?}): {err}");
        };
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("http client");
        Peer {
            child,
            port,
            client,
        }
    }

    pub fn host_port(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// What the peer holds and every request it got.
    pub async fn state(&self) -> serde_json::Value {
        self.client
            .get(self.url("/_control/state"))
            .send()
            .await
            .expect("peer state")
            .json()
            .await
            .expect("peer state JSON")
    }

    /// Queue scripted answers for the next requests.
    pub async fn script(&self, steps: serde_json::Value) {
        let status = self
            .client
            .post(self.url("/_control/script"))
            .json(&steps)
            .send()
            .await
            .expect("peer script")
            .status();
        assert_eq!(status.as_u16(), 204);
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plugin host with short limits for peer tests (a stalled peer fails fast) and the plugin
/// `name` from target/plugins loaded.
pub fn host_with(name: &str) -> herald_plugin_host::PluginHost {
    use herald_plugin_host::{HostConfig, HttpLimits, OutboundPolicy, PluginHost};
    use std::time::Duration;
    let host = PluginHost::new(HostConfig {
        call_timeout: Duration::from_secs(5),
        max_instances: 4,
        http: HttpLimits {
            request_timeout: Duration::from_millis(1500),
            ..HttpLimits::default()
        },
        // The peers are on loopback: the operator lets plugins reach it.
        outbound: OutboundPolicy::loopback(),
        ..HostConfig::default()
    })
    .expect("host");
    host.load_plugin(&component(name))
        .unwrap_or_else(|e| panic!("load {name} plugin: {e}"));
    host
}
