//! Differential test of COMMAND itself: for every command Concord implements, `COMMAND INFO`,
//! `COMMAND DOCS`, `COMMAND GETKEYS` and `COMMAND GETKEYSANDFLAGS` reply exactly as
//! redis-server 7.0 does (RESP2 and RESP3), and `COMMAND LIST [FILTERBY ...]` and `COMMAND
//! COUNT` agree with Redis's on the commands Concord has.
//!
//! Where equality is not byte for byte, and why (see tests/differential/README.md):
//! - Redis orders subcommands (and `COMMAND LIST`) by its hash table, which changes from run
//!   to run, so subcommands and lists are compared as sets, each subcommand's entry exactly.
//! - A container lists only the subcommands Concord implements, so Redis's entry is compared
//!   with its other subcommands left out.
//! - Concord's own commands (`concord_metadata::ALL`) have no Redis counterpart; Redis must
//!   not know them (else they would have to be generated).

mod support;

use std::collections::BTreeSet;
use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use concord::command::key_extraction::has_keys;
use concord::command::{all_commands, concord_metadata, CommandSpec};
use support::command_arguments::example_request;
use support::reply::{Outcome, Reply, ReplyReader, Value};
use support::script::encode_request;
use support::servers::ServerProcess;

struct Client {
    stream: TcpStream,
    reader: ReplyReader,
}

impl Client {
    fn connect(server: &ServerProcess, protocol: u8) -> Client {
        let stream = TcpStream::connect(server.address()).expect("the server accepts");
        stream.set_read_timeout(Some(Duration::from_secs(10))).expect("a timeout can be set");
        let mut client = Client { stream, reader: ReplyReader::new() };
        client.request(&["HELLO", &protocol.to_string()]);
        client
    }

    fn request_words(&mut self, words: &[Vec<u8>]) -> Reply {
        self.stream.write_all(&encode_request(words)).expect("the request is sent");
        match self.reader.read(&mut self.stream) {
            Outcome::Reply(reply) => reply,
            other => panic!("no reply to {words:?}: {other:?}"),
        }
    }

    fn request(&mut self, words: &[&str]) -> Reply {
        let words: Vec<Vec<u8>> = words.iter().map(|word| word.as_bytes().to_vec()).collect();
        self.request_words(&words)
    }

    /// The names in an array or set reply of bulk strings.
    fn names(&mut self, words: &[&str]) -> BTreeSet<String> {
        let reply = self.request(words);
        let elements = reply.elements().unwrap_or_else(|| panic!("{words:?}: {reply:?}"));
        elements.iter().map(text).collect()
    }
}

fn text(reply: &Reply) -> String {
    String::from_utf8_lossy(reply.text().expect("a string")).into_owned()
}

fn is_concord_only(spec: &CommandSpec) -> bool {
    concord_metadata::ALL.iter().any(|meta| std::ptr::eq(*meta, spec.meta))
}

fn is_own_name(name: &str) -> bool {
    concord_metadata::ALL.iter().any(|meta| meta.name == name)
}

/// Every command and subcommand whose metadata comes from Redis.
fn redis_specs() -> Vec<&'static CommandSpec> {
    all_commands()
        .into_iter()
        .flat_map(|spec| std::iter::once(spec).chain(spec.subcommands.iter()))
        .filter(|spec| !is_concord_only(spec))
        .collect()
}

/// Whether two COMMAND INFO entries agree: exactly, except that Redis's subcommands (element
/// 9) are a superset in another order.
fn info_entries_agree(redis: &Reply, concord: &Reply) -> bool {
    let (Some(redis), Some(concord)) = (redis.elements(), concord.elements()) else {
        return redis.raw == concord.raw;
    };
    if redis.len() != 10 || concord.len() != 10 {
        return false;
    }
    let head_agrees = redis[..9].iter().zip(&concord[..9]).all(|(a, b)| a.raw == b.raw);
    let name = |entry: &Reply| entry.elements().map(|fields| text(&fields[0]));
    head_agrees && subsets_agree(&redis[9], &concord[9], name)
}

