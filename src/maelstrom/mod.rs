//! `concord maelstrom <workload>`: a node for Jepsen's Maelstrom test bench.
//!
//! Maelstrom runs a node as a process and talks to it with JSON messages, one per line: a
//! message is `{"src", "dest", "body"}`, and a body has a `type`, an optional `msg_id` and, on a
//! reply, the `in_reply_to` of the request. The first message is always `init`, which names this
//! node (`node_id`) and every node (`node_ids`); it is answered with `init_ok`. Failures are
//! answered with an `error` body whose `code` is one of Maelstrom's (see [`ErrorCode`]).
//!
//! This module owns the driving loop and the wire format; each workload is a [`Workload`]: a
//! plain state machine that is handed a request (or a timer tick) with the current time and
//! returns the messages to send. The loop's contract:
//!
//! 1. A reader thread turns stdin lines into a bounded channel; end of input ends the node.
//! 2. Before `init`, every request is answered with `temporarily-unavailable` (11).
//! 3. A request whose `type` the workload does not know gets `not-supported` (10); one that lacks
//!    a field the workload needs gets `malformed-request` (12). The node goes on either way.
//! 4. Every [`Config::tick_interval_ms`] the workload is ticked (gossip, retries).
//! 5. Every outgoing body without a `msg_id` gets a fresh one; a body that already has one keeps
//!    it. stdout carries messages only, and each line is flushed whole. Logs go to stderr.
//! 6. A reply to a client request older than [`waits::CLIENT_REPLY_DEADLINE_MS`] is dropped,
//!    not written: Maelstrom's client gave up on it, and a message to a closed client makes
//!    Maelstrom stop reading this node for good. Requests sent to services and peers are
//!    tracked until answered, and those long unanswered are logged at most once a second
//!    ([`waits`]).
//!
//! Ids for requests: a workload that sends a request and must match its reply (a call to a
//! Maelstrom service such as `seq-kv` or `lin-kv`, or to a peer) takes an id from
//! [`fresh_msg_id`] and puts it in the body itself, then keeps the call in a table keyed by that
//! id until a message with the same `in_reply_to` arrives through [`Workload::handle`]. The loop
//! draws its own ids from the same process-wide counter, so no two messages of this node share an
//! id and the [`Outgoing`] shape stays the same for every workload.
//!
//! Workloads: `echo`, `unique-ids` ([`unique_ids`]) and `broadcast` ([`broadcast`]); `g-counter`
//! ([`g_counter`], on `seq-kv`), `kafka` ([`kafka`], logs owned per key, commits in `lin-kv`)
//! and `txn-rw-register` ([`txn_rw_register`]). `lin-kv` ([`lin_kv`]) is the exception: it
//! runs Concord's own Raft node, with Raft messages carried over Maelstrom's network
//! ([`raft_transport`]), on an asynchronous driver of its own.
//!
//! Caveats: nothing is durable (Maelstrom's workloads here do not crash nodes), and a line that
//! is not JSON is logged and skipped, since there is no `msg_id` to answer.

pub mod broadcast;
pub mod echo;
pub mod g_counter;
pub mod kafka;
pub mod kv;
pub mod lin_kv;
pub mod raft_transport;
pub mod txn_rw_register;
pub mod unique_ids;
pub mod waits;

use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::error::{Error, Result};

/// A message body: a JSON object with at least a `type`.
pub type Body = Map<String, Value>;

/// One message on the wire.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Message {
    /// The sender's node or client name (`n1`, `c3`).
    pub src: String,
    /// The recipient's name.
    pub dest: String,
    /// The message's body.
    pub body: Body,
}

impl Message {
    /// The body's `type`, or "" when absent (which no workload handles).
    pub fn kind(&self) -> &str {
        self.body.get("type").and_then(Value::as_str).unwrap_or("")
    }

    /// The body's `msg_id`, if it has one.
    pub fn msg_id(&self) -> Option<u64> {
        self.body.get("msg_id").and_then(Value::as_u64)
    }

