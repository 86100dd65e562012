//! SLOWLOG against redis-server 7.0: the same commands go to a Concord node and to a Redis
//! server, and their slow logs must agree entry by entry. What cannot be equal between two
//! servers is checked for its form instead: ids count down by one, times are plausible, and
//! each address is either the reading client's own (CLIENT INFO's `addr=`) or another's.

use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::Value;

mod support;

use support::servers::ServerProcess;

/// One logged command, with what differs between two servers left out: its arguments, the
/// client's name, and whether it came from the client that reads the log.
#[derive(Debug, PartialEq)]
struct Entry {
    arguments: Vec<String>,
    client_name: String,
    from_this_client: bool,
}

fn text(value: &Value) -> String {
    match value {
        Value::BulkString(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        Value::SimpleString(text) => text.clone(),
        other => panic!("not a string: {other:?}"),
    }
}

fn integer(value: &Value) -> i64 {
    match value {
        Value::Int(number) => *number,
        other => panic!("not an integer: {other:?}"),
    }
}

fn query<T: redis::FromRedisValue>(connection: &mut redis::Connection, words: &[&str]) -> T {
    let mut command = redis::cmd(words[0]);
    for word in &words[1..] {
        command.arg(*word);
    }
    command.query(connection).unwrap_or_else(|error| panic!("{words:?} failed: {error}"))
}

/// Sends a command whose reply may be an error, and ignores the reply.
fn send(connection: &mut redis::Connection, words: &[&str]) {
    let _: redis::RedisResult<Value> = {
        let mut command = redis::cmd(words[0]);
        for word in &words[1..] {
            command.arg(*word);
        }
        command.query(connection)
    };
}

/// The whole log, newest first, each entry checked for its form and reduced to what two
/// servers must agree on.
fn logged(connection: &mut redis::Connection) -> Vec<Entry> {
    let info: String = query(connection, &["CLIENT", "INFO"]);
    let address = info
        .split(' ')
        .find_map(|field| field.strip_prefix("addr="))
        .expect("CLIENT INFO has addr=")
        .to_string();
    let Value::Array(entries) = query::<Value>(connection, &["SLOWLOG", "GET", "-1"]) else {
        panic!("SLOWLOG GET replies with an array");
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let mut previous_id = None;
    entries
        .iter()
        .filter_map(|entry| {
            let Value::Array(fields) = entry else { panic!("an entry is an array: {entry:?}") };
            assert_eq!(fields.len(), 6, "an entry has six fields: {fields:?}");
            let id = integer(&fields[0]);
            if let Some(previous) = previous_id {
                assert_eq!(id, previous - 1, "ids count down by one: {entries:?}");
            }
            previous_id = Some(id);
            let logged_at = integer(&fields[1]);
            assert!((now - 60..=now).contains(&logged_at), "a Unix time in seconds: {logged_at}");
            assert!(integer(&fields[2]) >= 0);
            let client_address = text(&fields[4]);
            assert!(client_address.starts_with("127.0.0.1:"), "{client_address}");
            let Value::Array(arguments) = &fields[3] else { panic!("arguments: {fields:?}") };
            let arguments: Vec<String> = arguments.iter().map(text).collect();
            // redis-rs sends Redis 7.2's CLIENT SETINFO as it connects; Concord has it, Redis
            // 7.0 refuses it as an unknown subcommand and so does not log it.
            if arguments.starts_with(&["CLIENT".to_string(), "SETINFO".to_string()]) {
                return None;
            }
            Some(Entry {
                arguments,
                client_name: text(&fields[5]),
                from_this_client: client_address == address,
            })
        })
        .collect()
}

/// Runs `commands` on both servers and returns each one's log.
fn both(commands: impl Fn(&ServerProcess, &mut redis::Connection)) -> (Vec<Entry>, Vec<Entry>) {
    let redis = ServerProcess::start_redis();
    let concord = ServerProcess::start_concord();
    let mut results = Vec::new();
    for server in [&redis, &concord] {
        let mut connection = server.client();
        commands(server, &mut connection);
        results.push(logged(&mut connection));
    }
    let concord = results.pop().unwrap();
    (results.pop().unwrap(), concord)
}

fn log_everything(connection: &mut redis::Connection) {
    let _: () = query(connection, &["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
    let _: () = query(connection, &["SLOWLOG", "RESET"]);
}

/// Which commands enter the log, under which name, with which arguments and client name.
#[test]
fn commands_enter_the_log_as_redis_logs_them() {
    let (redis, concord) = both(|_, connection| {
        log_everything(connection);
        send(connection, &["CLIENT", "SETNAME", "slow-one"]);
        send(connection, &["SET", "k", "v"]);
        send(connection, &["get", "k"]);
        // An argument error is the command's reply, so the command ran and is logged; an
        // arity error or an unknown command is refused before it runs, and is not.
        send(connection, &["SET", "k", "v", "EX", "abc"]);
        send(connection, &["SET", "k"]);
        send(connection, &["NOSUCHCOMMAND", "x"]);
        // EXEC is not logged, the commands it ran are.
        send(connection, &["MULTI"]);
        send(connection, &["INCR", "n"]);
        send(connection, &["GET", "n"]);
        send(connection, &["EXEC"]);
        send(connection, &["RPUSH", "list", "a"]);
        send(connection, &["BLPOP", "list", "0"]);
        // A blocking command that timed out is not logged.
        send(connection, &["BLPOP", "empty", "0.01"]);
        send(connection, &["CLIENT", "SETNAME", "slow-two"]);
        send(connection, &["PING"]);
    });
    assert_eq!(concord, redis);
    // The eleven logged above, SLOWLOG RESET before them and CLIENT INFO after.
    assert_eq!(concord.len(), 13, "{concord:?}");
}

/// A command that blocked is logged once served, under the name and arguments it was sent with.
#[test]
fn a_blocked_command_is_logged_once_served() {
    let (redis, concord) = both(|server, connection| {
        log_everything(connection);
        let mut pusher = server.client();
        let push = thread::spawn(move || {
            thread::sleep(Duration::from_millis(200));
            let _: i64 = query(&mut pusher, &["LPUSH", "queue", "job"]);
        });
        let _: Value = query(connection, &["BLPOP", "queue", "5"]);
        push.join().unwrap();
    });
    assert_eq!(concord, redis);
    let blpop = concord.iter().find(|entry| entry.arguments[0] == "BLPOP").expect("logged");
    assert_eq!(blpop.arguments, ["BLPOP", "queue", "5"]);
}

/// Passwords never reach the log: AUTH's, HELLO's and CONFIG SET's of sensitive parameters.
#[test]
fn passwords_are_logged_as_redacted() {
    let (redis, concord) = both(|_, connection| {
        log_everything(connection);
        send(connection, &["AUTH", "secret"]);
        send(connection, &["AUTH", "someone", "secret"]);
        send(connection, &["HELLO", "2", "AUTH", "default", "secret"]);
        send(connection, &["CONFIG", "SET", "masterauth", "secret", "maxclients", "1000"]);
        send(connection, &["CONFIG", "SET", "requirepass", ""]);
    });
    assert_eq!(concord, redis);
    assert!(concord.iter().all(|entry| !entry.arguments.iter().any(|word| word == "secret")));
    // concord[0] is the CLIENT INFO that `logged` sends.
    assert_eq!(concord[1].arguments, ["CONFIG", "SET", "requirepass", "(redacted)"]);
}

/// Long commands are cut: 32 arguments at most, 128 bytes of each.
#[test]
fn long_commands_are_cut_as_redis_cuts_them() {
    let (redis, concord) = both(|_, connection| {
        log_everything(connection);
        let mut sadd = vec!["SADD".to_string(), "set".to_string()];
        sadd.extend((0..40).map(|member| member.to_string()));
        let words: Vec<&str> = sadd.iter().map(String::as_str).collect();
        send(connection, &words);
        let long = "A".repeat(200);
        send(connection, &["SET", "long", &long]);
    });
    assert_eq!(concord, redis);
    // concord[0] is the CLIENT INFO that `logged` sends.
    assert_eq!(concord[2].arguments.len(), 32);
    assert_eq!(concord[2].arguments[31], "... (11 more arguments)");
    assert_eq!(concord[1].arguments[2], format!("{}... (72 more bytes)", "A".repeat(128)));
}

/// slowlog-max-len bounds the log, slowlog-log-slower-than decides what enters it, and
/// a negative threshold turns it off.
#[test]
fn the_settings_bound_and_select_what_is_logged() {
    let (redis, concord) = both(|_, connection| {
        log_everything(connection);
        let _: () = query(connection, &["CONFIG", "SET", "slowlog-max-len", "3"]);
        for _ in 0..10 {
            send(connection, &["PING"]);
        }
        let length: i64 = query(connection, &["SLOWLOG", "LEN"]);
        assert_eq!(length, 3);
        let newest: Value = query(connection, &["SLOWLOG", "GET", "2"]);
        assert!(matches!(&newest, Value::Array(entries) if entries.len() == 2), "{newest:?}");
        let _: () = query(connection, &["CONFIG", "SET", "slowlog-max-len", "128"]);
        // Nothing a test sends takes a minute; nothing is logged with that threshold, or
        // with the log off.
        let _: () = query(connection, &["CONFIG", "SET", "slowlog-log-slower-than", "60000000"]);
        let _: () = query(connection, &["SLOWLOG", "RESET"]);
        send(connection, &["SET", "k", "v"]);
        let _: () = query(connection, &["CONFIG", "SET", "slowlog-log-slower-than", "-1"]);
        send(connection, &["SET", "k", "v"]);
        let length: i64 = query(connection, &["SLOWLOG", "LEN"]);
        assert_eq!(length, 0);
    });
    assert_eq!(concord, redis);
    assert!(concord.is_empty());
}
