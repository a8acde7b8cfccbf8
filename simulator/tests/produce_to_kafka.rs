//! The simulator against the real cluster: every event arrives, in the
//! topic of its type, keyed by its user, byte-identical to the sequence the
//! same seed and flags generate offline.

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use model::Event;
use testkit::{EventTopics, Stack, read_topic};

const SIMULATOR: &str = env!("CARGO_BIN_EXE_simulator");
const EVENTS: usize = 100_000;
const SEQUENCE_FLAGS: [&str; 10] = [
    "--seed",
    "7",
    "--users",
    "5000",
    "--products",
    "500",
    "--start-time",
    "2026-11-25T22:00:00Z",
    "--event-time-rate",
    "50",
];

/// The generated sequence, as event id → JSON bytes.
fn offline_sequence(count: usize) -> Vec<Vec<u8>> {
    let output = Command::new(SIMULATOR)
        .arg("events")
        .args(SEQUENCE_FLAGS)
        .args(["--count", &count.to_string()])
        .output()
        .expect("run simulator events");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    output.stdout.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec).collect()
}

#[test]
fn every_event_arrives_in_its_topic_keyed_by_user() {
    let stack = Stack::get();
    let topics = EventTopics::create("simulator-produce", 3);
    let started = Instant::now();
    let output = Command::new(SIMULATOR)
        .arg("produce")
        .args(SEQUENCE_FLAGS)
        .args(["--count", &EVENTS.to_string(), "--rate", "0", "--quiet"])
        .args(["--brokers", &stack.brokers, "--topic-prefix", &topics.prefix])
        .output()
        .expect("run simulator produce");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains(&format!("{EVENTS} acknowledged, 0 failed")), "{stdout}");
    eprintln!("produced {EVENTS} events in {:?}", started.elapsed());

    let expected: HashMap<String, Vec<u8>> = offline_sequence(EVENTS)
        .into_iter()
        .map(|json| (Event::parse(&json).unwrap().event_id.into_owned(), json))
        .collect();
    assert_eq!(expected.len(), EVENTS, "event ids must be unique");

    let mut seen = 0;
    for topic in topics.topics.event_topics() {
        for message in read_topic(topic) {
            let payload = message.payload.expect("payload");
            let event = Event::parse(&payload).expect("schema-valid event");
            assert_eq!(topics.topics.for_type(event.event_type), topic);
            assert_eq!(message.key.as_deref(), Some(event.user_id.as_bytes()));
            assert_eq!(expected.get(event.event_id.as_ref()), Some(&payload), "bytes differ");
            seen += 1;
        }
    }
    assert_eq!(seen, EVENTS, "read back {seen} events, produced {EVENTS}");
}

#[test]
fn same_seed_and_flags_give_the_same_sequence() {
    let first = offline_sequence(20_000);
    assert_eq!(first, offline_sequence(20_000));
    assert_eq!(first.len(), 20_000);
    let other_seed = Command::new(SIMULATOR)
        .args(["events", "--seed", "8", "--count", "100", "--start-time", "2026-11-25T22:00:00Z"])
        .output()
        .unwrap();
    assert_ne!(&other_seed.stdout[..200], &first.concat()[..200]);
}

#[test]
fn unacknowledged_events_make_the_run_fail() {
    let started = Instant::now();
    let output = Command::new(SIMULATOR)
        .args(["produce", "--count", "10", "--rate", "0", "--quiet"])
        .args(["--brokers", "127.0.0.1:1", "--delivery-timeout", "2s"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("0 acknowledged"), "{stdout}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("not acknowledged"));
    assert!(started.elapsed() < Duration::from_secs(30));
}
