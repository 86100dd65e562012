//! `concord maelstrom lin-kv`: Concord's Raft node behind Maelstrom's protocol, checked for
//! linearizability through partitions.
//!
//! Several clients, each bound to one node as Maelstrom's are, keep one request outstanding
//! each: random reads, writes of unique values and compare-and-sets on a few keys. The test
//! partitions nodes away and heals them while the clients run, records every operation with
//! its invoke and complete times, and hands the history to the checker in
//! `tests/support/linearizability/`. A definite error (11, not applied) leaves the operation out; a
//! timeout, an indefinite error (0, 13) or no answer in [`CLIENT_TIMEOUT`] records it as
//! unknown. After the last heal every node must serve reads again.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::support::linearizability::{check, Call, History, Outcome, Pending};
use super::{Cluster, Random};

/// How long a client waits for an answer before it records the outcome as unknown and moves
/// on (a late answer is then ignored). Above the node's own waits (one for a leader, one for a
/// commit, 1 s each), so that a node that answers at all is heard.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the final reads may retry while the healed cluster settles.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(10);

/// The keys every client works on: few, so that operations contend.
const KEYS: [u64; 3] = [0, 1, 2];

/// One stretch of the run: how long, and which node pairs cannot talk during it.
struct Phase {
    duration: Duration,
    cut: Vec<(&'static str, &'static str)>,
}

/// A request a client is waiting on.
struct InFlight {
    msg_id: u64,
    key: u64,
    sent_at: Instant,
    call: Call,
    pending: Pending,
}

struct Client {
    number: u64,
    node: String,
    in_flight: Option<InFlight>,
}

/// What the clients do; values are unique, and compare-and-sets expect a value recently seen.
struct Workload {
    random: Random,
    next_value: u64,
    /// The last value each key was seen to hold (by a read or an acknowledged write).
    seen: BTreeMap<u64, u64>,
    /// How many keys it spreads operations over (the first `key_count` of 0, 1, 2, ...).
    key_count: u64,
}

impl Workload {
    /// Picks an operation: its key, its request body and the call the history records.
    fn next(&mut self) -> (u64, Value, Call) {
        let key = self.random.below(self.key_count);
        let choice = self.random.below(10);
        if choice < 4 {
            return (key, json!({"type": "read", "key": key}), Call::Read);
        }
        self.next_value += 1;
        let value = self.next_value;
        if choice < 7 {
            return (
                key,
                json!({"type": "write", "key": key, "value": value}),
                Call::Write(value.to_string()),
            );
        }
        // Mostly the last value seen, sometimes an older one, so that some fail.
        let from = match self.seen.get(&key) {
            Some(seen) if self.random.below(4) > 0 => *seen,
            _ => self.random.below(self.next_value),
        };
        let body = json!({"type": "cas", "key": key, "from": from, "to": value});
        (key, body, Call::Cas { expected: Some(from.to_string()), new: value.to_string() })
    }
}

/// Runs the clients through `phases` on a fresh cluster of `node_count`, checks the history,
/// and requires every node to serve a read after the last phase.
fn run_and_check(node_count: usize, client_count: u64, phases: &[Phase]) {
    // The nodes are killed, so they cannot remove their data directories: this one does.
    let data_root = super::support::temp_dir("lin-kv");
    let environment = [
        ("CONCORD_MAELSTROM_DATA_DIR", data_root.path().to_str().unwrap()),
        // openraft logs every message a partition drops; the node's own warnings stay.
        ("CONCORD_LOG", "warn,openraft=off"),
    ];
    let mut cluster = Cluster::start_with_environment("lin-kv", node_count, &environment);
    let history = History::new();
    let mut workload = Workload {
        random: Random(0x9e37_79b9_7f4a_7c15),
        next_value: 0,
        seen: BTreeMap::new(),
        key_count: KEYS.len() as u64,
    };
    let mut clients: Vec<Client> = (0..client_count)
        .map(|number| Client {
            number,
            node: format!("n{}", number as usize % node_count + 1),
            in_flight: None,
        })
        .collect();
    let mut definite_errors = 0;
    for phase in phases {
        cluster.heal();
        for (a, b) in &phase.cut {
            cluster.partition(a, b);
        }
        let phase_end = Instant::now() + phase.duration;
        while Instant::now() < phase_end {
            for client in clients.iter_mut().filter(|client| client.in_flight.is_none()) {
                let (key, body, call) = workload.next();
                let pending = history.invoke(client.number, key.to_string(), call.clone());
                let msg_id = cluster.send_as(&format!("c{}", client.number), &client.node, body);
                client.in_flight =
                    Some(InFlight { msg_id, key, sent_at: Instant::now(), call, pending });
            }
            let outstanding: Vec<u64> = clients
                .iter()
                .filter_map(|client| Some(client.in_flight.as_ref()?.msg_id))
                .collect();
            cluster.pump_until(phase_end, |replies| {
                outstanding.iter().any(|id| replies.contains_key(id))
            });
            for client in &mut clients {
                definite_errors += complete(&mut cluster, client, &mut workload) as u64;
            }
        }
    }
    // Wait for the last answers, then read every key on every node until each succeeds.
    let deadline = Instant::now() + CLIENT_TIMEOUT;
    while clients.iter().any(|client| client.in_flight.is_some()) && Instant::now() < deadline {
        cluster.pump(Instant::now() + Duration::from_millis(20), None);
        for client in &mut clients {
            definite_errors += complete(&mut cluster, client, &mut workload) as u64;
        }
    }
    drop(clients);
    final_reads(&mut cluster, &history, node_count);
    cluster.assert_none_silenced();
    let operations = history.operations();
    let report = check(&operations).unwrap();
    eprintln!(
        "lin-kv on {node_count} nodes: {} operations checked ({} unknown), {definite_errors} \
         refused as not applied",
        report.operations, report.unknown_operations
    );
    let known = operations.iter().filter(|operation| operation.outcome != Outcome::Unknown);
    assert!(
        known.filter(|operation| operation.call != Call::Read).count() > 0,
        "no write or compare-and-set completed at all"
    );
}

