//! Fault-injection tests of a real Concord cluster: 3 or 5 `concord` processes on loopback,
//! clients doing SET and GET against every node, and faults in between: kill -9 and restart,
//! SIGSTOP and SIGCONT, partitions made by a TCP proxy on every directed link, leadership
//! transfer and membership changes. Every client operation is recorded, and after each
//! scenario the cluster is healed, every key is read on every member, and the whole history
//! must be linearizable (see `support/linearizability/`): an acknowledged write that was lost,
//! a stale read, a value nobody wrote, or members that disagree fail the test with the
//! checker's report, the seed and the directory holding the node logs.
//!
//! The pieces, in `support/cluster/`: `network.rs` (the proxies), `mod.rs` (the processes) and
//! `workload.rs` (the clients and the final check).
//!
//! Knobs, as environment variables:
//! - `CONCORD_CLUSTER_SOAK_SECONDS`: how long the load (and the repeated faults) run in each
//!   scenario; default a few seconds, so that the whole target runs in about a minute or two.
//!   The faults repeat for as long as the load runs.
//! - `CONCORD_CLUSTER_SEED`: the seed of the clients' choices and the fault timings (printed
//!   with every result). Real processes and real time make a run repeat only roughly.
//!
//! Run: `cargo test --release --test cluster -- --nocapture` (the counts are printed).
//!
//! No test asserts a duration: a slow machine may elect more often or answer "unavailable"
//! more, and every such answer is recorded for what it says. The only counts asserted are
//! that the clients got some answers, so that a scenario cannot pass by checking nothing.

mod support;

use std::time::{Duration, Instant};

use support::cluster::network::Link;
use support::cluster::workload::{check_after_heal, load_duration, seed, Random, Workload};
use support::cluster::{Cluster, NodeId};

/// The load of one scenario when `CONCORD_CLUSTER_SOAK_SECONDS` is not set.
const DEFAULT_LOAD: Duration = Duration::from_secs(4);

/// Runs `fault` round after round while the clients' load lasts; at least one round.
fn repeat_faults(mut fault: impl FnMut(u64)) {
    let deadline = Instant::now() + load_duration(DEFAULT_LOAD);
    let mut round = 0;
    while round == 0 || Instant::now() < deadline {
        fault(round);
        round += 1;
    }
}

fn sleep_between(random: &mut Random, minimum_ms: u64, maximum_ms: u64) {
    let spread = maximum_ms - minimum_ms + 1;
    std::thread::sleep(Duration::from_millis(minimum_ms + random.below(spread)));
}

/// A follower of `leader`, chosen at random.
fn follower_of(cluster: &Cluster, leader: NodeId, random: &mut Random) -> NodeId {
    let followers: Vec<NodeId> = cluster.ids().into_iter().filter(|id| *id != leader).collect();
    followers[random.below(followers.len() as u64) as usize]
}

/// A cluster of `size` nodes with two clients on each.
fn start(label: &str, size: u64, extra: &[&str]) -> (Cluster, Workload, Random) {
    let cluster = Cluster::start(label, size, extra);
    let seed = seed();
    let workload = Workload::start(&cluster.client_ports(), 2, seed);
    (cluster, workload, Random::new(seed))
}

#[test]
fn killing_the_leader_again_and_again_loses_no_acknowledged_write() {
    let (mut cluster, workload, mut random) = start("kill-leader", 3, &[]);
    repeat_faults(|_| {
        sleep_between(&mut random, 200, 700);
        let leader = cluster.wait_for_leader();
        cluster.kill(leader);
        sleep_between(&mut random, 300, 1000);
        cluster.restart(leader);
    });
    check_after_heal("kill-leader", &mut cluster, workload);
}

#[test]
fn a_killed_follower_rejoins_and_serves_linearizable_reads() {
    let (mut cluster, workload, mut random) = start("kill-follower", 3, &[]);
    repeat_faults(|_| {
        sleep_between(&mut random, 200, 500);
        let leader = cluster.wait_for_leader();
        let follower = follower_of(&cluster, leader, &mut random);
        cluster.kill(follower);
        sleep_between(&mut random, 500, 1500);
        cluster.restart(follower);
    });
    check_after_heal("kill-follower", &mut cluster, workload);
}

/// Five nodes; the leader and one follower are cut off from the other three, which elect a
/// new leader while the old one still believes it leads.
#[test]
fn a_minority_with_the_old_leader_acknowledges_nothing_the_majority_does_not_keep() {
    let (mut cluster, workload, mut random) = start("minority", 5, &[]);
    repeat_faults(|_| {
        let leader = cluster.wait_for_leader();
        let follower = follower_of(&cluster, leader, &mut random);
        let minority = [leader, follower];
        let majority: Vec<NodeId> =
            cluster.ids().into_iter().filter(|id| !minority.contains(id)).collect();
        cluster.network.partition(&[&minority, &majority]);
        sleep_between(&mut random, 1500, 2500);
        cluster.network.heal();
        sleep_between(&mut random, 300, 800);
    });
    check_after_heal("minority", &mut cluster, workload);
}

