//! The Kubernetes manifests of `deploy/k8s`: every kustomization (the base
//! and each overlay) renders with kustomize and validates against the
//! Kubernetes schemas, and what it says is true of the real binaries and of
//! the other objects: the ConfigMaps hold only variables the binaries read,
//! the StatefulSet's pods, `TAGFLOW_PROCESSES` and the hostfile agree, the
//! probes and ports match what the processes serve, and the memory given to
//! the job fits its `--state-memory`. Tools: `scripts/install-deps --k8s`.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result, ensure};
use deploy::help::{self, HelpPage};
use deploy::k8s::{self, Rendered, bytes, cores, first_container};
use deploy::repo;
use serde_json::Value;

/// The oldest Kubernetes the manifests are for (StatefulSet pods carry the
/// `apps.kubernetes.io/pod-index` label from 1.28 on) and the newest the
/// validator knows.
const KUBERNETES_VERSIONS: [&str; 2] = ["1.28.0", "1.37.0"];

fn renderings() -> Vec<Rendered> {
    k8s::kustomizations()
        .expect("deploy/k8s")
        .iter()
        .map(|source| Rendered::of(source).expect("kustomize build"))
        .collect()
}

fn help_page(binary: &str, command: &[&str]) -> Result<HelpPage> {
    let path =
        testkit::workspace_binary(binary, &format!("TAGFLOW_{}_BIN", binary.to_ascii_uppercase()));
    help::all_pages(&path)?
        .into_iter()
        .find(|p| p.command == command)
        .with_context(|| format!("{binary} {command:?} --help"))
}

fn text<'a>(value: &'a Value, what: &str) -> Result<&'a str> {
    value.as_str().with_context(|| format!("{what} is not a string: {value}"))
}

/// The job's StatefulSet and the API's Deployment: the only workloads.
fn workloads(rendered: &Rendered) -> Result<(&Value, &Value)> {
    let kinds: BTreeSet<&str> = rendered
        .objects
        .iter()
        .filter(|o| o["spec"]["template"].is_object())
        .map(|o| o["kind"].as_str().unwrap_or_default())
        .collect();
    ensure!(kinds == BTreeSet::from(["Deployment", "StatefulSet"]), "workloads: {kinds:?}");
    Ok((rendered.get("StatefulSet", "tagflow-job")?, rendered.get("Deployment", "tagflow-api")?))
}

/// Runs `check(rendering, job StatefulSet, its container, its environment)`
/// for every kustomization, naming the kustomization in an error.
fn each_job(
    check: impl Fn(&Rendered, &Value, &Value, &BTreeMap<String, String>) -> Result<()>,
) -> Result<()> {
    for rendered in renderings() {
        let (job, _) = workloads(&rendered)?;
        let container = first_container(job);
        let env = rendered.container_env(container)?;
        check(&rendered, job, container, &env).with_context(|| rendered.source.clone())?;
    }
    Ok(())
}

#[test]
fn every_kustomization_renders_and_validates_against_the_kubernetes_schemas() -> Result<()> {
    let sources = k8s::kustomizations()?;
    ensure!(sources.len() >= 2, "the base and at least one overlay: {sources:?}");
    for source in &sources {
        let yaml = k8s::render(&repo::path(source))?;
        for version in KUBERNETES_VERSIONS {
            k8s::validate(&yaml, version).with_context(|| format!("{source} on {version}"))?;
        }
    }
    // The validator does reject what Kubernetes would.
    let broken = k8s::render(&repo::path("deploy/k8s/base"))?
        .replace("containerPort: 2101", "containerPort: two-one-oh-one");
    ensure!(k8s::validate(&broken, KUBERNETES_VERSIONS[0]).is_err(), "a bad port passed");
    Ok(())
}

