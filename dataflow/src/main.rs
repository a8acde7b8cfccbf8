//! The `dataflow` binary: parses flags and runs a subcommand.

use std::process::ExitCode;

use clap::Parser;
use dataflow::cli::Cli;

/// mimalloc instead of glibc's allocator: a catch-up spent about 12 % of
/// its CPU in glibc `malloc`/`free` (`perf`), and with mimalloc it takes
/// 0.87× the CPU and 0.91× the time (`bench/ab`, docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match dataflow::run::run(Cli::parse()) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("dataflow: error: {err}");
            ExitCode::FAILURE
        }
    }
}
