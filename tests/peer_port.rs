//! The peer port and a member without a majority, seen from outside: strangers, dialers of
//! another peer protocol and nodes of another cluster are refused with a reason in the log, and
//! clients of a node that cannot reach a leader get a bounded wait and an error that says
//! nothing was applied.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use concord::raft::tcp::{encode_frame, Hello, Welcome, MAGIC, PROTOCOL_VERSION};
use support::servers::ServerProcess as Concord;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Node 1 of a three-node cluster whose other members never start, and its peer port. It binds
/// a free peer port itself (`--peer-port 0`); the addresses in its peers list are only dialed,
/// never bound, so nothing races for them.
fn lonely_member() -> (Concord, u16) {
    let peers = format!(
        "1=127.0.0.1:{},2=127.0.0.1:{},3=127.0.0.1:{}",
        free_port(),
        free_port(),
        free_port()
    );
    // The harness asks for `warn`; the file cannot override a flag, so the refusals this test
    // looks for are logged at `warn`.
    let config = "leader-wait-ms = 300\ncluster-id = \"test-cluster\"\n";
    let flags = ["--node-id", "1", "--peers", &peers, "--peer-port", "0"];
    let server = Concord::start_concord_with(&flags, Some(config));
    let peer_port = server.peer_address().expect("a member has a peer port").port();
    (server, peer_port)
}

