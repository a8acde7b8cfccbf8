//! Driving the job's process from tests: starting it with its log in a
//! file, killing it, waiting for a condition, scraping its metrics.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn spawn(mut command: Command) -> Child {
    command.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("start dataflow")
}

/// Starts `command` with its stderr (warnings and errors) going to `log`.
pub fn spawn_logged(mut command: Command, log: &Path) -> Child {
    let log = std::fs::File::create(log).unwrap();
    command.stdout(Stdio::null()).stderr(log).spawn().expect("start dataflow")
}

pub fn kill_9(child: &mut Child) {
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
}

/// Polls until `done` holds (every 1 ms, at most `limit`).
pub fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    false
}

/// Polls `done` every half second for up to `limit`; how long it took to
/// hold (None if it never did).
pub fn time_until(limit: Duration, mut done: impl FnMut() -> bool) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if done() {
            return Some(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    None
}

/// The address of the job's /metrics, as its log announces it (at info).
pub fn metrics_address(log: &str) -> Option<&str> {
    log.split("serving metrics at http://").nth(1).and_then(|rest| rest.split('/').next())
}

/// GETs the job's /metrics, whose address its log announces.
pub fn scrape_metrics(log: &str) -> String {
    let address = metrics_address(log).expect("the job logs its metrics address");
    testkit::scrape_metrics_at(address).unwrap()
}

/// The value of the unlabelled sample `name` in a /metrics text, if there
/// is one.
pub fn sample<'a>(metrics: &'a str, name: &str) -> Option<&'a str> {
    metrics.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ').map(str::trim))
}

/// What the job logged to `path` so far (empty if nothing yet).
pub fn log_of(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}
