//! The `kafka` workload (Gossip Glomers #5): append-only logs named by string keys. `send`
//! appends a message and answers its offset, `poll` returns messages from given offsets,
//! `commit_offsets` records how far consumers got and `list_committed_offsets` reports it.
//!
//! Design: every key has one **owner**, `node_ids[fnv1a(key) % node count]`, computed the same on
//! every node from `init`'s list. The owner holds the key's log in memory and is the only node
//! that appends to it, so it serialises sends for the key by itself:
//!
//! - **send**: on the owner, the message gets the next offset of its key (0, 1, 2, ...) at once.
//!   Elsewhere the node forwards the same `send` to the owner and relays the `send_ok`. No
//!   `lin-kv` call: 0 round trips on the owner, one node-to-node round trip elsewhere.
//! - **poll**: keys are grouped by owner; the node answers its own keys and sends one `poll` per
//!   other owner holding just that owner's keys, then merges the answers. No `lin-kv` call; at
//!   most one node-to-node round trip (the calls to owners go out together).
//! - **commit_offsets**: committed offsets live in `lin-kv` under `committed-<key>`, so any node
//!   can record and report them without the owner. Per key, a `cas` from the highest value this
//!   node has seen to the new one: 1 round trip when no other node committed the key since; on
//!   `precondition-failed` a `read` and another `cas` (2 more). A commit at or below the value
//!   already seen costs nothing. The keys of one request go out together.
//! - **list_committed_offsets**: one `lin-kv` `read` per key, all sent together: 1 round trip.
//!
//! With one node (Gossip Glomers 5a) there is no peer to reach, and committed offsets stay in
//! memory as well: no call leaves the node.
//!
//! Invariants: offsets of a key are dense and assigned by one node in arrival order, so every
//! acknowledged send has a unique offset and a poll from offset `o` returns the messages at
//! `o, o + 1, ...` in order with no gap, at most [`POLL_MESSAGES_PER_KEY_MAX`] per key. A
//! committed offset in `lin-kv` never decreases: it only changes by a `cas` from a value read or
//! written before to a larger one, and `lin-kv` is linearizable.
//!
//! What survives a partition: a node cut off from a key's owner cannot send to or poll that key
//! (a forwarded call that times out answers `crash` (13) for a send, since it may have been
//! appended, and `temporarily-unavailable` (11) for a poll); nothing acknowledged is lost or
//! renumbered, because only the owner numbers messages. Commits and lists need only `lin-kv`.
//!
//! Caveats: the logs live in the owners' memory, so a node that crashes loses its keys'
//! messages (Maelstrom's kafka workload does not crash nodes; surviving that would need the log
//! in `lin-kv` or replicated); ownership never moves, so keys of an unreachable owner stay
//! unavailable until the partition heals; a key holds at most [`KEY_MESSAGES_MAX`] messages.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::kv::{self, PendingCalls, Reply};
use super::{ErrorCode, Message, Outgoing, Workload, WorkloadError};

/// Most messages one `poll` returns per key; a consumer polls again from the next offset. Large
/// enough that a consumer catches up in a few polls, small enough to bound a reply's size.
pub const POLL_MESSAGES_PER_KEY_MAX: usize = 100;
/// Most messages one key's log holds; a send beyond it is refused with `abort` (14).
pub const KEY_MESSAGES_MAX: usize = 1 << 20;
/// Most client requests waiting on calls at once; more are refused with
/// `temporarily-unavailable` (11).
const OPERATIONS_MAX: usize = 10_000;
/// Most calls (to owners or `lin-kv`) in flight at once.
const CALLS_MAX: usize = 65_536;
/// Most `cas` attempts for one key of one commit before it gives up; each failure means another
/// node committed the key meanwhile, so a few attempts suffice unless consumers thrash.
const COMMIT_ATTEMPTS_MAX: u32 = 10;

/// The request a pending operation answers.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Send,
    Poll,
    Commit,
    List,
}

