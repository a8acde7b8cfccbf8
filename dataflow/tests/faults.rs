//! Faults around the job, against the real cluster and Redis: a second
//! instance on the same directories, and Redis losing its data while the
//! job runs. Results are compared with the independent recomputation.

#![allow(clippy::unwrap_used, reason = "test helpers fail loudly")]

mod common;

use std::sync::OnceLock;
use std::time::Duration;

use common::oracle::recompute;
use common::process::{kill_9, spawn_logged, wait_for};
use common::redis_check::differences;
use common::run::{
    Dataset, checkpoint_dir, job_command, job_command_unbounded, produce_dataset, run_to_end,
};
use state::CheckpointDir;
use testkit::redis_database;

const EVENTS: u64 = 100_000;
const LIMIT: Duration = Duration::from_secs(240);

fn dataset() -> &'static Dataset {
    static DATASET: OnceLock<Dataset> = OnceLock::new();
    DATASET.get_or_init(|| produce_dataset("dataflow-faults", EVENTS, 3))
}

#[test]
fn a_second_instance_on_the_same_directories_is_refused_with_the_holder_s_pid() {
    let dataset = dataset();
    let work = tempfile::tempdir().unwrap();
    let redis = redis_database();
    let log = work.path().join("first.log");
    let mut first = spawn_logged(job_command_unbounded(&dataset.topics, &redis, work.path()), &log);
    let dir = CheckpointDir::new(checkpoint_dir(work.path()));
    let checkpointed =
        wait_for(LIMIT, || dir.list().is_ok_and(|l| l.iter().any(|c| c.manifest.is_ok())));
    let second = run_to_end(job_command(&dataset.topics, &redis, work.path()), LIMIT);
    let first_alive = first.try_wait().unwrap().is_none();
    kill_9(&mut first);
    assert!(checkpointed, "the first instance made no checkpoint");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "a second instance ran:\n{stderr}");
    let expected = format!("locked by another dataflow process (pid {})", first.id());
    assert!(stderr.contains(&expected), "expected {expected:?} in:\n{stderr}");
    assert!(first_alive, "the second instance stopped the first");
    // Once the holder is gone (kill -9 included), the lock is free again.
    let output = run_to_end(job_command(&dataset.topics, &redis, work.path()), LIMIT);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let diffs = differences(&redis, &recompute(&dataset.raw, 10_000), 5);
    assert!(diffs.is_empty(), "Redis differs from the recomputation:\n{}", diffs.join("\n"));
}
