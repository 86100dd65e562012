//! What a hash or set representation costs: the chosen `Members` (a hash-ordered persistent map
//! plus a dense persistent vector for random choice) against the map alone and against a
//! persistent hash set with a fixed hasher. Prints nanoseconds per operation; it is a
//! measurement for docs/decisions.md, not a test.
//!
//! Run: `cargo bench --bench collections` (`COLLECTIONS_BENCH_MEMBERS` sets the size).

use std::hash::BuildHasherDefault;
use std::hint::black_box;
use std::time::Instant;

use bytes::Bytes;
use concord::state_machine::Random;
use concord::store::{scan_position, Members};
use imbl::{GenericHashSet, OrdMap};
use xxhash_rust::xxh3::Xxh3;

type FixedHashSet =
    GenericHashSet<Bytes, BuildHasherDefault<Xxh3>, imbl::shared_ptr::DefaultSharedPtr>;

fn members(count: usize) -> Vec<Bytes> {
    (0..count as u64)
        .map(|index| {
            Bytes::from(format!(
                "member:{}",
                index.wrapping_mul(0x9E37_79B9_7F4A_7C15) % count as u64
            ))
        })
        .collect()
}

fn report(name: &str, operations: usize, started: Instant) {
    let nanoseconds = started.elapsed().as_nanos() as f64 / operations as f64;
    println!("{name:<64} {nanoseconds:>8.0} ns/op");
}

/// Inserts, then overwrites every member while a view taken every 16 writes holds the old
/// version, then removes and re-adds every member under the same views.
fn measure_members(names: &[Bytes]) {
    let count = names.len();
    let started = Instant::now();
    let mut set: Members<()> = Members::default();
    for name in names {
        set.insert(name, ());
    }
    report("Members insert (map + dense vector)", count, started);
    let started = Instant::now();
    for name in names {
        black_box(set.get(name));
    }
    report("Members lookup", count, started);
    let started = Instant::now();
    let mut view = set.clone();
    for (written, name) in names.iter().enumerate() {
        if written % 16 == 0 {
            view = set.clone();
        }
        set.remove(name);
        set.insert(name, ());
    }
    black_box(&view);
    report("Members remove + re-add, a view every 16 writes", count, started);
    let mut random = Random::from_seed(1);
    let started = Instant::now();
    for _ in 0..count {
        black_box(set.at(random.below(set.len() as u64) as usize));
    }
    report("Members uniform random member", count, started);
}

fn measure_map_only(names: &[Bytes]) {
    let count = names.len();
    let key = |name: &Bytes| (scan_position(name), name.clone());
    let started = Instant::now();
    let mut map: OrdMap<(u64, Bytes), ()> = OrdMap::new();
    for name in names {
        map.insert(key(name), ());
    }
    report("OrdMap by (hash, member) insert", count, started);
    let started = Instant::now();
    for name in names {
        black_box(map.get(&key(name)));
    }
    report("OrdMap lookup", count, started);
    let started = Instant::now();
    let mut view = map.clone();
    for (written, name) in names.iter().enumerate() {
        if written % 16 == 0 {
            view = map.clone();
        }
        map.remove(&key(name));
        map.insert(key(name), ());
    }
    black_box(&view);
    report("OrdMap remove + re-add, a view every 16 writes", count, started);
    let mut random = Random::from_seed(1);
    let started = Instant::now();
    for _ in 0..count {
        // The successor of a random hash: O(log n) but biased by the gaps between hashes.
        let start = (random.next_u64(), Bytes::new());
        black_box(map.range(start..).next().or_else(|| map.iter().next()));
    }
    report("OrdMap successor of a random hash (not uniform)", count, started);
}

fn measure_hash_set(names: &[Bytes]) {
    let count = names.len();
    let started = Instant::now();
    let mut set = FixedHashSet::default();
    for name in names {
        set.insert(name.clone());
    }
    report("imbl HashSet (xxh3, no seed) insert", count, started);
    let started = Instant::now();
    for name in names {
        black_box(set.contains(name));
    }
    report("imbl HashSet lookup", count, started);
    let started = Instant::now();
    let mut view = set.clone();
    for (written, name) in names.iter().enumerate() {
        if written % 16 == 0 {
            view = set.clone();
        }
        set.remove(name);
        set.insert(name.clone());
    }
    black_box(&view);
    report("imbl HashSet remove + re-add, a view every 16 writes", count, started);
    let mut random = Random::from_seed(1);
    let draws = 100.min(count);
    let started = Instant::now();
    for _ in 0..draws {
        // No positional access: a uniform choice walks the iterator, O(n).
        black_box(set.iter().nth(random.below(set.len() as u64) as usize));
    }
    report("imbl HashSet uniform random member (iterate to the nth)", draws, started);
}

fn main() {
    let count: usize = std::env::var("COLLECTIONS_BENCH_MEMBERS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(1_000_000);
    let names = members(count);
    println!("{count} members of about 14 bytes");
    measure_members(&names);
    measure_map_only(&names);
    measure_hash_set(&names);
}