    /// The body's `in_reply_to`, if it has one.
    pub fn in_reply_to(&self) -> Option<u64> {
        self.body.get("in_reply_to").and_then(Value::as_u64)
    }

    /// A field of the body, or a `malformed-request` error naming it.
    pub fn field(&self, name: &str) -> Result<&Value, WorkloadError> {
        self.body.get(name).ok_or_else(|| {
            WorkloadError::new(ErrorCode::MalformedRequest, format!("missing field {name:?}"))
        })
    }
}

/// A message a workload wants sent; the loop adds `src` and a fresh `msg_id`.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// The recipient's name.
    pub dest: String,
    /// The body, without `msg_id`.
    pub body: Body,
}

impl Outgoing {
    /// A reply to `request`: `body` plus `in_reply_to`, sent back to the request's source.
    pub fn reply(request: &Message, body: Value) -> Outgoing {
        let mut body = match body {
            Value::Object(map) => map,
            other => panic!("a reply body is a JSON object, got {other}"),
        };
        if let Some(msg_id) = request.msg_id() {
            body.insert("in_reply_to".into(), msg_id.into());
        }
        Outgoing { dest: request.src.clone(), body }
    }
}

/// Maelstrom's error codes (doc/protocol.md, "Errors"); those this node can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The request timed out; it may or may not have happened. Indefinite.
    Timeout = 0,
    /// The request type is not implemented by this workload. Definite.
    NotSupported = 10,
    /// The node cannot serve the request now (e.g. before `init`). Definite.
    TemporarilyUnavailable = 11,
    /// The request lacks a field or has one of the wrong shape. Definite.
    MalformedRequest = 12,
    /// The node failed in a way that may have left the operation half done. Indefinite.
    Crash = 13,
    /// The operation was aborted and did not happen. Definite.
    Abort = 14,
    /// The key the operation needs does not exist. Definite.
    KeyDoesNotExist = 20,
    /// A compare-and-set found another value than the expected one. Definite.
    PreconditionFailed = 22,
}

/// A request a workload refuses: answered with an `error` body, and the node goes on.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadError {
    /// Maelstrom's error code, which says whether the request may have taken effect.
    pub code: ErrorCode,
    /// A human-readable explanation.
    pub text: String,
}

impl WorkloadError {
    /// An error with `code` and `text`.
    pub fn new(code: ErrorCode, text: impl Into<String>) -> WorkloadError {
        WorkloadError { code, text: text.into() }
    }

    /// The `error` reply to `request`.
    pub fn reply_to(&self, request: &Message) -> Outgoing {
        Outgoing::reply(
            request,
            json!({"type": "error", "code": self.code as u64, "text": self.text}),
        )
    }
}

/// One Maelstrom workload: a state machine the loop feeds with requests and ticks.
pub trait Workload {
    /// Takes this node's id and every node's id (the same list, in the same order, on every
    /// node). Called once, before any request.
    fn init(&mut self, node_id: &str, node_ids: &[String]) -> Result<(), WorkloadError>;

    /// Handles one message (a client request or a peer's message) at `now_ms`.
    fn handle(&mut self, message: &Message, now_ms: u64) -> Result<Vec<Outgoing>, WorkloadError>;

    /// Called every [`Config::tick_interval_ms`]; returns the messages timers want sent.
    fn tick(&mut self, _now_ms: u64) -> Vec<Outgoing> {
        Vec::new()
    }

    /// The client requests this workload holds while it waits on something, in a few words
    /// for the node's periodic "still waiting" log line ([`waits`]); `None` when it holds none
    /// for long.
    fn waiting_clients(&self, _now_ms: u64) -> Option<String> {
        None
    }
}

