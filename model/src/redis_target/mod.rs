//! Where tagflow's Redis is: one server, a Sentinel-managed primary, or a
//! Redis Cluster, named by one address string that the job and the API
//! both take (`--redis`), and turned into connections here, once.
//!
//! * `redis://[user:password@]host:port[/db]` (and `rediss://`, `unix://`):
//!   one server, as the `redis` crate parses it;
//! * `redis+sentinel://[user:password@]host:port[,host:port…]/<master>[/<db>]`:
//!   the sentinels to ask for the current primary of `<master>`; every
//!   (re)connection asks them again, so a failover is followed. The
//!   credentials are the data nodes'; the sentinels take none;
//! * `redis+cluster://[user:password@]host:port[,host:port…]`: seed nodes of
//!   a Redis Cluster (database 0 only); commands are routed by key slot.
//!
//! [`RedisTarget::connect`] gives the job's blocking [`BlockingConnection`],
//! [`RedisTarget::connect_async`] the API's multiplexed [`AsyncConnection`].

mod asynchronous;
mod blocking;

use std::fmt;
use std::time::Duration;

pub use asynchronous::AsyncConnection;
pub use blocking::BlockingConnection;

/// URL scheme of a Sentinel address.
pub const SENTINEL_SCHEME: &str = "redis+sentinel://";
/// URL scheme of a Cluster address.
pub const CLUSTER_SCHEME: &str = "redis+cluster://";

/// A Redis address that is not one of the three forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Redis address {address:?}: {reason}")]
pub struct AddressError {
    /// The address, its password hidden.
    pub address: String,
    /// What is wrong with it.
    pub reason: String,
}

impl From<AddressError> for redis::RedisError {
    fn from(err: AddressError) -> Self {
        Self::from((redis::ErrorKind::InvalidClientConfig, "--redis", err.to_string()))
    }
}

/// `address` if it parses: a clap `value_parser` for `--redis` flags, so a
/// bad address is refused at the start with its reason.
///
/// # Errors
/// As [`RedisTarget::parse`].
pub fn check_address(address: &str) -> Result<String, AddressError> {
    RedisTarget::parse(address).map(|_| address.to_owned())
}

/// A parsed `--redis` address.
#[derive(Clone)]
pub enum RedisTarget {
    /// One server.
    Single(redis::ConnectionInfo),
    /// The primary of `master`, as the sentinels name it.
    Sentinel {
        /// Sentinel addresses.
        sentinels: Vec<(String, u16)>,
        /// The monitored primary's name.
        master: String,
        /// Database, credentials and protocol for the data nodes.
        node: redis::RedisConnectionInfo,
    },
    /// A Redis Cluster.
    Cluster {
        /// Seed nodes.
        nodes: Vec<(String, u16)>,
        /// Credentials for every node.
        node: redis::RedisConnectionInfo,
    },
}

impl RedisTarget {
    /// Parses one of the three forms.
    ///
    /// # Errors
    /// An address of none of them, an empty node list, a port that is not a
    /// number, a Sentinel address without a primary name, a Cluster address
    /// naming a database.
    pub fn parse(address: &str) -> Result<Self, AddressError> {
        let fail =
            |reason: &str| AddressError { address: redact(address), reason: reason.to_owned() };
        if let Some(rest) = address.strip_prefix(SENTINEL_SCHEME) {
            let ((node, hosts), path) = split_authority(rest).map_err(|r| fail(&r))?;
            let mut parts = path.split('/').filter(|p| !p.is_empty());
            let master = parts.next().ok_or_else(|| fail("no primary name after the hosts"))?;
            let db = match parts.next() {
                Some(db) => db.parse().map_err(|_| fail("the database is not a number"))?,
                None => 0,
            };
            if parts.next().is_some() {
                return Err(fail("expected /<master>[/<db>] after the hosts"));
            }
            let node = node.set_db(db);
            Ok(Self::Sentinel { sentinels: hosts, master: master.to_owned(), node })
        } else if let Some(rest) = address.strip_prefix(CLUSTER_SCHEME) {
            let ((node, nodes), path) = split_authority(rest).map_err(|r| fail(&r))?;
            if !path.trim_matches('/').is_empty() && path.trim_matches('/') != "0" {
                return Err(fail("a Redis Cluster has database 0 only"));
            }
            Ok(Self::Cluster { nodes, node })
        } else {
            redis::IntoConnectionInfo::into_connection_info(address)
                .map(Self::Single)
                .map_err(|e| fail(&e.to_string()))
        }
    }

    /// Whether commands must be routed by key slot (a Cluster).
    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster { .. })
    }
}

impl std::str::FromStr for RedisTarget {
    type Err = AddressError;

    fn from_str(address: &str) -> Result<Self, Self::Err> {
        Self::parse(address)
    }
}

