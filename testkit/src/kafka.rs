//! Creating isolated topics and reading a topic back to its end.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use model::Topics;
use rdkafka::admin::{
    AdminClient, AdminOptions, AlterConfig, NewPartitions, NewTopic, ResourceSpecifier,
    TopicReplication,
};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use crate::{Stack, unique_name};

/// Creates `topics` with `partitions` partitions and replication factor 3,
/// and waits until every partition has a leader.
///
/// # Panics
/// When the cluster refuses.
pub fn create_topics(topics: &[&str], partitions: i32) {
    let stack = Stack::get();
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &stack.brokers)
        .create()
        .expect("admin client");
    let new: Vec<NewTopic<'_>> =
        topics.iter().map(|t| NewTopic::new(t, partitions, TopicReplication::Fixed(3))).collect();
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    let results = runtime
        .block_on(admin.create_topics(&new, &AdminOptions::new()))
        .expect("create_topics request");
    for result in results {
        if let Err((topic, code)) = result {
            panic!("cannot create topic {topic}: {code}");
        }
    }
    wait_for_leaders(topics, partitions);
}

/// Waits until every broker's metadata shows each topic with its
/// partitions led and fully replicated. Every broker is asked (a fresh
/// client bootstrapped from it alone), not just any: a broker restarted by
/// an earlier test can still lack new topics in its metadata, and a job
/// that asks it first refuses to start (`event topics … not found`).
fn wait_for_leaders(topics: &[&str], partitions: i32) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let brokers = Stack::get().brokers.clone();
    loop {
        let ready = brokers.split(',').all(|broker| {
            let Ok(client) =
                ClientConfig::new().set("bootstrap.servers", broker).create::<BaseConsumer>()
            else {
                return false;
            };
            topics.iter().all(|t| {
                client.fetch_metadata(Some(t), Duration::from_secs(5)).is_ok_and(|m| {
                    m.topics().first().is_some_and(|tm| {
                        tm.partitions().len() == partitions as usize
                            && tm.partitions().iter().all(|p| p.leader() >= 0 && p.isr().len() == 3)
                    })
                })
            })
        });
        if ready {
            return;
        }
        assert!(Instant::now() < deadline, "topics {topics:?} have no leaders after 30 s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A fresh, prefixed set of tagflow topics for one test.
#[derive(Debug, Clone)]
pub struct EventTopics {
    /// The prefix (ends with `.`).
    pub prefix: String,
    /// The prefixed topic names.
    pub topics: Topics,
}

impl EventTopics {
    /// Creates all five tagflow topics under a unique prefix, each with
    /// `partitions` partitions and RF 3.
    pub fn create(base: &str, partitions: i32) -> Self {
        let prefix = format!("{}.", unique_name(base));
        let topics = Topics::with_prefix(&prefix);
        create_topics(&topics.all(), partitions);
        Self { prefix, topics }
    }
}

/// One message read back from Kafka, owned.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadBack {
    /// Partition it was in.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// Its key, if any.
    pub key: Option<Vec<u8>>,
    /// Its payload, if any.
    pub payload: Option<Vec<u8>>,
    /// Its headers as UTF-8 strings (lossy).
    pub headers: HashMap<String, String>,
}

/// Deletes every record of `topic`/`partition` before its current high
/// watermark, as retention would, and returns the new low watermark.
///
/// # Panics
/// When the cluster refuses.
pub fn delete_records_to_end(topic: &str, partition: i32) -> i64 {
    let stack = Stack::get();
    let (_, high) = watermarks(&consumer(), topic, partition);
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &stack.brokers)
        .create()
        .expect("admin client");
    let mut list = TopicPartitionList::new();
    list.add_partition_offset(topic, partition, Offset::Offset(high)).expect("partition offset");
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    let result = runtime
        .block_on(admin.delete_records(&list, &AdminOptions::new()))
        .expect("delete_records request");
    let deleted = result.find_partition(topic, partition).expect("the partition's result");
    deleted
        .error()
        .unwrap_or_else(|err| panic!("cannot delete records of {topic}/{partition}: {err}"));
    high
}

/// Sets one configuration value of `topic` (`AlterConfigs`: the topic's
/// other dynamic settings return to the broker's defaults).
///
/// # Panics
/// When the cluster refuses.
pub fn set_topic_config(topic: &str, name: &str, value: &str) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &Stack::get().brokers)
        .create()
        .expect("admin client");
    let change = AlterConfig::new(ResourceSpecifier::Topic(topic)).set(name, value);
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    let results = runtime
        .block_on(admin.alter_configs([&change], &AdminOptions::new()))
        .expect("alter_configs request");
    for result in results {
        result.unwrap_or_else(|(_, err)| panic!("cannot set {name}={value} on {topic}: {err}"));
    }
}