/// Options of a Maelstrom node. The defaults suit Maelstrom's usual latencies (tens of ms).
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// How often workloads are ticked: gossip batches leave at most this often. Default 100.
    pub tick_interval_ms: u64,
    /// How long a gossiped value waits for a neighbour's acknowledgement before it is sent
    /// again. Default 500: a few round trips, so retries rarely duplicate a live ack.
    pub gossip_retry_ms: u64,
    /// Most values in one gossip message; the rest wait for the next tick. Default 1000.
    pub gossip_batch_values_max: usize,
    /// Most input lines waiting between the stdin reader and the loop. Default 1024.
    pub inbox_lines_max: usize,
    /// Most registers a `txn-rw-register` node creates itself; a transaction that would create
    /// more is refused with `abort`. Default 1,000,000.
    pub txn_keys_max: usize,
    /// Broadcast gossips along its own tree with this many children per node (a star for up to
    /// `fanout + 1` nodes); 0 follows Maelstrom's `topology` instead. Default 32.
    pub broadcast_tree_fanout: usize,
    /// `lin-kv`: how often the Raft leader sends heartbeats. Default 300. openraft 0.9 also
    /// uses this interval as the deadline of every AppendEntries call (replication/mod.rs:
    /// `timeout(heartbeat_interval, append_entries(..))`), so it must exceed a round trip
    /// with room to spare: at Maelstrom's `--latency 50` a round trip is 100 ms before any
    /// queueing, and with the former 100 nearly every append timed out, so commits, heartbeats
    /// and read rounds failed and elections followed (about 20 of 200 operations a second
    /// served). 300 covers round trips up to `--latency 100` with margin.
    pub raft_heartbeat_interval_ms: u64,
    /// `lin-kv`: the Raft election timeout range. Default 1500 to 3000 (Concord's own is 150 to
    /// 300): five heartbeats at least, so that a slow round trip or a busy machine does not
    /// depose a healthy leader (each change makes writes in flight indefinite); a partition
    /// costs two to three seconds of availability on the majority side.
    pub raft_election_timeout_min_ms: u64,
    /// See `raft_election_timeout_min_ms`.
    pub raft_election_timeout_max_ms: u64,
    /// `lin-kv`: how long a request waits for a leader, and a write for its commit, before it
    /// is answered (11 without a leader, `timeout` without a commit). Default 1000: well
    /// below Maelstrom's client timeout, so that clients get an answer instead of timing out
    /// (a request that finds no leader during an election is refused with 11, definite).
    pub request_wait_ms: u64,
    /// `lin-kv`: where each node makes its data directory (`concord-maelstrom-<node>-<pid>`).
    /// Default: the system's temporary directory; `CONCORD_MAELSTROM_DATA_DIR` overrides it
    /// (the in-repo tests point it at a directory they remove, since they kill their nodes).
    pub data_root: std::path::PathBuf,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            tick_interval_ms: 100,
            gossip_retry_ms: 500,
            gossip_batch_values_max: 1000,
            inbox_lines_max: 1024,
            txn_keys_max: 1_000_000,
            broadcast_tree_fanout: 32,
            raft_heartbeat_interval_ms: 300,
            raft_election_timeout_min_ms: 1500,
            raft_election_timeout_max_ms: 3000,
            request_wait_ms: 1000,
            data_root: std::env::temp_dir(),
        }
    }
}

