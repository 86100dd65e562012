//! The peer port and a member without a majority, seen from outside: strangers, dialers of
//! another peer protocol and nodes of another cluster are refused with a reason in the log, and
//! clients of a node that cannot reach a leader get a bounded wait and an error that says
//! nothing was applied.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use concord::raft::peer_auth::{ClusterSecret, Role};
use concord::raft::tcp::{encode_frame, DialerProof, Hello, Welcome, MAGIC, PROTOCOL_VERSION};
use support::servers::ServerProcess as Concord;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Node 1 of a three-node cluster whose other members never start, and its peer port. It binds
/// a free peer port itself (`--peer-port 0`); the addresses in its peers list are only dialed,
/// never bound, so nothing races for them.
fn lonely_member() -> (Concord, u16) {
    lonely_member_with(&[])
}

/// [`lonely_member`] with more flags.
fn lonely_member_with(extra: &[&str]) -> (Concord, u16) {
    let peers = format!(
        "1=127.0.0.1:{},2=127.0.0.1:{},3=127.0.0.1:{}",
        free_port(),
        free_port(),
        free_port()
    );
    // The harness asks for `warn`; the file cannot override a flag, so the refusals this test
    // looks for are logged at `warn`.
    let config = "leader-wait-ms = 300\ncluster-id = \"test-cluster\"\n";
    let mut flags = vec!["--node-id", "1", "--peers", &peers, "--peer-port", "0"];
    flags.extend_from_slice(extra);
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

/// Sends `hello` to the peer port; the listener's first answer, and the connection.
fn hello_only(peer_port: u16, hello: &impl serde::Serialize) -> (Welcome, TcpStream) {
    let mut stream = TcpStream::connect(("127.0.0.1", peer_port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut bytes = MAGIC.to_vec();
    bytes.extend(encode_frame(hello).unwrap());
    stream.write_all(&bytes).unwrap();
    (read_welcome(&mut stream), stream)
}

fn read_welcome(stream: &mut TcpStream) -> Welcome {
    let mut length = [0u8; 4];
    stream.read_exact(&mut length).unwrap();
    let mut payload = vec![0u8; u32::from_be_bytes(length) as usize];
    stream.read_exact(&mut payload).unwrap();
    concord::raft::tcp::decode_payload(&payload).unwrap()
}

/// The listener's first answer to `hello` (a refusal of the `Hello` itself).
fn handshake(peer_port: u16, hello: &impl serde::Serialize) -> Welcome {
    hello_only(peer_port, hello).0
}

/// A whole handshake as a dialer holding `secret` (or none) makes it: the listener's last
/// answer. When the listener accepts a dialer with a secret, its own proof is checked too.
fn handshake_as(peer_port: u16, hello: &Hello, secret: Option<&ClusterSecret>) -> Welcome {
    let (welcome, mut stream) = hello_only(peer_port, hello);
    let Welcome::Prove { challenge, proof } = welcome else { return welcome };
    let transcript = hello.transcript(&challenge);
    // A stranger sends its proof whatever the listener's was, to see what the listener does.
    let answer = DialerProof::Proof(secret.map(|secret| secret.prove(Role::Dialer, &transcript)));
    stream.write_all(&encode_frame(&answer).unwrap()).unwrap();
    let last = read_welcome(&mut stream);
    if let (Welcome::Accepted { .. }, Some(secret)) = (&last, secret) {
        let proof = proof.expect("a listener that checks proofs gives one");
        assert!(secret.verify(Role::Listener, &transcript, &proof), "the listener's proof failed");
    }
    last
}

/// A `Hello` to node 1 of the test cluster from node `from`.
fn member_hello(from: u64, incarnation: u64) -> Hello {
    Hello {
        protocol_version: PROTOCOL_VERSION,
        cluster_id: "test-cluster".into(),
        from,
        to: 1,
        incarnation,
        challenge: concord::raft::peer_auth::challenge().unwrap(),
    }
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
        challenge: [0; 32],
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
        challenge: [0; 32],
    };
    let Welcome::Refused(reason) = handshake(peer_port, &misaddressed) else {
        panic!("a dial meant for node 3 was accepted by node 1")
    };
    assert!(reason.contains("this is node 1"), "{reason}");
    let member = member_hello(2, 7);
    assert!(matches!(handshake_as(peer_port, &member, None), Welcome::Accepted { .. }));
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
        challenge: [0; 32],
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
    let hello = |incarnation| member_hello(2, incarnation);
    let Welcome::Accepted { incarnation: own } = handshake_as(peer_port, &hello(7), None) else {
        panic!("node 2 was refused at its first handshake")
    };
    let Welcome::Replaced { cluster_id } = handshake_as(peer_port, &hello(8), None) else {
        panic!("node 2 on another data directory was not refused as replaced")
    };
    assert_eq!(cluster_id, "test-cluster");
    wait_for_log(&server, "CONCORD.REMOVENODE 2");
    let Welcome::Accepted { incarnation } = handshake_as(peer_port, &hello(7), None) else {
        panic!("node 2 on its own data directory was refused after the replaced one")
    };
    assert_eq!(incarnation, own, "node 1's own incarnation changed between handshakes");
}

/// With a cluster secret, the cluster id gets a stranger nothing: a dialer without the secret,
/// or with another, is refused with the reason on the wire and in the log, and counted; its
/// incarnation is not recorded, so it cannot claim a member's id; a member that knows the
/// secret is accepted, and checks the listener's proof in turn.
#[test]
fn a_stranger_with_the_cluster_id_but_not_the_secret_is_refused_and_counted() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("cluster-secret");
    std::fs::write(&path, "the secret of the test cluster\n").unwrap();
    let (server, peer_port) =
        lonely_member_with(&["--cluster-secret-file", path.to_str().unwrap()]);
    let secret = ClusterSecret::new(b"the secret of the test cluster").unwrap();
    let wrong = ClusterSecret::new(b"a guess at the secret, wrong").unwrap();

    let Welcome::Unauthenticated(reason) = handshake_as(peer_port, &member_hello(2, 7), None)
    else {
        panic!("a dialer without the secret was not refused for it")
    };
    assert!(reason.contains("node 2 has no cluster secret, but node 1 requires one"), "{reason}");
    wait_for_log(&server, "node 2 has no cluster secret");
    let hello = member_hello(2, 7);
    let Welcome::Unauthenticated(reason) = handshake_as(peer_port, &hello, Some(&wrong)) else {
        panic!("a dialer with another secret was not refused for it")
    };
    assert!(reason.contains("node 2 failed the cluster secret challenge"), "{reason}");
    wait_for_log(&server, "node 2 failed the cluster secret challenge");

    // Neither stranger's incarnation was recorded: the member with the secret and incarnation
    // 9 is accepted as node 2, and that one is recorded.
    let Welcome::Accepted { .. } = handshake_as(peer_port, &member_hello(2, 9), Some(&secret))
    else {
        panic!("a member with the secret was refused")
    };
    let replaced = handshake_as(peer_port, &member_hello(2, 7), Some(&secret));
    assert!(matches!(replaced, Welcome::Replaced { .. }), "{replaced:?}");

    let info = support::servers::request_once(server.address(), b"INFO replication\r\n").unwrap();
    let info = String::from_utf8_lossy(&info);
    assert!(info.contains("concord_peer_auth:secret\r\n"), "{info}");
    assert!(info.contains("concord_peer_auth_refusals:2\r\n"), "{info}");
}

/// A node without a secret refuses a dialer that has one, rather than trusting it quietly, and
/// the dialer learns why.
#[test]
fn a_node_without_a_secret_refuses_a_dialer_with_one() {
    let (server, peer_port) = lonely_member();
    let secret = ClusterSecret::new(b"a secret the listener lacks").unwrap();
    let Welcome::Unauthenticated(reason) =
        handshake_as(peer_port, &member_hello(2, 7), Some(&secret))
    else {
        panic!("a dialer with a secret was accepted by a node without one")
    };
    assert!(reason.contains("node 2 requires a cluster secret, but node 1 has none"), "{reason}");
    let info = support::servers::request_once(server.address(), b"INFO replication\r\n").unwrap();
    let info = String::from_utf8_lossy(&info);
    assert!(info.contains("concord_peer_auth:none\r\n"), "{info}");
    assert!(info.contains("concord_peer_auth_refusals:1\r\n"), "{info}");
}

/// A secret file that is missing or too short stops the node at start, naming the file.
#[test]
fn a_bad_secret_file_stops_the_node_with_the_reason() {
    let directory = tempfile::tempdir().unwrap();
    let short = directory.path().join("short");
    std::fs::write(&short, "short\n").unwrap();
    for (path, expected) in
        [(short, "it must be at least 16"), (directory.path().join("missing"), "No such file")]
    {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_concord"))
            .args(["serve", "--port", "0", "--peers", "1=127.0.0.1:1", "--peer-port", "0"])
            .arg("--data-dir")
            .arg(directory.path().join("data"))
            .arg("--cluster-secret-file")
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "the node started with {path:?}");
        assert!(stderr.contains("cluster-secret-file") && stderr.contains(expected), "{stderr}");
    }
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
