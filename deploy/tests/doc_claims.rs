//! The docs say what the code does: statements once found false stay
//! corrected, the code files they name exist, the Flink reference job
//! accounts for every key the job writes, and the job's Redis writes behave
//! as docs/architecture.md says (the real job, on the shared stack).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail, ensure};
use deploy::process::Running;
use deploy::{help, repo};
use model::keys;
use rdkafka::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use testkit::{EventTopics, Stack, free_port, redis_database, workspace_binary};

/// The pages whose statements about the code are checked below.
const PAGES: [&str; 6] = [
    "README.md",
    "docs/architecture.md",
    "docs/design.md",
    "docs/operations.md",
    "docs/benchmarks.md",
    "bench/flink/README.md",
];

/// `text` with every run of whitespace made one space, without backquotes,
/// lower case, so a sentence is found whatever its line breaks and markup.
fn flat(text: &str) -> String {
    text.replace('`', "").split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// Statements that were false, with what is true and where the code or a
/// test shows it. None may come back, on any page.
const RETIRED: [(&str, &str); 5] = [
    (
        "every restore rewrites redis",
        "a restore rewrites Redis only when the tagflow:checkpoint marker is missing or \
         older (dataflow/src/checkpointing/startup.rs; dataflow/tests/recovery.rs)",
    ),
    (
        "redis sees whole epochs",
        "open epochs are written early (epochs.rs; redis_gets_open_epochs_and_only_changed_fields)",
    ),
    ("hset of the whole score hash", "only changed fields are written (same test)"),
    ("as tagflow writes once per epoch", "tagflow writes once per write-out (epochs.rs)"),
    (
        "this job's state must live in rocksdb",
        "state is cached in memory within --state-memory, the rest lives in RocksDB",
    ),
];

#[test]
fn false_statements_stay_corrected() -> Result<()> {
    let mut found = Vec::new();
    for page in PAGES.iter().copied().chain(["docs/configuration.md", "docs/troubleshooting.md"]) {
        let text = flat(&repo::read(page)?);
        for (statement, truth) in RETIRED {
            if text.contains(statement) {
                found.push(format!("{page}: \"{statement}\" is false: {truth}"));
            }
        }
    }
    ensure!(found.is_empty(), "{}", found.join("\n"));

    // Where the docs say when a restore rewrites Redis, they name the marker
    // the job reads (model::keys::CHECKPOINT_MARKER).
    let marker = format!("`{}`", keys::CHECKPOINT_MARKER);
    for page in ["docs/operations.md", "docs/architecture.md"] {
        let text = repo::read(page)?;
        ensure!(text.contains(&marker), "{page} does not name the marker {marker}");
    }

    // docs/design.md's reason for not using differential-dataflow for the
    // counting aggregates rests on the state memory bound: a real flag of
    // `dataflow run`.
    let design = flat(&repo::read("docs/design.md")?);
    let section = design
        .split("## where differential-dataflow is used, and where not")
        .nth(1)
        .context("docs/design.md has no section \"Where differential-dataflow is used\"")?;
    ensure!(section.contains("--state-memory"), "the section no longer names --state-memory");
    let binary = workspace_binary("dataflow", "TAGFLOW_DATAFLOW_BIN");
    let run = help::all_pages(&binary)?
        .into_iter()
        .find(|p| p.command == ["run"])
        .context("dataflow run --help")?;
    ensure!(run.long_flags().contains("--state-memory"), "dataflow run has no --state-memory");
    Ok(())
}

/// Every Redis key the job writes (model::keys, less the catalog's keys,
/// which the simulator loads, the checkpoint marker, the writers'
/// sentinels and the staging key of the events list) is either computed
/// by the Flink reference job or listed as left out by bench/flink/README.md.
#[test]
fn the_flink_reference_job_accounts_for_every_key_the_job_writes() -> Result<()> {
    let source = repo::read("model/src/keys.rs")?;
    let not_results = [
        keys::CATALOG_PRODUCTS,
        keys::PRODUCT_PREFIX,
        keys::TAG_INDEX_PREFIX,
        keys::CHECKPOINT_MARKER,
        keys::WRITER_SENTINEL_PREFIX,
        keys::EVENTS_NEXT,
    ];
    let written: Vec<&str> = source
        .lines()
        .filter_map(|line| line.trim().strip_prefix("pub const "))
        .filter_map(|rest| rest.split_once(": &str = \"")?.1.split_once('"'))
        .map(|(value, _)| value)
        .filter(|value| !not_results.contains(value))
        .collect();
    ensure!(written.len() >= 7, "only {written:?} in model/src/keys.rs");
    let readme = repo::read("bench/flink/README.md")?;
    // The job may leave keys out, in a "Left out, on purpose" paragraph.
    let (computed, rest) =
        readme.split_once("**Left out, on purpose:**").unwrap_or((readme.as_str(), ""));
    let left_out = rest.split("\n\n").next().unwrap_or_default();
    let missing: Vec<&&str> = written
        .iter()
        .filter(|key| {
            let named = |text: &str| text.contains(&format!("`{key}"));
            !named(computed.split("## What it computes").nth(1).unwrap_or_default())
                && !named(left_out)
        })
        .collect();
    ensure!(
        missing.is_empty(),
        "bench/flink/README.md neither computes nor leaves out {missing:?}"
    );
    Ok(())
}

/// Every file of the repository, as paths relative to its root.
fn repository_files() -> Result<Vec<String>> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) -> Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if name.starts_with('.') || name == "target" || name == "node_modules" {
                continue;
            }
            if path.is_dir() {
                walk(&path, root, out)?;
            } else if let Ok(relative) = path.strip_prefix(root) {
                out.push(relative.to_string_lossy().into_owned());
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(&repo::root(), &repo::root(), &mut files)?;
    Ok(files)
}

