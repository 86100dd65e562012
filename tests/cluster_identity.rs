//! Membership safety of a real 3-node cluster when a member comes back on a wiped data
//! directory (issue 10): such a node forgot its vote and its log, so it must never vote or be
//! counted as the member it was. Its peers know the member's data directory by its
//! incarnation (`raft::identity`) and refuse the new one at the handshake; the node says to
//! remove it and add it again, and serves once that is done.
//!
//! - `a_follower_restarted_on_a_wiped_directory_is_refused_until_removed_and_added_again`:
//!   under load, with the history checked for linearizability at the end.
//! - `a_stale_member_and_a_wiped_one_elect_no_leader_and_lose_no_acknowledged_write`: the
//!   scenario of the issue (a follower stopped while writes go by, the two others killed and
//!   one of them wiped, the stale one resumed): no leader may be elected by the stale member
//!   with the wiped member's vote, and every acknowledged write is there once the third
//!   member returns.
//!
//! Run: `cargo test --release --test cluster_identity -- --nocapture`.

mod support;

use std::time::{Duration, Instant};

use support::cluster::workload::{check_after_heal, seed, Workload};
use support::cluster::{connect, Cluster, NodeId};

/// What a node on a wiped directory logs once a peer refused it.
const REFUSED_MESSAGE: &str = "this node's data directory is new but node";

/// What a peer logs about the wiped node.
const PEER_MESSAGE: &str = "its data directory was wiped or replaced";

/// Waits until every member's `PEERS` file records every other member: from then on each
/// one can tell a wiped peer from the member it was.
fn wait_until_members_met(cluster: &Cluster) {
    let ids = cluster.ids();
    cluster.wait_until("every member recording every other one's incarnation", || {
        ids.iter().all(|id| {
            let peers = std::fs::read_to_string(cluster.data_dir(*id).join("PEERS"));
            let peers = peers.unwrap_or_default();
            let recorded: Vec<&str> =
                peers.lines().skip(1).filter_map(|line| line.split(' ').next()).collect();
            ids.iter()
                .filter(|other| *other != id)
                .all(|other| recorded.contains(&&*other.to_string()))
        })
    });
}

/// Kills node `id`, deletes its data directory and starts it again with its usual flags.
fn wipe_and_restart(cluster: &mut Cluster, id: NodeId) {
    if cluster.pid(id).is_some() {
        cluster.kill(id);
    }
    std::fs::remove_dir_all(cluster.data_dir(id)).expect("the data directory can be deleted");
    cluster.restart(id);
}

/// Removes node `id` and adds it again, through the leader.
fn remove_and_add_again(cluster: &Cluster, id: NodeId) {
    let leader = cluster.wait_for_leader();
    let removed = cluster.command::<String>(leader, redis::cmd("CONCORD.REMOVENODE").arg(id));
    assert!(removed.is_ok(), "CONCORD.REMOVENODE {id} on node {leader} failed: {removed:?}");
    let leader = cluster.wait_for_leader();
    let added = cluster.add_again(id, leader);
    assert!(added.is_ok(), "CONCORD.ADDNODE {id} on node {leader} failed: {added:?}");
}

#[test]
fn a_follower_restarted_on_a_wiped_directory_is_refused_until_removed_and_added_again() {
    let mut cluster = Cluster::start("wiped-follower", 3, &[]);
    wait_until_members_met(&cluster);
    let seed = seed();
    let workload = Workload::start(&cluster.client_ports(), 2, seed);
    std::thread::sleep(Duration::from_millis(800));
    let leader = cluster.wait_for_leader();
    let wiped = cluster.other_than(&[leader]);
    wipe_and_restart(&mut cluster, wiped);
    cluster.wait_until("the wiped node logging that it was refused", || {
        cluster.log_text(wiped).contains(REFUSED_MESSAGE)
    });
    let log = cluster.log_text(wiped);
    assert!(
        log.contains(&format!("CONCORD.REMOVENODE {wiped}")) && log.contains("CONCORD.ADDNODE"),
        "node {wiped}'s refusal does not say how to add it again:\n{log}"
    );
    assert!(
        log.contains("not starting as a voter"),
        "node {wiped} on a wiped directory did not refuse to start as a voter:\n{log}"
    );
    cluster.wait_until("a peer logging that the wiped node was refused", || {
        cluster.ids().iter().any(|id| *id != wiped && cluster.log_text(*id).contains(PEER_MESSAGE))
    });
    // The two others go on serving while the wiped node is refused.
    std::thread::sleep(Duration::from_millis(1500));
    remove_and_add_again(&cluster, wiped);
    std::thread::sleep(Duration::from_millis(1500));
    // Every key is read on every member, the re-added one included, and the whole history,
    // from before the wipe to after the re-add, must be linearizable.
    check_after_heal("wiped-follower", &mut cluster, workload);
}

#[test]
fn a_stale_member_and_a_wiped_one_elect_no_leader_and_lose_no_acknowledged_write() {
    const KEYS: usize = 500;
    let mut cluster = Cluster::start("stale-and-wiped", 3, &[]);
    wait_until_members_met(&cluster);
    let leader = cluster.wait_for_leader();
    let stale = cluster.other_than(&[leader]);
    let wiped = cluster.other_than(&[leader, stale]);
    cluster.pause(stale);
    let mut connection = connect(cluster.client_port(leader), Duration::from_secs(10)).unwrap();
    for key in 0..KEYS {
        let reply: String =
            redis::cmd("SET").arg(format!("key:{key}")).arg(key).query(&mut connection).unwrap();
        assert_eq!(reply, "OK", "the write of key:{key} was not acknowledged");
    }
    drop(connection);
    cluster.kill(leader);
    wipe_and_restart(&mut cluster, wiped);
    cluster.resume(stale);
    cluster.wait_until("the wiped node logging that it was refused", || {
        cluster.log_text(wiped).contains(REFUSED_MESSAGE)
    });
    // Several election timeouts (300 to 600 ms): the stale member must not win with the
    // wiped member's vote.
    let deadline = Instant::now() + Duration::from_secs(4);
    while Instant::now() < deadline {
        assert_eq!(
            cluster.leader(),
            None,
            "a leader was elected by the stale node {stale} and the wiped node {wiped}; logs in \
             {:?}",
            cluster.directory()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    cluster.restart(leader);
    let expect_every_key = |cluster: &Cluster, id: NodeId| {
        cluster.wait_until(&format!("node {id} serving every acknowledged key"), || {
            let Ok(mut connection) = connect(cluster.client_port(id), Duration::from_secs(5))
            else {
                return false;
            };
            (0..KEYS).all(|key| {
                let value: redis::RedisResult<Option<String>> =
                    redis::cmd("GET").arg(format!("key:{key}")).query(&mut connection);
                match value {
                    Ok(value) => {
                        assert_eq!(
                            value,
                            Some(key.to_string()),
                            "node {id} lost the acknowledged key:{key}"
                        );
                        true
                    }
                    Err(_) => false,
                }
            })
        });
    };
    for id in [leader, stale] {
        expect_every_key(&cluster, id);
    }
    remove_and_add_again(&cluster, wiped);
    expect_every_key(&cluster, wiped);
}
