//! Peer authentication in a real 3-node cluster (issue 15): members that share a cluster secret
//! form the cluster and replicate; a member restarted with another secret is refused by both
//! peers with the reason logged on both sides and counted, while the other two go on
//! accepting writes; once it has the secret again it catches up with every write.
//!
//! Run: `cargo test --release --test cluster_peer_auth -- --nocapture`.

mod support;

use std::time::Duration;

use support::cluster::{connect, Cluster, NodeId};

/// `INFO replication`'s `field` on node `id`, if it answers.
fn info_field(cluster: &Cluster, id: NodeId, field: &str) -> Option<String> {
    let info: String = cluster.command(id, redis::cmd("INFO").arg("replication")).ok()?;
    let prefix = format!("{field}:");
    info.lines().find_map(|line| line.strip_prefix(&prefix).map(str::to_string))
}

fn get(cluster: &Cluster, id: NodeId, key: &str) -> Option<String> {
    let mut connection = connect(cluster.client_port(id), Duration::from_secs(5)).ok()?;
    redis::cmd("GET").arg(key).query(&mut connection).ok()?
}

#[test]
fn a_member_with_another_secret_is_refused_on_both_sides_and_the_cluster_goes_on() {
    let secrets = support::temp_dir("cluster-secrets");
    let right = secrets.path().join("right");
    let wrong = secrets.path().join("wrong");
    std::fs::write(&right, "the secret every member shares\n").unwrap();
    std::fs::write(&wrong, "a secret no other member has\n").unwrap();
    let right = right.to_str().unwrap();
    let mut cluster = Cluster::start("peer-auth", 3, &["--cluster-secret-file", right]);
    let leader = cluster.wait_for_leader();
    for id in cluster.ids() {
        assert_eq!(info_field(&cluster, id, "concord_peer_auth").as_deref(), Some("secret"));
    }
    let set: String =
        cluster.command(leader, redis::cmd("SET").arg("before").arg("1")).expect("SET");
    assert_eq!(set, "OK");
    let outsider = cluster.other_than(&[leader]);
    cluster.wait_until("the write reaching every member", || {
        cluster.ids().iter().all(|id| get(&cluster, *id, "before").as_deref() == Some("1"))
    });

    cluster.kill(outsider);
    cluster.set_flag(outsider, "--cluster-secret-file", wrong.to_str().unwrap());
    cluster.restart(outsider);
    let insiders: Vec<NodeId> = cluster.ids().into_iter().filter(|id| *id != outsider).collect();
    cluster.wait_until("both sides logging the failed challenge", || {
        let outsider_log = cluster.log_text(outsider);
        outsider_log.contains("failed the cluster secret challenge")
            && insiders.iter().any(|id| {
                cluster
                    .log_text(*id)
                    .contains(&format!("node {outsider} failed the cluster secret challenge"))
            })
    });
    // The two members that share the secret still make a majority and take writes; the outsider
    // sees none of them.
    let leader = cluster.wait_for_leader();
    assert_ne!(leader, outsider, "a member nobody admits was elected");
    let set: String =
        cluster.command(leader, redis::cmd("SET").arg("during").arg("2")).expect("SET");
    assert_eq!(set, "OK");
    let refusals = |id| {
        info_field(&cluster, id, "concord_peer_auth_refusals")
            .and_then(|count| count.parse::<u64>().ok())
            .unwrap_or(0)
    };
    assert!(refusals(outsider) > 0, "the outsider counted no refusal");
    assert!(insiders.iter().any(|id| refusals(*id) > 0), "no member counted a refusal");
    let mut outsider_connection = connect(cluster.client_port(outsider), Duration::from_secs(5))
        .expect("the outsider still serves connections");
    let read: redis::RedisResult<Option<String>> =
        redis::cmd("GET").arg("during").query(&mut outsider_connection);
    assert!(read.is_err(), "the outsider answered a read without a leader: {read:?}");

    cluster.kill(outsider);
    cluster.set_flag(outsider, "--cluster-secret-file", right);
    cluster.restart(outsider);
    cluster.wait_until("the outsider catching up once it has the secret", || {
        get(&cluster, outsider, "during").as_deref() == Some("2")
    });
}