impl Kind {
    /// The error for an operation whose call was lost: a send or commit may have taken effect,
    /// so it is indefinite (`crash`); a poll or list changed nothing, so it is definite.
    fn lost_call_error(self) -> WorkloadError {
        match self {
            Kind::Send | Kind::Commit => WorkloadError::new(
                ErrorCode::Crash,
                "a call was lost; the request may have happened",
            ),
            Kind::Poll | Kind::List => {
                WorkloadError::new(ErrorCode::TemporarilyUnavailable, "a call was lost")
            }
        }
    }
}

/// A client request waiting on calls.
#[derive(Debug)]
struct Operation {
    request: Message,
    kind: Kind,
    /// Calls (or per-key call chains) not finished yet.
    outstanding: usize,
    /// What the answer carries so far: the offset of a send, the messages of a poll, the offsets
    /// of a list.
    found: Map<String, Value>,
}

/// What a pending call does for its operation.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    /// A `send` or `poll` forwarded to the key's owner.
    Forward,
    /// A `cas` of a key's committed offset to `offset`.
    CommitCas { key: String, offset: u64, attempts: u32 },
    /// A `read` of a key's committed offset after a `cas` found another value.
    CommitRead { key: String, offset: u64, attempts: u32 },
    /// A `read` of a key's committed offset for a list.
    ListRead { key: String },
}

/// The kafka workload's state on one node.
#[derive(Debug)]
pub struct Kafka {
    node_id: String,
    node_ids: Vec<String>,
    /// The logs of the keys this node owns; a message's offset is its index.
    logs: BTreeMap<String, Vec<Value>>,
    /// Committed offsets, kept here only when this node is the whole cluster.
    committed: BTreeMap<String, u64>,
    /// Per key, the highest committed offset this node has seen in `lin-kv`. It may lag behind
    /// `lin-kv` but is never ahead of it.
    committed_seen: BTreeMap<String, u64>,
    /// Requests waiting on calls, by operation number.
    operations: BTreeMap<u64, Operation>,
    next_operation: u64,
    calls: PendingCalls<(u64, Step)>,
}

impl Default for Kafka {
    fn default() -> Kafka {
        Kafka {
            node_id: String::new(),
            node_ids: Vec::new(),
            logs: BTreeMap::new(),
            committed: BTreeMap::new(),
            committed_seen: BTreeMap::new(),
            operations: BTreeMap::new(),
            next_operation: 0,
            calls: PendingCalls::new(CALLS_MAX),
        }
    }
}

/// 64-bit FNV-1a: a stable hash, so every node (and every build) maps a key to the same owner.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn committed_key(key: &str) -> String {
    format!("committed-{key}")
}

fn malformed(text: &str) -> WorkloadError {
    WorkloadError::new(ErrorCode::MalformedRequest, text)
}

fn offsets_field(message: &Message) -> Result<BTreeMap<String, u64>, WorkloadError> {
    serde_json::from_value(message.field("offsets")?.clone())
        .map_err(|_| malformed("offsets must map keys to non-negative integers"))
}

impl Kafka {
    /// The node that owns `key`.
    fn owner(&self, key: &str) -> &str {
        let index = fnv1a(key.as_bytes()) % self.node_ids.len() as u64;
        &self.node_ids[index as usize]
    }

    /// Whether this node serves `key` itself: it owns it, or a peer asked, which it only does
    /// of the owner.
    fn serves_locally(&self, key: &str, message: &Message) -> bool {
        self.node_ids.contains(&message.src) || self.owner(key) == self.node_id
    }

    /// Appends to a log this node owns; returns the offset.
    fn append(&mut self, key: &str, msg: Value) -> Result<u64, WorkloadError> {
        let log = self.logs.entry(key.to_string()).or_default();
        if log.len() >= KEY_MESSAGES_MAX {
            return Err(WorkloadError::new(
                ErrorCode::Abort,
                format!("key {key:?} holds the most messages allowed ({KEY_MESSAGES_MAX})"),
            ));
        }
        log.push(msg);
        Ok(log.len() as u64 - 1)
    }

