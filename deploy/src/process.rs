//! Child processes that never outlive the test: killed and reaped on drop.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// A running child process, with its stderr going to a file so it can be
/// shown when something fails.
#[derive(Debug)]
pub struct Running {
    name: String,
    child: Child,
    log: std::path::PathBuf,
}

impl Running {
    /// Starts `command`, stdout and stderr appended to `log`.
    ///
    /// # Errors
    /// When it cannot be started.
    pub fn start(name: &str, mut command: Command, log: &std::path::Path) -> anyhow::Result<Self> {
        let file =
            std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .with_context(|| format!("starting {name}: {command:?}"))?;
        Ok(Self { name: name.to_owned(), child, log: log.to_path_buf() })
    }

    /// The process's output so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Polls `ready` every 200 ms until it returns true, failing if the
    /// process exits or `limit` passes.
    ///
    /// # Errors
    /// With the process's output, when it is not ready in time.
    pub fn wait_until(
        &mut self,
        limit: Duration,
        mut ready: impl FnMut() -> bool,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            if ready() {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("{} exited ({status}) before it was ready:\n{}", self.name, self.output());
            }
            if Instant::now() > deadline {
                bail!("{} not ready after {limit:?}:\n{}", self.name, self.output());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
