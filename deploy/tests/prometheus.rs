//! The Prometheus configuration and alert rules, checked by Prometheus's own
//! tools (Debian's `prometheus` package: `promtool`, `prometheus`), and a
//! real Prometheus scraping the running job and API.

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use deploy::monitoring::{self, api_data};
use deploy::{repo, yaml};
use serde_json::json;

fn promtool(args: &[&str]) -> Result<String> {
    let output = Command::new("promtool")
        .args(args)
        .current_dir(repo::path("deploy/prometheus"))
        .output()
        .context(
            "running promtool (Debian package prometheus: scripts/install-deps --prometheus)",
        )?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if !output.status.success() {
        bail!("promtool {} failed:\n{text}", args.join(" "));
    }
    Ok(text)
}

fn alert_names() -> BTreeSet<String> {
    let rules = yaml::load(&repo::path("deploy/prometheus/alerts.yml")).expect("alerts.yml");
    rules["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .flat_map(|g| g["rules"].as_array().expect("rules").iter())
        .filter_map(|r| r["alert"].as_str().map(str::to_owned))
        .collect()
}

fn rule_test_files() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(repo::path("deploy/prometheus/tests"))
        .expect("deploy/prometheus/tests")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yml"))
        .map(|n| format!("tests/{n}"))
        .collect();
    files.sort();
    files
}

#[test]
fn promtool_accepts_the_configuration_and_rules() -> Result<()> {
    for file in ["prometheus.yml", "prometheus-local.yml"] {
        let config = promtool(&["check", "config", file])?;
        ensure!(config.contains("SUCCESS: 1 rule files found"), "{config}");
    }
    let rules = promtool(&["check", "rules", "alerts.yml"])?;
    ensure!(rules.contains(&format!("SUCCESS: {} rules found", alert_names().len())), "{rules}");
    Ok(())
}

#[test]
fn the_issue_s_alerts_exist() {
    let names = alert_names();
    for wanted in [
        "TagflowHighCpu",
        "TagflowHttpErrorRate",
        "TagflowRedisLatencyHigh",
        "TagflowConsumerLagGrowing",
        "TagflowCheckpointStale",
        "TagflowDeadLetterRate",
        "TagflowTargetDown",
    ] {
        assert!(names.contains(wanted), "{wanted} missing from alerts.yml: {names:?}");
    }
}

/// `promtool test rules`, and every alert has a unit test in which it fires
/// and one in which it stays quiet.
#[test]
fn every_alert_has_passing_unit_tests() -> Result<()> {
    let files = rule_test_files();
    let mut args = vec!["test", "rules"];
    args.extend(files.iter().map(String::as_str));
    let output = promtool(&args)?;
    ensure!(output.matches("SUCCESS").count() == files.len(), "{output}");

    let mut fires = BTreeSet::new();
    let mut quiet = BTreeSet::new();
    for file in &files {
        let tests = yaml::load(&repo::path(&format!("deploy/prometheus/{file}")))?;
        for test in tests["tests"].as_array().context("tests")? {
            for case in test["alert_rule_test"].as_array().into_iter().flatten() {
                let name = case["alertname"].as_str().context("alertname")?.to_owned();
                if case["exp_alerts"].as_array().is_some_and(|a| !a.is_empty()) {
                    fires.insert(name);
                } else {
                    quiet.insert(name);
                }
            }
        }
    }
    for alert in alert_names() {
        ensure!(fires.contains(&alert), "no unit test in which {alert} fires");
        ensure!(quiet.contains(&alert), "no unit test in which {alert} stays quiet");
    }
    Ok(())
}

/// A real Prometheus, configured by deploy/prometheus/prometheus-local.yml
/// pointed at the running job and API (and loading the real alert rules),
/// sees both targets up and evaluates every rule without error.
#[test]
fn prometheus_scrapes_the_running_job_and_api() -> Result<()> {
    let job = common::start_job()?;
    let dir = common::temp_dir();
    let api = common::start_api(&job.topics, dir.path())?;

    // deploy/prometheus/prometheus-local.yml, with the test's addresses, a
    // 1 s scrape interval and the rule file's absolute path.
    let mut config = monitoring::local_prometheus_config(None)?;
    for scrape in config["scrape_configs"].as_array_mut().context("scrape_configs")? {
        let target = match scrape["job_name"].as_str() {
            Some("tagflow-dataflow") => &job.addr,
            Some("tagflow-api") => &api.addr,
            other => bail!("unexpected job {other:?} in prometheus-local.yml"),
        };
        scrape["static_configs"] = json!([{"targets": [target]}]);
    }
    let prometheus = monitoring::start_prometheus(&config, dir.path(), testkit::free_port())?;
    promtool(&["check", "config", &dir.path().join("prometheus.yml").to_string_lossy()])?;
    let prometheus_addr = prometheus.addr.clone();

    let started = Instant::now();
    let up = loop {
        let targets = api_data(&prometheus_addr, "/api/v1/targets")?;
        let health: Vec<(String, String)> = targets["activeTargets"]
            .as_array()
            .context("activeTargets")?
            .iter()
            .map(|t| {
                (
                    t["labels"]["job"].as_str().unwrap_or_default().to_owned(),
                    t["health"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        if health.len() == 2 && health.iter().all(|(_, h)| h == "up") {
            break health;
        }
        if started.elapsed() > Duration::from_secs(60) {
            bail!("targets not up after 60 s: {targets:#}\n{}", prometheus.process.output());
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let jobs: BTreeSet<&str> = up.iter().map(|(j, _)| j.as_str()).collect();
    ensure!(jobs == BTreeSet::from(["tagflow-dataflow", "tagflow-api"]), "{up:?}");

    // The scraped series are queryable, and every alert rule evaluates cleanly.
    let consumed = api_data(&prometheus_addr, "/api/v1/query?query=tagflow_events_consumed_total")?;
    ensure!(consumed["result"].as_array().is_some_and(|r| !r.is_empty()), "{consumed}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let rules = api_data(&prometheus_addr, "/api/v1/rules")?;
        let health: Vec<(String, String)> = rules["groups"]
            .as_array()
            .context("groups")?
            .iter()
            .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
            .map(|r| {
                (
                    r["name"].as_str().unwrap_or_default().to_owned(),
                    r["health"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        let names: BTreeSet<String> = health.iter().map(|(n, _)| n.clone()).collect();
        ensure!(names == alert_names(), "loaded rules {names:?}");
        if let Some((name, _)) = health.iter().find(|(_, h)| h == "err") {
            bail!("rule {name} fails to evaluate: {rules:#}");
        }
        if health.iter().all(|(_, h)| h == "ok") {
            break;
        }
        ensure!(Instant::now() < deadline, "rules not evaluated after 30 s: {health:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
    drop(prometheus);
    Ok(())
}