    /// Up to [`POLL_MESSAGES_PER_KEY_MAX`] `[offset, msg]` pairs of an owned log from `from`.
    fn read_log(&self, key: &str, from: u64) -> Option<Value> {
        let log = self.logs.get(key)?;
        let start = usize::try_from(from).ok().filter(|start| *start < log.len())?;
        let end = log.len().min(start + POLL_MESSAGES_PER_KEY_MAX);
        let pairs: Vec<Value> =
            (start..end).map(|offset| json!([offset, log[offset].clone()])).collect();
        Some(Value::Array(pairs))
    }

    /// Registers an operation that waits on `outstanding` calls, if there is room for them.
    fn start(
        &mut self,
        request: &Message,
        kind: Kind,
        outstanding: usize,
        found: Map<String, Value>,
    ) -> Result<u64, WorkloadError> {
        if self.operations.len() >= OPERATIONS_MAX || !self.calls.has_room_for(outstanding) {
            return Err(WorkloadError::new(
                ErrorCode::TemporarilyUnavailable,
                "too many requests are waiting on calls",
            ));
        }
        let operation = self.next_operation;
        self.next_operation += 1;
        let request = request.clone();
        self.operations.insert(operation, Operation { request, kind, outstanding, found });
        Ok(operation)
    }

    fn send(&mut self, message: &Message, now_ms: u64) -> Result<Vec<Outgoing>, WorkloadError> {
        let key =
            message.field("key")?.as_str().ok_or_else(|| malformed("key must be a string"))?;
        let msg = message.field("msg")?.clone();
        if self.serves_locally(key, message) {
            let offset = self.append(key, msg)?;
            return Ok(vec![Outgoing::reply(
                message,
                json!({"type": "send_ok", "offset": offset}),
            )]);
        }
        let owner = self.owner(key).to_string();
        let operation = self.start(message, Kind::Send, 1, Map::new())?;
        let (msg_id, forward) =
            kv::request(&owner, json!({"type": "send", "key": key, "msg": msg}));
        self.calls.insert(msg_id, (operation, Step::Forward), now_ms);
        Ok(vec![forward])
    }

    fn poll(&mut self, message: &Message, now_ms: u64) -> Result<Vec<Outgoing>, WorkloadError> {
        let mut found = Map::new();
        let mut by_owner: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
        for (key, from) in offsets_field(message)? {
            if self.serves_locally(&key, message) {
                if let Some(pairs) = self.read_log(&key, from) {
                    found.insert(key, pairs);
                }
            } else {
                by_owner.entry(self.owner(&key).to_string()).or_default().insert(key, from.into());
            }
        }
        if by_owner.is_empty() {
            return Ok(vec![Outgoing::reply(message, json!({"type": "poll_ok", "msgs": found}))]);
        }
        let operation = self.start(message, Kind::Poll, by_owner.len(), found)?;
        let mut outgoing = Vec::new();
        for (owner, offsets) in by_owner {
            let (msg_id, forward) =
                kv::request(&owner, json!({"type": "poll", "offsets": offsets}));
            self.calls.insert(msg_id, (operation, Step::Forward), now_ms);
            outgoing.push(forward);
        }
        Ok(outgoing)
    }

    fn commit(&mut self, message: &Message, now_ms: u64) -> Result<Vec<Outgoing>, WorkloadError> {
        let offsets = offsets_field(message)?;
        let ok = json!({"type": "commit_offsets_ok"});
        if self.node_ids.len() == 1 {
            for (key, offset) in offsets {
                let committed = self.committed.entry(key).or_default();
                *committed = (*committed).max(offset);
            }
            return Ok(vec![Outgoing::reply(message, ok)]);
        }
        // A commit at or below what this node saw committed is already done: lin-kv only grows.
        let due: Vec<(String, u64)> = offsets
            .into_iter()
            .filter(|(key, offset)| self.committed_seen.get(key).is_none_or(|seen| seen < offset))
            .collect();
        if due.is_empty() {
            return Ok(vec![Outgoing::reply(message, ok)]);
        }
        let operation = self.start(message, Kind::Commit, due.len(), Map::new())?;
        let outgoing = due
            .into_iter()
            .map(|(key, offset)| self.commit_cas(operation, key, offset, 1, now_ms))
            .collect();
        Ok(outgoing)
    }

