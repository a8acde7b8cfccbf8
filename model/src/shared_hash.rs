//! Where a field of a shared hash lives: one key, or one of N shard keys.
//!
//! Three hashes hold a field for every user or every (day, product):
//! [`USER_INTEREST_TAG`], [`USER_PROFILES`] and [`HOT_PAGEVIEW_COUNTS`].
//! The original system keeps each in one key, and readers of that system
//! look them up by those names, so one key each stays the default. On a
//! Redis Cluster a key lives in one slot, so each of the three hashes puts
//! all of its traffic and memory on one primary. With
//! `--shared-hash-shards N` (N > 0; the job and the API take the same
//! flag) field `f` of hash `h` lives instead in `h:shard:<s>`, where
//! `s = CRC16(f) mod N`: CRC16/XMODEM, the checksum Redis Cluster hashes
//! keys with, so a reader in any language has it at hand. The N keys of a
//! hash spread over the slots, and so over the primaries.
//!
//! The layout is part of a checkpoint's result settings: a job restarted
//! with another N is refused unless `--accept-config-change` is given,
//! which rewrites Redis from state in the new layout (the old layout's
//! keys are left for the operator to delete).

use std::borrow::Cow;

use crate::keys::{HOT_PAGEVIEW_COUNTS, USER_INTEREST_TAG, USER_PROFILES};

/// The most shards a hash can have: one per Redis Cluster slot.
pub const MAX_SHARDS: u16 = 16_384;

/// The three hashes a layout applies to.
pub const SHARED_HASHES: [&str; 3] = [USER_INTEREST_TAG, USER_PROFILES, HOT_PAGEVIEW_COUNTS];

/// How the shared hashes are laid out in Redis.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SharedHashLayout {
    /// 0: one key per hash (the original scheme); N: N shard keys.
    shards: u16,
}

/// A shard count that is not a whole number from 0 to [`MAX_SHARDS`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} shared-hash shards: give 0 (one key per hash) to {MAX_SHARDS}")]
pub struct BadShardCount(pub String);

impl SharedHashLayout {
    /// One key per hash, as the original system.
    pub const SINGLE: Self = Self { shards: 0 };

    /// `shards` keys per hash; 0 is [`Self::SINGLE`].
    ///
    /// # Errors
    /// `shards` is over [`MAX_SHARDS`].
    pub fn with_shards(shards: u32) -> Result<Self, BadShardCount> {
        u16::try_from(shards)
            .ok()
            .filter(|&n| n <= MAX_SHARDS)
            .map(|shards| Self { shards })
            .ok_or_else(|| BadShardCount(shards.to_string()))
    }

    /// Shard keys per hash (0: one key, the hash's own name).
    #[must_use]
    pub fn shards(self) -> u16 {
        self.shards
    }

    /// The shard of `field`; 0 when the hash is one key.
    #[must_use]
    pub fn shard_of(self, field: &[u8]) -> usize {
        if self.shards == 0 {
            0
        } else {
            usize::from(crc16::State::<crc16::XMODEM>::calculate(field) % self.shards)
        }
    }

    /// The key that holds `field` of `hash`.
    #[must_use]
    pub fn key<'h>(self, hash: &'h str, field: &[u8]) -> Cow<'h, str> {
        self.key_of_shard(hash, self.shard_of(field))
    }

    /// The key of `hash`'s shard `shard` (as [`Self::shard_of`] gives it).
    #[must_use]
    pub fn key_of_shard(self, hash: &str, shard: usize) -> Cow<'_, str> {
        if self.shards == 0 { Cow::Borrowed(hash) } else { Cow::Owned(shard_key(hash, shard)) }
    }

    /// Every key of `hash`, shard 0 first.
    #[must_use]
    pub fn keys(self, hash: &str) -> Vec<String> {
        if self.shards == 0 {
            vec![hash.to_owned()]
        } else {
            (0..usize::from(self.shards)).map(|shard| shard_key(hash, shard)).collect()
        }
    }

    /// The keys of `hash` that hold `fields`, each with the positions in
    /// `fields` of the fields it holds, in order: one `HMGET` per key
    /// reads them all.
    #[must_use]
    pub fn group<F: AsRef<[u8]>>(self, hash: &str, fields: &[F]) -> Vec<(String, Vec<usize>)> {
        let keys = self.keys(hash);
        let mut positions = vec![Vec::new(); keys.len()];
        for (at, field) in fields.iter().enumerate() {
            positions[self.shard_of(field.as_ref())].push(at);
        }
        keys.into_iter().zip(positions).filter(|(_, at)| !at.is_empty()).collect()
    }
}

