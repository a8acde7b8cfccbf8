//! Bad events mixed into the topics go to the dead-letter topic with the
//! right reason and origin headers; good events' results are unaffected.

#![allow(clippy::unwrap_used, reason = "test helpers fail loudly")]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use common::oracle::recompute;
use common::redis_check::differences;
use common::run::{job_command, produce_dataset, read_raw, run_to_end};
use rdkafka::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
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
