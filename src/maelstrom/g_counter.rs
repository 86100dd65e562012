//! The `g-counter` workload (Gossip Glomers #4): `add {delta}` grows one cluster-wide counter
//! and `read` returns its value; the nodes keep no shared state of their own and use Maelstrom's
//! sequentially consistent `seq-kv` service.
//!
//! Design: each node owns one key, `counter-<node id>`, and is its only writer; the counter is
//! the sum of all nodes' keys.
//!
//! - **add**: the delta joins the node's `accepted_total`, and the request waits. One flush at a
//!   time moves the own key forward with `cas(from = the value known to be stored, to =
//!   accepted_total, create_if_not_exists)`; its `cas_ok` acknowledges every waiting add that the
//!   new value includes. Adds that arrive during a flush ride on the next one, so a burst costs
//!   one round trip. An add is therefore acknowledged only once `seq-kv` holds it.
//! - **read**: first a `write` of a fresh, strictly increasing value to the node's own
//!   `sync-<node id>` key, then a `read` of every other node's counter key; the answer is their
//!   sum plus this node's `accepted_total`. One node needs no `seq-kv` call at all.
//!
//! Why the sync write: `seq-kv` may serve a read from any state between the last one this client
//! saw and the newest, so plain reads of keys this node never writes may lag forever. An
//! operation that changes the store is applied to the newest state, and from then on this
//! client is served that state or newer ones (Maelstrom's `sequential` service, and the
//! total-order argument of sequential consistency: the write is ordered after every operation
//! already applied, and this client's later reads after the write). The fresh value makes sure
//! the write really changes the store; a write of an unchanged value may be served in the past.
//! So a read reflects every `cas` that `seq-kv` had applied before the sync write arrived.
//!
//! What the checker needs: its final reads, after the partition heals and the cluster quiesces,
//! must lie between the sum of acknowledged adds and the sum of all attempted ones. Every add a
//! node accepted is in its `accepted_total` and is retried until stored (a failed or timed-out
//! flush makes the stored value unknown; the next tick re-reads the own key and tries again),
//! so after quiescence every own key holds its node's `accepted_total`, and a read, through its
//! sync write, sees all of them. Unacknowledged adds (a timed-out client) are still counted,
//! which the checker allows. No read relies on timing: freshness comes from ordering alone.
//!
//! Invariants: the value in `counter-<n>` never decreases, since every `cas` goes from a value
//! this node stored before to its current `accepted_total`, which only grows; a delayed or
//! duplicated `cas` can only apply while the key still holds its `from`, that is, in order.
//!
//! Caveats: `accepted_total` lives in memory, so a node that restarts loses adds that were
//! accepted but not yet stored (never acknowledged ones, but still attempted) and must re-read
//! its key; Maelstrom's g-counter does not restart nodes. Reads during a partition may be
//! stale or fail with `temporarily-unavailable`; only the final reads are checked.

use std::collections::{BTreeMap, VecDeque};

use serde_json::json;

use super::kv::{self, PendingCalls, Reply};
use super::{ErrorCode, Message, Outgoing, Workload, WorkloadError};

/// Most adds waiting for their flush; more are refused with `temporarily-unavailable`, which
/// tells Maelstrom they did not happen.
const WAITING_ADDS_MAX: usize = 10_000;
/// Most reads in progress at once.
const READS_MAX: usize = 1_000;
/// Most `seq-kv` calls in flight: one flush plus, per read, one call per node.
const CALLS_MAX: usize = 65_536;
/// How long an add may wait for its flush before its client is told `timeout` (0, indefinite:
/// the add stays accepted and is stored later). Well below Maelstrom's 5 s client timeout, since
/// a reply after the client gave up makes Maelstrom stop reading this node
/// ([`super::waits`]); above two call timeouts, so that one lost `cas` and its re-read still
/// fit.
pub const ADD_WAIT_MS: u64 = 2_500;

/// What a pending `seq-kv` call was for.
#[derive(Debug, Clone, PartialEq)]
enum Call {
    /// A `cas` of the own key to `to`.
    FlushCas { to: u64 },
    /// A `read` of the own key, after its stored value became unknown.
    FlushRead,
    /// The sync write that starts read `read`.
    SyncWrite { read: u64 },
    /// A read of another node's counter key on behalf of read `read`.
    CounterRead { read: u64 },
}

/// A client `read` in progress.
#[derive(Debug)]
struct PendingRead {
    request: Message,
    /// Counter reads still unanswered.
    outstanding: usize,
    /// The sum of the other nodes' keys read so far.
    others_sum: u64,
}

