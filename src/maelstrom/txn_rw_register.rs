//! The `txn-rw-register` workload (Gossip Glomers #6a–6c): a key/value store of integer
//! registers that runs transactions, totally available and read committed, on one node or many,
//! through network partitions.
//!
//! A request `txn {txn: [["r", key, null], ["w", key, value], ...]}` is answered with
//! `txn_ok {txn: [...]}`, the same micro-operations with each read's value filled in (`null`
//! for a key never written).
//!
//! ## How a transaction runs
//!
//! 1. It executes on the node that received it, in one step of the single-threaded workload,
//!    so no other transaction interleaves with it there. A read sees the transaction's own
//!    latest write to the key, else the node's register.
//! 2. If it wrote anything, it gets a [`Version`]: the node's Lamport clock plus one, paired with
//!    the node's number. The clock is never below the Lamport time of any version the node
//!    stores, so the new version is greater than the version of every value the transaction
//!    read.
//! 3. Only its last write to each key counts: those writes are installed in the node's registers
//!    and become owed to every other node.
//! 4. Each tick sends every peer a `replicate` with the owed writes (never sent, or sent
//!    [`Config::gossip_retry_ms`] ago); the peer applies them last-writer-wins by version, raises
//!    its clock to their Lamport time, and answers `replicate_ok` naming what it applied. Only
//!    then do they stop being owed, so a partition only delays replication.
//!
//! The transaction is never aborted and the client is answered at once: no step waits for
//! another node, which is what "totally available" asks.
//!
//! ## Why this is read committed (Adya's G0, G1a, G1b and G1c cannot happen)
//!
//! - **G1a (aborted read)**: no transaction aborts, so there is nothing aborted to read.
//! - **G1b (intermediate read)**: only a transaction's last write to a key is installed or
//!   replicated; earlier writes live only in the transaction's own scratch map, so no other
//!   transaction can observe them.
//! - **G0 (write cycle)**: every node orders the writes to a key by version (last writer wins),
//!   and all writes of one transaction carry the same version. A write-write edge `T1 → T2`
//!   therefore means `version(T1) < version(T2)`, and a cycle would need a version smaller than
//!   itself.
//! - **G1c (circular information flow)**: a write-read edge `T1 → T2` (T2 read what T1 wrote)
//!   also means `version(T1) < version(T2)`, by step 2. Every edge of a G1c cycle increases
//!   the version, so there is no cycle.
//!
//! Every node applies the same set of writes with the same total order per key, so once
//! replication has caught up (a partition healed) every node holds the same registers.
//!
//! ## Invariants
//!
//! - `clock >= version.lamport` of every register stored.
//! - An entry owed to a peer is the newest local write of that key; a newer local write of the
//!   key replaces it, since the peer would discard the older one anyway.
//!
//! ## Caveats
//!
//! - Writes are replicated per key, not as whole transactions: a batch cut by
//!   [`Config::gossip_batch_values_max`] may make a transaction's writes visible on a peer over
//!   two ticks (a fractured read). Read committed allows that; read atomic would not.
//! - A newer version wins even if its write came later in real time on another node's clock:
//!   this is not linearizable, and reads may be stale (both allowed by read committed).
//! - A node refuses a transaction that would create a key beyond [`Config::txn_keys_max`]
//!   with `abort` (14, definite). Writes replicated from peers are always applied, so the
//!   registers hold at most node count × `txn_keys_max` keys.
//! - Nothing is durable; every node sends to every other node (no relaying), which suits
//!   Maelstrom's small clusters.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{Config, ErrorCode, Message, Outgoing, Workload, WorkloadError};

/// A register's key and value: Maelstrom's workload uses integers for both.
pub type Key = i64;
/// See `Key`.
pub type RegisterValue = i64;

/// The version of a transaction's writes: its Lamport time, then its node's number so that two
/// nodes never issue the same version. Ordered lexicographically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    /// The Lamport time of the transaction.
    pub lamport: u64,
    /// The number of the node that issued it.
    pub node: u64,
}

/// One register: its value and the version of the transaction that wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Register {
    version: Version,
    value: RegisterValue,
}

/// A local write owed to a peer, and when it was last sent (if ever).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Owed {
    register: Register,
    last_sent_ms: Option<u64>,
}

/// One micro-operation of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Read { key: Key },
    Write { key: Key, value: RegisterValue },
}

/// The txn-rw-register workload's state on one node.
pub struct TxnRwRegister {
    config: Config,
    /// This node's position in `node_ids`: the tie-breaker of its versions.
    node: u64,
    /// Every register this node knows, by key.
    registers: BTreeMap<Key, Register>,
    /// The Lamport clock: at least the Lamport time of every stored version.
    clock: u64,
    /// Per other node, the local writes it has not acknowledged, by key.
    owed: BTreeMap<String, BTreeMap<Key, Owed>>,
}

impl TxnRwRegister {
    /// A node with empty registers; its id comes with Maelstrom's `init`.
    pub fn new(config: Config) -> TxnRwRegister {
        TxnRwRegister {
            config,
            node: 0,
            registers: BTreeMap::new(),
            clock: 0,
            owed: BTreeMap::new(),
        }
    }