fn wait_for_log(server: &Concord, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.log_tail().contains(needle) {
        assert!(Instant::now() < deadline, "the log never said {needle:?}\n{}", server.log_tail());
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn handshake(peer_port: u16, hello: &impl serde::Serialize) -> Welcome {
    let mut stream = TcpStream::connect(("127.0.0.1", peer_port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut bytes = MAGIC.to_vec();
    bytes.extend(encode_frame(hello).unwrap());
    stream.write_all(&bytes).unwrap();
    let mut length = [0u8; 4];
    stream.read_exact(&mut length).unwrap();
    let mut payload = vec![0u8; u32::from_be_bytes(length) as usize];
    stream.read_exact(&mut payload).unwrap();
    concord::raft::tcp::decode_payload(&payload).unwrap()
}

#[test]
fn garbage_on_the_peer_port_is_refused_and_logged() {
    let (server, peer_port) = lonely_member();
    let mut stream = TcpStream::connect(("127.0.0.1", peer_port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    stream.write_all(b"*1\r\n$4\r\nPING\r\n").unwrap();
    let mut reply = Vec::new();
    // Closed without a byte in answer: an end of stream, or a reset since our request was
    // never read.
    let read = stream.read_to_end(&mut reply);
    let closed = read.is_ok()
        || read.as_ref().is_err_and(|error| error.kind() == std::io::ErrorKind::ConnectionReset);
    assert!(closed && reply.is_empty(), "a stranger got {reply:?} ({read:?})");
    wait_for_log(&server, "not a Concord peer");
    // The node still serves clients.
    assert_eq!(
        support::servers::request_once(server.address(), b"PING\r\n").unwrap(),
        b"+PONG\r\n"
    );
}

#[test]
fn a_node_of_another_cluster_or_a_misaddressed_dial_is_refused_with_the_reason() {
    let (server, peer_port) = lonely_member();
    let stranger = Hello {
        protocol_version: PROTOCOL_VERSION,
        cluster_id: "other".into(),
        from: 2,
        to: 1,
        incarnation: 7,
    };
    let Welcome::Refused(reason) = handshake(peer_port, &stranger) else {
        panic!("a node of another cluster was accepted")
    };
    assert!(reason.contains("\"other\"") && reason.contains("\"test-cluster\""), "{reason}");
    wait_for_log(&server, "belongs to cluster");
    let misaddressed = Hello {
        protocol_version: PROTOCOL_VERSION,
        cluster_id: "test-cluster".into(),
        from: 2,
        to: 3,
        incarnation: 7,
    };
    let Welcome::Refused(reason) = handshake(peer_port, &misaddressed) else {
        panic!("a dial meant for node 3 was accepted by node 1")
    };
    assert!(reason.contains("this is node 1"), "{reason}");
    let member = Hello {
        protocol_version: PROTOCOL_VERSION,
        cluster_id: "test-cluster".into(),
        from: 2,
        to: 1,
        incarnation: 7,
    };
    assert!(matches!(handshake(peer_port, &member), Welcome::Accepted { .. }));
}

/// A dialer of another peer protocol is refused at the handshake, and both the refusal it
/// receives and the node's log line name both versions: whether its `Hello` has this
/// version's shape, or only begins with its version as every version's `Hello` does.
#[test]
fn a_dialer_of_another_peer_protocol_is_refused_with_both_versions_named() {
    let (server, peer_port) = lonely_member();
    let newer = PROTOCOL_VERSION + 1;
    let both = format!("speaks peer protocol {newer}, this node speaks {PROTOCOL_VERSION}");
    let same_shape = Hello {
        protocol_version: newer,
        cluster_id: "test-cluster".into(),
        from: 2,
        to: 1,
        incarnation: 7,
    };
    let Welcome::Refused(reason) = handshake(peer_port, &same_shape) else {
        panic!("a dialer of peer protocol {newer} was accepted")
    };
    assert!(reason.contains(&format!("node 2 {both}")), "{reason}");
    wait_for_log(&server, &format!("node 2 {both}"));
    // A `Hello` of another shape: only the version, which this version cannot decode further.
    let Welcome::Refused(reason) = handshake(peer_port, &newer) else {
        panic!("an undecodable hello of peer protocol {newer} was accepted")
    };
    assert!(reason.contains(&format!("the dialer {both}")), "{reason}");
    wait_for_log(&server, &format!("the dialer {both}"));
}

/// Node 2 is recorded with the data directory it first showed; the same id with another
/// directory (wiped, replaced) is refused as such, and the first one is still welcome.
#[test]
fn a_member_that_comes_back_with_another_data_directory_is_refused_as_replaced() {
    let (server, peer_port) = lonely_member();
    let hello = |incarnation| Hello {
        protocol_version: PROTOCOL_VERSION,
        cluster_id: "test-cluster".into(),
        from: 2,
        to: 1,
        incarnation,
    };
    let Welcome::Accepted { incarnation: own } = handshake(peer_port, &hello(7)) else {
        panic!("node 2 was refused at its first handshake")
    };
    let Welcome::Replaced { cluster_id } = handshake(peer_port, &hello(8)) else {
        panic!("node 2 on another data directory was not refused as replaced")
    };
    assert_eq!(cluster_id, "test-cluster");
    wait_for_log(&server, "CONCORD.REMOVENODE 2");
    let Welcome::Accepted { incarnation } = handshake(peer_port, &hello(7)) else {
        panic!("node 2 on its own data directory was refused after the replaced one")
    };
    assert_eq!(incarnation, own, "node 1's own incarnation changed between handshakes");
}

#[test]
fn without_a_majority_writes_wait_then_fail_as_not_applied_and_the_node_keeps_serving() {
    let (server, _) = lonely_member();
    let started = Instant::now();
    let reply = support::servers::request_once(server.address(), b"SET k v\r\n").unwrap();
    let reply = String::from_utf8_lossy(&reply);
    assert!(
        reply.starts_with("-ERR the cluster is unavailable") && reply.contains("not applied"),
        "{reply}"
    );
    assert!(started.elapsed() >= Duration::from_millis(300), "the write did not wait for a leader");
    let reply = support::servers::request_once(server.address(), b"GET k\r\n").unwrap();
    assert!(String::from_utf8_lossy(&reply).starts_with("-ERR the cluster is unavailable"));
    assert_eq!(
        support::servers::request_once(server.address(), b"PING\r\n").unwrap(),
        b"+PONG\r\n"
    );
}
