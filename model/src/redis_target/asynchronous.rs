//! The API's multiplexed connection: a reconnecting `ConnectionManager` for
//! a single server; for a Sentinel primary or a Cluster, a connection opened
//! on first use and opened again (asking the sentinels, or the cluster's
//! seeds) after an error that says the node is gone or no longer the
//! primary. Every variant connects lazily, so the API starts, and answers
//! 503s, while Redis is down.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::{
    ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection,
};
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{Cmd, Pipeline, RedisFuture, RedisResult, Value};

use super::blocking::{cluster_client, sentinel_infos};
use super::{RedisTarget, Timeouts, needs_reconnect};

/// A cheap-to-clone multiplexed connection to a [`RedisTarget`].
#[derive(Clone)]
pub enum AsyncConnection {
    /// A single server: the `redis` crate's reconnecting manager.
    Single(ConnectionManager),
    /// A Sentinel primary or a Cluster, (re)opened on demand.
    Managed(Managed),
}

impl std::fmt::Debug for AsyncConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Single(_) => f.write_str("AsyncConnection::Single"),
            Self::Managed(managed) => write!(f, "AsyncConnection::{managed:?}"),
        }
    }
}

impl RedisTarget {
    /// A connection that is opened on its first use; calls are bounded by
    /// `timeouts`.
    ///
    /// # Errors
    /// The single server's address cannot be used.
    pub fn connect_async(&self, timeouts: Timeouts) -> RedisResult<AsyncConnection> {
        match self {
            Self::Single(info) => {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(timeouts.connect))
                    .set_response_timeout(Some(timeouts.response))
                    .set_number_of_retries(1)
                    .set_max_delay(Duration::from_millis(200));
                let client = redis::Client::open(info.clone())?;
                Ok(AsyncConnection::Single(ConnectionManager::new_lazy_with_config(
                    client, config,
                )?))
            }
            Self::Sentinel { .. } | Self::Cluster { .. } => {
                Ok(AsyncConnection::Managed(Managed(Arc::new(Shared {
                    target: self.clone(),
                    timeouts,
                    current: Mutex::new(None),
                    opening: tokio::sync::Mutex::new(()),
                    generation: AtomicU64::new(0),
                }))))
            }
        }
    }
}

/// The open connection of a Sentinel or Cluster target.
#[derive(Clone)]
enum Open {
    Primary(MultiplexedConnection),
    Cluster(redis::cluster_async::ClusterConnection),
}

/// A Sentinel or Cluster connection, shared by its clones.
#[derive(Clone)]
pub struct Managed(Arc<Shared>);

impl std::fmt::Debug for Managed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Managed({})", self.0.target)
    }
}

struct Shared {
    target: RedisTarget,
    timeouts: Timeouts,
    /// The open connection and its generation.
    current: Mutex<Option<(u64, Open)>>,
    /// Held while opening, so concurrent requests open one connection.
    opening: tokio::sync::Mutex<()>,
    generation: AtomicU64,
}

impl Managed {
    fn current(&self) -> Option<(u64, Open)> {
        self.0.current.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The open connection, opening one if there is none.
    async fn get(&self) -> RedisResult<(u64, Open)> {
        if let Some(open) = self.current() {
            return Ok(open);
        }
        let _opening = self.0.opening.lock().await;
        if let Some(open) = self.current() {
            return Ok(open);
        }
        let open = tokio::time::timeout(self.0.timeouts.connect * 2, self.open()).await.map_err(
            |_| {
                redis::RedisError::from(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "no connection to {} within {:?}",
                        self.0.target,
                        self.0.timeouts.connect * 2
                    ),
                ))
            },
        )??;
        let generation = self.0.generation.fetch_add(1, Ordering::Relaxed);
        *self.0.current.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((generation, open.clone()));
        Ok((generation, open))
    }

    async fn open(&self) -> RedisResult<Open> {
        let Timeouts { connect, response } = self.0.timeouts;
        match &self.0.target {
            RedisTarget::Sentinel { sentinels, master, node } => {
                let data =
                    SentinelNodeConnectionInfo::default().set_redis_connection_info(node.clone());
                let mut client = SentinelClient::build(
                    sentinel_infos(sentinels),
                    master.clone(),
                    Some(data),
                    SentinelServerType::Master,
                )?;
                let primary = client.async_get_client().await?;
                let config = redis::AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(connect))
                    .set_response_timeout(Some(response));
                Ok(Open::Primary(
                    primary.get_multiplexed_async_connection_with_config(&config).await?,
                ))
            }
            RedisTarget::Cluster { nodes, node } => {
                let client = cluster_client(nodes, node, self.0.timeouts)?;
                Ok(Open::Cluster(client.get_async_connection().await?))
            }
            RedisTarget::Single(_) => unreachable!("a single server has a ConnectionManager"),
        }
    }

    /// Forgets connection `generation` after `err`, if the error says so.
    fn after<T>(&self, generation: u64, result: RedisResult<T>) -> RedisResult<T> {
        if let Err(err) = &result
            && needs_reconnect(err)
        {
            let mut current = self.0.current.lock().unwrap_or_else(|e| e.into_inner());
            if current.as_ref().is_some_and(|(g, _)| *g == generation) {
                *current = None;
            }
        }
        result
    }
}

impl ConnectionLike for AsyncConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(conn) => conn.req_packed_command(cmd),
            Self::Managed(managed) => Box::pin(async move {
                let (generation, open) = managed.get().await?;
                let result = match open {
                    Open::Primary(mut conn) => conn.req_packed_command(cmd).await,
                    Open::Cluster(mut conn) => conn.req_packed_command(cmd).await,
                };
                managed.after(generation, result)
            }),
        }
    }

    /// On a cluster, a pipeline whose commands' keys lie in several slots
    /// is sent as separate commands, concurrently (the cluster connection
    /// refuses it otherwise).
    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(conn) => conn.req_packed_commands(pipeline, offset, count),
            Self::Managed(managed) => Box::pin(async move {
                let (generation, open) = managed.get().await?;
                let result = match open {
                    Open::Primary(mut conn) => {
                        conn.req_packed_commands(pipeline, offset, count).await
                    }
                    Open::Cluster(conn) => {
                        if pipeline.is_transaction() {
                            let mut conn = conn;
                            conn.req_packed_commands(pipeline, offset, count).await
                        } else {
                            let calls = pipeline.cmd_iter().map(|cmd| {
                                let mut conn = conn.clone();
                                async move { conn.req_packed_command(cmd).await }
                            });
                            futures_util::future::try_join_all(calls)
                                .await
                                .map(|mut replies| replies.split_off(offset.min(replies.len())))
                        }
                    }
                };
                managed.after(generation, result)
            }),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(conn) => conn.get_db(),
            Self::Managed(managed) => match &managed.0.target {
                RedisTarget::Sentinel { node, .. } => node.db(),
                _ => 0,
            },
        }
    }
}
