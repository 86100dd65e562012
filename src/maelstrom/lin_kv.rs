//! `concord maelstrom lin-kv`: Maelstrom's linearizable key-value workload, served by
//! Concord's own node (the commit pipeline, openraft, the state machine), with the nodes'
//! Raft traffic carried as Maelstrom messages ([`super::raft_transport`]).
//!
//! This is a front end like the Redis server: requests become [`Node::write`] and
//! [`Node::read_view`] calls, nothing here knows openraft, and there is no second copy of
//! the state machine. Unlike the other workloads it is asynchronous (the node runs on Tokio),
//! so [`super::run`] hands it the whole process. The driver's contract:
//!
//! 1. A reader thread turns stdin lines into a bounded channel; end of input ends the node.
//!    A writer thread is the only writer of stdout: it takes messages from a bounded channel,
//!    stamps a fresh `msg_id` on bodies without one, and writes each as one whole line. Logs
//!    go to stderr.
//! 2. Before `init` every request gets `temporarily-unavailable` (11). `init` starts the node
//!    (a fresh data directory per process, every node of `node_ids` a Raft voter) and is
//!    answered `init_ok` once it runs.
//! 3. `raft_ok` is handed to the transport's waiting call at once. `raft` requests and client
//!    requests each run on their own task, at most [`PEER_REQUESTS_MAX`] and
//!    [`CLIENT_REQUESTS_MAX`] at once; two separate bounds, so that clients waiting for
//!    commits can never take the room the Raft messages that commit them need. A request
//!    beyond its bound is refused at once with 11 (it was not started): the loop never waits,
//!    since the answers that let running requests finish arrive through it.
//!
//! Keys and values are JSON: each is stored in database 0 as the text `serde_json` writes for
//! it (so `1` and `"1"` are different keys), and a read parses the stored text back.
//!
//! Errors follow Maelstrom's definite/indefinite rule, from the node's own:
//! - `NotLeader`, `Stopped`, `Unavailable`, `Refused`, `DiskFull`: not applied,
//!   `temporarily-unavailable` (11);
//! - `OutcomeUnknown`: may have been applied, `timeout` (0); `StorageFailed`: `crash` (13);
//! - a read that fails changed nothing: always 11.
//!
//! Caveats: the data directory (under [`super::Config::data_root`], named by node and process
//! id) is removed when stdin ends, but not when Maelstrom kills the process; a
//! restarted process starts with an empty directory, which Raft only tolerates for a node
//! removed and added again (Maelstrom's lin-kv runs do not restart nodes).

use std::io::{BufRead, Write as _};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Value};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

use super::raft_transport::{decode_payload, encode_payload, raft_id, MaelstromTransport};
use super::{fresh_msg_id, ErrorCode, Message, Outgoing, WorkloadError};
use crate::command::strings::{SetCommand, SetVariant, StringRead, StringWrite};
use crate::command::{Read, Write};
use crate::config::Config as NodeConfig;
use crate::error::{Error, Result};
use crate::node::{Node, NodeError};
use crate::raft::peer::{PeerHandler, PeerRequest, Transport};
use crate::resp::Frame;
use crate::state_machine::{execute_read, WriteRequest};

/// The most `raft` requests being answered at once; more wait in the inbox.
pub const PEER_REQUESTS_MAX: usize = 1024;

/// The most client requests being served at once; more wait in the inbox.
pub const CLIENT_REQUESTS_MAX: usize = 1024;

/// The most messages waiting for the stdout writer.
pub const OUTBOX_MESSAGES_MAX: usize = 4096;

/// Runs the lin-kv workload on stdin/stdout until stdin ends.
pub fn run(config: &super::Config) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::Io { context: "starting the async runtime".into(), source })?;
    let outcome = runtime.block_on(drive(config));
    // Tasks of a node still running (openraft, the log thread's callbacks) end with the
    // runtime; none of them writes to stdout any more.
    runtime.shutdown_timeout(Duration::from_millis(500));
    outcome
}

