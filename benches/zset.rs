//! The sorted set's costs at 1M members: ZADD, ZRANK, ZRANGE of 100 from the middle, ZPOPMIN,
//! and a ZADD while a read view holds the old version (the path copy MVCC pays). Prints
//! nanoseconds per operation; it is a measurement for docs/decisions.md, not a test.
//!
//! Run: `cargo bench --bench zset` (`ZSET_BENCH_MEMBERS` sets the member count).

use std::hint::black_box;
use std::time::Instant;

use bytes::Bytes;
use concord::store::SortedSet;

fn report(name: &str, operations: usize, started: Instant) {
    let nanoseconds = started.elapsed().as_nanos() as f64 / operations as f64;
    println!("{name:<56} {nanoseconds:>8.0} ns/op");
}

/// A fixed permutation of 0..count (multiplicative hashing), so inserts are not in order.
fn shuffled(count: usize) -> Vec<u64> {
    (0..count as u64)
        .map(|index| index.wrapping_mul(0x9E37_79B9_7F4A_7C15) % count as u64)
        .collect()
}

fn member(index: u64) -> Bytes {
    Bytes::from(format!("member:{index}"))
}

fn main() {
    let count: usize = std::env::var("ZSET_BENCH_MEMBERS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(1_000_000);
    let order = shuffled(count);
    let members: Vec<Bytes> = order.iter().map(|&index| member(index)).collect();
    println!("{count} members");

    let started = Instant::now();
    let mut set = SortedSet::new();
    for (member, &index) in members.iter().zip(&order) {
        set.insert(member.clone(), index as f64);
    }
    report("ZADD new member (building the set)", count, started);

    let lookups = 100_000.min(count);
    let started = Instant::now();
    for member in &members[..lookups] {
        black_box(set.score(member));
    }
    report("ZSCORE", lookups, started);

    let started = Instant::now();
    for member in &members[..lookups] {
        black_box(set.rank(member));
    }
    report("ZRANK", lookups, started);

    let ranges = 10_000;
    let started = Instant::now();
    for _ in 0..ranges {
        let page: Vec<(&Bytes, f64)> = set.iter_from(count / 2, false).take(100).collect();
        black_box(page);
    }
    report("ZRANGE 100 members from the middle", ranges, started);

    let updates = 100_000.min(count);
    let started = Instant::now();
    for (member, &index) in members[..updates].iter().zip(&order) {
        set.insert(member.clone(), index as f64 + 0.5);
    }
    report("ZADD existing member, no view held", updates, started);

    let started = Instant::now();
    let mut views = Vec::with_capacity(updates);
    for (member, &index) in members[..updates].iter().zip(&order) {
        views.push(set.clone());
        set.insert(member.clone(), index as f64 + 0.25);
    }
    report("ZADD existing member, a view of the old version held", updates, started);
    drop(views);

    let pops = 100_000.min(count);
    let started = Instant::now();
    for _ in 0..pops {
        black_box(set.pop(1, false));
    }
    report("ZPOPMIN", pops, started);
}
