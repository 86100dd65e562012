//! Keys of every type and encoding Redis 7.0 has, built with ordinary commands, and what a
//! client can read of a key, so that two servers' copies of it can be compared: used by the
//! DUMP/RESTORE round trips (`tests/dump_restore.rs`) and by `concord import` of an RDB file
//! (`tests/import.rs`).
//!
//! The cases: strings (integer, short, LZF-compressed, incompressible, HLLs sparse and dense),
//! lists (one listpack, a quicklist, a node of one big element, one built at its head), sets
//! (intsets of each width, hashtables), hashes (listpack, hashtable by value length and by
//! field count), sorted sets (listpack, skiplist by count and by member length), streams
//! (consumer groups with consumers and PELs, several nodes with deleted entries, an emptied
//! stream, XSETID's counters).

use redis::{Connection, Value};

/// A key to build: its name, the commands that build it, and whether its DUMP is a function
/// of its content (so that both servers write the same bytes).
pub struct Case {
    pub key: &'static str,
    pub build: Vec<Vec<String>>,
    pub same_bytes: bool,
}

fn words(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_string).collect()
}

fn case(key: &'static str, lines: &[&str], same_bytes: bool) -> Case {
    Case { key, build: lines.iter().map(|line| words(line)).collect(), same_bytes }
}

/// A case whose one command has `count` generated arguments after `prefix`.
fn generated(
    key: &'static str,
    prefix: &str,
    count: usize,
    argument: impl Fn(usize) -> String,
    same_bytes: bool,
) -> Case {
    let mut command = words(prefix);
    command.extend((0..count).map(argument));
    Case { key, build: vec![command], same_bytes }
}

fn strings() -> Vec<Case> {
    let incompressible: String =
        (0..120).map(|index| char::from(b'!' + (index * 37 % 90) as u8)).collect();
    vec![
        case("string-integer", &["SET string-integer -9223372036854775808"], true),
        case("string-short", &["SET string-short hello"], true),
        case("string-raw-integer", &["APPEND string-raw-integer 4096"], true),
        case(
            "string-compressible",
            &[&format!("SET string-compressible {}", "ab".repeat(600))],
            true,
        ),
        case(
            "string-incompressible",
            &[&format!("SET string-incompressible {incompressible}")],
            true,
        ),
        generated("hll-sparse", "PFADD hll-sparse", 50, |index| format!("e{index}"), true),
        generated("hll-dense", "PFADD hll-dense", 5000, |index| format!("e{index}"), true),
    ]
}

fn lists() -> Vec<Case> {
    vec![
        case(
            "list-listpack",
            &["RPUSH list-listpack a 1 hello 300 -5 -4097 70000 9223372036854775807"],
            true,
        ),
        generated(
            "list-quicklist",
            "RPUSH list-quicklist",
            3000,
            |index| format!("element-{index}"),
            true,
        ),
        case(
            "list-big-element",
            &[&format!("RPUSH list-big-element a {} b", "x".repeat(10_000))],
            true,
        ),
        generated(
            "list-built-at-head",
            "LPUSH list-built-at-head",
            3000,
            |index| format!("element-{index}"),
            false,
        ),
    ]
}

fn sets() -> Vec<Case> {
    vec![
        case("set-intset", &["SADD set-intset 1 2 3 -70000"], true),
        case("set-intset-64", &["SADD set-intset-64 1 5000000000 -5000000000"], true),
        case("set-hashtable", &["SADD set-hashtable a b c 1"], false),
        generated(
            "set-intset-outgrown",
            "SADD set-intset-outgrown",
            600,
            |index| index.to_string(),
            false,
        ),
    ]
}

fn hashes() -> Vec<Case> {
    vec![
        case(
            "hash-listpack",
            &["HSET hash-listpack a 1 b hello c 123456789012", "HSET hash-listpack a 2"],
            true,
        ),
        case("hash-long-value", &[&format!("HSET hash-long-value f {}", "v".repeat(65))], false),
        generated(
            "hash-many-fields",
            "HSET hash-many-fields",
            400,
            |index| format!("f{index}"),
            false,
        ),
    ]
}

fn sorted_sets() -> Vec<Case> {
    vec![
        case(
            "zset-listpack",
            &["ZADD zset-listpack 1 a 2.5 b -3 c inf d -0 e 0.1 f -inf g 1e300 h"],
            true,
        ),
        generated(
            "zset-many-members",
            "ZADD zset-many-members",
            400,
            |index| {
                if index % 2 == 0 {
                    format!("{}", index as f64 / 7.0)
                } else {
                    format!("m{index}")
                }
            },
            true,
        ),
        case(
            "zset-long-member",
            &[&format!("ZADD zset-long-member 1 {} 2 b", "m".repeat(65))],
            true,
        ),
    ]
}

