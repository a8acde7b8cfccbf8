//! Checkpoints in S3-compatible object storage (SeaweedFS's S3 gateway, a
//! real server): two processes of two workers with separate state
//! directories and no shared file system keep their checkpoints in a
//! bucket only; one is killed with SIGKILL and both restart from the
//! bucket; then the job is rescaled to three processes of one worker; and
//! an object store that stops answering for 30 s fails checkpoints, counted,
//! while processing goes on, and the next checkpoint after it succeeds.
//! Every final Redis state is compared with the independent recomputation.

#![allow(clippy::unwrap_used, reason = "test helpers fail loudly")]

mod common;

use std::path::Path;
use std::process::{Child, Command};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::oracle::recompute;
use common::process::{kill_9, sample, scrape_metrics, spawn_logged, wait_for};
use common::redis_check::differences;
use common::run::{Dataset, job_command_at, produce_dataset, produce_into, read_raw, run_to_end};
use testkit::s3::{PrivateS3, S3};
use testkit::{redis_database, unique_name};

const EVENTS: u64 = 200_000;
const MORE_EVENTS: u64 = 50_000;
const TOP_N: usize = 5;
const EVENTS_CAPACITY: usize = 10_000;
const LIMIT: Duration = Duration::from_secs(300);

fn dataset() -> &'static Dataset {
    static DATASET: OnceLock<Dataset> = OnceLock::new();
    DATASET.get_or_init(|| produce_dataset("dataflow-s3", EVENTS, 3))
}

/// The differences between Redis and the recomputation of every event now
/// in `topics`' partitions.
fn differences_from(raw: &[Vec<u8>], redis: &str) -> Vec<String> {
    differences(redis, &recompute(raw, EVENTS_CAPACITY), TOP_N)
}

fn assert_exact(raw: &[Vec<u8>], redis: &str) {
    let diffs = differences_from(raw, redis);
    assert!(diffs.is_empty(), "Redis differs from the recomputation:\n{}", diffs.join("\n"));
}

/// A `dataflow` command talking to `s3`.
fn dataflow(s3: &S3) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dataflow"));
    s3.configure(&mut command);
    command
}

