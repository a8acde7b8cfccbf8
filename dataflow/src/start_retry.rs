//! Retrying the job's start while a service it needs does not answer yet.
//!
//! A job restarted by its supervisor right after a broker restart, or
//! started before Kafka or Redis is up, meets errors that go away by
//! themselves: a metadata request that times out, a partition whose leader
//! is moving, a Redis that refuses connections. Exiting on them makes the
//! supervisor's restart loop the retry policy (and loses the reason with
//! the process's log). [`StartRetry`] instead waits and tries again, with
//! exponential backoff, for up to `--start-retry-for`, logging each attempt
//! and counting it in `tagflow_start_retries_total`. Errors that would only
//! repeat (a checkpoint taken with other settings, events deleted before
//! they were read, a second instance on the same directories, a flag Kafka
//! rejects) end the start at once, as before.
//!
//! Every step retried this way happens before the job reads an event or
//! writes an output, so trying again is a restart of a process that did
//! nothing yet: exactness is untouched.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;
use rdkafka::error::KafkaError;

/// First wait after a failed attempt; doubled after each next failure.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// Longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(15);
/// How often a wait looks at the shutdown flag.
const SHUTDOWN_POLL: Duration = Duration::from_millis(100);

/// Whether an error may go away by itself, so that trying again is worth it.
pub trait Transient {
    /// True for a service that did not answer (or not yet well): a timeout,
    /// a refused connection, a partition without a leader.
    fn is_transient(&self) -> bool;
}

/// Kafka errors are transient except those about the client's own
/// configuration, which the next attempt would meet again.
impl Transient for KafkaError {
    fn is_transient(&self) -> bool {
        !matches!(self, Self::ClientConfig(..) | Self::ClientCreation(_))
    }
}

/// Redis errors are transient except an address that is not one.
impl Transient for redis::RedisError {
    fn is_transient(&self) -> bool {
        self.kind() != redis::ErrorKind::InvalidClientConfig
    }
}

/// An object store that failed (after its client's own retries) may answer
/// later; a damaged, missing or unreadable checkpoint stays so.
impl Transient for state::CheckpointError {
    fn is_transient(&self) -> bool {
        matches!(self, Self::ObjectStore { .. })
    }
}

/// The retry policy of one start: attempts until `window` has passed since
/// the first failure, or a stop is asked for.
#[derive(Debug)]
pub struct StartRetry {
    window: Duration,
    first_failure: Option<Instant>,
    backoff: Duration,
    attempts: u32,
    retries: Counter,
    shutdown: Arc<AtomicBool>,
}

impl StartRetry {
    /// A policy retrying for `window` (zero: never), counting each retry in
    /// `retries` and giving up when `shutdown` is set.
    pub fn new(window: Duration, retries: Counter, shutdown: Arc<AtomicBool>) -> Self {
        Self { window, first_failure: None, backoff: FIRST_BACKOFF, attempts: 0, retries, shutdown }
    }

