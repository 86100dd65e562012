//! Black-box tests of MULTI, EXEC, DISCARD, WATCH and UNWATCH: each test starts the real
//! `concord` binary and talks to it with the `redis` crate, as an application would.
//! Byte-exact replies are pinned by `tests/differential/transactions.redis`.

use redis::Value;

mod support;

use support::servers::ServerProcess as Node;

fn call(connection: &mut redis::Connection, words: &[&str]) -> Value {
    let mut command = redis::cmd(words[0]);
    for word in &words[1..] {
        command.arg(*word);
    }
    command.query(connection).unwrap_or_else(|error| panic!("{words:?} failed: {error}"))
}

/// The error a command gets, as `CODE detail` (the crate splits the code off).
fn call_error(connection: &mut redis::Connection, words: &[&str]) -> String {
    let mut command = redis::cmd(words[0]);
    for word in &words[1..] {
        command.arg(*word);
    }
    match command.query::<Value>(connection) {
        Ok(value) => panic!("{words:?} should fail, it replied {value:?}"),
        Err(error) => {
            format!("{} {}", error.code().unwrap_or("?"), error.detail().unwrap_or_default())
        }
    }
}

fn queued() -> Value {
    Value::SimpleString("QUEUED".into())
}

fn ok() -> Value {
    Value::Okay
}

#[test]
fn exec_runs_the_queue_atomically_and_replies_with_every_result() {
    let node = Node::start_concord();
    let mut client = node.client();
    let result: (i64, i64, String) = redis::pipe()
        .atomic()
        .incr("n", 5)
        .incr("n", 1)
        .set("s", "v")
        .ignore()
        .get("s")
        .query(&mut client)
        .unwrap_or_else(|error| panic!("the atomic pipeline failed: {error}"));
    assert_eq!(result, (5, 6, "v".to_string()));
}

#[test]
fn a_runtime_error_is_one_element_of_the_array_and_the_rest_runs() {
    let node = Node::start_concord();
    let mut client = node.client();
    call(&mut client, &["SET", "text", "abc"]);
    assert_eq!(call(&mut client, &["MULTI"]), ok());
    assert_eq!(call(&mut client, &["INCR", "text"]), queued());
    assert_eq!(call(&mut client, &["SET", "after", "1"]), queued());
    // `query` would turn the error inside the array into an error of the whole call.
    let exec = redis::ConnectionLike::req_command(&mut client, &redis::cmd("EXEC"));
    let Ok(Value::Array(replies)) = exec else {
        panic!("EXEC replies with an array, not {exec:?}");
    };
    assert!(
        matches!(&replies[0], Value::ServerError(error) if error.details() == Some("value is not an integer or out of range")),
        "{replies:?}"
    );
    assert_eq!(replies[1], ok());
    assert_eq!(call(&mut client, &["GET", "after"]), Value::BulkString(b"1".to_vec()));
}

#[test]
fn an_unknown_command_aborts_exec_and_discard_drops_the_queue() {
    let node = Node::start_concord();
    let mut client = node.client();
    call(&mut client, &["MULTI"]);
    call(&mut client, &["SET", "k", "1"]);
    assert!(call_error(&mut client, &["NOSUCHCOMMAND"]).contains("unknown command"));
    let error = call_error(&mut client, &["EXEC"]);
    assert!(error.contains("EXECABORT"), "{error}");
    assert_eq!(call(&mut client, &["EXISTS", "k"]), Value::Int(0));
    call(&mut client, &["MULTI"]);
    call(&mut client, &["SET", "k", "1"]);
    assert_eq!(call(&mut client, &["DISCARD"]), ok());
    assert_eq!(call(&mut client, &["EXISTS", "k"]), Value::Int(0));
    assert!(call_error(&mut client, &["EXEC"]).contains("EXEC without MULTI"));
}

#[test]
fn a_write_from_another_connection_between_watch_and_exec_fails_exec() {
    let node = Node::start_concord();
    let mut first = node.client();
    let mut second = node.client();
    call(&mut first, &["SET", "balance", "10"]);
    call(&mut first, &["WATCH", "balance"]);
    call(&mut second, &["SET", "balance", "20"]);
    call(&mut first, &["MULTI"]);
    call(&mut first, &["SET", "balance", "11"]);
    assert_eq!(call(&mut first, &["EXEC"]), Value::Nil, "EXEC after a conflict is the null array");
    assert_eq!(call(&mut first, &["GET", "balance"]), Value::BulkString(b"20".to_vec()));
    // EXEC forgot the watch: the next transaction runs.
    call(&mut second, &["SET", "balance", "30"]);
    call(&mut first, &["MULTI"]);
    call(&mut first, &["SET", "balance", "31"]);
    assert_eq!(call(&mut first, &["EXEC"]), Value::Array(vec![ok()]));
}

