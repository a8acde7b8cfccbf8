//! The `dataflow` binary: parses flags and runs a subcommand.

use std::process::ExitCode;

use clap::Parser;
use dataflow::cli::Cli;

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