/// The shard count, as `--shared-hash-shards` takes it.
impl std::str::FromStr for SharedHashLayout {
    type Err = BadShardCount;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let shards = text.trim().parse().map_err(|_| BadShardCount(text.to_owned()))?;
        Self::with_shards(shards)
    }
}

/// The shard count (0: one key per hash).
impl std::fmt::Display for SharedHashLayout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.shards)
    }
}

/// `<hash>:shard:<shard>`.
fn shard_key(hash: &str, shard: usize) -> String {
    format!("{hash}:shard:{shard}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_key_per_hash_is_the_original_scheme() {
        let layout = SharedHashLayout::default();
        assert_eq!(layout, SharedHashLayout::SINGLE);
        assert_eq!(layout.key(USER_PROFILES, b"u1"), "user-profiles");
        assert_eq!(layout.keys(HOT_PAGEVIEW_COUNTS), ["hot:pageview_counts"]);
        assert_eq!(
            layout.group(USER_PROFILES, &["a", "b"]),
            [("user-profiles".into(), vec![0, 1])]
        );
    }

    #[test]
    fn shards_follow_crc16_xmodem_as_redis_cluster_does() {
        // Redis Cluster's documented check value: CRC16("123456789") = 0x31C3.
        assert_eq!(crc16::State::<crc16::XMODEM>::calculate(b"123456789"), 0x31C3);
        let layout = SharedHashLayout::with_shards(16).unwrap();
        assert_eq!(layout.shard_of(b"123456789"), 0x31C3 % 16);
        assert_eq!(layout.key(USER_INTEREST_TAG, b"123456789"), "UserInterestTag:shard:3");
        assert_eq!(layout.keys(USER_PROFILES).len(), 16);
        assert_eq!(layout.keys(USER_PROFILES)[15], "user-profiles:shard:15");
    }

    #[test]
    fn grouping_keeps_every_position_once_under_its_shard() {
        let layout = SharedHashLayout::with_shards(5).unwrap();
        let fields: Vec<String> = (0..200).map(|i| format!("user-{i}")).collect();
        let groups = layout.group(USER_PROFILES, &fields);
        let mut seen: Vec<usize> = groups.iter().flat_map(|(_, at)| at.clone()).collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..200).collect::<Vec<_>>());
        assert_eq!(groups.len(), 5, "200 fields reach every one of 5 shards");
        for (key, at) in groups {
            for i in at {
                assert_eq!(layout.key(USER_PROFILES, fields[i].as_bytes()), key);
            }
        }
    }

    #[test]
    fn shard_counts_are_bounded_by_the_cluster_slots() {
        assert_eq!(SharedHashLayout::with_shards(0).unwrap(), SharedHashLayout::SINGLE);
        assert_eq!(SharedHashLayout::with_shards(16_384).unwrap().shards(), 16_384);
        assert_eq!(SharedHashLayout::with_shards(16_385), Err(BadShardCount("16385".into())));
        assert!(SharedHashLayout::with_shards(70_000).is_err());
        assert_eq!("16".parse::<SharedHashLayout>().unwrap().to_string(), "16");
        assert!("-1".parse::<SharedHashLayout>().is_err());
        assert!("many".parse::<SharedHashLayout>().is_err());
    }
}
