//! `compose.yaml` cannot be run here (no Docker engine), so these tests read
//! it and check everything it refers to: services and their dependencies,
//! files, volumes, ports and addresses, the binaries' flags and environment
//! variables, and that Kafka and Redis are configured as `scripts/stack`
//! configures them. The topic initialiser script runs against the real
//! cluster.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use deploy::{help, repo, yaml};
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde_json::Value;

fn compose() -> Value {
    yaml::load(&repo::path("compose.yaml")).expect("compose.yaml parses")
}

fn services(compose: &Value) -> &serde_json::Map<String, Value> {
    compose["services"].as_object().expect("services is a mapping")
}

/// A shell variable of scripts/lib/*.sh: `NAME=value` or `NAME=(a b c)`.
fn stack_var(file: &str, name: &str) -> Vec<String> {
    let text = repo::read(file).expect("stack script");
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("{name}= not found in {file}"));
    let value = line.split(" #").next().unwrap_or(line).trim();
    let value = value.trim_start_matches('(').trim_end_matches(')');
    value.split_whitespace().map(|s| s.trim_matches('"').to_owned()).collect()
}

fn stack_scalar(file: &str, name: &str) -> String {
    stack_var(file, name).join(" ")
}

/// A service's environment as a map (compose allows a list or a mapping).
fn environment(service: &Value) -> BTreeMap<String, String> {
    match &service["environment"] {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                (k.clone(), v)
            })
            .collect(),
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(|s| {
                let (k, v) = s.split_once('=').unwrap_or((s, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

fn string_list(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => {
            items.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)).collect()
        }
        Value::String(s) => s.split_whitespace().map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

/// `depends_on` as service → condition.
fn dependencies(service: &Value) -> BTreeMap<String, String> {
    match &service["depends_on"] {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| {
                (k.clone(), v["condition"].as_str().unwrap_or("service_started").to_owned())
            })
            .collect(),
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(|s| (s.to_owned(), "service_started".to_owned()))
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// Published ports as (host port, container port).
fn published(service: &Value) -> Vec<(u16, u16)> {
    string_list(&service["ports"])
        .iter()
        .map(|p| {
            let parts: Vec<&str> = p.split(':').collect();
            let container: u16 = parts[parts.len() - 1].parse().expect("container port");
            let host: u16 = parts[parts.len() - 2].parse().expect("host port");
            (host, container)
        })
        .collect()
}

/// Ports a service listens on inside the compose network: `expose`, the
/// container side of `ports`, and a Kafka node's `KAFKA_LISTENERS`.
fn listening_ports(service: &Value) -> BTreeSet<u16> {
    let mut ports: BTreeSet<u16> =
        string_list(&service["expose"]).iter().filter_map(|p| p.parse().ok()).collect();
    ports.extend(published(service).into_iter().map(|(_, c)| c));
    if let Some(listeners) = environment(service).get("KAFKA_LISTENERS") {
        ports
            .extend(listeners.split(',').filter_map(|l| l.rsplit(':').next()?.parse::<u16>().ok()));
    }
    ports
}

fn is_one_shot(service: &Value) -> bool {
    service["restart"].as_str() == Some("no")
}

#[test]
fn every_service_of_the_issue_is_there() {
    let compose = compose();
    let names: BTreeSet<&str> = services(&compose).keys().map(String::as_str).collect();
    for wanted in [
        "kafka-1",
        "kafka-2",
        "kafka-3",
        "kafka-init",
        "redis",
        "dataflow",
        "api",
        "simulator",
        "prometheus",
        "grafana",
        "redis-exporter",
        "kafka-exporter",
    ] {
        assert!(names.contains(wanted), "service {wanted} missing from compose.yaml: {names:?}");
    }
    let profiles = string_list(&services(&compose)["simulator"]["profiles"]);
    assert!(!profiles.is_empty(), "the simulator must sit under a profile");
}

#[test]
fn dependencies_exist_and_their_conditions_can_be_met() {
    let compose = compose();
    let services = services(&compose);
    for (name, service) in services {
        for (dependency, condition) in dependencies(service) {
            let target = services
                .get(&dependency)
                .unwrap_or_else(|| panic!("{name} depends on unknown service {dependency}"));
            match condition.as_str() {
                "service_healthy" => assert!(
                    target.get("healthcheck").is_some(),
                    "{name} waits for {dependency} to be healthy, but it has no healthcheck"
                ),
                "service_completed_successfully" => assert!(
                    is_one_shot(target),
                    "{name} waits for {dependency} to complete, but it is restarted (restart: \"no\" expected)"
                ),
                "service_started" => {}
                other => panic!("{name}: unknown depends_on condition {other}"),
            }
            // A service outside every profile cannot depend on one inside a profile.
            if string_list(&service["profiles"]).is_empty() {
                assert!(
                    string_list(&target["profiles"]).is_empty(),
                    "{name} (always started) depends on {dependency}, which only a profile starts"
                );
            }
        }
    }
}

#[test]
fn long_running_services_restart_and_report_health() {
    let compose = compose();
    for (name, service) in services(&compose) {
        if is_one_shot(service) {
            continue;
        }
        let restart = service["restart"].as_str().unwrap_or_default();
        assert!(
            ["always", "unless-stopped", "on-failure"].contains(&restart),
            "{name} has restart policy {restart:?}"
        );
        // The simulator is a Kafka producer without an endpoint to probe.
        if name != "simulator" {
            let test = string_list(&service["healthcheck"]["test"]);
            assert!(test.len() > 1, "{name} has no healthcheck");
        }
    }
}

#[test]
fn referenced_files_volumes_and_build_stages_exist() {
    let compose = compose();
    let declared: BTreeSet<String> =
        compose["volumes"].as_object().expect("top-level volumes").keys().cloned().collect();
    let dockerfile_text = repo::read("Dockerfile").expect("Dockerfile");
    let mut used = BTreeSet::new();
    for (name, service) in services(&compose) {
        for volume in string_list(&service["volumes"]) {
            let source = volume.split(':').next().unwrap_or_default();
            if let Some(relative) = source.strip_prefix("./") {
                assert!(
                    repo::path(relative).exists(),
                    "{name} mounts {source}, which does not exist"
                );
            } else {
                assert!(declared.contains(source), "{name} uses undeclared volume {source}");
                used.insert(source.to_owned());
            }
        }
        if let Some(build) = service.get("build") {
            let context = build["context"].as_str().unwrap_or(".");
            let dockerfile = build["dockerfile"].as_str().unwrap_or("Dockerfile");
            assert!(repo::path(context).join(dockerfile).is_file(), "{name}: no {dockerfile}");
            if let Some(target) = build["target"].as_str() {
                let stage = format!(" AS {target}");
                assert!(
                    dockerfile_text.lines().any(|l| l.starts_with("FROM ") && l.ends_with(&stage)),
                    "{name} builds stage {target}, which the Dockerfile does not define"
                );
            }
        }
    }
    assert_eq!(used, declared, "declared volumes that no service uses");
    let dataflow = &services(&compose)["dataflow"];
    let checkpoint_dir = environment(dataflow)["TAGFLOW_CHECKPOINT_DIR"].clone();
    assert!(
        string_list(&dataflow["volumes"])
            .iter()
            .any(|v| v.ends_with(&format!(":{checkpoint_dir}")) && !v.starts_with('.')),
        "the checkpoint directory {checkpoint_dir} must be on a named volume"
    );
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
    let stack_text = repo::read("scripts/lib/stack-kafka.sh").unwrap();
    let properties: BTreeMap<&str, &str> = stack_text
        .lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| {
            [
                "default.replication.factor",
                "min.insync.replicas",
                "unclean.leader.election.enable",
                "auto.create.topics.enable",
                "num.partitions",
                "offsets.topic.replication.factor",
                "transaction.state.log.replication.factor",
                "transaction.state.log.min.isr",
            ]
            .contains(k)
        })
        .collect();
    assert_eq!(properties.len(), 8, "{properties:?}");

    let mut host_ports = BTreeSet::new();
    let mut ids = BTreeSet::new();
    for (name, node) in &nodes {
        assert_eq!(node["image"].as_str(), Some(format!("apache/kafka:{version}").as_str()));
        let env = environment(node);
        assert_eq!(env["KAFKA_PROCESS_ROLES"], "broker,controller", "{name}");
        ids.insert(env["KAFKA_NODE_ID"].clone());
        for (key, value) in &properties {
            let variable = format!("KAFKA_{}", key.replace('.', "_").to_ascii_uppercase());
            assert_eq!(env.get(&variable).map(String::as_str), Some(*value), "{name} {variable}");
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
    let stack_text = repo::read("scripts/lib/stack-kafka.sh").unwrap();
    let min_isr = stack_text.lines().find_map(|l| l.strip_prefix("min.insync.replicas="));
    assert_eq!(Some(env["TAGFLOW_MIN_ISR"].as_str()), min_isr);
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

/// Every string value under `value` (keys and `image:` values excepted), with `file`.
fn strings(file: &str, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::String(s) => out.push((file.to_owned(), s.clone())),
        Value::Array(items) => items.iter().for_each(|v| strings(file, v, out)),
        Value::Object(map) => {
            map.iter().filter(|(k, _)| *k != "image").for_each(|(_, v)| strings(file, v, out));
        }
        _ => {}
    }
}

/// Every `service:port` in compose.yaml, prometheus.yml and the Grafana
/// datasources names a service that listens on that port.
#[test]
fn internal_addresses_point_at_listening_services() {
    let compose = compose();
    let services = services(&compose);
    let mut texts = Vec::new();
    strings("compose.yaml", &compose, &mut texts);
    for file in [
        "deploy/prometheus/prometheus.yml",
        "deploy/grafana/provisioning/datasources/prometheus.yml",
    ] {
        strings(file, &yaml::load(&repo::path(file)).unwrap(), &mut texts);
    }
    let mut checked = 0;
    for (file, text) in &texts {
        for (name, service) in services {
            let ports = listening_ports(service);
            for hit in text.match_indices(&format!("{name}:")) {
                let before = text[..hit.0].chars().last().unwrap_or(' ');
                if before.is_ascii_alphanumeric() || before == '-' || before == '_' {
                    continue;
                }
                let digits: String = text[hit.0 + name.len() + 1..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                let Ok(port) = digits.parse::<u16>() else { continue };
                assert!(
                    ports.contains(&port),
                    "{file}: {name}:{port}, but {name} listens on {ports:?}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 20, "only {checked} addresses found");
    // Prometheus scrapes the job, the API and both exporters.
    let prometheus = yaml::load(&repo::path("deploy/prometheus/prometheus.yml")).unwrap();
    let targets: BTreeSet<String> = prometheus["scrape_configs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["static_configs"].as_array().unwrap().iter())
        .flat_map(|s| string_list(&s["targets"]))
        .map(|t| t.split(':').next().unwrap().to_owned())
        .collect();
    for service in ["dataflow", "api", "redis-exporter", "kafka-exporter"] {
        assert!(targets.contains(service), "prometheus does not scrape {service}");
    }
}

#[test]
fn healthchecks_probe_the_port_the_service_listens_on() {
    let compose = compose();
    for (name, service) in services(&compose) {
        let test = string_list(&service["healthcheck"]["test"]).join(" ");
        for url in test.split_whitespace().filter(|w| w.starts_with("http://")) {
            let port: u16 = url
                .trim_start_matches("http://")
                .split('/')
                .next()
                .and_then(|hp| hp.rsplit(':').next())
                .and_then(|p| p.parse().ok())
                .unwrap_or(80);
            assert!(listening_ports(service).contains(&port), "{name} probes {url}");
        }
    }
    let dataflow = &services(&compose)["dataflow"];
    let metrics_port: u16 =
        environment(dataflow)["TAGFLOW_METRICS_ADDR"].rsplit(':').next().unwrap().parse().unwrap();
    assert!(listening_ports(dataflow).contains(&metrics_port));
    let api_command = string_list(&services(&compose)["api"]["command"]);
    let listen = api_command.iter().position(|a| a == "--listen").map(|i| &api_command[i + 1]);
    let api_port: u16 = listen.expect("api --listen").rsplit(':').next().unwrap().parse().unwrap();
    assert!(listening_ports(&services(&compose)["api"]).contains(&api_port));
}

/// Flags and TAGFLOW_* variables given to our binaries exist in their
/// `--help` (the real binaries, built by scripts/test).
#[test]
fn our_binaries_accept_the_flags_and_variables_compose_gives_them() -> Result<()> {
    let compose = compose();
    let mut checked = 0;
    for (name, service) in services(&compose) {
        if service["image"].as_str() != Some("tagflow:local") {
            continue;
        }
        let command = string_list(&service["command"]);
        let binary_name = command.first().context("command")?.clone();
        let env_fallback = format!("TAGFLOW_{}_BIN", binary_name.to_ascii_uppercase());
        let binary = testkit::workspace_binary(&binary_name, &env_fallback);
        let pages = help::all_pages(&binary)?;
        let subcommand: Vec<String> =
            command[1..].iter().take_while(|a| !a.starts_with('-')).cloned().collect();
        let page = pages
            .iter()
            .find(|p| p.command == subcommand)
            .with_context(|| format!("{name}: {binary_name} has no subcommand {subcommand:?}"))?;
        for flag in command.iter().filter(|a| a.starts_with("--")) {
            let flag = flag.split('=').next().unwrap_or(flag);
            ensure!(
                page.long_flags().contains(flag),
                "{name}: {binary_name} {subcommand:?} has no {flag}"
            );
            checked += 1;
        }
        for variable in environment(service).keys().filter(|k| k.starts_with("TAGFLOW_")) {
            ensure!(
                page.env_vars().contains(variable),
                "{name}: {binary_name} {subcommand:?} does not read {variable}"
            );
            checked += 1;
        }
    }
    ensure!(checked >= 10, "only {checked} flags and variables checked");
    Ok(())
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
