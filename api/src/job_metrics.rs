//! Reading the dataflow job's `/metrics` (`--dataflow-metrics`) for the
//! dashboard's job-health panel: one bounded HTTP/1.1 GET asking for the
//! Prometheus text format, parsed with `prometheus-parse`, and the few
//! series the panel shows taken out of it ([`JobFigures`]).

use std::collections::BTreeMap;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use prometheus_parse::{Scrape, Value};

/// Messages between the job's position and each partition's end, by
/// `topic` and `partition` (gauge).
pub const CONSUMER_LAG: &str = "tagflow_consumer_lag";
/// Unix time of the last completed checkpoint; the job's start time until
/// the first one (gauge).
pub const CHECKPOINT_TIMESTAMP: &str = "tagflow_checkpoint_last_completed_timestamp_seconds";
/// Id of the last completed checkpoint, 0 before the first (gauge).
pub const CHECKPOINT_ID: &str = "tagflow_checkpoint_last_completed_id";
/// Bytes of the files of the last completed checkpoint (gauge).
pub const CHECKPOINT_SIZE: &str = "tagflow_checkpoint_size_bytes";
/// Estimated memory of the state cached by the workers, by `table` (gauge).
pub const STATE_MEMORY: &str = "tagflow_state_memory_bytes";
/// Events sent to the dead-letter topic, by `reason` (counter).
pub const DEAD_LETTERED: &str = "tagflow_dead_lettered_total";

/// The media types asked for: the Prometheus text format, whose counters
/// carry their `_total` suffix on `# TYPE` lines too.
const ACCEPT: &str = "text/plain; version=0.0.4";
/// Largest exposition read (the job's is a few tens of kB).
const MAX_BODY: usize = 8 * 1024 * 1024;

/// Why the job's metrics could not be read.
#[derive(Debug, thiserror::Error)]
pub enum JobMetricsError {
    /// The URL is not `http://host[:port]/path`.
    #[error("{0:?} is not an http://host:port/path URL")]
    BadUrl(String),
    /// No TCP connection.
    #[error("cannot connect to {0}: {1}")]
    Connect(String, std::io::Error),
    /// The HTTP exchange failed.
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    /// The request could not be built.
    #[error("request: {0}")]
    Request(#[from] axum::http::Error),
    /// The job answered with another status than 200.
    #[error("answered {0}")]
    Status(StatusCode),
    /// The body could not be read, or is too large, or is not UTF-8.
    #[error("body: {0}")]
    Body(String),
    /// No answer within the bound.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The text is not the dataflow job's exposition.
    #[error("not the dataflow job's metrics: no {0} series")]
    NotTheJob(&'static str),
}

/// Where the job's metrics are served, checked once at start.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// `host:port`, to connect to.
    address: String,
    /// The `Host` header.
    authority: String,
    /// Path and query of the request.
    path: String,
}

impl Endpoint {
    /// Checks `url` (`http://host[:port][/path]`; port 80 by default).
    pub fn parse(url: &str) -> Result<Self, JobMetricsError> {
        let bad = || JobMetricsError::BadUrl(url.to_owned());
        let uri: Uri = url.parse().map_err(|_| bad())?;
        if uri.scheme_str() != Some("http") {
            return Err(bad());
        }
        let authority = uri.authority().ok_or_else(bad)?;
        let host = authority.host();
        if host.is_empty() {
            return Err(bad());
        }
        let port = authority.port_u16().unwrap_or(80);
        Ok(Self {
            address: format!("{host}:{port}"),
            authority: authority.as_str().to_owned(),
            path: uri.path_and_query().map_or("/", |p| p.as_str()).to_owned(),
        })
    }

    /// The exposition text, within `timeout` (connection included).
    pub async fn fetch(&self, timeout: Duration) -> Result<String, JobMetricsError> {
        tokio::time::timeout(timeout, self.get())
            .await
            .map_err(|_| JobMetricsError::Timeout(timeout))?
    }

