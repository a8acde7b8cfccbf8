//! Finding the workspace's own binaries and free TCP ports for tests that
//! run them as real processes.
//!
//! Integration tests of one package cannot use `CARGO_BIN_EXE_*` for another
//! package's binary, but `scripts/test` builds the whole workspace first, so
//! the binary sits in the same target directory as the test executable.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// The path of the workspace binary `name` (e.g. `"dataflow"`): next to the
/// running test executable's directory (`<target>/<profile>/deps/..`), else
/// the path in the environment variable `env_fallback`.
///
/// # Panics
/// With instructions, when neither place has an executable file.
pub fn workspace_binary(name: &str, env_fallback: &str) -> PathBuf {
    let beside = std::env::current_exe().ok().and_then(|exe| {
        // <target>/<profile>/deps/<test>-<hash> → <target>/<profile>/<name>
        let profile_dir = exe.parent()?.parent()?.to_path_buf();
        Some(profile_dir.join(name))
    });
    if let Some(path) = beside.filter(|p| p.is_file()) {
        return path;
    }
    if let Some(path) = std::env::var_os(env_fallback).map(PathBuf::from) {
        assert!(path.is_file(), "{env_fallback}={} is not a file", path.display());
        return path;
    }
    panic!(
        "no `{name}` binary next to the test executable; build the workspace first \
         (`cargo build --workspace`, as scripts/test does) or set {env_fallback}=/path/to/{name}"
    );
}

/// The repository's file at `path` (e.g. `"scripts/stack"`), found from
/// the running test's crate directory, which `cargo test` sets in
/// `CARGO_MANIFEST_DIR` at run time, rather than from the checkout that
/// compiled the test: a target directory shared by two checkouts (CI's
/// clone and a working copy) hands one checkout's test binaries to the
/// other, whose compiled-in directory may be gone.
pub fn repo_file(path: &str) -> PathBuf {
    let crate_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    crate_dir.join("..").join(path)
}

/// The first port [`free_port`] hands out from, and one past its last:
/// below Linux's ephemeral range (`ip_local_port_range`, 32768-60999 by
/// default), so no process binding port 0 (the job's metrics server, a
/// Kafka client) can be given a port a test already handed out.
const HANDED_OUT: (u16, u16) = (20_000, 32_000);

/// A TCP port on 127.0.0.1 that was free a moment ago, for binaries that
/// need a fixed address on their command line.
///
/// Ports come from below the ephemeral range, each one once per test
/// process (an atomic cursor that starts at a place that depends on the
/// process id, so test binaries running at the same time rarely meet), and
/// only if binding it works. A port from `bind(0)` would be an ephemeral
/// one, which the OS may give to another socket between this call and the
/// binary's own bind: that race once put a job's metrics server on the port
/// a test had chosen for its timely cluster.
///
/// # Panics
/// When no port of the range can be bound.
pub fn free_port() -> u16 {
    static CURSOR: OnceLock<AtomicU32> = OnceLock::new();
    let (first, end) = (u32::from(HANDED_OUT.0), u32::from(HANDED_OUT.1));
    let span = end - first;
    let cursor =
        CURSOR.get_or_init(|| AtomicU32::new(std::process::id().wrapping_mul(7_919) % span));
    for _ in 0..span {
        let offset = cursor.fetch_add(1, Ordering::Relaxed) % span;
        let port = u16::try_from(first + offset).expect("the range is within u16");
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {}..{}", HANDED_OUT.0, HANDED_OUT.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_can_be_bound() {
        let port = free_port();
        assert!((HANDED_OUT.0..HANDED_OUT.1).contains(&port), "{port}");
        TcpListener::bind(("127.0.0.1", port)).expect("the port is free");
        assert_ne!(free_port(), port, "a port is handed out once");
    }

    #[test]
    fn a_missing_binary_names_the_variable_to_set() {
        let result = std::panic::catch_unwind(|| {
            workspace_binary("no-such-binary-xyz", "TESTKIT_NO_SUCH_VARIABLE_XYZ")
        });
        let message = result.expect_err("must panic");
        let text = message.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(text.contains("TESTKIT_NO_SUCH_VARIABLE_XYZ"), "{text}");
    }
}
