//! Finding a workspace binary (e.g. the `dataflow` job) from a test of
//! another crate, which cargo does not build or locate for it.

use std::path::PathBuf;

/// The path of workspace binary `name`: `<target>/<profile>/<name>` next to
/// the running test executable (which lives in `<target>/<profile>/deps`;
/// `scripts/test` builds every binary first), else the path in environment
/// variable `env_var`.
///
/// # Panics
/// With instructions, when neither exists.
pub fn workspace_binary(name: &str, env_var: &str) -> PathBuf {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join(name)))
        .filter(|path| path.is_file());
    if let Some(path) = beside {
        return path;
    }
    if let Some(path) = std::env::var_os(env_var).map(PathBuf::from) {
        assert!(path.is_file(), "{env_var}={} is not a file", path.display());
        return path;
    }
    panic!(
        "binary `{name}` not found next to the test executable; build it \
         (`cargo build --workspace --all-targets`, as scripts/test does) or set {env_var}"
    );
}
