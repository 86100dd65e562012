//! A blocked client that goes away never takes an element with it: the real `concord` binary,
//! with clients that close, are killed, time out or lose their node while blocked, and pushes
//! right after. Every pushed element must afterwards be in its key (or, for a move, in the
//! destination) or have been received by a live client, exactly once.
//!
//! Each test waits for `INFO clients` `blocked_clients` to say the client blocked before it
//! acts, and for it to fall back to 0 (the node dealt with the client that left) before it
//! looks at the keys, so no test depends on how long anything takes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

mod support;

use support::reply::{self, Reply, Value};
use support::servers::ServerProcess as Node;

const TRIES: usize = 40;
/// How long a wait for a state the node must reach may last before the test gives up (a hang
/// guard, never a measurement).
const HANG_GUARD: Duration = Duration::from_secs(20);

/// One blocking command: how it blocks on `key`, how an element is pushed for it, and where
/// the element may be once nobody took it.
struct Case {
    name: &'static str,
    block: fn(&str) -> Vec<String>,
    sorted_set: bool,
    moves: bool,
}

fn words(text: &str, key: &str) -> Vec<String> {
    text.split(' ').map(|word| word.replace("{k}", key)).collect()
}

const CASES: &[Case] = &[
    Case { name: "BLPOP", block: |k| words("BLPOP {k} 0", k), sorted_set: false, moves: false },
    Case { name: "BRPOP", block: |k| words("BRPOP {k} 0", k), sorted_set: false, moves: false },
    Case {
        name: "BLMOVE",
        block: |k| words("BLMOVE {k} {k}:to LEFT RIGHT 0", k),
        sorted_set: false,
        moves: true,
    },
    Case {
        name: "BRPOPLPUSH",
        block: |k| words("BRPOPLPUSH {k} {k}:to 0", k),
        sorted_set: false,
        moves: true,
    },
    Case {
        name: "BLMPOP",
        block: |k| words("BLMPOP 0 1 {k} LEFT COUNT 2", k),
        sorted_set: false,
        moves: false,
    },
    Case {
        name: "BZPOPMIN",
        block: |k| words("BZPOPMIN {k} 0", k),
        sorted_set: true,
        moves: false,
    },
    Case {
        name: "BZPOPMAX",
        block: |k| words("BZPOPMAX {k} 0", k),
        sorted_set: true,
        moves: false,
    },
    Case {
        name: "BZMPOP",
        block: |k| words("BZMPOP 0 1 {k} MIN COUNT 2", k),
        sorted_set: true,
        moves: false,
    },
];

fn request(arguments: &[String]) -> Vec<u8> {
    let mut bytes = format!("*{}\r\n", arguments.len()).into_bytes();
    for argument in arguments {
        bytes.extend_from_slice(format!("${}\r\n{argument}\r\n", argument.len()).as_bytes());
    }
    bytes
}

/// Reads one whole reply from a raw connection; `None` if the server closed it first.
fn read_reply(stream: &mut TcpStream) -> Option<Reply> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Ok(Some((reply, _))) = reply::parse(&buffer) {
            return Some(reply);
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(read) => buffer.extend_from_slice(&chunk[..read]),
        }
    }
}

fn info_field(client: &mut redis::Connection, section: &str, field: &str) -> u64 {
    let info: String = redis::cmd("INFO").arg(section).query(client).unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix(&format!("{field}:")))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("INFO {section} has no {field}: {info}"))
}

