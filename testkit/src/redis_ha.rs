//! Highly available Redis setups of a test's own, on free ports of
//! 127.0.0.1: [`PrivateSentinel`] (a primary, a replica and three
//! sentinels) and [`PrivateCluster`] (a Redis Cluster of three primaries
//! with a replica each), the same shapes `scripts/stack up --redis
//! sentinel|cluster` starts for operators (`scripts/lib/stack-redis-ha.sh`),
//! with shorter failure detection so that tests fail over within seconds.
//! Every process is killed when the setup is dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::free_port;

/// Name of the primary the sentinels monitor.
pub const SENTINEL_MASTER: &str = "tagflow";

/// One `redis-server` (or sentinel) process.
#[derive(Debug)]
struct Server {
    port: u16,
    child: Option<Child>,
}

impl Server {
    fn start(program: &str, args: &[String], dir: &Path, port: u16) -> Self {
        let child = Command::new(program)
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {program} (scripts/install-deps installs it): {e}"));
        let server = Self { port, child: Some(child) };
        wait_until(Duration::from_secs(10), &format!("{program} on {port} answers"), || {
            query::<String>(port, &redis::cmd("PING")).is_ok()
        });
        server
    }

    fn data(dir: &Path, port: u16, extra: &[&str]) -> Self {
        let dir = dir.join(format!("node-{port}"));
        std::fs::create_dir_all(&dir).expect("node directory");
        let mut args: Vec<String> = [
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        args.extend(extra.iter().map(ToString::to_string));
        Self::start("redis-server", &args, &dir, port)
    }

    /// SIGKILL, and wait for the exit.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs `cmd` on the server at `port` (a fresh connection, 2 s timeouts).
fn query<T: redis::FromRedisValue>(port: u16, cmd: &redis::Cmd) -> redis::RedisResult<T> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}"))?;
    let mut conn = client.get_connection_with_timeout(Duration::from_secs(2))?;
    conn.set_read_timeout(Some(Duration::from_secs(2)))?;
    cmd.query(&mut conn)
}

