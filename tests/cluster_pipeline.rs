//! Per-connection order on every member: long pipelines sent to the nodes of a real 3-node
//! cluster (two of which are followers at any moment) while the leader is killed, partitioned
//! away or paused.
//!
//! Redis runs a connection's commands in the order they were sent, and so must every Concord
//! member: a GET pipelined after a SET on the same connection sees the SET, also when the node
//! forwards the write to the leader and confirms the read through a read round, inside
//! MULTI/EXEC, and around a blocking pop in the pipeline.
//!
//! Each client keeps one connection and sends pipelines of 50 to 200 commands at once, mixing:
//! - SET and GET of 64 shared keys with unique values, recorded in a `linearizability`
//!   history with the pipeline's interval (sent .. last reply received), since the server may
//!   run them at any moment in between;
//! - SET/GET of a string, INCR of a counter and RPUSH/BLPOP of a list that only this
//!   connection touches, checked against the connection's own order: a GET shows the last SET
//!   before it, an INCR answers one more than the previous, a BLPOP after an RPUSH takes the
//!   element at once, and a BLPOP (100 ms timeout) on the empty list, before the RPUSH that
//!   fills it, times out, since the RPUSH runs only after it;
//! - MULTI, a SET, an INCR, a GET and a shared-key SET, EXEC.
//!
//! A reply saying "not applied" leaves the connection's model as it was. Any other error to a
//! write, and a connection that failed, leave the outcome unknown: such a write may still be
//! applied later (a forwarded request stuck behind a partition), so the client moves on to a
//! fresh set of its own keys instead of guessing.
//!
//! Run: `cargo test --release --test cluster_pipeline -- --nocapture`.
//! `CONCORD_CLUSTER_SOAK_SECONDS` and `CONCORD_CLUSTER_SEED` work as in `tests/cluster.rs`.

mod support;

use std::collections::VecDeque;
use std::io::Write as _;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use support::cluster::workload::{load_duration, seed, Random};
use support::cluster::{Cluster, NodeId};
use support::linearizability::{check, write_history, Call, History, Outcome, Pending};
use support::reply::{Outcome as ReadOutcome, ReplyReader, Value};

/// How many shared keys there are: few enough that clients contend, enough that each key's
/// history (whose operations all begin when their pipeline is sent, so overlap widely) stays
/// small enough for the checker to decide.
const SHARED_KEY_COUNT: u64 = 64;

/// The longest wait for any one reply: longer than a node's own waits for a leader (2 s)
/// several times over, since a pipeline's reads each wait for a read round.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// The load of one scenario when `CONCORD_CLUSTER_SOAK_SECONDS` is not set.
const DEFAULT_LOAD: Duration = Duration::from_secs(6);

/// Commands in one pipeline.
const PIPELINE_COMMANDS_MIN: u64 = 50;
const PIPELINE_COMMANDS_MAX: u64 = 200;

/// What one command's reply must be, given the connection's own order.
#[derive(Clone, Debug)]
enum Expect {
    /// A shared-key operation, checked by the linearizability checker.
    Shared(SharedOperation),
    Ok,
    /// The own string's value, or `None` if unknown.
    OwnValue(Option<Option<String>>),
    /// INCR of the own counter: the value expected, or `None` if unknown.
    Counter(Option<i64>),
    /// RPUSH of the own list: its length after the push, if known.
    Pushed(Option<i64>),
    /// BLPOP of the own list: the element expected (`Some(None)`: the timeout), if known.
    Popped(Option<Option<String>>),
    Queued,
    /// EXEC of `MULTI; SET own; INCR counter; GET own; SET shared`.
    Exec {
        value: String,
        counter: Option<i64>,
        shared: usize,
    },
}

/// A shared-key operation of the pipeline, by its index among the pipeline's shared ones.
#[derive(Clone, Debug)]
enum SharedOperation {
    Write(usize),
    Read(usize),
}

