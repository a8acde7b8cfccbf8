//! The Kubernetes manifests of `deploy/k8s`: rendering a kustomization with
//! kustomize, validating the result against the Kubernetes JSON schemas
//! (`kubernetes-validate`), and looking things up in the rendered objects.
//! `scripts/install-deps --k8s` installs both tools.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use serde_json::Value;

/// Where `scripts/install-deps --k8s` puts the tools.
fn tools_dir() -> PathBuf {
    std::env::var_os("TAGFLOW_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/tagflow")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("k8s-tools")
}

/// `tools_dir()/relative` if it exists, else `name` from `PATH`.
fn tool(relative: &str, name: &str) -> PathBuf {
    let installed = tools_dir().join(relative);
    if installed.is_file() { installed } else { PathBuf::from(name) }
}

fn run(mut command: Command, what: &str) -> anyhow::Result<String> {
    let output = command
        .output()
        .with_context(|| format!("running {what} (install it: scripts/install-deps --k8s)"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if !output.status.success() {
        bail!("{what} failed:\n{text}");
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The kustomizations of `deploy/k8s`: `base`, then every overlay, as
/// paths relative to the repository.
///
/// # Errors
/// When `deploy/k8s/overlays` cannot be read.
pub fn kustomizations() -> anyhow::Result<Vec<String>> {
    let mut found = vec!["deploy/k8s/base".to_owned()];
    let mut overlays = Vec::new();
    for entry in std::fs::read_dir(crate::repo::path("deploy/k8s/overlays"))? {
        let path = entry?.path();
        if path.join("kustomization.yaml").is_file() {
            let name = path.file_name().context("overlay name")?.to_string_lossy().into_owned();
            overlays.push(format!("deploy/k8s/overlays/{name}"));
        }
    }
    overlays.sort();
    found.extend(overlays);
    Ok(found)
}

/// `kustomize build` of a kustomization directory: the YAML stream.
///
/// # Errors
/// When kustomize is missing or the kustomization does not build.
pub fn render(dir: &Path) -> anyhow::Result<String> {
    let mut command = Command::new(tool("bin/kustomize", "kustomize"));
    command.arg("build").arg(dir);
    run(command, &format!("kustomize build {}", dir.display()))
}

/// Validates a YAML stream against the schemas of Kubernetes `version`
/// (e.g. `1.28.0`) with `kubernetes-validate --strict`: unknown fields,
/// wrong types and missing required fields are errors.
///
/// # Errors
/// With the validator's report, when anything does not validate.
pub fn validate(yaml: &str, version: &str) -> anyhow::Result<()> {
    let mut file = tempfile::Builder::new().suffix(".yaml").tempfile()?;
    std::io::Write::write_all(&mut file, yaml.as_bytes())?;
    let mut command = Command::new(tool("venv/bin/kubernetes-validate", "kubernetes-validate"));
    command.args(["--strict", "--quiet", "-k", version]).arg(file.path());
    run(command, &format!("kubernetes-validate against {version}")).map(drop)
}

/// The objects of one rendered kustomization.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The kustomization, relative to the repository.
    pub source: String,
    /// Every object, in kustomize's order.
    pub objects: Vec<Value>,
}

impl Rendered {
    /// Renders and parses `source` (a path relative to the repository).
    ///
    /// # Errors
    /// When it does not build or parse.
    pub fn of(source: &str) -> anyhow::Result<Self> {
        let yaml = render(&crate::repo::path(source))?;
        Ok(Self { source: source.to_owned(), objects: crate::yaml::load_all_str(&yaml)? })
    }

    /// The objects of `kind`.
    pub fn all(&self, kind: &str) -> Vec<&Value> {
        self.objects.iter().filter(|o| o["kind"] == kind).collect()
    }

    /// The object of `kind` named `name`.
    ///
    /// # Errors
    /// When there is none.
    pub fn get(&self, kind: &str, name: &str) -> anyhow::Result<&Value> {
        self.objects
            .iter()
            .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
            .with_context(|| format!("{}: no {kind} {name}", self.source))
    }

    /// The environment a container sees: its `envFrom` ConfigMaps (resolved
    /// in this rendering), then its `env` entries (plain values as they are,
    /// others as `<from ...>`), later entries winning as in Kubernetes.
    ///
    /// # Errors
    /// When a ConfigMap it names is not part of the rendering.
    pub fn container_env(&self, container: &Value) -> anyhow::Result<BTreeMap<String, String>> {
        let mut env = BTreeMap::new();
        for source in container["envFrom"].as_array().into_iter().flatten() {
            let name = source["configMapRef"]["name"].as_str().context("envFrom configMapRef")?;
            let map = self.get("ConfigMap", name)?;
            for (key, value) in map["data"].as_object().into_iter().flatten() {
                env.insert(key.clone(), value.as_str().unwrap_or_default().to_owned());
            }
        }
        for entry in container["env"].as_array().into_iter().flatten() {
            let name = entry["name"].as_str().context("env name")?.to_owned();
            let value = match entry["value"].as_str() {
                Some(value) => value.to_owned(),
                None => format!("<from {}>", entry["valueFrom"]),
            };
            env.insert(name, value);
        }
        Ok(env)
    }
}

/// The pod template's first container of a workload.
///
/// # Panics
/// When it has none.
pub fn first_container(workload: &Value) -> &Value {
    &workload["spec"]["template"]["spec"]["containers"][0]
}

/// Bytes in a Kubernetes quantity (`4Gi`, `512Mi`, `1G`, `3`) or a
/// `--state-memory` size (`2GiB`, `512MiB`).
///
/// # Errors
/// On anything else.
pub fn bytes(quantity: &str) -> anyhow::Result<u64> {
    let digits: String = quantity.chars().take_while(char::is_ascii_digit).collect();
    let number: u64 = digits.parse().with_context(|| format!("quantity {quantity:?}"))?;
    let unit = quantity[digits.len()..].trim_end_matches('B');
    let factor: u64 = match unit {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        "k" | "K" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        _ => bail!("unknown unit in {quantity:?}"),
    };
    Ok(number * factor)
}

/// CPU cores in a Kubernetes quantity (`3`, `250m`).
///
/// # Errors
/// On anything else.
pub fn cores(quantity: &str) -> anyhow::Result<f64> {
    let parsed = match quantity.strip_suffix('m') {
        Some(milli) => milli.parse::<f64>().map(|m| m / 1000.0),
        None => quantity.parse::<f64>(),
    };
    parsed.with_context(|| format!("cpu quantity {quantity:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(bytes("4Gi").unwrap(), 4 << 30);
        assert_eq!(bytes("2GiB").unwrap(), 2 << 30);
        assert_eq!(bytes("512MiB").unwrap(), 512 << 20);
        assert_eq!(bytes("1G").unwrap(), 1_000_000_000);
        assert!(bytes("lots").is_err());
        assert!((cores("250m").unwrap() - 0.25).abs() < 1e-9);
        assert!((cores("3").unwrap() - 3.0).abs() < 1e-9);
    }
}
