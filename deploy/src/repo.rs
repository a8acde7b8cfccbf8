//! Paths inside the repository, wherever the tests run from.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// The repository root (the workspace directory above `deploy/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from(".."), Path::to_path_buf)
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
