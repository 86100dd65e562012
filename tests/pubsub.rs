//! Black-box tests of pub/sub: the real `concord` binary, driven with the `redis` crate and
//! with raw sockets where the exact bytes (RESP3 push frames) are the point. Byte-exact
//! replies of every command are pinned by `tests/differential/pubsub.redis`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

mod support;

use support::servers::ServerProcess as Node;

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

fn publish(connection: &mut redis::Connection, channel: &str, message: &str) -> i64 {
    redis::cmd("PUBLISH").arg(channel).arg(message).query(connection).unwrap()
}

#[test]
fn a_publisher_reaches_channel_and_pattern_subscribers_and_counts_them() {
    let node = Node::start_concord();
    let mut first = node.client();
    let mut second = node.client();
    let mut publisher = node.client();
    let mut by_channel = first.as_pubsub();
    by_channel.subscribe("news").unwrap();
    let mut by_pattern = second.as_pubsub();
    by_pattern.psubscribe("n*").unwrap();
    assert_eq!(publish(&mut publisher, "news", "hello"), 2, "two subscribers received it");
    assert_eq!(publish(&mut publisher, "nothing", "x"), 1, "only the pattern matches");
    assert_eq!(publish(&mut publisher, "other", "y"), 0);

    by_channel.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    by_pattern.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let message = by_channel.get_message().unwrap();
    assert_eq!(message.get_channel_name(), "news");
    assert_eq!(message.get_payload::<String>().unwrap(), "hello");
    let message = by_pattern.get_message().unwrap();
    assert_eq!(message.get_pattern::<String>().unwrap(), "n*");
    assert_eq!(message.get_payload::<String>().unwrap(), "hello");
    let message = by_pattern.get_message().unwrap();
    assert_eq!(message.get_channel_name(), "nothing");
}

#[test]
fn resp3_subscribers_get_push_frames_and_may_run_other_commands() {
    let node = Node::start_concord();
    let mut subscriber = node.raw();
    subscriber.write_all(b"HELLO 3\r\n").unwrap();
    let mut greeting = [0u8; 3];
    subscriber.read_exact(&mut greeting).unwrap();
    assert_eq!(&greeting, b"%7\r");
    // Skip the rest of HELLO's map: read until the final `*0\r\n` (modules).
    let mut tail = Vec::new();
    while !tail.ends_with(b"*0\r\n") {
        let mut byte = [0u8; 1];
        subscriber.read_exact(&mut byte).unwrap();
        tail.push(byte[0]);
    }
    subscriber.write_all(b"SUBSCRIBE chat\r\n").unwrap();
    expect_bytes(&mut subscriber, b">3\r\n$9\r\nsubscribe\r\n$4\r\nchat\r\n:1\r\n");
    let mut publisher = node.client();
    assert_eq!(publish(&mut publisher, "chat", "hi"), 1);
    expect_bytes(&mut subscriber, b">3\r\n$7\r\nmessage\r\n$4\r\nchat\r\n$2\r\nhi\r\n");
    subscriber.write_all(b"SET k v\r\nGET k\r\n").unwrap();
    expect_bytes(&mut subscriber, b"+OK\r\n$1\r\nv\r\n");
}