    /// Sends the `cas` that moves `key`'s committed offset from the highest value seen to
    /// `offset` (creating the key if no value was seen).
    fn commit_cas(
        &mut self,
        operation: u64,
        key: String,
        offset: u64,
        attempts: u32,
        now_ms: u64,
    ) -> Outgoing {
        let from = self.committed_seen.get(&key).map_or(Value::Null, |&seen| seen.into());
        let (msg_id, cas) = kv::cas(kv::LIN_KV, &committed_key(&key), from, offset.into(), true);
        self.calls.insert(msg_id, (operation, Step::CommitCas { key, offset, attempts }), now_ms);
        cas
    }

    fn list(&mut self, message: &Message, now_ms: u64) -> Result<Vec<Outgoing>, WorkloadError> {
        let keys: Vec<String> = serde_json::from_value(message.field("keys")?.clone())
            .map_err(|_| malformed("keys must be a list of strings"))?;
        if self.node_ids.len() == 1 || keys.is_empty() {
            let offsets: Map<String, Value> = keys
                .into_iter()
                .filter_map(|key| self.committed.get(&key).map(|&offset| (key, offset.into())))
                .collect();
            let reply = json!({"type": "list_committed_offsets_ok", "offsets": offsets});
            return Ok(vec![Outgoing::reply(message, reply)]);
        }
        let operation = self.start(message, Kind::List, keys.len(), Map::new())?;
        let mut outgoing = Vec::new();
        for key in keys {
            let (msg_id, read) = kv::read(kv::LIN_KV, &committed_key(&key));
            self.calls.insert(msg_id, (operation, Step::ListRead { key }), now_ms);
            outgoing.push(read);
        }
        Ok(outgoing)
    }

    /// Notes that `key`'s committed offset in `lin-kv` is at least `offset`.
    fn saw_committed(&mut self, key: &str, offset: u64) {
        let seen = self.committed_seen.entry(key.to_string()).or_default();
        *seen = (*seen).max(offset);
    }

    /// Resumes the operation a call's `reply` belongs to.
    fn resume(
        &mut self,
        operation: u64,
        step: Step,
        reply: &Message,
        now_ms: u64,
    ) -> Vec<Outgoing> {
        let Some(kind) = self.operations.get(&operation).map(|pending| pending.kind) else {
            return Vec::new(); // The operation already failed; this call no longer matters.
        };
        match step {
            Step::Forward => self.forwarded(operation, kind, reply),
            Step::CommitCas { key, offset, attempts } => match Reply::of(reply) {
                Reply::Done => {
                    self.saw_committed(&key, offset);
                    self.settle(operation)
                }
                Reply::PreconditionFailed if attempts < COMMIT_ATTEMPTS_MAX => {
                    let (msg_id, read) = kv::read(kv::LIN_KV, &committed_key(&key));
                    let step = Step::CommitRead { key, offset, attempts };
                    self.calls.insert(msg_id, (operation, step), now_ms);
                    vec![read]
                }
                other => self.fail(operation, kind, &format!("lin-kv cas failed: {other:?}")),
            },
            Step::CommitRead { key, offset, attempts } => match Reply::of(reply) {
                Reply::Value(value) => {
                    let current = value.as_u64().unwrap_or(0);
                    self.saw_committed(&key, current);
                    if current >= offset {
                        return self.settle(operation);
                    }
                    vec![self.commit_cas(operation, key, offset, attempts + 1, now_ms)]
                }
                Reply::KeyDoesNotExist => {
                    vec![self.commit_cas(operation, key, offset, attempts + 1, now_ms)]
                }
                other => self.fail(operation, kind, &format!("lin-kv read failed: {other:?}")),
            },
            Step::ListRead { key } => match Reply::of(reply) {
                Reply::Value(value) => {
                    let offset = value.as_u64().unwrap_or(0);
                    self.saw_committed(&key, offset);
                    self.found(operation).insert(key, offset.into());
                    self.settle(operation)
                }
                Reply::KeyDoesNotExist => self.settle(operation),
                other => self.fail(operation, kind, &format!("lin-kv read failed: {other:?}")),
            },
        }
    }

