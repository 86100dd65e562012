//! A persistent order-statistic tree: the sorted set's `(score, member)` order with ranks.
//!
//! The tree is a treap: a binary search tree on `(score, member)` that is also a max-heap on a
//! per-node priority. With priorities drawn independently of the keys, the expected depth is
//! O(log n) whatever the insertion order, so insert, remove, rank, select and "first rank past
//! a bound" are all O(log n) expected. Every node carries the size of its subtree, which is what
//! turns a search path into a rank.
//!
//! Nodes are `Arc`-shared and changed through `Arc::make_mut`: a change copies only the nodes
//! on its path that some other version (an MVCC view) still holds, and changes nodes that are
//! not shared in place. Cloning a tree is O(1).
//!
//! Priorities are a keyed hash of the member, with a key chosen once per process. They shape
//! the tree but never a result (ranks and order are fixed by the keys alone), so replicas need
//! not agree on them; a per-process key keeps a client from choosing members whose priorities
//! line up into a degenerate (linear) tree.
//!
//! Invariants (checked by `Tree::check` in tests):
//! - In-order traversal is strictly increasing by [`compare`].
//! - Every node's priority is at least its children's.
//! - Every node's `size` is 1 + the sizes of its children.

use std::cmp::Ordering;
use std::sync::{Arc, LazyLock};

use bytes::Bytes;
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// The order of a sorted set: by score, then by member bytes. Scores are never NaN, and
/// `-0` equals `0` here (Redis compares scores as doubles), so such ties fall to the member.
pub fn compare(score: f64, member: &[u8], other_score: f64, other_member: &[u8]) -> Ordering {
    score
        .partial_cmp(&other_score)
        .expect("sorted set scores are never NaN")
        .then_with(|| member.cmp(other_member))
}

static PRIORITY_SEED: LazyLock<u64> = LazyLock::new(|| {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0x5eed);
    hasher.finish()
});

fn priority_of(member: &[u8]) -> u64 {
    xxh3_64_with_seed(member, *PRIORITY_SEED)
}

#[derive(Clone, Debug)]
struct Node {
    score: f64,
    member: Bytes,
    priority: u64,
    /// The number of nodes in the subtree rooted here, this one included.
    size: usize,
    left: Link,
    right: Link,
}

type Link = Option<Arc<Node>>;

fn size(link: &Link) -> usize {
    link.as_ref().map_or(0, |node| node.size)
}

impl Node {
    fn update_size(&mut self) {
        self.size = 1 + size(&self.left) + size(&self.right);
    }

    fn compare_to(&self, score: f64, member: &[u8]) -> Ordering {
        compare(self.score, &self.member, score, member)
    }
}

/// A persistent sequence of distinct `(score, member)` pairs in [`compare`] order.
#[derive(Clone, Debug, Default)]
pub struct Tree {
    root: Link,
}

impl Tree {
    pub fn len(&self) -> usize {
        size(&self.root)
    }

    /// Adds a pair that is not in the tree yet.
    pub fn insert(&mut self, score: f64, member: Bytes) {
        let priority = priority_of(&member);
        let node = Node { score, member, priority, size: 1, left: None, right: None };
        insert(&mut self.root, node);
    }

    /// Removes a pair that is in the tree. Panics if it is absent: the caller's member index
    /// says what the tree holds, and a disagreement is a bug.
    pub fn remove(&mut self, score: f64, member: &[u8]) {
        remove(&mut self.root, score, member);
    }

    /// The number of pairs before `(score, member)`; its rank if present.
    pub fn rank(&self, score: f64, member: &[u8]) -> usize {
        self.count_while(|node_score, node_member| {
            compare(node_score, node_member, score, member) == Ordering::Less
        })
    }

    /// The number of pairs for which `before` holds, given that it holds for a prefix of the
    /// order (a monotone predicate: "is before some bound").
    pub fn count_while(&self, before: impl Fn(f64, &[u8]) -> bool) -> usize {
        let mut count = 0;
        let mut link = &self.root;
        while let Some(node) = link {
            if before(node.score, &node.member) {
                count += size(&node.left) + 1;
                link = &node.right;
            } else {
                link = &node.left;
            }
        }
        count
    }

    /// The pair at `rank` (0-based), if the tree is that long.
    pub fn select(&self, rank: usize) -> Option<(f64, &Bytes)> {
        let mut rank = rank;
        let mut link = &self.root;
        while let Some(node) = link {
            let left = size(&node.left);
            match rank.cmp(&left) {
                Ordering::Less => link = &node.left,
                Ordering::Equal => return Some((node.score, &node.member)),
                Ordering::Greater => {
                    rank -= left + 1;
                    link = &node.right;
                }
            }
        }
        None
    }

