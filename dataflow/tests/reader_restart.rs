//! A partition the reader assigns again (what it does to a partition the
//! consumer stopped delivering, `kafka_reader/stall_watch.rs`) is read on
//! from its position against the real cluster: every offset once, in
//! order, whatever the consumer had fetched before the restart or delivers
//! again after it.

#![allow(clippy::unwrap_used, reason = "test helpers fail loudly")]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use dataflow::assignment::TopicPartition;
use dataflow::kafka_reader::{OnDataLoss, PartitionReader, ReaderConfig};
use prometheus_client::metrics::family::Family;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Message};
use testkit::{Stack, create_topics, unique_name};

fn produce(topic: &str, range: std::ops::Range<u32>) {
    let producer: BaseProducer =
        ClientConfig::new().set("bootstrap.servers", &Stack::get().brokers).create().unwrap();
    for i in range {
        let payload = i.to_string();
        producer.send(BaseRecord::<(), _>::to(topic).partition(0).payload(&payload)).unwrap();
    }
    producer.flush(Duration::from_secs(30)).unwrap();
}

/// Reads until `until` messages were taken in all (or 60 s pass), as the
/// source does: messages below the position are dropped.
fn read(reader: &mut PartitionReader, taken: &mut Vec<i64>, until: usize) {
    let started = Instant::now();
    while taken.len() < until && started.elapsed() < Duration::from_secs(60) {
        let Some(polled) = reader.poll() else {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        let message = polled.unwrap();
        let slot = reader.slot_of(&message).unwrap();
        if reader.is_redelivered(slot, &message) {
            continue;
        }
        let offset = message.offset();
        assert_eq!(message.payload(), Some(offset.to_string().as_bytes()));
        drop(message);
        taken.push(offset);
        reader.set_next_offset(slot, offset + 1);
    }
}

#[test]
fn a_partition_assigned_again_is_read_on_from_its_position_with_every_offset_once() {
    let topic = unique_name("reader-restart");
    create_topics(&[&topic], 1);
    produce(&topic, 0..500);
    let restarts = Family::default();
    let mut reader = PartitionReader::new(ReaderConfig {
        brokers: Stack::get().brokers.clone(),
        group_id: unique_name("reader-restart"),
        topics: vec![topic.clone()],
        worker: 0,
        workers: 1,
        start_offsets: BTreeMap::new(),
        until_caught_up: false,
        on_data_loss: OnDataLoss::Fail,
        lost_offsets: Family::default(),
        partition_restarts: restarts.clone(),
        discovery_interval: Duration::from_millis(200),
    })
    .unwrap();

    // Part of the partition, while the consumer has fetched more of it.
    let mut taken = Vec::new();
    read(&mut reader, &mut taken, 150);
    let tp = TopicPartition { topic: topic.clone(), partition: 0 };
    reader.restart(std::slice::from_ref(&tp)).unwrap();
    produce(&topic, 500..700);
    read(&mut reader, &mut taken, 700);

    assert_eq!(taken, (0..700).collect::<Vec<i64>>(), "every offset once, in order");
    assert_eq!(reader.positions()[0].next_offset, 700);
    let labels = vec![("topic", topic), ("partition", "0".to_owned())];
    assert_eq!(restarts.get_or_create(&labels).get(), 1, "the restart was counted");
}
