//! Crash recovery against the real cluster and Redis: the job is killed with
//! SIGKILL at random moments (once in the middle of a checkpoint), restored
//! with more or fewer workers, restored past a damaged checkpoint, and made
//! to repair a Redis flushed while it was down. Every final Redis state is
//! compared with the independent recomputation of all 300,000 events.

#![allow(clippy::unwrap_used, reason = "test helpers fail loudly")]

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use common::oracle::recompute;
use common::process::{kill_9, log_of, sample, scrape_metrics, spawn, spawn_logged, wait_for};
use common::redis_check::differences;
use common::run::{
    Dataset, checkpoint_dir, complete_checkpoints, job_command, job_command_every,
    job_command_unbounded, produce_dataset, run_to_end,
};
use state::{CheckpointDir, CheckpointStore, Manifest};
use testkit::redis_database;

const EVENTS: u64 = 300_000;
const TOP_N: usize = 5;
const EVENTS_CAPACITY: usize = 10_000;
const LIMIT: Duration = Duration::from_secs(300);

fn dataset() -> &'static Dataset {
    static DATASET: OnceLock<Dataset> = OnceLock::new();
    DATASET.get_or_init(|| produce_dataset("dataflow-recovery", EVENTS, 3))
}

fn assert_exact(redis: &str) {
    assert_exact_showing(redis, String::new);
}

/// [`assert_exact`], showing the end of the job's `log` when it fails.
fn assert_exact_after(redis: &str, log: &Path) {
    assert_exact_showing(redis, || {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!("\n--- the job's log, last lines ---\n{}", tail.join("\n"))
    });
}

fn assert_exact_showing(redis: &str, context: impl FnOnce() -> String) {
    let expected = recompute(&dataset().raw, EVENTS_CAPACITY);
    let diffs = differences(redis, &expected, TOP_N);
    assert!(
        diffs.is_empty(),
        "Redis differs from the recomputation:\n{}{}",
        diffs.join("\n"),
        context()
    );
}

/// Runs `command` to its end and asserts it succeeded; returns its stderr.
fn run_ok(mut command: Command) -> String {
    command.env("RUST_LOG", "info");
    let output = run_to_end(command, LIMIT);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "dataflow failed:\n{stderr}");
    stderr
}

fn events_covered(manifest: &Manifest) -> i64 {
    manifest.offsets.iter().map(|o| o.next_offset).sum()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn kill_9_at_random_moments_then_restore_is_exact() {
    let dataset = dataset();
    let redis = redis_database();
    let work = tempfile::tempdir().unwrap();
    // Checkpoints every 300 ms, so that short runs make progress. The
    // killed runs are unbounded: on a machine fast enough to read every
    // event before the first checkpoint, each one still checkpoints (idle)
    // before it dies; only the last run stops by itself, caught up.
    let job = || job_command_every(&dataset.topics, &redis, work.path(), "300ms");
    // First, exactly while a checkpoint is being written: a worker's part
    // exists under pending-<boundary>/ but the checkpoint is not sealed yet.
    let pending = |work: &Path| {
        std::fs::read_dir(checkpoint_dir(work))
            .map(|entries| {
                entries.flatten().any(|e| e.file_name().to_string_lossy().starts_with("pending-"))
            })
            .unwrap_or(false)
    };
    let mut killed_mid_checkpoint = false;
    for _ in 0..10 {
        let mut child = spawn(job());
        let seen = wait_for(Duration::from_secs(20), || {
            pending(work.path()) || child.try_wait().ok().flatten().is_some()
        }) && pending(work.path());
        kill_9(&mut child);
        if seen && pending(work.path()) {
            killed_mid_checkpoint = true;
            break;
        }
    }
    assert!(killed_mid_checkpoint, "never caught a checkpoint in progress");
    // Then at random moments after each run made progress (its first new
    // checkpoint, plus a random 0-500 ms), so the test does not depend on
    // how fast this machine is. A fixed-seed xorshift makes the kills
    // replayable.
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let newest = |work: &Path| complete_checkpoints(work).last().map_or(0, |m| m.id);
    let mut kills = Vec::new();
    for round in 0..5 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = Duration::from_millis(seed % 500);
        let before = newest(work.path());
        let log = work.path().join(format!("run-{round}.log"));
        let mut child = spawn_logged(job(), &log);
        wait_for(LIMIT, || {
            newest(work.path()) > before || child.try_wait().ok().flatten().is_some()
        });
        let exited = child.try_wait().unwrap();
        assert!(exited.is_none(), "run {round} exited by itself ({exited:?}):\n{}", log_of(&log));
        std::thread::sleep(delay);
        kill_9(&mut child);
        kills.push((newest(work.path()), delay));
        if round == 0 {
            let log = std::fs::read_to_string(&log).unwrap();
            assert!(log.contains("removed an incomplete checkpoint"), "{log}");
        }
    }

    let before_restart = complete_checkpoints(work.path());
    assert!(!before_restart.is_empty(), "no checkpoint completed across {kills:?}");

    let mut last = job();
    last.arg("--until-caught-up");
    let stderr = run_ok(last);
    assert!(stderr.contains("restoring checkpoint"), "{stderr}");
    assert!(!pending(work.path()));
    assert_exact(&redis);
}

