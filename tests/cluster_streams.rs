//! Streams on a 3-node cluster of real processes: XADD with `*` ids, XREADGROUP, XACK, XCLAIM
//! and XAUTOCLAIM sent to different members. Ids, delivery times and seen times all come from
//! the entries' times, so every member must hold the same streams, byte for byte, including
//! every group's PEL with its delivery times and counts (XINFO STREAM FULL shows them all).
//! Then one member restarts from a snapshot and must still agree.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use support::cluster::{connect, Cluster, NodeId};

const TIMEOUT: Duration = Duration::from_secs(20);
const ROUNDS: usize = 40;

/// A stream as XINFO STREAM FULL shows it, with no limit, retried while the member cannot
/// serve reads yet (after a restart).
fn stream_dump(port: u16, key: &str) -> String {
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        let attempt = connect(port, TIMEOUT).and_then(|mut connection| {
            redis::cmd("XINFO")
                .arg("STREAM")
                .arg(key)
                .arg("FULL")
                .arg("COUNT")
                .arg(0)
                .query::<redis::Value>(&mut connection)
        });
        match attempt {
            Ok(value) => return format!("{value:?}"),
            Err(error) if std::time::Instant::now() > deadline => {
                panic!("member on port {port} did not answer XINFO: {error}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

fn assert_members_agree(cluster: &Cluster, keys: &[&str], when: &str) {
    for key in keys {
        let dumps: Vec<(NodeId, String)> = cluster
            .client_ports()
            .into_iter()
            .map(|(id, port)| (id, stream_dump(port, key)))
            .collect();
        let (first_id, first) = &dumps[0];
        for (id, dump) in &dumps[1..] {
            assert_eq!(
                dump,
                first,
                "{when}: member {id}'s {key} differs from member {first_id}'s; logs in {:?}",
                cluster.directory()
            );
        }
    }
}

#[test]
fn every_member_holds_the_same_streams_and_groups_whichever_member_was_asked() {
    let mut cluster = Cluster::start("streams", 3, &[]);
    cluster.wait_for_leader();
    let ports = cluster.client_ports();
    let mut connections: Vec<redis::Connection> = ports
        .iter()
        .map(|(_, port)| connect(*port, TIMEOUT).expect("each member accepts a connection"))
        .collect();
    let members = connections.len();
    let created: String = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg("events")
        .arg("workers")
        .arg("$")
        .arg("MKSTREAM")
        .query(&mut connections[0])
        .expect("XGROUP CREATE answers");
    assert_eq!(created, "OK");
    let mut ids = BTreeSet::new();
    for round in 0..ROUNDS {
        let connection = &mut connections[round % members];
        let id: String = redis::cmd("XADD")
            .arg("events")
            .arg("MAXLEN")
            .arg("~")
            .arg(1000)
            .arg("*")
            .arg("round")
            .arg(round)
            .query(connection)
            .expect("XADD answers");
        assert!(ids.insert(id.clone()), "XADD gave the id {id} twice");
        let connection = &mut connections[(round + 1) % members];
        let consumer = format!("consumer-{}", round % 3);
        let _: redis::Value = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg("workers")
            .arg(&consumer)
            .arg("COUNT")
            .arg(2)
            .arg("STREAMS")
            .arg("events")
            .arg(">")
            .query(connection)
            .expect("XREADGROUP answers");
        if round % 2 == 0 {
            let connection = &mut connections[(round + 2) % members];
            let _: i64 = redis::cmd("XACK")
                .arg("events")
                .arg("workers")
                .arg(&id)
                .query(connection)
                .expect("XACK answers");
        }
        if round % 7 == 3 {
            let connection = &mut connections[round % members];
            let _: redis::Value = redis::cmd("XAUTOCLAIM")
                .arg("events")
                .arg("workers")
                .arg("claimer")
                .arg(0)
                .arg("0")
                .arg("COUNT")
                .arg(3)
                .query(connection)
                .expect("XAUTOCLAIM answers");
        }
    }
    assert_eq!(ids.len(), ROUNDS);
    assert_members_agree(&cluster, &["events"], "after the workload");
    let saved: String = cluster.command(1, &redis::cmd("SAVE")).expect("SAVE answers");
    assert_eq!(saved, "OK");
    drop(connections);
    cluster.kill(1);
    cluster.restart(1);
    cluster.wait_for_leader();
    assert_members_agree(&cluster, &["events"], "after member 1 restarted from its snapshot");
}
