//! [`VisitKey`]: the key of unique visitors, one day's visitors of one
//! product, and how visits are routed to the worker that owns it.

use compact_str::CompactString;
use state::{StateKey, key_group_of_parts, worker_for_group};

use crate::day::Day;
use crate::records::Visit;

/// The key of one day's visitors of one product.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VisitKey {
    /// The day.
    pub day: Day,
    /// The product.
    pub product: CompactString,
}

/// The key group of (`day`, `product`): a hash of the day's number and the
/// product's bytes, so any product id (separators included) has one group.
pub fn visit_group(day: Day, product: &str) -> u16 {
    key_group_of_parts(&[&day.0.to_be_bytes(), product.as_bytes()])
}

/// Stored as `[day: i32 BE][product UTF-8]`.
impl StateKey for VisitKey {
    fn group(&self) -> u16 {
        visit_group(self.day, &self.product)
    }

    fn write_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.day.0.to_be_bytes());
        out.extend_from_slice(self.product.as_bytes());
    }

    fn read_key(bytes: &[u8]) -> Option<Self> {
        let (day, product) = bytes.split_first_chunk::<4>()?;
        let product = CompactString::from_utf8(product).ok()?;
        Some(Self { day: Day(i32::from_be_bytes(*day)), product })
    }

    fn heap_bytes(&self) -> usize {
        self.product.heap_bytes()
    }
}

impl std::fmt::Display for VisitKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.day, self.product)
    }
}

impl From<&VisitKey> for VisitKey {
    fn from(key: &VisitKey) -> Self {
        key.clone()
    }
}

/// Routes visits to the worker (of `peers`) that owns their (day, product).
#[derive(Debug)]
pub struct ViewRouter {
    peers: usize,
}

impl ViewRouter {
    /// A router over `peers` workers.
    pub fn new(peers: usize) -> Self {
        Self { peers }
    }

    /// The worker index of `visit`.
    pub fn route(&self, visit: &Visit) -> u64 {
        worker_for_group(visit_group(visit.day, &visit.product), self.peers) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visit_keys_round_trip_whatever_the_product() {
        for product in ["p1", "", "a\u{1f}b:c", "🛒 très long product id over 24 bytes"] {
            let key = VisitKey { day: Day(20_000), product: product.into() };
            let mut bytes = Vec::new();
            key.write_key(&mut bytes);
            assert_eq!(VisitKey::read_key(&bytes), Some(key.clone()));
            assert_eq!(key.group(), visit_group(Day(20_000), product));
        }
        assert_eq!(VisitKey::read_key(b"abc"), None);
        // The day is part of the group: one product's days spread out.
        let groups: std::collections::BTreeSet<u16> =
            (0..64).map(|d| visit_group(Day(20_000 + d), "p1")).collect();
        assert!(groups.len() > 16, "{groups:?}");
    }
}
