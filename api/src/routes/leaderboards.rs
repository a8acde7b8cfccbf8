//! `GET /api/leaderboards/products`, `/api/leaderboards/tags` and
//! `/api/leaderboards/tags/{tag}/products`: a day's leaderboards, read from
//! the sorted sets the dataflow job maintains (`top:products:<day>`,
//! `top:tags:<day>`, `top:tag-products:<day>:<tag>`, each its top K).
//! One `ZRANGE` of at most K members per answer, ordered here by score
//! descending and id ascending (Redis orders ties the other way round).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use model::keys;
use serde::{Deserialize, Serialize};

use super::uv::{ProductUv, parse_date};
use crate::error::{AppError, AppResult, ErrorBody};
use crate::popularity::today;
use crate::state::AppState;

/// Most members per answer.
pub const MAX_MEMBERS: usize = 1_000;
/// Members per answer when `limit` is absent.
const DEFAULT_MEMBERS: usize = 10;

/// Query of every leaderboard.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BoardQuery {
    /// `YYYY-MM-DD`; default today in the API's time zone.
    #[param(format = Date)]
    pub date: Option<String>,
    /// Number of members (1 to 1,000; default 10). The job keeps the top
    /// `--leaderboard-size` (default 100) of each board.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

/// A day's products by unique visitors.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductBoard {
    /// The day.
    #[schema(format = Date)]
    pub date: String,
    /// The tag, for a per-tag board.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Highest UV first, ties by product id.
    pub products: Vec<ProductUv>,
}

/// One tag's weight on a day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TagWeight {
    /// The tag.
    pub tag: String,
    /// The summed weights of the day's events carrying it (view 1,
    /// add_to_cart 3, purchase 5 by default).
    pub weight: u64,
}

/// A day's tags by event weight.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TagBoard {
    /// The day.
    #[schema(format = Date)]
    pub date: String,
    /// Highest weight first, ties by tag.
    pub tags: Vec<TagWeight>,
}

/// The date and limit of `query`.
fn date_and_limit(state: &AppState, query: BoardQuery) -> AppResult<(String, usize)> {
    let limit = super::limit(query.limit, DEFAULT_MEMBERS, MAX_MEMBERS)?;
    let date = match query.date {
        Some(text) => parse_date("date", &text)?.to_string(),
        None => today(&state.0.tz),
    };
    Ok((date, limit))
}

/// The first `limit` members of sorted set `key`: score descending, then
/// member ascending.
async fn read_board(state: &AppState, key: String, limit: usize) -> AppResult<Vec<(String, u64)>> {
    let mut members: Vec<(String, u64)> = state
        .with_redis(|mut conn| async move {
            redis::cmd("ZRANGE")
                .arg(key)
                .arg(0)
                .arg(-1)
                .arg("WITHSCORES")
                .query_async(&mut conn)
                .await
        })
        .await?;
    members.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    members.truncate(limit);
    Ok(members)
}

fn products(state: &AppState, members: Vec<(String, u64)>) -> Vec<ProductUv> {
    let snapshot = state.snapshot();
    members
        .into_iter()
        .map(|(product_id, uv)| {
            let name = snapshot
                .catalog
                .by_id
                .get(&product_id)
                .map(|&i| snapshot.catalog.products[i as usize].name.clone());
            ProductUv { product_id, name, uv }
        })
        .collect()
}

/// `GET /api/leaderboards/products?date=&limit=`.
#[utoipa::path(
    get,
    path = "/api/leaderboards/products",
    tag = "leaderboards",
    summary = "A day's top products by unique visitors",
    params(BoardQuery),
    responses(
        (status = 200, description = "highest UV first, ties by product id", body = ProductBoard),
        (status = 400, description = "invalid date or limit", body = ErrorBody<'static>),
        (status = 503, description = "Redis unavailable and no recent answer to fall back on", body = ErrorBody<'static>),
    )
)]
pub async fn top_products(
    State(state): State<AppState>,
    query: Result<Query<BoardQuery>, QueryRejection>,
) -> AppResult<Json<ProductBoard>> {
    let (date, limit) = date_and_limit(&state, super::query(query)?)?;
    let members = read_board(&state, keys::top_products(&date), limit).await?;
    Ok(Json(ProductBoard { products: products(&state, members), date, tag: None }))
}

/// `GET /api/leaderboards/tags?date=&limit=`.
#[utoipa::path(
    get,
    path = "/api/leaderboards/tags",
    tag = "leaderboards",
    summary = "A day's top tags by the weight of the events carrying them",
    params(BoardQuery),
    responses(
        (status = 200, description = "highest weight first, ties by tag", body = TagBoard),
        (status = 400, description = "invalid date or limit", body = ErrorBody<'static>),
        (status = 503, description = "Redis unavailable and no recent answer to fall back on", body = ErrorBody<'static>),
    )
)]
pub async fn top_tags(
    State(state): State<AppState>,
    query: Result<Query<BoardQuery>, QueryRejection>,
) -> AppResult<Json<TagBoard>> {
    let (date, limit) = date_and_limit(&state, super::query(query)?)?;
    let members = read_board(&state, keys::top_tags(&date), limit).await?;
    let tags = members.into_iter().map(|(tag, weight)| TagWeight { tag, weight }).collect();
    Ok(Json(TagBoard { date, tags }))
}

/// `GET /api/leaderboards/tags/{tag}/products?date=&limit=`.
#[utoipa::path(
    get,
    path = "/api/leaderboards/tags/{tag}/products",
    tag = "leaderboards",
    summary = "A day's top products among the catalog's products carrying a tag",
    params(("tag" = String, Path, description = "the tag (no control characters)"), BoardQuery),
    responses(
        (status = 200, description = "highest UV first, ties by product id; empty for a tag no product viewed that day carries", body = ProductBoard),
        (status = 400, description = "invalid tag, date or limit", body = ErrorBody<'static>),
        (status = 503, description = "Redis unavailable and no recent answer to fall back on", body = ErrorBody<'static>),
    )
)]
pub async fn top_tag_products(
    State(state): State<AppState>,
    Path(tag): Path<String>,
    query: Result<Query<BoardQuery>, QueryRejection>,
) -> AppResult<Json<ProductBoard>> {
    if tag.is_empty() || tag.chars().any(char::is_control) {
        return Err(AppError::field("tag", "invalid_tag", format!("{tag:?} is not a tag")));
    }
    let (date, limit) = date_and_limit(&state, super::query(query)?)?;
    let members = read_board(&state, keys::top_tag_products(&date, &tag), limit).await?;
    Ok(Json(ProductBoard { products: products(&state, members), date, tag: Some(tag) }))
}
