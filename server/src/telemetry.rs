//! Structured logs to stdout via tracing; `RUST_LOG` filters, `HERALD_LOG_FORMAT=json` for
//! machine-readable lines.

use tracing_subscriber::EnvFilter;

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
        .with_writer(std::io::stdout)
        .with_target(true)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    // A second init (tests) is harmless: the first subscriber stays.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
