//! What MVCC costs: the keyspace's persistent map (the hash trie) against a plain `HashMap` and
//! against `imbl`'s B-tree, which it replaced, with and without read views held while writing. Prints nanoseconds per operation; it is a measurement for
//! docs/decisions.md, not a test.
//!
//! Run: `cargo bench --bench keyspace` (`KEYSPACE_BENCH_KEYS` sets the key count).

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;

use bytes::Bytes;
use concord::store::hash_trie::HashTrie;
use imbl::OrdMap;
use xxhash_rust::xxh3::xxh3_64;

/// A fixed (seedless) hasher, as replicas need.
#[derive(Clone, Default)]
struct XxhBuild;

impl std::hash::BuildHasher for XxhBuild {
    type Hasher = xxhash_rust::xxh3::Xxh3;
    fn build_hasher(&self) -> Self::Hasher {
        xxhash_rust::xxh3::Xxh3::new()
    }
}

fn keys(count: usize) -> Vec<Bytes> {
    // A fixed permutation (multiplicative hashing) so that lookups do not walk in insert order.
    (0..count as u64)
        .map(|index| {
            Bytes::from(format!("key:{}", index.wrapping_mul(0x9E37_79B9_7F4A_7C15) % count as u64))
        })
        .collect()
}

fn report(name: &str, operations: usize, started: Instant) {
    let nanoseconds = started.elapsed().as_nanos() as f64 / operations as f64;
    println!("{name:<58} {nanoseconds:>8.0} ns/op");
}

fn main() {
    let count: usize = std::env::var("KEYSPACE_BENCH_KEYS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(1_000_000);
    let keys = keys(count);
    let value = Bytes::from_static(b"0123456789abcdef");
    println!("{count} keys, 16-byte values");

    let started = Instant::now();
    let mut plain: HashMap<Bytes, Bytes> = HashMap::new();
    for key in &keys {
        plain.insert(key.clone(), value.clone());
    }
    report("std HashMap insert (no views possible)", count, started);
    let started = Instant::now();
    for key in &keys {
        black_box(plain.get(key));
    }
    report("std HashMap get", count, started);

    let started = Instant::now();
    let mut persistent: OrdMap<(u64, Bytes), Bytes> = OrdMap::new();
    for key in &keys {
        persistent.insert((xxh3_64(key), key.clone()), value.clone());
    }
    report("imbl OrdMap by (hash, key) insert, no view held", count, started);
    let started = Instant::now();
    for key in &keys {
        black_box(persistent.get(&(xxh3_64(key), key.clone())));
    }
    report("imbl OrdMap get", count, started);

    let started = Instant::now();
    let mut trie: HashTrie<Bytes> = HashTrie::default();
    for key in &keys {
        trie.insert(xxh3_64(key), key, || key.clone(), value.clone());
    }
    report("HashTrie insert (the keyspace's map), no view held", count, started);
    let started = Instant::now();
    for key in &keys {
        black_box(trie.get(xxh3_64(key), key));
    }
    report("HashTrie get", count, started);
    let started = Instant::now();
    for key in &keys {
        trie.insert(xxh3_64(key), key, || key.clone(), value.clone());
    }
    report("HashTrie overwrite, no view held", count, started);
    let started = Instant::now();
    for key in &keys {
        persistent.insert((xxh3_64(key), key.clone()), value.clone());
    }
    report("imbl OrdMap overwrite, no view held", count, started);

    let started = Instant::now();
    let mut hamt: imbl::GenericHashMap<Bytes, Bytes, XxhBuild, imbl::shared_ptr::DefaultSharedPtr> =
        imbl::GenericHashMap::with_hasher(XxhBuild);
    for key in &keys {
        hamt.insert(key.clone(), value.clone());
    }
    report("imbl HashMap (HAMT, fixed hasher) insert, no view held", count, started);
    let started = Instant::now();
    for key in &keys {
        black_box(hamt.get(key));
    }
    report("imbl HashMap get", count, started);

    for writes_per_view in [1, 16, 256] {
        let mut map = persistent.clone();
        let mut view = map.clone();
        let started = Instant::now();
        for (written, key) in keys.iter().enumerate() {
            if written % writes_per_view == 0 {
                // Publishing a view: the next writes copy the paths they touch.
                view = map.clone();
            }
            map.insert((xxh3_64(key), key.clone()), value.clone());
        }
        black_box(&view);
        report(
            &format!("imbl OrdMap overwrite, a new view every {writes_per_view} writes"),
            count,
            started,
        );
    }

    for writes_per_view in [1, 16, 256] {
        let mut map = trie.clone();
        let mut view = map.clone();
        let started = Instant::now();
        for (written, key) in keys.iter().enumerate() {
            if written % writes_per_view == 0 {
                view = map.clone();
            }
            map.insert(xxh3_64(key), key, || key.clone(), value.clone());
        }
        black_box(&view);
        report(
            &format!("HashTrie overwrite, a new view every {writes_per_view} writes"),
            count,
            started,
        );
    }

    let started = Instant::now();
    for _ in 0..count {
        black_box(persistent.clone());
    }
    report("imbl OrdMap clone (taking a view)", count, started);
}
