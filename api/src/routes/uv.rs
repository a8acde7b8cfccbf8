//! `GET /api/uv-data?date=&limit=` (products by unique visitors on a day)
//! and `GET /api/uv-data/{productId}?from=&to=` (one product's daily series),
//! read from the job's `hot:pageview_counts` hash.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use jiff::civil::Date;
use model::keys;
use serde::{Deserialize, Serialize};

use crate::catalog::Catalog;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::popularity::today;
use crate::shared_hash;
use crate::state::AppState;

/// Most products per answer.
pub const MAX_PRODUCTS: usize = 1_000;
/// Longest series, in days.
pub const MAX_DAYS: i64 = 366;

/// Query of the per-day ranking.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DayQuery {
    /// `YYYY-MM-DD`; default today.
    #[param(format = Date)]
    pub date: Option<String>,
    /// Number of products (1 to 1,000; default 20).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

/// One product's UV.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductUv {
    /// The product.
    pub product_id: String,
    /// Its name, when the catalog knows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Unique visitors that day.
    pub uv: u64,
}

/// The per-day ranking: the catalog's products (every product in the hash
/// when no catalog is loaded).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DayUv {
    /// The day.
    #[schema(format = Date)]
    pub date: String,
    /// Products with at least one visitor, highest UV first (ties by id).
    pub products: Vec<ProductUv>,
}

pub(crate) fn parse_date(field: &str, text: &str) -> AppResult<Date> {
    text.parse::<Date>().ok().filter(|_| text.len() == 10).ok_or_else(|| {
        AppError::field(field, "invalid_date", format!("{text:?} is not a YYYY-MM-DD date"))
    })
}

/// `GET /api/uv-data?date=&limit=`.
#[utoipa::path(
    get,
    path = "/api/uv-data",
    tag = "unique visitors",
    summary = "Products by unique visitors on a day, highest first",
    description = "The catalog's products (every product in the hash when no catalog is loaded).",
    params(DayQuery),
    responses(
        (status = 200, description = "highest UV first", body = DayUv),
        (status = 400, description = "invalid date or limit", body = ErrorBody<'static>),
        (status = 503, description = "Redis unavailable and no recent answer to fall back on", body = ErrorBody<'static>),
    )
)]
pub async fn by_day(
    State(state): State<AppState>,
    query: Result<Query<DayQuery>, QueryRejection>,
) -> AppResult<Json<DayUv>> {
    let q = super::query(query)?;
    let limit = super::limit(q.limit, 20, MAX_PRODUCTS)?;
    let date = match q.date {
        Some(text) => parse_date("date", &text)?.to_string(),
        None => today(&state.0.tz),
    };
    let snapshot = state.snapshot();
    let fields = if snapshot.catalog.is_empty() {
        scan_day(&state, &date).await?
    } else {
        catalog_day(&state, &snapshot.catalog, &date).await?
    };
    let mut products: Vec<ProductUv> = fields
        .into_iter()
        .filter(|(_, uv)| *uv > 0)
        .filter_map(|(field, uv)| {
            let product_id = field.strip_prefix(&date)?.strip_prefix(':')?.to_owned();
            let name = snapshot
                .catalog
                .by_id
                .get(&product_id)
                .map(|&i| snapshot.catalog.products[i as usize].name.clone());
            Some(ProductUv { product_id, name, uv })
        })
        .collect();
    products.sort_by(|a, b| b.uv.cmp(&a.uv).then_with(|| a.product_id.cmp(&b.product_id)));
    products.truncate(limit);
    Ok(Json(DayUv { date, products }))
}

