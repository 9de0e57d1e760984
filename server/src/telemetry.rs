//! Structured logs to stdout via tracing; `RUST_LOG` filters, `HERALD_LOG_FORMAT=json` for
//! machine-readable lines.
//!
//! The request log (target [`REQUEST_LOG_TARGET`], one info line per request) is the one stream
//! written on every request, the CSAF documents' hot path included: written line by line it cost
//! a `write` system call per request. Its lines are collected in a buffer that a background thread
//! writes out every [`FLUSH_EVERY`] (and at once when it holds [`FLUSH_AT`] bytes); every other
//! line is written immediately, after the buffered ones, so the order on stdout stays the order
//! of the events. `herald serve` calls [`flush`] when it stops, so a clean shutdown loses nothing;
//! a killed process loses at most the last [`FLUSH_EVERY`] of request lines.

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use tracing::{Level, Metadata};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// The target of the request log lines (`web::request_log`).
pub const REQUEST_LOG_TARGET: &str = "herald::http";

/// How long a request log line may wait in the buffer.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// Buffered bytes that are written at once rather than at the next tick.
const FLUSH_AT: usize = 64 * 1024;

/// Request log lines not written yet.
static PENDING: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// Writes the buffered request log lines to stdout.
pub fn flush() {
    let mut pending = PENDING.lock().unwrap_or_else(|e| e.into_inner());
    write_out(&mut pending);
}

fn write_out(pending: &mut Vec<u8>) {
    if pending.is_empty() {
        return;
    }
    let mut out = std::io::stdout().lock();
    // A log that cannot be written has nowhere to report that.
    let _ = out.write_all(pending);
    let _ = out.flush();
    pending.clear();
}

/// One event's writer: buffered for request log lines, direct for everything else.
struct LogWriter {
    buffered: bool,
}

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    // The fmt layer hands over each formatted line with one `write_all`.
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        let mut pending = PENDING.lock().unwrap_or_else(|e| e.into_inner());
        if self.buffered {
            pending.extend_from_slice(buf);
            if pending.len() >= FLUSH_AT {
                write_out(&mut pending);
            }
            return Ok(());
        }
        // Earlier request lines first; holding the lock keeps the order.
        write_out(&mut pending);
        let mut out = std::io::stdout().lock();
        out.write_all(buf)?;
        out.flush()
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct MakeLogWriter;

impl<'a> MakeWriter<'a> for MakeLogWriter {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> LogWriter {
        LogWriter { buffered: false }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> LogWriter {
        LogWriter {
            buffered: meta.target() == REQUEST_LOG_TARGET && *meta.level() == Level::INFO,
        }
    }
}

/// `verbose` is for the server; one-shot commands keep stdout for their own output and log only
/// warnings unless `RUST_LOG` asks for more.
pub fn init(json: bool, verbose: bool) {
    let default = if verbose {
        "info,wasmtime=warn,cranelift=warn,actix_server=warn"
    } else {
        "warn"
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(MakeLogWriter)
        .with_target(true)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    // A second init (tests) is harmless: the first subscriber stays.
    let installed = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    if installed.is_ok() {
        // Without the thread, buffered lines would still be written by the next direct line,
        // a full buffer or `flush`, only later.
        let _ = std::thread::Builder::new()
            .name("log-flush".to_owned())
            .spawn(|| {
                loop {
                    std::thread::sleep(FLUSH_EVERY);
                    flush();
                }
            });
    }
}
