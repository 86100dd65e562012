//! The sorted set value: members with scores, ordered by score then member bytes.
//!
//! Two persistent structures hold the same pairs:
//! - [`Tree`], an order-statistic treap on `(score, member)`: ranks, ranges by rank, score or
//!   member bytes, pops at either end and random picks by rank, all in O(log n).
//! - `scores`, an `imbl::OrdMap` from member (ordered by a fixed hash, then bytes) to score:
//!   the member → score lookup in O(log n), and ZSCAN's cursor. Its order is the same on every
//!   replica and build, so a ZSCAN cursor from one node is valid on another, and a member present
//!   for a whole scan is returned (the cursor is a hash position, not a rank that shifts).
//!
//! Both are structurally shared: cloning a set is O(1), and changing one member of a large set
//! that an MVCC view still holds copies O(log n) small nodes, never the set.
//!
//! `OBJECT ENCODING` reports Redis's classification, not Concord's representation (always the
//! two structures above): `listpack` while Redis 7.0.15 would keep the set in a listpack under
//! its default thresholds (at most 128 members, none longer than 64 bytes), `skiplist` once it
//! would have converted. Redis never converts back while the server runs, so neither does
//! [`Encoding`]; a set loaded from a snapshot is classified by its content, as Redis classifies
//! a set loaded from an RDB file. The classification is observable in two more places, both
//! matched: a listpack stores a score of `-0` as `0`, and ZSCAN prints listpack scores in
//! integer form where they are integers.
//!
//! Invariants:
//! - A set is never empty once stored (the state machine deletes the key instead).
//! - `scores` and `tree` hold exactly the same pairs; no score is NaN.

mod tree;
#[cfg(test)]
mod tests;

use bytes::Bytes;
use imbl::OrdMap;
use xxhash_rust::xxh3::xxh3_64;

pub use tree::compare;
use tree::Tree;

/// Redis's default `zset-max-listpack-entries`.
pub const LISTPACK_ENTRIES_MAX: usize = 128;

/// Redis's default `zset-max-listpack-value`: the longest member a listpack holds, in bytes.
pub const LISTPACK_VALUE_BYTES_MAX: usize = 64;

/// The representation Redis would use for this set (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// Small: at most `LISTPACK_ENTRIES_MAX` members, none longer than `LISTPACK_VALUE_BYTES_MAX`.
    Listpack,
    /// Past a listpack's bounds.
    Skiplist,
}

/// A member in ZSCAN order: a fixed hash of its bytes, then the bytes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct HashedMember {
    hash: u64,
    member: Bytes,
}

impl HashedMember {
    fn new(member: Bytes) -> HashedMember {
        // Never zero: cursor 0 means both "start" and "done".
        HashedMember { hash: xxh3_64(&member).max(1), member }
    }
}

/// A sorted set. Cloning is O(1).
#[derive(Clone, Debug)]
pub struct SortedSet {
    tree: Tree,
    scores: OrdMap<HashedMember, f64>,
    encoding: Encoding,
}

/// What [`SortedSet::insert`] did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Inserted {
    /// The member was new.
    Added,
    /// The member's score changed.
    Updated {
        /// The score it had before.
        previous: f64,
    },
    /// The member had this score already; nothing changed.
    Unchanged,
}

/// One ZSCAN page: the pairs visited and the cursor to continue from (0 when done).
#[derive(Debug)]
pub struct ScanPage {
    /// The members visited and their scores.
    pub pairs: Vec<(Bytes, f64)>,
    /// The cursor to continue from; 0 when the scan is done.
    pub next_cursor: u64,
}

impl Default for SortedSet {
    fn default() -> SortedSet {
        SortedSet::new()
    }
}

impl SortedSet {
    /// An empty set that Redis would start as a listpack (ZADD on a new key).
    pub fn new() -> SortedSet {
        SortedSet { tree: Tree::default(), scores: OrdMap::new(), encoding: Encoding::Listpack }
    }

    /// An empty set made for `expected` members, as Redis creates ZRANGESTORE's destination:
    /// a skiplist from the start when they would not fit a listpack.
    pub fn with_expected_len(expected: usize) -> SortedSet {
        let mut set = SortedSet::new();
        if expected > LISTPACK_ENTRIES_MAX {
            set.encoding = Encoding::Skiplist;
        }
        set
    }

