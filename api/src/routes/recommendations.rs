//! `GET /api/recommendations/{userId}?limit=`: one Redis round trip (the
//! user's stored profile from `user-profiles` and purchases, pipelined);
//! the catalog and today's popularity come from the in-memory snapshot.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use model::keys;
use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult, ErrorBody};
use crate::recommend::{Item, recommend};
use crate::scores::{TagScores, tag_scores};
use crate::state::AppState;

/// Most items per answer.
pub const MAX_LIMIT: usize = 100;

/// Query of the endpoint.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecommendationQuery {
    /// Number of items (1 to 100; default 10).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<usize>,
}

/// The answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Recommendations<'a> {
    /// The user.
    pub user_id: &'a str,
    /// `interest` when any item matched the user's tags, else `popular`.
    #[schema(value_type = Strategy)]
    pub strategy: &'static str,
    /// The day whose unique visitors measure popularity.
    pub popularity_day: &'a str,
    /// Best first.
    #[schema(max_items = 100)]
    pub items: Vec<Item<'a>>,
}

/// How the items were chosen (the values of `strategy`).
#[derive(Debug, utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum Strategy {
    /// At least one item matched the user's interest tags.
    Interest,
    /// Today's most popular products (a cold or unknown user).
    Popular,
}

/// The handler.
#[utoipa::path(
    get,
    path = "/api/recommendations/{userId}",
    tag = "recommendations",
    summary = "Catalog products matching the user's interest tags",
    description = "Ranked by tag score × (1 + ln(1 + today's UV)), purchases excluded; popular products for cold users.",
    params(("userId" = String, Path, description = "the user (1 to 256 bytes)"), RecommendationQuery),
    responses(
        (status = 200, description = "best first", body = Recommendations<'static>),
        (status = 400, description = "invalid user id or limit", body = ErrorBody<'static>),
        (status = 503, description = "Redis unavailable and no recent answer to fall back on", body = ErrorBody<'static>),
    )
)]
pub async fn recommendations(
    State(state): State<AppState>,
    Path(user_id): Path<String>,
    query: Result<Query<RecommendationQuery>, QueryRejection>,
) -> AppResult<Response> {
    let q = super::query(query)?;
    let limit = super::limit(q.limit, 10, MAX_LIMIT)?;
    if user_id.is_empty() || user_id.len() > 256 {
        return Err(AppError::field("userId", "invalid", "a user id is 1 to 256 bytes"));
    }
    let field = user_id.clone();
    let profiles_key =
        state.config().hash_layout.key(keys::USER_PROFILES, user_id.as_bytes()).into_owned();
    let purchased_key = model::keys::user_purchased(&user_id);
    let (stored, purchased): (Option<Vec<u8>>, Vec<String>) = state
        .with_redis(|mut conn| async move {
            redis::pipe()
                .hget(profiles_key, field)
                .smembers(purchased_key)
                .query_async(&mut conn)
                .await
        })
        .await?;
    let scores = match &stored {
        Some(json) => tag_scores(json).map_err(|e| {
            AppError::Internal(format!("stored profile of {user_id:?} is unreadable: {e}"))
        })?,
        None => TagScores::default(),
    };
    let snapshot = state.snapshot();
    let items = recommend(
        &snapshot.catalog,
        &snapshot.popularity,
        &scores.0,
        state.config().top_n,
        &purchased,
        limit,
    );
    let strategy = if items.first().is_some_and(|i| !i.matched_tags.is_empty()) {
        "interest"
    } else {
        "popular"
    };
    let body = Recommendations {
        user_id: &user_id,
        strategy,
        popularity_day: &snapshot.popularity.day,
        items,
    };
    Ok(Json(body).into_response())
}
