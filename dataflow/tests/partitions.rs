//! Partitions added to an event topic while the job runs are read from
//! their earliest offset without a restart; SIGTERM then stops the job
//! cleanly (exit 0).

#![allow(clippy::unwrap_used, reason = "test helpers fail loudly")]

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::run::job_command;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewPartitions};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use redis::Commands;
use testkit::{EventTopics, Stack, redis_database};

fn event(user: &str, id: &str) -> String {
    format!(
        r#"{{"eventId":"{id}","userId":"{user}","productId":"p1","eventType":"purchase","timestamp":1795647600000,"tags":["late"]}}"#
    )
}

#[test]
fn a_partition_added_at_runtime_is_consumed() {
    let stack = Stack::get();
    let topics = EventTopics::create("dataflow-partitions", 1);
    let redis = redis_database();
    let state = tempfile::tempdir().unwrap();
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &stack.brokers)
        .set("topic.metadata.refresh.interval.ms", "500")
        .create()
        .unwrap();
    producer
        .send(
            BaseRecord::to(&topics.topics.purchase)
                .partition(0)
                .key("u-early")
                .payload(&event("u-early", "e0")),
        )
        .unwrap();
    producer.flush(Duration::from_secs(10)).unwrap();

    let command = job_command(&topics, &redis, state.path());
    // Run continuously (not until caught up), discovering partitions every second.
    let args: Vec<String> = command
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .filter(|a| a != "--until-caught-up")
        .collect();
    let mut command = std::process::Command::new(command.get_program());
    command
        .args(&args)
        .args(["--discovery-interval", "1s", "--workers", "2"])
        .env("RUST_LOG", "info");
    let mut child = command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();

    let mut conn = redis::Client::open(redis.as_str()).unwrap().get_connection().unwrap();
    let wait_for = |conn: &mut redis::Connection, user: &str, limit: Duration| {
        let started = Instant::now();
        while started.elapsed() < limit {
            if conn.hexists::<_, _, bool>("UserInterestTag", user).unwrap() {
                return Some(started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    };
    assert!(
        wait_for(&mut conn, "u-early", Duration::from_secs(60)).is_some(),
        "job never wrote the first event"
    );

    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", &stack.brokers).create().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let added = runtime
        .block_on(admin.create_partitions(
            &[NewPartitions::new(&topics.topics.purchase, 3)],
            &AdminOptions::new(),
        ))
        .unwrap();
    assert!(added.iter().all(Result::is_ok), "{added:?}");
    for partition in [1, 2] {
        let user = format!("u-late-{partition}");
        let payload = event(&user, &format!("e{partition}"));
        // The producer learns about the new partitions with its next metadata refresh.
        let started = Instant::now();
        while let Err((err, _)) = producer.send(
            BaseRecord::to(&topics.topics.purchase)
                .partition(partition)
                .key(&user)
                .payload(&payload),
        ) {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "cannot produce to new partition {partition}: {err}"
            );
            producer.poll(Duration::from_millis(200));
        }
    }
    producer.flush(Duration::from_secs(10)).unwrap();
    for partition in [1, 2] {
        let seen = wait_for(&mut conn, &format!("u-late-{partition}"), Duration::from_secs(20));
        assert!(
            seen.is_some(),
            "events of new partition {partition} were not consumed within 20 s"
        );
    }

    let stopped = Instant::now();
    let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(stopped.elapsed() < Duration::from_secs(30), "no exit 30 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "exit {status:?} after SIGTERM:\n{stderr}");
    assert!(stderr.contains("dataflow stopped cleanly"), "{stderr}");
}
