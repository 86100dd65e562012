//! `concord import` of RDB files that redis-server 7.0 wrote with `SAVE`: every type and
//! encoding, expiries, several databases and a function library arrive as they were, and a
//! damaged or truncated file is refused with its byte offset before anything is imported.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use redis::{Connection, Value};
use support::every_type::{cases, content, run, run_str};
use support::process::concord;
use support::servers::ServerProcess;

const LIBRARY: &str =
    "#!lua name=imported\nredis.register_function('answer', function() return 42 end)";

/// Keys of database 3, each with an expiry far in the future (milliseconds since the epoch).
const EXPIRING: &[(&str, u64)] =
    &[("db3-string", 4_102_444_800_123), ("db3-list", 4_102_444_900_000)];

/// Builds every case in database 0, expiring keys in database 3 and a library in `redis`, and
/// has it SAVE them: the path of the RDB file it wrote.
fn saved_file(redis: &ServerProcess) -> PathBuf {
    let mut connection = redis.client();
    for case in cases() {
        for command in &case.build {
            run(&mut connection, command);
        }
    }
    run_str(&mut connection, &["FUNCTION", "LOAD", LIBRARY]);
    run_str(&mut connection, &["SELECT", "3"]);
    run_str(&mut connection, &["SET", "db3-string", "in database 3"]);
    run_str(&mut connection, &["RPUSH", "db3-list", "a", "b", "c"]);
    for (key, deadline_ms) in EXPIRING {
        run_str(&mut connection, &["PEXPIREAT", key, &deadline_ms.to_string()]);
    }
    run_str(&mut connection, &["SAVE"]);
    Path::new(&config_value(&mut connection, "dir"))
        .join(config_value(&mut connection, "dbfilename"))
}

fn config_value(connection: &mut Connection, name: &str) -> String {
    match run_str(connection, &["CONFIG", "GET", name]) {
        Value::Array(pair) if pair.len() == 2 => match &pair[1] {
            Value::BulkString(value) => String::from_utf8_lossy(value).into_owned(),
            other => panic!("CONFIG GET {name} answered {other:?}"),
        },
        other => panic!("CONFIG GET {name} answered {other:?}"),
    }
}

fn import(file: &Path, node: &ServerProcess, extra: &[&str]) -> Output {
    let port = node.port().to_string();
    let mut command = concord();
    command.arg("import").arg(file).args(["--port", &port]).args(extra);
    command.output().expect("concord import runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn every_key_of_a_redis_rdb_file_arrives_with_its_database_and_expiry() {
    let (redis, node) = (ServerProcess::start_redis(), ServerProcess::start_concord());
    let file = saved_file(&redis);
    let output = import(&file, &node, &[]);
    assert!(output.status.success(), "concord import failed: {}", stderr(&output));
    let summary = String::from_utf8_lossy(&output.stdout);
    let keys = cases().len() + EXPIRING.len();
    assert!(
        summary.starts_with(&format!(
            "imported {keys} keys into 2 databases and 1 function libraries"
        )),
        "the summary was {summary:?}"
    );

    let (mut from, mut to) = (redis.client(), node.client());
    let mut differences = Vec::new();
    for case in cases() {
        let (expected, actual) = (content(&mut from, case.key), content(&mut to, case.key));
        if expected != actual {
            differences.push(format!("{}: {expected:?} in Redis, {actual:?} imported", case.key));
        }
    }
    assert!(differences.is_empty(), "imported keys differ:\n{}", differences.join("\n"));
    for connection in [&mut from, &mut to] {
        run_str(connection, &["SELECT", "3"]);
    }
    for (key, deadline_ms) in EXPIRING {
        assert_eq!(content(&mut to, key), content(&mut from, key), "{key} in database 3");
        let deadline = run_str(&mut to, &["PEXPIRETIME", key]);
        assert_eq!(deadline, Value::Int(*deadline_ms as i64), "the expiry of {key}");
    }
    assert_eq!(run_str(&mut to, &["DBSIZE"]), Value::Int(EXPIRING.len() as i64), "database 3");
    assert_eq!(run_str(&mut to, &["FCALL", "answer", "0"]), Value::Int(42), "the library");
}

#[test]
fn importing_again_is_refused_at_the_first_existing_item_unless_replace_is_given() {
    let (redis, node) = (ServerProcess::start_redis(), ServerProcess::start_concord());
    let file = saved_file(&redis);
    assert!(import(&file, &node, &[]).status.success(), "the first import");
    let again = import(&file, &node, &[]);
    assert!(!again.status.success(), "a second import over the same keys succeeded");
    assert!(
        stderr(&again).contains("the node refused the function library at byte")
            && stderr(&again).contains("ERR Library imported already exists"),
        "{}",
        stderr(&again)
    );
    let replaced = import(&file, &node, &["--replace"]);
    assert!(replaced.status.success(), "--replace failed: {}", stderr(&replaced));
}

#[test]
fn a_damaged_or_truncated_file_is_refused_with_its_offset_and_nothing_is_imported() {
    let (redis, node) = (ServerProcess::start_redis(), ServerProcess::start_concord());
    let bytes = std::fs::read(saved_file(&redis)).expect("the saved file is readable");
    let directory = support::temp_dir("import");
    let middle = bytes.len() / 2;
    let mut damaged = bytes.clone();
    damaged[middle] ^= 0x55;
    for (name, content) in [("damaged.rdb", damaged), ("truncated.rdb", bytes[..middle].to_vec())] {
        let path = directory.path().join(name);
        std::fs::write(&path, content).expect("the copy is written");
        let output = import(&path, &node, &[]);
        assert!(!output.status.success(), "{name} was accepted");
        let message = stderr(&output);
        assert!(
            message.contains("is refused, nothing was imported: at byte "),
            "{name}: the error should name the offset: {message}"
        );
    }
    assert_eq!(run_str(&mut node.client(), &["DBSIZE"]), Value::Int(0), "no key was imported");
}
