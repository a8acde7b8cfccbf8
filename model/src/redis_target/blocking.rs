//! The blocking connection the dataflow job's writer threads use: one
//! server's connection (a single server, or the primary the sentinels named
//! when it was opened), or a cluster connection that routes each command of
//! a pipeline to the node that owns its key's slot.

use redis::cluster::{ClusterClient, ClusterConnection};
use redis::sentinel::{Sentinel, SentinelNodeConnectionInfo};
use redis::{Cmd, ConnectionLike, RedisResult, Value};

use super::{RedisTarget, Timeouts};

/// A blocking connection to a [`RedisTarget`]. Dropped and opened again
/// after an error that [`super::needs_reconnect`] names, which follows a
/// failover: a sentinel target asks the sentinels for the primary again, a
/// cluster refreshes its slot map.
pub enum BlockingConnection {
    /// A single server or the Sentinel-named primary.
    Node(redis::Connection),
    /// A Redis Cluster.
    Cluster(Box<ClusterConnection>),
}

impl std::fmt::Debug for BlockingConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Node(_) => "BlockingConnection::Node",
            Self::Cluster(_) => "BlockingConnection::Cluster",
        })
    }
}

/// The connection settings of `host:port`.
pub(super) fn tcp(host: &str, port: u16) -> redis::ConnectionInfo {
    redis::IntoConnectionInfo::into_connection_info(redis::ConnectionAddr::Tcp(
        host.to_owned(),
        port,
    ))
    .expect("a TCP address is a connection info")
}

impl RedisTarget {
    /// Opens a connection; every call on it gives up after `timeouts`.
    ///
    /// # Errors
    /// No sentinel named a reachable primary, no node answered, or the
    /// connection could not be set up.
    pub fn connect(&self, timeouts: Timeouts) -> RedisResult<BlockingConnection> {
        let node = |client: redis::Client| -> RedisResult<BlockingConnection> {
            let conn = client.get_connection_with_timeout(timeouts.connect)?;
            conn.set_read_timeout(Some(timeouts.response))?;
            conn.set_write_timeout(Some(timeouts.response))?;
            Ok(BlockingConnection::Node(conn))
        };
        match self {
            Self::Single(info) => node(redis::Client::open(info.clone())?),
            Self::Sentinel { sentinels, master, node: settings } => {
                let mut sentinel = Sentinel::build(sentinel_infos(sentinels))?;
                let data = SentinelNodeConnectionInfo::default()
                    .set_redis_connection_info(settings.clone());
                node(sentinel.master_for(master, Some(&data))?)
            }
            Self::Cluster { nodes, node: settings } => {
                let conn = cluster_client(nodes, settings, timeouts)?.get_connection()?;
                conn.set_read_timeout(Some(timeouts.response))?;
                conn.set_write_timeout(Some(timeouts.response))?;
                Ok(BlockingConnection::Cluster(Box::new(conn)))
            }
        }
    }
}

/// `redis://host:port` of each sentinel.
pub(super) fn sentinel_infos(sentinels: &[(String, u16)]) -> Vec<redis::ConnectionInfo> {
    sentinels.iter().map(|(host, port)| tcp(host, *port)).collect()
}

/// A cluster client for `nodes` with `settings`' credentials.
pub(super) fn cluster_client(
    nodes: &[(String, u16)],
    settings: &redis::RedisConnectionInfo,
    timeouts: Timeouts,
) -> RedisResult<ClusterClient> {
    let seeds =
        nodes.iter().map(|(host, port)| tcp(host, *port).set_redis_settings(settings.clone()));
    let mut builder = ClusterClient::builder(seeds)
        .connection_timeout(timeouts.connect)
        .response_timeout(timeouts.response);
    if let Some(user) = settings.username() {
        builder = builder.username(user);
    }
    if let Some(password) = settings.password() {
        builder = builder.password(password);
    }
    builder.build()
}

impl BlockingConnection {
    /// The replication id of every primary it writes to, sorted: one for a
    /// single server or a Sentinel primary, one per primary of a cluster.
    /// A primary's replication id changes whenever another node is promoted
    /// in its place and whenever it restarts, the two ways acknowledged
    /// writes can be lost without a `FLUSHALL`.
    ///
    /// # Errors
    /// `INFO replication` failed on a node.
    pub fn primary_replication_ids(&mut self) -> RedisResult<Vec<String>> {
        let mut info = redis::cmd("INFO");
        info.arg("replication");
        let reply = match self {
            Self::Node(conn) => info.query::<Value>(conn)?,
            Self::Cluster(conn) => {
                use redis::cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo};
                let all = RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None));
                conn.route_command(&info, all)?
            }
        };
        let mut ids = Vec::new();
        collect_replication_ids(&reply, &mut ids);
        if ids.is_empty() {
            return Err(redis::RedisError::from((
                redis::ErrorKind::Parse,
                "INFO replication named no master_replid",
            )));
        }
        ids.sort();
        Ok(ids)
    }
}

