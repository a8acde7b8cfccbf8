//! `compose.yaml` and the Dockerfile agree with `scripts/stack` and
//! `scripts/install-deps`: the same Kafka version, client ports, durability
//! settings and topics, the same Redis settings, the same build packages.
//! The topic initialiser of compose runs against the real cluster.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use deploy::compose::{environment, published, services, string_list};
use deploy::{repo, stack_config};
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde_json::Value;

fn compose() -> Value {
    deploy::compose::load().expect("compose.yaml parses")
}

fn stack_var(file: &str, name: &str) -> Vec<String> {
    stack_config::words(file, name).expect("stack variable")
}

fn stack_scalar(file: &str, name: &str) -> String {
    stack_config::scalar(file, name).expect("stack variable")
}

#[test]
fn dockerfile_builds_every_binary_with_the_packages_install_deps_lists() {
    let dockerfile = repo::read("Dockerfile").expect("Dockerfile");
    assert!(dockerfile.contains("FROM rust:1.95-bookworm AS builder"), "builder stage");
    assert!(dockerfile.contains("FROM debian:bookworm-slim AS runtime"), "runtime stage");
    for binary in ["dataflow", "api", "simulator"] {
        assert!(dockerfile.contains(&format!("-p {binary}")), "{binary} not built");
        assert!(dockerfile.contains(&format!("/out/{binary}")), "{binary} not copied");
    }
    let install_deps = repo::read("scripts/install-deps").expect("install-deps");
    let build_line = install_deps
        .split("BUILD_PKGS=(")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .expect("BUILD_PKGS in scripts/install-deps");
    for entry in build_line.split_whitespace() {
        let package = entry.split(':').next().unwrap_or_default();
        assert!(
            dockerfile.contains(&format!(" {package} "))
                || dockerfile.contains(&format!(" {package}\n")),
            "the Dockerfile's builder does not install {package} (scripts/install-deps BUILD_PKGS)"
        );
    }
}

#[test]
fn kafka_nodes_match_scripts_stack() {
    let compose = compose();
    let services = services(&compose);
    let version = stack_scalar("scripts/lib/stack-kafka.sh", "KAFKA_VERSION");
    let bootstrap = stack_scalar("scripts/lib/stack-kafka.sh", "BOOTSTRAP");
    let stack_ports: BTreeSet<u16> =
        bootstrap.split(',').map(|a| a.rsplit(':').next().unwrap().parse().unwrap()).collect();
    let nodes: Vec<(&String, &Value)> = services
        .iter()
        .filter(|(n, _)| n.starts_with("kafka-") && n[6..].parse::<u8>().is_ok())
        .collect();
    assert_eq!(nodes.len(), stack_var("scripts/lib/stack-kafka.sh", "NODES").len());

    // Durability settings, as scripts/stack writes them into server.properties.
    let properties: BTreeMap<&str, String> = [
        "default.replication.factor",
        "min.insync.replicas",
        "unclean.leader.election.enable",
        "auto.create.topics.enable",
        "num.partitions",
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
    ]
    .into_iter()
    .map(|key| (key, stack_config::broker_property(key).unwrap()))
    .collect();

    let mut host_ports = BTreeSet::new();
    let mut ids = BTreeSet::new();
    for (name, node) in &nodes {
        assert_eq!(node["image"].as_str(), Some(format!("apache/kafka:{version}").as_str()));
        let env = environment(node);
        assert_eq!(env["KAFKA_PROCESS_ROLES"], "broker,controller", "{name}");
        ids.insert(env["KAFKA_NODE_ID"].clone());
        for (key, value) in &properties {
            let variable = format!("KAFKA_{}", key.replace('.', "_").to_ascii_uppercase());
            assert_eq!(
                env.get(&variable).map(String::as_str),
                Some(value.as_str()),
                "{name} {variable}"
            );
        }
        let voters: BTreeSet<String> = env["KAFKA_CONTROLLER_QUORUM_VOTERS"]
            .split(',')
            .map(|v| v.split_once('@').unwrap().1.split(':').next().unwrap().to_owned())
            .collect();
        assert_eq!(voters, nodes.iter().map(|(n, _)| (*n).clone()).collect::<BTreeSet<_>>());
        let [(host, container)] = published(node)[..] else { panic!("{name}: one port expected") };
        assert_eq!(host, container, "{name}: the EXTERNAL listener keeps its port");
        host_ports.insert(host);
        let advertised = &env["KAFKA_ADVERTISED_LISTENERS"];
        assert!(
            advertised.contains(&format!("EXTERNAL://localhost:{host}")),
            "{name}: {advertised}"
        );
        assert!(advertised.contains(&format!("INTERNAL://{name}:")), "{name}: {advertised}");
    }
    assert_eq!(host_ports, stack_ports, "client ports differ from scripts/stack's {bootstrap}");
    assert_eq!(ids.len(), nodes.len(), "node ids must differ");
}

