//! A `redis-server` of the test's own, for tests that stop, kill or pause
//! Redis (`CLIENT PAUSE`): never the shared stack's server. It listens on a
//! free port of 127.0.0.1, keeps nothing on disk, and is killed on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::binaries::free_port;

/// A running private `redis-server`.
#[derive(Debug)]
pub struct PrivateRedis {
    /// `redis://127.0.0.1:<port>`.
    pub url: String,
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl PrivateRedis {
    /// Starts a server on a free port and waits until it answers.
    ///
    /// # Panics
    /// When `redis-server` is not installed or does not answer within 10 s.
    pub fn start() -> Self {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("testkit-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("private redis directory");
        let mut redis = Self { url: format!("redis://127.0.0.1:{port}"), port, dir, child: None };
        redis.restart();
        redis
    }

    /// Starts the server again on the same port (after [`Self::kill`]).
    ///
    /// # Panics
    /// As [`Self::start`].
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "the private redis-server is running");
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .current_dir(&self.dir)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (install redis-server)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.connection().is_err() {
            assert!(Instant::now() < deadline, "private redis-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A connection to the server.
    ///
    /// # Errors
    /// When the server does not answer.
    pub fn connection(&self) -> redis::RedisResult<redis::Connection> {
        redis::Client::open(self.url.as_str())?.get_connection()
    }

    /// Makes the server hold every client's commands for `duration`
    /// (`CLIENT PAUSE <ms> ALL`): a slow Redis.
    ///
    /// # Panics
    /// When the server does not answer.
    pub fn pause(&self, duration: Duration) {
        let mut conn = self.connection().expect("private redis connection");
        redis::cmd("CLIENT")
            .arg("PAUSE")
            .arg(duration.as_millis().to_string())
            .arg("ALL")
            .query::<()>(&mut conn)
            .expect("CLIENT PAUSE");
    }

    /// Kills the server (SIGKILL) and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
