//! Faults of the shared stack's Kafka nodes, for the broker-fault tests:
//! kill one node with SIGKILL, and bring every stopped node back with
//! `scripts/stack up` (which starts only what is not running and waits
//! until the cluster and its topics are healthy).
//!
//! These disturb every test that uses the cluster at the same time, so the
//! tests that call them are `#[ignore]`d and `scripts/test` runs them alone.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// The stack's state directory (`TAGFLOW_STACK_DIR`, as `scripts/stack`).
fn state_dir() -> PathBuf {
    std::env::var_os("TAGFLOW_STACK_DIR").map_or_else(
        || {
            let home = std::env::var_os("HOME").expect("HOME");
            PathBuf::from(home).join(".local/share/tagflow/stack")
        },
        PathBuf::from,
    )
}

/// Kills Kafka node `node` (1 to 3) with SIGKILL and waits until it is gone.
///
/// # Panics
/// If its pid file is missing or the process does not die within 10 s.
pub fn kill_node(node: u8) {
    let pidfile = state_dir().join(format!("node-{node}/kafka.pid"));
    let pid = std::fs::read_to_string(&pidfile)
        .unwrap_or_else(|err| panic!("{}: {err}", pidfile.display()))
        .trim()
        .to_owned();
    let _ = Command::new("kill").args(["-KILL", &pid]).status();
    let gone = PathBuf::from(format!("/proc/{pid}"));
    let started = Instant::now();
    while gone.exists() {
        assert!(started.elapsed() < Duration::from_secs(10), "node-{node} (pid {pid}) survived");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts every stopped node again (`scripts/stack up`) and waits until the
/// cluster is healthy; tries three times, since a loaded machine can take
/// longer than the script's own wait.
///
/// # Panics
/// If `scripts/stack up` fails three times.
pub fn restart_stopped_nodes() {
    let script = crate::binaries::repo_file("scripts/stack");
    let mut failures = Vec::new();
    for _ in 0..3 {
        let output = Command::new(&script).arg("up").output().expect("run scripts/stack up");
        if output.status.success() {
            return;
        }
        failures.push(format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    panic!("scripts/stack up failed three times:\n{}", failures.join("\n---\n"));
}