#[test]
fn topics_match_scripts_stack_and_the_model() {
    let compose = compose();
    let init = &services(&compose)["kafka-init"];
    let env = environment(init);
    let topics: Vec<String> = env["TAGFLOW_TOPICS"].split_whitespace().map(str::to_owned).collect();
    assert_eq!(topics, stack_var("scripts/lib/stack-kafka.sh", "TOPICS"));
    let model: Vec<String> =
        model::Topics::default().all().iter().map(|t| (*t).to_owned()).collect();
    assert_eq!(
        topics.iter().collect::<BTreeSet<_>>(),
        model.iter().collect::<BTreeSet<_>>(),
        "compose topics differ from model::Topics"
    );
    assert_eq!(
        env["TAGFLOW_TOPIC_PARTITIONS"],
        stack_scalar("scripts/lib/stack-kafka.sh", "TOPIC_PARTITIONS")
    );
    assert_eq!(env["TAGFLOW_TOPIC_RF"], stack_scalar("scripts/lib/stack-kafka.sh", "TOPIC_RF"));
    let min_isr = stack_config::broker_property("min.insync.replicas").unwrap();
    assert_eq!(env["TAGFLOW_MIN_ISR"], min_isr);
    let entrypoint = string_list(&init["entrypoint"]).join(" ");
    assert!(entrypoint.contains("create-topics.sh"), "{entrypoint}");
}

#[test]
fn redis_matches_scripts_stack() {
    let compose = compose();
    let redis = &services(&compose)["redis"];
    let command = string_list(&redis["command"]);
    let flag = |args: &[String], name: &str| {
        args.iter().position(|a| a == name).map(|i| args[i + 1].clone())
    };
    let stack_text = repo::read("scripts/lib/stack-redis.sh").unwrap();
    // The redis-server launch line of scripts/stack, quotes removed.
    let launch: Vec<String> = stack_text
        .split("redis-server --bind")
        .nth(1)
        .expect("redis-server launch in stack-redis.sh")
        .split("--logfile")
        .next()
        .unwrap()
        .replace('\\', " ")
        .split_whitespace()
        .map(|s| s.trim_matches('\'').trim_matches('"').to_owned())
        .collect();
    for name in ["--appendonly", "--appendfsync", "--save", "--databases"] {
        assert_eq!(flag(&command, name), flag(&launch, name), "redis {name}");
    }
    let port: u16 = stack_scalar("scripts/lib/stack-redis.sh", "REDIS_PORT").parse().unwrap();
    assert_eq!(published(redis), vec![(port, 6379)]);
}

/// The initialiser script of the `kafka-init` service, run against the real
/// cluster with the Kafka tools scripts/stack downloaded: it creates the
/// topics as compose asks, and a second run changes nothing.
#[test]
fn topic_initialiser_creates_the_topics_on_the_real_cluster() -> Result<()> {
    let stack = testkit::Stack::get();
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let cache = std::env::var("TAGFLOW_CACHE").unwrap_or_else(|_| format!("{home}/.cache/tagflow"));
    let version = stack_scalar("scripts/lib/stack-kafka.sh", "KAFKA_VERSION");
    let libs = Path::new(&cache).join(format!("kafka-{version}/libs"));
    ensure!(libs.is_dir(), "no Kafka jars in {} (scripts/stack up resolves them)", libs.display());
    let dir = tempfile::tempdir()?;
    let wrapper = dir.path().join("kafka-topics.sh");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec java -Xmx256m -Dlog4j2.configurationFile={} -cp '{}/*' org.apache.kafka.tools.TopicCommand \"$@\"\n",
            repo::path("scripts/kafka/log4j2-tools.properties").display(),
            libs.display()
        ),
    )?;
    Command::new("chmod").arg("+x").arg(&wrapper).status()?;

    let env = environment(&services(&compose())["kafka-init"]);
    let prefix = format!("{}.", testkit::unique_name("compose-init"));
    let topics: Vec<String> =
        env["TAGFLOW_TOPICS"].split_whitespace().map(|t| format!("{prefix}{t}")).collect();
    let run = || -> Result<String> {
        let output = Command::new("bash")
            .arg(repo::path("deploy/kafka/create-topics.sh"))
            .env("KAFKA_TOPICS", &wrapper)
            .env("TAGFLOW_BOOTSTRAP", &stack.brokers)
            .env("TAGFLOW_TOPICS", topics.join(" "))
            .env("TAGFLOW_TOPIC_PARTITIONS", &env["TAGFLOW_TOPIC_PARTITIONS"])
            .env("TAGFLOW_TOPIC_RF", &env["TAGFLOW_TOPIC_RF"])
            .env("TAGFLOW_MIN_ISR", &env["TAGFLOW_MIN_ISR"])
            .output()?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        if !output.status.success() {
            bail!("create-topics.sh failed:\n{text}");
        }
        Ok(text)
    };
    let first = run()?;
    ensure!(first.contains("topics ready"), "{first}");
    run().context("second run must succeed too")?;

    let consumer: BaseConsumer =
        ClientConfig::new().set("bootstrap.servers", &stack.brokers).create()?;
    let partitions: usize = env["TAGFLOW_TOPIC_PARTITIONS"].parse()?;
    let replicas: usize = env["TAGFLOW_TOPIC_RF"].parse()?;
    for topic in &topics {
        let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
        let t = &metadata.topics()[0];
        ensure!(t.partitions().len() == partitions, "{topic}: {} partitions", t.partitions().len());
        for p in t.partitions() {
            ensure!(
                p.replicas().len() == replicas,
                "{topic}/{}: {} replicas",
                p.id(),
                p.replicas().len()
            );
        }
    }
    Ok(())
}
