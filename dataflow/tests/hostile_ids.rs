//! Hostile ids and tags, against the real cluster and Redis. Control
//! characters (`\x1f`, which the job uses inside its state keys, `\x00` and
//! a newline) in a userId, productId or tag get the event dead-lettered with
//! reason `control_character`; every other UTF-8 text (4-byte characters,
//! `:`, quotes, backslashes, U+2028) is an id like any other and comes out
//! in Redis exactly as sent: at 1 and at 3 workers, and across a rescale
//! from 3 workers to 1 with Redis wiped (every key then comes from the
//! checkpoint's state and dictionaries).

#![allow(clippy::unwrap_used, reason = "test helpers fail loudly")]

mod common;

use std::collections::BTreeSet;
use std::sync::OnceLock;
use std::time::Duration;

use common::oracle::recompute;
use common::process::{kill_9, spawn, wait_for};
use common::redis_check::differences;
use common::run::{
    START_TIME_MS, complete_checkpoints, job_command, job_command_unbounded, read_raw, run_to_end,
};
use rdkafka::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::json;
use state::Manifest;
use testkit::{EventTopics, Stack, read_topic, redis_database};

const LIMIT: Duration = Duration::from_secs(240);
const GOOD: usize = 600;

const USERS: [&str; 6] = ["u😀", "u𝔘:1", "u\"q\\", "u\u{2028}x", "ü:ß", "plain"];
const PRODUCTS: [&str; 4] = ["p😀", "p:1", "p𝔘\u{2028}", "p\"\\"];
const TAGS: [&str; 4] = ["t😀", "t:x", "𝔘", "t\"q\\"];
const TYPES: [&str; 3] = ["view", "add_to_cart", "purchase"];

struct Data {
    topics: EventTopics,
    raw: Vec<Vec<u8>>,
    bad: BTreeSet<Vec<u8>>,
}

fn event(i: usize, user: &str, product: &str, tags: &[&str]) -> serde_json::Value {
    // Five minutes apart: the events span two days.
    let timestamp = START_TIME_MS + i64::try_from(i).unwrap() * 300_000;
    json!({"eventId": format!("e{i}"), "userId": user, "productId": product,
        "eventType": TYPES[i % 3], "timestamp": timestamp, "tags": tags})
}

fn data() -> &'static Data {
    static DATA: OnceLock<Data> = OnceLock::new();
    DATA.get_or_init(|| {
        let topics = EventTopics::create("hostile-ids", 3);
        let mut events: Vec<serde_json::Value> = (0..GOOD)
            .map(|i| {
                let tags = [TAGS[i % 4], TAGS[(i / 4 + 1) % 4]];
                let tags: Vec<&str> =
                    if tags[0] == tags[1] { vec![tags[0]] } else { tags.to_vec() };
                event(i, USERS[i % 6], PRODUCTS[(i / 6) % 4], &tags)
            })
            .collect();
        let mut bad = BTreeSet::new();
        for (n, control) in ["\u{1f}", "\u{0}", "\n"].into_iter().enumerate() {
            let hostile = format!("x{control}y");
            for (k, broken) in [
                event(GOOD + 3 * n, &hostile, PRODUCTS[0], &[TAGS[0]]),
                event(GOOD + 3 * n + 1, USERS[0], &hostile, &[TAGS[0]]),
                event(GOOD + 3 * n + 2, USERS[0], PRODUCTS[0], &[TAGS[0], &hostile]),
            ]
            .into_iter()
            .enumerate()
            {
                bad.insert(serde_json::to_vec(&broken).unwrap());
                events.insert((n * 3 + k) * 37, broken);
            }
        }
        let producer: BaseProducer =
            ClientConfig::new().set("bootstrap.servers", &Stack::get().brokers).create().unwrap();
        for event in &events {
            let topic = match event["eventType"].as_str().unwrap() {
                "view" => &topics.topics.view,
                "add_to_cart" => &topics.topics.add_to_cart,
                _ => &topics.topics.purchase,
            };
            let payload = serde_json::to_vec(event).unwrap();
            let key = event["userId"].as_str().unwrap();
            producer.send(BaseRecord::to(topic).key(key).payload(&payload)).unwrap();
        }
        producer.flush(Duration::from_secs(30)).unwrap();
        let raw = read_raw(&topics);
        assert_eq!(raw.len(), events.len());
        Data { topics, raw, bad }
    })
}

fn assert_exact(redis: &str) {
    let expected = recompute(&data().raw, 10_000);
    assert_eq!(
        expected.counts.values().map(|c| c.iter().sum::<u64>()).sum::<u64>(),
        GOOD as u64,
        "the oracle must keep every good event and drop every bad one"
    );
    let diffs = differences(redis, &expected, 5);
    assert!(diffs.is_empty(), "Redis differs from the recomputation:\n{}", diffs.join("\n"));
}

fn run_ok(command: std::process::Command) {
    let output = run_to_end(command, LIMIT);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn hostile_ids_round_trip_at_1_and_3_workers_and_control_characters_are_dead_lettered() {
    let data = data();
    for workers in ["1", "3"] {
        let work = tempfile::tempdir().unwrap();
        let redis = redis_database();
        let mut command = job_command(&data.topics, &redis, work.path());
        command.args(["--workers", workers]);
        run_ok(command);
        assert_exact(&redis);
    }
    let dead = read_topic(&data.topics.topics.dead_letter);
    let payloads: BTreeSet<Vec<u8>> = dead.iter().filter_map(|m| m.payload.clone()).collect();
    assert_eq!(
        payloads, data.bad,
        "the dead letters are exactly the events with control characters"
    );
    for message in &dead {
        assert_eq!(message.headers.get("reason").map(String::as_str), Some("control_character"));
    }
    // At least once per run (the other test's run writes to the same topic).
    assert!(dead.len() >= 2 * data.bad.len(), "{} dead letters", dead.len());
}

#[test]
fn hostile_ids_stay_exact_across_a_rescale_with_redis_wiped() {
    let data = data();
    let work = tempfile::tempdir().unwrap();
    let redis = redis_database();
    let mut command = job_command_unbounded(&data.topics, &redis, work.path());
    command.args(["--workers", "3"]);
    let mut child = spawn(command);
    let total = i64::try_from(data.raw.len()).unwrap();
    let read = |m: &Manifest| m.offsets.iter().map(|o| o.next_offset).sum::<i64>();
    let covered =
        wait_for(LIMIT, || complete_checkpoints(work.path()).iter().any(|m| read(m) == total));
    kill_9(&mut child);
    assert!(covered, "no checkpoint covered every event");

    let mut conn = redis::Client::open(redis.as_str()).unwrap().get_connection().unwrap();
    redis::cmd("FLUSHDB").exec(&mut conn).unwrap();
    let mut command = job_command(&data.topics, &redis, work.path());
    command.args(["--workers", "1"]);
    run_ok(command);
    assert_exact(&redis);
}