#[test]
fn a_checkpoint_of_3_workers_restores_with_1_and_with_6() {
    let dataset = dataset();
    let work = tempfile::tempdir().unwrap();
    let redis = redis_database();
    let mut command = job_command_unbounded(&dataset.topics, &redis, work.path());
    command.args(["--workers", "3"]);
    let mut child = spawn(command);
    let found = wait_for(LIMIT, || !complete_checkpoints(work.path()).is_empty());
    kill_9(&mut child);
    assert!(found, "no checkpoint was completed");
    let manifest = complete_checkpoints(work.path()).pop().unwrap();
    assert_eq!(manifest.workers, 3);
    let covered = events_covered(&manifest);
    assert!(covered > 0 && covered < EVENTS as i64, "not mid-stream: {covered} events");

    for (workers, redis) in [(1, redis), (6, redis_database())] {
        let copy = tempfile::tempdir().unwrap();
        copy_dir(&checkpoint_dir(work.path()), &checkpoint_dir(copy.path()));
        let mut command = job_command(&dataset.topics, &redis, copy.path());
        command.args(["--workers", &workers.to_string()]);
        let stderr = run_ok(command);
        assert!(stderr.contains(&format!("restoring checkpoint {}", manifest.id)), "{stderr}");
        assert_exact(&redis);
    }
}

#[test]
fn a_damaged_newest_checkpoint_is_refused_by_id_and_skipped_by_latest() {
    let dataset = dataset();
    let work = tempfile::tempdir().unwrap();
    let redis = redis_database();
    let mut child = spawn(job_command_unbounded(&dataset.topics, &redis, work.path()));
    let found = wait_for(LIMIT, || complete_checkpoints(work.path()).len() >= 2);
    kill_9(&mut child);
    assert!(found, "fewer than two checkpoints were completed");
    let newest = complete_checkpoints(work.path()).pop().unwrap();

    // Truncate worker 0's RocksDB MANIFEST (a copy, not shared with older
    // checkpoints the way hard-linked SST files are).
    let file = newest
        .files
        .iter()
        .find(|f| f.path.starts_with("worker-0/MANIFEST-"))
        .expect("a RocksDB manifest");
    let path = checkpoint_dir(work.path()).join(newest.id.to_string()).join(&file.path);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();

    let mut named = job_command(&dataset.topics, &redis, work.path());
    named.args(["--restore", &newest.id.to_string()]);
    let output = run_to_end(named, LIMIT);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "restoring a damaged checkpoint must fail");
    assert!(
        stderr.contains(&format!("checkpoint {} at", newest.id)) && stderr.contains("truncated"),
        "the error must name the checkpoint and the damage:\n{stderr}"
    );

    // The operator's view: inspect names the damage, delete removes it.
    let admin = |args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_dataflow"));
        command.arg("checkpoints").arg("--checkpoint-dir").arg(checkpoint_dir(work.path()));
        command.args(args).output().unwrap()
    };
    let id = newest.id.to_string();
    let listed = String::from_utf8(admin(&["list"]).stdout).unwrap();
    assert!(listed.lines().any(|l| l.split_whitespace().next() == Some(&id)), "{listed}");
    let inspected = admin(&["inspect", &id]);
    assert!(!inspected.status.success());
    assert!(String::from_utf8_lossy(&inspected.stderr).contains("truncated"));

    // Retain enough that the damaged one outlives the run, for `delete`.
    let mut fallback = job_command(&dataset.topics, &redis, work.path());
    fallback.args(["--checkpoints-retained", "100"]);
    let stderr = run_ok(fallback);
    assert!(stderr.contains("skipping a damaged checkpoint"), "{stderr}");
    assert!(stderr.contains("falling back to checkpoint"), "{stderr}");
    assert_exact(&redis);

    assert!(admin(&["delete", &id]).status.success());
    let listed = String::from_utf8(admin(&["list"]).stdout).unwrap();
    assert!(!listed.lines().any(|l| l.split_whitespace().next() == Some(&id)), "{listed}");
    let older = complete_checkpoints(work.path()).pop().unwrap().id.to_string();
    let inspected = admin(&["inspect", &older]);
    assert!(inspected.status.success(), "{}", String::from_utf8_lossy(&inspected.stderr));
    assert!(String::from_utf8_lossy(&inspected.stdout).contains("every file verified"));
}

