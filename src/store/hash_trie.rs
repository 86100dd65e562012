//! The map behind a database: a persistent hash trie ordered by a key's 64-bit hash.
//!
//! A database's keys are looked up by hash and visited in hash order (SCAN's cursor is a
//! hash), and the map must clone in O(1) so that MVCC views are free to take. A B-tree keyed
//! by `(hash, key)` does all three, but with the small fixed nodes of `imbl` a write walks
//! five levels of binary search for a million keys, and each level is several cache misses
//! (see docs/decisions.md, "The keyspace is a hash trie"). Here each level is one index:
//! a node covers 6 bits of the hash, the top bits first, so visiting a node's slots in order
//! visits hashes in ascending order; a million keys sit about four levels deep.
//!
//! The layout is CHAMP's (compressed hash-array mapped prefix tree): a node keeps two
//! bitmaps over its 64 slots, one for the slots holding an entry inline and one for the slots
//! holding a child node, and two dense arrays in slot order. Entries live inline, so a lookup
//! touches one node per level and then the entry; children are shared pointers, so a write
//! copies only the nodes on its path, and only those a view still shares.
//!
//! Invariants:
//! - An entry or child in slot `s` of a node at depth `d` has `chunk(hash, d) == s`, and the
//!   chunks of the depths above agree with the path to that node: the trie is a prefix tree
//!   of the hash, most significant bits first.
//! - A slot holds an entry or a child, never both (`entries_map & children_map == 0`).
//! - Canonical form: every child below the root holds at least two entries in its subtree.
//!   A lone entry lives in its parent's slot (removal pulls it up), so the shape of the trie
//!   depends only on the set of hashes, not on the order of inserts and removals.
//! - Hashes that agree in all 64 bits (a full collision) meet below the last level in a
//!   [`Child::Collision`], an ordered map by key bytes, so colliding keys cost a logarithm
//!   each, not a scan.
//! - `len` is the number of entries.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use imbl::OrdMap;

/// The bits of the hash that one level covers.
const BITS: u32 = 6;
/// The depth at which every bit of the hash has been used: depths 0 to 9 take 6 bits each,
/// depth 10 the last 4.
const LAST_DEPTH: u32 = 10;

/// The slot of `hash` in a node at `depth` (most significant bits first).
fn chunk(hash: u64, depth: u32) -> u32 {
    debug_assert!(depth <= LAST_DEPTH);
    if depth < LAST_DEPTH {
        ((hash >> (64 - BITS * (depth + 1))) & 63) as u32
    } else {
        (hash & 0xF) as u32
    }
}

/// The position in a dense array of the slot whose bit is `bit`, given the array's bitmap.
fn position(map: u64, bit: u64) -> usize {
    (map & (bit - 1)).count_ones() as usize
}

/// The slots at or after `slot`, as a mask.
fn slots_from(slot: u32) -> u64 {
    if slot >= 64 {
        0
    } else {
        u64::MAX << slot
    }
}

/// One entry: its key with the key's hash, and its value.
#[derive(Clone)]
struct Item<V> {
    hash: u64,
    key: Bytes,
    value: V,
}

/// What a child slot holds.
#[derive(Clone)]
enum Child<V> {
    /// A node one level down.
    Node(Arc<Node<V>>),
    /// Entries whose hashes are all `hash`, by key bytes.
    Collision { hash: u64, entries: OrdMap<Bytes, V> },
}

#[derive(Clone)]
struct Node<V> {
    entries_map: u64,
    children_map: u64,
    entries: Vec<Item<V>>,
    children: Vec<Child<V>>,
}

impl<V> Default for Node<V> {
    fn default() -> Self {
        Node { entries_map: 0, children_map: 0, entries: Vec::new(), children: Vec::new() }
    }
}

/// A persistent map from keys to `V`, ordered by `(hash, key bytes)`, where the caller
/// supplies each key's hash. Cloning is O(1) and yields an independent version.
#[derive(Clone)]
pub struct HashTrie<V> {
    root: Arc<Node<V>>,
    len: usize,
}

impl<V> Default for HashTrie<V> {
    fn default() -> Self {
        HashTrie { root: Arc::new(Node::default()), len: 0 }
    }
}

impl<V: Clone> HashTrie<V> {
    /// The number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The value of `key`, whose hash is `hash`.
    pub fn get(&self, hash: u64, key: &[u8]) -> Option<&V> {
        let mut node = &*self.root;
        let mut depth = 0;
        loop {
            let bit = 1u64 << chunk(hash, depth);
            if node.entries_map & bit != 0 {
                let item = &node.entries[position(node.entries_map, bit)];
                return (item.hash == hash && item.key == key).then_some(&item.value);
            }
            if node.children_map & bit == 0 {
                return None;
            }
            match &node.children[position(node.children_map, bit)] {
                Child::Node(child) => {
                    node = child;
                    depth += 1;
                }
                Child::Collision { hash: shared, entries } => {
                    return if *shared == hash { entries.get(key) } else { None };
                }
            }
        }
    }

