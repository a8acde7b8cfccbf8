//! Micro-benchmark of the `Table` hot path: 5M `get_mut` hits over 100k keys,
//! against a bare hash map doing the same lookups, plus one flush + commit.
//!
//! Run with optimizations, e.g. `cargo run --release -p state --example table_bench`.

use std::hint::black_box;
use std::time::Instant;

use state::{Family, StateBatch, StateStore, StoreOptions, Table};

const KEYS: usize = 100_000;
const OPS: usize = 5_000_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = StateStore::open(dir.path(), &StoreOptions::default())?;
    // UUID-shaped keys, like user ids.
    let keys: Vec<String> = (0..KEYS as u64)
        .map(|i| {
            let h = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            format!(
                "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
                h >> 32,
                h & 0xffff,
                i & 0xffff,
                0x4a5b,
                i
            )
        })
        .collect();
    // Pseudo-random access order, precomputed so the RNG is not measured.
    let mut x = 0x2545_f491_4f6c_dd1d_u64;
    let order: Vec<u32> = (0..OPS)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % KEYS as u64) as u32
        })
        .collect();

    let mut table = Table::<String, u64>::with_empty_backing(Family::VisitorSets);
    for key in &keys {
        *table.get_mut(&store, key)? += 1;
    }
    let mut batch = StateBatch::new();
    let start = Instant::now();
    let flushed = table.flush_into(&mut batch)?;
    let flush = start.elapsed();
    let start = Instant::now();
    store.commit(batch)?;
    let commit = start.elapsed();
    println!("flush_into: {flushed} dirty entries in {flush:?}; commit in {commit:?}");

    for round in 0..3 {
        let start = Instant::now();
        for &i in &order {
            *table.get_mut(&store, black_box(&keys[i as usize]))? += 1;
        }
        let table_ns = start.elapsed().as_nanos() as f64 / OPS as f64;

        let mut map: hashbrown::HashMap<String, u64> =
            keys.iter().map(|k| (k.clone(), 0)).collect();
        let start = Instant::now();
        for &i in &order {
            if let Some(v) = map.get_mut(black_box(keys[i as usize].as_str())) {
                *v += 1;
            }
        }
        let map_ns = start.elapsed().as_nanos() as f64 / OPS as f64;
        black_box(&map);
        println!(
            "round {round}: Table::get_mut hit {table_ns:.1} ns/op; bare hashbrown get_mut {map_ns:.1} ns/op ({OPS} ops, {KEYS} keys)"
        );
    }
    // Same 5M hits over a 1k-key hot subset: the CPU cost of a hit once
    // the memory latency of a random 100k-key working set is taken away.
    let hot: Vec<u32> = order.iter().map(|i| i % 1000).collect();
    let start = Instant::now();
    for &i in &hot {
        *table.get_mut(&store, black_box(&keys[i as usize]))? += 1;
    }
    let hot_ns = start.elapsed().as_nanos() as f64 / OPS as f64;
    println!("hot set: Table::get_mut hit {hot_ns:.1} ns/op ({OPS} ops, 1000 keys)");
    println!("dirty after hits: {}", table.dirty_len());
    let mut batch = StateBatch::new();
    let start = Instant::now();
    let flushed = table.flush_into(&mut batch)?;
    println!("flush_into: {flushed} dirty entries in {:?}", start.elapsed());

    // The flush design point: ~1M cached keys, ~100k dirty per flush.
    let mut big = Table::<String, u64>::with_empty_backing(Family::VisitorSets);
    let big_keys: Vec<String> = (0..1_000_000).map(|i| format!("user-{i:010}")).collect();
    for key in &big_keys {
        *big.get_mut(&store, key)? += 1;
    }
    big.flush_into(&mut StateBatch::new())?;
    for key in big_keys.iter().step_by(10) {
        *big.get_mut(&store, key)? += 1;
    }
    let mut batch = StateBatch::new();
    let start = Instant::now();
    let flushed = big.flush_into(&mut batch)?;
    println!(
        "flush_into: {flushed} dirty of {} cached in {:?} ({} bytes batched)",
        big.len(),
        start.elapsed(),
        batch.data_bytes()
    );
    Ok(())
}
