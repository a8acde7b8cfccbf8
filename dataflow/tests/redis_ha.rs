//! The job against highly available Redis: a Sentinel-managed primary that
//! fails over (`redis+sentinel://`), and a Redis Cluster
//! (`redis+cluster://`) whose primary fails over. Setups come from testkit
//! ([`PrivateSentinel`], [`PrivateCluster`]); results are compared with the
//! independent recomputation.

#![allow(clippy::unwrap_used, reason = "test helpers fail loudly")]

mod common;

use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use common::oracle::{Expected, recompute};
use common::process::{kill_9, log_of, scrape_metrics, spawn_logged, time_until};
use common::redis_check::{differences, differences_with_shards};
use common::run::{START_TIME_MS, job_command_unbounded, produce_paced, read_raw};
use model::keys;
use redis::Commands;
use testkit::{EventTopics, PrivateCluster, PrivateSentinel};

/// Events produced while the primary is killed.
const EVENTS: u64 = 60_000;
/// Their wall-clock rate (events per second): about 20 s of load.
const RATE: f64 = 3_000.0;

/// Whether the job has written through `url` yet (its checkpoint marker).
fn job_has_written(url: &str) -> bool {
    let timeouts = model::redis_target::Timeouts::uniform(Duration::from_secs(2));
    model::redis_target::RedisTarget::parse(url)
        .unwrap()
        .connect(timeouts)
        .and_then(|mut conn| conn.exists::<_, bool>(model::keys::CHECKPOINT_MARKER))
        .unwrap_or(false)
}

/// Starts the job on `topics` writing to `url`, logging at info to `log`.
fn start_job(topics: &EventTopics, url: &str, work: &Path, log: &Path) -> Child {
    let mut command = job_command_unbounded(topics, url, work);
    command.env("RUST_LOG", "info");
    spawn_logged(command, log)
}

/// Produces [`EVENTS`] at [`RATE`] into `topics` while `during` runs (it
/// gets the moment the load started); then the recomputation of everything
/// in the topics.
fn under_load(topics: &EventTopics, during: impl FnOnce() + Send) -> Expected {
    std::thread::scope(|scope| {
        let producer = scope.spawn(|| {
            produce_paced(topics, EVENTS, 11, (START_TIME_MS, 40.0), RATE, Duration::from_secs(60))
        });
        during();
        let report = producer.join().unwrap();
        assert!(report.is_complete(), "{report:?}");
    });
    recompute(&read_raw(topics), 10_000)
}

/// Sends `signal` (`STOP`, `CONT`) to `child`.
fn signal(child: &Child, signal: &str) {
    let status =
        Command::new("kill").arg(format!("-{signal}")).arg(child.id().to_string()).status();
    assert!(status.unwrap().success(), "kill -{signal}");
}

/// The primary is killed (SIGKILL) while 3,000 events a second arrive: the
/// job follows the sentinels to the promoted replica, goes on, and Redis
/// ends equal to the recomputation. The replica may have missed the last
/// writes the old primary acknowledged; the job notices the new primary
/// (its replication id) and rewrites Redis from its newest checkpoint.
#[test]
fn a_sentinel_failover_under_load_is_followed_and_redis_ends_exact() {
    let mut sentinel = PrivateSentinel::start();
    let url = sentinel.url(0);
    let topics = EventTopics::create("redis-sentinel-load", 3);
    let work = tempfile::tempdir().unwrap();
    let log = work.path().join("job.log");
    let mut job = start_job(&topics, &url, work.path(), &log);
    let expected = under_load(&topics, || {
        assert!(
            time_until(Duration::from_secs(60), || job_has_written(&url)).is_some(),
            "the job wrote nothing through the sentinels:\n{}",
            log_of(&log)
        );
        std::thread::sleep(Duration::from_secs(3));
        let old = sentinel.kill_primary();
        let new = sentinel.wait_for_failover(old, Duration::from_secs(30));
        eprintln!("primary {old} killed; the sentinels promoted {new}");
    });
    let converged =
        time_until(Duration::from_secs(120), || differences(&url, &expected, 5).is_empty());
    let text = log_of(&log);
    let alive = job.try_wait().unwrap().is_none();
    let metrics = if alive { scrape_metrics(&text) } else { String::new() };
    kill_9(&mut job);
    assert!(alive, "the job process stopped:\n{text}");
    let diffs = differences(&url, &expected, 5);
    assert!(converged.is_some(), "Redis differs from the recomputation:\n{}", diffs.join("\n"));
    assert!(text.contains("primary changed") || text.contains("Redis lost"), "{text}");
    assert!(!metrics.contains("tagflow_redis_resyncs_total 0\n"), "{metrics}");
    eprintln!("exact {converged:?} after the load ended");
}

