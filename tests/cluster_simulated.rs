//! Clusters of real nodes in one process, on a network the test controls.
//!
//! Each node is a full [`Node`] (write-ahead log, openraft, state machine, commit pipeline,
//! read rounds) started on a [`SimulatedTransport`] instead of TCP. The network can cut a link
//! in either direction, drop a share of the messages and delay the rest; a nemesis changes
//! those settings on a schedule drawn from a seeded generator, while clients write and read
//! through every node and record what they did. At the end the network heals, every node is
//! read, and the whole history must be linearizable and hold every acknowledged write.
//!
//! Seeds: each test prints its seed; `CONCORD_SIMULATION_SEED=<n>` replays the same fault
//! schedule and the same client choices. Tokio's scheduling is not deterministic, so a replay
//! repeats the faults, not every interleaving; failures found this way are still far easier to
//! reproduce than with real processes.

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use concord::command::Command;
use concord::config::Config;
use concord::node::{Node, NodeError};
use concord::raft::peer::{
    BoxFuture, CallError, PeerHandler, PeerRequest, PeerResponse, Transport,
};
use concord::raft::NodeId;
use concord::resp::Frame;
use concord::state_machine::{execute_read, WriteRequest};
use support::linearizability::{check, Call, History, Outcome};

/// A small deterministic generator (xorshift64*), so that a seed replays a schedule.
#[derive(Clone, Debug)]
struct Generator(u64);

impl Generator {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

/// What the network does now.
struct NetworkState {
    handlers: HashMap<NodeId, PeerHandler>,
    /// Directed links that deliver nothing.
    cut: HashSet<(NodeId, NodeId)>,
    /// Messages dropped, per thousand.
    drop_per_mille: u64,
    delay_ms_max: u64,
    generator: Generator,
}

#[derive(Clone)]
struct SimulatedNetwork {
    state: Arc<Mutex<NetworkState>>,
}

impl SimulatedNetwork {
    fn new(seed: u64) -> SimulatedNetwork {
        SimulatedNetwork {
            state: Arc::new(Mutex::new(NetworkState {
                handlers: HashMap::new(),
                cut: HashSet::new(),
                drop_per_mille: 0,
                delay_ms_max: 0,
                generator: Generator(seed | 1),
            })),
        }
    }

    /// Whether a message from `from` to `to` arrives, and after how long.
    fn decide(&self, from: NodeId, to: NodeId) -> (bool, Duration) {
        let mut state = self.state.lock().unwrap();
        let dropped =
            state.cut.contains(&(from, to)) || state.generator.below(1000) < state.drop_per_mille;
        let delay_ms_max = state.delay_ms_max;
        let delay = Duration::from_millis(state.generator.below(delay_ms_max + 1));
        (!dropped, delay)
    }

    fn isolate(&self, node: NodeId, nodes: &[NodeId]) {
        let mut state = self.state.lock().unwrap();
        for other in nodes.iter().filter(|other| **other != node) {
            state.cut.insert((node, *other));
            state.cut.insert((*other, node));
        }
    }

