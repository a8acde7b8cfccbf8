//! `scripts/stack` itself: `up` twice, `down`, `up` again leaves a healthy
//! cluster whose topics have RF 3 and a full ISR.
//!
//! Ignored by default because it restarts the shared stack under every other
//! test; `scripts/test` runs it alone, before the rest of the suite.

use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use model::Topics;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};

fn stack(command: &str) -> (bool, String, Duration) {
    let script = testkit::repo_file("scripts/stack");
    let started = Instant::now();
    let output = Command::new(script).arg(command).output().expect("run scripts/stack");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text, started.elapsed())
}

fn port_open(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(300)).is_ok()
}

#[test]
#[ignore = "restarts the shared stack; run alone by scripts/test"]
fn up_twice_down_up_leaves_a_healthy_cluster() {
    let (ok, out, _) = stack("up");
    assert!(ok, "first up failed:\n{out}");
    let (ok, out, second) = stack("up");
    assert!(ok, "second up failed:\n{out}");
    assert!(second < Duration::from_secs(30), "idempotent up took {second:?}:\n{out}");

    let (ok, out, _) = stack("down");
    assert!(ok, "down failed:\n{out}");
    for port in [9093, 9094, 9095, 6379] {
        assert!(!port_open(port), "port {port} still open after down");
    }
    let (ok, _, _) = stack("status");
    assert!(!ok, "status must fail while the stack is down");

    let (ok, out, _) = stack("up");
    assert!(ok, "up after down failed:\n{out}");
    let (ok, out, _) = stack("status");
    assert!(ok, "status after up:\n{out}");

    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", "127.0.0.1:9093,127.0.0.1:9094,127.0.0.1:9095")
        .create()
        .unwrap();
    let metadata = consumer.fetch_metadata(None, Duration::from_secs(10)).unwrap();
    assert_eq!(metadata.brokers().len(), 3);
    for name in Topics::default().all() {
        let topic = metadata
            .topics()
            .iter()
            .find(|t| t.name() == name)
            .unwrap_or_else(|| panic!("topic {name} missing"));
        assert_eq!(topic.partitions().len(), 3, "{name}");
        for partition in topic.partitions() {
            assert_eq!(partition.replicas().len(), 3, "{name} RF");
            assert_eq!(partition.isr().len(), 3, "{name}/{} ISR", partition.id());
            assert!(partition.leader() >= 0, "{name}/{} has no leader", partition.id());
        }
    }
    assert!(port_open(6379), "redis not listening after up");
}