/// Waits until `blocked_clients` is `count`.
#[track_caller]
fn wait_for_blocked(client: &mut redis::Connection, count: u64) {
    let started = Instant::now();
    loop {
        let blocked = info_field(client, "clients", "blocked_clients");
        if blocked == count {
            return;
        }
        assert!(started.elapsed() < HANG_GUARD, "blocked_clients stayed {blocked}, not {count}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn push(client: &mut redis::Connection, case: &Case, key: &str, element: &str) {
    let command = if case.sorted_set {
        redis::cmd("ZADD").arg(key).arg(1).arg(element).clone()
    } else {
        redis::cmd("RPUSH").arg(key).arg(element).clone()
    };
    let _: i64 = command.query(client).unwrap();
}

/// How many times `element` is in `key` (and, for a move, its destination).
fn copies(client: &mut redis::Connection, case: &Case, key: &str, element: &str) -> usize {
    let mut keys = vec![key.to_string()];
    if case.moves {
        keys.push(format!("{key}:to"));
    }
    let mut found = 0;
    for key in keys {
        let members: Vec<String> = if case.sorted_set {
            redis::cmd("ZRANGE").arg(&key).arg(0).arg(-1).query(client).unwrap()
        } else {
            redis::cmd("LRANGE").arg(&key).arg(0).arg(-1).query(client).unwrap()
        };
        found += members.iter().filter(|member| *member == element).count();
    }
    found
}

#[test]
fn no_blocking_command_takes_an_element_with_a_client_that_disconnected() {
    let node = Node::start_concord();
    let mut pusher = node.client();
    let mut checker = node.client();
    let mut lost = Vec::new();
    for case in CASES {
        for attempt in 0..TRIES {
            let key = format!("{}:{attempt}", case.name);
            let mut gone = node.raw();
            gone.write_all(&request(&(case.block)(&key))).unwrap();
            wait_for_blocked(&mut checker, 1);
            drop(gone);
            push(&mut pusher, case, &key, "element");
            wait_for_blocked(&mut checker, 0);
            let found = copies(&mut checker, case, &key, "element");
            if found != 1 {
                lost.push(format!("{} try {attempt}: {found} copies", case.name));
            }
        }
    }
    assert!(lost.is_empty(), "pushed elements not where they belong: {lost:?}");
}

#[test]
fn a_killed_blocked_client_takes_no_element_with_it() {
    let node = Node::start_concord();
    let mut pusher = node.client();
    let mut checker = node.client();
    let mut lost = Vec::new();
    for attempt in 0..TRIES {
        let case = &CASES[attempt % CASES.len()];
        let key = format!("killed:{attempt}");
        let mut victim = node.raw();
        victim.write_all(b"CLIENT ID\r\n").unwrap();
        let id = match read_reply(&mut victim).map(|reply| reply.value) {
            Some(Value::Integer(id)) => id,
            other => panic!("CLIENT ID answered {other:?}"),
        };
        victim.write_all(&request(&(case.block)(&key))).unwrap();
        wait_for_blocked(&mut checker, 1);
        let killed: i64 =
            redis::cmd("CLIENT").arg("KILL").arg("ID").arg(id).query(&mut pusher).unwrap();
        assert_eq!(killed, 1);
        push(&mut pusher, case, &key, "element");
        wait_for_blocked(&mut checker, 0);
        assert!(read_reply(&mut victim).is_none(), "a killed client gets no reply");
        let found = copies(&mut checker, case, &key, "element");
        if found != 1 {
            lost.push(format!("{} try {attempt}: {found} copies", case.name));
        }
    }
    assert!(lost.is_empty(), "pushed elements not where they belong: {lost:?}");
}

#[test]
fn a_timeout_racing_a_push_never_loses_nor_duplicates_the_element() {
    let node = Node::start_concord();
    let mut pusher = node.client();
    let mut checker = node.client();
    let (mut received, mut left) = (0, 0);
    for attempt in 0..TRIES * 2 {
        let case = if attempt % 2 == 0 { &CASES[0] } else { &CASES[5] };
        let key = format!("race:{attempt}");
        let mut waiting = node.raw();
        let mut arguments = (case.block)(&key);
        // The timeout is the last argument of BLPOP and BZPOPMIN: a few milliseconds, so that
        // it races the push.
        *arguments.last_mut().unwrap() = format!("0.00{}", 1 + attempt % 5);
        waiting.write_all(&request(&arguments)).unwrap();
        push(&mut pusher, case, &key, "element");
        let reply = read_reply(&mut waiting).expect("a live client gets an answer");
        let got_it = reply.elements().is_some_and(|elements| !elements.is_empty());
        let found = copies(&mut checker, case, &key, "element");
        if got_it {
            received += 1;
            assert_eq!(found, 0, "try {attempt}: the client got it, and it is still there");
        } else {
            left += 1;
            assert_eq!(found, 1, "try {attempt}: timed out, and the element is gone");
        }
    }
    println!("{received} served before their timeout, {left} timed out first");
}

#[test]
fn a_node_restarted_while_clients_are_blocked_gives_pushes_to_no_client_of_its_earlier_run() {
    let mut node = Node::start_concord();
    let mut streams = Vec::new();
    {
        let mut checker = node.client();
        for (number, case) in CASES.iter().enumerate() {
            let mut stream = node.raw();
            stream.write_all(&request(&(case.block)(&format!("restart:{number}")))).unwrap();
            streams.push(stream);
            wait_for_blocked(&mut checker, number as u64 + 1);
        }
    }
    node.restart();
    let mut client = node.client();
    wait_for_blocked(&mut client, 0);
    for (number, case) in CASES.iter().enumerate() {
        push(&mut client, case, &format!("restart:{number}"), "element");
    }
    for (number, case) in CASES.iter().enumerate() {
        let found = copies(&mut client, case, &format!("restart:{number}"), "element");
        assert_eq!(found, 1, "{}: the element went to a client of the earlier run", case.name);
    }
}

/// CLIENT LIST's flags and INFO's count for a blocked client, as Redis shows them.
fn blocked_state(node: &Node) -> (String, u64) {
    let mut waiting = node.raw();
    waiting.write_all(b"BLPOP blocked-state 0\r\n").unwrap();
    let mut client = node.client();
    wait_for_blocked(&mut client, 1);
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut client).unwrap();
    let flags = list
        .lines()
        .filter(|line| line.contains("cmd=blpop"))
        .filter_map(|line| line.split(' ').find_map(|field| field.strip_prefix("flags=")))
        .collect::<Vec<_>>()
        .join(",");
    let _: i64 = redis::cmd("RPUSH").arg("blocked-state").arg("v").query(&mut client).unwrap();
    let reply = read_reply(&mut waiting).expect("the waiter is served");
    assert_eq!(reply.elements().map(<[Reply]>::len), Some(2));
    (flags, info_field(&mut client, "clients", "blocked_clients"))
}

#[test]
fn a_blocked_client_is_counted_and_flagged_as_redis_does() {
    let redis = Node::start_redis();
    let concord = Node::start_concord();
    let expected = blocked_state(&redis);
    assert_eq!(expected, ("b".to_string(), 0), "redis-server's view");
    assert_eq!(blocked_state(&concord), expected);
}
