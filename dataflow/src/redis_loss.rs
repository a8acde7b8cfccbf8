//! Noticing that Redis lost the job's writes while the job runs.
//!
//! Redis can lose data under a running job: `FLUSHALL`, a restart without
//! its append-only file, a failover to an empty replica. The job's writes
//! are deltas of changed fields, so nothing it writes later brings the lost
//! keys back. Each worker's Redis writer therefore sets a sentinel
//! (`tagflow:writer:<worker>`, [`model::keys::writer_sentinel`]) to a token
//! of its run before its first write, and checks it at every checkpoint
//! barrier, after everything queued before the barrier is written. A
//! missing or other token raises the [`RedisLoss`] alarm: the sources stop,
//! and the job restarts its dataflow in the same process from the last
//! complete checkpoint, rewriting every key of the restored state before
//! replaying the events after it (`job::run`). A loss is thus repaired
//! within a checkpoint interval plus a restore, without a restart of the
//! process.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::resp::RespCommands;

/// Raised by a Redis writer that found its sentinel gone; shared by the
/// workers of a process.
#[derive(Debug, Clone, Default)]
pub struct RedisLoss(Arc<AtomicBool>);

impl RedisLoss {
    /// Whether a writer found that Redis lost the job's writes.
    pub fn is_raised(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    /// Reports a loss; returns whether it was the first report.
    pub fn raise(&self) -> bool {
        !self.0.swap(true, Ordering::AcqRel)
    }
}

/// KEYS[1] = ARGV[1] if KEYS[2] holds ARGV[2].
const GUARDED_SET: &str = "if redis.call('GET', KEYS[2]) == ARGV[2] then \
    redis.call('SET', KEYS[1], ARGV[1]) return 1 end return 0";

/// One worker's sentinel: its key and this run's token.
#[derive(Debug, Clone)]
pub struct Sentinel {
    key: String,
    token: String,
}

impl Sentinel {
    /// Worker `worker`'s sentinel with a token unique to this writer (the
    /// process id and the time it started, in nanoseconds).
    pub fn new(worker: usize) -> Self {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let token = format!("{}-{nanos}", std::process::id());
        Self { key: model::keys::writer_sentinel(worker), token }
    }

    /// The `SET` that places it.
    pub fn set_command(&self) -> RespCommands {
        let mut commands = RespCommands::new();
        commands.command(3, "SET").arg(self.key.as_bytes()).arg(self.token.as_bytes());
        commands
    }

    /// `SET key value` only if Redis still holds the sentinel, in one step
    /// (a script): the checkpoint marker, which must not claim outputs a
    /// Redis that lost the sentinel no longer has.
    pub fn guarded_set(&self, key: &[u8], value: &[u8]) -> RespCommands {
        let mut commands = RespCommands::new();
        commands
            .command(7, "EVAL")
            .arg(GUARDED_SET.as_bytes())
            .arg(b"2")
            .arg(key)
            .arg(self.key.as_bytes())
            .arg(value)
            .arg(self.token.as_bytes());
        commands
    }

    /// Whether Redis still holds it.
    ///
    /// # Errors
    /// The `GET` failed.
    pub fn is_intact(&self, conn: &mut impl redis::ConnectionLike) -> redis::RedisResult<bool> {
        let held: Option<String> = redis::cmd("GET").arg(&self.key).query(conn)?;
        Ok(held.as_deref() == Some(self.token.as_str()))
    }

    /// Its key.
    pub fn key(&self) -> &str {
        &self.key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alarm_reports_its_first_raise_only() {
        let loss = RedisLoss::default();
        let seen_by_another = loss.clone();
        assert!(!seen_by_another.is_raised());
        assert!(loss.raise());
        assert!(!loss.raise());
        assert!(seen_by_another.is_raised());
    }

    #[test]
    fn the_set_command_is_the_resp_of_set_key_token() {
        let sentinel = Sentinel::new(7);
        assert_eq!(sentinel.key(), "tagflow:writer:7:{tagflow:checkpoint}");
        let expected =
            redis::cmd("SET").arg(sentinel.key()).arg(&sentinel.token).get_packed_command();
        assert_eq!(sentinel.set_command().bytes(), expected.as_slice());
        assert_ne!(Sentinel::new(7).token, "", "a token");
    }
}
