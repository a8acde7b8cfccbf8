//! `--shard i/n`: splitting the user population across simulators.
//!
//! n simulators with the same seed and shards 0/n … (n-1)/n produce traffic
//! for disjoint sets of users (user index ≡ i mod n), so a stress run can be
//! spread over several machines without two of them speaking for one user.

use std::fmt;
use std::str::FromStr;

/// This simulator's share of the users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which share, `0..count`.
    pub index: u64,
    /// How many shares there are.
    pub count: u64,
}

impl Default for Shard {
    fn default() -> Self {
        Self { index: 0, count: 1 }
    }
}

impl Shard {
    /// How many of `users` belong to this shard.
    pub fn users_in(&self, users: u64) -> u64 {
        users.saturating_sub(self.index).div_ceil(self.count)
    }

    /// The global user index of this shard's `rank`-th user.
    pub fn user_index(&self, rank: u64) -> u64 {
        self.index + rank * self.count
    }
}

/// Why a `--shard` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid shard {0:?}: expected i/n with 0 <= i < n, e.g. 0/1 or 2/4")]
pub struct ShardParseError(String);

impl FromStr for Shard {
    type Err = ShardParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ShardParseError(s.to_owned());
        let (index, count) = s.split_once('/').ok_or_else(err)?;
        let index: u64 = index.trim().parse().map_err(|_| err())?;
        let count: u64 = count.trim().parse().map_err(|_| err())?;
        if count == 0 || index >= count {
            return Err(err());
        }
        Ok(Self { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        for bad in ["", "1", "4/4", "1/0", "a/b", "-1/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn shards_partition_the_users() {
        let users = 10;
        let mut seen = Vec::new();
        for index in 0..3 {
            let shard = Shard { index, count: 3 };
            seen.extend((0..shard.users_in(users)).map(|r| shard.user_index(r)));
        }
        seen.sort();
        assert_eq!(seen, (0..users).collect::<Vec<_>>());
    }
}
