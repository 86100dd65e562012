//! Efficient broadcast (Gossip Glomers #3d and #3e) in the harness: 25 nodes, every
//! node-to-node message delayed 100 ms, broadcasts at Maelstrom's usual pace. The test checks
//! that every value reaches every node and prints what it cost, for each tick interval the
//! launchers use.
//!
//! How the figures are measured:
//!
//! - **Messages per operation**: every node-to-node message the harness routes (gossip and
//!   acknowledgements), from the first broadcast until the network is quiet again, divided by
//!   twice the broadcasts. Maelstrom divides by all client operations, and its broadcast
//!   workload sends about as many reads as broadcasts; the harness's own polling reads are not
//!   counted, since they are far more frequent than Maelstrom's.
//! - **Latency**: from just before the client sends a broadcast to the first read round in
//!   which all 25 nodes return the value. The harness polls every node in turn between
//!   broadcasts (a round takes a few milliseconds), so a figure can be late by one round.
//!   Client messages are not delayed, unlike Maelstrom's, which adds no hop to this path.
//!
//! Nothing here asserts on time: the figures depend on the machine and its load, so they are
//! reported, not checked. Only delivery is asserted.
//!
//! A second test pins down the star's fault tolerance: a leaf cut off from the hub gets every
//! value once the partition heals.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::json;

use super::Cluster;

const NODE_COUNT: usize = 25;
const LATENCY: Duration = Duration::from_millis(100);
/// Maelstrom's `--rate 100` is about 50 broadcasts a second (and as many reads).
const BROADCAST_INTERVAL: Duration = Duration::from_millis(20);
const BROADCASTS: usize = 150;

/// What one run cost.
struct Measurement {
    messages_per_operation: f64,
    median_latency: Duration,
    max_latency: Duration,
}

/// Runs the broadcasts against 25 nodes started with `environment`; panics unless every value
/// reaches every node.
fn measure(environment: &[(&str, &str)]) -> Measurement {
    let mut cluster = Cluster::start_with_environment("broadcast", NODE_COUNT, environment);
    cluster.latency = LATENCY;
    let nodes: Vec<String> = (1..=NODE_COUNT).map(|number| format!("n{number}")).collect();
    let mut seen: Vec<BTreeSet<u64>> = vec![BTreeSet::new(); NODE_COUNT];
    let mut sent_at: Vec<Instant> = Vec::new();
    let mut visible_at: Vec<Option<Instant>> = vec![None; BROADCASTS];
    let messages_before = cluster.inter_node_messages;
    let start = Instant::now();
    let deadline = start + BROADCAST_INTERVAL * BROADCASTS as u32 + Duration::from_secs(20);
    while visible_at.iter().any(Option::is_none) {
        let value = sent_at.len();
        if value < BROADCASTS && Instant::now() >= start + BROADCAST_INTERVAL * value as u32 {
            // A spread of origins: 7 is coprime with 25, so every node gets broadcasts.
            let node = &nodes[value * 7 % NODE_COUNT];
            sent_at.push(Instant::now());
            let reply = cluster.call(node, json!({"type": "broadcast", "message": value}));
            assert_eq!(reply["body"]["type"], "broadcast_ok", "{reply}");
            continue;
        }
        for (index, node) in nodes.iter().enumerate() {
            let reply = cluster.call(node, json!({"type": "read"}));
            let messages: Vec<u64> = serde_json::from_value(reply["body"]["messages"].clone())
                .unwrap_or_else(|error| panic!("read_ok lists integers: {reply}: {error}"));
            for message in messages {
                assert!((message as usize) < sent_at.len(), "{node} read {message}, never sent");
                if seen[index].insert(message)
                    && seen.iter().all(|values| values.contains(&message))
                {
                    visible_at[message as usize] = Some(Instant::now());
                }
            }
        }
        let missing = visible_at.iter().filter(|at| at.is_none()).count();
        assert!(Instant::now() < deadline, "{missing} values never reached every node");
    }
    // Let the last acknowledgements land, so they are counted as Maelstrom would count them.
    cluster.pump(Instant::now() + LATENCY * 3, None);
    let messages = cluster.inter_node_messages - messages_before;
    let mut latencies: Vec<Duration> = sent_at
        .iter()
        .zip(&visible_at)
        .map(|(sent, visible)| visible.expect("loop ended when all were visible") - *sent)
        .collect();
    latencies.sort_unstable();
    Measurement {
        messages_per_operation: messages as f64 / (2 * BROADCASTS) as f64,
        median_latency: latencies[latencies.len() / 2],
        max_latency: *latencies.last().expect("BROADCASTS > 0"),
    }
}

#[test]
fn broadcast_reaches_all_25_nodes_under_100_ms_latency_and_reports_the_cost() {
    let configurations: [(&str, &[(&str, &str)]); 2] = [
        ("maelstrom/broadcast (#3d)", &[("CONCORD_MAELSTROM_TICK_MS", "50")]),
        ("maelstrom/broadcast-batched (#3e)", &[("CONCORD_MAELSTROM_TICK_MS", "400")]),
    ];
    for (label, environment) in configurations {
        let measurement = measure(environment);
        println!(
            "{label}: {:.1} messages/op, median latency {} ms, max {} ms \
             ({BROADCASTS} broadcasts, {NODE_COUNT} nodes, {} ms latency)",
            measurement.messages_per_operation,
            measurement.median_latency.as_millis(),
            measurement.max_latency.as_millis(),
            LATENCY.as_millis(),
        );
    }
}

#[test]
fn on_the_star_a_leaf_cut_off_from_the_hub_gets_every_value_after_the_heal() {
    let mut cluster = Cluster::start("broadcast", 5);
    cluster.partition("n1", "n5");
    for value in 0..20u64 {
        let node = format!("n{}", value % 5 + 1);
        let reply = cluster.call(&node, json!({"type": "broadcast", "message": value}));
        assert_eq!(reply["body"]["type"], "broadcast_ok", "{reply}");
    }
    cluster.pump(Instant::now() + Duration::from_millis(600), None);
    let read = |cluster: &mut Cluster, node: &str| -> BTreeSet<u64> {
        let reply = cluster.call(node, json!({"type": "read"}));
        serde_json::from_value(reply["body"]["messages"].clone()).expect("a list of integers")
    };
    let isolated = read(&mut cluster, "n5");
    assert!(isolated.len() < 20, "n5 hears only through the hub n1, yet has {isolated:?}");
    cluster.heal();
    let expected: BTreeSet<u64> = (0..20).collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    for node in ["n1", "n2", "n3", "n4", "n5"] {
        while read(&mut cluster, node) != expected {
            assert!(Instant::now() < deadline, "{node} lacks values after the heal");
            cluster.pump(Instant::now() + Duration::from_millis(100), None);
        }
    }
}