/// Polls `ready` every 100 ms; panics naming `what` after `limit`.
fn wait_until(limit: Duration, what: &str, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < limit, "timed out after {limit:?} waiting until {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A fresh directory under the system's temporary directory.
fn scratch(kind: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("testkit-{kind}-{}-{}", std::process::id(), free_port()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// A primary, its replica and three sentinels (quorum 2, a primary is down
/// after 1 s without answering).
#[derive(Debug)]
pub struct PrivateSentinel {
    dir: PathBuf,
    data: Vec<Server>,
    sentinels: Vec<Server>,
}

impl PrivateSentinel {
    /// Starts them and waits until the sentinels know the replica and each
    /// other (a failover can be authorised).
    ///
    /// # Panics
    /// If a server does not start or the sentinels do not agree within 30 s.
    pub fn start() -> Self {
        let dir = scratch("sentinel");
        let primary = Server::data(&dir, free_port(), &[]);
        let replica_port = free_port();
        let replica = Server::data(
            &dir,
            replica_port,
            &["--replicaof", "127.0.0.1", &primary.port.to_string()],
        );
        let sentinels = (0..3)
            .map(|_| {
                let port = free_port();
                let conf = dir.join(format!("sentinel-{port}.conf"));
                std::fs::write(
                    &conf,
                    format!(
                        "port {port}\nbind 127.0.0.1\n\
                         sentinel monitor {SENTINEL_MASTER} 127.0.0.1 {} 2\n\
                         sentinel down-after-milliseconds {SENTINEL_MASTER} 1000\n\
                         sentinel failover-timeout {SENTINEL_MASTER} 5000\n",
                        primary.port
                    ),
                )
                .expect("sentinel.conf");
                let (program, mode) = if which("redis-sentinel") {
                    ("redis-sentinel", None)
                } else {
                    ("redis-server", Some("--sentinel".to_owned()))
                };
                let args: Vec<String> =
                    std::iter::once(conf.display().to_string()).chain(mode).collect();
                Server::start(program, &args, &dir, port)
            })
            .collect();
        let setup = Self { dir, data: vec![primary, replica], sentinels };
        setup.wait_for_quorum();
        setup
    }

    /// Waits until every sentinel sees the replica and the other sentinels.
    fn wait_for_quorum(&self) {
        wait_until(Duration::from_secs(30), "the sentinels agree", || {
            self.sentinels.iter().all(|s| {
                let ckquorum = redis::cmd("SENTINEL").arg("CKQUORUM").arg(SENTINEL_MASTER).clone();
                let replicas = redis::cmd("SENTINEL").arg("REPLICAS").arg(SENTINEL_MASTER).clone();
                query::<String>(s.port, &ckquorum).is_ok_and(|ok| ok.contains("3 usable"))
                    && query::<Vec<redis::Value>>(s.port, &replicas).is_ok_and(|r| !r.is_empty())
            })
        });
    }

    /// `redis+sentinel://…/tagflow/<db>`.
    pub fn url(&self, db: u32) -> String {
        let hosts: Vec<String> =
            self.sentinels.iter().map(|s| format!("127.0.0.1:{}", s.port)).collect();
        format!("redis+sentinel://{}/{SENTINEL_MASTER}/{db}", hosts.join(","))
    }

    /// The port of the primary the sentinels name now.
    ///
    /// # Panics
    /// If no sentinel answers.
    pub fn primary_port(&self) -> u16 {
        let ask =
            redis::cmd("SENTINEL").arg("GET-MASTER-ADDR-BY-NAME").arg(SENTINEL_MASTER).clone();
        self.sentinels
            .iter()
            .find_map(|s| query::<(String, u16)>(s.port, &ask).ok())
            .map(|(_, port)| port)
            .expect("a sentinel names the primary")
    }

    /// Kills the current primary (SIGKILL); returns its port.
    pub fn kill_primary(&mut self) -> u16 {
        let port = self.primary_port();
        if let Some(server) = self.data.iter_mut().find(|s| s.port == port) {
            server.kill();
        }
        port
    }

    /// Waits until the sentinels name a primary other than `old` that
    /// answers as a primary; returns its port.
    ///
    /// # Panics
    /// If that takes over `limit`.
    pub fn wait_for_failover(&self, old: u16, limit: Duration) -> u16 {
        let mut new = old;
        wait_until(limit, "the sentinels promote the replica", || {
            new = self.primary_port();
            new != old
                && query::<redis::Value>(new, &redis::cmd("ROLE"))
                    .is_ok_and(|role| format!("{role:?}").contains("master"))
        });
        new
    }

    /// A direct connection to the data node on `port`.
    ///
    /// # Errors
    /// If it does not answer.
    pub fn node(&self, port: u16) -> redis::RedisResult<redis::Connection> {
        redis::Client::open(format!("redis://127.0.0.1:{port}"))?
            .get_connection_with_timeout(Duration::from_secs(2))
    }
}

impl Drop for PrivateSentinel {
    fn drop(&mut self) {
        self.sentinels.clear();
        self.data.clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether `program` is on the PATH.
fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// Three primaries with one replica each, joined by `redis-cli --cluster
/// create`; a node is failed after 1 s without answering.
#[derive(Debug)]
pub struct PrivateCluster {
    dir: PathBuf,
    nodes: Vec<Server>,
}

impl PrivateCluster {
    /// Starts and joins them, and waits for `cluster_state:ok` with every
    /// replica in sync.
    ///
    /// # Panics
    /// If a node does not start or the cluster is not ready within 30 s.
    pub fn start() -> Self {
        let dir = scratch("cluster");
        let nodes: Vec<Server> = (0..6)
            .map(|_| {
                let (port, bus) = (free_port(), free_port());
                Server::data(
                    &dir,
                    port,
                    &[
                        "--cluster-enabled",
                        "yes",
                        "--cluster-port",
                        &bus.to_string(),
                        "--cluster-config-file",
                        "nodes.conf",
                        "--cluster-node-timeout",
                        "1000",
                        // A replica fails over however long ago it last heard
                        // from its primary (a loaded test machine can delay
                        // its first sync past the default validity window).
                        "--cluster-replica-validity-factor",
                        "0",
                    ],
                )
            })
            .collect();
        let addresses: Vec<String> =
            nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)).collect();
        let output = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addresses)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .output()
            .expect("run redis-cli --cluster create");
        assert!(
            output.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        let cluster = Self { dir, nodes };
        cluster.wait_until_ok(Duration::from_secs(30));
        cluster
    }

    /// `redis+cluster://` with every node.
    pub fn url(&self) -> String {
        let hosts: Vec<String> =
            self.nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)).collect();
        format!("redis+cluster://{}", hosts.join(","))
    }

    /// The running nodes' ports and roles (`master` or `slave`), from each
    /// node's own `ROLE`.
    fn roles(&self) -> Vec<(u16, String)> {
        self.nodes
            .iter()
            .filter(|n| n.child.is_some())
            .filter_map(|n| {
                let role: Vec<redis::Value> = query(n.port, &redis::cmd("ROLE")).ok()?;
                let name: String = redis::from_redis_value(role.first()?.clone()).ok()?;
                Some((n.port, name))
            })
            .collect()
    }

    /// Waits until every running node reports `cluster_state:ok`, three
    /// primaries and a replica in sync for each.
    ///
    /// # Panics
    /// If that takes over `limit`.
    pub fn wait_until_ok(&self, limit: Duration) {
        let started = Instant::now();
        loop {
            let states: Vec<(u16, String)> = self
                .nodes
                .iter()
                .filter(|n| n.child.is_some())
                .map(|n| {
                    let info = query::<String>(n.port, redis::cmd("CLUSTER").arg("INFO"));
                    let state = info.map_or_else(
                        |e| format!("no answer: {e}"),
                        |info| {
                            info.lines()
                                .find_map(|l| l.strip_prefix("cluster_state:"))
                                .unwrap_or("?")
                                .trim()
                                .to_owned()
                        },
                    );
                    (n.port, state)
                })
                .collect();
            let roles = self.roles();
            let primaries = roles.iter().filter(|(_, r)| r == "master").count();
            let replicas_in_sync = roles.iter().filter(|(_, r)| r == "slave").all(|(port, _)| {
                query::<String>(*port, redis::cmd("INFO").arg("replication"))
                    .is_ok_and(|info| info.contains("master_link_status:up"))
            });
            if states.iter().all(|(_, state)| state == "ok") && primaries == 3 && replicas_in_sync {
                return;
            }
            assert!(
                started.elapsed() < limit,
                "timed out after {limit:?} waiting until the cluster is ok with 3 primaries and \
                 their replicas in sync: cluster_state per node {states:?}, roles {roles:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Kills (SIGKILL) the primary that owns `key`'s slot; returns its port.
    ///
    /// # Panics
    /// If no primary answers for that slot.
    pub fn kill_primary_of(&mut self, key: &str) -> u16 {
        let port = self.primary_of(key);
        if let Some(node) = self.nodes.iter_mut().find(|n| n.port == port) {
            node.kill();
        }
        port
    }

    /// The port of the primary that owns `key`'s slot.
    ///
    /// # Panics
    /// If no running node answers `CLUSTER SHARDS`-style slot queries.
    pub fn primary_of(&self, key: &str) -> u16 {
        let slot: u16 = query(self.running_port(), redis::cmd("CLUSTER").arg("KEYSLOT").arg(key))
            .expect("CLUSTER KEYSLOT");
        let slots: Vec<redis::Value> =
            query(self.running_port(), redis::cmd("CLUSTER").arg("SLOTS")).expect("CLUSTER SLOTS");
        for range in slots {
            let redis::Value::Array(range) = range else { continue };
            let start: u16 = redis::from_redis_value(range[0].clone()).unwrap_or(u16::MAX);
            let end: u16 = redis::from_redis_value(range[1].clone()).unwrap_or(0);
            if (start..=end).contains(&slot) {
                // [ip, port, node id, metadata]: the primary comes first.
                let redis::Value::Array(owner) = &range[2] else { panic!("slot owner address") };
                return redis::from_redis_value(owner[1].clone()).expect("slot owner port");
            }
        }
        panic!("no primary owns slot {slot}");
    }

    fn running_port(&self) -> u16 {
        self.nodes.iter().find(|n| n.child.is_some()).map(|n| n.port).expect("a running node")
    }

    /// Keys held by each running primary (`DBSIZE`), by port.
    pub fn keys_per_primary(&self) -> Vec<(u16, usize)> {
        self.primaries()
            .into_iter()
            .map(|port| (port, query(port, &redis::cmd("DBSIZE")).unwrap_or(0)))
            .collect()
    }

    /// Per running primary: its port, the commands it processed
    /// (`total_commands_processed`, counted from its start or promotion's
    /// process start) and the memory its data uses (`used_memory`), for
    /// measuring how unevenly the load falls.
    pub fn load_per_primary(&self) -> Vec<(u16, u64, u64)> {
        let field = |info: &str, name: &str| {
            info.lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0)
        };
        self.primaries()
            .into_iter()
            .map(|port| {
                let info: String = query(port, &redis::cmd("INFO")).unwrap_or_default();
                (port, field(&info, "total_commands_processed"), field(&info, "used_memory"))
            })
            .collect()
    }

    /// Ports of the running primaries.
    pub fn primaries(&self) -> Vec<u16> {
        self.roles().into_iter().filter(|(_, r)| r == "master").map(|(p, _)| p).collect()
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        self.nodes.clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
