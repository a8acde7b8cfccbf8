//! The Grafana dashboards and their provisioning: valid JSON with the panels
//! the issue asks for, and every query (and every alert rule) using only
//! metrics and labels that really exist — scraped from the running job and
//! API, or documented for the exporters (deploy/grafana/exporter-metrics.txt).

mod common;

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result, ensure};
use deploy::exposition::Exposition;
use deploy::promql::{self, References};
use deploy::{exporters, repo, yaml};
use serde_json::Value;

/// (file name, dashboard JSON) of every provisioned dashboard.
fn dashboards() -> Vec<(String, Value)> {
    let dir = repo::path("deploy/grafana/dashboards");
    let mut out: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .expect("dashboards dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read dashboard");
            let json: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", p.display()));
            (p.file_name().expect("file name").to_string_lossy().into_owned(), json)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(out.len() >= 3, "expected the API, dataflow and infrastructure dashboards");
    out
}

/// Every panel, rows' nested panels included.
fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        out.push(panel);
        if let Some(nested) = panel["panels"].as_array() {
            out.extend(nested);
        }
    }
    out
}

/// (where, expression) of every dashboard query and alert rule.
fn all_queries() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (file, dashboard) in dashboards() {
        for panel in panels(&dashboard) {
            for target in panel["targets"].as_array().into_iter().flatten() {
                let expr = target["expr"].as_str().unwrap_or_default().to_owned();
                out.push((format!("{file}: panel {:?}", panel["title"]), expr));
            }
        }
    }
    let rules = yaml::load(&repo::path("deploy/prometheus/alerts.yml")).expect("alerts.yml");
    for group in rules["groups"].as_array().expect("groups") {
        for rule in group["rules"].as_array().expect("rules") {
            let name = rule["alert"].as_str().or(rule["record"].as_str()).unwrap_or("?");
            out.push((
                format!("alerts.yml: {name}"),
                rule["expr"].as_str().expect("expr").to_owned(),
            ));
        }
    }
    out
}

#[test]
fn dashboards_are_well_formed_and_use_the_provisioned_datasource() {
    let datasources =
        yaml::load(&repo::path("deploy/grafana/provisioning/datasources/prometheus.yml")).unwrap();
    let uid = datasources["datasources"][0]["uid"].as_str().expect("datasource uid");
    let mut uids = BTreeSet::new();
    for (file, dashboard) in dashboards() {
        assert!(
            uids.insert(dashboard["uid"].as_str().expect("uid").to_owned()),
            "{file}: duplicate uid"
        );
        assert!(dashboard["title"].as_str().is_some_and(|t| !t.is_empty()), "{file}: title");
        assert!(dashboard["schemaVersion"].as_u64().is_some(), "{file}: schemaVersion");
        let mut ids = BTreeSet::new();
        for panel in panels(&dashboard) {
            let title = panel["title"].as_str().unwrap_or_default();
            assert!(ids.insert(panel["id"].as_u64().expect("panel id")), "{file}: duplicate id");
            let grid = &panel["gridPos"];
            let (x, w) = (grid["x"].as_u64().unwrap(), grid["w"].as_u64().unwrap());
            assert!(x + w <= 24 && grid["h"].as_u64().unwrap() > 0, "{file}: {title} grid {grid}");
            if panel["type"] == "row" {
                continue;
            }
            assert_eq!(panel["datasource"]["uid"].as_str(), Some(uid), "{file}: {title}");
            let targets = panel["targets"].as_array().expect("targets");
            assert!(!targets.is_empty(), "{file}: {title} has no query");
            for target in targets {
                assert_eq!(target["datasource"]["uid"].as_str(), Some(uid), "{file}: {title}");
                let expr = target["expr"].as_str().unwrap_or_default();
                assert!(!promql::references(expr).metrics.is_empty(), "{file}: {title}: {expr:?}");
            }
        }
    }
    // The provider loads the directory compose.yaml mounts the dashboards at.
    let provider =
        yaml::load(&repo::path("deploy/grafana/provisioning/dashboards/tagflow.yml")).unwrap();
    let path = provider["providers"][0]["options"]["path"].as_str().expect("provider path");
    let compose = repo::read("compose.yaml").unwrap();
    assert!(compose.contains(&format!("./deploy/grafana/dashboards:{path}")), "mount of {path}");
}

