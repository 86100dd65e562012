//! A consumer group of a stream: where its delivery stands, its consumers, and the entries it
//! delivered that are not acknowledged yet (the pending entries list, PEL).
//!
//! Invariants:
//! - Every id in the group's PEL is in exactly one consumer's PEL, the consumer the pending
//!   entry names; every id in a consumer's PEL is in the group's PEL naming that consumer.
//! - Times (delivery, seen) are entry times of the log (`now_ms` of the command that set
//!   them), never a replica's clock, so every replica holds the same group.
//!
//! Groups and consumers are kept in maps ordered by name, the order Redis's radix trees give
//! XINFO GROUPS, XINFO CONSUMERS and XPENDING's summary.

use bytes::Bytes;
use imbl::{OrdMap, OrdSet};
use serde::{Deserialize, Serialize};

use super::StreamId;

/// One consumer group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerGroup {
    /// The last id delivered with `>` (or set by XGROUP SETID / XCLAIM LASTID).
    pub last_delivered_id: StreamId,
    /// How many entries the group has read, if known (Redis's `entries_read`, -1 unknown).
    pub entries_read: Option<u64>,
    pending: OrdMap<StreamId, PendingEntry>,
    consumers: OrdMap<Bytes, Consumer>,
}

/// A delivered entry not yet acknowledged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingEntry {
    /// The consumer that holds it.
    pub consumer: Bytes,
    /// When it was last delivered (entry time, Unix milliseconds).
    pub delivery_time_ms: u64,
    /// How many times it was delivered.
    pub delivery_count: u64,
}

/// A consumer of a group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consumer {
    /// When the consumer last read or claimed (entry time, Unix milliseconds).
    pub seen_time_ms: u64,
    /// The ids it holds pending.
    pending: OrdSet<StreamId>,
}

impl ConsumerGroup {
    /// A group with nothing delivered past `last_delivered_id`.
    pub fn new(last_delivered_id: StreamId, entries_read: Option<u64>) -> ConsumerGroup {
        ConsumerGroup {
            last_delivered_id,
            entries_read,
            pending: OrdMap::new(),
            consumers: OrdMap::new(),
        }
    }

    /// A group from its parts, as a DUMP payload or an RDB file gives them; `None` unless the
    /// parts keep the invariants (see the module docs).
    pub fn from_parts(
        last_delivered_id: StreamId,
        entries_read: Option<u64>,
        pending: OrdMap<StreamId, PendingEntry>,
        consumers: OrdMap<Bytes, Consumer>,
    ) -> Option<ConsumerGroup> {
        let group = ConsumerGroup { last_delivered_id, entries_read, pending, consumers };
        group.is_consistent().then_some(group)
    }

    /// The group's PEL, by id.
    pub fn pending(&self) -> &OrdMap<StreamId, PendingEntry> {
        &self.pending
    }

    /// The consumers, by name.
    pub fn consumers(&self) -> &OrdMap<Bytes, Consumer> {
        &self.consumers
    }

    /// The consumer `name`, created if new (at `now_ms`), its seen time set to `now_ms`
    /// either way, as Redis's lookups for XREADGROUP, XCLAIM and XAUTOCLAIM do.
    pub fn touch_consumer(&mut self, name: &Bytes, now_ms: u64) {
        self.consumers
            .entry(name.clone())
            .or_insert_with(|| Consumer { seen_time_ms: now_ms, pending: OrdSet::new() })
            .seen_time_ms = now_ms;
    }

    /// XGROUP CREATECONSUMER: creates `name` unless it exists; returns whether it did.
    pub fn create_consumer(&mut self, name: &Bytes, now_ms: u64) -> bool {
        if self.consumers.contains_key(name) {
            return false;
        }
        self.consumers
            .insert(name.clone(), Consumer { seen_time_ms: now_ms, pending: OrdSet::new() });
        true
    }

    /// XGROUP DELCONSUMER: removes `name` and its pending entries from the group; returns how
    /// many it held (0 for no such consumer).
    pub fn delete_consumer(&mut self, name: &Bytes) -> u64 {
        let Some(consumer) = self.consumers.remove(name) else {
            return 0;
        };
        for id in &consumer.pending {
            self.pending.remove(id);
        }
        consumer.pending.len() as u64
    }

    /// Records `id` as delivered to `consumer` at `now_ms` for the first time (a `>` read):
    /// an id pending for another consumer moves to this one, with its count back at 1.
    pub fn deliver_new(&mut self, id: StreamId, consumer: &Bytes, now_ms: u64) {
        if let Some(previous) = self.pending.get(&id) {
            let holder = previous.consumer.clone();
            self.consumer_mut(&holder).pending.remove(&id);
        }
        self.pending.insert(
            id,
            PendingEntry {
                consumer: consumer.clone(),
                delivery_time_ms: now_ms,
                delivery_count: 1,
            },
        );
        self.consumer_mut(consumer).pending.insert(id);
    }

    /// Records a re-delivery of a pending `id` from its consumer's own history.
    pub fn deliver_again(&mut self, id: StreamId, now_ms: u64) {
        if let Some(entry) = self.pending.get_mut(&id) {
            entry.delivery_time_ms = now_ms;
            entry.delivery_count += 1;
        }
    }

    /// XACK of one id; returns whether it was pending.
    pub fn acknowledge(&mut self, id: StreamId) -> bool {
        let Some(entry) = self.pending.remove(&id) else {
            return false;
        };
        self.consumer_mut(&entry.consumer).pending.remove(&id);
        true
    }

    /// Gives the pending `id` (created pending if `force` made it so) to `consumer`, delivered
    /// at `delivery_time_ms` with `delivery_count`.
    pub fn claim(
        &mut self,
        id: StreamId,
        consumer: &Bytes,
        delivery_time_ms: u64,
        delivery_count: u64,
    ) {
        if let Some(previous) = self.pending.get(&id) {
            let holder = previous.consumer.clone();
            if holder != consumer {
                self.consumer_mut(&holder).pending.remove(&id);
            }
        }
        self.pending.insert(
            id,
            PendingEntry { consumer: consumer.clone(), delivery_time_ms, delivery_count },
        );
        self.consumer_mut(consumer).pending.insert(id);
    }

    /// The pending ids of `consumer` from `start`, in order.
    pub fn consumer_pending_from(&self, consumer: &Bytes, start: StreamId) -> Vec<StreamId> {
        self.consumers
            .get(consumer)
            .map(|consumer| consumer.pending.range(start..).copied().collect())
            .unwrap_or_default()
    }

    fn consumer_mut(&mut self, name: &Bytes) -> &mut Consumer {
        self.consumers.get_mut(name).expect("a pending entry names an existing consumer")
    }

    /// Checks the PEL invariant (see the module doc), for a group read from a snapshot.
    pub fn is_consistent(&self) -> bool {
        let held: usize = self.consumers.values().map(|consumer| consumer.pending.len()).sum();
        held == self.pending.len()
            && self.consumers.iter().all(|(name, consumer)| {
                consumer
                    .pending
                    .iter()
                    .all(|id| self.pending.get(id).is_some_and(|entry| entry.consumer == name))
            })
    }
}

impl Consumer {
    /// A consumer last seen at `seen_time_ms` holding `pending`.
    pub fn new(seen_time_ms: u64, pending: OrdSet<StreamId>) -> Consumer {
        Consumer { seen_time_ms, pending }
    }

    /// The ids it holds pending, in order.
    pub fn pending(&self) -> &OrdSet<StreamId> {
        &self.pending
    }
}
