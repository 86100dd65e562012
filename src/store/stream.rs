//! The stream value: entries with increasing ids, each a list of field-value pairs, plus the
//! stream's counters and its consumer groups.
//!
//! The entries live in nodes (see [`Node`]) kept in a persistent ordered map from each node's
//! first id, so that XADD is O(log n) (it appends to the last node, copying at most that node
//! when a view shares it), a range read seeks its first node in O(log n) and then reads in
//! order, and a view costs nothing until the stream changes. The nodes open and close where
//! Redis's listpack nodes would, because approximate trimming (`~`) removes whole nodes and
//! `XINFO STREAM` counts them.
//!
//! Besides the entries a stream keeps what Redis keeps: `last_id` (the top id ever generated
//! or set, which new ids must exceed even after the entries are gone), `entries_added` (every
//! entry ever added), `max_deleted_entry_id` (the largest id XDEL removed) and `first_id` (the
//! first live entry, 0-0 when empty); with them a group's lag is estimated as Redis does.
//!
//! Invariants:
//! - Ids are strictly increasing across nodes and within one; every id is at most `last_id`.
//! - `length` is the number of live entries; every node in the map has a live entry.
//! - A stream may be empty and still exist (XDEL, XTRIM, XGROUP CREATE ... MKSTREAM), as in
//!   Redis; only DEL removes it.
//!
//! Deliberately absent: id generation from a clock (the caller passes the entry's time) and
//! reply shapes (the state machine's).

mod group;
mod node;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use bytes::Bytes;
use imbl::OrdMap;
use serde::{Deserialize, Serialize};

pub use crate::command::streams::{StreamId, Trim, TrimStrategy};
pub use group::{Consumer, ConsumerGroup, PendingEntry};
pub use node::{EntryRef, Node, RestoredEntry, NODE_BYTES_MAX, NODE_ENTRIES_MAX};

/// One entry as a reply shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamEntry {
    /// Its id.
    pub id: StreamId,
    /// Its field-value pairs, in the order XADD gave them.
    pub pairs: Vec<(Bytes, Bytes)>,
}

/// A stream. Cloning is O(1).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamValue {
    nodes: OrdMap<StreamId, Arc<Node>>,
    length: u64,
    last_id: StreamId,
    first_id: StreamId,
    max_deleted_entry_id: StreamId,
    entries_added: u64,
    groups: OrdMap<Bytes, ConsumerGroup>,
}

impl StreamValue {
    /// The number of live entries.
    pub fn len(&self) -> u64 {
        self.length
    }

    /// Whether the stream has no live entry (it still exists).
    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// The top id generated or set (XSETID); new ids must be above it.
    pub fn last_id(&self) -> StreamId {
        self.last_id
    }

    /// The first live entry's id as recorded, 0-0 when empty.
    pub fn first_id(&self) -> StreamId {
        self.first_id
    }

    /// The largest id XDEL removed, 0-0 if none.
    pub fn max_deleted_entry_id(&self) -> StreamId {
        self.max_deleted_entry_id
    }

    /// How many entries were ever added.
    pub fn entries_added(&self) -> u64 {
        self.entries_added
    }

