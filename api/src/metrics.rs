//! The API's Prometheus metrics. Names and labels are a contract with the
//! operations dashboards and alerts: `http_request_duration_ms`,
//! `http_requests_total`, `http_request_errors_total`,
//! `api_events_ingested_total`, `api_runtime_lag_seconds`,
//! `api_dependency_up`, `api_stale_answers_total`, `process_cpu_seconds_total`,
//! `process_resident_memory_bytes`.

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
    /// Answers served stale from the fallback cache, by route.
    pub stale_answers: Family<Labels, Counter>,
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
            stale_answers: Family::default(),
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
            "api_stale_answers",
            "Answers served stale from the read-only fallback while Redis was down or slow",
            metrics.stale_answers.clone(),
        );
        procmetrics::register(&mut registry);
        for dependency in ["redis", "kafka"] {
            metrics.dependency_up.get_or_create(&vec![("dependency", dependency.into())]).set(0);
        }
        Self { registry, ..metrics }
    }
}

impl ApiMetrics {
    /// Records one served request. `route` must come from a bounded set
    /// (a route template or `unmatched`); methods outside the standard set
    /// are labelled `other`, so no client can add label values at will.
    pub fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let labels: Labels = vec![
            ("method", method_label(method).to_owned()),
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

    /// Records an answer served stale on `route` (a route template).
    pub fn stale_answer(&self, route: &str) {
        self.stale_answers.get_or_create(&vec![("route", route.to_owned())]).inc();
    }

    /// Sets whether `dependency` is up.
    pub fn set_dependency(&self, dependency: &'static str, up: bool) {
        self.dependency_up
            .get_or_create(&vec![("dependency", dependency.to_owned())])
            .set(i64::from(up));
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }

    /// Every metric in the format an `Accept` header asks for: the content
    /// type and the body ([`procmetrics::exposition`]).
    pub fn render_for(&self, accept: Option<&str>) -> (&'static str, String) {
        procmetrics::exposition::render(&self.registry, accept)
    }
}

/// The `method` label of a request: one of the methods of RFC 9110 and
/// RFC 5789 (PATCH), else `other`.
pub fn method_label(method: &str) -> &'static str {
    const STANDARD: [&str; 9] =
        ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"];
    STANDARD.into_iter().find(|m| *m == method).unwrap_or("other")
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

    #[test]
    fn invented_methods_are_labelled_other() {
        assert_eq!(method_label("GET"), "GET");
        assert_eq!(method_label("PATCH"), "PATCH");
        assert_eq!(method_label("get"), "other");
        assert_eq!(method_label("BREW"), "other");
    }
}