/// An add whose delta is accepted but not yet known to be stored.
#[derive(Debug)]
struct WaitingAdd {
    request: Message,
    /// `accepted_total` right after this add: it is stored once the own key holds this much.
    total: u64,
    /// When its client is answered `timeout` if the add is still not stored.
    deadline_ms: u64,
}

/// The g-counter workload's state on one node.
#[derive(Debug)]
pub struct GrowOnlyCounter {
    node_id: String,
    node_ids: Vec<String>,
    /// The sum of every delta this node accepted.
    accepted_total: u64,
    /// The value the own key is known to hold in `seq-kv`; `None` while unknown (before a
    /// failed or timed-out flush is resolved by a read).
    stored_total: Option<u64>,
    /// Whether a flush call (cas or read of the own key) is in flight.
    flushing: bool,
    /// Adds not yet acknowledged, in arrival order, each with `accepted_total` right after it
    /// and the time by which its client must hear something.
    waiting_adds: VecDeque<WaitingAdd>,
    /// Reads in progress, by the id of their sync write.
    reads: BTreeMap<u64, PendingRead>,
    /// The last value written to the own sync key; each read writes a larger one.
    sync_sequence: u64,
    calls: PendingCalls<Call>,
}

impl Default for GrowOnlyCounter {
    fn default() -> GrowOnlyCounter {
        GrowOnlyCounter {
            node_id: String::new(),
            node_ids: Vec::new(),
            accepted_total: 0,
            // A key that does not exist yet is created by the first cas, so 0 is a safe guess.
            stored_total: Some(0),
            flushing: false,
            waiting_adds: VecDeque::new(),
            reads: BTreeMap::new(),
            sync_sequence: 0,
            calls: PendingCalls::new(CALLS_MAX),
        }
    }
}

fn counter_key(node_id: &str) -> String {
    format!("counter-{node_id}")
}

fn unavailable(text: &str) -> WorkloadError {
    WorkloadError::new(ErrorCode::TemporarilyUnavailable, text)
}

impl GrowOnlyCounter {
    fn add(&mut self, message: &Message, now_ms: u64) -> Result<Vec<Outgoing>, WorkloadError> {
        let delta = message.field("delta")?.as_u64().ok_or_else(|| {
            WorkloadError::new(ErrorCode::MalformedRequest, "delta must be a non-negative integer")
        })?;
        if self.waiting_adds.len() >= WAITING_ADDS_MAX {
            return Err(unavailable("too many adds are waiting for seq-kv"));
        }
        self.accepted_total = self
            .accepted_total
            .checked_add(delta)
            .ok_or_else(|| WorkloadError::new(ErrorCode::Abort, "the counter would overflow"))?;
        let deadline_ms = now_ms.saturating_add(ADD_WAIT_MS);
        let waiting =
            WaitingAdd { request: message.clone(), total: self.accepted_total, deadline_ms };
        self.waiting_adds.push_back(waiting);
        // An add the stored value already covers (a delta of 0, which Maelstrom's generator
        // sends) is acknowledged now: no flush would ever be started for it, and leaving it to
        // a later add's flush would answer its client after Maelstrom gave up on it.
        let mut outgoing = match self.stored_total {
            Some(stored) if stored >= self.accepted_total => self.stored(stored),
            _ => Vec::new(),
        };
        outgoing.extend(self.flush(now_ms));
        Ok(outgoing)
    }

    /// Answers `timeout` to every add still waiting past its deadline. The add stays in
    /// `accepted_total` and will be stored, which an indefinite error allows.
    fn answer_overdue_adds(&mut self, now_ms: u64) -> Vec<Outgoing> {
        let mut answers = Vec::new();
        while self.waiting_adds.front().is_some_and(|add| add.deadline_ms <= now_ms) {
            let add = self.waiting_adds.pop_front().expect("front exists");
            let error =
                WorkloadError::new(ErrorCode::Timeout, "seq-kv has not stored this add yet");
            answers.push(error.reply_to(&add.request));
        }
        if !answers.is_empty() {
            tracing::warn!(
                adds = answers.len(),
                stored = ?self.stored_total,
                accepted = self.accepted_total,
                flushing = self.flushing,
                "adds not stored in time were answered with timeout"
            );
        }
        answers
    }