#[test]
fn unwatch_and_writes_elsewhere_leave_exec_alone() {
    let node = Node::start_concord();
    let mut first = node.client();
    let mut second = node.client();
    call(&mut first, &["WATCH", "a", "b"]);
    call(&mut second, &["SET", "unrelated", "1"]);
    call(&mut first, &["MULTI"]);
    call(&mut first, &["GET", "a"]);
    assert_eq!(call(&mut first, &["EXEC"]), Value::Array(vec![Value::Nil]));
    call(&mut first, &["WATCH", "a"]);
    call(&mut second, &["SET", "a", "1"]);
    call(&mut first, &["UNWATCH"]);
    call(&mut first, &["MULTI"]);
    call(&mut first, &["GET", "a"]);
    assert_eq!(call(&mut first, &["EXEC"]), Value::Array(vec![Value::BulkString(b"1".to_vec())]));
}

#[test]
fn a_write_by_the_watching_client_itself_fails_exec() {
    let node = Node::start_concord();
    let mut client = node.client();
    call(&mut client, &["WATCH", "k"]);
    call(&mut client, &["SET", "k", "mine"]);
    call(&mut client, &["MULTI"]);
    call(&mut client, &["SET", "k", "transaction"]);
    assert_eq!(call(&mut client, &["EXEC"]), Value::Nil);
    assert_eq!(call(&mut client, &["GET", "k"]), Value::BulkString(b"mine".to_vec()));
}

#[test]
fn select_inside_multi_moves_the_following_commands_and_the_connection() {
    let node = Node::start_concord();
    let mut client = node.client();
    call(&mut client, &["MULTI"]);
    call(&mut client, &["SET", "k", "zero"]);
    call(&mut client, &["SELECT", "3"]);
    call(&mut client, &["SET", "k", "three"]);
    assert_eq!(call(&mut client, &["EXEC"]), Value::Array(vec![ok(), ok(), ok()]));
    assert_eq!(call(&mut client, &["GET", "k"]), Value::BulkString(b"three".to_vec()));
    call(&mut client, &["SELECT", "0"]);
    assert_eq!(call(&mut client, &["GET", "k"]), Value::BulkString(b"zero".to_vec()));
}

/// The classic optimistic loop (WATCH, read, MULTI, write, EXEC, retry on null) from several
/// threads at once: every increment must land exactly once.
#[test]
fn optimistic_increments_from_many_threads_end_with_the_exact_count() {
    const THREADS: usize = 8;
    const INCREMENTS: usize = 50;
    let node = Node::start_concord();
    let port = node.port();
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            std::thread::spawn(move || {
                let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
                let mut connection = client.get_connection().unwrap();
                let mut retries = 0;
                for _ in 0..INCREMENTS {
                    loop {
                        call(&mut connection, &["WATCH", "counter"]);
                        let current: Option<i64> =
                            redis::cmd("GET").arg("counter").query(&mut connection).unwrap();
                        let next = (current.unwrap_or(0) + 1).to_string();
                        call(&mut connection, &["MULTI"]);
                        call(&mut connection, &["SET", "counter", &next]);
                        match call(&mut connection, &["EXEC"]) {
                            Value::Nil => retries += 1,
                            Value::Array(_) => break,
                            other => panic!("EXEC replied {other:?}"),
                        }
                    }
                }
                retries
            })
        })
        .collect();
    let retries: usize = workers.into_iter().map(|worker| worker.join().unwrap()).sum();
    let mut client = node.client();
    assert_eq!(
        call(&mut client, &["GET", "counter"]),
        Value::BulkString((THREADS * INCREMENTS).to_string().into_bytes()),
        "every increment lands exactly once ({retries} retries)"
    );
}

#[test]
fn a_transaction_over_its_bounds_fails_and_the_connection_goes_on() {
    let node = Node::start_concord_with(
        &[],
        Some("transaction-commands-max = 3\ntransaction-bytes-max = 100\n"),
    );
    let mut client = node.client();
    call(&mut client, &["MULTI"]);
    for _ in 0..3 {
        assert_eq!(call(&mut client, &["INCR", "n"]), queued());
    }
    let error = call_error(&mut client, &["INCR", "n"]);
    assert!(error.contains("transaction-commands-max (3)"), "{error}");
    let error = call_error(&mut client, &["EXEC"]);
    assert!(error.contains("EXECABORT") && error.contains("too large"), "{error}");
    assert_eq!(call(&mut client, &["EXISTS", "n"]), Value::Int(0));

    call(&mut client, &["MULTI"]);
    let large = "x".repeat(100);
    let error = call_error(&mut client, &["SET", "k", &large]);
    assert!(error.contains("transaction-bytes-max (100)"), "{error}");
    assert!(call_error(&mut client, &["EXEC"]).contains("EXECABORT"));
    assert_eq!(call(&mut client, &["PING"]), Value::SimpleString("PONG".into()));
}

/// A regression test: a connection once kept its read view until it wrote, so a client that
/// only reads missed writes acknowledged to others.
#[test]
fn a_read_sees_a_write_acknowledged_to_another_connection_before_it() {
    let node = Node::start_concord();
    let mut reader = node.client();
    let mut writer = node.client();
    assert_eq!(call(&mut reader, &["GET", "k"]), Value::Nil);
    call(&mut writer, &["SET", "k", "1"]);
    assert_eq!(call(&mut reader, &["GET", "k"]), Value::BulkString(b"1".to_vec()));
}