/// Every variable the containers get is one their binary reads (its
/// `--help`), or RUST_LOG, or a helper that another value expands as
/// `$(NAME)`; the container arguments name a real subcommand.
#[test]
fn config_maps_and_env_hold_only_what_the_binaries_read() -> Result<()> {
    let job_page = help_page("dataflow", &["run"])?;
    let api_page = help_page("api", &[])?;
    for rendered in renderings() {
        let (job, api) = workloads(&rendered)?;
        for (workload, page, args) in
            [(job, &job_page, ["dataflow", "run"].as_slice()), (api, &api_page, ["api"].as_slice())]
        {
            let container = first_container(workload);
            let actual: Vec<&str> = container["args"]
                .as_array()
                .context("args")?
                .iter()
                .filter_map(Value::as_str)
                .collect();
            ensure!(actual == args, "{}: args {actual:?}", rendered.source);
            let env = rendered.container_env(container)?;
            ensure!(env.len() >= 5, "{}: only {env:?}", rendered.source);
            let known = page.env_vars();
            for name in env.keys() {
                let expanded = env.values().any(|v| v.contains(&format!("$({name})")));
                ensure!(
                    known.contains(name) || name == "RUST_LOG" || expanded,
                    "{}: {} does not read {name} (its variables: {known:?})",
                    rendered.source,
                    args.join(" ")
                );
            }
        }
    }
    Ok(())
}

/// The pods, TAGFLOW_PROCESSES and the hostfile agree; each process finds
/// its index and its peers; the checkpoint directory is shared when there
/// are several processes.
#[test]
fn the_statefulset_s_processes_find_each_other() -> Result<()> {
    each_job(|rendered, job, container, env| {
        let source = &rendered.source;
        let spec = &job["spec"];
        let replicas = spec["replicas"].as_u64().context("replicas")?;
        let processes: u64 = env["TAGFLOW_PROCESSES"].parse()?;
        ensure!(replicas == processes, "{source}: {replicas} pods, TAGFLOW_PROCESSES {processes}");
        ensure!(
            spec["podManagementPolicy"] == "Parallel",
            "{source}: processes wait for each other"
        );

        // The index: the pod-index label, through the downward API.
        let process = container["env"]
            .as_array()
            .context("env")?
            .iter()
            .find(|e| e["name"] == "TAGFLOW_PROCESS")
            .context("TAGFLOW_PROCESS")?;
        ensure!(
            process["valueFrom"]["fieldRef"]["fieldPath"]
                == "metadata.labels['apps.kubernetes.io/pod-index']",
            "{source}: TAGFLOW_PROCESS {process}"
        );

        // The peers: the headless service's per-pod names, in ordinal order.
        let service_name = text(&spec["serviceName"], "serviceName")?;
        let service = rendered.get("Service", service_name)?;
        ensure!(service["spec"]["clusterIP"] == "None", "{source}: {service_name} is not headless");
        ensure!(
            service["spec"]["publishNotReadyAddresses"] == true,
            "{source}: peers resolve late"
        );
        let port = container_port(container, "timely")?;
        ensure!(service_port(service, "timely")? == port, "{source}: service port != {port}");
        let name = text(&job["metadata"]["name"], "name")?;
        let wanted: Vec<String> =
            (0..replicas).map(|i| format!("{name}-{i}.{service_name}:{port}")).collect();
        let (mount, key, hostfile) = hostfile(rendered, job)?;
        ensure!(env["TAGFLOW_HOSTFILE"] == format!("{mount}/{key}"), "{source}: hostfile path");
        let lines: Vec<&str> = hostfile.lines().filter(|l| !l.trim().is_empty()).collect();
        ensure!(lines == wanted, "{source}: hostfile {lines:?}, pods {wanted:?}");

        // Every process sees the same checkpoints.
        let dir = &env["TAGFLOW_CHECKPOINT_DIR"];
        if replicas > 1 && !dir.starts_with("s3://") {
            let claim = volume_claim(rendered, job, dir)?;
            let modes = claim["spec"]["accessModes"].to_string();
            ensure!(modes.contains("ReadWriteMany"), "{source}: {replicas} pods share {modes}");
        }
        ensure!(spec["selector"]["matchLabels"].is_object(), "{source}: selector");
        let cpu = cores(text(&container["resources"]["requests"]["cpu"], "cpu request")?)?;
        let workers: f64 = env["TAGFLOW_WORKERS"].parse()?;
        ensure!(cpu >= workers, "{source}: {cpu} cores requested for {workers} workers");
        Ok(())
    })
}

