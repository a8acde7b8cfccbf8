//! The catalog's product tags, within which the per-tag leaderboards rank
//! products.
//!
//! Read once per run of the dataflow, before it starts: from the JSON file
//! of `--catalog` (an array of [`model::Product`]), or else from what the
//! simulator loaded into the job's Redis (`catalog:products` and each
//! product's `product:<id>` hash, whose `tags` field is a JSON array). A
//! catalog changed while the job runs is taken at its next start (a
//! restore rebuilds every leaderboard from state and the catalog read then).

use std::path::{Path, PathBuf};
use std::time::Duration;

use compact_str::CompactString;
use model::redis_target::{AddressError, RedisTarget, Timeouts};
use model::{Product, keys};
use ustr::Ustr;

use crate::start_retry::Transient;

/// Products fetched from Redis per pipeline.
const PRODUCTS_PER_PIPELINE: usize = 1_000;
/// Attempts to read the catalog from Redis before the job gives up.
const ATTEMPTS: u32 = 6;

/// Why the catalog could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The catalog file could not be read or parsed.
    #[error("catalog file {path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// `--redis` is none of the accepted addresses.
    #[error(transparent)]
    Address(#[from] AddressError),
    /// Redis did not answer.
    #[error("cannot read the catalog from Redis: {0}")]
    Redis(#[from] redis::RedisError),
}

/// A Redis that does not answer may later; a bad file or address will not.
impl Transient for CatalogError {
    fn is_transient(&self) -> bool {
        match self {
            Self::Redis(err) => err.is_transient(),
            Self::File { .. } | Self::Address(_) => false,
        }
    }
}

/// Every (product, tag) pair of the catalog, each once, sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductTags(Vec<(CompactString, Ustr)>);

impl ProductTags {
    /// The pairs of `products`.
    pub fn new(products: impl IntoIterator<Item = (String, Vec<String>)>) -> Self {
        let mut pairs: Vec<(CompactString, Ustr)> = products
            .into_iter()
            .flat_map(|(product, tags)| {
                let product = CompactString::from(product);
                tags.into_iter().map(move |tag| (product.clone(), Ustr::from(&tag)))
            })
            .collect();
        pairs.sort();
        pairs.dedup();
        Self(pairs)
    }

    /// Reads the catalog from `file`, or from Redis at `redis_url`.
    pub fn load(
        file: Option<&Path>,
        redis_url: &str,
        timeout: Duration,
    ) -> Result<Self, CatalogError> {
        match file {
            Some(path) => Self::from_file(path),
            None => Self::from_redis_retrying(redis_url, timeout),
        }
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the catalog has no tagged product.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Worker `worker`'s share (of `peers`): each pair goes to one worker.
    pub fn share(&self, worker: usize, peers: usize) -> Vec<(CompactString, Ustr)> {
        let peers = peers.max(1);
        self.0
            .iter()
            .enumerate()
            .filter(|(i, _)| i % peers == worker)
            .map(|(_, p)| p.clone())
            .collect()
    }

    fn from_file(path: &Path) -> Result<Self, CatalogError> {
        let error = |reason: String| CatalogError::File { path: path.to_owned(), reason };
        let text = std::fs::read(path).map_err(|e| error(e.to_string()))?;
        let products: Vec<Product> = serde_json::from_slice(&text)
            .map_err(|e| error(format!("not a product array: {e}")))?;
        Ok(Self::new(products.into_iter().map(|p| (p.product_id, p.tags))))
    }

    fn from_redis_retrying(url: &str, timeout: Duration) -> Result<Self, CatalogError> {
        // Any `--redis` address: one server, a Sentinel-named primary or a
        // Cluster (whose catalog keys sit on several nodes).
        let target = RedisTarget::parse(url)?;
        let mut backoff = Duration::from_millis(250);
        let mut attempt = 1;
        loop {
            match Self::from_redis(&target, timeout) {
                Ok(catalog) => return Ok(catalog),
                Err(err) if attempt < ATTEMPTS => {
                    tracing::warn!(%err, attempt, retry_in = ?backoff, "cannot read the catalog");
                    std::thread::sleep(backoff);
                    backoff *= 2;
                    attempt += 1;
                }
                Err(err) => return Err(err),
            }
        }
    }

    fn from_redis(target: &RedisTarget, timeout: Duration) -> Result<Self, CatalogError> {
        let mut conn = target.connect(Timeouts::uniform(timeout))?;
        let ids: Vec<String> =
            redis::cmd("SMEMBERS").arg(keys::CATALOG_PRODUCTS).query(&mut conn)?;
        let mut products = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(PRODUCTS_PER_PIPELINE) {
            let mut pipe = redis::pipe();
            for id in chunk {
                pipe.cmd("HGET").arg(keys::product(id)).arg("tags");
            }
            let tags: Vec<Option<String>> = pipe.query(&mut conn)?;
            for (id, tags) in chunk.iter().zip(tags) {
                match tags.as_deref().map(serde_json::from_str::<Vec<String>>) {
                    Some(Ok(tags)) => products.push((id.clone(), tags)),
                    _ => tracing::warn!(product = %id, "catalog product without readable tags"),
                }
            }
        }
        Ok(Self::new(products))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_unique_and_shared_out_once() {
        let catalog = ProductTags::new([
            ("p2".to_owned(), vec!["a".to_owned(), "b".to_owned(), "a".to_owned()]),
            ("p1".to_owned(), vec!["b".to_owned()]),
        ]);
        assert_eq!(catalog.len(), 3);
        let mut shared: Vec<_> = (0..2).flat_map(|w| catalog.share(w, 2)).collect();
        shared.sort();
        assert_eq!(shared, catalog.0);
    }
}
