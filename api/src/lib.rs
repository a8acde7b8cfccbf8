//! tagflow's HTTP API (axum): profiles, recommendations, unique visitors,
//! ingestion into Kafka, metrics and the dashboard.
//!
//! Not built yet: the crate exists so the workspace has its final shape and
//! its dependencies are compiled once; the API issue fills it in.
