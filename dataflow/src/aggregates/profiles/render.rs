//! Rendering changed users into Redis commands, one bounded pipeline at a
//! time.
//!
//! A write-out covers every user changed since the last one, and while
//! Redis is the bottleneck (a catch-up) that can be most of the state: one
//! pipeline per write-out grew to hundreds of megabytes per worker, and
//! with the buffers kept for reuse (`redis_sink/mod.rs`) those megabytes
//! stayed, whatever `--state-memory` said (docs/benchmarks.md, the state
//! size section). [`Render::render`] therefore stops once a pipeline holds
//! about [`PIPELINE_BYTES`]; the users it did not reach stay changed and go
//! into the next pipeline. For each rendered user: the changed scores of
//! `user:profile:<u>` (tag → score), `user:purchased:<u>` (products bought)
//! if it bought something, its top-N in `UserInterestTag` when that changed
//! or was not written yet by this run, and its JSON profile in
//! `user-profiles` (the two shared hashes get their fields in HSETs of
//! many users, see [`SharedHash`]).

use compact_str::CompactString;
use model::{SharedHashLayout, keys};
use rustc_hash::FxHashMap;
use serde::Serialize;
use state::StateStore;
use ustr::Ustr;

use super::json as profile_json;
use super::profile::{ChangedTags, ProfileTable, UserProfile};
use crate::redis_sink::SharedHash;
use crate::resp::RespCommands;

/// Bytes of commands after which a pipeline takes no more users: large
/// enough that Redis spends its time on commands, not round trips (a
/// pipeline of this size holds thousands of users), small enough that the
/// pipelines a worker has in hand stay a few megabytes.
pub const PIPELINE_BYTES: usize = 4 << 20;

/// What changed for one user since it was last written.
#[derive(Debug, Clone, Copy, Default)]
pub struct UserChanges {
    /// The tags whose scores changed.
    pub tags: ChangedTags,
    /// Whether the user bought something.
    pub purchased: bool,
}

impl UserChanges {
    /// Every key of the user (to rewrite it from state).
    pub const EVERYTHING: Self = Self { tags: ChangedTags::ALL, purchased: true };
}

/// Users changed since they were last written, by name.
pub type ChangedUsers = FxHashMap<CompactString, UserChanges>;

/// A message for `user-interest-tags-topic`: the user and its JSON.
pub type InterestTagsMessage = (CompactString, Vec<u8>);

/// The JSON published on `user-interest-tags-topic`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InterestTagsJson<'a> {
    user_id: &'a str,
    top_tags: &'a [&'a str],
}

/// The rendering of one worker's profiles, with buffers reused by every
/// pipeline.
#[derive(Debug)]
pub struct Render {
    top_n: usize,
    key: String,
    json: Vec<u8>,
    order: Vec<usize>,
    /// Bytes of the previous pipeline: the next one starts with room for as
    /// many.
    pub pipeline_bytes: usize,
    /// `UserInterestTag`'s commands.
    interest: SharedHash,
    /// `user-profiles`' commands.
    profiles: SharedHash,
}

impl Render {
    /// Renders the top `top_n` tags, with the shared hashes laid out by
    /// `layout`.
    pub fn new(layout: SharedHashLayout, top_n: usize) -> Self {
        Self {
            top_n,
            key: String::new(),
            json: Vec::new(),
            order: Vec::new(),
            pipeline_bytes: 0,
            interest: SharedHash::new(layout, keys::USER_INTEREST_TAG),
            profiles: SharedHash::new(layout, keys::USER_PROFILES),
        }
    }

    /// Appends the commands of changed users to `out` until it holds about
    /// `limit` bytes (at least one user, if any changed), removing each
    /// rendered user from `changed`; the interest-tags messages of those
    /// whose top tags changed go to `published` (and are recorded in their
    /// profiles as published).
    ///
    /// # Panics
    ///
    /// If a changed user's profile cannot be read from state (the job
    /// restarts from its last checkpoint).
    pub fn render(
        &mut self,
        out: &mut RespCommands,
        table: &mut ProfileTable,
        store: &StateStore,
        changed: &mut ChangedUsers,
        published: &mut Vec<InterestTagsMessage>,
        limit: usize,
    ) {
        // Takes users out one at a time; dropped early, the iterator leaves
        // the rest in `changed` without visiting them.
        let mut users = changed.extract_if(|_, _| true);
        while out.bytes().len() + self.interest.pending_bytes() + self.profiles.pending_bytes()
            < limit
        {
            let Some((user, changes)) = users.next() else { break };
            let profile = match table.get_mut(store, user.as_str()) {
                Ok(profile) => profile,
                Err(err) => panic!("cannot read profile state: {err}"),
            };
            self.user(out, &user, changes, profile, published);
        }
        self.interest.flush(out);
        self.profiles.flush(out);
        self.pipeline_bytes = out.bytes().len();
    }

