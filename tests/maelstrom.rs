//! `concord maelstrom <workload>` end to end, through a tiny stand-in for Maelstrom: the test
//! spawns the nodes, routes every message between them (dropping those across a partition),
//! and plays the client `c1`. It can also delay every node-to-node message by a fixed latency
//! and counts node-to-node messages, as Maelstrom's `--latency` and net stats do.

// A crate root's modules resolve next to it (tests/), so the files under tests/maelstrom/ are
// named by path.
#[path = "maelstrom/broadcast_latency.rs"]
mod broadcast_latency;
#[path = "maelstrom/read_committed.rs"]
mod read_committed;
#[path = "maelstrom/txn_rw_register.rs"]
mod txn_rw_register;

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// How long any one reply may take before the test fails.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

struct Cluster {
    children: Vec<Child>,
    stdins: HashMap<String, ChildStdin>,
    /// Every line any node wrote on stdout, in arrival order.
    outbox: Receiver<Value>,
    /// Node pairs whose messages are dropped, in both directions.
    partitioned: HashSet<(String, String)>,
    /// Replies to the client, by `in_reply_to`.
    replies: HashMap<u64, Value>,
    next_msg_id: u64,
    /// How long each node-to-node message is held before delivery; zero delivers at once.
    latency: Duration,
    /// Node-to-node messages held for `latency`, oldest first. Since every message waits the
    /// same time, arrival order is also delivery-time order.
    in_flight: VecDeque<(Instant, Value)>,
    /// Node-to-node messages sent so far (delivered, held or dropped by a partition).
    inter_node_messages: u64,
}

impl Cluster {
    /// Starts `count` nodes `n1..` of `workload` and initialises them.
    fn start(workload: &str, count: usize) -> Cluster {
        Cluster::start_with_environment(workload, count, &[])
    }

    /// Like [`Cluster::start`], with extra environment variables for every node.
    fn start_with_environment(
        workload: &str,
        count: usize,
        environment: &[(&str, &str)],
    ) -> Cluster {
        let (sender, outbox) = mpsc::channel();
        let mut cluster = Cluster {
            children: Vec::new(),
            stdins: HashMap::new(),
            outbox,
            partitioned: HashSet::new(),
            replies: HashMap::new(),
            next_msg_id: 1,
            latency: Duration::ZERO,
            in_flight: VecDeque::new(),
            inter_node_messages: 0,
        };
        let node_ids: Vec<String> = (1..=count).map(|number| format!("n{number}")).collect();
        for node_id in &node_ids {
            let mut child = Command::new(env!("CARGO_BIN_EXE_concord"))
                .args(["maelstrom", workload])
                .envs(environment.iter().copied())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("concord starts");
            let stdout = BufReader::new(child.stdout.take().unwrap());
            let sender = sender.clone();
            std::thread::spawn(move || {
                for line in stdout.lines() {
                    let Ok(line) = line else { break };
                    let message: Value = serde_json::from_str(&line).unwrap_or_else(|error| {
                        panic!("stdout carries JSON only: {line:?}: {error}")
                    });
                    if sender.send(message).is_err() {
                        break;
                    }
                }
            });
            cluster.stdins.insert(node_id.clone(), child.stdin.take().unwrap());
            cluster.children.push(child);
        }
        for node_id in &node_ids {
            let reply = cluster
                .call(node_id, json!({"type": "init", "node_id": node_id, "node_ids": node_ids}));
            assert_eq!(reply["body"]["type"], "init_ok", "init is answered with init_ok: {reply}");
            assert_eq!(reply["src"], *node_id, "the reply comes from the node named in init");
        }
        cluster
    }

    fn partition(&mut self, a: &str, b: &str) {
        self.partitioned.insert((a.into(), b.into()));
        self.partitioned.insert((b.into(), a.into()));
    }

    fn heal(&mut self) {
        self.partitioned.clear();
    }

    fn deliver(&mut self, message: &Value) {
        let (src, dest) = (message["src"].as_str().unwrap(), message["dest"].as_str().unwrap());
        if self.partitioned.contains(&(src.to_string(), dest.to_string())) {
            return;
        }
        let stdin =
            self.stdins.get_mut(dest).unwrap_or_else(|| panic!("no node {dest}: {message}"));
        writeln!(stdin, "{message}").expect("the node reads its stdin");
    }