/// The code files the pages name in backquotes exist: a `.rs` name or path
/// is a file of the repository ending so (`epochs.rs`,
/// `aggregates/profiles/json.rs`), and a path under one of the repository's
/// top-level directories exists.
#[test]
fn code_files_named_by_the_docs_exist() -> Result<()> {
    let files = repository_files()?;
    ensure!(files.len() > 100, "only {} files found", files.len());
    let top: BTreeSet<&str> =
        files.iter().filter_map(|f| f.split_once('/')).map(|(d, _)| d).collect();
    let mut checked = 0;
    let mut missing = Vec::new();
    for page in PAGES {
        // Inline code only: fenced blocks are left out.
        let (mut fenced, mut prose) = (false, String::new());
        for line in repo::read(page)?.lines() {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
            } else if !fenced {
                prose.push_str(line);
                prose.push('\n');
            }
        }
        for quoted in prose.split('`').skip(1).step_by(2) {
            if quoted.contains(char::is_whitespace) || quoted.contains(['*', '<', '$', '~']) {
                continue;
            }
            let path = quoted.trim_end_matches('/');
            let exists = if path.ends_with(".rs") {
                files.iter().any(|f| f == path || f.ends_with(&format!("/{path}")))
            } else if path.split_once('/').is_some_and(|(dir, _)| top.contains(dir)) {
                repo::path(path).exists()
            } else {
                continue;
            };
            checked += 1;
            if !exists {
                missing.push(format!("{page}: `{quoted}`"));
            }
        }
    }
    ensure!(checked >= 30, "only {checked} file names found");
    ensure!(missing.is_empty(), "no such file:\n{}", missing.join("\n"));
    Ok(())
}

/// docs/architecture.md (Time: epochs): Redis does not wait for epochs to
/// complete, and only the fields that changed are written. With epochs of
/// an hour (counted from the job's start) no epoch completes during the
/// test (it gives up after 4 minutes), yet an event's scores reach Redis;
/// and a field changed behind the job's back stays as it is when the user's
/// next event changes other fields.
#[test]
fn redis_gets_open_epochs_and_only_changed_fields() -> Result<()> {
    let stack = Stack::get();
    let topics = EventTopics::create("docs-writes", 1);
    let redis_url = redis_database();
    let dir = tempfile::tempdir()?;
    let metrics = format!("127.0.0.1:{}", free_port());
    let mut command = Command::new(workspace_binary("dataflow", "TAGFLOW_DATAFLOW_BIN"));
    command
        .arg("run")
        .args(["--brokers", &stack.brokers, "--redis", &redis_url])
        .args(["--topic-prefix", &topics.prefix, "--metrics-addr", &metrics])
        .args(["--epoch-ms", "3600000", "--checkpoint-interval", "1h"])
        .args(["--group-id", &testkit::unique_name("docs-writes")])
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .arg("--checkpoint-dir")
        .arg(dir.path().join("checkpoints"))
        .env("RUST_LOG", "info");
    let mut job = Running::start("dataflow", command, &dir.path().join("dataflow.log"))?;

    let producer: BaseProducer =
        ClientConfig::new().set("bootstrap.servers", &stack.brokers).create()?;
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis();
    let send = |id: &str, tags: &str| -> Result<()> {
        let event = format!(
            r#"{{"eventId":"{id}","userId":"u-docs","productId":"p-1","eventType":"view","timestamp":{now_ms},"tags":[{tags}]}}"#
        );
        producer
            .send(BaseRecord::to(&topics.topics.view).key("u-docs").payload(&event))
            .map_err(|(e, _)| e)?;
        producer.flush(Duration::from_secs(30))?;
        Ok(())
    };
    let mut redis = redis::Client::open(redis_url.as_str())?.get_connection()?;
    let profile = keys::user_profile("u-docs");
    let mut score = |tag: &str| -> Result<Option<String>> {
        Ok(redis::cmd("HGET").arg(&profile).arg(tag).query(&mut redis)?)
    };

    send("docs-1", r#""alpha","beta""#)?;
    job.wait_until(Duration::from_secs(120), || score("beta").ok().flatten().is_some())?;
    ensure!(score("alpha")?.as_deref() == Some("1"), "alpha: {:?}", score("alpha")?);

    // Behind the job's back; the next event does not change alpha.
    let mut conn = redis::Client::open(redis_url.as_str())?.get_connection()?;
    redis::cmd("HSET").arg(&profile).arg("alpha").arg("41").exec(&mut conn)?;
    send("docs-2", r#""beta","gamma""#)?;
    job.wait_until(Duration::from_secs(120), || score("gamma").ok().flatten().is_some())?;
    let (alpha, beta) = (score("alpha")?, score("beta")?);
    if alpha.as_deref() != Some("41") {
        bail!("the job rewrote the unchanged field alpha: {alpha:?}\n{}", job.output());
    }
    ensure!(beta.as_deref() == Some("2"), "beta: {beta:?}");
    Ok(())
}
