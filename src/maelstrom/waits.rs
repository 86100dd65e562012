//! What a Maelstrom node is waiting for, and the one rule about answering clients late.
//!
//! Two bookkeepers the driving loop keeps around every workload:
//!
//! - [`OutstandingRequests`]: every request this node sent to a service or a peer (a message
//!   with a `msg_id` to a destination that is not a client), until a message with its
//!   `in_reply_to` comes back. Each send and reply is logged at `debug`; at the default level
//!   (`info` for this module) the node writes at most one line per
//!   [`REPORT_INTERVAL_MS`], and only when some request has been unanswered for longer than
//!   [`OUTSTANDING_REPORT_MS`], naming the oldest one. So a node that is stuck says on stderr
//!   what it waits for, and a healthy one stays quiet.
//! - [`ClientDeadlines`]: when each client request arrived. Maelstrom's clients give up after
//!   5 s, and Jepsen then closes that client and opens another; Maelstrom's network drops the
//!   node's late reply to the closed client by failing an assertion in the thread that reads
//!   this node's stdout, and that thread then reads nothing more: the node goes silent for
//!   good, with nothing on its own stderr. A reply later than [`CLIENT_REPLY_DEADLINE_MS`] is
//!   therefore never written; it is counted and logged (once per episode) instead.
//!
//! Invariants: both tables are bounded ([`TRACKED_MAX`]); when one is full, its oldest entry is
//! forgotten, which only costs a log line or lets one late reply through.

use std::collections::{BTreeMap, HashMap};

use super::{Message, Outgoing};

/// Most entries each table keeps.
pub const TRACKED_MAX: usize = 65_536;
/// A request unanswered for longer than this is reported at `info`.
pub const OUTSTANDING_REPORT_MS: u64 = 1_000;
/// At most one report line per this interval.
pub const REPORT_INTERVAL_MS: u64 = 1_000;
/// A request unanswered for this long is forgotten (reported once as never answered).
pub const OUTSTANDING_FORGET_MS: u64 = 60_000;
/// A reply to a client request older than this is dropped. Maelstrom's client timeout is 5 s
/// (`maelstrom.client/default-timeout`); one second of margin covers the node's own queueing.
pub const CLIENT_REPLY_DEADLINE_MS: u64 = 4_000;

/// Whether `node` is one of Maelstrom's clients (`c1`, `c2`, ...), not a node or a service.
pub fn is_client(node: &str) -> bool {
    node.strip_prefix('c')
        .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|byte| byte.is_ascii_digit()))
}

/// One request waiting for its reply.
#[derive(Debug, Clone)]
struct Request {
    dest: String,
    kind: String,
    sent_ms: u64,
}

/// Requests this node sent and has not heard back about, by `msg_id`.
#[derive(Debug, Default)]
pub struct OutstandingRequests {
    requests: BTreeMap<u64, Request>,
    last_report_ms: u64,
}

impl OutstandingRequests {
    /// Notes a message this node sends, if it is a request to a service or a peer.
    pub fn sent(&mut self, dest: &str, body: &super::Body, now_ms: u64) {
        let Some(msg_id) = body.get("msg_id").and_then(|id| id.as_u64()) else { return };
        if is_client(dest) || body.contains_key("in_reply_to") {
            return;
        }
        let kind = body.get("type").and_then(|kind| kind.as_str()).unwrap_or("").to_string();
        tracing::debug!(dest, kind, msg_id, "sent a request; waiting for its reply");
        if self.requests.len() >= TRACKED_MAX {
            self.requests.pop_first();
        }
        self.requests.insert(msg_id, Request { dest: dest.to_string(), kind, sent_ms: now_ms });
    }

    /// Notes a message this node received: a reply ends the wait for its request.
    pub fn received(&mut self, message: &Message, now_ms: u64) {
        let Some(msg_id) = message.in_reply_to() else { return };
        if let Some(request) = self.requests.remove(&msg_id) {
            let waited_ms = now_ms.saturating_sub(request.sent_ms);
            tracing::debug!(src = message.src, kind = message.kind(), msg_id, waited_ms, "reply");
        }
    }

    /// Called on every tick: at most once per [`REPORT_INTERVAL_MS`], logs the requests still
    /// unanswered after [`OUTSTANDING_REPORT_MS`], and forgets those past
    /// [`OUTSTANDING_FORGET_MS`]. `waiting_clients` is the workload's own account of client
    /// requests it holds, if any.
    pub fn report(&mut self, now_ms: u64, waiting_clients: Option<String>) {
        if now_ms.saturating_sub(self.last_report_ms) < REPORT_INTERVAL_MS {
            return;
        }
        let forgotten = self.forget_older_than(now_ms.saturating_sub(OUTSTANDING_FORGET_MS));
        let late: Vec<&Request> = self
            .requests
            .values()
            .filter(|request| now_ms.saturating_sub(request.sent_ms) > OUTSTANDING_REPORT_MS)
            .collect();
        if late.is_empty() && forgotten == 0 && waiting_clients.is_none() {
            return;
        }
        self.last_report_ms = now_ms;
        let oldest = late.iter().min_by_key(|request| request.sent_ms).map(|request| {
            let age_ms = now_ms.saturating_sub(request.sent_ms);
            format!("{} to {} for {age_ms} ms", request.kind, request.dest)
        });
        tracing::info!(
            unanswered = late.len(),
            oldest = oldest.as_deref().unwrap_or("none"),
            never_answered = forgotten,
            clients = waiting_clients.as_deref().unwrap_or("none"),
            "still waiting for replies"
        );
    }

