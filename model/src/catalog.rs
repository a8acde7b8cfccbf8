//! A product of the catalog.
//!
//! The simulator generates the catalog deterministically from a seed and
//! loads it into Redis (`product:<id>` hashes and a per-tag index); the API
//! reads it back to build recommendations.

use serde::{Deserialize, Serialize};

/// One product, as stored in the catalog JSON file and in Redis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    /// Unique product id, e.g. `p000042`.
    pub product_id: String,
    /// Human-readable name.
    pub name: String,
    /// Unit price.
    pub price: f64,
    /// 1 to 8 interest tags (categories and brands).
    pub tags: Vec<String>,
}
