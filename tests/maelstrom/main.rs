//! `concord maelstrom <workload>` end to end, through a tiny stand-in for Maelstrom: the test
//! spawns the nodes, routes every message between them (dropping those across a partition),
//! plays the clients (`c1`, `c2`, ...) and the services `lin-kv` and `seq-kv`
//! (support/maelstrom_services.rs). It can also delay every node-to-node message by a fixed
//! latency and counts node-to-node messages, as Maelstrom's `--latency` and net stats do.
//!
//! Like Maelstrom, a client gives up on a request after [`MAELSTROM_CLIENT_TIMEOUT`] (and
//! Jepsen then closes it); a node that answers a request after that is **silenced**: Maelstrom's
//! network refuses a message to a closed client by failing an assertion in the thread that
//! reads that node's stdout, which then reads nothing more. The harness drops everything such a
//! node writes from then on, so the node's final reads fail, as they do under Maelstrom.

mod broadcast_latency;
mod g_counter;
mod lin_kv;
mod read_committed;
#[path = "../support/mod.rs"]
mod support;
mod txn_rw_register;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::maelstrom_services as services;

/// A tiny deterministic generator (xorshift64), shared by the workload tests, so that a
/// failing run's mix of operations can be replayed (timing aside).
struct Random(u64);

impl Random {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

/// How long any one reply may take before the test fails.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long Maelstrom's clients wait for a reply (`maelstrom.client/default-timeout`).
const MAELSTROM_CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

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
    lin_kv: services::LinearizableKv,
    seq_kv: services::SequentialKv,
    /// Requests each service received, by service name.
    service_requests: HashMap<String, u64>,
    /// When each client request was sent, by msg_id, to tell a late reply.
    client_sent: HashMap<u64, Instant>,
    /// Nodes Maelstrom would have stopped reading, with why: everything they write is dropped.
    silenced: BTreeMap<String, String>,
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
            lin_kv: services::LinearizableKv::default(),
            seq_kv: services::SequentialKv::default(),
            service_requests: HashMap::new(),
            client_sent: HashMap::new(),
            silenced: BTreeMap::new(),
        };
        let node_ids: Vec<String> = (1..=count).map(|number| format!("n{number}")).collect();
        for node_id in &node_ids {
            let mut child = support::process::concord()
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
        self.pump_until(deadline, |replies| msg_id.is_some_and(|id| replies.contains_key(&id)))
    }

    /// Routes messages until `deadline`, or until `done` holds of the client replies kept.
    fn pump_until(&mut self, deadline: Instant, done: impl Fn(&HashMap<u64, Value>) -> bool) {
        while !done(&self.replies) {
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
        let dest = message["dest"].as_str().expect("messages have a dest");
        let src = message["src"].as_str().expect("messages have a src").to_string();
        if self.silenced.contains_key(&src) {
            return;
        }
        if dest.starts_with('c') {
            let in_reply_to =
                message["body"]["in_reply_to"].as_u64().expect("client replies have in_reply_to");
            let waited = self.client_sent.remove(&in_reply_to).map(|sent| sent.elapsed());
            if waited.is_some_and(|waited| waited > MAELSTROM_CLIENT_TIMEOUT) {
                let why = format!(
                    "it answered {dest}'s request {in_reply_to} after {waited:?}, when Maelstrom's \
                     client had given up and been closed: {message}"
                );
                self.silenced.insert(src, why);
                return;
            }
            self.replies.insert(in_reply_to, message);
            return;
        }
        if dest == "lin-kv" || dest == "seq-kv" {
            self.serve(&message);
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

    /// Answers a node's request to a service, unless a partition drops it or the answer.
    fn serve(&mut self, request: &Value) {
        let (node, service) = (request["src"].as_str().unwrap(), request["dest"].as_str().unwrap());
        if self.partitioned.contains(&(node.to_string(), service.to_string())) {
            return;
        }
        *self.service_requests.entry(service.to_string()).or_default() += 1;
        let mut body = match service {
            "lin-kv" => self.lin_kv.handle(&request["body"]),
            _ => self.seq_kv.handle(node, &request["body"]),
        };
        body["in_reply_to"] = request["body"]["msg_id"].clone();
        self.deliver(&json!({"src": service, "dest": node, "body": body}));
    }

    /// How many requests `service` has received so far.
    fn requests_to(&self, service: &str) -> u64 {
        self.service_requests.get(service).copied().unwrap_or(0)
    }

    /// Sends a client request to `node` without waiting; returns its msg_id.
    fn send(&mut self, node: &str, body: Value) -> u64 {
        self.send_as("c1", node, body)
    }

    /// Sends a request from client `client` to `node` without waiting; returns its msg_id
    /// (unique across clients, so replies are filed by it alone).
    fn send_as(&mut self, client: &str, node: &str, mut body: Value) -> u64 {
        let msg_id = self.next_msg_id;
        self.next_msg_id += 1;
        body["msg_id"] = msg_id.into();
        self.client_sent.insert(msg_id, Instant::now());
        self.deliver(&json!({"src": client, "dest": node, "body": body}));
        msg_id
    }

    /// Routes messages until every request in `msg_ids` has its reply; returns the replies in
    /// the same order.
    fn await_replies(&mut self, msg_ids: &[u64]) -> Vec<Value> {
        let deadline = Instant::now() + REPLY_TIMEOUT;
        msg_ids
            .iter()
            .map(|msg_id| {
                self.pump(deadline, Some(*msg_id));
                self.replies.remove(msg_id).unwrap_or_else(|| {
                    panic!(
                        "request {msg_id} got no reply in {REPLY_TIMEOUT:?}; silenced: {:?}",
                        self.silenced
                    )
                })
            })
            .collect()
    }

    /// Sends a client request and routes messages until its reply comes.
    fn call(&mut self, node: &str, body: Value) -> Value {
        let msg_id = self.send(node, body.clone());
        self.pump(Instant::now() + REPLY_TIMEOUT, Some(msg_id));
        self.replies.remove(&msg_id).unwrap_or_else(|| {
            panic!(
                "no reply from {node} to {body} in {REPLY_TIMEOUT:?}; silenced nodes: {:?}",
                self.silenced
            )
        })
    }

    /// Fails the test if Maelstrom would have stopped reading some node.
    fn assert_none_silenced(&self) {
        assert!(self.silenced.is_empty(), "Maelstrom would stop reading: {:?}", self.silenced);
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

/// Every node's read of the counter, one read each.
fn counter_reads(cluster: &mut Cluster, nodes: &[&str]) -> Vec<u64> {
    nodes
        .iter()
        .map(|node| {
            let reply = cluster.call(node, json!({"type": "read"}));
            assert_eq!(reply["body"]["type"], "read_ok", "{node} answers reads: {reply}");
            reply["body"]["value"].as_u64().expect("the value is an integer")
        })
        .collect()
}

#[test]
fn g_counter_final_reads_equal_every_acknowledged_add_after_a_partition_heals() {
    let nodes = ["n1", "n2", "n3"];
    let mut cluster = Cluster::start("g-counter", nodes.len());
    let mut expected = 0;
    let adds: Vec<u64> = (1..=30u64)
        .map(|delta| {
            expected += delta;
            cluster.send(nodes[delta as usize % 3], json!({"type": "add", "delta": delta}))
        })
        .collect();
    for reply in cluster.await_replies(&adds) {
        assert_eq!(reply["body"]["type"], "add_ok", "{reply}");
    }

    // Cut n1 off from seq-kv: its adds cannot be stored, so they must not be acknowledged yet.
    cluster.partition("n1", "seq-kv");
    let cut_off: Vec<u64> = (0..10)
        .map(|_| cluster.send_as("c2", "n1", json!({"type": "add", "delta": 100})))
        .collect();
    let reachable: Vec<u64> = (0..10)
        .map(|index| cluster.send(nodes[1 + index % 2], json!({"type": "add", "delta": 1000})))
        .collect();
    expected += 10 * 100 + 10 * 1000;
    cluster.await_replies(&reachable);
    // Give n1's flush time to be dropped and time out at least once.
    cluster.pump(Instant::now() + Duration::from_millis(1_500), None);
    for msg_id in &cut_off {
        assert!(
            !cluster.replies.contains_key(msg_id),
            "n1 acknowledged an add seq-kv never stored: {:?}",
            cluster.replies[msg_id]
        );
    }

    cluster.heal();
    for reply in cluster.await_replies(&cut_off) {
        assert_eq!(reply["body"]["type"], "add_ok", "n1's adds are stored after the heal: {reply}");
    }
    // Every add is acknowledged, so every one is in seq-kv: a single read per node must see all.
    let reads = counter_reads(&mut cluster, &nodes);
    assert_eq!(reads, vec![expected; 3], "final reads on n1, n2, n3");
}

/// Sends `count` messages, spread over `clients` on `nodes` and over `keys`, all at once;
/// returns per key the acknowledged `(offset, msg)` pairs.
fn kafka_sends(
    cluster: &mut Cluster,
    nodes: &[&str],
    keys: &[&str],
    count: u64,
) -> BTreeMap<String, Vec<(u64, u64)>> {
    let clients = ["c1", "c2", "c3", "c4"];
    let requests: Vec<(String, u64, u64)> = (0..count)
        .map(|msg| {
            let (client, node) = (clients[msg as usize % 4], nodes[msg as usize % nodes.len()]);
            let key = keys[msg as usize / 4 % keys.len()];
            let body = json!({"type": "send", "key": key, "msg": msg});
            (key.to_string(), msg, cluster.send_as(client, node, body))
        })
        .collect();
    let msg_ids: Vec<u64> = requests.iter().map(|(_, _, msg_id)| *msg_id).collect();
    let replies = cluster.await_replies(&msg_ids);
    let mut acknowledged: BTreeMap<String, Vec<(u64, u64)>> = BTreeMap::new();
    for ((key, msg, _), reply) in requests.into_iter().zip(replies) {
        assert_eq!(reply["body"]["type"], "send_ok", "{reply}");
        let offset = reply["body"]["offset"].as_u64().expect("offsets are integers");
        acknowledged.entry(key).or_default().push((offset, msg));
    }
    acknowledged
}

/// Everything `node` returns for `key`, polling from 0 page by page until a poll is empty.
fn kafka_poll_all(cluster: &mut Cluster, node: &str, key: &str) -> Vec<(u64, u64)> {
    let mut seen: Vec<(u64, u64)> = Vec::new();
    loop {
        let from = seen.last().map_or(0, |(offset, _)| offset + 1);
        let reply = cluster.call(node, json!({"type": "poll", "offsets": {key: from}}));
        assert_eq!(reply["body"]["type"], "poll_ok", "{reply}");
        let Some(pairs) = reply["body"]["msgs"].get(key) else { return seen };
        let pairs: Vec<(u64, u64)> = serde_json::from_value(pairs.clone()).unwrap();
        if pairs.is_empty() {
            return seen;
        }
        assert!(pairs[0].0 >= from, "{node} returned offset {} below the {from} asked", pairs[0].0);
        seen.extend(pairs);
    }
}

/// Checks Maelstrom's kafka properties on `nodes`, and prints the lin-kv requests per operation.
fn check_kafka(nodes: &[&str]) {
    let keys = ["k1", "k2", "k3"];
    let mut cluster = Cluster::start("kafka", nodes.len());
    let before = cluster.requests_to("lin-kv");
    let sends = 120;
    let acknowledged = kafka_sends(&mut cluster, nodes, &keys, sends);
    let per_send = (cluster.requests_to("lin-kv") - before) as f64 / sends as f64;

    let before = cluster.requests_to("lin-kv");
    let mut polls = 0;
    for (key, mut expected) in acknowledged {
        let mut offsets: Vec<u64> = expected.iter().map(|(offset, _)| *offset).collect();
        offsets.sort_unstable();
        offsets.dedup();
        assert_eq!(
            offsets.len(),
            expected.len(),
            "two sends to {key} got one offset: {expected:?}"
        );
        expected.sort_unstable();
        for node in nodes {
            let seen = kafka_poll_all(&mut cluster, node, &key);
            polls += seen.len().div_ceil(100) + 1;
            assert!(
                seen.windows(2).all(|pair| pair[0].0 < pair[1].0),
                "{key} out of order on {node}"
            );
            let acknowledged_seen: Vec<(u64, u64)> =
                seen.iter().copied().filter(|pair| expected.contains(pair)).collect();
            assert_eq!(acknowledged_seen, expected, "{node} lost or changed sends to {key}");
        }
    }
    let per_poll = (cluster.requests_to("lin-kv") - before) as f64 / polls as f64;

    let before = cluster.requests_to("lin-kv");
    let commits: Vec<u64> = (0..12u64)
        .map(|index| {
            let (node, client) =
                (nodes[index as usize % nodes.len()], ["c1", "c2"][index as usize % 2]);
            let offsets = json!({"k1": index, "k2": 11 - index});
            cluster.send_as(client, node, json!({"type": "commit_offsets", "offsets": offsets}))
        })
        .collect();
    for reply in cluster.await_replies(&commits) {
        assert_eq!(reply["body"]["type"], "commit_offsets_ok", "{reply}");
    }
    let per_commit = (cluster.requests_to("lin-kv") - before) as f64 / commits.len() as f64;

    // The same commits without contention: one node, one at a time, each above the last.
    let before = cluster.requests_to("lin-kv");
    for offset in 20..30u64 {
        let offsets = json!({"k1": offset, "k2": offset});
        let reply = cluster.call(nodes[0], json!({"type": "commit_offsets", "offsets": offsets}));
        assert_eq!(reply["body"]["type"], "commit_offsets_ok", "{reply}");
    }
    let per_quiet_commit = (cluster.requests_to("lin-kv") - before) as f64 / 10.0;

    let before = cluster.requests_to("lin-kv");
    for node in nodes {
        let list = json!({"type": "list_committed_offsets", "keys": ["k1", "k2", "k3"]});
        let reply = cluster.call(node, list);
        assert_eq!(
            reply["body"]["offsets"],
            json!({"k1": 29, "k2": 29}),
            "{node}: committed offsets are the highest committed, and k3 has none"
        );
    }
    let per_list = (cluster.requests_to("lin-kv") - before) as f64 / nodes.len() as f64;
    eprintln!(
        "kafka on {} node(s): lin-kv requests per send {per_send:.2}, per poll {per_poll:.2}, \
         per commit of 2 keys {per_quiet_commit:.2} alone and {per_commit:.2} when 12 race, \
         per list of 3 keys {per_list:.2}",
        nodes.len()
    );
}

#[test]
fn kafka_on_one_node_keeps_every_acknowledged_send_in_order_and_commits_monotonic() {
    check_kafka(&["n1"]);
}

#[test]
fn kafka_on_two_nodes_keeps_every_acknowledged_send_in_order_and_commits_monotonic() {
    check_kafka(&["n1", "n2"]);
}

#[test]
fn seq_kv_serves_a_reader_its_last_state_until_it_writes() {
    let mut service = services::SequentialKv::default();
    let write = |value: u64| json!({"type": "write", "key": "x", "value": value});
    let read = json!({"type": "read", "key": "x"});
    assert_eq!(service.handle("n1", &write(1))["type"], "write_ok");
    assert_eq!(service.handle("n2", &read)["code"], 20, "n2 has seen only the empty store");
    assert_eq!(service.handle("n1", &read)["value"], 1, "a client reads its own writes");
    service.handle("n2", &json!({"type": "write", "key": "y", "value": 1}));
    assert_eq!(service.handle("n2", &read)["value"], 1, "a write moves n2 to the newest state");
}
