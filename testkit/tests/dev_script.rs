//! `scripts/dev` itself, with flags, for a few seconds (`--for`), against
//! the shared stack.
//!
//! The run keeps apart from the stack's own topics, Redis database 0, the
//! default ports and the job's default directories: its topics are
//! prefixed (`TAGFLOW_TOPIC_PREFIX`), its Redis database is one of the
//! tests' (`TAGFLOW_REDIS`), its ports are free ones and its state,
//! checkpoints and logs go to a directory of its own. `scripts/stack up`,
//! which `scripts/dev` runs, leaves a running stack as it is.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use model::keys;
use testkit::{EventTopics, Stack, free_port, read_topic, redis_database, unique_name};

/// How long the whole run may take: `scripts/dev` also checks the packages,
/// the stack and the build (all there already under `scripts/test`).
const RUN_LIMIT: Duration = Duration::from_secs(600);

/// The target directory the test executable was built in
/// (`<target>/debug/deps/<test>`), so that `scripts/dev`'s own
/// `cargo build` finds everything built already.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.ancestors().nth(3).expect("<target>/<profile>/deps/<exe>").to_path_buf()
}

/// A plain HTTP/1.1 GET; the status line, or the error.
fn http_status(addr: &str, path: &str) -> Result<String, String> {
    let mut stream = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).map_err(|e| e.to_string())?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(|e| e.to_string())?;
    Ok(response.lines().next().unwrap_or_default().to_owned())
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// "sent N events: A acknowledged, F failed, in T s (R events/s)" → (A, F, R).
fn simulator_report(stdout: &str) -> Option<(u64, u64, f64)> {
    let line = stdout.lines().rev().find(|l| l.starts_with("sent "))?;
    let number_before = |word: &str| -> Option<f64> {
        let words: Vec<&str> =
            line.split([' ', ',', '(', ')', ':']).filter(|w| !w.is_empty()).collect();
        let at = words.iter().position(|w| *w == word)?;
        words.get(at.checked_sub(1)?)?.parse().ok()
    };
    Some((
        number_before("acknowledged")? as u64,
        number_before("failed")? as u64,
        number_before("events/s")?,
    ))
}

fn connect(url: &str) -> redis::Connection {
    redis::Client::open(url).and_then(|c| c.get_connection()).expect("redis connection")
}