/// Grows `topic` to `total` partitions.
///
/// # Panics
/// When the cluster refuses.
pub fn add_partitions(topic: &str, total: usize) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &Stack::get().brokers)
        .create()
        .expect("admin client");
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    let results = runtime
        .block_on(
            admin.create_partitions(&[NewPartitions::new(topic, total)], &AdminOptions::new()),
        )
        .expect("create_partitions request");
    for result in results {
        result
            .unwrap_or_else(|(_, err)| panic!("cannot grow {topic} to {total} partitions: {err}"));
    }
}

/// The number of partitions of `topic`.
///
/// # Panics
/// When its metadata cannot be read.
pub fn partition_count(topic: &str) -> usize {
    let metadata =
        consumer().fetch_metadata(Some(topic), Duration::from_secs(10)).expect("metadata");
    metadata.topics()[0].partitions().len()
}

fn consumer() -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", &Stack::get().brokers)
        .set("group.id", unique_name("testkit-reader"))
        .set("enable.auto.commit", "false")
        // A partition written in transactions ends with a commit marker no
        // consumer is given: its end-of-partition event says it was read.
        .set("enable.partition.eof", "true")
        .create()
        .expect("consumer")
}

/// The low and high watermarks of a partition, retrying for up to 20 s
/// while a just-created topic is not yet known to the partition's leader.
fn watermarks(consumer: &BaseConsumer, topic: &str, partition: i32) -> (i64, i64) {
    let started = Instant::now();
    loop {
        match consumer.fetch_watermarks(topic, partition, Duration::from_secs(10)) {
            Ok(marks) => return marks,
            Err(_) if started.elapsed() < Duration::from_secs(20) => {
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(err) => panic!("watermarks of {topic}/{partition}: {err}"),
        }
    }
}

/// Reads every message of `topic` from the beginning to the high watermark
/// that each partition had when the call started.
///
/// # Panics
/// When the topic does not exist or reading stalls for 60 s.
pub fn read_topic(topic: &str) -> Vec<ReadBack> {
    let consumer = consumer();
    let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10)).expect("metadata");
    let partitions: Vec<i32> = metadata.topics()[0].partitions().iter().map(|p| p.id()).collect();
    assert!(!partitions.is_empty(), "topic {topic} has no partitions");
    let mut ends = HashMap::new();
    let mut assignment = TopicPartitionList::new();
    for &p in &partitions {
        let (low, high) = watermarks(&consumer, topic, p);
        if high > low {
            ends.insert(p, high);
            assignment.add_partition_offset(topic, p, Offset::Offset(low)).expect("assignment");
        }
    }
    let mut out = Vec::new();
    if ends.is_empty() {
        return out;
    }
    consumer.assign(&assignment).expect("assign");
    let mut last_progress = Instant::now();
    while !ends.is_empty() {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(msg)) => {
                last_progress = Instant::now();
                let headers = msg.headers().map_or_else(HashMap::new, |h| {
                    h.iter()
                        .map(|hd| {
                            let value = hd.value.map(String::from_utf8_lossy).unwrap_or_default();
                            (hd.key.to_owned(), value.into_owned())
                        })
                        .collect()
                });
                let (partition, offset) = (msg.partition(), msg.offset());
                if ends.get(&partition).is_some_and(|&end| offset < end) {
                    out.push(ReadBack {
                        partition,
                        offset,
                        key: msg.key().map(<[u8]>::to_vec),
                        payload: msg.payload().map(<[u8]>::to_vec),
                        headers,
                    });
                }
                if ends.get(&partition).is_some_and(|&end| offset + 1 >= end) {
                    ends.remove(&partition);
                }
            }
            Some(Err(KafkaError::PartitionEOF(partition))) => {
                // Only once the position passed the end: librdkafka may
                // report an end while it skips an aborted transaction.
                let position = consumer.position().ok().and_then(|list| {
                    list.find_partition(topic, partition).and_then(|p| p.offset().to_raw())
                });
                if ends.get(&partition).is_some_and(|&end| position.is_some_and(|at| at >= end)) {
                    ends.remove(&partition);
                }
            }
            Some(Err(err)) => panic!("reading {topic}: {err}"),
            None => assert!(
                last_progress.elapsed() < Duration::from_secs(60),
                "reading {topic} stalled with partitions {ends:?} unfinished"
            ),
        }
    }
    out
}
