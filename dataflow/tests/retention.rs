//! Unique-visitor retention against the real cluster and Redis: events over
//! the last four days, read by a job that keeps four days until a kill -9,
//! then restored with `--uv-retention-days 2` (and a memory bound, so that
//! some expired sets are only in RocksDB). Redis must then hold exactly the
//! recomputation's unique visitors of today and yesterday (older days' sets
//! and `hot:pageview_counts` fields gone, also those the first run wrote
//! after its last checkpoint, and the kept sets expiring at the right
//! midnight), while profiles count every event.

#![allow(clippy::unwrap_used, reason = "test helpers fail loudly")]

mod common;

use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::oracle::recompute;
use common::redis_check::differences;
use common::run::{job_command, job_command_unbounded, produce_dataset_at, run_to_end};
use testkit::{redis_database, utc_date};

const EVENTS: u64 = 60_000;
const DAY_MS: i64 = 86_400_000;
const LIMIT: Duration = Duration::from_secs(300);

fn now_ms() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    i64::try_from(since.as_millis()).unwrap()
}

#[test]
fn only_the_retained_days_stay_and_they_expire_at_their_midnight() {
    let (dataset, mut expected) = four_days_of_events("dataflow-retention");
    let today = now_ms().div_euclid(DAY_MS);
    let redis = redis_database();
    let work = tempfile::tempdir().unwrap();

    keep_two_days(&mut expected);

    // Part of the events with every day kept, a kill -9, then the rest.
    let mut first = job_command_unbounded(&dataset.topics, &redis, work.path());
    first.args(["--uv-retention-days", "5"]).stdout(Stdio::null()).stderr(Stdio::null());
    let mut child = first.spawn().unwrap();
    let checkpoints = work.path().join("checkpoints");
    let deadline = std::time::Instant::now() + LIMIT;
    while std::time::Instant::now() < deadline
        && std::fs::read_dir(&checkpoints).map_or(true, |d| {
            // A complete checkpoint: an id directory with its manifest.
            !d.flatten().any(|e| {
                e.file_name().to_string_lossy().parse::<u64>().is_ok()
                    && e.path().join(state::MANIFEST_FILE).exists()
            })
        })
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();

    let mut rest = job_command(&dataset.topics, &redis, work.path());
    rest.args(["--uv-retention-days", "2", "--state-memory", "1MiB"]).env("RUST_LOG", "info");
    let output = run_to_end(rest, LIMIT);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("expired unique visitors purged"), "{stderr}");

    let diffs = differences(&redis, &expected, 5);
    assert!(diffs.is_empty(), "Redis differs from the recomputation:\n{}", diffs.join("\n"));

    // A Redis that lost everything is rewritten from state, where only
    // the kept days remain: each set then expires at the midnight that
    // ends its retention. (Before, a set written by the first run carries
    // the expiry of its five days.)
    let mut conn = redis::Client::open(redis.as_str()).unwrap().get_connection().unwrap();
    redis::cmd("FLUSHDB").exec(&mut conn).unwrap();
    let mut again = job_command(&dataset.topics, &redis, work.path());
    again.args(["--uv-retention-days", "2"]);
    let output = run_to_end(again, LIMIT);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let diffs = differences(&redis, &expected, 5);
    assert!(diffs.is_empty(), "Redis differs after a rewrite:\n{}", diffs.join("\n"));
    for field in expected.visitors.keys().take(50) {
        let day_start = (0..=today).rev().take(3).find(|d| utc_date(d * DAY_MS) == field[..10]);
        let wanted = day_start.map(|d| (d + 2) * DAY_MS / 1000);
        let expire_at: i64 =
            redis::cmd("EXPIRETIME").arg(format!("pageviews:{field}")).query(&mut conn).unwrap();
        assert_eq!(Some(expire_at), wanted, "pageviews:{field}");
    }
}

/// A run that kept five days wrote every board, then lost its state (as if
/// it had written everything after its last checkpoint); a fresh run with a
/// retention of two days replays the same events. The boards of the expired
/// days, whose counts the new run never holds, must go all the same.
#[test]
fn boards_of_expired_days_written_by_a_run_whose_state_was_lost_are_deleted() {
    let (dataset, mut expected) = four_days_of_events("dataflow-retention-lost");
    keep_two_days(&mut expected);
    let redis = redis_database();
    let lost = tempfile::tempdir().unwrap();
    let mut first = job_command(&dataset.topics, &redis, lost.path());
    first.args(["--uv-retention-days", "5"]);
    let output = run_to_end(first, LIMIT);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    let fresh = tempfile::tempdir().unwrap();
    let mut second = job_command(&dataset.topics, &redis, fresh.path());
    second.args(["--uv-retention-days", "2"]);
    let output = run_to_end(second, LIMIT);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let diffs = differences(&redis, &expected, 5);
    assert!(diffs.is_empty(), "Redis differs from the recomputation:\n{}", diffs.join("\n"));
}

/// Events from 3.5 days ago to about now (four calendar days, five when the
/// test starts just after midnight), and their recomputation.
fn four_days_of_events(name: &str) -> (common::run::Dataset, common::oracle::Expected) {
    let span_ms = 7 * DAY_MS / 2 - 60_000;
    let start = now_ms() - span_ms - 60_000;
    let rate = EVENTS as f64 / (span_ms as f64 / 1000.0);
    let dataset = produce_dataset_at(name, EVENTS, 3, start, rate);
    let expected = recompute(&dataset.raw, 10_000);
    let days: std::collections::BTreeSet<String> =
        expected.visitors.keys().map(|k| k[..10].to_owned()).collect();
    assert!(days.len() >= 4, "the data spans {days:?}");
    (dataset, expected)
}

/// The recomputation keeps every profile, and the visitors of the last two
/// UTC days only (a run across midnight would see three days); the
/// leaderboards of expired days expire with them: top:products:<day>,
/// top:tags:<day>, top:tag-products:<day>:<tag>.
fn keep_two_days(expected: &mut common::oracle::Expected) {
    let today = now_ms().div_euclid(DAY_MS);
    let oldest = utc_date((today - 1) * DAY_MS);
    expected.visitors.retain(|field, _| field[..10] >= *oldest);
    expected.boards.retain(|key, _| {
        let (_, rest) = key.strip_prefix("top:").unwrap().split_once(':').unwrap();
        rest[..10] >= *oldest
    });
    assert!(!expected.visitors.is_empty());
}
