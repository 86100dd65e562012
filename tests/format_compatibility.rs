//! Format compatibility: every data directory under `tests/fixtures/format/` was written by an
//! earlier release of Concord; this build must open each one and serve exactly the keyspace
//! that the fixture's `expected.txt` records (every key, type, encoding, value and absolute
//! expiry, per database).
//!
//! A fixture is never edited. A release that changes any persisted byte adds a new fixture
//! (see `tests/fixtures/format/README.md`); the ignored test [`write_fixture`] makes one with
//! the binary being built:
//!
//! ```text
//! CONCORD_FORMAT_FIXTURE=v2-snapshot cargo test --release --test format_compatibility \
//!     -- --ignored write_fixture
//! ```
//!
//! The dump format (one line per live key, sorted by database then key; see
//! [`dump_keyspace`]):
//!
//! ```text
//! <db> <key> <type> <encoding> <expire-at-ms or -> <value tokens...>
//! ```
//!
//! Tokens are separated by one space and escaped: bytes outside printable ASCII, the
//! backslash and the space are written `\xHH`. A string's value is one token; a list's, its
//! items in order; a set's, its members sorted; a hash's, field and value pairs sorted by
//! field; a sorted set's, member and score pairs in rank order (scores as the server prints
//! them).

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::servers::{copy_directory, ServerProcess};

/// The numbered databases a node has.
const DATABASES: i64 = 16;

/// An absolute expiry far in the future (2100-01-01T00:00:00Z), so a fixture's keys are live
/// whenever the test runs.
const FAR_FUTURE_MS: i64 = 4_102_444_800_000;

fn fixtures_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/format")
}

/// Every fixture directory: each holds `data/` (a data directory) and `expected.txt`.
fn fixtures() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(fixtures_root())
        .expect("tests/fixtures/format exists")
        .map(|entry| entry.expect("a directory entry can be read").path())
        .filter(|path| path.join("data").is_dir())
        .collect();
    found.sort();
    found
}

#[test]
fn every_fixture_opens_with_its_keyspace_intact() {
    let fixtures = fixtures();
    assert!(!fixtures.is_empty(), "no fixture under {}", fixtures_root().display());
    for fixture in fixtures {
        let expected = std::fs::read_to_string(fixture.join("expected.txt"))
            .unwrap_or_else(|error| panic!("{}: no expected.txt: {error}", fixture.display()));
        let server = ServerProcess::start_concord_on_copy_of(&fixture.join("data"), &[]);
        let mut client = client_when_serving(&server);
        let actual = dump_keyspace(&mut client);
        if actual != expected {
            let diff = first_difference(&expected, &actual);
            panic!(
                "fixture {} does not open as it was written; first difference:\n{diff}\n{}",
                fixture.display(),
                server.log_tail()
            );
        }
        // The key that had expired by its stored time before the node stopped stays gone.
        let expired: i64 = redis::cmd("EXISTS")
            .arg("gone:expired")
            .query(&mut select(&mut client, 1))
            .expect("EXISTS answers");
        assert_eq!(expired, 0, "{}: an expired key came back", fixture.display());
        // The directory still accepts writes after being opened by this build.
        let reply: String =
            redis::cmd("SET").arg("after-open").arg("1").query(&mut client).expect("SET works");
        assert_eq!(reply, "OK");
    }
}