/// Redis's entries with only the names Concord lists, against Concord's, both by name.
fn subsets_agree(redis: &Reply, concord: &Reply, name: impl Fn(&Reply) -> Option<String>) -> bool {
    let (Some(redis), Some(concord)) = (redis.elements(), concord.elements()) else {
        return redis.raw == concord.raw;
    };
    let by_name = |entries: &[Reply], keep: &dyn Fn(&str) -> bool| {
        let mut entries: Vec<(String, Vec<u8>)> = entries
            .iter()
            .filter_map(|entry| Some((name(entry)?, entry.raw.clone())))
            .filter(|(name, _)| keep(name))
            .collect();
        entries.sort();
        entries
    };
    let concord = by_name(concord, &|name| !is_own_name(name));
    let listed: BTreeSet<&str> = concord.iter().map(|(name, _)| name.as_str()).collect();
    let redis = by_name(redis, &|name| listed.contains(name));
    redis == concord
}

/// Whether two COMMAND DOCS maps for one command agree: every field exactly, except that
/// Redis's `subcommands` map may have more, in another order.
fn docs_agree(redis: &Reply, concord: &Reply) -> bool {
    let (Value::Map(redis), Value::Map(concord)) = (&redis.value, &concord.value) else {
        return redis.raw == concord.raw;
    };
    redis.len() == concord.len()
        && redis.iter().zip(concord).all(|((redis_key, redis_value), (key, value))| {
            if redis_key.raw != key.raw {
                return false;
            }
            if text(key) != "subcommands" {
                return redis_value.raw == value.raw;
            }
            map_subsets_agree(redis_value, value)
        })
}

fn map_subsets_agree(redis: &Reply, concord: &Reply) -> bool {
    let pairs = |reply: &Reply| -> Vec<(String, Reply)> {
        match &reply.value {
            Value::Map(pairs) => {
                pairs.iter().map(|(key, value)| (text(key), value.clone())).collect()
            }
            // RESP2 flattens a map into an array of keys and values.
            _ => reply
                .elements()
                .unwrap_or_default()
                .chunks(2)
                .map(|pair| (text(&pair[0]), pair[1].clone()))
                .collect(),
        }
    };
    let mut concord: Vec<_> =
        pairs(concord).into_iter().filter(|(name, _)| !is_own_name(name)).collect();
    concord.sort_by(|a, b| a.0.cmp(&b.0));
    let mut redis: Vec<_> = pairs(redis)
        .into_iter()
        .filter(|(name, _)| concord.iter().any(|(n, _)| n == name))
        .collect();
    redis.sort_by(|a, b| a.0.cmp(&b.0));
    redis.len() == concord.len()
        && redis.iter().zip(&concord).all(|(a, b)| a.0 == b.0 && docs_agree(&a.1, &b.1))
}

/// COMMAND DOCS of one name: its docs map (RESP3) or the value after the name (RESP2).
fn docs_of(reply: &Reply) -> Option<Reply> {
    match &reply.value {
        Value::Map(pairs) => pairs.first().map(|(_, docs)| docs.clone()),
        _ => reply.elements()?.get(1).cloned(),
    }
}

/// RESP2 carries a map as a flat array; agreeing on it means agreeing on its pairs.
fn docs_agree_any_protocol(redis: &Reply, concord: &Reply) -> bool {
    match (&redis.value, &concord.value) {
        (Value::Array(Some(redis)), Value::Array(Some(concord))) => {
            redis.len() == concord.len()
                && redis.chunks(2).zip(concord.chunks(2)).all(|(a, b)| {
                    a[0].raw == b[0].raw
                        && if text(&a[0]) == "subcommands" {
                            map_subsets_agree(&a[1], &b[1])
                        } else {
                            a[1].raw == b[1].raw
                        }
                })
        }
        _ => docs_agree(redis, concord),
    }
}

