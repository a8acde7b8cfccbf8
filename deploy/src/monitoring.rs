//! Running the real monitoring servers in tests: Prometheus with the
//! repository's configuration and rules, and Alertmanager with its
//! configuration rendered from `deploy/alertmanager` (Debian's `prometheus`
//! and `prometheus-alertmanager`: `scripts/install-deps --prometheus`).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::process::Running;
use crate::{http, repo, yaml};

/// A server of this module, running until dropped.
#[derive(Debug)]
pub struct Server {
    /// host:port it listens on.
    pub addr: String,
    /// The process.
    pub process: Running,
}

/// `deploy/prometheus/prometheus-local.yml` for a test: scraped and
/// evaluated every second, its rule files as absolute paths (`rules`
/// replaces them when given). Targets and Alertmanagers are the caller's.
///
/// # Errors
/// When the file cannot be read.
pub fn local_prometheus_config(rules: Option<&Path>) -> anyhow::Result<Value> {
    let mut config = yaml::load(&repo::path("deploy/prometheus/prometheus-local.yml"))?;
    config["global"] = json!({"scrape_interval": "1s", "evaluation_interval": "1s"});
    let files = config["rule_files"].as_array_mut().context("rule_files")?;
    for file in files.iter_mut() {
        let relative = file.as_str().context("rule file")?.to_owned();
        *file = match rules {
            Some(path) => json!(path),
            None => json!(repo::path("deploy/prometheus").join(relative)),
        };
    }
    Ok(config)
}

/// Writes `config` to `dir/prometheus.yml` and starts Prometheus with it on
/// 127.0.0.1:`port`, its data in `dir/data`; returns once it is ready.
///
/// # Errors
/// When it does not start or get ready within 30 s.
pub fn start_prometheus(config: &Value, dir: &Path, port: u16) -> anyhow::Result<Server> {
    let path = dir.join("prometheus.yml");
    std::fs::write(&path, serde_json::to_string_pretty(config)?)?;
    let addr = format!("127.0.0.1:{port}");
    let mut command = Command::new("prometheus");
    command
        .arg(format!("--config.file={}", path.display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address={addr}"));
    ready(Running::start("prometheus", command, &dir.join("prometheus.log"))?, addr)
}

/// Renders `deploy/alertmanager/alertmanager.yml.tmpl` to `output` with
/// `render-config`, the environment being exactly `env` (plus PATH).
///
/// # Errors
/// With render-config's message when it fails.
pub fn render_alertmanager_config(env: &[(&str, &str)], output: &Path) -> anyhow::Result<()> {
    let mut command = Command::new("sh");
    command
        .arg(repo::path("deploy/alertmanager/render-config"))
        .arg(repo::path("deploy/alertmanager/alertmanager.yml.tmpl"))
        .arg(output)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().copied());
    let result = command.output().context("running sh render-config")?;
    if !result.status.success() {
        bail!("render-config failed: {}", String::from_utf8_lossy(&result.stderr));
    }
    Ok(())
}

/// `amtool` with `args`; its standard output.
///
/// # Errors
/// When it is missing or fails.
pub fn amtool(args: &[&str]) -> anyhow::Result<String> {
    let output = Command::new("amtool").args(args).output().context(
        "running amtool (Debian package prometheus-alertmanager: scripts/install-deps --prometheus)",
    )?;
    if !output.status.success() {
        bail!(
            "amtool {} failed: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Starts Alertmanager with `config` on 127.0.0.1:`port`, without its cluster
/// listener, its data in `dir/alertmanager`; returns once it is ready.
///
/// # Errors
/// When it does not start or get ready within 30 s.
pub fn start_alertmanager(config: &Path, dir: &Path, port: u16) -> anyhow::Result<Server> {
    let addr = format!("127.0.0.1:{port}");
    let mut command = Command::new("prometheus-alertmanager");
    command
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.path={}", dir.join("alertmanager").display()))
        .arg(format!("--web.listen-address={addr}"))
        .arg("--cluster.listen-address=");
    ready(Running::start("alertmanager", command, &dir.join("alertmanager.log"))?, addr)
}

fn ready(mut process: Running, addr: String) -> anyhow::Result<Server> {
    let probe = addr.clone();
    process.wait_until(Duration::from_secs(30), || {
        http::get(&probe, "/-/ready").is_ok_and(|r| r.status == 200)
    })?;
    Ok(Server { addr, process })
}

/// The `data` of a Prometheus JSON API answer to `GET path`.
///
/// # Errors
/// On a failed request or a non-200 answer.
pub fn api_data(addr: &str, path: &str) -> anyhow::Result<Value> {
    let response = http::get(addr, path)?;
    anyhow::ensure!(response.status == 200, "GET {path}: {} {}", response.status, response.body);
    let json: Value = serde_json::from_str(&response.body)?;
    Ok(json["data"].clone())
}