    /// Starts a flush of the own key if one is due and none is in flight.
    fn flush(&mut self, now_ms: u64) -> Vec<Outgoing> {
        if self.flushing || !self.calls.has_room_for(1) {
            return Vec::new();
        }
        let key = counter_key(&self.node_id);
        let (msg_id, outgoing, call) = match self.stored_total {
            None => {
                let (msg_id, outgoing) = kv::read(kv::SEQ_KV, &key);
                (msg_id, outgoing, Call::FlushRead)
            }
            Some(stored) if stored < self.accepted_total => {
                let to = self.accepted_total;
                let (msg_id, outgoing) = kv::cas(kv::SEQ_KV, &key, stored.into(), to.into(), true);
                (msg_id, outgoing, Call::FlushCas { to })
            }
            Some(_) => return Vec::new(),
        };
        tracing::debug!(?call, key, msg_id, "flushing the own counter key to seq-kv");
        self.calls.insert(msg_id, call, now_ms);
        self.flushing = true;
        vec![outgoing]
    }

    /// Records that the own key holds `stored` and acknowledges every add it includes.
    fn stored(&mut self, stored: u64) -> Vec<Outgoing> {
        self.stored_total = Some(stored);
        let mut acknowledgements = Vec::new();
        while self.waiting_adds.front().is_some_and(|add| add.total <= stored) {
            let add = self.waiting_adds.pop_front().expect("front exists");
            acknowledgements.push(Outgoing::reply(&add.request, json!({"type": "add_ok"})));
        }
        acknowledgements
    }

    fn read(&mut self, message: &Message, now_ms: u64) -> Result<Vec<Outgoing>, WorkloadError> {
        if self.node_ids.len() <= 1 {
            let value = self.accepted_total;
            return Ok(vec![Outgoing::reply(message, json!({"type": "read_ok", "value": value}))]);
        }
        if self.reads.len() >= READS_MAX || !self.calls.has_room_for(self.node_ids.len()) {
            return Err(unavailable("too many reads are in progress"));
        }
        self.sync_sequence += 1;
        let key = format!("sync-{}", self.node_id);
        let (msg_id, outgoing) = kv::write(kv::SEQ_KV, &key, self.sync_sequence.into());
        self.calls.insert(msg_id, Call::SyncWrite { read: msg_id }, now_ms);
        let read = PendingRead { request: message.clone(), outstanding: 0, others_sum: 0 };
        self.reads.insert(msg_id, read);
        Ok(vec![outgoing])
    }

    /// After the sync write: reads every other node's key.
    fn read_others(&mut self, read: u64, now_ms: u64) -> Vec<Outgoing> {
        let others: Vec<String> =
            self.node_ids.iter().filter(|node| **node != self.node_id).cloned().collect();
        let Some(pending) = self.reads.get_mut(&read) else { return Vec::new() };
        pending.outstanding = others.len();
        let mut outgoing = Vec::new();
        for node in others {
            let (msg_id, message) = kv::read(kv::SEQ_KV, &counter_key(&node));
            // Room for these was checked when the read started; the table only shrank since.
            self.calls.insert(msg_id, Call::CounterRead { read }, now_ms);
            outgoing.push(message);
        }
        outgoing
    }

    /// One other node's key was read as `value` (0 if it does not exist yet).
    fn counted(&mut self, read: u64, value: u64) -> Vec<Outgoing> {
        let Some(pending) = self.reads.get_mut(&read) else { return Vec::new() };
        pending.others_sum = pending.others_sum.saturating_add(value);
        pending.outstanding -= 1;
        if pending.outstanding > 0 {
            return Vec::new();
        }
        let pending = self.reads.remove(&read).expect("just looked up");
        let value = pending.others_sum.saturating_add(self.accepted_total);
        vec![Outgoing::reply(&pending.request, json!({"type": "read_ok", "value": value}))]
    }

    /// Read `read` cannot finish; its client hears `temporarily-unavailable`, which is safe for
    /// a read since it changed nothing.
    fn fail_read(&mut self, read: u64, why: &str) -> Vec<Outgoing> {
        match self.reads.remove(&read) {
            Some(pending) => vec![unavailable(why).reply_to(&pending.request)],
            None => Vec::new(),
        }
    }

