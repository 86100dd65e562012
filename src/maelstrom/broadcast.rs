//! The `broadcast` workload: every value a client `broadcast`s reaches every node, and `read`
//! returns all the values this node has seen (`messages`).
//!
//! Nodes gossip along a spanning tree of their own (see "Topology" below), or, when
//! [`Config::broadcast_tree_fanout`] is 0, along the `topology` Maelstrom sends (each node takes
//! its own neighbour list; before a `topology` arrives, every other node is a neighbour).
//! For each neighbour a node
//! keeps the values it owes it: a value is owed to every neighbour except the one it came from.
//! On each tick, owed values that were never sent, or were sent more than
//! [`Config::gossip_retry_ms`] ago, go out in one `gossip` message (at most
//! [`Config::gossip_batch_values_max`] values). The neighbour answers `gossip_ok` listing the
//! values it received, and only then are they no longer owed.
//!
//! ## Topology
//!
//! Maelstrom's default grid makes a value cross many hops and many redundant edges. Instead,
//! node `i` of `node_ids` (same list, same order, on every node) takes node `(i - 1) / fanout`
//! as its parent and nodes `i * fanout + 1 ..= i * fanout + fanout` as its children. With the
//! default fanout of 32 and up to 33 nodes this is a star: a value goes leaf → hub → every
//! leaf, two hops. Per tick the hub sends one batch to each leaf that is owed something and
//! each leaf one batch to the hub, each acknowledged once, so the message count grows with the
//! number of ticks, not of values; the tick interval trades latency for messages
//! (docs/maelstrom.md has measurements).
//!
//! Invariant: a value stays owed to a neighbour until that neighbour acknowledged it, so a
//! partition only delays delivery: once it heals, retries deliver everything, hop by hop.
//!
//! Caveats: the set of values grows without bound (the workload asks every node to keep every
//! value); values are integers, as in Maelstrom's workload; a value is never forwarded back to
//! the node it came from, which is enough on a tree and harmless on a graph with cycles. On the
//! tree, a node cut off from its parent delays every value that must pass through it until the
//! partition heals (nothing routes around it), and the hub carries most of the traffic.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use super::{Config, ErrorCode, Message, Outgoing, Workload, WorkloadError};

/// When a value owed to a neighbour was last sent to it, if ever.
type LastSentMs = Option<u64>;

/// The broadcast workload's state on one node.
pub struct Broadcast {
    config: Config,
    node_id: String,
    /// Every value this node has seen, in order (so `read` is deterministic).
    values: BTreeSet<u64>,
    /// Per neighbour, the values it has not acknowledged yet.
    owed: BTreeMap<String, BTreeMap<u64, LastSentMs>>,
}

impl Broadcast {
    /// A node that knows no value yet; its id comes with Maelstrom's `init`.
    pub fn new(config: Config) -> Broadcast {
        Broadcast { config, node_id: String::new(), values: BTreeSet::new(), owed: BTreeMap::new() }
    }

    /// Records values; those that are new become owed to every neighbour but `from`.
    fn learn(&mut self, values: impl IntoIterator<Item = u64>, from: &str) {
        for value in values {
            if self.values.insert(value) {
                for (neighbour, owed) in &mut self.owed {
                    if neighbour != from {
                        owed.insert(value, None);
                    }
                }
            }
        }
    }

    /// Replaces the neighbours. A value owed to a neighbour that stays is still owed; a new
    /// neighbour is owed everything, since it may have missed it all.
    fn set_neighbours(&mut self, neighbours: Vec<String>) {
        let mut owed = BTreeMap::new();
        for neighbour in neighbours.into_iter().filter(|neighbour| *neighbour != self.node_id) {
            let values = self
                .owed
                .remove(&neighbour)
                .unwrap_or_else(|| self.values.iter().map(|&value| (value, None)).collect());
            owed.insert(neighbour, values);
        }
        self.owed = owed;
    }
}

/// `node_id`'s parent and children in the `fanout`-ary tree laid over `node_ids` in order.
fn tree_neighbours(
    node_id: &str,
    node_ids: &[String],
    fanout: usize,
) -> Result<Vec<String>, WorkloadError> {
    let position = node_ids.iter().position(|id| id == node_id).ok_or_else(|| {
        WorkloadError::new(ErrorCode::MalformedRequest, "node_ids does not list node_id")
    })?;
    let parent = position.checked_sub(1).map(|above| above / fanout);
    let first_child = position.saturating_mul(fanout).saturating_add(1);
    let children = first_child..first_child.saturating_add(fanout).min(node_ids.len());
    Ok(parent.into_iter().chain(children).map(|index| node_ids[index].clone()).collect())
}

fn integers(value: &Value, field: &str) -> Result<Vec<u64>, WorkloadError> {
    serde_json::from_value(value.clone()).map_err(|_| {
        WorkloadError::new(
            ErrorCode::MalformedRequest,
            format!("{field} must be a list of integers"),
        )
    })
}

impl Workload for Broadcast {
    fn init(&mut self, node_id: &str, node_ids: &[String]) -> Result<(), WorkloadError> {
        self.node_id = node_id.to_string();
        let neighbours = match self.config.broadcast_tree_fanout {
            0 => node_ids.to_vec(),
            fanout => tree_neighbours(node_id, node_ids, fanout)?,
        };
        self.set_neighbours(neighbours);
        Ok(())
    }

