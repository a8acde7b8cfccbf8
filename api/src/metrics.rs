//! The API's Prometheus metrics. Names and labels are a contract with the
//! operations dashboards and alerts: `http_request_duration_ms`,
//! `http_requests_total`, `http_request_errors_total`,
//! `api_events_ingested_total`, `api_runtime_lag_seconds`,
//! `api_dependency_up`, `process_cpu_seconds_total`,
//! `process_resident_memory_bytes`.

use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Label pairs of a metric family.
pub type Labels = Vec<(&'static str, String)>;

/// Every metric the API exports.
#[derive(Debug)]
pub struct ApiMetrics {
    registry: Registry,
    /// Request latency in milliseconds, by method, route and status.
    pub request_duration_ms: Family<Labels, Histogram, fn() -> Histogram>,
    /// Requests, by method, route and status.
    pub requests: Family<Labels, Counter>,
    /// 5xx responses, by method, route and status.
    pub request_errors: Family<Labels, Counter>,
    /// Events accepted by Kafka, by topic.
    pub events_ingested: Family<Labels, Counter>,
    /// Delay of a 100 ms runtime ticker beyond its period.
    pub runtime_lag_seconds: Histogram,
    /// 1 when a dependency answered its last probe, by dependency.
    pub dependency_up: Family<Labels, Gauge>,
    cpu_seconds: Counter<f64, AtomicU64>,
    resident_bytes: Gauge,
    cpu_seen: Mutex<f64>,
}

fn duration_ms_histogram() -> Histogram {
    Histogram::new([
        0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0,
    ])
}

impl Default for ApiMetrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let metrics = Self {
            request_duration_ms: Family::new_with_constructor(duration_ms_histogram),
            requests: Family::default(),
            request_errors: Family::default(),
            events_ingested: Family::default(),
            runtime_lag_seconds: Histogram::new(exponential_buckets(0.0001, 2.0, 16)),
            dependency_up: Family::default(),
            cpu_seconds: Counter::default(),
            resident_bytes: Gauge::default(),
            cpu_seen: Mutex::new(0.0),
            registry: Registry::default(),
        };
        registry.register(
            "http_request_duration_ms",
            "HTTP request latency in milliseconds",
            metrics.request_duration_ms.clone(),
        );
        registry.register("http_requests", "HTTP requests served", metrics.requests.clone());
        registry.register(
            "http_request_errors",
            "HTTP requests answered with a 5xx status",
            metrics.request_errors.clone(),
        );
        registry.register(
            "api_events_ingested",
            "Events acknowledged by Kafka",
            metrics.events_ingested.clone(),
        );
        registry.register(
            "api_runtime_lag_seconds",
            "Delay of a 100 ms tokio ticker beyond its period",
            metrics.runtime_lag_seconds.clone(),
        );
        registry.register(
            "api_dependency_up",
            "Whether a dependency answered its last probe (1) or not (0)",
            metrics.dependency_up.clone(),
        );
        registry.register(
            "process_cpu_seconds",
            "CPU time of the process",
            metrics.cpu_seconds.clone(),
        );
        registry.register(
            "process_resident_memory_bytes",
            "Resident memory",
            metrics.resident_bytes.clone(),
        );
        for dependency in ["redis", "kafka"] {
            metrics.dependency_up.get_or_create(&vec![("dependency", dependency.into())]).set(0);
        }
        Self { registry, ..metrics }
    }
}

impl ApiMetrics {
    /// Records one served request.
    pub fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let labels: Labels = vec![
            ("method", method.to_owned()),
            ("route", route.to_owned()),
            ("status", status.to_string()),
        ];
        self.request_duration_ms.get_or_create(&labels).observe(elapsed.as_secs_f64() * 1000.0);
        self.requests.get_or_create(&labels).inc();
        if status >= 500 {
            self.request_errors.get_or_create(&labels).inc();
        }
    }

    /// Records events acknowledged on `topic`.
    pub fn ingested(&self, topic: &str, events: u64) {
        self.events_ingested.get_or_create(&vec![("topic", topic.to_owned())]).inc_by(events);
    }

    /// Sets whether `dependency` is up.
    pub fn set_dependency(&self, dependency: &'static str, up: bool) {
        self.dependency_up
            .get_or_create(&vec![("dependency", dependency.to_owned())])
            .set(i64::from(up));
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        self.refresh_process();
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }

    fn refresh_process(&self) {
        let Some((cpu, resident)) = read_process_stats() else { return };
        let mut seen = self.cpu_seen.lock().unwrap_or_else(|e| e.into_inner());
        if cpu > *seen {
            self.cpu_seconds.inc_by(cpu - *seen);
            *seen = cpu;
        }
        self.resident_bytes.set(resident);
    }
}

/// CPU seconds and resident bytes of this process, from /proc.
fn read_process_stats() -> Option<(f64, i64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: i64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // Linux reports times in USER_HZ (100 on every mainstream platform) and 4 KiB pages.
    Some((ticks / 100.0, pages * 4096))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_contracted_names() {
        let metrics = ApiMetrics::default();
        metrics.observe_request("GET", "/api/user-profile/{userId}", 200, Duration::from_millis(3));
        metrics.observe_request("GET", "/readyz", 503, Duration::from_millis(1));
        metrics.ingested("view-events", 2);
        metrics.runtime_lag_seconds.observe(0.001);
        let text = metrics.render();
        for needle in [
            r#"http_request_duration_ms_bucket{le="5.0",method="GET",route="/api/user-profile/{userId}",status="200"} 1"#,
            r#"http_requests_total{method="GET",route="/api/user-profile/{userId}",status="200"} 1"#,
            r#"http_request_errors_total{method="GET",route="/readyz",status="503"} 1"#,
            r#"api_events_ingested_total{topic="view-events"} 2"#,
            "api_runtime_lag_seconds_count 1",
            r#"api_dependency_up{dependency="redis"} 0"#,
            "process_cpu_seconds_total ",
            "process_resident_memory_bytes ",
        ] {
            assert!(text.contains(needle), "{needle} missing from\n{text}");
        }
    }
}