#[test]
fn a_redis_flushed_while_the_job_is_down_is_repaired() {
    let dataset = dataset();
    let work = tempfile::tempdir().unwrap();
    let redis = redis_database();
    // Run until a checkpoint covers every event, then stop gracefully.
    let log = work.path().join("run.log");
    let mut command = job_command_unbounded(&dataset.topics, &redis, work.path());
    command.env("RUST_LOG", "info");
    let mut child = spawn_logged(command, &log);
    let all = wait_for(LIMIT, || {
        complete_checkpoints(work.path()).last().is_some_and(|m| events_covered(m) == EVENTS as i64)
    });
    // The manifest is on disk a moment before the metrics count the
    // checkpoint as completed, and a scrape may read the size gauge before
    // and the id gauge after the next checkpoint's update: scrape until the
    // metrics name that checkpoint or a newer one, with its size.
    let covering = complete_checkpoints(work.path()).last().map_or(0, |m| m.id);
    let gauge = |metrics: &str, name: &str| sample(metrics, name)?.parse::<u64>().ok();
    let checkpoints = CheckpointDir::new(checkpoint_dir(work.path()));
    let mut metrics = String::new();
    wait_for(LIMIT, || {
        metrics = scrape_metrics(&std::fs::read_to_string(&log).unwrap());
        let id =
            gauge(&metrics, "tagflow_checkpoint_last_completed_id").filter(|&id| id >= covering);
        id.and_then(|id| checkpoints.manifest(id).ok()).is_some_and(|manifest| {
            gauge(&metrics, "tagflow_checkpoint_size_bytes") == Some(manifest.total_bytes())
        })
    });
    let value = |name: &str| {
        sample(&metrics, name)
            .unwrap_or_else(|| panic!("{name} missing from /metrics:\n{metrics}"))
            .to_owned()
    };
    let id: u64 = value("tagflow_checkpoint_last_completed_id").parse().unwrap();
    assert!(id >= covering, "the metrics never counted checkpoint {covering}:\n{metrics}");
    let manifest = checkpoints.manifest(id).unwrap();
    assert_eq!(value("tagflow_checkpoint_size_bytes"), manifest.total_bytes().to_string());
    assert_eq!(value("tagflow_checkpoint_interval_seconds"), "1.0");
    assert_eq!(value("tagflow_restore_duration_seconds"), "0.0");
    assert!(metrics.contains("tagflow_checkpoint_duration_seconds_count"), "{metrics}");
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let status = child.wait().unwrap();
    assert!(all, "no checkpoint covered every event");
    assert!(status.success(), "SIGTERM must stop the job cleanly: {status}");
    assert_exact_after(&redis, &log);

    // An intact Redis already holds the checkpoint's outputs: no rewrite.
    let stderr = run_ok(job_command(&dataset.topics, &redis, work.path()));
    assert!(stderr.contains("Redis already holds the checkpoint's outputs"), "{stderr}");
    assert_exact(&redis);

    let flush = || {
        let mut conn = redis::Client::open(redis.as_str()).unwrap().get_connection().unwrap();
        redis::cmd("FLUSHDB").exec(&mut conn).unwrap();
    };
    flush();
    let mut resync = Command::new(env!("CARGO_BIN_EXE_dataflow"));
    resync
        .args(["resync-redis", "--redis", &redis])
        .arg("--checkpoint-dir")
        .arg(checkpoint_dir(work.path()));
    let output = run_to_end(resync, LIMIT);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_exact(&redis);

    flush();
    run_ok(job_command(&dataset.topics, &redis, work.path()));
    assert_exact(&redis);
}

