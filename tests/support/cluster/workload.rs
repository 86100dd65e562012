//! The cluster tests' clients and their verdict: threads doing SET and GET of a few keys with
//! unique values against every node, every operation recorded in a [`History`], and the final
//! check that heals the cluster, reads every key on every node and runs the linearizability
//! checker over everything.
//!
//! How replies are recorded (see the checker's module doc):
//! - `OK` to a SET is [`Outcome::Written`]; a GET's value is [`Outcome::Read`].
//! - An error saying "the command was not applied" means the write definitely did not happen:
//!   the operation is discarded. Any other error to a SET (outcome unknown, shutting down), a
//!   timeout and a lost connection are [`Outcome::Unknown`].
//! - A failed GET changes nothing and tells nothing, so it is discarded.
//! - A client reconnects after any error that was not a server reply: a timed-out connection
//!   may still deliver the late reply, which would answer the next request.
//!
//! The final reads are recorded in the same history, as reads by one client per node, after
//! the load stopped and every fault was healed: a lost acknowledged write then shows up as a
//! read the checker cannot place, and a node that never catches up as a read that never
//! succeeds within [`WAIT_MAX`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::super::linearizability::{check, write_history, Call, History, Outcome};
use super::{connect, Cluster, NodeId, WAIT_MAX};

/// Keys the clients share: few, so that clients contend and stale reads are visible.
const KEYS: [&str; 4] = ["k0", "k1", "k2", "k3"];

/// A client's connect, read and write timeout: longer than the nodes' leader and commit waits
/// (2 s each), so a node usually answers with its own error before the client gives up.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(3);

/// The pause after a failed connection attempt, so a dead node is not dialed in a hot loop.
const RECONNECT_PAUSE: Duration = Duration::from_millis(50);

/// Final reads are recorded as clients with ids from here up, one per node.
const FINAL_READER_BASE: u64 = 1_000;

/// What the clients were told, summed over all of them.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tally {
    pub writes_acknowledged: u64,
    pub reads_answered: u64,
    pub outcomes_unknown: u64,
    pub not_applied: u64,
    pub reads_failed: u64,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.writes_acknowledged += other.writes_acknowledged;
        self.reads_answered += other.reads_answered;
        self.outcomes_unknown += other.outcomes_unknown;
        self.not_applied += other.not_applied;
        self.reads_failed += other.reads_failed;
    }
}

/// Clients running against a cluster.
pub struct Workload {
    history: History,
    stop: Arc<AtomicBool>,
    clients: Vec<JoinHandle<Tally>>,
    pub seed: u64,
}

impl Workload {
    /// Starts `clients_per_node` clients on each node of `ports`.
    pub fn start(ports: &[(NodeId, u16)], clients_per_node: u64, seed: u64) -> Workload {
        let history = History::new();
        let stop = Arc::new(AtomicBool::new(false));
        let mut clients = Vec::new();
        for (index, (_, port)) in ports.iter().enumerate() {
            for copy in 0..clients_per_node {
                let client = index as u64 * clients_per_node + copy;
                let (history, stop, port) = (history.clone(), Arc::clone(&stop), *port);
                let seed = seed ^ (client + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                clients.push(std::thread::spawn(move || {
                    run_client(client, port, seed, &history, &stop)
                }));
            }
        }
        Workload { history, stop, clients, seed }
    }

    /// Stops the clients and waits for each one's last request to end.
    fn stop(&mut self) -> Tally {
        self.stop.store(true, Ordering::Relaxed);
        let mut tally = Tally::default();
        for client in self.clients.drain(..) {
            tally.add(client.join().expect("a client thread never panics"));
        }
        tally
    }
}

impl Drop for Workload {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A small, seeded generator: the same seed gives the same choices of key, kind and pause.
pub struct Random(u64);

impl Random {
    pub fn new(seed: u64) -> Random {
        Random(seed | 1)
    }

