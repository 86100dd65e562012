//! Blocked clients on a 3-node cluster of real processes, under faults: clients blocked on
//! followers disconnect while others push through other members, some stay and take what they
//! are served, the leader is killed and later cut off by a partition during the run. At the
//! end, with every fault healed, each acknowledged pushed element must be accounted for
//! exactly once, on every member: received by a live client, or still in its key (for a move,
//! in the source or the destination), and never both.
//!
//! Rounds run one after another, so that each element's fate can be told apart; within a
//! round the disconnect and the push race. No test asserts a duration: waits are for states
//! (`blocked_clients` on the waiter's node), bounded only by a hang guard.

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::cluster::{connect, Cluster, NodeId};
use support::reply;

const ROUNDS: u64 = 60;
const HANG_GUARD: Duration = Duration::from_secs(40);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The blocking commands the rounds cycle through, with `{k}` for the key.
const COMMANDS: &[(&str, bool)] = &[
    ("BLPOP {k} 5", false),
    ("BRPOPLPUSH {k} {k}:to 5", false),
    ("BZPOPMIN {k} 5", true),
    ("BLMPOP 5 1 {k} RIGHT", false),
];

/// What happened to one round's element, as far as the clients saw.
#[derive(Debug)]
struct Round {
    key: String,
    sorted_set: bool,
    /// The push was acknowledged (otherwise it may or may not have happened).
    acknowledged: bool,
    /// A live client received the element.
    received: bool,
}

fn request(words: &[String]) -> Vec<u8> {
    let mut bytes = format!("*{}\r\n", words.len()).into_bytes();
    for word in words {
        bytes.extend_from_slice(format!("${}\r\n{word}\r\n", word.len()).as_bytes());
    }
    bytes
}

fn blocked_clients(port: u16) -> Option<u64> {
    let mut connection = connect(port, REQUEST_TIMEOUT).ok()?;
    let info: String = redis::cmd("INFO").arg("clients").query(&mut connection).ok()?;
    info.lines().find_map(|line| line.strip_prefix("blocked_clients:")?.trim().parse().ok())
}

/// Whether client `client` of node `port` is blocked (CLIENT LIST flag `b`).
fn is_blocked(port: u16, client: i64) -> Option<bool> {
    let mut connection = connect(port, REQUEST_TIMEOUT).ok()?;
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut connection).ok()?;
    let line = list.lines().find(|line| line.starts_with(&format!("id={client} ")))?;
    let flags = line.split(' ').find_map(|field| field.strip_prefix("flags="))?;
    Some(flags.contains('b'))
}

/// Waits until client `client` of node `port` is blocked, or `stream` got a reply first (the
/// blocking command failed, for example for want of a leader). True if it blocked.
fn wait_until_blocked(port: u16, client: i64, stream: &mut TcpStream) -> bool {
    let started = Instant::now();
    stream.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
    let mut byte = [0u8; 1];
    loop {
        if is_blocked(port, client) == Some(true) {
            return true;
        }
        match stream.peek(&mut byte) {
            Ok(_) => return false,
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(error) if error.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return false,
        }
        assert!(
            started.elapsed() < HANG_GUARD,
            "node on {port} never showed client {client} blocked"
        );
    }
}

/// Reads one whole reply; its bytes, or what came before the connection ended.
fn read_reply(stream: &mut TcpStream) -> Vec<u8> {
    stream.set_read_timeout(Some(HANG_GUARD)).unwrap();
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 1024];
    while !matches!(reply::parse(&buffer), Ok(Some(_))) {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(read) => buffer.extend_from_slice(&chunk[..read]),
        }
    }
    buffer
}

/// Pushes the round's element through node `port`.
fn push(port: u16, round: &Round, element: &str) -> bool {
    let Ok(mut connection) = connect(port, REQUEST_TIMEOUT) else { return false };
    let command = if round.sorted_set {
        redis::cmd("ZADD").arg(&round.key).arg(1).arg(element).clone()
    } else {
        redis::cmd("RPUSH").arg(&round.key).arg(element).clone()
    };
    command.query::<i64>(&mut connection).is_ok()
}

fn copies_on(port: u16, round: &Round, element: &str) -> redis::RedisResult<usize> {
    let mut connection = connect(port, REQUEST_TIMEOUT)?;
    let mut found = 0;
    for key in [round.key.clone(), format!("{}:to", round.key)] {
        let members: Vec<String> = if round.sorted_set {
            redis::cmd("ZRANGE").arg(&key).arg(0).arg(-1).query(&mut connection)?
        } else {
            redis::cmd("LRANGE").arg(&key).arg(0).arg(-1).query(&mut connection)?
        };
        found += members.iter().filter(|member| *member == element).count();
    }
    Ok(found)
}