/// `--state-memory` bounds the state tables, not the process: the request
/// is at least twice the bound and the limit leaves 2 GiB more than that
/// (deploy/k8s/README.md#memory).
#[test]
fn the_job_s_memory_fits_its_state_memory() -> Result<()> {
    each_job(|rendered, job, container, env| {
        let source = &rendered.source;
        let bound = bytes(&env["TAGFLOW_STATE_MEMORY"])?;
        let resources = &container["resources"];
        let request = bytes(text(&resources["requests"]["memory"], "memory request")?)?;
        let limit = bytes(text(&resources["limits"]["memory"], "memory limit")?)?;
        ensure!(request >= 2 * bound, "{source}: request {request} for a {bound} state bound");
        ensure!(
            limit >= 2 * bound + (2 << 30),
            "{source}: limit {limit} for a {bound} state bound"
        );
        ensure!(limit >= request, "{source}: limit below request");
        // The state directory's scratch volume fits the pod's disk limit.
        let storage = bytes(text(&resources["limits"]["ephemeral-storage"], "disk limit")?)?;
        let state = volume_for(job, &env["TAGFLOW_STATE_DIR"])?;
        let size = bytes(text(&state["emptyDir"]["sizeLimit"], "state sizeLimit")?)?;
        ensure!(size <= storage, "{source}: state volume {size} > disk limit {storage}");
        Ok(())
    })
}

/// The probes ask the paths the processes serve, on the ports they listen
/// on; the Services reach those ports; the API reads the job's metrics.
#[test]
fn probes_ports_and_services_match_what_the_processes_serve() -> Result<()> {
    let routes = api_routes()?;
    for rendered in renderings() {
        let source = &rendered.source;
        let (job, api) = workloads(&rendered)?;
        let api_container = first_container(api);
        let api_env = rendered.container_env(api_container)?;
        let http = container_port(api_container, "http")?;
        ensure!(api_env["TAGFLOW_API_LISTEN"] == format!("0.0.0.0:{http}"), "{source}: listen");
        let ready = &api_container["readinessProbe"]["httpGet"];
        let live = &api_container["livenessProbe"]["httpGet"];
        ensure!(ready["path"] == "/readyz" && live["path"] == "/healthz", "{source}: API probes");
        for probe in [ready, live] {
            let path = text(&probe["path"], "probe path")?;
            ensure!(routes.contains(path), "{source}: the API has no route {path}");
            ensure!(probe["port"] == "http", "{source}: probe port {}", probe["port"]);
        }

        let job_container = first_container(job);
        let job_env = rendered.container_env(job_container)?;
        let metrics = container_port(job_container, "metrics")?;
        ensure!(job_env["TAGFLOW_METRICS_ADDR"] == format!("0.0.0.0:{metrics}"), "{source}");
        for probe in ["readinessProbe", "livenessProbe"] {
            let get = &job_container[probe]["httpGet"];
            ensure!(get["path"] == "/metrics" && get["port"] == "metrics", "{source}: {probe}");
        }
        let job_name = text(&job["metadata"]["name"], "name")?;
        let headless = text(&job["spec"]["serviceName"], "serviceName")?;
        ensure!(
            api_env["TAGFLOW_DATAFLOW_METRICS"]
                == format!("http://{job_name}-0.{headless}:{metrics}/metrics"),
            "{source}: the API reads the job's metrics at {}",
            api_env["TAGFLOW_DATAFLOW_METRICS"]
        );

        // Every Service selects a workload's pods, on ports they declare.
        let pods: Vec<(&Value, &Value)> = [job, api]
            .into_iter()
            .map(|w| (&w["spec"]["template"]["metadata"]["labels"], first_container(w)))
            .collect();
        for service in rendered.all("Service") {
            if service["spec"]["type"] == "ExternalName" {
                continue;
            }
            let selector = service["spec"]["selector"].as_object().context("selector")?;
            let (_, container) = pods
                .iter()
                .find(|(labels, _)| selector.iter().all(|(k, v)| &labels[k] == v))
                .with_context(|| format!("{source}: {} selects no pods", service["metadata"]))?;
            for port in service["spec"]["ports"].as_array().context("ports")? {
                let target = text(&port["targetPort"], "targetPort")?;
                let number = container_port(container, target)?;
                ensure!(port["port"] == number, "{source}: service port {port} vs {number}");
            }
        }
        for (name, workload) in [("job", job), ("api", api)] {
            let selector = &workload["spec"]["selector"]["matchLabels"];
            let labels = &workload["spec"]["template"]["metadata"]["labels"];
            for (k, v) in selector.as_object().context("matchLabels")? {
                ensure!(&labels[k] == v, "{source}: the {name}'s selector misses its pods");
            }
        }
    }
    Ok(())
}

