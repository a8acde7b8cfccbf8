//! Key groups: the unit of state sharding and rescaling.
//!
//! As in Flink, keyed state is not sharded directly by worker but by a fixed
//! number of *key groups* ([`KEY_GROUPS`]). Every key hashes to one group, and
//! every worker owns a contiguous range of groups. Because the group of a key
//! never depends on the worker count, a checkpoint taken with `W` workers can
//! be restored with `W'` workers by handing each new worker the group ranges it
//! now owns (see [`groups_for_worker`]).
//!
//! The hash is part of the on-disk format: it must never change across
//! versions, platforms or Rust releases. It is FNV-1a 64 (a byte-wise hash
//! with a fixed, published definition) followed by the MurmurHash3 `fmix64`
//! finalizer, because the low bits of plain FNV-1a only depend on the low bits
//! of the input bytes and `% KEY_GROUPS` keeps only low bits. Both steps are
//! implemented here and pinned by test vectors.
//!
//! # Composite keys
//!
//! A state key may carry a suffix after a [`ROUTING_SEPARATOR`] byte (0x1F,
//! the ASCII unit separator): only the part before it — the *routing key* —
//! decides the group. So `2026-11-26:p7\x1fu42` (a visitor of a product on a
//! day) lives in the same group, hence on the same worker, as the count
//! `2026-11-26:p7`, and the dataflow routes views by that routing key.

use std::ops::Range;

/// Number of key groups. Part of the on-disk format: changing it invalidates
/// every existing checkpoint. It is also the maximum useful number of workers.
pub const KEY_GROUPS: u16 = 128;

const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a 64-bit hash of `bytes` (the standard definition).
#[must_use]
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash = FNV_OFFSET_BASIS;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

/// MurmurHash3 64-bit finalizer: spreads every input bit over every output bit.
const fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h
}

/// Ends the routing part of a composite state key (see the module docs).
pub const ROUTING_SEPARATOR: u8 = 0x1f;

/// The key group (in `0..KEY_GROUPS`) of a state key: the group of its
/// routing key (the bytes before the first [`ROUTING_SEPARATOR`]). Stable
/// forever.
#[must_use]
pub fn key_group(key: &[u8]) -> u16 {
    let routing = key.split(|&b| b == ROUTING_SEPARATOR).next().unwrap_or(key);
    group_of_hash(fnv1a64(routing))
}

