//! The HTTP handlers, one file per resource.

pub mod events;
pub mod health;
pub mod job;
pub mod leaderboards;
pub mod profiles;
pub mod recommendations;
pub mod uv;

use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use serde::de::DeserializeOwned;

use crate::error::{AppError, AppResult};

/// A query string, or a 400 in the error envelope.
pub fn query<T: DeserializeOwned>(query: Result<Query<T>, QueryRejection>) -> AppResult<T> {
    query.map(|Query(q)| q).map_err(|e| AppError::BadRequest(e.body_text()))
}

/// `limit` checked against `1..=max`, or `default` when absent.
pub fn limit(value: Option<usize>, default: usize, max: usize) -> AppResult<usize> {
    match value {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => Err(AppError::field(
            "limit",
            "out_of_range",
            format!("limit {n} must be between 1 and {max}"),
        )),
    }
}
