//! The leaderboards (`top:products:<day>`, `top:tags:<day>`,
//! `top:tag-products:<day>:<tag>`) against an independent recomputation
//! from the events and the catalog: with 1 and 3 workers, after kill -9 at
//! random moments, and after a checkpoint of 3 workers is restored with 1.
//! The events span two days; a board size of 10 makes ties at the cut
//! matter (ties go to the smaller id).

#![allow(clippy::unwrap_used, reason = "test helpers fail loudly")]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use common::boards::{Boards, board_differences, expected_boards};
use common::process::{kill_9, log_of, spawn, spawn_logged, wait_for};
use common::run::{
    Dataset, START_TIME_MS, checkpoint_dir, job_command, job_command_every, produce_dataset_at,
    run_to_end,
};
use state::{CheckpointDir, CheckpointStore as _};
use testkit::redis_database;

const EVENTS: u64 = 60_000;
const LIMIT: Duration = Duration::from_secs(300);
/// The generator's catalog (seed 11, 800 products, as `common::run`).
const CATALOG: (u64, usize) = (11, 800);

fn dataset() -> &'static Dataset {
    static DATASET: OnceLock<Dataset> = OnceLock::new();
    // 23:45 UTC on, 40 events per second: 25 minutes over midnight.
    DATASET.get_or_init(|| {
        produce_dataset_at("dataflow-leaderboards", EVENTS, 3, START_TIME_MS + 2_700_000, 40.0)
    })
}

fn catalog() -> BTreeMap<String, Vec<String>> {
    simulator::catalog::generate(CATALOG.0, CATALOG.1)
        .into_iter()
        .map(|p| (p.product_id, p.tags))
        .collect()
}

/// A fresh Redis database holding the catalog, as the simulator loads it.
fn redis_with_catalog() -> String {
    let redis = redis_database();
    let mut conn = redis::Client::open(redis.as_str()).unwrap().get_connection().unwrap();
    let products = simulator::catalog::generate(CATALOG.0, CATALOG.1);
    simulator::catalog::load_into_redis(&mut conn, &products).unwrap();
    redis
}

fn expected(k: usize) -> &'static Boards {
    static EXPECTED: OnceLock<BTreeMap<usize, Boards>> = OnceLock::new();
    let all = EXPECTED.get_or_init(|| {
        [10, 100].into_iter().map(|k| (k, expected_boards(&dataset().raw, &catalog(), k))).collect()
    });
    &all[&k]
}

fn assert_exact(redis: &str, k: usize) {
    let expected = expected(k);
    // The recomputation covers two days, per-tag boards, and cut ties.
    assert!(expected.contains_key("top:products:2026-11-25"), "{:?}", expected.keys());
    assert!(expected.contains_key("top:tags:2026-11-26"));
    assert!(expected.keys().filter(|key| key.starts_with("top:tag-products:")).count() > 20);
    let diffs = board_differences(redis, expected);
    assert!(diffs.is_empty(), "leaderboards differ from the recomputation:\n{}", diffs.join("\n"));
}

fn run_ok(command: Command) {
    let output = run_to_end(command, LIMIT);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "dataflow failed:\n{stderr}");
}

fn sized(mut command: Command, workers: usize, k: usize) -> Command {
    command.args(["--workers", &workers.to_string(), "--leaderboard-size", &k.to_string()]);
    command
}

fn newest_checkpoint(work: &Path) -> u64 {
    let dir = CheckpointDir::new(checkpoint_dir(work));
    dir.list().unwrap().into_iter().filter_map(|l| l.manifest.ok()).map(|m| m.id).max().unwrap_or(0)
}

#[test]
fn one_worker_matches_the_recomputation() {
    let redis = redis_with_catalog();
    let work = tempfile::tempdir().unwrap();
    run_ok(sized(job_command(&dataset().topics, &redis, work.path()), 1, 100));
    assert_exact(&redis, 100);
}

#[test]
fn three_workers_match_the_recomputation() {
    let redis = redis_with_catalog();
    let work = tempfile::tempdir().unwrap();
    run_ok(sized(job_command(&dataset().topics, &redis, work.path()), 3, 10));
    assert_exact(&redis, 10);
}

#[test]
fn kill_9_at_random_moments_then_restore_is_exact() {
    let redis = redis_with_catalog();
    let work = tempfile::tempdir().unwrap();
    let job = || sized(job_command_every(&dataset().topics, &redis, work.path(), "300ms"), 3, 10);
    // Kill each run a fixed-seed random 0-500 ms after its first new
    // checkpoint: Redis then holds boards written after the checkpoint the
    // next run restores. The killed runs are unbounded, so that a machine
    // fast enough to read every event before the first checkpoint still
    // sees each run checkpoint (idle) and die; only the last one runs to
    // the end.
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    for round in 0..4 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let before = newest_checkpoint(work.path());
        let log = work.path().join(format!("run-{round}.log"));
        let mut child = spawn_logged(job(), &log);
        let checkpointed = wait_for(LIMIT, || {
            newest_checkpoint(work.path()) > before || child.try_wait().ok().flatten().is_some()
        });
        let exited = child.try_wait().unwrap();
        assert!(exited.is_none(), "run {round} exited by itself ({exited:?}):\n{}", log_of(&log));
        assert!(checkpointed, "run {round} made no checkpoint in {LIMIT:?}:\n{}", log_of(&log));
        std::thread::sleep(Duration::from_millis(seed % 500));
        kill_9(&mut child);
    }
    let mut last = job();
    last.arg("--until-caught-up");
    run_ok(last);
    assert_exact(&redis, 10);
}

#[test]
fn a_checkpoint_of_3_workers_restored_with_1_is_exact() {
    let redis = redis_with_catalog();
    let work = tempfile::tempdir().unwrap();
    let command = job_command_every(&dataset().topics, &redis, work.path(), "300ms");
    let mut child = spawn(sized(command, 3, 10));
    let found = wait_for(LIMIT, || newest_checkpoint(work.path()) > 0);
    kill_9(&mut child);
    assert!(found, "no checkpoint was completed");
    let dir = CheckpointDir::new(checkpoint_dir(work.path()));
    let manifest = dir.list().unwrap().into_iter().filter_map(|l| l.manifest.ok()).last().unwrap();
    assert_eq!(manifest.workers, 3);
    let covered: i64 = manifest.offsets.iter().map(|o| o.next_offset).sum();
    eprintln!("restoring a checkpoint of {covered} of {EVENTS} events with 1 worker");
    run_ok(sized(job_command(&dataset().topics, &redis, work.path()), 1, 10));
    assert_exact(&redis, 10);
}