/// `<day>:<product>` counts of every catalog product: one HMGET whose cost
/// is bounded by the catalog, however many days the hash holds.
async fn catalog_day(
    state: &AppState,
    catalog: &Catalog,
    date: &str,
) -> AppResult<Vec<(String, u64)>> {
    let fields: Vec<String> =
        catalog.products.iter().map(|p| keys::hot_pageview_field(date, &p.product_id)).collect();
    let query = fields.clone();
    let layout = state.config().hash_layout;
    let counts: Vec<Option<u64>> = state
        .with_redis(|mut conn| async move {
            shared_hash::hmget(&mut conn, layout, keys::HOT_PAGEVIEW_COUNTS, &query).await
        })
        .await?;
    Ok(fields.into_iter().zip(counts).filter_map(|(f, c)| Some((f, c?))).collect())
}

/// Every `<day>:*` field, by HSCAN: used only without a catalog, since its
/// cost grows with every day the hash holds.
async fn scan_day(state: &AppState, date: &str) -> AppResult<Vec<(String, u64)>> {
    let pattern = format!("{date}:*");
    let layout = state.config().hash_layout;
    state
        .with_redis(|mut conn| async move {
            shared_hash::scan_matching(&mut conn, layout, keys::HOT_PAGEVIEW_COUNTS, &pattern).await
        })
        .await
}

/// Query of a product's series.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SeriesQuery {
    /// First day, `YYYY-MM-DD` (default: 6 days before `to`).
    #[param(format = Date)]
    pub from: Option<String>,
    /// Last day, `YYYY-MM-DD` (default: today).
    #[param(format = Date)]
    pub to: Option<String>,
}

/// One day of a series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DayPoint {
    /// The day.
    #[schema(format = Date)]
    pub date: String,
    /// Unique visitors.
    pub uv: u64,
}

/// A product's daily UV series.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Series {
    /// The product.
    pub product_id: String,
    /// Every day from `from` to `to`, oldest first (0 for days without visitors).
    pub series: Vec<DayPoint>,
}

/// `GET /api/uv-data/{productId}?from=&to=`.
#[utoipa::path(
    get,
    path = "/api/uv-data/{productId}",
    tag = "unique visitors",
    summary = "A product's daily unique visitors",
    params(("productId" = String, Path, description = "the product"), SeriesQuery),
    responses(
        (status = 200, description = "every day from `from` to `to`, oldest first", body = Series),
        (status = 400, description = "invalid dates or range (1 to 366 days)", body = ErrorBody<'static>),
        (status = 503, description = "Redis unavailable and no recent answer to fall back on", body = ErrorBody<'static>),
    )
)]
pub async fn series(
    State(state): State<AppState>,
    Path(product_id): Path<String>,
    query: Result<Query<SeriesQuery>, QueryRejection>,
) -> AppResult<Json<Series>> {
    let q = super::query(query)?;
    let to = match &q.to {
        Some(text) => parse_date("to", text)?,
        None => parse_date("to", &today(&state.0.tz))?,
    };
    let from = match &q.from {
        Some(text) => parse_date("from", text)?,
        None => to.saturating_sub(jiff::Span::new().days(6)),
    };
    let days = (to - from).get_days() as i64 + 1;
    if from > to || days > MAX_DAYS {
        return Err(AppError::field(
            "from",
            "invalid_range",
            format!("from {from} to {to}: give 1 to {MAX_DAYS} days, from ≤ to"),
        ));
    }
    let dates: Vec<String> = (0..days)
        .filter_map(|d| from.checked_add(jiff::Span::new().days(d)).ok())
        .map(|d| d.to_string())
        .collect();
    let fields: Vec<String> =
        dates.iter().map(|d| keys::hot_pageview_field(d, &product_id)).collect();
    let layout = state.config().hash_layout;
    let counts: Vec<Option<u64>> = state
        .with_redis(|mut conn| async move {
            shared_hash::hmget(&mut conn, layout, keys::HOT_PAGEVIEW_COUNTS, &fields).await
        })
        .await?;
    let series = dates
        .into_iter()
        .zip(counts)
        .map(|(date, uv)| DayPoint { date, uv: uv.unwrap_or(0) })
        .collect();
    Ok(Json(Series { product_id, series }))
}
