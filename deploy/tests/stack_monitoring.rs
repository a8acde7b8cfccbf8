//! `scripts/stack up --monitoring`'s part, scripts/lib/stack-monitoring.sh,
//! run as scripts/stack runs it (sourced after common.sh and stack-proc.sh)
//! but in a private state directory and on free ports, so that the shared
//! stack is not touched: it starts Prometheus with the project's rules and
//! Alertmanager with the rendered configuration, a second start makes them
//! re-read a changed environment, and a stop ends both.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use deploy::monitoring::api_data;
use deploy::{http, repo};
use serde_json::Value;

/// Runs `steps` (bash) with the library sourced as scripts/stack does.
fn with_library(
    state: &std::path::Path,
    ports: (u16, u16),
    webhook: &str,
    steps: &str,
) -> Result<String> {
    let script = format!(
        "set -euo pipefail\nSCRIPTS_DIR={scripts}\nSTATE_DIR={state}\n\
         . \"$SCRIPTS_DIR/lib/common.sh\"\n. \"$SCRIPTS_DIR/lib/stack-proc.sh\"\n\
         . \"$SCRIPTS_DIR/lib/stack-monitoring.sh\"\n{steps}\n",
        scripts = repo::path("scripts").display(),
        state = state.display(),
    );
    let output = Command::new("bash")
        .args(["-c", &script])
        .env("TAGFLOW_PROMETHEUS_PORT", ports.0.to_string())
        .env("TAGFLOW_ALERTMANAGER_PORT", ports.1.to_string())
        .env("TAGFLOW_ALERT_WEBHOOK_URL", webhook)
        .output()
        .context("running bash")?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    ensure!(output.status.success(), "stack-monitoring.sh failed:\n{text}");
    Ok(text)
}

/// Polls `check` every 250 ms for up to 30 s.
fn eventually(what: &str, mut check: impl FnMut() -> Result<bool>) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = Ok(false);
    while Instant::now() < deadline {
        last = check();
        if matches!(last, Ok(true)) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    bail!("{what} not so after 30 s (last check: {last:?})")
}

/// Alertmanager's configuration as it runs it.
fn running_config(addr: &str) -> Result<String> {
    let response = http::get(addr, "/api/v2/status")?;
    let status: Value = serde_json::from_str(&response.body)?;
    Ok(status["config"]["original"].as_str().unwrap_or_default().to_owned())
}

#[test]
fn stack_monitoring_starts_reloads_and_stops_prometheus_and_alertmanager() -> Result<()> {
    let state = tempfile::tempdir()?;
    let ports = (testkit::free_port(), testkit::free_port());
    let (prometheus, alertmanager) =
        (format!("127.0.0.1:{}", ports.0), format!("127.0.0.1:{}", ports.1));
    let started = with_library(state.path(), ports, "http://127.0.0.1:1/first", "start_monitoring");
    let stop = || {
        with_library(
            state.path(),
            ports,
            "",
            "mapfile -t p < <(monitoring_pids); stop_pids 30 \"${p[@]}\"; forget_monitoring_pids",
        )
    };
    let result = (|| -> Result<()> {
        started?;
        // Prometheus has the project's rules and sends to this Alertmanager.
        let rules = api_data(&prometheus, "/api/v1/rules")?;
        let loaded: usize = rules["groups"]
            .as_array()
            .context("groups")?
            .iter()
            .map(|g| g["rules"].as_array().map_or(0, Vec::len))
            .sum();
        ensure!(loaded >= 7, "{loaded} rules loaded: {rules}");
        eventually("Prometheus sends to the stack's Alertmanager", || {
            let managers = api_data(&prometheus, "/api/v1/alertmanagers")?;
            Ok(managers["activeAlertmanagers"].to_string().contains(&alertmanager))
        })?;
        ensure!(running_config(&alertmanager)?.contains("http://127.0.0.1:1/first"));

        // Again, with another webhook: the running Alertmanager re-reads it.
        with_library(state.path(), ports, "http://127.0.0.1:1/second", "start_monitoring")?;
        eventually("Alertmanager runs the new webhook", || {
            Ok(running_config(&alertmanager)?.contains("http://127.0.0.1:1/second"))
        })?;
        Ok(())
    })();
    // Stopped as scripts/stack's stop_all stops them, whatever happened.
    let stopped = stop();
    result?;
    stopped?;
    for addr in [&prometheus, &alertmanager] {
        ensure!(http::get(addr, "/-/ready").is_err(), "{addr} still answers after the stop");
    }
    Ok(())
}
