//! The job against the real cluster and Redis: 200,000 fixed-seed events
//! over two event-time days, every Redis output compared with an
//! independent recomputation, for several worker and process layouts.

#![allow(clippy::unwrap_used, reason = "test helpers fail loudly")]

mod common;

use std::time::Duration;

use common::oracle::recompute;
use common::redis_check::differences;
use common::run::{job_command, run_to_end, standard_dataset};
use testkit::redis_database;

const TOP_N: usize = 5;
const EVENTS_CAPACITY: usize = 10_000;

fn assert_exact(redis: &str) {
    let dataset = standard_dataset();
    let expected = recompute(&dataset.raw, EVENTS_CAPACITY);
    assert_eq!(dataset.raw.len(), 200_000);
    assert!(expected.visitors.keys().any(|k| k.starts_with("2026-11-25")));
    assert!(expected.visitors.keys().any(|k| k.starts_with("2026-11-26")));
    let diffs = differences(redis, &expected, TOP_N);
    assert!(diffs.is_empty(), "Redis differs from the recomputation:\n{}", diffs.join("\n"));
}

fn run_with_workers(workers: usize) {
    let dataset = standard_dataset();
    let redis = redis_database();
    let state = tempfile::tempdir().unwrap();
    let mut command = job_command(&dataset.topics, &redis, state.path());
    command.args(["--workers", &workers.to_string()]);
    let output = run_to_end(command, Duration::from_secs(300));
    assert!(
        output.status.success(),
        "dataflow failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_exact(&redis);
}

#[test]
fn one_worker_matches_the_recomputation() {
    run_with_workers(1);
}

#[test]
fn two_workers_match_the_recomputation() {
    run_with_workers(2);
}

#[test]
fn three_workers_match_the_recomputation() {
    run_with_workers(3);
}

#[test]
fn two_processes_of_two_workers_match_the_recomputation() {
    let dataset = standard_dataset();
    let redis = redis_database();
    let state = tempfile::tempdir().unwrap();
    let ports: Vec<u16> = (0..2).map(|_| testkit::free_port()).collect();
    let hostfile = state.path().join("hosts");
    std::fs::write(&hostfile, ports.iter().map(|p| format!("127.0.0.1:{p}\n")).collect::<String>())
        .unwrap();
    let handles: Vec<_> = (0..2)
        .map(|process| {
            // Both processes share the checkpoint directory, as they must.
            let mut command = job_command(&dataset.topics, &redis, state.path());
            command.args(["--workers", "2", "--processes", "2", "--process", &process.to_string()]);
            command.arg("--hostfile").arg(&hostfile);
            std::thread::spawn(move || run_to_end(command, Duration::from_secs(300)))
        })
        .collect();
    for handle in handles {
        let output = handle.join().unwrap();
        assert!(
            output.status.success(),
            "dataflow failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert_exact(&redis);
}