impl Config {
    /// The defaults, overridden by environment variables, since Maelstrom starts nodes without
    /// arguments: `CONCORD_MAELSTROM_TICK_MS` ([`Config::tick_interval_ms`]),
    /// `CONCORD_BROADCAST_RETRY_MS` ([`Config::gossip_retry_ms`]),
    /// `CONCORD_BROADCAST_FANOUT` ([`Config::broadcast_tree_fanout`]) and
    /// `CONCORD_MAELSTROM_DATA_DIR` ([`Config::data_root`]).
    pub fn from_environment() -> Result<Config> {
        let mut config = Config::default();
        let overrides: [(&str, &mut dyn FnMut(u64)); 3] = [
            ("CONCORD_MAELSTROM_TICK_MS", &mut |value| config.tick_interval_ms = value),
            ("CONCORD_BROADCAST_RETRY_MS", &mut |value| config.gossip_retry_ms = value),
            ("CONCORD_BROADCAST_FANOUT", &mut |value| {
                config.broadcast_tree_fanout = usize::try_from(value).unwrap_or(usize::MAX)
            }),
        ];
        for (name, set) in overrides {
            let Ok(text) = std::env::var(name) else { continue };
            let value = text.trim().parse::<u64>().map_err(|_| {
                Error::Config(format!("{name} must be a non-negative integer, got {text:?}"))
            })?;
            set(value);
        }
        if let Some(root) = std::env::var_os("CONCORD_MAELSTROM_DATA_DIR") {
            config.data_root = root.into();
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks every bound once, at start-up.
    pub fn validate(&self) -> Result<()> {
        let checks = [
            (self.tick_interval_ms == 0, "tick_interval_ms must be at least 1"),
            (self.gossip_retry_ms == 0, "gossip_retry_ms must be at least 1"),
            (self.gossip_batch_values_max == 0, "gossip_batch_values_max must be at least 1"),
            (self.inbox_lines_max == 0, "inbox_lines_max must be at least 1"),
            (self.txn_keys_max == 0, "txn_keys_max must be at least 1"),
            (self.request_wait_ms == 0, "request_wait_ms must be at least 1"),
            (
                self.raft_heartbeat_interval_ms == 0
                    || self.raft_election_timeout_min_ms <= self.raft_heartbeat_interval_ms
                    || self.raft_election_timeout_max_ms <= self.raft_election_timeout_min_ms,
                "raft timings must satisfy 0 < heartbeat < election timeout min < max",
            ),
        ];
        match checks.iter().find(|(failed, _)| *failed) {
            Some((_, text)) => Err(Error::Config((*text).into())),
            None => Ok(()),
        }
    }
}

/// The workload named on the command line.
pub fn workload(name: &str, config: &Config) -> Result<Box<dyn Workload>> {
    match name {
        "echo" => Ok(Box::new(echo::Echo)),
        "unique-ids" => Ok(Box::new(unique_ids::UniqueIds::default())),
        "broadcast" => Ok(Box::new(broadcast::Broadcast::new(config.clone()))),
        "g-counter" => Ok(Box::new(g_counter::GrowOnlyCounter::default())),
        "kafka" => Ok(Box::new(kafka::Kafka::default())),
        "txn-rw-register" => Ok(Box::new(txn_rw_register::TxnRwRegister::new(config.clone()))),
        other => Err(Error::Config(format!(
            "unknown maelstrom workload {other:?}: expected echo, unique-ids, broadcast, \
             g-counter, kafka, txn-rw-register or lin-kv"
        ))),
    }
}

/// Runs workload `name` on stdin/stdout until stdin ends.
pub fn run(name: &str, config: Config) -> Result<()> {
    config.validate()?;
    // lin-kv runs Concord's node, which is asynchronous: it drives the process itself.
    if name == "lin-kv" {
        return lin_kv::run(&config);
    }
    let mut node = Node {
        workload: workload(name, &config)?,
        node_id: None,
        provisional_src: String::new(),
        outstanding: waits::OutstandingRequests::default(),
        deadlines: waits::ClientDeadlines::default(),
    };
    let (sender, inbox) = mpsc::sync_channel::<String>(config.inbox_lines_max);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let tick_interval = Duration::from_millis(config.tick_interval_ms);
    let mut next_tick = Instant::now() + tick_interval;
    let mut stdout = std::io::stdout().lock();
    loop {
        let wait = next_tick.saturating_duration_since(Instant::now());
        let outgoing = match inbox.recv_timeout(wait) {
            Ok(line) => node.receive(&line),
            Err(mpsc::RecvTimeoutError::Timeout) => Vec::new(),
            Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
        };
        node.send(&mut stdout, outgoing)?;
        if Instant::now() >= next_tick {
            next_tick = Instant::now() + tick_interval;
            let now = now_ms();
            let outgoing = match node.node_id {
                Some(_) => node.workload.tick(now),
                None => Vec::new(),
            };
            node.outstanding.report(now, node.workload.waiting_clients(now));
            node.send(&mut stdout, outgoing)?;
        }
    }
}

/// Milliseconds since the Unix epoch by the wall clock (0 if the clock is before it).
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis() as u64)
}

