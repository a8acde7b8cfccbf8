//! Shared harness for tagflow's integration tests.
//!
//! The test command (`scripts/test`) starts the real stack once — a 3-broker
//! Kafka cluster and Redis — before any test runs. Tests share it and stay
//! apart by naming: each test creates its own prefixed topics
//! ([`EventTopics::create`]) and takes its own Redis database
//! ([`redis_database`]). Nothing here mocks Kafka or Redis; object storage
//! is a real S3 server too ([`s3`]: SeaweedFS, with `scripts/stack up --s3`).

pub mod binaries;
pub mod black_hole;
pub mod broker_faults;
pub mod dates;
pub mod kafka;
pub mod metrics;
pub mod private_redis;
pub mod redis_db;
pub mod redis_ha;
pub mod s3;
pub mod stack;

pub use binaries::{free_port, repo_file, workspace_binary};
pub use black_hole::BlackHoleProxy;
pub use dates::utc_date;
pub use kafka::{
    EventTopics, ReadBack, add_partitions, create_topics, delete_records_to_end, partition_count,
    read_topic, set_topic_config,
};
pub use metrics::scrape_metrics_at;
pub use private_redis::PrivateRedis;
pub use redis_db::redis_database;
pub use redis_ha::{PrivateCluster, PrivateSentinel};
pub use stack::{Stack, unique_name};
