//! tagflow's HTTP API (axum): ingestion into Kafka, profiles,
//! recommendations and unique visitors from the dataflow job's Redis
//! output, Prometheus metrics, an OpenAPI document and the dashboard.
//!
//! [`server::app`] builds the router for a [`state::AppState`], so tests
//! run handlers in-process; [`server::serve`] adds the background tasks
//! (live rate, catalog refresh, probes) and graceful shutdown.

pub mod background;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod connections;
pub mod counter_history;
pub mod dashboard;
pub mod error;
pub mod event_schema;
pub mod fallback;
pub mod job_metrics;
pub mod metrics;
pub mod openapi;
pub mod popularity;
pub mod rate_limit;
pub mod recommend;
pub mod routes;
pub mod scores;
pub mod server;
pub mod shared_hash;
pub mod state;
pub mod transactions;
pub mod validate;

pub use config::Config;
pub use error::{AppError, FieldError};
pub use server::{app, serve};
pub use state::AppState;