    fn heal(&self) {
        let mut state = self.state.lock().unwrap();
        state.cut.clear();
        state.drop_per_mille = 0;
        state.delay_ms_max = 0;
    }
}

/// One node's side of the simulated network.
struct SimulatedTransport {
    from: NodeId,
    network: SimulatedNetwork,
}

impl Transport for SimulatedTransport {
    fn call(
        &self,
        target: NodeId,
        request: PeerRequest,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<PeerResponse, CallError>> {
        let network = self.network.clone();
        let from = self.from;
        Box::pin(async move {
            let handler = network.state.lock().unwrap().handlers.get(&target).cloned();
            let Some(handler) = handler else {
                return Err(CallError::Unreachable { target, reason: "not started".into() });
            };
            let exchange = async {
                let (delivered, delay) = network.decide(from, target);
                tokio::time::sleep(delay).await;
                if !delivered {
                    return std::future::pending().await;
                }
                let response = handler.handle(request).await;
                let (returned, delay) = network.decide(target, from);
                tokio::time::sleep(delay).await;
                if !returned {
                    return std::future::pending().await;
                }
                response
            };
            tokio::time::timeout(timeout, exchange)
                .await
                .map_err(|_| CallError::Lost { target, reason: "dropped".into() })
        })
    }
}

fn parse(arguments: &[&str]) -> Command {
    let arguments = arguments.iter().map(|argument| Bytes::copy_from_slice(argument.as_bytes()));
    concord::command::parse(arguments.collect()).unwrap().command.unwrap()
}

async fn set(node: &Node, key: &str, value: &str) -> Result<Vec<Frame>, NodeError> {
    let Command::Write(write) = parse(&["SET", key, value]) else { unreachable!() };
    node.write(vec![WriteRequest { db: 0, write }]).await
}

async fn get(node: &Node, key: &str) -> Result<Option<String>, NodeError> {
    let view = node.read_view().await?;
    let Command::Read(read) = parse(&["GET", key]) else { unreachable!() };
    match execute_read(&view.view.keyspace, 0, view.now_ms, &read) {
        Frame::Bulk(value) => Ok(Some(String::from_utf8(value.to_vec()).unwrap())),
        Frame::Null => Ok(None),
        other => panic!("GET answered {other:?}"),
    }
}

struct SimulatedCluster {
    network: SimulatedNetwork,
    nodes: Vec<Node>,
    ids: Vec<NodeId>,
    _directories: Vec<tempfile::TempDir>,
}

impl SimulatedCluster {
    async fn start(count: u64, seed: u64) -> SimulatedCluster {
        let network = SimulatedNetwork::new(seed);
        let ids: Vec<NodeId> = (1..=count).collect();
        let peers = ids.iter().map(|id| (*id, format!("simulated-{id}:1"))).collect();
        let mut nodes = Vec::new();
        let mut directories = Vec::new();
        for id in &ids {
            let directory = support::temp_dir("simulated");
            let config = Config {
                node_id: *id,
                peers: std::collections::BTreeMap::clone(&peers),
                data_dir: directory.path().to_path_buf(),
                leader_wait_ms: 1_000,
                commit_wait_ms: 2_000,
                ..Config::default()
            };
            config.validate().unwrap();
            let transport = Arc::new(SimulatedTransport { from: *id, network: network.clone() });
            let node = Node::start_with_transport(&config, transport, None).await.unwrap();
            network.state.lock().unwrap().handlers.insert(*id, node.peer_handler());
            nodes.push(node);
            directories.push(directory);
        }
        SimulatedCluster { network, nodes, ids, _directories: directories }
    }

    fn leader(&self) -> Option<NodeId> {
        self.nodes.iter().find(|node| node.leader() == Some(node.id())).map(Node::id)
    }

    async fn stop(self) {
        for node in &self.nodes {
            node.shutdown().await;
        }
    }
}

fn seed() -> u64 {
    let seed = std::env::var("CONCORD_SIMULATION_SEED")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
                as u64
        });
    eprintln!("seed: CONCORD_SIMULATION_SEED={seed}");
    seed
}

/// Clients write unique values and read, on random nodes and keys, until `stop` is set.
async fn run_client(
    client: u64,
    nodes: Vec<Node>,
    history: History,
    mut generator: Generator,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> u64 {
    let mut acknowledged = 0;
    let mut sequence = 0;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let node = &nodes[generator.below(nodes.len() as u64) as usize];
        let key = format!("key-{}", generator.below(4));
        if generator.below(2) == 0 {
            sequence += 1;
            let value = format!("{client}-{sequence}");
            let pending = history.invoke(client, key.clone(), Call::Write(value.clone()));
            match set(node, &key, &value).await {
                Ok(_) => {
                    acknowledged += 1;
                    pending.complete(Outcome::Written)
                }
                Err(NodeError::OutcomeUnknown(_) | NodeError::StorageFailed(_)) => {
                    pending.complete(Outcome::Unknown)
                }
                Err(_) => pending.discard(),
            }
        } else {
            let pending = history.invoke(client, key.clone(), Call::Read);
            match get(node, &key).await {
                Ok(value) => pending.complete(Outcome::Read(value)),
                Err(_) => pending.discard(),
            }
        }
    }
    acknowledged
}