/// The key group of the routing key made of `parts` concatenated, without
/// building it: `key_group_of_parts(&[a, b])` equals `key_group(a ++ b)` when
/// no part contains a [`ROUTING_SEPARATOR`].
#[must_use]
pub fn key_group_of_parts(parts: &[&[u8]]) -> u16 {
    let mut hash = FNV_OFFSET_BASIS;
    for &byte in parts.iter().flat_map(|part| part.iter()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    group_of_hash(hash)
}

fn group_of_hash(fnv: u64) -> u16 {
    // The remainder is < KEY_GROUPS, so the narrowing cannot truncate.
    (fmix64(fnv) % u64::from(KEY_GROUPS)) as u16
}

/// The worker (in `0..workers`) that owns `group` when running with `workers`
/// workers: worker `w` owns the contiguous range [`groups_for_worker`]`(w)`.
///
/// With more than [`KEY_GROUPS`] workers, some workers own no group.
/// `workers` must be non-zero and `group < KEY_GROUPS`.
#[must_use]
pub fn worker_for_group(group: u16, workers: usize) -> usize {
    debug_assert!(workers > 0, "worker count must be positive");
    debug_assert!(group < KEY_GROUPS, "key group {group} out of range");
    usize::from(group) * workers / usize::from(KEY_GROUPS)
}

/// The worker (in `0..workers`) that owns `key`.
#[must_use]
pub fn worker_for_key(key: &[u8], workers: usize) -> usize {
    worker_for_group(key_group(key), workers)
}

/// The contiguous range of key groups owned by `worker` out of `workers`:
/// exactly the groups `g` with `worker_for_group(g, workers) == worker`.
/// Used to restore or rescale state (see `StateStore::scan`).
#[must_use]
pub fn groups_for_worker(worker: usize, workers: usize) -> Range<u16> {
    debug_assert!(worker < workers, "worker {worker} out of range 0..{workers}");
    let groups = usize::from(KEY_GROUPS);
    // Smallest g with g * workers / groups >= w is ceil(w * groups / workers).
    let first = |w: usize| (w * groups).div_ceil(workers).min(groups);
    // Both bounds are <= KEY_GROUPS, which fits in u16.
    first(worker) as u16..first(worker + 1) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_reference_vectors() {
        // Vectors from the FNV reference (http://www.isthe.com/chongo/tech/comp/fnv/).
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn key_group_is_pinned() {
        // If this test fails, the on-disk format changed: existing checkpoints
        // would restore keys into the wrong groups. Do not update the vector.
        let got: Vec<u16> = ["", "a", "foobar", "user-42", "550e8400-e29b-41d4-a716-446655440000"]
            .iter()
            .map(|k| key_group(k.as_bytes()))
            .collect();
        assert_eq!(got, PINNED);
    }

    const PINNED: [u16; 5] = [38, 91, 43, 13, 63];

    #[test]
    fn composite_keys_follow_their_routing_key() {
        let count = b"2026-11-26:p7";
        let member = b"2026-11-26:p7\x1fu42";
        assert_eq!(key_group(member), key_group(count));
        assert_eq!(key_group_of_parts(&[b"2026-11-26", b":", b"p7"]), key_group(count));
        assert_eq!(key_group_of_parts(&[]), key_group(b""));
        let groups: std::collections::BTreeSet<u16> =
            (0..50).map(|u| key_group(format!("day:p\x1fu{u}").as_bytes())).collect();
        assert_eq!(groups.len(), 1, "the suffix must not change the group");
    }

    #[test]
    fn every_group_maps_to_a_valid_worker_in_contiguous_ranges() {
        for workers in 1..=200 {
            let mut previous = 0;
            for group in 0..KEY_GROUPS {
                let w = worker_for_group(group, workers);
                assert!(w < workers);
                // Ranges are contiguous and in order; with more workers than
                // groups some workers own none, so the owner may skip ahead.
                assert!(w >= previous, "ranges out of order at {group}");
                if workers <= usize::from(KEY_GROUPS) {
                    assert!(w <= previous + 1, "non-contiguous at {group} with {workers} workers");
                }
                previous = w;
            }
            assert_eq!(worker_for_group(0, workers), 0);
            if workers <= usize::from(KEY_GROUPS) {
                assert_eq!(worker_for_group(KEY_GROUPS - 1, workers), workers - 1);
            }
        }
    }

    #[test]
    fn groups_for_worker_is_the_inverse_of_worker_for_group() {
        for workers in 1..=200 {
            let mut next = 0;
            for worker in 0..workers {
                let range = groups_for_worker(worker, workers);
                assert_eq!(range.start, next, "ranges must tile 0..KEY_GROUPS");
                next = range.end;
                for group in range {
                    assert_eq!(worker_for_group(group, workers), worker);
                }
            }
            assert_eq!(next, KEY_GROUPS);
        }
    }

    #[test]
    fn distribution_is_sane() {
        let mut per_group = vec![0u32; usize::from(KEY_GROUPS)];
        let n = 128_000u32;
        for i in 0..n {
            per_group[usize::from(key_group(format!("user-{i}").as_bytes()))] += 1;
        }
        let expected = n / u32::from(KEY_GROUPS);
        for (group, &count) in per_group.iter().enumerate() {
            // 1000 expected per group, standard deviation ~32: allow ±20%.
            assert!(count.abs_diff(expected) < expected / 5, "group {group} has {count}");
        }
        for workers in [2, 3, 7] {
            let mut per_worker = vec![0u32; workers];
            for i in 0..n {
                per_worker[worker_for_key(format!("user-{i}").as_bytes(), workers)] += 1;
            }
            let expected = n / workers as u32;
            for &count in &per_worker {
                assert!(count.abs_diff(expected) < expected / 10, "{per_worker:?}");
            }
        }
    }
}