/// The leader alone on one side: its clients' writes must not be acknowledged (they cannot
/// commit) and its reads must not return values the majority has since overwritten.
#[test]
fn an_isolated_leader_acknowledges_no_write_and_serves_no_stale_read() {
    let (mut cluster, workload, mut random) = start("isolated-leader", 3, &[]);
    repeat_faults(|_| {
        let leader = cluster.wait_for_leader();
        let others: Vec<NodeId> = cluster.ids().into_iter().filter(|id| *id != leader).collect();
        cluster.network.partition(&[&[leader], &others]);
        // Longer than the commit wait, so the old leader's writes run out of time while cut off.
        sleep_between(&mut random, 2500, 3500);
        cluster.network.heal();
        sleep_between(&mut random, 300, 800);
    });
    check_after_heal("isolated-leader", &mut cluster, workload);
}

/// Five nodes in two halves that cannot reach each other, plus one node that reaches both: a
/// majority can form on either side through the bridge, never on both at once.
#[test]
fn a_bridge_between_two_halves_never_lets_both_halves_commit() {
    let (mut cluster, workload, mut random) = start("bridge", 5, &[]);
    repeat_faults(|_| {
        let ids = cluster.ids();
        let bridge = ids[random.below(ids.len() as u64) as usize];
        let others: Vec<NodeId> = ids.into_iter().filter(|id| *id != bridge).collect();
        cluster.network.partition(&[&others[..2], &others[2..]]);
        sleep_between(&mut random, 1500, 2500);
        cluster.network.heal();
        sleep_between(&mut random, 300, 800);
    });
    check_after_heal("bridge", &mut cluster, workload);
}

/// One direction of one link between the leader and a follower stops delivering (the other
/// direction works): alternately the leader cannot reach the follower, and the follower
/// cannot reach the leader.
#[test]
fn a_one_way_link_loses_no_acknowledged_write() {
    let (mut cluster, workload, mut random) = start("one-way", 3, &[]);
    repeat_faults(|round| {
        let leader = cluster.wait_for_leader();
        let follower = follower_of(&cluster, leader, &mut random);
        let (from, to) = if round % 2 == 0 { (leader, follower) } else { (follower, leader) };
        cluster.network.set(from, to, Link::Block);
        sleep_between(&mut random, 1500, 2500);
        cluster.network.heal();
        sleep_between(&mut random, 300, 800);
    });
    check_after_heal("one-way", &mut cluster, workload);
}

/// Links that fail and recover faster than an election settles, on random pairs.
#[test]
fn flapping_links_lose_no_acknowledged_write() {
    let (mut cluster, workload, mut random) = start("flapping", 3, &[]);
    repeat_faults(|_| {
        let ids = cluster.ids();
        let a = ids[random.below(ids.len() as u64) as usize];
        let b = ids.iter().copied().filter(|id| *id != a).nth(random.below(2) as usize).unwrap();
        cluster.network.cut(a, b);
        sleep_between(&mut random, 50, 400);
        cluster.network.heal();
        sleep_between(&mut random, 50, 300);
    });
    check_after_heal("flapping", &mut cluster, workload);
}

/// The leader is frozen past the election timeout and then continues, believing it still
/// leads, with requests from before the pause in hand.
#[test]
fn a_paused_leader_that_wakes_up_does_not_serve_stale_reads_or_lose_writes() {
    let (mut cluster, workload, mut random) = start("paused-leader", 3, &[]);
    repeat_faults(|_| {
        let leader = cluster.wait_for_leader();
        cluster.pause(leader);
        sleep_between(&mut random, 1000, 2000);
        cluster.resume(leader);
        sleep_between(&mut random, 300, 800);
    });
    check_after_heal("paused-leader", &mut cluster, workload);
}

/// Leadership handed to another node again and again while clients write and read.
#[test]
fn leadership_transfers_under_load_lose_no_acknowledged_write() {
    let (mut cluster, workload, mut random) = start("transfer", 3, &[]);
    let mut transfers = 0;
    repeat_faults(|_| {
        let leader = cluster.wait_for_leader();
        let target = follower_of(&cluster, leader, &mut random);
        let via = cluster.ids()[random.below(3) as usize];
        let reply =
            cluster.command::<String>(via, redis::cmd("CONCORD.TRANSFERLEADER").arg(target));
        match reply {
            Ok(_) => transfers += 1,
            Err(error) => println!("transfer to {target} via {via} failed: {error}"),
        }
        sleep_between(&mut random, 300, 700);
    });
    check_after_heal("transfer", &mut cluster, workload);
    assert!(transfers > 0, "no leadership transfer succeeded, so none was tested");
}

