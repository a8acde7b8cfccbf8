//! Finding the workspace's own binaries and free TCP ports for tests that
//! run them as real processes.
//!
//! Integration tests of one package cannot use `CARGO_BIN_EXE_*` for another
//! package's binary, but `scripts/test` builds the whole workspace first, so
//! the binary sits in the same target directory as the test executable.

use std::net::TcpListener;
use std::path::PathBuf;

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

/// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0 and
/// released), for binaries that need a fixed address on their command line.
///
/// # Panics
/// When no socket can be bound at all.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_can_be_bound() {
        let port = free_port();
        assert_ne!(port, 0);
        TcpListener::bind(("127.0.0.1", port)).expect("the port is free");
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