/// The connection's own keys and what they hold, as far as the connection knows.
struct Own {
    generation: u64,
    value: Option<Option<String>>,
    counter: Option<i64>,
    list: Option<VecDeque<String>>,
}

impl Own {
    fn fresh(generation: u64) -> Own {
        Own { generation, value: Some(None), counter: Some(0), list: Some(VecDeque::new()) }
    }
}

/// One built pipeline: the bytes, what each reply must be, and the shared-key operations.
struct Pipeline {
    bytes: Vec<u8>,
    expected: Vec<Expect>,
    shared: Vec<(String, Call)>,
    /// The model after every command succeeded as expected.
    own_after: Own,
}

fn encode(arguments: &[&str], bytes: &mut Vec<u8>) {
    bytes.extend_from_slice(format!("*{}\r\n", arguments.len()).as_bytes());
    for argument in arguments {
        bytes.extend_from_slice(format!("${}\r\n{argument}\r\n", argument.len()).as_bytes());
    }
}

struct Client {
    id: u64,
    port: u16,
    random: Random,
    history: History,
    violations: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    sequence: u64,
    own: Own,
    tally: Tally,
}

#[derive(Clone, Copy, Debug, Default)]
struct Tally {
    pipelines_answered: u64,
    commands_answered: u64,
    errors: u64,
    connections_lost: u64,
}

impl Client {
    fn key(&self, suffix: &str) -> String {
        format!("own{}-g{}-{suffix}", self.id, self.own.generation)
    }

    fn next_value(&mut self) -> String {
        self.sequence += 1;
        format!("c{}-{}", self.id, self.sequence)
    }

    /// A random pipeline, with what each reply must be if every command succeeds.
    fn build(&mut self) -> Pipeline {
        let count = PIPELINE_COMMANDS_MIN
            + self.random.below(PIPELINE_COMMANDS_MAX - PIPELINE_COMMANDS_MIN + 1);
        let mut pipeline = Pipeline {
            bytes: Vec::new(),
            expected: Vec::new(),
            shared: Vec::new(),
            own_after: Own {
                generation: self.own.generation,
                value: self.own.value.clone(),
                counter: self.own.counter,
                list: self.own.list.clone(),
            },
        };
        let (string, counter, list) = (self.key("s"), self.key("n"), self.key("l"));
        while (pipeline.expected.len() as u64) < count {
            let model = &mut pipeline.own_after;
            match self.random.below(10) {
                0 | 1 => {
                    let key = self.shared_key();
                    let value = self.next_value();
                    encode(&["SET", &key, &value], &mut pipeline.bytes);
                    let index = pipeline.shared.len();
                    pipeline.shared.push((key, Call::Write(value)));
                    pipeline.expected.push(Expect::Shared(SharedOperation::Write(index)));
                }
                2 | 3 => {
                    let key = self.shared_key();
                    encode(&["GET", &key], &mut pipeline.bytes);
                    let index = pipeline.shared.len();
                    pipeline.shared.push((key, Call::Read));
                    pipeline.expected.push(Expect::Shared(SharedOperation::Read(index)));
                }
                4 => {
                    let value = self.next_value();
                    encode(&["SET", &string, &value], &mut pipeline.bytes);
                    pipeline.own_after.value = Some(Some(value));
                    pipeline.expected.push(Expect::Ok);
                }
                5 => {
                    encode(&["GET", &string], &mut pipeline.bytes);
                    pipeline.expected.push(Expect::OwnValue(model.value.clone()));
                }
                6 => {
                    encode(&["INCR", &counter], &mut pipeline.bytes);
                    model.counter = model.counter.map(|counter| counter + 1);
                    pipeline.expected.push(Expect::Counter(model.counter));
                }
                7 => {
                    // A push, then a pop that the push has filled: taken at once.
                    let element = self.next_value();
                    encode(&["RPUSH", &list, &element], &mut pipeline.bytes);
                    let length = model.list.as_mut().map(|list| {
                        list.push_back(element);
                        list.len() as i64
                    });
                    pipeline.expected.push(Expect::Pushed(length));
                    encode(&["BLPOP", &list, "0.1"], &mut pipeline.bytes);
                    let popped = model.list.as_mut().map(|list| list.pop_front());
                    pipeline.expected.push(Expect::Popped(popped));
                }
                8 => {
                    // A pop of the empty list before the push that fills it: it times out,
                    // since the push runs only after it.
                    if model.list.as_ref().is_some_and(|list| list.is_empty()) {
                        encode(&["BLPOP", &list, "0.1"], &mut pipeline.bytes);
                        pipeline.expected.push(Expect::Popped(Some(None)));
                    }
                    let element = self.next_value();
                    encode(&["RPUSH", &list, &element], &mut pipeline.bytes);
                    let length = model.list.as_mut().map(|list| {
                        list.push_back(element);
                        list.len() as i64
                    });
                    pipeline.expected.push(Expect::Pushed(length));
                }
                _ => self.build_transaction(&mut pipeline, &string, &counter),
            }
        }
        pipeline
    }

