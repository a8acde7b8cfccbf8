//! Faults around the job, against the real cluster and Redis: a second
//! instance on the same directories, a Redis that stops answering, a Redis
//! that refuses writes, settings changed under a checkpoint, events deleted
//! before they were read, and outputs Kafka refuses. Results are compared with the independent
//! recomputation.

#![allow(clippy::unwrap_used, reason = "test helpers fail loudly")]

mod common;

use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::oracle::recompute;
use common::process::{kill_9, log_of, scrape_metrics, spawn_logged, time_until, wait_for};
use common::redis_check::differences;
use common::run::{
    Dataset, START_TIME_MS, checkpoint_dir, complete_checkpoints, job_command,
    job_command_unbounded, produce_dataset, produce_into, read_raw, run_to_end, with_brokers,
};
use rdkafka::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use state::Manifest;
use state::{CheckpointDir, CheckpointStore};
use testkit::{
    BlackHoleProxy, PrivateRedis, Stack, delete_records_to_end, read_topic, redis_database,
    set_topic_config,
};

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
    // With Kafka not answering, the lock still refuses it at once: it does
    // not wait out --start-retry-for (5 minutes) before looking.
    let unreachable =
        with_brokers(&job_command(&dataset.topics, &redis, work.path()), "127.0.0.1:1");
    let started = Instant::now();
    let third = run_to_end(unreachable, Duration::from_secs(60));
    let third_took = started.elapsed();
    let first_alive = first.try_wait().unwrap().is_none();
    kill_9(&mut first);
    assert!(checkpointed, "the first instance made no checkpoint");
    let expected = format!("locked by another dataflow process (pid {})", first.id());
    for refused in [&second, &third] {
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(!refused.status.success(), "a second instance ran:\n{stderr}");
        assert!(stderr.contains(&expected), "expected {expected:?} in:\n{stderr}");
    }
    assert!(third_took < Duration::from_secs(10), "refused only after {third_took:?}");
    assert!(first_alive, "the second instance stopped the first");
    // Once the holder is gone (kill -9 included), the lock is free again.
    let output = run_to_end(job_command(&dataset.topics, &redis, work.path()), LIMIT);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_exact(&redis);
}

fn assert_exact(redis: &str) {
    let diffs = differences(redis, &recompute(&dataset().raw, 10_000), 5);
    assert!(diffs.is_empty(), "Redis differs from the recomputation:\n{}", diffs.join("\n"));
}

fn covers_everything(manifest: &Manifest) -> bool {
    manifest.offsets.iter().map(|o| o.next_offset).sum::<i64>() == EVENTS as i64
}

#[test]
fn a_redis_that_stops_answering_stalls_the_job_which_goes_on_once_it_answers() {
    let dataset = dataset();
    let work = tempfile::tempdir().unwrap();
    let redis = redis_database();
    // redis://127.0.0.1:6379/<db>, reached through the proxy.
    let (server, db) = redis.trim_start_matches("redis://").rsplit_once('/').unwrap();
    let proxy = BlackHoleProxy::start(server);
    let through_proxy = format!("redis://{}/{db}", proxy.address());
    let mut command = job_command_unbounded(&dataset.topics, &through_proxy, work.path());
    command.args(["--redis-timeout", "1s"]);
    let log = work.path().join("job.log");
    let mut child = spawn_logged(command, &log);
    assert!(wait_for(LIMIT, || complete_checkpoints(work.path()).iter().any(covers_everything)));
    let before = complete_checkpoints(work.path()).last().unwrap().id;
    // Every checkpoint writes its marker through a worker's Redis writer,
    // and its parts wait for the writers: a writer stuck on a connection
    // that never answers stops every later checkpoint.
    proxy.swallow(true);
    std::thread::sleep(Duration::from_secs(3));
    proxy.swallow(false);
    let went_on = wait_for(LIMIT, || {
        complete_checkpoints(work.path()).last().is_some_and(|m| m.id >= before + 3)
    });
    let alive = child.try_wait().unwrap().is_none();
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let status = child.wait().unwrap();
    let log = log_of(&log);
    assert!(went_on, "no checkpoint completed after Redis answered again:\n{log}");
    assert!(alive && status.success(), "the job must stall, not fail: {status}\n{log}");
    // The calls that timed out: writes, or the checkpoint's sentinel check.
    let logged = log.contains("redis write failed") || log.contains("redis sentinel check failed");
    assert!(logged, "the timeouts were not logged:\n{log}");
    assert_exact(&redis);
}

