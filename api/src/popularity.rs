//! Today's unique visitors per catalog product, re-read about once a
//! second, so recommendations rank by popularity without a Redis call per
//! product per request.
//!
//! The counts come from the day's leaderboards, which the dataflow job keeps
//! ranked: `top:products:<day>` and, per catalog tag,
//! `top:tag-products:<day>:<tag>` (one pipeline of `ZRANGE`s, O(tags × K)
//! instead of O(catalog)). A product on none of them is below the K-th of
//! every board it could be on and counts 0: recommendations match products
//! by tag, so each candidate's own tag boards hold it whenever it is among
//! its tag's K most visited. When the day has no product board (the job
//! runs with `--leaderboards off`, or nothing was viewed yet today), the
//! counts are read from `hot:pageview_counts` with one `HMGET` over the
//! catalog, as before the leaderboards existed.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use model::redis_target::AsyncConnection;
use model::{SharedHashLayout, keys};

use crate::catalog::Catalog;
use crate::error::AppError;
use crate::shared_hash;

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
    /// Reads the counts of `day` for every product of `catalog`: from the
    /// day's leaderboards, or from `hot:pageview_counts` (laid out by
    /// `layout`) without them.
    pub async fn load(
        conn: &mut AsyncConnection,
        layout: SharedHashLayout,
        catalog: &Catalog,
        day: String,
    ) -> Result<Self, AppError> {
        if catalog.is_empty() {
            return Ok(Self::from_counts(day, Vec::new()));
        }
        let uv = match leaderboard_counts(conn, catalog, &day).await? {
            Some(uv) => uv,
            None => visitor_counts(conn, layout, catalog, &day).await?,
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

/// The UV of `catalog`'s products on the leaderboards of `day` (0 for a
/// product on none), or None when the day has no product board.
async fn leaderboard_counts(
    conn: &mut AsyncConnection,
    catalog: &Catalog,
    day: &str,
) -> Result<Option<Vec<u64>>, AppError> {
    let mut tags: Vec<&String> = catalog.by_tag.keys().collect();
    tags.sort_unstable();
    let mut pipe = redis::pipe();
    for key in std::iter::once(keys::top_products(day))
        .chain(tags.iter().map(|tag| keys::top_tag_products(day, tag)))
    {
        pipe.cmd("ZRANGE").arg(key).arg(0).arg(-1).arg("WITHSCORES");
    }
    let boards: Vec<Vec<(String, u64)>> = pipe.query_async(conn).await.map_err(AppError::redis)?;
    if boards.first().is_none_or(Vec::is_empty) {
        return Ok(None);
    }
    Ok(Some(merge_boards(catalog, boards)))
}

/// The UV of every product of `catalog` on `boards` (the highest a product
/// has on any: they agree, as each holds the day's count), aligned with the
/// catalog; 0 for a product on none.
fn merge_boards(catalog: &Catalog, boards: Vec<Vec<(String, u64)>>) -> Vec<u64> {
    let mut uv = vec![0; catalog.len()];
    for (product, count) in boards.into_iter().flatten() {
        if let Some(&index) = catalog.by_id.get(&product) {
            let slot = &mut uv[index as usize];
            *slot = (*slot).max(count);
        }
    }
    uv
}

/// The UV of `day` of every product of `catalog` from `hot:pageview_counts`
/// (one HMGET per key holding the catalog's fields).
async fn visitor_counts(
    conn: &mut AsyncConnection,
    layout: SharedHashLayout,
    catalog: &Catalog,
    day: &str,
) -> Result<Vec<u64>, AppError> {
    let fields: Vec<String> =
        catalog.products.iter().map(|p| keys::hot_pageview_field(day, &p.product_id)).collect();
    let counts: Vec<Option<u64>> =
        shared_hash::hmget(conn, layout, keys::HOT_PAGEVIEW_COUNTS, &fields)
            .await
            .map_err(AppError::redis)?;
    Ok(counts.into_iter().map(Option::unwrap_or_default).collect())
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
    fn boards_merge_into_catalog_order_and_unknown_products_are_skipped() {
        let product = |id: &str, tags: &[&str]| model::Product {
            product_id: id.into(),
            name: id.into(),
            price: 1.0,
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        };
        let catalog =
            Catalog::new(vec![product("b", &["x"]), product("a", &["y"]), product("c", &[])]);
        let boards = vec![
            vec![("b".to_owned(), 9)],
            vec![("a".to_owned(), 4), ("b".to_owned(), 9), ("gone".to_owned(), 50)],
        ];
        let uv = merge_boards(&catalog, boards);
        let at = |id: &str| uv[catalog.by_id[id] as usize];
        assert_eq!((at("a"), at("b"), at("c")), (4, 9, 0));
    }

    #[test]
    fn today_is_a_date() {
        let day = today(&TimeZone::UTC);
        assert_eq!(day.len(), 10, "{day}");
    }
}