    /// One of the shared keys, at random.
    fn shared_key(&mut self) -> String {
        format!("p{}", self.random.below(SHARED_KEY_COUNT))
    }

    fn build_transaction(&mut self, pipeline: &mut Pipeline, string: &str, counter: &str) {
        let value = self.next_value();
        let shared_value = self.next_value();
        let shared_key = self.shared_key();
        encode(&["MULTI"], &mut pipeline.bytes);
        encode(&["SET", string, &value], &mut pipeline.bytes);
        encode(&["INCR", counter], &mut pipeline.bytes);
        encode(&["GET", string], &mut pipeline.bytes);
        encode(&["SET", &shared_key, &shared_value], &mut pipeline.bytes);
        encode(&["EXEC"], &mut pipeline.bytes);
        let model = &mut pipeline.own_after;
        model.value = Some(Some(value.clone()));
        model.counter = model.counter.map(|counter| counter + 1);
        let shared = pipeline.shared.len();
        pipeline.shared.push((shared_key, Call::Write(shared_value)));
        pipeline.expected.push(Expect::Ok);
        pipeline.expected.extend([Expect::Queued, Expect::Queued, Expect::Queued, Expect::Queued]);
        pipeline.expected.push(Expect::Exec { value, counter: model.counter, shared });
    }