#[test]
fn dev_runs_with_the_users_flags_for_a_few_seconds_and_stops() {
    let stack = Stack::get();
    let topics = EventTopics::create("dev-script", 3);
    let redis_url = redis_database();
    let work = std::env::temp_dir().join(unique_name("tagflow-dev-script"));
    std::fs::create_dir_all(&work).expect("work dir");
    let api_addr = format!("127.0.0.1:{}", free_port());
    let metrics_addr = format!("127.0.0.1:{}", free_port());
    let (stdout_path, stderr_path) = (work.join("stdout"), work.join("stderr"));

    // --rate, --products and --seed are among the defaults the script used
    // to pass itself; --users 50 leaves a mark in the results.
    let script = testkit::repo_file("scripts/dev");
    let mut child = Command::new(script)
        .args(["--for", "10s", "--rate", "500", "--users", "50", "--products=200", "--seed", "7"])
        .env("CARGO_TARGET_DIR", target_dir())
        .env("TAGFLOW_BROKERS", &stack.brokers)
        .env("TAGFLOW_REDIS", &redis_url)
        .env("TAGFLOW_TOPIC_PREFIX", &topics.prefix)
        .env("TAGFLOW_GROUP_ID", unique_name("dev-script"))
        .env("TAGFLOW_API_LISTEN", &api_addr)
        .env("TAGFLOW_METRICS_ADDR", &metrics_addr)
        .env("TAGFLOW_STATE_DIR", work.join("state"))
        .env("TAGFLOW_CHECKPOINT_DIR", work.join("checkpoints"))
        .env("TAGFLOW_DEV_LOG_DIR", work.join("logs"))
        .env_remove("TAGFLOW_SEED")
        .stdin(Stdio::null())
        .stdout(File::create(&stdout_path).expect("stdout file"))
        .stderr(File::create(&stderr_path).expect("stderr file"))
        .spawn()
        .expect("run scripts/dev");

    // While it runs, the API and the job's metrics must answer on the
    // addresses given.
    let started = Instant::now();
    let (mut api_seen, mut metrics_seen) = (None, None);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for scripts/dev") {
            break status;
        }
        if started.elapsed() > RUN_LIMIT {
            // SIGTERM: the script's trap stops the simulator, the API and the job.
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let _ = child.wait();
            panic!(
                "scripts/dev --for 10s still running after {RUN_LIMIT:?}:\n{}",
                tail(&stderr_path)
            );
        }
        if api_seen.is_none() {
            api_seen = http_status(&api_addr, "/healthz").ok().filter(|s| s.contains(" 200"));
        }
        if metrics_seen.is_none() {
            metrics_seen =
                http_status(&metrics_addr, "/metrics").ok().filter(|s| s.contains(" 200"));
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let stdout = std::fs::read_to_string(&stdout_path).unwrap_or_default();
    let logs = || {
        format!(
            "stdout:\n{stdout}\nstderr:\n{}\ndataflow.log:\n{}\napi.log:\n{}",
            tail(&stderr_path),
            tail(&work.join("logs/dataflow.log")),
            tail(&work.join("logs/api.log"))
        )
    };
    assert!(status.success(), "scripts/dev exited with {status}\n{}", logs());
    assert!(api_seen.is_some(), "the API never answered on {api_addr}\n{}", logs());
    assert!(
        metrics_seen.is_some(),
        "the job's metrics never answered on {metrics_addr}\n{}",
        logs()
    );
    assert!(
        std::fs::read_to_string(&stderr_path).unwrap_or_default().contains("ran for 10s"),
        "scripts/dev did not stop by --for\n{}",
        logs()
    );

    // The simulator ran at the user's --rate 500, not the default 200, and
    // every event it sent went to the prefixed topics.
    let (acknowledged, failed, rate) =
        simulator_report(&stdout).unwrap_or_else(|| panic!("no simulator report\n{}", logs()));
    assert_eq!(failed, 0, "{}", logs());
    assert!((300.0..=600.0).contains(&rate), "rate {rate} events/s, asked 500\n{}", logs());
    let in_topics: u64 = [&topics.topics.view, &topics.topics.add_to_cart, &topics.topics.purchase]
        .into_iter()
        .map(|topic| read_topic(topic).len() as u64)
        .sum();
    assert_eq!(in_topics, acknowledged, "events in {}*", topics.prefix);

    // The catalog in Redis is the one of --products 200 --seed 7: the same
    // as the simulator loads for those flags into another database.
    let mut conn = connect(&redis_url);
    let products: Vec<String> =
        redis::cmd("SMEMBERS").arg(keys::CATALOG_PRODUCTS).query(&mut conn).expect("SMEMBERS");
    assert_eq!(products.len(), 200, "catalog size\n{}", logs());
    let reference_url = redis_database();
    let simulator = target_dir().join("debug/simulator");
    let loaded = Command::new(simulator)
        .args(["catalog", "--products", "200", "--seed", "7", "--redis", &reference_url])
        .env_remove("TAGFLOW_SEED")
        .output()
        .expect("simulator catalog");
    assert!(loaded.status.success(), "{}", String::from_utf8_lossy(&loaded.stderr));
    let mut reference = connect(&reference_url);
    for product in products.iter().take(20) {
        let ours: HashMap<String, String> =
            redis::cmd("HGETALL").arg(keys::product(product)).query(&mut conn).expect("HGETALL");
        let theirs: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(keys::product(product))
            .query(&mut reference)
            .expect("HGETALL");
        assert_eq!(ours, theirs, "product {product} differs from the catalog of seed 7");
    }

    // The job read the prefixed topics and wrote to this database: profiles
    // of at most --users 50 shoppers.
    let users: usize =
        redis::cmd("HLEN").arg(keys::USER_INTEREST_TAG).query(&mut conn).expect("HLEN");
    assert!((1..=50).contains(&users), "{users} users in {}\n{}", keys::USER_INTEREST_TAG, logs());

    std::fs::remove_dir_all(&work).ok();
}