    /// A set built whole and then classified by its content, as Redis converts the result of
    /// ZUNIONSTORE and its relatives, and a set loaded from a snapshot. Members must be
    /// distinct.
    pub fn from_distinct_pairs(pairs: impl IntoIterator<Item = (Bytes, f64)>) -> SortedSet {
        let mut set = SortedSet { encoding: Encoding::Skiplist, ..SortedSet::new() };
        for (member, score) in pairs {
            let inserted = set.insert(member, score);
            assert_eq!(inserted, Inserted::Added, "members must be distinct");
        }
        let fits = set.len() <= LISTPACK_ENTRIES_MAX
            && set.tree.iter_from(0, false).all(|(_, member)| fits_listpack(member));
        if fits {
            set.encoding = Encoding::Listpack;
            set.normalize_zeros();
        }
        set
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.tree.len()
    }

    /// Whether the set has no member (a stored set never does).
    pub fn is_empty(&self) -> bool {
        self.tree.len() == 0
    }

    /// The representation Redis would use now.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// The name `OBJECT ENCODING` reports.
    pub fn encoding_name(&self) -> &'static str {
        match self.encoding {
            Encoding::Listpack => "listpack",
            Encoding::Skiplist => "skiplist",
        }
    }

    /// The score of `member`, or `None` if it is absent.
    pub fn score(&self, member: &Bytes) -> Option<f64> {
        self.scores.get(&HashedMember::new(member.clone())).copied()
    }

    /// Sets `member`'s score, adding it if absent. A score equal to the current one (`-0`
    /// equals `0`) changes nothing, as in Redis. `score` must not be NaN.
    ///
    /// The member is copied for the reason `StringValue::from_bytes` copies values: a
    /// request's arguments are slices of the connection's read buffer.
    pub fn insert(&mut self, member: Bytes, score: f64) -> Inserted {
        assert!(!score.is_nan(), "a sorted set score is never NaN");
        let previous = self.score(&member);
        if previous == Some(score) {
            return Inserted::Unchanged;
        }
        if previous.is_none() && (self.len() + 1 > LISTPACK_ENTRIES_MAX || !fits_listpack(&member))
        {
            self.encoding = Encoding::Skiplist;
        }
        let score = self.stored_score(score);
        let member = Bytes::copy_from_slice(&member);
        if let Some(previous) = previous {
            self.tree.remove(previous, &member);
        }
        self.tree.insert(score, member.clone());
        self.scores.insert(HashedMember::new(member), score);
        match previous {
            None => Inserted::Added,
            Some(previous) => Inserted::Updated { previous },
        }
    }

    /// Removes `member`; returns its score if it was present.
    pub fn remove(&mut self, member: &Bytes) -> Option<f64> {
        let score = self.scores.remove(&HashedMember::new(member.clone()))?;
        self.tree.remove(score, member);
        Some(score)
    }

    /// The 0-based rank of `member` in ascending order, if present.
    pub fn rank(&self, member: &Bytes) -> Option<usize> {
        let score = self.score(member)?;
        Some(self.tree.rank(score, member))
    }

    /// The number of pairs for which `before` holds, for a predicate that holds on a prefix of
    /// the order ("is before this bound"): the rank where a range starts or ends.
    pub fn count_while(&self, before: impl Fn(f64, &[u8]) -> bool) -> usize {
        self.tree.count_while(before)
    }

    /// The pair at `rank` in ascending order.
    pub fn select(&self, rank: usize) -> Option<(&Bytes, f64)> {
        self.tree.select(rank).map(|(score, member)| (member, score))
    }

    /// The pairs from `rank` on in ascending order, or with `reverse` from `rank` down.
    pub fn iter_from(&self, rank: usize, reverse: bool) -> impl Iterator<Item = (&Bytes, f64)> {
        self.tree.iter_from(rank, reverse).map(|(score, member)| (member, score))
    }

    /// Every pair, in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = (&Bytes, f64)> {
        self.iter_from(0, false)
    }

    /// Removes the pairs with ranks in `start..end` (ascending) and returns them in that order.
    pub fn remove_ranks(&mut self, start: usize, end: usize) -> Vec<(Bytes, f64)> {
        let end = end.min(self.len());
        let removed: Vec<(Bytes, f64)> = if start < end {
            let pairs = self.iter_from(start, false).take(end - start);
            pairs.map(|(member, score)| (member.clone(), score)).collect()
        } else {
            Vec::new()
        };
        for (member, _) in &removed {
            self.remove(member);
        }
        removed
    }

    /// ZPOPMIN (or, with `from_max`, ZPOPMAX): removes up to `count` pairs from one end and
    /// returns them in the order popped. Shared by ZPOPMIN/ZPOPMAX, ZMPOP and the blocking
    /// pops, which serve a waiting client inside apply with the same call.
    pub fn pop(&mut self, count: usize, from_max: bool) -> Vec<(Bytes, f64)> {
        let count = count.min(self.len());
        let start = if from_max { self.len() - count } else { 0 };
        let mut popped = self.remove_ranks(start, start + count);
        if from_max {
            popped.reverse();
        }
        popped
    }

    /// One ZSCAN page from `cursor`, visiting at least `count` members. A set Redis keeps in a
    /// listpack is returned whole in one page, in rank order, as Redis does.
    pub fn scan(&self, cursor: u64, count: usize) -> ScanPage {
        if self.encoding == Encoding::Listpack {
            let pairs = self.iter().map(|(member, score)| (member.clone(), score)).collect();
            return ScanPage { pairs, next_cursor: 0 };
        }
        let start = HashedMember { hash: cursor, member: Bytes::new() };
        let mut pairs = Vec::new();
        let mut last_hash = None;
        for (hashed, score) in self.scores.range(start..) {
            // Finish the run of members that share the last hash, so no cursor splits one.
            if pairs.len() >= count.max(1) && last_hash != Some(hashed.hash) {
                return ScanPage { pairs, next_cursor: hashed.hash };
            }
            last_hash = Some(hashed.hash);
            pairs.push((hashed.member.clone(), *score));
        }
        ScanPage { pairs, next_cursor: 0 }
    }

    /// A listpack stores `-0` as `0` (it writes an integral score as an integer).
    fn stored_score(&self, score: f64) -> f64 {
        if self.encoding == Encoding::Listpack && score == 0.0 {
            0.0
        } else {
            score
        }
    }

    fn normalize_zeros(&mut self) {
        let zeros: Vec<Bytes> = self
            .iter()
            .filter(|(_, score)| *score == 0.0 && score.is_sign_negative())
            .map(|(member, _)| member.clone())
            .collect();
        for member in zeros {
            self.remove(&member);
            self.tree.insert(0.0, member.clone());
            self.scores.insert(HashedMember::new(member), 0.0);
        }
    }

    /// Checks that both structures agree and the tree's invariants hold; for tests.
    #[cfg(test)]
    pub fn check(&self) {
        self.tree.check();
        assert_eq!(self.tree.len(), self.scores.len(), "tree and index disagree on size");
        for (member, score) in self.iter() {
            assert_eq!(self.score(member), Some(score), "index disagrees on {member:?}");
        }
    }
}