    /// Routes messages until `deadline`, or until a client reply to `msg_id` arrives.
    fn pump(&mut self, deadline: Instant, msg_id: Option<u64>) {
        while msg_id.is_none_or(|id| !self.replies.contains_key(&id)) {
            self.deliver_due();
            let now = Instant::now();
            let Some(mut wait) = deadline.checked_duration_since(now) else { return };
            if let Some((due, _)) = self.in_flight.front() {
                wait = wait.min(due.saturating_duration_since(now));
            }
            match self.outbox.recv_timeout(wait) {
                Ok(message) => self.route(message),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    /// Takes one message a node wrote: a client reply is kept, a node-to-node message is
    /// counted and delivered now or after `latency`.
    fn route(&mut self, message: Value) {
        if message["dest"] == "c1" {
            let in_reply_to =
                message["body"]["in_reply_to"].as_u64().expect("client replies have in_reply_to");
            self.replies.insert(in_reply_to, message);
            return;
        }
        let is_node = |field: &Value| field.as_str().is_some_and(|id| self.stdins.contains_key(id));
        if is_node(&message["src"]) && is_node(&message["dest"]) {
            self.inter_node_messages += 1;
        }
        if self.latency.is_zero() {
            self.deliver(&message);
        } else {
            self.in_flight.push_back((Instant::now() + self.latency, message));
        }
    }

    /// Delivers the held messages whose time has come.
    fn deliver_due(&mut self) {
        while self.in_flight.front().is_some_and(|(due, _)| *due <= Instant::now()) {
            let (_, message) = self.in_flight.pop_front().expect("front was just checked");
            self.deliver(&message);
        }
    }

    /// Sends a client request to `node` without waiting; returns its msg_id.
    fn send(&mut self, node: &str, mut body: Value) -> u64 {
        let msg_id = self.next_msg_id;
        self.next_msg_id += 1;
        body["msg_id"] = msg_id.into();
        self.deliver(&json!({"src": "c1", "dest": node, "body": body}));
        msg_id
    }

    /// Sends a client request and routes messages until its reply comes.
    fn call(&mut self, node: &str, body: Value) -> Value {
        let msg_id = self.send(node, body.clone());
        self.pump(Instant::now() + REPLY_TIMEOUT, Some(msg_id));
        self.replies
            .remove(&msg_id)
            .unwrap_or_else(|| panic!("no reply from {node} to {body} in {REPLY_TIMEOUT:?}"))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn echo_replies_with_the_same_value_and_rejects_unknown_types() {
    let mut cluster = Cluster::start("echo", 1);
    let reply = cluster.call("n1", json!({"type": "echo", "echo": "Please echo 35"}));
    assert_eq!(reply["body"]["type"], "echo_ok");
    assert_eq!(reply["body"]["echo"], "Please echo 35");
    let reply = cluster.call("n1", json!({"type": "frobnicate"}));
    assert_eq!(reply["body"]["type"], "error");
    assert_eq!(reply["body"]["code"], 10, "unknown types are not-supported (10): {reply}");
}

#[test]
fn unique_ids_from_three_nodes_are_all_distinct() {
    let mut cluster = Cluster::start("unique-ids", 3);
    let requests: Vec<u64> = (0..900)
        .map(|index| cluster.send(&format!("n{}", index % 3 + 1), json!({"type": "generate"})))
        .collect();
    let deadline = Instant::now() + REPLY_TIMEOUT;
    let mut ids = BTreeSet::new();
    for msg_id in requests {
        cluster.pump(deadline, Some(msg_id));
        let reply = cluster.replies.remove(&msg_id).expect("every generate is answered in time");
        assert_eq!(reply["body"]["type"], "generate_ok", "{reply}");
        let id = reply["body"]["id"].as_u64().expect("ids are 64-bit integers");
        assert!(ids.insert(id), "id {id} was handed out twice");
    }
    assert_eq!(ids.len(), 900);
}

#[test]
fn broadcast_reaches_every_node_of_a_line_after_a_partition_heals() {
    let nodes = ["n1", "n2", "n3", "n4", "n5"];
    // Fanout 0: follow the line Maelstrom-style, so the partition below cuts the graph.
    let mut cluster = Cluster::start_with_environment(
        "broadcast",
        nodes.len(),
        &[("CONCORD_BROADCAST_FANOUT", "0")],
    );
    let topology: serde_json::Map<String, Value> = nodes
        .iter()
        .enumerate()
        .map(|(index, node)| {
            let neighbours: Vec<&str> = [index.checked_sub(1), Some(index + 1)]
                .into_iter()
                .flatten()
                .filter_map(|i| nodes.get(i).copied())
                .collect();
            (node.to_string(), json!(neighbours))
        })
        .collect();
    for node in nodes {
        let reply = cluster.call(node, json!({"type": "topology", "topology": topology}));
        assert_eq!(reply["body"]["type"], "topology_ok");
    }
    cluster.partition("n2", "n3");
    for value in 0..50u64 {
        let reply = cluster.call(
            nodes[value as usize % nodes.len()],
            json!({"type": "broadcast", "message": value}),
        );
        assert_eq!(reply["body"]["type"], "broadcast_ok");
    }
    // Let gossip run into the partition for a while, then heal it.
    cluster.pump(Instant::now() + Duration::from_millis(600), None);
    let n1 = cluster.call("n1", json!({"type": "read"}));
    assert!(
        n1["body"]["messages"].as_array().unwrap().len() < 50,
        "n1 cannot have heard from n3..n5 yet: {n1}"
    );
    cluster.heal();

    let expected: Vec<u64> = (0..50).collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    for node in nodes {
        loop {
            let reply = cluster.call(node, json!({"type": "read"}));
            let mut messages: Vec<u64> =
                serde_json::from_value(reply["body"]["messages"].clone()).unwrap();
            messages.sort_unstable();
            if messages == expected {
                break;
            }
            assert!(Instant::now() < deadline, "{node} still has only {messages:?} after the heal");
            cluster.pump(Instant::now() + Duration::from_millis(100), None);
        }
    }
}