    /// The value of `key` for changing in place. The nodes on the path are copied if a clone
    /// of the map still shares them, whether or not the key is present.
    pub fn get_mut(&mut self, hash: u64, key: &[u8]) -> Option<&mut V> {
        let mut node = Arc::make_mut(&mut self.root);
        let mut depth = 0;
        loop {
            let bit = 1u64 << chunk(hash, depth);
            if node.entries_map & bit != 0 {
                let item = &mut node.entries[position(node.entries_map, bit)];
                return (item.hash == hash && item.key == key).then_some(&mut item.value);
            }
            if node.children_map & bit == 0 {
                return None;
            }
            let at = position(node.children_map, bit);
            match &mut node.children[at] {
                Child::Node(child) => {
                    node = Arc::make_mut(child);
                    depth += 1;
                }
                Child::Collision { hash: shared, entries } => {
                    return if *shared == hash { entries.get_mut(key) } else { None };
                }
            }
        }
    }

    /// Stores `value` under `key` (hash `hash`) and returns the value it replaced. The key is
    /// stored as `own` makes it, and only if it is new: a caller whose key borrows a larger
    /// buffer copies it only when it is kept.
    pub fn insert(
        &mut self,
        hash: u64,
        key: &[u8],
        own: impl FnOnce() -> Bytes,
        value: V,
    ) -> Option<V> {
        let replaced = insert(Arc::make_mut(&mut self.root), 0, hash, key, own, value);
        if replaced.is_none() {
            self.len += 1;
        }
        replaced
    }

    /// Removes `key` (hash `hash`) and returns its value.
    pub fn remove(&mut self, hash: u64, key: &[u8]) -> Option<V> {
        // A miss must not copy the path: look first.
        self.get(hash, key)?;
        let removed = remove(Arc::make_mut(&mut self.root), 0, hash, key);
        debug_assert!(removed.is_some(), "the key was just found");
        if removed.is_some() {
            self.len -= 1;
        }
        removed
    }

    /// Every entry as `(hash, key, value)`, in `(hash, key)` order.
    pub fn iter(&self) -> Iter<'_, V> {
        Iter { stack: vec![Frame::Node { node: &self.root, next: 0 }] }
    }

    /// The entries whose hash is at least `start`, in `(hash, key)` order.
    pub fn iter_from(&self, start: u64) -> Iter<'_, V> {
        let mut stack = Vec::new();
        let mut node = &*self.root;
        let mut depth = 0;
        loop {
            let slot = chunk(start, depth);
            let bit = 1u64 << slot;
            if node.children_map & bit == 0 {
                // An entry in this slot comes before `start` if its hash is smaller.
                let skip = node.entries_map & bit != 0
                    && node.entries[position(node.entries_map, bit)].hash < start;
                stack.push(Frame::Node { node, next: slot + u32::from(skip) });
                break;
            }
            stack.push(Frame::Node { node, next: slot + 1 });
            match &node.children[position(node.children_map, bit)] {
                Child::Node(child) => {
                    node = child;
                    depth += 1;
                }
                Child::Collision { hash, entries } => {
                    if *hash >= start {
                        stack.push(Frame::Collision { hash: *hash, entries: entries.iter() });
                    }
                    break;
                }
            }
        }
        Iter { stack }
    }
}

fn insert<V: Clone>(
    node: &mut Node<V>,
    depth: u32,
    hash: u64,
    key: &[u8],
    own: impl FnOnce() -> Bytes,
    value: V,
) -> Option<V> {
    let bit = 1u64 << chunk(hash, depth);
    if node.children_map & bit != 0 {
        let at = position(node.children_map, bit);
        return match &mut node.children[at] {
            Child::Node(child) => insert(Arc::make_mut(child), depth + 1, hash, key, own, value),
            Child::Collision { entries, .. } => match entries.get_mut(key) {
                Some(slot) => Some(std::mem::replace(slot, value)),
                None => entries.insert(own(), value),
            },
        };
    }
    let at = position(node.entries_map, bit);
    if node.entries_map & bit == 0 {
        node.entries_map |= bit;
        reserve_one(&mut node.entries);
        node.entries.insert(at, Item { hash, key: own(), value });
        return None;
    }
    let existing = &mut node.entries[at];
    if existing.hash == hash && existing.key == key {
        return Some(std::mem::replace(&mut existing.value, value));
    }
    // Two entries in one slot: both move down into a new child.
    let existing = node.entries.remove(at);
    node.entries_map &= !bit;
    let child = pair(existing, Item { hash, key: own(), value }, depth + 1);
    node.children_map |= bit;
    reserve_one(&mut node.children);
    node.children.insert(position(node.children_map, bit), child);
    None
}