/// The loop of the module doc, steps 1 to 3.
async fn drive(config: &super::Config) -> Result<()> {
    let (line_sender, mut lines) = mpsc::channel::<String>(config.inbox_lines_max);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if line_sender.blocking_send(line).is_err() {
                break;
            }
        }
    });
    let (outbox, queued) = mpsc::channel::<Message>(OUTBOX_MESSAGES_MAX);
    let writer = std::thread::spawn(move || write_lines(queued));
    let mut served: Option<LinKv> = None;
    while let Some(line) = lines.recv().await {
        let message = match serde_json::from_str::<Message>(&line) {
            Ok(message) => message,
            Err(error) => {
                tracing::warn!(%error, line, "skipping an input line that is not a message");
                continue;
            }
        };
        match (&served, message.kind()) {
            (None, "init") => match LinKv::start(&message, config, outbox.clone()).await {
                Ok(started) => {
                    let reply = Outgoing::reply(&message, json!({"type": "init_ok"}));
                    started.send(reply).await;
                    served = Some(started);
                }
                Err(error) => send_as(&outbox, &message.dest, error.reply_to(&message)).await,
            },
            (None, _) if message.msg_id().is_some() && message.in_reply_to().is_none() => {
                let error = WorkloadError::new(
                    ErrorCode::TemporarilyUnavailable,
                    "this node has not received init yet",
                );
                send_as(&outbox, &message.dest, error.reply_to(&message)).await;
            }
            (None, _) => {}
            (Some(started), _) => started.dispatch(message).await,
        }
    }
    let data_directory = served.as_ref().map(|started| started.data_directory.clone());
    drop((served, outbox));
    let _ = writer.join();
    if let Some(directory) = data_directory {
        let _ = std::fs::remove_dir_all(directory);
    }
    Ok(())
}

/// Sends `outgoing` with `src` as its source (before init, the name the request was sent to).
async fn send_as(outbox: &mpsc::Sender<Message>, src: &str, outgoing: Outgoing) {
    let message = Message { src: src.to_string(), dest: outgoing.dest, body: outgoing.body };
    // A closed outbox means the writer stopped (stdout closed): nobody can be answered.
    let _ = outbox.send(message).await;
}

/// The stdout writer: one whole line per message, flushed when no other message waits.
fn write_lines(mut queued: mpsc::Receiver<Message>) {
    let mut stdout = std::io::stdout().lock();
    while let Some(mut message) = queued.blocking_recv() {
        message.body.entry("msg_id").or_insert_with(|| fresh_msg_id().into());
        let line = serde_json::to_string(&message).expect("a JSON map always serialises");
        if writeln!(stdout, "{line}").is_err() {
            return;
        }
        if queued.is_empty() && stdout.flush().is_err() {
            return;
        }
    }
}

/// A started lin-kv node.
struct LinKv {
    name: String,
    node: Node,
    transport: Arc<MaelstromTransport>,
    handler: PeerHandler,
    outbox: mpsc::Sender<Message>,
    peer_requests: Arc<Semaphore>,
    client_requests: Arc<Semaphore>,
    data_directory: PathBuf,
}

impl LinKv {
    /// Starts the node `init` names (step 2 of the module doc).
    async fn start(
        init: &Message,
        config: &super::Config,
        outbox: mpsc::Sender<Message>,
    ) -> Result<LinKv, WorkloadError> {
        let malformed =
            || WorkloadError::new(ErrorCode::MalformedRequest, "init needs node_id and node_ids");
        let name = init.field("node_id")?.as_str().ok_or_else(malformed)?.to_string();
        let node_ids: Vec<String> =
            serde_json::from_value(init.field("node_ids")?.clone()).map_err(|_| malformed())?;
        let position = node_ids.iter().position(|id| *id == name).ok_or_else(malformed)?;
        let node_config = node_config(config, position, &node_ids)
            .map_err(|error| WorkloadError::new(ErrorCode::Crash, error.to_string()))?;
        let transport =
            Arc::new(MaelstromTransport::new(name.clone(), node_ids.clone(), outbox.clone()));
        let node = Node::start_with_transport(
            &node_config,
            Arc::clone(&transport) as Arc<dyn Transport>,
            None,
        )
        .await
        .map_err(|error| WorkloadError::new(ErrorCode::Crash, error.to_string()))?;
        tracing::info!(name, raft_id = node_config.node_id, ?node_ids, "lin-kv node started");
        Ok(LinKv {
            name,
            handler: node.peer_handler(),
            node,
            transport,
            outbox,
            peer_requests: Arc::new(Semaphore::new(PEER_REQUESTS_MAX)),
            client_requests: Arc::new(Semaphore::new(CLIENT_REQUESTS_MAX)),
            data_directory: node_config.data_dir,
        })
    }