    /// Sends pipelines on one connection until stopped; a fresh connection (and fresh own
    /// keys) after a failed one.
    fn run(mut self) -> Tally {
        let mut connection: Option<(TcpStream, ReplyReader)> = None;
        while !self.stop.load(Ordering::Relaxed) {
            if connection.is_none() {
                match TcpStream::connect(("127.0.0.1", self.port)) {
                    Ok(stream) => {
                        stream.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
                        stream.set_write_timeout(Some(REPLY_TIMEOUT)).unwrap();
                        connection = Some((stream, ReplyReader::new()));
                    }
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(50));
                        continue;
                    }
                }
            }
            let (stream, reader) = connection.as_mut().expect("connected above");
            if !self.send_pipeline(stream, reader) {
                connection = None;
                self.tally.connections_lost += 1;
                self.own = Own::fresh(self.own.generation + 1);
            }
        }
        self.tally
    }

    /// Sends one pipeline and checks its replies; `false` if the connection failed.
    fn send_pipeline(&mut self, stream: &mut TcpStream, reader: &mut ReplyReader) -> bool {
        let pipeline = self.build();
        let pending: Vec<Pending> = pipeline
            .shared
            .iter()
            .map(|(key, call)| self.history.invoke(self.id, key.as_str(), call.clone()))
            .collect();
        if stream.write_all(&pipeline.bytes).is_err() {
            return false;
        }
        // Each reply is judged as it arrives, so a shared operation's interval ends at its own
        // reply rather than the pipeline's last: the intervals of one pipeline then overlap
        // little, and the per-key search stays small enough to decide.
        let mut pending: Vec<Option<Pending>> = pending.into_iter().map(Some).collect();
        let mut replies = Vec::with_capacity(pipeline.expected.len());
        // The expectations assume every command succeeds; after the first failed command on
        // the connection's own keys they no longer hold, and the rest is not checked.
        let mut own_valid = true;
        for (position, expect) in pipeline.expected.iter().enumerate() {
            let reply = match reader.read(stream) {
                ReadOutcome::Reply(reply) => reply.value,
                // Every pending shared operation left is dropped, so recorded as Unknown.
                ReadOutcome::Closed | ReadOutcome::Failed(_) => return false,
            };
            let verdict = self.judge(expect, &reply, own_valid, &mut pending);
            replies.push(reply);
            match verdict {
                Verdict::Fine => {}
                Verdict::Failed => own_valid &= matches!(expect, Expect::Shared(_)),
                Verdict::Wrong(why) => self.violations.lock().unwrap().push(format!(
                    "client {} on port {}, command {position} of {}: {why}; replies so far: \
                     {:?}",
                    self.id,
                    self.port,
                    pipeline.expected.len(),
                    &replies[..=position]
                )),
            }
        }
        self.tally.pipelines_answered += 1;
        self.tally.commands_answered += replies.len() as u64;
        self.own = if own_valid {
            pipeline.own_after
        } else {
            // A failed write of its own may still be applied later (outcome unknown): start
            // over on keys nobody touched.
            Own::fresh(self.own.generation + 1)
        };
        true
    }

    /// Whether `reply` is what `expect` allows (own-key expectations only while `own_valid`),
    /// recording the shared-key outcomes.
    fn judge(
        &mut self,
        expect: &Expect,
        reply: &Value,
        own_valid: bool,
        pending: &mut [Option<Pending>],
    ) -> Verdict {
        let mut take = |index: usize| pending[index].take().expect("each operation completes once");
        if let Value::Error(text) = reply {
            self.tally.errors += 1;
            let not_applied = String::from_utf8_lossy(text).contains("not applied");
            let shared_write = match expect {
                Expect::Shared(SharedOperation::Read(index)) => {
                    take(*index).discard();
                    None
                }
                Expect::Shared(SharedOperation::Write(index)) => Some(*index),
                Expect::Exec { shared, .. } => Some(*shared),
                _ => None,
            };
            if let Some(index) = shared_write {
                match not_applied {
                    true => take(index).discard(),
                    false => take(index).complete(Outcome::Unknown),
                }
            }
            return Verdict::Failed;
        }
        let ok = Value::Simple(b"OK".to_vec());
        match expect {
            Expect::Shared(SharedOperation::Write(index)) => {
                take(*index).complete(Outcome::Written);
                is(reply == &ok, "a SET answered", reply)
            }
            Expect::Shared(SharedOperation::Read(index)) => {
                let Some(value) = bulk(reply) else {
                    return Verdict::Wrong(format!("a GET answered {reply:?}"));
                };
                take(*index).complete(Outcome::Read(value));
                Verdict::Fine
            }
            Expect::Exec { value, counter, shared } => {
                let Value::Array(Some(elements)) = reply else {
                    take(*shared).complete(Outcome::Unknown);
                    return Verdict::Wrong(format!("EXEC answered {reply:?}"));
                };
                let values: Vec<&Value> = elements.iter().map(|element| &element.value).collect();
                let shared_written = values.get(3) == Some(&&ok);
                take(*shared).complete(if shared_written {
                    Outcome::Written
                } else {
                    Outcome::Unknown
                });
                let expected_counter = counter.filter(|_| own_valid).map(Value::Integer);
                let fine = values.len() == 4
                    && values[0] == &ok
                    && expected_counter.as_ref().is_none_or(|counter| values[1] == counter)
                    && bulk(values[2]) == Some(Some(value.clone()))
                    && shared_written;
                is(fine, &format!("EXEC (SET {value:?}, INCR to {counter:?}) answered"), reply)
            }
            _ if !own_valid => Verdict::Fine,
            Expect::Ok => is(reply == &ok, "expected OK", reply),
            Expect::Queued => is(reply == &Value::Simple(b"QUEUED".to_vec()), "not QUEUED", reply),
            Expect::OwnValue(expected) => match (expected, bulk(reply)) {
                (Some(expected), Some(actual)) if *expected != actual => Verdict::Wrong(format!(
                    "GET of its own key answered {actual:?} after it set {expected:?}"
                )),
                (_, None) => Verdict::Wrong(format!("GET answered {reply:?}")),
                _ => Verdict::Fine,
            },
            Expect::Counter(expected) => integer_is(*expected, reply, "INCR of its own counter"),
            Expect::Pushed(expected) => integer_is(*expected, reply, "RPUSH to its own list"),
            Expect::Popped(expected) => {
                let actual = match reply {
                    Value::Array(None) | Value::Null => None,
                    Value::Array(Some(elements)) if elements.len() == 2 => {
                        bulk(&elements[1].value).flatten()
                    }
                    _ => return Verdict::Wrong(format!("BLPOP answered {reply:?}")),
                };
                match expected {
                    Some(expected) if *expected != actual => Verdict::Wrong(format!(
                        "BLPOP of its own list answered {actual:?}, its own order says \
                         {expected:?}"
                    )),
                    _ => Verdict::Fine,
                }
            }
        }
    }
}

