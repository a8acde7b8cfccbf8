//! Reads of the three shared hashes (`UserInterestTag`, `user-profiles`,
//! `hot:pageview_counts`) under the layout the dataflow job writes them in
//! (`--shared-hash-shards`, [`model::shared_hash`]): one key each, or N
//! shard keys. A read of many fields is one pipeline of `HMGET`s, one per
//! key that holds any of them, answered in the order the fields were given.

use model::SharedHashLayout;
use model::redis_target::AsyncConnection;
use redis::{FromRedisValue, RedisResult};

/// `HMGET` of `fields` of `hash`: the values in `fields`' order.
pub async fn hmget<T: FromRedisValue>(
    conn: &mut AsyncConnection,
    layout: SharedHashLayout,
    hash: &str,
    fields: &[String],
) -> RedisResult<Vec<Option<T>>> {
    let groups = layout.group(hash, fields);
    let mut pipe = redis::pipe();
    for (key, positions) in &groups {
        let cmd = pipe.cmd("HMGET").arg(key);
        for &at in positions {
            cmd.arg(&fields[at]);
        }
    }
    let answers: Vec<Vec<Option<T>>> =
        if groups.is_empty() { Vec::new() } else { pipe.query_async(conn).await? };
    let mut values: Vec<Option<T>> = std::iter::repeat_with(|| None).take(fields.len()).collect();
    for ((_, positions), answer) in groups.iter().zip(answers) {
        for (&at, value) in positions.iter().zip(answer) {
            values[at] = value;
        }
    }
    Ok(values)
}

/// Every `(field, value)` of `hash` whose field matches the glob `pattern`,
/// by `HSCAN` over each of its keys.
pub async fn scan_matching<T: FromRedisValue>(
    conn: &mut AsyncConnection,
    layout: SharedHashLayout,
    hash: &str,
    pattern: &str,
) -> RedisResult<Vec<(String, T)>> {
    let mut out = Vec::new();
    for key in layout.keys(hash) {
        let mut cursor: u64 = 0;
        loop {
            let (next, batch): (u64, Vec<(String, T)>) = redis::cmd("HSCAN")
                .arg(&key)
                .arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(conn)
                .await?;
            out.extend(batch);
            if next == 0 {
                break;
            }
            cursor = next;
        }
    }
    Ok(out)
}
