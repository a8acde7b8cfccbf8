//! Unit tests of [`StateStore`](super::StateStore), with a real store in a temp dir.

use super::*;
use crate::keygroup::KEY_GROUPS;

fn open(dir: &Path) -> StateStore {
    StateStore::open(dir, &StoreOptions::default()).unwrap()
}

#[test]
fn commit_get_delete_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    assert!(store.is_empty().unwrap());

    let mut batch = StateBatch::new();
    batch.put(Family::Profiles, b"alice", b"1");
    batch.put(Family::Profiles, b"bob", b"2");
    batch.put(Family::Meta, b"version", b"1");
    batch.set_offset("events", 0, 10);
    batch.set_offset("events", 1, 20);
    batch.set_offset("events", 0, 11); // later wins
    store.commit(batch).unwrap();
    assert!(!store.is_empty().unwrap());
    assert_eq!(store.get(Family::Profiles, b"alice").unwrap(), Some(b"1".to_vec()));
    assert_eq!(store.get(Family::VisitorSets, b"alice").unwrap(), None);
    assert_eq!(store.get_with(Family::Profiles, b"bob", <[u8]>::len).unwrap(), Some(1));

    let mut batch = StateBatch::new();
    batch.delete(Family::Profiles, b"bob");
    store.commit(batch).unwrap();
    store.commit(StateBatch::new()).unwrap();
    drop(store);

    let store = open(dir.path());
    assert_eq!(store.get(Family::Profiles, b"alice").unwrap(), Some(b"1".to_vec()));
    assert_eq!(store.get(Family::Profiles, b"bob").unwrap(), None);
    assert_eq!(store.get(Family::Meta, b"version").unwrap(), Some(b"1".to_vec()));
    let offsets = store.offsets().unwrap();
    let expected = BTreeMap::from([(("events".to_owned(), 0), 11), (("events".to_owned(), 1), 20)]);
    assert_eq!(offsets, expected);
}

#[test]
fn scan_returns_exactly_the_keys_of_the_groups() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let keys: Vec<String> = (0..2000).map(|i| format!("user-{i}")).collect();
    let mut batch = StateBatch::new();
    for key in &keys {
        batch.put(Family::Profiles, key.as_bytes(), key.as_bytes());
        batch.put(Family::VisitorSets, key.as_bytes(), b"other family");
    }
    store.commit(batch).unwrap();

    for groups in [0..1, 10..20, 100..KEY_GROUPS, 0..KEY_GROUPS, 5..5] {
        let mut got: Vec<Vec<u8>> = store
            .scan(Family::Profiles, groups.clone())
            .map(|entry| {
                let (group, key, value) = entry.unwrap();
                assert_eq!(key, value);
                assert_eq!(group, key_group(&key));
                key
            })
            .collect();
        got.sort();
        let mut expected: Vec<Vec<u8>> = keys
            .iter()
            .filter(|k| groups.contains(&key_group(k.as_bytes())))
            .map(|k| k.as_bytes().to_vec())
            .collect();
        expected.sort();
        assert_eq!(got, expected, "groups {groups:?}");
    }
    assert_eq!(store.scan(Family::RecentEvents, 0..KEY_GROUPS).count(), 0);
}

#[test]
fn explicit_groups_and_the_last_key_of_a_group() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut batch = StateBatch::new();
    for (group, key) in [(5u16, 1u32), (5, 9), (5, 3), (6, 0), (127, 4)] {
        batch.put_in_group(Family::UserNames, group, &key.to_be_bytes(), b"v");
    }
    store.commit(batch).unwrap();
    let last = |g| store.last_key_in_group(Family::UserNames, g).unwrap();
    assert_eq!(last(5), Some(9u32.to_be_bytes().to_vec()));
    assert_eq!(last(6), Some(0u32.to_be_bytes().to_vec()));
    assert_eq!(last(127), Some(4u32.to_be_bytes().to_vec()));
    assert_eq!(last(4), None);
    assert_eq!(last(0), None);
    let read = store.get_in_group(Family::UserNames, 6, &0u32.to_be_bytes(), <[u8]>::to_vec);
    assert_eq!(read.unwrap(), Some(b"v".to_vec()));
    // Stored in group 6, not in the group its bytes hash to.
    assert_eq!(store.get(Family::UserNames, &0u32.to_be_bytes()).unwrap(), None);
    let groups: Vec<u16> = store.scan(Family::UserNames, 5..7).map(|e| e.unwrap().0).collect();
    assert_eq!(groups, [5, 5, 5, 6]);
}

#[test]
fn corrupt_offset_names_family_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let cf = store.cf(Family::Offsets).unwrap();
    store.db().put_cf(cf, b"junk", b"1").unwrap();
    let err = store.offsets().unwrap_err().to_string();
    assert!(err.contains("offsets") && err.contains("junk"), "{err}");
}

#[test]
fn unknown_column_families_do_not_prevent_opening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut opts = rocksdb::Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        DB::open_cf(&opts, dir.path(), ["from_the_future"]).unwrap();
    }
    let store = open(dir.path());
    assert!(store.is_empty().unwrap());
}

#[test]
fn a_batch_of_many_segments_commits_every_entry_in_order_then_marks_its_tickets() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let value = vec![7_u8; 1000];
    let mut batch = StateBatch::new();
    let ticket = batch.ticket();
    // About 12 MB: several segments of at most `SEGMENT_BYTES`.
    for i in 0..12_000 {
        batch.put(Family::Profiles, format!("user-{i}").as_bytes(), &value);
    }
    // A later operation on a key of the first segment, in the last one.
    batch.delete(Family::Profiles, b"user-0");
    batch.set_offset("events", 0, 12_000);
    let segments = batch.data_bytes() / batch::SEGMENT_BYTES;
    assert!(segments >= 2, "{} bytes are one segment", batch.data_bytes());
    assert!(!ticket.is_committed());
    store.commit(batch).unwrap();
    assert!(ticket.is_committed());
    // One scan: a point lookup sorts the vector memtable each time.
    let mut keys: Vec<String> = store
        .scan(Family::Profiles, 0..KEY_GROUPS)
        .map(|entry| {
            let (_, key, got) = entry.unwrap();
            assert_eq!(got, value);
            String::from_utf8(key).unwrap()
        })
        .collect();
    keys.sort();
    let mut expected: Vec<String> = (1..12_000).map(|i| format!("user-{i}")).collect();
    expected.sort();
    assert_eq!(keys, expected);
    assert_eq!(store.offsets().unwrap(), BTreeMap::from([(("events".to_owned(), 0), 12_000)]));
}
