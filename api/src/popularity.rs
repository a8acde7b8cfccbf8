//! Today's unique visitors per catalog product, re-read from
//! `hot:pageview_counts` about once a second, so recommendations rank by
//! popularity without a Redis call per product per request.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use model::keys;
use model::redis_target::AsyncConnection;

use crate::catalog::Catalog;
use crate::error::AppError;

/// Today's UV of every catalog product.
#[derive(Debug, Default)]
pub struct Popularity {
    /// The day the counts are for (`YYYY-MM-DD`).
    pub day: String,
    /// UV per product, aligned with [`Catalog::products`].
    pub uv: Vec<u64>,
    /// Product positions, most visited first (ties by product id).
    pub ranked: Vec<u32>,
    /// `1 + ln(1 + uv)` per product: the popularity factor of the
    /// recommendation score, computed once per refresh, not per request.
    pub boost: Vec<f64>,
}

/// Today's date in `tz`.
pub fn today(tz: &TimeZone) -> String {
    Timestamp::now().to_zoned(tz.clone()).date().to_string()
}

impl Popularity {
    /// Reads the counts of `day` for every product of `catalog` (one HMGET).
    pub async fn load(
        conn: &mut AsyncConnection,
        catalog: &Catalog,
        day: String,
    ) -> Result<Self, AppError> {
        let uv: Vec<u64> = if catalog.is_empty() {
            Vec::new()
        } else {
            let mut cmd = redis::cmd("HMGET");
            cmd.arg(keys::HOT_PAGEVIEW_COUNTS);
            for product in &catalog.products {
                cmd.arg(keys::hot_pageview_field(&day, &product.product_id));
            }
            let counts: Vec<Option<u64>> = cmd.query_async(conn).await.map_err(AppError::redis)?;
            counts.into_iter().map(Option::unwrap_or_default).collect()
        };
        Ok(Self::from_counts(day, uv))
    }

    /// Ranks `uv` (aligned with a catalog sorted by id).
    pub fn from_counts(day: String, uv: Vec<u64>) -> Self {
        let mut ranked: Vec<u32> = (0..u32::try_from(uv.len()).unwrap_or(u32::MAX)).collect();
        // Positions follow product-id order, so a stable sort breaks ties by id.
        ranked.sort_by(|&a, &b| uv[b as usize].cmp(&uv[a as usize]));
        let boost = uv.iter().map(|&n| 1.0 + (n as f64).ln_1p()).collect();
        Self { day, uv, ranked, boost }
    }

    /// UV of the product at `index` (0 when unknown).
    pub fn of(&self, index: u32) -> u64 {
        self.uv.get(index as usize).copied().unwrap_or(0)
    }

    /// `1 + ln(1 + uv)` of the product at `index` (1 when unknown).
    pub fn boost_of(&self, index: u32) -> f64 {
        self.boost.get(index as usize).copied().unwrap_or(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_by_uv_then_position() {
        let p = Popularity::from_counts("2026-11-26".into(), vec![3, 7, 3, 0]);
        assert_eq!(p.ranked, [1, 0, 2, 3]);
        assert_eq!(p.of(1), 7);
        assert_eq!(p.of(9), 0);
    }

    #[test]
    fn today_is_a_date() {
        let day = today(&TimeZone::UTC);
        assert_eq!(day.len(), 10, "{day}");
    }
}