/// Completes the client's request if its answer came or it timed out; returns whether the
/// answer was a definite refusal (not applied, left out of the history).
fn complete(cluster: &mut Cluster, client: &mut Client, workload: &mut Workload) -> bool {
    let Some(in_flight) = &client.in_flight else { return false };
    let Some(reply) = cluster.replies.remove(&in_flight.msg_id) else {
        if in_flight.sent_at.elapsed() > CLIENT_TIMEOUT {
            // Dropping the pending operation records it as unknown.
            client.in_flight = None;
        }
        return false;
    };
    let in_flight = client.in_flight.take().expect("checked above");
    let body = &reply["body"];
    let outcome = match (body["type"].as_str(), body["code"].as_u64(), &in_flight.call) {
        (Some("read_ok"), _, Call::Read) => Outcome::Read(Some(body["value"].to_string())),
        (Some("write_ok"), _, Call::Write(_)) => Outcome::Written,
        (Some("cas_ok"), _, Call::Cas { .. }) => Outcome::CasSucceeded,
        (Some("error"), Some(20), Call::Read) => Outcome::Read(None),
        (Some("error"), Some(20 | 22), Call::Cas { .. }) => Outcome::CasFailed,
        (Some("error"), Some(11), _) => {
            in_flight.pending.discard();
            return true;
        }
        (Some("error"), Some(0 | 13), _) => Outcome::Unknown,
        _ => panic!(
            "client {} got an answer that does not fit {:?}: {reply}",
            client.number, in_flight.call
        ),
    };
    // Remember what the key was seen to hold, for later compare-and-sets to expect.
    let seen = match (&outcome, &in_flight.call) {
        (Outcome::Read(Some(value)), _) | (Outcome::Written, Call::Write(value)) => Some(value),
        (Outcome::CasSucceeded, Call::Cas { new, .. }) => Some(new),
        _ => None,
    };
    if let Some(value) = seen.and_then(|value| value.parse().ok()) {
        workload.seen.insert(in_flight.key, value);
    }
    in_flight.pending.complete(outcome);
    false
}

/// Reads every key on every node, retrying refusals until the healed cluster serves them, and
/// records the reads in the history.
fn final_reads(cluster: &mut Cluster, history: &History, node_count: usize) {
    for node in (1..=node_count).map(|number| format!("n{number}")) {
        for key in KEYS {
            let deadline = Instant::now() + SETTLE_TIMEOUT;
            loop {
                let pending = history.invoke(1000, key.to_string(), Call::Read);
                let reply = cluster.call(&node, json!({"type": "read", "key": key}));
                let body = &reply["body"];
                match (body["type"].as_str(), body["code"].as_u64()) {
                    (Some("read_ok"), _) => {
                        pending.complete(Outcome::Read(Some(body["value"].to_string())));
                        break;
                    }
                    (Some("error"), Some(20)) => {
                        pending.complete(Outcome::Read(None));
                        break;
                    }
                    (Some("error"), Some(11)) => pending.discard(),
                    _ => panic!("{node} answered a read with {reply}"),
                }
                assert!(
                    Instant::now() < deadline,
                    "{node} still refuses reads of {key} after the heal: {reply}"
                );
                cluster.pump(Instant::now() + Duration::from_millis(100), None);
            }
        }
    }
}

#[test]
fn lin_kv_on_three_nodes_stays_linearizable_through_partitions() {
    let second = Duration::from_millis(1000);
    run_and_check(
        3,
        6,
        &[
            Phase { duration: second, cut: vec![] },
            Phase { duration: second * 3 / 2, cut: vec![("n1", "n2"), ("n1", "n3")] },
            Phase { duration: second * 3 / 2, cut: vec![("n2", "n1"), ("n2", "n3")] },
            Phase { duration: second, cut: vec![] },
        ],
    );
}

