//! [`Members`]: the large representation shared by hashes and sets, a persistent collection of
//! distinct byte-string members, each with a value, that iterates in a fixed order, scans with
//! Redis's cursor guarantee and picks a uniformly random member in O(log n).
//!
//! Two persistent structures hold the same members:
//!
//! - `by_position`, an ordered map keyed by (fixed hash of the member, member), like the
//!   keyspace (see `store::db`). Lookups, iteration and HSCAN/SSCAN use it: the cursor is the
//!   hash position where the next page starts, so a member present for a whole scan is
//!   returned whatever is added or removed meanwhile, and the cursor means the same on every
//!   replica because the hash has no seed.
//! - `dense`, a vector of the members in no particular order, each member's index kept in its
//!   map slot. A random member is `dense[random index]`: uniform, in O(log n). A removal moves
//!   the last member into the freed index (so the vector stays dense) and updates that
//!   member's slot.
//!
//! Invariants:
//! - `dense.len() == by_position.len()`, and for every member `m`, `dense[slot(m).index] == m`.
//! - The structure is a pure function of the sequence of inserts and removes applied to it, so
//!   replicas that apply the same writes hold the same `dense` order and draw the same random
//!   members. A snapshot serializes the members in `dense` order and rebuilding inserts them in
//!   that order, which reproduces `dense` exactly (see the `serde` attributes).
//!
//! Caveat: every member is referenced twice (a `Bytes` clone is a reference count, not a copy),
//! and a write changes both structures; docs/decisions.md has the measurements.

use bytes::Bytes;
use imbl::{OrdMap, Vector};
use xxhash_rust::xxh3::xxh3_64;

/// A member with its fixed hash position, ordered by position and then by bytes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct PositionedMember {
    position: u64,
    member: Bytes,
}

impl PositionedMember {
    fn new(member: &Bytes) -> PositionedMember {
        PositionedMember { position: scan_position(member), member: member.clone() }
    }
}

/// A member's place in HSCAN/SSCAN order: a seedless hash, never zero because cursor 0 means
/// both "start" and "done".
pub fn scan_position(member: &[u8]) -> u64 {
    xxh3_64(member).max(1)
}

#[derive(Clone, Debug)]
struct Slot<V> {
    value: V,
    /// Where the member is in `dense`.
    index: usize,
}

/// One page of HSCAN/SSCAN: the members visited and the cursor to continue from (0 when done).
pub struct MembersPage<'a, V> {
    /// The members visited, with their values.
    pub members: Vec<(&'a Bytes, &'a V)>,
    /// The cursor to continue from; 0 when the scan is done.
    pub next_cursor: u64,
}

/// See the module docs. Cloning is O(1) and yields an independent version.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(
    into = "Vec<(Bytes, V)>",
    from = "Vec<(Bytes, V)>",
    bound(
        serialize = "V: Clone + serde::Serialize",
        deserialize = "V: Clone + serde::Deserialize<'de>"
    )
)]
pub struct Members<V: Clone> {
    by_position: OrdMap<PositionedMember, Slot<V>>,
    dense: Vector<Bytes>,
}

impl<V: Clone> Default for Members<V> {
    fn default() -> Members<V> {
        Members { by_position: OrdMap::new(), dense: Vector::new() }
    }
}

impl<V: Clone> Members<V> {
    /// The number of members.
    pub fn len(&self) -> usize {
        self.dense.len()
    }

    /// Whether there is no member.
    pub fn is_empty(&self) -> bool {
        self.dense.is_empty()
    }

    /// The value of `member`, or `None` if it is absent.
    pub fn get(&self, member: &Bytes) -> Option<&V> {
        self.by_position.get(&PositionedMember::new(member)).map(|slot| &slot.value)
    }

    /// Sets `member`'s value; returns the previous value if the member was present. A new
    /// member's bytes are copied, so that it never pins a connection's read buffer.
    pub fn insert(&mut self, member: &Bytes, value: V) -> Option<V> {
        let key = PositionedMember::new(member);
        if let Some(slot) = self.by_position.get_mut(&key) {
            return Some(std::mem::replace(&mut slot.value, value));
        }
        let member = Bytes::copy_from_slice(member);
        let index = self.dense.len();
        self.dense.push_back(member.clone());
        self.by_position
            .insert(PositionedMember { position: key.position, member }, Slot { value, index });
        None
    }

