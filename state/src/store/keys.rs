//! Physical key layouts in RocksDB.
//!
//! Keyed state is stored as `[key_group: u16 big-endian][key bytes]` (the
//! group is given by the state's key type, see `StateKey`), so the
//! keys of a range of key groups form one contiguous RocksDB key range: a
//! worker's share of a checkpoint (or a rescaled share) is a range scan, and
//! whole groups can later be dropped or ingested by range.
//!
//! Offsets are worker-level, not keyed: their key is
//! `[topic length: u16 BE][topic UTF-8][partition: i32 BE]` and their value is
//! the next offset to read as `i64` big-endian.

use std::ops::Range;

/// Length of the key-group prefix.
pub(crate) const GROUP_PREFIX_LEN: usize = 2;

/// Keys up to this length are prefixed on the stack (no allocation on reads).
const STACK_KEY_LEN: usize = 126;

/// Appends the physical state key of `key`, stored in key group `group`, to
/// `out`.
pub(crate) fn push_state_key(group: u16, key: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&group.to_be_bytes());
    out.extend_from_slice(key);
}

/// Calls `f` with the physical state key of `key` in key group `group`,
/// without allocating for keys of usual length.
pub(crate) fn with_state_key<R>(group: u16, key: &[u8], f: impl FnOnce(&[u8]) -> R) -> R {
    if key.len() <= STACK_KEY_LEN {
        let mut buf = [0u8; GROUP_PREFIX_LEN + STACK_KEY_LEN];
        buf[..GROUP_PREFIX_LEN].copy_from_slice(&group.to_be_bytes());
        buf[GROUP_PREFIX_LEN..GROUP_PREFIX_LEN + key.len()].copy_from_slice(key);
        f(&buf[..GROUP_PREFIX_LEN + key.len()])
    } else {
        let mut buf = Vec::with_capacity(GROUP_PREFIX_LEN + key.len());
        push_state_key(group, key, &mut buf);
        f(&buf)
    }
}

/// The `[lower, upper)` physical key bounds of a range of key groups.
pub(crate) fn group_bounds(groups: &Range<u16>) -> ([u8; 2], [u8; 2]) {
    (groups.start.to_be_bytes(), groups.end.to_be_bytes())
}

/// Splits a physical state key into its group and user key.
pub(crate) fn split_state_key(raw: &[u8]) -> Option<(u16, &[u8])> {
    let (group, key) = raw.split_first_chunk::<GROUP_PREFIX_LEN>()?;
    Some((u16::from_be_bytes(*group), key))
}

/// Appends the key of the offset entry of (`topic`, `partition`) to `out`.
pub(crate) fn push_offset_key(topic: &str, partition: i32, out: &mut Vec<u8>) {
    // Kafka limits topic names to 249 ASCII bytes, so the length always fits;
    // an impossible longer name is clamped rather than corrupting the layout.
    debug_assert!(topic.len() <= usize::from(u16::MAX), "topic name too long");
    let len = u16::try_from(topic.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&topic.as_bytes()[..usize::from(len)]);
    out.extend_from_slice(&partition.to_be_bytes());
}

/// Decodes an offset entry key into (`topic`, `partition`).
pub(crate) fn parse_offset_key(raw: &[u8]) -> Option<(String, i32)> {
    let (len, rest) = raw.split_first_chunk::<2>()?;
    let len = usize::from(u16::from_be_bytes(*len));
    if rest.len() != len + 4 {
        return None;
    }
    let (topic, partition) = rest.split_at(len);
    let topic = std::str::from_utf8(topic).ok()?.to_owned();
    Some((topic, i32::from_be_bytes(partition.try_into().ok()?)))
}

/// Decodes an offset entry value.
pub(crate) fn parse_offset_value(raw: &[u8]) -> Option<i64> {
    Some(i64::from_be_bytes(raw.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keygroup::{KEY_GROUPS, key_group};

    #[test]
    fn state_key_layout() {
        let mut out = Vec::new();
        let group = key_group(b"user-1");
        push_state_key(group, b"user-1", &mut out);
        assert_eq!(&out[..2], &group.to_be_bytes());
        assert_eq!(&out[2..], b"user-1");
        with_state_key(group, b"user-1", |k| assert_eq!(k, out.as_slice()));
        let long = vec![b'x'; 1000];
        with_state_key(77, &long, |k| assert_eq!(split_state_key(k), Some((77, &long[..]))));
        assert_eq!(split_state_key(b"x"), None);
        assert_eq!(split_state_key(&[0, 5]), Some((5, &b""[..])));
    }

    #[test]
    fn group_ranges_are_contiguous_key_ranges() {
        // Byte-wise order of the prefix equals numeric group order.
        for g in 1..KEY_GROUPS {
            assert!((g - 1).to_be_bytes() < g.to_be_bytes());
        }
        assert_eq!(group_bounds(&(3..KEY_GROUPS)), ([0, 3], [0, 128]));
    }

    #[test]
    fn offset_key_round_trip() {
        let mut out = Vec::new();
        push_offset_key("events", -1, &mut out);
        assert_eq!(parse_offset_key(&out), Some(("events".to_owned(), -1)));
        assert_eq!(parse_offset_key(&out[..out.len() - 1]), None);
        assert_eq!(parse_offset_value(&42i64.to_be_bytes()), Some(42));
        assert_eq!(parse_offset_value(&[1, 2]), None);
    }
}