    /// Runs `attempt` until it succeeds, fails for good, or the window is
    /// over; `what` names the step in the log.
    ///
    /// # Errors
    /// The last attempt's error, when it is not transient, the window is
    /// over, or a stop was asked for.
    pub fn run<T, E>(
        &mut self,
        what: &str,
        mut attempt: impl FnMut() -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: Transient + std::fmt::Display,
    {
        loop {
            match attempt() {
                Ok(value) => return Ok(value),
                Err(err) => self.wait_after(what, err)?,
            }
        }
    }

    /// After a failed attempt: waits and returns `Ok` when the caller
    /// should try again; gives the error back otherwise.
    ///
    /// # Errors
    /// `err`, when it is not transient, the window is over, or a stop was
    /// asked for.
    pub fn wait_after<E>(&mut self, what: &str, err: E) -> Result<(), E>
    where
        E: Transient + std::fmt::Display,
    {
        let first = *self.first_failure.get_or_insert_with(Instant::now);
        let retry_in = self.backoff;
        if !err.is_transient() || self.stopping() || first.elapsed() + retry_in > self.window {
            return Err(err);
        }
        self.attempts += 1;
        self.retries.inc();
        tracing::warn!(
            %err,
            attempt = self.attempts,
            ?retry_in,
            left = ?self.window.saturating_sub(first.elapsed()),
            "{what} failed; retrying (--start-retry-for)"
        );
        let until = Instant::now() + retry_in;
        while Instant::now() < until {
            if self.stopping() {
                return Err(err);
            }
            std::thread::sleep(SHUTDOWN_POLL.min(until.saturating_duration_since(Instant::now())));
        }
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        Ok(())
    }

    /// Starts the window afresh: the start this policy covered succeeded.
    pub fn reset(&mut self) {
        self.first_failure = None;
        self.backoff = FIRST_BACKOFF;
    }

    fn stopping(&self) -> bool {
        self.shutdown.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Failure {
        transient: bool,
    }

    impl std::fmt::Display for Failure {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "failure (transient: {})", self.transient)
        }
    }

    impl Transient for Failure {
        fn is_transient(&self) -> bool {
            self.transient
        }
    }

    fn policy(window: Duration) -> (StartRetry, Counter, Arc<AtomicBool>) {
        let (counter, shutdown) = (Counter::default(), Arc::new(AtomicBool::new(false)));
        (StartRetry::new(window, counter.clone(), Arc::clone(&shutdown)), counter, shutdown)
    }

    #[test]
    fn transient_failures_are_retried_until_the_attempt_succeeds() {
        let (mut retry, counter, _) = policy(Duration::from_secs(30));
        let mut calls = 0;
        let value = retry.run("step", || {
            calls += 1;
            if calls < 3 { Err(Failure { transient: true }) } else { Ok(calls) }
        });
        assert_eq!(value.unwrap(), 3);
        assert_eq!(counter.get(), 2, "each retry is counted");
    }

    #[test]
    fn a_lasting_failure_ends_the_start_at_once() {
        let (mut retry, counter, _) = policy(Duration::from_secs(30));
        let started = Instant::now();
        let result: Result<(), _> = retry.run("step", || Err(Failure { transient: false }));
        assert!(result.is_err());
        assert_eq!(counter.get(), 0);
        assert!(started.elapsed() < FIRST_BACKOFF, "no wait before giving up");
    }

    #[test]
    fn the_window_bounds_the_retries() {
        // 0.5 s + 1 s of backoff fit in 2 s; the next 2 s wait does not.
        let (mut retry, counter, _) = policy(Duration::from_secs(2));
        let result: Result<(), _> = retry.run("step", || Err(Failure { transient: true }));
        assert!(result.is_err());
        assert_eq!(counter.get(), 2);
        // A zero window never retries.
        let (mut never, counter, _) = policy(Duration::ZERO);
        assert!(never.run("step", || Err::<(), _>(Failure { transient: true })).is_err());
        assert_eq!(counter.get(), 0);
    }

    #[test]
    fn a_stop_ends_the_wait() {
        let (mut retry, _, shutdown) = policy(Duration::from_secs(60));
        shutdown.store(true, Ordering::Relaxed);
        assert!(retry.wait_after("step", Failure { transient: true }).is_err());
    }

    #[test]
    fn kafka_and_redis_errors_are_told_apart() {
        use rdkafka::error::RDKafkaErrorCode;
        assert!(KafkaError::MetadataFetch(RDKafkaErrorCode::OperationTimedOut).is_transient());
        assert!(!KafkaError::ClientCreation("bad".into()).is_transient());
        let refused =
            redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(refused.is_transient());
        let bad_url = redis::RedisError::from((redis::ErrorKind::InvalidClientConfig, "bad url"));
        assert!(!bad_url.is_transient());
    }
}
