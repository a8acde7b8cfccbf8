//! Reading `compose.yaml` (through [`crate::yaml`]): its services and the
//! parts of a service the tests check — environment, dependencies, ports.
//! Compose allows several spellings of most fields (a list or a mapping);
//! these helpers accept each of them.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

/// `compose.yaml` of the repository, as JSON.
///
/// # Errors
/// When it cannot be read or parsed.
pub fn load() -> anyhow::Result<Value> {
    crate::yaml::load(&crate::repo::path("compose.yaml"))
}

/// The `services` mapping.
///
/// # Panics
/// When the file has none.
pub fn services(compose: &Value) -> &Map<String, Value> {
    compose["services"].as_object().expect("compose.yaml has a services mapping")
}

/// A service's environment as a map (compose allows a list or a mapping).
pub fn environment(service: &Value) -> BTreeMap<String, String> {
    match &service["environment"] {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                (k.clone(), v)
            })
            .collect(),
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(|s| {
                let (k, v) = s.split_once('=').unwrap_or((s, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

pub fn string_list(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => {
            items.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)).collect()
        }
        Value::String(s) => s.split_whitespace().map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

/// `depends_on` as service → condition.
pub fn dependencies(service: &Value) -> BTreeMap<String, String> {
    match &service["depends_on"] {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| {
                (k.clone(), v["condition"].as_str().unwrap_or("service_started").to_owned())
            })
            .collect(),
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(|s| (s.to_owned(), "service_started".to_owned()))
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// Published ports as (host port, container port); entries without a fixed
/// host port are left out.
///
/// # Panics
/// On a port that is not a number.
pub fn published(service: &Value) -> Vec<(u16, u16)> {
    string_list(&service["ports"])
        .iter()
        .filter_map(|p| {
            let mut parts = p.rsplit(':');
            let container = parts.next()?.parse().expect("container port is a number");
            let host = parts.next()?.parse().expect("host port is a number");
            Some((host, container))
        })
        .collect()
}

/// Ports a service listens on inside the compose network: `expose`, the
/// container side of `ports`, and a Kafka node's `KAFKA_LISTENERS`.
pub fn listening_ports(service: &Value) -> BTreeSet<u16> {
    let mut ports: BTreeSet<u16> =
        string_list(&service["expose"]).iter().filter_map(|p| p.parse().ok()).collect();
    ports.extend(published(service).into_iter().map(|(_, c)| c));
    if let Some(listeners) = environment(service).get("KAFKA_LISTENERS") {
        ports
            .extend(listeners.split(',').filter_map(|l| l.rsplit(':').next()?.parse::<u16>().ok()));
    }
    ports
}

pub fn is_one_shot(service: &Value) -> bool {
    service["restart"].as_str() == Some("no")
}

/// Every string value under `value` (keys and `image:` values excepted), with `file`.
pub fn strings(file: &str, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::String(s) => out.push((file.to_owned(), s.clone())),
        Value::Array(items) => items.iter().for_each(|v| strings(file, v, out)),
        Value::Object(map) => {
            map.iter().filter(|(k, _)| *k != "image").for_each(|(_, v)| strings(file, v, out));
        }
        _ => {}
    }
}