#[test]
fn a_state_bound_far_below_the_state_stays_exact_through_kills_and_a_rescale() {
    let dataset = dataset();
    let work = tempfile::tempdir().unwrap();
    let redis = redis_database();
    // 1 MiB for 5,000 users and ~1,600 (day, product) sets over 3 workers:
    // each worker caches a few hundred profiles and reads the rest back
    // from RocksDB.
    let job = |workers: &str| {
        let mut command = job_command_every(&dataset.topics, &redis, work.path(), "300ms");
        command.args(["--state-memory", "1MiB", "--workers", workers]);
        command
    };
    let newest = |work: &Path| complete_checkpoints(work).last().map_or(0, |m| m.id);
    // Each run is killed at its first new checkpoint: the first one surely
    // mid-stream, the second wherever the restored run got to by then.
    // Before, its metrics must show spills (snapshots taken between
    // boundaries to stay within the bound), so that they are what the
    // kills and the restores are tested with.
    let mut covered = Vec::new();
    let mut spills = 0;
    for round in 0..2 {
        let before = newest(work.path());
        let log = work.path().join(format!("run-{round}.log"));
        let mut command = job("3");
        command.env("RUST_LOG", "info");
        let mut child = spawn_logged(command, &log);
        let progressed = wait_for(LIMIT, || {
            newest(work.path()) > before || child.try_wait().ok().flatten().is_some()
        });
        let metrics = scrape_metrics(&log_of(&log));
        kill_9(&mut child);
        assert!(progressed, "round {round}: no new checkpoint:\n{}", log_of(&log));
        spills += sample(&metrics, "tagflow_state_spills_total")
            .and_then(|value| value.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no spill counter in the metrics:\n{metrics}"));
        let manifest = complete_checkpoints(work.path()).pop().unwrap();
        assert_eq!(manifest.workers, 3);
        covered.push(events_covered(&manifest));
    }
    assert!(covered[0] < EVENTS as i64, "the first kill came too late to matter: {covered:?}");
    assert!(spills > 0, "the bound never made an operator spill");

    let mut rescaled = job("2");
    rescaled.arg("--until-caught-up");
    let stderr = run_ok(rescaled);
    assert!(stderr.contains("restoring checkpoint"), "{stderr}");
    assert_exact(&redis);

    // A Redis that lost everything is rewritten from the whole state, not
    // only from what the bound keeps cached.
    let mut conn = redis::Client::open(redis.as_str()).unwrap().get_connection().unwrap();
    redis::cmd("FLUSHDB").exec(&mut conn).unwrap();
    let mut again = job("2");
    again.arg("--until-caught-up");
    let stderr = run_ok(again);
    assert!(stderr.contains("Redis rewritten from state"), "{stderr}");
    assert_exact(&redis);
}

#[test]
fn a_checkpoint_of_another_format_version_is_refused_with_what_to_do() {
    let dataset = dataset();
    let work = tempfile::tempdir().unwrap();
    let redis = redis_database();
    let mut child = spawn(job_command_unbounded(&dataset.topics, &redis, work.path()));
    let found = wait_for(LIMIT, || !complete_checkpoints(work.path()).is_empty());
    kill_9(&mut child);
    assert!(found, "no checkpoint was completed");

    // Rewrite the newest manifest as an older build would have sealed it.
    let mut manifest = complete_checkpoints(work.path()).pop().unwrap();
    manifest.format_version = 1;
    manifest.write(&checkpoint_dir(work.path()).join(manifest.id.to_string())).unwrap();

    let output = run_to_end(job_command(&dataset.topics, &redis, work.path()), LIMIT);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "an old-format checkpoint must not start the job");
    assert!(stderr.contains("format version 1"), "{stderr}");
    assert!(stderr.contains("resync-redis") && stderr.contains("--restore none"), "{stderr}");

    // Following the advice: a fresh start recomputes everything exactly.
    std::fs::rename(checkpoint_dir(work.path()), work.path().join("old-checkpoints")).unwrap();
    let mut fresh = job_command(&dataset.topics, &redis, work.path());
    fresh.args(["--restore", "none"]);
    run_ok(fresh);
    assert_exact(&redis);
}
