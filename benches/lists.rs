//! What a persistent list costs: Concord's `ListValue` (an `imbl::Vector`) against a plain
//! `VecDeque`, for the operations list commands are made of, with and without an MVCC view
//! holding the old version. Prints nanoseconds per operation; it is a measurement for
//! docs/decisions.md, not a test.
//!
//! Run: `cargo bench --bench lists` (`LISTS_BENCH_ELEMENTS` sets the list length).

use std::collections::VecDeque;
use std::hint::black_box;
use std::time::Instant;

use bytes::Bytes;
use concord::command::lists::ListEnd;
use concord::store::ListValue;

fn report(name: &str, operations: usize, started: Instant) {
    let nanoseconds = started.elapsed().as_nanos() as f64 / operations as f64;
    println!("{name:<62} {nanoseconds:>10.0} ns/op");
}

fn element(index: usize) -> Bytes {
    Bytes::from(format!("element:{index:08}"))
}

fn main() {
    let length: usize = std::env::var("LISTS_BENCH_ELEMENTS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(1_000_000);
    let elements: Vec<Bytes> = (0..length).map(element).collect();
    println!("lists of {length} elements of 16 bytes");

    let started = Instant::now();
    let mut list = ListValue::new();
    for (index, element) in elements.iter().enumerate() {
        let end = if index % 2 == 0 { ListEnd::Left } else { ListEnd::Right };
        list.push(end, element.clone());
    }
    report("ListValue push, alternating ends, no view", length, started);
    let started = Instant::now();
    let mut deque = VecDeque::new();
    for (index, element) in elements.iter().enumerate() {
        if index % 2 == 0 {
            deque.push_front(element.clone());
        } else {
            deque.push_back(element.clone());
        }
    }
    report("VecDeque push, alternating ends (no views possible)", length, started);

    let lookups = 100_000;
    let started = Instant::now();
    for round in 0..lookups {
        black_box(list.get((length / 2 + round % 1000) as i64));
    }
    report("ListValue LINDEX middle", lookups, started);
    let started = Instant::now();
    for round in 0..lookups {
        black_box(deque.get(length / 2 + round % 1000));
    }
    report("VecDeque index middle", lookups, started);

    let ranges = 10_000;
    for (name, start) in [("head", 0), ("middle", length / 2)] {
        let started = Instant::now();
        for round in 0..ranges {
            let start = (start + round % 1000) as i64;
            let taken: Vec<Bytes> = list.range(start, start + 99).cloned().collect();
            black_box(taken);
        }
        report(&format!("ListValue LRANGE 100 from the {name}"), ranges, started);
    }
    let started = Instant::now();
    for round in 0..ranges {
        let start = length / 2 + round % 1000;
        let taken: Vec<Bytes> = deque.range(start..start + 100).cloned().collect();
        black_box(taken);
    }
    report("VecDeque range 100 from the middle", ranges, started);

    for writes_per_view in [1, 16, 256] {
        let mut current = list.clone();
        let mut view = current.clone();
        let operations = length.min(200_000);
        let started = Instant::now();
        for (round, element) in elements.iter().take(operations).enumerate() {
            if round % writes_per_view == 0 {
                // Publishing a view: the next writes copy the paths they touch.
                view = current.clone();
            }
            let end = if round % 2 == 0 { ListEnd::Left } else { ListEnd::Right };
            current.push(end, element.clone());
            black_box(current.pop(end));
        }
        black_box(&view);
        report(
            &format!("ListValue push+pop, a new view every {writes_per_view} writes"),
            operations,
            started,
        );
    }

    let mut current = list.clone();
    let operations = length.min(100_000);
    let started = Instant::now();
    for (round, element) in elements.iter().take(operations).enumerate() {
        let view = current.clone();
        current.set((length / 2 + round % 1000) as i64, element.clone());
        black_box(view);
    }
    report("ListValue LSET middle, a new view before every write", operations, started);

    let copies = 5;
    let started = Instant::now();
    for _ in 0..copies {
        black_box(deque.clone());
    }
    report("VecDeque clone (what a view of a plain list would cost)", copies, started);

    let operations = 100_000;
    let started = Instant::now();
    for _ in 0..operations {
        black_box(list.clone());
    }
    report("ListValue clone (taking a view)", operations, started);
}
