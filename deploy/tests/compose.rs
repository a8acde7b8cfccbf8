//! `compose.yaml` cannot be run here (no Docker engine), so these tests read
//! it and check what it refers to: services and their dependencies, restart
//! policies and health checks, files, volumes and build stages, addresses
//! and ports, and the flags and environment variables of our binaries.
//! `compose_stack.rs` checks that it agrees with `scripts/stack`.

use std::collections::BTreeSet;

use anyhow::{Context, Result, ensure};
use deploy::compose::{
    dependencies, environment, is_one_shot, listening_ports, services, string_list, strings,
};
use deploy::{help, repo, yaml};
use serde_json::Value;

fn compose() -> Value {
    deploy::compose::load().expect("compose.yaml parses")
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
