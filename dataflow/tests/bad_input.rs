//! Bad events mixed into the topics go to the dead-letter topic with the
//! right reason and origin headers; good events' results are unaffected.
//! Events delivered twice (a client retrying, a producer resending) count
//! once, across a kill -9 and a rescale.

#![allow(clippy::unwrap_used, reason = "test helpers fail loudly")]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use common::oracle::recompute;
use common::process::{kill_9, scrape_metrics, spawn_logged, wait_for};
use common::redis_check::differences;
use common::run::{
    START_TIME_MS, checkpoint_dir, job_command, job_command_unbounded, produce_dataset,
    produce_dataset_at, produce_into, read_raw, run_to_end,
};
use rdkafka::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use state::{CheckpointDir, CheckpointStore};
use testkit::{Stack, read_topic, redis_database};

fn bad_messages() -> Vec<(&'static str, Vec<u8>)> {
    let good = r#"{"eventId":"bad-0","userId":"u-bad","productId":"p1","eventType":"view","timestamp":1795647600000,"tags":["x"]}"#;
    vec![
        ("malformed_json", b"{not json".to_vec()),
        ("malformed_json", br#"{"eventId":"truncated""#.to_vec()),
        ("schema", br#"{"eventId":"bad-1","userId":"u-bad"}"#.to_vec()),
        ("schema", good.replace("1795647600000", r#""yesterday""#).into_bytes()),
        ("unknown_event_type", good.replace(r#""view""#, r#""wishlist""#).into_bytes()),
        ("invalid_tags", good.replace(r#"["x"]"#, "[]").into_bytes()),
        ("empty_field", good.replace(r#""u-bad""#, r#""""#).into_bytes()),
        ("timestamp_out_of_range", good.replace("1795647600000", "42").into_bytes()),
        ("oversize", good.replace(r#""p1""#, &format!("\"{}\"", "p".repeat(17_000))).into_bytes()),
    ]
}

#[test]
fn bad_events_are_dead_lettered_and_good_results_stay_exact() {
    let dataset = produce_dataset("dataflow-bad-input", 20_000, 3);
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &Stack::get().brokers)
        .set("message.max.bytes", "100000")
        .create()
        .unwrap();
    let bad = bad_messages();
    for (i, (_, payload)) in bad.iter().enumerate() {
        let topic = dataset.topics.topics.event_topics()[i % 3];
        producer.send(BaseRecord::to(topic).key("u-bad").payload(payload)).unwrap();
    }
    producer.flush(Duration::from_secs(30)).unwrap();

    let redis = redis_database();
    let state = tempfile::tempdir().unwrap();
    let output =
        run_to_end(job_command(&dataset.topics, &redis, state.path()), Duration::from_secs(300));
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    let dead = read_topic(&dataset.topics.topics.dead_letter);
    let mut by_payload: BTreeMap<Vec<u8>, HashMap<String, String>> = BTreeMap::new();
    for message in dead {
        by_payload.insert(message.payload.unwrap_or_default(), message.headers);
    }
    assert_eq!(
        by_payload.len(),
        bad.len(),
        "dead letters: {:?}",
        by_payload.values().collect::<Vec<_>>()
    );
    for (i, (reason, payload)) in bad.iter().enumerate() {
        let headers = by_payload
            .get(payload)
            .unwrap_or_else(|| panic!("bad message {i} ({reason}) not dead-lettered"));
        assert_eq!(headers.get("reason").map(String::as_str), Some(*reason), "message {i}");
        assert_eq!(
            headers.get("source.topic").map(String::as_str),
            Some(dataset.topics.topics.event_topics()[i % 3])
        );
        assert!(headers.contains_key("source.partition") && headers.contains_key("source.offset"));
        assert!(!headers["error"].is_empty());
    }

    // All messages, good and bad, as they are in Kafka now: the oracle skips the bad ones.
    let expected = recompute(&read_raw(&dataset.topics), 10_000);
    assert_eq!(expected.counts.values().map(|c| c.iter().sum::<u64>()).sum::<u64>(), 20_000);
    let diffs = differences(&redis, &expected, 5);
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}

#[test]
fn every_event_delivered_twice_counts_once_across_a_kill_and_a_rescale() {
    // 20,000 events over 200 s of event time: all inside the default
    // --dedupe-window (10 minutes) of each user's newest event.
    const EVENTS: u64 = 20_000;
    let dataset = produce_dataset_at("dataflow-duplicates", EVENTS, 3, START_TIME_MS, 100.0);
    let (redis, work) = (redis_database(), tempfile::tempdir().unwrap());
    let limit = Duration::from_secs(300);
    let dir = CheckpointDir::new(checkpoint_dir(work.path()));
    let newest = || {
        dir.list().ok().and_then(|l| l.iter().rev().find_map(|c| c.manifest.as_ref().ok().cloned()))
    };
    let covers = |events: u64| {
        newest().is_some_and(|m| {
            m.offsets.iter().map(|o| o.next_offset).sum::<i64>() == i64::try_from(events).unwrap()
        })
    };
    // With 3 workers until a checkpoint covers every event, then kill -9.
    let mut first = job_command_unbounded(&dataset.topics, &redis, work.path());
    first.args(["--workers", "3"]);
    let mut child = spawn_logged(first, &work.path().join("first.log"));
    let checkpointed = wait_for(limit, || covers(EVENTS));
    kill_9(&mut child);
    assert!(checkpointed, "no checkpoint covered the first delivery");

    // The same generator again: every event a second time, byte for byte,
    // read with 2 workers from the 3 workers' checkpoint (a rescale), until
    // a checkpoint covers them too, then kill -9.
    produce_into(&dataset.topics, EVENTS, 11, START_TIME_MS, 100.0);
    assert_eq!(read_raw(&dataset.topics).len(), 2 * dataset.raw.len(), "resent");
    let log = work.path().join("second.log");
    let mut second = job_command_unbounded(&dataset.topics, &redis, work.path());
    second.args(["--workers", "2"]).env("RUST_LOG", "info");
    let mut child = spawn_logged(second, &log);
    let caught_up = wait_for(limit, || covers(2 * EVENTS));
    let metrics = scrape_metrics(&std::fs::read_to_string(&log).unwrap());
    kill_9(&mut child);
    assert!(caught_up, "no checkpoint covered the second delivery");
    let duplicates = metrics
        .lines()
        .find_map(|line| line.strip_prefix("tagflow_duplicate_events_total "))
        .unwrap_or_else(|| panic!("no duplicate counter in:\n{metrics}"));
    assert_eq!(duplicates, EVENTS.to_string(), "every resent event was recognised");

    // Once more from that checkpoint with 1 worker, then compare with the
    // events sent once.
    let mut third = job_command(&dataset.topics, &redis, work.path());
    third.args(["--workers", "1"]);
    let output = run_to_end(third, limit);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let expected = recompute(&dataset.raw, 10_000);
    let diffs = differences(&redis, &expected, 5);
    assert!(diffs.is_empty(), "Redis differs from sending once:\n{}", diffs.join("\n"));
}
