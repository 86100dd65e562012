//! Pub/sub across a 3-node cluster of real processes: subscribers sit on different members,
//! and every member answers PUBLISH with the cluster-wide count of receivers and PUBSUB
//! NUMSUB, NUMPAT and CHANNELS with the cluster's table, as one Redis would for all these
//! clients. A subscriber that disconnects, or whose node is killed and restarted or removed,
//! stops being counted; a removed member's blocked clients take nothing.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::cluster::{connect, Cluster, NodeId, WAIT_MAX};

const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

fn client(cluster: &Cluster, id: NodeId) -> redis::Connection {
    connect(cluster.client_port(id), REQUEST_TIMEOUT).unwrap()
}

fn publish(cluster: &Cluster, id: NodeId, message: &str) -> i64 {
    redis::cmd("PUBLISH").arg("news").arg(message).query(&mut client(cluster, id)).unwrap()
}

/// PUBSUB NUMSUB news, NUMPAT and CHANNELS, as member `id` answers them.
fn introspection(cluster: &Cluster, id: NodeId) -> (Vec<redis::Value>, i64, Vec<String>) {
    let mut connection = client(cluster, id);
    let numsub = redis::cmd("PUBSUB").arg("NUMSUB").arg("news").query(&mut connection).unwrap();
    let numpat = redis::cmd("PUBSUB").arg("NUMPAT").query(&mut connection).unwrap();
    let channels = redis::cmd("PUBSUB").arg("CHANNELS").query(&mut connection).unwrap();
    (numsub, numpat, channels)
}

fn numsub(count: i64) -> Vec<redis::Value> {
    vec![redis::Value::BulkString(b"news".to_vec()), redis::Value::Int(count)]
}