    /// An owner answered a forwarded `send` or `poll`.
    fn forwarded(&mut self, operation: u64, kind: Kind, reply: &Message) -> Vec<Outgoing> {
        match (kind, reply.kind()) {
            (Kind::Send, "send_ok") => {
                let offset = reply.body.get("offset").cloned().unwrap_or(Value::Null);
                self.found(operation).insert("offset".into(), offset);
                self.settle(operation)
            }
            (Kind::Poll, "poll_ok") => {
                if let Some(Value::Object(msgs)) = reply.body.get("msgs") {
                    let msgs = msgs.clone();
                    self.found(operation).extend(msgs);
                }
                self.settle(operation)
            }
            (_, "error") => {
                // The owner's refusal is definite or not exactly as it says; pass it on whole.
                let Some(pending) = self.operations.remove(&operation) else { return Vec::new() };
                let mut body = reply.body.clone();
                body.remove("msg_id");
                body.remove("in_reply_to");
                vec![Outgoing::reply(&pending.request, Value::Object(body))]
            }
            (_, other) => self.fail(operation, kind, &format!("the owner answered {other:?}")),
        }
    }

    fn found(&mut self, operation: u64) -> &mut Map<String, Value> {
        &mut self.operations.get_mut(&operation).expect("the caller checked it is pending").found
    }

    /// One call (or per-key chain) of `operation` finished; answers the client after the last.
    fn settle(&mut self, operation: u64) -> Vec<Outgoing> {
        let pending = self.operations.get_mut(&operation).expect("the caller checked it");
        pending.outstanding -= 1;
        if pending.outstanding > 0 {
            return Vec::new();
        }
        let pending = self.operations.remove(&operation).expect("just looked up");
        let found = Value::Object(pending.found);
        let body = match pending.kind {
            Kind::Send => json!({"type": "send_ok", "offset": found["offset"]}),
            Kind::Poll => json!({"type": "poll_ok", "msgs": found}),
            Kind::Commit => json!({"type": "commit_offsets_ok"}),
            Kind::List => json!({"type": "list_committed_offsets_ok", "offsets": found}),
        };
        vec![Outgoing::reply(&pending.request, body)]
    }

    /// Gives up `operation`; its client hears `kind`'s lost-call error. Calls still in flight for
    /// it find no operation when they come back and are dropped.
    fn fail(&mut self, operation: u64, kind: Kind, why: &str) -> Vec<Outgoing> {
        tracing::debug!(operation, why, "a kafka request failed");
        match self.operations.remove(&operation) {
            Some(pending) => vec![kind.lost_call_error().reply_to(&pending.request)],
            None => Vec::new(),
        }
    }
}

impl Workload for Kafka {
    fn init(&mut self, node_id: &str, node_ids: &[String]) -> Result<(), WorkloadError> {
        if !node_ids.iter().any(|id| id == node_id) {
            return Err(malformed("node_ids does not list node_id"));
        }
        self.node_id = node_id.to_string();
        self.node_ids = node_ids.to_vec();
        Ok(())
    }

    fn handle(&mut self, message: &Message, now_ms: u64) -> Result<Vec<Outgoing>, WorkloadError> {
        if let Some((operation, step)) = self.calls.take_reply(message) {
            return Ok(self.resume(operation, step, message, now_ms));
        }
        match message.kind() {
            "send" => self.send(message, now_ms),
            "poll" => self.poll(message, now_ms),
            "commit_offsets" => self.commit(message, now_ms),
            "list_committed_offsets" => self.list(message, now_ms),
            // A reply to a call that already expired: its operation has been answered.
            _ if message.in_reply_to().is_some() => Ok(Vec::new()),
            other => Err(WorkloadError::new(
                ErrorCode::NotSupported,
                format!("kafka does not support {other:?}"),
            )),
        }
    }