    fn handle(&mut self, message: &Message, _now_ms: u64) -> Result<Vec<Outgoing>, WorkloadError> {
        let reply = match message.kind() {
            "broadcast" => {
                let value = message.field("message")?.as_u64().ok_or_else(|| {
                    WorkloadError::new(ErrorCode::MalformedRequest, "message must be an integer")
                })?;
                self.learn([value], &message.src);
                json!({"type": "broadcast_ok"})
            }
            "read" => json!({"type": "read_ok", "messages": self.values}),
            "topology" => {
                let topology: BTreeMap<String, Vec<String>> =
                    serde_json::from_value(message.field("topology")?.clone()).map_err(|_| {
                        WorkloadError::new(
                            ErrorCode::MalformedRequest,
                            "topology must map nodes to lists",
                        )
                    })?;
                // With a tree of our own, Maelstrom's suggestion is acknowledged and ignored.
                if self.config.broadcast_tree_fanout == 0 {
                    let neighbours = topology.get(&self.node_id).cloned().unwrap_or_default();
                    self.set_neighbours(neighbours);
                }
                json!({"type": "topology_ok"})
            }
            "gossip" => {
                let values = integers(message.field("messages")?, "messages")?;
                self.learn(values.iter().copied(), &message.src);
                json!({"type": "gossip_ok", "messages": values})
            }
            "gossip_ok" => {
                let values = integers(message.field("messages")?, "messages")?;
                if let Some(owed) = self.owed.get_mut(&message.src) {
                    for value in values {
                        owed.remove(&value);
                    }
                }
                return Ok(Vec::new());
            }
            other => {
                return Err(WorkloadError::new(
                    ErrorCode::NotSupported,
                    format!("broadcast does not support {other:?}"),
                ))
            }
        };
        Ok(vec![Outgoing::reply(message, reply)])
    }

    fn tick(&mut self, now_ms: u64) -> Vec<Outgoing> {
        let mut outgoing = Vec::new();
        for (neighbour, owed) in &mut self.owed {
            let due: Vec<u64> = owed
                .iter_mut()
                .filter(|(_, last_sent_ms)| {
                    last_sent_ms.is_none_or(|sent_ms| {
                        now_ms.saturating_sub(sent_ms) >= self.config.gossip_retry_ms
                    })
                })
                .take(self.config.gossip_batch_values_max)
                .map(|(&value, last_sent_ms)| {
                    *last_sent_ms = Some(now_ms);
                    value
                })
                .collect();
            if !due.is_empty() {
                outgoing.push(Outgoing {
                    dest: neighbour.clone(),
                    body: json!({"type": "gossip", "messages": due})
                        .as_object()
                        .expect("an object")
                        .clone(),
                });
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

    fn node_in_a_line() -> Broadcast {
        let config = Config { broadcast_tree_fanout: 0, ..Config::default() };
        let mut node = Broadcast::new(config);
        let ids: Vec<String> = ["n1", "n2", "n3"].map(String::from).to_vec();
        node.init("n2", &ids).unwrap();
        let topology = json!({"type": "topology", "msg_id": 1,
            "topology": {"n1": ["n2"], "n2": ["n1", "n3"], "n3": ["n2"]}});
        node.handle(&request("c1", topology), 0).unwrap();
        node
    }

    #[test]
    fn a_value_is_resent_until_acknowledged_and_not_after() {
        let mut node = node_in_a_line();
        node.handle(&request("n1", json!({"type": "gossip", "msg_id": 2, "messages": [7]})), 0)
            .unwrap();
        let first = node.tick(0);
        assert_eq!(first.len(), 1, "gossip goes to n3 only, not back to n1: {first:?}");
        assert_eq!(first[0].dest, "n3");
        assert!(node.tick(100).is_empty(), "no resend before gossip_retry_ms");
        assert_eq!(node.tick(500).len(), 1, "resent after gossip_retry_ms without an ack");
        node.handle(&request("n3", json!({"type": "gossip_ok", "messages": [7]})), 500).unwrap();
        assert!(node.tick(5_000).is_empty(), "nothing owed once acknowledged");
    }

    #[test]
    fn the_tree_links_each_node_to_its_parent_and_children_only() {
        let ids: Vec<String> = (1..=7).map(|number| format!("n{number}")).collect();
        assert_eq!(tree_neighbours("n1", &ids, 2).unwrap(), ["n2", "n3"]);
        assert_eq!(tree_neighbours("n2", &ids, 2).unwrap(), ["n1", "n4", "n5"]);
        assert_eq!(tree_neighbours("n7", &ids, 2).unwrap(), ["n3"]);
        assert_eq!(tree_neighbours("n5", &ids, 32).unwrap(), ["n1"], "a star around n1");
    }

    #[test]
    fn with_its_own_tree_a_node_ignores_maelstroms_topology() {
        let mut node = Broadcast::new(Config { broadcast_tree_fanout: 32, ..Config::default() });
        let ids: Vec<String> = ["n1", "n2", "n3"].map(String::from).to_vec();
        node.init("n2", &ids).unwrap();
        let topology = json!({"type": "topology", "msg_id": 1, "topology": {"n2": ["n3"]}});
        node.handle(&request("c1", topology), 0).unwrap();
        node.handle(&request("c1", json!({"type": "broadcast", "msg_id": 2, "message": 5})), 0)
            .unwrap();
        let sent: Vec<String> = node.tick(0).into_iter().map(|message| message.dest).collect();
        assert_eq!(sent, ["n1"], "a leaf of the star sends to the hub only");
    }
}