/// Runs clients against `cluster` while `nemesis` breaks the network, then heals, reads every
/// key on every node and checks the history.
async fn run_scenario(
    cluster: SimulatedCluster,
    seed: u64,
    rounds: usize,
    nemesis: fn(&SimulatedCluster, &mut Generator),
) {
    let history = History::new();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut generator = Generator(seed ^ 0x9e37_79b9_7f4a_7c15 | 1);
    let clients: Vec<_> = (0..6)
        .map(|client| {
            let generator = Generator(generator.next() | 1);
            tokio::spawn(run_client(
                client,
                cluster.nodes.clone(),
                history.clone(),
                generator,
                Arc::clone(&stop),
            ))
        })
        .collect();
    for _ in 0..rounds {
        nemesis(&cluster, &mut generator);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    cluster.network.heal();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut acknowledged = 0;
    for client in clients {
        acknowledged += client.await.unwrap();
    }
    assert!(acknowledged > 0, "no write was acknowledged at all (seed {seed})");
    // Every node must serve every key with a value the history allows.
    for (index, node) in cluster.nodes.iter().enumerate() {
        for key in 0..4 {
            let key = format!("key-{key}");
            let pending = history.invoke(100 + index as u64, key.clone(), Call::Read);
            let value = get(node, &key).await.unwrap_or_else(|error| {
                panic!("node {} cannot read after the heal: {error} (seed {seed})", index + 1)
            });
            pending.complete(Outcome::Read(value));
        }
    }
    let operations = history.operations();
    match check(&operations) {
        Ok(report) => eprintln!("linearizable: {report:?}, {acknowledged} writes acknowledged"),
        Err(error) => panic!("seed {seed}: {error}"),
    }
    cluster.stop().await;
}

/// Each round: heal, then isolate a random node, or the leader, or make every link lossy and
/// slow.
fn partitions_and_lossy_links(cluster: &SimulatedCluster, generator: &mut Generator) {
    cluster.network.heal();
    match generator.below(4) {
        0 => {
            let node = cluster.ids[generator.below(cluster.ids.len() as u64) as usize];
            cluster.network.isolate(node, &cluster.ids);
        }
        1 => {
            if let Some(leader) = cluster.leader() {
                cluster.network.isolate(leader, &cluster.ids);
            }
        }
        2 => {
            let mut state = cluster.network.state.lock().unwrap();
            state.drop_per_mille = 100;
            state.delay_ms_max = 20;
        }
        _ => {}
    }
}

/// Each round: heal, then cut one direction of a few random links.
fn one_way_links(cluster: &SimulatedCluster, generator: &mut Generator) {
    cluster.network.heal();
    let mut state = cluster.network.state.lock().unwrap();
    for _ in 0..2 {
        let from = cluster.ids[generator.below(cluster.ids.len() as u64) as usize];
        let to = cluster.ids[generator.below(cluster.ids.len() as u64) as usize];
        if from != to {
            state.cut.insert((from, to));
        }
    }
}

/// Each round: heal, then split five nodes into two halves that share one node (a bridge),
/// or isolate the leader.
fn bridges(cluster: &SimulatedCluster, generator: &mut Generator) {
    cluster.network.heal();
    if generator.below(2) == 0 {
        let bridge = 1 + generator.below(5);
        let others: Vec<NodeId> = cluster.ids.iter().copied().filter(|id| *id != bridge).collect();
        let (left, right) = others.split_at(2);
        let mut state = cluster.network.state.lock().unwrap();
        for a in left {
            for b in right {
                state.cut.insert((*a, *b));
                state.cut.insert((*b, *a));
            }
        }
    } else if let Some(leader) = cluster.leader() {
        cluster.network.isolate(leader, &cluster.ids);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_through_partitions_and_lossy_links_stay_linearizable() {
    let seed = seed();
    let cluster = SimulatedCluster::start(3, seed).await;
    run_scenario(cluster, seed, 12, partitions_and_lossy_links).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_through_one_way_links_stay_linearizable() {
    let seed = seed();
    let cluster = SimulatedCluster::start(3, seed).await;
    run_scenario(cluster, seed, 10, one_way_links).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_nodes_through_bridges_and_an_isolated_leader_stay_linearizable() {
    let seed = seed();
    let cluster = SimulatedCluster::start(5, seed).await;
    run_scenario(cluster, seed, 10, bridges).await;
}
