//! The `unique-ids` workload: `generate` is answered with `generate_ok` and an `id` no other
//! request, on any node, ever gets. Totally available: no node talks to another.
//!
//! An id is a Snowflake-style 64-bit number, from the high bit down:
//!
//! | bits | field |
//! |---|---|
//! | 1 | zero, so the id is also a non-negative signed integer |
//! | 41 | milliseconds since [`EPOCH_UNIX_MS`] (about 69 years) |
//! | 10 | the node number: this node's position in `init`'s `node_ids` |
//! | 12 | a sequence number within the millisecond |
//!
//! Invariants: ids from one node strictly increase, because the timestamp never goes back (a
//! clock that steps backwards is ignored: the last timestamp is held) and, within one
//! timestamp, the sequence increases. When 4096 ids were handed out in one millisecond, the
//! generator waits for the clock to pass it. Ids from different nodes differ in the node bits.
//!
//! Caveats: a restarted node whose clock is behind the last id it issued before the restart
//! could repeat ids, since the last timestamp is not persisted; while a clock that stepped back
//! stays behind, a node issues at most 4096 ids and then waits for the clock to catch up.

use std::time::Duration;

use serde_json::json;

use super::{ErrorCode, Message, Outgoing, Workload, WorkloadError};

/// The custom epoch: 2026-01-01T00:00:00Z, in milliseconds since the Unix epoch.
pub const EPOCH_UNIX_MS: u64 = 1_767_225_600_000;
const TIMESTAMP_BITS: u32 = 41;
const NODE_BITS: u32 = 10;
const SEQUENCE_BITS: u32 = 12;
/// Most nodes a cluster may have: one per value of the node bits.
pub const NODES_MAX: usize = 1 << NODE_BITS;
const SEQUENCE_MAX: u64 = (1 << SEQUENCE_BITS) - 1;

/// A Snowflake id generator for one node.
#[derive(Debug, Clone, PartialEq)]
pub struct Generator {
    node: u64,
    /// The timestamp (ms since [`EPOCH_UNIX_MS`]) of the last id; never decreases.
    last_timestamp_ms: u64,
    /// The sequence number of the last id within `last_timestamp_ms`.
    sequence: u64,
    /// Whether an id was issued yet (the first id may use sequence 0 at any timestamp).
    issued_any: bool,
}

impl Generator {
    /// A generator for node number `node`, which must be below [`NODES_MAX`].
    pub fn new(node: usize) -> Generator {
        assert!(node < NODES_MAX, "node number {node} does not fit in {NODE_BITS} bits");
        Generator { node: node as u64, last_timestamp_ms: 0, sequence: 0, issued_any: false }
    }

    /// The next id. `clock` gives milliseconds since the Unix epoch; it is called again, with
    /// short sleeps, while this millisecond's sequence is used up.
    pub fn next_id(&mut self, clock: &mut impl FnMut() -> u64) -> u64 {
        let mut now_ms = Self::since_epoch(clock());
        if !self.issued_any || now_ms > self.last_timestamp_ms {
            self.last_timestamp_ms = now_ms;
            self.sequence = 0;
        } else if self.sequence < SEQUENCE_MAX {
            // Same millisecond, or the clock went back: hold the last timestamp.
            self.sequence += 1;
        } else {
            while now_ms <= self.last_timestamp_ms {
                std::thread::sleep(Duration::from_micros(100));
                now_ms = Self::since_epoch(clock());
            }
            self.last_timestamp_ms = now_ms;
            self.sequence = 0;
        }
        self.issued_any = true;
        assert!(
            self.last_timestamp_ms < 1 << TIMESTAMP_BITS,
            "the id timestamp overflowed 41 bits"
        );
        self.last_timestamp_ms << (NODE_BITS + SEQUENCE_BITS)
            | self.node << SEQUENCE_BITS
            | self.sequence
    }

    fn since_epoch(unix_ms: u64) -> u64 {
        unix_ms.saturating_sub(EPOCH_UNIX_MS)
    }
}

/// The unique-ids workload.
#[derive(Default)]
pub struct UniqueIds {
    generator: Option<Generator>,
}

impl Workload for UniqueIds {
    fn init(&mut self, node_id: &str, node_ids: &[String]) -> Result<(), WorkloadError> {
        let node = node_ids.iter().position(|id| id == node_id).ok_or_else(|| {
            WorkloadError::new(ErrorCode::MalformedRequest, "node_ids does not list node_id")
        })?;
        if node >= NODES_MAX {
            return Err(WorkloadError::new(
                ErrorCode::Abort,
                format!("unique-ids supports at most {NODES_MAX} nodes"),
            ));
        }
        self.generator = Some(Generator::new(node));
        Ok(())
    }

    fn handle(&mut self, message: &Message, _now_ms: u64) -> Result<Vec<Outgoing>, WorkloadError> {
        match message.kind() {
            "generate" => {
                let generator = self.generator.as_mut().expect("the loop calls init first");
                let id = generator.next_id(&mut super::now_ms);
                Ok(vec![Outgoing::reply(message, json!({"type": "generate_ok", "id": id}))])
            }
            other => Err(WorkloadError::new(
                ErrorCode::NotSupported,
                format!("unique-ids does not support {other:?}"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const START_MS: u64 = EPOCH_UNIX_MS + 1_000;

    #[test]
    fn ids_increase_within_a_millisecond_and_across_milliseconds() {
        let mut generator = Generator::new(3);
        let mut clock_ms = START_MS;
        let first = generator.next_id(&mut || clock_ms);
        let second = generator.next_id(&mut || clock_ms);
        clock_ms += 1;
        let third = generator.next_id(&mut || clock_ms);
        assert!(first < second && second < third, "expected increasing: {first} {second} {third}");
        assert_eq!(first >> SEQUENCE_BITS & (NODES_MAX as u64 - 1), 3, "node bits hold node 3");
    }

    #[test]
    fn a_clock_that_goes_backwards_does_not_make_ids_go_backwards() {
        let mut generator = Generator::new(0);
        let before = generator.next_id(&mut || START_MS);
        let after = generator.next_id(&mut || START_MS - 500);
        assert!(after > before, "expected {after} > {before} after the clock stepped back");
        assert_eq!(after >> (NODE_BITS + SEQUENCE_BITS), 1_000, "the last timestamp is held");
    }

    #[test]
    fn an_exhausted_sequence_waits_for_the_next_millisecond() {
        let mut generator = Generator::new(1);
        let mut ids: Vec<u64> =
            (0..=SEQUENCE_MAX).map(|_| generator.next_id(&mut || START_MS)).collect();
        let mut calls = 0;
        let mut clock = || {
            calls += 1;
            if calls < 3 {
                START_MS
            } else {
                START_MS + 1
            }
        };
        ids.push(generator.next_id(&mut clock));
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "ids strictly increase");
        assert_eq!(
            ids.last().unwrap() >> (NODE_BITS + SEQUENCE_BITS),
            1_001,
            "moved to the next ms"
        );
    }
}
