//! Which worker reads which Kafka partition.
//!
//! Assignment is manual and deterministic, with no consumer-group
//! rebalancing: partition `p` of every event topic belongs to worker
//! `p mod W`. With the standard 3 partitions and 3 workers, worker i owns
//! partition i of each topic; extra partitions are spread round-robin.

use std::collections::BTreeSet;

/// One partition of one topic.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: i32,
}

/// The worker that owns `partition` among `workers`.
pub fn owner(partition: i32, workers: usize) -> usize {
    usize::try_from(partition).unwrap_or(0) % workers.max(1)
}

/// The partitions of `all` that `worker` owns and that are not yet in `known`.
pub fn newly_owned<'a>(
    all: impl IntoIterator<Item = &'a TopicPartition>,
    known: &BTreeSet<TopicPartition>,
    worker: usize,
    workers: usize,
) -> Vec<TopicPartition> {
    all.into_iter()
        .filter(|tp| owner(tp.partition, workers) == worker && !known.contains(*tp))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(topic: &str, partition: i32) -> TopicPartition {
        TopicPartition { topic: topic.into(), partition }
    }

    #[test]
    fn worker_i_owns_partition_i_and_extras_spread() {
        assert_eq!((0..3).map(|p| owner(p, 3)).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!((0..6).map(|p| owner(p, 3)).collect::<Vec<_>>(), [0, 1, 2, 0, 1, 2]);
        assert_eq!(owner(5, 1), 0);
    }

    #[test]
    fn every_partition_has_exactly_one_owner() {
        let all: Vec<_> = ["a", "b"].iter().flat_map(|t| (0..7).map(move |p| tp(t, p))).collect();
        let known = BTreeSet::new();
        let mut seen: Vec<_> = (0..3).flat_map(|w| newly_owned(&all, &known, w, 3)).collect();
        seen.sort();
        let mut expected = all.clone();
        expected.sort();
        assert_eq!(seen, expected);
        let known: BTreeSet<_> = all.iter().cloned().collect();
        assert!(newly_owned(&all, &known, 0, 3).is_empty());
    }
}