    fn forget_older_than(&mut self, cutoff_ms: u64) -> usize {
        let before = self.requests.len();
        self.requests.retain(|_, request| request.sent_ms >= cutoff_ms);
        before - self.requests.len()
    }
}

/// When each client request arrived, by client and `msg_id`, to hold back replies Maelstrom
/// would choke on.
#[derive(Debug, Default)]
pub struct ClientDeadlines {
    arrivals: HashMap<(String, u64), u64>,
    /// Arrival order, to forget the oldest when full: (arrival ms, client, msg_id).
    order: std::collections::VecDeque<(u64, String, u64)>,
    /// Late replies dropped in the current episode; logged when the episode starts and ends.
    dropped_in_episode: u64,
}

impl ClientDeadlines {
    /// Notes a request from a client.
    pub fn arrived(&mut self, message: &Message, now_ms: u64) {
        let Some(msg_id) = message.msg_id() else { return };
        if !is_client(&message.src) || message.in_reply_to().is_some() {
            return;
        }
        // Arrivals are in time order, so the front is the oldest; forget what is far past.
        while self.order.len() >= TRACKED_MAX
            || self.order.front().is_some_and(|(arrived_ms, _, _)| {
                now_ms.saturating_sub(*arrived_ms) > 2 * CLIENT_REPLY_DEADLINE_MS
            })
        {
            let Some((_, client, id)) = self.order.pop_front() else { break };
            self.arrivals.remove(&(client, id));
        }
        self.arrivals.insert((message.src.clone(), msg_id), now_ms);
        self.order.push_back((now_ms, message.src.clone(), msg_id));
    }

    /// Whether `outgoing` may be written: false for a reply to a client request that arrived
    /// more than [`CLIENT_REPLY_DEADLINE_MS`] ago (or was forgotten for being that old).
    pub fn may_send(&mut self, outgoing: &Outgoing, now_ms: u64) -> bool {
        if !is_client(&outgoing.dest) {
            return true;
        }
        let Some(msg_id) = outgoing.body.get("in_reply_to").and_then(|id| id.as_u64()) else {
            return true;
        };
        let waited_ms = self
            .arrivals
            .remove(&(outgoing.dest.clone(), msg_id))
            .map(|arrived_ms| now_ms.saturating_sub(arrived_ms));
        match waited_ms {
            Some(waited_ms) if waited_ms <= CLIENT_REPLY_DEADLINE_MS => {
                if self.dropped_in_episode > 0 {
                    tracing::warn!(
                        dropped = self.dropped_in_episode,
                        "replies are in time again; late replies were dropped"
                    );
                    self.dropped_in_episode = 0;
                }
                true
            }
            _ => {
                if self.dropped_in_episode == 0 {
                    tracing::warn!(
                        client = outgoing.dest,
                        msg_id,
                        waited_ms,
                        "dropping a reply that comes after Maelstrom's client gave up (a \
                         reply to a closed client makes Maelstrom stop reading this node)"
                    );
                }
                self.dropped_in_episode += 1;
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn client_request(msg_id: u64) -> Message {
        let body = json!({"type": "add", "msg_id": msg_id}).as_object().unwrap().clone();
        Message { src: "c4".into(), dest: "n1".into(), body }
    }

    #[test]
    fn a_reply_after_the_client_deadline_is_held_back_and_one_in_time_is_not() {
        let mut deadlines = ClientDeadlines::default();
        deadlines.arrived(&client_request(1), 0);
        deadlines.arrived(&client_request(2), 0);
        let early = Outgoing::reply(&client_request(1), json!({"type": "add_ok"}));
        let late = Outgoing::reply(&client_request(2), json!({"type": "add_ok"}));
        assert!(deadlines.may_send(&early, CLIENT_REPLY_DEADLINE_MS));
        assert!(!deadlines.may_send(&late, CLIENT_REPLY_DEADLINE_MS + 1));
        let peer = Outgoing {
            dest: "n2".into(),
            body: json!({"type": "gossip"}).as_object().unwrap().clone(),
        };
        assert!(deadlines.may_send(&peer, 1_000_000), "only client replies have a deadline");
    }

    #[test]
    fn clients_are_told_apart_from_nodes_and_services() {
        assert!(is_client("c12"));
        assert!(!is_client("n1") && !is_client("seq-kv") && !is_client("lin-kv"));
    }
}
