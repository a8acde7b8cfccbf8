//! The subcommands behind the thin `main.rs`.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::admin::{self, AdminError};
use crate::aggregates::Rewritten;
use crate::cli::{Cli, Command, ConfigError};
use crate::job::{self, JobError};
use crate::metrics::JobMetrics;
use crate::metrics_server;

/// Why `dataflow` failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The flags do not describe a runnable job.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The job failed.
    #[error(transparent)]
    Job(#[from] JobError),
    /// A checkpoint command failed.
    #[error(transparent)]
    Admin(#[from] AdminError),
    /// The metrics endpoint or signal handler could not be set up.
    #[error("cannot start: {0}")]
    Setup(#[from] std::io::Error),
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode, RunError> {
    match cli.command {
        Command::Run(args) => {
            let config = args.into_config()?;
            let shutdown = Arc::new(AtomicBool::new(false));
            for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
                signal_hook::flag::register(signal, Arc::clone(&shutdown))?;
            }
            let metrics = Arc::new(JobMetrics::default());
            let bound = metrics_server::serve(config.metrics_addr, Arc::clone(&metrics))?;
            tracing::info!(%bound, "serving metrics at http://{bound}/metrics");
            job::run(config, metrics, shutdown)?;
            tracing::info!("dataflow stopped cleanly");
            Ok(ExitCode::SUCCESS)
        }
        Command::Checkpoints(args) => {
            admin::checkpoints(&args, &mut std::io::stdout().lock())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::ResyncRedis(args) => {
            let Rewritten { users, pairs, events } = admin::resync_redis(&args)?;
            println!(
                "rewrote {users} user profiles, {pairs} daily product visitor sets, {events} recent events"
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
