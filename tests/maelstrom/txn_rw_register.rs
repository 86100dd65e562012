//! `txn-rw-register` end to end: concurrent client sessions run random transactions on three
//! nodes, through a partition that is then healed; the nodes must converge and the history must
//! pass the read-committed checker ([`super::read_committed`]).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::read_committed::{self, Operation};
use super::{Cluster, Random};

const NODES: [&str; 3] = ["n1", "n2", "n3"];
const KEYS: i64 = 6;
const SESSIONS: usize = 3;

/// A random transaction of 1 to 4 micro-operations; every write gets a fresh value.
fn random_transaction(random: &mut Random, next_value: &mut i64) -> Value {
    let length = 1 + random.below(4);
    let operations: Vec<Value> = (0..length)
        .map(|_| {
            let key = random.below(KEYS as u64);
            if random.below(2) == 0 {
                json!(["r", key, null])
            } else {
                *next_value += 1;
                json!(["w", key, *next_value])
            }
        })
        .collect();
    json!(operations)
}

/// Runs `rounds` rounds, each one transaction per session on a random node at once; returns the
/// completed transactions. Pauses between rounds let replication ticks happen.
fn run_rounds(
    cluster: &mut Cluster,
    random: &mut Random,
    next_value: &mut i64,
    rounds: usize,
) -> Vec<(String, Vec<Operation>)> {
    let mut completed = Vec::new();
    for _ in 0..rounds {
        let requests: Vec<(String, u64)> = (0..SESSIONS)
            .map(|_| {
                let node = NODES[random.below(NODES.len() as u64) as usize].to_string();
                let txn = random_transaction(random, next_value);
                let msg_id = cluster.send(&node, json!({"type": "txn", "txn": txn}));
                (node, msg_id)
            })
            .collect();
        for (node, msg_id) in requests {
            cluster.pump(Instant::now() + super::REPLY_TIMEOUT, Some(msg_id));
            let reply = cluster.replies.remove(&msg_id).expect("every txn is answered in time");
            assert_eq!(reply["body"]["type"], "txn_ok", "a transaction is never refused: {reply}");
            completed.push((node, read_committed::parse(&reply["body"]["txn"])));
        }
        cluster.pump(Instant::now() + Duration::from_millis(20), None);
    }
    completed
}

/// Every key's value on `node`, read in one transaction.
fn read_all(cluster: &mut Cluster, node: &str) -> (BTreeMap<i64, Option<i64>>, Vec<Operation>) {
    let reads: Vec<Value> = (0..KEYS).map(|key| json!(["r", key, null])).collect();
    let reply = cluster.call(node, json!({"type": "txn", "txn": reads}));
    let operations = read_committed::parse(&reply["body"]["txn"]);
    let values = operations
        .iter()
        .map(|operation| match *operation {
            Operation::Read { key, value } => (key, value),
            Operation::Write { .. } => unreachable!("only reads were sent"),
        })
        .collect();
    (values, operations)
}

#[test]
fn transactions_through_a_partition_converge_and_are_read_committed() {
    let mut cluster = Cluster::start("txn-rw-register", NODES.len());
    let mut random = Random(0x9e37_79b9_7f4a_7c15);
    let mut next_value = 0;
    let mut history = run_rounds(&mut cluster, &mut random, &mut next_value, 30);
    cluster.partition("n1", "n2");
    cluster.partition("n1", "n3");
    let during = run_rounds(&mut cluster, &mut random, &mut next_value, 60);
    let n1_wrote_during_partition = during.iter().any(|(node, ops)| {
        node == "n1" && ops.iter().any(|op| matches!(op, Operation::Write { .. }))
    });
    history.extend(during);
    let (n1_view, _) = read_all(&mut cluster, "n1");
    let (n2_view, _) = read_all(&mut cluster, "n2");
    if n1_wrote_during_partition {
        assert_ne!(n1_view, n2_view, "the partition kept n1's writes from n2");
    }
    cluster.heal();
    history.extend(run_rounds(&mut cluster, &mut random, &mut next_value, 30));

    // After the heal, replication catches up: every node reads the same values.
    let deadline = Instant::now() + Duration::from_secs(10);
    let final_values = loop {
        let views: Vec<_> = NODES.iter().map(|node| read_all(&mut cluster, node)).collect();
        if views.iter().all(|(values, _)| *values == views[0].0) {
            history.extend(
                views.iter().map(|(_, operations)| ("final".to_string(), operations.clone())),
            );
            break views[0].0.clone();
        }
        assert!(Instant::now() < deadline, "the nodes still differ after the heal: {views:?}");
        cluster.pump(Instant::now() + Duration::from_millis(100), None);
    };
    let final_values: BTreeMap<i64, i64> =
        final_values.into_iter().filter_map(|(key, value)| Some((key, value?))).collect();
    let transactions: Vec<Vec<Operation>> = history.into_iter().map(|(_, ops)| ops).collect();
    let anomalies = read_committed::check(&transactions, &final_values);
    assert!(anomalies.is_empty(), "read committed was violated:\n{}", anomalies.join("\n"));
    println!(
        "txn-rw-register: {} transactions, {} writes, converged on {final_values:?}",
        transactions.len(),
        next_value
    );
}