/// Every `master_replid:` value in `reply` (a node's INFO text, or a map or
/// array of them from several nodes).
fn collect_replication_ids(reply: &Value, ids: &mut Vec<String>) {
    match reply {
        Value::BulkString(bytes) => {
            let text = String::from_utf8_lossy(bytes);
            ids.extend(
                text.lines()
                    .filter_map(|line| line.strip_prefix("master_replid:"))
                    .map(|id| id.trim().to_owned()),
            );
        }
        Value::VerbatimString { text, .. } => {
            collect_replication_ids(&Value::BulkString(text.as_bytes().to_vec()), ids);
        }
        Value::Array(values) | Value::Set(values) => {
            values.iter().for_each(|v| collect_replication_ids(v, ids));
        }
        Value::Map(pairs) => pairs.iter().for_each(|(_, v)| collect_replication_ids(v, ids)),
        _ => {}
    }
}

/// The commands of a RESP-encoded pipeline, for routing one by one.
fn unpack(bytes: &[u8], count: usize) -> RedisResult<Vec<Cmd>> {
    let mut parser = redis::Parser::new();
    let mut reader = bytes;
    (0..count)
        .map(|_| {
            let Value::Array(args) = parser.parse_value(&mut reader)? else {
                return Err(redis::RedisError::from((
                    redis::ErrorKind::Client,
                    "a pipelined command is not an array",
                )));
            };
            let mut cmd = Cmd::new();
            for arg in args {
                match arg {
                    Value::BulkString(bytes) => cmd.arg(bytes),
                    other => cmd.arg(format!("{other:?}")),
                };
            }
            Ok(cmd)
        })
        .collect()
}

impl ConnectionLike for BlockingConnection {
    fn req_packed_command(&mut self, cmd: &[u8]) -> RedisResult<Value> {
        match self {
            Self::Node(conn) => conn.req_packed_command(cmd),
            Self::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    /// On a cluster, the commands are split into one pipeline per node by
    /// their keys' slots (the cluster connection's own `req_packed_commands`
    /// would send them all to the first command's node).
    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        offset: usize,
        count: usize,
    ) -> RedisResult<Vec<Value>> {
        match self {
            Self::Node(conn) => conn.req_packed_commands(cmd, offset, count),
            Self::Cluster(conn) => {
                let commands = unpack(cmd, offset + count)?;
                let mut pipe = redis::cluster::ClusterPipeline::with_capacity(commands.len());
                for command in commands {
                    pipe.add_command(command);
                }
                let mut replies: Vec<Value> = pipe.query(conn)?;
                Ok(replies.split_off(offset.min(replies.len())))
            }
        }
    }

    fn req_command(&mut self, cmd: &Cmd) -> RedisResult<Value> {
        match self {
            Self::Node(conn) => conn.req_command(cmd),
            Self::Cluster(conn) => conn.req_command(cmd),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Node(conn) => conn.get_db(),
            Self::Cluster(_) => 0,
        }
    }

    fn check_connection(&mut self) -> bool {
        match self {
            Self::Node(conn) => conn.check_connection(),
            Self::Cluster(conn) => conn.check_connection(),
        }
    }

    fn is_open(&self) -> bool {
        match self {
            Self::Node(conn) => conn.is_open(),
            Self::Cluster(conn) => conn.is_open(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpacks_a_pipeline_into_its_commands() {
        let mut pipe = redis::pipe();
        pipe.cmd("HSET").arg("h").arg("f").arg(7).cmd("DEL").arg("k");
        let packed = pipe.get_packed_pipeline();
        let commands = unpack(&packed, 2).unwrap();
        assert_eq!(commands.len(), 2);
        let repacked: Vec<u8> = commands.iter().flat_map(Cmd::get_packed_command).collect();
        assert_eq!(repacked, packed);
    }

    #[test]
    fn reads_replication_ids_from_one_or_many_nodes() {
        let info = |id: &str| {
            Value::BulkString(
                format!(
                    "# Replication\r\nrole:master\r\nmaster_replid:{id}\r\nmaster_replid2:000\r\n"
                )
                .into_bytes(),
            )
        };
        let mut ids = Vec::new();
        collect_replication_ids(&info("a"), &mut ids);
        assert_eq!(ids, ["a"]);
        let many = Value::Map(vec![
            (Value::SimpleString("n1".into()), info("c")),
            (Value::SimpleString("n2".into()), info("b")),
        ]);
        ids.clear();
        collect_replication_ids(&many, &mut ids);
        assert_eq!(ids, ["c", "b"]);
    }
}