#[test]
fn dashboards_cover_what_the_issue_asks_for() {
    let queries: Vec<String> = dashboards()
        .iter()
        .flat_map(|(_, d)| {
            panels(d)
                .into_iter()
                .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
                .map(|t| t["expr"].as_str().unwrap_or_default().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    let any = |what: &str, test: &dyn Fn(&str) -> bool| {
        assert!(queries.iter().any(|q| test(q)), "no panel shows {what}");
    };
    any("QPS", &|q| q.contains("rate(http_requests_total"));
    any("p95 latency", &|q| {
        q.contains("histogram_quantile(0.95") && q.contains("http_request_duration_ms_bucket")
    });
    any("p99 latency", &|q| {
        q.contains("histogram_quantile(0.99") && q.contains("http_request_duration_ms_bucket")
    });
    any("error rate", &|q| q.contains("http_request_errors_total") && q.contains('/'));
    any("async runtime health", &|q| q.contains("api_runtime_lag_seconds"));
    any("events/s per topic", &|q| {
        q.contains("by (topic)") && q.contains("tagflow_events_consumed_total")
    });
    any("consumer lag", &|q| q.contains("tagflow_consumer_lag"));
    any("checkpoint duration", &|q| q.contains("tagflow_checkpoint_duration_seconds_bucket"));
    any("checkpoint age", &|q| {
        q.contains("time() - ") && q.contains("tagflow_checkpoint_last_completed_timestamp_seconds")
    });
    any("dead-letter rate", &|q| q.contains("tagflow_dead_lettered_total") && q.contains('/'));
    any("the Redis exporter", &|q| {
        promql::references(q).metrics.iter().any(|m| m.starts_with("redis_"))
    });
    any("the Kafka exporter", &|q| {
        promql::references(q).metrics.iter().any(|m| m.starts_with("kafka_"))
    });
}

/// Metric name → label names, of everything a query may use.
fn known_metrics(scrapes: &[Exposition]) -> BTreeMap<String, Option<BTreeSet<String>>> {
    // None = exists, but its labels are unknown (a family without samples yet).
    let mut known: BTreeMap<String, Option<BTreeSet<String>>> = BTreeMap::new();
    for scrape in scrapes {
        for name in scrape.series_names() {
            known.entry(name).or_insert(None);
        }
        for (name, labels) in &scrape.samples {
            known.insert(name.clone(), Some(labels.clone()));
        }
    }
    let documented = exporters::parse(
        &repo::read("deploy/grafana/exporter-metrics.txt").expect("exporter list"),
    );
    for (name, labels) in documented {
        known.insert(name, Some(labels));
    }
    // Prometheus's own per-target series.
    known.insert("up".into(), Some(BTreeSet::new()));
    known
}

/// Labels every series has once scraped.
const TARGET_LABELS: &[&str] = &["job", "instance"];

fn check_query(
    place: &str,
    expr: &str,
    known: &BTreeMap<String, Option<BTreeSet<String>>>,
) -> Vec<String> {
    let References { metrics, matchers, grouping } = promql::references(expr);
    let mut problems = Vec::new();
    let mut labels: BTreeSet<String> = TARGET_LABELS.iter().map(|s| (*s).to_owned()).collect();
    let mut all_labels_known = true;
    for metric in &metrics {
        match known.get(metric) {
            None => problems.push(format!("{place}: metric {metric} is not exported")),
            Some(Some(l)) => labels.extend(l.iter().cloned()),
            Some(None) => all_labels_known = false,
        }
    }
    for (metric, label) in matchers {
        let own = metric.as_ref().and_then(|m| known.get(m)).cloned().flatten();
        if let Some(own) = own
            && !own.contains(&label)
            && !TARGET_LABELS.contains(&label.as_str())
        {
            problems.push(format!("{place}: {} has no label {label}", metric.unwrap_or_default()));
        }
    }
    if all_labels_known {
        for label in grouping {
            if !labels.contains(&label) {
                problems
                    .push(format!("{place}: no metric of the query has label {label} ({expr})"));
            }
        }
    }
    problems
}

/// Every dashboard query and alert rule names only metrics the running job
/// and API export (or the exporters document), with labels they carry.
#[test]
fn every_query_uses_exported_metrics_and_labels() -> Result<()> {
    let job = common::start_job()?;
    let logs = common::temp_dir();
    let api = common::start_api(&job.topics, logs.path())?;
    let failing_api = common::scrape_api_with_redis_down(&job.topics, logs.path())?;
    let scrapes = vec![common::scrape(&job.addr)?, common::scrape(&api.addr)?, failing_api];
    let known = known_metrics(&scrapes);
    let queries = all_queries();
    ensure!(queries.len() >= 40, "only {} queries found", queries.len());
    let problems: Vec<String> =
        queries.iter().flat_map(|(place, expr)| check_query(place, expr, &known)).collect();
    ensure!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
    Ok(())
}

/// The check itself: an unknown metric, a wrong matcher label and a wrong
/// grouping label are all reported.
#[test]
fn the_query_check_reports_unknown_metrics_and_labels() -> Result<()> {
    let page = "# TYPE tagflow_state_keys gauge\ntagflow_state_keys{kind=\"users\"} 3\n";
    let known = known_metrics(&[Exposition::parse(page)]);
    let problems = check_query(
        "t",
        "sum by (state) (tagflow_state_keys{state=\"users\"}) + nope_total",
        &known,
    );
    ensure!(problems.len() == 3, "{problems:?}");
    let fine = check_query("t", "sum by (kind, job) (tagflow_state_keys{kind=\"users\"})", &known);
    ensure!(fine.is_empty(), "{fine:?}");
    let exporter = check_query("t", "sum by (topic) (kafka_consumergroup_lag_sum)", &known);
    ensure!(exporter.is_empty(), "{exporter:?}");
    Ok(())
}

/// Helps the reader of a failure: which file the exporter list is.
#[test]
fn exporter_list_names_the_versions_compose_runs() -> Result<()> {
    let list = repo::read("deploy/grafana/exporter-metrics.txt")?;
    let compose = repo::read("compose.yaml")?;
    for (image, version) in [
        ("oliver006/redis_exporter:", "redis_exporter v"),
        ("danielqsj/kafka-exporter:", "kafka_exporter v"),
    ] {
        let tag = compose
            .split(image)
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .with_context(|| format!("{image} in compose.yaml"))?;
        let tag = tag.trim_start_matches('v').split('-').next().unwrap_or(tag);
        ensure!(
            list.contains(&format!("[{version}{tag}]")),
            "exporter list is not for {image}{tag}"
        );
    }
    Ok(())
}