/// A fourth node joins while clients run, then one of the original followers is removed.
#[test]
fn adding_and_removing_members_under_load_loses_no_acknowledged_write() {
    let (mut cluster, workload, mut random) = start("membership", 3, &[]);
    sleep_between(&mut random, 500, 1000);
    let via = cluster.ids()[random.below(3) as usize];
    let added = cluster.add_node(4, via);
    assert!(added.is_ok(), "CONCORD.ADDNODE 4 via node {via} failed: {added:?}");
    sleep_between(&mut random, 500, 1000);
    let leader = cluster.wait_for_leader();
    let removed = cluster.other_than(&[leader, 4]);
    let reply = cluster.command::<String>(leader, redis::cmd("CONCORD.REMOVENODE").arg(removed));
    assert!(reply.is_ok(), "CONCORD.REMOVENODE {removed} failed: {reply:?}");
    cluster.forget(removed);
    std::thread::sleep(load_duration(DEFAULT_LOAD) / 2);
    check_after_heal("membership", &mut cluster, workload);
}

/// A follower is down while several snapshots' worth of writes go by, so that the leader no
/// longer has the log it missed and must send a snapshot; after restarting it must serve every
/// key, the bulk ones written while it was away included.
#[test]
fn a_follower_that_missed_the_log_installs_a_snapshot_and_serves_every_key() {
    let (mut cluster, workload, mut random) =
        start("snapshot", 3, &["--snapshot-log-bytes", "1048576"]);
    sleep_between(&mut random, 300, 600);
    let leader = cluster.wait_for_leader();
    let follower = follower_of(&cluster, leader, &mut random);
    cluster.kill(follower);
    let bulk = write_bulk_keys(&cluster, cluster.other_than(&[follower]));
    cluster.restart(follower);
    sleep_between(&mut random, 500, 1000);
    for (key, expected) in &bulk {
        let stored = get_until_answered(&cluster, follower, key);
        assert!(
            stored.as_ref() == Some(expected),
            "node {follower} lost {key} after catching up: {} bytes instead of {}",
            stored.map_or(0, |value| value.len()),
            expected.len()
        );
    }
    let info: String = cluster.command(follower, redis::cmd("INFO").arg("persistence")).unwrap();
    let snapshot_index = info
        .lines()
        .find_map(|line| line.strip_prefix("concord_snapshot_index:"))
        .and_then(|value| value.trim().parse::<u64>().ok());
    assert!(
        snapshot_index.is_some_and(|index| index > 0),
        "node {follower} holds no snapshot after catching up:\n{info}"
    );
    check_after_heal("snapshot", &mut cluster, workload);
}

/// Writes 4 MiB of distinct keys through node `via` (several snapshot triggers' worth);
/// returns what was acknowledged. A write whose answer is not OK is sent again: SET of the
/// same value twice leaves the same state.
fn write_bulk_keys(cluster: &Cluster, via: NodeId) -> Vec<(String, String)> {
    let mut written = Vec::new();
    let mut connection = None;
    for index in 0..512 {
        let key = format!("bulk:{index}");
        let value = format!("{index}:{}", "v".repeat(8 * 1024));
        for attempt in 0.. {
            assert!(attempt < 100, "node {via} never acknowledged {key}");
            let open = match connection.as_mut() {
                Some(open) => open,
                None => match support::cluster::connect(
                    cluster.client_port(via),
                    Duration::from_secs(5),
                ) {
                    Ok(opened) => connection.insert(opened),
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(50));
                        continue;
                    }
                },
            };
            match redis::cmd("SET").arg(&key).arg(&value).query::<String>(open) {
                Ok(_) => break,
                Err(_) => {
                    connection = None;
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
        written.push((key, value));
    }
    written
}

/// `GET key` on node `id`, asked again after each error (the node may still be catching up),
/// for at most the harness's longest wait.
fn get_until_answered(cluster: &Cluster, id: NodeId, key: &str) -> Option<String> {
    let deadline = Instant::now() + support::cluster::WAIT_MAX;
    loop {
        match cluster.command(id, redis::cmd("GET").arg(key)) {
            Ok(value) => return value,
            Err(error) => assert!(
                Instant::now() < deadline,
                "node {id} did not answer GET {key} in {:?}: {error}",
                support::cluster::WAIT_MAX
            ),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Without load, a transfer hands leadership over: the baseline the transfer under load is
/// compared with.
#[test]
fn a_leadership_transfer_without_load_makes_the_target_lead() {
    let cluster = Cluster::start("transfer-idle", 3, &[]);
    let leader = cluster.wait_for_leader();
    let target = cluster.other_than(&[leader]);
    let reply = cluster.command::<String>(leader, redis::cmd("CONCORD.TRANSFERLEADER").arg(target));
    assert!(reply.is_ok(), "CONCORD.TRANSFERLEADER {target} on leader {leader} failed: {reply:?}");
    assert_eq!(
        cluster.wait_for_leader(),
        target,
        "the transfer succeeded but {target} does not lead"
    );
}