#[test]
fn a_resp2_subscriber_may_only_manage_subscriptions_and_ping() {
    let node = Node::start_concord();
    let mut subscriber = node.raw();
    subscriber.write_all(b"SUBSCRIBE a\r\nGET x\r\nPING\r\n").unwrap();
    expect_bytes(&mut subscriber, b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n");
    expect_bytes(
        &mut subscriber,
        b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / \
          RESET are allowed in this context\r\n",
    );
    expect_bytes(&mut subscriber, b"*2\r\n$4\r\npong\r\n$0\r\n\r\n");
}

#[test]
fn subscriptions_over_the_bound_get_an_error() {
    let node = Node::start_concord_with(&[], Some("subscriptions-max = 2\n"));
    let mut subscriber = node.raw();
    subscriber.write_all(b"SUBSCRIBE a b c\r\n").unwrap();
    expect_bytes(&mut subscriber, b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n");
    expect_bytes(&mut subscriber, b"*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n");
    expect_bytes(
        &mut subscriber,
        b"-ERR this connection has reached subscriptions-max (2) channel and pattern \
          subscriptions\r\n",
    );
}

#[test]
fn a_subscriber_that_does_not_read_is_disconnected_and_others_go_on() {
    let node = Node::start_concord_with(&[], Some("subscriber-queue-messages-max = 4\n"));
    let mut slow = node.raw();
    slow.write_all(b"SUBSCRIBE flood\r\n").unwrap();
    expect_bytes(&mut slow, b"*3\r\n$9\r\nsubscribe\r\n$5\r\nflood\r\n:1\r\n");
    let mut publisher = node.client();
    // Large messages fill the socket buffers, then the bounded queue, which cuts it off.
    let message = "x".repeat(256 * 1024);
    let deadline = Instant::now() + Duration::from_secs(20);
    while publish(&mut publisher, "flood", &message) == 1 {
        assert!(Instant::now() < deadline, "the slow subscriber was never cut off");
    }
    let mut other = node.client();
    let pong: String = redis::cmd("PING").query(&mut other).unwrap();
    assert_eq!(pong, "PONG", "other clients are still served");
    // The slow subscriber's connection ends once it drains what was sent.
    slow.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        match slow.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(_) => continue,
        }
    }
}

/// `name=value` fields of one CLIENT LIST line.
fn client_fields(line: &str, names: &[&str]) -> Vec<String> {
    names
        .iter()
        .map(|name| {
            line.split(' ')
                .find_map(|field| field.strip_prefix(&format!("{name}=")))
                .unwrap_or_else(|| panic!("no {name}= in {line}"))
                .to_string()
        })
        .collect()
}

