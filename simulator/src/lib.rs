//! tagflow's traffic simulator.
//!
//! Generates realistic e-commerce shopper events (Zipf-skewed users and
//! products, sessions, a view → add-to-cart → purchase funnel) from a seed,
//! deterministically, and produces them into Kafka with `acks=all`. The
//! same seed and flags always give a byte-identical sequence, so tests and
//! benchmarks can recompute exactly what was sent.

pub mod catalog;
pub mod cli;
pub mod generator;
pub mod mix;
pub mod producer;
pub mod progress;
pub mod rng;
pub mod run;
pub mod shard;
pub mod vocabulary;
pub mod zipf;

pub use generator::{EventGenerator, GeneratorConfig};
pub use producer::{ProduceConfig, ProduceReport, produce};