enum Verdict {
    Fine,
    /// An error reply: the command may or may not have happened.
    Failed,
    Wrong(String),
}

fn is(fine: bool, what: &str, reply: &Value) -> Verdict {
    if fine {
        Verdict::Fine
    } else {
        Verdict::Wrong(format!("{what} {reply:?}"))
    }
}

fn integer_is(expected: Option<i64>, reply: &Value, what: &str) -> Verdict {
    match (expected, reply) {
        (Some(expected), Value::Integer(actual)) if expected != *actual => {
            Verdict::Wrong(format!("{what} answered {actual}, its own order says {expected}"))
        }
        (_, Value::Integer(_)) => Verdict::Fine,
        _ => Verdict::Wrong(format!("{what} answered {reply:?}")),
    }
}

/// A bulk string reply as text (`Some(None)` for nil), or `None` for any other kind.
fn bulk(reply: &Value) -> Option<Option<String>> {
    match reply {
        Value::Bulk(value) => {
            Some(value.as_ref().map(|bytes| String::from_utf8_lossy(bytes).to_string()))
        }
        Value::Null => Some(None),
        _ => None,
    }
}

/// Clients on every member, and what they found.
struct Load {
    history: History,
    violations: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    clients: Vec<JoinHandle<Tally>>,
}

