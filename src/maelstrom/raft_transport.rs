//! Raft between Maelstrom nodes: a [`Transport`] whose requests and responses are Maelstrom
//! messages on stdin/stdout, so that Maelstrom's network (and its partitions) carries them.
//!
//! Wire format: a request is the body `{"type": "raft", "msg_id": m, "payload": p}` sent to
//! the target node, and its answer `{"type": "raft_ok", "in_reply_to": m, "payload": p}`,
//! where `p` is the `postcard` encoding of the [`PeerRequest`] or [`PeerResponse`] (the same
//! bytes the TCP transport frames) in standard base64: a third larger than the bytes, where a
//! JSON array of numbers would be three to four times larger.
//!
//! Node ids: Maelstrom names nodes `n1`, `n2`, ... and hands every node the same `node_ids`
//! list; the node at position `i` (from 0) of that list is Raft node `i + 1`. The names are
//! never parsed, so any naming works as long as the list is the same everywhere, which
//! Maelstrom guarantees.
//!
//! Invariants:
//! - At most [`CALLS_PENDING_MAX`] calls wait for their answers; a call beyond that is refused
//!   before anything is sent, as [`CallError::Unreachable`].
//! - [`CallError::Unreachable`] is returned only when the message certainly was not written
//!   (unknown target, the table is full, the payload could not be encoded, stdout is closed);
//!   once the message is queued for stdout, a missing answer is [`CallError::Lost`].
//! - A call's entry leaves the table when it is answered, when it times out, and when its
//!   caller stops waiting (the entry is removed on drop), so the table never holds the dead.
//!
//! Caveat: Maelstrom may drop or delay any message; an answer that arrives after its call
//! timed out is ignored, which openraft tolerates (it retries on its own schedule).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::{fresh_msg_id, Body, Message};
use crate::raft::peer::{BoxFuture, CallError, PeerRequest, PeerResponse, Transport};
use crate::raft::NodeId;

/// The most calls that may wait for an answer at once (see the module doc).
pub const CALLS_PENDING_MAX: usize = 4096;

/// The base64 flavour of payloads: standard alphabet, padded.
const PAYLOAD_ENCODING: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The Raft id of the node at `position` in Maelstrom's `node_ids`.
pub fn raft_id(position: usize) -> NodeId {
    position as NodeId + 1
}

/// Encodes a request or response as a payload string.
pub fn encode_payload(value: &impl serde::Serialize) -> Result<String, String> {
    let bytes = postcard::to_stdvec(value).map_err(|error| format!("encoding: {error}"))?;
    Ok(PAYLOAD_ENCODING.encode(bytes))
}

/// Decodes a payload string (the `payload` field of a `raft` or `raft_ok` body).
pub fn decode_payload<T: serde::de::DeserializeOwned>(payload: &Value) -> Result<T, String> {
    let text = payload.as_str().ok_or("the payload is not a string")?;
    let bytes = PAYLOAD_ENCODING.decode(text).map_err(|error| format!("not base64: {error}"))?;
    postcard::from_bytes(&bytes).map_err(|error| format!("undecodable: {error}"))
}

/// The calls waiting for their `raft_ok`, by the `msg_id` of their request.
type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<PeerResponse>>>>;

/// The Maelstrom [`Transport`]; shared by openraft's network and the node.
pub struct MaelstromTransport {
    /// This node's Maelstrom name, the `src` of its requests.
    own_name: String,
    /// Maelstrom's node names; Raft node `id` is `node_ids[id - 1]`.
    node_ids: Vec<String>,
    /// The queue of the single writer of stdout (bounded).
    outbox: mpsc::Sender<Message>,
    pending: Pending,
}

impl MaelstromTransport {
    /// A transport for the node named `own_name` among `node_ids`, sending through `outbox`.
    pub fn new(
        own_name: String,
        node_ids: Vec<String>,
        outbox: mpsc::Sender<Message>,
    ) -> MaelstromTransport {
        MaelstromTransport { own_name, node_ids, outbox, pending: Pending::default() }
    }

    /// Hands a `raft_ok` body to the call waiting for it; an answer nobody waits for any more
    /// (the call timed out) or that cannot be decoded is dropped, which the caller sees as a
    /// lost call.
    pub fn resolve(&self, in_reply_to: u64, payload: &Value) {
        let Some(waiter) = self.pending.lock().remove(&in_reply_to) else { return };
        match decode_payload::<PeerResponse>(payload) {
            Ok(response) => {
                let _ = waiter.send(response);
            }
            Err(error) => tracing::warn!(%error, in_reply_to, "dropping a raft_ok"),
        }
    }

    /// Ends the call waiting for `in_reply_to` as lost: the peer answered with an error.
    pub fn fail(&self, in_reply_to: u64) {
        self.pending.lock().remove(&in_reply_to);
    }

    fn name_of(&self, target: NodeId) -> Option<&String> {
        let position = usize::try_from(target.checked_sub(1)?).ok()?;
        self.node_ids.get(position)
    }
}

/// Removes a call's entry from the pending table when the call ends, however it ends.
struct PendingEntry {
    pending: Pending,
    msg_id: u64,
}

impl Drop for PendingEntry {
    fn drop(&mut self) {
        self.pending.lock().remove(&self.msg_id);
    }
}

impl Transport for MaelstromTransport {
    fn call(
        &self,
        target: NodeId,
        request: PeerRequest,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<PeerResponse, CallError>> {
        let not_sent = move |reason: String| CallError::Unreachable { target, reason };
        let prepared = self
            .name_of(target)
            .cloned()
            .ok_or_else(|| not_sent(format!("no node has Raft id {target}")))
            .and_then(|dest| Ok((dest, encode_payload(&request).map_err(not_sent)?)));
        let (src, outbox) = (self.own_name.clone(), self.outbox.clone());
        let pending = Arc::clone(&self.pending);
        Box::pin(async move {
            let deadline = tokio::time::Instant::now() + timeout;
            let (dest, payload) = prepared?;
            let msg_id = fresh_msg_id();
            let (sender, receiver) = oneshot::channel();
            {
                let mut calls = pending.lock();
                if calls.len() >= CALLS_PENDING_MAX {
                    return Err(not_sent(format!(
                        "{CALLS_PENDING_MAX} calls already wait for answers"
                    )));
                }
                calls.insert(msg_id, sender);
            }
            let _entry = PendingEntry { pending, msg_id };
            let mut body = Body::new();
            body.insert("type".into(), "raft".into());
            body.insert("msg_id".into(), msg_id.into());
            body.insert("payload".into(), payload.into());
            // Waiting for room in the outbox counts against the timeout, so a stalled stdout
            // cannot hold openraft up for longer than it allowed; until the message is queued,
            // nothing was sent.
            match tokio::time::timeout_at(deadline, outbox.send(Message { src, dest, body })).await
            {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(not_sent("stdout is closed".into())),
                Err(_) => return Err(not_sent(format!("stdout stayed full for {timeout:?}"))),
            }
            let lost = |reason: String| CallError::Lost { target, reason };
            match tokio::time::timeout_at(deadline, receiver).await {
                Ok(Ok(response)) => Ok(response),
                Ok(Err(_)) => Err(lost("the peer answered with an error or undecodable".into())),
                Err(_) => Err(lost(format!("no answer in {timeout:?}"))),
            }
        })
    }
}
