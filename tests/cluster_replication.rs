//! How a 3-node cluster describes itself to Redis tools: INFO replication, ROLE and HELLO name
//! the leader as the master with the other members as its replicas, and every follower as a
//! replica of the leader's Redis address; WAIT counts the other members that hold the writes a
//! client was answered for, through any member, and stops counting a member that is down.

mod support;

use std::time::{Duration, Instant};

use redis::Value;
use support::cluster::{connect, Cluster, NodeId, WAIT_MAX};

const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

fn client(cluster: &Cluster, id: NodeId) -> redis::Connection {
    connect(cluster.client_port(id), REQUEST_TIMEOUT).unwrap()
}

fn info_field(info: &str, name: &str) -> Option<String> {
    info.lines().find_map(|line| line.strip_prefix(&format!("{name}:"))).map(str::to_string)
}

fn replication_info(cluster: &Cluster, id: NodeId) -> String {
    redis::cmd("INFO").arg("replication").query(&mut client(cluster, id)).unwrap()
}

/// The `slaveN:` lines of a leader's INFO as `(port, state)`, sorted by port.
fn listed_replicas(info: &str) -> Vec<(u16, String)> {
    let mut replicas: Vec<(u16, String)> = info
        .lines()
        .filter(|line| line.starts_with("slave") && !line.starts_with("slave_"))
        .map(|line| {
            let (_, fields) = line.split_once(':').unwrap();
            let field = |name: &str| {
                fields
                    .split(',')
                    .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
                    .unwrap_or_else(|| panic!("no {name} in {line:?}"))
                    .to_string()
            };
            assert_eq!(field("ip"), "127.0.0.1", "{line}");
            (field("port").parse().unwrap(), field("state"))
        })
        .collect();
    replicas.sort();
    replicas
}

fn bulk(value: &Value) -> String {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).unwrap(),
        other => panic!("expected a bulk string, got {other:?}"),
    }
}

/// Reads INFO until `check` holds (a member learns the leader's port from its status call,
/// and a restarted follower first has to hear from the leader).
#[track_caller]
fn eventually(what: &str, mut check: impl FnMut() -> Result<(), String>) {
    let started = Instant::now();
    loop {
        match check() {
            Ok(()) => return,
            Err(last) if started.elapsed() > WAIT_MAX => panic!("{what}: {last}"),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

#[test]
fn members_name_the_leader_as_master_and_wait_counts_the_members_holding_writes() {
    let mut cluster = Cluster::start("replication-role", 3, &[]);
    let leader = cluster.wait_for_leader();
    let followers: Vec<NodeId> = cluster.ids().into_iter().filter(|id| *id != leader).collect();
    let mut follower_ports: Vec<u16> =
        followers.iter().map(|id| cluster.client_port(*id)).collect();
    follower_ports.sort();

    // The leader: a master with both followers online.
    eventually("the leader lists its replicas", || {
        let info = replication_info(&cluster, leader);
        let expected: Vec<(u16, String)> =
            follower_ports.iter().map(|port| (*port, "online".to_string())).collect();
        match (info_field(&info, "role"), info_field(&info, "connected_slaves")) {
            (Some(role), Some(count))
                if role == "master" && count == "2" && listed_replicas(&info) == expected =>
            {
                Ok(())
            }
            _ => Err(info),
        }
    });
    let role: Vec<Value> = redis::cmd("ROLE").query(&mut client(&cluster, leader)).unwrap();
    assert_eq!(bulk(&role[0]), "master");
    assert!(matches!(role[1], Value::Int(offset) if offset > 0), "{role:?}");
    let Value::Array(replicas) = &role[2] else { panic!("{role:?}") };
    let mut ports: Vec<u16> = replicas
        .iter()
        .map(|replica| {
            let Value::Array(fields) = replica else { panic!("{replica:?}") };
            assert_eq!(bulk(&fields[0]), "127.0.0.1");
            bulk(&fields[2]).parse::<u64>().expect("the offset is a number");
            bulk(&fields[1]).parse().unwrap()
        })
        .collect();
    ports.sort();
    assert_eq!(ports, follower_ports);

    // Each follower: a replica of the leader's Redis address, which takes writes.
    let leader_port = cluster.client_port(leader).to_string();
    for follower in &followers {
        eventually("a follower names its master", || {
            let info = replication_info(&cluster, *follower);
            let fields: Vec<Option<String>> =
                ["role", "master_host", "master_port", "master_link_status", "slave_read_only"]
                    .iter()
                    .map(|name| info_field(&info, name))
                    .collect();
            let expected = ["slave", "127.0.0.1", leader_port.as_str(), "up", "0"];
            if fields.iter().zip(expected).all(|(field, want)| field.as_deref() == Some(want)) {
                Ok(())
            } else {
                Err(info)
            }
        });
        let role: Vec<Value> = redis::cmd("ROLE").query(&mut client(&cluster, *follower)).unwrap();
        assert_eq!(bulk(&role[0]), "slave");
        assert_eq!(bulk(&role[1]), "127.0.0.1");
        assert_eq!(role[2], Value::Int(i64::from(cluster.client_port(leader))));
        assert_eq!(bulk(&role[3]), "connected");
        let mut connection = client(&cluster, *follower);
        let hello: Value = redis::cmd("HELLO").arg(2).query(&mut connection).unwrap();
        let Value::Array(pairs) = hello else { panic!("{hello:?}") };
        let role_at =
            pairs.iter().position(|value| *value == Value::BulkString(b"role".to_vec())).unwrap();
        assert_eq!(bulk(&pairs[role_at + 1]), "replica");
    }

    // WAIT through the leader and through a follower: the other two members hold the write.
    for via in [leader, followers[0]] {
        let mut connection = client(&cluster, via);
        let () = redis::cmd("SET").arg("waited").arg(via).query(&mut connection).unwrap();
        let held: i64 = redis::cmd("WAIT").arg(2).arg(5_000).query(&mut connection).unwrap();
        assert_eq!(held, 2, "WAIT 2 through node {via}");
        let held: i64 = redis::cmd("WAIT").arg(0).arg(0).query(&mut connection).unwrap();
        assert!((1..=2).contains(&held), "WAIT 0 0 through node {via} answered {held}");
    }

    // A follower down: the leader stops listing it, and WAIT counts only the one left, after
    // its timeout (writes still commit on the majority that is up).
    cluster.kill(followers[1]);
    eventually("the leader drops the stopped follower", || {
        let info = replication_info(&cluster, leader);
        match info_field(&info, "connected_slaves").as_deref() {
            Some("1") => Ok(()),
            _ => Err(info),
        }
    });
    let mut connection = client(&cluster, leader);
    let () = redis::cmd("SET").arg("waited").arg("again").query(&mut connection).unwrap();
    let held: i64 = redis::cmd("WAIT").arg(2).arg(300).query(&mut connection).unwrap();
    assert_eq!(held, 1);
    let held: i64 = redis::cmd("WAIT").arg(1).arg(0).query(&mut connection).unwrap();
    assert_eq!(held, 1);
}
