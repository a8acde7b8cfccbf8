//! Zipf-distributed sampling of ranks, for skewed user and product popularity.
//!
//! Real shops see a few products and shoppers account for much of the
//! traffic. The sampler precomputes the cumulative distribution once
//! (8 bytes per rank) and draws with one uniform number and a binary search,
//! which is exact and allocation-free per draw.

use crate::rng::Rng;

/// Draws ranks `0..n` with probability proportional to `1 / (rank + 1)^s`.
#[derive(Debug, Clone)]
pub struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    /// A sampler over `n` ranks (`n > 0`) with exponent `s` (0 = uniform).
    pub fn new(n: usize, s: f64) -> Self {
        assert!(n > 0, "Zipf needs at least one rank");
        let mut total = 0.0;
        let mut cumulative: Vec<f64> = (1..=n)
            .map(|k| {
                total += (k as f64).powf(-s);
                total
            })
            .collect();
        for c in &mut cumulative {
            *c /= total;
        }
        Self { cumulative }
    }

    /// Number of ranks.
    pub fn len(&self) -> usize {
        self.cumulative.len()
    }

    /// Whether there are no ranks (never true for a constructed sampler).
    pub fn is_empty(&self) -> bool {
        self.cumulative.is_empty()
    }

    /// A rank in `0..len()`; rank 0 is the most popular.
    pub fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.next_f64();
        self.cumulative.partition_point(|&c| c <= u).min(self.cumulative.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn low_ranks_are_more_popular() {
        let zipf = Zipf::new(100, 1.0);
        let mut rng = Rng::new(3);
        let mut counts = [0usize; 100];
        for _ in 0..100_000 {
            counts[zipf.sample(&mut rng)] += 1;
        }
        assert!(counts[0] > counts[1] && counts[1] > counts[10] && counts[10] > counts[99]);
        // Rank 0 has probability 1/H(100) ≈ 0.193.
        assert!((17_000..22_000).contains(&counts[0]), "{}", counts[0]);
    }

    #[test]
    fn zero_exponent_is_uniform_and_single_rank_works() {
        let mut rng = Rng::new(4);
        assert_eq!(Zipf::new(1, 1.2).sample(&mut rng), 0);
        let uniform = Zipf::new(4, 0.0);
        let mut counts = [0usize; 4];
        for _ in 0..40_000 {
            counts[uniform.sample(&mut rng)] += 1;
        }
        assert!(counts.iter().all(|&c| (9_000..11_000).contains(&c)), "{counts:?}");
    }
}