    async fn get(&self) -> Result<String, JobMetricsError> {
        let stream = tokio::net::TcpStream::connect(&self.address)
            .await
            .map_err(|e| JobMetricsError::Connect(self.address.clone(), e))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        let _connection = AbortOnDrop(tokio::spawn(async move {
            let _ = connection.await;
        }));
        let request = Request::get(self.path.as_str())
            .header(header::HOST, self.authority.as_str())
            .header(header::ACCEPT, ACCEPT)
            .body(Empty::<Bytes>::new())?;
        let response = sender.send_request(request).await?;
        if response.status() != StatusCode::OK {
            return Err(JobMetricsError::Status(response.status()));
        }
        let body = Limited::new(response.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| JobMetricsError::Body(e.to_string()))?
            .to_bytes();
        String::from_utf8(body.to_vec()).map_err(|e| JobMetricsError::Body(e.to_string()))
    }
}

/// Stops the connection's task when the request is done or abandoned.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Consumer lag of one topic.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TopicLag {
    /// Sum over the topic's partitions.
    pub lag: f64,
    /// Partitions reported.
    pub partitions: u32,
}

/// The panel's figures, as the job reported them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JobFigures {
    /// Consumer lag by topic.
    pub lag: BTreeMap<String, TopicLag>,
    /// Unix time of the last completed checkpoint (the job's start until the first).
    pub checkpoint_timestamp_seconds: f64,
    /// Id of the last completed checkpoint (0: none yet).
    pub checkpoint_id: f64,
    /// Bytes of the last completed checkpoint's files (0: none yet).
    pub checkpoint_bytes: f64,
    /// Sum of the state memory estimate over the tables.
    pub memory_bytes: f64,
    /// Dead letters since the job started, over every reason.
    pub dead_letters_total: f64,
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) if v.is_finite() => Some(*v),
        _ => None,
    }
}

