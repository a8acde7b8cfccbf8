//! Flag groups more than one subcommand takes: the leaderboards' (`run`,
//! `resync-redis`) and how to reach an object store (every subcommand that
//! reads checkpoints).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use state::{CheckpointLocation, ObjectStoreOptions};

/// The leaderboards' flags, the same for `run` and `resync-redis`.
#[derive(Debug, Clone, Args)]
pub struct LeaderboardArgs {
    /// The live leaderboards (per day: top products by unique visitors, top
    /// tags by event weight, top products per tag), ranked with
    /// differential-dataflow into the `top:*` sorted sets: on or off.
    /// Switched on over a checkpoint taken with them off, the tag boards
    /// count only the events after it.
    #[arg(long, env = "TAGFLOW_LEADERBOARDS", value_enum, default_value_t = Switch::On)]
    pub leaderboards: Switch,
    /// Members per leaderboard (K).
    #[arg(long, env = "TAGFLOW_LEADERBOARD_SIZE", default_value_t = 100)]
    pub leaderboard_size: usize,
    /// JSON array of the catalog's products (as the API's --catalog), whose
    /// tags the per-tag leaderboards rank within [default: the catalog the
    /// simulator loaded into --redis]. Read at every start.
    #[arg(long, env = "TAGFLOW_CATALOG")]
    pub catalog: Option<PathBuf>,
}

/// A feature switched on or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    /// On.
    On,
    /// Off.
    Off,
}

/// How to reach the object store of `--checkpoint-dir s3://bucket/prefix`.
/// Credentials and region come from the standard AWS variables
/// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION).
#[derive(Debug, Clone, Args)]
pub struct ObjectStoreArgs {
    /// S3 endpoint of a server other than AWS (SeaweedFS, MinIO, Ceph...),
    /// e.g. http://127.0.0.1:8333; AWS's endpoint for the region otherwise.
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub s3_endpoint: Option<String>,
    /// Allow a plain-http S3 endpoint (a local server; never over a network
    /// you do not trust).
    #[arg(long, env = "AWS_ALLOW_HTTP")]
    pub s3_allow_http: bool,
    /// Longest wait for one S3 request; each is retried up to 3 times with
    /// backoff within twice this, then the checkpoint fails (counted in
    /// tagflow_checkpoints_failed) and the job goes on.
    #[arg(long, env = "TAGFLOW_S3_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub s3_timeout: Duration,
}

impl ObjectStoreArgs {
    /// Where `--checkpoint-dir` says checkpoints are.
    #[must_use]
    pub fn location(&self, checkpoint_dir: &std::path::Path) -> CheckpointLocation {
        let options = ObjectStoreOptions {
            endpoint: self.s3_endpoint.clone(),
            allow_http: self.s3_allow_http,
            timeout: self.s3_timeout,
        };
        CheckpointLocation::new(checkpoint_dir, options)
    }
}