    /// Removes `member`; returns its value if it was present.
    pub fn remove(&mut self, member: &Bytes) -> Option<V> {
        let slot = self.by_position.remove(&PositionedMember::new(member))?;
        let last = self.dense.pop_back().expect("dense holds every member of the map");
        if slot.index < self.dense.len() {
            // The removed member was not last: the last one takes its index.
            self.dense.set(slot.index, last.clone());
            let moved = self
                .by_position
                .get_mut(&PositionedMember::new(&last))
                .expect("every member of dense is in the map");
            moved.index = slot.index;
        }
        Some(slot.value)
    }

    /// The member at `index` of the dense order (`index < len()`), for random choices.
    pub fn at(&self, index: usize) -> (&Bytes, &V) {
        let member = &self.dense[index];
        let value = self.get(member).expect("every member of dense is in the map");
        (member, value)
    }

    /// Every member in scan order.
    pub fn iter(&self) -> impl Iterator<Item = (&Bytes, &V)> {
        self.by_position.iter().map(|(key, slot)| (&key.member, &slot.value))
    }

    /// Visits members from `cursor` in scan order until at least `count` were visited, always
    /// finishing the run of members that share the last position so that the next cursor
    /// never splits one (the keyspace's SCAN rule).
    pub fn scan(&self, cursor: u64, count: usize) -> MembersPage<'_, V> {
        let start = PositionedMember { position: cursor, member: Bytes::new() };
        let mut members = Vec::new();
        let mut last_position = None;
        for (visited, (key, slot)) in self.by_position.range(start..).enumerate() {
            if visited >= count.max(1) && last_position != Some(key.position) {
                return MembersPage { members, next_cursor: key.position };
            }
            last_position = Some(key.position);
            members.push((&key.member, &slot.value));
        }
        MembersPage { members, next_cursor: 0 }
    }
}

impl<V: Clone + PartialEq> PartialEq for Members<V> {
    /// Equal members with equal values, whatever the dense order.
    fn eq(&self, other: &Members<V>) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<V: Clone> From<Members<V>> for Vec<(Bytes, V)> {
    /// The members in dense order, so that rebuilding reproduces the same dense order.
    fn from(members: Members<V>) -> Vec<(Bytes, V)> {
        (0..members.len())
            .map(|index| members.at(index))
            .map(|(m, v)| (m.clone(), v.clone()))
            .collect()
    }
}

impl<V: Clone> From<Vec<(Bytes, V)>> for Members<V> {
    fn from(pairs: Vec<(Bytes, V)>) -> Members<V> {
        let mut members = Members::default();
        for (member, value) in pairs {
            members.insert(&member, value);
        }
        members
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(index: usize) -> Bytes {
        Bytes::from(format!("m{index}"))
    }

    /// Checks the module's invariant: dense and the map hold the same members, indexes agree.
    fn assert_consistent(members: &Members<u32>) {
        assert_eq!(members.dense.len(), members.by_position.len());
        for (key, slot) in members.by_position.iter() {
            assert_eq!(members.dense[slot.index], key.member);
        }
    }

    #[test]
    fn removals_keep_dense_and_the_map_in_agreement() {
        let mut members = Members::default();
        for index in 0..100 {
            assert_eq!(members.insert(&member(index), index as u32), None);
        }
        assert_eq!(members.insert(&member(5), 500), Some(5));
        for index in (0..100).step_by(3) {
            assert!(members.remove(&member(index)).is_some());
            assert_consistent(&members);
        }
        assert_eq!(members.remove(&member(0)), None);
        assert_eq!(members.get(&member(5)), Some(&500));
        assert_eq!(members.len(), 66);
    }

    #[test]
    fn a_snapshot_round_trip_reproduces_the_dense_order() {
        let mut members = Members::default();
        for index in 0..50 {
            members.insert(&member(index), index as u32);
        }
        for index in (0..50).step_by(7) {
            members.remove(&member(index));
        }
        let pairs: Vec<(Bytes, u32)> = members.clone().into();
        let rebuilt = Members::from(pairs);
        assert_eq!(rebuilt.dense, members.dense);
        assert_eq!(rebuilt, members);
    }

    #[test]
    fn a_view_keeps_its_version_while_the_original_changes() {
        let mut members = Members::default();
        members.insert(&member(1), 1u32);
        let view = members.clone();
        members.insert(&member(2), 2);
        members.remove(&member(1));
        assert_eq!(view.get(&member(1)), Some(&1));
        assert_eq!(view.len(), 1);
    }
}