/// Grows `vector` by exactly one place when it is full: nodes are many and small, and a
/// doubling capacity would leave a quarter of their memory unused on average.
fn reserve_one<T>(vector: &mut Vec<T>) {
    if vector.len() == vector.capacity() {
        vector.reserve_exact(1);
    }
}

/// The child at `depth` holding exactly `a` and `b`, whose hashes agree above `depth`.
fn pair<V: Clone>(a: Item<V>, b: Item<V>, depth: u32) -> Child<V> {
    if depth > LAST_DEPTH {
        let entries = OrdMap::from_iter([(a.key, a.value), (b.key, b.value)]);
        return Child::Collision { hash: a.hash, entries };
    }
    let (slot_a, slot_b) = (chunk(a.hash, depth), chunk(b.hash, depth));
    let node = if slot_a == slot_b {
        Node { children_map: 1 << slot_a, children: vec![pair(a, b, depth + 1)], ..Node::default() }
    } else {
        let entries = if slot_a < slot_b { vec![a, b] } else { vec![b, a] };
        Node { entries_map: (1 << slot_a) | (1 << slot_b), entries, ..Node::default() }
    };
    Child::Node(Arc::new(node))
}

/// Removes `key` from the subtree of `node`, which holds it. A child left with one entry
/// gives it to its parent (the canonical form).
fn remove<V: Clone>(node: &mut Node<V>, depth: u32, hash: u64, key: &[u8]) -> Option<V> {
    let bit = 1u64 << chunk(hash, depth);
    if node.entries_map & bit != 0 {
        let at = position(node.entries_map, bit);
        let item = &node.entries[at];
        if item.hash != hash || item.key != key {
            return None;
        }
        node.entries_map &= !bit;
        return Some(node.entries.remove(at).value);
    }
    if node.children_map & bit == 0 {
        return None;
    }
    let at = position(node.children_map, bit);
    let (removed, lone) = match &mut node.children[at] {
        Child::Node(child) => {
            let child = Arc::make_mut(child);
            let removed = remove(child, depth + 1, hash, key);
            let lone = child.children_map == 0 && child.entries.len() == 1;
            (removed, lone.then(|| child.entries.pop().expect("one entry")))
        }
        Child::Collision { hash: shared, entries } => {
            let removed = entries.remove(key);
            let lone = (entries.len() == 1).then(|| {
                let (key, value) = entries.iter().next().expect("one entry");
                Item { hash: *shared, key: key.clone(), value: value.clone() }
            });
            (removed, lone)
        }
    };
    if let Some(item) = lone {
        node.children.remove(at);
        node.children_map &= !bit;
        node.entries_map |= bit;
        node.entries.insert(position(node.entries_map, bit), item);
    }
    removed
}

type CollisionIter<'a, V> = imbl::ordmap::Iter<'a, Bytes, V, imbl::shared_ptr::DefaultSharedPtr>;

/// A place in the walk of [`Iter`].
enum Frame<'a, V> {
    /// A node, and the first of its slots not yet visited.
    Node { node: &'a Node<V>, next: u32 },
    /// The rest of a collision's entries.
    Collision { hash: u64, entries: CollisionIter<'a, V> },
}

/// The entries of a [`HashTrie`] in `(hash, key)` order, as `(hash, key, value)`.
pub struct Iter<'a, V> {
    stack: Vec<Frame<'a, V>>,
}

impl<'a, V> Iterator for Iter<'a, V> {
    type Item = (u64, &'a Bytes, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.stack.last_mut()? {
                Frame::Node { node, next } => {
                    let node: &'a Node<V> = node;
                    let occupied = (node.entries_map | node.children_map) & slots_from(*next);
                    if occupied == 0 {
                        self.stack.pop();
                        continue;
                    }
                    let slot = occupied.trailing_zeros();
                    *next = slot + 1;
                    let bit = 1u64 << slot;
                    if node.entries_map & bit != 0 {
                        let item = &node.entries[position(node.entries_map, bit)];
                        return Some((item.hash, &item.key, &item.value));
                    }
                    let frame = match &node.children[position(node.children_map, bit)] {
                        Child::Node(child) => Frame::Node { node: child, next: 0 },
                        Child::Collision { hash, entries } => {
                            Frame::Collision { hash: *hash, entries: entries.iter() }
                        }
                    };
                    self.stack.push(frame);
                }
                Frame::Collision { hash, entries } => match entries.next() {
                    Some((key, value)) => return Some((*hash, key, value)),
                    None => {
                        self.stack.pop();
                    }
                },
            }
        }
    }
}

impl<V: Clone + fmt::Debug> fmt::Debug for HashTrie<V> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.debug_map().entries(self.iter().map(|(_, key, value)| (key, value))).finish()
    }
}

#[cfg(test)]
mod tests;