#[test]
fn command_info_and_docs_equal_redis_for_every_command_in_resp2_and_resp3() {
    let redis_server = ServerProcess::start_redis();
    let concord_server = ServerProcess::start_concord();
    let mut differing = Vec::new();
    for protocol in [2, 3] {
        let mut redis = Client::connect(&redis_server, protocol);
        let mut concord = Client::connect(&concord_server, protocol);
        for spec in all_commands()
            .into_iter()
            .flat_map(|spec| std::iter::once(spec).chain(spec.subcommands))
        {
            let info = ["COMMAND", "INFO", spec.name];
            let (expected, actual) = (redis.request(&info), concord.request(&info));
            if is_concord_only(spec) {
                let unknown = expected.elements().is_some_and(|entries| {
                    matches!(entries[0].value, Value::Bulk(None) | Value::Array(None) | Value::Null)
                });
                assert!(unknown, "Redis knows {}: generate its metadata instead", spec.name);
                continue;
            }
            let entry =
                |reply: &Reply| reply.elements().and_then(|entries| entries.first().cloned());
            match (entry(&expected), entry(&actual)) {
                (Some(expected), Some(actual)) if info_entries_agree(&expected, &actual) => {}
                _ => differing.push(format!("RESP{protocol} COMMAND INFO {}", spec.name)),
            }
            let docs = ["COMMAND", "DOCS", spec.name];
            let (expected, actual) = (redis.request(&docs), concord.request(&docs));
            match (docs_of(&expected), docs_of(&actual)) {
                (Some(expected), Some(actual)) if docs_agree_any_protocol(&expected, &actual) => {}
                _ => differing.push(format!("RESP{protocol} COMMAND DOCS {}", spec.name)),
            }
        }
    }
    assert!(differing.is_empty(), "Concord differs from Redis in:\n{}", differing.join("\n"));
}

/// Requests whose keys only a careful reading finds: several key specs, numkeys, keywords,
/// flags that depend on the arguments, and the errors.
const KEY_CASES: &[&str] = &[
    "bitfield k get u8 0 overflow sat get i4 0",
    "bitfield k get u8 0 incrby u8 0 1",
    "bitfield k foo",
    "bitfield_ro k get u8 0",
    "bitop and d a b c",
    "pfcount a b c",
    "eval s 2 a b c",
    "eval_ro s 1 a b",
    "evalsha x 0 a",
    "evalsha_ro x 1 a",
    "eval s 3 a",
    "pfmerge d a b",
    "pfdebug getreg k",
    "geoadd k nx ch 1 2 m",
    "georadius k 0 0 1 m store d",
    "georadius k 0 0 1 m storedist d",
    "georadius k 0 0 1 m store d storedist e",
    "georadius k 0 0 1 m count 1",
    "georadiusbymember k m 1 km store d",
    "georadius_ro k 0 0 1 m",
    "geosearch k frommember m byradius 1 m",
    "geosearchstore d k fromlonlat 0 0 bybox 1 1 m storedist",
    "sort k by x store d get y store e",
    "sort k limit 0 1 store d",
    "sort k store",
    "sort_ro k by x get y",
    "lmove a b left right",
    "blmove a b left right 0",
    "rpoplpush a b",
    "smove a b m",
    "zunionstore d 2 a b",
    "zunionstore d 2x a b",
    "zunionstore d 0 a",
    "zunionstore d 3 a b",
    "zinterstore d 1 a weights 2",
    "zdiffstore d 2 a b",
    "zunion 2 a b withscores",
    "zintercard 2 a b limit 1",
    "zintercard -1 a",
    "sintercard 2 a b",
    "lmpop 2 a b left count 2",
    "lmpop 0 a left",
    "blmpop 0 2 a b right",
    "zmpop 1 a min",
    "bzmpop 1.5 2 a b max",
    "set k v get",
    "set k v nx",
    "set k v",
    "mset a 1 b 2",
    "msetnx a 1 b",
    "del a b c",
    "rename a b",
    "copy a b db 1",
    "object encoding k",
    "object nope k",
    "object help",
    "lcs a b",
    "blpop a b 0",
    "getex k persist",
    "dbsize",
    "ping",
    "nope k",
    "get",
    "get a b",
];

