//! Stand-ins for Maelstrom's key-value services, `lin-kv` and `seq-kv`, for the harness in
//! tests/maelstrom/. Both answer `read`, `write` and `cas` (with `create_if_not_exists`) and use
//! Maelstrom's error codes: 20 key-does-not-exist, 22 precondition-failed.
//!
//! `lin-kv` is one map, changed in the order requests arrive: linearizable, because the harness
//! hands it one request at a time and answers at once.
//!
//! `seq-kv` is only sequentially consistent, like Maelstrom's (src/maelstrom/service.clj): it
//! keeps the history of states, and remembers per client the newest state that client saw. A
//! request that would not change the store runs on **that** state, the stalest one the client
//! may legally see; one that would change it runs on the newest state, which becomes the
//! client's. Maelstrom picks a random state in between; always taking the stalest makes the
//! harness deterministic and maximally unkind, so a workload that expects plain reads to catch
//! up with other clients' writes fails here every time instead of now and then.
//! [`SequentialKv::like_maelstrom`] picks at random as Maelstrom does (from a seed), so a
//! client sees stale and fresh states in turn, and a cas that fails on a stale state is
//! answered 22 without moving the client forward.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde_json::{json, Value};

/// A key-value map as the services hold it: keys by their JSON text, so any JSON key works.
type Store = BTreeMap<String, Value>;

/// Most past states `seq-kv` keeps. A client whose state fell out of the window is moved to the
/// oldest kept one, which is newer and so still legal.
const SEQ_KV_STATES_MAX: usize = 1024;

/// Runs one request on `store`; returns the reply body (without `in_reply_to`).
fn apply(store: &mut Store, body: &Value) -> Value {
    let key = body["key"].to_string();
    match body["type"].as_str().unwrap_or("") {
        "read" => match store.get(&key) {
            Some(value) => json!({"type": "read_ok", "value": value}),
            None => json!({"type": "error", "code": 20, "text": "key does not exist"}),
        },
        "write" => {
            store.insert(key, body["value"].clone());
            json!({"type": "write_ok"})
        }
        "cas" => match store.get(&key) {
            Some(current) if *current == body["from"] => {
                store.insert(key, body["to"].clone());
                json!({"type": "cas_ok"})
            }
            Some(current) => json!({"type": "error", "code": 22,
                "text": format!("current value {current} is not {}", body["from"])}),
            None if body["create_if_not_exists"] == true => {
                store.insert(key, body["to"].clone());
                json!({"type": "cas_ok"})
            }
            None => json!({"type": "error", "code": 20, "text": "key does not exist"}),
        },
        other => json!({"type": "error", "code": 10, "text": format!("unsupported {other}")}),
    }
}

/// Maelstrom's `lin-kv`.
#[derive(Default)]
pub struct LinearizableKv {
    store: Store,
}

impl LinearizableKv {
    pub fn handle(&mut self, body: &Value) -> Value {
        apply(&mut self.store, body)
    }
}

/// Maelstrom's `seq-kv`, always serving the stalest legal state.
pub struct SequentialKv {
    /// Past states, oldest first; the last is the newest.
    states: VecDeque<Store>,
    /// The history index of `states[0]`.
    first_index: usize,
    /// Per client, the history index of the newest state it has seen.
    seen: HashMap<String, usize>,
    /// With a generator (xorshift64 state), the state a non-changing request runs on is drawn
    /// at random between the client's and the newest, as Maelstrom does; without, the stalest.
    random: Option<u64>,
}

impl Default for SequentialKv {
    fn default() -> SequentialKv {
        SequentialKv {
            states: VecDeque::from([Store::new()]),
            first_index: 0,
            seen: HashMap::new(),
            random: None,
        }
    }
}

impl SequentialKv {
    /// A `seq-kv` that picks the state at random, as Maelstrom's does, from `seed` (not 0).
    pub fn like_maelstrom(seed: u64) -> SequentialKv {
        SequentialKv { random: Some(seed.max(1)), ..SequentialKv::default() }
    }

    pub fn handle(&mut self, client: &str, body: &Value) -> Value {
        let newest = self.first_index + self.states.len() - 1;
        let mut index = self.seen.get(client).copied().unwrap_or(0).max(self.first_index);
        if let Some(state) = &mut self.random {
            *state ^= *state << 13;
            *state ^= *state >> 7;
            *state ^= *state << 17;
            index += (*state % (newest - index + 1) as u64) as usize;
        }
        let mut trial = self.states[index - self.first_index].clone();
        let reply = apply(&mut trial, body);
        if trial == self.states[index - self.first_index] {
            // Nothing changed, so running on a past state keeps the one total order intact.
            self.seen.insert(client.to_string(), index);
            return reply;
        }
        let mut next = self.states[newest - self.first_index].clone();
        let reply = apply(&mut next, body);
        self.states.push_back(next);
        if self.states.len() > SEQ_KV_STATES_MAX {
            self.states.pop_front();
            self.first_index += 1;
        }
        self.seen.insert(client.to_string(), newest + 1);
        reply
    }
}
