//! Paths inside the repository, wherever the tests run from.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// The repository root (the workspace directory above `deploy/`).
///
/// `cargo test` sets `CARGO_MANIFEST_DIR` for the test it runs, and that
/// is taken first: the directory compiled into this library is that of the
/// checkout that built it, and a target directory shared by two checkouts
/// (a worktree, or CI's clone) can hand one checkout's build to the other.
pub fn root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest_dir.parent().map_or_else(|| PathBuf::from(".."), Path::to_path_buf)
}

/// `root()/relative`.
pub fn path(relative: &str) -> PathBuf {
    root().join(relative)
}

/// The text of a repository file.
///
/// # Errors
/// When it cannot be read.
pub fn read(relative: &str) -> anyhow::Result<String> {
    let path = path(relative);
    std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
}
