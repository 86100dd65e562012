//! Calls from a workload to Maelstrom's key-value services, `seq-kv` and `lin-kv`, and the table
//! that matches their replies to the calls a workload is waiting on.
//!
//! A service is a node like any other: a workload sends it a `read`, `write` or `cas` request and
//! its answer comes back through [`Workload::handle`](super::Workload::handle) as a message whose
//! `in_reply_to` is the request's `msg_id`. The builders here take that id from
//! [`fresh_msg_id`] and return it with the message, so the caller can file
//! the call in a [`PendingCalls`] table before the request leaves.
//!
//! The two services differ only in consistency (Maelstrom's doc/services.md):
//!
//! - `lin-kv` is linearizable: every operation takes effect at one instant between its request
//!   and its reply.
//! - `seq-kv` is only sequentially consistent: there is one total order of operations that
//!   respects each client's own order, but a client may be served an older state than another
//!   client has already seen. Maelstrom implements it by running an operation that would not
//!   change the store on any state between the one this client last saw and the newest, and an
//!   operation that would change it on the newest state, after which this client only sees that
//!   state or newer ones. [`g_counter`](super::g_counter) builds on exactly that.
//!
//! Invariants: a call leaves [`PendingCalls`] exactly once, either by its reply or by expiring
//! after [`CALL_TIMEOUT_MS`]; a reply that comes after expiry finds nothing and is ignored, so
//! every caller must treat an expired call as "may or may not have happened".
//!
//! Caveats: the table is bounded ([`PendingCalls::new`]), and a workload that hits the bound
//! answers its client with an error rather than queueing.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{fresh_msg_id, Message, Outgoing};

/// The node id of Maelstrom's sequentially consistent key-value service.
pub const SEQ_KV: &str = "seq-kv";
/// The node id of Maelstrom's linearizable key-value service.
pub const LIN_KV: &str = "lin-kv";

/// Maelstrom's error code for a `read` or `cas` of a key that does not exist. Definite.
pub const KEY_DOES_NOT_EXIST: u64 = 20;
/// Maelstrom's error code for a `cas` whose `from` is not the current value. Definite.
pub const PRECONDITION_FAILED: u64 = 22;

/// How long a call may go unanswered before it is given up. Maelstrom's default network answers
/// within milliseconds; a call still open after a second has almost surely been dropped by a
/// partition, and waiting longer only holds the client's request.
pub const CALL_TIMEOUT_MS: u64 = 1_000;

/// A request to `dest` with a fresh `msg_id`; returns that id with the message.
pub fn request(dest: &str, body: Value) -> (u64, Outgoing) {
    let Value::Object(mut body) = body else {
        panic!("a request body is a JSON object, got {body}");
    };
    let msg_id = fresh_msg_id();
    body.insert("msg_id".into(), msg_id.into());
    (msg_id, Outgoing { dest: dest.to_string(), body })
}

/// `read` of `key` from `service`.
pub fn read(service: &str, key: &str) -> (u64, Outgoing) {
    request(service, json!({"type": "read", "key": key}))
}

/// `write` of `value` to `key` on `service`.
pub fn write(service: &str, key: &str, value: Value) -> (u64, Outgoing) {
    request(service, json!({"type": "write", "key": key, "value": value}))
}

/// `cas` of `key` on `service` from `from` to `to`. With `create_if_not_exists`, a missing key
/// is created holding `to` instead of failing with [`KEY_DOES_NOT_EXIST`].
pub fn cas(
    service: &str,
    key: &str,
    from: Value,
    to: Value,
    create_if_not_exists: bool,
) -> (u64, Outgoing) {
    request(
        service,
        json!({"type": "cas", "key": key, "from": from, "to": to,
               "create_if_not_exists": create_if_not_exists}),
    )
}