    pub fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

/// One client: random SETs and GETs until `stop`, on its own connection to `port`.
fn run_client(client: u64, port: u16, seed: u64, history: &History, stop: &AtomicBool) -> Tally {
    let mut random = Random::new(seed);
    let mut tally = Tally::default();
    let mut connection = None;
    let mut sequence = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let Some(open) = connection.as_mut() else {
            match connect(port, CLIENT_TIMEOUT) {
                Ok(opened) => connection = Some(opened),
                Err(_) => std::thread::sleep(RECONNECT_PAUSE),
            }
            continue;
        };
        let key = KEYS[random.below(KEYS.len() as u64) as usize];
        let keep = if random.below(2) == 0 {
            sequence += 1;
            let value = format!("c{client}-{sequence}");
            let pending = history.invoke(client, key, Call::Write(value.clone()));
            match redis::cmd("SET").arg(key).arg(&value).query::<String>(open) {
                Ok(reply) => {
                    assert_eq!(reply, "OK", "SET answered something else");
                    pending.complete(Outcome::Written);
                    tally.writes_acknowledged += 1;
                    true
                }
                Err(error) if error.to_string().contains("the command was not applied") => {
                    pending.discard();
                    tally.not_applied += 1;
                    true
                }
                Err(error) => {
                    pending.complete(Outcome::Unknown);
                    tally.outcomes_unknown += 1;
                    error.code().is_some()
                }
            }
        } else {
            let pending = history.invoke(client, key, Call::Read);
            match redis::cmd("GET").arg(key).query::<Option<String>>(open) {
                Ok(value) => {
                    pending.complete(Outcome::Read(value));
                    tally.reads_answered += 1;
                    true
                }
                Err(error) => {
                    pending.discard();
                    tally.reads_failed += 1;
                    error.code().is_some()
                }
            }
        };
        if !keep {
            connection = None;
        }
    }
    tally
}

/// Ends the scenario: stops the clients, heals every fault, reads every key on every member,
/// requires the members to agree, and checks the whole history. Panics with the checker's
/// report (and where the node logs are) on any violation.
pub fn check_after_heal(scenario: &str, cluster: &mut Cluster, mut workload: Workload) {
    let tally = workload.stop();
    cluster.heal();
    let finals = read_everything_everywhere(cluster, &workload.history);
    for key in KEYS {
        let values: BTreeMap<NodeId, &Option<String>> =
            finals.iter().map(|(id, values)| (*id, &values[key])).collect();
        let first = values.values().next().expect("the cluster has members");
        assert!(
            values.values().all(|value| value == first),
            "{scenario} (seed {}): after the heal the members disagree on {key}: {values:?}; \
             logs in {:?}",
            workload.seed,
            cluster.directory()
        );
    }
    let operations = workload.history.operations();
    match check(&operations) {
        Ok(report) => println!("{scenario} (seed {}): {tally:?}; {report:?}", workload.seed),
        Err(error) => {
            let path = cluster.directory().join("history.txt");
            write_history(&path, &operations, 3);
            panic!(
                "{scenario} (seed {}): the history is not linearizable ({tally:?}):{error:?}\n\
                 the whole history is in {path:?}, the node logs beside it",
                workload.seed
            )
        }
    }
    assert!(
        tally.writes_acknowledged > 0 && tally.reads_answered > 0,
        "{scenario}: the clients got too few answers to check anything: {tally:?}"
    );
}

/// Every key's value on every member, each read recorded in `history`; retries a member
/// until it answers, for at most [`WAIT_MAX`].
fn read_everything_everywhere(
    cluster: &Cluster,
    history: &History,
) -> BTreeMap<NodeId, BTreeMap<&'static str, Option<String>>> {
    let mut finals = BTreeMap::new();
    for (id, port) in cluster.client_ports() {
        let deadline = Instant::now() + WAIT_MAX;
        let mut values = BTreeMap::new();
        for key in KEYS {
            let mut last_error = None;
            loop {
                assert!(
                    Instant::now() < deadline,
                    "node {id} did not serve a read of {key} within {WAIT_MAX:?} after the heal \
                     (last error: {last_error:?}); logs in {:?}",
                    cluster.directory()
                );
                let Ok(mut connection) = connect(port, CLIENT_TIMEOUT) else {
                    std::thread::sleep(RECONNECT_PAUSE);
                    continue;
                };
                let pending = history.invoke(FINAL_READER_BASE + id, key, Call::Read);
                match redis::cmd("GET").arg(key).query::<Option<String>>(&mut connection) {
                    Ok(value) => {
                        pending.complete(Outcome::Read(value.clone()));
                        values.insert(key, value);
                        break;
                    }
                    Err(error) => {
                        pending.discard();
                        last_error = Some(error.to_string());
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            }
        }
        finals.insert(id, values);
    }
    finals
}

/// How long the load runs in each scenario: `CONCORD_CLUSTER_SOAK_SECONDS`, or `default`.
pub fn load_duration(default: Duration) -> Duration {
    std::env::var("CONCORD_CLUSTER_SOAK_SECONDS")
        .ok()
        .and_then(|seconds| seconds.parse().ok())
        .map_or(default, Duration::from_secs)
}

/// The scenario's seed: `CONCORD_CLUSTER_SEED`, or one drawn from the clock (printed with
/// every result, so a run can be repeated with the same choices).
pub fn seed() -> u64 {
    std::env::var("CONCORD_CLUSTER_SEED").ok().and_then(|seed| seed.parse().ok()).unwrap_or_else(
        || {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
            now.as_nanos() as u64 ^ u64::from(std::process::id())
        },
    )
}
