//! Large values end to end: a hash, a list, a set and a sorted set of many elements each, built
//! through pipelines on the real binary, read back whole by range and by cursor, then deleted,
//! after which the memory they took must be given back.
//!
//! The size is `CONCORD_LARGE_ELEMENTS` elements per value: one million by default in an
//! optimized build (the project's test command, `cargo test --release`; about half a minute on
//! a loaded two-core machine), 200,000 in a debug build, where a million would take minutes.
//!
//! Memory: the log keeps its most recent records in a bounded cache (64 MiB by default), which
//! a large build fills and a delete does not empty. So after deleting, the test takes a
//! snapshot (SAVE), which lets the log drop every record below it, cache included; what is
//! left above the starting point must then be small.

mod support;

use std::collections::HashMap;
use std::thread;
use std::time::{Duration, Instant};

use support::servers::ServerProcess;

/// Elements per value, unless `CONCORD_LARGE_ELEMENTS` says otherwise.
const ELEMENTS_DEFAULT: usize = if cfg!(debug_assertions) { 200_000 } else { 1_000_000 };

/// Elements per command while building: large commands, but far below any request limit.
const ELEMENTS_PER_COMMAND: usize = 1_000;

/// Commands per pipeline while building.
const COMMANDS_PER_PIPELINE: usize = 20;

/// Elements per LRANGE or ZRANGE page, and the COUNT hint of each HSCAN and SSCAN page.
const PAGE_ELEMENTS: usize = 10_000;

/// How far above its value before the build `used_memory` may stay once the values are gone:
/// allocator caches and metadata, the connection's buffers, the log's bookkeeping. The four
/// values take well over a hundred megabytes at the default size, so a leak of any of them
/// shows.
const MEMORY_MARGIN_BYTES: i64 = 16 * 1024 * 1024;

/// While `used_memory` is further than this above its value before the build, the test keeps
/// waiting (up to `MEMORY_SETTLE_TIMEOUT`): freeing may still be going on, and a reading that
/// just crossed `MEMORY_MARGIN_BYTES` would make the test depend on timing.
const MEMORY_SETTLED_BYTES: i64 = 4 * 1024 * 1024;

/// How long to wait for freed memory to show in `used_memory`: deletion of a large value may
/// be finished off the apply path, and views that still share it are released when newer
/// ones are published. The assertion is on the amount, not on this time.
const MEMORY_SETTLE_TIMEOUT: Duration = Duration::from_secs(20);

fn element_count() -> usize {
    match std::env::var("CONCORD_LARGE_ELEMENTS") {
        Ok(text) => text.parse().expect("CONCORD_LARGE_ELEMENTS must be a number of elements"),
        Err(_) => ELEMENTS_DEFAULT,
    }
}

/// The `index`th element's name. Fixed width, so byte order is index order.
fn element(index: usize) -> String {
    format!("e{index:08}")
}

fn connect(server: &ServerProcess) -> redis::Connection {
    let client = redis::Client::open(format!("redis://{}/", server.address())).unwrap();
    let connection = client.get_connection().unwrap();
    connection.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    connection
}

