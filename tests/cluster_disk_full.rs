//! A full disk on one member of a real 3-node cluster (issue 10): the cluster keeps taking
//! writes through the members that can write, and the full member catches up without a
//! restart once space is back.
//!
//! The full member is made the leader first, the hard case: a leader whose log cannot be
//! written cannot commit anything, so unless it hands leadership over, every write of the
//! cluster is refused although a majority could take it.
//!
//! Run: `cargo test --release --test cluster_disk_full -- --nocapture`.

mod support;

use std::time::{Duration, Instant};

use support::cluster::{Cluster, NodeId, WAIT_MAX};
use support::small_disk::SmallDisk;

/// Moves node `id`'s data directory onto `disk` (the node is stopped meanwhile) and leaves a
/// symbolic link in its place, so that the node starts on the same path as before.
fn move_onto(cluster: &mut Cluster, id: NodeId, disk: &SmallDisk) {
    cluster.kill(id);
    let original = cluster.data_dir(id);
    let moved = disk.path().join("data");
    let copied = std::process::Command::new("cp")
        .arg("-a")
        .arg(&original)
        .arg(&moved)
        .status()
        .expect("cp runs");
    assert!(copied.success(), "copying node {id}'s data directory onto the small disk failed");
    std::fs::remove_dir_all(&original).unwrap();
    std::os::unix::fs::symlink(&moved, &original).unwrap();
    cluster.restart(id);
}

/// Waits until `condition` holds, for at most [`WAIT_MAX`]; panics with `what` otherwise.
fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT_MAX;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The term node `id` is in, from INFO replication.
fn term_of(cluster: &Cluster, id: NodeId) -> u64 {
    let info = cluster.command::<String>(id, redis::cmd("INFO").arg("replication")).unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix("concord_term:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("INFO replication has no concord_term:\n{info}"))
}

fn set(cluster: &Cluster, via: NodeId, key: &str) -> redis::RedisResult<String> {
    cluster.command::<String>(via, redis::cmd("SET").arg(key).arg(key))
}

/// A write of 32 kB: a full member's log goes on taking writes into the zeros it wrote ahead
/// of its records (1 MiB of preallocation), so the test needs writes that use them up.
fn set_big(cluster: &Cluster, via: NodeId, key: &str) -> redis::RedisResult<String> {
    cluster.command::<String>(via, redis::cmd("SET").arg(key).arg(big_value(key)))
}

fn big_value(key: &str) -> String {
    format!("{key}:{}", "v".repeat(32 * 1024))
}

#[test]
fn a_leader_whose_disk_fills_hands_over_and_the_cluster_keeps_taking_writes() {
    let mut cluster = Cluster::start("disk-full-leader", 3, &[]);
    let leader = cluster.wait_for_leader();
    let full = cluster.other_than(&[leader]);
    let disk = SmallDisk::mount("cluster-full", 8 * 1024 * 1024);
    move_onto(&mut cluster, full, &disk);
    let transfer = redis::cmd("CONCORD.TRANSFERLEADER").arg(full).clone();
    let moved = cluster.command::<String>(leader, &transfer);
    assert!(moved.is_ok(), "CONCORD.TRANSFERLEADER {full} failed: {moved:?}");
    wait_until("the moved member leads", || cluster.leader() == Some(full));
    // The leader asks the target to stand for election until it wins, paced, so a hand-over
    // costs a few terms (the followers' leases last an election timeout). Unpaced, it once
    // cost thousands; paced, the hand-over's 5 s allow about 50 asks.
    let term = term_of(&cluster, full);
    assert!(term < 200, "the hand-over to node {full} took the cluster to term {term}");
    let mut acknowledged = Vec::new();
    for index in 0..100 {
        let key = format!("before:{index}");
        set(&cluster, full, &key).unwrap();
        acknowledged.push((key.clone(), key));
    }

    disk.fill();
    let other = cluster.other_than(&[full]);
    // Writes through another member succeed while the full member's preallocated log space
    // lasts, are refused (or their outcome unknown) from then until the full member gives up
    // leadership, and succeed again after.
    let deadline = Instant::now() + WAIT_MAX;
    let mut taken = 0;
    for attempt in 0.. {
        let key = format!("during:{attempt}");
        match set_big(&cluster, other, &key) {
            Ok(_) => {
                acknowledged.push((key.clone(), big_value(&key)));
                taken += 1;
                if taken == 100 {
                    break;
                }
            }
            Err(error) => {
                assert!(
                    Instant::now() < deadline,
                    "the cluster still refuses writes {} s after a member's disk filled: \
                     {error}",
                    WAIT_MAX.as_secs()
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    assert!(
        cluster.log_text(full).contains("the disk is full"),
        "node {full} never found its disk full"
    );
    let leader_now = cluster.wait_for_leader();
    assert_ne!(leader_now, full, "the member with the full disk still leads");
    assert!(cluster.exit_status(full).is_none(), "the member with the full disk exited");
    for id in cluster.ids().into_iter().filter(|id| *id != full) {
        for (key, expected) in &acknowledged {
            let value = cluster.command::<Option<String>>(id, redis::cmd("GET").arg(key)).unwrap();
            assert_eq!(value.as_ref(), Some(expected), "node {id} lost {key}");
        }
    }

    // Space is back: the full member catches up, without a restart, and serves every write.
    disk.free();
    let (last, last_value) = acknowledged.last().unwrap().clone();
    wait_until("the member whose disk was full catches up", || {
        cluster
            .command::<Option<String>>(full, redis::cmd("GET").arg(&last))
            .is_ok_and(|value| value.as_ref() == Some(&last_value))
    });
    for (key, expected) in &acknowledged {
        let value = cluster.command::<Option<String>>(full, redis::cmd("GET").arg(key)).unwrap();
        assert_eq!(value.as_ref(), Some(expected), "node {full} lost {key}");
    }
    set(&cluster, full, "after").unwrap();
}
