//! Retention overtaking a running job, against the real cluster and Redis:
//! the job is stopped (SIGSTOP) while caught up, more events arrive, and
//! Kafka deletes partition 0 of the view topic past the job's position
//! before the job reads on. By default the job must stop with the lost
//! range named (and the restore refuse it the same way); with
//! `--on-data-loss continue` it must count exactly the lost offsets and
//! hold exactly the recomputation of every event Kafka kept. Before, the
//! consumer's "earliest" reset skipped the deleted events without a word.

#![allow(clippy::unwrap_used, reason = "test helpers fail loudly")]

mod common;

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::oracle::recompute;
use common::process::{kill_9, log_of, scrape_metrics, spawn_logged, wait_for};
use common::redis_check::differences;
use common::run::{
    Dataset, START_TIME_MS, complete_checkpoints, job_command, job_command_unbounded,
    produce_dataset, produce_into, read_raw, run_to_end,
};
use state::Manifest;
use tempfile::TempDir;
use testkit::{delete_records_to_end, read_topic, redis_database};

const FIRST: i64 = 20_000;
const LIMIT: Duration = Duration::from_secs(240);

/// A job whose position on the view topic's partition 0 retention
/// overtook while it was stopped.
struct Overtaken {
    data: Dataset,
    work: TempDir,
    redis: String,
    job: Child,
    log: std::path::PathBuf,
    view: String,
    /// The job's position on view/0 when it was stopped.
    from: i64,
    /// view/0's low watermark after the deletion.
    low: i64,
    /// Every event Kafka kept or the job read before the deletion.
    kept: Vec<Vec<u8>>,
}

fn position(manifest: &Manifest, topic: &str, partition: i32) -> Option<i64> {
    let offset = manifest.offsets.iter().find(|o| o.topic == topic && o.partition == partition);
    offset.map(|o| o.next_offset)
}

fn signal(job: &Child, signal: &str) {
    let status = Command::new("kill").args([signal, &job.id().to_string()]).status().unwrap();
    assert!(status.success(), "kill {signal} failed");
}

/// Runs the job (with `extra` arguments) until a checkpoint covers the
/// first events, stops it, lets more events arrive and retention delete
/// view/0 past its position, adds a few more, and lets it go on.
fn overtake(name: &str, extra: &[&str]) -> Overtaken {
    let data = produce_dataset(name, FIRST as u64, 3);
    let work = tempfile::tempdir().unwrap();
    let redis = redis_database();
    let mut command = job_command_unbounded(&data.topics, &redis, work.path());
    command.args(extra).env("RUST_LOG", "info");
    let log = work.path().join("job.log");
    let mut job = spawn_logged(command, &log);
    let read = |m: &Manifest| m.offsets.iter().map(|o| o.next_offset).sum::<i64>();
    if !wait_for(LIMIT, || complete_checkpoints(work.path()).iter().any(|m| read(m) == FIRST)) {
        kill_9(&mut job);
        panic!("no checkpoint covered the first events:\n{}", log_of(&log));
    }
    let view = data.topics.topics.view.clone();
    let from = position(&complete_checkpoints(work.path()).pop().unwrap(), &view, 0).unwrap();

    signal(&job, "-STOP");
    // Any fetch the job had sent comes back empty meanwhile
    // (fetch.wait.max.ms is 10 ms): the events below arrive unseen.
    std::thread::sleep(Duration::from_millis(300));
    produce_into(&data.topics, 5_000, 12, START_TIME_MS + 3_600_000, 40.0);
    let before: Vec<Vec<u8>> = read_topic(&view)
        .into_iter()
        .filter(|m| m.partition == 0 && m.offset < from)
        .map(|m| m.payload.unwrap_or_default())
        .collect();
    let low = delete_records_to_end(&view, 0);
    assert!(low > from, "nothing new reached {view}/0");
    produce_into(&data.topics, 2_000, 13, START_TIME_MS + 7_200_000, 40.0);
    // Each partition in its order, as the recomputation needs.
    let mut kept = before;
    kept.extend(read_raw(&data.topics));
    signal(&job, "-CONT");
    Overtaken { data, work, redis, job, log, view, from, low, kept }
}

#[test]
fn retention_overtaking_a_running_job_stops_it_naming_the_lost_range() {
    let Overtaken { data, work, redis, mut job, log, view, from, low, .. } =
        overtake("dataflow-overtaken-fail", &[]);
    let started = Instant::now();
    let status = loop {
        if let Some(status) = job.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > LIMIT {
            kill_9(&mut job);
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = log_of(&log);
    let status = status.unwrap_or_else(|| panic!("the job went on past lost events:\n{text}"));
    assert!(!status.success(), "the job ended well past lost events:\n{text}");
    let named = format!("{view}/0: offsets {from}..{low} were deleted");
    assert!(text.contains(&named), "expected {named:?} in:\n{text}");
    // Its last checkpoint still stands before the lost range.
    let newest = complete_checkpoints(work.path()).pop().unwrap();
    assert_eq!(position(&newest, &view, 0), Some(from), "{newest:?}");

    let refused = run_to_end(job_command(&data.topics, &redis, work.path()), LIMIT);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "a restore past deleted events ran:\n{stderr}");
    assert!(stderr.contains(&named), "expected {named:?} in:\n{stderr}");
}

#[test]
fn retention_overtaking_a_running_job_that_accepts_the_loss_counts_it_and_keeps_the_rest() {
    let o = overtake("dataflow-overtaken-continue", &["--on-data-loss", "continue"]);
    let Overtaken { work, redis, mut job, log, view, from, low, kept, .. } = o;
    // Every partition read to its end: the kept events and the lost range.
    let ends = i64::try_from(kept.len()).unwrap() + low - from;
    let done = |m: &Manifest| m.offsets.iter().map(|o| o.next_offset).sum::<i64>() == ends;
    let finished = wait_for(LIMIT, || complete_checkpoints(work.path()).iter().any(done));
    let text = log_of(&log);
    let metrics = if finished { scrape_metrics(&text) } else { String::new() };
    kill_9(&mut job);
    assert!(finished, "the job did not read on past the lost range:\n{text}");
    let counted = format!(
        "tagflow_input_offsets_lost_total{{topic=\"{view}\",partition=\"0\"}} {}",
        low - from
    );
    assert!(metrics.contains(&counted), "expected {counted:?} in:\n{metrics}");
    assert!(text.contains("events deleted from Kafka before they were read"), "{text}");
    let diffs = differences(&redis, &recompute(&kept, 10_000), 5);
    assert!(diffs.is_empty(), "Redis differs from the recomputation:\n{}", diffs.join("\n"));
}