    /// Appends the commands of one changed user.
    fn user(
        &mut self,
        out: &mut RespCommands,
        user: &CompactString,
        changes: UserChanges,
        profile: &mut UserProfile,
        published: &mut Vec<InterestTagsMessage>,
    ) {
        let Self { top_n, key, json, order, interest, profiles, .. } = self;
        key.clear();
        key.push_str(keys::USER_PROFILE_PREFIX);
        key.push_str(user);
        let changed_tags = (0..profile.scores.len()).filter(|&i| changes.tags.contains(i)).count();
        // Events always carry tags, but an HSET without fields would be
        // rejected with the whole batch: never send one.
        if changed_tags > 0 {
            out.command(2 + 2 * changed_tags, "HSET").arg(key.as_bytes());
            for (index, (tag, score)) in profile.scores.iter().enumerate() {
                if changes.tags.contains(index) {
                    out.arg(tag.as_str().as_bytes()).arg_int(*score);
                }
            }
        }
        if changes.purchased && !profile.purchased.is_empty() {
            key.clear();
            key.push_str(keys::USER_PURCHASED_PREFIX);
            key.push_str(user);
            out.command(2 + profile.purchased.len(), "SADD").arg(key.as_bytes());
            for product in &profile.purchased {
                out.arg(product.as_bytes());
            }
        }
        let top = profile.top_tags(*top_n);
        let top_changed = profile.published_top.iter().map(Ustr::as_str).ne(top.iter().copied());
        // `UserInterestTag` holds `published_top` once this run wrote it.
        if top_changed || !profile.interest_written {
            json.clear();
            profile_json::write_tags(json, &top);
            interest.set(out, user, json);
        }
        json.clear();
        profile_json::write_profile(json, user, profile, &top, order);
        profiles.set(out, user, json);
        if top_changed {
            let message = InterestTagsJson { user_id: user, top_tags: &top };
            published.push((user.clone(), serde_json::to_vec(&message).unwrap_or_default()));
            profile.published_top = top.into_iter().map(Ustr::from).collect();
        }
        profile.interest_written = true;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use model::EventType;
    use redis::Value;
    use state::{Family, StoreOptions};

    use super::*;
    use crate::records::{ProfileEvent, Tags};
    use crate::weights::Weights;

    const USERS: usize = 3_000;

    /// A store and a table of `USERS` users who each bought one product,
    /// all changed.
    fn bought() -> (tempfile::TempDir, StateStore, ProfileTable, ChangedUsers) {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::open(dir.path(), &StoreOptions::default()).unwrap();
        let mut table = ProfileTable::with_empty_backing(Family::Profiles);
        let mut changed = ChangedUsers::default();
        for i in 0..USERS {
            let event = ProfileEvent {
                event_id: format!("e{i}").into(),
                user: format!("user-{i}").into(),
                kind: EventType::Purchase,
                timestamp: 1_000,
                tags: ["shoes", "hats"].iter().map(|t| Ustr::from(t)).collect::<Tags>(),
                product: format!("p{}", i % 7).into(),
                day: crate::day::Day(0),
            };
            let profile = table.get_mut(&store, event.user.as_str()).unwrap();
            let tags = profile.apply(&event, &Weights::default());
            changed.insert(event.user, UserChanges { tags, purchased: true });
        }
        (dir, store, table, changed)
    }

    /// What a pipeline writes: (key, field or member, value) triples.
    fn writes(out: &RespCommands, into: &mut BTreeSet<(Vec<u8>, Vec<u8>, Vec<u8>)>) {
        let mut parser = redis::Parser::new();
        let mut reader = out.bytes();
        for _ in 0..out.len() {
            let Value::Array(args) = parser.parse_value(&mut reader).unwrap() else { panic!() };
            let args: Vec<Vec<u8>> = args
                .into_iter()
                .map(|arg| match arg {
                    Value::BulkString(bytes) => bytes,
                    other => panic!("{other:?}"),
                })
                .collect();
            match args[0].as_slice() {
                b"HSET" => args[2..].chunks(2).for_each(|pair| {
                    assert!(into.insert((args[1].clone(), pair[0].clone(), pair[1].clone())));
                }),
                b"SADD" => args[2..].iter().for_each(|member| {
                    assert!(into.insert((args[1].clone(), member.clone(), Vec::new())));
                }),
                other => panic!("unexpected {}", String::from_utf8_lossy(other)),
            }
        }
        assert!(reader.is_empty());
    }

    #[test]
    fn bounded_pipelines_write_what_one_pipeline_writes_each_user_once() {
        let layout = SharedHashLayout::with_shards(4).unwrap();
        let (_dir, store, mut table, mut changed) = bought();
        let mut whole = BTreeSet::new();
        let mut published = Vec::new();
        let mut out = RespCommands::new();
        Render::new(layout, 3).render(
            &mut out,
            &mut table,
            &store,
            &mut changed,
            &mut published,
            usize::MAX,
        );
        assert!(changed.is_empty());
        assert_eq!(published.len(), USERS);
        writes(&out, &mut whole);

        let limit = 64 << 10;
        assert!(out.bytes().len() > 8 * limit, "the test renders many pipelines");
        let (_dir, store, mut table, mut changed) = bought();
        let mut render = Render::new(layout, 3);
        let (mut pieces, mut pipelines, mut published) = (BTreeSet::new(), 0, Vec::new());
        while !changed.is_empty() {
            let before = changed.len();
            let mut out = RespCommands::new();
            render.render(&mut out, &mut table, &store, &mut changed, &mut published, limit);
            assert!(changed.len() < before, "every pipeline takes a user");
            // One user's commands and the shared hashes' command headers
            // go past the limit.
            assert!(out.bytes().len() < limit + 1_024, "{}", out.bytes().len());
            assert_eq!(render.pipeline_bytes, out.bytes().len());
            writes(&out, &mut pieces);
            pipelines += 1;
        }
        assert!(pipelines > 8, "{pipelines}");
        assert_eq!(published.len(), USERS, "each user's top tags published once");
        assert_eq!(pieces, whole);
    }
}
