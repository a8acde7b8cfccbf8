//! Running the real `dataflow` job over a test's topics, and reading back
//! everything it wrote to Redis.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use testkit::{EventTopics, Stack, free_port, workspace_binary};

/// A `dataflow run` command (3 workers) over `topics` into `redis`, with
/// fresh state and checkpoints in `dirs`, reporting metrics at `metrics`.
fn job_command(
    topics: &EventTopics,
    redis: &str,
    dirs: &tempfile::TempDir,
    metrics: &str,
) -> Command {
    let mut command = Command::new(workspace_binary("dataflow", "TAGFLOW_DATAFLOW_BIN"));
    command
        .arg("run")
        .args(["--brokers", &Stack::get().brokers, "--redis", redis])
        .args(["--topic-prefix", &topics.prefix, "--workers", "3", "--epoch-ms", "100"])
        .args(["--metrics-addr", metrics])
        .env("TAGFLOW_STATE_DIR", dirs.path().join("state"))
        .env("TAGFLOW_CHECKPOINT_DIR", dirs.path().join("checkpoints"))
        .env("RUST_LOG", "warn");
    command
}

/// Runs `dataflow run --until-caught-up` (3 workers, fresh state) over
/// `topics` into `redis`; panics with its log if it fails.
pub fn run_dataflow(topics: &EventTopics, redis: &str) {
    run_dataflow_with(topics, redis, &[]);
}

/// [`run_dataflow`] with more flags.
pub fn run_dataflow_with(topics: &EventTopics, redis: &str, args: &[String]) {
    let dirs = tempfile::tempdir().unwrap();
    let output = job_command(topics, redis, &dirs, "127.0.0.1:0")
        .arg("--until-caught-up")
        .args(args)
        .output()
        .expect("run dataflow");
    assert!(
        output.status.success(),
        "dataflow failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs the job unbounded over `topics` (written in Kafka transactions,
/// whose commit markers `--until-caught-up` never reaches) into `redis`
/// until it consumed at least `events` events, then stops it with SIGTERM,
/// which flushes every output; panics if it takes over 5 minutes or fails.
pub fn run_dataflow_until_consumed(topics: &EventTopics, redis: &str, events: usize) {
    let dirs = tempfile::tempdir().unwrap();
    let metrics = format!("127.0.0.1:{}", free_port());
    let mut job = job_command(topics, redis, &dirs, &metrics).spawn().expect("run dataflow");
    let started = Instant::now();
    let mut consumed = 0;
    while consumed < events && started.elapsed() < Duration::from_secs(300) {
        std::thread::sleep(Duration::from_millis(200));
        consumed = consumed_events(&metrics).unwrap_or(0);
    }
    let _ = Command::new("kill").args(["-TERM", &job.id().to_string()]).status();
    let status = job.wait().unwrap();
    assert!(consumed >= events, "the job consumed {consumed} of {events} events");
    assert!(status.success(), "dataflow failed: {status}");
}

/// The sum of the job's `tagflow_events_consumed_total`, if it answers.
fn consumed_events(address: &str) -> Option<usize> {
    let response = testkit::scrape_metrics_at(address).ok()?;
    Some(
        response
            .lines()
            .filter(|line| line.starts_with("tagflow_events_consumed_total{"))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<usize>().ok())
            .sum(),
    )
}

/// Every key of the Redis database at `url` but the job's own bookkeeping
/// (`tagflow:*`), each with its value rendered in an order-free form
/// (hash fields and set members sorted), for comparing two databases.
pub fn redis_contents(url: &str) -> BTreeMap<String, String> {
    let mut conn = super::redis_conn(url);
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut conn).unwrap();
    let mut contents = BTreeMap::new();
    for key in keys.into_iter().filter(|k| !k.starts_with("tagflow:")) {
        let kind: String = redis::cmd("TYPE").arg(&key).query(&mut conn).unwrap();
        let value = match kind.as_str() {
            "string" => redis::cmd("GET").arg(&key).query::<String>(&mut conn).unwrap(),
            "hash" => {
                let fields: BTreeMap<String, String> =
                    redis::cmd("HGETALL").arg(&key).query(&mut conn).unwrap();
                format!("{fields:?}")
            }
            "set" => {
                let mut members: Vec<String> =
                    redis::cmd("SMEMBERS").arg(&key).query(&mut conn).unwrap();
                members.sort();
                format!("{members:?}")
            }
            "list" => {
                let items: Vec<String> =
                    redis::cmd("LRANGE").arg(&key).arg(0).arg(-1).query(&mut conn).unwrap();
                format!("{items:?}")
            }
            "zset" => {
                let items: Vec<(String, String)> = redis::cmd("ZRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .arg("WITHSCORES")
                    .query(&mut conn)
                    .unwrap();
                format!("{items:?}")
            }
            other => format!("<{other}>"),
        };
        contents.insert(format!("{kind} {key}"), value);
    }
    contents
}