/// The address with its password hidden, for logs.
impl fmt::Display for RedisTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hosts = |list: &[(String, u16)]| {
            list.iter().map(|(h, p)| format!("{h}:{p}")).collect::<Vec<_>>().join(",")
        };
        match self {
            Self::Single(info) => {
                write!(f, "redis://{}/{}", info.addr(), info.redis_settings().db())
            }
            Self::Sentinel { sentinels, master, node } => {
                write!(f, "{SENTINEL_SCHEME}{}/{master}/{}", hosts(sentinels), node.db())
            }
            Self::Cluster { nodes, .. } => write!(f, "{CLUSTER_SCHEME}{}", hosts(nodes)),
        }
    }
}

impl fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The parts of an address's authority: credentials, then `(host, port)`s.
type Authority = (redis::RedisConnectionInfo, Vec<(String, u16)>);

/// `[user:password@]host:port,…` and the rest of the address after it.
fn split_authority(rest: &str) -> Result<(Authority, &str), String> {
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (credentials, hosts) = match authority.rsplit_once('@') {
        Some((credentials, hosts)) => (Some(credentials), hosts),
        None => (None, authority),
    };
    let mut node = redis::RedisConnectionInfo::default();
    if let Some(credentials) = credentials {
        let (user, password) = credentials.split_once(':').unwrap_or((credentials, ""));
        if !user.is_empty() {
            node = node.set_username(percent_decode(user)?);
        }
        if !password.is_empty() {
            node = node.set_password(percent_decode(password)?);
        }
    }
    let hosts = hosts
        .split(',')
        .filter(|h| !h.is_empty())
        .map(|host| {
            let (name, port) = host.rsplit_once(':').ok_or(format!("{host:?} has no port"))?;
            let port = port.parse().map_err(|_| format!("{host:?}: the port is not a number"))?;
            Ok((name.trim_start_matches('[').trim_end_matches(']').to_owned(), port))
        })
        .collect::<Result<Vec<_>, String>>()?;
    if hosts.is_empty() {
        return Err("no host:port".to_owned());
    }
    Ok(((node, hosts), path))
}

/// Decodes `%XX` escapes (a password may hold `@`, `:`, `/` or `,`).
fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%' {
            let hex = text.get(at + 1..at + 3).ok_or("a truncated %-escape")?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| "an invalid %-escape")?);
            at += 3;
        } else {
            out.push(bytes[at]);
            at += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "credentials that are not UTF-8".to_owned())
}

/// `address` with anything between `//` and `@` replaced by `***`.
fn redact(address: &str) -> String {
    match (address.find("//"), address.rfind('@')) {
        (Some(start), Some(end)) if start + 2 <= end => {
            format!("{}***{}", &address[..start + 2], &address[end..])
        }
        _ => address.to_owned(),
    }
}

/// Whether `err` means the connection should be dropped and opened again
/// (through the sentinels or the cluster's slot map, which may now name
/// another node): it broke, timed out, or reached a node that is no longer
/// a writable primary (`READONLY` after a failover demoted it, `MASTERDOWN`,
/// `CLUSTERDOWN`, `LOADING` after a restart).
pub fn needs_reconnect(err: &redis::RedisError) -> bool {
    err.is_io_error()
        || err.is_connection_dropped()
        || err.is_connection_refusal()
        || err.is_timeout()
        || matches!(err.code(), Some("READONLY" | "MASTERDOWN" | "CLUSTERDOWN" | "LOADING"))
}

/// Per-call bounds of a connection.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// Longest wait to connect.
    pub connect: Duration,
    /// Longest wait for a reply.
    pub response: Duration,
}

impl Timeouts {
    /// The same bound for both.
    pub fn uniform(timeout: Duration) -> Self {
        Self { connect: timeout, response: timeout }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_forms() {
        let single = RedisTarget::parse("redis://127.0.0.1:6379/3").unwrap();
        assert!(matches!(&single, RedisTarget::Single(info) if info.redis_settings().db() == 3));
        let sentinel =
            RedisTarget::parse("redis+sentinel://:p%40ss@a:26379,b:26380/mymaster/2").unwrap();
        let RedisTarget::Sentinel { sentinels, master, node } = &sentinel else { panic!() };
        assert_eq!(sentinels, &[("a".to_owned(), 26379), ("b".to_owned(), 26380)]);
        assert_eq!(master, "mymaster");
        assert_eq!((node.db(), node.password()), (2, Some("p@ss")));
        assert_eq!(sentinel.to_string(), "redis+sentinel://a:26379,b:26380/mymaster/2");
        let cluster = RedisTarget::parse("redis+cluster://u:pw@n1:7000,n2:7001").unwrap();
        let RedisTarget::Cluster { nodes, node } = &cluster else { panic!() };
        assert_eq!(nodes.len(), 2);
        assert_eq!((node.username(), node.password()), (Some("u"), Some("pw")));
        assert!(cluster.is_cluster() && !sentinel.is_cluster());
    }

    #[test]
    fn refuses_incomplete_addresses_without_showing_the_password() {
        for bad in [
            "redis+sentinel://a:1",
            "redis+sentinel://:secret@a:1,/m/x",
            "redis+sentinel://a/m",
            "redis+cluster://",
            "redis+cluster://a:1/4",
            "nonsense",
        ] {
            let err = RedisTarget::parse(bad).unwrap_err();
            assert!(!err.to_string().contains("secret"), "{err}");
        }
    }
}
