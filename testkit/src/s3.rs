//! S3-compatible object storage for tests: SeaweedFS's S3 gateway, a real
//! server. [`S3::stack`] is the one `scripts/stack up --s3` runs (shared:
//! tests keep apart by key prefix); [`PrivateS3`] is a server of the
//! test's own, for tests that pause it.
//!
//! The servers run without identities configured, so any credentials are
//! accepted; the job still signs every request with the standard AWS
//! variables [`S3::configure`] sets, as it would against AWS.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::free_port;

/// The bucket `scripts/stack up --s3` creates, and [`PrivateS3`] too.
pub const BUCKET: &str = "tagflow";

/// Where an S3 server is.
#[derive(Debug, Clone)]
pub struct S3 {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    /// A bucket that exists.
    pub bucket: String,
}

impl S3 {
    /// The stack's server (`scripts/stack up --s3`; `TAGFLOW_S3_ENDPOINT`
    /// overrides its address), checked once per test process.
    ///
    /// # Panics
    /// With instructions, when it does not answer or lacks the bucket.
    pub fn stack() -> &'static S3 {
        static S3_STACK: OnceLock<S3> = OnceLock::new();
        S3_STACK.get_or_init(|| {
            let endpoint = std::env::var("TAGFLOW_S3_ENDPOINT")
                .unwrap_or_else(|_| "http://127.0.0.1:8333".into());
            let s3 = S3 { endpoint, bucket: BUCKET.into() };
            match s3.request("HEAD", &format!("/{BUCKET}")) {
                Some(200) => s3,
                answer => panic!(
                    "no S3 server with bucket {BUCKET} at {} (answer {answer:?}); start it with \
                     `scripts/stack up --s3`",
                    s3.endpoint
                ),
            }
        })
    }

    /// `s3://<bucket>/<prefix>`.
    #[must_use]
    pub fn url(&self, prefix: &str) -> String {
        format!("s3://{}/{prefix}", self.bucket)
    }

    /// Points a `dataflow` command at this server: endpoint, plain http,
    /// and credentials and region in the standard AWS variables.
    pub fn configure(&self, command: &mut Command) {
        command
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_ACCESS_KEY_ID", "tagflow")
            .env("AWS_SECRET_ACCESS_KEY", "tagflow-secret")
            .env("AWS_REGION", "us-east-1");
    }

    /// Sends a body-less request; the HTTP status, if the server answered.
    fn request(&self, method: &str, path: &str) -> Option<u16> {
        let address = self.endpoint.trim_start_matches("http://");
        let mut stream = TcpStream::connect(address).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).ok()?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).ok()?;
        std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
    }
}

/// The SeaweedFS binary: `TAGFLOW_WEED`, else where `scripts/install-deps
/// --seaweedfs` builds it (`~/.cache/tagflow/seaweedfs/weed`).
///
/// # Panics
/// With instructions, when there is none.
#[must_use]
pub fn weed_binary() -> PathBuf {
    let path = std::env::var_os("TAGFLOW_WEED").map(PathBuf::from).unwrap_or_else(|| {
        let cache = std::env::var_os("TAGFLOW_CACHE").map(PathBuf::from).unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/tagflow")
        });
        cache.join("seaweedfs/weed")
    });
    assert!(
        path.is_file(),
        "no SeaweedFS binary at {}: build it with `scripts/install-deps --seaweedfs` or set TAGFLOW_WEED",
        path.display()
    );
    path
}

/// A SeaweedFS server (master, volume, filer and S3 gateway in one
/// process) on free ports of 127.0.0.1, with its data in a temporary
/// directory; killed and removed when dropped.
#[derive(Debug)]
pub struct PrivateS3 {
    s3: S3,
    dir: PathBuf,
    child: Child,
}

impl PrivateS3 {
    /// Starts one, waits until its S3 gateway answers and creates
    /// [`BUCKET`].
    ///
    /// # Panics
    /// If it does not start within 60 s.
    pub fn start() -> Self {
        let s3_port = free_port();
        let dir = std::env::temp_dir().join(format!("testkit-s3-{}-{s3_port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("private S3 directory");
        // gRPC ports are given too: the default (port + 10000) may not exist.
        let port = |name: &str| format!("-{name}={}", free_port());
        let child = Command::new(weed_binary())
            .arg("server")
            .arg(format!("-dir={}", dir.display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-filer", "-s3"])
            .args([port("master.port"), port("master.port.grpc")])
            .args([port("volume.port"), port("volume.port.grpc")])
            .args([port("filer.port"), port("filer.port.grpc")])
            .arg(format!("-s3.port={s3_port}"))
            .arg(port("s3.port.grpc"))
            // Off: their default ports are fixed.
            .args(["-s3.port.iceberg=0", "-s3.port.lance=0"])
            .args(["-master.volumeSizeLimitMB=64", "-volume.max=16"])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("weed.log")).expect("log file"))
            .spawn()
            .expect("start weed");
        let s3 = S3 { endpoint: format!("http://127.0.0.1:{s3_port}"), bucket: BUCKET.into() };
        let server = Self { s3, dir, child };
        let started = Instant::now();
        while !matches!(server.s3.request("PUT", &format!("/{BUCKET}")), Some(200 | 409)) {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "SeaweedFS did not answer within 60 s; see {}",
                server.dir.join("weed.log").display()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        server
    }

    /// Where it is.
    #[must_use]
    pub fn s3(&self) -> &S3 {
        &self.s3
    }

    /// Stops the process (SIGSTOP): connections are accepted by the kernel
    /// and never answered, as with a server that hangs.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a paused server go on (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill").args([signal, &self.child.id().to_string()]).status();
        assert!(status.is_ok_and(|s| s.success()), "kill {signal} SeaweedFS");
    }
}

impl Drop for PrivateS3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