/// A job started while Kafka swallows every request and Redis refuses
/// connections (a whole-stack restart, a job restarted next to a broker
/// coming back) waits for both, then runs exactly; it exited before.
#[test]
fn a_job_started_before_kafka_and_redis_answer_waits_for_them() {
    let dataset = dataset();
    let work = tempfile::tempdir().unwrap();
    let mut redis = PrivateRedis::start();
    redis.kill(); // its port is known; nothing answers there until restarted
    let proxy = BlackHoleProxy::start(Stack::get().brokers.split(',').next().unwrap());
    proxy.swallow(true);
    let mut command = job_command(&dataset.topics, &redis.url(), work.path());
    command.env("RUST_LOG", "info");
    let command = with_brokers(&command, &proxy.address().to_string());
    let log = work.path().join("job.log");
    let mut child = spawn_logged(command, &log);
    let logged =
        |line: &str| time_until(Duration::from_secs(60), || log_of(&log).contains(line)).is_some();

    let waited_for_kafka = logged("reading the event topics' metadata failed; retrying");
    let alive_without_kafka = child.try_wait().unwrap().is_none();
    proxy.swallow(false);
    let waited_for_redis = logged("starting the dataflow failed; retrying");
    let alive_without_redis = child.try_wait().unwrap().is_none();
    let metrics = if alive_without_redis { scrape_metrics(&log_of(&log)) } else { String::new() };
    redis.restart();
    let finished = wait_for(LIMIT, || child.try_wait().unwrap().is_some());
    if !finished {
        kill_9(&mut child);
    }
    let text = log_of(&log);
    assert!(waited_for_kafka && alive_without_kafka, "no retry while Kafka swallowed:\n{text}");
    assert!(waited_for_redis && alive_without_redis, "no retry while Redis was down:\n{text}");
    let retries = metrics
        .lines()
        .find_map(|line| line.strip_prefix("tagflow_start_retries_total "))
        .and_then(|n| n.trim().parse::<u64>().ok());
    assert!(retries.is_some_and(|n| n >= 2), "retries not counted:\n{metrics}");
    assert!(finished && child.wait().unwrap().success(), "the job did not finish:\n{text}");
    assert_exact(&redis.url());
}

#[test]
fn pipelines_redis_refuses_are_retried_until_it_takes_them() {
    let dataset = dataset();
    let work = tempfile::tempdir().unwrap();
    let redis = PrivateRedis::start();
    // Out of memory: Redis refuses every write (OOM), as a full or a
    // read-only one does.
    redis.config_set("maxmemory", "1");
    let log = work.path().join("job.log");
    let mut child = spawn_logged(job_command(&dataset.topics, &redis.url(), work.path()), &log);
    std::thread::sleep(Duration::from_secs(4));
    redis.config_set("maxmemory", "0");
    let finished = wait_for(LIMIT, || child.try_wait().unwrap().is_some());
    if !finished {
        kill_9(&mut child);
    }
    let log = log_of(&log);
    assert!(finished, "the job did not finish once Redis took writes:\n{log}");
    assert!(child.wait().unwrap().success(), "{log}");
    assert!(log.contains("redis refused a pipeline"), "no refusal was logged:\n{log}");
    assert_exact(&redis.url());
}

#[test]
fn a_checkpoint_taken_with_other_settings_is_refused_unless_the_change_is_accepted() {
    let dataset = dataset();
    let work = tempfile::tempdir().unwrap();
    let redis = redis_database();
    let log = work.path().join("first.log");
    let mut first = spawn_logged(job_command_unbounded(&dataset.topics, &redis, work.path()), &log);
    let all = wait_for(LIMIT, || complete_checkpoints(work.path()).iter().any(covers_everything));
    kill_9(&mut first);
    assert!(all, "no checkpoint covered every event:\n{}", log_of(&log));
    let recorded = complete_checkpoints(work.path()).pop().unwrap().settings;
    assert_eq!(recorded.get("top-n").map(String::as_str), Some("5"), "{recorded:?}");
    assert_eq!(recorded.get("weights").map(String::as_str), Some("1,3,5"), "{recorded:?}");

    let with_top_3 = || {
        let mut command = job_command(&dataset.topics, &redis, work.path());
        command.args(["--top-n", "3"]);
        command
    };
    let refused = run_to_end(with_top_3(), LIMIT);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "a restore under other settings ran:\n{stderr}");
    assert!(stderr.contains("--top-n 5 (this run: 3)"), "{stderr}");
    assert!(stderr.contains("--accept-config-change"), "{stderr}");

    let mut accepted = with_top_3();
    accepted.arg("--accept-config-change");
    let output = run_to_end(accepted, LIMIT);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    // Redis was rewritten under the new setting: every profile has its top 3.
    let diffs = differences(&redis, &recompute(&dataset.raw, 10_000), 3);
    assert!(diffs.is_empty(), "Redis differs from the recomputation:\n{}", diffs.join("\n"));
}