/// A promoted replica that lacks acknowledged writes while the job's
/// sentinel key is still there (it was replicated long before): simulated
/// exactly by deleting result keys on the new primary while the job is
/// stopped (SIGSTOP) across the failover. The sentinel check alone passes;
/// the changed primary is what tells the job to rewrite Redis, which then
/// equals the recomputation again.
#[test]
fn writes_a_promoted_replica_lacks_are_rewritten() {
    let mut sentinel = PrivateSentinel::start();
    let url = sentinel.url(0);
    let topics = EventTopics::create("redis-sentinel-lost", 3);
    let expected = under_load(&topics, || {});
    let work = tempfile::tempdir().unwrap();
    let log = work.path().join("job.log");
    let mut job = start_job(&topics, &url, work.path(), &log);
    let exact = || differences(&url, &expected, 5).is_empty();
    let before = time_until(Duration::from_secs(120), exact);
    assert!(before.is_some(), "never exact before the failover:\n{}", log_of(&log));

    signal(&job, "STOP");
    let old = sentinel.kill_primary();
    let new = sentinel.wait_for_failover(old, Duration::from_secs(30));
    let mut primary = sentinel.node(new).unwrap();
    let users: Vec<&String> = expected.scores.keys().take(50).collect();
    for user in &users {
        let _: () = primary.del(model::keys::user_profile(user)).unwrap();
        let _: () = primary.hdel(model::keys::USER_PROFILES, user.as_str()).unwrap();
    }
    let sentinels = (0..3)
        .filter(|w| primary.exists(model::keys::writer_sentinel(*w)).unwrap_or(false))
        .count();
    assert_eq!(sentinels, 3, "the job's sentinels reached the replica");
    assert!(!exact(), "the deletions show");
    signal(&job, "CONT");

    let repaired = time_until(Duration::from_secs(60), exact);
    let text = log_of(&log);
    let alive = job.try_wait().unwrap().is_none();
    kill_9(&mut job);
    assert!(alive, "the job process stopped:\n{text}");
    assert!(
        repaired.is_some(),
        "the lost writes were not rewritten:\n{}\n{text}",
        differences(&url, &expected, 5).join("\n")
    );
    assert!(text.contains("primary changed"), "{text}");
    eprintln!("repaired {repaired:?} after the job resumed");
}

/// Shard keys per shared hash in the cluster test.
const SHARDS: u16 = 16;

/// On a Redis Cluster, with `--shared-hash-shards 16`, the job's per-user
/// and per-(day, product) keys and the shard keys of the three shared
/// hashes spread over the three primaries, and the results equal the
/// recomputation; a primary killed under load fails over to its replica,
/// and the job goes on and ends exact. (Without shards each shared hash is
/// one key on one primary: bench/cluster measures that hot spot.)
#[test]
fn on_a_cluster_results_are_exact_through_a_primary_failover_under_load() {
    let mut cluster = PrivateCluster::start();
    let url = cluster.url();
    let topics = EventTopics::create("redis-cluster-load", 3);
    let work = tempfile::tempdir().unwrap();
    let log = work.path().join("job.log");
    let mut command = job_command_unbounded(&topics, &url, work.path());
    command.env("RUST_LOG", "info").arg("--shared-hash-shards").arg(SHARDS.to_string());
    let mut job = spawn_logged(command, &log);
    let expected = under_load(&topics, || {
        assert!(
            time_until(Duration::from_secs(60), || job_has_written(&url)).is_some(),
            "the job wrote nothing to the cluster:\n{}",
            log_of(&log)
        );
        std::thread::sleep(Duration::from_secs(3));
        for hash in [keys::USER_INTEREST_TAG, keys::USER_PROFILES, keys::HOT_PAGEVIEW_COUNTS] {
            let owners: std::collections::BTreeSet<u16> = (0..SHARDS)
                .map(|shard| cluster.primary_of(&format!("{hash}:shard:{shard}")))
                .collect();
            assert_eq!(owners.len(), 3, "{hash}'s {SHARDS} shard keys are on {owners:?}");
        }
        let load = cluster.load_per_primary();
        eprintln!("(port, commands processed, used memory) per primary: {load:?}");
        let old = cluster.kill_primary_of(&format!("{}:shard:0", keys::USER_PROFILES));
        cluster.wait_until_ok(Duration::from_secs(30));
        eprintln!("primary {old} killed; primaries now {:?}", cluster.primaries());
    });
    let converged = time_until(Duration::from_secs(120), || {
        differences_with_shards(&url, &expected, 5, SHARDS).is_empty()
    });
    let text = log_of(&log);
    let alive = job.try_wait().unwrap().is_none();
    kill_9(&mut job);
    assert!(alive, "the job process stopped:\n{text}");
    // Every pipeline routes on a cluster: no command without a key that
    // must share a node with others (MULTI/EXEC), no keys across slots.
    for refusal in ["MULTI", "EXEC without", "CrossSlot"] {
        assert!(!text.contains(refusal), "the cluster refused a pipeline ({refusal}):\n{text}");
    }
    let diffs = differences_with_shards(&url, &expected, 5, SHARDS);
    assert!(converged.is_some(), "Redis differs from the recomputation:\n{}", diffs.join("\n"));
    let spread = cluster.keys_per_primary();
    eprintln!("keys per primary: {spread:?}");
    assert_eq!(spread.len(), 3, "three primaries serve the slots");
    let total: usize = spread.iter().map(|(_, n)| n).sum();
    assert!(
        spread.iter().all(|(_, n)| *n > total / 6),
        "per-user and per-(day, product) keys spread over the primaries: {spread:?}"
    );
    eprintln!("exact {converged:?} after the load ended");
}
