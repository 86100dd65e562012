//! DUMP and RESTORE between Concord and redis-server 7.0, both ways. Each case builds a key in
//! one server with ordinary commands, DUMPs it there and RESTOREs the payload in the other.
//! The key must then read the same in both servers (its type, its encoding and its whole
//! content, a stream's consumer groups with their delivery times included), and where the
//! payload's layout follows from the content alone, the second server's DUMP must give back
//! the very bytes it was given.
//!
//! `tests/differential/dump.redis` pins payload literals and the errors; this test shows that
//! the two formats agree on values no literal was made from, through the real server.
//!
//! Where bytes are not compared, and why: a hashtable set or hash is written in its hash
//! table's order, which follows redis-server's per-process seed; a list built at its head is
//! cut into nodes where LPUSH cut it, and Concord cuts a list as RPUSH would (the
//! `store::rdb::value` caveat). Their contents are still compared exactly.

mod support;

use redis::{Connection, Value};
use support::every_type::{cases, content, run, run_str};
use support::servers::ServerProcess;

fn dump(connection: &mut Connection, key: &str) -> Vec<u8> {
    match run_str(connection, &["DUMP", key]) {
        Value::BulkString(payload) => payload,
        other => panic!("DUMP {key} answered {other:?}"),
    }
}

/// Builds every case in `source`, restores its DUMP in `target`, and returns what differs.
fn restore_every_case(source: &ServerProcess, target: &ServerProcess) -> Vec<String> {
    let (mut from, mut to) = (source.client(), target.client());
    let mut failures = Vec::new();
    for case in cases() {
        for command in &case.build {
            run(&mut from, command);
        }
        let payload = dump(&mut from, case.key);
        let restored =
            redis::cmd("RESTORE").arg(case.key).arg(0).arg(&payload).query::<Value>(&mut to);
        if restored != Ok(Value::Okay) {
            failures.push(format!("{}: RESTORE answered {restored:?}", case.key));
            continue;
        }
        let (expected, actual) = (content(&mut from, case.key), content(&mut to, case.key));
        if expected != actual {
            failures.push(format!("{}: reads\n  {expected:?}\nwhere it was built, and\n  {actual:?}\nwhere it was restored", case.key));
        }
        if case.same_bytes && dump(&mut to, case.key) != payload {
            failures.push(format!(
                "{}: the restored key's DUMP differs from the payload it came from",
                case.key
            ));
        }
    }
    failures
}

fn assert_no_failures(failures: Vec<String>, direction: &str) {
    assert!(
        failures.is_empty(),
        "{direction}: {} of {} cases failed:\n{}",
        failures.len(),
        cases().len(),
        failures.join("\n")
    );
}

#[test]
fn every_redis_dump_restores_in_concord_to_the_same_value_and_bytes() {
    let (redis, concord) = (ServerProcess::start_redis(), ServerProcess::start_concord());
    assert_no_failures(restore_every_case(&redis, &concord), "redis-server to Concord");
}

#[test]
fn every_concord_dump_restores_in_redis_to_the_same_value_and_bytes() {
    let (redis, concord) = (ServerProcess::start_redis(), ServerProcess::start_concord());
    assert_no_failures(restore_every_case(&concord, &redis), "Concord to redis-server");
}