/// The next `msg_id` this process hands out; see [`fresh_msg_id`].
static NEXT_MSG_ID: AtomicU64 = AtomicU64::new(1);

/// A `msg_id` no other message of this process has: the loop stamps one on every body that
/// lacks it, and a workload takes one for a request whose reply it must recognise. One node runs
/// per process, so a process-wide counter is the node's counter.
pub fn fresh_msg_id() -> u64 {
    NEXT_MSG_ID.fetch_add(1, Ordering::Relaxed)
}

/// The loop's state around the workload: its identity.
struct Node {
    workload: Box<dyn Workload>,
    node_id: Option<String>,
    /// The `dest` of the last message received before `init`: the `src` of replies until then.
    provisional_src: String,
    /// Requests sent to services and peers and not yet answered, for the "waiting" log.
    outstanding: waits::OutstandingRequests,
    /// When client requests arrived, so that a reply Maelstrom would choke on is held back.
    deadlines: waits::ClientDeadlines,
}

impl Node {
    /// Handles one input line; returns what to send.
    fn receive(&mut self, line: &str) -> Vec<Outgoing> {
        let message: Message = match serde_json::from_str::<Message>(line) {
            Ok(message) => {
                // Before init the node has no id of its own; it answers as the name it was sent to.
                if self.node_id.is_none() {
                    self.provisional_src.clone_from(&message.dest);
                }
                self.outstanding.received(&message, now_ms());
                self.deadlines.arrived(&message, now_ms());
                message
            }
            Err(error) => {
                tracing::warn!(%error, line, "skipping an input line that is not a message");
                return Vec::new();
            }
        };
        let result = match (message.kind(), &self.node_id) {
            ("init", _) => self.init(&message),
            (_, None) => Err(WorkloadError::new(
                ErrorCode::TemporarilyUnavailable,
                "this node has not received init yet",
            )),
            (_, Some(_)) => self.workload.handle(&message, now_ms()),
        };
        result.unwrap_or_else(|error| match message.msg_id() {
            Some(_) => vec![error.reply_to(&message)],
            // An error to a message that is not a request (an unknown reply) has no one to go to.
            None => Vec::new(),
        })
    }

    fn init(&mut self, message: &Message) -> Result<Vec<Outgoing>, WorkloadError> {
        let malformed =
            || WorkloadError::new(ErrorCode::MalformedRequest, "init needs node_id and node_ids");
        let node_id = message.field("node_id")?.as_str().ok_or_else(malformed)?.to_string();
        let node_ids: Vec<String> =
            serde_json::from_value(message.field("node_ids")?.clone()).map_err(|_| malformed())?;
        self.workload.init(&node_id, &node_ids)?;
        tracing::info!(node_id, ?node_ids, "initialised");
        self.node_id = Some(node_id);
        Ok(vec![Outgoing::reply(message, json!({"type": "init_ok"}))])
    }

    /// Writes each message as one flushed line, with `src` and, unless the workload set one
    /// already, a fresh `msg_id`; drops a client reply past its deadline (step 6).
    fn send(&mut self, stdout: &mut impl Write, outgoing: Vec<Outgoing>) -> Result<()> {
        let src = self.node_id.clone().unwrap_or_else(|| self.provisional_src.clone());
        let now = now_ms();
        for outgoing in outgoing {
            if !self.deadlines.may_send(&outgoing, now) {
                continue;
            }
            let Outgoing { dest, mut body } = outgoing;
            body.entry("msg_id").or_insert_with(|| fresh_msg_id().into());
            self.outstanding.sent(&dest, &body, now);
            let message = Message { src: src.clone(), dest, body };
            let line = serde_json::to_string(&message).expect("a JSON map always serialises");
            writeln!(stdout, "{line}")
                .and_then(|()| stdout.flush())
                .map_err(|source| Error::Io { context: "writing to stdout".into(), source })?;
        }
        Ok(())
    }
}