/// What a service's reply says, in the terms callers branch on.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `read_ok`, with the value read.
    Value(Value),
    /// `write_ok` or `cas_ok`.
    Done,
    /// Error 20: the key does not exist.
    KeyDoesNotExist,
    /// Error 22: a `cas` found another value.
    PreconditionFailed,
    /// Any other error or an unexpected body, with its text for the log.
    Failed(String),
}

impl Reply {
    /// Reads a service's reply.
    pub fn of(message: &Message) -> Reply {
        match message.kind() {
            "read_ok" => Reply::Value(message.body.get("value").cloned().unwrap_or(Value::Null)),
            "write_ok" | "cas_ok" => Reply::Done,
            "error" => match message.body.get("code").and_then(Value::as_u64) {
                Some(KEY_DOES_NOT_EXIST) => Reply::KeyDoesNotExist,
                Some(PRECONDITION_FAILED) => Reply::PreconditionFailed,
                _ => Reply::Failed(Value::Object(message.body.clone()).to_string()),
            },
            _ => Reply::Failed(Value::Object(message.body.clone()).to_string()),
        }
    }
}

/// The calls a workload is waiting on, keyed by the request's `msg_id`, each with what the
/// workload needs to resume (`T`) and the time it expires.
#[derive(Debug)]
pub struct PendingCalls<T> {
    calls: BTreeMap<u64, (T, u64)>,
    calls_max: usize,
}

impl<T> PendingCalls<T> {
    /// An empty table holding at most `calls_max` calls.
    pub fn new(calls_max: usize) -> PendingCalls<T> {
        PendingCalls { calls: BTreeMap::new(), calls_max }
    }

    /// Whether `count` more calls fit.
    pub fn has_room_for(&self, count: usize) -> bool {
        self.calls.len() + count <= self.calls_max
    }

    /// Files a call sent at `now_ms`. The caller checks [`Self::has_room_for`] first; filing past
    /// the bound is a programming error.
    pub fn insert(&mut self, msg_id: u64, call: T, now_ms: u64) {
        assert!(self.calls.len() < self.calls_max, "the caller checks has_room_for first");
        self.calls.insert(msg_id, (call, now_ms.saturating_add(CALL_TIMEOUT_MS)));
    }

    /// Removes and returns the call `message` answers, if it answers one still pending.
    pub fn take_reply(&mut self, message: &Message) -> Option<T> {
        let msg_id = message.in_reply_to()?;
        self.calls.remove(&msg_id).map(|(call, _)| call)
    }

    /// Removes and returns, oldest id first, the calls whose time ran out by `now_ms`.
    pub fn take_expired(&mut self, now_ms: u64) -> Vec<T> {
        let expired: Vec<u64> = self
            .calls
            .iter()
            .filter(|(_, (_, deadline_ms))| *deadline_ms <= now_ms)
            .map(|(&msg_id, _)| msg_id)
            .collect();
        expired
            .into_iter()
            .filter_map(|msg_id| self.calls.remove(&msg_id))
            .map(|(c, _)| c)
            .collect()
    }

    /// How many calls are pending.
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// Whether no call is pending.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }
}

/// Messages as a workload that calls services receives them, for the unit tests of those
/// workloads (g-counter, kafka): a request addressed to `n1`, and a service's reply to a call.
#[cfg(test)]
pub mod test_messages {
    use serde_json::Value;

    use super::super::{Message, Outgoing};

    /// A request from `src` to `n1` with `body`, which must be a JSON object.
    pub fn message(src: &str, body: Value) -> Message {
        Message { src: src.into(), dest: "n1".into(), body: body.as_object().unwrap().clone() }
    }

    /// A service's reply to `request`, with `body` and `in_reply_to` set to its `msg_id`.
    pub fn reply_to(request: &Outgoing, body: Value) -> Message {
        let mut body = body.as_object().unwrap().clone();
        body.insert("in_reply_to".into(), request.body["msg_id"].clone());
        Message { src: request.dest.clone(), dest: "n1".into(), body }
    }
}