impl Load {
    fn start(cluster: &Cluster, clients_per_node: u64, seed: u64) -> Load {
        let history = History::new();
        let violations: Arc<Mutex<Vec<String>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let mut clients = Vec::new();
        for (index, (_, port)) in cluster.client_ports().into_iter().enumerate() {
            for copy in 0..clients_per_node {
                let id = index as u64 * clients_per_node + copy;
                let client = Client {
                    id,
                    port,
                    random: Random::new(seed ^ (id + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
                    history: history.clone(),
                    violations: Arc::clone(&violations),
                    stop: Arc::clone(&stop),
                    sequence: 0,
                    own: Own::fresh(0),
                    tally: Tally::default(),
                };
                clients.push(std::thread::spawn(move || client.run()));
            }
        }
        Load { history, violations, stop, clients }
    }

    fn stop(&mut self) -> Tally {
        self.stop.store(true, Ordering::Relaxed);
        let mut tally = Tally::default();
        for client in self.clients.drain(..) {
            let client = client.join().expect("a client thread never panics");
            tally.pipelines_answered += client.pipelines_answered;
            tally.commands_answered += client.commands_answered;
            tally.errors += client.errors;
            tally.connections_lost += client.connections_lost;
        }
        tally
    }
}

/// Stops the load, requires every connection's replies to follow its own order, and checks
/// the shared keys' history (written out next to the nodes' logs when the check fails).
fn finish(scenario: &str, seed: u64, cluster: &mut Cluster, mut load: Load) {
    let tally = load.stop();
    cluster.heal();
    let violations = load.violations.lock().unwrap().clone();
    assert!(
        violations.is_empty(),
        "{scenario} (seed {seed}): {} replies broke their connection's order ({tally:?}); the \
         first ones:\n{}\nlogs in {:?}",
        violations.len(),
        violations.iter().take(5).cloned().collect::<Vec<_>>().join("\n"),
        cluster.directory()
    );
    let operations = load.history.operations();
    match check(&operations) {
        Ok(report) => println!("{scenario} (seed {seed}): {tally:?}; {report:?}"),
        Err(error) => {
            let path = cluster.directory().join("history.txt");
            write_history(&path, &operations, 3);
            panic!(
                "{scenario} (seed {seed}): the shared keys' history failed its check \
                 ({tally:?}): {error:?}\nthe whole history is in {path:?}"
            )
        }
    }
    assert!(
        tally.pipelines_answered > 0,
        "{scenario}: no pipeline was answered, nothing was checked: {tally:?}"
    );
}

/// Runs `fault` round after round while the load lasts; at least one round.
fn repeat_faults(mut fault: impl FnMut()) {
    let deadline = Instant::now() + load_duration(DEFAULT_LOAD);
    let mut first = true;
    while first || Instant::now() < deadline {
        fault();
        first = false;
    }
}

fn sleep_between(random: &mut Random, minimum_ms: u64, maximum_ms: u64) {
    let spread = maximum_ms - minimum_ms + 1;
    std::thread::sleep(Duration::from_millis(minimum_ms + random.below(spread)));
}

/// The followers of `leader`.
fn followers(cluster: &Cluster, leader: NodeId) -> Vec<NodeId> {
    cluster.ids().into_iter().filter(|id| *id != leader).collect()
}

/// No faults at all: the order must hold on followers in the plain case first.
#[test]
fn pipelines_on_followers_run_in_the_order_sent() {
    let mut cluster = Cluster::start("pipeline-calm", 3, &[]);
    let seed = seed();
    let load = Load::start(&cluster, 2, seed);
    std::thread::sleep(load_duration(Duration::from_secs(3)));
    finish("pipeline-calm", seed, &mut cluster, load);
}

/// The leader is killed, cut off or frozen, round after round, while pipelines run.
#[test]
fn pipelines_on_followers_keep_their_order_through_leader_kills_partitions_and_pauses() {
    let mut cluster = Cluster::start("pipeline-faults", 3, &[]);
    let seed = seed();
    let load = Load::start(&cluster, 2, seed);
    let mut random = Random::new(seed);
    repeat_faults(|| {
        sleep_between(&mut random, 300, 800);
        let leader = cluster.wait_for_leader();
        match random.below(3) {
            0 => {
                cluster.kill(leader);
                sleep_between(&mut random, 300, 900);
                cluster.restart(leader);
            }
            1 => {
                let others = followers(&cluster, leader);
                cluster.network.partition(&[&[leader], &others]);
                sleep_between(&mut random, 500, 1500);
                cluster.network.heal();
            }
            _ => {
                cluster.pause(leader);
                sleep_between(&mut random, 300, 1200);
                cluster.resume(leader);
            }
        }
    });
    finish("pipeline-faults", seed, &mut cluster, load);
}