/// Kafka and Redis are Services of type ExternalName that the binaries'
/// addresses name, on the ports those Services declare.
#[test]
fn kafka_and_redis_are_external_services_the_addresses_name() -> Result<()> {
    for rendered in renderings() {
        let source = &rendered.source;
        let (job, api) = workloads(&rendered)?;
        for workload in [job, api] {
            let env = rendered.container_env(first_container(workload))?;
            let redis = env["TAGFLOW_REDIS"].rsplit('@').next().unwrap_or_default().to_owned();
            let mut addresses: Vec<String> =
                env["TAGFLOW_BROKERS"].split(',').map(str::to_owned).collect();
            addresses.push(redis);
            for address in addresses {
                let (host, port) = address.split_once(':').context("host:port")?;
                let service = rendered.get("Service", host)?;
                ensure!(service["spec"]["type"] == "ExternalName", "{source}: {host}");
                ensure!(
                    service["spec"]["externalName"].as_str().is_some_and(|n| n.contains('.')),
                    "{source}: {host} names no host"
                );
                let ports: Vec<String> = service["spec"]["ports"]
                    .as_array()
                    .context("ports")?
                    .iter()
                    .map(|p| p["port"].to_string())
                    .collect();
                ensure!(ports.iter().any(|p| p == port), "{source}: {address} vs {ports:?}");
            }
        }
    }
    Ok(())
}

fn container_port(container: &Value, name: &str) -> Result<u64> {
    container["ports"]
        .as_array()
        .context("ports")?
        .iter()
        .find(|p| p["name"] == name)
        .and_then(|p| p["containerPort"].as_u64())
        .with_context(|| format!("no container port {name}"))
}

fn service_port(service: &Value, name: &str) -> Result<u64> {
    service["spec"]["ports"]
        .as_array()
        .context("ports")?
        .iter()
        .find(|p| p["name"] == name)
        .and_then(|p| p["port"].as_u64())
        .with_context(|| format!("no service port {name}"))
}

/// The pod volume mounted at `path` in the first container.
fn volume_for<'a>(workload: &'a Value, path: &str) -> Result<&'a Value> {
    let mount = first_container(workload)["volumeMounts"]
        .as_array()
        .context("volumeMounts")?
        .iter()
        .find(|m| m["mountPath"] == path)
        .with_context(|| format!("nothing mounted at {path}"))?;
    workload["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .context("volumes")?
        .iter()
        .find(|v| v["name"] == mount["name"])
        .with_context(|| format!("no volume {}", mount["name"]))
}

fn volume_claim<'a>(rendered: &'a Rendered, workload: &Value, path: &str) -> Result<&'a Value> {
    let volume = volume_for(workload, path)?;
    let claim = text(&volume["persistentVolumeClaim"]["claimName"], "claimName")?;
    rendered.get("PersistentVolumeClaim", claim)
}

/// (mount directory, key, text) of the hostfile ConfigMap volume.
fn hostfile<'a>(rendered: &'a Rendered, job: &Value) -> Result<(String, String, &'a str)> {
    let volumes: BTreeMap<&str, &Value> = job["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .context("volumes")?
        .iter()
        .filter_map(|v| Some((v["name"].as_str()?, v)))
        .collect();
    for mount in first_container(job)["volumeMounts"].as_array().context("mounts")? {
        let volume = volumes[text(&mount["name"], "mount name")?];
        let Some(map) = volume["configMap"]["name"].as_str() else { continue };
        let data = rendered.get("ConfigMap", map)?["data"].as_object().context("data")?;
        let (key, value) = data.iter().next().context("empty hostfile ConfigMap")?;
        let mount_path = text(&mount["mountPath"], "mountPath")?.to_owned();
        return Ok((mount_path, key.clone(), value.as_str().unwrap_or_default()));
    }
    anyhow::bail!("no ConfigMap volume holds the hostfile")
}

/// The API's routes, from the `path = "..."` of its handlers' OpenAPI
/// annotations.
fn api_routes() -> Result<BTreeSet<String>> {
    let mut routes = BTreeSet::new();
    for entry in std::fs::read_dir(repo::path("api/src/routes"))? {
        let text = std::fs::read_to_string(entry?.path())?;
        for (i, _) in text.match_indices("path = \"") {
            let rest = &text[i + "path = \"".len()..];
            routes.insert(rest.split('"').next().unwrap_or_default().to_owned());
        }
    }
    ensure!(routes.len() > 5, "only {routes:?}");
    Ok(routes)
}