    /// The nodes, in id order.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.values().map(|node| &**node)
    }

    /// A stream from its parts, as a DUMP payload or an RDB file gives them; `None` unless
    /// they keep the invariants (see the module docs) and no group name repeats.
    #[allow(clippy::too_many_arguments)]
    pub fn from_parts(
        nodes: Vec<Node>,
        length: u64,
        last_id: StreamId,
        first_id: StreamId,
        max_deleted_entry_id: StreamId,
        entries_added: u64,
        groups: Vec<(Bytes, ConsumerGroup)>,
    ) -> Option<StreamValue> {
        let (node_count, group_count) = (nodes.len(), groups.len());
        let stream = StreamValue {
            nodes: nodes.into_iter().map(|node| (node.first(), Arc::new(node))).collect(),
            length,
            last_id,
            first_id,
            max_deleted_entry_id,
            entries_added,
            groups: groups.into_iter().collect(),
        };
        let distinct = stream.nodes.len() == node_count && stream.groups.len() == group_count;
        (distinct && stream.is_consistent()).then_some(stream)
    }

    /// The number of nodes (Redis's `radix-tree-keys`).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// XSETID: sets the counters; the caller checked them against the stream.
    pub fn set_counters(
        &mut self,
        last_id: StreamId,
        entries_added: Option<u64>,
        max_deleted_entry_id: Option<StreamId>,
    ) {
        self.last_id = last_id;
        if let Some(entries_added) = entries_added {
            self.entries_added = entries_added;
        }
        if let Some(max_deleted_entry_id) = max_deleted_entry_id {
            self.max_deleted_entry_id = max_deleted_entry_id;
        }
    }

    /// Appends an entry whose id is above `last_id`.
    pub fn append(&mut self, id: StreamId, pairs: &[(Bytes, Bytes)]) {
        assert!(id > self.last_id, "a stream's ids only grow");
        // Only the node's key and a yes or no leave the borrow: a second handle on the node
        // would make `make_mut` copy it.
        let last_node =
            self.nodes.iter().next_back().map(|(first, node)| (*first, node.is_full_for(pairs)));
        match last_node {
            Some((first, false)) => {
                let node = self.nodes.get_mut(&first).expect("the last node is in the map");
                Arc::make_mut(node).append(id, pairs);
            }
            previous => {
                if let Some((first, _)) = previous {
                    let node = self.nodes.get_mut(&first).expect("the last node is in the map");
                    Arc::make_mut(node).shrink();
                }
                self.nodes.insert(id, Arc::new(Node::new(id, pairs)));
            }
        }
        if self.length == 0 {
            self.first_id = id;
        }
        self.length += 1;
        self.entries_added += 1;
        self.last_id = id;
    }

    /// The live entries from `start` to `end` (inclusive), ascending or, with `reverse`,
    /// descending, at most `count` of them (0: all).
    pub fn range(
        &self,
        start: StreamId,
        end: StreamId,
        reverse: bool,
        count: usize,
    ) -> Vec<StreamEntry> {
        let limit = if count == 0 { usize::MAX } else { count };
        let mut entries = Vec::new();
        if start > end {
            return entries;
        }
        if reverse {
            for (_, node) in self.nodes.range(..=end).rev() {
                if node.last() < start {
                    break;
                }
                let in_range: Vec<EntryRef<'_>> = node
                    .live_entries()
                    .filter(|entry| entry.id >= start && entry.id <= end)
                    .collect();
                for entry in in_range.iter().rev() {
                    if entries.len() == limit {
                        return entries;
                    }
                    entries.push(StreamEntry { id: entry.id, pairs: entry.pairs() });
                }
            }
        } else {
            for node in self.nodes_from(start) {
                if node.first() > end {
                    break;
                }
                for entry in node.live_entries().skip_while(|entry| entry.id < start) {
                    if entry.id > end || entries.len() == limit {
                        return entries;
                    }
                    entries.push(StreamEntry { id: entry.id, pairs: entry.pairs() });
                }
            }
        }
        entries
    }

    /// The nodes that may hold ids at or above `start`, in order.
    fn nodes_from(&self, start: StreamId) -> impl Iterator<Item = &Arc<Node>> {
        let first = self.nodes.range(..=start).next_back().map_or(start, |(first, _)| *first);
        self.nodes.range(first..).map(|(_, node)| node)
    }

    /// The live entry `id`, if there is one.
    pub fn get(&self, id: StreamId) -> Option<StreamEntry> {
        self.range(id, id, false, 1).pop()
    }

    /// Whether the live entry `id` exists.
    pub fn contains(&self, id: StreamId) -> bool {
        let Some((_, node)) = self.nodes.range(..=id).next_back() else {
            return false;
        };
        id <= node.last() && node.live_entries().any(|entry| entry.id == id)
    }

    /// The first (or, with `last`, the last) live entry's id.
    pub fn edge_id(&self, last: bool) -> Option<StreamId> {
        if last {
            let (_, node) = self.nodes.iter().next_back()?;
            node.live_entries().last().map(|entry| entry.id)
        } else {
            let (_, node) = self.nodes.iter().next()?;
            node.live_entries().next().map(|entry| entry.id)
        }
    }

    /// XDEL of one id: removes the live entry `id`, raising `max_deleted_entry_id`; returns
    /// whether there was one. A node left with no live entry goes.
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some(first) = self.nodes.range(..=id).next_back().map(|(first, _)| *first) else {
            return false;
        };
        let node = self.nodes.get_mut(&first).expect("the node was just found");
        if id > node.last() || !Arc::make_mut(node).delete(id) {
            return false;
        }
        if node.live() == 0 {
            self.nodes.remove(&first);
        }
        self.length -= 1;
        if id > self.max_deleted_entry_id {
            self.max_deleted_entry_id = id;
        }
        if id == self.first_id {
            self.first_id = self.edge_id(false).unwrap_or(StreamId::MIN);
        }
        true
    }

    /// Trims as Redis's `streamTrim` does: whole nodes from the start while they may go
    /// (within `limit`), then, unless approximate, single entries of the next node. Returns how
    /// many entries went.
    pub fn trim(&mut self, trim: &Trim) -> u64 {
        let mut removed = 0;
        while let Some((first, entries, last)) =
            self.nodes.iter().next().map(|(first, node)| (*first, node.live(), node.last()))
        {
            if let TrimStrategy::MaxLen(max) = trim.strategy {
                if self.length <= max {
                    break;
                }
            }
            if trim.limit != 0 && removed + entries > trim.limit {
                break;
            }
            let whole = match trim.strategy {
                TrimStrategy::MaxLen(max) => self.length - entries >= max,
                TrimStrategy::MinId(min) => last < min,
            };
            if whole {
                self.nodes.remove(&first);
                self.length -= entries;
                removed += entries;
                continue;
            }
            if trim.approximate {
                break;
            }
            let node = Arc::make_mut(self.nodes.get_mut(&first).expect("the first node"));
            let taken = match trim.strategy {
                TrimStrategy::MaxLen(max) => {
                    let taken = self.length - max;
                    node.delete_first(taken);
                    taken
                }
                TrimStrategy::MinId(min) => node.delete_below(min),
            };
            self.length -= taken;
            removed += taken;
            break;
        }
        self.first_id = self.edge_id(false).unwrap_or(StreamId::MIN);
        removed
    }

    /// The consumer groups, by name.
    pub fn groups(&self) -> &OrdMap<Bytes, ConsumerGroup> {
        &self.groups
    }

    /// The group `name`, if the stream has it.
    pub fn group(&self, name: &Bytes) -> Option<&ConsumerGroup> {
        self.groups.get(name)
    }

    /// The group `name`, to change it.
    pub fn group_mut(&mut self, name: &Bytes) -> Option<&mut ConsumerGroup> {
        self.groups.get_mut(name)
    }

    /// XGROUP CREATE: adds a group unless one has the name; returns whether it did.
    pub fn create_group(&mut self, name: &Bytes, group: ConsumerGroup) -> bool {
        if self.groups.contains_key(name) {
            return false;
        }
        self.groups.insert(name.clone(), group);
        true
    }

    /// XGROUP DESTROY: returns whether the group existed.
    pub fn destroy_group(&mut self, name: &Bytes) -> bool {
        self.groups.remove(name).is_some()
    }

    /// Redis's `streamEstimateDistanceFromFirstEverEntry`: the number of entries up to and
    /// including `id` since the stream began, when it can be known.
    pub fn entries_read_at(&self, id: StreamId) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if self.length == 0 && id <= self.last_id {
            return Some(self.entries_added);
        }
        match id.cmp(&self.last_id) {
            std::cmp::Ordering::Equal => return Some(self.entries_added),
            std::cmp::Ordering::Greater => return None,
            std::cmp::Ordering::Less => {}
        }
        if self.max_deleted_entry_id == StreamId::MIN || self.max_deleted_entry_id < self.first_id {
            match id.cmp(&self.first_id) {
                std::cmp::Ordering::Less => return Some(self.entries_added - self.length),
                std::cmp::Ordering::Equal => return Some(self.entries_added - self.length + 1),
                std::cmp::Ordering::Greater => {}
            }
        }
        None
    }

    /// Redis's `streamRangeHasTombstones` from `start` to the end: whether a deleted entry
    /// may lie at or after `start`.
    pub fn has_tombstones_from(&self, start: StreamId) -> bool {
        if self.length == 0 || self.max_deleted_entry_id == StreamId::MIN {
            return false;
        }
        if self.first_id > self.max_deleted_entry_id {
            return false;
        }
        start <= self.max_deleted_entry_id
    }

    /// A group's lag (entries not yet delivered), as XINFO GROUPS reports it, when known.
    pub fn lag(&self, group: &ConsumerGroup) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if let Some(read) = group.entries_read {
            if !self.has_tombstones_from(group.last_delivered_id) {
                return Some(self.entries_added.wrapping_sub(read));
            }
        }
        self.entries_read_at(group.last_delivered_id)
            .map(|read| self.entries_added.wrapping_sub(read))
    }

    /// Checks the invariants of a stream read from a snapshot.
    pub fn is_consistent(&self) -> bool {
        let mut previous: Option<StreamId> = None;
        let mut live = 0;
        for (first, node) in &self.nodes {
            if *first != node.first() || !node.is_consistent() {
                return false;
            }
            if previous.is_some_and(|previous| previous >= node.first()) {
                return false;
            }
            previous = Some(node.last());
            live += node.live();
        }
        live == self.length
            && previous.is_none_or(|last| last <= self.last_id)
            && self.groups.values().all(ConsumerGroup::is_consistent)
    }
}