fn streams() -> Vec<Case> {
    let mut many = vec!["XADD stream-nodes 1-0 field value n 0".to_string()];
    for index in 1..250 {
        // Other fields now and then, so that entries differ from their node's master fields.
        let fields = if index % 7 == 0 { "other x extra" } else { "field value n" };
        many.push(format!("XADD stream-nodes {}-{} {fields} {index}", index / 3 + 1, index % 3));
    }
    many.push("XDEL stream-nodes 5-1 9-0".to_string());
    many.push("XTRIM stream-nodes MAXLEN 200".to_string());
    vec![
        case(
            "stream-groups",
            &[
                "XADD stream-groups 1-1 a 1",
                "XADD stream-groups 1-2 b 2",
                "XADD stream-groups 2-0 c 3 d 4",
                "XADD stream-groups 3-0 a 5",
                "XDEL stream-groups 1-2",
                "XGROUP CREATE stream-groups readers 0",
                "XGROUP CREATE stream-groups late $ ENTRIESREAD 3",
                "XREADGROUP GROUP readers alice COUNT 2 STREAMS stream-groups >",
                "XREADGROUP GROUP readers bob COUNT 1 STREAMS stream-groups >",
                "XACK stream-groups readers 1-1",
                "XGROUP CREATECONSUMER stream-groups readers carol",
                "XCLAIM stream-groups readers carol 0 2-0 RETRYCOUNT 5",
            ],
            true,
        ),
        Case {
            key: "stream-nodes",
            build: many.iter().map(|line| words(line)).collect(),
            same_bytes: true,
        },
        case("stream-emptied", &["XADD stream-emptied 1-1 f v", "XDEL stream-emptied 1-1"], true),
        case(
            "stream-set-id",
            &[
                "XADD stream-set-id 1-0 f v",
                "XSETID stream-set-id 10-0 ENTRIESADDED 100 MAXDELETEDID 5-0",
            ],
            true,
        ),
    ]
}

/// Every case, in a fixed order.
pub fn cases() -> Vec<Case> {
    [strings(), lists(), sets(), hashes(), sorted_sets(), streams()].into_iter().flatten().collect()
}

/// Sends one command; panics, naming it, if it fails.
pub fn run(connection: &mut Connection, words: &[String]) -> Value {
    let mut command = redis::cmd(&words[0]);
    for word in &words[1..] {
        command.arg(word);
    }
    command.query(connection).unwrap_or_else(|error| panic!("{words:?} failed: {error}"))
}

/// [`run`] with borrowed words.
pub fn run_str(connection: &mut Connection, words: &[&str]) -> Value {
    run(connection, &words.iter().map(|word| word.to_string()).collect::<Vec<_>>())
}

fn elements(reply: Value) -> Vec<Value> {
    match reply {
        Value::Array(elements) => elements,
        other => panic!("an array was expected, not {other:?}"),
    }
}

/// Everything a client can read of `key`, in an order both servers agree on: its type, its
/// encoding, and its content (a set's members and a hash's fields sorted, since their order is
/// a hash table's; a stream's XINFO STREAM FULL without `radix-tree-nodes`, Redis's radix-tree
/// internals, which Concord does not reproduce).
pub fn content(connection: &mut Connection, key: &str) -> Vec<Value> {
    let kind = run_str(connection, &["TYPE", key]);
    let encoding = run_str(connection, &["OBJECT", "ENCODING", key]);
    let Value::SimpleString(kind_name) = &kind else { panic!("TYPE {key} answered {kind:?}") };
    let read = match kind_name.as_str() {
        "string" => run_str(connection, &["GET", key]),
        "list" => run_str(connection, &["LRANGE", key, "0", "-1"]),
        "set" => {
            let mut members = elements(run_str(connection, &["SMEMBERS", key]));
            members.sort_by_key(|member| format!("{member:?}"));
            Value::Array(members)
        }
        "hash" => {
            let flat = elements(run_str(connection, &["HGETALL", key]));
            let mut pairs: Vec<Vec<Value>> = flat.chunks(2).map(<[Value]>::to_vec).collect();
            pairs.sort_by_key(|pair| format!("{pair:?}"));
            Value::Array(pairs.into_iter().flatten().collect())
        }
        "zset" => run_str(connection, &["ZRANGE", key, "0", "-1", "WITHSCORES"]),
        "stream" => {
            let flat = elements(run_str(connection, &["XINFO", "STREAM", key, "FULL"]));
            let fields = flat
                .chunks(2)
                .filter(|pair| pair[0] != Value::BulkString(b"radix-tree-nodes".to_vec()));
            Value::Array(fields.flat_map(<[Value]>::to_vec).collect())
        }
        other => panic!("TYPE {key} is {other}, which no case builds"),
    };
    vec![kind, encoding, read]
}
