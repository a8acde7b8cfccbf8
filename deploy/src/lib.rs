//! Support code for the tests of tagflow's deployment files.
//!
//! `compose.yaml`, the Prometheus configuration and rules, the Alertmanager
//! configuration, the Grafana dashboards and the Kubernetes manifests are
//! data, not code: nothing compiles them. The tests in
//! `deploy/tests/` check them against what really exists — the files in the
//! repository, `scripts/stack`, the flags and metrics of the real binaries,
//! and Prometheus's own `promtool` — and this crate holds the pieces those
//! tests share: reading YAML (through `python3` and PyYAML, so no YAML crate
//! is needed), parsing the Prometheus text format, finding the metric names in
//! a PromQL expression, reading `--help` pages, a tiny HTTP client, running
//! Prometheus and Alertmanager, receiving their notifications, and
//! rendering and validating the Kubernetes manifests.
//!
//! It is a test-support crate (`publish = false`), hence `anyhow` errors.

pub mod compose;
pub mod exporters;
pub mod exposition;
pub mod help;
pub mod http;
pub mod k8s;
pub mod markdown;
pub mod monitoring;
pub mod process;
pub mod promql;
pub mod receivers;
pub mod repo;
pub mod stack_config;
pub mod yaml;