    /// Resumes the call `reply` answers.
    fn resume(&mut self, call: Call, reply: Reply, now_ms: u64) -> Vec<Outgoing> {
        match (call, reply) {
            (Call::FlushCas { to }, Reply::Done) => {
                self.flushing = false;
                let mut outgoing = self.stored(to);
                outgoing.extend(self.flush(now_ms));
                outgoing
            }
            (Call::FlushRead, Reply::Value(value)) => {
                self.flushing = false;
                let mut outgoing = self.stored(value.as_u64().unwrap_or(0));
                outgoing.extend(self.flush(now_ms));
                outgoing
            }
            (Call::FlushRead, Reply::KeyDoesNotExist) => {
                self.flushing = false;
                self.stored_total = Some(0);
                self.flush(now_ms)
            }
            (Call::FlushCas { .. } | Call::FlushRead, reply) => {
                // The stored value is unknown now; the next tick reads it and tries again, so a
                // persistent failure costs one call per tick rather than a hot loop.
                tracing::debug!(?reply, "flush of the own counter key failed");
                self.flushing = false;
                self.stored_total = None;
                Vec::new()
            }
            (Call::SyncWrite { read }, Reply::Done) => self.read_others(read, now_ms),
            (Call::CounterRead { read }, Reply::Value(value)) => {
                self.counted(read, value.as_u64().unwrap_or(0))
            }
            (Call::CounterRead { read }, Reply::KeyDoesNotExist) => self.counted(read, 0),
            (Call::SyncWrite { read } | Call::CounterRead { read }, reply) => {
                self.fail_read(read, &format!("seq-kv refused a read step: {reply:?}"))
            }
        }
    }

    /// A call ran out of time: its outcome is unknown.
    fn expire(&mut self, call: Call) -> Vec<Outgoing> {
        match call {
            Call::FlushCas { .. } | Call::FlushRead => {
                self.flushing = false;
                self.stored_total = None;
                Vec::new()
            }
            Call::SyncWrite { read } | Call::CounterRead { read } => {
                self.fail_read(read, "seq-kv did not answer in time")
            }
        }
    }
}

impl Workload for GrowOnlyCounter {
    fn init(&mut self, node_id: &str, node_ids: &[String]) -> Result<(), WorkloadError> {
        self.node_id = node_id.to_string();
        self.node_ids = node_ids.to_vec();
        Ok(())
    }

    fn handle(&mut self, message: &Message, now_ms: u64) -> Result<Vec<Outgoing>, WorkloadError> {
        if let Some(call) = self.calls.take_reply(message) {
            return Ok(self.resume(call, Reply::of(message), now_ms));
        }
        match message.kind() {
            "add" => self.add(message, now_ms),
            "read" => self.read(message, now_ms),
            // A reply to a call that already expired: its caller has moved on.
            _ if message.in_reply_to().is_some() => Ok(Vec::new()),
            other => Err(WorkloadError::new(
                ErrorCode::NotSupported,
                format!("g-counter does not support {other:?}"),
            )),
        }
    }

    fn tick(&mut self, now_ms: u64) -> Vec<Outgoing> {
        let mut outgoing = Vec::new();
        for call in self.calls.take_expired(now_ms) {
            outgoing.extend(self.expire(call));
        }
        outgoing.extend(self.answer_overdue_adds(now_ms));
        outgoing.extend(self.flush(now_ms));
        outgoing
    }

    fn waiting_clients(&self, now_ms: u64) -> Option<String> {
        let oldest = self.waiting_adds.front()?;
        let waited_ms = now_ms.saturating_sub(oldest.deadline_ms.saturating_sub(ADD_WAIT_MS));
        Some(format!(
            "{} adds waiting for seq-kv to store counter-{} (oldest {waited_ms} ms, stored {:?} \
             of {}, flush in flight: {}), {} reads in progress",
            self.waiting_adds.len(),
            self.node_id,
            self.stored_total,
            self.accepted_total,
            self.flushing,
            self.reads.len()
        ))
    }
}

#[cfg(test)]
mod tests {
    use crate::maelstrom::kv::test_messages::{message, reply_to};
    use serde_json::Value;

    use super::*;

    fn node(count: usize) -> GrowOnlyCounter {
        let ids: Vec<String> = (1..=count).map(|number| format!("n{number}")).collect();
        let mut node = GrowOnlyCounter::default();
        node.init("n1", &ids).unwrap();
        node
    }