    /// Step 3 of the module doc: answers `raft_ok` at once, runs everything else on a task.
    async fn dispatch(&self, message: Message) {
        match message.kind() {
            "raft_ok" => match (message.in_reply_to(), message.body.get("payload")) {
                (Some(in_reply_to), Some(payload)) => self.transport.resolve(in_reply_to, payload),
                _ => tracing::warn!(?message, "a raft_ok without in_reply_to or payload"),
            },
            // A peer refused a raft request (it has not received init yet, say): the call
            // ends now instead of at its timeout.
            "error" => {
                if let Some(in_reply_to) = message.in_reply_to() {
                    self.transport.fail(in_reply_to);
                }
            }
            "raft" => {
                let Some(permit) = self.permit(&self.peer_requests, &message).await else {
                    return;
                };
                let (handler, responder) = (self.handler.clone(), self.responder());
                tokio::spawn(async move {
                    responder.send(answer_peer(&handler, &message).await).await;
                    drop(permit);
                });
            }
            "read" | "write" | "cas" => {
                let Some(permit) = self.permit(&self.client_requests, &message).await else {
                    return;
                };
                let (node, responder) = (self.node.clone(), self.responder());
                tokio::spawn(async move {
                    let reply = serve_client(&node, &message).await.map_or_else(
                        |error| error.reply_to(&message),
                        |body| Outgoing::reply(&message, body),
                    );
                    responder.send(reply).await;
                    drop(permit);
                });
            }
            // A reply nobody asked for is dropped: answering it could start an endless exchange.
            _ if message.in_reply_to().is_some() => {}
            other => {
                let text = format!("lin-kv does not handle {other:?} messages");
                let error = WorkloadError::new(ErrorCode::NotSupported, text);
                self.send(error.reply_to(&message)).await;
            }
        }
    }

    /// A place among the requests being served, or (the bound is reached) a refusal sent to
    /// `message`: 11, since the request was not started. The loop never waits for a place:
    /// it must go on reading the `raft_ok` answers that let the running requests finish.
    async fn permit(
        &self,
        requests: &Arc<Semaphore>,
        message: &Message,
    ) -> Option<OwnedSemaphorePermit> {
        match Arc::clone(requests).try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) => {
                let text = "too many requests are being served; this one was not started";
                let error = WorkloadError::new(ErrorCode::TemporarilyUnavailable, text);
                self.send(error.reply_to(message)).await;
                None
            }
        }
    }

    fn responder(&self) -> Responder {
        Responder { name: self.name.clone(), outbox: self.outbox.clone() }
    }

    async fn send(&self, outgoing: Outgoing) {
        self.responder().send(outgoing).await
    }
}

/// What a request's task needs to send its reply.
struct Responder {
    name: String,
    outbox: mpsc::Sender<Message>,
}

impl Responder {
    async fn send(&self, outgoing: Outgoing) {
        send_as(&self.outbox, &self.name, outgoing).await
    }
}

/// The node's options for node `position` of `node_ids`: every node a voter, a fresh data
/// directory, and the Raft timings of [`super::Config`].
fn node_config(config: &super::Config, position: usize, node_ids: &[String]) -> Result<NodeConfig> {
    let name = &node_ids[position];
    let data_dir =
        config.data_root.join(format!("concord-maelstrom-{name}-{}", std::process::id()));
    // A directory left by an earlier process with the same id would hold another cluster's
    // log; this node must start from nothing, like every other member.
    if data_dir.exists() {
        std::fs::remove_dir_all(&data_dir).map_err(|source| Error::Io {
            context: format!("removing the stale data directory {}", data_dir.display()),
            source,
        })?;
    }
    // The transport finds peers by their Raft id alone; the address only names them in logs.
    let peers = node_ids
        .iter()
        .enumerate()
        .map(|(index, node)| (raft_id(index), format!("maelstrom:{node}")))
        .collect();
    let node_config = NodeConfig {
        data_dir,
        node_id: raft_id(position),
        peers,
        heartbeat_interval_ms: config.raft_heartbeat_interval_ms,
        election_timeout_min_ms: config.raft_election_timeout_min_ms,
        election_timeout_max_ms: config.raft_election_timeout_max_ms,
        leader_wait_ms: config.request_wait_ms,
        commit_wait_ms: config.request_wait_ms,
        // No Redis listener: the node serves Maelstrom's messages only.
        port: 0,
        ..NodeConfig::default()
    };
    node_config.validate()?;
    Ok(node_config)
}

