//! Producing a fixed-seed event set once per test binary, and running the
//! real `dataflow` binary against it.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use simulator::catalog;
use simulator::generator::{EventGenerator, GeneratorConfig};
use simulator::mix::Mix;
use simulator::producer::{ProduceConfig, ProduceReport, produce};
use simulator::shard::Shard;
use testkit::{EventTopics, Stack, read_topic};

/// 2026-11-25T23:00:00Z: an hour before midnight, so the data spans two days.
pub const START_TIME_MS: i64 = 1_795_647_600_000;

/// Events on the shared topics, and their raw bytes as read back from Kafka.
#[derive(Debug)]
pub struct Dataset {
    /// The topics the events are in.
    pub topics: EventTopics,
    /// Every message's payload, from all three event topics.
    pub raw: Vec<Vec<u8>>,
}

/// Produces `count` events (seed 11, 5,000 users, 800 products, 40 events per
/// event-time second) into fresh topics with `partitions` partitions.
pub fn produce_dataset(name: &str, count: u64, partitions: i32) -> Dataset {
    produce_dataset_at(name, count, partitions, START_TIME_MS, 40.0)
}

/// Like [`produce_dataset`], with events from `start_time_ms` on, at
/// `event_time_rate` events per second of event time.
pub fn produce_dataset_at(
    name: &str,
    count: u64,
    partitions: i32,
    start_time_ms: i64,
    event_time_rate: f64,
) -> Dataset {
    let topics = EventTopics::create(name, partitions);
    produce_into(&topics, count, 11, start_time_ms, event_time_rate);
    Dataset { raw: read_raw(&topics), topics }
}

/// Produces `count` more events (generator seed `seed`, 5,000 users, 800
/// products) into existing `topics`.
pub fn produce_into(
    topics: &EventTopics,
    count: u64,
    seed: u64,
    start_time_ms: i64,
    event_time_rate: f64,
) {
    let report = produce_paced(
        topics,
        count,
        seed,
        (start_time_ms, event_time_rate),
        0.0,
        Duration::from_secs(30),
    );
    assert!(report.is_complete(), "{report:?}");
}

/// Produces `count` events (generator seed `seed`, 5,000 users, 800
/// products; event time from `event_time.0` at `event_time.1` events per
/// second) at `rate` events per second of wall-clock time (0: as fast as
/// possible), each failing after `delivery_timeout` without an
/// acknowledgement; what the producer saw.
pub fn produce_paced(
    topics: &EventTopics,
    count: u64,
    seed: u64,
    event_time: (i64, f64),
    rate: f64,
    delivery_timeout: Duration,
) -> ProduceReport {
    let stack = Stack::get();
    let config = GeneratorConfig {
        seed,
        users: 5_000,
        start_time_ms: event_time.0,
        event_time_rate: event_time.1,
        mix: Mix::default(),
        shard: Shard::default(),
        user_skew: 0.8,
        product_skew: 1.0,
        mean_session_events: 8.0,
    };
    let mut generator = EventGenerator::new(config, catalog::generate(11, 800));
    let produce_config = ProduceConfig {
        brokers: stack.brokers.clone(),
        topics: topics.topics.clone(),
        rate,
        count: Some(count),
        duration: None,
        compression: "lz4".into(),
        delivery_timeout,
        progress: false,
    };
    produce(&mut generator, &produce_config, &AtomicBool::new(false)).expect("produce")
}

/// Every payload currently in the event topics.
pub fn read_raw(topics: &EventTopics) -> Vec<Vec<u8>> {
    topics
        .topics
        .event_topics()
        .iter()
        .flat_map(|t| read_topic(t))
        .map(|m| m.payload.unwrap_or_default())
        .collect()
}

/// The standard dataset of the end-to-end tests: 200,000 events, produced once.
pub fn standard_dataset() -> &'static Dataset {
    static DATASET: OnceLock<Dataset> = OnceLock::new();
    DATASET.get_or_init(|| produce_dataset("dataflow-e2e", 200_000, 3))
}

/// A `dataflow run --until-caught-up` command over `topics` into `redis`,
/// with its state in `work_dir/state` and checkpoints (one a second) in
/// `work_dir/checkpoints`.
pub fn job_command(topics: &EventTopics, redis: &str, work_dir: &Path) -> Command {
    let mut command = job_command_every(topics, redis, work_dir, "1s");
    command.arg("--until-caught-up");
    command
}

/// Like [`job_command`], without `--until-caught-up`.
pub fn job_command_unbounded(topics: &EventTopics, redis: &str, work_dir: &Path) -> Command {
    job_command_every(topics, redis, work_dir, "1s")
}

/// A `dataflow run` command (unbounded) checkpointing every `interval`.
pub fn job_command_every(
    topics: &EventTopics,
    redis: &str,
    work_dir: &Path,
    interval: &str,
) -> Command {
    let checkpoints = checkpoint_dir(work_dir);
    job_command_at(topics, redis, (&work_dir.join("state"), checkpoints.as_os_str()), interval)
}

/// A `dataflow run` command (unbounded) with its state in `dirs.0` and
/// checkpoints (every `interval`) at `dirs.1`, a directory or an s3:// URL.
pub fn job_command_at(
    topics: &EventTopics,
    redis: &str,
    dirs: (&Path, &std::ffi::OsStr),
    interval: &str,
) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dataflow"));
    command
        .arg("run")
        .args(["--brokers", &Stack::get().brokers, "--redis", redis])
        .args(["--topic-prefix", &topics.prefix, "--metrics-addr", "127.0.0.1:0"])
        .args(["--epoch-ms", "100", "--checkpoint-interval", interval])
        .arg("--state-dir")
        .arg(dirs.0)
        .arg("--checkpoint-dir")
        .arg(dirs.1)
        .env("RUST_LOG", "warn");
    command
}

/// `command` (one of the above) with `--brokers` set to `brokers` instead
/// of the stack's.
pub fn with_brokers(command: &Command, brokers: &str) -> Command {
    let mut args: Vec<std::ffi::OsString> = command.get_args().map(ToOwned::to_owned).collect();
    let at = args.iter().position(|a| a == "--brokers").expect("a job command names its brokers");
    args[at + 1] = brokers.into();
    let mut changed = Command::new(command.get_program());
    changed.args(args);
    for (name, value) in command.get_envs() {
        if let Some(value) = value {
            changed.env(name, value);
        }
    }
    changed
}

/// Where [`job_command`] keeps checkpoints.
pub fn checkpoint_dir(work_dir: &Path) -> std::path::PathBuf {
    work_dir.join("checkpoints")
}

/// The complete checkpoints in `work_dir` (as [`job_command`] keeps them),
/// oldest first; none while the directory cannot be listed (files not
/// verified).
pub fn complete_checkpoints(work_dir: &Path) -> Vec<state::Manifest> {
    use state::CheckpointStore;
    let dir = state::CheckpointDir::new(checkpoint_dir(work_dir));
    dir.list().map(|l| l.into_iter().filter_map(|c| c.manifest.ok()).collect()).unwrap_or_default()
}

/// Runs a command to completion (at most `limit`), returning its output.
pub fn run_to_end(mut command: Command, limit: Duration) -> Output {
    let child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start dataflow");
    let pid = child.id();
    let (done, result) = std::sync::mpsc::channel();
    std::thread::spawn(move || done.send(child.wait_with_output()));
    match result.recv_timeout(limit) {
        Ok(output) => output.expect("dataflow output"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            let output = result.recv().expect("killed child").expect("output");
            panic!(
                "dataflow did not finish within {limit:?}:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}