    #[test]
    fn an_add_is_acknowledged_only_after_seq_kv_stores_it() {
        let mut node = node(3);
        let sent = node.handle(&message("c1", json!({"type": "add", "msg_id": 1, "delta": 5})), 0);
        let sent = sent.unwrap();
        assert_eq!(sent.len(), 1, "one cas and no add_ok yet: {sent:?}");
        assert_eq!(sent[0].body["type"], "cas");
        assert_eq!(
            (sent[0].body["from"].clone(), sent[0].body["to"].clone()),
            (0.into(), 5.into())
        );
        let more = node.handle(&message("c2", json!({"type": "add", "msg_id": 2, "delta": 2})), 0);
        assert!(more.unwrap().is_empty(), "a second add waits for the flush in flight");
        let acked = node.handle(&reply_to(&sent[0], json!({"type": "cas_ok"})), 1).unwrap();
        assert_eq!(acked[0].body["type"], "add_ok");
        assert_eq!(acked[0].body["in_reply_to"], 1);
        assert_eq!(acked[1].body["type"], "cas", "the second add flushes next: {acked:?}");
        assert_eq!(
            (acked[1].body["from"].clone(), acked[1].body["to"].clone()),
            (5.into(), 7.into())
        );
    }

    #[test]
    fn an_add_of_zero_on_an_idle_node_is_acknowledged_at_once() {
        let mut node = node(3);
        let sent = node.handle(&message("c1", json!({"type": "add", "msg_id": 1, "delta": 0})), 0);
        let sent = sent.unwrap();
        assert_eq!(sent.len(), 1, "an add_ok and no cas: {sent:?}");
        assert_eq!(
            (sent[0].body["type"].clone(), sent[0].body["in_reply_to"].clone()),
            ("add_ok".into(), 1.into())
        );
    }

    #[test]
    fn an_add_whose_flush_never_returns_is_answered_timeout_before_maelstrom_gives_up() {
        let mut node = node(3);
        let cas = node.handle(&message("c1", json!({"type": "add", "msg_id": 1, "delta": 2})), 0);
        assert_eq!(cas.unwrap()[0].body["type"], "cas");
        // The cas is lost; the call expires and the re-read is lost too.
        let mut answers = Vec::new();
        for now_ms in (100..=ADD_WAIT_MS).step_by(100) {
            answers.extend(node.tick(now_ms).into_iter().filter(|out| out.dest == "c1"));
        }
        assert_eq!(answers.len(), 1, "{answers:?}");
        assert_eq!(
            (answers[0].body["type"].clone(), answers[0].body["code"].clone()),
            ("error".into(), 0.into())
        );
        const { assert!(ADD_WAIT_MS < crate::maelstrom::waits::CLIENT_REPLY_DEADLINE_MS) };
    }

    #[test]
    fn a_failed_flush_rereads_the_own_key_and_retries_from_there() {
        let mut node = node(2);
        let sent = node
            .handle(&message("c1", json!({"type": "add", "msg_id": 1, "delta": 3})), 0)
            .unwrap();
        let refusal = json!({"type": "error", "code": 22, "text": "current value 1 is not 0"});
        assert!(node.handle(&reply_to(&sent[0], refusal), 1).unwrap().is_empty());
        let reread = node.tick(100);
        assert_eq!(reread[0].body["type"], "read", "{reread:?}");
        assert_eq!(reread[0].body["key"], "counter-n1");
        let retry = node.handle(&reply_to(&reread[0], json!({"type": "read_ok", "value": 1})), 101);
        let retry = retry.unwrap();
        assert_eq!(
            (retry[0].body["from"].clone(), retry[0].body["to"].clone()),
            (1.into(), 3.into())
        );
    }

    #[test]
    fn a_read_writes_its_sync_key_before_reading_the_others() {
        let mut node = node(3);
        let sync = node.handle(&message("c1", json!({"type": "read", "msg_id": 9})), 0).unwrap();
        assert_eq!(sync.len(), 1, "nothing is read before the sync write: {sync:?}");
        assert_eq!(
            (sync[0].body["type"].clone(), sync[0].body["key"].clone()),
            ("write".into(), "sync-n1".into())
        );
        let reads = node.handle(&reply_to(&sync[0], json!({"type": "write_ok"})), 1).unwrap();
        let keys: Vec<&Value> = reads.iter().map(|read| &read.body["key"]).collect();
        assert_eq!(keys, [&json!("counter-n2"), &json!("counter-n3")]);
        assert!(node
            .handle(&reply_to(&reads[0], json!({"type": "read_ok", "value": 4})), 2)
            .unwrap()
            .is_empty());
        let missing = json!({"type": "error", "code": 20, "text": "key does not exist"});
        let answer = node.handle(&reply_to(&reads[1], missing), 2).unwrap();
        assert_eq!(answer[0].body["value"], 4, "a missing key counts as 0: {answer:?}");
        let second = node.handle(&message("c1", json!({"type": "read", "msg_id": 10})), 3).unwrap();
        assert!(
            second[0].body["value"].as_u64() > sync[0].body["value"].as_u64(),
            "sync values grow"
        );
    }
}