/// Publishes through member `id` until the count is `expected` (a closed connection leaves the
/// table once its removal is applied, shortly after it closed).
#[track_caller]
fn wait_for_count(cluster: &Cluster, id: NodeId, expected: i64) {
    let started = Instant::now();
    loop {
        let count = publish(cluster, id, "probe");
        if count == expected {
            return;
        }
        assert!(
            started.elapsed() < WAIT_MAX,
            "PUBLISH through node {id} still counts {count} receivers, expected {expected}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A RESP2 subscriber on member `id`, confirmed: `SUBSCRIBE news` or `PSUBSCRIBE n*`.
fn subscriber(cluster: &Cluster, id: NodeId, by_pattern: bool) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", cluster.client_port(id))).unwrap();
    stream.set_read_timeout(Some(REQUEST_TIMEOUT)).unwrap();
    if by_pattern {
        stream.write_all(b"PSUBSCRIBE n*\r\n").unwrap();
        expect_bytes(&mut stream, b"*3\r\n$10\r\npsubscribe\r\n$2\r\nn*\r\n:1\r\n");
    } else {
        stream.write_all(b"SUBSCRIBE news\r\n").unwrap();
        expect_bytes(&mut stream, b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n");
    }
    stream
}

/// Reads until `expected` bytes arrived, and checks they are exactly these.
#[track_caller]
fn expect_bytes(stream: &mut TcpStream, expected: &[u8]) {
    let mut received = vec![0; expected.len()];
    stream.read_exact(&mut received).unwrap_or_else(|error| {
        panic!("expected {:?}, read failed: {error}", String::from_utf8_lossy(expected))
    });
    assert_eq!(
        String::from_utf8_lossy(&received),
        String::from_utf8_lossy(expected),
        "expected the left bytes, got the right"
    );
}

fn message_bytes(message: &str, by_pattern: bool) -> Vec<u8> {
    let head = match by_pattern {
        true => "*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n".to_string(),
        false => "*3\r\n$7\r\nmessage\r\n".to_string(),
    };
    format!("{head}$4\r\nnews\r\n${}\r\n{message}\r\n", message.len()).into_bytes()
}

#[test]
fn publish_and_pubsub_introspection_count_the_subscribers_of_every_member() {
    let mut cluster = Cluster::start("pubsub", 3, &[]);
    let leader = cluster.wait_for_leader();
    let ids = cluster.ids();
    // A channel subscriber on every member, and a pattern subscriber on the first.
    let mut subscribers: Vec<(NodeId, bool, TcpStream)> =
        ids.iter().map(|&id| (id, false, subscriber(&cluster, id, false))).collect();
    subscribers.push((ids[0], true, subscriber(&cluster, ids[0], true)));

    for &id in &ids {
        let message = format!("through {id}");
        assert_eq!(
            publish(&cluster, id, &message),
            4,
            "PUBLISH through node {id} counts the three channel and one pattern subscribers"
        );
        for (_, by_pattern, stream) in &mut subscribers {
            expect_bytes(stream, &message_bytes(&message, *by_pattern));
        }
    }
    for &id in &ids {
        assert_eq!(
            introspection(&cluster, id),
            (numsub(3), 1, vec!["news".to_string()]),
            "PUBSUB NUMSUB news, NUMPAT and CHANNELS on node {id}"
        );
    }

    // A subscriber that disconnects stops being counted, on every member.
    drop(subscribers.remove(1));
    for &id in &ids {
        wait_for_count(&cluster, id, 3);
        assert_eq!(introspection(&cluster, id).0, numsub(2), "NUMSUB on node {id}");
    }

    // A follower killed with its subscribers connected forgets them when it starts again.
    let killed = if ids[2] != leader { ids[2] } else { ids[0] };
    let on_killed = subscribers.iter().filter(|(at, _, _)| *at == killed).count() as i64;
    cluster.kill(killed);
    assert_eq!(publish(&cluster, leader, "while down"), 3, "node {killed} never said");
    cluster.restart(killed);
    for &id in &ids {
        wait_for_count(&cluster, id, 3 - on_killed);
    }
    let left: Vec<_> = subscribers.iter().filter(|(at, _, _)| *at != killed).collect();
    let channel_subscribers = left.iter().filter(|(_, by_pattern, _)| !by_pattern).count();
    let patterns = left.iter().filter(|(_, by_pattern, _)| *by_pattern).count();
    for &id in &ids {
        assert_eq!(
            introspection(&cluster, id),
            (numsub(channel_subscribers as i64), patterns as i64, vec!["news".to_string()]),
            "after node {killed} restarted, on node {id}"
        );
    }
}

/// Member `id`'s INFO clients `blocked_clients`, once it is `expected`.
#[track_caller]
fn wait_for_blocked(cluster: &Cluster, id: NodeId, expected: u64) {
    let started = Instant::now();
    loop {
        let info: String =
            redis::cmd("INFO").arg("clients").query(&mut client(cluster, id)).unwrap();
        let blocked = info
            .lines()
            .find_map(|line| line.strip_prefix("blocked_clients:"))
            .and_then(|value| value.trim().parse::<u64>().ok());
        if blocked == Some(expected) {
            return;
        }
        assert!(started.elapsed() < WAIT_MAX, "node {id} has {blocked:?} blocked clients");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `BLPOP jobs 0` on member `id`, blocked.
fn blocked_pop(cluster: &Cluster, id: NodeId) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", cluster.client_port(id))).unwrap();
    stream.set_read_timeout(Some(REQUEST_TIMEOUT)).unwrap();
    stream.write_all(b"BLPOP jobs 0\r\n").unwrap();
    wait_for_blocked(cluster, id, 1);
    stream
}

/// A member removed with a subscriber and a blocked client connected: PUBLISH stops counting
/// the subscriber, and a push goes to the next blocked client at once instead of being
/// reserved for the removed member's client until the reservation expires (30 s).
#[test]
fn a_removed_members_clients_stop_counting_and_take_nothing() {
    let mut cluster = Cluster::start("pubsub-remove", 3, &[]);
    let leader = cluster.wait_for_leader();
    let removed = cluster.other_than(&[leader]);
    let kept = cluster.other_than(&[leader, removed]);
    let _on_leader = subscriber(&cluster, leader, false);
    let _on_removed = subscriber(&cluster, removed, false);
    wait_for_count(&cluster, kept, 2);
    // The removed member's client blocked first, so it is first in line for `jobs`.
    let _first_in_line = blocked_pop(&cluster, removed);
    let mut next_in_line = blocked_pop(&cluster, kept);

    let removal: String =
        cluster.command(leader, redis::cmd("CONCORD.REMOVENODE").arg(removed)).unwrap();
    assert_eq!(removal, "OK");
    cluster.forget(removed);

    let pushed: i64 =
        cluster.command(leader, redis::cmd("LPUSH").arg("jobs").arg("first")).unwrap();
    assert_eq!(pushed, 1);
    expect_bytes(&mut next_in_line, b"*2\r\n$4\r\njobs\r\n$5\r\nfirst\r\n");
    for id in [leader, kept] {
        wait_for_count(&cluster, id, 1);
        assert_eq!(introspection(&cluster, id).0, numsub(1), "NUMSUB on node {id}");
    }
}