/// What CLIENT LIST and CLIENT KILL say of a subscribed client, on `server`: its `flags`,
/// `sub` and `psub` in each listing, then how many clients each filter matched.
fn subscribed_client_as_listed(server: &Node) -> (Vec<Vec<String>>, Vec<usize>) {
    let mut subscriber = server.raw();
    let mut observer = server.client();
    subscriber.write_all(b"*2\r\n$6\r\nCLIENT\r\n$2\r\nID\r\n").unwrap();
    let mut reply = [0; 64];
    let read = subscriber.read(&mut reply).unwrap();
    let id = String::from_utf8_lossy(&reply[1..read]).trim().to_string();
    // Each confirmation is read before the next step, so the server has applied it.
    subscriber.write_all(b"*3\r\n$9\r\nSUBSCRIBE\r\n$1\r\na\r\n$1\r\nb\r\n").unwrap();
    expect_bytes(&mut subscriber, b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n");
    expect_bytes(&mut subscriber, b"*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n");
    subscriber.write_all(b"*2\r\n$10\r\nPSUBSCRIBE\r\n$2\r\np*\r\n").unwrap();
    expect_bytes(&mut subscriber, b"*3\r\n$10\r\npsubscribe\r\n$2\r\np*\r\n:3\r\n");
    let list = |observer: &mut redis::Connection, kind: &str| -> String {
        redis::cmd("CLIENT").arg("LIST").arg("TYPE").arg(kind).query(observer).unwrap()
    };
    let pubsub = list(&mut observer, "pubsub");
    let normal = list(&mut observer, "normal");
    let everyone: String = redis::cmd("CLIENT").arg("LIST").query(&mut observer).unwrap();
    let own_line = |text: &str| {
        text.lines().find(|line| line.starts_with(&format!("id={id} "))).map(str::to_string)
    };
    assert!(own_line(&normal).is_none(), "a subscribed client is not of type normal: {normal}");
    let fields = ["flags", "sub", "psub"];
    let listed = vec![
        client_fields(&own_line(&pubsub).expect("listed as pubsub"), &fields),
        client_fields(&own_line(&everyone).expect("listed"), &fields),
    ];
    subscriber.write_all(b"*2\r\n$11\r\nUNSUBSCRIBE\r\n$1\r\na\r\n").unwrap();
    expect_bytes(&mut subscriber, b"*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:2\r\n");
    let after_one = client_fields(&own_line(&list(&mut observer, "pubsub")).unwrap(), &fields);
    let kill = |observer: &mut redis::Connection, kind: &str| -> usize {
        redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg(kind).query(observer).unwrap()
    };
    let killed = vec![kill(&mut observer, "master"), kill(&mut observer, "pubsub")];
    (listed.into_iter().chain([after_one]).collect(), killed)
}

#[test]
fn client_list_and_kill_see_a_subscribed_client_as_redis_does() {
    let redis = Node::start_redis();
    let concord = Node::start_concord();
    let expected = subscribed_client_as_listed(&redis);
    assert_eq!(
        expected,
        (
            vec![
                vec!["P".to_string(), "2".to_string(), "1".to_string()],
                vec!["P".to_string(), "2".to_string(), "1".to_string()],
                vec!["P".to_string(), "1".to_string(), "1".to_string()],
            ],
            vec![0, 1]
        ),
        "redis-server itself answers otherwise"
    );
    assert_eq!(subscribed_client_as_listed(&concord), expected);
}

/// PUBLISH's count once a subscriber is killed, RESET or disconnected: after the removal of its
/// subscriptions is applied it is no longer counted, on Redis at once and on Concord once the
/// removal committed (a moment later for a closed or killed connection).
fn count_after_each_departure(node: &Node) -> Vec<i64> {
    let mut publisher = node.client();
    let mut subscribers: Vec<TcpStream> = (0..3)
        .map(|_| {
            let mut stream = node.raw();
            stream.write_all(b"CLIENT ID\r\nSUBSCRIBE gone\r\n").unwrap();
            stream
        })
        .collect();
    let mut ids = Vec::new();
    for stream in &mut subscribers {
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while !line.ends_with(b"\r\n") {
            stream.read_exact(&mut byte).unwrap();
            line.push(byte[0]);
        }
        ids.push(String::from_utf8_lossy(&line[1..line.len() - 2]).to_string());
        expect_bytes(stream, b"*3\r\n$9\r\nsubscribe\r\n$4\r\ngone\r\n:1\r\n");
    }
    let mut counts = vec![publish(&mut publisher, "gone", "all")];
    let _: i64 =
        redis::cmd("CLIENT").arg("KILL").arg("ID").arg(&ids[0]).query(&mut publisher).unwrap();
    counts.push(settled_count(&mut publisher, 2));
    subscribers[1].write_all(b"RESET\r\n").unwrap();
    // The messages published so far come first (one per probe), then RESET's reply.
    let mut received = Vec::new();
    let mut byte = [0u8; 1];
    while !received.ends_with(b"+RESET\r\n") {
        subscribers[1].read_exact(&mut byte).unwrap();
        received.push(byte[0]);
    }
    counts.push(publish(&mut publisher, "gone", "after reset"));
    drop(subscribers.remove(2));
    counts.push(settled_count(&mut publisher, 0));
    counts
}

/// Publishes until the count falls to `expected` or a few seconds passed; the last count.
fn settled_count(publisher: &mut redis::Connection, expected: i64) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let count = publish(publisher, "gone", "probe");
        if count == expected || Instant::now() > deadline {
            return count;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_subscriber_killed_reset_or_disconnected_stops_being_counted() {
    let redis = Node::start_redis();
    let concord = Node::start_concord();
    let expected = count_after_each_departure(&redis);
    assert_eq!(expected, vec![3, 2, 1, 0], "redis-server itself answers otherwise");
    assert_eq!(count_after_each_departure(&concord), expected);
}