/// Answers one `raft` request with `raft_ok`, or with an error body when it is undecodable.
async fn answer_peer(handler: &PeerHandler, message: &Message) -> Outgoing {
    let request = message.field("payload").and_then(|payload| {
        decode_payload::<PeerRequest>(payload)
            .map_err(|error| WorkloadError::new(ErrorCode::MalformedRequest, error))
    });
    let request = match request {
        Ok(request) => request,
        Err(error) => return error.reply_to(message),
    };
    let response = handler.handle(request).await;
    match encode_payload(&response) {
        Ok(payload) => Outgoing::reply(message, json!({"type": "raft_ok", "payload": payload})),
        Err(error) => WorkloadError::new(ErrorCode::Crash, error).reply_to(message),
    }
}

/// Serves `read`, `write` or `cas`; returns the reply body.
async fn serve_client(node: &Node, message: &Message) -> Result<Value, WorkloadError> {
    let key = json_bytes(message.field("key")?);
    match message.kind() {
        "read" => {
            let view = node.read_view().await.map_err(|error| {
                WorkloadError::new(ErrorCode::TemporarilyUnavailable, error.to_string())
            })?;
            let get = Read::String(StringRead::Get { key });
            match execute_read(&view.view.keyspace, 0, view.now_ms, &get) {
                Frame::Bulk(text) => Ok(json!({"type": "read_ok", "value": parse_stored(&text)?})),
                Frame::Null => Err(key_does_not_exist()),
                other => Err(unexpected(&other)),
            }
        }
        "write" => {
            let value = json_bytes(message.field("value")?);
            let set = SetCommand {
                key,
                value,
                condition: None,
                expiry: None,
                get: false,
                variant: SetVariant::Set,
            };
            match write_one(node, StringWrite::Set(set)).await? {
                Frame::Simple(_) => Ok(json!({"type": "write_ok"})),
                other => Err(unexpected(&other)),
            }
        }
        _ => {
            let create_if_absent =
                message.body.get("create_if_not_exists").and_then(Value::as_bool).unwrap_or(false);
            let (expected, new) =
                (json_bytes(message.field("from")?), json_bytes(message.field("to")?));
            let cas = StringWrite::CompareAndSet { key, expected, new, create_if_absent };
            match write_one(node, cas).await? {
                Frame::Integer(1) => Ok(json!({"type": "cas_ok"})),
                Frame::Integer(0) => Err(WorkloadError::new(
                    ErrorCode::PreconditionFailed,
                    "the value is not the expected one",
                )),
                Frame::Null => Err(key_does_not_exist()),
                other => Err(unexpected(&other)),
            }
        }
    }
}

/// Proposes one write to database 0 and returns its reply.
async fn write_one(node: &Node, write: StringWrite) -> Result<Frame, WorkloadError> {
    let request = WriteRequest { db: 0, write: Write::String(write) };
    let replies = node.write(vec![request]).await.map_err(|error| {
        let code = match error {
            NodeError::StorageFailed(_) | NodeError::SnapshotFailed(_) => ErrorCode::Crash,
            _ if error.is_definite() => ErrorCode::TemporarilyUnavailable,
            _ => ErrorCode::Timeout,
        };
        WorkloadError::new(code, error.to_string())
    })?;
    replies.into_iter().next().ok_or_else(|| {
        WorkloadError::new(ErrorCode::Crash, "the node answered a write with no reply")
    })
}

/// A JSON value as the bytes it is stored as.
fn json_bytes(value: &Value) -> Bytes {
    Bytes::from(serde_json::to_vec(value).expect("a JSON value always serialises"))
}

/// A stored value back as JSON. Only this workload writes, so anything else is a bug; it is
/// reported as `crash`, the answer that claims nothing.
fn parse_stored(text: &[u8]) -> Result<Value, WorkloadError> {
    serde_json::from_slice(text).map_err(|error| {
        WorkloadError::new(ErrorCode::Crash, format!("the stored value is not JSON: {error}"))
    })
}

fn key_does_not_exist() -> WorkloadError {
    WorkloadError::new(ErrorCode::KeyDoesNotExist, "the key does not exist")
}

/// A reply the state machine never gives to these commands; `crash` claims nothing.
fn unexpected(frame: &Frame) -> WorkloadError {
    WorkloadError::new(ErrorCode::Crash, format!("unexpected reply from the node: {frame:?}"))
}