#[test]
fn events_deleted_before_the_job_read_them_stop_a_restore_unless_the_loss_is_accepted() {
    const FIRST: i64 = 20_000;
    let data = produce_dataset("dataflow-retention-gap", FIRST as u64, 3);
    let work = tempfile::tempdir().unwrap();
    let redis = redis_database();
    let read = |manifest: &Manifest| manifest.offsets.iter().map(|o| o.next_offset).sum::<i64>();
    let log = work.path().join("first.log");
    let mut first = spawn_logged(job_command_unbounded(&data.topics, &redis, work.path()), &log);
    let all =
        wait_for(LIMIT, || complete_checkpoints(work.path()).iter().any(|m| read(m) == FIRST));
    kill_9(&mut first);
    assert!(all, "no checkpoint covered every event:\n{}", log_of(&log));
    let restored = complete_checkpoints(work.path()).pop().unwrap();
    let view = data.topics.topics.view.clone();
    let from = restored.offsets.iter().find(|o| o.topic == view && o.partition == 0).unwrap();
    let from = from.next_offset;

    // More events arrive, and retention deletes partition 0 of the view
    // topic before the job, stopped, read them.
    produce_into(&data.topics, 5_000, 12, START_TIME_MS + 3_600_000, 40.0);
    let low = delete_records_to_end(&view, 0);
    assert!(low > from, "nothing new reached {view}/0");

    let refused = run_to_end(job_command(&data.topics, &redis, work.path()), LIMIT);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "a restore past deleted events ran:\n{stderr}");
    let named = format!("{view}/0: offsets {from}..{low} were deleted");
    assert!(stderr.contains(&named), "expected {named:?} in:\n{stderr}");
    assert!(stderr.contains("--on-data-loss continue"), "{stderr}");

    let mut command = job_command_unbounded(&data.topics, &redis, work.path());
    command.args(["--on-data-loss", "continue"]).env("RUST_LOG", "info");
    let log = work.path().join("continue.log");
    let mut child = spawn_logged(command, &log);
    let at_low = |m: &Manifest| {
        m.offsets.iter().any(|o| o.topic == view && o.partition == 0 && o.next_offset >= low)
    };
    let went_on = wait_for(LIMIT, || complete_checkpoints(work.path()).iter().any(at_low));
    let text = log_of(&log);
    let metrics = if went_on { scrape_metrics(&text) } else { String::new() };
    kill_9(&mut child);
    assert!(went_on, "the job did not go on past the lost range:\n{text}");
    let counted = format!(
        "tagflow_input_offsets_lost_total{{topic=\"{view}\",partition=\"0\"}} {}",
        low - from
    );
    assert!(metrics.contains(&counted), "expected {counted:?} in:\n{metrics}");
    assert!(text.contains("events deleted from Kafka before they were read"), "{text}");
}

/// 4 KiB that are neither JSON nor compressible (xorshift noise).
fn incompressible_garbage() -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b'!' + u8::try_from(x % 90).unwrap()
        })
        .collect()
}

