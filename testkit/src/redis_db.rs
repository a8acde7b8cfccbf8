//! A Redis database of one's own, so tests can share one Redis server.

use crate::Stack;

/// Databases the harness hands out round-robin (the stack's Redis has 64;
/// database 0 is left to the README's local run).
const TEST_DATABASES: i64 = 63;

/// Reserves an empty Redis database for the calling test and returns its
/// URL (`redis://127.0.0.1:6379/<n>`). The number comes from a counter in
/// Redis itself, so concurrent test processes never get the same one.
pub fn redis_database() -> String {
    let stack = Stack::get();
    let mut conn = redis::Client::open(stack.redis.as_str())
        .and_then(|c| c.get_connection())
        .expect("redis connection");
    let n: i64 = redis::cmd("INCR").arg("testkit:next-database").query(&mut conn).expect("INCR");
    let db = 1 + n % TEST_DATABASES;
    let url = format!("{}/{db}", stack.redis.trim_end_matches('/'));
    let mut conn =
        redis::Client::open(url.as_str()).and_then(|c| c.get_connection()).expect("redis db");
    redis::cmd("FLUSHDB").query::<()>(&mut conn).expect("FLUSHDB");
    url
}