    /// The pairs from `rank` on, ascending; or, with `reverse`, from `rank` down to rank 0.
    pub fn iter_from(&self, rank: usize, reverse: bool) -> Iter<'_> {
        let mut stack = Vec::new();
        let mut rank = rank;
        let mut link = &self.root;
        while let Some(node) = link {
            let left = size(&node.left);
            if rank < left {
                if !reverse {
                    stack.push(&**node);
                }
                link = &node.left;
            } else if rank == left {
                stack.push(&**node);
                break;
            } else {
                if reverse {
                    stack.push(&**node);
                }
                rank -= left + 1;
                link = &node.right;
            }
        }
        Iter { stack, reverse }
    }

    /// Checks the invariants listed in the module docs; for tests.
    #[cfg(test)]
    pub fn check(&self) {
        fn walk(link: &Link, pairs: &mut Vec<(f64, Bytes)>) -> usize {
            let Some(node) = link else { return 0 };
            for child in [&node.left, &node.right].into_iter().flatten() {
                assert!(child.priority <= node.priority, "heap order broken");
            }
            let left = walk(&node.left, pairs);
            pairs.push((node.score, node.member.clone()));
            let right = walk(&node.right, pairs);
            assert_eq!(node.size, left + right + 1, "subtree size wrong");
            node.size
        }
        let mut pairs = Vec::new();
        walk(&self.root, &mut pairs);
        for window in pairs.windows(2) {
            let ordering = compare(window[0].0, &window[0].1, window[1].0, &window[1].1);
            assert_eq!(ordering, Ordering::Less, "in-order traversal not increasing");
        }
    }
}

/// In-order iteration from a rank, forwards or backwards, in O(log n) to start and O(1)
/// amortized per step.
pub struct Iter<'a> {
    /// The nodes still to visit, the next one on top: each with its subtree on the far side
    /// (right going forwards, left going backwards) not yet pushed.
    stack: Vec<&'a Node>,
    reverse: bool,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (f64, &'a Bytes);

    fn next(&mut self) -> Option<Self::Item> {
        let node = self.stack.pop()?;
        let mut link = if self.reverse { &node.left } else { &node.right };
        while let Some(child) = link {
            self.stack.push(child);
            link = if self.reverse { &child.right } else { &child.left };
        }
        Some((node.score, &node.member))
    }
}

fn insert(link: &mut Link, mut new: Node) {
    match link {
        None => *link = Some(Arc::new(new)),
        Some(node) if new.priority > node.priority => {
            let (left, right) = split(link.take(), new.score, &new.member);
            new.left = left;
            new.right = right;
            new.update_size();
            *link = Some(Arc::new(new));
        }
        Some(node) => {
            let node = Arc::make_mut(node);
            node.size += 1;
            if node.compare_to(new.score, &new.member) == Ordering::Greater {
                insert(&mut node.left, new);
            } else {
                insert(&mut node.right, new);
            }
        }
    }
}

/// Splits a subtree into the pairs before `(score, member)` and those after it.
fn split(link: Link, score: f64, member: &[u8]) -> (Link, Link) {
    let Some(mut shared) = link else { return (None, None) };
    let node = Arc::make_mut(&mut shared);
    if node.compare_to(score, member) == Ordering::Less {
        let (left, right) = split(node.right.take(), score, member);
        node.right = left;
        node.update_size();
        (Some(shared), right)
    } else {
        let (left, right) = split(node.left.take(), score, member);
        node.left = right;
        node.update_size();
        (left, Some(shared))
    }
}

/// Joins two subtrees where every pair of `left` comes before every pair of `right`.
fn merge(left: Link, right: Link) -> Link {
    match (left, right) {
        (None, right) => right,
        (left, None) => left,
        (Some(mut left), Some(mut right)) => {
            if left.priority >= right.priority {
                let node = Arc::make_mut(&mut left);
                node.right = merge(node.right.take(), Some(right));
                node.update_size();
                Some(left)
            } else {
                let node = Arc::make_mut(&mut right);
                node.left = merge(Some(left), node.left.take());
                node.update_size();
                Some(right)
            }
        }
    }
}

fn remove(link: &mut Link, score: f64, member: &[u8]) {
    let node = link.as_mut().expect("the pair to remove is in the tree");
    match node.compare_to(score, member) {
        Ordering::Equal => {
            let removed = link.take().expect("just matched");
            let (left, right) = match Arc::try_unwrap(removed) {
                Ok(node) => (node.left, node.right),
                Err(shared) => (shared.left.clone(), shared.right.clone()),
            };
            *link = merge(left, right);
        }
        ordering => {
            let node = Arc::make_mut(node);
            node.size -= 1;
            if ordering == Ordering::Greater {
                remove(&mut node.left, score, member);
            } else {
                remove(&mut node.right, score, member);
            }
        }
    }
}