fn used_memory(connection: &mut redis::Connection) -> i64 {
    let info: String = redis::cmd("INFO").arg("memory").query(connection).unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix("used_memory:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("INFO memory has no used_memory: {info}"))
}

/// Sends one command per chunk of `ELEMENTS_PER_COMMAND` elements, pipelined, and checks
/// that each added its whole chunk.
fn build(
    connection: &mut redis::Connection,
    count: usize,
    command: impl Fn(std::ops::Range<usize>) -> redis::Cmd,
) {
    let chunks: Vec<std::ops::Range<usize>> = (0..count)
        .step_by(ELEMENTS_PER_COMMAND)
        .map(|start| start..(start + ELEMENTS_PER_COMMAND).min(count))
        .collect();
    for batch in chunks.chunks(COMMANDS_PER_PIPELINE) {
        let mut pipeline = redis::pipe();
        for range in batch {
            pipeline.add_command(command(range.clone()));
        }
        let replies: Vec<i64> = pipeline.query(connection).unwrap();
        for (range, reply) in batch.iter().zip(replies) {
            // RPUSH answers with the new length, the others with how many were added.
            assert!(reply == range.len() as i64 || reply == range.end as i64, "{range:?}: {reply}");
        }
    }
}

fn build_all(connection: &mut redis::Connection, count: usize) {
    build(connection, count, |range| {
        let mut command = redis::cmd("HSET");
        command.arg("hash");
        for index in range {
            command.arg(element(index)).arg(index);
        }
        command
    });
    build(connection, count, |range| {
        let mut command = redis::cmd("RPUSH");
        command.arg("list");
        for index in range {
            command.arg(element(index));
        }
        command
    });
    build(connection, count, |range| {
        let mut command = redis::cmd("SADD");
        command.arg("set");
        for index in range {
            command.arg(element(index));
        }
        command
    });
    build(connection, count, |range| {
        let mut command = redis::cmd("ZADD");
        command.arg("zset");
        for index in range {
            command.arg(index).arg(element(index));
        }
        command
    });
}

/// LRANGE or ZRANGE page by page: every element, in index order.
fn read_by_range(connection: &mut redis::Connection, command: &str, key: &str, count: usize) {
    let mut start = 0;
    while start < count {
        let stop = (start + PAGE_ELEMENTS).min(count) - 1;
        let page: Vec<String> =
            redis::cmd(command).arg(key).arg(start).arg(stop).query(connection).unwrap();
        assert_eq!(page.len(), stop + 1 - start, "{command} {key} {start} {stop}");
        for (offset, found) in page.iter().enumerate() {
            assert_eq!(*found, element(start + offset), "{command} {key} at {}", start + offset);
        }
        start = stop + 1;
    }
}

/// HSCAN or SSCAN to the end: how many times each element was returned, and with which value.
fn scan_all(
    connection: &mut redis::Connection,
    command: &str,
    key: &str,
) -> HashMap<String, (usize, Option<String>)> {
    let with_values = command == "HSCAN";
    let mut seen: HashMap<String, (usize, Option<String>)> = HashMap::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, items): (u64, Vec<String>) = redis::cmd(command)
            .arg(key)
            .arg(cursor)
            .arg("COUNT")
            .arg(PAGE_ELEMENTS)
            .query(connection)
            .unwrap();
        let step = if with_values { 2 } else { 1 };
        for pair in items.chunks(step) {
            let entry = seen.entry(pair[0].clone()).or_default();
            entry.0 += 1;
            entry.1 = pair.get(1).cloned();
        }
        if next == 0 {
            return seen;
        }
        cursor = next;
    }
}

fn check_scan(connection: &mut redis::Connection, command: &str, key: &str, count: usize) {
    let seen = scan_all(connection, command, key);
    assert_eq!(seen.len(), count, "{command} {key} must return every element");
    for index in 0..count {
        let name = element(index);
        let (times, value) = seen.get(&name).unwrap_or_else(|| panic!("{command}: {name} missing"));
        assert_eq!(*times, 1, "{command} {key} returned {name} {times} times");
        if command == "HSCAN" {
            assert_eq!(value.as_deref(), Some(index.to_string().as_str()), "HSCAN value of {name}");
        }
    }
}

#[test]
fn large_values_are_built_read_whole_and_their_memory_freed() {
    let count = element_count();
    let server = ServerProcess::start_concord();
    let mut connection = connect(&server);
    let before = used_memory(&mut connection);

    let started = Instant::now();
    build_all(&mut connection, count);
    let built = used_memory(&mut connection);
    let build_time = started.elapsed();

    for (command, key) in [("LLEN", "list"), ("HLEN", "hash"), ("SCARD", "set"), ("ZCARD", "zset")]
    {
        let length: usize = redis::cmd(command).arg(key).query(&mut connection).unwrap();
        assert_eq!(length, count, "{command} {key}");
    }
    read_by_range(&mut connection, "LRANGE", "list", count);
    read_by_range(&mut connection, "ZRANGE", "zset", count);
    check_scan(&mut connection, "HSCAN", "hash", count);
    check_scan(&mut connection, "SSCAN", "set", count);

    let deleted: i64 =
        redis::cmd("DEL").arg(&["hash", "list", "set", "zset"]).query(&mut connection).unwrap();
    assert_eq!(deleted, 4);
    let saved: String = redis::cmd("SAVE").query(&mut connection).unwrap();
    assert_eq!(saved, "OK", "SAVE lets the log drop its cached records (see the module docs)");
    let deadline = Instant::now() + MEMORY_SETTLE_TIMEOUT;
    let mut after = used_memory(&mut connection);
    while after - before > MEMORY_SETTLED_BYTES && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(200));
        // A read publishes a newer view, which lets go of the values the old one shared.
        let _: i64 = redis::cmd("DBSIZE").query(&mut connection).unwrap();
        after = used_memory(&mut connection);
    }
    eprintln!(
        "{count} elements per value: built in {build_time:?}, used_memory {before} before, \
         {built} built, {after} after deleting"
    );
    assert!(
        built - before > MEMORY_MARGIN_BYTES || count < 100_000,
        "building four values of {count} elements must show in used_memory \
         ({before} before, {built} after)"
    );
    assert!(
        after - before <= MEMORY_MARGIN_BYTES,
        "used_memory must fall back to within {MEMORY_MARGIN_BYTES} bytes of {before} after \
         deleting the values; it is {after} ({built} with them)"
    );
}
