//! `herald`: Herald's one binary. See `herald --help`.

fn main() -> std::process::ExitCode {
    herald_server::cli::main()
}
