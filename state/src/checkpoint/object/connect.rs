//! Connecting to an S3-compatible object store: the client (credentials
//! and region from the standard `AWS_*` variables, an optional custom
//! endpoint, timeouts and retries) and the runtime its requests run on.

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig};

use crate::checkpoint::error::CheckpointError;

/// How to reach the object store; credentials and region come from the
/// standard `AWS_*` environment variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectStoreOptions {
    /// A custom S3 endpoint (SeaweedFS, MinIO, …), e.g.
    /// `http://127.0.0.1:8333`; AWS's otherwise.
    pub endpoint: Option<String>,
    /// Whether plain `http://` endpoints are allowed.
    pub allow_http: bool,
    /// Longest wait for one request (each is retried up to three times
    /// within twice this).
    pub timeout: Duration,
}

impl Default for ObjectStoreOptions {
    fn default() -> Self {
        Self { endpoint: None, allow_http: false, timeout: Duration::from_secs(30) }
    }
}

/// A client for one bucket, the key prefix under it, and the runtime its
/// requests run on (callers are plain threads: they block on it).
pub(super) struct Connection {
    pub(super) prefix: String,
    pub(super) store: Arc<dyn ObjectStore>,
    pub(super) runtime: tokio::runtime::Runtime,
}

/// Connects to `url` (`s3://bucket/prefix`).
pub(super) fn connect(
    url: &str,
    options: &ObjectStoreOptions,
) -> Result<Connection, CheckpointError> {
    let invalid = |reason: String| CheckpointError::Location { location: url.into(), reason };
    let path = url.strip_prefix("s3://").ok_or_else(|| invalid("not an s3:// URL".into()))?;
    let (bucket, prefix) = path.split_once('/').unwrap_or((path, ""));
    if bucket.is_empty() {
        return Err(invalid("names no bucket (s3://bucket/prefix)".into()));
    }
    let client = ClientOptions::new()
        .with_timeout(options.timeout)
        .with_connect_timeout(options.timeout.min(Duration::from_secs(5)))
        .with_allow_http(options.allow_http);
    let retry = RetryConfig {
        backoff: BackoffConfig::default(),
        max_retries: 3,
        retry_timeout: options.timeout * 2,
    };
    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_client_options(client)
        .with_retry(retry);
    if let Some(endpoint) = &options.endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    let store = builder.build().map_err(|e| invalid(e.to_string()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("checkpoint-store")
        .enable_all()
        .build()
        .map_err(|e| invalid(format!("cannot start its I/O threads: {e}")))?;
    let prefix = prefix.trim_matches('/').to_owned();
    Ok(Connection { prefix, store: Arc::new(store), runtime })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_needs_a_bucket() {
        let options = ObjectStoreOptions::default();
        for url in ["s3://", "s3:///prefix", "http://bucket/prefix"] {
            let err = connect(url, &options).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains(url), "{url}: {err}");
        }
        let connection = connect("s3://bucket/a/b/", &options).map_err(|e| e.to_string());
        assert_eq!(connection.map(|c| c.prefix).as_deref(), Ok("a/b"));
    }
}