/// A connection to a node that has recovered and serves reads (a node answers PING before
/// its first election ends, so the first read is retried).
fn client_when_serving(server: &ServerProcess) -> redis::Connection {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut client = server.client();
        match redis::cmd("DBSIZE").query::<i64>(&mut client) {
            Ok(_) => return client,
            Err(error) if Instant::now() > deadline => {
                panic!("the node never served DBSIZE: {error}\n{}", server.log_tail())
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

fn select(client: &mut redis::Connection, db: i64) -> &mut redis::Connection {
    redis::cmd("SELECT").arg(db).query::<()>(client).expect("SELECT works");
    client
}

/// The whole keyspace in the documented text form.
fn dump_keyspace(client: &mut redis::Connection) -> String {
    let mut out = String::new();
    for db in 0..DATABASES {
        select(client, db);
        let mut keys: Vec<Vec<u8>> =
            redis::cmd("KEYS").arg("*").query(client).expect("KEYS answers");
        keys.sort();
        for key in keys {
            out.push_str(&dump_key(client, db, &key));
            out.push('\n');
        }
    }
    select(client, 0);
    for (sha, _) in FIXTURE_SCRIPTS {
        let exists: Vec<i64> =
            redis::cmd("SCRIPT").arg("EXISTS").arg(sha).query(client).expect("SCRIPT answers");
        if exists == [1] {
            out.push_str(&format!("script {sha}\n"));
        }
    }
    for (library, code) in FIXTURE_LIBRARIES {
        let listed: Vec<redis::Value> = redis::cmd("FUNCTION")
            .arg("LIST")
            .arg("LIBRARYNAME")
            .arg(library)
            .arg("WITHCODE")
            .query(client)
            .expect("FUNCTION LIST answers");
        if listed.is_empty() {
            continue;
        }
        let function = format!("{library}_get");
        let called: Option<Vec<u8>> =
            redis::cmd("FCALL").arg(&function).arg(1).arg("tail:int").query(client).expect("FCALL");
        let called = called.map(|value| escape(&value)).unwrap_or_else(|| "nil".into());
        out.push_str(&format!("function {library} {} {called}\n", escape(code.as_bytes())));
    }
    out
}

/// The function libraries a fixture holds (from `v1-functions` on): one loaded before the
/// snapshot, one in the log tail, each with a `<library>_get` function that FCALL runs on the
/// reopened node. The dump names those the node has, so an older fixture dumps as it did.
const FIXTURE_LIBRARIES: [(&str, &str); 2] = [
    (
        "fixture_snapshot",
        "#!lua name=fixture_snapshot\nredis.register_function{function_name='fixture_snapshot_get', \
         callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}}",
    ),
    (
        "fixture_tail",
        "#!lua name=fixture_tail\nredis.register_function('fixture_tail_get', \
         function(keys) return redis.call('get', keys[1]) end)",
    ),
];

/// The scripts a fixture caches (from `v1-scripts` on): one loaded before the snapshot, one run
/// by EVAL in the log tail. The dump names those the node has, so an older fixture (which has
/// neither) dumps as it always did.
const FIXTURE_SCRIPTS: [(&str, &str); 2] = [
    ("4e6d8fc8bb01276962cce5371fa795a7763657ae", "return redis.call('get', KEYS[1])"),
    ("2bab3b661081db58bd2341920e0ba7cf5dc77b25", "return redis.call('incr', KEYS[1])"),
];

fn dump_key(client: &mut redis::Connection, db: i64, key: &[u8]) -> String {
    let kind: String = redis::cmd("TYPE").arg(key).query(client).expect("TYPE answers");
    let encoding: String =
        redis::cmd("OBJECT").arg("ENCODING").arg(key).query(client).expect("OBJECT answers");
    let expire_at_ms: i64 =
        redis::cmd("PEXPIRETIME").arg(key).query(client).expect("PEXPIRETIME answers");
    let expiry = if expire_at_ms < 0 { "-".to_string() } else { expire_at_ms.to_string() };
    let tokens: Vec<Vec<u8>> = match kind.as_str() {
        "string" => vec![redis::cmd("GET").arg(key).query(client).expect("GET answers")],
        "list" => redis::cmd("LRANGE").arg(key).arg(0).arg(-1).query(client).expect("LRANGE"),
        "set" => {
            let mut members: Vec<Vec<u8>> =
                redis::cmd("SMEMBERS").arg(key).query(client).expect("SMEMBERS answers");
            members.sort();
            members
        }
        "hash" => {
            let mut pairs: Vec<(Vec<u8>, Vec<u8>)> =
                redis::cmd("HGETALL").arg(key).query(client).expect("HGETALL answers");
            pairs.sort();
            pairs.into_iter().flat_map(|(field, value)| [field, value]).collect()
        }
        "zset" => redis::cmd("ZRANGE")
            .arg(key)
            .arg(0)
            .arg(-1)
            .arg("WITHSCORES")
            .query(client)
            .expect("ZRANGE answers"),
        // Every entry, then the groups, consumers and pending entries with their stored
        // times and counts: XINFO STREAM FULL with no limit, flattened.
        "stream" => {
            let full: redis::Value = redis::cmd("XINFO")
                .arg("STREAM")
                .arg(key)
                .arg("FULL")
                .arg("COUNT")
                .arg(0)
                .query(client)
                .expect("XINFO STREAM answers");
            let mut tokens = Vec::new();
            flatten(&full, &mut tokens);
            tokens
        }
        other => panic!("a key of unknown type {other}"),
    };
    let mut line = format!("{db} {} {kind} {encoding} {expiry}", escape(key));
    for token in tokens {
        line.push(' ');
        line.push_str(&escape(&token));
    }
    line
}

/// A reply's leaves in order, as text (nil as `-`), for the dump of a stream.
fn flatten(value: &redis::Value, out: &mut Vec<Vec<u8>>) {
    match value {
        redis::Value::BulkString(bytes) => out.push(bytes.clone()),
        redis::Value::Int(number) => out.push(number.to_string().into_bytes()),
        redis::Value::SimpleString(text) => out.push(text.clone().into_bytes()),
        redis::Value::Nil => out.push(b"-".to_vec()),
        redis::Value::Array(items) => items.iter().for_each(|item| flatten(item, out)),
        redis::Value::Map(pairs) => pairs.iter().for_each(|(key, item)| {
            flatten(key, out);
            flatten(item, out);
        }),
        other => panic!("an XINFO reply of unexpected shape {other:?}"),
    }
}

fn escape(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &byte in bytes {
        if byte.is_ascii_graphic() && byte != b'\\' {
            out.push(byte as char);
        } else {
            out.push_str(&format!("\\x{byte:02x}"));
        }
    }
    out
}

fn first_difference(expected: &str, actual: &str) -> String {
    let mut expected_lines = expected.lines();
    let mut actual_lines = actual.lines();
    loop {
        match (expected_lines.next(), actual_lines.next()) {
            (Some(want), Some(got)) if want == got => continue,
            (want, got) => {
                let cut = |line: Option<&str>| {
                    line.map(|line| line.chars().take(300).collect::<String>())
                        .unwrap_or_else(|| "(end)".into())
                };
                return format!("expected: {}\nactual:   {}", cut(want), cut(got));
            }
        }
    }
}

/// Writes a new fixture with the binary being built: a snapshot (SAVE) of every value type in
/// every encoding, then a log tail with more writes, a MULTI/EXEC transaction, expiring keys
/// and blocked clients, then SIGKILL (so the tail is left as a crash leaves it).
#[test]
#[ignore = "writes a fixture; run by hand when the format changes (see the README)"]
fn write_fixture() {
    let name = std::env::var("CONCORD_FORMAT_FIXTURE")
        .expect("set CONCORD_FORMAT_FIXTURE to the new fixture's name");
    let target = fixtures_root().join(&name);
    assert!(!target.exists(), "{} exists; fixtures are never rewritten", target.display());
    let mut server = ServerProcess::start_concord();
    server.wait_until_accepting_writes().expect("the node accepts writes");
    let mut client = server.client();
    write_snapshot_part(&mut client);
    // A client blocked when the snapshot is taken: its waiter is in the snapshot.
    let mut blocked_in_snapshot = server.raw();
    send(&mut blocked_in_snapshot, &["SELECT", "3"]);
    send(&mut blocked_in_snapshot, &["BLPOP", "wait:snapshot", "0"]);
    // A subscriber of a channel and a pattern: its subscriptions are in the snapshot (version
    // 4's subscriber table).
    let mut subscribed_in_snapshot = server.raw();
    send(&mut subscribed_in_snapshot, &["SUBSCRIBE", "channel:snapshot"]);
    send(&mut subscribed_in_snapshot, &["PSUBSCRIBE", "pattern:*"]);
    std::thread::sleep(Duration::from_millis(300));
    // Stream readers blocked when the snapshot is taken (`BlockingPop::Streams` and
    // `StreamGroup` in its waiters); the tail serves the last one.
    let stream_readers_in_snapshot = block_stream_readers(&server, &mut client, SNAPSHOT_READERS);
    // A script in the cache when the snapshot is taken (version 5's script cache).
    run(&mut client, &["SCRIPT", "LOAD", FIXTURE_SCRIPTS[0].1]);
    // A function library when the snapshot is taken (version 6's libraries).
    run(&mut client, &["FUNCTION", "LOAD", FIXTURE_LIBRARIES[0].1]);
    run(&mut client, &["SAVE"]);
    write_tail_part(&mut client);
    write_stream_tail_part(&mut client);
    // A script cached by EVAL in the log tail.
    run(&mut client, &["EVAL", FIXTURE_SCRIPTS[1].1, "1", "tail:int"]);
    // A function library loaded in the log tail.
    run(&mut client, &["FUNCTION", "LOAD", FIXTURE_LIBRARIES[1].1]);
    // A client blocked in the log tail.
    let mut blocked_in_tail = server.raw();
    send(&mut blocked_in_tail, &["SELECT", "2"]);
    send(&mut blocked_in_tail, &["BLPOP", "wait:tail", "0"]);
    // A subscriber in the log tail.
    let mut subscribed_in_tail = server.raw();
    send(&mut subscribed_in_tail, &["SUBSCRIBE", "channel:tail"]);
    std::thread::sleep(Duration::from_millis(300));
    // Stream readers blocked in the log tail, and an entry that serves a snapshot's reader.
    let stream_readers_in_tail = block_stream_readers(&server, &mut client, TAIL_READERS);
    run(&mut client, &["XADD", "stream:served", "5-0", "served", "in-tail"]);
    let expected = dump_keyspace(&mut client);
    server.kill();
    drop((blocked_in_snapshot, blocked_in_tail, subscribed_in_snapshot, subscribed_in_tail));
    drop((stream_readers_in_snapshot, stream_readers_in_tail));
    copy_directory(&server.data_directory(), &target.join("data"));
    std::fs::write(target.join("expected.txt"), expected).expect("expected.txt is written");
}

/// The stream readers blocked before the snapshot (in fixtures from `v1-stream-waiters` on):
/// the commands that make their streams and groups, then each reader's command. XREAD waits
/// after `$` on a stream with no entries and on a missing one; XREADGROUP with COUNT on an
/// empty group, and with NOACK on the stream that the log tail serves.
const SNAPSHOT_READERS: StreamReaders = StreamReaders {
    setup: &[
        "XGROUP CREATE stream:waited readers $ MKSTREAM",
        "XGROUP CREATE stream:served readers $ MKSTREAM",
    ],
    readers: &[
        "XREAD COUNT 2 BLOCK 0 STREAMS stream:waited stream:absent $ $",
        "XREADGROUP GROUP readers erin COUNT 3 BLOCK 0 STREAMS stream:waited >",
        "XREADGROUP GROUP readers frank NOACK BLOCK 0 STREAMS stream:served >",
    ],
};

/// The stream readers blocked in the log tail: XREAD after an explicit id of a missing stream,
/// XREADGROUP of two streams in groups made in the tail.
const TAIL_READERS: StreamReaders = StreamReaders {
    setup: &[
        "XGROUP CREATE stream:waited-tail tailers $ MKSTREAM",
        "XGROUP CREATE stream:waited tailers $",
    ],
    readers: &[
        "XREAD BLOCK 0 STREAMS stream:absent-tail 7-0",
        "XREADGROUP GROUP tailers gina BLOCK 0 STREAMS stream:waited-tail stream:waited > >",
    ],
};

/// Streams and groups to make, and the blocked stream reads to send, one client each: each a
/// command line, its words split at spaces.
struct StreamReaders {
    setup: &'static [&'static str],
    readers: &'static [&'static str],
}

/// Makes `readers`' streams and groups, sends each blocking read on a connection of its own,
/// and waits until the node counts every one of them blocked; returns the connections.
fn block_stream_readers(
    server: &ServerProcess,
    client: &mut redis::Connection,
    readers: StreamReaders,
) -> Vec<std::net::TcpStream> {
    for command in readers.setup {
        run(client, &command.split(' ').collect::<Vec<_>>());
    }
    let before = blocked_clients(client);
    let connections: Vec<std::net::TcpStream> = readers
        .readers
        .iter()
        .map(|command| {
            let mut connection = server.raw();
            send(&mut connection, &command.split(' ').collect::<Vec<_>>());
            connection
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while blocked_clients(client) < before + readers.readers.len() as i64 {
        assert!(Instant::now() < deadline, "the stream readers never all blocked");
        std::thread::sleep(Duration::from_millis(20));
    }
    connections
}

/// INFO's `blocked_clients`.
fn blocked_clients(client: &mut redis::Connection) -> i64 {
    let info: String = redis::cmd("INFO").arg("clients").query(client).expect("INFO answers");
    info.lines()
        .find_map(|line| line.strip_prefix("blocked_clients:")?.trim().parse().ok())
        .expect("INFO clients has blocked_clients")
}

fn send(stream: &mut std::net::TcpStream, words: &[&str]) {
    let mut request = format!("*{}\r\n", words.len()).into_bytes();
    for word in words {
        request.extend_from_slice(format!("${}\r\n{word}\r\n", word.len()).as_bytes());
    }
    stream.write_all(&request).expect("the request is sent");
}

fn run(client: &mut redis::Connection, words: &[&str]) -> redis::Value {
    let mut command = redis::cmd(words[0]);
    for word in &words[1..] {
        command.arg(*word);
    }
    command.query(client).unwrap_or_else(|error| panic!("{words:?} failed: {error}"))
}

fn run_bytes(client: &mut redis::Connection, words: &[&[u8]]) {
    let mut command = redis::cmd(std::str::from_utf8(words[0]).expect("a command name"));
    for word in &words[1..] {
        command.arg(*word);
    }
    command.query::<redis::Value>(client).expect("the command works");
}

/// Values of every type in every encoding, in several databases, some with expiries.
fn write_snapshot_part(client: &mut redis::Connection) {
    let far = FAR_FUTURE_MS.to_string();
    select(client, 0);
    run(client, &["SET", "string:int", "12345"]);
    run(client, &["SET", "string:negative-int", "-9007199254740993"]);
    run(client, &["SET", "string:embstr", "hello world"]);
    run(client, &["SET", "string:raw", &"raw-".repeat(30)]);
    run_bytes(client, &[b"SET", b"string:binary \x00\xff", b"\x00\x01\r\n\xfe\xff bytes"]);
    run(client, &["SET", "string:expiring", "soon-ish", "PXAT", &far]);
    run(client, &["RPUSH", "list:small", "a", "b", "c", "12"]);
    let items: Vec<String> = (0..300).map(|index| format!("item-{index}")).collect();
    let mut words = vec!["RPUSH", "list:large"];
    words.extend(items.iter().map(String::as_str));
    run(client, &words);
    run(client, &["HSET", "hash:small", "field", "value", "number", "42"]);
    let mut words = vec!["HSET", "hash:large"];
    let fields: Vec<String> = (0..200).map(|index| format!("f{index}")).collect();
    for field in &fields {
        words.push(field);
        words.push(field);
    }
    run(client, &words);
    run(client, &["SADD", "set:intset", "1", "-5", "300", "70000", "-2147483649"]);
    run(client, &["SADD", "set:small-strings", "apple", "banana", "cherry"]);
    let numbers: Vec<String> = (0..600).map(|number| (number * 7).to_string()).collect();
    let mut words = vec!["SADD", "set:large-ints"];
    words.extend(numbers.iter().map(String::as_str));
    run(client, &words);
    let mut words = vec!["SADD", "set:large-strings"];
    words.extend(items.iter().take(200).map(String::as_str));
    run(client, &words);
    run(client, &["ZADD", "zset:small", "1", "one", "2.5", "two-and-a-half", "-3", "minus"]);
    run(client, &["ZADD", "zset:small", "inf", "top", "-inf", "bottom"]);
    let mut words = vec!["ZADD", "zset:large"];
    let scores: Vec<String> = (0..200).map(|index| format!("{}.25", index - 100)).collect();
    for (score, member) in scores.iter().zip(&items) {
        words.push(score);
        words.push(member);
    }
    run(client, &words);
    run(client, &["PEXPIREAT", "list:small", &far]);
    run(client, &["PEXPIREAT", "zset:large", &far]);
    select(client, 1);
    run(client, &["SET", "db1:string", "in database one"]);
    run(client, &["HSET", "db1:hash", "a", "1"]);
    run(client, &["PEXPIREAT", "db1:hash", &(FAR_FUTURE_MS + 1).to_string()]);
    select(client, 15);
    run(client, &["SET", "db15:last", "the last database"]);
    run(client, &["SADD", "db15:set", "x"]);
    select(client, 0);
    write_stream_snapshot_part(client);
}

/// A stream with a consumer group, two consumers and pending entries (in fixtures written after
/// `v1-scripts`; older ones have no stream, and the dump lists only the keys there are).
fn write_stream_snapshot_part(client: &mut redis::Connection) {
    run(client, &["XADD", "stream:snapshot", "1-0", "f", "v"]);
    run(client, &["XADD", "stream:snapshot", "2-0", "f", "w"]);
    run(client, &["XADD", "stream:snapshot", "3-0", "g", "x", "h", "y"]);
    run(client, &["XDEL", "stream:snapshot", "2-0"]);
    run(client, &["XGROUP", "CREATE", "stream:snapshot", "group", "0"]);
    run(
        client,
        &["XREADGROUP", "GROUP", "group", "alice", "COUNT", "1", "STREAMS", "stream:snapshot", ">"],
    );
    run(client, &["XREADGROUP", "GROUP", "group", "bob", "STREAMS", "stream:snapshot", ">"]);
}

/// The log tail's stream writes: an id made by `*`, a new group, a claim and an XACK.
fn write_stream_tail_part(client: &mut redis::Connection) {
    run(client, &["XADD", "stream:snapshot", "*", "tail", "entry"]);
    run(client, &["XGROUP", "CREATE", "stream:tail", "other", "$", "MKSTREAM"]);
    run(client, &["XADD", "stream:tail", "MAXLEN", "5", "1-1", "a", "b"]);
    run(client, &["XREADGROUP", "GROUP", "other", "carol", "STREAMS", "stream:tail", ">"]);
    run(client, &["XCLAIM", "stream:snapshot", "group", "carol", "0", "3-0"]);
    run(client, &["XACK", "stream:snapshot", "group", "1-0"]);
}

/// Writes after the snapshot: they exist only in the log tail.
fn write_tail_part(client: &mut redis::Connection) {
    select(client, 0);
    run(client, &["SET", "tail:int", "7"]);
    run(client, &["INCRBY", "string:int", "5"]);
    run(client, &["APPEND", "string:embstr", "!"]);
    run(client, &["LPUSH", "list:large", "pushed-in-tail"]);
    run(client, &["HSET", "hash:small", "tail-field", "tail-value"]);
    run(client, &["ZADD", "zset:small", "7", "seven"]);
    run(client, &["SREM", "set:small-strings", "banana"]);
    run(client, &["DEL", "set:large-strings"]);
    run(client, &["PERSIST", "zset:large"]);
    run(client, &["SET", "tail:expiring", "v", "EX", "2000000000"]);
    // A transaction: its commands are one log entry.
    redis::pipe()
        .atomic()
        .cmd("SET")
        .arg("tx:counter")
        .arg("1")
        .cmd("INCR")
        .arg("tx:counter")
        .cmd("RPUSH")
        .arg("tx:list")
        .arg("a")
        .arg("b")
        .cmd("HSET")
        .arg("tx:hash")
        .arg("k")
        .arg("v")
        .cmd("PEXPIREAT")
        .arg("tx:hash")
        .arg(FAR_FUTURE_MS + 2)
        .query::<redis::Value>(client)
        .expect("MULTI/EXEC works");
    select(client, 1);
    run(client, &["SET", "db1:tail", "tail in db one"]);
    // Expires 1 ms after it is written: stored with an expiry that has passed before the node
    // stops, so it must never come back.
    run(client, &["SET", "gone:expired", "v", "PX", "1"]);
    std::thread::sleep(Duration::from_millis(50));
    select(client, 0);
}
