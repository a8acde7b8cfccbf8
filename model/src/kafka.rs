//! Kafka producer settings every tagflow producer shares.
//!
//! Events are keyed by `userId` so that one user's events stay in order in
//! one partition; that only holds if every producer maps a key to the same
//! partition. librdkafka's default (`consistent_random`, CRC32) differs from
//! the Java clients' (murmur2), so each producer sets [`PARTITIONER`]: the
//! simulator, the API's ingestion and the job's output topics alike.

/// librdkafka's `partitioner` setting: murmur2 of the key, as the Java
/// clients do (random for messages without a key).
pub const PARTITIONER: &str = "murmur2_random";