#[test]
fn command_getkeys_and_getkeysandflags_equal_redis() {
    let redis_server = ServerProcess::start_redis();
    let concord_server = ServerProcess::start_concord();
    let mut redis = Client::connect(&redis_server, 3);
    let mut concord = Client::connect(&concord_server, 3);
    let mut requests: Vec<Vec<Vec<u8>>> = redis_specs()
        .into_iter()
        .filter(|spec| has_keys(spec.meta) || spec.subcommands.is_empty())
        .map(example_request)
        .collect();
    requests.extend(
        KEY_CASES.iter().map(|case| case.split(' ').map(|w| w.as_bytes().to_vec()).collect()),
    );
    let mut differing = Vec::new();
    for request in requests {
        for subcommand in ["GETKEYS", "GETKEYSANDFLAGS"] {
            let mut words = vec![b"COMMAND".to_vec(), subcommand.as_bytes().to_vec()];
            words.extend(request.iter().cloned());
            let (expected, actual) = (redis.request_words(&words), concord.request_words(&words));
            if expected.raw != actual.raw {
                differing.push(format!(
                    "{}\n  redis:   {}\n  concord: {}",
                    String::from_utf8_lossy(&words.join(&b' ')),
                    support::render::escape_truncated(&expected.raw),
                    support::render::escape_truncated(&actual.raw),
                ));
            }
        }
    }
    assert!(differing.is_empty(), "Concord differs from Redis in:\n{}", differing.join("\n"));
}

#[test]
fn command_list_and_count_agree_with_redis_on_concords_commands() {
    let redis_server = ServerProcess::start_redis();
    let concord_server = ServerProcess::start_concord();
    let mut redis = Client::connect(&redis_server, 2);
    let mut concord = Client::connect(&concord_server, 2);
    let own: BTreeSet<String> =
        concord_metadata::ALL.iter().map(|meta| meta.name.to_string()).collect();
    let listed = concord.names(&["COMMAND", "LIST"]);
    let table: BTreeSet<String> = all_commands()
        .into_iter()
        .flat_map(|spec| std::iter::once(spec).chain(spec.subcommands))
        .map(|spec| spec.name.to_string())
        .collect();
    assert_eq!(listed, table, "COMMAND LIST lists the table");
    let redis_listed = redis.names(&["COMMAND", "LIST"]);
    let unknown: Vec<&String> =
        listed.difference(&redis_listed).filter(|name| !own.contains(*name)).collect();
    assert!(unknown.is_empty(), "Redis 7.0 has no {unknown:?}");
    let top_level = listed.iter().filter(|name| !name.contains('|')).count() as i64;
    let count = concord.request(&["COMMAND", "COUNT"]);
    assert_eq!(
        count.value,
        Value::Integer(top_level),
        "COMMAND COUNT counts the top-level commands"
    );

    let mut filters: Vec<Vec<String>> = redis
        .names(&["ACL", "CAT"])
        .into_iter()
        .chain(["nosuchcategory".to_string(), "READ".to_string()])
        .map(|category| vec!["ACLCAT".into(), category])
        .collect();
    for pattern in ["z*", "*store", "client|*", "GET", "c[lo]*", "nomatch"] {
        filters.push(vec!["PATTERN".into(), pattern.into()]);
    }
    filters.push(vec!["MODULE".into(), "any".into()]);
    for filter in filters {
        let mut words = vec!["COMMAND", "LIST", "FILTERBY"];
        words.extend(filter.iter().map(String::as_str));
        let expected: BTreeSet<String> =
            redis.names(&words).into_iter().filter(|name| listed.contains(name)).collect();
        let actual: BTreeSet<String> =
            concord.names(&words).into_iter().filter(|name| !own.contains(name)).collect();
        assert_eq!(actual, expected, "{}", words.join(" "));
    }
}