    /// Runs one transaction (steps 1–3 of the module doc); returns the completed operations.
    fn execute(&mut self, operations: &[Operation]) -> Result<Vec<Value>, WorkloadError> {
        let mut own_writes: BTreeMap<Key, RegisterValue> = BTreeMap::new();
        let mut completed = Vec::with_capacity(operations.len());
        for operation in operations {
            match *operation {
                Operation::Read { key } => {
                    let value = own_writes
                        .get(&key)
                        .copied()
                        .or_else(|| self.registers.get(&key).map(|register| register.value));
                    completed.push(json!(["r", key, value]));
                }
                Operation::Write { key, value } => {
                    own_writes.insert(key, value);
                    completed.push(json!(["w", key, value]));
                }
            }
        }
        if own_writes.is_empty() {
            return Ok(completed);
        }
        let new_keys = own_writes.keys().filter(|key| !self.registers.contains_key(key)).count();
        if self.registers.len() + new_keys > self.config.txn_keys_max {
            return Err(WorkloadError::new(
                ErrorCode::Abort,
                format!("this node already holds txn_keys_max = {} keys", self.config.txn_keys_max),
            ));
        }
        self.clock += 1;
        let version = Version { lamport: self.clock, node: self.node };
        for (key, value) in own_writes {
            let register = Register { version, value };
            self.registers.insert(key, register);
            for owed in self.owed.values_mut() {
                owed.insert(key, Owed { register, last_sent_ms: None });
            }
        }
        Ok(completed)
    }

    /// Applies replicated writes last-writer-wins, keeping the clock's invariant.
    fn apply(&mut self, writes: &[ReplicatedWrite]) {
        for &(key, lamport, node, value) in writes {
            let version = Version { lamport, node };
            self.clock = self.clock.max(lamport);
            let newer = self.registers.get(&key).is_none_or(|register| register.version < version);
            if newer {
                self.registers.insert(key, Register { version, value });
            }
        }
    }

    /// Drops owed writes the peer acknowledged, unless a newer write of the key replaced them.
    fn acknowledge(&mut self, peer: &str, acknowledged: &[ReplicatedWrite]) {
        let Some(owed) = self.owed.get_mut(peer) else { return };
        for &(key, lamport, node, _) in acknowledged {
            if owed
                .get(&key)
                .is_some_and(|entry| entry.register.version == Version { lamport, node })
            {
                owed.remove(&key);
            }
        }
    }
}

/// A write on the wire: `[key, lamport, node, value]`.
type ReplicatedWrite = (Key, u64, u64, RegisterValue);

fn malformed(text: &str) -> WorkloadError {
    WorkloadError::new(ErrorCode::MalformedRequest, text)
}

/// Parses `txn`'s micro-operations: `["r", key, null]` or `["w", key, value]`.
fn parse_operations(txn: &Value) -> Result<Vec<Operation>, WorkloadError> {
    let expected = "txn must be a list of [\"r\", key, null] or [\"w\", key, value]";
    let items = txn.as_array().ok_or_else(|| malformed(expected))?;
    items
        .iter()
        .map(|item| {
            let parts = item.as_array().filter(|parts| parts.len() == 3);
            let parts = parts.ok_or_else(|| malformed(expected))?;
            let key = parts[1].as_i64().ok_or_else(|| malformed("keys must be integers"))?;
            match parts[0].as_str() {
                Some("r") => Ok(Operation::Read { key }),
                Some("w") => {
                    let value =
                        parts[2].as_i64().ok_or_else(|| malformed("values must be integers"))?;
                    Ok(Operation::Write { key, value })
                }
                _ => Err(malformed(expected)),
            }
        })
        .collect()
}

fn replicated_writes(message: &Message) -> Result<Vec<ReplicatedWrite>, WorkloadError> {
    serde_json::from_value(message.field("writes")?.clone())
        .map_err(|_| malformed("writes must be a list of [key, lamport, node, value]"))
}

impl Workload for TxnRwRegister {
    fn init(&mut self, node_id: &str, node_ids: &[String]) -> Result<(), WorkloadError> {
        let position = node_ids
            .iter()
            .position(|id| id == node_id)
            .ok_or_else(|| malformed("node_ids does not list node_id"))?;
        self.node = position as u64;
        self.owed = node_ids
            .iter()
            .filter(|id| *id != node_id)
            .map(|id| (id.clone(), BTreeMap::new()))
            .collect();
        Ok(())
    }

    fn handle(&mut self, message: &Message, _now_ms: u64) -> Result<Vec<Outgoing>, WorkloadError> {
        let reply = match message.kind() {
            "txn" => {
                let operations = parse_operations(message.field("txn")?)?;
                let completed = self.execute(&operations)?;
                json!({"type": "txn_ok", "txn": completed})
            }
            "replicate" => {
                let writes = replicated_writes(message)?;
                self.apply(&writes);
                json!({"type": "replicate_ok", "writes": writes})
            }
            "replicate_ok" => {
                let writes = replicated_writes(message)?;
                self.acknowledge(&message.src, &writes);
                return Ok(Vec::new());
            }
            other => {
                return Err(WorkloadError::new(
                    ErrorCode::NotSupported,
                    format!("txn-rw-register does not support {other:?}"),
                ))
            }
        };
        Ok(vec![Outgoing::reply(message, reply)])
    }

