//! The `api` binary: parses flags, connects, serves until SIGINT/SIGTERM.

use std::process::ExitCode;

use api::cli::Cli;
use clap::Parser;
use tracing_subscriber::EnvFilter;

/// mimalloc instead of glibc's allocator, as in the job: each read
/// allocates and frees its Redis reply, its JSON body and, for the
/// read-only fallback, a remembered copy that lives until the cache evicts
/// it; glibc's `malloc`, `free` and `malloc_consolidate` then took about a
/// tenth of the API's CPU at full speed (`perf`, docs/benchmarks.md "API").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let config = Cli::parse().config();
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %format!("{err:#}"), "api failed");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: api::Config) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let state = api::AppState::connect(config).await?;
    tracing::info!(%addr, "listening on http://{addr}");
    api::serve(listener, state, api::server::shutdown_signal()).await?;
    Ok(())
}
