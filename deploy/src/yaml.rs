//! YAML to JSON through `python3` and PyYAML (`python3-yaml`, installed by
//! `scripts/install-deps`), so the workspace needs no YAML crate.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};
use serde_json::Value;

/// Reads a YAML file (`yaml.safe_load`: anchors and `<<` merge keys are
/// resolved) and returns it as JSON.
///
/// # Errors
/// When python3 or PyYAML is missing, or the file is not valid YAML.
pub fn load(path: &Path) -> anyhow::Result<Value> {
    const SCRIPT: &str =
        "import json, sys, yaml\njson.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)";
    let output = Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(path)
        .output()
        .context("running python3 (install python3 and python3-yaml: scripts/install-deps)")?;
    if !output.status.success() {
        bail!(
            "python3 could not read {} as YAML (is python3-yaml installed? scripts/install-deps): {}",
            path.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    serde_json::from_slice(&output.stdout).context("python3's JSON")
}

/// Parses a stream of YAML documents (`---` separated, as `kustomize build`
/// prints them) and returns the non-empty ones as JSON.
///
/// # Errors
/// When python3 or PyYAML is missing, or the text is not valid YAML.
pub fn load_all_str(text: &str) -> anyhow::Result<Vec<Value>> {
    use std::io::Write;
    const SCRIPT: &str = "import json, sys, yaml\njson.dump([d for d in yaml.safe_load_all(sys.stdin) if d is not None], sys.stdout)";
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .context("running python3 (install python3 and python3-yaml: scripts/install-deps)")?;
    child.stdin.take().context("python3's stdin")?.write_all(text.as_bytes())?;
    let output = child.wait_with_output()?;
    if !output.status.success() {
        bail!(
            "python3 could not read the YAML stream: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    serde_json::from_slice(&output.stdout).context("python3's JSON")
}
