//! The subcommands' implementations, behind the thin `main.rs`.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use model::Topics;

use crate::catalog;
use crate::cli::{CatalogArgs, Cli, Command, EventsArgs, ProduceArgs};
use crate::generator::EventGenerator;
use crate::producer::{ProduceConfig, ProduceError, produce};

/// Why a subcommand failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Producing events failed.
    #[error(transparent)]
    Produce(#[from] ProduceError),
    /// Redis refused the catalog.
    #[error("cannot load the catalog into Redis at {url}: {source}")]
    Redis {
        /// The Redis URL.
        url: String,
        /// The client's error.
        #[source]
        source: redis::RedisError,
    },
    /// A file or stdout could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// What was being written.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A signal handler could not be installed.
    #[error("cannot install the signal handler: {0}")]
    Signal(#[source] std::io::Error),
}

/// Runs the parsed command line; the exit code reports incomplete delivery.
pub fn run(cli: Cli) -> Result<ExitCode, RunError> {
    match cli.command {
        Command::Produce(args) => run_produce(args),
        Command::Catalog(args) => run_catalog(args).map(|()| ExitCode::SUCCESS),
        Command::Events(args) => run_events(args).map(|()| ExitCode::SUCCESS),
    }
}

fn run_produce(args: ProduceArgs) -> Result<ExitCode, RunError> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop)).map_err(RunError::Signal)?;
    }
    let generator_config = args.generator.config(args.rate);
    let products = catalog::generate(args.generator.seed, args.generator.products);
    let mut generator = EventGenerator::new(generator_config.clone(), products);
    if args.wall_clock_timestamps {
        generator = generator.with_wall_clock_timestamps();
    }
    let config = ProduceConfig {
        brokers: args.brokers,
        topics: Topics::with_prefix(&args.topic_prefix),
        rate: args.rate,
        count: args.count,
        duration: args.duration,
        compression: args.compression,
        delivery_timeout: args.delivery_timeout,
        progress: !args.quiet,
    };
    tracing::info!(
        brokers = %config.brokers,
        seed = generator_config.seed,
        shard = %generator_config.shard,
        rate = config.rate,
        count = ?config.count,
        start_time_ms = generator_config.start_time_ms,
        "producing events"
    );
    let report = produce(&mut generator, &config, &stop)?;
    println!(
        "sent {} events: {} acknowledged, {} failed, in {:.2} s ({:.0} events/s)",
        report.sent,
        report.acknowledged,
        report.failed,
        report.elapsed.as_secs_f64(),
        report.rate()
    );
    if report.is_complete() {
        Ok(ExitCode::SUCCESS)
    } else {
        let unacked = report.sent - report.acknowledged;
        eprintln!(
            "simulator: {unacked} events were not acknowledged; first error: {}",
            report.first_error.as_deref().unwrap_or("none reported (flush timed out)")
        );
        Ok(ExitCode::FAILURE)
    }
}

fn run_catalog(args: CatalogArgs) -> Result<(), RunError> {
    let products = catalog::generate(args.seed, args.products);
    if let Some(path) = &args.out {
        let io = |source| RunError::Io { path: path.clone(), source };
        let mut file = BufWriter::new(std::fs::File::create(path).map_err(io)?);
        serde_json::to_writer_pretty(&mut file, &products).map_err(|e| io(e.into()))?;
        file.flush().map_err(io)?;
        println!("wrote {} products to {}", products.len(), path.display());
    }
    if !args.no_redis {
        let redis_err = |source| RunError::Redis { url: args.redis.clone(), source };
        let timeouts = model::redis_target::Timeouts::uniform(std::time::Duration::from_secs(10));
        let target = model::redis_target::RedisTarget::parse(&args.redis)
            .map_err(|e| redis_err(e.into()))?;
        let mut conn = target.connect(timeouts).map_err(redis_err)?;
        catalog::load_into_redis(&mut conn, &products).map_err(redis_err)?;
        println!("loaded {} products into {}", products.len(), args.redis);
    }
    Ok(())
}

fn run_events(args: EventsArgs) -> Result<(), RunError> {
    let products = catalog::generate(args.generator.seed, args.generator.products);
    let mut generator = EventGenerator::new(args.generator.config(0.0), products);
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let io = |source| RunError::Io { path: PathBuf::from("<stdout>"), source };
    let mut buf = Vec::with_capacity(1024);
    for _ in 0..args.count {
        generator.next_event().write_json(&mut buf);
        buf.push(b'\n');
        out.write_all(&buf).map_err(io)?;
    }
    out.flush().map_err(io)
}