/// One round: a client blocks on `waiter`, then either disconnects or stays, while the
/// element is pushed through `pusher`.
fn run_round(cluster: &Cluster, number: u64, waiter: NodeId, pusher: NodeId) -> Option<Round> {
    let (template, sorted_set) = COMMANDS[number as usize % COMMANDS.len()];
    let key = format!("round:{number}");
    let words: Vec<String> = template.split(' ').map(|word| word.replace("{k}", &key)).collect();
    let waiter_port = cluster.client_port(waiter);
    let mut stream = TcpStream::connect(("127.0.0.1", waiter_port)).ok()?;
    stream.write_all(b"CLIENT ID\r\n").ok()?;
    let client = match reply::parse(&read_reply(&mut stream)) {
        Ok(Some((reply::Reply { value: reply::Value::Integer(id), .. }, _))) => id,
        other => panic!("CLIENT ID answered {other:?}"),
    };
    stream.write_all(&request(&words)).ok()?;
    if !wait_until_blocked(waiter_port, client, &mut stream) {
        return None;
    }
    let mut round = Round { key, sorted_set, acknowledged: false, received: false };
    let element = format!("element-{number}");
    let stays = number % 3 == 0;
    if stays {
        round.acknowledged = push(cluster.client_port(pusher), &round, &element);
        let reply = read_reply(&mut stream);
        round.received = String::from_utf8_lossy(&reply).contains(&element);
    } else {
        drop(stream);
        round.acknowledged = push(cluster.client_port(pusher), &round, &element);
    }
    // The waiter's node has dealt with the client (cancelled or answered it) once it no longer
    // counts it; it may be cut off, so this is not waited for here but at the end.
    Some(round)
}

/// Runs the rounds, with the leader killed in the second quarter and isolated in the third.
fn run_rounds(cluster: &mut Cluster) -> BTreeMap<u64, Round> {
    let mut rounds = BTreeMap::new();
    let mut killed = None;
    for number in 0..ROUNDS {
        match number {
            15 => {
                let leader = cluster.wait_for_leader();
                cluster.kill(leader);
                killed = Some(leader);
            }
            30 => {
                cluster.heal();
                killed = None;
            }
            40 => {
                let leader = cluster.wait_for_leader();
                let others: Vec<NodeId> =
                    cluster.ids().into_iter().filter(|id| *id != leader).collect();
                cluster.network.partition(&[&[leader], &others]);
                killed = Some(leader);
            }
            50 => {
                cluster.heal();
                killed = None;
            }
            _ => {}
        }
        let running: Vec<NodeId> =
            cluster.ids().into_iter().filter(|id| Some(*id) != killed).collect();
        let leader = cluster.leader();
        // The waiter on a follower when there is one; the push through another member.
        let waiter = *running
            .iter()
            .filter(|id| Some(**id) != leader)
            .nth(number as usize % 2)
            .unwrap_or(&running[0]);
        let pusher = *running.iter().find(|id| **id != waiter).unwrap_or(&running[0]);
        if let Some(round) = run_round(cluster, number, waiter, pusher) {
            rounds.insert(number, round);
        }
    }
    rounds
}

#[test]
fn elements_pushed_while_blocked_clients_on_followers_disconnect_are_never_lost() {
    let mut cluster = Cluster::start("blocking", 3, &[]);
    let rounds = run_rounds(&mut cluster);
    cluster.heal();
    cluster.wait_for_leader();
    // Every member has dealt with its clients that left (each cancel was applied).
    for (id, port) in cluster.client_ports() {
        let started = Instant::now();
        while blocked_clients(port) != Some(0) {
            assert!(started.elapsed() < HANG_GUARD, "node {id} still counts blocked clients");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let acknowledged = rounds.values().filter(|round| round.acknowledged).count();
    assert!(acknowledged >= ROUNDS as usize / 2, "only {acknowledged} pushes were acknowledged");
    let mut wrong = Vec::new();
    for (number, round) in &rounds {
        let element = format!("element-{number}");
        for (id, port) in cluster.client_ports() {
            let started = Instant::now();
            let found = loop {
                match copies_on(port, round, &element) {
                    Ok(found) => break found,
                    Err(error) => {
                        assert!(started.elapsed() < HANG_GUARD, "node {id}: {error}");
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            };
            // A move's element stays in the cluster: a received one is in the destination.
            let moves = COMMANDS[*number as usize % COMMANDS.len()].0.starts_with("BRPOPLPUSH");
            let expected_ok = match (round.acknowledged, round.received) {
                (_, true) if moves => found == 1,
                (_, true) => found == 0,
                (true, false) => found == 1,
                (false, false) => found <= 1,
            };
            if !expected_ok {
                wrong.push(format!("round {number} on node {id}: {round:?}, {found} copies"));
            }
        }
    }
    let received = rounds.values().filter(|round| round.received).count();
    println!("{} rounds, {acknowledged} pushes acknowledged, {received} received", rounds.len());
    assert!(wrong.is_empty(), "elements not accounted for exactly once: {wrong:#?}");
}
