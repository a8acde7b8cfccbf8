//! The product catalog held in memory, with a tag → products index, so a
//! recommendation needs no Redis round trip for the catalog.
//!
//! Loaded from a JSON file (`--catalog`) or from what the simulator wrote to
//! Redis (`catalog:products`, `product:<id>` hashes), and then re-read
//! periodically so a catalog loaded after the API started is picked up.

use std::collections::HashMap;
use std::path::Path;

use model::redis_target::AsyncConnection;
use model::{Product, keys};

use crate::error::AppError;

/// The catalog and its tag index.
#[derive(Debug, Default)]
pub struct Catalog {
    /// Products, sorted by id.
    pub products: Vec<Product>,
    /// Product id → position in `products`.
    pub by_id: HashMap<String, u32>,
    /// Tag → positions of the products carrying it, ascending.
    pub by_tag: HashMap<String, Vec<u32>>,
}

impl Catalog {
    /// Indexes `products`.
    pub fn new(mut products: Vec<Product>) -> Self {
        products.sort_by(|a, b| a.product_id.cmp(&b.product_id));
        products.dedup_by(|a, b| a.product_id == b.product_id);
        let mut by_id = HashMap::with_capacity(products.len());
        let mut by_tag: HashMap<String, Vec<u32>> = HashMap::new();
        for (i, product) in products.iter().enumerate() {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            by_id.insert(product.product_id.clone(), i);
            for (n, tag) in product.tags.iter().enumerate() {
                if !product.tags[..n].contains(tag) {
                    by_tag.entry(tag.clone()).or_default().push(i);
                }
            }
        }
        Self { products, by_id, by_tag }
    }

    /// Number of products.
    pub fn len(&self) -> usize {
        self.products.len()
    }

    /// Whether the catalog is empty.
    pub fn is_empty(&self) -> bool {
        self.products.is_empty()
    }

    /// Reads a JSON array of products.
    pub fn from_file(path: &Path) -> Result<Self, CatalogError> {
        let text = std::fs::read(path)
            .map_err(|e| CatalogError(format!("cannot read {}: {e}", path.display())))?;
        let products: Vec<Product> = serde_json::from_slice(&text)
            .map_err(|e| CatalogError(format!("{} is not a product array: {e}", path.display())))?;
        Ok(Self::new(products))
    }

    /// Reads the catalog the simulator loaded into Redis, in two round trips.
    pub async fn from_redis(conn: &mut AsyncConnection) -> Result<Self, AppError> {
        let ids: Vec<String> = redis::cmd("SMEMBERS")
            .arg(keys::CATALOG_PRODUCTS)
            .query_async(conn)
            .await
            .map_err(AppError::redis)?;
        if ids.is_empty() {
            return Ok(Self::default());
        }
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.cmd("HMGET").arg(keys::product(id)).arg(&["name", "price", "tags"]);
        }
        let rows: Vec<(Option<String>, Option<String>, Option<String>)> =
            pipe.query_async(conn).await.map_err(AppError::redis)?;
        let products = ids
            .into_iter()
            .zip(rows)
            .filter_map(|(product_id, (name, price, tags))| {
                Some(Product {
                    product_id,
                    name: name?,
                    price: price?.parse().ok()?,
                    tags: serde_json::from_str(&tags?).ok()?,
                })
            })
            .collect();
        Ok(Self::new(products))
    }
}

/// A catalog file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CatalogError(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    fn product(id: &str, tags: &[&str]) -> Product {
        Product {
            product_id: id.into(),
            name: format!("name {id}"),
            price: 1.0,
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        }
    }

    #[test]
    fn indexes_products_by_id_and_tag() {
        let catalog = Catalog::new(vec![
            product("p2", &["a", "b"]),
            product("p1", &["b", "b"]),
            product("p2", &["dup"]),
        ]);
        assert_eq!(catalog.len(), 2);
        assert_eq!(catalog.by_id["p1"], 0);
        assert_eq!(catalog.by_tag["b"], [0, 1]);
        assert_eq!(catalog.by_tag["a"], [1]);
    }
}