#[test]
fn lin_kv_on_five_nodes_stays_linearizable_through_a_majority_minority_split() {
    let second = Duration::from_millis(1000);
    let minority = ["n1", "n2"];
    let majority = ["n3", "n4", "n5"];
    let cut = minority.iter().flat_map(|a| majority.iter().map(move |b| (*a, *b))).collect();
    run_and_check(
        5,
        10,
        &[
            Phase { duration: second, cut: vec![] },
            Phase { duration: second * 3 / 2, cut },
            Phase { duration: second, cut: vec![] },
        ],
    );
}

/// Maelstrom's `--node-count 5 --rate 200 --latency 50 --nemesis partition`, open loop: a
/// request every 5 ms, each from its own client, round robin over the nodes, whatever the
/// answers; every node-to-node message is held 50 ms. Outside the partition (before it, and
/// after the heal once a leader had time to settle) at least 90 % of the requests sent must be
/// served (an `_ok`, or the definite answers 20 and 22), and the whole history must be
/// linearizable.
#[test]
fn lin_kv_on_five_nodes_at_50_ms_latency_serves_the_offered_rate_outside_partitions() {
    let data_root = super::support::temp_dir("lin-kv");
    let environment = [
        ("CONCORD_MAELSTROM_DATA_DIR", data_root.path().to_str().unwrap()),
        ("CONCORD_LOG", "warn,openraft=off"),
    ];
    let mut cluster = Cluster::start_with_environment("lin-kv", 5, &environment);
    cluster.latency = Duration::from_millis(50);
    let history = History::new();
    let mut workload =
        // Thousands of requests: spread over more keys, so that each key's history stays small
        // enough for the checker's search.
        Workload {
        random: Random(0x2545_f491_4f6c_dd1d),
        next_value: 0,
        seen: BTreeMap::new(),
        key_count: 24,
    };
    let interval = Duration::from_millis(5);
    let second = Duration::from_secs(1);
    // (start, end, partitioned, counted): the first second lets the first election happen.
    let phases = [
        (second, false, false),
        (second * 4, false, true),
        (second * 3, true, false),
        (second * 2, false, false),
        (second * 4, false, true),
    ];
    let (mut sent, mut served, mut counted_sent) = (0u64, 0u64, 0u64);
    let mut in_flight: Vec<(Client, bool)> = Vec::new();
    let mut number = 0;
    for (duration, partitioned, counted) in phases {
        cluster.heal();
        if partitioned {
            for a in ["n1", "n2"] {
                for b in ["n3", "n4", "n5"] {
                    cluster.partition(a, b);
                }
            }
        }
        let phase_end = Instant::now() + duration;
        let mut next_send = Instant::now();
        while Instant::now() < phase_end {
            if Instant::now() >= next_send {
                next_send += interval;
                number += 1;
                let (key, body, call) = workload.next();
                let pending = history.invoke(number, key.to_string(), call.clone());
                let node = format!("n{}", number % 5 + 1);
                let msg_id = cluster.send_as(&format!("c{number}"), &node, body);
                let flight = InFlight { msg_id, key, sent_at: Instant::now(), call, pending };
                in_flight.push((Client { number, node, in_flight: Some(flight) }, counted));
                sent += 1;
                counted_sent += counted as u64;
            }
            cluster.pump(next_send.min(phase_end), None);
            served += settle(&mut cluster, &mut in_flight, &mut workload);
        }
    }
    let deadline = Instant::now() + CLIENT_TIMEOUT;
    while !in_flight.is_empty() && Instant::now() < deadline {
        cluster.pump(Instant::now() + Duration::from_millis(20), None);
        served += settle(&mut cluster, &mut in_flight, &mut workload);
    }
    drop(in_flight);
    let operations = history.operations();
    let report = check(&operations).unwrap();
    eprintln!(
        "lin-kv at 50 ms latency: {sent} requests sent, {counted_sent} outside the partition, \
         {served} of those served; {} operations checked ({} unknown)",
        report.operations, report.unknown_operations
    );
    cluster.assert_none_silenced();
    assert!(
        served * 10 >= counted_sent * 9,
        "only {served} of the {counted_sent} requests sent outside the partition were served"
    );
}

/// Completes every request answered or timed out; returns how many of those counted were
/// served (an `_ok`, or the definite 20 and 22).
fn settle(
    cluster: &mut Cluster,
    in_flight: &mut Vec<(Client, bool)>,
    workload: &mut Workload,
) -> u64 {
    let mut served = 0;
    in_flight.retain_mut(|(client, counted)| {
        let msg_id = client.in_flight.as_ref().expect("only clients in flight are kept").msg_id;
        let body = cluster.replies.get(&msg_id).map(|reply| reply["body"].clone());
        complete(cluster, client, workload);
        if client.in_flight.is_some() {
            return true;
        }
        let ok = body.is_some_and(|body| {
            body["type"].as_str().is_some_and(|kind| kind.ends_with("_ok"))
                || matches!(body["code"].as_u64(), Some(20 | 22))
        });
        served += (ok && *counted) as u64;
        false
    });
    served
}
