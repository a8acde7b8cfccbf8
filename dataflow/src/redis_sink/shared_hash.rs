//! HSET commands over the hashes every user or product shares
//! (`UserInterestTag`, `user-profiles`, `hot:pageview:counts`).
//!
//! A write-out sets thousands of fields of one shared hash; [`SharedHash`]
//! splits them into commands of [`FIELDS_PER_COMMAND`] fields per key, the
//! hash's own key or its shard keys ([`SharedHashLayout`]). Its per-key
//! buffers are kept between write-outs (each write-out renders the same
//! hashes again), so rendering them allocates nothing once warm.

use std::collections::BTreeMap;

use model::SharedHashLayout;

use crate::resp::RespCommands;

/// Fields per HSET command on a shared hash.
pub const FIELDS_PER_COMMAND: usize = 500;

/// `HSET key field value …` over one shared hash, appended to a batch's
/// commands as fields come.
#[derive(Debug)]
pub struct SharedHash {
    hash: &'static str,
    layout: SharedHashLayout,
    /// The command being built for each shard key, by shard (ordered, so a
    /// batch's commands do not depend on hashing); kept empty between
    /// write-outs for their buffers.
    pending: BTreeMap<usize, PendingFields>,
}

/// The encoded field and value arguments of one key's command being built.
#[derive(Debug, Default)]
struct PendingFields {
    fields: RespCommands,
    count: usize,
}

impl PendingFields {
    /// Appends the HSET of the pending fields on `key` to `out`, and empties
    /// itself, keeping its buffer.
    fn drain_into(&mut self, out: &mut RespCommands, key: &str) {
        out.command(2 + 2 * self.count, "HSET").arg(key.as_bytes());
        out.append(&self.fields);
        self.fields.clear();
        self.count = 0;
    }
}

impl SharedHash {
    /// Fields of hash `hash`, laid out by `layout`.
    pub fn new(layout: SharedHashLayout, hash: &'static str) -> Self {
        Self { hash, layout, pending: BTreeMap::new() }
    }

    /// Sets `field` to `value`.
    pub fn set(&mut self, out: &mut RespCommands, field: &str, value: &[u8]) {
        let shard = self.layout.shard_of(field.as_bytes());
        let pending = self.pending.entry(shard).or_default();
        pending.fields.arg(field.as_bytes()).arg(value);
        pending.count += 1;
        if pending.count == FIELDS_PER_COMMAND {
            pending.drain_into(out, &self.layout.key_of_shard(self.hash, shard));
        }
    }

    /// Bytes of the fields set but not yet in a command (what
    /// [`flush`](Self::flush) will add, but for the commands' headers).
    pub fn pending_bytes(&self) -> usize {
        self.pending.values().map(|pending| pending.fields.bytes().len()).sum()
    }

    /// Adds the last, partial commands; the hash is then ready for the next
    /// write-out.
    pub fn flush(&mut self, out: &mut RespCommands) {
        for (&shard, pending) in &mut self.pending {
            if pending.count > 0 {
                pending.drain_into(out, &self.layout.key_of_shard(self.hash, shard));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_hash_splits_into_commands() {
        let mut out = RespCommands::new();
        let mut hash = SharedHash::new(SharedHashLayout::SINGLE, "h");
        let mut reference = Vec::new();
        let mut command = redis::cmd("HSET");
        command.arg("h");
        for i in 0..(FIELDS_PER_COMMAND * 2 + 1) {
            hash.set(&mut out, &i.to_string(), b"v");
            command.arg(i.to_string()).arg("v");
            if (i + 1) % FIELDS_PER_COMMAND == 0 {
                reference.extend(command.get_packed_command());
                command = redis::cmd("HSET");
                command.arg("h");
            }
        }
        assert!(hash.pending_bytes() > 0);
        hash.flush(&mut out);
        assert_eq!(hash.pending_bytes(), 0);
        hash.flush(&mut out);
        reference.extend(command.get_packed_command());
        assert_eq!(out.len(), 3);
        assert_eq!(out.bytes(), reference.as_slice());
    }

    #[test]
    fn a_second_write_out_renders_like_the_first() {
        let layout = SharedHashLayout::with_shards(3).unwrap();
        let mut hash = SharedHash::new(layout, "h");
        let render = |hash: &mut SharedHash| {
            let mut out = RespCommands::new();
            for i in 0..(FIELDS_PER_COMMAND + 7) {
                hash.set(&mut out, &format!("user-{i}"), i.to_string().as_bytes());
            }
            hash.flush(&mut out);
            out
        };
        let first = render(&mut hash);
        let second = render(&mut hash);
        assert_eq!(first.len(), second.len());
        assert_eq!(first.bytes(), second.bytes());
    }

    #[test]
    fn a_sharded_hash_writes_each_field_to_its_shard_key() {
        let layout = SharedHashLayout::with_shards(3).unwrap();
        let mut out = RespCommands::new();
        let mut hash = SharedHash::new(layout, "h");
        let fields: Vec<String> = (0..100).map(|i| format!("user-{i}")).collect();
        for field in &fields {
            hash.set(&mut out, field, field.to_uppercase().as_bytes());
        }
        hash.flush(&mut out);
        let mut reference = Vec::new();
        for (key, at) in layout.group("h", &fields) {
            let mut command = redis::cmd("HSET");
            command.arg(&key);
            for i in at {
                command.arg(&fields[i]).arg(fields[i].to_uppercase());
            }
            reference.extend(command.get_packed_command());
        }
        assert_eq!(out.len(), 3, "one command per shard key");
        assert_eq!(out.bytes(), reference.as_slice());
    }
}