/// The panel's figures in an exposition `text` (Prometheus text format;
/// OpenMetrics text parses too, but its counters' `_total` samples are
/// then untyped, which changes nothing here).
pub fn figures(text: &str) -> Result<JobFigures, JobMetricsError> {
    let scrape = Scrape::parse(text.lines().map(|line| Ok(line.to_owned())))
        .map_err(|e| JobMetricsError::Body(e.to_string()))?;
    let mut figures = JobFigures::default();
    let mut saw_checkpoint = false;
    for sample in &scrape.samples {
        let Some(value) = number(&sample.value) else { continue };
        match sample.metric.as_str() {
            CONSUMER_LAG => {
                let topic = sample.labels.get("topic").unwrap_or_default().to_owned();
                let entry = figures.lag.entry(topic).or_default();
                entry.lag += value;
                entry.partitions += 1;
            }
            CHECKPOINT_TIMESTAMP => {
                figures.checkpoint_timestamp_seconds = value;
                saw_checkpoint = true;
            }
            CHECKPOINT_ID => figures.checkpoint_id = value,
            CHECKPOINT_SIZE => figures.checkpoint_bytes = value,
            STATE_MEMORY => figures.memory_bytes += value,
            DEAD_LETTERED => figures.dead_letters_total += value,
            _ => {}
        }
    }
    if saw_checkpoint { Ok(figures) } else { Err(JobMetricsError::NotTheJob(CHECKPOINT_TIMESTAMP)) }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

    use super::*;

    /// As `procmetrics` renders the job's registry for `Accept: text/plain`.
    const PROMETHEUS_TEXT: &str = r#"# HELP tagflow_dead_lettered_total Events sent to the dead-letter topic.
# TYPE tagflow_dead_lettered_total counter
tagflow_dead_lettered_total{reason="invalid_json"} 3
tagflow_dead_lettered_total{reason="unknown_product"} 4
# HELP tagflow_consumer_lag Messages behind the partition end.
# TYPE tagflow_consumer_lag gauge
tagflow_consumer_lag{topic="page-views",partition="0"} 10
tagflow_consumer_lag{topic="page-views",partition="1"} 5
tagflow_consumer_lag{topic="purchases",partition="0"} 0
# HELP tagflow_state_memory_bytes Estimated memory.
# TYPE tagflow_state_memory_bytes gauge
tagflow_state_memory_bytes{table="profiles"} 1000
tagflow_state_memory_bytes{table="visitor_sets"} 24
# HELP tagflow_epoch_seconds Time to apply and write out one epoch.
# TYPE tagflow_epoch_seconds histogram
tagflow_epoch_seconds_bucket{operator="profiles",le="0.5"} 1
tagflow_epoch_seconds_bucket{operator="profiles",le="+Inf"} 1
tagflow_epoch_seconds_sum{operator="profiles"} 0.1
tagflow_epoch_seconds_count{operator="profiles"} 1
# TYPE tagflow_checkpoint_size_bytes gauge
tagflow_checkpoint_size_bytes 52345
# TYPE tagflow_checkpoint_last_completed_id gauge
tagflow_checkpoint_last_completed_id 7
# TYPE tagflow_checkpoint_last_completed_timestamp_seconds gauge
tagflow_checkpoint_last_completed_timestamp_seconds 1795647600.25
"#;

    #[test]
    fn takes_the_panel_figures_out_of_prometheus_text() {
        let f = figures(PROMETHEUS_TEXT).unwrap();
        assert_eq!(f.lag.len(), 2);
        assert_eq!(f.lag["page-views"], TopicLag { lag: 15.0, partitions: 2 });
        assert_eq!(f.lag["purchases"], TopicLag { lag: 0.0, partitions: 1 });
        assert_eq!(f.dead_letters_total, 7.0);
        assert_eq!(f.memory_bytes, 1024.0);
        assert_eq!(f.checkpoint_bytes, 52345.0);
        assert_eq!(f.checkpoint_id, 7.0);
        assert_eq!(f.checkpoint_timestamp_seconds, 1_795_647_600.25);
    }

    #[test]
    fn openmetrics_text_gives_the_same_figures() {
        let openmetrics = PROMETHEUS_TEXT.replace(
            "# TYPE tagflow_dead_lettered_total counter",
            "# TYPE tagflow_dead_lettered counter",
        ) + "# EOF\n";
        assert_eq!(figures(&openmetrics).unwrap(), figures(PROMETHEUS_TEXT).unwrap());
    }

    #[test]
    fn a_job_that_has_read_nothing_yet_has_no_lag_and_no_dead_letters() {
        let text = "# TYPE tagflow_checkpoint_last_completed_timestamp_seconds gauge\n\
                    tagflow_checkpoint_last_completed_timestamp_seconds 100\n";
        let f = figures(text).unwrap();
        assert!(f.lag.is_empty());
        assert_eq!((f.dead_letters_total, f.checkpoint_id, f.checkpoint_bytes), (0.0, 0.0, 0.0));
    }

    #[test]
    fn other_metrics_are_refused() {
        let api = "# TYPE api_requests_total counter\napi_requests_total{route=\"/\"} 3\n";
        assert!(matches!(figures(api), Err(JobMetricsError::NotTheJob(_))));
        assert!(matches!(figures(""), Err(JobMetricsError::NotTheJob(_))));
    }

    #[test]
    fn only_http_urls_are_endpoints() {
        let e = Endpoint::parse("http://127.0.0.1:9464/metrics").unwrap();
        assert_eq!((e.address.as_str(), e.path.as_str()), ("127.0.0.1:9464", "/metrics"));
        let e = Endpoint::parse("http://job.internal").unwrap();
        assert_eq!((e.address.as_str(), e.path.as_str()), ("job.internal:80", "/"));
        for bad in ["https://job/metrics", "127.0.0.1:9464", "/metrics", "http://", ""] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn an_unreachable_job_fails_fast() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let e = Endpoint::parse(&format!("http://127.0.0.1:{port}/metrics")).unwrap();
        let started = std::time::Instant::now();
        assert!(e.fetch(Duration::from_secs(1)).await.is_err());
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