/// `dataflow checkpoints list` of `url`: the ids of complete checkpoints.
fn complete_ids(s3: &S3, url: &str) -> Vec<u64> {
    let output =
        dataflow(s3).args(["checkpoints", "--checkpoint-dir", url, "list"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| line.contains(" complete "))
        .filter_map(|line| line.split_whitespace().next()?.parse().ok())
        .collect()
}

/// `dataflow checkpoints inspect`: checkpoint `id`'s manifest, every
/// object of which was verified.
fn inspect(s3: &S3, url: &str, id: u64) -> serde_json::Value {
    let output = dataflow(s3)
        .args(["checkpoints", "--checkpoint-dir", url, "inspect", &id.to_string()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    let (json, verdict) = stdout.rsplit_once("\ncheckpoint ").unwrap();
    assert!(verdict.contains("every file verified"), "{verdict}");
    serde_json::from_str(json).unwrap()
}

/// Writes a hostfile of `processes` free local ports into `dir`.
fn hostfile(dir: &Path, processes: usize) -> std::path::PathBuf {
    let path = dir.join(format!("hosts-{processes}"));
    let lines: String =
        (0..processes).map(|_| format!("127.0.0.1:{}\n", testkit::free_port())).collect();
    std::fs::write(&path, lines).unwrap();
    path
}

/// Process `process` of `processes` × `workers`, its state in `state`.
fn job_process(
    s3: &S3,
    (url, redis): (&str, &str),
    state: &Path,
    (process, processes, workers): (usize, usize, usize),
    hosts: &Path,
) -> Command {
    let url = std::ffi::OsString::from(url);
    let mut command = job_command_at(&dataset().topics, redis, (state, &url), "500ms");
    s3.configure(&mut command);
    command.args(["--workers", &workers.to_string(), "--processes", &processes.to_string()]);
    command.args(["--process", &process.to_string()]).arg("--hostfile").arg(hosts);
    command.env("RUST_LOG", "info");
    command
}

/// Runs every process of a job to its end (`--until-caught-up`); returns
/// their logs.
fn run_all(commands: Vec<Command>) -> Vec<String> {
    let handles: Vec<_> = commands
        .into_iter()
        .map(|mut command| {
            command.arg("--until-caught-up");
            std::thread::spawn(move || run_to_end(command, LIMIT))
        })
        .collect();
    handles
        .into_iter()
        .map(|handle| {
            let output = handle.join().unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
            assert!(output.status.success(), "a process failed:\n{stderr}");
            stderr
        })
        .collect()
}

#[test]
fn two_processes_restore_from_s3_after_a_kill_9_and_rescale_to_three_exactly() {
    let s3 = S3::stack();
    let url = s3.url(&unique_name("two-processes"));
    let redis = redis_database();
    let work = tempfile::tempdir().unwrap();
    let state = |run: &str, process: usize| work.path().join(format!("{run}-state-{process}"));
    let log = |process: usize| work.path().join(format!("first-{process}.log"));

    // Two processes of two workers, each with its own state directory. A
    // hostfile port another process took between its choice and timely's
    // bind ends both at once: start again on new ports.
    let mut attempt = 1;
    let (mut children, hosts) = loop {
        let hosts = hostfile(work.path(), 2);
        let mut children: Vec<Child> = (0..2)
            .map(|p| {
                let command =
                    job_process(s3, (&url, &redis), &state("first", p), (p, 2, 2), &hosts);
                spawn_logged(command, &log(p))
            })
            .collect();
        let mut exited = false;
        let two_checkpoints = wait_for(LIMIT, || {
            std::thread::sleep(Duration::from_millis(300));
            exited = children.iter_mut().any(|c| c.try_wait().ok().flatten().is_some());
            exited || complete_ids(s3, &url).len() >= 2
        });
        if !exited {
            assert!(two_checkpoints, "no two checkpoints in {url} within {LIMIT:?}");
            break (children, hosts);
        }
        children.iter_mut().for_each(kill_9);
        let logs: String =
            (0..2).map(|p| std::fs::read_to_string(log(p)).unwrap_or_default()).collect();
        assert!(
            attempt < 3 && logs.contains("Address already in use"),
            "a process of the first run exited:\n{logs}"
        );
        eprintln!("a hostfile port was taken (attempt {attempt}); starting again");
        for p in 0..2 {
            let _ = std::fs::remove_dir_all(state("first", p));
        }
        attempt += 1;
    };
    // kill -9 process 1; process 0 loses its peer and ends too (or is killed).
    kill_9(&mut children[1]);
    if !wait_for(Duration::from_secs(20), || children[0].try_wait().ok().flatten().is_some()) {
        kill_9(&mut children[0]);
    }
    let ids = complete_ids(s3, &url);
    let newest = *ids.last().unwrap();
    // Incremental: the newest checkpoint refers to SSTs an earlier one stored.
    let objects = |id| -> Vec<String> {
        let manifest = inspect(s3, &url, id);
        let files = manifest["files"].as_array().unwrap().iter();
        files
            .filter(|f| f["path"].as_str().unwrap().ends_with(".sst"))
            .map(|f| f["object"].as_str().unwrap().to_owned())
            .collect()
    };
    let (older, newer) = (objects(ids[ids.len() - 2]), objects(newest));
    assert!(newer.iter().any(|o| older.contains(o)), "no SST shared:\n{older:?}\n{newer:?}");
    for directory in [state("first", 0), state("first", 1)] {
        std::fs::remove_dir_all(directory).unwrap(); // S3 holds everything
    }

    // Both restart from the bucket and read to the end: exact.
    let commands =
        (0..2).map(|p| job_process(s3, (&url, &redis), &state("second", p), (p, 2, 2), &hosts));
    for log in run_all(commands.collect()) {
        assert!(log.contains("restoring checkpoint"), "{log}");
    }
    assert_exact(&dataset().raw, &redis);

    // More events, an emptied Redis, and three processes of one worker:
    // each restores the key groups it owns from the 2×2 checkpoint.
    produce_into(&dataset().topics, MORE_EVENTS, 12, common::run::START_TIME_MS + 3_600_000, 40.0);
    let mut conn = redis::Client::open(redis.as_str()).unwrap().get_connection().unwrap();
    redis::cmd("FLUSHDB").query::<()>(&mut conn).unwrap();
    let hosts = hostfile(work.path(), 3);
    let commands =
        (0..3).map(|p| job_process(s3, (&url, &redis), &state("third", p), (p, 3, 1), &hosts));
    for log in run_all(commands.collect()) {
        assert!(log.contains("restoring checkpoint"), "{log}");
        assert!(log.contains("workers=4"), "a 2×2 checkpoint: {log}");
    }
    assert_exact(&read_raw(&dataset().topics), &redis);
}

/// The value of metric `name` in the job's /metrics (its log names the
/// address).
fn metric(log: &Path, name: &str) -> f64 {
    let text = scrape_metrics(&std::fs::read_to_string(log).unwrap());
    sample(&text, name)
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

#[test]
fn an_object_store_down_for_30_s_fails_checkpoints_while_processing_goes_on() {
    let topics = testkit::EventTopics::create("dataflow-s3-outage", 3);
    produce_into(&topics, 50_000, 21, common::run::START_TIME_MS, 40.0);
    let server = PrivateS3::start();
    let s3 = server.s3();
    let url = s3.url("outage");
    let redis = redis_database();
    let work = tempfile::tempdir().unwrap();
    let job = |name: &str| {
        let url = std::ffi::OsString::from(&url);
        let state = work.path().join(name);
        let mut command = job_command_at(&topics, &redis, (&state, &url), "1s");
        s3.configure(&mut command);
        command.args(["--workers", "2", "--s3-timeout", "2s"]).env("RUST_LOG", "info");
        command
    };
    let log = work.path().join("job.log");
    let mut child = spawn_logged(job("state"), &log);
    let raw = read_raw(&topics);
    assert!(wait_for(LIMIT, || differences_from(&raw, &redis).is_empty()), "never exact");
    assert!(wait_for(LIMIT, || metric(&log, "tagflow_checkpoint_last_completed_id") >= 1.0));

    server.pause();
    let paused = Instant::now();
    let before = metric(&log, "tagflow_checkpoint_last_completed_id");
    produce_into(&topics, 20_000, 22, common::run::START_TIME_MS + 3_600_000, 40.0);
    let raw = read_raw(&topics);
    let caught_up = wait_for(Duration::from_secs(25), || differences_from(&raw, &redis).is_empty());
    assert!(caught_up, "processing stopped while the object store was down");
    let caught_up_after = paused.elapsed();
    std::thread::sleep(Duration::from_secs(30).saturating_sub(paused.elapsed()));
    let failed = metric(&log, "tagflow_checkpoints_failed_total");
    assert!(failed >= 1.0, "no failed checkpoint counted during the outage");
    assert_eq!(metric(&log, "tagflow_checkpoint_last_completed_id"), before);
    server.resume();

    let resumed = Instant::now();
    let recovered = wait_for(Duration::from_secs(60), || {
        metric(&log, "tagflow_checkpoint_last_completed_id") > before
    });
    assert!(recovered, "no checkpoint completed after the object store came back");
    eprintln!(
        "outage: {failed} checkpoints failed, Redis exact {:?} into it, next checkpoint {:?} after",
        caught_up_after,
        resumed.elapsed()
    );
    assert!(child.try_wait().unwrap().is_none(), "the job stopped");
    // The checkpoint taken after the outage restores exactly.
    kill_9(&mut child);
    let mut conn = redis::Client::open(redis.as_str()).unwrap().get_connection().unwrap();
    redis::cmd("FLUSHDB").query::<()>(&mut conn).unwrap();
    let mut restart = job("restarted");
    restart.arg("--until-caught-up");
    let output = run_to_end(restart, LIMIT);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("restoring checkpoint"), "{stderr}");
    assert_exact(&raw, &redis);
}