fn fits_listpack(member: &[u8]) -> bool {
    member.len() <= LISTPACK_VALUE_BYTES_MAX
}

impl PartialEq for SortedSet {
    /// Two sets are equal when they hold the same pairs (scores compared bit for bit, so that
    /// `-0` and `0` differ, as they do in replies).
    fn eq(&self, other: &SortedSet) -> bool {
        self.len() == other.len()
            && self.iter().zip(other.iter()).all(
                |((member, score), (other_member, other_score))| {
                    member == other_member && score.to_bits() == other_score.to_bits()
                },
            )
    }
}

/// A set serializes as its pairs in ascending order; loading classifies it by content (see
/// the module docs), as Redis does when it loads an RDB file.
impl serde::Serialize for SortedSet {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        // The length up front: postcard (snapshots) refuses a sequence of unknown length, and
        // the tree's iterator does not report one.
        let mut sequence = serializer.serialize_seq(Some(self.len()))?;
        for pair in self.iter() {
            sequence.serialize_element(&pair)?;
        }
        sequence.end()
    }
}

impl<'de> serde::Deserialize<'de> for SortedSet {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<SortedSet, D::Error> {
        use serde::de::Error;
        let pairs: Vec<(Bytes, f64)> = serde::Deserialize::deserialize(deserializer)?;
        if pairs.is_empty() {
            return Err(D::Error::custom("a stored sorted set is never empty"));
        }
        if pairs.iter().any(|(_, score)| score.is_nan()) {
            return Err(D::Error::custom("a sorted set score is never NaN"));
        }
        let mut members = std::collections::HashSet::with_capacity(pairs.len());
        if !pairs.iter().all(|(member, _)| members.insert(member.clone())) {
            return Err(D::Error::custom("a sorted set member appears twice"));
        }
        Ok(SortedSet::from_distinct_pairs(pairs))
    }
}