    fn tick(&mut self, now_ms: u64) -> Vec<Outgoing> {
        let retry_ms = self.config.gossip_retry_ms;
        let mut outgoing = Vec::new();
        for (peer, owed) in &mut self.owed {
            let due: Vec<ReplicatedWrite> = owed
                .iter_mut()
                .filter(|(_, entry)| {
                    entry
                        .last_sent_ms
                        .is_none_or(|sent_ms| now_ms.saturating_sub(sent_ms) >= retry_ms)
                })
                .take(self.config.gossip_batch_values_max)
                .map(|(&key, entry)| {
                    entry.last_sent_ms = Some(now_ms);
                    let Register { version, value } = entry.register;
                    (key, version.lamport, version.node, value)
                })
                .collect();
            if !due.is_empty() {
                let body = json!({"type": "replicate", "writes": due});
                let body = body.as_object().expect("json! of an object literal is an object");
                outgoing.push(Outgoing { dest: peer.clone(), body: body.clone() });
            }
        }
        outgoing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(src: &str, body: Value) -> Message {
        Message { src: src.into(), dest: "n1".into(), body: body.as_object().unwrap().clone() }
    }

    fn node(node_id: &str) -> TxnRwRegister {
        let mut node = TxnRwRegister::new(Config::default());
        node.init(node_id, &["n1".to_string(), "n2".to_string()]).unwrap();
        node
    }

    fn txn(node: &mut TxnRwRegister, operations: Value) -> Value {
        let reply = node
            .handle(&request("c1", json!({"type": "txn", "msg_id": 1, "txn": operations})), 0)
            .unwrap();
        reply[0].body["txn"].clone()
    }

    /// Delivers every due replicate from `from` to `to`, and the acknowledgements back.
    fn replicate(from: &mut TxnRwRegister, to: &mut TxnRwRegister, now_ms: u64) -> usize {
        let batches = from.tick(now_ms);
        for batch in &batches {
            let message =
                Message { src: "x".into(), dest: batch.dest.clone(), body: batch.body.clone() };
            let replies = to.handle(&message, now_ms).unwrap();
            let ack = Message {
                src: batch.dest.clone(),
                dest: "x".into(),
                body: replies[0].body.clone(),
            };
            from.handle(&ack, now_ms).unwrap();
        }
        batches.len()
    }

    #[test]
    fn reads_see_the_transactions_own_last_write_and_others_see_only_the_final_one() {
        let mut n1 = node("n1");
        let completed =
            txn(&mut n1, json!([["r", 1, null], ["w", 1, 10], ["r", 1, null], ["w", 1, 11]]));
        assert_eq!(completed, json!([["r", 1, null], ["w", 1, 10], ["r", 1, 10], ["w", 1, 11]]));
        assert_eq!(txn(&mut n1, json!([["r", 1, null]])), json!([["r", 1, 11]]));
    }

    #[test]
    fn replication_is_last_writer_wins_by_version_and_stops_once_acknowledged() {
        let (mut n1, mut n2) = (node("n1"), node("n2"));
        txn(&mut n1, json!([["w", 1, 10]]));
        // n2 read nothing yet, so its write has the same Lamport time; n2 (node 1) breaks the tie.
        txn(&mut n2, json!([["w", 1, 20]]));
        assert_eq!(replicate(&mut n1, &mut n2, 0), 1);
        assert_eq!(replicate(&mut n2, &mut n1, 0), 1);
        assert_eq!(txn(&mut n1, json!([["r", 1, null]])), json!([["r", 1, 20]]));
        assert_eq!(txn(&mut n2, json!([["r", 1, null]])), json!([["r", 1, 20]]));
        assert_eq!(replicate(&mut n1, &mut n2, 10_000), 0, "nothing owed once acknowledged");
        // n1 has now seen Lamport time 1, so its next write outranks n2's.
        txn(&mut n1, json!([["w", 1, 30]]));
        replicate(&mut n1, &mut n2, 10_000);
        assert_eq!(txn(&mut n2, json!([["r", 1, null]])), json!([["r", 1, 30]]));
    }

    #[test]
    fn an_unacknowledged_write_is_sent_again_after_the_retry_interval() {
        let mut n1 = node("n1");
        txn(&mut n1, json!([["w", 5, 1]]));
        assert_eq!(n1.tick(0).len(), 1);
        assert!(n1.tick(100).is_empty(), "no resend before gossip_retry_ms");
        assert_eq!(n1.tick(500).len(), 1, "resent after gossip_retry_ms without an ack");
    }

    #[test]
    fn malformed_transactions_are_rejected_with_code_12() {
        let mut n1 = node("n1");
        let request = request("c1", json!({"type": "txn", "msg_id": 1, "txn": [["x", 1, 2]]}));
        let error = n1.handle(&request, 0).unwrap_err();
        assert_eq!(error.code, ErrorCode::MalformedRequest);
    }
}