/// A dead letter Kafka refuses for good (larger than the dead-letter
/// topic's `max.message.bytes`) fails the checkpoint that covers its event:
/// the job exits rather than complete checkpoints without it. Once the
/// topic takes it, a restart replays from the last complete checkpoint and
/// produces it (outputs are at least once). A job that only counted failed
/// deliveries went on checkpointing, and the dead letter was lost for good.
#[test]
fn an_output_kafka_refuses_fails_its_checkpoint_and_is_produced_after_a_restart() {
    const GOOD: u64 = 5_000;
    let data = produce_dataset("dataflow-refused-output", GOOD, 3);
    let dead_letter = data.topics.topics.dead_letter.clone();
    set_topic_config(&dead_letter, "max.message.bytes", "1024");
    let garbage = incompressible_garbage();
    let producer: BaseProducer =
        ClientConfig::new().set("bootstrap.servers", &Stack::get().brokers).create().unwrap();
    let record = BaseRecord::to(&data.topics.topics.view).key("u-refused").payload(&garbage);
    producer.send(record).map_err(|(e, _)| e).unwrap();
    producer.flush(Duration::from_secs(30)).unwrap();

    let work = tempfile::tempdir().unwrap();
    let redis = redis_database();
    let log = work.path().join("refused.log");
    let mut child = spawn_logged(job_command_unbounded(&data.topics, &redis, work.path()), &log);
    let exited = wait_for(LIMIT, || child.try_wait().unwrap().is_some());
    if !exited {
        kill_9(&mut child);
    }
    let text = log_of(&log);
    assert!(exited, "the job went on without its dead letter:\n{text}");
    assert!(!child.wait().unwrap().success(), "{text}");
    assert!(text.contains("could not be delivered to Kafka"), "{text}");
    let read = |m: &Manifest| m.offsets.iter().map(|o| o.next_offset).sum::<i64>();
    let covering: Vec<u64> = complete_checkpoints(work.path())
        .iter()
        .filter(|m| read(m) > GOOD as i64)
        .map(|m| m.id)
        .collect();
    assert!(covering.is_empty(), "checkpoints {covering:?} cover the undelivered dead letter");

    set_topic_config(&dead_letter, "max.message.bytes", "1048588");
    let output = run_to_end(job_command(&data.topics, &redis, work.path()), LIMIT);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let dead: Vec<_> = read_topic(&dead_letter).into_iter().filter_map(|m| m.payload).collect();
    assert!(
        dead.contains(&garbage),
        "the refused dead letter never arrived ({} others)",
        dead.len()
    );
    let diffs = differences(&redis, &recompute(&read_raw(&data.topics), 10_000), 5);
    assert!(diffs.is_empty(), "Redis differs from the recomputation:\n{}", diffs.join("\n"));
}

/// Redis loses every key under the running job, by `FLUSHALL` and by being
/// replaced with an empty server. Each time, the job notices at its next
/// checkpoint (its writers' sentinels are gone), restores the newest
/// checkpoint in the same process, rewrites Redis from it and replays, so
/// Redis equals the recomputation again within 30 s, the process never
/// stopping. Before, nothing repaired it: the job wrote only later changes.
#[test]
fn redis_losing_its_data_under_the_running_job_is_repaired_within_30_s() {
    let dataset = dataset();
    let work = tempfile::tempdir().unwrap();
    let mut redis = PrivateRedis::start();
    let url = redis.url();
    let expected = recompute(&dataset.raw, 10_000);
    let exact = || differences(&url, &expected, 5).is_empty();
    let log = work.path().join("job.log");
    let mut command = job_command_unbounded(&dataset.topics, &url, work.path());
    command.env("RUST_LOG", "info");
    let mut child = spawn_logged(command, &log);
    let before = time_until(LIMIT, exact);

    redis::cmd("FLUSHALL").exec(&mut redis.connection().unwrap()).unwrap();
    let after_flush = before.and_then(|_| time_until(Duration::from_secs(30), exact));

    redis.kill();
    redis.restart();
    let after_replacement = after_flush.and_then(|_| time_until(Duration::from_secs(30), exact));

    let text = log_of(&log);
    let alive = child.try_wait().unwrap().is_none();
    let metrics = if alive { scrape_metrics(&text) } else { String::new() };
    kill_9(&mut child);
    assert!(before.is_some(), "Redis never matched before the faults:\n{text}");
    assert!(after_flush.is_some(), "not repaired within 30 s of FLUSHALL:\n{text}");
    assert!(after_replacement.is_some(), "not repaired within 30 s of an empty Redis:\n{text}");
    assert!(alive, "the job process stopped:\n{text}");
    assert!(
        metrics.contains("tagflow_redis_resyncs_total 2\n"),
        "two repairs expected:\n{metrics}"
    );
    assert!(text.contains("Redis lost the job's writes"), "{text}");
    eprintln!(
        "repaired in {after_flush:?} after FLUSHALL, {after_replacement:?} after replacement"
    );
}