    fn tick(&mut self, now_ms: u64) -> Vec<Outgoing> {
        let mut outgoing = Vec::new();
        for (operation, _) in self.calls.take_expired(now_ms) {
            if let Some(kind) = self.operations.get(&operation).map(|pending| pending.kind) {
                outgoing.extend(self.fail(operation, kind, "a call timed out"));
            }
        }
        outgoing
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maelstrom::kv::test_messages::{message, reply_to};

    fn node(node_id: &str, count: usize) -> Kafka {
        let ids: Vec<String> = (1..=count).map(|number| format!("n{number}")).collect();
        let mut node = Kafka::default();
        node.init(node_id, &ids).unwrap();
        node
    }

    /// A key that `node` (of two) does not own.
    fn foreign_key(node: &Kafka) -> String {
        (0..).map(|index| format!("k{index}")).find(|key| node.owner(key) != node.node_id).unwrap()
    }

    #[test]
    fn a_single_node_numbers_sends_densely_and_polls_in_order_from_the_offset() {
        let mut node = node("n1", 1);
        for value in 0..150 {
            let sent = node
                .handle(
                    &message("c1", json!({"type": "send", "msg_id": 1, "key": "a", "msg": value})),
                    0,
                )
                .unwrap();
            assert_eq!(sent[0].body["offset"], value, "offsets are dense from 0: {sent:?}");
        }
        let polled = node.handle(
            &message("c1", json!({"type": "poll", "msg_id": 2, "offsets": {"a": 10, "b": 0}})),
            0,
        );
        let pairs = polled.unwrap()[0].body["msgs"]["a"].as_array().unwrap().clone();
        assert_eq!(pairs.len(), POLL_MESSAGES_PER_KEY_MAX, "a poll is bounded per key");
        assert_eq!(pairs[0], json!([10, 10]));
        assert_eq!(pairs[99], json!([109, 109]));
    }

    #[test]
    fn a_send_to_a_key_owned_elsewhere_is_forwarded_and_its_offset_relayed() {
        let mut node = node("n1", 2);
        let key = foreign_key(&node);
        let forward = node
            .handle(&message("c1", json!({"type": "send", "msg_id": 7, "key": key, "msg": 1})), 0)
            .unwrap();
        assert_eq!(forward[0].dest, "n2");
        let answer =
            node.handle(&reply_to(&forward[0], json!({"type": "send_ok", "offset": 4})), 1);
        let answer = answer.unwrap();
        assert_eq!((answer[0].dest.as_str(), answer[0].body["offset"].clone()), ("c1", 4.into()));
        assert_eq!(answer[0].body["in_reply_to"], 7);
    }

    #[test]
    fn a_commit_retries_after_another_node_moved_the_offset_and_never_lowers_it() {
        let mut node = node("n1", 2);
        let cas = node
            .handle(
                &message("c1", json!({"type": "commit_offsets", "msg_id": 3, "offsets": {"a": 5}})),
                0,
            )
            .unwrap();
        assert_eq!((cas[0].dest.as_str(), cas[0].body["type"].clone()), ("lin-kv", "cas".into()));
        let refused = json!({"type": "error", "code": 22, "text": "current value 9 is not null"});
        let read = node.handle(&reply_to(&cas[0], refused), 1).unwrap();
        assert_eq!(read[0].body["type"], "read");
        let done =
            node.handle(&reply_to(&read[0], json!({"type": "read_ok", "value": 9})), 2).unwrap();
        assert_eq!(done[0].body["type"], "commit_offsets_ok", "9 >= 5: nothing to write: {done:?}");
        let again = node
            .handle(
                &message("c1", json!({"type": "commit_offsets", "msg_id": 4, "offsets": {"a": 8}})),
                3,
            )
            .unwrap();
        assert_eq!(again[0].body["type"], "commit_offsets_ok", "below the seen 9: no call");
    }

    #[test]
    fn a_forwarded_send_that_times_out_answers_an_indefinite_error() {
        let mut node = node("n1", 2);
        let key = foreign_key(&node);
        node.handle(&message("c1", json!({"type": "send", "msg_id": 7, "key": key, "msg": 1})), 0)
            .unwrap();
        let answer = node.tick(kv::CALL_TIMEOUT_MS);
        assert_eq!(answer[0].body["code"], ErrorCode::Crash as u64, "{answer:?}");
    }
}
