//! Compares a Redis database with the oracle's expectation, key by key.

use std::collections::{BTreeMap, BTreeSet};

use redis::Commands;
use serde_json::Value;

use super::oracle::Expected;

/// Every difference between Redis and `expected`, as readable lines
/// (empty when they are equal).
/// `redis_url` is any `--redis` address: one server, Sentinel or Cluster.
pub fn differences(redis_url: &str, expected: &Expected, top_n: usize) -> Vec<String> {
    differences_with_shards(redis_url, expected, top_n, 0)
}

/// [`differences`] of a job run with `--shared-hash-shards shards`: the
/// three shared hashes are read from their shard keys, every field must be
/// in the shard CRC16/XMODEM(field) mod `shards`, and the unsharded keys
/// must not exist.
pub fn differences_with_shards(
    redis_url: &str,
    expected: &Expected,
    top_n: usize,
    shards: u16,
) -> Vec<String> {
    let timeouts = model::redis_target::Timeouts::uniform(std::time::Duration::from_secs(10));
    let target = model::redis_target::RedisTarget::parse(redis_url).unwrap();
    // Right after a failover the sentinels may not agree on the primary
    // yet (or name one that is not ready): try for up to 10 s.
    let started = std::time::Instant::now();
    let mut conn = loop {
        match target.connect(timeouts) {
            Ok(conn) => break conn,
            Err(err) if started.elapsed() < std::time::Duration::from_secs(10) => {
                eprintln!("connecting to {redis_url} for the comparison: {err}; retrying");
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            Err(err) => panic!("cannot connect to {redis_url} for the comparison: {err}"),
        }
    };
    let mut diffs = Vec::new();
    let mut note = |d: String| {
        if diffs.len() < 20 {
            diffs.push(d);
        }
    };

    let interest: BTreeMap<String, String> =
        shared_hash(&mut conn, "UserInterestTag", shards, &mut note);
    let profiles: BTreeMap<String, String> =
        shared_hash(&mut conn, "user-profiles", shards, &mut note);
    if interest.len() != expected.scores.len() {
        note(format!(
            "UserInterestTag has {} users, expected {}",
            interest.len(),
            expected.scores.len()
        ));
    }
    if profiles.len() != expected.scores.len() {
        note(format!(
            "user-profiles has {} users, expected {}",
            profiles.len(),
            expected.scores.len()
        ));
    }
    let mut pipe = redis::pipe();
    for user in expected.scores.keys() {
        pipe.hgetall(format!("user:profile:{user}"));
    }
    let stored: Vec<BTreeMap<String, i64>> = pipe.query(&mut conn).unwrap();
    for ((user, scores), stored) in expected.scores.iter().zip(stored) {
        if &stored != scores {
            note(format!("user:profile:{user} = {stored:?}, expected {scores:?}"));
        }
        let top = expected.top_tags(user, top_n);
        let top_json = serde_json::to_string(&top).unwrap();
        if interest.get(user) != Some(&top_json) {
            note(format!(
                "UserInterestTag[{user}] = {:?}, expected {top_json}",
                interest.get(user)
            ));
        }
        let Some(profile) = profiles.get(user) else {
            note(format!("user-profiles[{user}] missing"));
            continue;
        };
        let profile: Value = serde_json::from_str(profile).unwrap();
        let counts = expected.counts[user];
        let wanted = serde_json::json!({
            "userId": user,
            "tagScores": scores,
            "topTags": top,
            "eventCounts": {"view": counts[0], "add_to_cart": counts[1], "purchase": counts[2]},
            "lastEventAt": expected.last_event_at[user],
        });
        if profile != wanted {
            note(format!("user-profiles[{user}] = {profile}, expected {wanted}"));
        }
    }

    let counts: BTreeMap<String, u64> =
        shared_hash(&mut conn, "hot:pageview_counts", shards, &mut note);
    let wanted_counts: BTreeMap<String, u64> =
        expected.visitors.iter().map(|(k, v)| (k.clone(), v.len() as u64)).collect();
    if counts != wanted_counts {
        let missing = wanted_counts.iter().filter(|(k, v)| counts.get(*k) != Some(v)).count();
        note(format!("hot:pageview_counts differs in {missing} of {} fields", wanted_counts.len()));
    }
    let mut pipe = redis::pipe();
    for field in expected.visitors.keys() {
        pipe.smembers(format!("pageviews:{field}"));
    }
    let sets: Vec<BTreeSet<String>> = pipe.query(&mut conn).unwrap();
    for ((field, users), stored) in expected.visitors.iter().zip(sets) {
        if &stored != users {
            note(format!("pageviews:{field} has {} users, expected {}", stored.len(), users.len()));
        }
    }

    let events: Vec<Vec<u8>> = conn.lrange("events", 0, -1).unwrap();
    if events != expected.events {
        note(format!(
            "events list: {} entries, expected {}; equal prefix {}",
            events.len(),
            expected.events.len(),
            events.iter().zip(&expected.events).take_while(|(a, b)| a == b).count()
        ));
    }

    let mut pipe = redis::pipe();
    for user in expected.purchased.keys() {
        pipe.smembers(format!("user:purchased:{user}"));
    }
    let stored: Vec<BTreeSet<String>> = pipe.query(&mut conn).unwrap();
    for ((user, products), stored) in expected.purchased.iter().zip(stored) {
        if &stored != products {
            note(format!("user:purchased:{user} = {stored:?}, expected {products:?}"));
        }
    }

    // The leaderboards, looked up by their expected names; a board the
    // oracle does not expect shows in the key count below.
    let mut pipe = redis::pipe();
    for key in expected.boards.keys() {
        pipe.zrange_withscores(key, 0, -1);
    }
    let stored: Vec<Vec<(String, u64)>> = pipe.query(&mut conn).unwrap();
    for ((key, members), stored) in expected.boards.iter().zip(stored) {
        let stored: BTreeMap<String, u64> = stored.into_iter().collect();
        if &stored != members {
            let missing = members.iter().filter(|(m, s)| stored.get(*m) != Some(s)).count();
            note(format!(
                "{key}: {} members, expected {}; {missing} expected members missing or scored \
                 differently",
                stored.len(),
                members.len()
            ));
        }
    }

    // The job's checkpoint marker (`tagflow:checkpoint`, once a checkpoint
    // completed) and its writers' sentinels (`tagflow:writer:<worker>`) are
    // bookkeeping, not results.
    // (Looked up by name, not scanned: a cluster's SCAN covers one node.)
    let marker: bool = conn.exists("tagflow:checkpoint").unwrap();
    let mut pipe = redis::pipe();
    for worker in 0..64 {
        pipe.exists(model::keys::writer_sentinel(worker));
    }
    let sentinels: Vec<bool> = pipe.query(&mut conn).unwrap();
    // DBSIZE: a cluster sums every primary's.
    let keys = redis::cmd("DBSIZE").query::<usize>(&mut conn).unwrap()
        - usize::from(marker)
        - sentinels.iter().filter(|s| **s).count();
    let wanted_keys = expected.scores.len()
        + expected.purchased.len()
        + expected.visitors.len()
        + expected.boards.len()
        + shared_hash_keys(expected.scores.keys(), shards) * 2
        + shared_hash_keys(expected.visitors.keys(), shards)
        + usize::from(!expected.events.is_empty());
    if keys != wanted_keys {
        note(format!("database holds {keys} keys, expected {wanted_keys}"));
        // Name some of the result keys the oracle does not expect (SCAN:
        // on a cluster, those of the node this connection reached).
        let scanned: Vec<String> = match conn.scan::<String>() {
            Ok(keys) => {
                keys.take(100_000).map(|key| key.unwrap_or_else(|e| format!("({e})"))).collect()
            }
            Err(err) => vec![format!("(SCAN failed: {err})")],
        };
        for key in scanned.iter().filter(|key| !expected_key(expected, key)).take(5) {
            note(format!("unexpected key {key:?}"));
        }
    }
    diffs
}

/// Whether `key`, a per-user, per-(day, product) or leaderboard key, is one
/// `expected` holds; keys of other kinds (the shared hashes, the events
/// list, the job's bookkeeping) count as expected.
fn expected_key(expected: &Expected, key: &str) -> bool {
    if let Some(user) = key.strip_prefix("user:profile:") {
        expected.scores.contains_key(user)
    } else if let Some(user) = key.strip_prefix("user:purchased:") {
        expected.purchased.contains_key(user)
    } else if let Some(field) = key.strip_prefix("pageviews:") {
        expected.visitors.contains_key(field)
    } else if key.starts_with("top:") {
        expected.boards.contains_key(key)
    } else {
        true
    }
}

/// Keys of a shared hash holding `fields`: 1, or the shards they fall in.
fn shared_hash_keys<'a>(fields: impl Iterator<Item = &'a String>, shards: u16) -> usize {
    if shards == 0 {
        return 1;
    }
    let used: BTreeSet<u16> = fields
        .map(|field| crc16::State::<crc16::XMODEM>::calculate(field.as_bytes()) % shards)
        .collect();
    used.len()
}

/// Every field of shared hash `name`: the hash itself when `shards` is 0,
/// else the union of `<name>:shard:<s>` for s < `shards`, noting a field
/// found in a shard other than CRC16/XMODEM(field) mod `shards`, and the
/// unsharded key if it exists.
fn shared_hash<V: redis::FromRedisValue>(
    conn: &mut impl redis::ConnectionLike,
    name: &str,
    shards: u16,
    note: &mut impl FnMut(String),
) -> BTreeMap<String, V> {
    if shards == 0 {
        return conn.hgetall(name).unwrap();
    }
    let unsharded: bool = conn.exists(name).unwrap();
    if unsharded {
        note(format!("{name} exists, although the job writes its {shards} shard keys"));
    }
    let mut all = BTreeMap::new();
    for shard in 0..shards {
        let fields: BTreeMap<String, V> = conn.hgetall(format!("{name}:shard:{shard}")).unwrap();
        for (field, value) in fields {
            let wanted = crc16::State::<crc16::XMODEM>::calculate(field.as_bytes()) % shards;
            if wanted != shard {
                note(format!("{name}: field {field:?} in shard {shard}, expected {wanted}"));
            }
            all.insert(field, value);
        }
    }
    all
}
